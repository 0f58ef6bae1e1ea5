//! The event vocabulary: one payload type per kind, the only definition of what an event
//! says. Writers build a [`Body`] and turn it into a [`NewEvent`]; readers (the state fold, the
//! brain's replay, the cockpit, evidence) match on [`Event::body`], so a shape that drifts
//! breaks their build instead of emptying a screen.
//!
//! The store keeps what was written (kind and JSON payload, hash-chained): a kind this build
//! does not know reads as [`Body::Unknown`], a payload it cannot read as [`Body::Unreadable`],
//! and both are shown as such, never dropped. Optional fields are optional in the JSON too, so
//! events written before a field existed still read.

use super::model::{kind, Action, Event, NewEvent, Role};
use super::report::{PrecheckDetail, ValidationDetail};
use crate::drs::model::JobStatus;
use crate::inventory::DatabaseSpec;
use crate::lifecycle::{Stage, Trigger};
use crate::signoff::SignoffRole;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `db.registered`: a database entered the store with this inventory record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub spec: DatabaseSpec,
}

/// `db.updated`: its inventory record changed (`changes`: field, from, to).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Updated {
    pub spec: DatabaseSpec,
    #[serde(default)]
    pub changes: Vec<Value>,
}

/// `db.removed`: gone from the inventory while still registered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Removed {
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<DatabaseSpec>,
}

/// `db.stage`: the lifecycle moved a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageChanged {
    /// Absent in some early events: the stage it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Stage>,
    pub to: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    #[serde(default)]
    pub reason: String,
    /// For `failed` / `paused`: the stage it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Stage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The operator whose command moved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// At the end of a cutover (`cutover_done`): seconds the database took no writes, from the
    /// source's drain to the end (target writable, name switched). The outage the operator
    /// compares with the one the cockpit expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage_s: Option<f64>,
}

/// `db.progress`: full-load percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub pct: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbps: Option<f64>,
}

/// `db.lag`: CDC apply lag DRS reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    pub lag_s: f64,
}

/// `db.job_status`: the status DRS reports for the job changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobStatusSeen {
    #[serde(with = "job_status_text")]
    pub status: JobStatus,
    #[serde(default)]
    pub drs_job_id: Option<String>,
}

