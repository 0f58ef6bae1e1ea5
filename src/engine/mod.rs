//! The engine: the tokio runtime that drives every database of every started wave through its
//! stages, and the only writer of events. See DESIGN.md.
//!
//! - [`brain`]: every decision, pure (admission, stage work, retries, commands, resume).
//! - [`runtime`]: the loop that feeds the brain from the store, DRS and the checks, and writes
//!   its events; [`spawn`] starts it, [`EngineHandle::shutdown`] stops it.
//! - Pure helpers: [`backoff`], [`classify`], [`admission`], [`poll`].

pub mod admission;
pub mod backoff;
pub mod brain;
pub mod classify;
pub mod cmd;
mod dns;
pub mod poll;
pub mod runtime;
mod sql;
pub mod stats;

pub use runtime::{spawn, EngineHandle};
