//! Reading one table (or one primary-key range of it) from either engine, as a chunk digest
//! or as keyed rows for localisation.

use super::canon::{ChunkDigest, RowEncoder};
use super::catalog::{quote_ident, quote_table, Table};
use super::connect::Pool;
use super::decode::{encode_my, encode_pg, MyKind, PgKind};
use super::pace::Pace;
use super::pgcopy::{CopyParser, RowView};
use super::position::Position;
use crate::cutover::postgres::ops::lsn_value as parse_lsn;
use crate::inventory::Engine;
use futures::TryStreamExt;
use sqlx::mysql::{MySqlPool, MySqlRow};
use sqlx::postgres::PgPool;
use sqlx::{Executor, Row};
use std::sync::Arc;

/// How one side reads a table: its quoted name, the SELECT list and each column's decoder.
#[derive(Clone, Debug)]
pub struct SideScan {
    pub engine: Engine,
    pub from: String,
    pub select: String,
    pub kinds: Kinds,
    /// Quoted key column for range predicates (integer single-column keys only).
    pub range_key: Option<String>,
    /// `validation.strict_numeric_scale`.
    pub strict_scale: bool,
    /// `validation.max_rows_per_s`: the side's pace, shared by every read of the run.
    pub pace: Option<Arc<Pace>>,
}

/// A read takes its pace (`validation.max_rows_per_s`) in steps of about this many rows.
const PACE_ROWS: u64 = 256;

/// The rows a read has decoded and not yet taken from its pace.
struct Unpaced<'p> {
    pace: Option<&'p Pace>,
    rows: u64,
}

impl<'p> Unpaced<'p> {
    fn new(pace: Option<&'p Pace>) -> Self {
        Unpaced { pace, rows: 0 }
    }
    /// `rows` more decoded: past [`PACE_ROWS`], wait for the pace.
    async fn add(&mut self, rows: u64) {
        self.rows += rows;
        if self.rows >= PACE_ROWS {
            self.take().await;
        }
    }
    /// The end of the read: the rest.
    async fn take(&mut self) {
        if let (Some(p), n @ 1..) = (self.pace, self.rows) {
            p.take(n).await;
        }
        self.rows = 0;
    }
}

#[derive(Clone, Debug)]
pub enum Kinds {
    Pg(Vec<PgKind>),
    My(Vec<MyKind>),
}

