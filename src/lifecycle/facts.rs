//! The one builder of a [`GuardContext`]: the engine's decisions and the cockpit's dialog
//! previews fill the same [`Facts`] from what each knows and get the same context, so the
//! dialog can only say "blocked" where the engine refuses. The rules that pick a fact live
//! here: the database's own lag limit over the global one, the wave's window over the
//! database's own, an unreadable window is closed and says why.

use super::{GuardContext, Stage, Trigger};
use crate::inventory::BusinessWindow;
use crate::store::model::Role;
use chrono::{DateTime, Utc};
use std::sync::{Mutex, OnceLock};

/// The config thresholds the guards read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// `thresholds.max_cutover_lag_s`: the limit of a database without its own.
    pub max_lag_s: f64,
    /// `thresholds.validation_max_age_min`.
    pub validation_max_age_min: u32,
    /// `signoff.required`.
    pub signoff: crate::signoff::Needs,
}

impl Thresholds {
    pub fn from_config(cfg: &crate::config::Config) -> Thresholds {
        Thresholds {
            max_lag_s: cfg.thresholds.max_cutover_lag_s,
            validation_max_age_min: cfg.thresholds.validation_max_age_min,
            signoff: crate::signoff::Needs::from_config(&cfg.signoff),
        }
    }

    /// The lag limit of a database: its own (`overrides.max_cutover_lag_s`), else the global
    /// one. CDC ends within it and a cutover starts within it.
    pub fn lag_limit(&self, own: Option<f64>) -> f64 {
        own.unwrap_or(self.max_lag_s)
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_lag_s: 5.0,
            validation_max_age_min: 60,
            signoff: Default::default(),
        }
    }
}

/// What is known of one database and its wave when a guard is evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts<'a> {
    pub db_id: &'a str,
    pub wave: Option<u32>,
    pub stage: Stage,
    pub lag_s: Option<f64>,
    /// `overrides.max_cutover_lag_s` of the database.
    pub own_max_lag_s: Option<f64>,
    /// The database's own business window (inventory).
    pub own_window: &'a WindowMemo,
    /// The last validation: passed, and when.
    pub validation: Option<(bool, DateTime<Utc>)>,
    /// The wave's cutover window as planned (empty: none).
    pub wave_window: &'a WindowMemo,
    /// Who approved the wave's window.
    pub wave_approved_by: Option<&'a str>,
    /// The wave is started (its members are admitted).
    pub wave_started: bool,
    pub criticality: crate::inventory::Criticality,
    /// The sign-offs standing now.
    pub signoff: &'a crate::signoff::Ledger,
    /// When a restore test last passed since the database entered hypercare.
    pub restore_passed_at: Option<DateTime<Utc>>,
    /// How it migrates (inventory `mode`).
    pub mode: crate::inventory::Mode,
}

/// The guard context of `f` for `role` at `now`.
pub fn guard_context(f: &Facts, th: Thresholds, role: Role, now: DateTime<Utc>) -> GuardContext {
    let mut ctx = GuardContext::new(f.db_id, now);
    ctx.role = role;
    ctx.wave = f.wave;
    ctx.lag_s = f.lag_s;
    ctx.max_lag_s = th.lag_limit(f.own_max_lag_s);
    ctx.validation_max_age_min = th.validation_max_age_min;
    if let Some((passed, at)) = f.validation {
        ctx.validation_passed = passed;
        ctx.validation_at = Some(at);
    }
    ctx.window_approved_by = f.wave_approved_by.map(str::to_string);
    ctx.wave_started = f.wave_started;
    ctx.restore_passed_at = f.restore_passed_at;
    ctx.mode = f.mode;
    let window = if f.wave_window.is_empty() {
        f.own_window
    } else {
        f.wave_window
    };
    window_facts(&mut ctx, window);
    ctx.cutover_in_flight = f.stage == Stage::Cutover;
    ctx.signoff_required = th.signoff.roles(f.criticality);
    ctx.signoff = f.signoff.clone();
    ctx
}

