//! Guards: the conditions a transition needs, each evaluated into data with a sentence the
//! operator reads ("lag 12.4 s > 5 s"). Pure: everything a guard looks at is in `GuardContext`,
//! filled by the engine (from the store and the inventory) or by the cockpit for its dialogs.

use crate::store::model::Role;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What the guards look at. Plain values on purpose: window parsing, lag sampling and the store
/// live elsewhere, so this module stays pure and testable.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardContext {
    pub db_id: String,
    pub wave: Option<u32>,
    /// Role of whoever asks. Engine-internal triggers carry no role guard.
    pub role: Role,
    pub now: DateTime<Utc>,
    /// Latest CDC apply lag in seconds; `None` before CDC reported anything.
    pub lag_s: Option<f64>,
    /// Cutover is refused above this lag (config `thresholds.max_cutover_lag_s`, or the
    /// database's override).
    pub max_lag_s: f64,
    /// Latest validation outcome and when it finished.
    pub validation_passed: bool,
    pub validation_at: Option<DateTime<Utc>>,
    /// Config `thresholds.validation_max_age_min`.
    pub validation_max_age_min: u32,
    /// Who approved the wave's cutover window (`None`: nobody yet).
    pub window_approved_by: Option<String>,
    /// Databases in the wave: an action on a wave with none has nothing to act on.
    pub wave_members: usize,
    /// The wave was started (its members are admitted as slots free up).
    pub wave_started: bool,
    /// Members of the wave whose own guards for `wave_trigger` pass now (a wave's command
    /// moves these).
    pub wave_members_ready: usize,
    /// What a wave-level command would do to each member (`None`: it moves none).
    pub wave_trigger: Option<super::Trigger>,
    /// The cutover window that applies, as planned (the wave's, else the database's own),
    /// e.g. "Sat,Sun 01:00-05:00 Europe/Paris"; empty: none known.
    pub window: String,
    /// The business window is open now.
    pub window_open: bool,
    /// When the window next opens (if closed) or closes (if open).
    pub window_next_change: Option<DateTime<Utc>>,
    /// The same instant as the operator thinks of it, e.g. "Sat 01:00 Europe/Paris".
    pub window_next_change_label: Option<String>,
    /// Another cutover of this database is already under way (e.g. an accepted command that the
    /// engine has not finished applying).
    pub cutover_in_flight: bool,
    /// Roles whose sign-off this database's criticality needs (config `signoff.required`).
    pub signoff_required: Vec<crate::signoff::SignoffRole>,
    /// The sign-offs standing now.
    pub signoff: crate::signoff::Ledger,
    /// When a restore test of the database last passed since it entered hypercare.
    pub restore_passed_at: Option<DateTime<Utc>>,
    /// Why the operator closes hypercare without a passed restore test (the command's `reason`).
    pub close_reason: Option<String>,
    /// How the database migrates (inventory `mode`): online through CDC, or offline in its
    /// window. The table's rows that differ between the two paths carry a path guard.
    pub mode: crate::inventory::Mode,
}

impl GuardContext {
    /// A context where nothing is known or granted yet: every cutover guard fails. Callers fill
    /// in what they know with struct update syntax.
    pub fn new(db_id: impl Into<String>, now: DateTime<Utc>) -> Self {
        GuardContext {
            db_id: db_id.into(),
            wave: None,
            role: Role::Operator,
            now,
            lag_s: None,
            max_lag_s: 5.0,
            validation_passed: false,
            validation_at: None,
            validation_max_age_min: 60,
            window_approved_by: None,
            wave_members: 0,
            wave_started: false,
            wave_members_ready: 0,
            wave_trigger: None,
            window: String::new(),
            window_open: false,
            window_next_change: None,
            window_next_change_label: None,
            cutover_in_flight: false,
            signoff_required: Vec::new(),
            signoff: crate::signoff::Ledger::default(),
            restore_passed_at: None,
            close_reason: None,
            mode: crate::inventory::Mode::Online,
        }
    }
}

