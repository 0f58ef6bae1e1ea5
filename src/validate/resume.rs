//! Resumable validation: the chunks of a run whose two sides matched are kept in the store
//! (`store::validation`), and an attempt that follows one cut short compares only the chunks
//! not done. A chunk stands only for the schema it was compared under: each table carries a
//! fingerprint of both sides' columns and key, and a chunk of another fingerprint is read
//! again.

use super::canon::ChunkDigest;
use super::catalog::Table;
use super::position::{Mode, Position};
use super::scan::KeyRange;
use crate::store::validation::{SavedChunk, SavedResult};
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A run's memory: what earlier attempts kept, and where this attempt keeps its chunks.
pub struct Memory {
    store: Store,
    db_id: String,
    mode: &'static str,
    pub run: i64,
    pub resumed: bool,
    saved: HashMap<String, Vec<SavedChunk>>,
}

/// A kept chunk, decoded: its range, the digest both sides had, its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trusted {
    pub range: KeyRange,
    pub digest: ChunkDigest,
    pub at: Option<Position>,
}

impl Memory {
    /// Open (or go on with) the run of a database in `mode`.
    pub async fn open(store: &Store, db_id: &str, mode: Mode) -> Result<Memory, String> {
        let err = |e: crate::store::StoreError| format!("the validation memory in the store: {e}");
        let mode = mode.as_str();
        let run = store.open_validation_run(db_id, mode).await.map_err(err)?;
        let mut saved: HashMap<String, Vec<SavedChunk>> = HashMap::new();
        if run.resumed {
            for c in store
                .saved_chunks(db_id, mode, run.run)
                .await
                .map_err(err)?
            {
                saved.entry(c.table.clone()).or_default().push(c);
            }
        }
        Ok(Memory {
            store: store.clone(),
            db_id: db_id.to_string(),
            mode,
            run: run.run,
            resumed: run.resumed,
            saved,
        })
    }

    /// The kept chunks of a table that stand for `fingerprint`, sorted by range. A chunk
    /// whose text this build cannot read is left out (read again).
    pub fn trusted(&self, table: &str, fingerprint: &str) -> Vec<Trusted> {
        let mut out: Vec<Trusted> = self
            .saved
            .get(table)
            .into_iter()
            .flatten()
            .filter(|c| c.fingerprint == fingerprint)
            .filter_map(|c| {
                Some(Trusted {
                    range: KeyRange {
                        lo: bound_of(&c.lo)?,
                        hi: bound_of(&c.hi)?,
                    },
                    digest: serde_json::from_str(&c.digest).ok()?,
                    at: match &c.at {
                        Some(t) => Some(position_of(t)?),
                        None => None,
                    },
                })
            })
            .collect();
        out.sort_by_key(|t| t.range.lo);
        out
    }

    /// Keep a matched chunk. A store that cannot keep it costs a re-read after a crash, not
    /// the result: the failure is logged and the run goes on.
    pub async fn keep(
        &self,
        table: &str,
        fingerprint: &str,
        r: KeyRange,
        d: &ChunkDigest,
        at: Option<&Position>,
    ) {
        let c = SavedChunk {
            table: table.to_string(),
            fingerprint: fingerprint.to_string(),
            lo: bound_text(r.lo),
            hi: bound_text(r.hi),
            rows: d.count,
            digest: serde_json::to_string(d).unwrap_or_default(),
            at: at.map(position_text),
        };
        if let Err(e) = self
            .store
            .save_chunk(&self.db_id, self.mode, self.run, &c)
            .await
        {
            tracing::warn!(db_id = %self.db_id, table, error = %e, "cannot keep a validation chunk");
        }
    }

    /// Each table's marker as this run first saw it (see [`super::fresh`]): `now` is kept for
    /// the tables the run has none for. A store that fails gives none: every table is read.
    pub async fn first_marks(&self, now: &[(String, String)]) -> HashMap<String, String> {
        self.store
            .first_validation_marks(&self.db_id, self.mode, self.run, now)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(db_id = %self.db_id, error = %e, "cannot keep validation markers");
                HashMap::new()
            })
    }

    /// The last passed result of each table (none when the store cannot say).
    pub async fn last_results(&self) -> Vec<SavedResult> {
        self.store
            .validation_results(&self.db_id, self.mode)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(db_id = %self.db_id, error = %e, "cannot read validation results");
                vec![]
            })
    }

    /// Keep the tables that passed in this run, each with the marker taken before its read.
    pub async fn keep_results(&self, results: &[SavedResult]) {
        if let Err(e) = self
            .store
            .keep_validation_results(&self.db_id, self.mode, results)
            .await
        {
            tracing::warn!(db_id = %self.db_id, error = %e, "cannot keep validation results");
        }
    }

    /// Close the run once its report is decided.
    pub async fn finish(&self) {
        if let Err(e) = self
            .store
            .finish_validation_run(&self.db_id, self.mode, self.run)
            .await
        {
            tracing::warn!(db_id = %self.db_id, error = %e, "cannot close the validation run");
        }
    }
}

fn bound_text(b: Option<i128>) -> String {
    b.map(|v| v.to_string()).unwrap_or_default()
}

/// `Some(None)` for an open bound, `None` for text that is not a bound.
fn bound_of(s: &str) -> Option<Option<i128>> {
    match s {
        "" => Some(None),
        s => s.parse().ok().map(Some),
    }
}

fn position_text(p: &Position) -> String {
    match p {
        Position::Lsn(v) => format!("lsn:{v}"),
        Position::Gtid(g) => format!("gtid:{g}"),
    }
}

