//! The Program view and the program line under the header of every view: the figures of
//! `crate::program`, computed by the app when its data changes, drawn here. Rows are built
//! only for what fits, so 169 waves and 2000 databases cost a few dozen lines.

use crate::program::calendar::{Blocker, Day};
use crate::program::Program;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::theme::{stage_code, Theme};
use crate::tui::widgets::lines_in;
use crate::tui::widgets::stage_bar::stage_bar;
use chrono::{DateTime, Datelike, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;
use ratatui::Frame;

fn block<'a>(th: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::bordered()
        .border_set(th.sym.border)
        .border_style(th.border)
        .title(title.into().style(th.title))
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0}%", 100.0 * part / whole)
    } else {
        "-".into()
    }
}

fn counts(p: &Program) -> [usize; crate::lifecycle::Stage::COUNT] {
    p.progress.by_stage
}

/// "18 Dec 14:00" for an instant this year, with the year when it is not.
fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.year() == now.year() {
        t.format("%d %b %H:%M").to_string()
    } else {
        t.format("%d %b %Y %H:%M").to_string()
    }
}

/// The ETA in a few words: "ETA 18 Dec 14:00 (in 16d02h)" (without the countdown when
/// `short`) or "no ETA yet".
fn eta_short(p: &Program, short: bool) -> (String, bool) {
    match p.pace.eta {
        Some(t) if short => (format!("ETA {}", when(t, p.now)), true),
        Some(t) => (
            format!(
                "ETA {} (in {})",
                when(t, p.now),
                fmt::dur_long((t - p.now).num_seconds())
            ),
            true,
        ),
        None if p.progress.databases > 0 && p.pace.phases.iter().all(|ph| ph.remaining == 0) => {
            ("all through cutover".into(), true)
        }
        None => ("no ETA yet (no pace)".into(), false),
    }
}

