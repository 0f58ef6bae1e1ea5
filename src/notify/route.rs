//! Which events are notifications, and for whom. Pure: the store calls [`Routes::targets_for`]
//! inside the transaction that appends the event, so the outbox row and its event commit
//! together.

use super::config::EventClass;
use crate::store::{kind, Event};

/// The class of an event, if it is one a target can ask for.
pub fn class_of(e: &Event) -> Option<EventClass> {
    match e.kind.as_str() {
        kind::ALERT_RAISED => Some(EventClass::Alerts),
        kind::ALERT_CLEARED => Some(EventClass::AlertsCleared),
        kind::WAVE_DONE => Some(EventClass::WaveDone),
        kind::DB_STAGE => {
            let from = e.payload["from"].as_str().unwrap_or_default();
            let to = e.payload["to"].as_str().unwrap_or_default();
            match (from, to) {
                (_, "rolled_back") => Some(EventClass::Rollback),
                ("cutover", "hypercare") => Some(EventClass::CutoverDone),
                ("cutover", "failed") => Some(EventClass::CutoverFailed),
                (f, "cutover") if f != "cutover" => Some(EventClass::CutoverStarted),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Each target's name and the classes it wants.
#[derive(Clone, Debug, Default)]
pub struct Routes(pub Vec<(String, Vec<EventClass>)>);

impl Routes {
    /// The targets that want `e`, in config order.
    pub fn targets_for(&self, e: &Event) -> Vec<String> {
        let Some(c) = class_of(e) else {
            return Vec::new();
        };
        self.0
            .iter()
            .filter(|(_, wants)| wants.contains(&c))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stage_event(from: &str, to: &str) -> Event {
        Event {
            seq: 1,
            time: chrono::Utc::now(),
            db_id: Some("db".into()),
            wave: None,
            kind: kind::DB_STAGE.into(),
            payload: json!({"from": from, "to": to, "reason": "r"}),
            actor: "engine".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn stage_changes_that_are_notifications() {
        let c = |f, t| class_of(&stage_event(f, t));
        assert_eq!(c("ready", "cutover"), Some(EventClass::CutoverStarted));
        assert_eq!(c("cutover", "hypercare"), Some(EventClass::CutoverDone));
        assert_eq!(c("cutover", "failed"), Some(EventClass::CutoverFailed));
        assert_eq!(c("hypercare", "rolled_back"), Some(EventClass::Rollback));
        assert_eq!(c("cdc", "validation"), None);
        assert_eq!(
            c("full_load", "failed"),
            None,
            "a failure outside cutover is an alert's job"
        );
    }

    #[test]
    fn each_target_gets_what_it_asked_for() {
        let r = Routes(vec![
            ("all".into(), EventClass::all()),
            ("cutovers".into(), vec![EventClass::CutoverDone]),
        ]);
        assert_eq!(
            r.targets_for(&stage_event("cutover", "hypercare")),
            ["all", "cutovers"]
        );
        assert_eq!(r.targets_for(&stage_event("ready", "cutover")), ["all"]);
        assert!(r.targets_for(&stage_event("cdc", "validation")).is_empty());
    }
}
