//! The offline cutover (issue #17) as the brain runs it, in both cutover modes: DRS-mode
//! (`engine.source_drain: emulator`) and the cutover module's steps (`sql`), with a small world
//! that answers every work and look the way DRS and the servers would.

use crate::engine::brain::test_support::*;

/// What DRS and the servers answer an offline database's steps, as far as the brain asks:
/// the job walks CONFIGURATION, FULL_TRANSFER_STARTED, FULL_TRANSFER_COMPLETE (where a
/// FULL_TRANS job rests) and, once terminated, RELEASE_RESOURCE_COMPLETE.
#[derive(Default)]
struct OfflineWorld {
    /// Works in order, and job looks as "look" (other looks by kind).
    steps: Vec<&'static str>,
    job_looks_since_start: u32,
    started: bool,
    terminated: bool,
    drained: bool,
    switched: bool,
    /// The round the source was drained in, and the last round (monotonic seconds; the
    /// wall clock moves with them).
    drained_now: f64,
    last_now: f64,
    /// The target found exposed by the exposure check (or the SQL cutover's guards step).
    exposed: bool,
    /// Effects made, in order (a resumed work that finds its own here answers "in place").
    performed: Vec<EffectStep>,
    /// Resumed works that found their effect in place.
    recovered: Vec<&'static str>,
    /// The lifecycle guards the guards step was given as failing (when collected).
    blockers_seen: Option<Vec<String>>,
}

/// Where a round stops short, as a `kill -9` of the engine would.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Crash {
    /// After the round's intents are stored, before any work runs.
    BeforeEffects,
    /// After the works' effects happened in the world, before their outcomes are stored.
    AfterEffects,
}

impl OfflineWorld {
    /// One tick of `b` at `now`, every work and look answered.
    fn round(&mut self, b: &mut Brain, now: f64) {
        self.round_or_crash(b, now, None);
    }

    /// One tick of `b` at `now`; `crash`: the engine dies in it (no result reaches `b`).
    fn round_or_crash(&mut self, b: &mut Brain, now: f64, crash: Option<Crash>) {
        let at = wall() + chrono::Duration::milliseconds((now * 1000.0) as i64);
        self.last_now = now;
        let p = b.tick(now, at);
        if crash == Some(Crash::BeforeEffects) {
            return;
        }
        for w in &p.works {
            let r = self.answer(w, now);
            if crash.is_none() {
                b.on_work(w, r, now, at);
            }
        }
        if crash.is_some() {
            return;
        }
        for l in &p.looks {
            let seen = self.see(l);
            b.on_seen(&l.db, l.kind, seen, now, at);
        }
    }