/// One line on every view: stages as one bar, completed, data moved and validated, the last
/// day's failures, the ETA. Pieces are dropped from the right when the terminal is narrow.
pub fn summary_line(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let p = &app.program;
    let pr = &p.progress;
    let w = area.width as usize;
    if pr.databases == 0 {
        f.render_widget(
            Line::styled(" program: no databases registered yet", th.muted),
            area,
        );
        return;
    }
    let bar_w = if w >= 180 {
        40
    } else if w >= 120 {
        24
    } else {
        12
    };
    // (what, drop order): the least needed goes first when the line is too long.
    let mut pieces: Vec<(Vec<Span<'static>>, u8)> = Vec::new();
    let mut first = vec![Span::styled(format!(" {} dbs ", pr.databases), th.header)];
    first.extend(stage_bar(th, &counts(p), bar_w));
    pieces.push((first, 0));
    pieces.push((
        vec![Span::raw(format!(
            " completed {}/{}",
            pr.completed, pr.databases
        ))],
        1,
    ));
    pieces.push((
        vec![Span::raw(format!(
            "  moved {}/{}",
            fmt::size_gb(pr.moved_gb),
            fmt::size_gb(pr.total_gb)
        ))],
        4,
    ));
    pieces.push((
        vec![Span::raw(format!(
            "  validated {}",
            fmt::size_gb(pr.validated_gb)
        ))],
        5,
    ));
    let fail_st = if pr.failures_24h > 0 {
        th.fail
    } else {
        th.muted
    };
    pieces.push((
        vec![Span::styled(
            match pr.error_rate_24h() {
                Some(r) => format!("  failed 24h {} ({:.1}%)", pr.failures_24h, r * 100.0),
                None => format!("  failed 24h {}", pr.failures_24h),
            },
            fail_st,
        )],
        2,
    ));
    let (eta, known) = eta_short(p, w < 120);
    pieces.push((
        vec![Span::styled(
            format!("  {eta}"),
            if known { th.info } else { th.muted },
        )],
        3,
    ));
    let width = |ps: &[(Vec<Span<'static>>, u8)]| -> usize {
        ps.iter()
            .flat_map(|(p, _)| p.iter())
            .map(|s| s.width())
            .sum()
    };
    while width(&pieces) > w && pieces.len() > 1 {
        let Some(worst) = pieces
            .iter()
            .enumerate()
            .max_by_key(|(_, p)| p.1)
            .map(|x| x.0)
        else {
            break;
        };
        pieces.remove(worst);
    }
    let spans: Vec<Span<'static>> = pieces.into_iter().flat_map(|(p, _)| p).collect();
    f.render_widget(Line::from(spans), area);
}

/// The Program view: progress and pace on the left (or on top), the calendar beside (or
/// below).
pub fn view(app: &App, f: &mut Frame, area: Rect) {
    let wide = area.width >= 150;
    let (left, right) = if wide {
        let [l, r] = Layout::horizontal([Constraint::Length(84), Constraint::Min(40)]).areas(area);
        (l, r)
    } else {
        let need = progress_lines(app, area.width.saturating_sub(2) as usize).len() as u16
            + pace_lines(app, false).len() as u16
            + 2;
        // The calendar keeps at least a week's lines when the terminal is short.
        let [l, r] = Layout::vertical([
            Constraint::Length(need.min(area.height.saturating_sub(9).max(area.height / 2))),
            Constraint::Min(3),
        ])
        .areas(area);
        (l, r)
    };
    let th = &app.theme;
    let inner_w = left.width.saturating_sub(2) as usize;
    let mut lines = progress_lines(app, inner_w);
    if wide {
        lines.push(Line::raw(""));
    }
    lines.extend(pace_lines(app, wide));
    lines_in(f, block(th, " Program "), lines, left);
    calendar(app, f, right);
}

fn progress_lines(app: &App, w: usize) -> Vec<Line<'static>> {
    let th = &app.theme;
    let p = &app.program;
    let pr = &p.progress;
    let mut lines = Vec::new();
    if pr.databases == 0 {
        lines.push(Line::styled(
            "no databases registered (wavedeck init --inventory FILE)",
            th.muted,
        ));
        return lines;
    }
    lines.push(Line::from(stage_bar(th, &counts(p), w)));
    // Legend: every stage with databases, wrapped to the width.
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut row_w = 0;
    for (st, n) in pr.stage_counts() {
        let mark = if th.no_color {
            stage_code(st).to_string()
        } else {
            th.sym.bar.to_string()
        };
        let text = format!(" {} {n}  ", st.as_str());
        let cw = 1 + text.chars().count();
        if row_w + cw > w && !row.is_empty() {
            lines.push(Line::from(std::mem::take(&mut row)));
            row_w = 0;
        }
        row.push(Span::styled(mark, th.stage(st)));
        row.push(Span::raw(text));
        row_w += cw;
    }
    if !row.is_empty() {
        lines.push(Line::from(row));
    }
    let gw = w.saturating_sub(40).clamp(8, 30);
    let gauge = |frac: f64| {
        Span::styled(
            fmt::gauge(frac, gw, th.sym.gauge_full, th.sym.gauge_empty),
            th.info,
        )
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let done = pr.completed as f64;
    let all = pr.databases as f64;
    lines.push(Line::from(vec![
        Span::styled("completed  ", th.muted),
        gauge(ratio(done, all)),
        Span::raw(format!(
            " {} of {} ({})",
            pr.completed,
            pr.databases,
            pct(done, all)
        )),
    ]));
    lines.push(Line::from(vec![
        Span::styled("moved      ", th.muted),
        gauge(ratio(pr.moved_gb, pr.total_gb)),
        Span::raw(format!(
            " {} of {} ({})",
            fmt::size_gb(pr.moved_gb),
            fmt::size_gb(pr.total_gb),
            pct(pr.moved_gb, pr.total_gb)
        )),
    ]));
    lines.push(Line::from(vec![
        Span::styled("validated  ", th.muted),
        gauge(ratio(pr.validated_gb, pr.total_gb)),
        Span::raw(format!(
            " {} of {} ({})",
            fmt::size_gb(pr.validated_gb),
            fmt::size_gb(pr.total_gb),
            pct(pr.validated_gb, pr.total_gb)
        )),
    ]));
    let wc = p.waves;
    lines.push(Line::from(vec![
        Span::styled("waves      ", th.muted),
        Span::raw(format!(
            "{} done, {} running, {} planned",
            wc.done, wc.running, wc.planned
        )),
    ]));
    let fail_st = if pr.failed_now > 0 { th.fail } else { th.muted };
    let mut fl = vec![
        Span::styled("failures   ", th.muted),
        Span::styled(format!("{} failed now", pr.failed_now), fail_st),
    ];
    fl.push(Span::raw(match pr.error_rate_24h() {
        Some(r) => format!(
            "; {} in 24 h of {} that moved ({:.1}%)",
            pr.failures_24h,
            pr.active_24h,
            r * 100.0
        ),
        None => "; nothing moved in 24 h".into(),
    }));
    lines.push(Line::from(fl));
    // Alerts: none exist yet; a line saying "0 alerts" would claim rules that are not there.
    for a in &p.alerts {
        lines.push(Line::styled(format!("alert      {a}"), th.warn));
    }
    lines
}

fn pace_lines(app: &App, wide: bool) -> Vec<Line<'static>> {
    let th = &app.theme;
    let p = &app.program;
    let mut lines = Vec::new();
    if wide {
        lines.push(Line::styled(
            format!(
                "{:<12}{:>8}{:>10}{:>12}{:>8}",
                "PHASE", "DONE", "PER HOUR", "MEDIAN/DB", "AHEAD"
            ),
            th.header,
        ));
        for ph in &p.pace.phases {
            lines.push(Line::raw(format!(
                "{:<12}{:>8}{:>10}{:>12}{:>8}",
                ph.phase.as_str(),
                ph.done,
                ph.per_hour
                    .map(|r| format!("{r:.1}/h"))
                    .unwrap_or_else(|| "-".into()),
                ph.median_s.map(median_text).unwrap_or_else(|| "-".into()),
                ph.remaining
            )));
        }
    } else if p.pace.phases.iter().any(|ph| ph.per_hour.is_some()) {
        // Narrow: one line, rates only.
        let rates: Vec<String> = p
            .pace
            .phases
            .iter()
            .map(|ph| {
                format!(
                    "{} {}",
                    ph.phase.as_str(),
                    ph.per_hour
                        .map(|r| format!("{r:.1}/h"))
                        .unwrap_or_else(|| "-".into())
                )
            })
            .collect();
        lines.push(Line::styled(
            format!("pace  {}", rates.join("  ")),
            th.muted,
        ));
    }
    match (p.pace.eta, &p.pace.no_eta) {
        (Some(t), _) => {
            let by = p
                .pace
                .bottleneck
                .map(|b| format!(", set by {}", b.as_str()))
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "ETA {} UTC, in {}",
                        when(t, p.now),
                        fmt::dur_long((t - p.now).num_seconds())
                    ),
                    th.info,
                ),
                Span::styled(by, th.muted),
            ]));
            lines.push(Line::styled(p.pace.basis.clone(), th.muted));
        }
        (None, Some(why)) => lines.push(Line::styled(why.clone(), th.muted)),
        (None, None) => lines.push(Line::styled("no ETA", th.muted)),
    }
    lines
}

