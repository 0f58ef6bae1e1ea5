//! The cockpit: a ratatui TUI over the store. `app` holds the state and the pure key handler,
//! `views` draws it, `term` runs the event loop, `feed` polls the store.

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
pub mod window;

#[cfg(test)]
mod tests;
