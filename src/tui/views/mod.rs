//! Drawing. `render(&App, &mut Frame)` reads the state and never changes it; rows are built
//! only for the visible slice so 2000 databases cost the same as 40.

pub mod program;

use super::app::{scroll_offset, App, DialogStatus, Level, Mode, View, ACTION_KEYS, NAV_KEYS};
use super::data::Severity;
use super::fmt;
use super::guards;
use super::query::COMMAND_HELP;
use super::theme::{stage_code, stage_index, Theme};
use super::wavelist::{WaveRow, WaveSort};
use super::window;
use crate::checks::Status;
use crate::lifecycle::Stage;
use crate::store::model::{Action, DbState, Target};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

pub const MIN_W: u16 = 60;
pub const MIN_H: u16 = 16;

pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let th = &app.theme;
    f.buffer_mut().set_style(area, th.base);
    if area.width < MIN_W || area.height < MIN_H {
        too_small(f, area, th);
        return;
    }
    let [head, program, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(app, f, head);
    program::summary_line(app, f, program);
    match app.view {
        View::Program => program::view(app, f, body),
        View::Waves => waves(app, f, body),
        View::Databases => databases(app, f, body),
        View::Detail => detail(app, f, body),
        View::Events => events(app, f, body),
    }
    footer(app, f, foot);
    match app.mode {
        Mode::Help => help(app, f, body),
        Mode::Dialog => dialog(app, f, body),
        _ => {}
    }
}

fn too_small(f: &mut Frame, area: Rect, th: &Theme) {
    let text = vec![
        Line::styled("Terminal too small", th.fail),
        Line::raw(format!(
            "{}x{}, wavedeck needs at least {MIN_W}x{MIN_H}.",
            area.width, area.height
        )),
        Line::raw("Enlarge the window (q quits)."),
    ];
    let h = (text.len() as u16).min(area.height);
    let y = area.y + area.height.saturating_sub(h) / 2;
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).centered(),
        Rect::new(area.x, y, area.width, h),
    );
}

fn block<'a>(th: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::bordered()
        .border_set(th.sym.border)
        .border_style(th.border)
        .title(title.into().style(th.title))
}

fn header(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let mut spans = vec![
        Span::styled(" wavedeck ", th.title.add_modifier(Modifier::REVERSED)),
        Span::raw(" "),
    ];
    for (i, v) in [
        View::Program,
        View::Waves,
        View::Databases,
        View::Events,
        View::Detail,
    ]
    .into_iter()
    .enumerate()
    {
        // Five tabs and the badges do not fit 80 columns with the full names.
        let label = if area.width < 110 {
            format!("{i} {}", v.short_title())
        } else {
            format!("{i} {}", v.title())
        };
        let st = if app.view == v {
            th.title.add_modifier(Modifier::UNDERLINED)
        } else {
            th.muted
        };
        spans.push(Span::styled(label, st));
        spans.push(Span::raw("  "));
    }
    let mut right: Vec<Span> = Vec::new();
    if let Some(e) = &app.data.store_error {
        right.push(Span::styled(
            format!(" store: {} ", fmt::fit(e, 40, th.sym.ellipsis)),
            th.fail,
        ));
    }
    match &app.data.engine {
        Some(Some(_)) => right.push(Span::styled(format!("{} engine ", th.sym.ok), th.ok)),
        Some(None) => right.push(Span::styled(
            " NO ENGINE ",
            th.fail.add_modifier(Modifier::REVERSED),
        )),
        None => {}
    }
    right.push(Span::raw(" "));
    if app.read_only {
        right.push(Span::styled(" READ-ONLY ", th.badge));
        right.push(Span::raw(" "));
    }
    if app.frozen {
        right.push(Span::styled(" FROZEN ", th.badge));
        right.push(Span::raw(" "));
    }
    if !app.signoff_holders.is_empty() {
        right.push(Span::styled(
            format!(
                "sign-off {} ",
                fmt::fit(&app.signoff_holders, 60, th.sym.ellipsis)
            ),
            th.muted,
        ));
    }
    right.push(Span::styled(
        app.now.format("%H:%M UTC").to_string(),
        th.muted,
    ));
    let rw: usize = right.iter().map(|s| s.width()).sum();
    let lw: usize = spans.iter().map(|s| s.width()).sum();
    let w = area.width as usize;
    if lw + rw < w {
        spans.push(Span::raw(" ".repeat(w - lw - rw)));
    }
    spans.extend(right);
    f.render_widget(Line::from(spans), area);
}

fn footer(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let line = match app.mode {
        Mode::Filter | Mode::Command => {
            let p = if app.mode == Mode::Filter { "/" } else { ":" };
            let mut s = vec![
                Span::styled(format!("{p}{}", app.input), th.input),
                Span::styled("_", th.input.add_modifier(Modifier::SLOW_BLINK)),
            ];
            if let Some(e) = &app.input_error {
                s.push(Span::raw("  "));
                s.push(Span::styled(e.clone(), th.fail));
            } else if app.mode == Mode::Filter {
                s.push(Span::styled("  Enter keep · Esc clear", th.muted));
            } else {
                s.push(Span::styled("  Enter run · Esc cancel · :help", th.muted));
            }
            Line::from(s)
        }
        _ => match &app.flash {
            Some(fl) => {
                let st = match fl.level {
                    Level::Info => th.info,
                    Level::Warn => th.warn,
                    Level::Error => th.fail,
                };
                Line::styled(fl.text.clone(), st)
            }
            None => hints(app),
        },
    };
    f.render_widget(line, area);
}

