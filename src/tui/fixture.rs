//! Deterministic data for snapshot tests and the render benchmark: fixed times, no randomness.

use super::data::{Data, FeedUpdate};
use crate::checks::CheckResult;
use crate::inventory::{Criticality, DatabaseSpec, Endpoint, Engine};
use crate::lifecycle::Stage;
use crate::secret::SecretRef;
use crate::store::event::{Body, Registered};
use crate::store::model::NewEvent;
use crate::store::model::{kind, DbState, Event, ValidationSummary, WaveState};
use crate::validate::report::{TableReport, ValidationReport};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;

/// The fixed "now" of every fixture.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 1, 30, 0).unwrap()
}

const OWNERS: [&str; 5] = [
    "team-payments",
    "team-crm",
    "team-logistics",
    "team-hr",
    "team-data",
];
const APPS: [&str; 8] = [
    "pay-ledger",
    "crm-main",
    "ship-track",
    "hr-core",
    "dwh-stage",
    "auth",
    "billing",
    "catalog",
];

/// Spread `n` databases over waves and stages in a fixed pattern.
pub fn databases(n: usize) -> Vec<DbState> {
    let t = now();
    (0..n)
        .map(|i| {
            let wave = if n <= 12 {
                (i % 3) as u32
            } else {
                (i % 7) as u32
            };
            let stage = match i % 13 {
                0 => Stage::Registered,
                1 => Stage::Prechecks,
                2 | 3 => Stage::FullLoad,
                4 | 5 => Stage::Cdc,
                6 => Stage::Validation,
                7 | 8 => Stage::Ready,
                9 => Stage::Failed,
                10 => Stage::Hypercare,
                11 => Stage::Completed,
                _ => Stage::Paused,
            };
            let lag = match stage {
                Stage::Cdc | Stage::Validation | Stage::Ready | Stage::Paused => {
                    Some([0.4, 2.5, 7.8, 42.0, 1.1][i % 5])
                }
                Stage::Failed => Some(12.0),
                _ => None,
            };
            let validation = match stage {
                Stage::Ready | Stage::Hypercare | Stage::Completed => Some(ValidationSummary {
                    passed: true,
                    at: t - Duration::minutes(12),
                    summary: "42 tables, 0 differences".into(),
                }),
                Stage::Failed if i % 2 == 0 => Some(ValidationSummary {
                    passed: false,
                    at: t - Duration::minutes(3),
                    summary: "1 of 42 tables differ".into(),
                }),
                _ => None,
            };
            DbState {
                db_id: format!("{}-{:02}", APPS[i % APPS.len()], i / APPS.len() + 1),
                wave: Some(wave),
                engine: if i % 3 == 1 {
                    Engine::Mysql
                } else {
                    Engine::Postgres
                },
                size_gb: [2.5, 40.0, 310.0, 12.0, 1500.0][i % 5],
                owner: OWNERS[i % OWNERS.len()].into(),
                criticality: [Criticality::Low, Criticality::Medium, Criticality::High][i % 3],
                stage,
                held_stage: match stage {
                    Stage::Failed => Some(Stage::Cdc),
                    Stage::Paused => Some(Stage::FullLoad),
                    _ => None,
                },
                stage_since: t - Duration::seconds(60 * (i as i64 % 50) + 5),
                progress_pct: if stage == Stage::FullLoad {
                    (i * 37 % 100) as f64
                } else if stage >= Stage::Cdc && stage <= Stage::Completed {
                    100.0
                } else {
                    0.0
                },
                lag_s: lag,
                validation,
                precheck: None,
                drs_job_id: (stage >= Stage::FullLoad)
                    .then(|| format!("job-{:08x}", i * 2654435761usize % 0xffff_ffff)),
                last_error: (stage == Stage::Failed)
                    .then(|| "DRS job status FAILED: source connection lost".to_string()),
                last_event_at: t - Duration::seconds(7 * (i as i64 % 40) + 1),
                attempts: if stage == Stage::Failed { 2 } else { 0 },
                max_lag_s: None,
                business_window: String::new(),
                signoff: Default::default(),
            }
        })
        .collect()
}