/// A compressed rehearsal moves a database through a phase in under a second: "<1s", not a
/// "0s" that reads as broken.
pub fn median_text(s: i64) -> String {
    if s < 1 {
        "<1s".into()
    } else {
        fmt::dur_long(s)
    }
}

fn blocker_text(day: &Day, wide: bool) -> String {
    let mut not_appr = 0;
    let mut not_ready = 0;
    let mut failed = 0;
    for s in &day.slots {
        for b in &s.blockers {
            match b {
                Blocker::NotApproved => not_appr += 1,
                Blocker::NotReady(n) => not_ready += n,
                Blocker::Failures(n) => failed += n,
            }
        }
    }
    let mut out = Vec::new();
    if not_appr > 0 {
        out.push(if wide {
            format!("{not_appr} not approved")
        } else {
            format!("{not_appr} unappr")
        });
    }
    if not_ready > 0 {
        out.push(if wide {
            format!("{not_ready} dbs not ready")
        } else {
            format!("{not_ready} unready")
        });
    }
    if failed > 0 {
        out.push(format!("{failed} failed"));
    }
    out.join(if wide { ", " } else { " " })
}

fn tail_text(cal: &crate::program::calendar::Calendar) -> String {
    let plural = |n: usize| if n == 1 { "wave" } else { "waves" };
    let mut tail = Vec::new();
    if cal.later > 0 {
        tail.push(format!("{} {} open later", cal.later, plural(cal.later)));
    }
    if cal.finished > 0 {
        tail.push(format!(
            "{} {} through cutover",
            cal.finished,
            plural(cal.finished)
        ));
    }
    for (n, why) in &cal.unreadable {
        tail.push(format!("wave {n}: window unreadable ({why})"));
    }
    tail.join(", ")
}

