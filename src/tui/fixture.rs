//! Deterministic data for snapshot tests and the render benchmark: fixed times, fixed seeds.
//! The snapshot factory ([`small`]) is what the real writers write: the registry's events and
//! the engine's brain driven by a scripted world, folded by the store's fold. The benchmark's
//! thousands of databases ([`large`]) are states only, spread over the stages by hand.

use super::data::{Data, FeedUpdate};
use crate::checks::CheckResult;
use crate::engine::brain::Brain;
use crate::engine::brain::Report;
use crate::engine::scripted::{drive_until, World};
use crate::inventory::{Criticality, DatabaseSpec, Endpoint, Engine};
use crate::lifecycle::Stage;
use crate::secret::SecretRef;
use crate::store::model::NewEvent;
use crate::store::model::{Action, CommandRow, CommandStatus, Role, Target};
use crate::store::model::{DbState, Event, ValidationSummary, WaveState};
use crate::validate::report::{DiffKind, RowDifference, TableReport, ValidationReport};
use chrono::{DateTime, Duration, TimeZone, Utc};

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
                restore_passed_at: None,
                restore_test: Default::default(),
                mode: Default::default(),
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
            done: None,
        },
        WaveState {
            wave: 1,
            window: "Sat,Sun 01:00-05:00 Europe/Paris".into(),
            approved_by: None,
            approved_at: None,
            started_at: Some(t - Duration::minutes(40)),
            done: None,
        },
        WaveState {
            wave: 2,
            window: "Mon-Fri 22:00-02:00 +02:00".into(),
            approved_by: None,
            approved_at: None,
            started_at: None,
            done: None,
        },
    ]
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
    DatabaseSpec::new(
        db,
        Engine::Postgres,
        ep("pg-src.example"),
        ep("rds.example"),
    )
    .with_version("15")
    .with_size_gb(40.0)
    .with_owner("team-payments")
    .with_criticality(Criticality::High)
    .with_window("daily 01:00-05:00 UTC")
    .with_wave(Some(wave))
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
                chunks_resumed: 0,
                rows_read: 0,
                freshness: None,
            })
            .collect(),
        smoke_tests: vec![],
        rules: vec![],
        errors: vec![],
        scope: None,
    }
}

/// The windows of the three waves; each member's business window is its wave's, so
/// registration gives the wave that window. Wave 0's is open at [`now`].
const WAVE_WINDOWS: [&str; 3] = [
    "daily 01:00-05:00 UTC",
    "Sat,Sun 01:00-05:00 Europe/Paris",
    "Mon-Fri 22:00-02:00 +02:00",
];

/// The small factory's inventory: 12 databases over 3 waves (`i % 3`), names, engines, sizes
/// and owners in a fixed pattern.
pub fn small_specs() -> Vec<DatabaseSpec> {
    (0..12)
        .map(|i| {
            let db = format!("{}-{:02}", APPS[i % APPS.len()], i / APPS.len() + 1);
            let wave = (i % 3) as u32;
            let mut s = spec(&db, wave);
            s.engine = if i % 3 == 1 {
                Engine::Mysql
            } else {
                Engine::Postgres
            };
            if s.engine == Engine::Mysql {
                s.source.port = 3306;
                s.target.port = 3306;
                s.engine_version = "8.0".into();
            }
            s.size_gb = [2.5, 40.0, 310.0, 12.0, 1500.0][i % 5];
            s.owner = OWNERS[i % OWNERS.len()].into();
            s.criticality = [Criticality::Low, Criticality::Medium, Criticality::High][i % 3];
            s.business_window = WAVE_WINDOWS[wave as usize].into();
            s
        })
        .collect()
}

/// The pre-checks wavedeck's SQL step reports for a healthy database.
fn healthy_checks() -> Report {
    crate::engine::effects::checks::precheck_report(&[
        CheckResult::pass("source/reachability", "source and target answer"),
        CheckResult::pass("source/dns", "resolves"),
        CheckResult::pass("source/clock", "skew 12 ms"),
        CheckResult::pass("source/replication_privilege", "replication role present"),
        CheckResult::pass("target/storage_sizing", "target 2.1x source"),
        CheckResult::pass("schema/inventory", "no unsupported types"),
    ])
}

