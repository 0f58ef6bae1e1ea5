//! Drawing. `render(&App, &mut Frame)` reads the state and never changes it; rows are built
//! only for the visible slice so 2000 databases cost the same as 40.

pub mod alerts;
pub mod databases;
pub mod detail;
pub mod dialog;
pub mod events;
pub mod help;
pub mod program;
pub mod validating;
pub mod waves;

pub use waves::{db_progress, wave_summary, WaveSummary};

use crate::tui::app::{keymap, App, Level, Mode, View};
use crate::tui::fmt;
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

pub const MIN_W: u16 = 60;
pub const MIN_H: u16 = 16;

pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    let th = &app.theme;
    // Every cell takes the base style. Straight over the cells: Buffer::set_style works out
    // each cell's index from its position, a tenth of a frame's work (callgrind). The frame's
    // area is its buffer's.
    for c in &mut f.buffer_mut().content {
        c.set_style(th.base);
    }
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
        View::Waves => waves::waves(app, f, body),
        View::Databases => databases::databases(app, f, body),
        View::Detail => detail::detail(app, f, body),
        View::Events => events::events(app, f, body),
        View::Alerts => alerts::alerts(app, f, body),
    }
    footer(app, f, foot);
    match app.mode {
        Mode::Help => help::help(app, f, body),
        Mode::Dialog => dialog::dialog(app, f, body),
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
        View::Alerts,
    ]
    .into_iter()
    .enumerate()
    {
        // Six tabs and the badges do not fit 80 columns with the full names.
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
        if v == View::Alerts {
            // The count on every view: red while one stands unacknowledged.
            let b = &app.data.alerts;
            let st = match (b.standing.len(), b.unacked()) {
                (0, _) => th.muted,
                (_, 0) => th.warn,
                _ => th.fail.add_modifier(Modifier::REVERSED),
            };
            spans.push(Span::raw(" "));
            spans.push(Span::styled(format!("{}", b.standing.len()), st));
        } else {
            spans.push(Span::raw("  "));
        }
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
    let holders = app.signoff.holders_line();
    if !holders.is_empty() {
        right.push(Span::styled(
            format!("sign-off {} ", fmt::fit(&holders, 60, th.sym.ellipsis)),
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
    let mut spans = Vec::new();
    for h in keymap::hints(app.view, app.read_only) {
        spans.push(Span::styled(h.key.to_string(), th.key));
        spans.push(Span::styled(format!(" {}  ", h.word), th.muted));
    }
    Line::from(spans)
}
