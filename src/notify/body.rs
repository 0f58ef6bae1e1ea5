//! What a target receives: the body for its format and the `Idempotency-Key`. Pure. A body is
//! made from the stored event only, and events hold no secret (credentials are references), so
//! no body can carry one.

use super::config::EventClass;
use super::config::Format;
use super::route::class_of;
use crate::store::event::Body;
use crate::store::Event;
use serde_json::{json, Value};

/// The same for every attempt at one (event, target): a receiver that remembers keys applies a
/// notification once however often it is delivered.
pub fn idempotency_key(seq: i64, target: &str) -> String {
    format!("wavedeck-{seq}-{target}")
}

/// One line for a human: what happened, to what.
pub fn text(e: &Event) -> String {
    let about = match (&e.db_id, e.wave) {
        (Some(db), Some(w)) => format!("{db} (wave {w})"),
        (Some(db), None) => db.clone(),
        (None, Some(w)) => format!("wave {w}"),
        (None, None) => "factory".into(),
    };
    let s = |k: &str| e.payload[k].as_str().unwrap_or_default().to_string();
    match class_of(e) {
        Some(EventClass::Alerts) => format!("ALERT {} on {about}: {}", s("rule"), s("what")),
        Some(EventClass::AlertsCleared) => {
            format!("cleared {} on {about}: {}", s("rule"), s("what"))
        }
        Some(EventClass::CutoverStarted) => format!("cutover started: {about}"),
        Some(EventClass::CutoverDone) => format!("cutover done: {about} is in hypercare"),
        Some(EventClass::CutoverFailed) => format!("cutover FAILED: {about}: {}", s("reason")),
        Some(EventClass::Rollback) => format!("rolled back: {about}: {}", s("reason")),
        Some(EventClass::WaveDone) => match e.body() {
            Body::WaveDone(d) => format!("{about} done: {}", d.summary()),
            _ => format!("{about} done"),
        },
        None => format!("{} on {about}", e.kind),
    }
}

/// The body for `format`.
pub fn body(e: &Event, target: &str, format: Format) -> Value {
    let text = text(e);
    match format {
        Format::Json => json!({
            "key": idempotency_key(e.seq, target),
            "event": e.kind,
            "seq": e.seq,
            "time": e.time.to_rfc3339(),
            "db_id": e.db_id,
            "wave": e.wave,
            "text": text,
            "payload": e.payload,
        }),
        Format::Slack => json!({ "text": text }),
        Format::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": text,
            "title": "wavedeck",
            "text": text,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::kind;

    fn alert() -> Event {
        Event {
            seq: 42,
            time: chrono::Utc::now(),
            db_id: Some("pg-hr".into()),
            wave: Some(3),
            kind: kind::ALERT_RAISED.into(),
            payload: json!({"rule": "lag_high", "value": 90.0, "threshold": 30.0, "what": "CDC lag 90 s"}),
            actor: "engine".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn bodies_by_format() {
        let e = alert();
        let j = body(&e, "ops", Format::Json);
        assert_eq!(j["key"], "wavedeck-42-ops");
        assert_eq!(j["text"], "ALERT lag_high on pg-hr (wave 3): CDC lag 90 s");
        assert_eq!(j["payload"]["rule"], "lag_high");
        assert_eq!(body(&e, "s", Format::Slack), json!({"text": j["text"]}));
        let t = body(&e, "t", Format::Teams);
        assert_eq!(
            (t["@type"].as_str(), t["text"].as_str()),
            (Some("MessageCard"), j["text"].as_str())
        );
    }

    #[test]
    fn the_key_names_event_and_target() {
        assert_ne!(idempotency_key(1, "a"), idempotency_key(1, "b"));
        assert_ne!(idempotency_key(1, "a"), idempotency_key(2, "a"));
        assert_eq!(idempotency_key(7, "a"), idempotency_key(7, "a"));
    }
}