/// Which condition a guard checks. The transition table names these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardKind {
    /// The requester is an operator (a viewer is always refused).
    Role,
    /// CDC lag is known and at most the threshold.
    Lag,
    /// The latest validation passed (no age limit: used right after it ran).
    ValidationPassed,
    /// The latest validation passed and is not older than the limit.
    ValidationFresh,
    WindowApproved,
    WindowOpen,
    NoCutoverInFlight,
    /// Every role the criticality needs has signed off, since the last change that matters.
    SignOff,
    /// The wave has databases (wave-level actions).
    WaveMembers,
    /// The wave is not started yet (starting it twice would say nothing new).
    WaveNotStarted,
    /// The wave's window is not approved yet (an approval is recorded once, by one person).
    WaveNotApproved,
    /// The database's wave is started: only then is it admitted (`registered → prechecks`).
    WaveStarted,
    /// At least one member of the wave passes its own guards for the wave's command: a wave's
    /// pause, cutover, rollback... that would move none is refused as a whole.
    WaveMembersReady,
    /// A restore test passed since the database entered hypercare, or the operator says why
    /// hypercare closes without one.
    RestoreTested,
    /// The database migrates online (CDC): after its pre-checks it is provisioned and loaded.
    Online,
    /// The database migrates offline (`mode: offline`): after its pre-checks it waits in
    /// `ready_offline`, with no DRS job and no provisioning, until the operator's cutover.
    Offline,
}

