//! The `?` help: the keys (of the views, the help, the dialog and the input line) and the `:`
//! commands, without the actions and the dialog in a read-only session.

use crate::tui::app::keymap::{mode_hint, Context, BINDINGS, MODE_BINDINGS, VERBS};
use crate::tui::app::App;
use crate::tui::widgets::{block, centered};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

pub(super) fn help(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let mut lines = vec![Line::styled("Navigation", th.header)];
    for b in BINDINGS.iter().filter(|b| !b.dangerous) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<16}", b.label), th.key),
            Span::raw(b.desc),
        ]));
    }
    if !app.read_only {
        lines.push(Line::styled(
            "Actions (each opens a dialog with its guards)",
            th.header,
        ));
        for b in BINDINGS.iter().filter(|b| b.dangerous) {
            let v: Vec<&str> = b.views.iter().map(|v| v.title()).collect();
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<16}", b.label), th.key),
                Span::raw(format!("{} ", b.desc)),
                Span::styled(format!("({})", v.join(", ")), th.muted),
            ]));
        }
    } else {
        lines.push(Line::styled("Read-only session: no actions.", th.warn));
    }
    lines.push(Line::styled("Command line", th.header));
    for v in VERBS.iter().filter(|v| !(app.read_only && v.dangerous)) {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<38}", v.usage), th.key),
            Span::raw(v.desc),
        ]));
    }
    for (title, contexts) in [
        ("In the help", &[Context::Help][..]),
        (
            "In an action's dialog",
            &[Context::Asking, Context::Typing, Context::Done][..],
        ),
        (
            "On the / and : line",
            &[Context::Filter, Context::Command][..],
        ),
    ] {
        let rows: Vec<_> = MODE_BINDINGS
            .iter()
            .filter(|b| b.contexts.iter().any(|c| contexts.contains(c)))
            .filter(|b| !(app.read_only && b.dangerous))
            .collect();
        if rows.is_empty() {
            continue;
        }
        lines.push(Line::styled(title, th.header));
        for b in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<16}", b.label), th.key),
                Span::raw(b.desc),
            ]));
        }
    }
    let r = centered(area, 96, area.height);
    let total = lines.len();
    let visible = r.height.saturating_sub(2) as usize;
    let scroll = app.help_scroll.min(total.saturating_sub(visible));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .style(th.base)
            .block(
                block(th, " Help ").title_bottom(
                    Line::styled(
                        format!(" {} ", mode_hint(Context::Help, |_| true)),
                        th.muted,
                    )
                    .right_aligned(),
                ),
            ),
        r,
    );
}