mod job_status_text {
    use crate::drs::model::JobStatus;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(s: &JobStatus, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<JobStatus, D::Error> {
        Ok(JobStatus::parse(&String::deserialize(d)?))
    }
}

/// `step.intent`: written before a side effect runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepIntent {
    /// The engine's step name (`create_job`, `cutover.drain_source`...).
    pub step: String,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    #[serde(default)]
    pub drs_job_id: Option<String>,
    /// What the step does, in words (cutover and rollback steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub does: Option<String>,
    /// The cutover guards that failed when it started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<String>,
    /// What the step is about, for steps outside the lifecycle (a restore test's run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// `step.outcome`: written after it returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub step: String,
    #[serde(default)]
    pub attempt: u32,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `retryable`, `throttled`, `fatal`, or `waiting` (not decided for lag: not a failure,
    /// tried again without counting as a retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will_retry: Option<bool>,
    /// Found already done after a restart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drs_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// What the step reports (a DNS change, a drain, a final sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

impl StepOutcome {
    /// Class `waiting` (not decided for lag): the step is tried again, nothing failed.
    pub const WAITING: &'static str = "waiting";

    pub fn waiting(&self) -> bool {
        self.class.as_deref() == Some(Self::WAITING)
    }

    pub fn ok(step: &str, attempt: u32) -> StepOutcome {
        StepOutcome {
            step: step.into(),
            attempt,
            ok: true,
            error: None,
            class: None,
            will_retry: None,
            recovered: false,
            drs_job_id: None,
            passed: None,
            summary: None,
            detail: None,
        }
    }
}

/// `db.precheck` / `db.validation`: a check report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub passed: bool,
    #[serde(default)]
    pub summary: String,
    /// The writer's report (see [`super::report`]).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

impl CheckReport {
    pub fn precheck(&self) -> PrecheckDetail {
        PrecheckDetail::read(&self.detail)
    }
    pub fn validation(&self) -> ValidationDetail {
        ValidationDetail::read(&self.detail)
    }
}

/// `wave.planned`: a wave's cutover window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WavePlanned {
    pub window: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `wave.approved` / `wave.started`: an operator acted on a wave.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WaveAct {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<i64>,
}

/// `wave.done`: every member of the wave is in a final stage (completed, aborted or rolled
/// back) with nothing left for the engine to do there (a rollback's undo steps finished, the
/// DRS job deleted). Written once per wave by the engine (src/engine/brain/wave_done.rs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaveDone {
    pub wave: u32,
    pub members: u32,
    pub completed: u32,
    pub aborted: u32,
    pub rolled_back: u32,
    /// When the wave was started (none for one whose members were all aborted before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When its last member entered its final stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// From `started_at` to `ended_at`, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

impl WaveDone {
    /// "9 databases: 8 completed, 1 rolled back, in 5h12m" (the counts that are not 0).
    pub fn summary(&self) -> String {
        let mut t = format!(
            "{} database{}: {}",
            self.members,
            if self.members == 1 { "" } else { "s" },
            super::model::final_counts(self.completed, self.rolled_back, self.aborted)
        );
        if let Some(s) = self.duration_s {
            t.push_str(", in ");
            t.push_str(&crate::tui::fmt::dur_long(s.round() as i64));
        }
        t
    }
}

/// `db.signoff`: someone holding a sign-off role signed for the database's cutover; the
/// event's time is when. Read by the one [`crate::signoff::Ledger`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedOff {
    pub role: SignoffRole,
    pub who: String,
    #[serde(default)]
    pub note: Option<String>,
    /// The command that asked for it (absent in events written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<i64>,
}

impl SignedOff {
    pub fn new(role: SignoffRole, who: &str, note: Option<&str>) -> SignedOff {
        SignedOff {
            role,
            who: who.to_string(),
            note: note.map(str::to_string),
            command: None,
        }
    }
}

/// `command.accepted` / `command.rejected`: the engine's verdict on an operator command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandDecided {
    #[serde(default)]
    pub command_id: i64,
    #[serde(default)]
    pub who: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `None` for a malformed command row (its action text was not readable).
    #[serde(default, deserialize_with = "lenient_action")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub args: Value,
    #[serde(default)]
    pub requested_at: String,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// The guards the engine evaluated for a refusal, as sentences (passing ones too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guards: Vec<GuardLine>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub malformed: bool,
}

/// One evaluated guard as the engine recorded it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardLine {
    pub name: String,
    pub ok: bool,
    pub sentence: String,
}

impl From<crate::lifecycle::Guard> for GuardLine {
    fn from(g: crate::lifecycle::Guard) -> GuardLine {
        GuardLine {
            name: g.name.to_string(),
            ok: g.ok,
            sentence: g.sentence,
        }
    }
}

fn lenient_action<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Action>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// `alert.raised`: a rule's value went beyond its threshold for long enough (src/alerts).
/// The database it is about, if any, is the event's `db_id`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRaised {
    /// The rule's key under `alerts:` (`lag_high`, ...).
    pub rule: String,
    pub value: f64,
    pub threshold: f64,
    /// What it is, in words ("CDC lag 41.0 s").
    #[serde(default)]
    pub what: String,
}

/// `alert.cleared`: its value came back past the clear level for long enough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertCleared {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The clear level it came back past.
    pub threshold: f64,
    #[serde(default)]
    pub what: String,
    /// The `alert.raised` event it ends.
    #[serde(default)]
    pub raised_seq: i64,
}

/// `alert.acked`: someone saw a standing alert and says so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertAcked {
    pub rule: String,
    pub by: String,
    #[serde(default)]
    pub command: i64,
}

