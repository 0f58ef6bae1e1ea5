//! `wavedeck bench evidence`: how long exporting and verifying a pack takes for a database with
//! a long history, through the real build, write and verify code.

use crate::evidence::pack::{self, PackInputs};
use crate::evidence::{verify, write};
use crate::inventory::{Criticality, Engine};
use crate::lifecycle::Stage;
use crate::store::hash::GENESIS_HASH;
use crate::store::model::{kind, DbState, Event};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  wavedeck bench evidence --events 100000")]
pub struct EvidenceBenchArgs {
    /// Events in the database's history.
    #[arg(long, default_value_t = 50_000)]
    pub events: usize,
}

/// A plausible history: mostly lag samples and progress, with steps and stage changes.
fn history(n: usize) -> Vec<Event> {
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut out: Vec<Event> = Vec::with_capacity(n);
    let mut prev = GENESIS_HASH.to_string();
    for i in 0..n {
        let (k, payload) = match i % 10 {
            0 => (
                kind::STEP_INTENT,
                json!({"step": "compare", "attempt": 1, "does": "row counts"}),
            ),
            1 => (
                kind::STEP_OUTCOME,
                json!({"step": "compare", "attempt": 1, "ok": true}),
            ),
            2 => (kind::DB_PROGRESS, json!({"pct": (i % 100) as f64})),
            5 => (
                kind::DB_STAGE,
                json!({"from": "cdc", "to": "validation", "reason": "caught up"}),
            ),
            _ => (kind::DB_LAG, json!({"lag_s": (i % 37) as f64 / 4.0})),
        };
        let mut e = Event {
            seq: (i as i64) * 3 + 1,
            time: t0 + Duration::milliseconds(i as i64 * 250),
            db_id: Some("bench-db".into()),
            wave: Some(1),
            kind: k.into(),
            payload,
            actor: "engine".into(),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        prev = e.hash.clone();
        out.push(e);
    }
    out
}

pub fn run(args: EvidenceBenchArgs) -> anyhow::Result<ExitCode> {
    let n = args.events.max(1);
    let events = history(n);
    let state = DbState {
        db_id: "bench-db".into(),
        wave: Some(1),
        engine: Engine::Postgres,
        size_gb: 50.0,
        owner: "bench".into(),
        criticality: Criticality::Low,
        stage: Stage::Validation,
        held_stage: None,
        stage_since: events[0].time,
        progress_pct: 100.0,
        lag_s: Some(0.5),
        validation: None,
        precheck: None,
        drs_job_id: None,
        last_error: None,
        last_event_at: events[n - 1].time,
        attempts: 0,
        max_lag_s: None,
        business_window: String::new(),
        signoff: Default::default(),
        restore_passed_at: None,
        restore_test: Default::default(),
        mode: Default::default(),
    };

    let t = Instant::now();
    let built = pack::build(&PackInputs {
        state: &state,
        spec: None,
        wave: None,
        events: &events,
        wave_events: &[],
        exported_at: Utc::now(),
        exported_by: "bench",
        member_of: None,
    })?;
    let build = t.elapsed();
    let bytes: usize = built.files.values().map(Vec::len).sum();

    let dir = std::env::temp_dir().join(format!("wavedeck-bench-evidence-{}", std::process::id()));
    let t = Instant::now();
    let written = write::write_pack(&dir, &built, &[]);
    let write_time = t.elapsed();
    let result = written.and_then(|p| {
        let t = Instant::now();
        let report = verify::verify_dir(&p)?;
        Ok((report, t.elapsed()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (report, verify_time) = result?;
    anyhow::ensure!(
        report.is_ok(),
        "the benchmark pack did not verify: {:?}",
        report.problems.first()
    );

    let per_s = |d: std::time::Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "evidence pack of one database with {n} events ({:.1} MB on disk)",
        bytes as f64 / 1e6
    );
    println!(
        "  build   {:>9.1} ms  ({:>9.0} events/s)",
        build.as_secs_f64() * 1e3,
        per_s(build)
    );
    println!("  write   {:>9.1} ms", write_time.as_secs_f64() * 1e3);
    println!(
        "  verify  {:>9.1} ms  ({:>9.0} events/s, re-hash + order + artefacts)",
        verify_time.as_secs_f64() * 1e3,
        per_s(verify_time)
    );
    Ok(ExitCode::SUCCESS)
}
