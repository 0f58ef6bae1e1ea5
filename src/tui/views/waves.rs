//! The Waves view: one row per wave (or per folded run of one-database waves), its members
//! by stage, and the selected wave's window, approval and members that need attention.

use crate::lifecycle::Stage;
use crate::store::model::DbState;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::guards;
use crate::tui::theme::{stage_code, stage_index};
use crate::tui::wavelist::{WaveRow, WaveSort};
use crate::tui::widgets::stage_bar::stage_bar;
use crate::tui::widgets::{block, stage_text};
use crate::tui::window;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

/// Aggregates of one wave for the Waves view.
pub struct WaveSummary {
    pub members: usize,
    pub counts: [usize; Stage::COUNT],
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
        Stage::Ready | Stage::ReadyOffline => 0.85,
        Stage::Cutover => 0.9,
        Stage::Hypercare => 0.95,
        _ => 1.0,
    }
}

pub fn wave_summary(app: &App, n: Option<u32>) -> WaveSummary {
    let mut counts = [0usize; Stage::COUNT];
    let mut lags = Vec::new();
    let mut prog = 0.0;
    let mut members = 0;
    let mut moving = false;
    for d in app.data.members(n) {
        members += 1;
        // Databases at `ready` or in hypercare wait for the operator: an ETA extrapolated
        // from the wave's pace would promise an end that no amount of waiting brings.
        moving |= matches!(
            d.stage,
            Stage::Registered
                | Stage::Prechecks
                | Stage::Provisioning
                | Stage::FullLoad
                | Stage::Cdc
                | Stage::Validation
                | Stage::Cutover
        );
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
    // With no engine holding the store nothing moves either, however long one waits.
    let moving = moving && app.data.engine != Some(None);
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

pub(super) fn waves(app: &App, f: &mut Frame, area: Rect) {
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
    // Only the rows on screen are built: each reads its wave's members (`Data::members`).
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
        // "done 3h": how long since its wave.done, in the 8 columns the state has.
        let state = match w {
            Some(w) => match &w.done {
                Some(end) => format!("done {}", fmt::age(app.now, end.at)),
                None => w.status().as_str().to_string(),
            },
            None => String::new(),
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
        if let Some(end) = &w.done {
            lines.push(Line::from(vec![
                Span::styled(format!("{} done", th.sym.ok), th.ok),
                Span::raw(format!(
                    " at {}: {}",
                    end.at.format("%Y-%m-%d %H:%M UTC"),
                    end.counts()
                )),
            ]));
        }
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
        .members(sel)
        .filter(|d| {
            matches!(d.stage, Stage::Failed | Stage::Paused)
                || (matches!(d.stage, Stage::Cdc | Stage::Validation | Stage::Ready)
                    && guards::lag(d, app.limits, app.now).is_some_and(|g| !g.ok))
        })
        .collect();
    attention.sort_by_key(|d| (d.stage != Stage::Failed, d.db_id.clone()));
    let room = (bottom.height as usize).saturating_sub(2 + lines.len() + 1);
    if !attention.is_empty() && room > 0 {
        // As many as the panel holds; the heading says when that is not all of them (a
        // "… more" line below would be the first one cut off).
        let shown = attention.len().min(room);
        lines.push(Line::styled(
            if shown < attention.len() {
                format!(
                    "Needs attention ({}, {shown} shown: Enter, then F lists them all)",
                    attention.len()
                )
            } else {
                format!("Needs attention ({})", attention.len())
            },
            th.header,
        ));
        for d in attention.iter().take(shown) {
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
    let mut counts = [0usize; Stage::COUNT];
    let mut failures = 0;
    for d in waves.iter().flat_map(|&w| app.data.members(Some(w))) {
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
