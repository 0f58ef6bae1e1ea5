//! What the `detail` of a `db.precheck` / `db.validation` event holds, read in one place. The
//! engine writes the report of whichever check ran: wavedeck's SQL pre-checks (a list of
//! [`CheckResult`]), its validation gate ([`ValidationReport`]), DRS's pre-check (the items not
//! passed) or DRS's row-count comparison ([`LineOverview`]); or an object of wavedeck's half
//! beside DRS's: `{"sql": …, "drs": …}` (the SQL pre-checks beside DRS's pre-check, the two
//! validations with `engine.checks: both`), `{"exposure": …, "drs": …}` (the exposure check
//! beside DRS's pre-check, with `engine.checks: drs`). Readers (cockpit, evidence) match on these
//! types, so a change to a report's shape breaks their build rather than emptying a screen.

use crate::checks::{CheckResult, Status};
use crate::drs::model::LineOverview;
use crate::validate::ValidationReport;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One DRS pre-check item that did not pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DrsPrecheckItem {
    pub item: String,
    /// `ALARM` or `FAILED`.
    pub result: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The detail of DRS's pre-check, as the engine keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DrsPrecheck {
    #[serde(default)]
    pub total_passed_rate: String,
    #[serde(default)]
    pub not_passed: Vec<DrsPrecheckItem>,
}

/// A pre-check report's detail.
#[derive(Clone, Debug, PartialEq)]
pub enum PrecheckDetail {
    Sql(Vec<CheckResult>),
    Drs(DrsPrecheck),
    /// wavedeck's half (its SQL pre-checks, or the exposure check alone) beside DRS's.
    Both {
        local: Box<PrecheckDetail>,
        drs: Box<PrecheckDetail>,
    },
    /// No detail (a report with only a verdict and a summary).
    None,
    /// A detail this build cannot read: shown as such, never dropped.
    Unreadable(String),
}

/// A validation report's detail.
#[derive(Clone, Debug, PartialEq)]
pub enum ValidationDetail {
    Sql(Box<ValidationReport>),
    Drs(LineOverview),
    Both {
        sql: Box<ValidationDetail>,
        drs: Box<ValidationDetail>,
    },
    None,
    Unreadable(String),
}

/// wavedeck's half under `local` (one of these keys) and DRS's under `drs`, alone in `v`.
fn both<'a>(v: &'a Value, local: &[&str]) -> Option<(&'a Value, &'a Value)> {
    let o = v.as_object()?;
    (o.len() == 2).then_some(())?;
    Some((local.iter().find_map(|k| o.get(*k))?, o.get("drs")?))
}

fn why(e: serde_json::Error, what: &str) -> String {
    format!("{what} not readable: {e}")
}

impl PrecheckDetail {
    pub fn read(v: &Value) -> PrecheckDetail {
        if v.is_null() {
            return PrecheckDetail::None;
        }
        if let Some((local, drs)) = both(v, &["sql", "exposure"]) {
            return PrecheckDetail::Both {
                local: Box::new(PrecheckDetail::read(local)),
                drs: Box::new(PrecheckDetail::read(drs)),
            };
        }
        if v.is_array() {
            return Vec::<CheckResult>::deserialize(v)
                .map(PrecheckDetail::Sql)
                .unwrap_or_else(|e| PrecheckDetail::Unreadable(why(e, "SQL pre-check results")));
        }
        if v.get("not_passed").is_some() || v.get("total_passed_rate").is_some() {
            return DrsPrecheck::deserialize(v)
                .map(PrecheckDetail::Drs)
                .unwrap_or_else(|e| PrecheckDetail::Unreadable(why(e, "DRS pre-check result")));
        }
        PrecheckDetail::Unreadable("pre-check detail of an unknown shape".into())
    }

    /// Every check as one line: wavedeck's checks with their evidence and fix, DRS's items
    /// that did not pass with DRS's reason.
    pub fn lines(&self) -> Vec<CheckLine> {
        match self {
            PrecheckDetail::Sql(rs) => rs
                .iter()
                .map(|r| CheckLine {
                    name: r.name.clone(),
                    status: r.status,
                    detail: r.evidence.clone(),
                    fix: r.fix.clone(),
                })
                .collect(),
            PrecheckDetail::Drs(d) => d
                .not_passed
                .iter()
                .map(|i| CheckLine {
                    name: format!("drs/{}", i.item),
                    status: if i.result == "ALARM" {
                        Status::Warn
                    } else {
                        Status::Fail
                    },
                    detail: i.reason.clone().unwrap_or_else(|| i.result.clone()),
                    fix: None,
                })
                .collect(),
            PrecheckDetail::Both { local, drs } => {
                let mut v = local.lines();
                v.extend(drs.lines());
                v
            }
            PrecheckDetail::None => Vec::new(),
            PrecheckDetail::Unreadable(why) => vec![CheckLine {
                name: "detail".into(),
                status: Status::Warn,
                detail: why.clone(),
                fix: None,
            }],
        }
    }
}

