//! What the cockpit shows, kept in memory: the states the store derives, the tail of the event
//! log, and per-database details folded from events (stage times, checks, lag history). Fed
//! incrementally by the refresh task; never touches I/O itself.

use crate::lifecycle::Stage;
use crate::program::StageMark;
use crate::store::event::Body;
use crate::store::model::{CommandRow, DbState, Event, WaveState};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

/// Events kept for the Events view and the detail tail.
pub const EVENTS_KEEP: usize = 5000;
/// Lag points kept per database for the sparkline.
pub const LAG_KEEP: usize = 240;

pub use crate::store::report::{CheckLine, TableLine};
use crate::store::val_progress::{MeasuredRate, TableProgress};

/// Details of one database that only its events carry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DbExtra {
    /// When each stage was entered, in order.
    pub stage_entered: Vec<(Stage, DateTime<Utc>)>,
    pub precheck_passed: Option<bool>,
    pub precheck_summary: String,
    pub prechecks: Vec<CheckLine>,
    /// The tables of the last validation, failed ones first.
    pub validation_tables: Vec<TableLine>,
    /// What else failed in the last validation (schema, smoke tests, rules, errors).
    pub validation_other: Vec<String>,
    pub lag: VecDeque<(DateTime<Utc>, f64)>,
    /// Highest event seq folded in, so a full reload and the live stream never double-count.
    pub folded_seq: i64,
    pub mbps: Option<f64>,
    pub drs_status: Option<String>,
    /// Its restore tests (the Restore tests line).
    pub restore: crate::restore::Book,
    /// The write outage its last cutover was expected to cause (offline: the cutover command's
    /// `args.expected_outage_s`, as the engine recorded the accepted command) and the one the
    /// engine measured when the cutover ended.
    pub expected_outage_s: Option<f64>,
    pub outage_s: Option<f64>,
}

/// Lag samples (time, seconds), oldest first.
pub type LagSeries = Vec<(DateTime<Utc>, f64)>;

/// A batch from the refresh task. `None` means "unchanged since the last batch".
#[derive(Clone, Debug, Default)]
pub struct FeedUpdate {
    pub dbs: Option<Vec<DbState>>,
    /// States that changed since the last batch (merged by db_id).
    pub changed_dbs: Vec<DbState>,
    /// Full history of one database (the one in the detail view).
    pub history: Option<(String, Vec<Event>)>,
    /// Lag samples of one database, from the store's lag series.
    pub lag: Option<(String, LagSeries)>,
    pub waves: Option<Vec<WaveState>>,
    pub events: Vec<Event>,
    pub commands: Option<Vec<CommandRow>>,
    /// The store could not be read: shown in the header until the next good poll.
    pub error: Option<String>,
    /// Engine lease holder: `Some(None)` means no engine holds the store.
    pub engine: Option<Option<String>>,
    /// Stage marks read from the store (the whole log on the first poll), for the program pace.
    pub marks: Vec<StageMark>,
    /// Every alert event of the log (first poll only): alerts raised before the tail still stand.
    pub alerts: Vec<Event>,
    /// The tables of every validation running now (the whole set, when it changed).
    pub validations: Option<Vec<TableProgress>>,
    /// The validation rates the store measured, newest first (when they changed).
    pub measured_rates: Option<Vec<MeasuredRate>>,
}

