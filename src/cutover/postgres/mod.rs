//! PostgreSQL: [`ops`], the server operations a cutover needs (read-only switches, draining,
//! LSNs, logical replication, sequences).
pub mod ops;
