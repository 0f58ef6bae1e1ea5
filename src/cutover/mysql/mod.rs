//! MySQL / MariaDB: [`ops`], the server operations a cutover needs (write fence, draining,
//! GTIDs, binlog replication, AUTO_INCREMENT), and [`steps`], the cutover steps on them.
pub mod ops;
pub(crate) mod steps;