fn hints(app: &App) -> Line<'static> {
    let th = &app.theme;
    let mut pairs: Vec<(&str, &str)> = match app.view {
        View::Program => vec![("1", "waves"), ("2", "databases"), ("3", "events")],
        View::Waves => vec![
            ("Enter", "databases"),
            ("a", "approve"),
            ("s", "start"),
            ("c", "cutover"),
        ],
        View::Databases => vec![
            ("Enter", "detail"),
            ("/", "filter"),
            ("S/L/W", "sort"),
            ("F", "faults"),
            ("c", "cutover"),
        ],
        View::Detail => vec![
            ("c", "cutover"),
            ("b", "rollback"),
            ("r", "retry"),
            ("Esc", "back"),
        ],
        View::Events => vec![
            ("/", "filter"),
            ("e", "severity"),
            ("v", "telemetry"),
            ("Enter", "db"),
        ],
    };
    if app.read_only {
        pairs.retain(|(k, _)| !matches!(*k, "a" | "s" | "c" | "b" | "r"));
    }
    pairs.extend([(":", "cmd"), ("?", "help"), ("q", "quit")]);
    let mut spans = Vec::new();
    for (k, d) in pairs {
        spans.push(Span::styled(k.to_string(), th.key));
        spans.push(Span::styled(format!(" {d}  "), th.muted));
    }
    Line::from(spans)
}

/// Aggregates of one wave for the Waves view.
pub struct WaveSummary {
    pub members: usize,
    pub counts: [usize; 14],
    pub progress: f64,
    pub eta_s: Option<i64>,
    pub worst_lag: Option<f64>,
    pub median_lag: Option<f64>,
    pub failures: usize,
}

/// How far a database is along its path, 0 to 1.
pub fn db_progress(d: &DbState) -> f64 {
    let st = match d.stage {
        Stage::Failed | Stage::Paused => d.held_stage.unwrap_or(Stage::Registered),
        s => s,
    };
    match st {
        Stage::Registered => 0.0,
        Stage::Prechecks => 0.05,
        Stage::Provisioning => 0.1,
        Stage::FullLoad => 0.1 + 0.5 * (d.progress_pct / 100.0).clamp(0.0, 1.0),
        Stage::Cdc => 0.65,
        Stage::Validation => 0.75,
        Stage::Ready => 0.85,
        Stage::Cutover => 0.9,
        Stage::Hypercare => 0.95,
        _ => 1.0,
    }
}

pub fn wave_summary(app: &App, n: Option<u32>) -> WaveSummary {
    let mut counts = [0usize; 14];
    let mut lags = Vec::new();
    let mut prog = 0.0;
    let mut members = 0;
    for d in app.data.dbs.iter().filter(|d| d.wave == n) {
        members += 1;
        counts[stage_index(d.stage)] += 1;
        prog += db_progress(d);
        if let Some(l) = d.lag_s.filter(|l| l.is_finite() && *l >= 0.0) {
            if matches!(d.stage, Stage::Cdc | Stage::Validation | Stage::Ready) {
                lags.push(l);
            }
        }
    }
    lags.sort_by(f64::total_cmp);
    let progress = if members > 0 {
        prog / members as f64
    } else {
        0.0
    };
    // Databases at `ready` or in hypercare wait for the operator: an ETA extrapolated from the
    // wave's pace would promise an end that no amount of waiting brings.
    let moving = app.data.dbs.iter().filter(|d| d.wave == n).any(|d| {
        matches!(
            d.stage,
            Stage::Registered
                | Stage::Prechecks
                | Stage::Provisioning
                | Stage::FullLoad
                | Stage::Cdc
                | Stage::Validation
                | Stage::Cutover
        )
    });
    let started = n.and_then(|n| app.data.wave(n)).and_then(|w| w.started_at);
    let eta_s = started.filter(|_| moving).and_then(|t| {
        let el = (app.now - t).num_seconds() as f64;
        (progress > 0.02 && progress < 1.0 && el > 0.0)
            .then(|| (el * (1.0 - progress) / progress) as i64)
    });
    WaveSummary {
        members,
        counts,
        progress,
        eta_s,
        worst_lag: lags.last().copied(),
        median_lag: if lags.is_empty() {
            None
        } else {
            Some(lags[lags.len() / 2])
        },
        failures: counts[stage_index(Stage::Failed)],
    }
}

