//! Evidence packs: the per-migration artefact (pre-checks, plan, DRS responses, validation,
//! cutover notes, timestamped actions and approvals), exported per database, sealed with a
//! SHA-256 manifest and verifiable line by line.

pub mod against;
pub mod artefacts;
pub mod cmd;
pub mod export;
pub mod format;
pub mod index;
pub mod manifest;
pub mod pack;
pub mod problem;
pub mod verify;
pub mod write;
