//! `wavedeck status`: waves with stage counts, failures, and per-database rows, as a plain text
//! table for people or JSON for scripts. Building and rendering the report are pure.

use super::lease::Lease;
use super::ChainReport;
use super::{DbState, WaveState};
use crate::engine::Limits;
use crate::lifecycle::Stage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Stage name → number of databases in it (only stages with at least one).
pub type StageCounts = BTreeMap<String, usize>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaveRow {
    /// `None` for databases not assigned to a wave yet.
    pub wave: Option<u32>,
    pub window: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub databases: usize,
    pub stages: StageCounts,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureRow {
    pub db_id: String,
    pub wave: Option<u32>,
    /// The stage it failed in.
    pub failed_in: Option<Stage>,
    pub since: DateTime<Utc>,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub store: String,
    pub last_seq: i64,
    /// The engine holding the lease, if one is running.
    pub engine: Option<Lease>,
    pub databases: usize,
    pub stages: StageCounts,
    pub waves: Vec<WaveRow>,
    pub failures: Vec<FailureRow>,
    /// Per-database rows, only when asked for (`--dbs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dbs: Option<Vec<DbState>>,
}

/// What `wavedeck status --json` prints: the report's fields at the top level, the engine's
/// limits, and the chain's check with `--verify`. Typed, in the shape README documents
/// ("status --json"), because scripts wait on these names: a renamed field breaks this build
/// and its test, not a cutover night's `jq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusJson {
    #[serde(flatten)]
    pub report: StatusReport,
    pub limits: Limits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainReport>,
}

fn count(dbs: &[&DbState]) -> StageCounts {
    let mut m = StageCounts::new();
    for d in dbs {
        *m.entry(d.stage.as_str().to_string()).or_default() += 1;
    }
    m
}