/// A bar of `w` cells split by stage, coloured (or lettered without colour).
pub fn stage_bar(th: &Theme, counts: &[usize; 14], w: usize) -> Vec<Span<'static>> {
    let total: usize = counts.iter().sum();
    if total == 0 || w == 0 {
        return vec![Span::styled(" ".repeat(w), th.muted)];
    }
    // Largest-remainder split so the cells add up to w and every present stage shows.
    let mut cells: Vec<(usize, usize, f64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| {
            let exact = *c as f64 * w as f64 / total as f64;
            (i, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    for c in cells.iter_mut() {
        if c.1 == 0 && w >= counts.iter().filter(|c| **c > 0).count() {
            c.1 = 1;
            c.2 = 0.0;
        }
    }
    let mut used: usize = cells.iter().map(|c| c.1).sum();
    while used < w {
        let Some(best) = cells.iter_mut().max_by(|a, b| a.2.total_cmp(&b.2)) else {
            break;
        };
        best.1 += 1;
        best.2 = -1.0;
        used += 1;
    }
    while used > w {
        let Some(big) = cells.iter_mut().max_by_key(|c| c.1) else {
            break;
        };
        big.1 -= 1;
        used -= 1;
    }
    cells
        .into_iter()
        .filter(|c| c.1 > 0)
        .map(|(i, n, _)| {
            let st = Stage::ALL[i];
            let ch = if th.no_color {
                stage_code(st)
            } else {
                th.sym.bar
            };
            Span::styled(std::iter::repeat_n(ch, n).collect::<String>(), th.stage(st))
        })
        .collect()
}

fn waves(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let wide = area.width >= 120;
    let n_rows = app.wave_rows.len();
    // The table takes what its rows need; the selected wave's panel gets the rest.
    let top_h = (n_rows as u16 + 3).clamp(5, area.height.saturating_sub(7).max(5));
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Min(5)]).areas(area);
    let bar_w: u16 = if wide {
        40
    } else {
        (area.width.saturating_sub(70)).clamp(10, 30)
    };
    // Only the rows on screen are built: each costs a pass over the databases.
    let page = (top_h as usize).saturating_sub(3).max(1);
    // Page by page: stable from frame to frame without state kept by the renderer.
    let offset = (app.wave_cursor / page) * page;
    let end = (offset + page).min(n_rows);
    let mut rows = Vec::new();
    for row in &app.wave_rows[offset.min(end)..end] {
        let n = match row {
            WaveRow::Wave(n) => Some(*n),
            WaveRow::Loose => None,
            WaveRow::Folded { waves, gb } => {
                rows.push(folded_row(app, waves, *gb, bar_w, wide));
                continue;
            }
        };
        let s = wave_summary(app, n);
        let w = n.and_then(|n| app.data.wave(n));
        let (win, win_st) = match w {
            Some(w) => match window::status(&w.window, app.now) {
                Ok(ws) => (ws.short(), if ws.open { th.ok } else { th.muted }),
                Err(_) => (fmt::fit(&w.window, 16, th.sym.ellipsis), th.muted),
            },
            None => ("-".into(), th.muted),
        };
        let (appr, appr_st) = match w.and_then(|w| w.approved_by.as_ref()) {
            Some(who) => (format!("{} {}", th.sym.ok, who), th.ok),
            None if n.is_some() => (format!("{} no", th.sym.pending), th.warn),
            None => ("".into(), th.muted),
        };
        let lag = match (s.worst_lag, s.median_lag) {
            (Some(wl), Some(m)) => Line::from(vec![
                Span::styled(fmt::lag(wl), th.lag(wl)),
                Span::styled("/", th.muted),
                Span::styled(fmt::lag(m), th.lag(m)),
            ]),
            _ => Line::styled("-", th.muted),
        };
        let name = match n {
            Some(n) => format!("{n}"),
            None => "none".into(),
        };
        let state = match w {
            Some(_)
                if s.members > 0
                    && s.members
                        == s.counts[stage_index(Stage::Hypercare)]
                            + s.counts[stage_index(Stage::Completed)]
                            + s.counts[stage_index(Stage::Aborted)] =>
            {
                "done"
            }
            Some(w) if w.started_at.is_some() => "running",
            Some(_) => "planned",
            None => "",
        };
        let mut cells = vec![
            Line::styled(name, th.header),
            Line::styled(fmt::fit(&win, 16, th.sym.ellipsis), win_st),
            Line::styled(fmt::fit(&appr, 10, th.sym.ellipsis), appr_st),
            Line::raw(format!("{:>4}", s.members)),
            Line::from(stage_bar(th, &s.counts, bar_w as usize)),
            Line::raw(format!("{:>3.0}%", s.progress * 100.0)),
            Line::raw(s.eta_s.map(fmt::dur_long).unwrap_or_else(|| "-".into())),
            lag,
            if s.failures > 0 {
                Line::styled(format!("{} {}", th.sym.fail, s.failures), th.fail)
            } else {
                Line::styled("0", th.muted)
            },
        ];
        if wide {
            cells.insert(1, Line::styled(state, th.muted));
        }
        rows.push(Row::new(cells));
    }
    let mut widths = vec![
        Constraint::Length(4),
        Constraint::Length(16),
        Constraint::Length(10),
        Constraint::Length(4),
        Constraint::Length(bar_w),
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(4),
    ];
    let mut head = vec![
        "WAVE",
        "WINDOW",
        "APPROVED",
        " DBS",
        "STAGES",
        "PROG",
        "ETA",
        "LAG MAX/MED",
        "FAIL",
    ];
    if wide {
        widths.insert(1, Constraint::Length(8));
        head.insert(1, "STATE");
    }
    let mut title = format!(" Waves ({}) ", app.data.waves.len());
    if !app.wave_filter_text.is_empty() || app.wave_sort != WaveSort::Number {
        let shown: usize = app
            .wave_rows
            .iter()
            .map(|r| match r {
                WaveRow::Wave(_) => 1,
                WaveRow::Folded { waves, .. } => waves.len(),
                WaveRow::Loose => 0,
            })
            .sum();
        title = format!(
            " Waves {shown}/{} /{} sorted by {} ",
            app.data.waves.len(),
            app.wave_filter_text,
            app.wave_sort.as_str()
        );
    }
    let table = Table::new(rows, widths)
        .header(Row::new(head).style(th.header))
        .block(block(th, title))
        .row_highlight_style(th.selection);
    let mut st = TableState::default().with_selected(app.wave_cursor.checked_sub(offset));
    f.render_stateful_widget(table, top, &mut st);

    // The selected wave: its stage counts as a legend, its window and approval in full.
    let sel = match app.wave_rows.get(app.wave_cursor) {
        Some(WaveRow::Wave(n)) => Some(*n),
        _ => None,
    };
    let s = wave_summary(app, sel);
    let mut lines = Vec::new();
    if let Some(w) = sel.and_then(|n| app.data.wave(n)) {
        let mut l = vec![
            Span::styled("window ", th.muted),
            Span::raw(w.window.clone()),
        ];
        if let Ok(ws) = window::status(&w.window, app.now) {
            l.push(Span::raw("  "));
            l.push(Span::styled(
                ws.sentence(),
                if ws.open { th.ok } else { th.warn },
            ));
        }
        lines.push(Line::from(l));
        lines.push(Line::from(match (&w.approved_by, w.approved_at) {
            (Some(who), Some(at)) => vec![
                Span::styled(format!("{} approved", th.sym.ok), th.ok),
                Span::raw(format!(" by {who} at {}", at.format("%Y-%m-%d %H:%M UTC"))),
            ],
            // A read-only session cannot approve: offering the key would be a lie.
            _ if app.read_only => vec![Span::styled(
                format!("{} not approved", th.sym.warn),
                th.warn,
            )],
            _ => vec![
                Span::styled(format!("{} not approved", th.sym.warn), th.warn),
                Span::styled("  (a approves)", th.muted),
            ],
        }));
    }
    let mut legend = Vec::new();
    for st in Stage::ALL {
        let c = s.counts[stage_index(st)];
        if c == 0 {
            continue;
        }
        let mark = if th.no_color {
            stage_code(st).to_string()
        } else {
            th.sym.bar.to_string()
        };
        legend.push(Span::styled(mark, th.stage(st)));
        legend.push(Span::raw(format!(" {} {c}  ", st.as_str())));
    }
    lines.push(Line::from(legend));
    // What needs a human in this wave: failures, pauses, lag over the cutover threshold.
    let mut attention: Vec<&DbState> = app
        .data
        .dbs
        .iter()
        .filter(|d| d.wave == sel)
        .filter(|d| {
            matches!(d.stage, Stage::Failed | Stage::Paused)
                || (matches!(d.stage, Stage::Cdc | Stage::Validation | Stage::Ready)
                    && guards::lag(d, app.limits, app.now).is_some_and(|g| !g.ok))
        })
        .collect();
    attention.sort_by_key(|d| (d.stage != Stage::Failed, d.db_id.clone()));
    let room = (bottom.height as usize).saturating_sub(2 + lines.len() + 1);
    if !attention.is_empty() && room > 0 {
        lines.push(Line::styled(
            format!("Needs attention ({})", attention.len()),
            th.header,
        ));
        let more = attention
            .len()
            .saturating_sub(room.saturating_sub(1).max(1));
        for d in attention.iter().take(room.saturating_sub(1).max(1)) {
            let why = match (d.stage, &d.last_error) {
                (Stage::Failed, Some(e)) => e.clone(),
                (Stage::Paused, _) => "paused".into(),
                // The engine's own sentence for what holds it.
                _ => guards::lag(d, app.limits, app.now)
                    .map(|g| g.sentence)
                    .unwrap_or_default(),
            };
            let st = if d.stage == Stage::Failed {
                th.fail
            } else {
                th.warn
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", th.sym.warn), st),
                Span::raw(format!("{:<24} ", fmt::fit(&d.db_id, 24, th.sym.ellipsis))),
                Span::styled(format!("{:<16} ", stage_text(th, d)), st),
                Span::styled(why, th.muted),
            ]));
        }
        if more > 0 {
            lines.push(Line::styled(
                format!("  … {more} more: press Enter, then F"),
                th.muted,
            ));
        }
    }
    let title = match sel {
        Some(n) => format!(" Wave {n}: {} databases ", s.members),
        None => " No wave ".to_string(),
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(th, title)),
        bottom,
    );
}