impl ValidationDetail {
    pub fn read(v: &Value) -> ValidationDetail {
        if v.is_null() {
            return ValidationDetail::None;
        }
        if let Some((sql, drs)) = both(v, &["sql"]) {
            return ValidationDetail::Both {
                sql: Box::new(ValidationDetail::read(sql)),
                drs: Box::new(ValidationDetail::read(drs)),
            };
        }
        if v.get("data_compare_overview_infos").is_some() {
            return LineOverview::deserialize(v)
                .map(ValidationDetail::Drs)
                .unwrap_or_else(|e| ValidationDetail::Unreadable(why(e, "DRS comparison")));
        }
        ValidationReport::deserialize(v)
            .map(|r| ValidationDetail::Sql(Box::new(r)))
            .unwrap_or_else(|e| ValidationDetail::Unreadable(why(e, "validation report")))
    }

    /// The tables, those that failed first in the report's order.
    pub fn tables(&self) -> Vec<TableLine> {
        let mut out = match self {
            ValidationDetail::Sql(r) => r
                .tables
                .iter()
                .map(|t| TableLine {
                    table: t.table.clone(),
                    rows_source: Some(t.rows_source),
                    rows_target: Some(t.rows_target),
                    passed: t.passed,
                    digest_equal: Some(t.digest_source == t.digest_target),
                    keys: t
                        .differences
                        .iter()
                        .map(|d| format!("{} ({})", d.key, diff_word(d.kind)))
                        .collect(),
                    more_keys: t.differences_truncated,
                    compared_at: t.compared_at.clone(),
                    note: match (&t.undecided, &t.note) {
                        (Some(u), _) => Some(format!("not decided: {u}")),
                        (None, n) => n.clone(),
                    },
                })
                .collect(),
            ValidationDetail::Drs(o) => o
                .data_compare_overview_infos
                .iter()
                .map(|i| {
                    // The engine's own rule (runtime's line overview): both sides empty is
                    // consistent too.
                    let passed = i.data_inconsistent_num == 0
                        && crate::drs::model::compare_status::consistent(i.status);
                    TableLine {
                        // DRS compares row counts only: said so, so that its line next to a
                        // failed SQL gate does not read as a contradiction.
                        table: "DRS row counts".into(),
                        rows_source: None,
                        rows_target: None,
                        passed,
                        digest_equal: None,
                        keys: Vec::new(),
                        more_keys: false,
                        compared_at: None,
                        note: Some(drs_counts(i, passed)),
                    }
                })
                .collect(),
            ValidationDetail::Both { sql, drs } => {
                let mut v = sql.tables();
                v.extend(drs.tables());
                v
            }
            ValidationDetail::None => Vec::new(),
            ValidationDetail::Unreadable(why) => vec![TableLine {
                table: "(detail)".into(),
                rows_source: None,
                rows_target: None,
                passed: false,
                digest_equal: None,
                keys: Vec::new(),
                more_keys: false,
                compared_at: None,
                note: Some(why.clone()),
            }],
        };
        out.sort_by_key(|t| t.passed);
        out
    }

    /// Schema differences, failed smoke tests and rules, and errors: what failed besides
    /// table contents, one sentence each.
    pub fn other_failures(&self) -> Vec<String> {
        match self {
            ValidationDetail::Sql(r) => {
                let mut v: Vec<String> = r.errors.iter().map(|e| format!("error: {e}")).collect();
                v.extend(
                    r.schema_differences
                        .iter()
                        .map(|d| format!("schema: {} {}: {}", d.object_kind, d.object, d.detail)),
                );
                v.extend(
                    r.smoke_tests
                        .iter()
                        .chain(&r.rules)
                        .filter(|c| !c.passed)
                        .map(|c| format!("{}: {}", c.name, c.detail)),
                );
                v
            }
            ValidationDetail::Both { sql, drs } => {
                let mut v = sql.other_failures();
                v.extend(drs.other_failures());
                v
            }
            _ => Vec::new(),
        }
    }
}