impl Kinds {
    pub fn len(&self) -> usize {
        match self {
            Kinds::Pg(k) => k.len(),
            Kinds::My(k) => k.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Half-open key range `[lo, hi)`; `None` bounds are open (whole table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub lo: Option<i128>,
    pub hi: Option<i128>,
}

impl KeyRange {
    pub const ALL: KeyRange = KeyRange { lo: None, hi: None };
}

/// The rows one read covers: a key range, or (live validation, integer keys) the rows of a few
/// given keys, read again to decide them one by one.
#[derive(Clone, Copy, Debug)]
pub enum Sel<'k> {
    Range(KeyRange),
    Keys(&'k [i128]),
}

/// One row of a range as live validation keeps it to tell which keys differ: its integer key
/// and the first 128 bits of its row hash (32 bytes a row: a 100 000-row chunk keeps 3.2 MB a
/// side while it is compared).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowMark {
    pub key: i128,
    pub hash: u128,
}

impl RowMark {
    /// The mark of a row from its canonical encoding and the canonical bytes of its key
    /// column; `None` when the key is not an integer (then no marks are kept).
    pub fn of(row_hash: &[u8; 32], key: &[u8]) -> Option<RowMark> {
        let key = int_key_value(key)?;
        let mut h = [0u8; 16];
        h.copy_from_slice(&row_hash[..16]);
        Some(RowMark {
            key,
            hash: u128::from_be_bytes(h),
        })
    }
}

/// The value of an integer key from its canonical bytes (`RowEncoder::int`).
pub fn int_key_value(key: &[u8]) -> Option<i128> {
    use super::canon::{TAG_INT, TAG_INT64};
    match key {
        [TAG_INT64, v @ ..] => Some(i64::from_be_bytes(v.try_into().ok()?).into()),
        [TAG_INT, v @ ..] => Some(i128::from_be_bytes(v.try_into().ok()?)),
        _ => None,
    }
}

impl SideScan {
    /// `columns` are the compared columns (in the source's order), all present in `t`.
    pub fn new(engine: Engine, t: &Table, columns: &[String], int_key: Option<&str>) -> SideScan {
        let mut exprs = Vec::new();
        let kinds = match engine {
            Engine::Postgres => Kinds::Pg(
                columns
                    .iter()
                    .map(|c| {
                        let col = t.column(c);
                        let k =
                            PgKind::from_typname(col.map(|c| c.type_key.as_str()).unwrap_or(""));
                        exprs.push(k.select_expr(&quote_ident(engine, c)));
                        k
                    })
                    .collect(),
            ),
            Engine::Mysql => Kinds::My(
                columns
                    .iter()
                    .map(|c| {
                        let col = t.column(c);
                        let k = MyKind::from_types(
                            col.map(|c| c.type_key.as_str()).unwrap_or(""),
                            col.map(|c| c.column_type.as_str()).unwrap_or(""),
                        );
                        exprs.push(k.select_expr(&quote_ident(engine, c)));
                        k
                    })
                    .collect(),
            ),
        };
        SideScan {
            engine,
            from: quote_table(engine, t),
            select: exprs.join(", "),
            kinds,
            range_key: int_key.map(|k| quote_ident(engine, k)),
            strict_scale: false,
            pace: None,
        }
    }

    /// The WHERE clause of a selection. Keys are integers wavedeck read itself, written as
    /// literals like the range bounds.
    fn filter(&self, sel: Sel<'_>) -> String {
        let Some(k) = &self.range_key else {
            return String::new();
        };
        let r = match sel {
            Sel::Range(r) => r,
            Sel::Keys(keys) => {
                let list: Vec<String> = keys.iter().map(|v| v.to_string()).collect();
                // An empty list selects nothing (`IN ()` is not SQL).
                return match list.is_empty() {
                    true => " WHERE 1 = 0".to_string(),
                    false => format!(" WHERE {k} IN ({})", list.join(", ")),
                };
            }
        };
        let mut conds = Vec::new();
        if let Some(lo) = r.lo {
            conds.push(format!("{k} >= {lo}"));
        }
        if let Some(hi) = r.hi {
            conds.push(format!("{k} < {hi}"));
        }
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    }

    pub fn select_sql(&self, r: KeyRange) -> String {
        self.select_of(Sel::Range(r))
    }

    fn select_of(&self, sel: Sel<'_>) -> String {
        format!(
            "SELECT {} FROM {}{}",
            self.select,
            self.from,
            self.filter(sel)
        )
    }

    pub async fn count(&self, pool: &Pool) -> Result<u64, sqlx::Error> {
        let sql = format!("SELECT count(*) FROM {}", self.from);
        let n: i64 = match pool {
            Pool::Pg(p) => sqlx::query(&sql).fetch_one(p).await?.try_get(0)?,
            Pool::My(p) => sqlx::query(&sql).fetch_one(p).await?.try_get(0)?,
        };
        Ok(n.max(0) as u64)
    }

    /// min and max of the integer key (None on an empty table).
    pub async fn key_bounds(&self, pool: &Pool) -> Result<Option<(i128, i128)>, sqlx::Error> {
        let Some(k) = &self.range_key else {
            return Ok(None);
        };
        let (lo, hi): (Option<String>, Option<String>) = match pool {
            Pool::Pg(p) => {
                let r = sqlx::query(&format!(
                    "SELECT min({k})::text, max({k})::text FROM {}",
                    self.from
                ))
                .fetch_one(p)
                .await?;
                (r.try_get(0)?, r.try_get(1)?)
            }
            Pool::My(p) => {
                let r = sqlx::query(&format!(
                    "SELECT CAST(min({k}) AS CHAR), CAST(max({k}) AS CHAR) FROM {}",
                    self.from
                ))
                .fetch_one(p)
                .await?;
                let a: Option<&[u8]> = r.try_get_unchecked(0)?;
                let b: Option<&[u8]> = r.try_get_unchecked(1)?;
                (
                    a.map(|x| String::from_utf8_lossy(x).into_owned()),
                    b.map(|x| String::from_utf8_lossy(x).into_owned()),
                )
            }
        };
        Ok(
            match (
                lo.and_then(|s| s.parse().ok()),
                hi.and_then(|s| s.parse().ok()),
            ) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            },
        )
    }

    /// Visit every row of the range as canonical column encodings. `on_row` gets the encoder
    /// holding the whole row and the end offset of each column in it. With `at` (a position
    /// query, see `position`), the rows are read in a REPEATABLE READ snapshot and the position
    /// that snapshot covers is returned.
    ///
    /// The rows are hashed as they arrive, on this task ([`read_my`] says why): the socket's
    /// buffer keeps the next rows in flight while these are hashed, cold or warm.
    async fn visit<F>(
        &self,
        pool: &Pool,
        sel: Sel<'_>,
        at: Option<&str>,
        mut on_row: F,
    ) -> Result<Option<Position>, ScanError>
    where
        F: FnMut(&RowEncoder, &[usize]),
    {
        let mut enc = RowEncoder::with_strict_scale(self.strict_scale);
        let mut ends: Vec<usize> = Vec::with_capacity(self.kinds.len());
        let at = at.map(str::to_string);
        match (pool, &self.kinds) {
            (Pool::Pg(p), Kinds::Pg(kinds)) => {
                let sql = format!("COPY ({}) TO STDOUT (FORMAT binary)", self.select_of(sel));
                let mut parser = CopyParser::new(kinds.len());
                let pos = read_pg(p, &sql, at.as_deref(), self.pace.as_deref(), |bytes| {
                    let mut rows = 0u64;
                    parser.feed(bytes, &mut |fields: &RowView<'_>| {
                        enc.clear();
                        ends.clear();
                        for (k, f) in kinds.iter().zip(fields.iter()) {
                            encode_pg(*k, f, &mut enc).map_err(|e| e.to_string())?;
                            ends.push(enc.buf.len());
                        }
                        on_row(&enc, &ends);
                        rows += 1;
                        Ok(())
                    })?;
                    Ok(rows)
                })
                .await?;
                parser.finish()?;
                Ok(pos)
            }
            (Pool::My(p), Kinds::My(kinds)) => {
                let sql = self.select_of(sel);
                read_my(p, &sql, at.as_deref(), self.pace.as_deref(), |row| {
                    enc.clear();
                    ends.clear();
                    for (i, k) in kinds.iter().enumerate() {
                        encode_my(*k, row, i, &mut enc)?;
                        ends.push(enc.buf.len());
                    }
                    on_row(&enc, &ends);
                    Ok(())
                })
                .await
            }
            _ => Err(ScanError::Mismatch),
        }
    }

