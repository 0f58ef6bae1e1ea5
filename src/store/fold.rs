//! Current state derived from events: one pure fold, used both incrementally (inside each
//! append's transaction, on the rows the batch touches) and to rebuild everything from seq 1.

use super::event::{Body, CheckReport, Registered, Updated};
use super::{DbState, Event, ValidationSummary, WaveEnd, WaveState};
use crate::inventory::DatabaseSpec;
use crate::lifecycle::Stage;
use serde_json::Value;
use std::collections::BTreeMap;

/// Derived state of the whole factory, or of the part of it an append touches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Derived {
    pub dbs: BTreeMap<String, DbState>,
    pub waves: BTreeMap<u32, WaveState>,
    /// The inventory record each database was last registered or updated with.
    pub specs: BTreeMap<String, DatabaseSpec>,
}

impl Derived {
    /// Fold every event of a log, in seq order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Derived {
        let mut d = Derived::default();
        for ev in events {
            apply(&mut d, ev);
        }
        d
    }
}

/// Apply one event. Never fails: an event about an unknown database, or a payload this build
/// cannot read, changes what it can and nothing else, so one odd event cannot wedge the cockpit.
pub fn apply(d: &mut Derived, ev: &Event) {
    apply_read(d, ev, ev.body())
}

/// [`apply`] with the event's payload already read (`ev.body()`): a reader that needs the
/// body itself reads it once.
pub fn apply_read(d: &mut Derived, ev: &Event, body: Body) {
    if let Some(st) = ev.db_id.as_deref().and_then(|id| d.dbs.get_mut(id)) {
        st.signoff.observe(&ev.kind, &body, ev.time);
    }
    match body {
        Body::Registered(Registered { spec }) | Body::Updated(Updated { spec, .. }) => {
            register(d, spec, ev)
        }
        Body::Removed(_) => {
            if let Some(id) = &ev.db_id {
                d.dbs.remove(id);
                d.specs.remove(id);
            }
        }
        Body::WavePlanned(p) => {
            if let Some(ws) = wave_of(d, ev, None) {
                ws.window = p.window;
            }
        }
        Body::WaveApproved(a) => {
            if let Some(ws) = wave_of(d, ev, a.wave) {
                ws.approved_by = Some(a.by.unwrap_or_else(|| ev.actor.clone()));
                ws.approved_at = Some(ev.time);
            }
        }
        Body::WaveStarted(a) => {
            if let Some(ws) = wave_of(d, ev, a.wave) {
                ws.started_at = Some(ev.time);
            }
        }
        Body::WaveDone(x) => {
            if let Some(ws) = wave_of(d, ev, Some(x.wave)) {
                ws.done = Some(WaveEnd {
                    at: ev.time,
                    members: x.members,
                    completed: x.completed,
                    aborted: x.aborted,
                    rolled_back: x.rolled_back,
                });
            }
        }
        body => db_event(d, ev, body),
    }
}

/// The spec carried by a `db.registered` / `db.updated` payload: `{"spec": {...}}`.
pub fn payload_spec(payload: &Value) -> Option<DatabaseSpec> {
    serde_json::from_value(payload.get("spec")?.clone()).ok()
}

fn register(d: &mut Derived, spec: DatabaseSpec, ev: &Event) {
    let id = spec.db_id.clone();
    if let Some(w) = spec.wave {
        d.waves.entry(w).or_insert_with(|| empty_wave(w));
    }
    match d.dbs.get_mut(&id) {
        Some(st) => {
            st.wave = spec.wave;
            st.engine = spec.engine;
            st.size_gb = spec.size_gb;
            st.owner = spec.owner.clone();
            st.criticality = spec.criticality;
            st.max_lag_s = spec.overrides.max_cutover_lag_s;
            st.business_window = spec.business_window.clone();
            st.mode = spec.mode;
            st.last_event_at = ev.time;
        }
        None => {
            d.dbs.insert(
                id.clone(),
                DbState {
                    db_id: id.clone(),
                    wave: spec.wave,
                    engine: spec.engine,
                    size_gb: spec.size_gb,
                    owner: spec.owner.clone(),
                    criticality: spec.criticality,
                    stage: Stage::Registered,
                    held_stage: None,
                    stage_since: ev.time,
                    progress_pct: 0.0,
                    lag_s: None,
                    validation: None,
                    precheck: None,
                    drs_job_id: None,
                    last_error: None,
                    last_event_at: ev.time,
                    attempts: 0,
                    max_lag_s: spec.overrides.max_cutover_lag_s,
                    business_window: spec.business_window.clone(),
                    signoff: Default::default(),
                    restore_passed_at: None,
                    restore_test: Default::default(),
                    mode: spec.mode,
                },
            );
        }
    }
    d.specs.insert(id, spec);
}

