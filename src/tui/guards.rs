//! The guards shown in an action dialog and in the detail view: what the engine will check
//! before accepting the command, as sentences, computed from what the cockpit already knows.
//! The engine re-checks them on its side; this is the operator's preview.

use super::data::Data;
use super::window;
use crate::lifecycle::{self, Stage};
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
        return lifecycle::guards(action, None, &ctx)
            .into_iter()
            .map(line)
            .collect();
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

fn line(gd: lifecycle::Guard) -> GuardLine {
    g(gd.name, gd.ok, gd.sentence)
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
    let f = lifecycle::facts::Facts {
        db_id: &d.db_id,
        wave: d.wave,
        stage: d.stage,
        lag_s: d.lag_s,
        own_max_lag_s: d.max_lag_s,
        own_window: &d.business_window,
        validation: d.validation.as_ref().map(|v| (v.passed, v.at)),
        wave_window: wave.map(|w| w.window.as_str()).unwrap_or(""),
        wave_approved: wave.is_some_and(|w| w.approved_by.is_some()),
        criticality: d.criticality,
        signoff: &d.signoff,
    };
    lifecycle::facts::guard_context(&f, lim, role, now)
}

pub fn for_wave(
    action: Action,
    n: u32,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let mut out = vec![match role {
        Role::Operator => g("role", true, "operator session"),
        Role::Viewer => g("role", false, "read-only viewer session"),
    }];
    let Some(w) = data.wave(n) else {
        out.push(g("wave", false, format!("wave {n} is not planned")));
        return out;
    };
    let members = data.dbs.iter().filter(|d| d.wave == Some(n)).count();
    out.push(g(
        "members",
        members > 0,
        format!("wave {n} has {members} databases"),
    ));
    match action {
        Action::ApproveWindow => {
            out.push(match &w.approved_by {
                Some(who) => g("not_approved", false, format!("already approved by {who}")),
                None => g(
                    "not_approved",
                    true,
                    format!("window {} not yet approved", w.window),
                ),
            });
            if let Ok(st) = window::status(&w.window, now) {
                // Informational: approving ahead of the window is the normal case.
                out.push(g("window", true, st.sentence()));
            }
        }
        Action::StartWave => out.push(match w.started_at {
            Some(t) => g(
                "not_started",
                false,
                format!("already started {}", t.format("%Y-%m-%d %H:%M UTC")),
            ),
            None => g("not_started", true, "not started yet"),
        }),
        Action::Cutover => out.extend(wave_cutover(n, data, now, lim, role)),
        _ => {}
    }
    out
}

