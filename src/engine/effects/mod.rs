//! The side effects the brain asks for, run against the world: DRS jobs (`drs_jobs`, one at a
//! time or batched), the SQL-mode cutover steps (`cutover`), the DNS switch (`dns`) and one
//! polling round of job status (`poll_round`, as `poll_plan` splits it).

pub(crate) mod ctx;
pub(crate) mod cutover;
pub(crate) mod dns;
pub(crate) mod drs_jobs;
pub mod poll_round;
