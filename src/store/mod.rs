//! The store: an append-only, hash-chained event log, operator commands, and the current state
//! per database and per wave derived from the events. SQLite (default) or PostgreSQL (team mode).

pub mod model;

pub use model::*;
pub mod cmd;
