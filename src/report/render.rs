//! The report as Markdown (charts as SVG files beside it) or as one HTML file that opens
//! offline (CSS and SVG inline, nothing fetched). Pure: a report in, text out. Both formats
//! draw the same tables from [`tables`].

use super::build::WaveReport;
use super::charts::{self, Chart};
use crate::tui::fmt;
use chrono::{DateTime, Utc};

/// One table: its heading, column names and rows of cells.
pub struct Table {
    pub title: &'static str,
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub empty: &'static str,
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn dur(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        fmt::dur_long(s.round() as i64)
    }
}

/// A chart's SVG, or why it could not be drawn; `None`: no data for it.
pub type Drawn = Option<Result<String, String>>;

/// The charts, by file stem: (stem, title, drawing).
pub fn charts(r: &WaveReport) -> Vec<(&'static str, &'static str, Drawn)> {
    let mk = |title, x, y, series, from_zero| {
        charts::svg(&Chart {
            title,
            x,
            y,
            series,
            from_zero,
        })
    };
    vec![
        (
            "burn-down",
            "Stage burn-down",
            mk(
                "Databases short of each milestone",
                "minutes after the wave started",
                "databases",
                &r.burn_down,
                true,
            ),
        ),
        (
            "lag-at-cutover",
            "CDC lag around cutover",
            mk(
                "CDC lag per database around its cutover",
                "seconds from the cutover's start",
                "lag (s)",
                &r.lag_at_cutover,
                true,
            ),
        ),
        (
            "throughput",
            "Full-load throughput",
            mk(
                "Full-load throughput per database",
                "minutes after the wave started",
                "MB/s",
                &r.throughput,
                true,
            ),
        ),
    ]
}

pub fn tables(r: &WaveReport) -> Vec<Table> {
    let dbs = r
        .dbs
        .iter()
        .map(|d| {
            let st = &d.state;
            let outcome = match (st.held_stage, &st.last_error) {
                (Some(h), Some(e)) => format!("{} (in {h}): {e}", st.stage),
                (Some(h), None) => format!("{} (in {h})", st.stage),
                _ => st.stage.to_string(),
            };
            vec![
                st.db_id.clone(),
                st.engine.as_str().to_string(),
                format!("{:.1}", st.size_gb),
                outcome,
                d.stages
                    .iter()
                    .map(|(s, secs)| format!("{s} {}", dur(*secs)))
                    .collect::<Vec<_>>()
                    .join(", "),
                match &d.validation {
                    Some((ok, summary)) => format!(
                        "{} ({} run(s)): {summary}",
                        if *ok { "passed" } else { "FAILED" },
                        d.validation_runs
                    ),
                    None => "-".into(),
                },
                if d.signoffs.is_empty() {
                    "-".into()
                } else {
                    d.signoffs.join(", ")
                },
                d.write_gap_s.map(dur).unwrap_or_else(|| "-".into()),
                d.alerts.to_string(),
                d.rollbacks.to_string(),
            ]
        })
        .collect();
    let alerts = r
        .alerts
        .iter()
        .map(|a| {
            vec![
                ts(a.at),
                a.db_id.clone(),
                a.rule.clone(),
                a.what.clone(),
                a.cleared_at.map(ts).unwrap_or_else(|| "standing".into()),
            ]
        })
        .collect();
    let rollbacks = r
        .rollbacks
        .iter()
        .map(|b| {
            vec![
                ts(b.at),
                b.db_id.clone(),
                b.by.clone().unwrap_or_else(|| "-".into()),
                b.reason.clone(),
            ]
        })
        .collect();
    vec![
        Table {
            title: "Databases",
            head: vec![
                "Database",
                "Engine",
                "GB",
                "Outcome",
                "Time in each stage",
                "Validation",
                "Sign-off",
                "Write gap",
                "Alerts",
                "Rollbacks",
            ],
            rows: dbs,
            empty: "No database in this wave.",
        },
        Table {
            title: "Alerts raised",
            head: vec!["Raised", "Database", "Rule", "What", "Cleared"],
            rows: alerts,
            empty: "None.",
        },
        Table {
            title: "Rollbacks",
            head: vec!["When", "Database", "By", "Reason"],
            rows: rollbacks,
            empty: "None.",
        },
    ]
}