    pub async fn digest(&self, pool: &Pool, r: KeyRange) -> Result<ChunkDigest, ScanError> {
        Ok(self.digest_at(pool, r, None).await?.0)
    }

    /// The digest of the range, read in a snapshot whose position `at` notes (if given).
    pub async fn digest_at(
        &self,
        pool: &Pool,
        r: KeyRange,
        at: Option<&str>,
    ) -> Result<(ChunkDigest, Option<Position>), ScanError> {
        let mut d = ChunkDigest::default();
        let pos = self
            .visit(pool, Sel::Range(r), at, |enc, _| d.add_hash(&enc.sha256()))
            .await?;
        Ok((d, pos))
    }

    /// [`SideScan::digest_at`], also keeping each row's [`RowMark`] (by the integer key in
    /// column `key_col`), sorted. The marks are `None` if a key was not an integer.
    pub async fn marks_at(
        &self,
        pool: &Pool,
        r: KeyRange,
        key_col: usize,
        at: Option<&str>,
    ) -> Result<(ChunkDigest, Option<Vec<RowMark>>, Option<Position>), ScanError> {
        let mut d = ChunkDigest::default();
        let mut marks = Some(Vec::new());
        let pos = self
            .visit(pool, Sel::Range(r), at, |enc, ends| {
                let h = enc.sha256();
                d.add_hash(&h);
                if let Some(m) = marks.as_mut() {
                    let start = if key_col == 0 { 0 } else { ends[key_col - 1] };
                    match ends
                        .get(key_col)
                        .and_then(|&end| RowMark::of(&h, &enc.buf[start..end]))
                    {
                        Some(mark) => m.push(mark),
                        None => marks = None,
                    }
                }
            })
            .await?;
        if let Some(m) = marks.as_mut() {
            m.sort_unstable();
        }
        Ok((d, marks, pos))
    }

