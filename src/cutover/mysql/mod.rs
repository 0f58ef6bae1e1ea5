//! MySQL / MariaDB: [`ops`], the server operations a cutover needs (write fence, draining,
//! GTIDs, binlog replication, AUTO_INCREMENT), and the cutover steps on them.
pub mod ops;
pub(super) mod steps;
