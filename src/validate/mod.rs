//! The validation gate: schema presence, exact row counts, checksums, smoke tests and
//! business rules, comparing a database's source and target.
//!
//! Entry point for the engine: [`run_validation`]. It never returns an error: anything that
//! stops a part of the gate is recorded in [`ValidationReport::errors`], which fails the gate.

pub mod canon;
pub mod canon_json;
pub mod catalog;
pub mod checksum;
pub mod cmd;
pub mod connect;
pub mod decode;
pub mod fresh;
pub mod pace;
pub mod pgcopy;
pub mod position;
pub mod progress;
pub mod report;
pub mod resume;
pub mod runbook;
pub mod scan;
pub mod scope;
pub mod smoke;

pub use position::Mode;
pub use report::{CheckOutcome, DiffKind, RowDifference, TableReport, ValidationReport};
pub use runbook::Runbook;

use crate::inventory::{DatabaseSpec, Engine};
use crate::store::validation::SavedResult;
use catalog::{Catalog, Table};
use checksum::TableJob;
use connect::Pool;
use decode::{MyKind, PgKind};
use scan::SideScan;
use std::collections::HashMap;
use std::time::Duration;

/// How to run the gate.
#[derive(Clone, Default)]
pub struct ValidateOptions {
    /// Final (replication quiesced) or live (CDC runs: ranges compared at confirmed positions).
    pub mode: Mode,
    /// Compare only these tables (`schema.table` / `table`); None means all.
    pub tables: Option<Vec<String>>,
    /// Override of the runbook's parallelism.
    pub parallelism: Option<usize>,
    /// Keep the matched chunks in this store, and go on with a run an earlier attempt left
    /// open ([`resume`]). None: every attempt reads everything.
    pub memory: Option<crate::store::Store>,
}

fn is_integer_key(engine: Engine, t: &Table, col: &str) -> bool {
    let Some(c) = t.column(col) else { return false };
    match engine {
        Engine::Postgres => PgKind::from_typname(&c.type_key).is_integer(),
        Engine::Mysql => MyKind::from_types(&c.type_key, &c.column_type).is_integer(),
    }
}

/// Build the per-table comparison jobs for tables present on both sides.
pub fn plan_jobs(
    src_engine: Engine,
    src: &Catalog,
    tgt_engine: Engine,
    tgt: &Catalog,
    exclude: &[String],
    only: Option<&[String]>,
) -> Vec<TableJob> {
    let mut jobs = Vec::new();
    for s in &src.tables {
        let name = s.display();
        if exclude.contains(&name) || only.is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let Some(t) = tgt.table(&name) else { continue };
        let columns: Vec<String> = s
            .columns
            .iter()
            .filter(|c| t.column(&c.name).is_some())
            .map(|c| c.name.clone())
            .collect();
        let note = (columns.len() < s.columns.len()).then(|| {
            "columns missing on the target are not compared (see schema differences)".to_string()
        });
        let key_cols: Vec<usize> =
            if !s.primary_key.is_empty() && s.primary_key.iter().all(|k| columns.contains(k)) {
                s.primary_key
                    .iter()
                    .filter_map(|k| columns.iter().position(|c| c == k))
                    .collect()
            } else {
                vec![]
            };
        let int_key = s.primary_key.len() == 1
            && key_cols.len() == 1
            && is_integer_key(src_engine, s, &s.primary_key[0])
            && is_integer_key(tgt_engine, t, &s.primary_key[0]);
        let range_key = if int_key {
            Some(s.primary_key[0].as_str())
        } else {
            None
        };
        let (src_scan, tgt_scan) = (
            SideScan::new(src_engine, s, &columns, range_key),
            SideScan::new(tgt_engine, t, &columns, range_key),
        );
        let read = format!(
            "{}\n{}",
            src_scan.select_sql(scan::KeyRange::ALL),
            tgt_scan.select_sql(scan::KeyRange::ALL)
        );
        jobs.push(TableJob {
            name,
            fingerprint: resume::fingerprint(s, t, &read),
            src: src_scan,
            tgt: tgt_scan,
            columns,
            key_cols,
            int_key,
            note,
        });
    }
    jobs
}