/// `w12`, then `!` when late; without colour `x` for failures and `?` for other blockers.
fn slot_token(th: &Theme, s: &crate::program::calendar::Slot) -> String {
    let mut t = format!("w{}", s.wave);
    if s.late {
        t.push('!');
    }
    if th.no_color {
        if s.blockers.iter().any(|b| matches!(b, Blocker::Failures(_))) {
            t.push('x');
        } else if !s.blockers.is_empty() {
            t.push('?');
        }
    }
    t.push(' ');
    t
}

fn slot_style(th: &Theme, s: &crate::program::calendar::Slot) -> Style {
    if s.late || s.blockers.iter().any(|b| matches!(b, Blocker::Failures(_))) {
        th.fail
    } else if !s.blockers.is_empty() {
        th.warn
    } else {
        th.ok
    }
}

fn calendar(app: &App, f: &mut Frame, area: Rect) {
    let th = &app.theme;
    let p = &app.program;
    let cal = &p.calendar;
    let w = area.width.saturating_sub(2) as usize;
    let wide = w >= 100;
    let room = area.height.saturating_sub(2) as usize;
    let mut lines: Vec<Line<'static>> = Vec::new();
    if !cal.late.is_empty() {
        let mut l = vec![Span::styled(
            format!("{} LATE {} ", th.sym.warn, cal.late.len()),
            th.fail,
        )];
        let items: Vec<String> = cal
            .late
            .iter()
            .map(|x| {
                if wide {
                    format!(
                        "w{} ({} of {} not in hypercare, window closed {})",
                        x.wave,
                        x.behind,
                        x.databases,
                        when(x.closed_at, p.now)
                    )
                } else {
                    format!("w{} {}/{}", x.wave, x.behind, x.databases)
                }
            })
            .collect();
        l.push(Span::raw(fmt::fit(
            &items.join(", "),
            w.saturating_sub(10),
            th.sym.ellipsis,
        )));
        lines.push(Line::from(l));
    }
    let today = p.now.date_naive();
    let tail = tail_text(cal);
    // Lines left once every day has its own: given to the days in order, to wrap their waves.
    let fixed = lines.len() + cal.days.len() + usize::from(!tail.is_empty()) + 1;
    let mut spare = room.saturating_sub(fixed);
    for day in &cal.days {
        if lines.len() + 1 >= room {
            break;
        }
        let k = (day.date - today).num_days();
        let tag = match k {
            0 => "today",
            1 => "tmrw",
            _ => "",
        };
        let mut l = vec![
            Span::styled(format!("{} ", day.date.format("%a %d %b")), th.header),
            Span::styled(format!("{tag:<6}"), th.muted),
        ];
        if day.slots.is_empty() {
            l.push(Span::styled("-", th.muted));
            lines.push(Line::from(l));
            continue;
        }
        l.push(Span::raw(format!(
            "{:>3} wv {:>4} db {:>6}  ",
            day.slots.len(),
            day.databases(),
            fmt::size_gb(day.gb())
        )));
        let blk = blocker_text(day, wide);
        let blk_w = if wide { 46 } else { 22 };
        l.push(Span::styled(
            format!("{:<blk_w$} ", fmt::fit(&blk, blk_w, th.sym.ellipsis)),
            if blk.is_empty() { th.muted } else { th.warn },
        ));
        // The waves themselves, as many as fit (on more lines when there is room); late ones
        // marked with '!', and without colour the blocked ones with '?' and failed with 'x'.
        let indent: usize = l.iter().map(|s| s.width()).sum();
        let toks: Vec<(String, Style)> = day
            .slots
            .iter()
            .map(|s| (slot_token(th, s), slot_style(th, s)))
            .collect();
        let mut i = 0;
        let mut cur = l;
        loop {
            let last_line = spare == 0 || lines.len() + 2 >= room;
            let mut left = w.saturating_sub(indent);
            while i < toks.len() {
                let reserve = if last_line && toks.len() - i > 1 {
                    10
                } else {
                    0
                };
                if toks[i].0.len() + reserve > left {
                    break;
                }
                left -= toks[i].0.len();
                cur.push(Span::styled(toks[i].0.clone(), toks[i].1));
                i += 1;
            }
            if i < toks.len() && last_line {
                cur.push(Span::styled(format!("+{} more", toks.len() - i), th.muted));
            }
            lines.push(Line::from(std::mem::take(&mut cur)));
            if i >= toks.len() || last_line {
                break;
            }
            spare -= 1;
            cur.push(Span::raw(" ".repeat(indent)));
        }
    }
    if !tail.is_empty() && lines.len() < room {
        lines.push(Line::styled(fmt::fit(&tail, w, th.sym.ellipsis), th.muted));
    }
    if lines.len() < room {
        let legend = if th.no_color {
            "wN? blocked, wNx failures, wN! late (window closed, not in hypercare)"
        } else {
            "green ready and approved, yellow blocked, red failures, ! late (window closed, not in hypercare)"
        };
        lines.push(Line::styled(fmt::fit(legend, w, th.sym.ellipsis), th.muted));
    }
    // The order of a day's waves is not their numbers': said in the title.
    let mut title = format!(
        " Calendar: next {} days (UTC), {} ",
        cal.days.len(),
        crate::program::calendar::ORDER
    );
    if title.chars().count() + 4 > area.width as usize {
        title = format!(
            " Calendar: next {} days (UTC), waves by opening ",
            cal.days.len()
        );
    }
    lines_in(f, block(th, title), lines, area);
}

