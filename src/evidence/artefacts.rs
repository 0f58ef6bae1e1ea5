//! Artefacts drawn from the events, for people: pre-check outputs, the plan, DRS responses,
//! validation results, cutover notes and a summary. Deterministic functions of `pack.json` and
//! the chain files, so verify rebuilds them and names the first line that differs.
//!
//! Which events go where (the engine's conventions):
//! - `prechecks.json`: `db.precheck` payloads; `validation.json`: `db.validation` payloads.
//! - `drs.jsonl`: `step.*` events of DRS calls (the engine's `create_job`, `start_job`,
//!   `compare`, `terminate_job`... or any step named `drs.*`), events whose payload carries a
//!   `drs` object, and full-load progress (`db.progress`).
//! - `cdc-lag.csv`: `db.lag` samples.
//! - `exposure.json`: the "no public exposure" results (`checks::exposure`) of every `db.precheck`,
//!   and of every cutover guard step that checked it again (`step.outcome` of `cutover.guards`
//!   with `detail.exposure`, or its refusal).
//! - `restore-tests.json`: every restore test of the database (`restore.*` steps, one entry per
//!   run: the backup, its verdict with the smoke tests and row counts, the deletion).
//! - `cutover.md`: window approvals, cutover/rollback/close-hypercare commands, every step run
//!   while the database was in cutover or hypercare (and any `cutover.*`, `rollback.*`, DNS
//!   step), and stage changes into or out of cutover, hypercare, completed, rolled_back.

use super::format::{PackMeta, EVENTS};
use crate::lifecycle::Stage;
use crate::store::event::Body;
use crate::store::model::{kind, Action, Event};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::fmt::Write as _;

pub const PLAN: &str = "plan.json";
pub const PRECHECKS: &str = "prechecks.json";
pub const VALIDATION: &str = "validation.json";
pub const DRS: &str = "drs.jsonl";
pub const LAG: &str = "cdc-lag.csv";
pub const CUTOVER: &str = "cutover.md";
pub const SUMMARY: &str = "summary.md";
pub const EXPOSURE: &str = "exposure.json";
pub const RESTORE_TESTS: &str = "restore-tests.json";
/// Every file [`derive`] writes.
pub const NAMES: [&str; 9] = [
    PLAN,
    PRECHECKS,
    VALIDATION,
    DRS,
    LAG,
    CUTOVER,
    SUMMARY,
    EXPOSURE,
    RESTORE_TESTS,
];

/// Artefacts added after packs were first written: a pack exported before one existed has
/// neither the file nor its summary line, and still verifies (a file removed from a pack that
/// had it is found by the manifest).
pub const LATER: [&str; 2] = [EXPOSURE, RESTORE_TESTS];

/// Every derived file, by name.
pub fn derive(meta: &PackMeta, events: &[Event], wave_events: &[Event]) -> Vec<(String, Vec<u8>)> {
    derive_having(meta, events, wave_events, &|_| true)
}

/// The derived files of a pack that has the [`LATER`] artefacts `has` says it has.
pub fn derive_having(
    meta: &PackMeta,
    events: &[Event],
    wave_events: &[Event],
    has: &dyn Fn(&str) -> bool,
) -> Vec<(String, Vec<u8>)> {
    let all: Vec<(String, Vec<u8>)> = vec![
        (PLAN.into(), pretty(&plan(meta))),
        (
            PRECHECKS.into(),
            pretty(&of_kind(events, kind::DB_PRECHECK)),
        ),
        (
            VALIDATION.into(),
            pretty(&of_kind(events, kind::DB_VALIDATION)),
        ),
        (DRS.into(), drs(events).into_bytes()),
        (LAG.into(), lag_csv(events).into_bytes()),
        (
            CUTOVER.into(),
            cutover(meta, events, wave_events).into_bytes(),
        ),
        (
            SUMMARY.into(),
            summary(meta, events, wave_events, has).into_bytes(),
        ),
        (EXPOSURE.into(), pretty(&Value::Array(exposure(events)))),
        (
            RESTORE_TESTS.into(),
            pretty(&Value::Array(restore_tests(events))),
        ),
    ];
    all.into_iter()
        .filter(|(n, _)| !LATER.contains(&n.as_str()) || has(n))
        .collect()
}

