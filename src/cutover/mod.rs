//! Cutover and rollback of one database, and the local replication lab that rehearses them.
//!
//! - [`step`]: the seven cutover steps and the rollback plan, as pure data;
//! - [`run`]: `run_step` / `is_done` / `run_rollback` against real servers (the engine records
//!   intent and outcome around each call);
//! - [`pg`]: PostgreSQL operations (read-only switches, draining, LSNs, replication, sequences);
//! - [`my`]: MySQL / MariaDB operations (write fence, draining, GTIDs, binlog replication,
//!   AUTO_INCREMENT); `run` dispatches on the database's engine (`CutoverCtx::engine`);
//! - [`dns`]: the DNS switch providers (`file` for the lab, Huawei Cloud DNS; rehearsals and
//!   tests point `drs.dns_endpoint` at the DRS emulator, which serves the record-set API);
//! - [`quick`]: the final quick validation (row counts, checksums);
//! - [`driver`]: a resumable journal-backed driver used by the lab and the tests;
//! - [`lab`], [`workload`], [`bench`]: the rehearsal lab, its write workload, and the benchmark;
//! - [`rehearsal`]: the lab wired to the engine through the DRS emulator's native mode.
pub mod context;
pub mod dns_provider;
pub mod mysql;
pub mod postgres;
pub mod quick;
pub mod side;
pub mod steps;

pub use context::{is_done, run_rollback, run_step, CutoverCtx, CutoverError, StepOutcome};
pub use steps::{rollback_plan, RollbackAction, Step};