    /// What a work does to the world and answers. A resumed work finds an effect already in
    /// place and does not make it again (as the runtime asks DRS and the servers first).
    fn answer(&mut self, w: &Work, now: f64) -> WorkResult {
        if let Some(c) = self.blockers_seen.as_mut() {
            if w.step == EffectStep::Cut(CutStep::Guards) {
                c.extend(w.blockers.iter().cloned());
            }
        }
        if w.resumed && self.performed.contains(&w.step) {
            self.recovered.push(w.step.as_str());
            return WorkResult::Ok {
                job: (w.step == EffectStep::CreateJob).then(|| "job-a".to_string()),
                report: Some(Report {
                    passed: true,
                    summary: "found already in place after a restart".into(),
                    detail: Value::Null,
                }),
                recovered: true,
            };
        }
        self.performed.push(w.step);
        self.steps.push(w.step.as_str());
        let report = |summary: &str| WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: true,
                summary: summary.into(),
                detail: Value::Null,
            }),
            recovered: false,
        };
        match w.step {
            EffectStep::CreateJob => ok(Some("job-a")),
            EffectStep::SqlPrecheck => report("6/6 sql checks passed"),
            EffectStep::ExposureCheck if self.exposed => WorkResult::Ok {
                job: None,
                report: Some(exposed_report()),
                recovered: false,
            },
            EffectStep::ExposureCheck => report("exposure: 2 checks pass"),
            EffectStep::Cut(CutStep::Guards) if self.exposed => WorkResult::Err(Fail {
                class: ErrorClass::Fatal,
                words: "the target is reachable from outside: r-world allows 0.0.0.0/0".into(),
            }),
            EffectStep::SqlValidate => {
                assert!(
                    self.job_looks_since_start >= 2,
                    "validated before the load ended"
                );
                report("3 tables, every row equal")
            }
            EffectStep::DrainSource | EffectStep::Cut(CutStep::DrainSource) => {
                assert!(!self.started, "drained after the load began");
                self.drained = true;
                self.drained_now = now;
                cut_ok("drained")
            }
            EffectStep::StartJob => {
                assert!(self.drained, "the load started with the source writable");
                self.started = true;
                ok(None)
            }
            EffectStep::Compare => {
                assert!(
                    self.job_looks_since_start >= 2,
                    "compared before the load ended"
                );
                ok(None)
            }
            EffectStep::Terminate => {
                self.terminated = true;
                ok(None)
            }
            EffectStep::DnsSwitch | EffectStep::Cut(CutStep::DnsSwitch) => {
                assert!(self.terminated, "switched before the job was terminated");
                self.switched = true;
                cut_ok("switched")
            }
            EffectStep::SourceWritesOn | EffectStep::Undo(RollbackAction::SourceWritesOn) => {
                self.drained = false;
                cut_ok("source writable")
            }
            EffectStep::DnsSwitchBack | EffectStep::Undo(RollbackAction::DnsBack) => {
                self.switched = false;
                cut_ok("switched back")
            }
            EffectStep::Cut(_) | EffectStep::Undo(_) => cut_ok("done"),
            _ => ok(None),
        }
    }

    /// What a look sees. The load is at 40 % at its first look and complete at the second.
    fn see(&mut self, l: &Look) -> Seen {
        let passed = Report {
            passed: true,
            summary: "all passed".into(),
            detail: Value::Null,
        };
        match l.kind {
            LookKind::Job => {
                self.steps.push("look");
                if self.terminated {
                    return job_seen("RELEASE_RESOURCE_COMPLETE", 100.0, -1.0);
                }
                if !self.started {
                    return job_seen("CONFIGURATION", 0.0, -1.0);
                }
                self.job_looks_since_start += 1;
                if self.job_looks_since_start < 2 {
                    job_seen("FULL_TRANSFER_STARTED", 40.0, -1.0)
                } else {
                    job_seen("FULL_TRANSFER_COMPLETE", 100.0, -1.0)
                }
            }
            LookKind::Precheck => {
                self.steps.push("look_precheck");
                Seen::Report {
                    finished: true,
                    report: passed,
                }
            }
            LookKind::Compare => {
                self.steps.push("look_compare");
                Seen::Report {
                    finished: true,
                    report: passed,
                }
            }
        }
    }

    /// Rounds until `a` is at `stage` (at most 60).
    fn until(&mut self, b: &mut Brain, now: &mut f64, stage: Stage) {
        for _ in 0..60 {
            if b.stage_of("a").unwrap().stage == stage {
                return;
            }
            self.round(b, *now);
            *now += 100.0;
        }
        panic!(
            "never reached {stage}: {:?} after {:?}",
            b.stage_of("a"),
            self.steps
        );
    }
}

/// Database `a`, wave 0, offline.
fn offline_seed() -> Seed {
    let mut s = seed("a", 0, Criticality::Low, 1.0);
    s.mode = crate::inventory::Mode::Offline;
    s
}

/// The test settings with the cutover module's steps (`engine.source_drain: sql`).
fn sql_settings(checks: ChecksMode) -> Settings {
    let mut s = settings(checks);
    s.sql_cutover = true;
    s
}

/// An offline member of a started wave: pre-checked by wavedeck's SQL checks alone, then
/// waiting in ready_offline with no DRS job made and no DRS slot taken.
fn offline_ready(checks: ChecksMode) -> (Brain, OfflineWorld, f64) {
    offline_ready_in(settings(checks))
}