/// One entry per restore test run, from its steps' events.
fn restore_tests(events: &[Event]) -> Vec<Value> {
    let book = crate::restore::Book::from_events(events);
    book.all()
        .map(|r| {
            let v = r.verdict();
            let delete = r
                .steps
                .get(&crate::restore::RestoreStep::Delete)
                .and_then(|s| s.outcome.as_ref());
            json!({
                "db_id": r.db,
                "run": r.r.run,
                "instance": r.r.instance,
                "instance_id": r.r.instance_id,
                "point": r.r.point,
                "backup_id": r.r.backup_id,
                "origin": r.r.origin,
                "started": r.started_at.to_rfc3339(),
                "passed": v.as_ref().map(|v| v.passed),
                "summary": v.as_ref().map(|v| v.summary.clone()),
                "took_s": v.as_ref().map(|v| v.took.num_seconds()),
                "report": v.as_ref().and_then(|v| v.detail.as_ref()).and_then(|d| d.get("report")).cloned(),
                "deleted": r.done(),
                "interrupted": delete.and_then(|o| crate::restore::RunRef::read(&o.detail)).is_some_and(|x| x.interrupted),
            })
        })
        .collect()
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The engine step an event is about ("" for any other event).
fn step_of(body: &Body) -> &str {
    match body {
        Body::StepIntent(i) => &i.step,
        Body::StepOutcome(o) => &o.step,
        _ => "",
    }
}

/// Markdown table cells must not break the table.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn record(e: &Event) -> Value {
    json!({"seq": e.seq, "time": e.time, "actor": e.actor, "kind": e.kind, "payload": e.payload})
}

fn plan(meta: &PackMeta) -> Value {
    json!({
        "db_id": meta.db_id,
        "wave": meta.state.wave,
        "spec": meta.spec,
        "wave_window": meta.wave.as_ref().map(|w| &w.window),
        "window_approved_by": meta.wave.as_ref().and_then(|w| w.approved_by.as_ref()),
        "window_approved_at": meta.wave.as_ref().and_then(|w| w.approved_at),
    })
}

fn of_kind(events: &[Event], k: &str) -> Value {
    Value::Array(events.iter().filter(|e| e.kind == k).map(record).collect())
}

/// The exposure results of a pre-check report's detail (SQL results or the exposure check's,
/// alone or beside DRS's).
fn exposure_results(
    detail: &crate::store::report::PrecheckDetail,
) -> Vec<crate::checks::CheckResult> {
    use crate::store::report::PrecheckDetail as D;
    match detail {
        D::Sql(r) => r
            .iter()
            .filter(|c| crate::checks::exposure::is_exposure(&c.name))
            .cloned()
            .collect(),
        D::Both { local, .. } => exposure_results(local),
        _ => vec![],
    }
}

/// One entry per run of the exposure check: when, where from, its verdict and results.
fn exposure(events: &[Event]) -> Vec<Value> {
    let mut out = Vec::new();
    for e in events {
        let (source, results, refusal) = match e.body() {
            Body::Precheck(r) => ("precheck", exposure_results(&r.precheck()), None),
            Body::StepOutcome(o) if o.step == GUARDS_STEP => {
                let results: Vec<crate::checks::CheckResult> = o
                    .detail
                    .as_ref()
                    .and_then(|d| d.get("exposure"))
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                let refused = o
                    .error
                    .as_deref()
                    .filter(|w| w.contains(crate::checks::exposure::REFUSAL))
                    .map(str::to_string);
                if results.is_empty() && refused.is_none() {
                    continue;
                }
                ("cutover.guards", results, refused)
            }
            _ => continue,
        };
        if results.is_empty() && refusal.is_none() {
            continue;
        }
        let passed = refusal.is_none() && crate::checks::passed(&results);
        out.push(json!({
            "seq": e.seq,
            "time": e.time,
            "source": source,
            "passed": passed,
            "summary": crate::checks::summary(&results),
            "results": results,
            "refusal": refusal,
        }));
    }
    out
}

/// The cutover step that checks exposure again (`cutover::CutoverStep::Guards`).
const GUARDS_STEP: &str = "cutover.guards";