/// What is known of a wave when an action on the wave as a whole (start it, approve its
/// window) is judged: by the engine from its state, by the cockpit from the store's.
#[derive(Clone, Debug, PartialEq)]
pub struct WaveFacts<'a> {
    pub wave: u32,
    /// Databases planned in the wave.
    pub members: usize,
    pub started: bool,
    pub approved_by: Option<&'a str>,
    /// The wave's cutover window as planned (empty: none, its members keep their own).
    pub window: &'a WindowMemo,
    /// What the wave's command does to each member (`None`: it moves none).
    pub trigger: Option<Trigger>,
    /// Members whose own guards for `trigger` pass now, each judged on its [`guard_context`];
    /// only a command that moves members looks at it (0 elsewhere).
    pub members_ready: usize,
}

/// The guard context of a wave-level action on `f` for `role` at `now`.
pub fn wave_context(f: &WaveFacts, role: Role, now: DateTime<Utc>) -> GuardContext {
    let mut ctx = GuardContext::new("", now);
    ctx.role = role;
    ctx.wave = Some(f.wave);
    ctx.wave_members = f.members;
    ctx.wave_started = f.started;
    ctx.wave_members_ready = f.members_ready;
    ctx.wave_trigger = f.trigger;
    ctx.window_approved_by = f.approved_by.map(str::to_string);
    if !f.window.is_empty() {
        window_facts(&mut ctx, f.window);
    }
    ctx
}

/// The window and whether it is open at `ctx.now`, when it next changes; an unreadable
/// window is closed and says why.
fn window_facts(ctx: &mut GuardContext, window: &WindowMemo) {
    let r = window.read(ctx.now);
    ctx.window = window.text.clone();
    ctx.window_open = r.open;
    ctx.window_next_change = r.next_change;
    ctx.window_next_change_label = r.label;
}

/// A business window's text, parsed once, with what it said at the last instant asked about.
/// Whether a window is open, and when that next changes, stay the same from one instant up to
/// that change, so a reading is handed out again until then. The engine builds a guard
/// context for each database it moves and for each wave twice a tick; parsing the text and
/// finding the next change cost ~20k instructions each time.
///
/// The memo is made from its text and never edited: a wave or database whose window changes
/// gets a new one, so a reading can never outlive the text it was made from.
#[derive(Debug)]
pub struct WindowMemo {
    /// Trimmed.
    text: String,
    /// Parsed when first read (a cockpit preview makes memos it may not read).
    parsed: OnceLock<Result<BusinessWindow, String>>,
    /// The last reading. A mutex, not a cell: the brain is moved between the runtime's
    /// threads, and the lock is never contended (one engine loop).
    last: Mutex<Option<WindowReading>>,
}

/// What a window says at one instant, and the span it holds for.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowReading {
    pub open: bool,
    pub next_change: Option<DateTime<Utc>>,
    /// The next change in words, or why the window cannot be read.
    pub label: Option<String>,
    /// The reading holds from this instant...
    from: DateTime<Utc>,
    /// ...up to, not including, this one.
    until: DateTime<Utc>,
}

impl WindowReading {
    /// The window at `now`, read afresh.
    fn at(parsed: &Result<BusinessWindow, String>, now: DateTime<Utc>) -> WindowReading {
        match parsed {
            Ok(win) => {
                let next_change = win.next_change(now);
                WindowReading {
                    open: win.is_open(now),
                    next_change,
                    label: next_change.map(|t| t.format("%a %H:%M UTC").to_string()),
                    from: now,
                    // No change ahead: open all week (it stays so), or no opening within the
                    // search horizon (see `BusinessWindow::next_change`); look again within
                    // the hour rather than trust the horizon for ever.
                    until: next_change.unwrap_or(now + chrono::Duration::hours(1)),
                }
            }
            Err(e) => WindowReading {
                open: false,
                next_change: None,
                label: Some(format!("window unreadable: {e}")),
                from: DateTime::<Utc>::MIN_UTC,
                until: DateTime::<Utc>::MAX_UTC,
            },
        }
    }

    fn holds_at(&self, now: DateTime<Utc>) -> bool {
        self.from <= now && now < self.until
    }
}

