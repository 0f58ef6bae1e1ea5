//! The guards shown in an action dialog and in the detail view: what the engine will check
//! before accepting the command, as sentences, computed from what the cockpit already knows.
//! The engine re-checks them on its side; this is the operator's preview.

use super::data::Data;
use super::window;
use crate::lifecycle::{self, Stage};
use crate::store::model::{Action, CommandStatus, DbState, Role, Target};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq)]
pub struct GuardLine {
    pub name: String,
    pub ok: bool,
    pub sentence: String,
}

/// Thresholds the previews need (from config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub max_lag_s: f64,
    pub validation_max_age_min: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_lag_s: 5.0,
            validation_max_age_min: 60,
        }
    }
}

fn g(name: &str, ok: bool, sentence: impl Into<String>) -> GuardLine {
    GuardLine {
        name: name.into(),
        ok,
        sentence: sentence.into(),
    }
}

/// The lifecycle's own guards for a database action (the same table the engine decides with),
/// evaluated on what the cockpit knows. A trigger that does not apply from the current stage
/// becomes one red "stage" line with the lifecycle's sentence.
pub fn for_db(
    action: Action,
    d: &DbState,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let ctx = context(d, data, now, lim, role);
    let pos = lifecycle::Position::from_state(d.stage, d.held_stage);
    let Some(trigger) = lifecycle::Trigger::for_action(action) else {
        return lifecycle::guards(action, None, &ctx)
            .into_iter()
            .map(line)
            .collect();
    };
    match lifecycle::decide(pos, trigger, &ctx) {
        Ok(_) => lifecycle::guards(action, Some(pos), &ctx)
            .into_iter()
            .map(line)
            .collect(),
        Err(rej) => {
            let mut out: Vec<GuardLine> = rej.guards.iter().cloned().map(line).collect();
            for r in &rej.reasons {
                if !out.iter().any(|g| &g.sentence == r) {
                    out.push(g("stage", false, r.clone()));
                }
            }
            out
        }
    }
}

fn line(gd: lifecycle::Guard) -> GuardLine {
    g(gd.name, gd.ok, gd.sentence)
}

fn context(
    d: &DbState,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> lifecycle::GuardContext {
    let wave = d.wave.and_then(|n| data.wave(n));
    let win = wave.and_then(|w| crate::inventory::BusinessWindow::parse(&w.window).ok());
    let next = win.as_ref().and_then(|w| w.next_change(now));
    lifecycle::GuardContext {
        wave: d.wave,
        role,
        lag_s: d.lag_s,
        max_lag_s: lim.max_lag_s,
        validation_passed: d.validation.as_ref().is_some_and(|v| v.passed),
        validation_at: d.validation.as_ref().map(|v| v.at),
        validation_max_age_min: lim.validation_max_age_min,
        window_approved: wave.is_some_and(|w| w.approved_by.is_some()),
        window_open: win.as_ref().is_some_and(|w| w.is_open(now)),
        window_next_change: next,
        window_next_change_label: next.map(|t| t.format("%a %H:%M UTC").to_string()),
        cutover_in_flight: data.commands.iter().any(|c| {
            c.action == Action::Cutover
                && c.target == Target::Db(d.db_id.clone())
                && c.status == CommandStatus::Pending
        }),
        ..lifecycle::GuardContext::new(d.db_id.clone(), now)
    }
}

pub fn for_wave(
    action: Action,
    n: u32,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let mut out = vec![match role {
        Role::Operator => g("role", true, "operator session"),
        Role::Viewer => g("role", false, "read-only viewer session"),
    }];
    let Some(w) = data.wave(n) else {
        out.push(g("wave", false, format!("wave {n} is not planned")));
        return out;
    };
    let members = data.dbs.iter().filter(|d| d.wave == Some(n)).count();
    out.push(g(
        "members",
        members > 0,
        format!("wave {n} has {members} databases"),
    ));
    match action {
        Action::ApproveWindow => {
            out.push(match &w.approved_by {
                Some(who) => g("not_approved", false, format!("already approved by {who}")),
                None => g(
                    "not_approved",
                    true,
                    format!("window {} not yet approved", w.window),
                ),
            });
            if let Ok(st) = window::status(&w.window, now) {
                // Informational: approving ahead of the window is the normal case.
                out.push(g("window", true, st.sentence()));
            }
        }
        Action::StartWave => out.push(match w.started_at {
            Some(t) => g(
                "not_started",
                false,
                format!("already started {}", t.format("%Y-%m-%d %H:%M UTC")),
            ),
            None => g("not_started", true, "not started yet"),
        }),
        Action::Cutover => out.extend(wave_cutover(n, data, now, lim, role)),
        _ => {}
    }
    out
}

/// A wave's cutover runs for the members whose own cutover guards pass when the engine
/// decides; the others are refused with their reasons and can be asked again later. The
/// preview says how many go now and why the rest wait.
fn wave_cutover(
    n: u32,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let mut ready = 0;
    let mut waiting: Vec<String> = Vec::new();
    let members: Vec<&DbState> = data.dbs.iter().filter(|d| d.wave == Some(n)).collect();
    for d in &members {
        let lines = for_db(Action::Cutover, d, data, now, lim, role);
        match lines.iter().find(|l| !l.ok) {
            None => ready += 1,
            Some(l) => waiting.push(format!("{} ({})", d.db_id, l.sentence)),
        }
    }
    let mut out = vec![g(
        "members_ready",
        ready > 0,
        format!(
            "{ready} of {} databases pass their cutover guards now",
            members.len()
        ),
    )];
    if !waiting.is_empty() {
        let shown: Vec<&str> = waiting.iter().take(3).map(String::as_str).collect();
        let more = waiting.len().saturating_sub(shown.len());
        out.push(g(
            "members_waiting",
            true,
            format!(
                "{} will be refused for now: {}{}",
                waiting.len(),
                shown.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
    }
    out
}

/// Guards for a target, whatever it is.
pub fn for_target(
    action: Action,
    target: &Target,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    match target {
        Target::Db(id) => match data.db(id) {
            Some(d) => for_db(action, d, data, now, lim, role),
            None => vec![g(
                "exists",
                false,
                format!("no database {id:?} in the store"),
            )],
        },
        Target::Wave(n) => for_wave(action, *n, data, now, lim, role),
    }
}

/// The action the operator most likely wants next for a database in this stage.
pub fn next_action(st: Stage) -> Option<Action> {
    match st {
        Stage::Failed => Some(Action::Retry),
        Stage::Paused => Some(Action::Resume),
        Stage::Hypercare => Some(Action::CloseHypercare),
        Stage::Cutover => Some(Action::Rollback),
        Stage::Cdc | Stage::Validation | Stage::Ready => Some(Action::Cutover),
        _ => None,
    }
}
