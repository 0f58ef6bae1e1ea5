//! The I/O of the assessment: one read-only session per source, every read bounded.
//!
//! Order: name resolution and TCP first (an unreachable host costs one connect timeout, not a
//! driver's retries), then the login through the shared connection layer, then
//! `SET SESSION ... READ ONLY` so that nothing this module sends can change the source. The
//! first write-rate sample is taken right after the login and the second once `sample` has
//! passed, so the catalog reads fill the interval instead of adding to it.

use super::rules::{self, MyColumn, PgColumn};
use super::{DbAssessment, Objects, Outcome, WriteRate};
use crate::checks::{self, net, CheckResult};
use crate::inventory::DatabaseSpec;
use crate::validate::catalog::{self, my_str, Catalog, PG_SYSTEM};
use crate::validate::connect::{self, Pool};
use crate::validate::runbook::Runbook;
use futures::StreamExt;
use sqlx::Row;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// TCP connect and login, each.
    pub connect_timeout: Duration,
    /// The whole probe of one database; what is read by then is kept.
    pub deadline: Duration,
    /// Interval between the two write-rate samples.
    pub sample: Duration,
    /// Databases probed at once.
    pub concurrency: usize,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            connect_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            sample: Duration::from_secs(2),
            concurrency: 16,
        }
    }
}

