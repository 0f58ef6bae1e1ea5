//! The engine: the tokio runtime that drives every database of every started wave through its
//! stages, and the only writer of events. See DESIGN.md.
//!
//! - [`brain`]: every decision, pure (admission, stage work, retries, commands, resume).
//! - Pure helpers: [`backoff`], [`classify`], [`admission`], [`poll`].

pub mod admission;
pub mod backoff;
pub mod brain;
pub mod classify;
pub mod cmd;
pub mod poll;
pub mod stats;