/// [`offline_ready`] with `settings`.
fn offline_ready_in(settings: Settings) -> (Brain, OfflineWorld, f64) {
    let mut b = Brain::new(settings, 7);
    let waves = vec![WaveSeed {
        wave: 0,
        ..Default::default()
    }];
    b.load(vec![offline_seed()], waves, &[]);
    b.on_command(
        &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
        wall(),
    )
    .unwrap();
    let mut world = OfflineWorld::default();
    let mut now = 0.0;
    world.until(&mut b, &mut now, Stage::ReadyOffline);
    assert_eq!(world.steps, ["sql_precheck"]);
    assert_eq!(b.load_now().drs_jobs, 0, "no DRS job before the cutover");
    for _ in 0..5 {
        world.round(&mut b, now);
        now += 100.0;
    }
    assert_eq!(
        world.steps,
        ["sql_precheck"],
        "nothing moves in ready_offline"
    );
    assert!(b.idle());
    b.on_command(
        &cmd(2, Role::Operator, Action::ApproveWindow, Target::Wave(0)),
        wall(),
    )
    .unwrap();
    world.steps.clear();
    (b, world, now)
}

/// The offline cutover, in order: its FULL_TRANS job made and pre-checked while the source
/// still takes writes, then drain, start, the full load awaited to FULL_TRANSFER_COMPLETE,
/// the exact validation, terminate (target writable), release, DNS switch, hypercare.
#[test]
fn an_offline_cutover_drains_loads_validates_then_switches() {
    let (mut b, mut world, mut now) = offline_ready(ChecksMode::Drs);
    b.on_command(
        &cmd(3, Role::Operator, Action::Cutover, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cutover);
    world.until(&mut b, &mut now, Stage::Hypercare);
    assert_eq!(
        world.steps,
        [
            "exposure_check",
            "create_job",
            "look",
            "prepare_job",
            "drs_precheck",
            "look_precheck",
            "drain_source",
            "start_job",
            "look",
            "look",
            "compare",
            "look_compare",
            "terminate_job",
            "look",
            "dns_switch",
        ]
    );
    let ev = b.take_events();
    let creates = ev
        .iter()
        .filter(|e| e.kind == kind::STEP_OUTCOME && e.payload["step"] == "create_job")
        .count();
    assert_eq!(creates, 1, "one DRS job");
    // Every intent has its outcome; the cutover ends in one move to hypercare.
    let count = |k: &str| ev.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(kind::STEP_INTENT), count(kind::STEP_OUTCOME));
    let done = ev
        .iter()
        .find(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "hypercare")
        .unwrap();
    assert!(
        done.payload["reason"]
            .as_str()
            .is_some_and(|r| r.contains("FULL_TRANS")),
        "{}",
        done.payload
    );
    // The write outage, from the drain's outcome to the end, typed and in words.
    let outage = world.last_now - world.drained_now;
    assert!(outage > 0.0);
    assert_eq!(done.payload["outage_s"], outage, "{}", done.payload);
    let words = format!("write outage {outage:.1} s");
    assert!(
        done.payload["reason"].as_str().unwrap().ends_with(&words),
        "{}",
        done.payload
    );
}

