//! The hash chain: a canonical encoding of an event and its SHA-256. Pure code, so the evidence
//! packs can re-check a chain from `events.jsonl` without a store.

use super::Event;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Time format of stored events: fixed width (microseconds, `Z`), so text order is time order
/// and the hashed text is exactly what is stored.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// JSON with object keys sorted at every level and no whitespace. Written by hand rather than
/// relying on serde_json's map order, which a dependency enabling `preserve_order` would change.
pub fn canonical_json(v: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    // serde_json writes UTF-8 and the rest is ASCII punctuation.
    String::from_utf8(out).unwrap_or_default()
}

/// One JSON item in serde_json's compact form (the bytes `Value::to_string` gives), written
/// straight into `out`: every event's payload passes here, so no `Value` or `String` is built
/// per key or scalar.
fn write_json<T: serde::Serialize + ?Sized>(x: &T, out: &mut Vec<u8>) {
    // Writing plain data (strings, numbers) to a Vec cannot fail.
    let _ = serde_json::to_writer(out, x);
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(k.as_str(), out);
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_json(scalar, out),
    }
}

/// SHA-256 (lower-case hex) of the canonical encoding of one event: a JSON array of seq, time,
/// db_id, wave, kind, canonical payload, actor and prev_hash. A JSON array keeps the field
/// boundaries unambiguous whatever the strings contain.
#[allow(clippy::too_many_arguments)]
pub fn event_hash(
    seq: i64,
    time: &str,
    db_id: Option<&str>,
    wave: Option<u32>,
    kind: &str,
    payload: &Value,
    actor: &str,
    prev_hash: &str,
) -> String {
    let payload = canonical_json(payload);
    event_hash_text(seq, time, db_id, wave, kind, &payload, actor, prev_hash)
}

/// `event_hash` with the payload already in canonical text, as the store keeps it.
#[allow(clippy::too_many_arguments)]
pub fn event_hash_text(
    seq: i64,
    time: &str,
    db_id: Option<&str>,
    wave: Option<u32>,
    kind: &str,
    canonical_payload: &str,
    actor: &str,
    prev_hash: &str,
) -> String {
    // A tuple is written as a JSON array: the same text as a `Value::Array` of these fields,
    // without copying each of them (the payload above all) into one first.
    let mut encoded = Vec::with_capacity(canonical_payload.len() * 2 + 256);
    write_json(
        &(
            seq,
            time,
            db_id,
            wave,
            kind,
            canonical_payload,
            actor,
            prev_hash,
        ),
        &mut encoded,
    );
    hex::encode(Sha256::digest(&encoded))
}

impl Event {
    /// The hash this event should carry, recomputed from its fields and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        event_hash(
            self.seq,
            &self.time.format(TIME_FORMAT).to_string(),
            self.db_id.as_deref(),
            self.wave,
            &self.kind,
            &self.payload,
            &self.actor,
            &self.prev_hash,
        )
    }
}

