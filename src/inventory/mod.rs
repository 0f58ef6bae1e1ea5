//! The factory inventory: one record per database, loaded from YAML or CSV with the same fields.
//!
//! `model` holds the types every other module uses. Loading and checking (with file:line
//! errors) and the generator live beside it.

pub mod cmd;
pub mod model;

pub use model::*;
