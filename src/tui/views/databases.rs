//! The Databases view: the filtered, sorted table of databases, built for the visible slice only.

use super::waves::db_progress;
use crate::lifecycle::Stage;
use crate::store::model::DbState;
use crate::tui::app::{scroll_offset, App};
use crate::tui::fmt;
use crate::tui::widgets::{block, stage_text};
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, Table, TableState};
use ratatui::Frame;

pub(super) fn short_engine(d: &DbState) -> &'static str {
    match d.engine {
        crate::inventory::Engine::Postgres => "pg",
        crate::inventory::Engine::Mysql => "my",
    }
}

pub(super) fn databases(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let inner_w = area.width.saturating_sub(2) as usize;
    let wide = inner_w >= 110;
    let page = area.height.saturating_sub(3) as usize;
    let offset =
        scroll_offset(app.db_offset, app.db_cursor, page).min(app.rows.len().saturating_sub(1));
    let end = (offset + page).min(app.rows.len());
    let g_prog = if wide { 10 } else { 5 };
    let g_lag = if wide { 8 } else { 4 };
    let owner_w = if wide { 16 } else { 0 };
    let stage_w: usize = if wide { 22 } else { 14 };
    // The restore column grows with the room the db_id leaves it: the verdict alone, then
    // how long ago, then how long the test took.
    let rt = if inner_w >= 130 {
        RtCell::Full
    } else if wide {
        RtCell::Age
    } else {
        RtCell::Mark
    };
    let rt_w: usize = match rt {
        RtCell::Full => 9,
        RtCell::Age => 4,
        RtCell::Mark => 2,
    };
    // Fixed columns, then db_id takes what is left.
    let fixed = 2
        + rt_w
        + 1
        + 6
        + 4
        + stage_w
        + (g_prog + 5)
        + (g_lag + 6)
        + 3
        + 4
        + owner_w
        + if wide { 10 } else { 9 };
    let id_w = inner_w.saturating_sub(fixed).clamp(10, 40);
    let sel_rel = app.db_cursor.checked_sub(offset);
    let mut rows = Vec::with_capacity(end - offset);
    for &i in &app.rows[offset..end] {
        let d = &app.data.dbs[i];
        let validating = super::validating::fraction(app, &d.db_id);
        let prog = if let Some(frac) = validating {
            // A validation the rate limit holds back says "lim" in place of the gauge's tail.
            let lim = super::validating::limited(app, &d.db_id);
            let g = if lim {
                g_prog.saturating_sub(4)
            } else {
                g_prog
            };
            let mut spans = vec![Span::styled(
                fmt::gauge(frac, g, th.sym.gauge_full, th.sym.gauge_empty),
                th.stage(Stage::Validation),
            )];
            if lim {
                spans.push(Span::styled(" lim", th.warn));
            }
            spans.push(Span::raw(format!("{:>4.0}%", frac * 100.0)));
            Line::from(spans)
        } else if d.stage == Stage::FullLoad || (d.progress_pct > 0.0 && d.progress_pct < 100.0) {
            Line::from(vec![
                Span::styled(
                    fmt::gauge(
                        d.progress_pct / 100.0,
                        g_prog,
                        th.sym.gauge_full,
                        th.sym.gauge_empty,
                    ),
                    th.stage(Stage::FullLoad),
                ),
                Span::raw(format!("{:>4.0}%", d.progress_pct)),
            ])
        } else {
            // Right-aligned rather than padded with spaces: the same cells, fewer to draw.
            let p = db_progress(d);
            Line::styled(if p >= 0.65 { "done" } else { "-" }, th.muted).right_aligned()
        };
        let lag = match d.lag_s {
            Some(l)
                if l >= 0.0
                    && matches!(
                        d.stage,
                        Stage::Cdc
                            | Stage::Validation
                            | Stage::Ready
                            | Stage::Cutover
                            | Stage::Paused
                            | Stage::Failed
                    ) =>
            {
                let frac = (l / th.lag_fail_s.max(1.0)).min(1.0);
                Line::from(vec![
                    Span::styled(
                        fmt::gauge(frac, g_lag, th.sym.gauge_full, th.sym.gauge_empty),
                        th.lag(l),
                    ),
                    Span::styled(format!("{:>6}", fmt::lag(l)), th.lag(l)),
                ])
            }
            _ => Line::styled("-", th.muted).right_aligned(),
        };
        let val = match &d.validation {
            Some(v) if v.passed => Span::styled(th.sym.ok, th.ok),
            Some(_) => Span::styled(th.sym.fail, th.fail),
            None => Span::styled("-", th.muted),
        };
        let stage_st = if d.stage == Stage::Failed {
            th.fail
        } else {
            th.stage(d.stage)
        };
        let mut cells = vec![
            Line::raw(fmt::fit(&d.db_id, id_w, th.sym.ellipsis)),
            Line::styled(short_engine(d), th.muted),
            Line::raw(format!("{:>6}", fmt::size_gb(d.size_gb))),
            Line::raw(
                d.wave
                    .map(|w| format!("{w:>4}"))
                    .unwrap_or_else(|| "   -".into()),
            ),
            Line::styled(
                fmt::fit(&stage_text(th, d), stage_w, th.sym.ellipsis),
                stage_st,
            ),
            prog,
            lag,
            Line::from(val),
            restore_cell(app, d, rt),
            Line::styled(
                format!("{:>4}", fmt::age(app.now, d.last_event_at)),
                th.muted,
            ),
        ];
        if wide {
            cells.insert(
                3,
                Line::styled(fmt::fit(&d.owner, owner_w, th.sym.ellipsis), th.muted),
            );
        }
        rows.push(Row::new(cells));
    }
    let mut widths = vec![
        Constraint::Length(id_w as u16),
        Constraint::Length(2),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(stage_w as u16),
        Constraint::Length((g_prog + 5) as u16),
        Constraint::Length((g_lag + 6) as u16),
        Constraint::Length(3),
        Constraint::Length(rt_w as u16),
        Constraint::Length(4),
    ];
    let arrow = if app.sort_desc { "v" } else { "^" };
    let mark = |name: &str, key: crate::tui::app::SortKey| -> String {
        if app.sort == key {
            format!("{name}{arrow}")
        } else {
            name.to_string()
        }
    };
    use crate::tui::app::SortKey as K;
    let mut head = vec![
        mark("DB_ID", K::Name),
        "EN".into(),
        format!("{:>6}", mark("SIZE", K::Size)),
        format!("{:>4}", mark("WAVE", K::Wave)),
        mark("STAGE", K::Stage),
        mark("PROGRESS", K::Progress),
        mark("LAG", K::Lag),
        "VAL".into(),
        if rt == RtCell::Full { "RESTORE" } else { "RT" }.into(),
        format!("{:>4}", mark("AGE", K::Age)),
    ];
    if wide {
        widths.insert(3, Constraint::Length(owner_w as u16));
        head.insert(3, "OWNER".into());
    }
    let mut title = format!(" Databases {}/{} ", app.rows.len(), app.data.dbs.len());
    if !app.db_filter_text.is_empty() {
        title.push_str(&format!("/{} ", app.db_filter_text));
    }
    if app.faults_only {
        title.push_str("[faults] ");
    }
    let pos = if app.rows.is_empty() {
        String::new()
    } else {
        format!(" {}/{} ", app.db_cursor + 1, app.rows.len())
    };
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(th.header))
        .block(block(th, title).title_bottom(Line::styled(pos, th.muted).right_aligned()))
        .row_highlight_style(th.selection);
    let mut st = TableState::default().with_selected(sel_rel);
    f.render_stateful_widget(table, area, &mut st);
    if app.rows.is_empty() {
        let msg = if app.data.dbs.is_empty() {
            "No databases in the store yet (wavedeck init registers an inventory)."
        } else {
            "No database matches the filter. Esc clears it."
        };
        let r = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(4), 1);
        f.render_widget(Line::styled(msg, th.muted), r);
    }
}