/// Why a chain is broken, at the first event where it is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Check a sequence of events (in seq order) links up: seq contiguous from `first_seq`,
/// each `prev_hash` equal to the previous hash, each hash matching its content. Returns the
/// first break. `prev` is the hash before the first event (GENESIS_HASH from seq 1).
pub fn check_link(prev_seq: i64, prev_hash: &str, ev: &Event) -> Result<(), ChainBreak> {
    if ev.seq != prev_seq + 1 {
        return Err(ChainBreak {
            seq: prev_seq + 1,
            reason: format!(
                "event {} is missing (next stored event is {})",
                prev_seq + 1,
                ev.seq
            ),
        });
    }
    if ev.prev_hash != prev_hash {
        return Err(ChainBreak {
            seq: ev.seq,
            reason: "prev_hash does not match the hash of the event before".into(),
        });
    }
    if ev.compute_hash() != ev.hash {
        return Err(ChainBreak {
            seq: ev.seq,
            reason: "content does not match its hash (the event was edited)".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": "é\"q"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é\"q","z":[1,{"x":3,"y":2}]},"b":1}"#
        );
    }

    #[test]
    fn canonical_json_is_stable_through_a_text_round_trip() {
        let v = json!({"lag_s": 0.1, "pct": 33.333333333333336, "n": -5, "big": 1e300});
        let text = canonical_json(&v);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(canonical_json(&back), text);
        // Floats must parse back to the same bits (serde_json's `float_roundtrip`), or a
        // stored event would no longer match its hash once read back.
        for i in 0..5000u32 {
            let x = f64::from(i % 500) * 1.7 + 0.1 + f64::from(i) / 3.0;
            let text = canonical_json(&json!({ "x": x }));
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back["x"].as_f64(), Some(x), "{text}");
        }
    }

    /// The encoding as first written (a `Value` per key, scalar and event): the hashes of
    /// every stored chain and evidence pack were made with it, so the faster one must give
    /// the same bytes.
    const PINNED: &str = "043faabb3bde5ffd29f822d55a05cf61908d9d3cfe851a32e1cb8fecea007797";

    fn reference_canonical(v: &Value) -> String {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let items: Vec<String> = keys
                    .into_iter()
                    .map(|k| {
                        format!(
                            "{}:{}",
                            Value::String(k.clone()),
                            reference_canonical(&map[k])
                        )
                    })
                    .collect();
                format!("{{{}}}", items.join(","))
            }
            Value::Array(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(reference_canonical)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            scalar => scalar.to_string(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reference_hash(
        seq: i64,
        time: &str,
        db_id: Option<&str>,
        wave: Option<u32>,
        kind: &str,
        payload: &str,
        actor: &str,
        prev: &str,
    ) -> String {
        let encoded = Value::Array(vec![
            Value::from(seq),
            Value::from(time),
            db_id.map(Value::from).unwrap_or(Value::Null),
            wave.map(Value::from).unwrap_or(Value::Null),
            Value::from(kind),
            Value::from(payload),
            Value::from(actor),
            Value::from(prev),
        ]);
        hex::encode(Sha256::digest(encoded.to_string().as_bytes()))
    }

    #[test]
    fn encoding_is_byte_for_byte_the_one_stored_chains_were_hashed_with() {
        let payloads = [
            json!(null),
            json!({}),
            json!([]),
            json!({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": "é\"q\\\n\u{1}\t/"}}),
            json!({"pct": 33.333333333333336, "n": -5, "big": 1e300, "tiny": 5e-324, "u": u64::MAX, "t": true, "f": false}),
            json!({"spec": {"db_id": "a-01", "tags": ["x", "y"], "extra": {"k": "\u{2028}€😀"}}}),
            json!(["a", 1.5, null, [[]], {"": ""}]),
        ];
        let names = [None, Some("db-01"), Some("quo\"te\\")];
        for (i, p) in payloads.iter().enumerate() {
            let text = canonical_json(p);
            assert_eq!(text, reference_canonical(p));
            for db in names {
                for wave in [None, Some(0), Some(u32::MAX)] {
                    let args = (
                        i as i64 - 3,
                        "2026-01-02T03:04:05.000006Z",
                        db,
                        wave,
                        "db.stage",
                        text.as_str(),
                        "engine \"x\"",
                        GENESIS_HASH,
                    );
                    assert_eq!(
                        event_hash_text(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7
                        ),
                        reference_hash(
                            args.0, args.1, args.2, args.3, args.4, args.5, args.6, args.7
                        ),
                        "{p} {db:?} {wave:?}"
                    );
                }
            }
        }
        // One pinned value, so a change to both encodings at once is caught too.
        assert_eq!(
            event_hash_text(
                1,
                "2026-01-02T03:04:05.000000Z",
                Some("db1"),
                Some(0),
                "db.stage",
                r#"{"from":"full_load","to":"cdc"}"#,
                "engine",
                GENESIS_HASH
            ),
            PINNED
        );
    }

    fn ev(seq: i64, prev: &str) -> Event {
        let mut e = Event {
            seq,
            time: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            db_id: Some("db1".into()),
            wave: Some(0),
            kind: "db.stage".into(),
            payload: json!({"to": "cdc", "from": "full_load"}),
            actor: "engine".into(),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = ev(1, GENESIS_HASH);
        let mut variants = vec![];
        let mut e = base.clone();
        e.seq = 2;
        variants.push(e);
        let mut e = base.clone();
        e.time += chrono::Duration::microseconds(1);
        variants.push(e);
        let mut e = base.clone();
        e.db_id = None;
        variants.push(e);
        let mut e = base.clone();
        e.wave = Some(1);
        variants.push(e);
        let mut e = base.clone();
        e.kind = "db.lag".into();
        variants.push(e);
        let mut e = base.clone();
        e.payload = json!({"to": "cdc", "from": "full_load", "x": null});
        variants.push(e);
        let mut e = base.clone();
        e.actor = "bob".into();
        variants.push(e);
        let mut e = base.clone();
        e.prev_hash = "1".repeat(64);
        variants.push(e);
        for v in variants {
            assert_ne!(v.compute_hash(), base.hash, "{v:?}");
        }
        // Key order in the payload does not matter.
        let mut e = base.clone();
        e.payload = json!({"from": "full_load", "to": "cdc"});
        assert_eq!(e.compute_hash(), base.hash);
    }

    #[test]
    fn check_link_names_the_first_broken_seq() {
        let a = ev(1, GENESIS_HASH);
        let b = ev(2, &a.hash);
        assert_eq!(check_link(0, GENESIS_HASH, &a), Ok(()));
        assert_eq!(check_link(1, &a.hash, &b), Ok(()));
        assert_eq!(check_link(0, GENESIS_HASH, &b).unwrap_err().seq, 1);
        let mut edited = b.clone();
        edited.actor = "mallory".into();
        assert_eq!(check_link(1, &a.hash, &edited).unwrap_err().seq, 2);
        assert_eq!(check_link(1, "x", &b).unwrap_err().seq, 2);
    }
}