#[cfg(test)]
mod tests {
    use crate::lifecycle::Stage;
    use crate::program::stage_pos;
    use crate::tui::app::{handle_key, App, Mode, View};
    use crate::tui::fixture;
    use crate::tui::theme::Theme;
    use crate::tui::wavelist::WaveRow;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn key(a: &mut App, c: KeyCode) {
        handle_key(a, KeyEvent::new(c, KeyModifiers::NONE));
    }

    #[test]
    fn program_keys_and_the_waves_filter_and_fold() {
        let th = Theme::load("dark", false, false).unwrap();
        let mut a = App::new(crate::tui::fleet::data(300, 169), th, true, fixture::now());
        key(&mut a, KeyCode::Char('0'));
        assert_eq!(a.view, View::Program);
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.view, View::Waves);
        key(&mut a, KeyCode::BackTab);
        assert_eq!(a.view, View::Program);
        key(&mut a, KeyCode::Char(':'));
        for c in "waves".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.view, View::Waves);
        key(&mut a, KeyCode::Char(':'));
        for c in "program".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.view, View::Program);

        // Waves: the one-database waves of big databases are one row until unfolded.
        key(&mut a, KeyCode::Char('1'));
        let folded = a
            .wave_rows
            .iter()
            .position(|r| matches!(r, WaveRow::Folded { .. }))
            .expect("a folded row");
        let rows = a.wave_rows.len();
        a.wave_cursor = folded;
        assert_eq!(
            a.current_wave(),
            None,
            "a folded row is not one wave to act on"
        );
        key(&mut a, KeyCode::Enter);
        assert!(a.wave_rows.len() > rows);
        assert!(matches!(a.wave_rows[a.wave_cursor], WaveRow::Wave(_)));
        key(&mut a, KeyCode::Char('+'));
        assert_eq!(a.wave_rows.len(), rows);

        // `/` filters waves (not databases), live; a bad term says what to write.
        key(&mut a, KeyCode::Char('/'));
        assert_eq!(a.mode, Mode::Filter);
        for c in "state:bogus".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        assert!(a
            .input_error
            .as_deref()
            .unwrap()
            .contains("planned running done"));
        key(&mut a, KeyCode::Esc);
        key(&mut a, KeyCode::Char('/'));
        for c in "fail".chars() {
            key(&mut a, KeyCode::Char(c));
        }
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.view, View::Waves);
        assert!(!a.wave_rows.is_empty());
        assert!(a.wave_rows.len() < rows);
        let dbs = a.data.dbs.clone();
        let with_failures = |n: u32| {
            dbs.iter()
                .any(|d| d.wave == Some(n) && d.stage == Stage::Failed)
        };
        for r in &a.wave_rows {
            match r {
                WaveRow::Wave(n) => assert!(with_failures(*n), "wave {n}"),
                WaveRow::Folded { waves, .. } => {
                    assert!(waves.iter().all(|n| with_failures(*n)))
                }
                WaveRow::Loose => panic!("no loose row under a filter"),
            }
        }
        // Esc clears it; sorting by failures puts the worst wave first.
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.wave_rows.len(), rows);
        key(&mut a, KeyCode::Char('X'));
        match &a.wave_rows[0] {
            WaveRow::Wave(n) => assert!(with_failures(*n)),
            r => panic!("{r:?}"),
        }
    }

    /// The program's counts are indexed like the theme's stage colours.
    #[test]
    fn stage_positions_match_the_theme() {
        for s in Stage::ALL {
            assert_eq!(stage_pos(s), crate::tui::theme::stage_index(s));
        }
    }
}