/// Assemble the report. `wave`: only that wave (its row, failures and databases).
pub fn build(
    store: &str,
    last_seq: i64,
    engine: Option<Lease>,
    dbs: &[DbState],
    waves: &[WaveState],
    wave: Option<u32>,
    with_dbs: bool,
) -> Result<StatusReport, String> {
    if let Some(w) = wave {
        if !waves.iter().any(|ws| ws.wave == w) {
            let known: Vec<String> = waves.iter().map(|ws| ws.wave.to_string()).collect();
            return Err(format!(
                "wave {w} does not exist; known waves: {}",
                if known.is_empty() {
                    "none (run `wavedeck init --inventory FILE`)".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    let selected: Vec<&DbState> = dbs
        .iter()
        .filter(|d| wave.is_none() || d.wave == wave)
        .collect();
    let mut rows = Vec::new();
    for ws in waves.iter().filter(|ws| wave.is_none_or(|w| w == ws.wave)) {
        let members: Vec<&DbState> = selected
            .iter()
            .copied()
            .filter(|d| d.wave == Some(ws.wave))
            .collect();
        rows.push(WaveRow {
            wave: Some(ws.wave),
            window: ws.window.clone(),
            approved_by: ws.approved_by.clone(),
            approved_at: ws.approved_at,
            started_at: ws.started_at,
            databases: members.len(),
            stages: count(&members),
        });
    }
    let loose: Vec<&DbState> = selected
        .iter()
        .copied()
        .filter(|d| d.wave.is_none())
        .collect();
    if !loose.is_empty() {
        rows.push(WaveRow {
            wave: None,
            window: String::new(),
            approved_by: None,
            approved_at: None,
            started_at: None,
            databases: loose.len(),
            stages: count(&loose),
        });
    }
    let failures = selected
        .iter()
        .filter(|d| d.stage == Stage::Failed)
        .map(|d| FailureRow {
            db_id: d.db_id.clone(),
            wave: d.wave,
            failed_in: d.held_stage,
            since: d.stage_since,
            error: d.last_error.clone().unwrap_or_default(),
        })
        .collect();
    Ok(StatusReport {
        store: store.to_string(),
        last_seq,
        engine,
        databases: selected.len(),
        stages: count(&selected),
        waves: rows,
        failures,
        dbs: with_dbs.then(|| selected.into_iter().cloned().collect()),
    })
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Stage counts in lifecycle order: "registered 3, cdc 4, failed 1".
fn stages_text(m: &StageCounts) -> String {
    Stage::ALL
        .iter()
        .filter_map(|s| m.get(s.as_str()).map(|n| format!("{} {n}", s.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

/// The human view: header, waves table, failures, and database rows when present.
pub fn render_text(r: &StatusReport) -> String {
    let mut out = format!(
        "store {}: {} databases, {} events\n",
        r.store, r.databases, r.last_seq
    );
    out.push_str(&match &r.engine {
        Some(l) => format!(
            "engine: {} (since {}, lease until {})\n",
            l.holder,
            short_time(l.acquired_at),
            l.expires_at.format("%H:%M:%S UTC")
        ),
        None => "engine: none running\n".into(),
    });
    out.push('\n');
    let rows: Vec<Vec<String>> = r
        .waves
        .iter()
        .map(|w| {
            vec![
                w.wave.map_or("none".into(), |n| n.to_string()),
                w.databases.to_string(),
                dash(&w.window),
                match (&w.approved_by, w.approved_at) {
                    (Some(by), Some(at)) => format!("{by} {}", short_time(at)),
                    (Some(by), None) => by.clone(),
                    _ => "-".into(),
                },
                dash(&stages_text(&w.stages)),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("no databases registered (run `wavedeck init --inventory FILE`)\n");
    } else {
        out.push_str(&table(
            &["WAVE", "DBS", "WINDOW", "APPROVED", "STAGES"],
            &rows,
        ));
    }
    if !r.failures.is_empty() {
        out.push_str(&format!("\nFAILURES ({})\n", r.failures.len()));
        let rows: Vec<Vec<String>> = r
            .failures
            .iter()
            .map(|f| {
                vec![
                    f.db_id.clone(),
                    f.wave.map_or("-".into(), |n| n.to_string()),
                    f.failed_in.map_or("-".into(), |s| s.as_str().to_string()),
                    short_time(f.since),
                    dash(&f.error),
                ]
            })
            .collect();
        out.push_str(&table(
            &["DB_ID", "WAVE", "FAILED IN", "SINCE", "ERROR"],
            &rows,
        ));
    }
    if let Some(dbs) = &r.dbs {
        out.push('\n');
        let rows: Vec<Vec<String>> = dbs
            .iter()
            .map(|d| {
                vec![
                    d.db_id.clone(),
                    d.wave.map_or("-".into(), |n| n.to_string()),
                    d.engine.as_str().into(),
                    match d.held_stage {
                        Some(h) => format!("{} ({h})", d.stage),
                        None => d.stage.as_str().into(),
                    },
                    short_time(d.stage_since),
                    format!("{:.0}%", d.progress_pct),
                    d.lag_s.map_or("-".into(), |l| format!("{l:.1}s")),
                    dash(d.last_error.as_deref().unwrap_or("")),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "DB_ID", "WAVE", "ENGINE", "STAGE", "SINCE", "LOAD", "LAG", "ERROR",
            ],
            &rows,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Criticality, Engine};
    use chrono::TimeZone;

    fn db(id: &str, wave: Option<u32>, stage: Stage) -> DbState {
        let t = Utc.with_ymd_and_hms(2026, 5, 1, 1, 2, 0).unwrap();
        DbState {
            db_id: id.into(),
            wave,
            engine: Engine::Postgres,
            size_gb: 1.0,
            owner: "o".into(),
            criticality: Criticality::Low,
            stage,
            held_stage: (stage == Stage::Failed).then_some(Stage::Prechecks),
            stage_since: t,
            progress_pct: 0.0,
            lag_s: None,
            validation: None,
            precheck: None,
            drs_job_id: None,
            last_error: (stage == Stage::Failed).then(|| "port 5432 unreachable".into()),
            last_event_at: t,
            attempts: 0,
            max_lag_s: None,
            business_window: String::new(),
            signoff: Default::default(),
            restore_passed_at: None,
            restore_test: Default::default(),
            mode: Default::default(),
        }
    }

    fn wave(n: u32) -> WaveState {
        WaveState {
            wave: n,
            window: if n == 0 {
                "daily 00:00-24:00 UTC".into()
            } else {
                String::new()
            },
            approved_by: None,
            approved_at: None,
            started_at: None,
            done: None,
        }
    }

    fn sample() -> (Vec<DbState>, Vec<WaveState>) {
        (
            vec![
                db("a", Some(0), Stage::Cdc),
                db("b", Some(0), Stage::Failed),
                db("c", Some(0), Stage::Cdc),
                db("d", Some(1), Stage::Registered),
                db("e", None, Stage::Registered),
            ],
            vec![wave(0), wave(1)],
        )
    }

    #[test]
    fn counts_per_wave_and_failures() {
        let (dbs, waves) = sample();
        let r = build("sqlite://x", 42, None, &dbs, &waves, None, false).unwrap();
        assert_eq!(r.databases, 5);
        assert_eq!(r.waves.len(), 3);
        assert_eq!(
            r.waves[0].stages,
            StageCounts::from([("cdc".into(), 2), ("failed".into(), 1)])
        );
        assert_eq!(r.waves[2].wave, None);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].failed_in, Some(Stage::Prechecks));
        assert!(r.dbs.is_none());
    }

    #[test]
    fn one_wave_and_unknown_wave() {
        let (dbs, waves) = sample();
        let r = build("s", 1, None, &dbs, &waves, Some(1), true).unwrap();
        assert_eq!(r.waves.len(), 1);
        assert_eq!(r.databases, 1);
        assert!(r.failures.is_empty());
        assert_eq!(r.dbs.unwrap().len(), 1);
        let err = build("s", 1, None, &dbs, &waves, Some(7), false).unwrap_err();
        assert!(err.contains("wave 7") && err.contains("0, 1"), "{err}");
    }

    #[test]
    fn text_view() {
        let (dbs, waves) = sample();
        let r = build("sqlite://x", 42, None, &dbs, &waves, None, true).unwrap();
        let text = render_text(&r);
        let expected = "\
store sqlite://x: 5 databases, 42 events
engine: none running

WAVE  DBS  WINDOW                 APPROVED  STAGES
0     3    daily 00:00-24:00 UTC  -         cdc 2, failed 1
1     1    -                      -         registered 1
none  1    -                      -         registered 1

FAILURES (1)
DB_ID  WAVE  FAILED IN  SINCE                 ERROR
b      0     prechecks  2026-05-01 01:02 UTC  port 5432 unreachable

DB_ID  WAVE  ENGINE    STAGE               SINCE                 LOAD  LAG  ERROR
a      0     postgres  cdc                 2026-05-01 01:02 UTC  0%    -    -
b      0     postgres  failed (prechecks)  2026-05-01 01:02 UTC  0%    -    port 5432 unreachable
c      0     postgres  cdc                 2026-05-01 01:02 UTC  0%    -    -
d      1     postgres  registered          2026-05-01 01:02 UTC  0%    -    -
e      -     postgres  registered          2026-05-01 01:02 UTC  0%    -    -
";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_shape_is_stable() {
        let (dbs, waves) = sample();
        let r = build("s", 3, None, &dbs, &waves, Some(0), false).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["waves"][0]["stages"]["cdc"], 2);
        assert_eq!(v["failures"][0]["db_id"], "b");
        assert_eq!(v["failures"][0]["failed_in"], "prechecks");
        assert!(v.get("dbs").is_none());
        assert_eq!(v["engine"], serde_json::Value::Null);
    }

    fn keys(v: &serde_json::Value) -> Vec<&str> {
        let mut k: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    #[test]
    fn status_json_has_the_documented_fields_and_reads_back() {
        let (dbs, waves) = sample();
        let report = build("s", 3, None, &dbs, &waves, None, true).unwrap();
        let out = StatusJson {
            report,
            limits: crate::engine::limits_summary(&crate::config::Config::default()).1,
            chain: None,
        };
        let v = serde_json::to_value(&out).unwrap();
        // README, "status --json": the names scripts wait on (`chain` only with --verify).
        assert_eq!(
            keys(&v),
            [
                "databases",
                "dbs",
                "engine",
                "failures",
                "last_seq",
                "limits",
                "stages",
                "store",
                "waves"
            ]
        );
        assert_eq!(
            keys(&v["limits"]),
            [
                "bandwidth_gbps",
                "checks",
                "drs_concurrency",
                "full_loads_at_once",
                "job_bandwidth_mbps",
                "validation_capacity",
                "wave_concurrency"
            ]
        );
        assert_eq!(v["limits"]["checks"], "both", "{v}");
        assert_eq!(
            keys(&v["waves"][0]),
            [
                "approved_at",
                "approved_by",
                "databases",
                "stages",
                "started_at",
                "wave",
                "window"
            ]
        );
        assert_eq!(
            keys(&v["failures"][0]),
            ["db_id", "error", "failed_in", "since", "wave"]
        );
        let back: StatusJson = serde_json::from_value(v).unwrap();
        assert_eq!(back, out);
    }
}
