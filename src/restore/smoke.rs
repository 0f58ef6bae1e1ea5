//! The restore test's checks on a restored copy: the runbook's smoke tests (the database's
//! `extra.smoke_tests` too), run on the copy and compared as the validation gate compares
//! (expected rows, or the same as the live target), and exact row counts per table, copy
//! against live target.
//!
//! The live target has moved on since the backup was taken, so a count that differs is
//! reported with its difference, not failed; what fails is what a backup must never lose: a
//! table the live target has and the copy does not, or a table empty on the copy while the
//! live one has rows.

use crate::inventory::{DatabaseSpec, Endpoint, Engine};
use crate::validate::connect::{connect, Pool};
use crate::validate::smoke::{query_text, run_smoke_tests};
use crate::validate::Runbook;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One table's counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Count {
    pub table: String,
    /// `None`: the copy has no such table.
    pub copy: Option<i64>,
    pub live: i64,
}

/// What the checks found; the `restore.smoke` outcome's detail (`restore-tests.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CopyReport {
    pub smoke_tests: Vec<crate::validate::report::CheckOutcome>,
    pub counts: Vec<Count>,
    /// What failed, in words (empty: passed).
    pub problems: Vec<String>,
}

impl CopyReport {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn summary(&self) -> String {
        let smoke_ok = self.smoke_tests.iter().filter(|s| s.passed).count();
        let differ = self
            .counts
            .iter()
            .filter(|c| c.copy.is_some_and(|n| n != c.live))
            .count();
        let mut s = format!(
            "{} of {} smoke tests passed, {} tables counted",
            smoke_ok,
            self.smoke_tests.len(),
            self.counts.len()
        );
        if differ > 0 {
            s.push_str(&format!(" ({differ} differ from the live target now)"));
        }
        if let Some(p) = self.problems.first() {
            s.push_str(&format!("; {p}"));
            if self.problems.len() > 1 {
                s.push_str(&format!(" (+{} more)", self.problems.len() - 1));
            }
        }
        s
    }
}

/// Judge counts: missing or emptied tables are problems.
pub fn count_problems(counts: &[Count]) -> Vec<String> {
    counts
        .iter()
        .filter_map(|c| match c.copy {
            None => Some(format!(
                "table {} is missing from the restored copy ({} rows live)",
                c.table, c.live
            )),
            Some(0) if c.live > 0 => Some(format!(
                "table {} is empty on the restored copy, {} rows live",
                c.table, c.live
            )),
            _ => None,
        })
        .collect()
}

async fn tables(p: &Pool) -> Result<Vec<String>, sqlx::Error> {
    let sql = match p.engine() {
        Engine::Postgres => {
            "SELECT table_schema || '.' || table_name FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog','information_schema') ORDER BY 1"
        }
        Engine::Mysql => {
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema = DATABASE() ORDER BY 1"
        }
    };
    Ok(query_text(p, sql)
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

async fn count(p: &Pool, table: &str) -> Result<i64, sqlx::Error> {
    let q = crate::validate::catalog::quote_dotted(p.engine(), table);
    let rows = query_text(p, &format!("SELECT count(*) FROM {q}")).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0))
}

async fn counts(live: &Pool, copy: &Pool) -> Result<Vec<Count>, sqlx::Error> {
    let on_copy: BTreeMap<String, ()> = tables(copy).await?.into_iter().map(|t| (t, ())).collect();
    let mut out = Vec::new();
    for t in tables(live).await? {
        let live_n = count(live, &t).await?;
        let copy_n = match on_copy.contains_key(&t) {
            true => Some(count(copy, &t).await?),
            false => None,
        };
        out.push(Count {
            table: t,
            copy: copy_n,
            live: live_n,
        });
    }
    Ok(out)
}

/// Run the checks on `copy` (the restored instance's database), against `spec`'s live target.
pub async fn check_copy(spec: &DatabaseSpec, copy: &Endpoint) -> Result<CopyReport, String> {
    let rb = Runbook::builtin(spec.engine)
        .for_database(spec)
        .map_err(|e| e.to_string())?;
    let t = Duration::from_secs(15);
    let live = connect(spec.engine, &spec.target, 2, t)
        .await
        .map_err(|e| format!("live target: {e}"))?;
    let restored = match connect(spec.engine, copy, 2, t).await {
        Ok(p) => p,
        Err(e) => {
            live.close().await;
            return Err(format!("restored copy: {e}"));
        }
    };
    let smoke = run_smoke_tests(
        &live,
        &spec.target.database,
        &restored,
        &copy.database,
        &rb.smoke_tests,
    )
    .await;
    let counted = counts(&live, &restored).await;
    live.close().await;
    restored.close().await;
    let counts =
        counted.map_err(|e| crate::validate::connect::scrub(copy, &format!("row counts: {e}")))?;
    let mut problems: Vec<String> = smoke
        .iter()
        .filter(|s| !s.passed)
        .map(|s| format!("smoke test {:?}: {}", s.name, s.detail))
        .collect();
    problems.extend(count_problems(&counts));
    Ok(CopyReport {
        smoke_tests: smoke,
        counts,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_tables_fail_moved_counts_do_not() {
        let c = |t: &str, copy, live| Count {
            table: t.into(),
            copy,
            live,
        };
        let p = count_problems(&[
            c("a", Some(10), 12),
            c("b", None, 3),
            c("c", Some(0), 5),
            c("d", Some(0), 0),
        ]);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("b is missing"), "{p:?}");
        assert!(p[1].contains("c is empty"), "{p:?}");
    }
}
