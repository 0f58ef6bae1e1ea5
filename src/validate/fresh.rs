//! The freshness gate re-reads only what may have changed: a table that passed, whose schema
//! fingerprint is the same, and whose change marker on both sides is the same now as it was
//! before its last read keeps its result.
//!
//! PostgreSQL's marker: the table's `pg_stat_user_tables` counters `n_tup_ins`, `n_tup_upd`,
//! `n_tup_del` (every row written, also by COPY, by a rolled-back transaction, and by a
//! logical replication apply worker), its `relfilenode` (TRUNCATE, VACUUM FULL, CLUSTER and
//! rewriting ALTERs give a new one and do not count rows), the database's `stats_reset`, and
//! the server's start time (a crash drops the counters). Only plain tables without
//! inheritance children: a partitioned or inherited table's counters stay at zero while its
//! children change. MySQL and MariaDB have nothing exact and cheap (CHECKSUM TABLE reads the
//! table; `UPDATE_TIME` is not persisted and not kept by every engine): their tables are
//! always read again, and the report says so.

use super::connect::Pool;
use std::collections::HashMap;

/// Why a MySQL table is read again.
pub const MYSQL_NO_MARKER: &str = "read again: MySQL/MariaDB keep no exact change marker \
     (CHECKSUM TABLE reads the table, UPDATE_TIME is not persisted)";

/// Each plain table's marker (`schema.table` → text) on a PostgreSQL side; empty on MySQL.
pub async fn markers(pool: &Pool) -> Result<HashMap<String, String>, String> {
    let Pool::Pg(p) = pool else {
        return Ok(HashMap::new());
    };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname, \
           'start=' || pg_postmaster_start_time()::text \
           || ';reset=' || coalesce((SELECT stats_reset::text FROM pg_stat_database \
                                     WHERE datname = current_database()), '') \
           || ';node=' || c.relfilenode::text || ';ins=' || s.n_tup_ins::text \
           || ';upd=' || s.n_tup_upd::text || ';del=' || s.n_tup_del::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_stat_user_tables s ON s.relid = c.oid \
         WHERE c.relkind = 'r' AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid)",
    )
    .fetch_all(p)
    .await
    .map_err(|e| format!("reading pg_stat_user_tables: {e}"))?;
    Ok(rows.into_iter().collect())
}

/// A table's result from its last pass, as the store keeps it.
pub struct Last<'a> {
    pub fingerprint: &'a str,
    /// Both sides' markers before that read (`source|target`).
    pub marker: &'a str,
    pub at: &'a str,
}

/// Whether a table keeps its last result: `Ok(words)` it does (and why), `Err(words)` it is
/// read again (and why). `now` is both sides' marker pair, None where there is none.
pub fn decide(last: Option<&Last>, fingerprint: &str, now: Option<&str>) -> Result<String, String> {
    let Some(now) = now else {
        return Err("read again: no exact change marker on both sides".into());
    };
    let Some(last) = last else {
        return Err("read: no earlier passed result".into());
    };
    if last.fingerprint != fingerprint {
        return Err("read again: the table's schema changed since its last pass".into());
    }
    match changed(last.marker, now) {
        None => Ok(format!(
            "not read: unchanged since its pass of {} (pg_stat_user_tables n_tup_ins/upd/del, \
             relfilenode, stats reset and server start equal on both sides)",
            last.at
        )),
        Some(what) => Err(format!(
            "read again: {what} changed since its pass of {}",
            last.at
        )),
    }
}

/// The first field that differs between two marker pairs, named with its side.
fn changed(old: &str, new: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let sides = |m: &str| {
        let (s, t) = m.split_once('|').unwrap_or((m, ""));
        [("source", s.to_string()), ("target", t.to_string())]
    };
    for ((side, a), (_, b)) in sides(old).into_iter().zip(sides(new)) {
        let fields = |m: &str| -> Vec<(String, String)> {
            m.split(';')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_string(), v.to_string())
                })
                .collect()
        };
        let (fa, fb) = (fields(&a), fields(&b));
        if fa.len() != fb.len() {
            return Some(format!("the {side}'s marker"));
        }
        for ((k, va), (kb, vb)) in fa.iter().zip(&fb) {
            if k != kb || va != vb {
                let name = match k.as_str() {
                    "start" => "server start",
                    "reset" => "statistics reset",
                    "node" => "relfilenode (TRUNCATE, VACUUM FULL, a rewrite)",
                    "ins" => "n_tup_ins",
                    "upd" => "n_tup_upd",
                    "del" => "n_tup_del",
                    _ => "marker",
                };
                return Some(format!("the {side}'s {name}"));
            }
        }
    }
    Some("the marker".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "start=s;reset=;node=16384;ins=10;upd=0;del=0";

    fn pair(s: &str, t: &str) -> String {
        format!("{s}|{t}")
    }

    #[test]
    fn an_unchanged_table_keeps_its_result_and_a_changed_one_is_read() {
        let old = pair(M, M);
        let last = Last {
            fingerprint: "fp",
            marker: &old,
            at: "2026-12-02T20:00:00Z",
        };
        assert!(decide(Some(&last), "fp", Some(&old))
            .unwrap()
            .starts_with("not read: unchanged since its pass of 2026-12-02T20:00:00Z"));
        let upd = pair(M, &M.replace("upd=0", "upd=1"));
        assert_eq!(
            decide(Some(&last), "fp", Some(&upd)).unwrap_err(),
            "read again: the target's n_tup_upd changed since its pass of 2026-12-02T20:00:00Z"
        );
        let truncated = pair(&M.replace("node=16384", "node=16999"), M);
        assert!(decide(Some(&last), "fp", Some(&truncated))
            .unwrap_err()
            .contains("source's relfilenode"));
        assert!(decide(Some(&last), "other", Some(&old))
            .unwrap_err()
            .contains("schema changed"));
        assert!(decide(None, "fp", Some(&old)).is_err());
        assert!(decide(Some(&last), "fp", None).is_err());
    }
}
