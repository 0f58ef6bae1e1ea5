//! The Events view: newest first, filtered by severity, text, wave and database.

use crate::tui::app::{scroll_offset, App};
use crate::tui::data::Severity;
use crate::tui::widgets::{block, sev_style, short_kind};
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table, TableState};
use ratatui::Frame;

pub(super) fn events(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let list = app.events_view();
    let page = area.height.saturating_sub(3) as usize;
    let offset = scroll_offset(0, app.ev_cursor, page);
    let end = (offset + page).min(list.len());
    let rows: Vec<Row> = list[offset.min(end)..end]
        .iter()
        .map(|s| {
            let (e, sev) = (&s.event, s.severity);
            Row::new(vec![
                Line::styled(e.time.format("%H:%M:%S").to_string(), th.muted),
                Line::styled(sev.as_str(), sev_style(th, sev)),
                Line::raw(e.wave.map(|w| w.to_string()).unwrap_or_default()),
                Line::raw(e.db_id.clone().unwrap_or_default()),
                Line::styled(short_kind(&e.kind).to_string(), th.muted),
                Line::styled(
                    s.text.clone(),
                    if sev == Severity::Info {
                        th.base
                    } else {
                        sev_style(th, sev)
                    },
                ),
            ])
        })
        .collect();
    let db_w = if area.width >= 120 { 24 } else { 16 };
    let widths = [
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(db_w),
        Constraint::Length(if area.width >= 120 { 16 } else { 12 }),
        Constraint::Min(10),
    ];
    let mut title = format!(" Events {} ", list.len());
    if app.ev_min > Severity::Info {
        title.push_str(&format!("[{}+] ", app.ev_min.as_str()));
    }
    if !app.ev_filter_text.is_empty() {
        title.push_str(&format!("/{} ", app.ev_filter_text));
    }
    if app.ev_telemetry {
        title.push_str("[+telemetry] ");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(["TIME", "SEV", "WAVE", "DB", "KIND", "WHAT"]).style(th.header))
        .block(block(th, title))
        .row_highlight_style(th.selection);
    let mut st = TableState::default().with_selected(
        app.ev_cursor
            .checked_sub(offset)
            .filter(|_| !list.is_empty()),
    );
    f.render_stateful_widget(table, area, &mut st);
    if list.is_empty() {
        let r = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        f.render_widget(Line::styled("No events match.", th.muted), r);
    }
}