#[derive(Clone, Debug, Default)]
pub struct Data {
    /// Sorted by db_id.
    pub dbs: Vec<DbState>,
    pub index: HashMap<String, usize>,
    /// Indexes into `dbs` by wave (`None`: in no wave), in `dbs` order, rebuilt when the
    /// databases change: the Waves view reads a wave's members without a pass over all 2000
    /// databases for each row it draws.
    pub by_wave: HashMap<Option<u32>, Vec<usize>>,
    pub waves: Vec<WaveState>,
    pub extra: HashMap<String, DbExtra>,
    /// The tail of the log, each event read once (frames filter and draw thousands).
    pub events: VecDeque<Shown>,
    pub commands: Vec<CommandRow>,
    pub last_seq: i64,
    /// Bumped on every change, so views can cache derived lists.
    pub version: u64,
    pub store_error: Option<String>,
    /// Who holds the engine lease; `None` until the first look.
    pub engine: Option<Option<String>>,
    /// Every stage change the store holds, in seq order: what the program's pace is measured
    /// from (the event tail keeps only the last few thousand events).
    pub marks: Vec<StageMark>,
    /// Highest seq in `marks`, so the first full read and the live stream never double-count.
    pub marks_seq: i64,
    /// The alerts standing and recently cleared, from every alert event (not just the tail).
    pub alerts: crate::alerts::board::Board,
    /// Validations running now: their tables by db_id, in table order.
    pub validating: HashMap<String, Vec<TableProgress>>,
    /// The validation rates earlier validations measured (`Store::validation_rates`): what an
    /// offline cutover's expected outage is estimated at.
    pub measured_rates: Vec<MeasuredRate>,
}

impl Data {
    /// Apply a batch; returns whether anything visible changed.
    pub fn apply(&mut self, u: FeedUpdate) -> bool {
        let mut changed = false;
        if let Some(mut dbs) = u.dbs {
            dbs.sort_by(|a, b| a.db_id.cmp(&b.db_id));
            if dbs != self.dbs {
                self.index = dbs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (d.db_id.clone(), i))
                    .collect();
                self.dbs = dbs;
                changed = true;
            }
        }
        if !u.changed_dbs.is_empty() {
            let mut added = false;
            for d in u.changed_dbs {
                match self.index.get(&d.db_id) {
                    Some(&i) => {
                        if self.dbs[i] != d {
                            self.dbs[i] = d;
                            changed = true;
                        }
                    }
                    None => {
                        self.dbs.push(d);
                        added = true;
                    }
                }
            }
            if added {
                self.dbs.sort_by(|a, b| a.db_id.cmp(&b.db_id));
                self.index = self
                    .dbs
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (d.db_id.clone(), i))
                    .collect();
                changed = true;
            }
        }
        if changed {
            self.by_wave = by_wave(&self.dbs);
        }
        if let Some((db, events)) = u.history {
            let keep_lag = self
                .extra
                .get(&db)
                .map(|x| x.lag.clone())
                .unwrap_or_default();
            // A wave's cutover command is a wave event: the database's history does not hold
            // what it expected of this database.
            let keep_expected = self.extra.get(&db).and_then(|x| x.expected_outage_s);
            let mut x = DbExtra {
                lag: keep_lag,
                ..Default::default()
            };
            for e in &events {
                fold_into(&mut x, e);
            }
            x.expected_outage_s = x.expected_outage_s.or(keep_expected);
            self.extra.insert(db, x);
            changed = true;
        }
        if let Some(rows) = u.validations {
            let mut by_db: HashMap<String, Vec<TableProgress>> = HashMap::new();
            for r in rows {
                by_db.entry(r.db_id.clone()).or_default().push(r);
            }
            if by_db != self.validating {
                self.validating = by_db;
                changed = true;
            }
        }
        if let Some(rates) = u.measured_rates {
            if rates != self.measured_rates {
                self.measured_rates = rates;
                changed = true;
            }
        }
        if let Some((db, series)) = u.lag {
            let x = self.extra.entry(db).or_default();
            let new: VecDeque<_> = series.into_iter().rev().take(LAG_KEEP).rev().collect();
            if new != x.lag {
                x.lag = new;
                changed = true;
            }
        }
        if let Some(mut waves) = u.waves {
            waves.sort_by_key(|w| w.wave);
            if waves != self.waves {
                self.waves = waves;
                changed = true;
            }
        }
        if let Some(cmds) = u.commands {
            if cmds != self.commands {
                self.commands = cmds;
                changed = true;
            }
        }
        if let Some(e) = u.engine {
            if self.engine.as_ref() != Some(&e) {
                self.engine = Some(e);
                changed = true;
            }
        }
        if u.error != self.store_error {
            self.store_error = u.error;
            changed = true;
        }
        for m in u.marks {
            if m.seq > self.marks_seq {
                self.marks_seq = m.seq;
                self.marks.push(m);
                changed = true;
            }
        }
        for e in u.alerts.iter().chain(&u.events) {
            if crate::store::kind::ALERTS.contains(&e.kind.as_str()) && e.seq > self.alerts.seq {
                self.alerts.apply(e, &e.body());
                changed = true;
            }
        }
        for e in u.events {
            if e.kind == crate::store::kind::DB_STAGE && e.seq > self.marks_seq {
                if let (Body::Stage(s), Some(db)) = (e.body(), &e.db_id) {
                    self.marks_seq = e.seq;
                    self.marks.push(StageMark {
                        seq: e.seq,
                        time: e.time,
                        db_id: db.clone(),
                        to: s.to,
                    });
                }
            }
            if e.seq <= self.last_seq {
                continue;
            }
            self.last_seq = e.seq;
            self.fold(&e);
            self.events.push_back(Shown::of(e));
            if self.events.len() > EVENTS_KEEP {
                self.events.pop_front();
            }
            changed = true;
        }
        if changed {
            self.version += 1;
        }
        changed
    }

    fn fold(&mut self, e: &Event) {
        let Some(db) = &e.db_id else {
            // A wave's cutover carries what it expects of each offline member.
            if let Body::CommandAccepted(c) = e.body() {
                for (db, s) in crate::plan::expected::of_command(&c) {
                    self.extra.entry(db).or_default().expected_outage_s = Some(s);
                }
            }
            return;
        };
        fold_into(self.extra.entry(db.clone()).or_default(), e);
    }
}