impl WindowMemo {
    pub fn new(text: &str) -> WindowMemo {
        let text = text.trim();
        WindowMemo {
            text: text.to_string(),
            parsed: OnceLock::new(),
            last: Mutex::new(None),
        }
    }

    /// No window at all, shared (for a wave the engine does not know).
    pub fn none() -> &'static WindowMemo {
        static NONE: std::sync::LazyLock<WindowMemo> =
            std::sync::LazyLock::new(WindowMemo::default);
        &NONE
    }

    /// The text as planned, trimmed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// No window given (a wave without one leaves its members their own).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// What the window says at `now`: the kept reading while it holds, else a fresh one
    /// (kept for the next call). The same as reading the text afresh at `now`.
    pub fn read(&self, now: DateTime<Utc>) -> WindowReading {
        let parsed = || {
            self.parsed
                .get_or_init(|| BusinessWindow::parse(&self.text))
        };
        let Ok(mut last) = self.last.lock() else {
            return WindowReading::at(parsed(), now);
        };
        match &*last {
            Some(r) if r.holds_at(now) => r.clone(),
            _ => {
                let r = WindowReading::at(parsed(), now);
                *last = Some(r.clone());
                r
            }
        }
    }
}

impl Clone for WindowMemo {
    fn clone(&self) -> WindowMemo {
        WindowMemo {
            text: self.text.clone(),
            parsed: self.parsed.clone(),
            last: Mutex::new(self.last.lock().ok().and_then(|l| l.clone())),
        }
    }
}

impl Default for WindowMemo {
    fn default() -> WindowMemo {
        WindowMemo::new("")
    }
}

impl PartialEq for WindowMemo {
    /// Equal texts are equal windows; the kept reading is a cache, not part of the value.
    fn eq(&self, other: &WindowMemo) -> bool {
        self.text == other.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    static NO_SIGNOFF: crate::signoff::Ledger = crate::signoff::Ledger {
        signed: Vec::new(),
        withdrawn: None,
    };

    /// A window for a test's facts (leaked: facts borrow it for the whole test).
    fn w(text: &str) -> &'static WindowMemo {
        Box::leak(Box::new(WindowMemo::new(text)))
    }