/// The lines above the tables.
fn summary(r: &WaveReport) -> Vec<String> {
    let mut out = vec![format!("Written {} from the store's events.", ts(r.at))];
    if let Some(w) = &r.state {
        out.push(format!("Window: {}.", w.window));
        out.push(match (&w.approved_by, w.approved_at) {
            (Some(by), Some(at)) => format!("Approved by {by} at {}.", ts(at)),
            _ => "Not approved.".into(),
        });
        out.push(match w.started_at {
            Some(t) => format!("Started {}.", ts(t)),
            None => "Not started.".into(),
        });
    }
    if let Some((at, d)) = &r.done {
        out.push(format!("Done {}: {}.", ts(*at), d.summary()));
    }
    let outcomes: Vec<String> = r
        .outcomes()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    out.push(format!(
        "{} database(s): {}.",
        r.dbs.len(),
        if outcomes.is_empty() {
            "none".into()
        } else {
            outcomes.join(", ")
        }
    ));
    let gaps: Vec<f64> = r.dbs.iter().filter_map(|d| d.write_gap_s).collect();
    if let Some(max) = gaps.iter().copied().reduce(f64::max) {
        let mut sorted = gaps.clone();
        sorted.sort_by(f64::total_cmp);
        out.push(format!(
            "Write gap at cutover (writes off at the source to writes on at the target): median {}, longest {}, over {} cutover(s).",
            dur(sorted[sorted.len() / 2]),
            dur(max),
            gaps.len()
        ));
    }
    out.push(format!(
        "{} alert(s) raised, {} rollback(s).",
        r.alerts.len(),
        r.rollbacks.len()
    ));
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown; each chart is `wave-N-<stem>.svg` beside it (`charts` gives their text).
pub fn markdown(r: &WaveReport) -> String {
    let mut out = format!("# Wave {} report\n\n", r.wave);
    for l in summary(r) {
        out.push_str(&format!("{}\n", md_cell(&l)));
    }
    for (stem, title, svg) in charts(r) {
        out.push_str(&format!("\n## {title}\n\n"));
        match svg {
            Some(Ok(_)) => out.push_str(&format!("![{title}](wave-{}-{stem}.svg)\n", r.wave)),
            Some(Err(e)) => out.push_str(&format!("Not drawn: {}\n", md_cell(&e))),
            None => out.push_str("No data in the store for this chart.\n"),
        }
    }
    for t in tables(r) {
        out.push_str(&format!("\n## {}\n\n", t.title));
        if t.rows.is_empty() {
            out.push_str(&format!("{}\n", t.empty));
            continue;
        }
        out.push_str(&format!("| {} |\n", t.head.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(t.head.len())));
        for row in &t.rows {
            let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1200px}\
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}figure{margin:0 0 1.5em}svg{max-width:100%;height:auto}";

/// One HTML file: the SVG charts inline, no script, nothing loaded from elsewhere.
pub fn html(r: &WaveReport) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Wave {} report</title><style>{CSS}</style></head><body>\n<h1>Wave {} report</h1>\n",
        r.wave, r.wave
    );
    for l in summary(r) {
        out.push_str(&format!("<p>{}</p>\n", esc(&l)));
    }
    for (_, title, svg) in charts(r) {
        out.push_str(&format!("<h2>{}</h2>\n", esc(title)));
        match svg {
            Some(Ok(s)) => out.push_str(&format!("<figure>{s}</figure>\n")),
            Some(Err(e)) => out.push_str(&format!("<p>Not drawn: {}</p>\n", esc(&e))),
            None => out.push_str("<p>No data in the store for this chart.</p>\n"),
        }
    }
    for t in tables(r) {
        out.push_str(&format!("<h2>{}</h2>\n", esc(t.title)));
        if t.rows.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", esc(t.empty)));
            continue;
        }
        out.push_str("<table><tr>");
        for h in &t.head {
            out.push_str(&format!("<th>{}</th>", esc(h)));
        }
        out.push_str("</tr>\n");
        for row in &t.rows {
            out.push_str("<tr>");
            for c in row {
                out.push_str(&format!("<td>{}</td>", esc(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}