pub fn waves() -> Vec<WaveState> {
    let t = now();
    vec![
        WaveState {
            wave: 0,
            window: "daily 01:00-05:00 UTC".into(),
            approved_by: Some("alice".into()),
            approved_at: Some(t - Duration::hours(3)),
            started_at: Some(t - Duration::hours(2)),
        },
        WaveState {
            wave: 1,
            window: "Sat,Sun 01:00-05:00 Europe/Paris".into(),
            approved_by: None,
            approved_at: None,
            started_at: Some(t - Duration::minutes(40)),
        },
        WaveState {
            wave: 2,
            window: "Mon-Fri 22:00-02:00 +02:00".into(),
            approved_by: None,
            approved_at: None,
            started_at: None,
        },
    ]
}

/// The events of one database walking from registered to ready, with checks and lag samples.
pub fn events_for(db: &str, wave: u32, seq0: i64) -> Vec<Event> {
    let t0 = now() - Duration::minutes(50);
    let mut out = Vec::new();
    let mut seq = seq0;
    let mut push = |min: i64, kind_: &str, payload: serde_json::Value| {
        seq += 1;
        out.push(Event {
            seq,
            time: t0 + Duration::seconds(min),
            db_id: Some(db.to_string()),
            wave: Some(wave),
            kind: kind_.to_string(),
            payload,
            actor: "engine".into(),
            prev_hash: String::new(),
            hash: String::new(),
        });
    };
    let registered = NewEvent::of(
        Some(db),
        Some(wave),
        Body::Registered(Registered {
            spec: spec(db, wave),
        }),
        "init",
    );
    push(0, kind::DB_REGISTERED, registered.payload);
    push(
        10,
        kind::DB_STAGE,
        json!({"from": "registered", "to": "prechecks"}),
    );
    // The detail shapes the engine writes: wavedeck's SQL pre-check results and validation
    // report (`engine::sql`).
    let checks = vec![
        CheckResult::pass("source/reachability", "source and target answer"),
        CheckResult::pass("source/dns", "resolves"),
        CheckResult::pass("source/clock", "skew 12 ms"),
        CheckResult::pass("source/replication_privilege", "replication role present"),
        CheckResult::pass("target/storage_sizing", "target 2.1x source"),
        CheckResult::pass("schema/inventory", "no unsupported types"),
    ];
    push(
        40,
        kind::DB_PRECHECK,
        json!({"passed": true, "summary": crate::checks::summary(&checks), "detail": checks}),
    );
    push(
        45,
        kind::DB_STAGE,
        json!({"from": "prechecks", "to": "provisioning"}),
    );
    push(
        120,
        kind::DB_STAGE,
        json!({"from": "provisioning", "to": "full_load"}),
    );
    push(
        121,
        kind::DB_JOB_STATUS,
        json!({"status": "FULL_TRANSFER_STARTED"}),
    );
    for k in 0..5 {
        push(
            130 + k * 60,
            kind::DB_PROGRESS,
            json!({"pct": 20.0 * (k + 1) as f64, "mbps": 85.5}),
        );
    }
    push(
        455,
        kind::DB_JOB_STATUS,
        json!({"status": "INCRE_TRANSFER_STARTED"}),
    );
    push(
        460,
        kind::DB_STAGE,
        json!({"from": "full_load", "to": "cdc"}),
    );
    for k in 0..60 {
        let lag = 1.0 + ((k * 7) % 11) as f64 * if (20..30).contains(&k) { 1.2 } else { 0.3 };
        push(470 + k * 20, kind::DB_LAG, json!({"lag_s": lag}));
    }
    push(
        1700,
        kind::DB_STAGE,
        json!({"from": "cdc", "to": "validation"}),
    );
    let report = validation_report(
        db,
        t0 + Duration::seconds(1850),
        t0 + Duration::seconds(1900),
        &[
            ("public.ledger_entries", 1_204_332, 1_204_332),
            ("public.accounts", 50_211, 50_211),
            ("public.audit_log", 9_001, 9_001),
        ],
    );
    push(
        1900,
        kind::DB_VALIDATION,
        json!({"passed": report.passed(), "summary": report.summary(), "detail": report}),
    );
    push(
        1910,
        kind::DB_STAGE,
        json!({"from": "validation", "to": "ready"}),
    );
    out
}

