//! The `?` help: the keys and the `:` commands, without the actions in a read-only session.

use crate::tui::app::{App, ACTION_KEYS, NAV_KEYS};
use crate::tui::query::COMMAND_HELP;
use crate::tui::widgets::{block, centered};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

pub(super) fn help(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let mut lines = vec![Line::styled("Navigation", th.header)];
    for (k, d) in NAV_KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<16}"), th.key),
            Span::raw(*d),
        ]));
    }
    if !app.read_only {
        lines.push(Line::styled(
            "Actions (each opens a dialog with its guards)",
            th.header,
        ));
        for (k, _, d, views) in ACTION_KEYS {
            let v: Vec<&str> = views.iter().map(|v| v.title()).collect();
            lines.push(Line::from(vec![
                Span::styled(format!("  {k:<16}"), th.key),
                Span::raw(format!("{d} ")),
                Span::styled(format!("({})", v.join(", ")), th.muted),
            ]));
        }
    } else {
        lines.push(Line::styled("Read-only session: no actions.", th.warn));
    }
    lines.push(Line::styled("Command line", th.header));
    for (k, d) in COMMAND_HELP {
        if app.read_only
            && !matches!(
                *d,
                "switch view" | "databases of wave N" | "open one database" | "quit"
            )
        {
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {k:<38}"), th.key),
            Span::raw(*d),
        ]));
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
                    Line::styled(" j/k scroll · Esc close ", th.muted).right_aligned(),
                ),
            ),
        r,
    );
}