impl GuardKind {
    pub fn name(self) -> &'static str {
        match self {
            GuardKind::Role => "role",
            GuardKind::Lag => "lag",
            GuardKind::ValidationPassed => "validation",
            GuardKind::ValidationFresh => "validation_fresh",
            GuardKind::WindowApproved => "window_approved",
            GuardKind::WindowOpen => "window_open",
            GuardKind::NoCutoverInFlight => "cutover_in_flight",
            GuardKind::SignOff => "signoff",
            GuardKind::WaveMembers => "members",
            GuardKind::WaveNotStarted => "not_started",
            GuardKind::WaveNotApproved => "not_approved",
            GuardKind::WaveStarted => "wave_started",
            GuardKind::WaveMembersReady => "members_ready",
            GuardKind::RestoreTested => "restore_tested",
            GuardKind::Online => "online",
            GuardKind::Offline => "offline",
        }
    }

    /// A guard that picks the path (online or offline) rather than holds a database back:
    /// where a position has a row for each path, the one whose path guard passes applies.
    pub fn is_path(self) -> bool {
        matches!(self, GuardKind::Online | GuardKind::Offline)
    }

    /// Evaluate this guard against the context.
    pub fn check(self, ctx: &GuardContext) -> Guard {
        let (ok, sentence) = match self {
            GuardKind::Role => match ctx.role {
                Role::Operator => (true, "operator session".to_string()),
                Role::Viewer => (
                    false,
                    "read-only viewer session (start wavedeck as operator to act)".to_string(),
                ),
            },
            GuardKind::Lag => lag(ctx),
            GuardKind::ValidationPassed => match (ctx.validation_passed, ctx.validation_at) {
                (true, Some(_)) => (true, "validation passed".to_string()),
                (false, Some(_)) => (false, "validation failed".to_string()),
                (_, None) => (false, "no validation has run yet".to_string()),
            },
            GuardKind::ValidationFresh => validation_fresh(ctx),
            GuardKind::WindowApproved => {
                let which = match ctx.wave {
                    Some(w) => format!("window for wave {w}"),
                    None => format!("{} is in no wave, so its window", ctx.db_id),
                };
                if ctx.window_approved_by.is_some() {
                    (true, format!("{which} approved"))
                } else {
                    (false, format!("{which} not approved"))
                }
            }
            GuardKind::WaveMembers => match (ctx.wave, ctx.wave_members) {
                (None, _) => (false, "no wave given".to_string()),
                (Some(w), 0) => (
                    false,
                    format!("wave {w} has no databases (plan and init it first)"),
                ),
                (Some(w), n) => (true, format!("wave {w} has {n} databases")),
            },
            GuardKind::WaveNotStarted => {
                let w = wave_name(ctx);
                if ctx.wave_started {
                    (false, format!("{w} is already started"))
                } else {
                    (true, format!("{w} not started yet"))
                }
            }
            GuardKind::WaveNotApproved => {
                // Which window: the one approving records is the one the lead must read.
                let w = match ctx.window.as_str() {
                    "" => format!("the window of {}", wave_name(ctx)),
                    text => format!("{}'s window {text}", wave_name(ctx)),
                };
                match &ctx.window_approved_by {
                    Some(who) => (false, format!("{w} is already approved (by {who})")),
                    None => (true, format!("{w} is not approved yet")),
                }
            }
            GuardKind::WaveStarted => match ctx.wave {
                None => (
                    false,
                    format!("{} is in no wave (plan it into one)", ctx.db_id),
                ),
                Some(w) if ctx.wave_started => (true, format!("wave {w} is started")),
                Some(w) => (
                    false,
                    format!("wave {w} is not started (wavedeck start wave-{w})"),
                ),
            },
            GuardKind::WaveMembersReady => {
                let (ready, n) = (ctx.wave_members_ready, ctx.wave_members);
                let w = wave_name(ctx);
                let t = ctx.wave_trigger.map_or("own", super::Trigger::as_str);
                if ready > 0 {
                    (
                        true,
                        format!("{ready} of {n} databases of {w} pass their {t} guards now"),
                    )
                } else {
                    (
                        false,
                        format!("none of the {n} databases of {w} passes its {t} guards now"),
                    )
                }
            }
            GuardKind::WindowOpen => window_open(ctx),
            GuardKind::Online => match ctx.mode {
                crate::inventory::Mode::Online => (
                    true,
                    format!("{} migrates online (CDC, then cutover)", ctx.db_id),
                ),
                crate::inventory::Mode::Offline => (
                    false,
                    format!(
                        "{} migrates offline (mode: offline): no DRS job and no provisioning before its cutover in the window",
                        ctx.db_id
                    ),
                ),
            },
            GuardKind::Offline => match ctx.mode {
                crate::inventory::Mode::Offline => (
                    true,
                    format!(
                        "{} migrates offline: its data moves in the window with its writes stopped",
                        ctx.db_id
                    ),
                ),
                crate::inventory::Mode::Online => (
                    false,
                    format!("{} migrates online (mode: online), not offline", ctx.db_id),
                ),
            },
            GuardKind::RestoreTested => match (ctx.restore_passed_at, &ctx.close_reason) {
                (Some(t), _) => (
                    true,
                    format!("a restore test of {} passed at {}", ctx.db_id, t.format("%Y-%m-%d %H:%M UTC")),
                ),
                (None, Some(why)) => (
                    true,
                    format!("closed without a passed restore test, because: {why}"),
                ),
                (None, None) => (
                    false,
                    format!(
                        "no restore test of {db} has passed since it entered hypercare: run one (T in the cockpit, or wavedeck restore-test {db}), or close with a reason (wavedeck close {db} --reason \"...\")",
                        db = ctx.db_id
                    ),
                ),
            },
            GuardKind::SignOff => crate::signoff::check(&ctx.signoff_required, &ctx.signoff),
            GuardKind::NoCutoverInFlight => {
                if ctx.cutover_in_flight {
                    (
                        false,
                        format!("another cutover of {} is in flight", ctx.db_id),
                    )
                } else {
                    (true, format!("no other cutover of {} in flight", ctx.db_id))
                }
            }
        };
        Guard {
            name: self.name(),
            ok,
            sentence,
        }
    }
}

/// One evaluated guard, as the cockpit shows it and as rejection events record it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Guard {
    pub name: &'static str,
    pub ok: bool,
    pub sentence: String,
}

fn wave_name(ctx: &GuardContext) -> String {
    match ctx.wave {
        Some(w) => format!("wave {w}"),
        None => "the wave".to_string(),
    }
}

