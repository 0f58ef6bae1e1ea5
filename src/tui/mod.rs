//! The cockpit: a ratatui TUI over the store. `app/` holds the state, the pure key handler and
//! the keymap; `views/` draws it, one file per view; `widgets/` holds the drawing pieces views
//! share; `term` runs the event loop, `feed` polls the store.

pub mod app;
pub mod cmd;
pub mod data;
pub mod feed;
pub mod fixture;
pub mod fleet;
pub mod fmt;
pub mod guards;
pub mod query;
pub mod term;
pub mod theme;
pub mod views;
pub mod wavelist;
pub mod widgets;
pub mod window;

#[cfg(test)]
mod tests;