/// "seeded: 3 tables equal", "seeded: 1 of 3 tables differ", "seeded: not finished (status 3)".
fn drs_counts(i: &crate::drs::model::LineOverviewInfo, passed: bool) -> String {
    let db = &i.source_db_name;
    let n = i.compare_num;
    if passed {
        format!("{db}: {n} tables equal")
    } else if i.data_inconsistent_num > 0 {
        format!("{db}: {} of {n} tables differ", i.data_inconsistent_num)
    } else {
        format!("{db}: not finished (DRS status {})", i.status)
    }
}

fn diff_word(k: crate::validate::DiffKind) -> &'static str {
    match k {
        crate::validate::DiffKind::MissingOnTarget => "missing on target",
        crate::validate::DiffKind::ExtraOnTarget => "extra on target",
        crate::validate::DiffKind::Changed => "changed",
    }
}

/// One check of a pre-check report, for screens.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckLine {
    pub name: String,
    pub status: Status,
    /// What was observed.
    pub detail: String,
    /// The statement or action that fixes it.
    pub fix: Option<String>,
}

/// One table of a validation report, for screens.
#[derive(Clone, Debug, PartialEq)]
pub struct TableLine {
    pub table: String,
    pub rows_source: Option<u64>,
    pub rows_target: Option<u64>,
    pub passed: bool,
    /// Whole-table checksums equal (SQL gate only).
    pub digest_equal: Option<bool>,
    /// The first differing keys, with how they differ.
    pub keys: Vec<String>,
    /// More differing keys exist than listed.
    pub more_keys: bool,
    /// The change-stream position the table was compared at (WAL LSN or GTID set).
    pub compared_at: Option<String>,
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// DRS's line is labelled for what DRS compares (row counts), and judged by the engine's
    /// rule: both sides empty is consistent.
    #[test]
    fn drs_line_says_row_counts() {
        use crate::drs::model::{compare_status as cs, LineOverview, LineOverviewInfo};
        let info = |db: &str, status, n, bad| LineOverviewInfo {
            source_db_name: db.into(),
            status,
            compare_num: n,
            data_inconsistent_num: bad,
            ..Default::default()
        };
        let o = LineOverview {
            total_count: 3,
            data_compare_overview_infos: vec![
                info("seeded", cs::CONSISTENT, 3, 0),
                info("empty", cs::BOTH_EMPTY, 2, 0),
                info("orders", cs::INCONSISTENT, 3, 1),
            ],
        };
        let d = ValidationDetail::read(&serde_json::to_value(&o).unwrap());
        let got: Vec<(String, bool, String)> = d
            .tables()
            .into_iter()
            .map(|t| (t.table, t.passed, t.note.unwrap_or_default()))
            .collect();
        let l = |ok, n: &str| ("DRS row counts".to_string(), ok, n.to_string());
        assert_eq!(
            got,
            [
                l(false, "orders: 1 of 3 tables differ"),
                l(true, "seeded: 3 tables equal"),
                l(true, "empty: 2 tables equal"),
            ]
        );
    }

    #[test]
    fn both_halves_and_unknown_shapes() {
        let sql = serde_json::to_value(vec![
            CheckResult::pass("source/dns", "resolves"),
            CheckResult::fail(
                "source/wal_level",
                "replica",
                "ALTER SYSTEM SET wal_level = logical;",
            ),
        ])
        .unwrap();
        let drs = json!({"total_passed_rate": "50%", "not_passed": [{"item": "disk", "result": "ALARM", "reason": "low"}]});
        let d = PrecheckDetail::read(&json!({"sql": sql, "drs": drs}));
        let lines = d.lines();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1].fix.as_deref(),
            Some("ALTER SYSTEM SET wal_level = logical;")
        );
        assert_eq!(
            (lines[2].name.as_str(), lines[2].status),
            ("drs/disk", Status::Warn)
        );
        assert!(matches!(
            PrecheckDetail::read(&json!({"odd": 1})),
            PrecheckDetail::Unreadable(_)
        ));
        assert_eq!(PrecheckDetail::read(&Value::Null).lines(), vec![]);
        let v = ValidationDetail::read(&json!({"tables": "no"}));
        assert!(matches!(v, ValidationDetail::Unreadable(_)), "{v:?}");
        assert_eq!(
            v.tables().len(),
            1,
            "an unreadable detail is shown, not dropped"
        );
    }
}
