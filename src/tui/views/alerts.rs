//! The Alerts view: the alerts standing now (the cursor picks one to acknowledge with `A`),
//! then the last ones cleared, newest first. Both lists come folded from the alert events
//! (`Data::alerts`), so a frame only walks the few rows it shows.

use crate::alerts::board::Standing;
use crate::alerts::rules::RuleKind;
use crate::tui::app::{scroll_offset, App};
use crate::tui::fmt;
use crate::tui::widgets::block;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Row, Table, TableState};
use ratatui::Frame;

/// "41.2 s > 30.0 s", or the raw numbers for a rule this build does not know.
fn versus(rule: &str, v: f64, threshold: f64) -> String {
    match RuleKind::parse(rule) {
        Some(k) => k.versus(v, threshold),
        None => format!("{v} vs {threshold}"),
    }
}

/// Under 120 columns the time and the words give way: rule, subject, value, age and ack fit.
fn narrow<T>(mut cells: Vec<T>, wide: bool) -> Vec<T> {
    if !wide {
        cells.remove(6);
        cells.remove(3);
    }
    cells
}

/// The two tables' header: the same columns but the fifth and the last.
fn header(own: [&'static str; 2], wide: bool, st: Style) -> Row<'static> {
    let [fifth, last] = own;
    let cells = vec![
        "RULE",
        "DATABASE / WAVE",
        "VALUE",
        "SINCE",
        fifth,
        "ACK",
        last,
    ];
    Row::new(narrow(cells, wide)).style(st)
}

fn subject(db: Option<&str>, wave: Option<u32>) -> String {
    match (db, wave) {
        (Some(d), Some(w)) => format!("{d} (wave {w})"),
        (Some(d), None) => d.to_string(),
        (None, _) => "factory".to_string(),
    }
}

pub(super) fn alerts(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let board = &app.data.alerts;
    // Standing ones first: they are what needs a look; the cleared get what is left, at least 4.
    let standing_h = (board.standing.len().max(1) as u16 + 3).min(area.height.saturating_sub(4));
    let cleared_h = board.cleared.len().max(1) as u16 + 3;
    let [top, bottom, _] = Layout::vertical([
        Constraint::Length(standing_h),
        Constraint::Max(cleared_h),
        Constraint::Fill(1),
    ])
    .areas(area);
    let wide = area.width >= 120;

    let page = top.height.saturating_sub(3) as usize;
    let offset = scroll_offset(0, app.alert_cursor, page);
    let row = |(rule, db): &(String, Option<String>), s: &Standing| {
        let (ack, ack_st): (String, Style) = match &s.acked_by {
            Some(by) => (format!("{} {by}", th.sym.ok), th.muted),
            None => ("NOT ACKED".into(), th.fail),
        };
        Row::new(narrow(
            vec![
                Line::styled(rule.clone(), th.warn),
                Line::raw(subject(db.as_deref(), s.wave)),
                Line::raw(versus(rule, s.raised.value, s.raised.threshold)),
                Line::styled(s.at.format("%H:%M:%S").to_string(), th.muted),
                Line::styled(fmt::age(app.now, s.at), th.muted),
                Line::styled(ack, ack_st),
                Line::raw(s.raised.what.clone()),
            ],
            wide,
        ))
    };
    let rows: Vec<Row> = board
        .standing
        .iter()
        .skip(offset)
        .take(page)
        .map(|(k, s)| row(k, s))
        .collect();
    let widths = narrow(
        vec![
            Constraint::Length(17),
            Constraint::Length(22),
            Constraint::Length(20),
            Constraint::Length(8),
            Constraint::Length(5),
            Constraint::Length(12),
            Constraint::Min(10),
        ],
        wide,
    );
    let title = format!(
        " Alerts standing {} ({} not acknowledged) ",
        board.standing.len(),
        board.unacked()
    );
    let table = Table::new(rows, widths.clone())
        .header(header(["AGE", "WHAT"], wide, th.header))
        .block(block(th, title))
        .row_highlight_style(th.selection);
    let mut st = TableState::default().with_selected(
        app.alert_cursor
            .checked_sub(offset)
            .filter(|_| !board.standing.is_empty()),
    );
    f.render_stateful_widget(table, top, &mut st);
    if board.standing.is_empty() {
        let r = Rect::new(top.x + 2, top.y + 2, top.width.saturating_sub(4), 1);
        f.render_widget(Line::styled("No alert stands.", th.ok), r);
    }

    let page = bottom.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = board
        .cleared
        .iter()
        .rev()
        .take(page)
        .map(|c| {
            let held = (c.cleared_at - c.raised_at).num_seconds();
            Row::new(narrow(
                vec![
                    Line::raw(c.key.0.clone()),
                    Line::raw(subject(c.key.1.as_deref(), c.wave)),
                    Line::raw(versus(&c.key.0, c.raised.value, c.raised.threshold)),
                    Line::styled(c.raised_at.format("%H:%M:%S").to_string(), th.muted),
                    Line::styled(fmt::dur_secs(held), th.muted),
                    Line::styled(
                        c.acked_by
                            .as_ref()
                            .map(|b| format!("{} {b}", th.sym.ok))
                            .unwrap_or_default(),
                        th.muted,
                    ),
                    Line::raw(format!(
                        "cleared {}: {}",
                        c.cleared_at.format("%H:%M:%S"),
                        c.cleared.what
                    )),
                ],
                wide,
            ))
        })
        .collect();
    let table = Table::new(rows, widths.clone())
        .header(header(["HELD", "NOW"], wide, th.header))
        .block(block(
            th,
            format!(" Recently cleared {} ", board.cleared.len()),
        ));
    f.render_widget(table, bottom);
    if board.cleared.is_empty() {
        let r = Rect::new(
            bottom.x + 2,
            bottom.y + 2,
            bottom.width.saturating_sub(4),
            1,
        );
        f.render_widget(Line::styled("None cleared yet.", th.muted), r);
    }
}