/// Assess every database, `concurrency` at a time; rows come back in inventory order.
pub async fn assess_all(specs: &[DatabaseSpec], opts: &ProbeOptions) -> Vec<DbAssessment> {
    // Owned items, so that the futures borrow nothing and a caller may spawn the whole run.
    let items: Vec<(usize, DatabaseSpec)> = specs.iter().cloned().enumerate().collect();
    let mut rows: Vec<(usize, DbAssessment)> = futures::stream::iter(items)
        .map(|(i, s)| {
            let opts = opts.clone();
            async move { (i, assess_one(&s, &opts).await) }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    rows.sort_by_key(|r| r.0);
    rows.into_iter().map(|r| r.1).collect()
}

/// Assess one database. Never fails: what went wrong is in the row.
pub async fn assess_one(spec: &DatabaseSpec, opts: &ProbeOptions) -> DbAssessment {
    let t0 = Instant::now();
    let mut row = DbAssessment::new(spec);
    let mut pool = None;
    let done = tokio::time::timeout(opts.deadline, probe(spec, opts, &mut row, &mut pool)).await;
    if done.is_err() {
        row.problems.push(format!(
            "stopped at the {} s deadline (raise --timeout-s if the source is slow)",
            opts.deadline.as_secs_f64()
        ));
        if row.outcome == Outcome::Assessed {
            row.outcome = Outcome::Partial;
        }
    }
    if let Some(p) = pool {
        p.close().await;
    }
    for p in row.problems.iter_mut() {
        *p = connect::scrub(&spec.source, p);
    }
    row.elapsed_ms = t0.elapsed().as_millis() as u64;
    tracing::info!(db_id = %spec.db_id, outcome = row.outcome.as_str(), blockers = row.blockers().count(), "assessed");
    row
}

async fn probe(
    spec: &DatabaseSpec,
    opts: &ProbeOptions,
    row: &mut DbAssessment,
    pool_out: &mut Option<Pool>,
) {
    let ep = &spec.source;
    let addrs =
        match tokio::time::timeout(opts.connect_timeout, net::resolve(&ep.host, ep.port)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return row.problems.push(e),
            Err(_) => {
                return row.problems.push(format!(
                    "cannot resolve {} within {} s",
                    ep.host,
                    opts.connect_timeout.as_secs_f64()
                ))
            }
        };
    if let Err(e) = net::reach(&addrs, opts.connect_timeout).await {
        return row.problems.push(format!("not reachable over TCP: {e}"));
    }
    let pool = match connect::connect(spec.engine, ep, 1, opts.connect_timeout).await {
        Ok(p) => p,
        // sqlx says "pool timed out" when a server takes the TCP connection but never answers
        // the login: say that instead.
        Err(e) if e.reason.contains("timed out") => {
            return row.problems.push(format!(
                "cannot connect to {}: the server took the TCP connection but did not answer the login within {} s",
                e.endpoint,
                opts.connect_timeout.as_secs_f64()
            ))
        }
        Err(e) => return row.problems.push(e.to_string()),
    };
    // One connection, read-only from here on: the pool never opens a second one.
    let ro = match &pool {
        Pool::Pg(p) => sqlx::query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            .execute(p)
            .await
            .map(|_| ()),
        Pool::My(p) => sqlx::query("SET SESSION TRANSACTION READ ONLY")
            .execute(p)
            .await
            .map(|_| ()),
    };
    *pool_out = Some(pool.clone());
    if let Err(e) = ro {
        return row.problems.push(format!(
            "cannot make the session read-only, nothing read: {e}"
        ));
    }
    row.outcome = Outcome::Assessed;
    let started = Instant::now();
    let first = write_counter(&pool, &ep.database).await;

    let failed = |row: &mut DbAssessment, what: &str, e: &dyn std::fmt::Display| {
        row.problems.push(format!("{what}: {e}"));
        row.outcome = Outcome::Partial;
    };
    match checks::server_version(&pool).await {
        Ok(v) => row.version = Some(v),
        Err(e) => failed(row, "version", &e),
    }
    match checks::measured_size_bytes(&pool).await {
        Ok(b) => row.measured_size_bytes = Some(b),
        Err(e) => failed(row, "size", &e),
    }
    let cat = match catalog::load(&pool, &ep.database, &[]).await {
        Ok(c) => Some(c),
        Err(e) => {
            failed(row, "catalog", &e);
            None
        }
    };
    if let Some(c) = &cat {
        row.encoding = c.charset.clone();
        row.collation = c.collation.clone();
        row.tables = Some(c.tables.len());
        row.tables_without_pk = checks::without_primary_key(c);
        push_checks(row, &[checks::primary_keys(spec.engine, c)]);
    }
    let st = Runbook::builtin(spec.engine).precheck_settings;
    match &pool {
        Pool::Pg(p) => {
            push_checks(row, &checks::pg::logical_decoding(p, &st).await);
            match pg_extras(p).await {
                Ok((ext, cols, unlogged)) => {
                    row.findings.extend(rules::pg_type_findings(&cols));
                    row.findings.extend(rules::pg_unlogged(&unlogged));
                    if let Some(c) = &cat {
                        row.objects = Some(objects(c, 0, ext));
                    }
                }
                Err(e) => failed(row, "extensions and column types", &e),
            }
        }
        Pool::My(p) => {
            push_checks(row, &checks::mysql::binlog(p).await);
            if let Some(c) = &cat {
                push_checks(row, &[checks::mysql::storage_engines(c)]);
                let functional: Vec<String> = c
                    .tables
                    .iter()
                    .flat_map(|t| {
                        t.indexes
                            .iter()
                            .filter(|i| i.columns.iter().any(|c| c == "(expression)"))
                            .map(move |i| format!("{}.{}", t.name, i.name))
                    })
                    .collect();
                row.findings
                    .extend(rules::my_functional_indexes(&functional));
            }
            match my_extras(p, &ep.database).await {
                Ok((events, plugins, cols)) => {
                    row.findings.extend(rules::my_column_findings(&cols));
                    if let Some(c) = &cat {
                        row.objects = Some(objects(c, events, plugins));
                    }
                }
                Err(e) => failed(row, "events, plugins and column types", &e),
            }
        }
    }
    for f in row.findings.iter_mut() {
        f.detail = connect::scrub(ep, &f.detail);
    }

    if let Some(rest) = opts.sample.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let second = write_counter(&pool, &ep.database).await;
    match (first, second) {
        (Ok((a, scope)), Ok((b, _))) => {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            row.write_rate = Some(WriteRate {
                rows_per_s: (b - a).max(0) as f64 / secs,
                sample_s: secs,
                scope: scope.into(),
            });
        }
        (Err(e), _) | (_, Err(e)) => failed(row, "write rate", &e),
    }
}

fn push_checks(row: &mut DbAssessment, results: &[CheckResult]) {
    row.findings
        .extend(results.iter().filter_map(rules::from_check));
}

fn objects(c: &Catalog, events: usize, extensions: Vec<String>) -> Objects {
    Objects {
        views: c.views.len(),
        functions: c.functions.len(),
        procedures: c.procedures.len(),
        triggers: c.triggers.len(),
        events,
        sequences: c.sequences.len(),
        extensions,
    }
}

/// Rows written so far, and what the counter covers. PostgreSQL counts per database; MySQL
/// per schema when performance_schema is on, else for the whole server.
async fn write_counter(pool: &Pool, database: &str) -> Result<(i64, &'static str), sqlx::Error> {
    match pool {
        Pool::Pg(p) => {
            let n: i64 = sqlx::query_scalar(
                "SELECT (tup_inserted + tup_updated + tup_deleted)::int8 FROM pg_stat_database WHERE datname = current_database()",
            )
            .fetch_one(p)
            .await?;
            Ok((n, "database"))
        }
        Pool::My(p) => {
            let per_schema: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
                "SELECT CAST(SUM(count_insert + count_update + count_delete) AS SIGNED) \
                 FROM performance_schema.table_io_waits_summary_by_table WHERE object_schema = ? \
                   AND @@performance_schema = 1",
            )
            .bind(database)
            .fetch_one(p)
            .await;
            if let Ok(Some(n)) = per_schema {
                return Ok((n, "database"));
            }
            // MySQL counts InnoDB rows; MariaDB 10.6+ dropped those counters, so its handler
            // counters (rows written, changed, deleted by any engine) stand in.
            let rows = sqlx::query(
                "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_rows_inserted', 'Innodb_rows_updated', 'Innodb_rows_deleted', \
                 'Handler_write', 'Handler_update', 'Handler_delete')",
            )
            .fetch_all(p)
            .await?;
            let (mut innodb, mut handler) = (None::<i64>, 0i64);
            for r in &rows {
                let v = my_str(r, 1)?.trim().parse::<i64>().unwrap_or(0);
                if my_str(r, 0)?.starts_with("Innodb") {
                    *innodb.get_or_insert(0) += v;
                } else {
                    handler += v;
                }
            }
            let n = innodb.unwrap_or(handler);
            Ok((n, "server"))
        }
    }
}

type PgExtras = (Vec<String>, Vec<PgColumn>, Vec<String>);

/// Extensions, every column's effective type (a domain's base type, an array's element
/// type) and the unlogged tables.
async fn pg_extras(p: &sqlx::PgPool) -> Result<PgExtras, sqlx::Error> {
    let ext: Vec<String> = sqlx::query_scalar(
        "SELECT extname || ' ' || extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
    )
    .fetch_all(p)
    .await?;
    let rows = sqlx::query(&format!(
        "SELECT n.nspname || '.' || c.relname || '.' || a.attname, format_type(a.atttypid, a.atttypmod), \
                b.typname::text, b.typcategory::text, bn.nspname::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
         JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype \
                                        WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END \
         JOIN pg_namespace bn ON bn.oid = b.typnamespace \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {PG_SYSTEM} ORDER BY 1"
    ))
    .fetch_all(p)
    .await?;
    let mut cols = Vec::with_capacity(rows.len());
    for r in &rows {
        let cat: String = r.try_get(3)?;
        cols.push(PgColumn {
            column: r.try_get(0)?,
            declared: r.try_get(1)?,
            typname: r.try_get(2)?,
            category: cat.chars().next().unwrap_or('X'),
            type_schema: r.try_get(4)?,
        });
    }
    let unlogged: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' AND {PG_SYSTEM} ORDER BY 1"
    ))
    .fetch_all(p)
    .await?;
    Ok((ext, cols, unlogged))
}