/// Engine steps that are DRS API calls.
const DRS_STEPS: [&str; 8] = [
    "create_job",
    "drs_precheck",
    "start_job",
    "resume_job",
    "pause_job",
    "compare",
    "terminate_job",
    "delete_job",
];

fn is_step(e: &Event) -> bool {
    e.kind == kind::STEP_INTENT || e.kind == kind::STEP_OUTCOME
}

/// Who did it: the operator the event names (a command's requester, even when empty, as it
/// was first written; a wave act's or a stage change's `by`), else the event's actor.
fn who(e: &Event) -> String {
    let named = match e.body() {
        Body::CommandAccepted(c) | Body::CommandRejected(c) => Some(c.who),
        Body::WaveApproved(w) | Body::WaveStarted(w) => w.by,
        Body::Stage(st) => st.by,
        _ => None,
    };
    named.unwrap_or_else(|| e.actor.clone())
}

fn is_drs(e: &Event) -> bool {
    let body = e.body();
    let step = step_of(&body);
    (is_step(e)
        && (step.starts_with("drs") || step.starts_with("provision") || DRS_STEPS.contains(&step)))
        || matches!(body, Body::Progress(_))
}

fn drs(events: &[Event]) -> String {
    let mut out = String::new();
    for e in events.iter().filter(|e| is_drs(e)) {
        out.push_str(&record(e).to_string());
        out.push('\n');
    }
    out
}

fn lag_csv(events: &[Event]) -> String {
    let mut out = String::from("seq,time,lag_s\n");
    for e in events.iter().filter(|e| e.kind == kind::DB_LAG) {
        // Written as serde_json writes a number (`9.0`, not `9`): packs already exported are
        // verified by deriving this file again.
        let lag = match e.body() {
            Body::Lag(l) => Value::from(l.lag_s).to_string(),
            _ => String::new(),
        };
        let _ = writeln!(out, "{},{},{}", e.seq, e.time.to_rfc3339(), lag);
    }
    out
}

const LATE_STAGES: [&str; 4] = ["cutover", "hypercare", "completed", "rolled_back"];

/// `stage`: the database's stage when the event was written.
/// The wave's own events in a member's cutover notes: its window's approval and its end.
fn wave_line(e: &Event) -> bool {
    e.kind == kind::WAVE_APPROVED || e.kind == kind::WAVE_DONE
}

fn is_cutover_event(e: &Event, stage: &str) -> bool {
    let late = |s: Option<Stage>| s.is_some_and(|s| LATE_STAGES.contains(&s.as_str()));
    match e.body() {
        Body::StepIntent(_) | Body::StepOutcome(_) => {
            let body = e.body();
            let step = step_of(&body);
            step.starts_with("cutover.")
                || step.starts_with("rollback.")
                || step.starts_with("dns_")
                || LATE_STAGES.contains(&stage)
        }
        Body::Stage(st) => late(Some(st.to)) || late(st.from) || late(st.held),
        Body::CommandAccepted(c) | Body::CommandRejected(c) => matches!(
            c.action,
            Some(Action::Cutover | Action::Rollback | Action::CloseHypercare)
        ),
        _ => false,
    }
}

