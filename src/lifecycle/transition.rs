//! The transition table: for each (position, trigger) the next position and the guards it needs.
//! The one place that says what may happen to a database. The engine calls `decide` before it
//! writes a `db.stage` event or accepts an operator command; the cockpit calls `guards` to show
//! what stands between the operator and an action.

use super::guard::{Guard, GuardContext, GuardKind};
use super::stage::Stage;
use super::trigger::Trigger;
use crate::store::model::Action;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

/// Where a database is: its stage and, for `failed` and `paused`, the stage it was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    pub stage: Stage,
    /// `Some` exactly when `stage` is `failed` or `paused`.
    pub held: Option<Stage>,
}

impl Position {
    pub const fn at(stage: Stage) -> Self {
        Position { stage, held: None }
    }
    pub const fn failed_in(stage: Stage) -> Self {
        Position {
            stage: Stage::Failed,
            held: Some(stage),
        }
    }
    pub const fn paused_in(stage: Stage) -> Self {
        Position {
            stage: Stage::Paused,
            held: Some(stage),
        }
    }
    /// From a stored state (`DbState::stage`, `DbState::held_stage`). A held stage next to a
    /// stage that holds none is ignored.
    pub fn from_state(stage: Stage, held: Option<Stage>) -> Self {
        match stage {
            Stage::Failed | Stage::Paused => Position { stage, held },
            _ => Position::at(stage),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.held {
            Some(h) => write!(f, "{} (in {h})", self.stage),
            None => write!(f, "{}", self.stage),
        }
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub from: Position,
    pub trigger: Trigger,
    pub to: Position,
    pub guards: &'static [GuardKind],
}

/// Everything a cutover needs; also required to resume a failed cutover.
pub const CUTOVER_GUARDS: &[GuardKind] = &[
    GuardKind::Role,
    GuardKind::WindowApproved,
    GuardKind::WindowOpen,
    GuardKind::ValidationFresh,
    GuardKind::Lag,
    GuardKind::NoCutoverInFlight,
    GuardKind::SignOff,
];
/// An offline database's cutover (also required to resume a failed one): the window and the
/// people, not the replication. It has no CDC to lag and no validation before it: the data
/// moves, and is validated exactly, inside the cutover with the source's writes stopped.
pub const OFFLINE_CUTOVER_GUARDS: &[GuardKind] = &[
    GuardKind::Role,
    GuardKind::Offline,
    GuardKind::WindowApproved,
    GuardKind::WindowOpen,
    GuardKind::NoCutoverInFlight,
    GuardKind::SignOff,
];
const OPERATOR: &[GuardKind] = &[GuardKind::Role];
/// Hypercare closes once a restore test has passed, or with the operator's reason.
const CLOSE_GUARDS: &[GuardKind] = &[GuardKind::Role, GuardKind::RestoreTested];
const NONE: &[GuardKind] = &[];
/// CDC ends, and validation begins, once the apply lag is within the database's cutover limit:
/// validating further behind would compare the target against a source it has not caught up to.
const CDC_EXIT: &[GuardKind] = &[GuardKind::Lag];
/// A database is admitted (by the engine, as slots free up) only once its wave is started.
const ADMISSION: &[GuardKind] = &[GuardKind::Role, GuardKind::WaveStarted];
/// A ready database's stale validation is run again only in a wave whose window is approved:
/// before that nobody is about to cut it over, and validating would only load the source.
const REVALIDATION: &[GuardKind] = &[GuardKind::WindowApproved];

/// Starting a wave: it has databases and was not started before.
pub const START_WAVE_GUARDS: &[GuardKind] = &[
    GuardKind::Role,
    GuardKind::WaveMembers,
    GuardKind::WaveNotStarted,
];
/// Approving a wave's cutover window: it has databases and nobody approved it yet.
pub const APPROVE_WINDOW_GUARDS: &[GuardKind] = &[
    GuardKind::Role,
    GuardKind::WaveMembers,
    GuardKind::WaveNotApproved,
];

/// Pausing, resuming, retrying, aborting, cutting over or rolling back a wave: it has
/// databases and at least one of them passes its own guards for that trigger (the others are
/// refused and may be asked again later); one that would move none is refused as a whole.
pub const MOVE_WAVE_GUARDS: &[GuardKind] = &[
    GuardKind::Role,
    GuardKind::WaveMembers,
    GuardKind::WaveMembersReady,
];

/// An action on a wave that moves no database (a sign-off for each member): it has databases.
const WAVE_GUARDS: &[GuardKind] = &[GuardKind::Role, GuardKind::WaveMembers];

/// The guards of an action aimed at wave as a whole: for start and approve, which move no
/// database by themselves, all there is; for the others, what comes before the members' own.
pub fn wave_action_guards(action: Action) -> &'static [GuardKind] {
    match (action, Trigger::for_action(action)) {
        (Action::StartWave, _) => START_WAVE_GUARDS,
        (Action::ApproveWindow, _) => APPROVE_WINDOW_GUARDS,
        (_, Some(_)) => MOVE_WAVE_GUARDS,
        (_, None) => WAVE_GUARDS,
    }
}

/// Whether a wave's `action` counts the members that pass their own guards
/// ([`GuardKind::WaveMembersReady`]), and for which trigger.
pub fn wave_member_trigger(action: Action) -> Option<Trigger> {
    Trigger::for_action(action)
        .filter(|_| wave_action_guards(action).contains(&GuardKind::WaveMembersReady))
}

/// The members of a wave that its command does not move, each with its first failing guard
/// (`(db, sentence)`), as one informational line: the engine's refusal and the cockpit's
/// preview show the same. The first three say enough for a wave of hundreds.
pub fn members_waiting(waiting: &[(String, String)]) -> Option<Guard> {
    if waiting.is_empty() {
        return None;
    }
    let shown: Vec<String> = waiting
        .iter()
        .take(3)
        .map(|(db, why)| format!("{db} ({why})"))
        .collect();
    let more = waiting.len() - shown.len();
    Some(Guard {
        name: "members_waiting",
        ok: true,
        sentence: format!(
            "{} refused for now: {}{}",
            waiting.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ),
    })
}

/// [`wave_action_guards`] evaluated on a wave's context, for the cockpit's dialog.
pub fn guards_for_wave(action: Action, ctx: &GuardContext) -> Vec<Guard> {
    evaluate(wave_action_guards(action), ctx)
}

/// Check an action aimed at a wave against its wave-level guards.
pub fn check_wave_action(action: Action, ctx: &GuardContext) -> Result<(), Rejection> {
    check(action.as_str(), wave_action_guards(action), ctx)
}

/// Pre-checks passed: an online database goes on to provisioning (its DRS job, the full load,
/// CDC); an offline one waits in `ready_offline` with nothing moving until its cutover.
const ONLINE: &[GuardKind] = &[GuardKind::Online];
const OFFLINE: &[GuardKind] = &[GuardKind::Offline];

/// Stages where a step of work runs and may fail for good.
const WORKING: [Stage; 8] = [
    Stage::Prechecks,
    Stage::Provisioning,
    Stage::FullLoad,
    Stage::Cdc,
    Stage::Validation,
    Stage::Ready,
    Stage::Cutover,
    Stage::Hypercare,
];
/// Stages an operator may pause or abort: before cutover. Once the source is being drained,
/// the only ways on are through (cutover done) or back (rollback): pausing or abandoning a
/// half-switched database would leave the application without a writable database.
const BEFORE_CUTOVER: [Stage; 8] = [
    Stage::Registered,
    Stage::Prechecks,
    Stage::Provisioning,
    Stage::FullLoad,
    Stage::Cdc,
    Stage::Validation,
    Stage::Ready,
    Stage::ReadyOffline,
];

/// The transition table, built once from the rules below.
pub fn table() -> &'static [Row] {
    static TABLE: OnceLock<Vec<Row>> = OnceLock::new();
    TABLE.get_or_init(build)
}