/// Events, plugins loaded from a library, and every column with its EXTRA.
async fn my_extras(
    p: &sqlx::MySqlPool,
    db: &str,
) -> Result<(usize, Vec<String>, Vec<MyColumn>), sqlx::Error> {
    let events: i64 = sqlx::query_scalar(
        "SELECT CAST(COUNT(*) AS SIGNED) FROM information_schema.events WHERE event_schema = ?",
    )
    .bind(db)
    .fetch_one(p)
    .await?;
    let plugins = sqlx::query(
        "SELECT CAST(CONCAT(plugin_name, ' ', plugin_version) AS CHAR) FROM information_schema.plugins \
         WHERE plugin_library IS NOT NULL AND plugin_status = 'ACTIVE' ORDER BY 1",
    )
    .fetch_all(p)
    .await?
    .iter()
    .map(|r| my_str(r, 0))
    .collect::<Result<Vec<_>, _>>()?;
    let rows = sqlx::query(
        "SELECT CAST(CONCAT(table_name, '.', column_name) AS CHAR), CAST(LOWER(data_type) AS CHAR), \
                CAST(column_type AS CHAR), CAST(IFNULL(extra, '') AS CHAR) \
         FROM information_schema.columns c WHERE table_schema = ? \
           AND EXISTS (SELECT 1 FROM information_schema.tables t WHERE t.table_schema = c.table_schema \
                       AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE') \
         ORDER BY table_name, ordinal_position",
    )
    .bind(db)
    .fetch_all(p)
    .await?;
    let mut cols = Vec::with_capacity(rows.len());
    for r in &rows {
        cols.push(MyColumn {
            column: my_str(r, 0)?,
            data_type: my_str(r, 1)?,
            column_type: my_str(r, 2)?,
            extra: my_str(r, 3)?,
        });
    }
    Ok((events as usize, plugins, cols))
}

/// How long `assess_all` can take at most, for the command's announcement: every database may
/// use its whole deadline, `concurrency` at a time.
pub fn worst_case(n: usize, opts: &ProbeOptions) -> Duration {
    let rounds = n.div_ceil(opts.concurrency.max(1)) as u32;
    opts.deadline * rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_case_is_rounds_times_deadline() {
        let o = ProbeOptions {
            deadline: Duration::from_secs(10),
            concurrency: 16,
            ..ProbeOptions::default()
        };
        assert_eq!(worst_case(2000, &o), Duration::from_secs(1250));
        assert_eq!(worst_case(16, &o), Duration::from_secs(10));
        assert_eq!(worst_case(0, &o), Duration::ZERO);
    }
}
