//! A running validation as the cockpit shows it: rows done out of the estimate, rows/s and
//! the ETA, for the database (the Databases view's progress column, the detail view's first
//! validation line) and per table (the detail view), from what the validator writes to the
//! store (`store::val_progress`), and when the rate limit holds it back.

use crate::store::val_progress::{DbProgress, TableProgress};
use crate::tui::app::App;
use crate::tui::fmt;
use ratatui::text::{Line, Span};

/// A validation whose figures have not moved for this long was cut short (killed, the
/// engine stopped): it says so instead of an ETA that would never come.
const STALE_S: i64 = 60;

/// Tables listed in the detail view; the rest are counted.
const TABLES_SHOWN: usize = 6;

/// "2.4M/5.0M 48%  85.1k rows/s  ETA 31s": how far the database is.
fn summary(app: &App, p: &DbProgress) -> String {
    let mut s = format!(
        "{}/{} {:.0}%",
        fmt::count(p.rows_done as f64),
        fmt::count(p.rows_est as f64),
        p.fraction() * 100.0
    );
    s.push_str(&pace(app, p.rate(), p.eta_s(), p.updated_at, p.finished));
    s
}

fn pace(
    app: &App,
    rate: Option<f64>,
    eta: Option<f64>,
    at: chrono::DateTime<chrono::Utc>,
    finished: bool,
) -> String {
    let idle = (app.now - at).num_seconds();
    if !finished && idle >= STALE_S {
        return format!("  no progress for {}", fmt::dur_secs(idle));
    }
    let mut s = String::new();
    if let Some(r) = rate {
        s.push_str(&format!("  {} rows/s", fmt::count(r)));
    }
    match eta {
        Some(e) if e > 0.0 => s.push_str(&format!("  ETA {}", fmt::dur_long(e.ceil() as i64))),
        _ => {}
    }
    s
}

/// The database's progress, if a validation of it is running (or its last one's figures
/// are still in the store with it unfinished).
pub fn of(app: &App, db_id: &str) -> Option<DbProgress> {
    DbProgress::of(app.data.validating.get(db_id)?)
}

/// The progress column's fraction: a validation running now, else none.
pub fn fraction(app: &App, db_id: &str) -> Option<f64> {
    of(app, db_id).map(|p| p.fraction())
}

/// "limited to 2.0k rows/s (waiting 64%)": the rate limit, when it holds the validation back.
fn limit_text(p: &DbProgress) -> Option<String> {
    let l = p.limit.as_ref().filter(|l| l.holding())?;
    Some(format!(
        "  limited to {} rows/s (waiting {:.0}%)",
        fmt::count(l.rows_per_s as f64),
        l.waiting * 100.0
    ))
}

/// The progress column's mark of a database whose rate limit holds its validation back.
pub fn limited(app: &App, db_id: &str) -> bool {
    of(app, db_id)
        .and_then(|p| p.limit)
        .is_some_and(|l| l.holding())
}

/// The detail view's lines: the database, then its tables, unfinished ones first.
pub fn lines(app: &App, db_id: &str) -> Vec<Line<'static>> {
    let th = &app.theme;
    let Some(tables) = app.data.validating.get(db_id) else {
        return vec![];
    };
    let Some(p) = DbProgress::of(tables) else {
        return vec![];
    };
    let mut out = vec![Line::from(vec![
        Span::styled(
            format!(
                "validating {} ",
                fmt::gauge(p.fraction(), 10, th.sym.gauge_full, th.sym.gauge_empty)
            ),
            th.stage(crate::lifecycle::Stage::Validation),
        ),
        Span::raw(summary(app, &p)),
    ])];
    // A line of its own: beside the figures it would be cut off in the detail view's pane.
    if let Some(l) = limit_text(&p) {
        out.push(Line::styled(l, th.warn));
    }
    let mut ts: Vec<&TableProgress> = tables.iter().collect();
    ts.sort_by_key(|t| (t.rows_done >= t.rows_est, std::cmp::Reverse(t.rows_est)));
    for t in ts.iter().take(TABLES_SHOWN) {
        let pct = match t.rows_est {
            0 => 100.0,
            n => (t.rows_done.min(n) as f64 / n as f64) * 100.0,
        };
        out.push(Line::from(vec![
            Span::raw(format!("  {} ", t.table)),
            Span::styled(
                format!(
                    "{}/{} {pct:.0}%{}",
                    fmt::count(t.rows_done as f64),
                    fmt::count(t.rows_est as f64),
                    pace(app, t.rate(), t.eta_s(), t.updated_at, true)
                ),
                th.muted,
            ),
        ]));
    }
    if ts.len() > TABLES_SHOWN {
        out.push(Line::styled(
            format!("  and {} more tables", ts.len() - TABLES_SHOWN),
            th.muted,
        ));
    }
    out
}