fn lag(ctx: &GuardContext) -> (bool, String) {
    let max = fmt_secs(ctx.max_lag_s);
    match ctx.lag_s {
        None => (false, "lag unknown (CDC has not reported yet)".to_string()),
        Some(l) if !l.is_finite() || l < 0.0 => {
            (false, "lag unknown (CDC has not started)".to_string())
        }
        Some(l) if l > ctx.max_lag_s => (false, format!("lag {} s > {max} s", fmt_secs(l))),
        Some(l) => (true, format!("lag {} s ≤ {max} s", fmt_secs(l))),
    }
}

fn validation_fresh(ctx: &GuardContext) -> (bool, String) {
    let limit = ctx.validation_max_age_min;
    let Some(at) = ctx.validation_at else {
        return (false, "no validation has run yet".to_string());
    };
    let age = ctx.now.signed_duration_since(at);
    let ago = fmt_age(age);
    if !ctx.validation_passed {
        return (false, format!("validation failed {ago}"));
    }
    if age.num_seconds() > i64::from(limit) * 60 {
        (
            false,
            format!("validation passed {ago} (limit {limit} min): run it again"),
        )
    } else {
        (true, format!("validation passed {ago} (limit {limit} min)"))
    }
}

fn window_open(ctx: &GuardContext) -> (bool, String) {
    let when = |t: DateTime<Utc>| {
        let label = ctx
            .window_next_change_label
            .clone()
            .unwrap_or_else(|| t.format("%a %Y-%m-%d %H:%M UTC").to_string());
        format!(
            "in {} ({label})",
            fmt_span(t.signed_duration_since(ctx.now))
        )
    };
    match (ctx.window_open, ctx.window_next_change) {
        (true, Some(t)) => (true, format!("window open, closes {}", when(t))),
        (true, None) => (true, "window open".to_string()),
        (false, Some(t)) => (false, format!("window opens {}", when(t))),
        // Without an instant, the label is all the caller knows (e.g. why the window is unreadable).
        (false, None) => match &ctx.window_next_change_label {
            Some(label) => (false, format!("window closed ({label})")),
            None => (false, "window closed (no opening ahead)".to_string()),
        },
    }
}