fn build() -> Vec<Row> {
    use Stage::*;
    let mut rows = Vec::new();
    let mut row = |from: Position, trigger: Trigger, to: Position, guards| {
        rows.push(Row {
            from,
            trigger,
            to,
            guards,
        })
    };
    let at = Position::at;

    row(at(Registered), Trigger::Start, at(Prechecks), ADMISSION);
    row(
        at(Prechecks),
        Trigger::StepSucceeded,
        at(Provisioning),
        ONLINE,
    );
    row(
        at(Prechecks),
        Trigger::StepSucceeded,
        at(ReadyOffline),
        OFFLINE,
    );
    for (from, to) in [(Provisioning, FullLoad), (FullLoad, Cdc)] {
        row(at(from), Trigger::StepSucceeded, at(to), NONE);
    }
    row(at(Cdc), Trigger::StepSucceeded, at(Validation), CDC_EXIT);
    row(
        at(Validation),
        Trigger::StepSucceeded,
        at(Ready),
        &[GuardKind::ValidationPassed],
    );
    row(
        at(Validation),
        Trigger::ValidationFailed,
        Position::failed_in(Validation),
        NONE,
    );
    row(at(Ready), Trigger::Revalidate, at(Validation), REVALIDATION);
    row(at(Ready), Trigger::Cutover, at(Cutover), CUTOVER_GUARDS);
    row(
        at(ReadyOffline),
        Trigger::Cutover,
        at(Cutover),
        OFFLINE_CUTOVER_GUARDS,
    );
    row(at(Cutover), Trigger::CutoverDone, at(Hypercare), NONE);
    // The offline cutover validates inside the cutover: differences fail it (a rollback
    // before the switch is cheap; a retry loads again).
    row(
        at(Cutover),
        Trigger::ValidationFailed,
        Position::failed_in(Cutover),
        NONE,
    );
    row(
        at(Hypercare),
        Trigger::CloseHypercare,
        at(Completed),
        CLOSE_GUARDS,
    );

    for s in WORKING {
        row(at(s), Trigger::StepFailed, Position::failed_in(s), NONE);
        // A failed cutover resumes only under the same conditions a cutover starts under, on
        // its path: the offline row first, as the online one has no path guard to tell.
        if s == Cutover {
            row(
                Position::failed_in(s),
                Trigger::Retry,
                at(s),
                OFFLINE_CUTOVER_GUARDS,
            );
        }
        let guards = if s == Cutover {
            CUTOVER_GUARDS
        } else {
            OPERATOR
        };
        row(Position::failed_in(s), Trigger::Retry, at(s), guards);
    }
    for s in BEFORE_CUTOVER {
        row(at(s), Trigger::Pause, Position::paused_in(s), OPERATOR);
        row(Position::paused_in(s), Trigger::Resume, at(s), OPERATOR);
        row(at(s), Trigger::Abort, at(Aborted), OPERATOR);
        row(
            Position::paused_in(s),
            Trigger::Abort,
            at(Aborted),
            OPERATOR,
        );
        if s != Registered {
            row(
                Position::failed_in(s),
                Trigger::Abort,
                at(Aborted),
                OPERATOR,
            );
        }
    }
    for from in [
        at(Cutover),
        at(Hypercare),
        Position::failed_in(Cutover),
        Position::failed_in(Hypercare),
    ] {
        row(from, Trigger::Rollback, at(RolledBack), OPERATOR);
    }
    rows
}

