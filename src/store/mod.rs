//! The store: an append-only, hash-chained event log, operator commands, and the current state
//! per database and per wave derived from the events. SQLite (default) or PostgreSQL (team mode),
//! chosen by URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
//!
//! Writers: the engine appends events (`append`, `decide_command`); the cockpit records
//! operator intents (`submit_command`). Readers: `db_states`, `wave_states`, `events_after`...

pub mod cmd;
mod commands;
mod db;
mod error;
pub mod event;
mod events;
pub mod fold;
pub mod grant;
pub mod hash;
mod lag;
pub mod lease;
pub mod model;
pub mod operate;
mod outbox;
mod pace;
mod reach;
mod registry;
pub mod report;
mod router;
pub mod status;
pub mod val_progress;
pub mod validation;

pub use commands::{decided_row, decision_event, Decision, NewCommand};
pub use db::{redact_url, Backend, Store};
pub use error::{StoreError, StoreResult};
pub use events::ChainReport;
pub use hash::{canonical_json, event_hash, event_hash_text, ChainBreak, GENESIS_HASH};
pub use lease::Lease;
pub use model::*;
pub use outbox::OutboxRow;
pub use pace::STAGE_MARKS_SQL;
pub use registry::{diff_fields, plan_registration, FieldChange, Known, RegisterReport};
pub use router::Router;