/// "12.4", "5", "0.25": seconds without noise.
fn fmt_secs(s: f64) -> String {
    let r = (s * 10.0).round() / 10.0;
    if r == 0.0 && s != 0.0 {
        format!("{s:.2}")
    } else if r.fract() == 0.0 && r.abs() < 1e12 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A span ahead: "3h12m", "12m", "40s", "2d3h".
pub fn fmt_span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if days > 0 {
        format!("{days}d{h}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// An age: "12 min ago", "3 h 5 min ago", "just now".
fn fmt_age(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    if s < 0 {
        return "in the future (clock skew?)".to_string();
    }
    let m = s / 60;
    if m == 0 {
        "just now".to_string()
    } else if m < 120 {
        format!("{m} min ago")
    } else {
        format!("{} h {} min ago", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 21, 48, 0).unwrap()
    }

    fn sentence(kind: GuardKind, ctx: &GuardContext) -> (bool, String) {
        let g = kind.check(ctx);
        assert_eq!(g.name, kind.name());
        (g.ok, g.sentence)
    }

    #[test]
    fn lag_sentences() {
        let mut ctx = GuardContext::new("pay-ledger-01", now());
        assert_eq!(
            sentence(GuardKind::Lag, &ctx),
            (false, "lag unknown (CDC has not reported yet)".into())
        );
        ctx.lag_s = Some(12.43);
        assert_eq!(
            sentence(GuardKind::Lag, &ctx),
            (false, "lag 12.4 s > 5 s".into())
        );
        ctx.lag_s = Some(5.0);
        assert_eq!(
            sentence(GuardKind::Lag, &ctx),
            (true, "lag 5 s ≤ 5 s".into())
        );
        ctx.lag_s = Some(-1.0);
        assert!(!GuardKind::Lag.check(&ctx).ok, "DRS reports -1 before CDC");
        ctx.lag_s = Some(f64::NAN);
        assert!(!GuardKind::Lag.check(&ctx).ok);
    }

    #[test]
    fn validation_sentences() {
        let mut ctx = GuardContext::new("pay-ledger-01", now());
        assert_eq!(
            sentence(GuardKind::ValidationFresh, &ctx),
            (false, "no validation has run yet".into())
        );
        ctx.validation_at = Some(now() - chrono::Duration::minutes(12));
        assert_eq!(
            sentence(GuardKind::ValidationFresh, &ctx),
            (false, "validation failed 12 min ago".into())
        );
        assert!(!GuardKind::ValidationPassed.check(&ctx).ok);
        ctx.validation_passed = true;
        assert_eq!(
            sentence(GuardKind::ValidationFresh, &ctx),
            (true, "validation passed 12 min ago (limit 60 min)".into())
        );
        assert!(GuardKind::ValidationPassed.check(&ctx).ok);
        ctx.validation_at = Some(now() - chrono::Duration::minutes(61));
        assert_eq!(
            sentence(GuardKind::ValidationFresh, &ctx),
            (
                false,
                "validation passed 61 min ago (limit 60 min): run it again".into()
            )
        );
        // Exactly at the limit is still fresh.
        ctx.validation_at = Some(now() - chrono::Duration::minutes(60));
        assert!(GuardKind::ValidationFresh.check(&ctx).ok);
        ctx.validation_at = Some(now() + chrono::Duration::minutes(1));
        assert!(GuardKind::ValidationFresh.check(&ctx).ok);
        assert!(GuardKind::ValidationFresh
            .check(&ctx)
            .sentence
            .contains("clock skew"));
    }

    #[test]
    fn window_sentences() {
        let mut ctx = GuardContext::new("pay-ledger-01", now());
        ctx.wave = Some(2);
        assert_eq!(
            sentence(GuardKind::WindowApproved, &ctx),
            (false, "window for wave 2 not approved".into())
        );
        ctx.window_approved_by = Some("alice".into());
        assert_eq!(
            sentence(GuardKind::WindowApproved, &ctx),
            (true, "window for wave 2 approved".into())
        );
        ctx.wave = None;
        assert!(GuardKind::WindowApproved
            .check(&ctx)
            .sentence
            .contains("in no wave"));

        assert_eq!(
            sentence(GuardKind::WindowOpen, &ctx),
            (false, "window closed (no opening ahead)".into())
        );
        ctx.window_next_change_label = Some("window unreadable: bad day \"Sto\"".into());
        assert_eq!(
            sentence(GuardKind::WindowOpen, &ctx),
            (
                false,
                "window closed (window unreadable: bad day \"Sto\")".into()
            )
        );
        ctx.window_next_change = Some(now() + chrono::Duration::minutes(3 * 60 + 12));
        ctx.window_next_change_label = Some("Sat 01:00 Europe/Paris".into());
        assert_eq!(
            sentence(GuardKind::WindowOpen, &ctx),
            (
                false,
                "window opens in 3h12m (Sat 01:00 Europe/Paris)".into()
            )
        );
        ctx.window_next_change_label = None;
        assert_eq!(
            sentence(GuardKind::WindowOpen, &ctx),
            (
                false,
                "window opens in 3h12m (Sat 2026-11-28 01:00 UTC)".into()
            )
        );
        ctx.window_open = true;
        assert_eq!(
            sentence(GuardKind::WindowOpen, &ctx),
            (
                true,
                "window open, closes in 3h12m (Sat 2026-11-28 01:00 UTC)".into()
            )
        );
    }

    #[test]
    fn role_and_in_flight_sentences() {
        let mut ctx = GuardContext::new("pay-ledger-01", now());
        assert!(GuardKind::Role.check(&ctx).ok);
        ctx.role = Role::Viewer;
        let g = GuardKind::Role.check(&ctx);
        assert!(!g.ok);
        assert!(g.sentence.contains("viewer"));
        ctx.cutover_in_flight = true;
        assert_eq!(
            sentence(GuardKind::NoCutoverInFlight, &ctx),
            (
                false,
                "another cutover of pay-ledger-01 is in flight".into()
            )
        );
    }

    #[test]
    fn wave_sentences() {
        let mut ctx = GuardContext::new("", now());
        assert_eq!(
            sentence(GuardKind::WaveMembers, &ctx),
            (false, "no wave given".into())
        );
        ctx.wave = Some(7);
        assert_eq!(
            sentence(GuardKind::WaveMembers, &ctx),
            (
                false,
                "wave 7 has no databases (plan and init it first)".into()
            )
        );
        ctx.wave_members = 3;
        assert_eq!(
            sentence(GuardKind::WaveMembers, &ctx),
            (true, "wave 7 has 3 databases".into())
        );
        assert_eq!(
            sentence(GuardKind::WaveNotStarted, &ctx),
            (true, "wave 7 not started yet".into())
        );
        ctx.wave_started = true;
        assert_eq!(
            sentence(GuardKind::WaveNotStarted, &ctx),
            (false, "wave 7 is already started".into())
        );
        assert_eq!(
            sentence(GuardKind::WaveNotApproved, &ctx),
            (true, "the window of wave 7 is not approved yet".into())
        );
        ctx.window_approved_by = Some("alice".into());
        assert_eq!(
            sentence(GuardKind::WaveNotApproved, &ctx),
            (
                false,
                "the window of wave 7 is already approved (by alice)".into()
            )
        );
        ctx.window = "Sat,Sun 01:00-05:00 Europe/Paris".into();
        assert_eq!(
            sentence(GuardKind::WaveNotApproved, &ctx),
            (
                false,
                "wave 7's window Sat,Sun 01:00-05:00 Europe/Paris is already approved (by alice)"
                    .into()
            )
        );
        ctx.window_approved_by = None;
        assert_eq!(
            sentence(GuardKind::WaveNotApproved, &ctx),
            (
                true,
                "wave 7's window Sat,Sun 01:00-05:00 Europe/Paris is not approved yet".into()
            )
        );
    }

    #[test]
    fn wave_started_and_members_ready_sentences() {
        let mut ctx = GuardContext::new("pay-ledger-01", now());
        assert_eq!(
            sentence(GuardKind::WaveStarted, &ctx),
            (
                false,
                "pay-ledger-01 is in no wave (plan it into one)".into()
            )
        );
        ctx.wave = Some(3);
        assert_eq!(
            sentence(GuardKind::WaveStarted, &ctx),
            (
                false,
                "wave 3 is not started (wavedeck start wave-3)".into()
            )
        );
        ctx.wave_started = true;
        assert_eq!(
            sentence(GuardKind::WaveStarted, &ctx),
            (true, "wave 3 is started".into())
        );
        ctx.wave_members = 4;
        ctx.wave_trigger = Some(super::super::Trigger::Cutover);
        assert_eq!(
            sentence(GuardKind::WaveMembersReady, &ctx),
            (
                false,
                "none of the 4 databases of wave 3 passes its cutover guards now".into()
            )
        );
        ctx.wave_members_ready = 1;
        assert_eq!(
            sentence(GuardKind::WaveMembersReady, &ctx),
            (
                true,
                "1 of 4 databases of wave 3 pass their cutover guards now".into()
            )
        );
    }

    #[test]
    fn spans() {
        use chrono::Duration as D;
        assert_eq!(fmt_span(D::seconds(40)), "40s");
        assert_eq!(fmt_span(D::minutes(12)), "12m");
        assert_eq!(fmt_span(D::minutes(65)), "1h05m");
        assert_eq!(fmt_span(D::hours(51)), "2d3h");
        assert_eq!(fmt_span(D::seconds(-5)), "0s");
        assert_eq!(fmt_age(D::minutes(150)), "2 h 30 min ago");
        assert_eq!(fmt_age(D::seconds(10)), "just now");
        assert_eq!(fmt_secs(0.04), "0.04");
        assert_eq!(fmt_secs(0.0), "0");
    }
}