fn position_of(s: &str) -> Option<Position> {
    match s.split_once(':')? {
        ("lsn", v) => v.parse().ok().map(Position::Lsn),
        ("gtid", g) => Some(Position::Gtid(g.to_string())),
        _ => None,
    }
}

/// What a chunk's result depends on besides the data: both sides' columns (names, types,
/// order), the key, and how the rows are read (`read`, the scans' text) and encoded
/// (`canon::ENCODING`).
pub fn fingerprint(src: &Table, tgt: &Table, read: &str) -> String {
    let mut h = Sha256::new();
    h.update(super::canon::ENCODING.as_bytes());
    for t in [src, tgt] {
        h.update(serde_json::to_string(&t.columns).unwrap_or_default());
        h.update([0]);
        h.update(t.primary_key.join(",").as_bytes());
        h.update([0]);
    }
    h.update(read.as_bytes());
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ranges to compare: the kept ones as they were, and the planned ones without what the
/// kept ones cover (a live table's key span grows between attempts, so the plan moves; the
/// kept chunks do not).
pub fn resume_plan(planned: &[KeyRange], kept: &[KeyRange]) -> Vec<KeyRange> {
    let mut out: Vec<KeyRange> = kept.to_vec();
    for r in planned {
        out.extend(subtract(*r, kept));
    }
    out.sort_by_key(|r| (r.lo.unwrap_or(i128::MIN), r.hi.unwrap_or(i128::MAX)));
    out
}

/// `r` without the ranges in `cover`.
fn subtract(r: KeyRange, cover: &[KeyRange]) -> Vec<KeyRange> {
    let lo_of = |r: &KeyRange| r.lo.unwrap_or(i128::MIN);
    let hi_of = |r: &KeyRange| r.hi.unwrap_or(i128::MAX);
    let mut pieces = vec![(lo_of(&r), hi_of(&r))];
    for c in cover {
        let (clo, chi) = (lo_of(c), hi_of(c));
        pieces = pieces
            .into_iter()
            .flat_map(|(a, b)| {
                if chi <= a || clo >= b {
                    return vec![(a, b)];
                }
                let mut keep = vec![];
                if a < clo {
                    keep.push((a, clo));
                }
                if chi < b {
                    keep.push((chi, b));
                }
                keep
            })
            .collect();
    }
    pieces
        .into_iter()
        .map(|(a, b)| KeyRange {
            lo: (a != i128::MIN).then_some(a),
            hi: (b != i128::MAX).then_some(b),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(lo: i128, hi: i128) -> KeyRange {
        KeyRange {
            lo: Some(lo),
            hi: Some(hi),
        }
    }

    #[test]
    fn nothing_kept_is_the_plan() {
        let plan = [r(1, 10), r(10, 20)];
        assert_eq!(resume_plan(&plan, &[]), plan);
    }

    #[test]
    fn kept_ranges_stand_and_the_plan_fills_the_rest() {
        // The same plan: the kept chunks replace theirs exactly.
        let plan = [r(1, 10), r(10, 20), r(20, 30)];
        assert_eq!(resume_plan(&plan, &[r(10, 20)]), plan);
        // A live table grew: the new plan's step moved, the kept chunks do not, and every key
        // of the new span is covered once.
        let moved = [r(1, 15), r(15, 29), r(29, 43)];
        let got = resume_plan(&moved, &[r(1, 10), r(10, 20)]);
        assert_eq!(got, [r(1, 10), r(10, 20), r(20, 29), r(29, 43)]);
        for w in got.windows(2) {
            assert_eq!(w[0].hi, w[1].lo);
        }
        // A whole table kept (no integer key) stands for the whole table.
        assert_eq!(
            resume_plan(&[KeyRange::ALL], &[KeyRange::ALL]),
            [KeyRange::ALL]
        );
        assert_eq!(resume_plan(&[r(1, 5)], &[KeyRange::ALL]), [KeyRange::ALL]);
    }

    #[test]
    fn texts_round_trip_and_bad_text_is_not_trusted() {
        for b in [None, Some(-5), Some(i128::MAX - 1)] {
            assert_eq!(bound_of(&bound_text(b)), Some(b));
        }
        assert_eq!(bound_of("x"), None);
        for p in [Position::Lsn(0x16B3A28), Position::Gtid("0-1-42".into())] {
            assert_eq!(position_of(&position_text(&p)), Some(p));
        }
        assert_eq!(position_of("scn:1"), None);
    }

    #[test]
    fn the_fingerprint_follows_the_schema() {
        let col = |name: &str, ty: &str| super::super::catalog::Column {
            name: name.into(),
            data_type: ty.into(),
            type_key: ty.into(),
            column_type: ty.into(),
            nullable: true,
            charset: None,
            collation: None,
        };
        let table = |cols: Vec<super::super::catalog::Column>| Table {
            schema: "public".into(),
            name: "t".into(),
            columns: cols,
            primary_key: vec!["id".into()],
            indexes: vec![],
            engine: None,
            collation: None,
        };
        let a = table(vec![col("id", "int4"), col("v", "text")]);
        let fp = fingerprint(&a, &a, "SELECT id, v");
        assert_eq!(fp, fingerprint(&a.clone(), &a.clone(), "SELECT id, v"));
        // A column's type changed on one side, a column added, or the read changed: another.
        let retyped = table(vec![col("id", "int4"), col("v", "varchar")]);
        let added = table(vec![col("id", "int4"), col("v", "text"), col("w", "int4")]);
        assert_ne!(fp, fingerprint(&a, &retyped, "SELECT id, v"));
        assert_ne!(fp, fingerprint(&added, &a, "SELECT id, v"));
        assert_ne!(fp, fingerprint(&a, &a, "SELECT id, v::text"));
    }
}
