//! The action dialog: what the action does, its guards, the typed confirmation and the
//! engine's verdict.

use crate::store::event::GuardLine;
use crate::store::model::{Action, Target};
use crate::tui::app::keymap::{dialog_context, mode_hint, Context, ModeAction};
use crate::tui::app::{App, DialogStatus};
use crate::tui::fmt;
use crate::tui::widgets::{block, centered};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn action_label(a: Action) -> &'static str {
    match a {
        Action::StartWave => "start wave",
        Action::ApproveWindow => "approve window",
        Action::Pause => "pause",
        Action::Resume => "resume",
        Action::Retry => "retry",
        Action::Abort => "abort",
        Action::Cutover => "cut over",
        Action::Rollback => "roll back",
        Action::CloseHypercare => "close hypercare",
        Action::Signoff => "sign off",
        Action::AckAlert => "acknowledge",
        Action::RestoreTest => "restore test",
    }
}

fn action_explain(a: Action) -> &'static str {
    match a {
        Action::StartWave => "The engine starts pre-checks and replication for every database of the wave.",
        Action::ApproveWindow => "Records your approval of the wave's cutover window.",
        Action::Pause => "The engine stops taking new steps; the running step finishes.",
        Action::Resume => "The engine continues from the stage it was paused in.",
        Action::Retry => "The engine runs the failed step again.",
        Action::Abort => "Stops the migration for good and releases its DRS job.",
        Action::Cutover => "Exposure checked again, writes off at source, final sync, terminate the DRS job, DNS switch, writes on at target.",
        Action::Rollback => "Points traffic back to the source; the target is left as it is.",
        Action::CloseHypercare => "Ends the rollback window: rollback is no longer offered.",
        Action::Signoff => "Records your sign-off for the cutover, in a role you hold.",
        Action::AckAlert => "Records that you saw this alert; it stands until its value is back to normal.",
        Action::RestoreTest => "Restores the newest backup to a temporary instance, runs the smoke tests and row counts on it, then deletes it.",
    }
}

/// The offline order (the brain's `next_offline_cut`): no final sync, the data moves with the
/// source's writes stopped.
const OFFLINE_CUTOVER: &str = "Offline: exposure checked again, DRS FULL_TRANS job made and pre-checked, writes off at source, full load, exact validation, terminate the DRS job, DNS switch, writes on at target.";

/// What the action does; a cutover of offline databases only does it the offline way.
fn explain(d: &crate::tui::app::Dialog) -> &'static str {
    let all_offline = match &d.target {
        Target::Db(_) => !d.outage.is_empty(),
        Target::Wave(_) | Target::Factory => false,
    };
    if d.action == Action::Cutover && all_offline {
        OFFLINE_CUTOVER
    } else {
        action_explain(d.action)
    }
}

/// The write outage an offline cutover is expected to cause, before the confirmation: one
/// line for a database; for a wave, what its offline members stop together, then each.
fn outage_lines(
    d: &crate::tui::app::Dialog,
    lines: &mut Vec<Line<'static>>,
    th: &crate::tui::theme::Theme,
) {
    let capital = |s: String| capitalise(&s);
    match (&d.target, d.outage.as_slice()) {
        (_, []) => {}
        (Target::Db(_), [one]) => lines.push(Line::styled(capital(one.sentence()), th.warn)),
        (_, list) => {
            lines.push(Line::raw(""));
            if let Some(s) = crate::plan::expected::wave_sentence(list) {
                lines.push(Line::styled(
                    format!("{s}. They go the offline way: writes off at source, full load, exact validation, switch."),
                    th.warn,
                ));
            }
            for e in list {
                lines.push(Line::styled(
                    format!("  {}: {}", e.db_id, e.sentence()),
                    th.warn,
                ));
            }
        }
    }
}

/// The engine's reason for a refusal, less what a guard line above already says: a refused
/// wave command's reason ends with its `members_waiting` sentence in brackets (the command
/// row and the CLI show the reason alone), and the dialog lists that sentence as a guard.
fn reason_beside<'a>(why: &'a str, guards: &[GuardLine]) -> &'a str {
    guards
        .iter()
        .find_map(|g| {
            why.strip_suffix(')')?
                .strip_suffix(g.sentence.as_str())?
                .strip_suffix(" (")
        })
        .unwrap_or(why)
}

