//! Restore tests (issue #16, part 2): restore the target's newest finished backup (or a point
//! in time) to a temporary instance, run the runbook's smoke tests and row counts on it against
//! the live target, record the verdict, and delete the instance — after a failure too, and
//! after a crash on the next start. runbooks/restore-test.md says it for people.
//!
//! - [`plan`]: the steps and what comes next, from the log alone (pure).
//! - [`smoke`]: the checks on the restored copy.
//! - [`tester`]: the engine's side: commands, the schedule, intents and outcomes (pure).
//! - [`run`]: a step at the edge, through a [`run::RestoreCloud`].

pub mod cmd;
pub mod plan;
pub mod rds;
pub mod run;
pub mod smoke;
pub mod tester;

pub use plan::{instance_name, Book, Next, Origin, Point, RestoreStep, Run, RunRef, Verdict};
