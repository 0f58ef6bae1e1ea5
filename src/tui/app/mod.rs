//! Cockpit state and the pure key handler. No I/O here: `handle_key` returns an `Intent` the
//! event loop carries out (quit, submit a command), so every key path is testable.
//! `state` holds what the views show, `update` changes it on a key, `keymap` says which key does
//! what.

pub mod keymap;
mod state;
mod update;

pub use state::*;
pub use update::*;