    /// Rows of the range with their key (the canonical bytes of `key_cols`, or the whole row
    /// when the table has no key) and per-column canonical bytes.
    pub async fn rows(
        &self,
        pool: &Pool,
        r: KeyRange,
        key_cols: &[usize],
    ) -> Result<Vec<KeyedRow>, ScanError> {
        Ok(self.rows_at(pool, Sel::Range(r), key_cols, None).await?.0)
    }

    /// [`SideScan::rows`] in a snapshot whose position `at` notes (if given).
    pub async fn rows_at(
        &self,
        pool: &Pool,
        sel: Sel<'_>,
        key_cols: &[usize],
        at: Option<&str>,
    ) -> Result<(Vec<KeyedRow>, Option<Position>), ScanError> {
        let mut out = Vec::new();
        let pos = self
            .visit(pool, sel, at, |enc, ends| {
                let cols: Vec<Vec<u8>> = ends
                    .iter()
                    .enumerate()
                    .map(|(i, &end)| {
                        let start = if i == 0 { 0 } else { ends[i - 1] };
                        enc.buf[start..end].to_vec()
                    })
                    .collect();
                let key = if key_cols.is_empty() {
                    enc.buf.clone()
                } else {
                    key_cols
                        .iter()
                        .flat_map(|&i| cols[i].iter().copied())
                        .collect()
                };
                out.push(KeyedRow { key, cols });
            })
            .await?;
        Ok((out, pos))
    }
}

/// One PostgreSQL read: the snapshot and its position when asked, then the binary COPY, its
/// bytes handed to `on_bytes` as they arrive, on this task (which returns the rows they
/// completed); the pace is taken every [`PACE_ROWS`] rows. [`read_my`] says why on this task.
async fn read_pg<F>(
    p: &PgPool,
    sql: &str,
    at: Option<&str>,
    pace: Option<&Pace>,
    mut on_bytes: F,
) -> Result<Option<Position>, ScanError>
where
    F: FnMut(&[u8]) -> Result<u64, ScanError>,
{
    let mut conn = p.acquire().await?;
    let mut pos = None;
    let res: Result<(), ScanError> = async {
        if let Some(q) = at {
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?;
            let text: String = sqlx::query_scalar(q).fetch_one(&mut *conn).await?;
            pos = Some(Position::Lsn(
                parse_lsn(&text).ok_or(ScanError::Position(text))?,
            ));
        }
        {
            let mut stream = conn.copy_out_raw(sql).await?;
            let mut unpaced = Unpaced::new(pace);
            while let Some(chunk) = stream.try_next().await? {
                unpaced.add(on_bytes(&chunk)?).await;
            }
            unpaced.take().await;
        }
        if at.is_some() {
            conn.execute("COMMIT").await?;
        }
        Ok(())
    }
    .await;
    if res.is_err() {
        // The COPY may be half-read: never hand this connection to anyone else.
        conn.close_on_drop();
    }
    res.map(|()| pos)
}