/// What the gate reports for `db` at `at`: three tables, `differ` with one changed row.
fn gate(db: &str, at: DateTime<Utc>, differ: bool) -> Report {
    let mut r = validation_report(
        db,
        at - Duration::seconds(50),
        at,
        &[
            ("public.ledger_entries", 1_204_332, 1_204_332),
            ("public.accounts", 50_211, 50_211),
            ("public.audit_log", 9_001, 9_001),
        ],
    );
    if differ {
        let t = &mut r.tables[1];
        t.passed = false;
        t.chunks_mismatched = 1;
        t.digest_target = "cd".repeat(32);
        t.differences = vec![RowDifference {
            table: t.table.clone(),
            key: "id=4711".into(),
            kind: DiffKind::Changed,
            columns: vec!["balance".into()],
        }];
    }
    crate::engine::effects::checks::validation_report(&r)
}

/// The small factory's event log, as the engine writes it: the inventory registered, then the
/// brain (the engine's decisions) driven by a scripted DRS and checks, with operator commands
/// among its rounds, from 50 minutes before [`now`] until a little before it. Each database
/// ends where its answers hold it:
/// - wave 0 (approved, started): `pay-ledger-01` ready, `hr-core-01` cut over (hypercare),
///   `billing-01` failed validation (one changed row), `crm-main-02` in CDC above the lag limit;
/// - wave 1 (started): `crm-main-01` in pre-checks (DRS's still running), `dwh-stage-01` in full
///   load, `catalog-01` paused in full load, `ship-track-02` in CDC far behind;
/// - wave 2 (not started): registered.
pub fn small_log() -> Vec<Event> {
    small_history().2
}

/// The engine's refusal of the cockpit's `action` on `target` (command `id`) a moment after the
/// cockpit's [`small`] view: meanwhile DRS reported the lag of `lagging` at 12.4 s. The brain at the end
/// of [`small_log`]'s history decides the command, and the store's own pure builders make the
/// decided row and the `command.rejected` event. Returns the cockpit's next feed: the decided
/// row, the new events (the lag reading, then the rejection) stamped as the store appends
/// them, and the database's state as the store's fold holds it after them.
pub fn refused(lagging: &str, action: Action, target: Target, id: i64) -> FeedUpdate {
    let (mut brain, mut world, mut log) = small_history();
    let seen = log.len();
    world.per_db.entry(lagging.to_string()).or_default().lag_s = Some(12.4);
    // The engine decides at the cockpit's now, one round after DRS's reading.
    world.wall = now() - Duration::milliseconds((world.step_s * 1000.0) as i64);
    let mut out = Vec::new();
    drive_until(
        &mut brain,
        &mut world,
        "none",
        Stage::Completed,
        1,
        &mut out,
    );
    stamp(&mut log, out);
    let cmd = CommandRow {
        id,
        time: world.wall,
        who: "op".into(),
        role: Role::Operator,
        action,
        target: target.clone(),
        args: serde_json::json!({ "confirmed": action.confirmation(&target) }),
        status: CommandStatus::Pending,
        reason: None,
        decided_at: None,
    };
    let verdict = brain.on_command(&cmd, world.wall);
    assert!(
        verdict.is_err(),
        "the fixture's {} of {target:?} was accepted",
        action.as_str()
    );
    let (decision, guards) = crate::engine::runtime::decision_of(&verdict);
    let row = crate::store::decided_row(&cmd, &decision, world.wall);
    let event = crate::store::decision_event(&row, &decision, &guards, "engine");
    stamp(&mut log, vec![(world.wall, event)]);
    let state = crate::store::fold::Derived::from_events(&log)
        .dbs
        .remove(lagging);
    FeedUpdate {
        changed_dbs: state.into_iter().collect(),
        events: log.split_off(seen),
        commands: Some(vec![row]),
        ..Default::default()
    }
}