/// `notify.given_up`: a notification was given up (refused for good, or out of attempts); the
/// event has the `db_id` and `wave` of the event it was about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifyGivenUp {
    /// The `notify:` target's name.
    pub target: String,
    /// The event it was about (its seq and kind).
    pub about_seq: i64,
    #[serde(default)]
    pub about: String,
    pub attempts: u32,
    /// The last failure, as the outbox records it (no URL, no token).
    pub reason: String,
}

/// What an event says, by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Registered(Registered),
    Updated(Updated),
    Removed(Removed),
    Stage(StageChanged),
    Progress(Progress),
    Lag(Lag),
    JobStatus(JobStatusSeen),
    StepIntent(StepIntent),
    StepOutcome(StepOutcome),
    Precheck(CheckReport),
    Validation(CheckReport),
    WavePlanned(WavePlanned),
    WaveApproved(WaveAct),
    WaveStarted(WaveAct),
    WaveDone(WaveDone),
    CommandAccepted(CommandDecided),
    CommandRejected(CommandDecided),
    Signoff(SignedOff),
    AlertRaised(AlertRaised),
    AlertCleared(AlertCleared),
    AlertAcked(AlertAcked),
    NotifyGivenUp(NotifyGivenUp),
    /// A kind this build does not know (a newer writer, or a retired kind).
    Unknown,
    /// A known kind whose payload this build cannot read, and why.
    Unreadable(String),
}

fn read<T: DeserializeOwned>(p: &Value, wrap: fn(T) -> Body) -> Body {
    match T::deserialize(p) {
        Ok(t) => wrap(t),
        Err(e) => Body::Unreadable(e.to_string()),
    }
}

impl Body {
    /// Read a stored event's payload by its kind. Never fails.
    pub fn read(k: &str, p: &Value) -> Body {
        match k {
            kind::DB_REGISTERED => read(p, Body::Registered),
            kind::DB_UPDATED => read(p, Body::Updated),
            kind::DB_REMOVED => read(p, Body::Removed),
            kind::DB_STAGE => read(p, Body::Stage),
            kind::DB_PROGRESS => read(p, Body::Progress),
            kind::DB_LAG => read(p, Body::Lag),
            kind::DB_JOB_STATUS => read(p, Body::JobStatus),
            kind::STEP_INTENT => read(p, Body::StepIntent),
            kind::STEP_OUTCOME => read(p, Body::StepOutcome),
            kind::DB_PRECHECK => read(p, Body::Precheck),
            kind::DB_VALIDATION => read(p, Body::Validation),
            kind::WAVE_PLANNED => read(p, Body::WavePlanned),
            kind::WAVE_APPROVED => read(p, Body::WaveApproved),
            kind::WAVE_STARTED => read(p, Body::WaveStarted),
            kind::WAVE_DONE => read(p, Body::WaveDone),
            kind::COMMAND_ACCEPTED => read(p, Body::CommandAccepted),
            kind::COMMAND_REJECTED => read(p, Body::CommandRejected),
            kind::DB_SIGNOFF => read(p, Body::Signoff),
            kind::ALERT_RAISED => read(p, Body::AlertRaised),
            kind::ALERT_CLEARED => read(p, Body::AlertCleared),
            kind::ALERT_ACKED => read(p, Body::AlertAcked),
            kind::NOTIFY_GIVEN_UP => read(p, Body::NotifyGivenUp),
            _ => Body::Unknown,
        }
    }

