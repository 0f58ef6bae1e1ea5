//! What the cockpit shows, kept in memory: the states the store derives, the tail of the event
//! log, and per-database details folded from events (stage times, checks, lag history). Fed
//! incrementally by the refresh task; never touches I/O itself.

use crate::lifecycle::Stage;
use crate::store::model::{kind, CommandRow, DbState, Event, WaveState};
use crate::store::report::{PrecheckDetail, ValidationDetail};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

/// Events kept for the Events view and the detail tail.
pub const EVENTS_KEEP: usize = 5000;
/// Lag points kept per database for the sparkline.
pub const LAG_KEEP: usize = 240;

pub use crate::store::report::{CheckLine, TableLine};

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
}

#[derive(Clone, Debug, Default)]
pub struct Data {
    /// Sorted by db_id.
    pub dbs: Vec<DbState>,
    pub index: HashMap<String, usize>,
    pub waves: Vec<WaveState>,
    pub extra: HashMap<String, DbExtra>,
    pub events: VecDeque<Event>,
    pub commands: Vec<CommandRow>,
    pub last_seq: i64,
    /// Bumped on every change, so views can cache derived lists.
    pub version: u64,
    pub store_error: Option<String>,
    /// Who holds the engine lease; `None` until the first look.
    pub engine: Option<Option<String>>,
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
        if let Some((db, events)) = u.history {
            let keep_lag = self
                .extra
                .get(&db)
                .map(|x| x.lag.clone())
                .unwrap_or_default();
            let mut x = DbExtra {
                lag: keep_lag,
                ..Default::default()
            };
            for e in &events {
                fold_into(&mut x, e);
            }
            self.extra.insert(db, x);
            changed = true;
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
        for e in u.events {
            if e.seq <= self.last_seq {
                continue;
            }
            self.last_seq = e.seq;
            self.fold(&e);
            self.events.push_back(e);
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
        let Some(db) = &e.db_id else { return };
        fold_into(self.extra.entry(db.clone()).or_default(), e);
    }
}

fn fold_into(x: &mut DbExtra, e: &Event) {
    if e.seq <= x.folded_seq {
        return;
    }
    x.folded_seq = e.seq;
    let p = &e.payload;
    match e.kind.as_str() {
        kind::DB_REGISTERED if x.stage_entered.is_empty() => {
            x.stage_entered.push((Stage::Registered, e.time));
        }
        kind::DB_STAGE => {
            if let Some(to) = p.get("to").and_then(|v| v.as_str()).and_then(Stage::parse) {
                x.stage_entered.push((to, e.time));
            }
        }
        kind::DB_LAG => {
            if let Some(l) = p.get("lag_s").and_then(|v| v.as_f64()) {
                x.lag.push_back((e.time, l));
                if x.lag.len() > LAG_KEEP {
                    x.lag.pop_front();
                }
            }
        }
        kind::DB_PROGRESS => {
            if let Some(m) = p.get("mbps").and_then(|v| v.as_f64()) {
                x.mbps = Some(m);
            }
        }
        kind::DB_JOB_STATUS => {
            if let Some(s) = p.get("status").and_then(|v| v.as_str()) {
                x.drs_status = Some(s.to_string());
            }
        }
        kind::DB_PRECHECK => {
            x.precheck_passed = p.get("passed").and_then(|v| v.as_bool());
            x.precheck_summary = str_field(p, &["summary"]).unwrap_or_default();
            let detail = p.get("detail").unwrap_or(&serde_json::Value::Null);
            x.prechecks = PrecheckDetail::read(detail).lines();
        }
        kind::DB_VALIDATION => {
            let detail =
                ValidationDetail::read(p.get("detail").unwrap_or(&serde_json::Value::Null));
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

    pub fn wave(&self, n: u32) -> Option<&WaveState> {
        self.waves.iter().find(|w| w.wave == n)
    }
}

fn str_field(v: &serde_json::Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        v.get(*k).and_then(|x| match x {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        })
    })
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

pub fn severity(e: &Event) -> Severity {
    let p = &e.payload;
    match e.kind.as_str() {
        kind::COMMAND_REJECTED => Severity::Fail,
        kind::STEP_OUTCOME if p.get("ok").and_then(|v| v.as_bool()) == Some(false) => {
            Severity::Warn
        }
        kind::DB_PRECHECK | kind::DB_VALIDATION
            if p.get("passed").and_then(|v| v.as_bool()) == Some(false) =>
        {
            Severity::Fail
        }
        kind::DB_STAGE => match p.get("to").and_then(|v| v.as_str()).and_then(Stage::parse) {
            Some(Stage::Failed | Stage::Aborted) => Severity::Fail,
            Some(Stage::Paused | Stage::RolledBack) => Severity::Warn,
            _ => Severity::Info,
        },
        _ => {
            if let Some(s) = p.get("severity").and_then(|v| v.as_str()) {
                match s {
                    "fail" | "error" | "critical" => Severity::Fail,
                    "warn" | "warning" => Severity::Warn,
                    _ => Severity::Info,
                }
            } else {
                Severity::Info
            }
        }
    }
}

/// Frequent telemetry hidden from the Events view unless asked for (`v`).
pub fn is_telemetry(e: &Event) -> bool {
    matches!(e.kind.as_str(), kind::DB_LAG | kind::DB_PROGRESS)
}

/// One line of text for an event: what happened, from its payload.
pub fn describe(e: &Event) -> String {
    let p = &e.payload;
    let s = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("");
    match e.kind.as_str() {
        kind::DB_STAGE => {
            let mut t = format!("{} -> {}", s("from"), s("to"));
            if !s("reason").is_empty() {
                t.push_str(": ");
                t.push_str(s("reason"));
            }
            t
        }
        kind::DB_LAG => format!(
            "lag {}",
            p.get("lag_s")
                .and_then(|v| v.as_f64())
                .map(super::fmt::lag)
                .unwrap_or_default()
        ),
        kind::DB_JOB_STATUS => format!("DRS job status {}", s("status")),
        kind::DB_PROGRESS => format!(
            "full load {:.0}%",
            p.get("pct").and_then(|v| v.as_f64()).unwrap_or(0.0)
        ),
        kind::STEP_INTENT => format!(
            "{} starting (attempt {})",
            s("step"),
            p.get("attempt").and_then(|v| v.as_u64()).unwrap_or(1)
        ),
        kind::STEP_OUTCOME => {
            let ok = p.get("ok").and_then(|v| v.as_bool()).unwrap_or(false);
            if ok {
                format!("{} done", s("step"))
            } else {
                format!("{} failed: {}", s("step"), s("error"))
            }
        }
        kind::DB_PRECHECK | kind::DB_VALIDATION => {
            let ok = p.get("passed").and_then(|v| v.as_bool()).unwrap_or(false);
            format!(
                "{} {}",
                if ok { "passed:" } else { "FAILED:" },
                s("summary")
            )
        }
        kind::COMMAND_ACCEPTED | kind::COMMAND_REJECTED => {
            let what = str_field(p, &["action"]).unwrap_or_default();
            let why = str_field(p, &["reason"]).unwrap_or_default();
            let verdict = if e.kind == kind::COMMAND_ACCEPTED {
                "accepted"
            } else {
                "rejected"
            };
            if why.is_empty() {
                format!("{what} {verdict}")
            } else {
                format!("{what} {verdict}: {why}")
            }
        }
        kind::DB_REGISTERED | kind::DB_UPDATED => {
            let verb = if e.kind == kind::DB_REGISTERED {
                "registered"
            } else {
                "updated"
            };
            let Some(spec) = p.get("spec") else {
                return verb.to_string();
            };
            let g = |k: &str| {
                spec.get(k).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    o => o.to_string(),
                })
            };
            format!(
                "{verb}: {} {} GB, owner {}",
                g("engine").unwrap_or_default(),
                g("size_gb").unwrap_or_default(),
                g("owner").unwrap_or_default()
            )
        }
        kind::WAVE_PLANNED => format!("planned, window {}", s("window")),
        kind::WAVE_APPROVED => format!(
            "window approved by {}",
            str_field(p, &["by"]).unwrap_or_else(|| e.actor.clone())
        ),
        kind::WAVE_STARTED => format!("started by {}", e.actor),
        _ => scalars(p),
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
        let evs = fixture::events_for("pay-ledger-01", 0, 0);
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

    #[test]
    fn severities_and_descriptions() {
        let evs = fixture::events_for("x", 0, 0);
        assert!(evs.iter().all(|e| severity(e) == Severity::Info));
        let reg = &evs[0];
        assert_eq!(describe(reg), "registered");
        let mut bad = evs[1].clone();
        bad.payload = serde_json::json!({"from": "cdc", "to": "failed", "reason": "lost"});
        assert_eq!(severity(&bad), Severity::Fail);
        assert_eq!(describe(&bad), "cdc -> failed: lost");
        let mut rej = bad.clone();
        rej.kind = kind::COMMAND_REJECTED.into();
        rej.payload = serde_json::json!({"action": "cutover", "reason": "lag 12 s > 5 s"});
        assert_eq!(severity(&rej), Severity::Fail);
        assert_eq!(describe(&rej), "cutover rejected: lag 12 s > 5 s");
    }
}