fn empty_wave(wave: u32) -> WaveState {
    WaveState {
        wave,
        window: String::new(),
        approved_by: None,
        approved_at: None,
        started_at: None,
        done: None,
    }
}

fn wave_of<'a>(d: &'a mut Derived, ev: &Event, named: Option<u32>) -> Option<&'a mut WaveState> {
    let w = ev.wave.or(named)?;
    Some(d.waves.entry(w).or_insert_with(|| empty_wave(w)))
}

fn summary(r: &CheckReport, ev: &Event) -> ValidationSummary {
    ValidationSummary {
        passed: r.passed,
        at: ev.time,
        summary: r.summary.clone(),
    }
}

fn db_event(d: &mut Derived, ev: &Event, body: Body) {
    let Some(st) = ev.db_id.as_ref().and_then(|id| d.dbs.get_mut(id)) else {
        return;
    };
    st.last_event_at = ev.time;
    if let Some(job) = body.drs_job_id() {
        st.drs_job_id = Some(job.to_string());
    }
    match body {
        Body::Stage(s) => {
            st.restore_passed_at = None;
            move_to(st, s.to, s.from.unwrap_or(st.stage), ev);
            if s.to == Stage::Failed {
                st.last_error = s.error.or(Some(s.reason).filter(|r| !r.is_empty()));
            }
        }
        Body::Progress(p) if p.pct.is_finite() => st.progress_pct = p.pct.clamp(0.0, 100.0),
        Body::Lag(l) if l.lag_s.is_finite() => st.lag_s = Some(l.lag_s),
        Body::Precheck(r) => st.precheck = Some(summary(&r, ev)),
        Body::Validation(r) => st.validation = Some(summary(&r, ev)),
        // A restore test's steps are not the migration's: their verdict is its own fact.
        Body::StepIntent(ref i) if i.step.starts_with("restore.") => {
            crate::restore::plan::brief(&mut st.restore_test, ev.time, &body)
        }
        Body::StepOutcome(ref o) if o.step.starts_with("restore.") => {
            if crate::restore::plan::passed_smoke(o) {
                st.restore_passed_at = Some(ev.time)
            }
            crate::restore::plan::brief(&mut st.restore_test, ev.time, &body)
        }
        Body::StepIntent(i) => st.attempts = i.attempt,
        // A step waiting for the replication did not fail: it leaves no error behind.
        Body::StepOutcome(o) if !o.ok && !o.waiting() => st.last_error = o.error,
        _ => {}
    }
}

