//! The cutover and rollback steps as data: their order, their names in events, and which undo
//! actions a rollback needs given the steps already started. Pure: no I/O.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One cutover step, in runbook order. Every step is idempotent: running it again after it
/// succeeded (or after a crash half-way through) leaves the world as one successful run would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CutoverStep {
    /// Window, validation age, lag, nothing else in flight.
    Guards,
    /// Source read-only for new transactions; existing write sessions ended after the grace.
    DrainSource,
    /// The target applied everything the source committed (LSN compared, not a lag number).
    FinalSync,
    /// Row counts on every table, checksums on the critical ones.
    QuickValidation,
    /// The service name points at the target.
    DnsSwitch,
    /// Replication released, sequences carried over, target writable, smoke tests pass.
    TargetWritesOn,
    /// The rollback window opens; the source stays intact.
    Hypercare,
}

impl CutoverStep {
    pub const ALL: [CutoverStep; 7] = [
        CutoverStep::Guards,
        CutoverStep::DrainSource,
        CutoverStep::FinalSync,
        CutoverStep::QuickValidation,
        CutoverStep::DnsSwitch,
        CutoverStep::TargetWritesOn,
        CutoverStep::Hypercare,
    ];

    /// The name used in `step.intent` / `step.outcome` payloads (`cutover.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            CutoverStep::Guards => "cutover.guards",
            CutoverStep::DrainSource => "cutover.drain_source",
            CutoverStep::FinalSync => "cutover.final_sync",
            CutoverStep::QuickValidation => "cutover.quick_validation",
            CutoverStep::DnsSwitch => "cutover.dns_switch",
            CutoverStep::TargetWritesOn => "cutover.target_writes_on",
            CutoverStep::Hypercare => "cutover.hypercare",
        }
    }

    pub fn parse(s: &str) -> Option<CutoverStep> {
        CutoverStep::ALL
            .into_iter()
            .find(|st| st.as_str() == s || st.as_str().trim_start_matches("cutover.") == s)
    }

    /// 1-based position, as the runbook numbers the steps.
    pub fn number(self) -> usize {
        CutoverStep::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or(0)
            + 1
    }

    /// One line for the operator: what this step does.
    pub fn describe(self) -> &'static str {
        match self {
            CutoverStep::Guards => {
                "check window, validation age, lag and that nothing else is in flight"
            }
            CutoverStep::DrainSource => {
                "set the source read-only and end write sessions after the grace"
            }
            CutoverStep::FinalSync => {
                "wait until the target applied everything the source committed"
            }
            CutoverStep::QuickValidation => {
                "row counts on every table, checksums on critical tables"
            }
            CutoverStep::DnsSwitch => "point the service name at the target",
            CutoverStep::TargetWritesOn => {
                "release replication, carry sequences, target writable, smoke tests"
            }
            CutoverStep::Hypercare => "open the rollback window; the source is kept intact",
        }
    }
}

impl fmt::Display for CutoverStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rollback action, in the order a rollback runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackAction {
    /// Target read-only again, its sessions ended (only when writes reached the target).
    DrainTarget,
    /// Changes written at the target flow back to the source (reverse logical replication),
    /// then the reverse link is removed.
    ReverseSync,
    /// The service name points at the source again.
    DnsBack,
    /// Source writable again (sequences carried back first when the target took writes).
    SourceWritesOn,
}

impl RollbackAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackAction::DrainTarget => "rollback.drain_target",
            RollbackAction::ReverseSync => "rollback.reverse_sync",
            RollbackAction::DnsBack => "rollback.dns_back",
            RollbackAction::SourceWritesOn => "rollback.source_writes_on",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RollbackAction::DrainTarget => "set the target read-only and end its sessions",
            RollbackAction::ReverseSync => {
                "replicate the target's writes back to the source and wait until caught up"
            }
            RollbackAction::DnsBack => "point the service name back at the source",
            RollbackAction::SourceWritesOn => "carry sequences back and make the source writable",
        }
    }
}

impl RollbackAction {
    pub const ALL: [RollbackAction; 4] = [
        RollbackAction::DrainTarget,
        RollbackAction::ReverseSync,
        RollbackAction::DnsBack,
        RollbackAction::SourceWritesOn,
    ];

    pub fn parse(s: &str) -> Option<RollbackAction> {
        RollbackAction::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for RollbackAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The undo actions for a cutover whose steps in `started` have at least begun (an intent was
/// recorded). A step that only started is undone too: every undo action is harmless when its
/// step had no effect yet.
pub fn rollback_plan(started: &[CutoverStep]) -> Vec<RollbackAction> {
    let has = |s: CutoverStep| started.contains(&s);
    let mut plan = Vec::new();
    if has(CutoverStep::TargetWritesOn) || has(CutoverStep::Hypercare) {
        plan.push(RollbackAction::DrainTarget);
        plan.push(RollbackAction::ReverseSync);
    }
    if has(CutoverStep::DnsSwitch)
        || has(CutoverStep::TargetWritesOn)
        || has(CutoverStep::Hypercare)
    {
        plan.push(RollbackAction::DnsBack);
    }
    if started.iter().any(|s| *s >= CutoverStep::DrainSource) {
        plan.push(RollbackAction::SourceWritesOn);
    }
    plan
}

/// The first step of `CutoverStep::ALL` not in `done`, i.e. where a resumed cutover continues.
pub fn next_step(done: &[CutoverStep]) -> Option<CutoverStep> {
    CutoverStep::ALL.into_iter().find(|s| !done.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for s in CutoverStep::ALL {
            assert_eq!(CutoverStep::parse(s.as_str()), Some(s));
            assert_eq!(
                CutoverStep::parse(s.as_str().trim_start_matches("cutover.")),
                Some(s)
            );
        }
        let mut names: Vec<_> = CutoverStep::ALL.iter().map(|s| s.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), 7);
        assert_eq!(CutoverStep::parse("switchover"), None);
        assert_eq!(CutoverStep::Guards.number(), 1);
        assert_eq!(CutoverStep::Hypercare.number(), 7);
    }

    #[test]
    fn nothing_started_needs_no_rollback() {
        assert!(rollback_plan(&[]).is_empty());
        assert!(rollback_plan(&[CutoverStep::Guards]).is_empty());
    }

    #[test]
    fn drained_only_turns_source_writes_back_on() {
        let plan = rollback_plan(&[
            CutoverStep::Guards,
            CutoverStep::DrainSource,
            CutoverStep::FinalSync,
        ]);
        assert_eq!(plan, vec![RollbackAction::SourceWritesOn]);
    }

    #[test]
    fn dns_switched_is_switched_back_before_source_writes() {
        let started = &CutoverStep::ALL[..5];
        assert_eq!(
            rollback_plan(started),
            vec![RollbackAction::DnsBack, RollbackAction::SourceWritesOn]
        );
    }

    #[test]
    fn writes_at_target_are_brought_back_first() {
        for n in 6..=7 {
            assert_eq!(
                rollback_plan(&CutoverStep::ALL[..n]),
                vec![
                    RollbackAction::DrainTarget,
                    RollbackAction::ReverseSync,
                    RollbackAction::DnsBack,
                    RollbackAction::SourceWritesOn
                ]
            );
        }
    }

    #[test]
    fn resume_point_is_first_missing_step() {
        assert_eq!(next_step(&[]), Some(CutoverStep::Guards));
        assert_eq!(
            next_step(&[CutoverStep::Guards, CutoverStep::DrainSource]),
            Some(CutoverStep::FinalSync)
        );
        assert_eq!(next_step(&CutoverStep::ALL), None);
    }
}