/// One row for the folded one-database waves: how many, their range, data and stages.
fn folded_row(app: &App, waves: &[u32], gb: f64, bar_w: u16, wide: bool) -> Row<'static> {
    let th = &app.theme;
    let mut counts = [0usize; 14];
    let mut failures = 0;
    for d in app
        .data
        .dbs
        .iter()
        .filter(|d| d.wave.is_some_and(|w| waves.contains(&w)))
    {
        counts[stage_index(d.stage)] += 1;
        failures += usize::from(d.stage == Stage::Failed);
    }
    let first = waves.first().copied().unwrap_or(0);
    let last = waves.last().copied().unwrap_or(0);
    let mut cells = vec![
        Line::styled(format!("{first}+"), th.header),
        Line::styled(
            fmt::fit(
                &format!("{} one-db waves", waves.len()),
                16,
                th.sym.ellipsis,
            ),
            th.muted,
        ),
        Line::styled(
            fmt::fit(&format!("w{first}-w{last}"), 10, th.sym.ellipsis),
            th.muted,
        ),
        Line::raw(format!("{:>4}", waves.len())),
        Line::from(stage_bar(th, &counts, bar_w as usize)),
        Line::raw(""),
        Line::styled(fmt::size_gb(gb), th.muted),
        Line::styled("+ unfolds", th.key),
        if failures > 0 {
            Line::styled(format!("{} {failures}", th.sym.fail), th.fail)
        } else {
            Line::styled("0", th.muted)
        },
    ];
    if wide {
        cells.insert(1, Line::styled("folded", th.muted));
    }
    Row::new(cells)
}

