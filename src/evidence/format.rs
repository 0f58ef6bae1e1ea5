//! The shape of a pack on disk: its file names, the format version, a chain file's line and
//! `pack.json`. Below the pack builder (`pack.rs`), the derived artefacts and verify, which all
//! read it, so that none of them imports another for it.

use crate::inventory::DatabaseSpec;
use crate::store::model::{DbState, Event, WaveState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Format 2 binds a pack to its wave export (`member_of`, checked against the export's
/// `wave-N.index.json`). Format 1 packs, made before, still verify; their membership cannot be
/// checked.
pub const FORMAT: &str = "wavedeck-evidence/2";
pub const FORMAT_V1: &str = "wavedeck-evidence/1";
pub const EVENTS: &str = "events.jsonl";
pub const WAVE_EVENTS: &str = "wave-events.jsonl";
pub const META: &str = "pack.json";

/// One line of a chain file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackLine {
    #[serde(flatten)]
    pub event: Event,
    /// Hash of the previous line's event in this file (`GENESIS_HASH` on the first line).
    pub pack_prev_hash: String,
}

/// What verify needs to name a line: how many events, the last hash, and each (seq, hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainIndex {
    pub count: usize,
    pub last_hash: String,
    pub events: Vec<(i64, String)>,
}

/// `pack.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackMeta {
    pub format: String,
    pub db_id: String,
    pub exported_at: DateTime<Utc>,
    pub exported_by: String,
    pub wavedeck_version: String,
    /// The database's derived state at export.
    pub state: DbState,
    /// Its inventory record (passwords are references, never values).
    pub spec: Option<DatabaseSpec>,
    /// Its wave's state at export.
    pub wave: Option<WaveState>,
    /// Per chain file (`events.jsonl`, `wave-events.jsonl`).
    pub chains: BTreeMap<String, ChainIndex>,
    /// The wave export this pack was written by (its member list is `wave-N.index.json` in the
    /// folder above); `None` for a database exported alone, and in format 1 packs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_of: Option<u32>,
}

impl PackMeta {
    /// Made before packs were bound to their wave export.
    pub fn unbound(&self) -> bool {
        self.format == FORMAT_V1
    }
}
