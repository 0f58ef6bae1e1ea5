//! The one builder of a [`GuardContext`]: the engine's decisions and the cockpit's dialog
//! previews fill the same [`Facts`] from what each knows and get the same context, so the
//! dialog can only say "blocked" where the engine refuses. The rules that pick a fact live
//! here: the database's own lag limit over the global one, the wave's window over the
//! database's own, an unreadable window is closed and says why.

use super::{GuardContext, Stage, Trigger};
use crate::inventory::BusinessWindow;
use crate::store::model::Role;
use chrono::{DateTime, Utc};

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
    pub own_window: &'a str,
    /// The last validation: passed, and when.
    pub validation: Option<(bool, DateTime<Utc>)>,
    /// The wave's cutover window as planned (empty: none).
    pub wave_window: &'a str,
    /// Who approved the wave's window.
    pub wave_approved_by: Option<&'a str>,
    /// The wave is started (its members are admitted).
    pub wave_started: bool,
    pub criticality: crate::inventory::Criticality,
    /// The sign-offs standing now.
    pub signoff: &'a crate::signoff::Ledger,
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
    let text = if f.wave_window.trim().is_empty() {
        f.own_window
    } else {
        f.wave_window
    };
    window_facts(&mut ctx, text);
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
    pub window: &'a str,
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
    if !f.window.trim().is_empty() {
        window_facts(&mut ctx, f.window);
    }
    ctx
}

/// The window `text` and whether it is open at `ctx.now`, when it next changes; an
/// unreadable window is closed and says why.
fn window_facts(ctx: &mut GuardContext, text: &str) {
    ctx.window = text.trim().to_string();
    match BusinessWindow::parse(text) {
        Ok(win) => {
            ctx.window_open = win.is_open(ctx.now);
            ctx.window_next_change = win.next_change(ctx.now);
            ctx.window_next_change_label = ctx
                .window_next_change
                .map(|t| t.format("%a %H:%M UTC").to_string());
        }
        Err(e) => {
            ctx.window_open = false;
            ctx.window_next_change_label = Some(format!("window unreadable: {e}"));
        }
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

    fn facts() -> Facts<'static> {
        Facts {
            db_id: "a",
            wave: Some(0),
            stage: Stage::Ready,
            lag_s: Some(12.0),
            own_max_lag_s: None,
            own_window: "daily 00:00-24:00 UTC",
            validation: None,
            wave_window: "",
            wave_approved_by: Some("alice"),
            wave_started: true,
            criticality: crate::inventory::Criticality::Low,
            signoff: &NO_SIGNOFF,
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
            wave_window: "Mon 01:00-05:00 UTC",
            ..facts()
        };
        let c = guard_context(&own, th, Role::Operator, now);
        assert_eq!(c.max_lag_s, 30.0);
        assert!(!c.window_open, "the wave's window (Monday) comes first");
        let bad = Facts {
            wave_window: "someday",
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
            window: "Sat,Sun 01:00-05:00 UTC",
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
        let none = wave_context(&WaveFacts { window: " ", ..f }, Role::Operator, now);
        assert_eq!(none.window, "");
        assert!(!none.window_open && none.window_next_change.is_none());
    }
}
