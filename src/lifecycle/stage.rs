use serde::{Deserialize, Serialize};

/// Where one database is in its migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Registered,
    Prechecks,
    Provisioning,
    FullLoad,
    Cdc,
    Validation,
    Ready,
    /// An offline database (inventory `mode: offline`) after its pre-checks: no DRS job, no
    /// target provisioning, nothing moves until the operator's cutover in the approved window.
    ReadyOffline,
    Cutover,
    Hypercare,
    Completed,
    Failed,
    Paused,
    Aborted,
    RolledBack,
}

impl Stage {
    /// How many stages there are (the length of [`Stage::ALL`], for count arrays).
    pub const COUNT: usize = 15;

    /// The forward path of an online database, in order.
    pub const PIPELINE: [Stage; 10] = [
        Stage::Registered,
        Stage::Prechecks,
        Stage::Provisioning,
        Stage::FullLoad,
        Stage::Cdc,
        Stage::Validation,
        Stage::Ready,
        Stage::Cutover,
        Stage::Hypercare,
        Stage::Completed,
    ];

    /// The forward path of an offline database (inventory `mode: offline`), in order: no
    /// CDC, the full load runs inside the cutover with the source's writes stopped.
    pub const OFFLINE_PIPELINE: [Stage; 6] = [
        Stage::Registered,
        Stage::Prechecks,
        Stage::ReadyOffline,
        Stage::Cutover,
        Stage::Hypercare,
        Stage::Completed,
    ];

    pub const ALL: [Stage; Stage::COUNT] = [
        Stage::Registered,
        Stage::Prechecks,
        Stage::Provisioning,
        Stage::FullLoad,
        Stage::Cdc,
        Stage::Validation,
        Stage::Ready,
        Stage::ReadyOffline,
        Stage::Cutover,
        Stage::Hypercare,
        Stage::Completed,
        Stage::Failed,
        Stage::Paused,
        Stage::Aborted,
        Stage::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Registered => "registered",
            Stage::Prechecks => "prechecks",
            Stage::Provisioning => "provisioning",
            Stage::FullLoad => "full_load",
            Stage::Cdc => "cdc",
            Stage::Validation => "validation",
            Stage::Ready => "ready",
            Stage::ReadyOffline => "ready_offline",
            Stage::Cutover => "cutover",
            Stage::Hypercare => "hypercare",
            Stage::Completed => "completed",
            Stage::Failed => "failed",
            Stage::Paused => "paused",
            Stage::Aborted => "aborted",
            Stage::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Terminal stages take no further automatic step.
    pub fn is_terminal(self) -> bool {
        matches!(self, Stage::Completed | Stage::Aborted | Stage::RolledBack)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in Stage::ALL {
            assert_eq!(Stage::parse(st.as_str()), Some(st));
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
        }
        assert_eq!(Stage::parse("cut_over"), None);
    }
}
