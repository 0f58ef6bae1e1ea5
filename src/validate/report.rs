//! What the gate found, in a shape that goes into events and evidence packs as JSON.

use super::catalog::SchemaDifference;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub db_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `final` (exact, replication quiesced) or `live` (CDC running: each range compared at a
    /// position of the change stream the target had confirmed; see `position`).
    pub mode: String,
    pub source: String,
    pub target: String,
    pub schema_differences: Vec<SchemaDifference>,
    pub tables: Vec<TableReport>,
    pub smoke_tests: Vec<CheckOutcome>,
    pub rules: Vec<CheckOutcome>,
    /// Anything that kept the gate from finishing (connection refused, query failed...).
    pub errors: Vec<String>,
    /// The tables asked for (`--tables`); None: the whole database. A scoped report passes or
    /// fails on those tables; database-wide schema differences, smoke tests and rules are
    /// shown as context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
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
    /// The stream position(s) the ranges were compared at: live, the source snapshots' WAL
    /// position or GTID set (the target had confirmed each before it was read); final, the
    /// source's position when the gate started.
    #[serde(default)]
    pub compared_at: Option<String>,
    /// Live: why the table could not be decided (lag, a range changing at every read). Not a
    /// failure: the gate is run again.
    #[serde(default)]
    pub undecided: Option<String>,
    pub passed: bool,
    /// Chunks an earlier attempt of this run matched, not read again.
    #[serde(default)]
    pub chunks_resumed: u64,
    /// Source rows this attempt read for the chunk digests (re-checks and localisation
    /// aside): with resumed chunks, less than the table.
    #[serde(default)]
    pub rows_read: u64,
    /// The freshness gate's word on the table: why it was read, or why not (its result is
    /// the one of an earlier pass it was shown unchanged since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<String>,
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
        // A validation that compared no table proves nothing.
        self.errors.is_empty()
            && !self.tables.is_empty()
            && self.tables.iter().all(|t| t.passed)
            && self.counted_schema_differences().next().is_none()
            && (self.scope.is_some()
                || (self.smoke_tests.iter().all(|s| s.passed)
                    && self.rules.iter().all(|r| r.passed)))
    }

    fn in_scope(&self, d: &SchemaDifference) -> bool {
        match &self.scope {
            None => true,
            Some(tables) => d.table.as_ref().is_some_and(|t| tables.contains(t)),
        }
    }

    /// The schema differences the verdict counts (with `--tables`: those of the tables asked).
    fn counted_schema_differences(&self) -> impl Iterator<Item = &SchemaDifference> {
        self.schema_differences.iter().filter(|d| self.in_scope(d))
    }

    /// Every table was decided (live: no lag, no range changing at every read). An undecided
    /// gate has not passed, but has not failed either: it is run again.
    pub fn decided(&self) -> bool {
        self.tables.iter().all(|t| t.undecided.is_none())
    }

    /// Why tables were not decided, one line per table.
    pub fn undecided(&self) -> Vec<String> {
        self.tables
            .iter()
            .filter_map(|t| t.undecided.as_ref().map(|w| format!("{}: {w}", t.table)))
            .collect()
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
                    .filter(|t| {
                        !t.passed
                            && t.undecided.is_none()
                            && t.differences.is_empty()
                            && !t.differences_truncated
                    })
                    .count()
        );
        let undecided = self.undecided().len();
        if undecided > 0 {
            s.push_str(&format!(", {undecided} tables not decided"));
        }
        let schema = self.counted_schema_differences().count();
        if schema > 0 {
            s.push_str(&format!(", {schema} schema differences"));
        }
        let smoke_failed = self.smoke_tests.iter().filter(|x| !x.passed).count();
        let rules_failed = self.rules.iter().filter(|x| !x.passed).count();
        if self.scope.is_none() {
            if smoke_failed > 0 {
                s.push_str(&format!(", {smoke_failed} smoke tests failed"));
            }
            if rules_failed > 0 {
                s.push_str(&format!(", {rules_failed} rules failed"));
            }
        }
        if !self.errors.is_empty() {
            s.push_str(&format!(", {} errors", self.errors.len()));
        }
        if self.scope.is_some() {
            let elsewhere = self.schema_differences.len() - schema;
            let mut ctx = Vec::new();
            if elsewhere > 0 {
                ctx.push(format!("{elsewhere} schema differences elsewhere"));
            }
            if smoke_failed > 0 {
                ctx.push(format!("{smoke_failed} smoke tests failed"));
            }
            if rules_failed > 0 {
                ctx.push(format!("{rules_failed} rules failed"));
            }
            if !ctx.is_empty() {
                s.push_str(&format!(
                    " (database-wide, not counted: {})",
                    ctx.join(", ")
                ));
            }
        }
        s
    }

    /// Lines for a person: every failing item with what and where.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.errors.iter().map(|e| format!("error: {e}")));
        if self.tables.is_empty() && self.errors.is_empty() {
            out.push("no table was compared: a validation of 0 tables does not pass".into());
        }
        out.extend(self.counted_schema_differences().map(schema_line));
        for t in self.tables.iter().filter(|t| !t.passed) {
            if let Some(w) = &t.undecided {
                out.push(format!("{}: not decided: {w}", t.table));
                continue;
            }
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
        if self.scope.is_none() {
            out.extend(self.database_wide_failures());
        }
        out
    }

    /// With `--tables`: what failed outside the tables asked, shown but not counted.
    pub fn context(&self) -> Vec<String> {
        if self.scope.is_none() {
            return vec![];
        }
        let mut out: Vec<String> = self
            .schema_differences
            .iter()
            .filter(|d| !self.in_scope(d))
            .map(schema_line)
            .collect();
        out.extend(self.database_wide_failures());
        out
    }

    fn database_wide_failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.smoke_tests.iter().filter(|s| !s.passed) {
            out.push(format!("smoke test {:?}: {}", s.name, s.detail));
        }
        for r in self.rules.iter().filter(|r| !r.passed) {
            out.push(format!("rule {}: {}", r.name, r.detail));
        }
        out
    }
}

