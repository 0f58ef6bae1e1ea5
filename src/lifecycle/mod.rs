//! The lifecycle of one database: stages, the transition table and its guards. Pure code.

pub mod stage;

pub use stage::Stage;