fn by_wave(dbs: &[DbState]) -> HashMap<Option<u32>, Vec<usize>> {
    let mut m: HashMap<Option<u32>, Vec<usize>> = HashMap::new();
    for (i, d) in dbs.iter().enumerate() {
        m.entry(d.wave).or_default().push(i);
    }
    m
}

fn fold_into(x: &mut DbExtra, e: &Event) {
    if e.seq <= x.folded_seq {
        return;
    }
    x.folded_seq = e.seq;
    if e.kind == crate::store::kind::STEP_INTENT || e.kind == crate::store::kind::STEP_OUTCOME {
        x.restore.observe(e);
    }
    match e.body() {
        Body::Registered(_) if x.stage_entered.is_empty() => {
            x.stage_entered.push((Stage::Registered, e.time));
        }
        Body::Stage(s) => {
            x.stage_entered.push((s.to, e.time));
            if s.outage_s.is_some() {
                x.outage_s = s.outage_s;
            }
        }
        Body::CommandAccepted(c) => {
            let mine = e.db_id.as_deref();
            if let Some((_, s)) = crate::plan::expected::of_command(&c)
                .into_iter()
                .find(|(db, _)| Some(db.as_str()) == mine)
            {
                x.expected_outage_s = Some(s);
            }
        }
        Body::Lag(l) => {
            x.lag.push_back((e.time, l.lag_s));
            if x.lag.len() > LAG_KEEP {
                x.lag.pop_front();
            }
        }
        Body::Progress(p) => {
            if let Some(m) = p.mbps {
                x.mbps = Some(m);
            }
        }
        Body::JobStatus(j) => x.drs_status = Some(j.status.as_str().to_string()),
        Body::Precheck(r) => {
            x.precheck_passed = Some(r.passed);
            x.prechecks = r.precheck().lines();
            x.precheck_summary = r.summary;
        }
        Body::Validation(r) => {
            let detail = r.validation();
            x.validation_tables = detail.tables();
            x.validation_other = detail.other_failures();
        }
        _ => {}
    }
}

impl Data {
    pub fn db(&self, id: &str) -> Option<&DbState> {
        self.index.get(id).and_then(|i| self.dbs.get(*i))
    }

