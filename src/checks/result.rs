//! One pre-check's verdict (pass / warn / fail, the evidence, the fix) and the sums over many:
//! what every engine's checks (`pg.rs`, `mysql.rs`) write and `mod.rs` gathers. Below all of them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `side/check`, e.g. `source/wal_level`.
    pub name: String,
    pub status: Status,
    /// What was observed.
    pub evidence: String,
    /// The exact statement or action that fixes a warn/fail.
    pub fix: Option<String>,
}

impl CheckResult {
    pub fn pass(name: impl Into<String>, evidence: impl Into<String>) -> Self {
        CheckResult {
            name: name.into(),
            status: Status::Pass,
            evidence: evidence.into(),
            fix: None,
        }
    }
    pub fn warn(
        name: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        CheckResult {
            name: name.into(),
            status: Status::Warn,
            evidence: evidence.into(),
            fix: Some(fix.into()),
        }
    }
    pub fn fail(
        name: impl Into<String>,
        evidence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        CheckResult {
            name: name.into(),
            status: Status::Fail,
            evidence: evidence.into(),
            fix: Some(fix.into()),
        }
    }
}

/// True when nothing failed (warnings allowed).
pub fn passed(results: &[CheckResult]) -> bool {
    results.iter().all(|r| r.status != Status::Fail)
}

/// "12 checks: 10 pass, 1 warn, 1 fail"
pub fn summary(results: &[CheckResult]) -> String {
    let n = |s| results.iter().filter(|r| r.status == s).count();
    format!(
        "{} checks: {} pass, {} warn, {} fail",
        results.len(),
        n(Status::Pass),
        n(Status::Warn),
        n(Status::Fail)
    )
}
