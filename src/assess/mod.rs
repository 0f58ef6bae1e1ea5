//! Fleet assessment: what every source database holds and what stands in DRS's way, measured
//! before the factory plans anything.
//!
//! `probe` connects to each source (bounded, with timeouts, in a read-only session, no DDL) and
//! fills one [`DbAssessment`] per database; `rules` turns what it read into findings (pure);
//! `report` writes `assessment.csv`, `assessment.json` (one row per database) and
//! `assessment.md` (blockers first) and reads the JSON back for `wavedeck plan --assessment`.
//! A database that cannot be reached still gets its row: it is listed, never skipped.

pub mod cmd;
pub mod probe;
pub mod report;
pub mod rules;

use crate::inventory::{DatabaseSpec, Engine};
use serde::{Deserialize, Serialize};

/// How far the probe got with one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything was read.
    Assessed,
    /// Connected, but some reads failed or the deadline cut the probe short (see `problems`).
    Partial,
    /// Name resolution, TCP, the password reference or the login failed (see `problems`).
    Unreachable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Assessed => "assessed",
            Outcome::Partial => "partial",
            Outcome::Unreachable => "unreachable",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// DRS cannot migrate the database as it is: it waits in no wave until this is fixed.
    Blocker,
    /// DRS migrates it, with a risk someone should look at.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Blocker => "blocker",
            Severity::Warning => "warning",
        }
    }
}

/// One thing in the way, with what was seen and how to fix it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable name of the rule, e.g. `source/wal_level`, `type/unsupported`.
    pub rule: String,
    pub detail: String,
    pub fix: Option<String>,
}

/// Objects besides tables, by kind. `extensions` are PostgreSQL extensions or the MySQL
/// plugins loaded from a library (built-in ones are not listed).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Objects {
    pub views: usize,
    pub functions: usize,
    pub procedures: usize,
    pub triggers: usize,
    pub events: usize,
    pub sequences: usize,
    pub extensions: Vec<String>,
}

/// The measured write rate and what it covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WriteRate {
    /// Rows inserted, updated or deleted per second over the sample.
    pub rows_per_s: f64,
    pub sample_s: f64,
    /// `database` (PostgreSQL `pg_stat_database`, MySQL performance_schema) or `server`
    /// (MySQL `Innodb_rows_*` status counters: every schema of the server).
    pub scope: String,
}

/// One database's row of the assessment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbAssessment {
    pub db_id: String,
    pub engine: Engine,
    /// `user@host:port/database` of the source (never a password).
    pub source: String,
    pub outcome: Outcome,
    /// What failed, in order (unreachable: why; partial: each read that failed).
    pub problems: Vec<String>,
    pub elapsed_ms: u64,
    pub version: Option<String>,
    pub encoding: Option<String>,
    pub collation: Option<String>,
    pub declared_size_gb: f64,
    pub measured_size_bytes: Option<i64>,
    pub tables: Option<usize>,
    pub tables_without_pk: Vec<String>,
    pub objects: Option<Objects>,
    pub write_rate: Option<WriteRate>,
    pub findings: Vec<Finding>,
}

impl DbAssessment {
    /// The row before anything is known: declared facts only.
    pub fn new(spec: &DatabaseSpec) -> DbAssessment {
        DbAssessment {
            db_id: spec.db_id.clone(),
            engine: spec.engine,
            source: crate::validate::connect::describe(&spec.source),
            outcome: Outcome::Unreachable,
            problems: Vec::new(),
            elapsed_ms: 0,
            version: None,
            encoding: None,
            collation: None,
            declared_size_gb: spec.size_gb,
            measured_size_bytes: None,
            tables: None,
            tables_without_pk: Vec::new(),
            objects: None,
            write_rate: None,
            findings: Vec::new(),
        }
    }

    pub fn blockers(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Blocker)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    pub fn measured_size_gb(&self) -> Option<f64> {
        self.measured_size_bytes.map(|b| b as f64 / 1e9)
    }
}