    /// The guards the engine recorded when it refused command `id` (newest events first).
    pub fn refusal_guards(&self, id: i64) -> Option<Vec<crate::store::event::GuardLine>> {
        self.events
            .iter()
            .rev()
            .filter(|s| s.event.kind == crate::store::kind::COMMAND_REJECTED)
            .find_map(|s| match s.event.body() {
                Body::CommandRejected(c) if c.command_id == id && !c.guards.is_empty() => {
                    Some(c.guards)
                }
                _ => None,
            })
    }

    /// The databases of wave `n` (`None`: those in no wave), in db_id order.
    pub fn members(&self, n: Option<u32>) -> impl Iterator<Item = &DbState> + '_ {
        self.by_wave
            .get(&n)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.dbs.get(i))
    }

    pub fn wave(&self, n: u32) -> Option<&WaveState> {
        self.waves.iter().find(|w| w.wave == n)
    }
}

/// How alarming an event is, for colouring and the Events filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warn,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

/// An event of the tail with what the views show of it, read once when it arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub event: Event,
    pub severity: Severity,
    pub text: String,
    /// Frequent telemetry, hidden from the Events view unless asked for (`v`).
    pub telemetry: bool,
}

impl Shown {
    pub fn of(event: Event) -> Shown {
        let body = event.body();
        Shown {
            severity: severity(&body),
            text: describe(&event, &body),
            telemetry: matches!(body, Body::Lag(_) | Body::Progress(_)),
            event,
        }
    }
}

pub fn severity(b: &Body) -> Severity {
    match b {
        Body::CommandRejected(_) => Severity::Fail,
        Body::StepOutcome(o) if !o.ok && !o.waiting() => Severity::Warn,
        Body::Precheck(r) | Body::Validation(r) if !r.passed => Severity::Fail,
        Body::Stage(s) => match s.to {
            Stage::Failed | Stage::Aborted => Severity::Fail,
            Stage::Paused | Stage::RolledBack => Severity::Warn,
            _ => Severity::Info,
        },
        Body::Unreadable(_) | Body::AlertRaised(_) | Body::NotifyGivenUp(_) => Severity::Warn,
        _ => Severity::Info,
    }
}

/// One line of text for an event: what happened.
pub fn describe(e: &Event, b: &Body) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    match b {
        Body::Stage(s) => {
            let from = s.from.map(|f| f.as_str()).unwrap_or("");
            let mut t = format!("{from} -> {}", s.to.as_str());
            if !s.reason.is_empty() {
                t.push_str(": ");
                t.push_str(&s.reason);
            }
            t
        }
        Body::Lag(l) => format!("lag {}", super::fmt::lag(l.lag_s)),
        Body::JobStatus(j) => format!("DRS job status {}", j.status),
        Body::Progress(p) => format!("full load {:.0}%", p.pct),
        Body::StepIntent(i) => format!("{} starting (attempt {})", i.step, i.attempt),
        Body::StepOutcome(o) if o.ok => format!("{} done", o.step),
        Body::StepOutcome(o) if o.waiting() => {
            format!("{} waiting for CDC position: {}", o.step, opt(&o.error))
        }
        Body::StepOutcome(o) => format!("{} failed: {}", o.step, opt(&o.error)),
        Body::Precheck(r) | Body::Validation(r) => format!(
            "{} {}",
            if r.passed { "passed:" } else { "FAILED:" },
            r.summary
        ),
        Body::CommandAccepted(c) | Body::CommandRejected(c) => {
            let what = c.action.map(|a| a.as_str()).unwrap_or("?");
            let verdict = if matches!(b, Body::CommandAccepted(_)) {
                "accepted"
            } else {
                "rejected"
            };
            match c.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(why) => format!("{what} {verdict}: {why}"),
                None => format!("{what} {verdict}"),
            }
        }
        Body::AlertRaised(a) => format!("ALERT {}: {} (threshold {})", a.rule, a.what, a.threshold),
        Body::AlertCleared(a) => format!("alert {} cleared: {}", a.rule, a.what),
        Body::AlertAcked(a) => format!("alert {} acknowledged by {}", a.rule, a.by),
        Body::NotifyGivenUp(g) => format!(
            "notification to {} given up after {} attempt(s): {} (event {} {})",
            g.target, g.attempts, g.reason, g.about_seq, g.about
        ),
        Body::Registered(r) => format!(
            "registered: {} {} GB, owner {}",
            r.spec.engine.as_str(),
            r.spec.size_gb,
            r.spec.owner
        ),
        Body::Updated(u) => format!(
            "updated: {} {} GB, owner {}",
            u.spec.engine.as_str(),
            u.spec.size_gb,
            u.spec.owner
        ),
        Body::Removed(r) => format!("removed: {}", r.reason),
        Body::WavePlanned(p) => format!("planned, window {}", p.window),
        Body::WaveApproved(a) => format!(
            "window approved by {}",
            a.by.clone().unwrap_or_else(|| e.actor.clone())
        ),
        Body::WaveStarted(_) => format!("started by {}", e.actor),
        Body::WaveDone(d) => format!("wave done: {}", d.summary()),
        Body::Signoff(s) => match s.note.as_deref().filter(|n| !n.is_empty()) {
            Some(note) => format!("{} sign-off by {}: {note}", s.role.as_str(), s.who),
            None => format!("{} sign-off by {}", s.role.as_str(), s.who),
        },
        Body::Unreadable(why) => format!("unreadable {} event: {why}", e.kind),
        Body::Unknown => format!("{} (unknown kind): {}", e.kind, scalars(&e.payload)),
    }
}