    /// The kind it is written as (`None` for what was read but not understood).
    pub fn kind(&self) -> Option<&'static str> {
        Some(match self {
            Body::Registered(_) => kind::DB_REGISTERED,
            Body::Updated(_) => kind::DB_UPDATED,
            Body::Removed(_) => kind::DB_REMOVED,
            Body::Stage(_) => kind::DB_STAGE,
            Body::Progress(_) => kind::DB_PROGRESS,
            Body::Lag(_) => kind::DB_LAG,
            Body::JobStatus(_) => kind::DB_JOB_STATUS,
            Body::StepIntent(_) => kind::STEP_INTENT,
            Body::StepOutcome(_) => kind::STEP_OUTCOME,
            Body::Precheck(_) => kind::DB_PRECHECK,
            Body::Validation(_) => kind::DB_VALIDATION,
            Body::WavePlanned(_) => kind::WAVE_PLANNED,
            Body::WaveApproved(_) => kind::WAVE_APPROVED,
            Body::WaveStarted(_) => kind::WAVE_STARTED,
            Body::WaveDone(_) => kind::WAVE_DONE,
            Body::CommandAccepted(_) => kind::COMMAND_ACCEPTED,
            Body::CommandRejected(_) => kind::COMMAND_REJECTED,
            Body::Signoff(_) => kind::DB_SIGNOFF,
            Body::AlertRaised(_) => kind::ALERT_RAISED,
            Body::AlertCleared(_) => kind::ALERT_CLEARED,
            Body::AlertAcked(_) => kind::ALERT_ACKED,
            Body::NotifyGivenUp(_) => kind::NOTIFY_GIVEN_UP,
            Body::Unknown | Body::Unreadable(_) => return None,
        })
    }

    fn payload(&self) -> Value {
        let v = match self {
            Body::Registered(x) => serde_json::to_value(x),
            Body::Updated(x) => serde_json::to_value(x),
            Body::Removed(x) => serde_json::to_value(x),
            Body::Stage(x) => serde_json::to_value(x),
            Body::Progress(x) => serde_json::to_value(x),
            Body::Lag(x) => serde_json::to_value(x),
            Body::JobStatus(x) => serde_json::to_value(x),
            Body::StepIntent(x) => serde_json::to_value(x),
            Body::StepOutcome(x) => serde_json::to_value(x),
            Body::Precheck(x) | Body::Validation(x) => serde_json::to_value(x),
            Body::WavePlanned(x) => serde_json::to_value(x),
            Body::WaveApproved(x) | Body::WaveStarted(x) => serde_json::to_value(x),
            Body::WaveDone(x) => serde_json::to_value(x),
            Body::CommandAccepted(x) | Body::CommandRejected(x) => serde_json::to_value(x),
            Body::Signoff(x) => serde_json::to_value(x),
            Body::AlertRaised(x) => serde_json::to_value(x),
            Body::AlertCleared(x) => serde_json::to_value(x),
            Body::AlertAcked(x) => serde_json::to_value(x),
            Body::NotifyGivenUp(x) => serde_json::to_value(x),
            Body::Unknown | Body::Unreadable(_) => Ok(Value::Null),
        };
        // These types hold plain data (strings, numbers, specs): they always serialize.
        v.unwrap_or(Value::Null)
    }

    /// The DRS job an event names, if any (the fold keeps the latest on the database).
    pub fn drs_job_id(&self) -> Option<&str> {
        match self {
            Body::StepIntent(x) => x.drs_job_id.as_deref(),
            Body::StepOutcome(x) => x.drs_job_id.as_deref(),
            Body::JobStatus(x) => x.drs_job_id.as_deref(),
            _ => None,
        }
    }
}

impl NewEvent {
    /// The event of `body`, about a database and/or a wave, written by `actor`.
    ///
    /// # Panics
    /// Never for a body read from the vocabulary; `Unknown` / `Unreadable` are not written.
    pub fn of(db_id: Option<&str>, wave: Option<u32>, body: Body, actor: &str) -> NewEvent {
        NewEvent {
            db_id: db_id.map(str::to_string),
            wave,
            kind: body
                .kind()
                .expect("only readable bodies are written")
                .to_string(),
            payload: body.payload(),
            actor: actor.to_string(),
        }
    }
}

