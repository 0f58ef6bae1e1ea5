//! `verify --against-store`: a pack is not signed, so someone who rewrites a pack and its
//! manifest consistently passes the file checks. The store's chain is the reference: every line
//! must be the store's event with the same hash, and no event the store holds up to the pack's
//! last one may be missing. Events written after the export are expected and ignored.

use super::format::{PackLine, PackMeta, EVENTS, META, WAVE_EVENTS};
use super::problem::Problem;
use crate::store::model::Event;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Compare the chain files of the pack in `dir` with the store.
pub async fn check_pack(dir: &Path, store: &Store) -> anyhow::Result<Vec<Problem>> {
    let mut out = Vec::new();
    let meta: Option<PackMeta> = std::fs::read(dir.join(META))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(meta) = meta else {
        out.push(Problem {
            file: META.into(),
            line: None,
            what: "unreadable: cannot tell which database to compare with the store".into(),
        });
        return Ok(out);
    };
    let db_events = store.events_for_db(&meta.db_id).await?;
    out.extend(compare(dir, EVENTS, &db_events));
    if let Some(w) = meta.state.wave {
        let wave_events = store.events_for_wave(w).await?;
        out.extend(compare(dir, WAVE_EVENTS, &wave_events));
    }
    Ok(out)
}

/// A wave export's member list against the store's members of that wave: a pack removed
/// together with its index entry (the index rewritten) leaves a database the store has in
/// the wave and the index does not list. `top`: the export folder holding `wave-N.index.json`.
pub async fn check_indexes(top: &Path, store: &Store) -> anyhow::Result<Vec<Problem>> {
    let mut out = Vec::new();
    let indexes = super::verify::read_indexes(top)?;
    if indexes.is_empty() {
        return Ok(out);
    }
    let states = store.db_states().await?;
    for (wave, (_, ix)) in &indexes {
        // An unreadable index is reported by the file checks.
        let Ok(ix) = ix else { continue };
        let listed: HashSet<&str> = ix.members.iter().map(|m| m.db_id.as_str()).collect();
        for st in states.iter().filter(|s| s.wave == Some(*wave)) {
            if !listed.contains(st.db_id.as_str()) {
                out.push(Problem {
                    file: super::index::file_name(*wave),
                    line: None,
                    what: format!(
                        "removed: the store has {} in wave {wave}, and this export does not list \
                         it: its pack was removed with its entry, or it joined the wave after \
                         the export (then export the wave again)",
                        st.db_id
                    ),
                });
            }
        }
    }
    Ok(out)
}

fn compare(dir: &Path, name: &str, stored: &[Event]) -> Vec<Problem> {
    let mut out = Vec::new();
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let by_seq: HashMap<i64, &Event> = stored.iter().map(|e| (e.seq, e)).collect();
    let mut seen = HashSet::new();
    let mut last_seq = i64::MIN;
    for (i, raw) in text.lines().enumerate() {
        // Lines that do not parse are reported by the file checks.
        let Ok(line) = serde_json::from_str::<PackLine>(raw) else {
            continue;
        };
        let seq = line.event.seq;
        seen.insert(seq);
        last_seq = last_seq.max(seq);
        let what = match by_seq.get(&seq) {
            None => Some(format!("event seq {seq} is not in the store")),
            Some(e) if e.hash != line.event.hash || **e != line.event => {
                Some(format!("event seq {seq} differs from the store's"))
            }
            Some(_) => None,
        };
        if let Some(what) = what {
            out.push(Problem {
                file: name.into(),
                line: Some(i + 1),
                what,
            });
        }
    }
    let missing: Vec<String> = stored
        .iter()
        .filter(|e| e.seq <= last_seq && !seen.contains(&e.seq))
        .map(|e| e.seq.to_string())
        .collect();
    if !missing.is_empty() {
        out.push(Problem {
            file: name.into(),
            line: None,
            what: format!(
                "the store holds event(s) seq {} up to this pack's last event, missing from the pack",
                missing.join(", ")
            ),
        });
    }
    out
}
