//! wavedeck: a terminal cockpit and engine for a DRS-based database-migration factory.
//!
//! The layout follows `DESIGN.md`: pure logic (inventory, plan, lifecycle) has no I/O; the
//! store, DRS client, checks, validation and cutover live at the edges.

pub mod alerts;
pub mod assess;
pub mod bench;
pub mod checks;
pub mod cloud;
pub mod config;
pub mod cutover;
pub mod drs;
pub mod engine;
pub mod evidence;
pub mod input;
pub mod inventory;
pub mod lifecycle;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod plan;
pub mod program;
pub mod rehearsal;
pub mod report;
pub mod restore;
pub mod secret;
pub mod signoff;
pub mod store;
pub mod tui;
pub mod validate;
