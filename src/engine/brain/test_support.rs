//! Fixtures shared by the brain's tests: settings, seeds, a clock, commands and stored events.

pub(super) use super::*;
pub(super) use crate::config::{ChecksMode, Config};
pub(super) use crate::cutover::steps::{CutoverStep as CutStep, RollbackAction};
pub(super) use crate::drs::model::JobStatus;
pub(super) use crate::engine::classify::ErrorClass;
pub(super) use crate::inventory::Criticality;
pub(super) use crate::lifecycle::{Position, Stage};
pub(super) use crate::store::event::CheckReport;
pub(super) use crate::store::kind;
pub(super) use crate::store::{Action, CommandRow, Event, NewEvent, Role, Target};
pub(super) use chrono::TimeZone;
pub(super) use chrono::{DateTime, Utc};
pub(super) use serde_json::{json, Value};

pub(super) fn settings(checks: ChecksMode) -> Settings {
    let mut cfg = Config::default();
    cfg.engine.checks = checks;
    cfg.engine.retry_base_s = 1.0;
    cfg.engine.retry_cap_s = 8.0;
    cfg.engine.lag_stable_s = 2.0;
    cfg.thresholds.max_retries = 2;
    cfg.limits.drs_concurrency = 3;
    cfg.limits.wave_concurrency = 2;
    cfg.limits.validation_capacity = 1;
    Settings::from_config(&cfg)
}

pub(super) fn seed(id: &str, wave: u32, crit: Criticality, size: f64) -> Seed {
    Seed {
        db_id: id.into(),
        wave: Some(wave),
        criticality: crit,
        size_gb: size,
        business_window: "daily 00:00-24:00 UTC".into(),
        max_lag_s: None,
        stage: Stage::Registered,
        held: None,
        job: None,
        mode: Default::default(),
    }
}

pub(super) fn wall() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 7, 2, 0, 0).unwrap()
}

pub(super) fn cmd(id: i64, role: Role, action: Action, target: Target) -> CommandRow {
    CommandRow {
        id,
        time: wall(),
        who: "alice".into(),
        role,
        action,
        target,
        args: Value::Null,
        status: crate::store::CommandStatus::Pending,
        reason: None,
        decided_at: None,
    }
}

pub(super) fn brain(checks: ChecksMode, dbs: Vec<Seed>) -> Brain {
    let mut b = Brain::new(settings(checks), 7);
    let waves = vec![WaveSeed {
        wave: 0,
        ..Default::default()
    }];
    b.load(dbs, waves, &[]);
    b
}

pub(super) fn kinds(events: &[NewEvent]) -> Vec<String> {
    events.iter().map(|e| e.kind.clone()).collect()
}

pub(super) fn ok(job: Option<&str>) -> WorkResult {
    WorkResult::Ok {
        job: job.map(str::to_string),
        report: None,
        recovered: false,
    }
}

pub(super) fn job_seen(status: &str, pct: f64, lag: f64) -> Seen {
    Seen::Job {
        status: JobStatus::parse(status),
        progress_pct: Some(pct),
        lag_s: Some(lag),
    }
}