/// One MySQL read: the consistent snapshot and its position when asked, then the SELECT's
/// rows, each handed to `on_row` as it arrives, on this task. No hand-over to another thread:
/// the socket's buffer already lets the server send on while a row is hashed, and on two cores
/// the server's thread and this one each keep a core (a reader task and a hasher task made a
/// third runnable thread, row buffers freed on another thread than the one that made them,
/// and a wake-up per batch). The pace is taken every [`PACE_ROWS`] rows.
async fn read_my<F>(
    p: &MySqlPool,
    sql: &str,
    at: Option<&str>,
    pace: Option<&Pace>,
    mut on_row: F,
) -> Result<Option<Position>, ScanError>
where
    F: FnMut(&MySqlRow) -> Result<(), ScanError>,
{
    let mut conn = p.acquire().await?;
    let mut pos = None;
    let res: Result<(), ScanError> = async {
        if let Some(q) = at {
            conn.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                .await?;
            let text: Option<String> = sqlx::query_scalar(q).fetch_one(&mut *conn).await?;
            pos = Some(Position::Gtid(text.unwrap_or_default()));
        }
        {
            let mut rows = sqlx::query(sql).fetch(&mut *conn);
            let mut unpaced = Unpaced::new(pace);
            while let Some(row) = rows.try_next().await? {
                on_row(&row)?;
                unpaced.add(1).await;
            }
            unpaced.take().await;
        }
        if at.is_some() {
            conn.execute("COMMIT").await?;
        }
        Ok(())
    }
    .await;
    if res.is_err() {
        // The SELECT may be half-read: never hand this connection to anyone else.
        conn.close_on_drop();
    }
    res.map(|()| pos)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedRow {
    pub key: Vec<u8>,
    pub cols: Vec<Vec<u8>>,
}

impl KeyedRow {
    /// The row's [`RowMark`], as [`SideScan::marks_at`] makes it from the same read (the
    /// columns laid end to end are the row's canonical encoding); `None` without an integer key.
    pub fn mark(&self) -> Option<RowMark> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for c in &self.cols {
            h.update(c);
        }
        RowMark::of(&h.finalize().into(), &self.key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Copy(#[from] super::pgcopy::CopyError),
    #[error("internal: pool and scan plan are for different engines")]
    Mismatch,
    #[error("the source printed a WAL position wavedeck cannot read: {0:?}")]
    Position(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::canon::RowEncoder;

    #[test]
    fn a_row_mark_holds_the_integer_key_and_the_hash_of_the_whole_row() {
        let mut enc = RowEncoder::new();
        enc.int(-42);
        let key = enc.buf.clone();
        enc.text(b"hello");
        let row = KeyedRow {
            key: key.clone(),
            cols: vec![key.clone(), enc.buf[key.len()..].to_vec()],
        };
        let m = row.mark().unwrap();
        assert_eq!(m.key, -42);
        assert_eq!(Some(m), RowMark::of(&enc.sha256(), &key));
        // Another value, another hash; a key that is not an integer keeps no mark.
        let mut other = row.clone();
        other.cols[1] = b"x".to_vec();
        assert_ne!(other.mark().unwrap().hash, m.hash);
        assert_eq!(int_key_value(b"\x04abc"), None);
        assert_eq!(int_key_value(&key[..5]), None);
        // A key beyond 64 bits keeps its mark too.
        let mut big = RowEncoder::new();
        big.int(i128::from(i64::MAX) * 4);
        assert_eq!(int_key_value(&big.buf), Some(i128::from(i64::MAX) * 4));
    }

    #[test]
    fn a_key_selection_is_an_in_list_and_an_empty_one_selects_nothing() {
        let t = Table {
            schema: "public".into(),
            name: "t".into(),
            columns: vec![],
            primary_key: vec!["id".into()],
            indexes: vec![],
            engine: None,
            collation: None,
        };
        let scan = SideScan::new(Engine::Postgres, &t, &[], Some("id"));
        assert_eq!(
            scan.filter(Sel::Keys(&[3, -1])),
            r#" WHERE "id" IN (3, -1)"#
        );
        assert_eq!(scan.filter(Sel::Keys(&[])), " WHERE 1 = 0");
        assert_eq!(
            scan.filter(Sel::Range(KeyRange {
                lo: Some(1),
                hi: Some(9)
            })),
            r#" WHERE "id" >= 1 AND "id" < 9"#
        );
    }
}
