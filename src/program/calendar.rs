//! The calendar of windows: for each of the next days, the waves whose window opens then, how
//! many databases and how much data they carry, and what blocks them. A wave is placed at its
//! next opening only (that is when it can cut over). A wave is late when the opening its
//! approval was for has closed and some of its databases are not yet in hypercare: the plan has
//! no dates of its own, so the approved opening is the promise a wave is measured against.

use crate::inventory::BusinessWindow;
use crate::lifecycle::Stage;
use crate::store::model::{DbState, WaveState};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// Days the calendar shows, today included.
pub const DAYS: usize = 14;

/// What keeps a wave from cutting over at its opening.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "blocker", content = "databases")]
pub enum Blocker {
    NotApproved,
    /// Databases not at `ready` yet (failed ones are counted apart).
    NotReady(usize),
    Failures(usize),
}

impl Blocker {
    pub fn text(self) -> String {
        match self {
            Blocker::NotApproved => "not approved".into(),
            Blocker::NotReady(n) => format!("{n} not ready"),
            Blocker::Failures(n) => format!("{n} failed"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Slot {
    pub wave: u32,
    pub window: String,
    /// When the opening starts (`now` when it is open already).
    pub opens: DateTime<Utc>,
    pub closes: Option<DateTime<Utc>>,
    pub open_now: bool,
    pub approved: bool,
    pub databases: usize,
    pub gb: f64,
    pub blockers: Vec<Blocker>,
    pub late: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub slots: Vec<Slot>,
}

impl Day {
    pub fn databases(&self) -> usize {
        self.slots.iter().map(|s| s.databases).sum()
    }
    pub fn gb(&self) -> f64 {
        self.slots.iter().map(|s| s.gb).sum()
    }
    /// Waves with at least one blocker.
    pub fn blocked(&self) -> usize {
        self.slots.iter().filter(|s| !s.blockers.is_empty()).count()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Late {
    pub wave: u32,
    pub window: String,
    /// When the approved opening closed.
    pub closed_at: DateTime<Utc>,
    /// Members not yet in hypercare (or completed).
    pub behind: usize,
    pub databases: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calendar {
    pub days: Vec<Day>,
    pub late: Vec<Late>,
    /// Unfinished waves whose next opening is after the last day shown.
    pub later: usize,
    /// Waves whose members are all in hypercare or done.
    pub finished: usize,
    /// Waves whose window cannot be read: (wave, why).
    pub unreadable: Vec<(u32, String)>,
}

#[derive(Default)]
struct Members {
    n: usize,
    gb: f64,
    not_ready: usize,
    failed: usize,
    /// Not in hypercare, completed or aborted.
    behind: usize,
}

fn members(dbs: &[DbState]) -> BTreeMap<u32, Members> {
    let mut m: BTreeMap<u32, Members> = BTreeMap::new();
    for d in dbs {
        let Some(w) = d.wave else { continue };
        let e = m.entry(w).or_default();
        e.n += 1;
        if d.size_gb.is_finite() && d.size_gb > 0.0 {
            e.gb += d.size_gb;
        }
        match d.stage {
            Stage::Ready
            | Stage::ReadyOffline
            | Stage::Cutover
            | Stage::Hypercare
            | Stage::Completed => {}
            Stage::Aborted => {}
            Stage::Failed => e.failed += 1,
            _ => e.not_ready += 1,
        }
        if !matches!(
            d.stage,
            Stage::Hypercare | Stage::Completed | Stage::Aborted
        ) {
            e.behind += 1;
        }
    }
    m
}

/// An opening: (start, end); no end for a window that is always open.
type Opening = (DateTime<Utc>, Option<DateTime<Utc>>);

/// The opening that contains `at` or comes next. Start is `at` when open.
fn opening(w: &BusinessWindow, at: DateTime<Utc>) -> Option<Opening> {
    let s = w.next_open(at)?;
    Some((s, w.next_change(s)))
}

/// A day's waves in the order they can cut over: by opening (those open now first), the waves
/// of one window together, then by number. So a day reads `w48 w49 … w110 … w10`, not by
/// number; the view and `status --program` say so ([`ORDER`]).
fn order(s: &Slot) -> (DateTime<Utc>, &str, u32) {
    (s.opens, s.window.as_str(), s.wave)
}

/// How [`order`] lists a day's waves, for the screens that show them.
pub const ORDER: &str = "waves by opening time, then window, then number";

pub fn build(dbs: &[DbState], waves: &[WaveState], now: DateTime<Utc>, days: usize) -> Calendar {
    let by_wave = members(dbs);
    let today = now.date_naive();
    let mut cal = Calendar {
        days: (0..days)
            .map(|k| Day {
                date: today + Duration::days(k as i64),
                slots: Vec::new(),
            })
            .collect(),
        late: Vec::new(),
        later: 0,
        finished: 0,
        unreadable: Vec::new(),
    };
    // Waves share a handful of windows: each is parsed (and its next opening found) once.
    let mut parsed: BTreeMap<&str, Result<BusinessWindow, String>> = BTreeMap::new();
    let mut next: BTreeMap<&str, Option<Opening>> = BTreeMap::new();
    for ws in waves {
        let Some(m) = by_wave.get(&ws.wave).filter(|m| m.n > 0) else {
            continue;
        };
        if m.behind == 0 {
            cal.finished += 1;
            continue;
        }
        let w = match parsed
            .entry(ws.window.as_str())
            .or_insert_with(|| BusinessWindow::parse(&ws.window))
        {
            Ok(w) => w.clone(),
            Err(e) => {
                cal.unreadable.push((ws.wave, e.clone()));
                continue;
            }
        };
        let late = ws
            .approved_at
            .and_then(|a| opening(&w, a))
            .and_then(|(_, end)| end)
            .filter(|end| *end <= now);
        if let Some(closed_at) = late {
            cal.late.push(Late {
                wave: ws.wave,
                window: ws.window.clone(),
                closed_at,
                behind: m.behind,
                databases: m.n,
            });
        }
        let Some((opens, closes)) = *next
            .entry(ws.window.as_str())
            .or_insert_with(|| opening(&w, now))
        else {
            cal.later += 1;
            continue;
        };
        let mut blockers = Vec::new();
        if ws.approved_by.is_none() {
            blockers.push(Blocker::NotApproved);
        }
        if m.not_ready > 0 {
            blockers.push(Blocker::NotReady(m.not_ready));
        }
        if m.failed > 0 {
            blockers.push(Blocker::Failures(m.failed));
        }
        let slot = Slot {
            wave: ws.wave,
            window: ws.window.clone(),
            opens,
            closes,
            open_now: opens <= now,
            approved: ws.approved_by.is_some(),
            databases: m.n,
            gb: m.gb,
            blockers,
            late: late.is_some(),
        };
        let k = (opens.date_naive() - today).num_days();
        match cal.days.get_mut(k.max(0) as usize) {
            Some(day) => day.slots.push(slot),
            None => cal.later += 1,
        }
    }
    for d in &mut cal.days {
        d.slots.sort_by(|a, b| order(a).cmp(&order(b)));
    }
    cal
}

#[cfg(test)]
mod tests {
    use super::super::tests::{db, t0};
    use super::*;

    fn wave(n: u32, window: &str, approved_h_ago: Option<i64>) -> WaveState {
        WaveState {
            wave: n,
            window: window.into(),
            approved_by: approved_h_ago.map(|_| "lead".into()),
            approved_at: approved_h_ago.map(|h| t0() - Duration::hours(h)),
            started_at: None,
            done: None,
        }
    }

    #[test]
    fn waves_fall_on_their_next_opening_with_their_blockers() {
        // t0 is Wednesday 2026-12-02 12:00 UTC.
        let waves = vec![
            // Open now, approved, everything ready.
            wave(0, "daily 11:00-13:00 UTC", Some(0)),
            // Saturday night, not approved, one database still loading, one failed.
            wave(1, "Sat 22:00-23:00 UTC", None),
            // Finished: not on the calendar.
            wave(2, "daily 00:00-01:00 UTC", Some(5)),
            // Unreadable window: said so, not dropped silently.
            wave(3, "someday", None),
            // Approved for yesterday's night opening, which closed: late.
            wave(4, "daily 01:00-02:00 UTC", Some(30)),
        ];
        let dbs = vec![
            db("a", 0, Stage::Ready, 10.0),
            db("b", 1, Stage::FullLoad, 5.0),
            db("c", 1, Stage::Failed, 1.0),
            db("d", 1, Stage::Ready, 2.0),
            db("e", 2, Stage::Completed, 1.0),
            db("f", 3, Stage::Cdc, 1.0),
            db("g", 4, Stage::Ready, 3.0),
            db("h", 4, Stage::Hypercare, 3.0),
        ];
        let cal = build(&dbs, &waves, t0(), DAYS);
        assert_eq!(cal.days.len(), 14);
        assert_eq!(cal.finished, 1);
        assert_eq!(cal.unreadable.len(), 1);
        assert_eq!(cal.unreadable[0].0, 3);
        let today = &cal.days[0];
        assert_eq!(today.slots.len(), 1);
        let s = &today.slots[0];
        assert!(s.open_now && s.approved && s.blockers.is_empty());
        assert_eq!((s.wave, s.databases, s.gb), (0, 1, 10.0));
        // Saturday is 3 days on.
        let sat = &cal.days[3];
        assert_eq!(sat.date.to_string(), "2026-12-05");
        let s = &sat.slots[0];
        assert_eq!(s.wave, 1);
        assert_eq!(
            s.blockers,
            vec![
                Blocker::NotApproved,
                Blocker::NotReady(1),
                Blocker::Failures(1)
            ]
        );
        assert_eq!((sat.databases(), sat.gb(), sat.blocked()), (3, 8.0, 1));
        // Wave 4 was approved 30 h ago (1 Dec 06:00), so for the 01:00 opening of 2 Dec, which
        // closed at 02:00: late, g is behind.
        assert_eq!(cal.late.len(), 1);
        let l = &cal.late[0];
        assert_eq!((l.wave, l.behind, l.databases), (4, 1, 2));
        assert_eq!(l.closed_at.to_rfc3339(), "2026-12-02T02:00:00+00:00");
        // It is also on tomorrow's calendar, marked late.
        let tomorrow = &cal.days[1];
        assert!(tomorrow.slots.iter().any(|s| s.wave == 4 && s.late));
    }

    #[test]
    fn a_days_waves_go_by_opening_then_window_then_number() {
        // t0 is Wednesday 2026-12-02 12:00 UTC. Two windows open at 20:00 UTC (one written in
        // UTC+2), one at 15:00, one is open now.
        let waves = vec![
            wave(0, "daily 23:00-23:30 UTC", None),
            wave(1, "daily 20:00-21:00 UTC", None),
            wave(2, "daily 22:00-23:00 +02:00", None),
            wave(3, "daily 20:00-21:00 UTC", None),
            wave(4, "daily 15:00-16:00 UTC", None),
            wave(5, "daily 11:00-13:00 UTC", None),
        ];
        let dbs: Vec<DbState> = (0..6)
            .map(|n| db(&format!("d{n}"), n, Stage::Registered, 1.0))
            .collect();
        let cal = build(&dbs, &waves, t0(), 1);
        let order: Vec<u32> = cal.days[0].slots.iter().map(|s| s.wave).collect();
        assert_eq!(order, vec![5, 4, 1, 3, 2, 0]);
    }

    #[test]
    fn an_opening_beyond_the_days_shown_is_counted_as_later() {
        let waves = vec![wave(0, "Sat 22:00-23:00 UTC", None)];
        let dbs = vec![db("a", 0, Stage::Registered, 1.0)];
        let cal = build(&dbs, &waves, t0(), 2);
        assert_eq!(cal.later, 1);
        assert!(cal.days.iter().all(|d| d.slots.is_empty()));
    }
}