/// The row for `trigger` from `from`. Where the online and the offline path part (one row
/// each, told apart by a path guard), the one whose path guard passes on `ctx`; when none
/// does, the first, so its refusal names the path.
fn find(from: Position, trigger: Trigger, ctx: &GuardContext) -> Option<&'static Row> {
    let mut rows = table()
        .iter()
        .filter(|r| r.from == from && r.trigger == trigger)
        .peekable();
    let first = *rows.peek()?;
    Some(rows.find(|r| on_path(r, ctx)).unwrap_or(first))
}

/// Whether a row is on the database's path: every path guard it has passes.
fn on_path(r: &Row, ctx: &GuardContext) -> bool {
    r.guards
        .iter()
        .filter(|g| g.is_path())
        .all(|g| g.check(ctx).ok)
}

/// Why a trigger or command was refused: the failing guards' sentences, or why the trigger does
/// not apply at all. `Display` gives the one line the cockpit and the rejection event show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rejection {
    /// The refused thing, as a word: "cutover", "retry", "approve_window".
    pub what: String,
    /// Human sentences, one per failing guard (or one saying the trigger does not apply).
    pub reasons: Vec<String>,
    /// Every guard evaluated (passing ones too), for dialogs and evidence.
    pub guards: Vec<Guard>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} blocked: {}", self.what, self.reasons.join("; "))
    }
}

impl std::error::Error for Rejection {}

/// Decide where `trigger` takes a database at `from`, checking the row's guards.
pub fn decide(from: Position, trigger: Trigger, ctx: &GuardContext) -> Result<Position, Rejection> {
    let Some(row) = find(from, trigger, ctx) else {
        return Err(not_applicable(from, trigger, ctx));
    };
    check(trigger.as_str(), row.guards, ctx).map(|()| row.to)
}

/// Evaluate `kinds`; refuse `what` with every failing sentence when any fails.
pub fn check(what: &str, kinds: &[GuardKind], ctx: &GuardContext) -> Result<(), Rejection> {
    let guards = evaluate(kinds, ctx);
    let reasons: Vec<String> = guards
        .iter()
        .filter(|g| !g.ok)
        .map(|g| g.sentence.clone())
        .collect();
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            what: what.to_string(),
            reasons,
            guards,
        })
    }
}

/// The guards an operator action needs, evaluated, for the cockpit's confirmation dialog and
/// for wave-level commands (start wave, approve window) that move no single database. For a
/// database-level action the guards of the row that applies from `from` are shown when given;
/// without a position, the action's usual guards.
pub fn guards(action: Action, from: Option<Position>, ctx: &GuardContext) -> Vec<Guard> {
    evaluate(action_kinds(action, from, ctx), ctx)
}

fn action_kinds(
    action: Action,
    from: Option<Position>,
    ctx: &GuardContext,
) -> &'static [GuardKind] {
    match (action, Trigger::for_action(action), from) {
        (Action::StartWave | Action::ApproveWindow, ..) => wave_action_guards(action),
        (_, None, _) => OPERATOR,
        (_, Some(t), Some(p)) => find(p, t, ctx).map(|r| r.guards).unwrap_or(OPERATOR),
        (_, Some(Trigger::Cutover), None) => CUTOVER_GUARDS,
        (_, Some(_), None) => OPERATOR,
    }
}

/// Triggers that have a row from `from` (guards not checked): what the cockpit may offer.
pub fn available(from: Position) -> Vec<Trigger> {
    let mut out: Vec<Trigger> = Vec::new();
    for r in table().iter().filter(|r| r.from == from) {
        if !out.contains(&r.trigger) {
            out.push(r.trigger);
        }
    }
    out
}

fn evaluate(kinds: &[GuardKind], ctx: &GuardContext) -> Vec<Guard> {
    kinds.iter().map(|k| k.check(ctx)).collect()
}

fn not_applicable(from: Position, trigger: Trigger, ctx: &GuardContext) -> Rejection {
    // A viewer hears about the role first: whatever the stage, they cannot act.
    let mut guards = Vec::new();
    let mut reasons = Vec::new();
    if trigger.is_operator() {
        let g = GuardKind::Role.check(ctx);
        if !g.ok {
            reasons.push(g.sentence.clone());
        }
        guards.push(g);
    }
    // Where the trigger applies on this database's path (an online one is not told about
    // ready_offline).
    let mut starts: Vec<String> = Vec::new();
    for r in table()
        .iter()
        .filter(|r| r.trigger == trigger && on_path(r, ctx))
    {
        let s = r.from.to_string();
        if !starts.contains(&s) {
            starts.push(s);
        }
    }
    let hint = match (trigger, from.stage) {
        (Trigger::Abort | Trigger::Pause, Stage::Cutover | Stage::Hypercare) => {
            " (roll back instead)"
        }
        (Trigger::Abort, Stage::Failed)
            if matches!(from.held, Some(Stage::Cutover | Stage::Hypercare)) =>
        {
            " (roll back instead)"
        }
        _ => "",
    };
    reasons.push(format!(
        "{} is {from}; {trigger} applies only from {}{hint}",
        ctx.db_id,
        shorten(&starts)
    ));
    Rejection {
        what: trigger.as_str().to_string(),
        reasons,
        guards,
    }
}

