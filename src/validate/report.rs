//! What the gate found, in a shape that goes into events and evidence packs as JSON.

use super::catalog::SchemaDifference;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub db_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `final` (exact, replication quiesced) or `live` (CDC running, mismatches re-checked
    /// after lag fell below the threshold).
    pub mode: String,
    pub source: String,
    pub target: String,
    pub schema_differences: Vec<SchemaDifference>,
    pub tables: Vec<TableReport>,
    pub smoke_tests: Vec<CheckOutcome>,
    pub rules: Vec<CheckOutcome>,
    /// Anything that kept the gate from finishing (connection refused, query failed...).
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableReport {
    pub table: String,
    pub rows_source: u64,
    pub rows_target: u64,
    pub chunks: u64,
    pub chunks_mismatched: u64,
    /// Live mode: mismatching ranges that matched after a re-check.
    pub chunks_resolved_by_recheck: u64,
    /// SHA-256 sums of the whole table (hex), equal when the data is equal.
    pub digest_source: String,
    pub digest_target: String,
    /// The first N differing keys.
    pub differences: Vec<RowDifference>,
    /// More differences exist than are listed.
    pub differences_truncated: bool,
    pub note: Option<String>,
    pub passed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    /// The key exists on the source only.
    MissingOnTarget,
    /// The key exists on the target only.
    ExtraOnTarget,
    /// Same key, different values.
    Changed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowDifference {
    pub table: String,
    /// The primary-key value(s), or the whole row for a table without a key.
    pub key: String,
    pub kind: DiffKind,
    /// For `changed`: the columns whose values differ.
    pub columns: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl ValidationReport {
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
            && self.schema_differences.is_empty()
            && self.tables.iter().all(|t| t.passed)
            && self.smoke_tests.iter().all(|s| s.passed)
            && self.rules.iter().all(|r| r.passed)
    }

    pub fn rows_source(&self) -> u64 {
        self.tables.iter().map(|t| t.rows_source).sum()
    }

    /// Row-level differences found (listed or not: a truncated table counts at least one more).
    pub fn row_differences(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.differences.len() + usize::from(t.differences_truncated))
            .sum()
    }

    /// One line for lists and events: "42 tables, 3.1M rows, 0 differences".
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} tables, {} rows, {} differences",
            self.tables.len(),
            human_count(self.rows_source()),
            self.row_differences()
                + self
                    .tables
                    .iter()
                    .filter(|t| !t.passed && t.differences.is_empty() && !t.differences_truncated)
                    .count()
        );
        if !self.schema_differences.is_empty() {
            s.push_str(&format!(
                ", {} schema differences",
                self.schema_differences.len()
            ));
        }
        let smoke_failed = self.smoke_tests.iter().filter(|x| !x.passed).count();
        if smoke_failed > 0 {
            s.push_str(&format!(", {smoke_failed} smoke tests failed"));
        }
        let rules_failed = self.rules.iter().filter(|x| !x.passed).count();
        if rules_failed > 0 {
            s.push_str(&format!(", {rules_failed} rules failed"));
        }
        if !self.errors.is_empty() {
            s.push_str(&format!(", {} errors", self.errors.len()));
        }
        s
    }

    /// Lines for a person: every failing item with what and where.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.errors.iter().map(|e| format!("error: {e}")));
        for d in &self.schema_differences {
            out.push(format!(
                "schema: {} {}: {}",
                d.object_kind, d.object, d.detail
            ));
        }
        for t in self.tables.iter().filter(|t| !t.passed) {
            if t.rows_source != t.rows_target {
                out.push(format!(
                    "{}: {} rows on source, {} on target",
                    t.table, t.rows_source, t.rows_target
                ));
            }
            for d in &t.differences {
                let kind = match d.kind {
                    DiffKind::MissingOnTarget => "missing on target".to_string(),
                    DiffKind::ExtraOnTarget => "extra on target".to_string(),
                    DiffKind::Changed => format!("changed ({})", d.columns.join(", ")),
                };
                out.push(format!("{}: key {}: {kind}", d.table, d.key));
            }
            if t.differences_truncated {
                out.push(format!("{}: more differences not listed", t.table));
            }
            if let Some(n) = &t.note {
                out.push(format!("{}: {n}", t.table));
            }
        }
        for s in self.smoke_tests.iter().filter(|s| !s.passed) {
            out.push(format!("smoke test {:?}: {}", s.name, s.detail));
        }
        for r in self.rules.iter().filter(|r| !r.passed) {
            out.push(format!("rule {}: {}", r.name, r.detail));
        }
        out
    }

    /// The short form kept in the store's derived state.
    pub fn to_summary(&self) -> crate::store::model::ValidationSummary {
        crate::store::model::ValidationSummary {
            passed: self.passed(),
            at: self.finished_at,
            summary: self.summary(),
        }
    }
}

/// 3_100_000 -> "3.1M"
pub fn human_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.1}G", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ValidationReport {
        ValidationReport {
            db_id: "db1".into(),
            started_at: Utc::now(),
            finished_at: Utc::now(),
            mode: "final".into(),
            source: "s".into(),
            target: "t".into(),
            schema_differences: vec![],
            tables: vec![TableReport {
                table: "public.t".into(),
                rows_source: 3_100_000,
                rows_target: 3_100_000,
                chunks: 31,
                chunks_mismatched: 0,
                chunks_resolved_by_recheck: 0,
                digest_source: "ab".into(),
                digest_target: "ab".into(),
                differences: vec![],
                differences_truncated: false,
                note: None,
                passed: true,
            }],
            smoke_tests: vec![],
            rules: vec![],
            errors: vec![],
        }
    }

    #[test]
    fn summary_and_gate() {
        let mut r = report();
        assert!(r.passed());
        assert_eq!(r.summary(), "1 tables, 3.1M rows, 0 differences");
        r.smoke_tests.push(CheckOutcome {
            name: "x".into(),
            passed: false,
            detail: "got 2".into(),
        });
        assert!(!r.passed());
        assert!(r.summary().ends_with("1 smoke tests failed"));
        assert_eq!(r.failures(), vec!["smoke test \"x\": got 2".to_string()]);
    }
}
