//! The local replication lab: source and target servers on this machine that rehearse a cutover
//! end to end.
//!
//! - [`postgres`]: PostgreSQL clusters with logical replication (and the helpers both labs share:
//!   free ports, tool runs, [`postgres::LabState`], [`postgres::LabError`]);
//! - [`mariadb`]: MariaDB pairs with GTID binlog replication;
//! - [`workload`]: the write workload a client keeps up through the cutover;
//! - [`journal_driver`]: a resumable, journal-backed driver of the cutover steps (the lab's and
//!   the tests' executor; the engine has its own);
//! - [`rehearsal`]: the lab wired to the engine through the DRS emulator's native mode;
//! - [`cmd`]: the `wavedeck lab` command.
pub mod cmd;
pub mod journal_driver;
pub mod mariadb;
pub mod postgres;
pub mod rehearsal;
pub mod workload;
