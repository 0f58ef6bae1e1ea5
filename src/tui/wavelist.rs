//! The Waves view at fleet scale: which wave rows to show, in what order. Filter by state,
//! window opening within N days, failures and owner; sort by number, next opening, failures or
//! size; and fold the one-database waves (the planner gives each very large database a wave of
//! its own) into one row, so 169 waves stay readable. Pure: states in, rows out.

use crate::inventory::BusinessWindow;
use crate::lifecycle::Stage;
use crate::store::model::{DbState, WaveState, WaveStatus};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// This many one-database waves, or more, are folded into one row.
pub const FOLD_MIN: usize = 3;
/// A one-database wave is folded when its database is at least this big: the planner gives a
/// wave of its own to a database too big to validate in one opening (hundreds of GB and up),
/// while a small lone database (a pilot, a leftover) stays in sight.
pub const FOLD_GB: f64 = 100.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaveSort {
    Number,
    /// Next opening of the window, soonest first.
    Opens,
    /// Most failed databases first.
    Failures,
    /// Most data first.
    Size,
}

impl WaveSort {
    pub fn as_str(self) -> &'static str {
        match self {
            WaveSort::Number => "number",
            WaveSort::Opens => "next opening",
            WaveSort::Failures => "failures",
            WaveSort::Size => "size",
        }
    }
}

/// A parsed `/` filter of the Waves view: terms ANDed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WaveFilter {
    pub status: Option<WaveStatus>,
    pub within_days: Option<u32>,
    pub failures: bool,
    pub owner: Option<String>,
}