/// Run the whole gate for one database.
pub async fn run_validation(
    spec: &DatabaseSpec,
    runbook: &Runbook,
    opts: &ValidateOptions,
) -> ValidationReport {
    let started_at = chrono::Utc::now();
    let mut report = ValidationReport {
        db_id: spec.db_id.clone(),
        started_at,
        finished_at: started_at,
        mode: opts.mode.as_str().into(),
        source: connect::describe(&spec.source),
        target: connect::describe(&spec.target),
        schema_differences: vec![],
        tables: vec![],
        smoke_tests: vec![],
        rules: vec![],
        errors: vec![],
        scope: opts.tables.clone(),
    };
    let rb = match runbook.for_database(spec) {
        Ok(rb) => rb,
        Err(e) => {
            report.errors.push(e.to_string());
            report.finished_at = chrono::Utc::now();
            return report;
        }
    };
    let mut settings = rb.validation.clone();
    if let Some(p) = opts.parallelism {
        settings.parallelism = p.max(1);
    }
    let timeout = Duration::from_secs(rb.precheck_settings.connect_timeout_s.max(1));
    // `validation.parallelism` is what a side gives the run: its reads, counts, catalog and
    // smoke tests all take their sessions from a pool of that size.
    let conns = settings.parallelism as u32;
    let (src, tgt) = futures::join!(
        connect::connect(spec.engine, &spec.source, conns, timeout),
        connect::connect(spec.engine, &spec.target, conns, timeout),
    );
    let (src, tgt) = match (src, tgt) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => {
            for e in [s.err(), t.err()].into_iter().flatten() {
                report.errors.push(e.to_string());
            }
            report.finished_at = chrono::Utc::now();
            return report;
        }
    };
    inner(spec, &rb, &settings, opts, &src, &tgt, &mut report).await;
    // Driver errors may quote connection strings: scrub both passwords before anything leaves.
    for e in report.errors.iter_mut() {
        *e = connect::scrub(&spec.target, &connect::scrub(&spec.source, e));
    }
    src.close().await;
    tgt.close().await;
    report.finished_at = chrono::Utc::now();
    tracing::info!(db_id = %spec.db_id, passed = report.passed(), summary = %report.summary(), "validation finished");
    report
}

async fn inner(
    spec: &DatabaseSpec,
    rb: &Runbook,
    settings: &runbook::ValidationSettings,
    opts: &ValidateOptions,
    src: &Pool,
    tgt: &Pool,
    report: &mut ValidationReport,
) {
    let (sc, tc) = futures::join!(
        catalog::load(src, &spec.source.database, &settings.exclude_schemas),
        catalog::load(tgt, &spec.target.database, &settings.exclude_schemas),
    );
    let (sc, tc) = match (sc, tc) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => {
            if let Err(e) = s {
                report
                    .errors
                    .push(format!("reading the source catalog: {e}"));
            }
            if let Err(e) = t {
                report
                    .errors
                    .push(format!("reading the target catalog: {e}"));
            }
            return;
        }
    };
    report.schema_differences =
        catalog::compare(spec.engine, &sc, spec.engine, &tc, &settings.exclude_tables);
    if let Some(asked) = &opts.tables {
        let existing: Vec<String> = sc.tables.iter().map(Table::display).collect();
        report
            .errors
            .extend(scope::unmatched(asked, &existing, &settings.exclude_tables));
    }
    let mut jobs = plan_jobs(
        spec.engine,
        &sc,
        spec.engine,
        &tc,
        &settings.exclude_tables,
        opts.tables.as_deref(),
    );
    // One pace per side, shared by all its reads: the limit holds for the run, not per session.
    let (src_pace, tgt_pace) = (
        pace::Pace::new(settings.max_rows_per_s).map(std::sync::Arc::new),
        pace::Pace::new(settings.max_rows_per_s).map(std::sync::Arc::new),
    );
    for j in &mut jobs {
        j.src.strict_scale = settings.strict_numeric_scale;
        j.tgt.strict_scale = settings.strict_numeric_scale;
        j.src.pace = src_pace.clone();
        j.tgt.pace = tgt_pace.clone();
    }
    let follower = match opts.mode {
        Mode::Live => Some(
            position::Follower::discover(
                spec,
                src,
                tgt,
                Duration::from_secs(settings.recheck_wait_s),
            )
            .await,
        ),
        Mode::Final => None,
    };
    let memory = match &opts.memory {
        Some(store) => match resume::Memory::open(store, &spec.db_id, opts.mode).await {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(db_id = %spec.db_id, error = %e, "validation goes on without resuming");
                None
            }
        },
        None => None,
    };
    let order: Vec<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let (mut kept, mut words, first_marks) = match &memory {
        Some(m) => keep_unchanged(m, spec.engine, src, tgt, &mut jobs).await,
        None => Default::default(),
    };
    let recorder = opts.memory.as_ref().map(|s| {
        progress::Recorder::new(s, &spec.db_id, opts.mode.as_str())
            .with_paces([src_pace.clone(), tgt_pace.clone()])
    });
    let mut ctx = checksum::Ctx::new(src, tgt, settings, follower.as_ref());
    ctx.memory = memory.as_ref();
    ctx.progress = recorder.as_ref();
    let reading = std::time::Instant::now();
    let (mut tables, errors) = checksum::compare_tables(&ctx, &jobs).await;
    if let Some(store) = &opts.memory {
        if errors.is_empty() {
            keep_rate(store, spec, src, &tables, reading.elapsed()).await;
        }
    }
    for t in &mut tables {
        t.freshness = words.remove(&t.table);
    }
    let compared = tables.clone();
    tables.append(&mut kept);
    tables.sort_by_key(|t| order.iter().position(|n| *n == t.table));
    report.tables = tables;
    report.errors.extend(errors);
    report.smoke_tests = smoke::run_smoke_tests(
        src,
        &spec.source.database,
        tgt,
        &spec.target.database,
        &rb.smoke_tests,
    )
    .await;
    report.rules = smoke::run_rules(tgt, &rb.rules).await;
    // A decided report closes the run: the next gate compares afresh. Errors or an undecided
    // table leave it open, and the next attempt goes on where this one stopped.
    if let Some(m) = &memory {
        if report.decided() && report.errors.is_empty() {
            let at = chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string();
            let passed: Vec<SavedResult> = compared
                .iter()
                .filter(|t| t.passed)
                .filter_map(|t| {
                    let job = jobs.iter().find(|j| j.name == t.table)?;
                    Some(SavedResult {
                        table: t.table.clone(),
                        fingerprint: job.fingerprint.clone(),
                        marker: first_marks.get(&t.table)?.clone(),
                        at: at.clone(),
                        report: serde_json::to_string(t).ok()?,
                    })
                })
                .collect();
            m.keep_results(&passed).await;
            m.finish().await;
        }
    }
}