/// `who`'s sign-off of `db` in `role` (command `id`), a moment after the cockpit's [`small`]
/// view, as the engine records it: the brain at the end of [`small_log`]'s history, with the
/// `signoff` config, accepts the command and writes the `db.signoff` event, and the store's
/// fold reads it into the database's ledger. Returns the cockpit's next feed.
pub fn signed_off(
    db: &str,
    cfg: &crate::signoff::SignoffConfig,
    who: &str,
    role: crate::signoff::SignoffRole,
    id: i64,
) -> FeedUpdate {
    let (mut brain, world, mut log) = small_history();
    let seen = log.len();
    brain.settings.signoff = cfg.clone();
    let cmd = CommandRow {
        id,
        time: world.wall,
        who: who.into(),
        role: Role::Operator,
        action: Action::Signoff,
        target: Target::Db(db.into()),
        args: serde_json::json!({"role": role.as_str(), "note": "rehearsal passed"}),
        status: CommandStatus::Pending,
        reason: None,
        decided_at: None,
    };
    if let Err(e) = brain.on_command(&cmd, world.wall) {
        panic!("the fixture's sign-off of {db} was refused: {e}");
    }
    stamp(
        &mut log,
        brain
            .take_events()
            .into_iter()
            .map(|e| (world.wall, e))
            .collect(),
    );
    let state = crate::store::fold::Derived::from_events(&log)
        .dbs
        .remove(db);
    FeedUpdate {
        changed_dbs: state.into_iter().collect(),
        events: log.split_off(seen),
        ..Default::default()
    }
}

/// [`small_log`]'s history, with the engine and the scripted world that made it, as they are
/// at its end.
fn small_history() -> (Brain, World, Vec<Event>) {
    use crate::config::{ChecksMode, Config};
    use crate::engine::brain::{Seed, Settings, WaveSeed};
    use crate::engine::scripted::Answer;
    use crate::store::fold::Derived;

    let t0 = now() - Duration::minutes(50);
    let specs = small_specs();
    let (reg, _) = crate::store::plan_registration(
        &Default::default(),
        &Default::default(),
        &specs,
        "init",
        false,
    )
    .expect("the fixture inventory registers");
    let mut log = Vec::new();
    stamp(&mut log, reg.into_iter().map(|e| (t0, e)).collect());

    let mut cfg = Config::default();
    cfg.engine.checks = ChecksMode::Sql;
    let d = Derived::from_events(&log);
    let mut brain = Brain::new(Settings::from_config(&cfg), 7);
    brain.load(
        d.dbs
            .values()
            .map(|s| Seed::from_state(s.clone(), d.specs.get(&s.db_id)))
            .collect(),
        d.waves
            .values()
            .cloned()
            .map(WaveSeed::from_state)
            .collect(),
        &log,
    );

    let mut world = World::new(t0);
    world.step_s = 30.0;
    world.lag_s = 1.3;
    world.precheck = healthy_checks();
    let mut answer = |db: &str, a: Answer| {
        world.per_db.insert(db.to_string(), a);
    };
    answer(
        "crm-main-01",
        Answer {
            precheck_running: true,
            ..Default::default()
        },
    );
    answer(
        "dwh-stage-01",
        Answer {
            pct: Some(37.0),
            ..Default::default()
        },
    );
    answer(
        "catalog-01",
        Answer {
            pct: Some(62.0),
            ..Default::default()
        },
    );
    answer(
        "crm-main-02",
        Answer {
            lag_s: Some(7.8),
            ..Default::default()
        },
    );
    answer(
        "ship-track-02",
        Answer {
            lag_s: Some(42.0),
            ..Default::default()
        },
    );
    // The one to cut over: DRS's lag at 0 lets the engine terminate its job after the drain.
    answer(
        "hr-core-01",
        Answer {
            lag_s: Some(0.4),
            ..Default::default()
        },
    );

    let mut out = Vec::new();
    let mut cmd_id = 0;
    let mut command = |brain: &mut Brain, w: &World, action: Action, target: Target| {
        cmd_id += 1;
        let c = CommandRow {
            id: cmd_id,
            time: w.wall,
            who: "alice".into(),
            role: Role::Operator,
            action,
            target,
            args: serde_json::Value::Null,
            status: CommandStatus::Pending,
            reason: None,
            decided_at: None,
        };
        if let Err(e) = brain.on_command(&c, w.wall) {
            panic!("fixture command {action:?} refused: {e}");
        }
    };
    command(&mut brain, &world, Action::ApproveWindow, Target::Wave(0));
    command(&mut brain, &world, Action::StartWave, Target::Wave(0));
    command(&mut brain, &world, Action::StartWave, Target::Wave(1));
    out.extend(brain.take_events().into_iter().map(|e| (world.wall, e)));

    // The validation gates run as each database gets there: all pass but billing-01's.
    let ready = |brain: &Brain, db: &str| brain.stage_of(db).map(|p| p.stage);
    for _ in 0..40 {
        let at = world.wall + Duration::milliseconds((world.step_s * 1000.0) as i64);
        world.validation = gate("x", at, false);
        for db in ["pay-ledger-01", "hr-core-01", "billing-01"] {
            let mut a = world.per_db.get(db).cloned().unwrap_or_default();
            a.validation = Some(gate(db, at, db == "billing-01"));
            world.per_db.insert(db.into(), a);
        }
        drive_until(
            &mut brain,
            &mut world,
            "pay-ledger-01",
            Stage::Ready,
            1,
            &mut out,
        );
        let done = [
            ("pay-ledger-01", Stage::Ready),
            ("hr-core-01", Stage::Ready),
            ("billing-01", Stage::Failed),
            ("catalog-01", Stage::FullLoad),
        ]
        .iter()
        .all(|(db, st)| ready(&brain, db) == Some(*st));
        if done {
            break;
        }
    }
    command(
        &mut brain,
        &world,
        Action::Pause,
        Target::Db("catalog-01".into()),
    );
    // The cutover waits for wave 0's window (01:00 UTC); the others live on meanwhile.
    let opens = Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
    while world.wall < opens {
        drive_until(
            &mut brain,
            &mut world,
            "none",
            Stage::Completed,
            1,
            &mut out,
        );
    }
    command(
        &mut brain,
        &world,
        Action::Cutover,
        Target::Db("hr-core-01".into()),
    );
    out.extend(brain.take_events().into_iter().map(|e| (world.wall, e)));
    drive_until(
        &mut brain,
        &mut world,
        "hr-core-01",
        Stage::Hypercare,
        20,
        &mut out,
    );
    // A few more rounds: lags and statuses move on, pay-ledger-01 waits for its operator.
    drive_until(
        &mut brain,
        &mut world,
        "none",
        Stage::Completed,
        3,
        &mut out,
    );
    stamp(&mut log, out);
    // hr-core-01's restore test, one it passed since its cutover.
    restore_test_passed(&mut log, "hr-core-01", world.wall);
    assert!(
        world.wall <= now(),
        "the fixture's history runs past its now ({})",
        world.wall
    );
    for (db, want) in [
        ("pay-ledger-01", Stage::Ready),
        ("hr-core-01", Stage::Hypercare),
        ("billing-01", Stage::Failed),
        ("crm-main-02", Stage::Cdc),
        ("crm-main-01", Stage::Prechecks),
        ("dwh-stage-01", Stage::FullLoad),
        ("catalog-01", Stage::Paused),
        ("ship-track-02", Stage::Cdc),
        ("ship-track-01", Stage::Registered),
    ] {
        assert_eq!(ready(&brain, db), Some(want), "fixture database {db}");
    }
    (brain, world, log)
}