pub(super) fn event(seq: i64, db: Option<&str>, k: &str, payload: Value) -> Event {
    Event {
        seq,
        time: wall(),
        db_id: db.map(str::to_string),
        wave: Some(0),
        kind: k.into(),
        payload,
        actor: ACTOR.into(),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// A brain with database `a` ready for a SQL-mode cutover (fresh validation, approved
/// window, small lag) and the events that got it there.
pub(super) fn ready_for_sql_cutover() -> (Brain, Vec<Event>) {
    let mut s = seed("a", 0, Criticality::Low, 1.0);
    s.stage = Stage::Ready;
    s.job = Some("job-a".into());
    let mut set = settings(ChecksMode::Drs);
    set.sql_cutover = true;
    let events = vec![
        event(
            1,
            Some("a"),
            kind::STEP_OUTCOME,
            json!({"step": "start_job", "attempt": 0, "ok": true}),
        ),
        event(
            2,
            Some("a"),
            kind::DB_VALIDATION,
            json!({"passed": true, "summary": "ok"}),
        ),
        event(3, None, kind::WAVE_APPROVED, json!({"wave": 0})),
        event(4, Some("a"), kind::DB_LAG, json!({"lag_s": 1.0})),
    ];
    let mut b = Brain::new(set, 1);
    b.load(
        vec![s],
        vec![WaveSeed {
            wave: 0,
            started: true,
            ..Default::default()
        }],
        &events,
    );
    (b, events)
}

pub(super) fn cut_ok(summary: &str) -> WorkResult {
    WorkResult::Ok {
        job: None,
        report: Some(Report {
            passed: true,
            summary: summary.into(),
            detail: json!({"dns": {"value": "10.1.0.1:5432"}}),
        }),
        recovered: false,
    }
}

/// Events as the store would hand them back to a restarted engine.
pub(super) fn stored(mut log: Vec<Event>, new: Vec<NewEvent>) -> Vec<Event> {
    for e in new {
        let seq = log.len() as i64 + 1;
        log.push(Event {
            seq,
            time: wall(),
            db_id: e.db_id,
            wave: e.wave,
            kind: e.kind,
            payload: e.payload,
            actor: e.actor,
            prev_hash: String::new(),
            hash: String::new(),
        });
    }
    log
}

/// A database in validation with a started job, `checks: sql`, restarted from `log`.
pub(super) fn validating(log: &[Event]) -> Brain {
    let mut s = seed("a", 0, Criticality::Low, 1.0);
    s.stage = Stage::Validation;
    s.job = Some("job-a".into());
    let mut b = Brain::new(settings(ChecksMode::Sql), 3);
    let started = Event {
        seq: 0,
        time: wall(),
        db_id: Some("a".into()),
        wave: Some(0),
        kind: kind::STEP_OUTCOME.into(),
        payload: json!({"step": "start_job", "attempt": 0, "ok": true}),
        actor: ACTOR.into(),
        prev_hash: String::new(),
        hash: String::new(),
    };
    let mut all = vec![started];
    all.extend(log.iter().cloned());
    let wave = WaveSeed {
        wave: 0,
        started: true,
        ..Default::default()
    };
    b.load(vec![s], vec![wave], &all);
    b
}

/// The exposure check's report on a target whose security group opens the database port to
/// the whole Internet (rule `r-world`), as the check's own verdict writes it.
pub(super) fn exposed_report() -> Report {
    use crate::checks::exposure::{rules_result, Cidr};
    use crate::cloud::model::{InstanceResponse, SecurityGroupRule};
    let inst = InstanceResponse {
        id: "rds-a".into(),
        port: 5432,
        security_group_id: "sg-a".into(),
        ..Default::default()
    };
    let world = SecurityGroupRule {
        id: "r-world".into(),
        direction: "ingress".into(),
        protocol: "tcp".into(),
        multiport: "5432".into(),
        remote_ip_prefix: "0.0.0.0/0".into(),
        action: "allow".into(),
        enabled: true,
        ..Default::default()
    };
    let allowed = [Cidr::parse("10.0.0.0/8").expect("a CIDR")];
    crate::engine::effects::checks::precheck_report(&[rules_result(
        &inst,
        &[world],
        &[5432],
        &allowed,
    )])
}

/// Database `a` of wave 0 (started) in `stage`, `checks` as given, restarted from `log`.
pub(super) fn restarted(checks: ChecksMode, stage: Stage, log: &[Event]) -> Brain {
    let mut s = seed("a", 0, Criticality::Low, 1.0);
    s.stage = stage;
    let mut b = Brain::new(settings(checks), 5);
    let wave = WaveSeed {
        wave: 0,
        started: true,
        ..Default::default()
    };
    b.load(vec![s], vec![wave], log);
    b
}