pub(super) fn dialog(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let Some(d) = &app.dialog else { return };
    let target = match &d.target {
        Target::Db(id) => id.clone(),
        Target::Wave(n) => format!("wave {n}"),
        Target::Factory => "factory".to_string(),
    };
    let mut lines = vec![Line::styled(explain(d), th.muted)];
    outage_lines(d, &mut lines, th);
    lines.extend([Line::raw(""), Line::styled("Guards", th.header)]);
    for g in &d.guards {
        lines.push(Line::from(vec![
            Span::styled(
                if g.ok { th.sym.ok } else { th.sym.fail },
                if g.ok { th.ok } else { th.fail },
            ),
            Span::raw(" "),
            Span::styled(g.sentence.clone(), if g.ok { th.base } else { th.fail }),
        ]));
    }
    lines.push(Line::raw(""));
    match &d.status {
        DialogStatus::Asking => {
            if let Some(c) = &d.confirm {
                lines.push(Line::from(vec![
                    Span::raw("Type "),
                    Span::styled(c.clone(), th.header),
                    Span::raw(" to confirm:"),
                ]));
                let okst = if d.confirmed() { th.ok } else { th.input };
                lines.push(Line::from(vec![
                    Span::styled(format!("> {}", d.typed), okst),
                    Span::styled("_", okst),
                ]));
            }
            // The keys' own hint line; a blocked dialog offers only the way out.
            let ctx = dialog_context(d);
            let hint = if d.blocked() {
                let out = mode_hint(ctx, |a| a != ModeAction::Submit);
                Line::styled(format!("Blocked by the guards above. {out}"), th.fail)
            } else {
                Line::styled(mode_hint(ctx, |_| true), th.muted)
            };
            lines.push(hint);
        }
        DialogStatus::Submitting => lines.push(Line::styled(
            format!("{} submitting…", th.sym.pending),
            th.info,
        )),
        DialogStatus::Pending(id) => {
            lines.push(Line::styled(
                format!(
                    "{} command #{id} submitted; waiting for the engine…",
                    th.sym.pending
                ),
                th.info,
            ));
            let waited = d
                .submitted_at
                .map(|t| (app.now - t).num_seconds())
                .unwrap_or(0);
            if waited >= 10 {
                lines.push(Line::styled(
                    format!("no engine has answered for {}: is one running on this store? (wavedeck run)", fmt::dur_secs(waited)),
                    th.warn,
                ));
            }
        }
        DialogStatus::Accepted(id, note) => lines.push(Line::styled(
            match note {
                Some(n) => format!("{} command #{id} accepted: {n}", th.sym.ok),
                None => format!("{} command #{id} accepted by the engine", th.sym.ok),
            },
            th.ok,
        )),
        DialogStatus::Rejected(id, why) => lines.push(Line::styled(
            format!(
                "{} command #{id} rejected: {}",
                th.sym.fail,
                reason_beside(why, &d.guards)
            ),
            th.fail,
        )),
        DialogStatus::Error(e) => lines.push(Line::styled(
            format!("{} not submitted: {e}", th.sym.fail),
            th.fail,
        )),
    }
    if d.status != DialogStatus::Asking {
        lines.push(Line::styled(mode_hint(Context::Done, |_| true), th.muted));
    }
    // Room for every line as it wraps (a refused wave names several databases and reasons),
    // and one more: words wrap sooner than characters.
    let inner = usize::from(area.width.min(76).saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let h = u16::try_from(rows + 3).unwrap_or(u16::MAX).min(area.height);
    let r = centered(area, 76, h);
    f.render_widget(Clear, r);
    // The target already reads "wave N": "Start wave 0?", not "Start wave wave 0?".
    let verb = match d.target {
        Target::Wave(_) => action_label(d.action).trim_end_matches(" wave"),
        Target::Db(_) | Target::Factory => action_label(d.action),
    };
    // An acknowledgement names its alert: "Acknowledge lag_high on pay-01?".
    let title = match d.args.get("rule").and_then(|r| r.as_str()) {
        Some(rule) => format!(" {} {rule} on {target}? ", capitalise(verb)),
        None => format!(" {} {target}? ", capitalise(verb)),
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .style(th.base)
            .block(block(th, title).border_style(th.border_focus)),
        r,
    );
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ok: bool, sentence: &str) -> GuardLine {
        GuardLine {
            name: "g".into(),
            ok,
            sentence: sentence.into(),
        }
    }

    #[test]
    fn a_reason_drops_only_the_bracketed_sentence_a_guard_line_shows() {
        let waiting = "2 refused for now: a (lag 30 s > 5 s); b (lag 30 s > 5 s)";
        let why = format!("cutover blocked: none of the 2 databases passes ({waiting})");
        let guards = [
            line(false, "none of the 2 databases passes"),
            line(true, waiting),
        ];
        assert_eq!(
            reason_beside(&why, &guards),
            "cutover blocked: none of the 2 databases passes"
        );
        // No guard line says it: the reason stays whole.
        assert_eq!(reason_beside(&why, &guards[..1]), why);
        let plain = "cutover blocked: lag 12.4 s > 5 s";
        assert_eq!(
            reason_beside(plain, &[line(false, "lag 12.4 s > 5 s")]),
            plain
        );
    }
}