/// Stage change. `failed` and `paused` remember the stage they interrupted; leaving them
/// forgets it. A new forward stage resets progress, attempts and the error it replaces.
fn move_to(st: &mut DbState, to: Stage, from: Stage, ev: &Event) {
    if to == st.stage {
        return;
    }
    match to {
        Stage::Failed | Stage::Paused => {
            // Pausing a failed database keeps the stage it failed in.
            st.held_stage = Some(
                st.held_stage
                    .filter(|_| st.stage == Stage::Failed)
                    .unwrap_or(from),
            );
        }
        _ => {
            st.held_stage = None;
            st.attempts = 0;
            if st.stage == Stage::Failed || to != Stage::FullLoad {
                st.last_error = None;
            }
            if to == Stage::FullLoad && st.stage != Stage::Paused {
                st.progress_pct = 0.0;
            }
        }
    }
    st.stage = to;
    st.stage_since = ev.time;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Endpoint, Engine};
    use crate::secret::SecretRef;
    use crate::store::kind;
    use chrono::{Duration, TimeZone, Utc};
    use serde_json::json;

    pub(crate) fn spec(id: &str, wave: Option<u32>) -> DatabaseSpec {
        let ep = |host: &str| Endpoint {
            host: host.into(),
            port: 5432,
            database: id.into(),
            user: "migrator".into(),
            password: SecretRef::Env("PGPASS_X".into()),
        };
        DatabaseSpec::new(id, Engine::Postgres, ep("src.example"), ep("rds.example"))
            .with_version("15")
            .with_size_gb(12.5)
            .with_owner("team-a")
            .with_window("Sat 01:00-05:00 UTC")
            .with_wave(wave)
    }

    struct Log {
        seq: i64,
        events: Vec<Event>,
    }

    impl Log {
        fn new() -> Log {
            Log {
                seq: 0,
                events: vec![],
            }
        }
        fn push(&mut self, db: Option<&str>, wave: Option<u32>, k: &str, payload: Value) -> &Event {
            self.seq += 1;
            self.events.push(Event {
                seq: self.seq,
                time: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
                    + Duration::seconds(self.seq),
                db_id: db.map(str::to_string),
                wave,
                kind: k.into(),
                payload,
                actor: "engine".into(),
                prev_hash: String::new(),
                hash: String::new(),
            });
            self.events.last().unwrap()
        }
        fn stage(&mut self, db: &str, from: &str, to: &str) {
            self.push(
                Some(db),
                None,
                kind::DB_STAGE,
                json!({"from": from, "to": to}),
            );
        }
        fn state(&self) -> Derived {
            Derived::from_events(&self.events)
        }
    }

    fn registered(ids: &[(&str, Option<u32>)]) -> Log {
        let mut log = Log::new();
        for (id, w) in ids {
            log.push(
                Some(id),
                *w,
                kind::DB_REGISTERED,
                json!({"spec": spec(id, *w)}),
            );
        }
        log
    }

    #[test]
    fn registration_creates_database_and_its_wave() {
        let log = registered(&[("a", Some(0)), ("b", None)]);
        let d = log.state();
        assert_eq!(d.dbs.len(), 2);
        assert_eq!(d.dbs["a"].stage, Stage::Registered);
        assert_eq!(d.dbs["a"].wave, Some(0));
        assert_eq!(d.waves.keys().copied().collect::<Vec<_>>(), vec![0]);
        assert_eq!(d.specs["b"].source.host, "src.example");
    }

    #[test]
    fn update_changes_fields_and_keeps_stage() {
        let mut log = registered(&[("a", Some(0))]);
        log.stage("a", "registered", "prechecks");
        let mut s = spec("a", Some(2));
        s.size_gb = 99.0;
        log.push(Some("a"), Some(2), kind::DB_UPDATED, json!({"spec": s}));
        let d = log.state();
        assert_eq!(d.dbs["a"].stage, Stage::Prechecks);
        assert_eq!(d.dbs["a"].size_gb, 99.0);
        assert_eq!(d.dbs["a"].wave, Some(2));
        assert!(d.waves.contains_key(&2));
    }

    #[test]
    fn failure_remembers_stage_and_retry_clears_it() {
        let mut log = registered(&[("a", None)]);
        log.stage("a", "registered", "prechecks");
        log.stage("a", "prechecks", "provisioning");
        log.push(
            Some("a"),
            None,
            kind::STEP_INTENT,
            json!({"step": "create_job", "attempt": 3}),
        );
        // A step waiting for the replication (the brain's `waiting` outcome) leaves no error;
        // a failed one does.
        let mut o = crate::store::event::StepOutcome::ok("create_job", 3);
        o.ok = false;
        o.error = Some("not decided: lag".into());
        o.class = Some(crate::store::event::StepOutcome::WAITING.into());
        let payload = |o: &crate::store::event::StepOutcome| serde_json::to_value(o).unwrap();
        log.push(Some("a"), None, kind::STEP_OUTCOME, payload(&o));
        assert_eq!(log.state().dbs["a"].last_error, None);
        o.class = Some("retryable".into());
        o.error = Some("timeout".into());
        log.push(Some("a"), None, kind::STEP_OUTCOME, payload(&o));
        assert_eq!(log.state().dbs["a"].last_error.as_deref(), Some("timeout"));
        log.push(
            Some("a"),
            None,
            kind::DB_STAGE,
            json!({"from": "provisioning", "to": "failed", "error": "quota exceeded"}),
        );
        let d = log.state();
        let a = &d.dbs["a"];
        assert_eq!(a.stage, Stage::Failed);
        assert_eq!(a.held_stage, Some(Stage::Provisioning));
        assert_eq!(a.last_error.as_deref(), Some("quota exceeded"));
        assert_eq!(a.attempts, 3);
        // Pausing a failed database keeps the stage it failed in.
        log.stage("a", "failed", "paused");
        assert_eq!(log.state().dbs["a"].held_stage, Some(Stage::Provisioning));
        log.stage("a", "paused", "provisioning");
        let a = log.state().dbs["a"].clone();
        assert_eq!(a.stage, Stage::Provisioning);
        assert_eq!(a.held_stage, None);
        assert_eq!(a.last_error, None);
        assert_eq!(a.attempts, 0);
    }

    #[test]
    fn progress_lag_checks_and_job_id() {
        let mut log = registered(&[("a", None)]);
        log.stage("a", "registered", "full_load");
        log.push(Some("a"), None, kind::DB_PROGRESS, json!({"pct": 140.0}));
        log.push(
            Some("a"),
            None,
            kind::STEP_OUTCOME,
            json!({"step": "create_job", "ok": true, "drs_job_id": "job-1"}),
        );
        log.push(Some("a"), None, kind::DB_LAG, json!({"lag_s": 2.5}));
        log.push(
            Some("a"),
            None,
            kind::DB_PRECHECK,
            json!({"passed": true, "summary": "6/6"}),
        );
        log.push(
            Some("a"),
            None,
            kind::DB_VALIDATION,
            json!({"passed": false, "summary": "1 diff"}),
        );
        let last = log.events.last().unwrap().time;
        let a = log.state().dbs["a"].clone();
        assert_eq!(a.progress_pct, 100.0);
        assert_eq!(a.drs_job_id.as_deref(), Some("job-1"));
        assert_eq!(a.lag_s, Some(2.5));
        assert_eq!(a.precheck.as_ref().map(|p| p.passed), Some(true));
        let v = a.validation.unwrap();
        assert_eq!(
            (v.passed, v.summary.as_str(), v.at),
            (false, "1 diff", last)
        );
        assert_eq!(a.last_event_at, last);
    }

    #[test]
    fn wave_events_and_removal() {
        let mut log = registered(&[("a", Some(1))]);
        log.push(
            None,
            Some(1),
            kind::WAVE_PLANNED,
            json!({"window": "Sat 01:00-05:00 UTC"}),
        );
        log.push(None, Some(1), kind::WAVE_APPROVED, json!({"by": "alice"}));
        log.push(None, Some(1), kind::WAVE_STARTED, json!({}));
        log.push(Some("a"), None, kind::DB_REMOVED, json!({}));
        let d = log.state();
        let w = &d.waves[&1];
        assert_eq!(w.window, "Sat 01:00-05:00 UTC");
        assert_eq!(w.approved_by.as_deref(), Some("alice"));
        assert!(w.approved_at.is_some() && w.started_at.is_some());
        assert!(d.dbs.is_empty() && d.specs.is_empty());
    }

    #[test]
    fn odd_events_change_nothing() {
        let mut log = registered(&[("a", None)]);
        let before = log.state();
        log.push(Some("ghost"), None, kind::DB_STAGE, json!({"to": "cdc"}));
        log.push(Some("a"), None, kind::DB_STAGE, json!({"to": "warp_speed"}));
        log.push(
            Some("a"),
            None,
            kind::DB_REGISTERED,
            json!({"spec": "nope"}),
        );
        log.push(None, None, kind::WAVE_APPROVED, json!(null));
        let mut after = log.state();
        // Only the timestamp of the last event seen for "a" moves.
        after.dbs.get_mut("a").unwrap().last_event_at = before.dbs["a"].last_event_at;
        assert_eq!(after, before);
    }

    #[test]
    fn folding_in_pieces_equals_folding_at_once() {
        let mut log = registered(&[("a", Some(0)), ("b", Some(0))]);
        log.stage("a", "registered", "prechecks");
        log.stage("b", "registered", "prechecks");
        log.push(None, Some(0), kind::WAVE_APPROVED, json!({}));
        log.stage("a", "prechecks", "failed");
        let whole = log.state();
        let (first, rest) = log.events.split_at(3);
        let mut d = Derived::from_events(first);
        for e in rest {
            apply(&mut d, e);
        }
        assert_eq!(d, whole);
    }
}
