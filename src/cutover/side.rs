//! One side of a cutover (source or target) for either engine: host, port, user, password and
//! database. PostgreSQL code knows the same type as `pg::PgSide`; the engine-specific sessions
//! are opened by `PgSide::connect_admin` / `connect_app` (PostgreSQL) and `my::admin` /
//! `my::app` (MySQL, MariaDB). Errors name the side and the database and never carry the
//! password.
pub use super::postgres::ops::{PgError as SideError, PgSide as Side};
