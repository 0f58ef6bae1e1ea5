//! What a DRS job status means for a database's lifecycle, in one place: the engine reacts to
//! phases, never to DRS's status words.

use crate::drs::model::JobStatus;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPhase {
    /// DRS is still making the replication instance.
    Creating,
    /// DRS could not make it: the job holds no instance and must be deleted and made again.
    CreateFailed,
    /// Copying: full load (`cdc == false`) or change capture (`cdc == true`).
    Running {
        cdc: bool,
    },
    Pausing,
    /// A failed state a resume may fix.
    Failed,
    /// The instance is released (or the job deleted): nothing held at DRS any more.
    Released,
    /// Anything else (configuring, starting, releasing, rebuilding): wait and look again.
    Busy,
}

impl JobPhase {
    pub fn of(s: &JobStatus) -> JobPhase {
        match s {
            JobStatus::Creating => JobPhase::Creating,
            JobStatus::CreateFailed => JobPhase::CreateFailed,
            JobStatus::FullTransferStarted | JobStatus::FullTransferComplete => {
                JobPhase::Running { cdc: false }
            }
            JobStatus::IncreTransferStarted => JobPhase::Running { cdc: true },
            JobStatus::Pausing => JobPhase::Pausing,
            s if s.is_finished() => JobPhase::Released,
            s if s.is_failed() => JobPhase::Failed,
            _ => JobPhase::Busy,
        }
    }

    /// Whether the job still holds a DRS instance (counts against `limits.drs_concurrency`).
    pub fn holds_instance(self) -> bool {
        !matches!(self, JobPhase::CreateFailed | JobPhase::Released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_agree_with_drs_model() {
        for s in [
            "CREATING",
            "CREATE_FAILED",
            "FULL_TRANSFER_STARTED",
            "INCRE_TRANSFER_STARTED",
            "INCRE_TRANSFER_FAILED",
            "RELEASE_RESOURCE_COMPLETE",
            "RELEASE_CHILD_TRANSFER_COMPLETE",
            "RELEASE_CHILD_TRANSFER_STARTED",
            "DELETED",
            "PAUSING",
            "CONFIGURATION",
            "SOMETHING_NEW",
        ] {
            let st = JobStatus::parse(s);
            let p = JobPhase::of(&st);
            // One reading: a status DRS counts as finished holds no instance here either.
            assert_eq!(p.holds_instance(), !st.is_finished(), "{s}");
            if st.is_failed() && st != JobStatus::CreateFailed {
                assert_eq!(p, JobPhase::Failed, "{s}");
            }
        }
    }

    #[test]
    fn an_ended_job_is_released_whichever_way_it_ended() {
        // A job ended while a re-edit child task ran reports RELEASE_CHILD_TRANSFER_COMPLETE:
        // it holds no instance, so it must not be waited on nor counted against the limit.
        for s in [
            "RELEASE_RESOURCE_COMPLETE",
            "RELEASE_CHILD_TRANSFER_COMPLETE",
        ] {
            let p = JobPhase::of(&JobStatus::parse(s));
            assert_eq!(p, JobPhase::Released, "{s}");
            assert!(!p.holds_instance(), "{s}");
        }
        // Still ending its child task: wait and look again.
        let p = JobPhase::of(&JobStatus::parse("RELEASE_CHILD_TRANSFER_STARTED"));
        assert_eq!(p, JobPhase::Busy);
    }
}
