//! The Database view: one database's stage, lag chart, checks, validation, steps and events.

use super::dialog::action_label;
use crate::checks::Status;
use crate::lifecycle::Stage;
use crate::tui::app::App;
use crate::tui::fmt;
use crate::tui::guards;
use crate::tui::widgets::lag_chart::lag_chart;
use crate::tui::widgets::{block, check_style, sev_style, short_kind, stage_text};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub(super) fn detail(app: &App, f: &mut Frame, area: Rect) {
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
    // An offline database's path has no provisioning, load or CDC before its cutover.
    let pipeline: &[Stage] = if d.mode.is_online() {
        &Stage::PIPELINE
    } else {
        &Stage::OFFLINE_PIPELINE
    };
    for (i, &st) in pipeline.iter().enumerate() {
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
        if i + 1 < pipeline.len() {
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
    if let Some(l) = outage_line(th, x.outage_s, x.expected_outage_s) {
        ll.push(l);
    }
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
    let mut vl = super::validating::lines(app, &d.db_id);
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
    // Before the cutover the target holds no data of its own: no restore test to speak of.
    if crate::restore::tester::target_live(d.stage) || !x.restore.runs(&d.db_id).is_empty() {
        vl.push(restore_line(app, &x.restore, &d.db_id));
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

/// The Restore tests line: the last verdict (when, how long) and a run under way.
/// "write outage 42.0 s (expected 4m)": the outage the engine measured beside the one the
/// cutover command expected; before the end, the expected one alone.
fn outage_line(
    th: &crate::tui::theme::Theme,
    real: Option<f64>,
    expected: Option<f64>,
) -> Option<Line<'static>> {
    let expected = expected.map(crate::plan::estimate::human);
    let text = match (real, &expected) {
        (None, None) => return None,
        (Some(r), Some(e)) => format!("write outage {r:.1} s (expected {e})"),
        (Some(r), None) => format!("write outage {r:.1} s"),
        (None, Some(e)) => format!("write outage expected {e}"),
    };
    Some(Line::styled(text, th.warn))
}

fn restore_line(app: &App, book: &crate::restore::Book, db: &str) -> Line<'static> {
    let th = &app.theme;
    let mut spans = vec![Span::styled("restore tests: ", th.muted)];
    match book.last(db) {
        Some((r, v)) => {
            spans.push(Span::styled(
                if v.passed {
                    format!("{} passed", th.sym.ok)
                } else {
                    format!("{} FAILED", th.sym.fail)
                },
                if v.passed { th.ok } else { th.fail },
            ));
            spans.push(Span::styled(
                format!(
                    " {} ago, run {}, {} s: {}",
                    fmt::age(app.now, v.at),
                    r.r.run,
                    v.took.num_seconds(),
                    v.summary
                ),
                th.muted,
            ));
        }
        None => spans.push(Span::styled("none yet (T runs one)", th.muted)),
    }
    if let Some(r) = book.active(db) {
        let step = crate::restore::RestoreStep::ALL
            .into_iter()
            .rev()
            .find(|s| r.steps.contains_key(s))
            .map_or("starting", |s| s.as_str());
        spans.push(Span::styled(
            format!(
                "; run {} {} for {}",
                r.r.run,
                step,
                fmt::age(app.now, r.started_at)
            ),
            th.warn,
        ));
    }
    Line::from(spans)
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
        Stage::ReadyOffline => "r-offl",
        Stage::Cutover => "cut",
        Stage::Hypercare => "hyper",
        Stage::Completed => "done",
        _ => st.as_str(),
    }
}
