//! Per-engine runbooks as data (`runbooks/postgres.yaml`, `runbooks/mysql.yaml`): which
//! pre-checks run and their thresholds, validation settings, smoke tests and business rules.
//! Nothing about the cutover order, which is wavedeck's own (`cutover::steps`:
//! `CutoverStep::ALL` and `rollback_plan`, what the engine and the lab both run). An inventory
//! entry adds its own smoke tests and rules under `extra.smoke_tests` and `extra.rules` (same
//! shapes as here).

use crate::inventory::{DatabaseSpec, Engine};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub engine: Engine,
    /// Pre-checks to run, in order.
    pub prechecks: Vec<CheckKind>,
    #[serde(default)]
    pub precheck_settings: PrecheckSettings,
    #[serde(default)]
    pub validation: ValidationSettings,
    #[serde(default)]
    pub smoke_tests: Vec<SmokeTest>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Dns,
    Reachability,
    Clock,
    /// PostgreSQL: wal_level, replication slots and senders.
    LogicalDecoding,
    /// MySQL: log_bin, binlog_format, binlog_row_image, server_id, GTID.
    Binlog,
    Privileges,
    PrimaryKeys,
    /// MySQL: tables not on InnoDB.
    StorageEngines,
    StorageSizing,
    SchemaCompatibility,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrecheckSettings {
    pub connect_timeout_s: u64,
    /// Clock skew above this warns.
    pub clock_warn_s: f64,
    /// Clock skew above this fails.
    pub clock_fail_s: f64,
    /// Target capacity must be at least source size × this.
    pub storage_headroom: f64,
    /// Minimum replication slots / WAL senders free for DRS (PostgreSQL).
    pub min_replication_slots: u32,
    pub min_wal_senders: u32,
}

impl Default for PrecheckSettings {
    fn default() -> Self {
        PrecheckSettings {
            connect_timeout_s: 5,
            clock_warn_s: 1.0,
            clock_fail_s: 5.0,
            storage_headroom: 1.3,
            min_replication_slots: 1,
            min_wal_senders: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationSettings {
    /// Rows per primary-key range chunk.
    pub chunk_rows: u64,
    /// Chunks hashed at once: the sessions a run opens on each side, at most.
    pub parallelism: usize,
    /// Rows read per second from each side, all its sessions together; 0: no limit. A
    /// database's `extra.validation_max_rows_per_s` replaces it for that database's source.
    pub max_rows_per_s: u64,
    /// Differing keys reported per table.
    pub max_reported_keys: usize,
    /// A mismatching range is split until it holds at most this many rows, then compared row
    /// by row.
    pub leaf_rows: u64,
    /// Tables without an integer key are localised in memory up to this many rows.
    pub max_row_compare_rows: u64,
    /// Live: a range whose source changed between the two reads of a comparison is compared
    /// again at the new position up to this many times before it is left undecided.
    pub max_rechecks: u32,
    /// Live: how long a range waits for the target to confirm its source position before the
    /// gate is left "not decided: lag" (seconds).
    pub recheck_wait_s: u64,
    /// PostgreSQL schemas never compared.
    pub exclude_schemas: Vec<String>,
    /// Tables never compared (`schema.table` for PostgreSQL, `table` for MySQL), e.g. the
    /// wavedeck marker table.
    pub exclude_tables: Vec<String>,
    /// Decimals keep their scale: `1.50` is not `1.5` in a `numeric` column nor inside `jsonb`.
    /// For PostgreSQL to PostgreSQL, where an unconstrained `numeric` keeps the scale it was
    /// given and applications see it. Off: values are compared (PostgreSQL's `=` agrees).
    pub strict_numeric_scale: bool,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        ValidationSettings {
            chunk_rows: 100_000,
            parallelism: 4,
            max_rows_per_s: 0,
            max_reported_keys: 20,
            leaf_rows: 4_096,
            max_row_compare_rows: 2_000_000,
            max_rechecks: 3,
            recheck_wait_s: 300,
            exclude_schemas: vec![],
            exclude_tables: vec![],
            strict_numeric_scale: false,
        }
    }
}

/// A query run on the target (and the source, when `expect_same_as_source`); its result rows
/// are compared as text. `{database}` in `sql` is replaced by the database name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeTest {
    pub name: String,
    pub sql: String,
    /// Expected rows, each a list of values (null for SQL NULL).
    #[serde(default)]
    pub expect: Option<Vec<Vec<serde_json::Value>>>,
    /// The target must return what the source returns.
    #[serde(default)]
    pub expect_same_as_source: bool,
}

/// Business rules checked on the target (the seed's validation rules).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Every listed column is NOT NULL in every row.
    Required { table: String, columns: Vec<String> },
    /// The combination of columns is unique.
    Unique { table: String, columns: Vec<String> },
    /// Non-null values match a regular expression (evaluated by the database: `~` / `REGEXP`).
    Format {
        table: String,
        column: String,
        regex: String,
    },
    /// Every non-null `column` value exists in `ref_table.ref_column`.
    NoOrphans {
        table: String,
        column: String,
        ref_table: String,
        ref_column: String,
    },
}