fn shorten(list: &[String]) -> String {
    if list.len() <= 4 {
        list.join(", ")
    } else {
        format!("{}, ... ({} positions)", list[..3].join(", "), list.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::Role;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use std::collections::HashSet;
    use Stage::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 1, 30, 0).unwrap()
    }

    /// Everything granted: every guard passes.
    fn green() -> GuardContext {
        GuardContext {
            wave: Some(2),
            lag_s: Some(0.4),
            validation_passed: true,
            validation_at: Some(now() - Duration::minutes(12)),
            window_approved_by: Some("alice".into()),
            wave_members: 3,
            wave_started: true,
            wave_members_ready: 1,
            window_open: true,
            window_next_change: Some(now() + Duration::hours(2)),
            window_next_change_label: Some("Sat 05:30 Europe/Paris".into()),
            restore_passed_at: Some(now() - Duration::days(1)),
            ..GuardContext::new("pay-ledger-01", now())
        }
    }

    #[test]
    fn cutover_needs_every_required_signoff() {
        use crate::signoff::{Signature, SignoffRole};
        let mut ctx = green();
        ctx.signoff_required = vec![SignoffRole::TechLead, SignoffRole::DataOwner];
        ctx.signoff.sign(Signature {
            role: SignoffRole::TechLead,
            who: "alice".into(),
            at: now(),
            note: None,
        });
        let e = decide(Position::at(Ready), Trigger::Cutover, &ctx).unwrap_err();
        let g = e.guards.iter().find(|g| g.name == "signoff").unwrap();
        assert!(!g.ok);
        assert_eq!(
            g.sentence,
            "sign-off missing: data_owner (signed: tech_lead by alice)"
        );
        ctx.signoff.sign(Signature {
            role: SignoffRole::DataOwner,
            who: "bob".into(),
            at: now(),
            note: None,
        });
        assert_eq!(
            decide(Position::at(Ready), Trigger::Cutover, &ctx),
            Ok(Position::at(Cutover))
        );
    }

    fn viewer() -> GuardContext {
        GuardContext {
            role: Role::Viewer,
            ..green()
        }
    }

    #[test]
    fn table_has_no_duplicate_keys_and_sane_positions() {
        let mut seen = HashSet::new();
        for r in table() {
            // Two rows share a key only when a path guard (online, offline) tells them apart.
            let path: Vec<GuardKind> = r.guards.iter().copied().filter(|g| g.is_path()).collect();
            assert!(
                seen.insert((r.from, r.trigger, path)),
                "two rows for {} + {}",
                r.from,
                r.trigger
            );
            for p in [r.from, r.to] {
                let holds = matches!(p.stage, Failed | Paused);
                assert_eq!(holds, p.held.is_some(), "bad position {p:?}");
            }
            assert!(
                !r.from.stage.is_terminal(),
                "row leaving terminal {}",
                r.from
            );
            assert_eq!(
                r.trigger.is_operator(),
                r.guards.contains(&GuardKind::Role),
                "role guard exactly on operator triggers: {} + {}",
                r.from,
                r.trigger
            );
        }
    }

    /// Every row, one by one: with everything granted it goes where the table says, and a viewer
    /// is refused on every operator row.
    #[test]
    fn every_row_goes_where_it_says() {
        for r in table() {
            // The offline rows are granted for an offline database.
            let green = || GuardContext {
                mode: if r.guards.contains(&GuardKind::Offline) {
                    crate::inventory::Mode::Offline
                } else {
                    crate::inventory::Mode::Online
                },
                ..green()
            };
            let viewer = || GuardContext {
                role: Role::Viewer,
                ..green()
            };
            assert_eq!(
                decide(r.from, r.trigger, &green()),
                Ok(r.to),
                "{} + {}",
                r.from,
                r.trigger
            );
            if r.trigger.is_operator() {
                let err = decide(r.from, r.trigger, &viewer()).unwrap_err();
                assert!(err.to_string().contains("viewer"), "{err}");
            }
        }
    }

    #[test]
    fn expected_rows() {
        let g = green();
        let d = |from, t| decide(from, t, &g);
        let at = Position::at;
        // The automatic pipeline.
        assert_eq!(d(at(Registered), Trigger::Start), Ok(at(Prechecks)));
        let mut p = at(Prechecks);
        for next in [Provisioning, FullLoad, Cdc, Validation, Ready] {
            p = d(p, Trigger::StepSucceeded).unwrap();
            assert_eq!(p, at(next));
        }
        assert!(d(at(Ready), Trigger::StepSucceeded).is_err());
        assert!(d(at(Registered), Trigger::StepSucceeded).is_err());
        // Cutover and after.
        assert_eq!(d(at(Ready), Trigger::Cutover), Ok(at(Cutover)));
        assert_eq!(d(at(Cutover), Trigger::CutoverDone), Ok(at(Hypercare)));
        assert_eq!(d(at(Hypercare), Trigger::CloseHypercare), Ok(at(Completed)));
        assert_eq!(d(at(Cutover), Trigger::Rollback), Ok(at(RolledBack)));
        assert_eq!(d(at(Hypercare), Trigger::Rollback), Ok(at(RolledBack)));
        assert!(d(at(Ready), Trigger::Rollback).is_err());
        assert!(d(at(Completed), Trigger::Rollback).is_err());
        // Failure remembers the stage, retry returns to it.
        for s in WORKING {
            let f = d(at(s), Trigger::StepFailed).unwrap();
            assert_eq!(f, Position::failed_in(s));
            assert_eq!(d(f, Trigger::Retry), Ok(at(s)));
        }
        assert_eq!(
            d(at(Validation), Trigger::ValidationFailed),
            Ok(Position::failed_in(Validation))
        );
        assert!(d(at(Registered), Trigger::StepFailed).is_err());
        assert_eq!(d(at(Ready), Trigger::Revalidate), Ok(at(Validation)));
        // Pause remembers the stage, resume returns to it.
        for s in BEFORE_CUTOVER {
            let p = d(at(s), Trigger::Pause).unwrap();
            assert_eq!(p, Position::paused_in(s));
            assert_eq!(d(p, Trigger::Resume), Ok(at(s)));
            assert_eq!(d(p, Trigger::Abort), Ok(at(Aborted)));
            assert_eq!(d(at(s), Trigger::Abort), Ok(at(Aborted)));
        }
        // Once the source may be drained: no pause, no abort, only through or back.
        for p in [at(Cutover), at(Hypercare), Position::failed_in(Cutover)] {
            let e = d(p, Trigger::Abort).unwrap_err();
            assert!(e.to_string().contains("roll back instead"), "{e}");
            assert!(d(p, Trigger::Pause).is_err());
        }
        assert_eq!(
            d(Position::failed_in(Cutover), Trigger::Rollback),
            Ok(at(RolledBack))
        );
        assert_eq!(
            d(Position::failed_in(Hypercare), Trigger::Rollback),
            Ok(at(RolledBack))
        );
        assert!(d(Position::failed_in(Cdc), Trigger::Rollback).is_err());
        // Terminal stages take nothing.
        for s in [Completed, Aborted, RolledBack] {
            assert!(available(at(s)).is_empty(), "{s}");
        }
        // Paused takes no engine step (an in-flight step's outcome is recorded, not applied).
        assert!(d(Position::paused_in(Cdc), Trigger::StepSucceeded).is_err());
        assert!(d(Position::paused_in(Cdc), Trigger::StepFailed).is_err());
    }

    #[test]
    fn cutover_rejection_lists_every_failing_guard() {
        let ctx = GuardContext {
            lag_s: Some(12.4),
            window_open: false,
            window_next_change: Some(now() + Duration::minutes(3 * 60 + 12)),
            window_next_change_label: Some("Sat 01:00 Europe/Paris".into()),
            ..green()
        };
        let e = decide(Position::at(Ready), Trigger::Cutover, &ctx).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cutover blocked: window opens in 3h12m (Sat 01:00 Europe/Paris); lag 12.4 s > 5 s"
        );
        assert_eq!(e.guards.len(), CUTOVER_GUARDS.len());
        assert_eq!(e.guards.iter().filter(|g| !g.ok).count(), 2);

        let stale = GuardContext {
            validation_at: Some(now() - Duration::minutes(90)),
            window_approved_by: None,
            cutover_in_flight: true,
            ..green()
        };
        let e = decide(Position::at(Ready), Trigger::Cutover, &stale).unwrap_err();
        assert_eq!(
            e.reasons,
            vec![
                "window for wave 2 not approved".to_string(),
                "validation passed 90 min ago (limit 60 min): run it again".to_string(),
                "another cutover of pay-ledger-01 is in flight".to_string(),
            ]
        );
        // Retrying a failed cutover needs the same.
        let e = decide(Position::failed_in(Cutover), Trigger::Retry, &stale).unwrap_err();
        assert_eq!(e.reasons.len(), 3);
    }

    #[test]
    fn validation_to_ready_needs_a_pass() {
        let ctx = GuardContext {
            validation_passed: false,
            ..green()
        };
        let e = decide(Position::at(Validation), Trigger::StepSucceeded, &ctx).unwrap_err();
        assert_eq!(e.to_string(), "step_succeeded blocked: validation failed");
    }

    /// CDC hands over to validation only within the lag limit: the database's own when it
    /// has one (the context carries the limit that applies).
    #[test]
    fn cdc_exit_needs_the_lag_within_the_limit() {
        let lagging = GuardContext {
            lag_s: Some(12.0),
            ..green()
        };
        let e = decide(Position::at(Cdc), Trigger::StepSucceeded, &lagging).unwrap_err();
        assert_eq!(e.to_string(), "step_succeeded blocked: lag 12 s > 5 s");
        let own = GuardContext {
            max_lag_s: 30.0,
            ..lagging
        };
        assert_eq!(
            decide(Position::at(Cdc), Trigger::StepSucceeded, &own),
            Ok(Position::at(Validation))
        );
        let unknown = GuardContext {
            lag_s: None,
            ..green()
        };
        assert!(decide(Position::at(Cdc), Trigger::StepSucceeded, &unknown).is_err());
    }

    /// The wave's rules on its members: admitted only into a started wave, validated again
    /// only once the wave's window is approved; a wave's cutover moving none is refused whole.
    #[test]
    fn wave_rules_are_guards_of_the_rows() {
        let unstarted = GuardContext {
            wave_started: false,
            ..green()
        };
        let e = decide(Position::at(Registered), Trigger::Start, &unstarted).unwrap_err();
        assert_eq!(
            e.to_string(),
            "start blocked: wave 2 is not started (wavedeck start wave-2)"
        );
        assert_eq!(
            e.guards.iter().map(|g| g.name).collect::<Vec<_>>(),
            ["role", "wave_started"]
        );
        let unapproved = GuardContext {
            window_approved_by: None,
            ..green()
        };
        assert_eq!(
            decide(Position::at(Ready), Trigger::Revalidate, &unapproved)
                .unwrap_err()
                .to_string(),
            "revalidate blocked: window for wave 2 not approved"
        );
        let none_ready = GuardContext {
            wave_members_ready: 0,
            wave_trigger: Some(Trigger::Cutover),
            ..green()
        };
        let e = check_wave_action(Action::Cutover, &none_ready).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cutover blocked: none of the 3 databases of wave 2 passes its cutover guards now"
        );
        assert_eq!(
            guards_for_wave(Action::Cutover, &green())
                .iter()
                .map(|g| (g.name, g.ok))
                .collect::<Vec<_>>(),
            [("role", true), ("members", true), ("members_ready", true)]
        );
        // Every wave action that moves members needs one that can move.
        let pause = GuardContext {
            wave_trigger: Some(Trigger::Pause),
            ..none_ready.clone()
        };
        assert_eq!(
            check_wave_action(Action::Pause, &pause)
                .unwrap_err()
                .to_string(),
            "pause blocked: none of the 3 databases of wave 2 passes its pause guards now"
        );
        assert!(check_wave_action(Action::Signoff, &none_ready).is_ok());
        assert_eq!(
            wave_member_trigger(Action::Rollback),
            Some(Trigger::Rollback)
        );
        assert_eq!(wave_member_trigger(Action::StartWave), None);
    }

    /// After its pre-checks an offline database waits in ready_offline (an online one is
    /// provisioned), and nothing moves it on by itself there: no step, no revalidation; the
    /// operator may pause or abort it, or cut it over.
    #[test]
    fn an_offline_database_waits_in_ready_offline() {
        let offline = GuardContext {
            mode: crate::inventory::Mode::Offline,
            ..green()
        };
        let pre = Position::at(Prechecks);
        assert_eq!(
            decide(pre, Trigger::StepSucceeded, &offline),
            Ok(Position::at(ReadyOffline))
        );
        assert_eq!(
            decide(pre, Trigger::StepSucceeded, &green()),
            Ok(Position::at(Provisioning))
        );
        let at = Position::at(ReadyOffline);
        for t in [Trigger::StepSucceeded, Trigger::Revalidate] {
            assert!(decide(at, t, &offline).is_err(), "{t}");
        }
        assert_eq!(
            decide(at, Trigger::Pause, &offline),
            Ok(Position::paused_in(ReadyOffline))
        );
        assert_eq!(
            decide(at, Trigger::Abort, &offline),
            Ok(Position::at(Aborted))
        );
    }

    /// The offline cutover needs the window and the people, not the replication: no CDC lag
    /// and no validation before it (the data moves, and is validated exactly, inside it). A
    /// failed one resumes under the same guards, and differences found inside it fail it.
    #[test]
    fn the_offline_cutover_needs_the_window_and_the_sign_offs_not_the_lag() {
        let offline = GuardContext {
            mode: crate::inventory::Mode::Offline,
            lag_s: None,
            validation_passed: false,
            validation_at: None,
            ..green()
        };
        let at = Position::at(ReadyOffline);
        assert_eq!(
            decide(at, Trigger::Cutover, &offline),
            Ok(Position::at(Cutover))
        );
        let failed = Position::failed_in(Cutover);
        assert_eq!(
            decide(failed, Trigger::Retry, &offline),
            Ok(Position::at(Cutover))
        );
        // The same facts refuse an online database: it has neither lag nor a validation.
        let online = GuardContext {
            mode: crate::inventory::Mode::Online,
            ..offline.clone()
        };
        let e = decide(failed, Trigger::Retry, &online).unwrap_err();
        assert!(e.to_string().contains("lag"), "{e}");
        let closed = GuardContext {
            window_approved_by: None,
            window_open: false,
            window_next_change: None,
            window_next_change_label: None,
            cutover_in_flight: true,
            ..offline.clone()
        };
        for from in [at, failed] {
            let t = if from == at {
                Trigger::Cutover
            } else {
                Trigger::Retry
            };
            let e = decide(from, t, &closed).unwrap_err();
            assert_eq!(
                e.reasons,
                [
                    "window for wave 2 not approved",
                    "window closed (no opening ahead)",
                    "another cutover of pay-ledger-01 is in flight"
                ],
                "{from}"
            );
            assert_eq!(
                e.guards.iter().map(|g| g.name).collect::<Vec<_>>(),
                OFFLINE_CUTOVER_GUARDS
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
            );
        }
        assert_eq!(
            decide(Position::at(Cutover), Trigger::ValidationFailed, &offline),
            Ok(failed)
        );
        // What the cockpit's dialog previews from ready_offline: the offline guards.
        assert_eq!(
            guards(Action::Cutover, Some(at), &offline).len(),
            OFFLINE_CUTOVER_GUARDS.len()
        );
    }

    #[test]
    fn not_applicable_says_where_from() {
        let e = decide(Position::at(FullLoad), Trigger::Cutover, &green()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cutover blocked: pay-ledger-01 is full_load; cutover applies only from ready"
        );
        let e = decide(Position::at(Cdc), Trigger::Retry, &viewer()).unwrap_err();
        assert!(e.reasons[0].contains("viewer"), "{e}");
        assert!(e.reasons[1].contains("failed (in prechecks)"), "{e}");
    }

    #[test]
    fn action_guards_for_dialogs() {
        let kinds = |gs: Vec<Guard>| gs.iter().map(|g| g.name).collect::<Vec<_>>();
        let g = guards(Action::Cutover, None, &green());
        assert_eq!(
            kinds(g.clone()),
            CUTOVER_GUARDS.iter().map(|k| k.name()).collect::<Vec<_>>()
        );
        assert!(g.iter().all(|g| g.ok));
        assert_eq!(
            kinds(guards(
                Action::Retry,
                Some(Position::failed_in(Cdc)),
                &green()
            )),
            vec!["role"]
        );
        assert_eq!(
            guards(Action::Retry, Some(Position::failed_in(Cutover)), &green()).len(),
            CUTOVER_GUARDS.len()
        );
        // Wave-level actions: the wave's own rules, from the same table.
        let fresh_wave = GuardContext {
            window_approved_by: None,
            wave_started: false,
            ..green()
        };
        assert!(check_wave_action(Action::ApproveWindow, &fresh_wave).is_ok());
        assert!(check_wave_action(Action::StartWave, &fresh_wave).is_ok());
        let e = check_wave_action(Action::ApproveWindow, &green()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "approve_window blocked: the window of wave 2 is already approved (by alice)"
        );
        let started = GuardContext {
            wave_started: true,
            wave_members: 0,
            ..fresh_wave.clone()
        };
        let e = check_wave_action(Action::StartWave, &started).unwrap_err();
        assert_eq!(
            e.reasons,
            [
                "wave 2 has no databases (plan and init it first)",
                "wave 2 is already started"
            ]
        );
        assert_eq!(
            kinds(e.guards),
            ["role", "members", "not_started"],
            "every guard, passing ones too"
        );
        let e = check_wave_action(Action::StartWave, &viewer()).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("start_wave blocked: read-only viewer"));
        for a in [
            Action::StartWave,
            Action::ApproveWindow,
            Action::Pause,
            Action::Resume,
            Action::Retry,
            Action::Abort,
            Action::Cutover,
            Action::Rollback,
            Action::CloseHypercare,
        ] {
            assert!(check_wave_action(a, &viewer()).is_err(), "{a:?}");
            if let Some(t) = Trigger::for_action(a) {
                assert!(t.is_operator());
            }
        }
    }

    #[test]
    fn position_from_state() {
        assert_eq!(Position::from_state(Cdc, Some(FullLoad)), Position::at(Cdc));
        assert_eq!(
            Position::from_state(Failed, Some(Cdc)),
            Position::failed_in(Cdc)
        );
        assert_eq!(Position::failed_in(Cdc).to_string(), "failed (in cdc)");
    }

    mod prop {
        use super::*;
        use crate::signoff::{Ledger, Signature, SignoffRole};
        use proptest::prelude::*;
        use proptest::strategy::ValueTree;
        use proptest::test_runner::{TestCaseError, TestRunner};

        /// Contexts biased towards "granted" so that walks often get far enough to try a
        /// cutover, while every guard still fails often.
        fn arb_ctx() -> impl Strategy<Value = GuardContext> {
            (
                proptest::bool::weighted(0.1),
                proptest::option::weighted(0.95, -0.5f64..6.0),
                proptest::bool::weighted(0.9),
                proptest::option::weighted(0.95, -5i64..70),
                proptest::bool::weighted(0.9),
                proptest::bool::weighted(0.9),
                proptest::bool::weighted(0.1),
                arb_signoff(),
                proptest::bool::weighted(0.9),
            )
                .prop_map(
                    |(
                        viewer,
                        lag,
                        passed,
                        age_min,
                        approved,
                        open,
                        in_flight,
                        (required, signoff),
                        started,
                    )| GuardContext {
                        role: if viewer { Role::Viewer } else { Role::Operator },
                        lag_s: lag,
                        validation_passed: passed,
                        validation_at: age_min.map(|m| now() - Duration::minutes(m)),
                        window_approved_by: approved.then(|| "alice".to_string()),
                        window_open: open,
                        cutover_in_flight: in_flight,
                        signoff_required: required,
                        signoff,
                        wave: Some(1),
                        wave_started: started,
                        ..GuardContext::new("db", now())
                    },
                )
        }

        /// Required roles and the sign-offs standing: usually all required ones signed (and
        /// maybe more), sometimes any subset.
        fn arb_signoff() -> impl Strategy<Value = (Vec<SignoffRole>, Ledger)> {
            let roles = || proptest::sample::subsequence(SignoffRole::ALL.to_vec(), 0..=3);
            (roles(), roles(), proptest::bool::weighted(0.85)).prop_map(
                |(required, extra, complete)| {
                    let mut l = Ledger::default();
                    let signed =
                        extra
                            .iter()
                            .chain(if complete { required.iter() } else { [].iter() });
                    for r in signed {
                        l.sign(Signature {
                            role: *r,
                            who: "someone".into(),
                            at: now(),
                            note: None,
                        });
                    }
                    (required, l)
                },
            )
        }

        fn arb_trigger() -> impl Strategy<Value = Trigger> {
            let weight = |t: Trigger| match t {
                Trigger::StepSucceeded => 8,
                Trigger::Start | Trigger::Cutover | Trigger::Retry => 3,
                _ => 1,
            };
            proptest::strategy::Union::new_weighted(
                Trigger::ALL
                    .iter()
                    .map(|&t| (weight(t), Just(t).boxed()))
                    .collect(),
            )
        }

        /// One database's walk: its mode (it keeps it throughout) and the steps.
        type Walk = (crate::inventory::Mode, Vec<(Trigger, GuardContext)>);

        fn arb_walk() -> impl Strategy<Value = Walk> {
            (
                proptest::sample::select(crate::inventory::Mode::ALL.to_vec()),
                proptest::collection::vec((arb_trigger(), arb_ctx()), 1..120),
            )
        }

        /// Walk from `registered`; check the invariants at each step. Returns how many times
        /// the walk entered `cutover`.
        fn walk((mode, steps): Walk) -> Result<u32, TestCaseError> {
            let mut pos = Position::at(Registered);
            let mut cutovers = 0;
            let online = mode.is_online();
            for (trigger, ctx) in steps {
                let ctx = GuardContext { mode, ..ctx };
                let before = pos;
                match decide(pos, trigger, &ctx) {
                    Ok(next) => {
                        // Each path stays on its own stages.
                        let cdc_path = matches!(
                            next.stage,
                            Provisioning | FullLoad | Cdc | Validation | Ready
                        );
                        prop_assert!(online || !cdc_path, "offline in {}", next);
                        prop_assert!(
                            !(next.stage == ReadyOffline && online),
                            "online in {}",
                            next
                        );
                        if next.stage == Cutover && before.stage != Cutover {
                            cutovers += 1;
                            if online {
                                let age = ctx.validation_at.map(|t| now() - t);
                                prop_assert!(ctx.validation_passed);
                                prop_assert!(age.is_some_and(|a| a <= Duration::minutes(60)));
                                prop_assert!(ctx.lag_s.is_some_and(|l| (0.0..=5.0).contains(&l)));
                            }
                            prop_assert!(ctx.window_approved_by.is_some() && ctx.window_open);
                            prop_assert!(!ctx.cutover_in_flight);
                            for r in &ctx.signoff_required {
                                prop_assert!(
                                    ctx.signoff.by(*r).is_some(),
                                    "cutover without the {} sign-off",
                                    r.as_str()
                                );
                            }
                        }
                        if trigger.is_operator() {
                            prop_assert_eq!(ctx.role, Role::Operator);
                        }
                        if trigger == Trigger::Start {
                            prop_assert!(ctx.wave_started, "admitted into an unstarted wave");
                        }
                        if trigger == Trigger::Revalidate {
                            prop_assert!(ctx.window_approved_by.is_some());
                        }
                        prop_assert!(!before.stage.is_terminal());
                        prop_assert_eq!(matches!(next.stage, Failed | Paused), next.held.is_some());
                        pos = next;
                    }
                    Err(e) => prop_assert!(!e.reasons.is_empty()),
                }
            }
            Ok(cutovers)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]
            /// No sequence of triggers under any contexts reaches cutover without an approved,
            /// open window, no other cutover in flight and a sign-off by every role the
            /// database's criticality requires, and online without a passed, fresh validation
            /// and low lag; each mode keeps to its own path; a
            /// viewer never moves a database; terminal stages stay put; positions stay
            /// well-formed.
            #[test]
            fn cutover_only_when_guarded(steps in arb_walk()) {
                walk(steps)?;
            }
        }

        /// The property above is not vacuous: the walks do reach cutover, often.
        #[test]
        fn walks_do_reach_cutover() {
            let mut runner = TestRunner::deterministic();
            let strategy = arb_walk();
            let mut reached = [0, 0];
            for _ in 0..500 {
                let w = strategy.new_tree(&mut runner).unwrap().current();
                let path = usize::from(!w.0.is_online());
                reached[path] += walk(w).unwrap();
            }
            eprintln!("{reached:?} cutovers (online, offline) in 500 walks");
            for (path, n) in ["online", "offline"].iter().zip(reached) {
                assert!(n >= 10, "only {n} {path} cutovers in 500 walks");
            }
        }
    }

    #[test]
    fn hypercare_closes_after_a_passed_restore_test_or_with_a_reason() {
        let mut c = green();
        c.restore_passed_at = None;
        c.close_reason = None;
        let e = decide(Position::at(Hypercare), Trigger::CloseHypercare, &c).unwrap_err();
        assert!(e.to_string().contains("no restore test of"), "{e}");
        c.close_reason = Some("tested by hand".into());
        assert_eq!(
            decide(Position::at(Hypercare), Trigger::CloseHypercare, &c),
            Ok(Position::at(Completed))
        );
        c.close_reason = None;
        c.restore_passed_at = Some(c.now);
        assert_eq!(
            decide(Position::at(Hypercare), Trigger::CloseHypercare, &c),
            Ok(Position::at(Completed))
        );
    }
}