/// A target exposed since its pre-checks stops the offline cutover at its first step,
/// before a job is made or the source drained; the operator's retry checks again.
#[test]
fn an_exposed_target_stops_the_cutover_before_anything_is_touched() {
    let (mut b, mut world, mut now) = offline_ready(ChecksMode::Drs);
    world.exposed = true;
    b.on_command(
        &cmd(3, Role::Operator, Action::Cutover, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    world.until(&mut b, &mut now, Stage::Failed);
    assert_eq!(
        b.stage_of("a").unwrap(),
        Position::failed_in(Stage::Cutover)
    );
    assert_eq!(world.steps, ["exposure_check"]);
    assert!(!world.drained && !world.started);
    let ev = b.take_events();
    let failed = ev
        .iter()
        .find(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "failed")
        .unwrap();
    let words = failed.payload["error"].as_str().unwrap_or_default();
    assert!(
        words.contains("cutover stopped before the drain") && words.contains("r-world"),
        "{}",
        failed.payload
    );
    // Fixed: the retry goes back into the cutover and checks again.
    world.exposed = false;
    b.on_command(
        &cmd(4, Role::Operator, Action::Retry, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    world.until(&mut b, &mut now, Stage::Hypercare);
    assert_eq!(
        world
            .steps
            .iter()
            .filter(|s| **s == "exposure_check")
            .count(),
        2
    );
}

/// With `checks: sql` the load is validated by wavedeck's own gate, on every row (the
/// source is still: final mode), and no DRS comparison is made.
#[test]
fn an_offline_cutover_with_sql_checks_validates_with_the_sql_gate() {
    let (mut b, mut world, mut now) = offline_ready(ChecksMode::Sql);
    b.on_command(
        &cmd(3, Role::Operator, Action::Cutover, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    world.until(&mut b, &mut now, Stage::Hypercare);
    let at = |s: &str| world.steps.iter().position(|x| *x == s).unwrap();
    assert!(at("start_job") < at("sql_validate") && at("sql_validate") < at("terminate_job"));
    assert!(!world.steps.contains(&"compare"), "{:?}", world.steps);
}

/// A rollback before the switch is cheap: the source takes writes again, the target is
/// discarded with the job (terminated, released, deleted), and nothing else is done. A
/// restart in the middle of the cutover resumes where it was, not from the start.
#[test]
fn an_offline_rollback_before_the_switch_turns_writes_back_on_and_deletes_the_job() {
    let (mut b, mut world, mut now) = offline_ready(ChecksMode::Drs);
    let mut log = stored(Vec::new(), b.take_events());
    b.on_command(
        &cmd(3, Role::Operator, Action::Cutover, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    while !world.started {
        world.round(&mut b, now);
        now += 100.0;
    }
    log = stored(log, b.take_events());
    // A restart here: the job is started and the source drained; neither is done again.
    let mut s = seed("a", 0, Criticality::Low, 1.0);
    s.mode = crate::inventory::Mode::Offline;
    s.stage = Stage::Cutover;
    s.job = Some("job-a".into());
    let mut r = Brain::new(settings(ChecksMode::Drs), 2);
    let wave = WaveSeed {
        wave: 0,
        started: true,
        approved_by: Some("alice".into()),
        ..Default::default()
    };
    r.load(vec![s], vec![wave], &log);
    world.steps.clear();
    world.round(&mut r, now);
    assert_eq!(
        world.steps,
        ["look"],
        "the restarted brain looks at the load"
    );
    r.on_command(
        &cmd(4, Role::Operator, Action::Rollback, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    assert_eq!(r.stage_of("a").unwrap().stage, Stage::RolledBack);
    world.steps.clear();
    for _ in 0..10 {
        now += 100.0;
        world.round(&mut r, now);
    }
    assert_eq!(
        world.steps,
        ["source_writes_on", "terminate_job", "look", "delete_job"]
    );
    assert!(!world.drained, "the source takes writes again");
    assert!(!world.switched);
    assert_eq!(r.job_of("a"), None);
    assert_eq!(r.load_now().drs_jobs, 0);
    assert!(r.idle());
}

/// What a SQL-mode offline cutover does, in order, with `engine.checks: drs`: the FULL_TRANS
/// job made and DRS-pre-checked while the source still takes writes; the guards; the SQL
/// drain; the load started and awaited; DRS's exact comparison; the job terminated and
/// released; then the cutover module's last four steps. No final sync, no lag wait, no
/// exposure check of its own (the guards step holds it). Both engines get this order: the
/// brain's steps are the same, the cutover module picks each one's statements.
const SQL_OFFLINE_ORDER: [&str; 18] = [
    "create_job",
    "look",
    "prepare_job",
    "drs_precheck",
    "look_precheck",
    "cutover.guards",
    "cutover.drain_source",
    "start_job",
    "look",
    "look",
    "compare",
    "look_compare",
    "terminate_job",
    "look",
    "cutover.quick_validation",
    "cutover.dns_switch",
    "cutover.target_writes_on",
    "cutover.hypercare",
];

/// The effects of [`SQL_OFFLINE_ORDER`] (its looks left out).
fn sql_offline_effects() -> Vec<&'static str> {
    SQL_OFFLINE_ORDER
        .into_iter()
        .filter(|s| !s.starts_with("look"))
        .collect()
}

/// An offline database in ready_offline with `engine.source_drain: sql`, its cutover accepted;
/// the events so far as the store holds them.
fn sql_offline_cutover(checks: ChecksMode) -> (Brain, OfflineWorld, f64, Vec<Event>) {
    let (mut b, mut world, now) = offline_ready_in(sql_settings(checks));
    world.blockers_seen = Some(Vec::new());
    b.on_command(
        &cmd(3, Role::Operator, Action::Cutover, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    assert_eq!(b.stage_of("a").unwrap().stage, Stage::Cutover);
    let log = stored(Vec::new(), b.take_events());
    (b, world, now, log)
}

/// The brain a restarted engine loads: `a` where the store has it, its events replayed.
fn restart_sql(b: &Brain, log: &[Event]) -> Brain {
    let mut s = offline_seed();
    s.stage = b.stage_of("a").unwrap().stage;
    s.job = b.job_of("a").map(str::to_string);
    let mut r = Brain::new(sql_settings(ChecksMode::Drs), 3);
    let wave = WaveSeed {
        wave: 0,
        started: true,
        approved_by: Some("alice".into()),
        ..Default::default()
    };
    r.load(vec![s], vec![wave], log);
    r
}

#[test]
fn a_sql_offline_cutover_runs_the_cutover_steps_around_one_full_load() {
    let (mut b, mut world, mut now, _) = sql_offline_cutover(ChecksMode::Drs);
    world.until(&mut b, &mut now, Stage::Hypercare);
    assert_eq!(world.steps, SQL_OFFLINE_ORDER);
    assert_eq!(
        world.blockers_seen.as_deref(),
        Some(&[][..]),
        "the offline guards (no lag, no validation before) pass"
    );
    let ev = b.take_events();
    let count = |k: &str| ev.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(kind::STEP_INTENT), count(kind::STEP_OUTCOME));
    // The load's progress is on the record, as an online full load's is (defect 5b).
    let progress: Vec<f64> = ev
        .iter()
        .filter(|e| e.kind == kind::DB_PROGRESS)
        .map(|e| e.payload["pct"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, [40.0, 100.0]);
    let done = ev
        .iter()
        .find(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "hypercare")
        .unwrap();
    let reason = done.payload["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("FULL_TRANS"), "{reason}");
    let outage = world.last_now - world.drained_now;
    assert_eq!(done.payload["outage_s"], outage, "{}", done.payload);
    assert!(world.drained && world.switched);
}

/// `checks: sql`: wavedeck's exact validation between the load and the terminate, no DRS
/// comparison; the cutover module's steps as with `checks: drs`.
#[test]
fn a_sql_offline_cutover_with_sql_checks_validates_with_the_sql_gate() {
    let (mut b, mut world, mut now, _) = sql_offline_cutover(ChecksMode::Sql);
    world.until(&mut b, &mut now, Stage::Hypercare);
    let want: Vec<&str> = SQL_OFFLINE_ORDER
        .iter()
        .copied()
        .filter(|s| *s != "look_compare")
        .map(|s| if s == "compare" { "sql_validate" } else { s })
        .collect();
    assert_eq!(world.steps, want);
}

/// A restart at any round of the cutover, before the round's works ran or after their
/// effects but before their outcomes were stored, resumes where it was: every effect is made
/// once, the resumed one found in place, and the cutover ends in hypercare.
#[test]
fn a_sql_offline_cutover_restarted_at_any_point_makes_each_effect_once() {
    let mut crashes_on_work = 0;
    for crash in [Crash::BeforeEffects, Crash::AfterEffects] {
        for k in 0..30 {
            let (mut b, mut world, mut now, mut log) = sql_offline_cutover(ChecksMode::Drs);
            let mut round = 0;
            let mut effect_lost = false;
            while b.stage_of("a").unwrap().stage != Stage::Hypercare {
                assert!(round < 80, "k {k} {crash:?}: stuck after {:?}", world.steps);
                let made = world.performed.len();
                if round == k {
                    world.round_or_crash(&mut b, now, Some(crash));
                    effect_lost = world.performed.len() > made;
                    if effect_lost || crash == Crash::BeforeEffects {
                        crashes_on_work += 1;
                    }
                    log = stored(log, b.take_events());
                    b = restart_sql(&b, &log);
                } else {
                    world.round(&mut b, now);
                    log = stored(log, b.take_events());
                }
                round += 1;
                now += 100.0;
            }
            let effects: Vec<&str> = world
                .steps
                .iter()
                .copied()
                .filter(|s| !s.starts_with("look"))
                .collect();
            assert_eq!(effects, sql_offline_effects(), "k {k} {crash:?}");
            // An effect made whose outcome was lost is found in place, not made again.
            assert_eq!(
                !world.recovered.is_empty(),
                effect_lost,
                "k {k} {crash:?}: {:?} after {:?}",
                world.recovered,
                world.steps
            );
            let count = |k: &str| log.iter().filter(|e| e.kind == k).count();
            assert_eq!(count(kind::STEP_INTENT), count(kind::STEP_OUTCOME), "k {k}");
            assert_eq!(
                log.iter()
                    .filter(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "hypercare")
                    .count(),
                1
            );
        }
    }
    assert!(crashes_on_work > 10, "{crashes_on_work}");
}

/// A rollback while the load runs (after the drain, before the switch): the cutover module
/// turns the source's writes back on, then the target is discarded with its job (terminated,
/// released, deleted); nothing else. A restart in the rollback does not redo what was done.
#[test]
fn a_sql_offline_rollback_before_the_switch_reopens_the_source_and_deletes_the_job() {
    let (mut b, mut world, mut now, mut log) = sql_offline_cutover(ChecksMode::Drs);
    while !world.started {
        world.round(&mut b, now);
        now += 100.0;
    }
    log = stored(log, b.take_events());
    b.on_command(
        &cmd(4, Role::Operator, Action::Rollback, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    assert_eq!(b.stage_of("a").unwrap().stage, Stage::RolledBack);
    log = stored(log, b.take_events());
    world.steps.clear();
    // The engine dies right after the source's writes are back on, before that is stored.
    now += 100.0;
    world.round_or_crash(&mut b, now, Some(Crash::AfterEffects));
    log = stored(log, b.take_events());
    let mut r = restart_sql(&b, &log);
    for _ in 0..10 {
        now += 100.0;
        world.round(&mut r, now);
    }
    assert_eq!(
        world.steps,
        [
            "rollback.source_writes_on",
            "terminate_job",
            "look",
            "delete_job"
        ]
    );
    assert_eq!(world.recovered, ["rollback.source_writes_on"]);
    assert!(!world.drained, "the source takes writes again");
    assert!(!world.switched);
    assert_eq!(r.job_of("a"), None);
    assert_eq!(r.load_now().drs_jobs, 0);
    assert!(r.idle());
}

/// After the switch a rollback is the online one: the target's writes brought back, the name
/// and the source's writes back; the job (terminated at the cutover) is then deleted.
#[test]
fn a_sql_offline_rollback_after_the_switch_is_the_online_one() {
    let (mut b, mut world, mut now, _) = sql_offline_cutover(ChecksMode::Drs);
    world.until(&mut b, &mut now, Stage::Hypercare);
    b.on_command(
        &cmd(4, Role::Operator, Action::Rollback, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    world.steps.clear();
    for _ in 0..10 {
        now += 100.0;
        world.round(&mut b, now);
    }
    assert_eq!(
        world.steps,
        [
            "rollback.drain_target",
            "rollback.reverse_sync",
            "rollback.dns_back",
            "rollback.source_writes_on",
            "delete_job"
        ]
    );
    assert_eq!(b.stage_of("a").unwrap().stage, Stage::RolledBack);
    assert!(!world.drained && !world.switched);
    assert!(b.idle());
}

/// The guards step refuses (a target exposed since the pre-checks): the database fails in its
/// cutover with the job made and pre-checked, the source untouched and the load not started;
/// the operator's retry runs the guards again and goes on without making another job.
#[test]
fn a_refused_guards_step_stops_the_sql_offline_cutover_before_the_drain() {
    let (mut b, mut world, mut now, _) = sql_offline_cutover(ChecksMode::Drs);
    world.exposed = true;
    world.until(&mut b, &mut now, Stage::Failed);
    assert_eq!(
        b.stage_of("a").unwrap(),
        Position::failed_in(Stage::Cutover)
    );
    assert_eq!(world.steps, SQL_OFFLINE_ORDER[..6]);
    assert!(!world.drained && !world.started);
    world.exposed = false;
    b.on_command(
        &cmd(5, Role::Operator, Action::Retry, Target::Db("a".into())),
        wall(),
    )
    .unwrap();
    world.until(&mut b, &mut now, Stage::Hypercare);
    let n = |s: &str| world.steps.iter().filter(|x| **x == s).count();
    assert_eq!((n("cutover.guards"), n("create_job")), (2, 1));
}