impl Event {
    /// What the event says.
    pub fn body(&self) -> Body {
        Body::read(&self.kind, &self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn old_and_odd_payloads_read() {
        // Written before `trigger` and `held` existed; unknown stage; unknown kind.
        let b = Body::read(
            kind::DB_STAGE,
            &json!({"from": "cdc", "to": "failed", "reason": "x"}),
        );
        assert!(matches!(&b, Body::Stage(s) if s.to == Stage::Failed && s.trigger.is_none()));
        assert!(matches!(
            Body::read(kind::DB_STAGE, &json!({"to": "warp_speed"})),
            Body::Unreadable(_)
        ));
        assert_eq!(
            Body::read("db.failed", &json!({"error": "x"})),
            Body::Unknown
        );
        let c = Body::read(
            kind::COMMAND_REJECTED,
            &json!({"command_id": 3, "who": "bob", "action": "teleport", "malformed": true}),
        );
        assert!(matches!(&c, Body::CommandRejected(d) if d.action.is_none() && d.malformed));
        // A sign-off as written before the command was recorded; one without a readable role
        // or signer is not a sign-off.
        assert_eq!(
            Body::read(
                kind::DB_SIGNOFF,
                &json!({"role": "tech_lead", "who": "alice", "note": null})
            ),
            Body::Signoff(SignedOff::new(SignoffRole::TechLead, "alice", None))
        );
        for p in [
            json!({"role": "cto", "who": "x"}),
            json!({"role": "tech_lead"}),
        ] {
            assert!(matches!(
                Body::read(kind::DB_SIGNOFF, &p),
                Body::Unreadable(_)
            ));
        }
    }

    #[test]
    fn written_bodies_read_back() {
        let bodies = vec![
            Body::Stage(StageChanged {
                from: Some(Stage::Cdc),
                to: Stage::Validation,
                trigger: Some(Trigger::StepSucceeded),
                reason: "lag 1.0 s within 5 s".into(),
                held: None,
                error: None,
                by: None,
                outage_s: None,
            }),
            Body::JobStatus(JobStatusSeen {
                status: JobStatus::IncreTransferStarted,
                drs_job_id: Some("j".into()),
            }),
            Body::StepOutcome(StepOutcome {
                error: Some("boom".into()),
                ok: false,
                ..StepOutcome::ok("create_job", 2)
            }),
            Body::Lag(Lag { lag_s: 2.5 }),
            Body::Signoff(SignedOff {
                command: Some(4),
                ..SignedOff::new(SignoffRole::DataOwner, "bob", Some("checked"))
            }),
            Body::AlertRaised(AlertRaised {
                rule: "lag_high".into(),
                value: 41.0,
                threshold: 30.0,
                what: "CDC lag 41.0 s".into(),
            }),
            Body::AlertCleared(AlertCleared {
                rule: "lag_high".into(),
                value: Some(3.0),
                threshold: 15.0,
                what: "CDC lag 3.0 s".into(),
                raised_seq: 7,
            }),
            Body::AlertAcked(AlertAcked {
                rule: "lag_high".into(),
                by: "alice".into(),
                command: 3,
            }),
            Body::WaveDone(WaveDone {
                wave: 3,
                members: 4,
                completed: 2,
                aborted: 1,
                rolled_back: 1,
                started_at: Some(chrono::TimeZone::timestamp_opt(&Utc, 1_700_000_000, 0).unwrap()),
                ended_at: Some(chrono::TimeZone::timestamp_opt(&Utc, 1_700_003_600, 0).unwrap()),
                duration_s: Some(3600.0),
            }),
            Body::NotifyGivenUp(NotifyGivenUp {
                target: "ops".into(),
                about_seq: 9,
                about: kind::DB_STAGE.into(),
                attempts: 1,
                reason: "HTTP 400: refused for good".into(),
            }),
        ];
        for b in bodies {
            let e = NewEvent::of(Some("a"), None, b.clone(), "engine");
            assert_eq!(Body::read(&e.kind, &e.payload), b, "{}", e.payload);
        }
    }
}
