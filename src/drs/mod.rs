//! Huawei DRS (Data Replication Service): the REST client with AK/SK signing, and the emulator
//! that speaks the same API for rehearsals, the demo and the tests.
//!
//! - [`sign`]: SDK-HMAC-SHA256 signing and verification (one implementation for both sides).
//! - [`client::DrsClient`]: typed v3 calls; [`api`]: `ensure_job`, `poll`, request building.
//! - [`emulator`]: `spawn(cfg, addr)` in process, or `wavedeck emulator --listen ...`.
pub mod api;
pub mod auth;
pub mod client;
pub mod codes;
pub mod error;
pub mod job_kind;
pub mod model;
pub mod sign;

pub use api::{EnsuredJob, JobSnapshot};
pub use auth::Auth;
pub use client::DrsClient;
pub use error::DrsError;
pub use model::{JobId, JobStatus};