impl WaveFilter {
    /// `state:running within:7 fail owner:team-pay`. Errors name the bad term.
    pub fn parse(s: &str) -> Result<WaveFilter, String> {
        let mut f = WaveFilter::default();
        for t in s.split_whitespace() {
            if matches!(t, "fail" | "failed" | "failures") {
                f.failures = true;
                continue;
            }
            let Some((k, v)) = t.split_once(':') else {
                return Err(format!(
                    "{t}: use state:planned|running|done within:DAYS fail owner:NAME"
                ));
            };
            match k {
                "state" | "s" => {
                    f.status = Some(WaveStatus::parse(v).ok_or_else(|| {
                        format!("{t}: unknown state; one of planned running done")
                    })?)
                }
                "within" | "in" => {
                    f.within_days = Some(v.trim_end_matches('d').parse().map_err(|_| {
                        format!("{t}: within needs a number of days, e.g. within:7")
                    })?)
                }
                "owner" | "o" => f.owner = Some(v.to_ascii_lowercase()),
                _ => {
                    return Err(format!(
                        "{t}: unknown field {k:?}; use state: within: owner: or fail"
                    ))
                }
            }
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        *self == WaveFilter::default()
    }
}

/// One row of the Waves table.
#[derive(Clone, Debug, PartialEq)]
pub enum WaveRow {
    Wave(u32),
    /// The one-database waves, folded.
    Folded {
        waves: Vec<u32>,
        gb: f64,
    },
    /// Databases in no wave.
    Loose,
}

#[derive(Default)]
struct Facts {
    members: usize,
    gb: f64,
    failed: usize,
    owners: Vec<String>,
}

fn facts(dbs: &[DbState]) -> BTreeMap<u32, Facts> {
    let mut m: BTreeMap<u32, Facts> = BTreeMap::new();
    for d in dbs {
        let Some(w) = d.wave else { continue };
        let f = m.entry(w).or_default();
        f.members += 1;
        if d.size_gb.is_finite() && d.size_gb > 0.0 {
            f.gb += d.size_gb;
        }
        if d.stage == Stage::Failed {
            f.failed += 1;
        }
        let o = d.owner.to_ascii_lowercase();
        if !f.owners.contains(&o) {
            f.owners.push(o);
        }
    }
    m
}

/// The rows to show. `fold`: fold runs of one-database waves.
pub fn rows(
    dbs: &[DbState],
    waves: &[WaveState],
    filter: &WaveFilter,
    sort: WaveSort,
    fold: bool,
    now: DateTime<Utc>,
) -> Vec<WaveRow> {
    let facts = facts(dbs);
    // Waves share a handful of windows: each one's next opening is found once.
    let mut opens: BTreeMap<&str, Option<DateTime<Utc>>> = BTreeMap::new();
    for w in waves {
        opens.entry(w.window.as_str()).or_insert_with(|| {
            BusinessWindow::parse(&w.window)
                .ok()
                .and_then(|b| b.next_open(now))
        });
    }
    let mut kept: Vec<(&WaveState, Option<DateTime<Utc>>)> = waves
        .iter()
        .map(|w| (w, opens.get(w.window.as_str()).copied().flatten()))
        .filter(|(w, open)| {
            let f = facts.get(&w.wave);
            filter.status.is_none_or(|s| w.status() == s)
                && (!filter.failures || f.is_some_and(|f| f.failed > 0))
                && filter.owner.as_ref().is_none_or(|o| {
                    f.is_some_and(|f| f.owners.iter().any(|x| x.contains(o.as_str())))
                })
                && filter
                    .within_days
                    .is_none_or(|d| open.is_some_and(|t| t <= now + Duration::days(i64::from(d))))
        })
        .collect();
    let gb = |w: &WaveState| facts.get(&w.wave).map_or(0.0, |f| f.gb);
    let failed = |w: &WaveState| facts.get(&w.wave).map_or(0, |f| f.failed);
    match sort {
        WaveSort::Number => {}
        WaveSort::Opens => kept.sort_by_key(|(w, o)| (o.is_none(), *o, w.wave)),
        WaveSort::Failures => kept.sort_by_key(|(w, _)| (std::cmp::Reverse(failed(w)), w.wave)),
        WaveSort::Size => {
            kept.sort_by(|a, b| gb(b.0).total_cmp(&gb(a.0)).then(a.0.wave.cmp(&b.0.wave)))
        }
    }
    let single = |w: &WaveState| {
        facts
            .get(&w.wave)
            .is_some_and(|f| f.members == 1 && f.gb >= FOLD_GB)
    };
    // All one-database waves fold into one row, where the first of them would be: the
    // planner scatters them between the others (one per window), so runs would stay short.
    let singles: Vec<&WaveState> = kept.iter().map(|(w, _)| *w).filter(|w| single(w)).collect();
    let folding = fold && singles.len() >= FOLD_MIN;
    let mut out = Vec::new();
    let mut folded = false;
    for (w, _) in &kept {
        if folding && single(w) {
            if !folded {
                folded = true;
                out.push(WaveRow::Folded {
                    waves: singles.iter().map(|w| w.wave).collect(),
                    gb: singles.iter().map(|w| gb(w)).sum(),
                });
            }
            continue;
        }
        out.push(WaveRow::Wave(w.wave));
    }
    if filter.is_empty() && dbs.iter().any(|d| d.wave.is_none()) {
        out.push(WaveRow::Loose);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::tests::{db, t0};

    fn wave(n: u32, window: &str, started: bool) -> WaveState {
        WaveState {
            wave: n,
            window: window.into(),
            approved_by: None,
            approved_at: None,
            started_at: started.then(t0),
            done: None,
        }
    }

    fn fixture() -> (Vec<DbState>, Vec<WaveState>) {
        let mut dbs = vec![
            db("a", 0, Stage::Hypercare, 1.0),
            db("b", 1, Stage::Failed, 2.0),
            db("c", 1, Stage::Cdc, 2.0),
        ];
        // Waves 2..=5: one big database each.
        for w in 2..=5 {
            dbs.push(db(
                &format!("big{w}"),
                w,
                Stage::Registered,
                1000.0 * w as f64,
            ));
        }
        dbs[1].owner = "team-pay".into();
        // Wave 6 sits between the one-database waves 4 and 7 (as the planner places them).
        dbs.push(db("m1", 6, Stage::Registered, 1.0));
        dbs.push(db("m2", 6, Stage::Registered, 1.0));
        dbs.push(db("big7", 7, Stage::Registered, 500.0));
        let mut loose = db("z", 0, Stage::Registered, 1.0);
        loose.wave = None;
        dbs.push(loose);
        let waves = vec![
            wave(0, "daily 11:00-13:00 UTC", true),
            wave(1, "Sat 22:00-23:00 UTC", true),
            wave(2, "Sun 22:00-23:00 UTC", false),
            wave(3, "Sun 22:00-23:00 UTC", false),
            wave(4, "Sun 22:00-23:00 UTC", false),
            wave(5, "Thu 01:00-02:00 UTC", false),
            wave(6, "Sun 22:00-23:00 UTC", false),
            wave(7, "Sun 22:00-23:00 UTC", false),
        ];
        // Done is what the engine's wave.done said (folded into the state), not a reading of
        // the members' stages: a wave in hypercare is still running.
        let mut waves = waves;
        waves[0].done = Some(crate::store::model::WaveEnd {
            at: t0(),
            members: 1,
            completed: 1,
            aborted: 0,
            rolled_back: 0,
        });
        (dbs, waves)
    }

    #[test]
    fn one_database_waves_fold_and_unfold() {
        let (dbs, waves) = fixture();
        let f = WaveFilter::default();
        let r = rows(&dbs, &waves, &f, WaveSort::Number, true, t0());
        assert_eq!(
            r,
            vec![
                WaveRow::Wave(0),
                WaveRow::Wave(1),
                WaveRow::Folded {
                    waves: vec![2, 3, 4, 5, 7],
                    gb: 14500.0
                },
                WaveRow::Wave(6),
                WaveRow::Loose
            ]
        );
        let r = rows(&dbs, &waves, &f, WaveSort::Number, false, t0());
        assert_eq!(r.len(), 9);
        // Sorted by size, the big ones come first and still fold.
        let r = rows(&dbs, &waves, &f, WaveSort::Size, true, t0());
        assert_eq!(
            r[0],
            WaveRow::Folded {
                waves: vec![5, 4, 3, 2, 7],
                gb: 14500.0
            }
        );
    }

    #[test]
    fn filters_by_state_window_failures_and_owner() {
        let (dbs, waves) = fixture();
        let only = |text: &str, sort: WaveSort| -> Vec<WaveRow> {
            rows(
                &dbs,
                &waves,
                &WaveFilter::parse(text).unwrap(),
                sort,
                true,
                t0(),
            )
        };
        assert_eq!(only("state:done", WaveSort::Number), vec![WaveRow::Wave(0)]);
        assert_eq!(
            only("state:running", WaveSort::Number),
            vec![WaveRow::Wave(1)]
        );
        assert_eq!(only("fail", WaveSort::Number), vec![WaveRow::Wave(1)]);
        assert_eq!(only("owner:pay", WaveSort::Number), vec![WaveRow::Wave(1)]);
        // Wednesday noon: wave 0 is open, Thursday's wave 5 within 1 day, Saturday's not.
        assert_eq!(
            only("within:1", WaveSort::Number),
            vec![WaveRow::Wave(0), WaveRow::Wave(5)]
        );
        let by_open = only("", WaveSort::Opens);
        assert_eq!(by_open[0], WaveRow::Wave(0));
        // Thursday's wave 5 opens next; it is a lone big database, so the folded row sits
        // there, its waves in opening order.
        assert!(
            matches!(&by_open[1], WaveRow::Folded { waves, .. } if waves[0] == 5),
            "{by_open:?}"
        );
        assert_eq!(only("fail", WaveSort::Failures), vec![WaveRow::Wave(1)]);
        assert!(WaveFilter::parse("state:late")
            .unwrap_err()
            .contains("planned running done"));
        assert!(WaveFilter::parse("within:x")
            .unwrap_err()
            .contains("within:7"));
        assert!(WaveFilter::parse("colour:red")
            .unwrap_err()
            .contains("unknown field"));
    }
}
