//! The guards shown in an action dialog and in the detail view: what the engine will check
//! before accepting the command, as sentences, computed from what the cockpit already knows.
//! The engine re-checks them on its side; this is the operator's preview.

use super::data::Data;
use crate::lifecycle::facts::WindowMemo;
use crate::lifecycle::{self, GuardKind, Stage};
use crate::store::model::{Action, DbState, Role, Target};
use chrono::{DateTime, Utc};

/// One guard as a dialog shows it: the same type the engine records in a refusal.
pub use crate::store::event::GuardLine;

/// Thresholds the previews need (from config): the same the engine decides with.
pub type Limits = lifecycle::facts::Thresholds;

fn g(name: &str, ok: bool, sentence: impl Into<String>) -> GuardLine {
    GuardLine {
        name: name.into(),
        ok,
        sentence: sentence.into(),
    }
}

/// The lifecycle's own guards for a database action (the same table the engine decides with),
/// evaluated on what the cockpit knows. A trigger that does not apply from the current stage
/// becomes one red "stage" line with the lifecycle's sentence.
pub fn for_db(
    action: Action,
    d: &DbState,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let ctx = context(d, data, now, lim, role);
    let pos = lifecycle::Position::from_state(d.stage, d.held_stage);
    let Some(trigger) = lifecycle::Trigger::for_action(action) else {
        let mut out: Vec<GuardLine> = lifecycle::guards(action, None, &ctx)
            .into_iter()
            .map(line)
            .collect();
        if action == Action::RestoreTest {
            out.push(restore_test(d));
        }
        return out;
    };
    match lifecycle::decide(pos, trigger, &ctx) {
        Ok(_) => lifecycle::guards(action, Some(pos), &ctx)
            .into_iter()
            .map(line)
            .collect(),
        Err(rej) => {
            let mut out: Vec<GuardLine> = rej.guards.iter().cloned().map(line).collect();
            for r in &rej.reasons {
                if !out.iter().any(|g| &g.sentence == r) {
                    out.push(g("stage", false, r.clone()));
                }
            }
            out
        }
    }
}

/// The restore tester's own refusal (the engine decides with the same sentence), on the
/// stage and the run under way the store's fold keeps.
fn restore_test(d: &DbState) -> GuardLine {
    let running = d.restore_test.running.map(|(run, _)| run);
    match crate::restore::tester::start_guards(Some(d.stage), running, &d.db_id) {
        Some(why) => g("restore_test", false, why),
        None => g(
            "restore_test",
            true,
            format!(
                "{} is live ({}): its backups can be restored",
                d.db_id,
                d.stage.as_str()
            ),
        ),
    }
}

fn line(gd: lifecycle::Guard) -> GuardLine {
    gd.into()
}

