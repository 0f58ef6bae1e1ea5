//! An evidence pack in memory: its files by name. Pure: the store reads, the writer writes.
//!
//! Layout of one pack (one folder per database):
//! - `events.jsonl`: every event of the database, one JSON per line (the stored event plus
//!   `pack_prev_hash`, the hash of the line before, so the file is a chain of its own: the
//!   database's events are a subsequence of the global chain, whose `prev_hash` points at other
//!   databases' events).
//! - `wave-events.jsonl`: the events of its wave (planned, approved, started), same format.
//! - `pack.json`: what the pack was built from (state, spec, wave at export) and, per chain
//!   file, the count, last hash and the (seq, hash) index, so verify names the exact line that
//!   was removed, inserted or moved.
//! - derived artefacts (see `artefacts`), rebuilt by verify from the above and compared.
//! - `MANIFEST.sha256` over every other file.

use super::artefacts;
use super::format::{ChainIndex, PackLine, PackMeta, EVENTS, FORMAT, META, WAVE_EVENTS};
use super::manifest;
use crate::inventory::DatabaseSpec;
use crate::store::hash::GENESIS_HASH;
use crate::store::model::{DbState, Event, WaveState};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The files wavedeck writes into a pack: any other, even listed in the manifest, was added.
pub fn known_files() -> Vec<String> {
    let mut names: Vec<String> = [EVENTS, WAVE_EVENTS, META, manifest::MANIFEST]
        .into_iter()
        .map(str::to_string)
        .collect();
    names.extend(artefacts::NAMES.iter().map(|s| s.to_string()));
    names
}

/// What a pack is built from.
pub struct PackInputs<'a> {
    pub state: &'a DbState,
    pub spec: Option<&'a DatabaseSpec>,
    pub wave: Option<&'a WaveState>,
    /// The database's events, in seq order.
    pub events: &'a [Event],
    /// Its wave's own events (db_id empty), in seq order.
    pub wave_events: &'a [Event],
    pub exported_at: DateTime<Utc>,
    pub exported_by: &'a str,
    /// The wave export writing it (see [`PackMeta::member_of`]).
    pub member_of: Option<u32>,
}