/// A restore test of `db` from `t0` on, as the engine writes it: the restore tester's intents
/// (a command, then its rounds) and each step's outcome as `restore::run` reports it.
fn restore_test_passed(log: &mut Vec<Event>, db: &str, t0: DateTime<Utc>) {
    use crate::restore::run::outcome;
    use crate::restore::tester::Tester;
    let mut x = Tester::new(0);
    x.load(log);
    let cmd = CommandRow {
        id: 90,
        time: t0,
        who: "alice".into(),
        role: Role::Operator,
        action: Action::RestoreTest,
        target: Target::Db(db.into()),
        args: serde_json::json!({}),
        status: CommandStatus::Pending,
        reason: None,
        decided_at: None,
    };
    let (_, mut intents) = x.decide(&cmd).expect("the fixture's restore test starts");
    let mut works = x.take_ready();
    let results = [
        (None, "restored from backup bk-1 in 48 s"),
        (Some(true), "1 smoke test passed, 3 tables counted"),
        (None, "deleted"),
    ];
    let mut t = t0;
    for (passed, said) in results {
        let w = works.pop().expect("a step to run");
        let n = log.len();
        stamp(log, intents.drain(..).map(|e| (t, e)).collect());
        t += Duration::seconds(40);
        let o = outcome(&w, Ok((passed, said.into(), serde_json::json!({}))));
        stamp(log, vec![(t, w.outcome(o))]);
        x.observe(&log[n..]);
        (intents, works) = x.tick(t);
    }
}