/// `key=value` for the scalar fields of a payload: never whole nested objects (which could be
/// large, and are not for a one-line list).
fn scalars(p: &serde_json::Value) -> String {
    let Some(obj) = p.as_object() else {
        return String::new();
    };
    let mut out: Vec<String> = Vec::new();
    for (k, v) in obj {
        match v {
            serde_json::Value::String(s) => out.push(format!("{k}={s}")),
            serde_json::Value::Number(n) => out.push(format!("{k}={n}")),
            serde_json::Value::Bool(b) => out.push(format!("{k}={b}")),
            _ => {}
        }
        if out.len() >= 6 {
            break;
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::event::StageChanged;
    use crate::store::model::NewEvent;
    use crate::tui::fixture;

    #[test]
    fn changed_states_merge_and_history_does_not_double_count() {
        let mut d = fixture::small();
        let v0 = d.version;
        let mut st = d.db("pay-ledger-01").unwrap().clone();
        st.lag_s = Some(9.5);
        assert!(d.apply(FeedUpdate {
            changed_dbs: vec![st],
            ..Default::default()
        }));
        assert_eq!(d.db("pay-ledger-01").unwrap().lag_s, Some(9.5));
        assert!(d.version > v0);
        // Nothing new: nothing changes.
        assert!(!d.apply(FeedUpdate::default()));

        // The detail view reloads the full history; the stream then repeats the last events.
        let evs: Vec<Event> = fixture::small_log()
            .into_iter()
            .filter(|e| e.db_id.as_deref() == Some("pay-ledger-01"))
            .collect();
        let stages = d.extra["pay-ledger-01"].stage_entered.len();
        d.apply(FeedUpdate {
            history: Some(("pay-ledger-01".into(), evs.clone())),
            ..Default::default()
        });
        assert_eq!(d.extra["pay-ledger-01"].stage_entered.len(), stages);
        d.apply(FeedUpdate {
            events: evs,
            ..Default::default()
        });
        assert_eq!(
            d.extra["pay-ledger-01"].stage_entered.len(),
            stages,
            "old seqs are ignored"
        );

        // A new database appears through changed states and is found by id.
        let mut n = d.db("pay-ledger-01").unwrap().clone();
        n.db_id = "aaa-first".into();
        d.apply(FeedUpdate {
            changed_dbs: vec![n],
            ..Default::default()
        });
        assert_eq!(d.dbs[0].db_id, "aaa-first");
        assert_eq!(d.db("pay-ledger-01").unwrap().lag_s, Some(9.5));
    }

    /// The by-wave index follows every way the databases change: a full list, a state that
    /// moves to another wave, a database that appears (which shifts every index after it).
    #[test]
    fn members_by_wave_follow_the_states() {
        let by_scan = |d: &Data, n: Option<u32>| -> Vec<String> {
            d.dbs
                .iter()
                .filter(|x| x.wave == n)
                .map(|x| x.db_id.clone())
                .collect()
        };
        let by_index = |d: &Data, n: Option<u32>| -> Vec<String> {
            d.members(n).map(|x| x.db_id.clone()).collect()
        };
        let mut d = fixture::small();
        let waves = |d: &Data| {
            let mut w: Vec<Option<u32>> = d.dbs.iter().map(|x| x.wave).collect();
            w.push(Some(99));
            w.dedup();
            w
        };
        let same = |d: &Data| {
            for n in waves(d) {
                assert_eq!(by_index(d, n), by_scan(d, n), "wave {n:?}");
            }
        };
        same(&d);
        assert!(!by_index(&d, Some(0)).is_empty());
        let mut moved = d.db("pay-ledger-01").unwrap().clone();
        moved.wave = Some(99);
        let mut new = moved.clone();
        new.db_id = "aaa-first".into();
        new.wave = Some(0);
        d.apply(FeedUpdate {
            changed_dbs: vec![moved, new],
            ..Default::default()
        });
        assert_eq!(by_index(&d, Some(99)), vec!["pay-ledger-01".to_string()]);
        assert!(by_index(&d, Some(0)).contains(&"aaa-first".to_string()));
        same(&d);
    }

    #[test]
    fn severities_and_descriptions() {
        let shown: Vec<Shown> = fixture::small_log()
            .into_iter()
            .filter(|e| e.db_id.as_deref() == Some("pay-ledger-01"))
            .map(Shown::of)
            .collect();
        assert!(
            shown.iter().all(|s| s.severity == Severity::Info),
            "{:?}",
            shown.iter().find(|s| s.severity != Severity::Info)
        );
        assert_eq!(
            shown[0].text,
            "registered: postgres 2.5 GB, owner team-payments"
        );
        let mut e = shown[1].event.clone();
        let n = NewEvent::of(
            e.db_id.as_deref(),
            e.wave,
            Body::Stage(StageChanged {
                from: Some(Stage::Cdc),
                to: Stage::Failed,
                trigger: None,
                reason: "lost".into(),
                held: Some(Stage::Cdc),
                error: None,
                by: None,
                outage_s: None,
            }),
            "engine",
        );
        e.kind = n.kind;
        e.payload = n.payload;
        let s = Shown::of(e.clone());
        assert_eq!(
            (s.severity, s.text.as_str()),
            (Severity::Fail, "cdc -> failed: lost")
        );
        // What this build cannot read is shown as such.
        e.payload = serde_json::json!({"to": "warp_speed"});
        let s = Shown::of(e.clone());
        assert_eq!(s.severity, Severity::Warn);
        assert!(
            s.text.starts_with("unreadable db.stage event: "),
            "{}",
            s.text
        );
        // A gate not decided for lag waits: it is not shown as a failure.
        let outcome = |class: &str| {
            let mut o = crate::store::event::StepOutcome::ok("sql_validate", 0);
            o.ok = false;
            o.error = Some("validation not decided: public.t: lag".into());
            o.class = Some(class.into());
            let n = NewEvent::of(Some("x"), Some(0), Body::StepOutcome(o), "engine");
            let mut ev = e.clone();
            (ev.kind, ev.payload) = (n.kind, n.payload);
            Shown::of(ev)
        };
        let waiting = outcome("waiting");
        assert_eq!(
            (waiting.severity, waiting.text.as_str()),
            (
                Severity::Info,
                "sql_validate waiting for CDC position: validation not decided: public.t: lag"
            )
        );
        let failed = outcome("retryable");
        assert_eq!(failed.severity, Severity::Warn);
        assert!(
            failed.text.starts_with("sql_validate failed: "),
            "{}",
            failed.text
        );
        e.kind = "db.failed".into();
        e.payload = serde_json::json!({"error": "disk full"});
        assert_eq!(
            Shown::of(e).text,
            "db.failed (unknown kind): error=disk full"
        );
    }
}
