//! Rehearsal tools: what stands in for Huawei Cloud and for a real fleet, so that the product
//! (engine, cutover, cockpit) can be rehearsed and tested on one machine. Nothing in the product
//! folders needs these to run against real DRS.
//!
//! - [`drs_emulator`]: the DRS v3 REST API on loopback (`wavedeck emulator`), with a native mode
//!   that moves real data between local servers;
//! - [`dns_emulator`]: the Huawei Cloud DNS record-set API the emulator also serves;
//! - [`lab`]: local PostgreSQL and MariaDB pairs, their write workload, the journal driver and
//!   the `wavedeck lab` command;
//! - [`demo`]: `wavedeck demo`, the pilot wave against the in-process emulator.
pub mod demo;
pub mod dns_emulator;
pub mod drs_emulator;
pub mod lab;