/// The inventory record of a fixture database.
pub fn spec(db: &str, wave: u32) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: db.replace('-', "_"),
        user: "migrator".into(),
        password: SecretRef::Env("WD_FIXTURE_PASSWORD".into()),
    };
    DatabaseSpec {
        db_id: db.into(),
        engine: Engine::Postgres,
        engine_version: "15".into(),
        size_gb: 40.0,
        owner: "team-payments".into(),
        criticality: Criticality::High,
        business_window: "daily 01:00-05:00 UTC".into(),
        wave: Some(wave),
        source: ep("pg-src.example"),
        target: ep("rds.example"),
        tags: vec![],
        overrides: Default::default(),
        extra: Default::default(),
    }
}

/// A validation report as the gate writes it, one table per `(name, source rows, target rows)`.
pub fn validation_report(
    db: &str,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    tables: &[(&str, u64, u64)],
) -> ValidationReport {
    ValidationReport {
        db_id: db.into(),
        started_at,
        finished_at,
        mode: "final".into(),
        source: "src".into(),
        target: "tgt".into(),
        schema_differences: vec![],
        tables: tables
            .iter()
            .map(|(t, s, d)| TableReport {
                table: (*t).into(),
                rows_source: *s,
                rows_target: *d,
                chunks: 1,
                chunks_mismatched: u64::from(s != d),
                chunks_resolved_by_recheck: 0,
                digest_source: "ab".repeat(32),
                digest_target: if s == d { "ab" } else { "cd" }.repeat(32),
                differences: vec![],
                differences_truncated: false,
                note: None,
                compared_at: Some("0/3A2F1C8".into()),
                undecided: None,
                passed: s == d,
            })
            .collect(),
        smoke_tests: vec![],
        rules: vec![],
        errors: vec![],
        scope: None,
    }
}

/// A small factory: 12 databases over 3 waves, one of them with a full event history.
pub fn small() -> Data {
    let mut data = Data::default();
    let mut dbs = databases(12);
    // The showcase database: ready, fresh validation, low lag, in the approved wave 0.
    if let Some(d) = dbs.iter_mut().find(|d| d.db_id == "pay-ledger-01") {
        d.stage = Stage::Ready;
        d.wave = Some(0);
        d.lag_s = Some(1.3);
        d.held_stage = None;
        d.last_error = None;
        d.progress_pct = 100.0;
        d.drs_job_id = Some("9f3c2a10-5e1b-4c57-b0a2-7d1e8f6a4b21".into());
        d.validation = Some(ValidationSummary {
            passed: true,
            at: now() - Duration::minutes(18),
            summary: "3 tables, 0 differences".into(),
        });
        d.stage_since = now() - Duration::minutes(18);
    }
    let mut events = events_for("pay-ledger-01", 0, 0);
    let failed = dbs
        .iter()
        .find(|d| d.stage == Stage::Failed)
        .map(|d| d.db_id.clone());
    if let Some(f) = failed {
        let s = events.len() as i64;
        events.push(Event { seq: s + 1, time: now() - Duration::minutes(4), db_id: Some(f.clone()), wave: Some(0), kind: kind::STEP_OUTCOME.into(), payload: json!({"step": "cdc_poll", "attempt": 2, "ok": false, "error": "DRS job status FAILED"}), actor: "engine".into(), prev_hash: String::new(), hash: String::new() });
        events.push(Event {
            seq: s + 2,
            time: now() - Duration::minutes(3),
            db_id: Some(f),
            wave: Some(0),
            kind: kind::DB_STAGE.into(),
            payload: json!({"from": "cdc", "to": "failed", "reason": "source connection lost"}),
            actor: "engine".into(),
            prev_hash: String::new(),
            hash: String::new(),
        });
    }
    data.apply(FeedUpdate {
        dbs: Some(dbs),
        waves: Some(waves()),
        events,
        commands: Some(Vec::new()),
        ..Default::default()
    });
    data
}

/// The benchmark's factory: `n` databases, no events.
pub fn large(n: usize) -> Data {
    let mut data = Data::default();
    data.apply(FeedUpdate {
        dbs: Some(databases(n)),
        waves: Some(waves()),
        events: Vec::new(),
        commands: Some(Vec::new()),
        ..Default::default()
    });
    data
}