/// One human line for an event in a timeline. Packs already exported are verified by
/// deriving their files again: these words stay as they were first written.
fn describe(e: &Event) -> String {
    let body = e.body();
    match &body {
        Body::Stage(st) => {
            let mut s = format!(
                "stage {} → {}",
                st.from.map(|f| f.as_str()).unwrap_or("?"),
                st.to.as_str()
            );
            if let Some(h) = st.held {
                let _ = write!(s, " (in {})", h.as_str());
            }
            if !st.reason.is_empty() {
                let _ = write!(s, " ({})", st.reason);
            }
            s
        }
        Body::StepIntent(i) => match &i.does {
            Some(does) => format!("start {} (attempt {}): {does}", i.step, i.attempt),
            None => format!("start {} (attempt {})", i.step, i.attempt),
        },
        Body::StepOutcome(o) => match (o.ok, &o.error) {
            // The step's own one-line result (DNS name -> value and TTL, LSNs compared).
            (true, _) => match o.summary.as_deref().filter(|s| !s.is_empty()) {
                Some(sum) => format!("{} done: {sum}", o.step),
                None => format!("{} done", o.step),
            },
            (false, Some(err)) => format!("{} FAILED: {err}", o.step),
            (false, None) => format!("{} FAILED", o.step),
        },
        Body::CommandAccepted(c) | Body::CommandRejected(c) => {
            let verdict = if matches!(body, Body::CommandAccepted(_)) {
                "accepted"
            } else {
                "rejected"
            };
            let mut s = format!(
                "command {} by {} {verdict}",
                c.action.map(|a| a.as_str()).unwrap_or("?"),
                who(e)
            );
            if let Some(r) = c.reason.as_deref().filter(|r| !r.is_empty()) {
                let _ = write!(s, ": {r}");
            }
            s
        }
        Body::WaveApproved(_) => format!(
            "window of wave {} approved by {}",
            e.wave.map(|w| w.to_string()).unwrap_or_else(|| "?".into()),
            who(e)
        ),
        Body::WaveStarted(_) => format!(
            "wave {} started",
            e.wave.map(|w| w.to_string()).unwrap_or_else(|| "?".into())
        ),
        Body::WaveDone(d) => format!("wave {} done: {}", d.wave, d.summary()),
        Body::Precheck(r) | Body::Validation(r) => {
            let what = if matches!(body, Body::Precheck(_)) {
                "pre-checks"
            } else {
                "validation"
            };
            format!(
                "{what} {}: {}",
                if r.passed { "passed" } else { "FAILED" },
                r.summary
            )
        }
        _ => e.kind.clone(),
    }
}

fn timeline(out: &mut String, events: &[&Event]) {
    out.push_str("| Time | Seq | By | What |\n|---|---|---|---|\n");
    for e in events {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            ts(e.time),
            e.seq,
            cell(&who(e)),
            cell(&describe(e))
        );
    }
}

fn cutover(meta: &PackMeta, events: &[Event], wave_events: &[Event]) -> String {
    let mut out = format!("# Cutover notes: {}\n\n", meta.db_id);
    if let Some(w) = &meta.wave {
        let _ = writeln!(out, "Wave {} window: `{}`.", w.wave, w.window);
        match (&w.approved_by, w.approved_at) {
            (Some(by), Some(at)) => {
                let _ = writeln!(out, "Window approved by {by} at {}.", ts(at));
            }
            _ => out.push_str("Window not approved at export.\n"),
        }
        out.push('\n');
    }
    let mut stage = "registered".to_string();
    let mut mine = Vec::new();
    for e in events {
        if is_cutover_event(e, &stage) {
            mine.push(e);
        }
        if let Body::Stage(st) = e.body() {
            stage = st.to.as_str().to_string();
        }
    }
    let mut rows: Vec<&Event> = wave_events
        .iter()
        .filter(|e| wave_line(e) || is_cutover_event(e, ""))
        .chain(mine)
        .collect();
    rows.sort_by_key(|e| e.seq);
    if rows.iter().all(|e| wave_line(e)) {
        out.push_str("No cutover was attempted before this export.\n");
        if rows.is_empty() {
            return out;
        }
        out.push('\n');
    }
    timeline(&mut out, &rows);
    out
}

fn latest<'a>(events: &'a [Event], k: &str) -> Option<&'a Event> {
    events.iter().rev().find(|e| e.kind == k)
}

/// Every sign-off of the database, whether it still stood at export, and each withdrawal: read
/// with the same ledger the engine's guard uses.
fn signoff_table(out: &mut String, events: &[Event]) {
    use crate::signoff::{Ledger, Signature};
    use crate::store::event::Body;
    out.push_str("\n## Sign-off\n\n");
    let mut ledger = Ledger::default();
    let mut rows = Vec::new();
    let mut withdrawals = Vec::new();
    for e in events {
        let before = ledger.withdrawn.clone();
        let body = e.body();
        ledger.observe(&e.kind, &body, e.time);
        if let Body::Signoff(s) = &body {
            rows.push(Signature::of(s, e.time));
        }
        if ledger.withdrawn != before {
            withdrawals.extend(ledger.withdrawn.clone());
        }
    }
    if rows.is_empty() {
        out.push_str("None recorded.\n");
        return;
    }
    out.push_str("| When | Role | Who | Note | At export |\n|---|---|---|---|---|\n");
    for s in &rows {
        let standing = ledger.signed.contains(s);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            ts(s.at),
            s.role.as_str(),
            cell(&s.who),
            cell(s.note.as_deref().unwrap_or("")),
            if standing { "standing" } else { "withdrawn" }
        );
    }
    for (at, why) in withdrawals {
        let _ = writeln!(out, "\nSign-offs withdrawn at {}: {}.", ts(at), cell(&why));
    }
}

