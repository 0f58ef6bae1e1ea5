//! `wavedeck report --wave N`: the wave report for stakeholders. What happened to each member
//! (outcome, time in each stage, validation, sign-off, write gap at cutover, alerts, rollbacks)
//! and three charts (stage burn-down, CDC lag around cutover, full-load throughput), as
//! Markdown or as one self-contained HTML file. Read from the store's typed events through the
//! store's own fold; [`build`] is pure, [`cmd`] does the reading and writing.

pub mod build;
pub mod charts;
pub mod cmd;
pub mod render;

pub use build::{build, WaveReport};
