//! The guards shown in an action dialog and in the detail view: what the engine will check
//! before accepting the command, as sentences, computed from what the cockpit already knows.
//! The engine re-checks them on its side; this is the operator's preview.

use super::data::Data;
use super::window;
use crate::lifecycle::Stage;
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

/// Stages from which an action makes sense, for the "stage" guard.
fn stage_ok(action: Action, st: Stage) -> bool {
    match action {
        Action::Pause => !st.is_terminal() && !matches!(st, Stage::Paused | Stage::Cutover | Stage::Failed),
        Action::Resume => st == Stage::Paused,
        Action::Retry => st == Stage::Failed,
        Action::Abort => !st.is_terminal() && !matches!(st, Stage::Cutover | Stage::Hypercare),
        Action::Cutover => st == Stage::Ready,
        Action::Rollback => matches!(st, Stage::Cutover | Stage::Hypercare),
        Action::CloseHypercare => st == Stage::Hypercare,
        Action::StartWave | Action::ApproveWindow => true,
    }
}

fn stage_need(action: Action) -> &'static str {
    match action {
        Action::Resume => "paused",
        Action::Retry => "failed",
        Action::Cutover => "ready",
        Action::Rollback => "cutover or hypercare",
        Action::CloseHypercare => "hypercare",
        Action::Pause => "running",
        Action::Abort => "not yet cut over",
        _ => "any",
    }
}

pub fn for_db(
    action: Action,
    d: &DbState,
    data: &Data,
    now: DateTime<Utc>,
    lim: Limits,
    role: Role,
) -> Vec<GuardLine> {
    let mut out = Vec::new();
    out.push(match role {
        Role::Operator => g("role", true, "operator session"),
        Role::Viewer => g("role", false, "read-only viewer session (start wavedeck as operator to act)"),
    });
    let ok = stage_ok(action, d.stage);
    out.push(g(
        "stage",
        ok,
        if ok {
            format!("{} is {}", d.db_id, d.stage)
        } else {
            format!("{} is {}, needs {}", d.db_id, d.stage, stage_need(action))
        },
    ));
    if action == Action::Cutover {
        out.push(match d.lag_s {
            None => g("lag", false, "lag unknown (CDC has not reported yet)"),
            Some(l) if l > lim.max_lag_s => g(
                "lag",
                false,
                format!("lag {} > {} s", super::fmt::lag(l), lim.max_lag_s),
            ),
            Some(l) => g("lag", true, format!("lag {} <= {} s", super::fmt::lag(l), lim.max_lag_s)),
        });
        out.push(match &d.validation {
            None => g("validation_fresh", false, "no validation has run yet"),
            Some(v) if !v.passed => g("validation_fresh", false, format!("validation failed: {}", v.summary)),
            Some(v) => {
                let age_min = (now - v.at).num_minutes();
                if age_min > lim.validation_max_age_min as i64 {
                    g(
                        "validation_fresh",
                        false,
                        format!(
                            "validation passed {} ago, older than {} min: run it again",
                            super::fmt::dur_secs((now - v.at).num_seconds()),
                            lim.validation_max_age_min
                        ),
                    )
                } else {
                    g(
                        "validation_fresh",
                        true,
                        format!("validation passed {} ago", super::fmt::dur_secs((now - v.at).num_seconds())),
                    )
                }
            }
        });
        out.extend(window_guards(d.wave, data, now));
        let in_flight = data.commands.iter().any(|c| {
            c.action == Action::Cutover
                && c.target == Target::Db(d.db_id.clone())
                && c.status == CommandStatus::Pending
        });
        out.push(if in_flight {
            g("cutover_in_flight", false, format!("another cutover of {} is pending", d.db_id))
        } else {
            g("cutover_in_flight", true, format!("no other cutover of {} in flight", d.db_id))
        });
    }
    out
}

fn window_guards(wave: Option<u32>, data: &Data, now: DateTime<Utc>) -> Vec<GuardLine> {
    let Some(n) = wave else {
        return vec![g("window_approved", false, "in no wave, so no approved window")];
    };
    let Some(w) = data.wave(n) else {
        return vec![g("window_approved", false, format!("wave {n} is not planned"))];
    };
    let mut out = vec![match &w.approved_by {
        Some(who) => g("window_approved", true, format!("window for wave {n} approved by {who}")),
        None => g("window_approved", false, format!("window for wave {n} not approved")),
    }];
    match window::status(&w.window, now) {
        Ok(st) => out.push(g("window_open", st.open, st.sentence())),
        Err(e) => out.push(g("window_open", false, format!("window {:?}: {e}", w.window))),
    }
    out
}

pub fn for_wave(action: Action, n: u32, data: &Data, now: DateTime<Utc>, role: Role) -> Vec<GuardLine> {
    let mut out = vec![match role {
        Role::Operator => g("role", true, "operator session"),
        Role::Viewer => g("role", false, "read-only viewer session"),
    }];
    let Some(w) = data.wave(n) else {
        out.push(g("wave", false, format!("wave {n} is not planned")));
        return out;
    };
    let members = data.dbs.iter().filter(|d| d.wave == Some(n)).count();
    out.push(g("members", members > 0, format!("wave {n} has {members} databases")));
    match action {
        Action::ApproveWindow => {
            out.push(match &w.approved_by {
                Some(who) => g("not_approved", false, format!("already approved by {who}")),
                None => g("not_approved", true, format!("window {} not yet approved", w.window)),
            });
            if let Ok(st) = window::status(&w.window, now) {
                // Informational: approving ahead of the window is the normal case.
                out.push(g("window", true, st.sentence()));
            }
        }
        Action::StartWave => out.push(match w.started_at {
            Some(t) => g("not_started", false, format!("already started {}", t.format("%Y-%m-%d %H:%M UTC"))),
            None => g("not_started", true, "not started yet"),
        }),
        _ => {}
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
            None => vec![g("exists", false, format!("no database {id:?} in the store"))],
        },
        Target::Wave(n) => for_wave(action, *n, data, now, role),
    }
}

/// The action the operator most likely wants next for a database in this stage.
pub fn next_action(st: Stage) -> Option<Action> {
    match st {
        Stage::Failed => Some(Action::Retry),
        Stage::Paused => Some(Action::Resume),
        Stage::Hypercare => Some(Action::CloseHypercare),
        Stage::Cutover => Some(Action::Rollback),
        s if s.is_terminal() => None,
        _ => Some(Action::Cutover),
    }
}