impl Rule {
    pub fn name(&self) -> String {
        match self {
            Rule::Required { table, columns } => {
                format!("required {table}({})", columns.join(", "))
            }
            Rule::Unique { table, columns } => format!("unique {table}({})", columns.join(", ")),
            Rule::Format { table, column, .. } => format!("format {table}.{column}"),
            Rule::NoOrphans {
                table,
                column,
                ref_table,
                ref_column,
            } => format!("no orphans {table}.{column} -> {ref_table}.{ref_column}"),
        }
    }
}

const POSTGRES_YAML: &str = include_str!("../../runbooks/postgres.yaml");
const MYSQL_YAML: &str = include_str!("../../runbooks/mysql.yaml");

#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("cannot read runbook {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}:{line}: {msg}")]
    Parse {
        path: String,
        line: usize,
        msg: String,
    },
    #[error("database {db_id}: extra.{key} is not valid: {msg} (same shape as in the runbook)")]
    Extra {
        db_id: String,
        key: String,
        msg: String,
    },
}

impl Runbook {
    /// The runbook bundled with wavedeck for an engine.
    pub fn builtin(engine: Engine) -> Runbook {
        let (name, text) = match engine {
            Engine::Postgres => ("runbooks/postgres.yaml", POSTGRES_YAML),
            Engine::Mysql => ("runbooks/mysql.yaml", MYSQL_YAML),
        };
        // The bundled files are checked by a unit test, so this cannot fail in a release.
        Runbook::parse(name, text).unwrap_or_else(|e| panic!("bundled runbook is invalid: {e}"))
    }

