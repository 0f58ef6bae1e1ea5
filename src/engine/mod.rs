//! See DESIGN.md for what this module owns.
pub mod cmd;
