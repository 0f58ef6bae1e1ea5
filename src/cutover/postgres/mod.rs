//! PostgreSQL: [`ops`], the server operations a cutover needs (read-only switches, draining,
//! LSNs, logical replication, sequences), and [`steps`], the cutover steps on them.
pub mod ops;
pub(crate) mod steps;