/// A built pack: file name → content.
#[derive(Clone, Debug, PartialEq)]
pub struct Pack {
    pub db_id: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PackError {
    #[error("{db_id}: events are not in seq order (seq {seq} after {prev}); export from the store, which hands them out in order")]
    OutOfOrder { db_id: String, seq: i64, prev: i64 },
    #[error("{db_id}: event seq {seq} belongs to {other:?}, not to this database")]
    Foreign {
        db_id: String,
        seq: i64,
        other: Option<String>,
    },
}

/// Build every file of a pack.
pub fn build(inp: &PackInputs) -> Result<Pack, PackError> {
    let db_id = inp.state.db_id.clone();
    check_events(&db_id, inp.events, |e| e.db_id.as_deref() == Some(&db_id))?;
    check_events(&db_id, inp.wave_events, |e| e.db_id.is_none())?;

    let mut files = BTreeMap::new();
    let mut chains = BTreeMap::new();
    for (name, events) in [(EVENTS, inp.events), (WAVE_EVENTS, inp.wave_events)] {
        let (text, index) = chain_file(events);
        files.insert(name.to_string(), text.into_bytes());
        chains.insert(name.to_string(), index);
    }
    let meta = PackMeta {
        format: FORMAT.to_string(),
        db_id: db_id.clone(),
        exported_at: inp.exported_at,
        exported_by: inp.exported_by.to_string(),
        wavedeck_version: env!("CARGO_PKG_VERSION").to_string(),
        state: inp.state.clone(),
        spec: inp.spec.cloned(),
        wave: inp.wave.cloned(),
        chains,
        member_of: inp.member_of,
    };
    let mut meta_text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    meta_text.push('\n');
    files.insert(META.to_string(), meta_text.into_bytes());
    for (name, bytes) in artefacts::derive(&meta, inp.events, inp.wave_events) {
        files.insert(name, bytes);
    }
    let manifest = manifest::render(&files);
    files.insert(manifest::MANIFEST.to_string(), manifest.into_bytes());
    Ok(Pack { db_id, files })
}

fn check_events(
    db_id: &str,
    events: &[Event],
    belongs: impl Fn(&Event) -> bool,
) -> Result<(), PackError> {
    let mut prev = i64::MIN;
    for e in events {
        if e.seq <= prev {
            return Err(PackError::OutOfOrder {
                db_id: db_id.to_string(),
                seq: e.seq,
                prev,
            });
        }
        if !belongs(e) {
            return Err(PackError::Foreign {
                db_id: db_id.to_string(),
                seq: e.seq,
                other: e.db_id.clone(),
            });
        }
        prev = e.seq;
    }
    Ok(())
}

/// One line per event, each carrying the hash of the line before.
pub fn chain_file(events: &[Event]) -> (String, ChainIndex) {
    let mut text = String::new();
    let mut prev = GENESIS_HASH.to_string();
    let mut index = Vec::with_capacity(events.len());
    for e in events {
        text.push_str(&line_text(&PackLine {
            event: e.clone(),
            pack_prev_hash: prev.clone(),
        }));
        text.push('\n');
        index.push((e.seq, e.hash.clone()));
        prev = e.hash.clone();
    }
    let index = ChainIndex {
        count: events.len(),
        last_hash: prev,
        events: index,
    };
    (text, index)
}

/// The exact text of a line: verify re-renders each parsed line and compares, so an edit that
/// leaves the event's fields intact (spacing, escapes, an extra field) is still caught.
pub fn line_text(line: &PackLine) -> String {
    serde_json::to_string(line).unwrap_or_default()
}

/// Events and states for tests (here and in `verify`): two databases of wave 2 interleaved in
/// one global chain, hashed with the store's own function.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::inventory::{Criticality, Endpoint, Engine};
    use crate::lifecycle::Stage;
    use crate::secret::SecretRef;
    use chrono::TimeZone;
    use serde_json::{json, Value};

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
    }

    pub fn spec(db_id: &str, pw_env: &str) -> DatabaseSpec {
        let ep = |host: &str| Endpoint {
            host: host.into(),
            port: 5432,
            database: "ledger".into(),
            user: "migrator".into(),
            password: SecretRef::Env(pw_env.into()),
        };
        DatabaseSpec::new(
            db_id,
            Engine::Postgres,
            ep("10.0.0.5"),
            ep("rds-pay.internal"),
        )
        .with_version("15")
        .with_size_gb(120.0)
        .with_owner("payments")
        .with_criticality(Criticality::High)
        .with_window("Sat 01:00-05:00 Europe/Paris")
        .with_wave(Some(2))
        .with_tags(["pci"])
    }

    /// A global chain; returns every event.
    pub fn chain(db: &str, other: &str, pw_env: &str) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        let mut push = |db_id: Option<&str>, kind: &str, payload: Value, actor: &str| {
            let seq = out.len() as i64 + 1;
            let prev = out
                .last()
                .map(|e| e.hash.clone())
                .unwrap_or_else(|| GENESIS_HASH.to_string());
            let mut e = Event {
                seq,
                time: t0() + chrono::Duration::minutes(seq * 7),
                db_id: db_id.map(str::to_string),
                wave: Some(2),
                kind: kind.into(),
                payload,
                actor: actor.into(),
                prev_hash: prev,
                hash: String::new(),
            };
            e.hash = e.compute_hash();
            out.push(e);
        };
        use crate::store::model::kind as k;
        let a = Some(db);
        let b = Some(other);
        let stage = |from: &str, to: &str| json!({"from": from, "to": to, "reason": ""});
        push(
            None,
            k::WAVE_PLANNED,
            json!({"window": "Sat 01:00-05:00 Europe/Paris"}),
            "plan",
        );
        push(
            a,
            k::DB_REGISTERED,
            json!({"spec": spec(db, pw_env)}),
            "init",
        );
        push(
            b,
            k::DB_REGISTERED,
            json!({"spec": spec(other, pw_env)}),
            "init",
        );
        push(None, k::WAVE_APPROVED, json!({"who": "bob"}), "bob");
        push(None, k::WAVE_STARTED, json!({}), "alice");
        push(a, k::DB_STAGE, stage("registered", "prechecks"), "engine");
        push(
            a,
            k::DB_PRECHECK,
            json!({"passed": true, "summary": "6 checks ok", "checks": [{"name": "dns", "ok": true}]}),
            "engine",
        );
        push(b, k::DB_STAGE, stage("registered", "prechecks"), "engine");
        push(
            a,
            k::STEP_INTENT,
            json!({"step": "drs.create_job", "attempt": 1}),
            "engine",
        );
        push(
            a,
            k::STEP_OUTCOME,
            json!({"step": "drs.create_job", "attempt": 1, "ok": true, "drs": {"id": "job-1", "status": "CREATING"}}),
            "engine",
        );
        push(a, k::DB_PROGRESS, json!({"pct": 42.5}), "engine");
        push(a, k::DB_LAG, json!({"lag_s": 1.25}), "engine");
        push(b, k::DB_LAG, json!({"lag_s": 9.0}), "engine");
        push(
            a,
            k::DB_VALIDATION,
            json!({"passed": true, "summary": "42 tables, 0 differences"}),
            "engine",
        );
        push(
            a,
            k::COMMAND_ACCEPTED,
            json!({"action": "cutover", "who": "alice"}),
            "engine",
        );
        push(
            a,
            k::STEP_INTENT,
            json!({"step": "cutover.drain_source", "attempt": 1}),
            "engine",
        );
        push(
            a,
            k::STEP_OUTCOME,
            json!({"step": "cutover.drain_source", "attempt": 1, "ok": false, "error": "timeout | retry"}),
            "engine",
        );
        push(a, k::DB_STAGE, stage("ready", "cutover"), "engine");
        push(a, k::DB_STAGE, stage("cutover", "hypercare"), "engine");
        out
    }

    pub fn state(db: &str) -> DbState {
        DbState {
            db_id: db.into(),
            wave: Some(2),
            engine: Engine::Postgres,
            size_gb: 120.0,
            owner: "payments".into(),
            criticality: Criticality::High,
            stage: Stage::Hypercare,
            held_stage: None,
            stage_since: t0(),
            progress_pct: 100.0,
            lag_s: Some(0.2),
            validation: None,
            precheck: None,
            drs_job_id: Some("job-1".into()),
            last_error: None,
            last_event_at: t0(),
            attempts: 0,
            max_lag_s: None,
            business_window: String::new(),
            signoff: Default::default(),
            restore_passed_at: None,
            restore_test: Default::default(),
            mode: Default::default(),
        }
    }

    pub fn wave() -> WaveState {
        WaveState {
            wave: 2,
            window: "Sat 01:00-05:00 Europe/Paris".into(),
            approved_by: Some("bob".into()),
            approved_at: Some(t0()),
            started_at: Some(t0()),
            done: None,
        }
    }

    /// The pack of `db` from a chain built with `chain(db, ...)`.
    pub fn pack_of(all: &[Event], db: &str, spec: &DatabaseSpec) -> Pack {
        let events: Vec<Event> = all
            .iter()
            .filter(|e| e.db_id.as_deref() == Some(db))
            .cloned()
            .collect();
        let wave_events: Vec<Event> = all.iter().filter(|e| e.db_id.is_none()).cloned().collect();
        let st = state(db);
        let w = wave();
        build(&PackInputs {
            state: &st,
            spec: Some(spec),
            wave: Some(&w),
            events: &events,
            wave_events: &wave_events,
            exported_at: t0() + chrono::Duration::days(1),
            exported_by: "auditor",
            member_of: None,
        })
        .unwrap()
    }

    pub fn sample() -> Pack {
        let all = chain("pay-ledger-01", "crm-02", "WD_FIXTURE_PW");
        pack_of(
            &all,
            "pay-ledger-01",
            &spec("pay-ledger-01", "WD_FIXTURE_PW"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_holds_every_file_and_a_manifest_over_them() {
        let pack = fixture::sample();
        let names: Vec<&str> = pack.files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            vec![
                "MANIFEST.sha256",
                "cdc-lag.csv",
                "cutover.md",
                "drs.jsonl",
                "events.jsonl",
                "exposure.json",
                "pack.json",
                "plan.json",
                "prechecks.json",
                "restore-tests.json",
                "summary.md",
                "validation.json",
                "wave-events.jsonl",
            ]
        );
        let manifest = String::from_utf8(pack.files["MANIFEST.sha256"].clone()).unwrap();
        assert_eq!(manifest.lines().count(), names.len() - 1);
        let events = String::from_utf8(pack.files[EVENTS].clone()).unwrap();
        assert_eq!(events.lines().count(), 13, "only pay-ledger-01's events");
        assert!(!events.contains("crm-02"));
        let wave = String::from_utf8(pack.files[WAVE_EVENTS].clone()).unwrap();
        assert_eq!(wave.lines().count(), 3);
        // Each line chains to the one before and re-hashes on its own.
        let mut prev = GENESIS_HASH.to_string();
        for l in events.lines() {
            let line: PackLine = serde_json::from_str(l).unwrap();
            assert_eq!(line.pack_prev_hash, prev);
            assert_eq!(line.event.compute_hash(), line.event.hash);
            prev = line.event.hash;
        }
    }

    #[test]
    fn artefacts_carry_what_the_events_say() {
        let pack = fixture::sample();
        let text = |n: &str| String::from_utf8(pack.files[n].clone()).unwrap();
        assert!(text("prechecks.json").contains("6 checks ok"));
        assert!(text("validation.json").contains("42 tables, 0 differences"));
        let drs = text("drs.jsonl");
        assert_eq!(drs.lines().count(), 3, "{drs}");
        assert!(drs.contains("job-1"));
        assert_eq!(text("cdc-lag.csv").lines().count(), 2);
        let cutover = text("cutover.md");
        assert!(
            cutover.contains("window of wave 2 approved by bob"),
            "{cutover}"
        );
        assert!(
            cutover.contains("command cutover by alice accepted"),
            "{cutover}"
        );
        assert!(
            cutover.contains("cutover.drain_source FAILED: timeout \\| retry"),
            "{cutover}"
        );
        assert!(cutover.contains("stage cutover → hypercare"), "{cutover}");
        let summary = text("summary.md");
        for needle in [
            "# Evidence pack: pay-ledger-01",
            "| Wave | 2 (window `Sat 01:00-05:00 Europe/Paris`, approved by bob at 2026-11-28 00:00:00 UTC) |",
            "| Stage at export | hypercare since 2026-11-28 00:00:00 UTC |",
            "stage registered → prechecks",
            "pre-checks passed: 6 checks ok",
            "validation passed: 42 tables, 0 differences",
            "`events.jsonl` holds 13 event(s) (seq 2 to 19)",
        ] {
            assert!(summary.contains(needle), "missing {needle:?} in\n{summary}");
        }
    }

    #[test]
    fn build_refuses_foreign_or_unordered_events() {
        let all = fixture::chain("a", "b", "X");
        let st = fixture::state("a");
        let inp = |events: &[Event]| {
            build(&PackInputs {
                state: &st,
                spec: None,
                wave: None,
                events,
                wave_events: &[],
                exported_at: fixture::t0(),
                exported_by: "x",
                member_of: None,
            })
        };
        let foreign: Vec<Event> = all.iter().filter(|e| e.db_id.is_some()).cloned().collect();
        assert!(matches!(inp(&foreign), Err(PackError::Foreign { .. })));
        let mut mine: Vec<Event> = all
            .iter()
            .filter(|e| e.db_id.as_deref() == Some("a"))
            .cloned()
            .collect();
        mine.swap(0, 1);
        assert!(matches!(inp(&mine), Err(PackError::OutOfOrder { .. })));
    }
}
