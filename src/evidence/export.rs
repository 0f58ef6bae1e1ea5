//! `wavedeck evidence export`: read a database's (or a wave's) events from the store, build the
//! packs, write them.

use super::index;
use super::manifest;
use super::pack::{self, PackInputs};
use super::write;
use crate::store::Store;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// What to export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Db(String),
    Wave(u32),
}

/// Export the packs of `sel` into `out`; returns the folders written. A wave export also
/// writes its member list, `out/wave-N.index.json`, once every pack is in place.
pub async fn export(
    store: &Store,
    sel: &Selection,
    out: &Path,
    by: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<PathBuf>> {
    let states = match sel {
        Selection::Db(id) => {
            let st = store
                .db_state(id)
                .await
                .context("read the database state")?
                .with_context(|| {
                    format!("no database {id:?} in the store (see `wavedeck status --json` for the ids)")
                })?;
            vec![st]
        }
        Selection::Wave(n) => {
            let all = store.db_states().await.context("read database states")?;
            let members: Vec<_> = all.into_iter().filter(|s| s.wave == Some(*n)).collect();
            anyhow::ensure!(
                !members.is_empty(),
                "wave {n} has no databases in the store (see `wavedeck status`)"
            );
            members
        }
    };
    let waves = store.wave_states().await.context("read wave states")?;
    let member_of = match sel {
        Selection::Wave(n) => Some(*n),
        Selection::Db(_) => None,
    };
    let mut written = Vec::new();
    let mut members = Vec::new();
    for st in states {
        let events = store
            .events_for_db(&st.db_id)
            .await
            .with_context(|| format!("read the events of {}", st.db_id))?;
        let spec = store
            .db_spec(&st.db_id)
            .await
            .with_context(|| format!("read the inventory record of {}", st.db_id))?;
        let wave = st.wave.and_then(|w| waves.iter().find(|ws| ws.wave == w));
        let wave_events = match st.wave {
            Some(w) => store
                .events_for_wave(w)
                .await
                .with_context(|| format!("read the events of wave {w}"))?,
            None => Vec::new(),
        };
        let pack = pack::build(&PackInputs {
            state: &st,
            spec: spec.as_ref(),
            wave,
            events: &events,
            wave_events: &wave_events,
            exported_at: now,
            exported_by: by,
            member_of,
        })?;
        let secrets = spec.as_ref().map(write::secrets_of).unwrap_or_default();
        written.push(write::write_pack(out, &pack, &secrets)?);
        members.push(index::Member {
            db_id: pack.db_id.clone(),
            manifest_sha256: manifest::sha256_hex(
                pack.files
                    .get(manifest::MANIFEST)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            ),
        });
    }
    if let Some(wave) = member_of {
        members.sort_by(|a, b| a.db_id.cmp(&b.db_id));
        let ix = index::WaveIndex {
            format: index::FORMAT.to_string(),
            wave,
            exported_at: now,
            exported_by: by.to_string(),
            members,
        };
        write::write_index(out, &ix)?;
    }
    Ok(written)
}