/// How much of the last restore test a row has room for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RtCell {
    /// `✓`
    Mark,
    /// `✓3d`: passed three days ago.
    Age,
    /// `✓ 3d 14m`: and it took 14 minutes.
    Full,
}

/// The last restore test (`✗` when it failed), `…` while one runs (and since when, in full),
/// blank when there was none.
fn restore_cell(app: &App, d: &DbState, room: RtCell) -> Line<'static> {
    let th = &app.theme;
    let b = &d.restore_test;
    if let Some((_, since)) = b.running {
        let text = match room {
            RtCell::Full => format!("{} {}", th.sym.ellipsis, fmt::age(app.now, since)),
            _ => th.sym.ellipsis.to_string(),
        };
        return Line::styled(text, th.warn);
    }
    let Some(l) = &b.last else {
        return Line::raw("");
    };
    let (sym, st) = if l.passed {
        (th.sym.ok, th.ok)
    } else {
        (th.sym.fail, th.fail)
    };
    let text = match room {
        RtCell::Mark => sym.to_string(),
        RtCell::Age => format!("{sym}{}", fmt::age(app.now, l.at)),
        RtCell::Full => format!(
            "{sym} {} {}",
            fmt::age(app.now, l.at),
            fmt::dur_secs(l.took_s)
        ),
    };
    Line::styled(text, st)
}
