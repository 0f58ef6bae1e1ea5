//! The factory inventory: one record per database, loaded from YAML or CSV with the same fields.
//!
//! `model` holds the types every other module uses. `load` reads a file into records with the
//! line of each field, `check` turns records into `DatabaseSpec`s and reports every problem with
//! file:line, `window` parses business windows, `generate` writes realistic factory inventories.

pub mod check;
pub mod cmd;
pub mod generate;
pub mod load;
pub mod model;
pub mod raw;
pub mod window;
pub mod write;

pub use check::Problem;
pub use load::{load_file, load_files};
pub use model::*;
pub use window::BusinessWindow;
