//! The side effects the brain asks for, run against the world: DRS jobs (`drs_jobs`, one at a
//! time or batched), the SQL pre-checks and validation gate (`checks`), the SQL-mode cutover
//! steps (`cutover`), the DNS switch (`dns`) and one polling round of job status (`poll_round`,
//! as `poll_plan` splits it).

/// Fault injection for the kill tests: set to a step name (`cutover.dns_switch`), a runner of
/// that step (the engine; the lab's journal driver) stops after the step's effect, before its
/// outcome is recorded, prints `stalled at <step>` on stderr and waits to be killed. Defined
/// here, in the product, and read by the lab: the engine does not import the rehearsal tools.
pub const FAULT_STALL_ENV: &str = "WAVEDECK_FAULT_STALL_AT";

pub mod checks;
pub(crate) mod ctx;
pub(crate) mod cutover;
pub(crate) mod dns;
pub(crate) mod drs_jobs;
pub mod poll_round;
