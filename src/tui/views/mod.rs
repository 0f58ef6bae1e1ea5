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

use crate::tui::app::keymap::Context;
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

/// How much of each tab's name the header shows: the widest that leaves room for the badges
/// and the clock (which always show).
#[derive(Clone, Copy, PartialEq)]
enum Tabs {
    Full,
    Short,
    /// The view in use by its short name, the others by their key alone.
    Keys,
}

const VIEWS: [View; 6] = [
    View::Program,
    View::Waves,
    View::Databases,
    View::Events,
    View::Detail,
    View::Alerts,
];

/// The fewest columns the sign-off holders take when they show at all ("sign-off " and a
/// few letters); with less room they are left out (`:help` and the sign-off dialog name them).
const HOLDERS_MIN: usize = 17;

fn tab_spans(app: &App, tabs: Tabs) -> Vec<Span<'static>> {
    let th = &app.theme;
    let mut spans = Vec::new();
    for (i, v) in VIEWS.into_iter().enumerate() {
        let label = match tabs {
            Tabs::Full => format!("{i} {}", v.title()),
            Tabs::Keys if app.view != v => format!("{i}"),
            _ => format!("{i} {}", v.short_title()),
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
            spans.push(Span::raw(if tabs == Tabs::Keys { " " } else { "  " }));
        }
    }
    spans
}

fn width(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.width()).sum()
}

/// The top line: the tabs on the left; on the right the store's error, the engine, the
/// read-only and frozen badges, the sign-off holders and the clock. What gives way when the
/// line is short: first the holders are cut, then the tabs' full names go, then the tabs' names
/// but the current one, then the holders, then the name "wavedeck"; the badges and the clock
/// never do.
fn header(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let w = area.width as usize;
    let mut badges: Vec<Span> = Vec::new();
    match &app.data.engine {
        Some(Some(_)) => badges.push(Span::styled(format!("{} engine ", th.sym.ok), th.ok)),
        Some(None) => badges.push(Span::styled(
            " NO ENGINE ",
            th.fail.add_modifier(Modifier::REVERSED),
        )),
        None => {}
    }
    badges.push(Span::raw(" "));
    if app.read_only {
        badges.push(Span::styled(" READ-ONLY ", th.badge));
        badges.push(Span::raw(" "));
    }
    if app.frozen {
        badges.push(Span::styled(" FROZEN ", th.badge));
        badges.push(Span::raw(" "));
    }
    let clock = Span::styled(app.now.format("%H:%M UTC").to_string(), th.muted);
    let fixed = width(&badges) + clock.width();
    let title = [
        Span::styled(" wavedeck ", th.title.add_modifier(Modifier::REVERSED)),
        Span::raw(" "),
    ];
    let holders = app.signoff.holders_line();
    let error = app.data.store_error.as_deref();
    let error_w = error.map_or(0, |e| e.chars().count().min(40) + 9);
    let levels: &[Tabs] = if area.width >= 110 {
        &[Tabs::Full, Tabs::Short, Tabs::Keys]
    } else {
        &[Tabs::Short, Tabs::Keys]
    };
    let left_w = |t: Tabs| width(&title) + width(&tab_spans(app, t));
    let fits = |t: Tabs, extra: usize| left_w(t) + fixed + error_w + extra <= w;
    // The widest tabs that leave the holders a few letters; without holders (or room for
    // them), the widest that fit at all.
    let holders_min = if holders.is_empty() { 0 } else { HOLDERS_MIN };
    let tabs = levels
        .iter()
        .copied()
        .find(|t| fits(*t, holders_min))
        .or_else(|| levels.iter().copied().find(|t| fits(*t, 0)))
        .unwrap_or(Tabs::Keys);
    // At the narrowest, with every badge up, the name goes before the tabs do.
    let mut left: Vec<Span> = if fits(tabs, 0) {
        title.to_vec()
    } else {
        vec![Span::raw(" ")]
    };
    left.extend(tab_spans(app, tabs));
    // What is left for the store's error, then the holders.
    let mut room = w.saturating_sub(width(&left) + fixed);
    let mut right: Vec<Span> = Vec::new();
    if let Some(e) = error {
        let text = fmt::fit(e, 40.min(room.saturating_sub(9)), th.sym.ellipsis);
        if !text.is_empty() {
            let s = Span::styled(format!(" store: {text} "), th.fail);
            room = room.saturating_sub(s.width());
            right.push(s);
        }
    }
    right.extend(badges);
    if !holders.is_empty() && room >= HOLDERS_MIN {
        let text = fmt::fit(&holders, 60.min(room - 10), th.sym.ellipsis);
        right.push(Span::styled(format!("sign-off {text} "), th.muted));
    }
    right.push(clock);
    // The right part is drawn last, over the left if they still meet (at the narrowest
    // terminals with every badge up), so the clock is never the part cut off.
    let rw = width(&right).min(w) as u16;
    f.render_widget(Line::from(left), area);
    f.render_widget(
        Line::from(right),
        Rect::new(area.x + area.width - rw, area.y, rw, 1),
    );
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
                let h = keymap::mode_hint(Context::Filter, |_| true);
                s.push(Span::styled(format!("  {h}"), th.muted));
            } else {
                let h = keymap::mode_hint(Context::Command, |_| true);
                s.push(Span::styled(format!("  {h} · :help"), th.muted));
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