/// Events as the store appends them: a seq and the time they were written at.
fn stamp(log: &mut Vec<Event>, batch: Vec<(DateTime<Utc>, NewEvent)>) {
    for (time, e) in batch {
        let seq = log.len() as i64 + 1;
        log.push(Event {
            seq,
            time,
            db_id: e.db_id,
            wave: e.wave,
            kind: e.kind,
            payload: e.payload,
            actor: e.actor,
            prev_hash: String::new(),
            hash: String::new(),
        });
    }
}

/// A small factory, as the cockpit sees it: [`small_log`] folded by the store's fold.
pub fn small() -> Data {
    first_poll(small_log())
}

/// What the cockpit holds after its first poll of a store holding `log`: the states and waves
/// the store's fold derives, every alert event, and the tail.
fn first_poll(log: Vec<Event>) -> Data {
    let d = crate::store::fold::Derived::from_events(&log);
    let mut data = Data::default();
    data.apply(FeedUpdate {
        dbs: Some(d.dbs.into_values().collect()),
        waves: Some(d.waves.into_values().collect()),
        alerts: log
            .iter()
            .filter(|e| crate::store::kind::ALERTS.contains(&e.kind.as_str()))
            .cloned()
            .collect(),
        events: log,
        commands: Some(Vec::new()),
        ..Default::default()
    });
    data
}

/// [`small_log`] with the alert rules run over it as the engine runs them (the rules see each
/// round's events, then are evaluated at its time) and alice acknowledging the first alert
/// raised (the `alert.acked` of the rules' own `ack`, as the engine decides her command).
pub fn alert_log() -> Vec<Event> {
    let src = small_log();
    let mut cfg = crate::config::Config::default();
    // The engine feeds lag samples to the rules apart from the log (which keeps only changes):
    // without them every steady lag would look stale.
    cfg.alerts.lag_stale.enabled = false;
    let start = src.first().map_or(now(), |e| e.time);
    let mut rules =
        crate::alerts::Alerter::new(&cfg, start).expect("alert rules are on by default");
    let mut log: Vec<Event> = Vec::new();
    let add = |log: &mut Vec<Event>, rules: &mut crate::alerts::Alerter, batch| {
        let from = log.len();
        stamp(log, batch);
        rules.observe(&log[from..]);
    };
    let mut rest = &src[..];
    while let Some(first) = rest.first() {
        let t = first.time;
        let n = rest.iter().take_while(|e| e.time == t).count();
        let (round, tail) = rest.split_at(n);
        rest = tail;
        let batch = round
            .iter()
            .map(|e| {
                let new = NewEvent {
                    db_id: e.db_id.clone(),
                    wave: e.wave,
                    kind: e.kind.clone(),
                    payload: e.payload.clone(),
                    actor: e.actor.clone(),
                };
                (t, new)
            })
            .collect();
        add(&mut log, &mut rules, batch);
        let raised = rules.evaluate(t, 0, 0);
        add(
            &mut log,
            &mut rules,
            raised.into_iter().map(|e| (t, e)).collect(),
        );
    }
    let at = now() - Duration::minutes(2);
    let first = rules.facts.board.standing.iter().min_by_key(|(_, s)| s.seq);
    if let Some(((rule, db), _)) = first {
        let c = CommandRow {
            id: 900,
            time: at,
            who: "alice".into(),
            role: Role::Operator,
            action: Action::AckAlert,
            target: db.clone().map_or(Target::Factory, Target::Db),
            args: serde_json::json!({ "rule": rule }),
            status: CommandStatus::Pending,
            reason: None,
            decided_at: None,
        };
        let (_, acked) = rules.ack(&c).expect("the fixture's ack is accepted");
        add(&mut log, &mut rules, vec![(at, acked)]);
    }
    let raised = rules.evaluate(now(), 0, 0);
    add(
        &mut log,
        &mut rules,
        raised.into_iter().map(|e| (now(), e)).collect(),
    );
    log
}

/// [`small`] with [`alert_log`]'s alerts.
pub fn alerting() -> Data {
    first_poll(alert_log())
}

/// The benchmark's factory: `n` databases, no events. States only, on purpose: what it
/// measures is drawing and navigating thousands of rows, which reads the states' fields and no
/// event payload (the drift issue 14 was about lived in event readers, which [`small`] covers
/// from the real writers). Making them with the brain and a scripted world would cost seconds
/// per build of the fixture (the engine's decisions alone are 68-83 µs per database per stage
/// in release, far more in the debug test that scrolls 2000 rows), for rows that would look
/// the same.
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