fn summary(
    meta: &PackMeta,
    events: &[Event],
    wave_events: &[Event],
    has: &dyn Fn(&str) -> bool,
) -> String {
    let st = &meta.state;
    let mut out = format!("# Evidence pack: {}\n\n", meta.db_id);
    let _ = writeln!(
        out,
        "Exported {} by {} (wavedeck {}).\n",
        ts(meta.exported_at),
        cell(&meta.exported_by),
        meta.wavedeck_version
    );
    out.push_str("| | |\n|---|---|\n");
    let version = meta
        .spec
        .as_ref()
        .map(|s| format!(" {}", s.engine_version))
        .unwrap_or_default();
    let _ = writeln!(out, "| Engine | {}{} |", st.engine.as_str(), cell(&version));
    let _ = writeln!(out, "| Size | {:.1} GB |", st.size_gb);
    let _ = writeln!(out, "| Owner | {} |", cell(&st.owner));
    let _ = writeln!(out, "| Criticality | {} |", st.criticality.as_str());
    if let Some(spec) = &meta.spec {
        let _ = writeln!(
            out,
            "| Source | {}:{}/{} |",
            cell(&spec.source.host),
            spec.source.port,
            cell(&spec.source.database)
        );
        let _ = writeln!(
            out,
            "| Target | {}:{}/{} |",
            cell(&spec.target.host),
            spec.target.port,
            cell(&spec.target.database)
        );
        let _ = writeln!(out, "| Business window | {} |", cell(&spec.business_window));
    }
    let wave = match (&st.wave, &meta.wave) {
        (Some(n), Some(w)) => {
            let approval = match (&w.approved_by, w.approved_at) {
                (Some(by), Some(at)) => format!("approved by {} at {}", cell(by), ts(at)),
                _ => "not approved".to_string(),
            };
            format!("{n} (window `{}`, {approval})", cell(&w.window))
        }
        (Some(n), None) => n.to_string(),
        (None, _) => "none".to_string(),
    };
    let _ = writeln!(out, "| Wave | {wave} |");
    let held = st
        .held_stage
        .map(|h| format!(" (in {h})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "| Stage at export | {}{held} since {} |",
        st.stage,
        ts(st.stage_since)
    );
    if let Some(job) = &st.drs_job_id {
        let _ = writeln!(out, "| DRS job | {} |", cell(job));
    }
    if let Some(err) = &st.last_error {
        let _ = writeln!(out, "| Last error | {} |", cell(err));
    }
    if !st.mode.is_online() {
        let _ = writeln!(
            out,
            "| Mode | offline (no CDC: the data moved with writes stopped) |"
        );
    }
    // The last cutover's write outage, as the engine measured it when the cutover ended.
    let outage = events.iter().rev().find_map(|e| match e.body() {
        Body::Stage(c) => c.outage_s.map(|o| (o, e.time)),
        _ => None,
    });
    if let Some((secs, at)) = outage {
        let _ = writeln!(
            out,
            "| Write outage | {secs:.1} s, from the source's drain to the cutover's end at {} |",
            ts(at)
        );
    }
    // What the accepted cutover command expected of it (offline: the cockpit's or the CLI's
    // estimate before the confirmation), on its own command or its wave's.
    let mut asked: Vec<&Event> = events.iter().chain(wave_events).collect();
    asked.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let expected = asked.into_iter().find_map(|e| match e.body() {
        Body::CommandAccepted(c) => crate::plan::expected::of_command(&c)
            .into_iter()
            .find(|(db, _)| *db == meta.db_id)
            .map(|(_, s)| (s, c.command_id, e.time)),
        _ => None,
    });
    if let Some((secs, id, at)) = expected {
        let _ = writeln!(
            out,
            "| Expected outage | {} ({secs:.0} s), estimated when cutover command {id} was accepted at {} |",
            crate::plan::estimate::human(secs),
            ts(at)
        );
    }

    out.push_str("\n## Stages\n\n");
    let stages: Vec<&Event> = events.iter().filter(|e| e.kind == kind::DB_STAGE).collect();
    if stages.is_empty() {
        out.push_str("No stage change recorded.\n");
    } else {
        timeline(&mut out, &stages);
    }

    out.push_str("\n## Approvals and operator commands\n\n");
    let mut people: Vec<&Event> = wave_events
        .iter()
        .chain(events)
        .filter(|e| {
            matches!(
                e.kind.as_str(),
                kind::WAVE_APPROVED
                    | kind::WAVE_STARTED
                    | kind::COMMAND_ACCEPTED
                    | kind::COMMAND_REJECTED
            ) || matches!(e.body(), Body::Stage(s) if s.by.is_some())
        })
        .collect();
    people.sort_by_key(|e| e.seq);
    if people.is_empty() {
        out.push_str("None recorded.\n");
    } else {
        timeline(&mut out, &people);
    }

    signoff_table(&mut out, events);

    out.push_str("\n## Pre-checks and validation\n\n");
    match exposure(events).last().filter(|_| has(EXPOSURE)) {
        Some(x) => {
            let failed: Vec<String> = x["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["status"] != "pass")
                .map(|r| {
                    format!(
                        "{} {}: {}",
                        r["name"].as_str().unwrap_or(""),
                        r["status"].as_str().unwrap_or(""),
                        r["evidence"].as_str().unwrap_or("")
                    )
                })
                .chain(x["refusal"].as_str().map(str::to_string))
                .collect();
            let _ = writeln!(
                out,
                "- exposure: {} at {} ({}; {}details in `{EXPOSURE}`)",
                if x["passed"] == true {
                    "no public exposure"
                } else {
                    "EXPOSED or not decided"
                },
                x["time"].as_str().unwrap_or(""),
                x["source"].as_str().unwrap_or(""),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!("{}; ", cell(&failed.join("; ")))
                },
            );
        }
        None if has(EXPOSURE) => out.push_str("- exposure: not checked\n"),
        None => {}
    }
    let book = crate::restore::Book::from_events(events);
    match book
        .all()
        .filter_map(|r| r.verdict().map(|v| (r, v)))
        .last()
    {
        Some((r, v)) => {
            let _ = writeln!(
                out,
                "- restore test: {} at {} (run {}, {} s, {}; {}details in `{RESTORE_TESTS}`)",
                if v.passed { "passed" } else { "FAILED" },
                v.at.format("%Y-%m-%d %H:%M:%S UTC"),
                r.r.run,
                v.took.num_seconds(),
                if r.done() {
                    "instance deleted"
                } else {
                    "instance NOT deleted yet"
                },
                if v.passed {
                    String::new()
                } else {
                    format!("{}; ", cell(&v.summary))
                },
            );
        }
        None if has(RESTORE_TESTS) => out.push_str("- restore test: none run\n"),
        None => {}
    }
    for (k, file, what) in [
        (kind::DB_PRECHECK, PRECHECKS, "pre-checks"),
        (kind::DB_VALIDATION, VALIDATION, "validation"),
    ] {
        let n = events.iter().filter(|e| e.kind == k).count();
        match latest(events, k) {
            Some(e) => {
                let _ = writeln!(
                    out,
                    "- {} at {} ({n} run(s), details in `{file}`)",
                    describe(e),
                    ts(e.time)
                );
            }
            None => {
                let _ = writeln!(out, "- no {what} recorded");
            }
        }
    }

    out.push_str("\n## Failures and retries\n\n");
    let failures: Vec<&Event> = events
        .iter()
        .filter(|e| {
            // A database's move to `failed` is not listed: packs already exported are
            // verified by deriving this file again, so its rule stays as it was written.
            matches!(e.body(), Body::StepOutcome(o) if !o.ok)
        })
        .collect();
    if failures.is_empty() {
        out.push_str("None.\n");
    } else {
        timeline(&mut out, &failures);
    }

    let _ = writeln!(
        out,
        "\n## Other artefacts\n\n- `{CUTOVER}`: cutover and rollback steps\n- `{DRS}`: DRS calls and progress\n- `{LAG}`: CDC lag samples\n- `{PLAN}`: inventory record and wave"
    );

    out.push_str("\n## Integrity\n\n");
    if let Some(c) = meta.chains.get(EVENTS) {
        let span = match (c.events.first(), c.events.last()) {
            (Some(a), Some(b)) => format!(" (seq {} to {})", a.0, b.0),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "`{EVENTS}` holds {} event(s){span}; the last one's hash is `{}`.",
            c.count, c.last_hash
        );
    }
    out.push_str(
        "Check this pack with `wavedeck evidence verify DIR` (hash chain, order, every file) \
         or `sha256sum -c MANIFEST.sha256` (files only).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signoff_table_lists_each_signoff_and_what_withdrew_it() {
        use crate::signoff::SignoffRole;
        use crate::store::event::{Body, CheckReport, SignedOff};
        use crate::store::NewEvent;
        let t = |m: i64| super::super::pack::fixture::t0() + chrono::Duration::minutes(m);
        // Events as the writers' vocabulary makes them, stored at minute `seq`.
        let e = |seq: i64, body: Body| {
            let n = NewEvent::of(Some("a"), Some(1), body, "x");
            Event {
                seq,
                time: t(seq),
                db_id: n.db_id,
                wave: n.wave,
                kind: n.kind,
                payload: n.payload,
                actor: n.actor,
                prev_hash: String::new(),
                hash: String::new(),
            }
        };
        let signed = |role, who: &str, note| Body::Signoff(SignedOff::new(role, who, note));
        let failed = Body::Validation(CheckReport {
            passed: false,
            summary: "1 table differs".into(),
            detail: serde_json::Value::Null,
        });
        let events = vec![
            e(
                1,
                signed(SignoffRole::TechLead, "alice", Some("dry run | ok")),
            ),
            e(2, failed),
            e(3, signed(SignoffRole::TechLead, "alice", None)),
            e(4, signed(SignoffRole::DataOwner, "bob", None)),
        ];
        let mut out = String::new();
        signoff_table(&mut out, &events);
        assert_eq!(
            out,
            "\n## Sign-off\n\n| When | Role | Who | Note | At export |\n|---|---|---|---|---|\n\
             | 2026-11-28 00:01:00 UTC | tech_lead | alice | dry run \\| ok | withdrawn |\n\
             | 2026-11-28 00:03:00 UTC | tech_lead | alice |  | standing |\n\
             | 2026-11-28 00:04:00 UTC | data_owner | bob |  | standing |\n\
             \nSign-offs withdrawn at 2026-11-28 00:02:00 UTC: a validation failed.\n"
        );
        let mut none = String::new();
        signoff_table(&mut none, &events[1..2]);
        assert!(none.ends_with("None recorded.\n"), "{none}");
    }

    #[test]
    fn names_are_what_derive_writes() {
        let pack = super::super::pack::fixture::sample();
        let meta: PackMeta = serde_json::from_slice(&pack.files["pack.json"]).unwrap();
        let derived: Vec<String> = derive(&meta, &[], &[])
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(derived, NAMES.map(str::to_string));
    }

    #[test]
    fn a_finished_step_shows_its_own_result() {
        let e = Event {
            seq: 1,
            time: chrono::Utc::now(),
            db_id: Some("a".into()),
            wave: Some(0),
            kind: kind::STEP_OUTCOME.into(),
            payload: serde_json::json!({"step": "cutover.dns_switch", "attempt": 0, "ok": true,
                "summary": "file a.db.internal -> 10.1.0.1:5432 (ttl 60 s)"}),
            actor: "engine".into(),
            prev_hash: String::new(),
            hash: String::new(),
        };
        assert_eq!(
            describe(&e),
            "cutover.dns_switch done: file a.db.internal -> 10.1.0.1:5432 (ttl 60 s)"
        );
    }
}