/// Fewer rows than this say more about the fixed costs (catalog, counts) than the read rate.
const RATE_MIN_ROWS: u64 = 100_000;

/// Keep what this attempt's reads measured, as the database's bytes validated per hour: the
/// source's size (what `plan` sizes databases by) times the share of its rows read, over the
/// time the chunks took. The plan then needs no constant for an engine it has seen.
async fn keep_rate(
    store: &crate::store::Store,
    spec: &DatabaseSpec,
    src: &Pool,
    tables: &[TableReport],
    took: Duration,
) {
    let read: u64 = tables.iter().map(|t| t.rows_read).sum();
    let rows: u64 = tables
        .iter()
        .map(|t| t.rows_source.max(t.rows_target))
        .sum();
    let secs = took.as_secs_f64();
    if read < RATE_MIN_ROWS || rows == 0 || secs <= 0.0 {
        return;
    }
    let bytes = match crate::checks::measured_size_bytes(src).await {
        Ok(b) if b > 0 => b as f64,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(db_id = %spec.db_id, error = %e, "cannot size the source for the validation rate");
            return;
        }
    };
    let share = (read as f64 / rows as f64).min(1.0);
    let rate = crate::store::val_progress::MeasuredRate {
        engine: spec.engine.as_str().to_string(),
        gb_per_hour: bytes * share / 1e9 / (secs / 3600.0),
        rows_per_s: read as f64 / secs,
    };
    if let Err(e) = store.keep_validation_rate(&spec.db_id, &rate).await {
        tracing::warn!(db_id = %spec.db_id, error = %e, "cannot keep the validation rate");
    }
}

/// The freshness gate: the jobs of tables shown unchanged since their last pass are taken out
/// of `jobs`, and their earlier results come back, each saying why it was not read; beside
/// them, why each other table is read, and this run's first marker of each table.
async fn keep_unchanged(
    m: &resume::Memory,
    engine: Engine,
    src: &Pool,
    tgt: &Pool,
    jobs: &mut Vec<TableJob>,
) -> (
    Vec<TableReport>,
    HashMap<String, String>,
    HashMap<String, String>,
) {
    let (ms, mt) = futures::join!(fresh::markers(src), fresh::markers(tgt));
    let (ms, mt) = match (ms, mt) {
        (Ok(s), Ok(t)) => (s, t),
        (s, t) => {
            for e in [s.err(), t.err()].into_iter().flatten() {
                tracing::warn!(error = %e, "the freshness gate reads every table");
            }
            Default::default()
        }
    };
    let now: HashMap<String, String> = jobs
        .iter()
        .filter_map(|j| {
            let pair = format!("{}|{}", ms.get(&j.name)?, mt.get(&j.name)?);
            Some((j.name.clone(), pair))
        })
        .collect();
    let now_list: Vec<(String, String)> = now.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let first_marks = m.first_marks(&now_list).await;
    let last = m.last_results().await;
    let (mut kept, mut words) = (Vec::new(), HashMap::new());
    jobs.retain(|j| {
        let l = last.iter().find(|l| l.table == j.name);
        let lr = l.map(|l| fresh::Last {
            fingerprint: &l.fingerprint,
            marker: &l.marker,
            at: &l.at,
        });
        let decided = fresh::decide(
            lr.as_ref(),
            &j.fingerprint,
            now.get(&j.name).map(String::as_str),
        );
        let earlier = l.and_then(|l| serde_json::from_str::<TableReport>(&l.report).ok());
        match (decided, earlier) {
            (Ok(why), Some(mut t)) => {
                t.freshness = Some(why);
                t.chunks_resumed = 0;
                t.rows_read = 0;
                kept.push(t);
                false
            }
            (Ok(_), None) => {
                words.insert(
                    j.name.clone(),
                    "read again: its kept result is unreadable".into(),
                );
                true
            }
            (Err(why), _) => {
                let why = match engine {
                    Engine::Mysql => fresh::MYSQL_NO_MARKER.to_string(),
                    Engine::Postgres => why,
                };
                words.insert(j.name.clone(), why);
                true
            }
        }
    });
    (kept, words, first_marks)
}