fn schema_line(d: &SchemaDifference) -> String {
    format!("schema: {} {}: {}", d.object_kind, d.object, d.detail)
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
                compared_at: None,
                undecided: None,
                passed: true,
                chunks_resumed: 0,
                rows_read: 0,
                freshness: None,
            }],
            smoke_tests: vec![],
            rules: vec![],
            errors: vec![],
            scope: None,
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

    #[test]
    fn no_table_compared_never_passes() {
        let mut r = report();
        r.tables.clear();
        assert!(!r.passed());
        assert_eq!(
            r.failures(),
            vec!["no table was compared: a validation of 0 tables does not pass".to_string()]
        );
        r.scope = Some(vec![]);
        assert!(!r.passed());
    }

    #[test]
    fn a_scoped_report_counts_its_tables_and_shows_the_rest() {
        let mut r = report();
        r.scope = Some(vec!["public.t".into()]);
        let other = SchemaDifference {
            object_kind: "index".into(),
            object: "public.u (index u_x)".into(),
            detail: "index on (x) missing on target".into(),
            table: Some("public.u".into()),
        };
        r.schema_differences.push(other.clone());
        r.schema_differences.push(SchemaDifference {
            object_kind: "view".into(),
            object: "public.v".into(),
            detail: "missing on target".into(),
            table: None,
        });
        r.smoke_tests.push(CheckOutcome {
            name: "x".into(),
            passed: false,
            detail: "got 2".into(),
        });
        assert!(r.passed(), "{:?}", r.failures());
        assert_eq!(
            r.summary(),
            "1 tables, 3.1M rows, 0 differences (database-wide, not counted: 2 schema differences elsewhere, 1 smoke tests failed)"
        );
        assert!(r.failures().is_empty());
        assert_eq!(r.context().len(), 3);
        // a difference in a table asked for counts
        r.schema_differences.push(SchemaDifference {
            table: Some("public.t".into()),
            ..other
        });
        assert!(!r.passed());
        assert_eq!(r.failures().len(), 1);
        // without a scope everything counts
        r.scope = None;
        assert_eq!(r.failures().len(), 4);
        assert!(r.context().is_empty());
    }
}