/// One offline database, `hr-offline-01` (PostgreSQL, 6 GB, wave 0), as the engine writes it:
/// registered, pre-checked to `ready_offline` by the brain on a scripted DRS; with `cut`, the
/// cockpit's cutover command (its args from the dialog's own expected outage) accepted as the
/// store records it (`decision_event`) and the brain's offline cutover driven to hypercare.
pub fn offline(cut: bool) -> (Data, Vec<Event>) {
    use crate::config::{ChecksMode, Config};
    use crate::engine::brain::{Seed, Settings, WaveSeed};
    use crate::store::fold::Derived;
    use crate::store::{decision_event, Decision};

    let t0 = now() - Duration::minutes(50);
    let mut s = spec("hr-offline-01", 0);
    s.size_gb = 6.0;
    s.mode = crate::inventory::Mode::Offline;
    s.business_window = "daily 00:00-24:00 UTC".into();
    let (reg, _) = crate::store::plan_registration(
        &Default::default(),
        &Default::default(),
        &[s],
        "init",
        false,
    )
    .expect("the offline fixture registers");
    let mut log = Vec::new();
    stamp(&mut log, reg.into_iter().map(|e| (t0, e)).collect());
    let mut cfg = Config::default();
    cfg.engine.checks = ChecksMode::Sql;
    let d = Derived::from_events(&log);
    let mut brain = Brain::new(Settings::from_config(&cfg), 7);
    brain.load(
        d.dbs
            .values()
            .map(|s| Seed::from_state(s.clone(), d.specs.get(&s.db_id)))
            .collect(),
        d.waves
            .values()
            .cloned()
            .map(WaveSeed::from_state)
            .collect(),
        &log,
    );
    let mut world = World::new(t0);
    world.step_s = 30.0;
    world.precheck = healthy_checks();
    world.per_db.insert(
        "hr-offline-01".into(),
        crate::engine::scripted::Answer {
            full_only: true,
            ..Default::default()
        },
    );
    let mut out = Vec::new();
    let decide = |brain: &mut Brain, w: &World, id: i64, action: Action, target: Target, args| {
        let c = CommandRow {
            id,
            time: w.wall,
            who: "alice".into(),
            role: Role::Operator,
            action,
            target,
            args,
            status: CommandStatus::Pending,
            reason: None,
            decided_at: None,
        };
        if let Err(e) = brain.on_command(&c, w.wall) {
            panic!("fixture command {action:?} refused: {e}");
        }
        let mut evs = brain.take_events();
        evs.push(decision_event(&c, &Decision::Accepted, &[], "engine"));
        evs.into_iter().map(|e| (w.wall, e)).collect::<Vec<_>>()
    };
    let none = serde_json::Value::Null;
    out.extend(decide(
        &mut brain,
        &world,
        1,
        Action::ApproveWindow,
        Target::Wave(0),
        none.clone(),
    ));
    out.extend(decide(
        &mut brain,
        &world,
        2,
        Action::StartWave,
        Target::Wave(0),
        none,
    ));
    let db = "hr-offline-01";
    assert!(
        drive_until(
            &mut brain,
            &mut world,
            db,
            Stage::ReadyOffline,
            20,
            &mut out
        ),
        "the offline fixture reaches ready_offline"
    );
    if cut {
        // The args the cockpit's dialog submits, from its own estimate.
        let mut seen = log.clone();
        stamp(&mut seen, out.clone());
        let mut app = crate::tui::app::App::new(
            first_poll(seen),
            crate::tui::theme::Theme::load("dark", false, false).expect("the dark theme"),
            false,
            world.wall,
        );
        app.open_dialog(Action::Cutover, Target::Db(db.into()));
        let outage = app
            .dialog
            .as_ref()
            .map(|d| d.outage.clone())
            .unwrap_or_default();
        let args = crate::plan::expected::with_args(serde_json::json!({"confirmed": db}), &outage);
        out.extend(decide(
            &mut brain,
            &world,
            3,
            Action::Cutover,
            Target::Db(db.into()),
            args,
        ));
        assert!(
            drive_until(&mut brain, &mut world, db, Stage::Hypercare, 30, &mut out),
            "the offline fixture's cutover reaches hypercare"
        );
    }
    stamp(&mut log, out);
    (first_poll(log.clone()), log)
}