    pub fn parse(path: &str, text: &str) -> Result<Runbook, RunbookError> {
        serde_yaml::from_str(text).map_err(|e| {
            let mut msg = e.to_string();
            // Runbooks once listed the cutover and rollback steps; nothing read them.
            if ["cutover", "rollback"]
                .iter()
                .any(|k| msg.contains(&format!("unknown field `{k}`")))
            {
                msg.push_str(
                    "; the cutover and rollback order is wavedeck's own (runbooks/cutover-night.md, \
                     runbooks/rollback.md): remove the list from the runbook",
                );
            }
            RunbookError::Parse {
                path: path.to_string(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                msg,
            }
        })
    }

    pub fn load(path: &Path) -> Result<Runbook, RunbookError> {
        let text = crate::input::read_yaml(path, &crate::input::SMALL).map_err(|e| {
            RunbookError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        Runbook::parse(&path.display().to_string(), &text)
    }

    /// This runbook plus the database's own `extra.smoke_tests` and `extra.rules`, and its
    /// `extra.validation_max_rows_per_s` in place of the runbook's limit.
    pub fn for_database(&self, spec: &DatabaseSpec) -> Result<Runbook, RunbookError> {
        let mut rb = self.clone();
        if let Some(v) = spec.extra.get("validation_max_rows_per_s") {
            rb.validation.max_rows_per_s = v.as_u64().ok_or_else(|| RunbookError::Extra {
                db_id: spec.db_id.clone(),
                key: "validation_max_rows_per_s".into(),
                msg: format!("{v} is not a whole number of rows per second (0: no limit)"),
            })?;
        }
        if let Some(v) = spec.extra.get("smoke_tests") {
            let more: Vec<SmokeTest> =
                serde_json::from_value(v.clone()).map_err(|e| RunbookError::Extra {
                    db_id: spec.db_id.clone(),
                    key: "smoke_tests".into(),
                    msg: e.to_string(),
                })?;
            rb.smoke_tests.extend(more);
        }
        if let Some(v) = spec.extra.get("rules") {
            let more: Vec<Rule> =
                serde_json::from_value(v.clone()).map_err(|e| RunbookError::Extra {
                    db_id: spec.db_id.clone(),
                    key: "rules".into(),
                    msg: e.to_string(),
                })?;
            rb.rules.extend(more);
        }
        Ok(rb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_runbooks_parse_and_match_their_engine() {
        for engine in [Engine::Postgres, Engine::Mysql] {
            let rb = Runbook::builtin(engine);
            assert_eq!(rb.engine, engine);
            assert!(rb.prechecks.contains(&CheckKind::Privileges));
            assert!(!rb.smoke_tests.is_empty());
        }
    }

    #[test]
    fn a_runbook_listing_cutover_steps_is_refused_with_what_to_do() {
        for key in ["cutover", "rollback"] {
            let text = format!("engine: postgres\nprechecks: [dns]\n{key}:\n  - name: drain\n");
            let e = Runbook::parse("mine.yaml", &text).unwrap_err().to_string();
            assert!(e.starts_with("mine.yaml:3"), "{e}");
            assert!(e.contains(&format!("unknown field `{key}`")), "{e}");
            assert!(e.contains("remove the list from the runbook"), "{e}");
        }
    }

    #[test]
    fn unknown_check_names_file_and_line() {
        let err = Runbook::parse(
            "rb.yaml",
            "engine: postgres\nprechecks:\n  - dns\n  - telepathy\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("rb.yaml:4:"), "{err}");
        assert!(err.contains("telepathy"), "{err}");
    }

    #[test]
    fn a_database_sets_its_own_read_limit_and_a_bad_one_names_it() {
        let rb = Runbook::builtin(Engine::Postgres);
        assert_eq!(rb.validation.max_rows_per_s, 0, "no limit unless asked");
        let mut spec = crate::tui::fixture::spec("pay-1", 0);
        spec.extra.insert(
            "validation_max_rows_per_s".into(),
            serde_json::json!(20_000),
        );
        assert_eq!(
            rb.for_database(&spec).unwrap().validation.max_rows_per_s,
            20_000
        );
        spec.extra.insert(
            "validation_max_rows_per_s".into(),
            serde_json::json!("fast"),
        );
        let e = rb.for_database(&spec).unwrap_err().to_string();
        assert!(
            e.contains("pay-1") && e.contains("extra.validation_max_rows_per_s"),
            "{e}"
        );
        assert!(e.contains("\"fast\" is not a whole number"), "{e}");
    }

    #[test]
    fn rules_parse_from_yaml() {
        let rb = Runbook::parse(
            "x",
            "engine: mysql\nprechecks: []\nrules:\n  - kind: unique\n    table: users\n    columns: [email]\n  - kind: format\n    table: users\n    column: email\n    regex: '^[^@]+@[^@]+$'\n",
        )
        .unwrap();
        assert_eq!(rb.rules.len(), 2);
        assert_eq!(rb.rules[0].name(), "unique users(email)");
    }
}