/// A wave's cutover runs for the members whose own cutover guards pass when the engine
/// decides; the others are refused with their reasons and can be asked again later. The
/// preview says how many go now and why the rest wait.
fn wave_cutover(
    n: u32,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let mut ready = 0;
    let mut waiting: Vec<String> = Vec::new();
    let members: Vec<&DbState> = data.dbs.iter().filter(|d| d.wave == Some(n)).collect();
    for d in &members {
        let lines = for_db(Action::Cutover, d, data, now, lim, role);
        match lines.iter().find(|l| !l.ok) {
            None => ready += 1,
            Some(l) => waiting.push(format!("{} ({})", d.db_id, l.sentence)),
        }
    }
    let mut out = vec![g(
        "members_ready",
        ready > 0,
        format!(
            "{ready} of {} databases pass their cutover guards now",
            members.len()
        ),
    )];
    if !waiting.is_empty() {
        let shown: Vec<&str> = waiting.iter().take(3).map(String::as_str).collect();
        let more = waiting.len().saturating_sub(shown.len());
        out.push(g(
            "members_waiting",
            true,
            format!(
                "{} will be refused for now: {}{}",
                waiting.len(),
                shown.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
    }
    out
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
    }
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
    use crate::inventory::{Criticality, DatabaseSpec, Endpoint, Engine, Overrides};
    use crate::secret::SecretRef;
    use crate::store::fold::Derived;
    use crate::store::model::{CommandRow, CommandStatus, Event, NewEvent};
    use crate::store::plan_registration;
    use crate::tui::data::FeedUpdate;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
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
                },
            )
    }

    fn spec(id: &str, window: &str, own_max: Option<f64>) -> DatabaseSpec {
        let ep = |host: &str| Endpoint {
            host: host.into(),
            port: 5432,
            database: id.into(),
            user: "migrator".into(),
            password: SecretRef::Env("PGPASS_X".into()),
        };
        DatabaseSpec {
            db_id: id.into(),
            engine: Engine::Postgres,
            engine_version: "15".into(),
            size_gb: 1.0,
            owner: "team-a".into(),
            criticality: Criticality::Low,
            business_window: window.into(),
            wave: Some(0),
            source: ep("src.example"),
            target: ep("rds.example"),
            tags: vec![],
            overrides: Overrides {
                max_cutover_lag_s: own_max,
            },
            extra: Default::default(),
        }
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

    fn command(action: Action, at: DateTime<Utc>) -> CommandRow {
        CommandRow {
            id: 1,
            time: at,
            who: "alice".into(),
            role: Role::Operator,
            action,
            target: match action {
                Action::ApproveWindow | Action::StartWave => Target::Wave(0),
                _ => Target::Db("a".into()),
            },
            args: serde_json::Value::Null,
            status: CommandStatus::Pending,
            reason: None,
            decided_at: None,
        }
    }

    /// Run the case through the registry and the brain; return (preview allowed, the preview's
    /// failing sentences, the engine's verdict).
    fn run(c: &Case) -> (bool, Vec<String>, Result<String, String>) {
        let mut cfg = Config::default();
        cfg.engine.checks = ChecksMode::Sql;
        let settings = Settings::from_config(&cfg);
        let lim = Limits {
            max_lag_s: cfg.thresholds.max_cutover_lag_s,
            validation_max_age_min: cfg.thresholds.validation_max_age_min,
            signoff: crate::signoff::Needs::from_config(&cfg.signoff),
        };
        let sat = Utc.with_ymd_and_hms(2026, 3, 7, 0, 0, 0).unwrap();
        let now = sat + Duration::minutes(c.now_min);
        let t0 = now - Duration::minutes(c.validated_min_ago + 30);
        let specs = vec![
            spec("a", WINDOWS[c.own_window], c.own_max),
            spec("b", WINDOWS[c.other_window], None),
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
        for (act, ok) in [
            (Action::StartWave, true),
            (Action::ApproveWindow, c.approved),
        ] {
            if ok {
                brain.on_command(&command(act, t0), t0).unwrap();
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
        let st = data.db("a").unwrap().clone();
        let _ = Stage::Ready;
        let lines = for_db(Action::Cutover, &st, &data, now, lim, Role::Operator);
        let failing: Vec<String> = lines
            .iter()
            .filter(|l| !l.ok)
            .map(|l| l.sentence.clone())
            .collect();
        let verdict = brain.on_command(&command(Action::Cutover, now), now);
        (failing.is_empty(), failing, verdict.map_err(|r| r.reason))
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
        };
        let (allowed, failing, verdict) = run(&c);
        assert!(verdict.is_ok(), "{verdict:?}");
        assert!(allowed, "{failing:?}");
        // Without its own limit, the global 5 s refuses it, on both sides, for the lag.
        let (allowed, failing, verdict) = run(&Case {
            own_max: None,
            ..c.clone()
        });
        assert!(!allowed && verdict.is_err());
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert!(failing[0].contains("lag 12"), "{failing:?}");
        // The wave has no window of its own (its members differ): the database's own window
        // (daily) is open on a Sunday noon; the other member's (Saturday night) would not be.
        let (allowed, ..) = run(&Case {
            own_window: 1,
            other_window: 0,
            ..c.clone()
        });
        assert!(!allowed, "Saturday's window is closed on Sunday noon");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Over random lags, own limits, windows, validation ages and wave approvals, the
        /// dialog says "allowed" exactly when the engine accepts, and a refusal names the
        /// guards the dialog showed failing.
        #[test]
        fn preview_agrees_with_the_engine(c in arb_case()) {
            let (allowed, failing, verdict) = run(&c);
            prop_assert_eq!(allowed, verdict.is_ok(), "preview {:?} vs engine {:?}", failing, verdict);
            if let Err(why) = verdict {
                for s in &failing {
                    prop_assert!(why.contains(s.as_str()), "engine said {:?}; preview {:?}", why, s);
                }
            }
        }
    }
}
