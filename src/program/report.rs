//! `wavedeck status --program`: the Program view's figures as text for people and JSON for
//! scripts and the wave report. Pure: a `Program` in, text out.

use super::calendar::Blocker;
use super::Program;
use crate::tui::fmt;

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.1}%", 100.0 * part / whole)
    } else {
        "-".into()
    }
}

pub fn render_text(store: &str, p: &Program) -> String {
    let pr = &p.progress;
    let mut out = format!(
        "program of store {store} at {}\n",
        p.now.format("%Y-%m-%d %H:%M UTC")
    );
    if pr.databases == 0 {
        out.push_str("no databases registered (run `wavedeck init --inventory FILE`)\n");
        return out;
    }
    let stages: Vec<String> = pr
        .stage_counts()
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    out.push_str(&format!(
        "databases: {} ({})\n",
        pr.databases,
        stages.join(", ")
    ));
    out.push_str(&format!(
        "waves: {} ({} done, {} running, {} planned)\n",
        p.waves.done + p.waves.running + p.waves.planned,
        p.waves.done,
        p.waves.running,
        p.waves.planned
    ));
    out.push_str(&format!(
        "completed: {} of {} ({})\n",
        pr.completed,
        pr.databases,
        pct(pr.completed as f64, pr.databases as f64)
    ));
    out.push_str(&format!(
        "data: {:.1} GB moved, {:.1} GB validated, of {:.1} GB ({} / {})\n",
        pr.moved_gb,
        pr.validated_gb,
        pr.total_gb,
        pct(pr.moved_gb, pr.total_gb),
        pct(pr.validated_gb, pr.total_gb)
    ));
    out.push_str(&match p.error_rate_24h {
        Some(r) => format!(
            "failures: {} failed now; {} in the last 24 h of {} databases that moved ({:.1}%)\n",
            pr.failed_now,
            pr.failures_24h,
            pr.active_24h,
            r * 100.0
        ),
        None => format!(
            "failures: {} failed now; nothing moved in the last 24 h\n",
            pr.failed_now
        ),
    });
    out.push_str(&format!("\npace ({}):\n", p.pace.basis));
    let rows: Vec<Vec<String>> = p
        .pace
        .phases
        .iter()
        .map(|ph| {
            vec![
                ph.phase.as_str().to_string(),
                ph.done.to_string(),
                ph.per_hour
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "-".into()),
                ph.median_s
                    .map(crate::tui::views::program::median_text)
                    .unwrap_or_else(|| "-".into()),
                ph.remaining.to_string(),
            ]
        })
        .collect();
    out.push_str(&crate::store::status::table(
        &["PHASE", "DONE", "PER HOUR", "MEDIAN PER DB", "AHEAD"],
        &rows,
    ));
    out.push_str(&match (p.pace.eta, &p.pace.no_eta) {
        (Some(t), _) => format!(
            "ETA: {} (in {}), set by {}, {}\n",
            t.format("%Y-%m-%d %H:%M UTC"),
            fmt::dur_long((t - p.now).num_seconds()),
            p.pace.bottleneck.map(|b| b.as_str()).unwrap_or("-"),
            p.pace.basis
        ),
        (None, Some(why)) => format!("ETA: none ({why})\n"),
        (None, None) => "ETA: none\n".into(),
    });
    let cal = &p.calendar;
    if !cal.late.is_empty() {
        out.push_str(&format!("\nLATE ({})\n", cal.late.len()));
        let rows: Vec<Vec<String>> = cal
            .late
            .iter()
            .map(|l| {
                vec![
                    l.wave.to_string(),
                    l.closed_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    format!("{} of {}", l.behind, l.databases),
                    l.window.clone(),
                ]
            })
            .collect();
        out.push_str(&crate::store::status::table(
            &["WAVE", "WINDOW CLOSED", "NOT IN HYPERCARE", "WINDOW"],
            &rows,
        ));
    }
    out.push_str(&format!(
        "\ncalendar, next {} days (UTC), {}:\n",
        cal.days.len(),
        super::calendar::ORDER
    ));
    let mut rows = Vec::new();
    for d in &cal.days {
        for s in &d.slots {
            let blockers: Vec<String> = s.blockers.iter().map(|b: &Blocker| b.text()).collect();
            rows.push(vec![
                d.date.format("%a %Y-%m-%d").to_string(),
                s.wave.to_string(),
                if s.open_now {
                    "open now".to_string()
                } else {
                    s.opens.format("%H:%M").to_string()
                },
                s.databases.to_string(),
                format!("{:.1}", s.gb),
                if blockers.is_empty() {
                    "-".into()
                } else {
                    blockers.join(", ")
                },
                if s.late { "LATE".into() } else { String::new() },
            ]);
        }
    }
    if rows.is_empty() {
        out.push_str("no unfinished wave opens in these days\n");
    } else {
        out.push_str(&crate::store::status::table(
            &["DAY", "WAVE", "OPENS", "DBS", "GB", "BLOCKED BY", ""],
            &rows,
        ));
    }
    if cal.later > 0 {
        out.push_str(&format!("{} more waves open later\n", cal.later));
    }
    if cal.finished > 0 {
        out.push_str(&format!("{} waves are through cutover\n", cal.finished));
    }
    for (n, why) in &cal.unreadable {
        out.push_str(&format!(
            "wave {n}: its window cannot be read ({why}); fix it in the inventory and run init again\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{db, mark, t0};
    use super::*;
    use crate::lifecycle::Stage;
    use crate::store::model::WaveState;

    #[test]
    fn text_names_the_figures_and_says_when_there_is_no_eta() {
        let dbs = vec![
            db("a", 0, Stage::Ready, 10.0),
            db("b", 0, Stage::Failed, 5.0),
        ];
        let waves = vec![WaveState {
            wave: 0,
            window: "daily 11:00-13:00 UTC".into(),
            approved_by: None,
            approved_at: None,
            started_at: None,
            done: None,
        }];
        let marks = vec![mark(1, 10, "b", Stage::Failed)];
        let p = super::super::build(&dbs, &waves, &marks, t0());
        let t = render_text("sqlite://x.db", &p);
        assert!(t.contains("databases: 2 (ready 1, failed 1)"), "{t}");
        assert!(
            t.contains("1 in the last 24 h of 1 databases that moved (100.0%)"),
            "{t}"
        );
        assert!(
            t.contains("ETA: none (no ETA: no full load finished"),
            "{t}"
        );
        assert!(t.contains("not approved, 1 failed"), "{t}");
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["progress"]["stages"]["failed"], 1);
        assert_eq!(j["error_rate_24h"], 1.0);
        assert_eq!(j["alerts"], serde_json::json!([]));
    }
}