fn short_engine(d: &DbState) -> &'static str {
    match d.engine {
        crate::inventory::Engine::Postgres => "pg",
        crate::inventory::Engine::Mysql => "my",
    }
}

pub fn stage_text(th: &Theme, d: &DbState) -> String {
    match (d.stage, d.held_stage) {
        (Stage::Failed, Some(h)) => format!("{} failed@{}", th.sym.fail, h.as_str()),
        (Stage::Paused, Some(h)) => format!("paused@{}", h.as_str()),
        (Stage::Failed, None) => format!("{} failed", th.sym.fail),
        (s, _) => s.as_str().to_string(),
    }
}

fn databases(app: &App, f: &mut Frame, area: Rect) {
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
    // Fixed columns, then db_id takes what is left.
    let fixed = 2
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
        let prog = if d.stage == Stage::FullLoad || (d.progress_pct > 0.0 && d.progress_pct < 100.0)
        {
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
            let p = db_progress(d);
            Line::styled(
                if p >= 0.65 {
                    format!("{:>w$}", "done", w = g_prog + 5)
                } else {
                    format!("{:>w$}", "-", w = g_prog + 5)
                },
                th.muted,
            )
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
            _ => Line::styled(format!("{:>w$}", "-", w = g_lag + 6), th.muted),
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
        Constraint::Length(4),
    ];
    let arrow = if app.sort_desc { "v" } else { "^" };
    let mark = |name: &str, key: super::app::SortKey| -> String {
        if app.sort == key {
            format!("{name}{arrow}")
        } else {
            name.to_string()
        }
    };
    use super::app::SortKey as K;
    let mut head = vec![
        mark("DB_ID", K::Name),
        "EN".into(),
        format!("{:>6}", mark("SIZE", K::Size)),
        format!("{:>4}", mark("WAVE", K::Wave)),
        mark("STAGE", K::Stage),
        mark("PROGRESS", K::Progress),
        mark("LAG", K::Lag),
        "VAL".into(),
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

/// A multi-row sparkline of lag with the threshold drawn across it.
pub fn lag_chart(buf: &mut Buffer, area: Rect, points: &[f64], threshold: f64, th: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let w = area.width as usize;
    let pts = &points[points.len().saturating_sub(w)..];
    let max = pts
        .iter()
        .copied()
        .fold(threshold * 1.5, f64::max)
        .max(0.001);
    let h8 = area.height as f64 * 8.0;
    let t_row = ((threshold / max) * area.height as f64).floor() as u16; // rows from bottom
    for (i, v) in pts.iter().enumerate() {
        let x = area.x + i as u16;
        let level = ((v / max) * h8).round() as i64;
        for r in 0..area.height {
            let y = area.y + area.height - 1 - r;
            let fill = (level - r as i64 * 8).clamp(0, 8) as usize;
            if fill > 0 {
                buf[(x, y)]
                    .set_char(th.sym.spark[fill])
                    .set_style(th.lag(*v));
            }
        }
    }
    if t_row < area.height {
        let y = area.y + area.height - 1 - t_row;
        for x in area.x..area.x + area.width {
            let cell = &mut buf[(x, y)];
            if cell.symbol() == " " {
                cell.set_char(th.sym.threshold).set_style(th.threshold);
            }
        }
    }
}

fn detail(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let Some(d) = app.detail.as_deref().and_then(|id| app.data.db(id)) else {
        f.render_widget(
            Paragraph::new("No database selected: pick one in Databases (2) and press Enter.")
                .block(block(th, " Database ")),
            area,
        );
        return;
    };
    let x = app.data.extra.get(&d.db_id).cloned().unwrap_or_default();
    let outer = block(th, format!(" {} ", d.db_id));
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let wide = inner.width >= 120;
    let [info, pipe, mid, low] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(if wide { 1 } else { 2 }),
        Constraint::Length(if inner.height >= 30 { 9 } else { 6 }),
        Constraint::Min(3),
    ])
    .areas(inner);

    // Who and where.
    let stage_st = if d.stage == Stage::Failed {
        th.fail
    } else {
        th.stage(d.stage)
    };
    let mut l = vec![
        Span::styled(stage_text(th, d), stage_st.add_modifier(Modifier::BOLD)),
        Span::styled(
            format!(
                " for {}",
                fmt::dur_long((app.now - d.stage_since).num_seconds())
            ),
            th.muted,
        ),
        Span::raw(format!(
            "  {} {}  {}  wave {}  owner {}  {}",
            d.engine.as_str(),
            fmt::size_gb(d.size_gb),
            d.criticality.as_str(),
            d.wave.map(|w| w.to_string()).unwrap_or_else(|| "-".into()),
            d.owner,
            if d.attempts > 0 {
                format!("attempt {}", d.attempts + 1)
            } else {
                String::new()
            }
        )),
    ];
    if let Some(e) = &d.last_error {
        l.push(Span::styled(format!("  {} {e}", th.sym.fail), th.fail));
    }
    f.render_widget(Line::from(l), info);

    // The pipeline with the time spent in each stage.
    let mut spans = Vec::new();
    let cur_path = match d.stage {
        Stage::Failed | Stage::Paused => d.held_stage.unwrap_or(Stage::Registered),
        s => s,
    };
    for (i, st) in Stage::PIPELINE.into_iter().enumerate() {
        let entered: Vec<_> = x
            .stage_entered
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s == st)
            .collect();
        let spent = entered.last().map(|(k, (_, t))| {
            let end = x
                .stage_entered
                .get(k + 1)
                .map(|(_, t2)| *t2)
                .unwrap_or(app.now);
            (end - *t).num_seconds()
        });
        let done = st < cur_path && !matches!(cur_path, Stage::Aborted | Stage::RolledBack);
        let current = st == cur_path;
        let style = if current {
            if matches!(d.stage, Stage::Failed) {
                th.fail.add_modifier(Modifier::REVERSED)
            } else {
                th.stage(st).add_modifier(Modifier::REVERSED)
            }
        } else if done {
            th.ok
        } else {
            th.muted
        };
        let label = if wide {
            st.as_str().to_string()
        } else {
            short_stage(st).to_string()
        };
        let t = spent
            .map(|s| format!(" {}", fmt::dur_secs(s)))
            .unwrap_or_default();
        spans.push(Span::styled(format!("{label}{t}"), style));
        if i + 1 < Stage::PIPELINE.len() {
            spans.push(Span::styled(format!(" {} ", th.sym.arrow), th.muted));
        }
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).wrap(Wrap { trim: false }),
        pipe,
    );

    // DRS job and pre-checks | lag gauge and sparkline.
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(mid);
    // The status first: a job id is 36 characters and would push it off a narrow terminal.
    let mut ll = vec![Line::from(vec![
        Span::styled("DRS status ", th.muted),
        Span::raw(x.drs_status.clone().unwrap_or_else(|| "-".into())),
        Span::styled("  job ", th.muted),
        Span::raw(d.drs_job_id.clone().unwrap_or_else(|| "-".into())),
    ])];
    ll.push(Line::from(vec![
        Span::styled("full load ", th.muted),
        Span::styled(
            fmt::gauge(
                d.progress_pct / 100.0,
                10,
                th.sym.gauge_full,
                th.sym.gauge_empty,
            ),
            th.stage(Stage::FullLoad),
        ),
        Span::raw(format!(" {:.0}%", d.progress_pct)),
        Span::styled("  ", th.muted),
        Span::raw(x.mbps.map(|m| format!("{m:.1} MB/s")).unwrap_or_default()),
    ]));
    // The folded event has the per-check lines; the state has at least the verdict.
    let (passed, summary) = match (x.precheck_passed, &d.precheck) {
        (Some(p), _) => (Some(p), x.precheck_summary.clone()),
        (None, Some(v)) => (Some(v.passed), v.summary.clone()),
        (None, None) => (None, String::new()),
    };
    match passed {
        None => ll.push(Line::styled("pre-checks: not run yet", th.muted)),
        Some(p) => {
            ll.push(Line::from(vec![
                Span::styled(
                    if p {
                        format!("{} pre-checks passed ", th.sym.ok)
                    } else {
                        format!("{} pre-checks FAILED ", th.sym.fail)
                    },
                    if p { th.ok } else { th.fail },
                ),
                Span::styled(summary, th.muted),
            ]));
            let mut items: Vec<_> = x.prechecks.iter().collect();
            items.sort_by_key(|c| std::cmp::Reverse(c.status)); // failures first
            for c in items {
                let (sym, st) = check_style(th, c.status);
                ll.push(Line::from(vec![
                    Span::styled(sym, st),
                    Span::raw(format!(" {} ", c.name)),
                    Span::styled(c.detail.clone(), th.muted),
                ]));
            }
        }
    }
    f.render_widget(Paragraph::new(ll).block(block(th, " Replication ")), left);
    let max_lag = app.limits.lag_limit(d.max_lag_s);
    let lag_title = match d.lag_s {
        Some(l) if l >= 0.0 => Line::from(vec![
            Span::styled(" CDC lag ", th.title),
            Span::styled(format!("{} ", fmt::lag(l)), th.lag(l)),
            Span::styled(format!("(max {}s) ", max_lag), th.muted),
        ]),
        _ => Line::styled(" CDC lag: not started ", th.title),
    };
    let rb = Block::bordered()
        .border_set(th.sym.border)
        .border_style(th.border)
        .title(lag_title);
    let ri = rb.inner(right);
    f.render_widget(rb, right);
    if ri.height >= 2 {
        let [g, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(ri);
        let l = d.lag_s.unwrap_or(0.0).max(0.0);
        let frac = (l / th.lag_fail_s.max(1.0)).min(1.0);
        f.render_widget(
            Line::from(vec![
                Span::styled(
                    fmt::gauge(
                        frac,
                        g.width.saturating_sub(8) as usize,
                        th.sym.gauge_full,
                        th.sym.gauge_empty,
                    ),
                    th.lag(l),
                ),
                Span::styled(format!(" {}", fmt::lag(th.lag_fail_s)), th.muted),
            ]),
            g,
        );
        let pts: Vec<f64> = x.lag.iter().map(|(_, v)| *v).collect();
        if pts.is_empty() {
            f.render_widget(Line::styled("no lag samples yet", th.muted), chart);
        } else {
            lag_chart(f.buffer_mut(), chart, &pts, max_lag, th);
        }
    }

    // Validation and guards | events tail.
    let [lv, le] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(low);
    let mut vl = Vec::new();
    match &d.validation {
        Some(v) => vl.push(Line::from(vec![
            Span::styled(
                if v.passed {
                    format!("{} validation passed", th.sym.ok)
                } else {
                    format!("{} validation FAILED", th.sym.fail)
                },
                if v.passed { th.ok } else { th.fail },
            ),
            Span::styled(
                format!(" {} ago: {}", fmt::age(app.now, v.at), v.summary),
                th.muted,
            ),
        ])),
        None => vl.push(Line::styled("validation: not run yet", th.muted)),
    }
    // A failed pre-check: each check short of pass with the statement that fixes it.
    if x.precheck_passed == Some(false) {
        for c in x.prechecks.iter().filter(|c| c.status == Status::Fail) {
            let (sym, st) = check_style(th, c.status);
            vl.push(Line::from(vec![
                Span::styled(sym, st),
                Span::raw(format!(" {} ", c.name)),
                Span::styled(c.detail.clone(), th.muted),
            ]));
            if let Some(fix) = &c.fix {
                vl.push(Line::from(vec![
                    Span::styled("  fix: ", th.muted),
                    Span::raw(fix.clone()),
                ]));
            }
        }
    }
    let tw = (lv.width as usize).saturating_sub(30).clamp(8, 40);
    for t in x.validation_tables.iter().take(6) {
        let rows = |n: Option<u64>| n.map(|v| v.to_string()).unwrap_or("?".into());
        let mut s = vec![
            Span::styled(
                if t.passed { th.sym.ok } else { th.sym.fail },
                if t.passed { th.ok } else { th.fail },
            ),
            Span::raw(format!(" {:<tw$}", fmt::fit(&t.table, tw, th.sym.ellipsis))),
        ];
        if t.rows_source.is_some() || t.rows_target.is_some() {
            s.push(Span::styled(
                format!(" {:>8}/{:<8}", rows(t.rows_source), rows(t.rows_target)),
                th.muted,
            ));
        }
        // Line one fits: table, rows on each side, verdict. Where it was compared, which keys
        // differ and any note go on their own indented line, so nothing wraps mid-fact.
        if t.rows_source.is_some() {
            s.push(Span::styled(
                if t.passed {
                    " equal"
                } else if t.rows_source != t.rows_target
                    || t.digest_equal == Some(false)
                    || !t.keys.is_empty()
                {
                    " rows differ"
                } else {
                    ""
                },
                if t.passed { th.muted } else { th.fail },
            ));
        }
        let mut more = Vec::new();
        if let (false, Some(at)) = (t.passed, &t.compared_at) {
            more.push(Span::styled(format!("at {at}"), th.muted));
        }
        if !t.keys.is_empty() {
            more.push(Span::styled(
                format!(
                    "keys {}{}",
                    t.keys.join(", "),
                    if t.more_keys { ", …" } else { "" }
                ),
                th.fail,
            ));
        }
        let note = t.note.as_ref().map(|n| Span::styled(n.clone(), th.muted));
        match (t.rows_source.is_some(), note) {
            // Without rows (DRS's counts, an unreadable report) the note is the verdict.
            (false, Some(n)) => {
                s.push(Span::raw(" "));
                s.push(n);
            }
            (true, Some(n)) => more.push(n),
            _ => {}
        }
        vl.push(Line::from(s));
        if !more.is_empty() {
            let mut l = vec![Span::raw("    ")];
            for (i, sp) in more.into_iter().enumerate() {
                if i > 0 {
                    l.push(Span::raw("  "));
                }
                l.push(sp);
            }
            vl.push(Line::from(l));
        }
    }
    if x.validation_tables.len() > 6 {
        vl.push(Line::styled(
            format!("  … {} more tables", x.validation_tables.len() - 6),
            th.muted,
        ));
    }
    for o in x.validation_other.iter().take(4) {
        vl.push(Line::from(vec![
            Span::styled(th.sym.fail, th.fail),
            Span::raw(" "),
            Span::styled(o.clone(), th.fail),
        ]));
    }
    if let Some(a) = guards::next_action(d.stage) {
        let gs = guards::for_db(a, d, &app.data, app.now, app.limits, app.role);
        let blocked = gs.iter().any(|g| !g.ok);
        vl.push(Line::from(vec![
            Span::styled(format!("next: {} ", action_label(a)), th.header),
            if blocked {
                Span::styled("blocked", th.fail)
            } else {
                Span::styled("allowed", th.ok)
            },
        ]));
        for gl in gs.iter().filter(|g| g.name != "role") {
            vl.push(Line::from(vec![
                Span::styled(
                    if gl.ok { th.sym.ok } else { th.sym.fail },
                    if gl.ok { th.ok } else { th.fail },
                ),
                Span::raw(" "),
                Span::styled(gl.sentence.clone(), if gl.ok { th.base } else { th.fail }),
            ]));
        }
    }
    f.render_widget(
        Paragraph::new(vl)
            .wrap(Wrap { trim: false })
            .block(block(th, " Validation and guards ")),
        lv,
    );
    let evs: Vec<_> = app
        .data
        .events
        .iter()
        .rev()
        .filter(|s| s.event.db_id.as_deref() == Some(d.db_id.as_str()) && !s.telemetry)
        .take(le.height.saturating_sub(2) as usize)
        .collect();
    let el: Vec<Line> = evs
        .into_iter()
        .map(|s| {
            let e = &s.event;
            Line::from(vec![
                Span::styled(e.time.format("%H:%M:%S ").to_string(), th.muted),
                Span::styled(
                    format!("{} ", short_kind(&e.kind)),
                    sev_style(th, s.severity),
                ),
                Span::raw(s.text.clone()),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(el).block(block(th, " Events ")), le);
}

fn check_style(th: &Theme, s: Status) -> (&'static str, Style) {
    match s {
        Status::Pass => (th.sym.ok, th.ok),
        Status::Warn => (th.sym.warn, th.warn),
        Status::Fail => (th.sym.fail, th.fail),
    }
}

fn short_stage(st: Stage) -> &'static str {
    match st {
        Stage::Registered => "reg",
        Stage::Prechecks => "pre",
        Stage::Provisioning => "prov",
        Stage::FullLoad => "load",
        Stage::Cdc => "cdc",
        Stage::Validation => "valid",
        Stage::Ready => "ready",
        Stage::Cutover => "cut",
        Stage::Hypercare => "hyper",
        Stage::Completed => "done",
        _ => st.as_str(),
    }
}

fn short_kind(k: &str) -> &str {
    k.strip_prefix("db.").unwrap_or(k)
}

fn sev_style(th: &Theme, s: Severity) -> Style {
    match s {
        Severity::Info => th.info,
        Severity::Warn => th.warn,
        Severity::Fail => th.fail,
    }
}

fn events(app: &App, f: &mut Frame, area: Rect) {
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

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(app: &App, f: &mut Frame, area: Rect) {
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
        Action::Cutover => "Writes off at source, final sync, terminate the DRS job, DNS switch, writes on at target.",
        Action::Rollback => "Points traffic back to the source; the target is left as it is.",
        Action::CloseHypercare => "Ends the rollback window: rollback is no longer offered.",
        Action::Signoff => "Records your sign-off for the cutover, in a role you hold.",
    }
}

fn dialog(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let Some(d) = &app.dialog else { return };
    let target = match &d.target {
        Target::Db(id) => id.clone(),
        Target::Wave(n) => format!("wave {n}"),
    };
    let mut lines = vec![
        Line::styled(action_explain(d.action), th.muted),
        Line::raw(""),
        Line::styled("Guards", th.header),
    ];
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
            let hint = if d.blocked() {
                Line::styled("Blocked by the guards above. Esc closes.", th.fail)
            } else if d.confirm.is_some() {
                Line::styled(
                    "Enter submits once the text matches · Esc cancels",
                    th.muted,
                )
            } else {
                Line::styled("Enter or y submits · Esc or n cancels", th.muted)
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
            format!("{} command #{id} rejected: {why}", th.sym.fail),
            th.fail,
        )),
        DialogStatus::Error(e) => lines.push(Line::styled(
            format!("{} not submitted: {e}", th.sym.fail),
            th.fail,
        )),
    }
    if d.status != DialogStatus::Asking {
        lines.push(Line::styled("Enter or Esc closes", th.muted));
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
        Target::Db(_) => action_label(d.action),
    };
    let title = format!(" {} {target}? ", capitalise(verb));
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