/// The guard context through the lifecycle's one builder, from what the store says of the
/// database and its wave: the same facts the engine replays from the same events.
fn context(
    d: &DbState,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> lifecycle::GuardContext {
    let wave = d.wave.and_then(|n| data.wave(n));
    let own_window = WindowMemo::new(&d.business_window);
    let wave_window = WindowMemo::new(wave.map_or("", |w| w.window.as_str()));
    let f = lifecycle::facts::Facts {
        db_id: &d.db_id,
        wave: d.wave,
        stage: d.stage,
        lag_s: d.lag_s,
        own_max_lag_s: d.max_lag_s,
        own_window: &own_window,
        validation: d.validation.as_ref().map(|v| (v.passed, v.at)),
        wave_window: &wave_window,
        wave_approved_by: wave.and_then(|w| w.approved_by.as_deref()),
        wave_started: wave.is_some_and(|w| w.started_at.is_some()),
        criticality: d.criticality,
        signoff: &d.signoff,
        restore_passed_at: d.restore_passed_at,
        mode: d.mode,
    };
    lifecycle::facts::guard_context(&f, lim, role, now)
}

/// The guards of an action on wave `n`: the wave's own (from the lifecycle's table, on the
/// context the engine builds the same way; for a cutover, how many members pass theirs), then
/// for a cutover why the others wait.
pub fn for_wave(
    action: Action,
    n: u32,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let trigger = lifecycle::wave_member_trigger(action);
    let waiting = trigger.map(|t| members_waiting(n, t, data, now, lim, role));
    let ctx = wave_context(n, data, trigger, waiting.as_ref(), role, now);
    let mut out: Vec<GuardLine> = lifecycle::guards_for_wave(action, &ctx)
        .into_iter()
        .map(line)
        .collect();
    match action {
        // Whether the window is open now, from the same context: informational, approving
        // ahead of the window is the normal case.
        Action::ApproveWindow if !ctx.window.is_empty() => {
            let open = GuardKind::WindowOpen.check(&ctx);
            out.push(g(open.name, true, open.sentence));
        }
        _ => {}
    }
    out.extend(waiting.and_then(|w| lifecycle::members_waiting(&w.1).map(line)));
    out
}

/// A wave's facts as the store's fold holds them, through the lifecycle's one builder; for an
/// action that moves members, with how many pass their own guards (`waiting`).
fn wave_context(
    n: u32,
    data: &Data,
    trigger: Option<lifecycle::Trigger>,
    waiting: Option<&(usize, Vec<(String, String)>)>,
    role: Role,
    now: DateTime<Utc>,
) -> lifecycle::GuardContext {
    let w = data.wave(n);
    let window = WindowMemo::new(w.map_or("", |w| w.window.as_str()));
    let f = lifecycle::facts::WaveFacts {
        wave: n,
        members: data.dbs.iter().filter(|d| d.wave == Some(n)).count(),
        started: w.is_some_and(|w| w.started_at.is_some()),
        approved_by: w.and_then(|w| w.approved_by.as_deref()),
        window: &window,
        trigger,
        members_ready: waiting.map_or(0, |w| w.0),
    };
    lifecycle::facts::wave_context(&f, role, now)
}

/// A wave's command moves the members whose own guards for `trigger` pass when the engine
/// decides; the others are refused with their reasons and can be asked again later. How many
/// go now, and for each of the rest its first failing guard.
fn members_waiting(
    n: u32,
    trigger: lifecycle::Trigger,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> (usize, Vec<(String, String)>) {
    let mut ready = 0;
    let mut waiting = Vec::new();
    for d in data.dbs.iter().filter(|d| d.wave == Some(n)) {
        let ctx = context(d, data, now, lim, role);
        let pos = lifecycle::Position::from_state(d.stage, d.held_stage);
        match lifecycle::decide(pos, trigger, &ctx) {
            Ok(_) => ready += 1,
            Err(rej) => waiting.push((d.db_id.clone(), rej.reasons[0].clone())),
        }
    }
    (ready, waiting)
}

/// The dialog's guards: acknowledging an alert is judged on the alerts board (as the engine
/// judges it), every other action by [`for_target`].
pub fn for_dialog(
    action: Action,
    target: &Target,
    args: &serde_json::Map<String, serde_json::Value>,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    if action != Action::AckAlert {
        return for_target(action, target, data, now, lim, role);
    }
    let mut ctx = lifecycle::GuardContext::new("", now);
    ctx.role = role;
    let rule = args
        .get("rule")
        .and_then(|r| r.as_str())
        .unwrap_or_default();
    let db = match target {
        Target::Db(id) => Some(id.as_str()),
        _ => None,
    };
    let standing = match data.alerts.ackable(rule, db) {
        Ok(s) => g(
            "standing",
            true,
            format!(
                "stands since {}: {}",
                s.at.format("%H:%M:%S"),
                s.raised.what
            ),
        ),
        Err(why) => g("standing", false, why),
    };
    vec![line(lifecycle::GuardKind::Role.check(&ctx)), standing]
}

/// Guards for a target, whatever it is.
pub fn for_target(
    action: Action,
    target: &Target,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    match target {
        Target::Db(id) => match data.db(id) {
            Some(d) => for_db(action, d, data, now, lim, role),
            None => vec![g(
                "exists",
                false,
                format!("no database {id:?} in the store"),
            )],
        },
        Target::Wave(n) => for_wave(action, *n, data, now, lim, role),
        Target::Factory => vec![g(
            "target",
            false,
            "only an alert's acknowledgement is aimed at the whole factory",
        )],
    }
}

/// The lag guard as the engine judges it (CDC's exit and a cutover both need it), for screens
/// that flag a database whose lag is over its limit. `None` while no lag is known.
pub fn lag(d: &DbState, lim: Limits, now: DateTime<Utc>) -> Option<GuardLine> {
    d.lag_s?;
    let mut ctx = lifecycle::GuardContext::new(&d.db_id, now);
    ctx.lag_s = d.lag_s;
    ctx.max_lag_s = lim.lag_limit(d.max_lag_s);
    Some(line(lifecycle::GuardKind::Lag.check(&ctx)))
}

/// The action the operator most likely wants next for a database in this stage.
pub fn next_action(st: Stage) -> Option<Action> {
    match st {
        Stage::Failed => Some(Action::Retry),
        Stage::Paused => Some(Action::Resume),
        Stage::Hypercare => Some(Action::CloseHypercare),
        Stage::Cutover => Some(Action::Rollback),
        Stage::Cdc | Stage::Validation | Stage::Ready => Some(Action::Cutover),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! The dialog's preview and the engine's verdict, from the same events: the registry's and
    //! the brain's, folded by the store's fold for the cockpit.
    use super::*;
    use crate::config::{ChecksMode, Config};
    use crate::engine::brain::{Brain, Seed, Settings, WaveSeed};
    use crate::engine::scripted::{drive_until, World};
    use crate::inventory::{DatabaseSpec, Endpoint, Engine};
    use crate::secret::SecretRef;
    use crate::store::fold::Derived;
    use crate::store::model::{CommandRow, CommandStatus, Event, NewEvent};
    use crate::store::plan_registration;
    use crate::tui::data::FeedUpdate;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use std::collections::BTreeMap;

    const WINDOWS: [&str; 4] = [
        "daily 00:00-24:00 UTC",
        "Sat 01:00-05:00 UTC",
        "Mon-Fri 22:00-02:00 +02:00",
        "daily 10:00-11:00 Europe/Paris",
    ];

    #[derive(Clone, Debug)]
    struct Case {
        own_max: Option<f64>,
        /// Lag DRS reports in CDC, then once more later.
        lag1: f64,
        lag2: f64,
        own_window: usize,
        /// The other member's window: the same as this one's gives the wave that window.
        other_window: usize,
        validation_passes: bool,
        validated_min_ago: i64,
        approved: bool,
        /// Minutes after a fixed Saturday 00:00 UTC.
        now_min: i64,
        /// Wave 1 (one database, `c`): started, approved.
        start1: bool,
        approve1: bool,
        /// The wave-level commands come from a viewer.
        viewer: bool,
    }

    fn arb_case() -> impl Strategy<Value = Case> {
        (
            prop::option::of(1.0f64..60.0),
            0.0f64..20.0,
            0.0f64..60.0,
            0..WINDOWS.len(),
            0..WINDOWS.len(),
            any::<bool>(),
            0i64..150,
            any::<bool>(),
            0i64..(7 * 24 * 60),
            (any::<bool>(), any::<bool>(), proptest::bool::weighted(0.2)),
        )
            .prop_map(
                |(
                    own_max,
                    lag1,
                    lag2,
                    own_window,
                    other_window,
                    validation_passes,
                    validated_min_ago,
                    approved,
                    now_min,
                    (start1, approve1, viewer),
                )| Case {
                    own_max,
                    lag1: lag1.round(),
                    lag2: lag2.round(),
                    own_window,
                    other_window,
                    validation_passes,
                    validated_min_ago,
                    approved,
                    now_min,
                    start1,
                    approve1,
                    viewer,
                },
            )
    }

    fn spec(id: &str, wave: u32, window: &str, own_max: Option<f64>) -> DatabaseSpec {
        let ep = |host: &str| Endpoint {
            host: host.into(),
            port: 5432,
            database: id.into(),
            user: "migrator".into(),
            password: SecretRef::Env("PGPASS_X".into()),
        };
        DatabaseSpec::new(id, Engine::Postgres, ep("src.example"), ep("rds.example"))
            .with_version("15")
            .with_size_gb(1.0)
            .with_owner("team-a")
            .with_window(window)
            .with_wave(Some(wave))
            .with_max_cutover_lag_s(own_max)
    }

    /// What the store does on append: a seq and a time for each event.
    fn stamp(log: &mut Vec<Event>, batch: Vec<NewEvent>, time: DateTime<Utc>) {
        for e in batch {
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

    fn command(action: Action, target: Target, role: Role, at: DateTime<Utc>) -> CommandRow {
        CommandRow {
            id: 1,
            time: at,
            who: "alice".into(),
            role,
            action,
            target,
            args: serde_json::Value::Null,
            status: CommandStatus::Pending,
            reason: None,
            decided_at: None,
        }
    }

    /// One action's preview and verdict: (preview allowed, its failing sentences, the engine's
    /// verdict).
    type Judged = (bool, Vec<String>, Result<String, String>);

    /// Wave-level actions the property compares, on the waves the case sets up (7: none).
    const WAVE_ACTIONS: [(Action, u32); 9] = [
        (Action::StartWave, 0),
        (Action::StartWave, 1),
        (Action::ApproveWindow, 0),
        (Action::ApproveWindow, 1),
        (Action::StartWave, 7),
        (Action::ApproveWindow, 7),
        (Action::Pause, 7),
        (Action::Cutover, 0),
        (Action::Cutover, 7),
    ];

    /// What the case's wave 1 (one member, `c`) says of admission: whether the engine left `c`
    /// registered, and whether the cockpit's context passes the `start` row for it.
    type Admission = (bool, bool);

    /// Run the case through the registry and the brain; return the cutover of `a` judged by
    /// both sides, then each of [`WAVE_ACTIONS`], then the admission of `c`.
    fn run(c: &Case) -> (Judged, Vec<Judged>, Admission) {
        let mut cfg = Config::default();
        cfg.engine.checks = ChecksMode::Sql;
        let settings = Settings::from_config(&cfg);
        let lim = Limits::from_config(&cfg);
        let ops = Role::Operator;
        let sat = Utc.with_ymd_and_hms(2026, 3, 7, 0, 0, 0).unwrap();
        let now = sat + Duration::minutes(c.now_min);
        let t0 = now - Duration::minutes(c.validated_min_ago + 30);
        let specs = vec![
            spec("a", 0, WINDOWS[c.own_window], c.own_max),
            spec("b", 0, WINDOWS[c.other_window], None),
            spec("c", 1, WINDOWS[c.other_window], None),
        ];
        let (reg, _) =
            plan_registration(&BTreeMap::new(), &BTreeMap::new(), &specs, "init", false).unwrap();
        let mut log = Vec::new();
        stamp(&mut log, reg, t0);

        // The engine from the store, as it loads after a start; a scripted DRS and checks
        // answer it until the database is in CDC, with more lag than any limit.
        let d = Derived::from_events(&log);
        let mut brain = Brain::new(settings, 1);
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
        let mut out = Vec::new();
        for (act, w, ok) in [
            (Action::StartWave, 0, true),
            (Action::ApproveWindow, 0, c.approved),
            (Action::StartWave, 1, c.start1),
            (Action::ApproveWindow, 1, c.approve1),
        ] {
            if ok {
                let cmd = command(act, Target::Wave(w), ops, t0);
                brain.on_command(&cmd, t0).unwrap();
            }
        }
        let mut world = World::new(t0);
        world.step_s = 1.0;
        world.lag_s = 100.0;
        world.validation.passed = c.validation_passes;
        assert!(drive_until(
            &mut brain,
            &mut world,
            "a",
            Stage::Cdc,
            50,
            &mut out
        ));
        // Then the lag falls (or not), validation runs when it is low enough, and the lag
        // moves once more.
        world.wall = now - Duration::minutes(c.validated_min_ago);
        world.lag_s = c.lag1;
        drive_until(&mut brain, &mut world, "a", Stage::Ready, 10, &mut out);
        world.lag_s = c.lag2;
        drive_until(&mut brain, &mut world, "a", Stage::Cutover, 2, &mut out);
        for (t, e) in out {
            stamp(&mut log, vec![e], t);
        }

        // The cockpit from the same log.
        let d = Derived::from_events(&log);
        let mut data = Data::default();
        data.apply(FeedUpdate {
            dbs: Some(d.dbs.values().cloned().collect()),
            waves: Some(d.waves.values().cloned().collect()),
            events: log.clone(),
            commands: Some(vec![]),
            ..Default::default()
        });
        let failing = |lines: Vec<GuardLine>| -> Vec<String> {
            lines
                .iter()
                .filter(|l| !l.ok)
                .map(|l| l.sentence.clone())
                .collect()
        };
        let st = data.db("a").unwrap().clone();
        let role = if c.viewer { Role::Viewer } else { ops };
        // Every preview first: an accepted command changes what the next one sees.
        let cut = failing(for_db(Action::Cutover, &st, &data, now, lim, ops));
        let waves: Vec<Vec<String>> = WAVE_ACTIONS
            .iter()
            .map(|&(a, w)| failing(for_wave(a, w, &data, now, lim, role)))
            .collect();
        let verdict = |b: &mut Brain, a: Action, t: Target, r: Role| {
            b.on_command(&command(a, t, r, now), now)
                .map_err(|r| r.reason)
        };
        // Each verdict on the state the previews saw: an accepted command moves databases.
        let v = verdict(
            &mut brain.clone(),
            Action::Cutover,
            Target::Db("a".into()),
            ops,
        );
        let cut = (cut.is_empty(), cut, v);
        let waves = WAVE_ACTIONS
            .iter()
            .zip(waves)
            .map(|(&(a, w), f)| {
                let v = verdict(&mut brain.clone(), a, Target::Wave(w), role);
                (f.is_empty(), f, v)
            })
            .collect();
        let st_c = data.db("c").unwrap();
        let admission = (
            st_c.stage == Stage::Registered,
            failing(for_db(Action::StartWave, st_c, &data, now, lim, ops)).is_empty(),
        );
        (cut, waves, admission)
    }

    /// The preview allows exactly when the engine accepts, and a refusal names every guard the
    /// preview showed failing.
    fn agree(what: &str, (allowed, failing, verdict): &Judged) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            *allowed,
            verdict.is_ok(),
            "{}: preview {:?} vs engine {:?}",
            what,
            failing,
            verdict
        );
        if let Err(why) = verdict {
            for s in failing {
                prop_assert!(
                    why.contains(s.as_str()),
                    "{}: engine said {:?}; preview {:?}",
                    what,
                    why,
                    s
                );
            }
        }
        Ok(())
    }

    /// A database's own lag limit (30 s) lets a cutover at 12 s of lag through: the dialog
    /// said "blocked" (it used the global 5 s) where the engine accepts.
    #[test]
    fn preview_uses_the_databases_own_lag_limit_and_window() {
        let c = Case {
            own_max: Some(30.0),
            lag1: 3.0,
            lag2: 12.0,
            own_window: 0,
            other_window: 1,
            validation_passes: true,
            validated_min_ago: 5,
            approved: true,
            now_min: 24 * 60 + 12 * 60,
            start1: false,
            approve1: false,
            viewer: false,
        };
        let ((allowed, failing, verdict), ..) = run(&c);
        assert!(verdict.is_ok(), "{verdict:?}");
        assert!(allowed, "{failing:?}");
        // Without its own limit, the global 5 s refuses it, on both sides, for the lag.
        let ((allowed, failing, verdict), ..) = run(&Case {
            own_max: None,
            ..c.clone()
        });
        assert!(!allowed && verdict.is_err());
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert!(failing[0].contains("lag 12"), "{failing:?}");
        // The wave has no window of its own (its members differ): the database's own window
        // (daily) is open on a Sunday noon; the other member's (Saturday night) would not be.
        let ((allowed, ..), ..) = run(&Case {
            own_window: 1,
            other_window: 0,
            ..c.clone()
        });
        assert!(!allowed, "Saturday's window is closed on Sunday noon");
    }

    /// Wave state: starting a started wave, approving an approved window, acting on a wave
    /// with no databases are refused on both sides, for the same reasons.
    #[test]
    fn wave_previews_follow_the_engines_wave_rules() {
        let c = Case {
            own_max: None,
            lag1: 1.0,
            lag2: 1.0,
            own_window: 0,
            other_window: 0,
            validation_passes: true,
            validated_min_ago: 5,
            approved: true,
            now_min: 60,
            start1: false,
            approve1: false,
            viewer: false,
        };
        let (_, waves, admission) = run(&c);
        assert_eq!(admission, (true, false), "wave 1 not started: c waits");
        let by = |a: Action, w: u32| {
            let i = WAVE_ACTIONS.iter().position(|x| *x == (a, w)).unwrap();
            waves[i].clone()
        };
        let (ok, failing, verdict) = by(Action::StartWave, 0);
        assert!(!ok && verdict.is_err());
        assert_eq!(failing, ["wave 0 is already started"]);
        let (ok, _, verdict) = by(Action::StartWave, 1);
        assert!(ok && verdict.is_ok(), "{verdict:?}");
        let (ok, failing, _) = by(Action::ApproveWindow, 0);
        assert!(!ok);
        assert_eq!(
            failing,
            ["wave 0's window daily 00:00-24:00 UTC is already approved (by alice)"]
        );
        let (ok, failing, verdict) = by(Action::Pause, 7);
        assert!(!ok);
        assert_eq!(
            failing,
            [
                "wave 7 has no databases (plan and init it first)",
                "none of the 0 databases of wave 7 passes its pause guards now"
            ]
        );
        assert_eq!(
            verdict.unwrap_err(),
            "pause blocked: wave 7 has no databases (plan and init it first); none of the 0 databases of wave 7 passes its pause guards now"
        );
        // Wave 0's cutover moves `a` (fresh validation, low lag, open window); wave 7 has
        // no databases.
        let (ok, failing, verdict) = by(Action::Cutover, 0);
        assert!(ok && verdict.is_ok(), "{failing:?} {verdict:?}");
        let (ok, failing, _) = by(Action::Cutover, 7);
        assert!(!ok);
        assert_eq!(
            failing,
            [
                "wave 7 has no databases (plan and init it first)",
                "none of the 0 databases of wave 7 passes its cutover guards now"
            ]
        );
        for (_, j) in WAVE_ACTIONS.iter().zip(&waves) {
            agree("wave", j).unwrap();
        }
    }

    /// A wave's cutover that would move none of its members is refused as a whole, by the
    /// wave's guard on both sides; the engine's refusal says why for the members.
    #[test]
    fn a_wave_cutover_moving_none_is_refused_by_its_guard() {
        let c = Case {
            own_max: None,
            lag1: 1.0,
            lag2: 30.0,
            own_window: 0,
            other_window: 0,
            validation_passes: true,
            validated_min_ago: 5,
            approved: true,
            now_min: 60,
            start1: true,
            approve1: false,
            viewer: false,
        };
        let (_, waves, admission) = run(&c);
        assert_eq!(admission, (false, false), "wave 1 started: c admitted");
        let i = WAVE_ACTIONS
            .iter()
            .position(|x| *x == (Action::Cutover, 0))
            .unwrap();
        let (ok, failing, verdict) = waves[i].clone();
        assert!(!ok);
        assert_eq!(
            failing,
            ["none of the 2 databases of wave 0 passes its cutover guards now"]
        );
        let why = verdict.unwrap_err();
        assert!(
            why.ends_with("(2 refused for now: a (lag 30 s > 5 s); b (lag 30 s > 5 s))"),
            "{why}"
        );
        agree("wave cutover", &waves[i]).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Over random lags, own limits, windows, validation ages and wave states (started,
        /// approved, empty, asked by a viewer), the dialog says "allowed" exactly when the
        /// engine accepts, and a refusal names the guards the dialog showed failing.
        #[test]
        fn preview_agrees_with_the_engine(c in arb_case()) {
            let (cut, waves, (waiting, start_ok)) = run(&c);
            // Admission: the engine admits `c` only into a started wave; while it waits, the
            // cockpit's context passes the start row exactly when its wave is started (then it
            // waits for a slot).
            if !c.start1 {
                prop_assert!(waiting, "c admitted into an unstarted wave");
            }
            if waiting {
                prop_assert_eq!(start_ok, c.start1);
            }
            agree("cutover", &cut)?;
            for ((a, w), j) in WAVE_ACTIONS.iter().zip(&waves) {
                agree(&format!("{} wave {w}", a.as_str()), j)?;
            }
        }
    }
}