    fn facts() -> Facts<'static> {
        Facts {
            db_id: "a",
            wave: Some(0),
            stage: Stage::Ready,
            lag_s: Some(12.0),
            own_max_lag_s: None,
            own_window: w("daily 00:00-24:00 UTC"),
            validation: None,
            wave_window: w(""),
            wave_approved_by: Some("alice"),
            wave_started: true,
            criticality: crate::inventory::Criticality::Low,
            signoff: &NO_SIGNOFF,
            restore_passed_at: None,
            mode: Default::default(),
        }
    }

    #[test]
    fn own_limit_and_window_win_where_they_apply() {
        let now = Utc.with_ymd_and_hms(2026, 3, 7, 2, 0, 0).unwrap();
        let th = Thresholds::default();
        let c = guard_context(&facts(), th, Role::Operator, now);
        assert_eq!(c.max_lag_s, 5.0);
        assert!(c.window_open, "no wave window: the database's own");
        let own = Facts {
            own_max_lag_s: Some(30.0),
            wave_window: w("Mon 01:00-05:00 UTC"),
            ..facts()
        };
        let c = guard_context(&own, th, Role::Operator, now);
        assert_eq!(c.max_lag_s, 30.0);
        assert!(!c.window_open, "the wave's window (Monday) comes first");
        let bad = Facts {
            wave_window: w("someday"),
            ..facts()
        };
        let c = guard_context(&bad, th, Role::Operator, now);
        assert!(!c.window_open);
        assert!(c.window_next_change_label.unwrap().contains("unreadable"));
    }

    /// A wave's context knows its window (text, open, next change) by the same rule as a
    /// database's; a wave without one of its own says nothing of a window.
    #[test]
    fn a_wave_context_carries_its_window() {
        let now = Utc.with_ymd_and_hms(2026, 3, 7, 2, 0, 0).unwrap();
        let f = WaveFacts {
            wave: 1,
            members: 3,
            started: false,
            approved_by: None,
            window: w("Sat,Sun 01:00-05:00 UTC"),
            trigger: None,
            members_ready: 0,
        };
        let c = wave_context(&f, Role::Operator, now);
        assert_eq!(c.window, "Sat,Sun 01:00-05:00 UTC");
        assert!(c.window_open, "Saturday 02:00 is inside");
        assert_eq!(
            c.window_next_change,
            Some(Utc.with_ymd_and_hms(2026, 3, 7, 5, 0, 0).unwrap())
        );
        let db = guard_context(
            &Facts {
                wave_window: f.window,
                ..facts()
            },
            Thresholds::default(),
            Role::Operator,
            now,
        );
        assert_eq!(
            (&db.window, db.window_open, db.window_next_change),
            (&c.window, c.window_open, c.window_next_change)
        );
        let none = wave_context(
            &WaveFacts {
                window: w(" "),
                ..f
            },
            Role::Operator,
            now,
        );
        assert_eq!(none.window, "");
        assert!(!none.window_open && none.window_next_change.is_none());
    }

    /// The kept reading is what reading the text afresh says, at every instant, whatever
    /// order the instants come in (the clock of a test, or a wall clock stepped back):
    /// around a window's edges, across midnight, across a daylight-saving change, for a
    /// window open all week and for an unreadable one.
    #[test]
    fn a_kept_window_reading_is_a_fresh_one() {
        let texts = [
            "Sat,Sun 01:00-05:00 UTC",
            "Mon-Fri 22:00-02:00 +02:00",
            "daily 01:30-03:30 Europe/Paris",
            "Mon-Fri 22:00-23:30; Sat,Sun 00:00-06:00 America/New_York",
            "daily 00:00-24:00 UTC",
            "someday",
            "",
        ];
        // Paris springs forward on Sunday 29 March 2026 at 02:00 (01:00 UTC).
        let t0 = Utc.with_ymd_and_hms(2026, 3, 26, 0, 0, 0).unwrap();
        let mut instants: Vec<DateTime<Utc>> = (0..(6 * 24 * 4))
            .map(|k| t0 + chrono::Duration::minutes(15 * k))
            .collect();
        // Exactly at and just around each change the first window makes.
        let edges: Vec<DateTime<Utc>> = instants
            .iter()
            .filter_map(|t| WindowMemo::new(texts[2]).read(*t).next_change)
            .collect();
        for e in edges {
            for d in [-1, 0, 1] {
                instants.push(e + chrono::Duration::seconds(d));
            }
        }
        let forwards = {
            let mut v = instants.clone();
            v.sort();
            v
        };
        let backwards: Vec<_> = forwards.iter().rev().copied().collect();
        // A fixed shuffle: long jumps both ways.
        let mut shuffled = forwards.clone();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let mut reads = 0;
        for text in texts {
            let parsed = BusinessWindow::parse(text);
            for order in [&forwards, &backwards, &shuffled] {
                let memo = WindowMemo::new(text);
                for &t in order.iter() {
                    let kept = memo.read(t);
                    let fresh = WindowReading::at(&parsed, t);
                    assert_eq!(
                        (kept.open, kept.next_change, &kept.label),
                        (fresh.open, fresh.next_change, &fresh.label),
                        "{text:?} at {t}"
                    );
                    reads += 1;
                }
            }
        }
        assert!(reads > 10_000, "{reads}");
    }

    /// A kept reading is handed out again inside its span and read afresh past it.
    #[test]
    fn a_reading_is_kept_until_the_window_changes() {
        let memo = WindowMemo::new("Sat,Sun 01:00-05:00 UTC");
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 7, h, m, 0).unwrap();
        let first = memo.read(at(2, 0));
        assert!(first.open);
        assert_eq!(first.next_change, Some(at(5, 0)));
        assert_eq!(memo.read(at(4, 59)), first, "the same reading, kept");
        let after = memo.read(at(5, 0));
        assert!(!after.open, "closed at 05:00 sharp");
        assert_ne!(after, first);
        assert!(
            memo.read(at(1, 0)).open,
            "back before the change: read afresh"
        );
    }
}
