//! Table comparison: exact counts, PK-range chunk digests on both sides in parallel, live
//! re-checks while CDC runs, and bisection of mismatching ranges down to the differing keys.

use super::canon::ChunkDigest;
use super::connect::Pool;
use super::decode::display_canonical;
use super::position::{Follower, Lag, Position};
use super::report::{DiffKind, RowDifference, TableReport};
use super::resume::{resume_plan, Memory};
use super::runbook::ValidationSettings;
use super::scan::{KeyRange, KeyedRow, RowMark, Sel, SideScan};
use futures::future::BoxFuture;
use futures::{StreamExt, TryFutureExt};
use std::collections::BTreeMap;
use tokio::sync::Semaphore;

/// One table to compare.
#[derive(Clone, Debug)]
pub struct TableJob {
    pub name: String,
    pub columns: Vec<String>,
    /// Indexes into `columns` of the primary key (empty: no key, rows compared as a multiset).
    pub key_cols: Vec<usize>,
    /// Single integer key: PK-range chunks and bisection.
    pub int_key: bool,
    pub src: SideScan,
    pub tgt: SideScan,
    pub note: Option<String>,
    /// Both sides' schema as the comparison sees it (see [`super::resume::fingerprint`]).
    pub fingerprint: String,
}

pub struct Ctx<'a> {
    pub src: &'a Pool,
    pub tgt: &'a Pool,
    pub settings: &'a ValidationSettings,
    /// Given while CDC runs: every range is compared at a confirmed position of the stream.
    pub live: Option<&'a Follower>,
    /// Where matched chunks are kept, and what earlier attempts of this run kept.
    pub memory: Option<&'a Memory>,
    /// Where the attempt's progress is written for the cockpit.
    pub progress: Option<&'a super::progress::Recorder>,
    /// Reads in flight per side: live chunks wait for positions between their two reads, so
    /// more chunks are in flight than there are sessions.
    src_slots: Semaphore,
    tgt_slots: Semaphore,
}

/// One range compared: both digests, and (live) the position of the source read, whether it
/// took a re-read, or why it could not be decided.
struct Compared {
    s: ChunkDigest,
    t: ChunkDigest,
    at: Option<Position>,
    rechecked: bool,
    undecided: Option<String>,
    /// Live: the source changed between the reads and the range is worth splitting.
    hot: bool,
    /// Live: the range's differing keys were decided one by one, and these rows (source,
    /// target) are the real differences: nothing is left to localise.
    rows: Option<(Vec<KeyedRow>, Vec<KeyedRow>)>,
}

/// One side's read of a range: its digest, its rows' marks when asked for, its position.
struct Read {
    d: ChunkDigest,
    marks: Option<Vec<RowMark>>,
    at: Option<Position>,
}

/// A hot range is split while it holds more rows than this; below, it is read again.
const HOT_SPLIT_MIN_ROWS: u64 = 64;

/// The two halves of an integer key range, if it has two.
fn halves(r: KeyRange) -> Option<(KeyRange, KeyRange)> {
    match (r.lo, r.hi) {
        (Some(lo), Some(hi)) if hi - lo > 1 => {
            let mid = lo + (hi - lo) / 2;
            Some((
                KeyRange {
                    lo: Some(lo),
                    hi: Some(mid),
                },
                KeyRange {
                    lo: Some(mid),
                    hi: Some(hi),
                },
            ))
        }
        _ => None,
    }
}

impl<'a> Ctx<'a> {
    pub fn new(
        src: &'a Pool,
        tgt: &'a Pool,
        settings: &'a ValidationSettings,
        live: Option<&'a Follower>,
    ) -> Ctx<'a> {
        // A side's pool holds `parallelism` sessions. Live, one of them is kept from the reads
        // for the position queries, which run while the reads hold theirs.
        let par = settings.parallelism.max(1);
        let reads = match live {
            Some(_) if par > 1 => par - 1,
            _ => par,
        };
        Ctx {
            src,
            tgt,
            settings,
            live,
            memory: None,
            progress: None,
            src_slots: Semaphore::new(reads),
            tgt_slots: Semaphore::new(reads),
        }
    }

    /// Digest one side's range on a task of its own: decoding and hashing are client CPU, and
    /// polled inside one task every chunk of the gate would share one core. With `marks` (an
    /// integer key), each row's mark is kept too.
    async fn side(
        &self,
        job: &TableJob,
        r: KeyRange,
        source: bool,
        at: Option<&'static str>,
        marks: bool,
    ) -> Result<Read, String> {
        let (scan, pool, slots, which) = if source {
            (&job.src, self.src, &self.src_slots, "source")
        } else {
            (&job.tgt, self.tgt, &self.tgt_slots, "target")
        };
        let _permit = slots
            .acquire()
            .await
            .map_err(|e| format!("{} on {which}: {e}", job.name))?;
        let (scan, pool) = (scan.clone(), pool.clone());
        let key_col = job
            .key_cols
            .first()
            .copied()
            .filter(|_| marks && job.int_key);
        let task = async move {
            match key_col {
                Some(k) => scan.marks_at(&pool, r, k, at).await,
                None => scan
                    .digest_at(&pool, r, at)
                    .await
                    .map(|(d, p)| (d, None, p)),
            }
        };
        match tokio::spawn(task).await {
            Ok(Ok((d, marks, at))) => Ok(Read { d, marks, at }),
            Ok(Err(e)) => Err(format!("{} on {which}: {e}", job.name)),
            Err(e) => Err(format!(
                "{} on {which}: the digest task failed: {e}",
                job.name
            )),
        }
    }

    async fn pair(
        &self,
        job: &TableJob,
        r: KeyRange,
    ) -> Result<(ChunkDigest, ChunkDigest), String> {
        let (s, t) = futures::try_join!(
            self.side(job, r, true, None, false),
            self.side(job, r, false, None, false)
        )?;
        Ok((s.d, t.d))
    }

    /// Compare one range. Final: both sides as they are. Live: the source in a snapshot at
    /// position P, the target once P is confirmed. When they differ and the key is an integer,
    /// the rows' marks of both reads name the keys that differ, and only those are decided,
    /// key by key ([`Ctx::by_keys`]): a write landing anywhere in a chunk between its reads
    /// costs a few point reads, not the chunk read again. Otherwise (or when too many keys
    /// differ) the source is read again whole, and
    /// - the target equals the new read: it matched (the target was past P);
    /// - the source did not change: the target held a state between the two reads, when the
    ///   source held this very data, and differs from it: a real difference;
    /// - the source changed (a hot range): compare again at the new position, up to
    ///   `validation.max_rechecks` times, then leave it undecided.
    async fn compare(&self, job: &TableJob, r: KeyRange) -> Result<Compared, String> {
        let done = |s, t, at, rechecked, undecided, hot, rows| Compared {
            s,
            t,
            at,
            rechecked,
            undecided,
            hot,
            rows,
        };
        let Some(f) = self.live else {
            let (s, t) = self.pair(job, r).await?;
            return Ok(done(s, t, None, false, None, false, None));
        };
        let read_source = |marks| async move {
            match self.side(job, r, true, Some(f.position_sql), marks).await? {
                Read {
                    d,
                    marks,
                    at: Some(p),
                } => Ok((d, marks, p)),
                _ => Err(format!("{}: the source read noted no position", job.name)),
            }
        };
        let (mut s, mut s_marks, mut p) = read_source(job.int_key).await?;
        let mut rechecked = false;
        for _ in 0..=self.settings.max_rechecks {
            if let Err(Lag(why)) = f.reached(self.src, self.tgt, &p).await {
                let none = ChunkDigest::default();
                return Ok(done(s, none, Some(p), rechecked, Some(why), false, None));
            }
            let tr = self.side(job, r, false, None, s_marks.is_some()).await?;
            let t = tr.d;
            if t == s {
                return Ok(done(s, t, Some(p), rechecked, None, false, None));
            }
            if let (Some(sm), Some(tm)) = (s_marks.take(), tr.marks.as_deref()) {
                match self.by_keys(job, f, &sm, tm).await? {
                    Some((LeafRows::Same, p2)) => {
                        // Every differing key was the target past P: the range matched.
                        let at = Some(p2.max(p));
                        return Ok(done(t, t, at, true, None, false, None));
                    }
                    Some((LeafRows::Differ(a, b), p2)) => {
                        let at = Some(p2.max(p));
                        return Ok(done(s, t, at, true, None, false, Some((a, b))));
                    }
                    Some((LeafRows::Undecided(why), _)) => {
                        return Ok(done(s, t, Some(p), true, Some(why), false, None));
                    }
                    None => {}
                }
            }
            let (s2, _, p2) = read_source(false).await?;
            if t == s2 || s2 == s {
                let at = Some(if s2 == s { p } else { p2 });
                return Ok(done(s2, t, at, true, None, false, None));
            }
            // Writes landed in the range between the reads: a smaller range is less likely
            // to be written in the same time, so split it rather than read it all again.
            if job.int_key && halves(r).is_some() && s.count.max(s2.count) > HOT_SPLIT_MIN_ROWS {
                return Ok(done(s2, t, Some(p2), true, None, true, None));
            }
            (s, p, rechecked) = (s2, p2, true);
        }
        let why = format!(
            "hot: the range changed on the source between every pair of reads ({} re-reads, \
             validation.max_rechecks)",
            self.settings.max_rechecks + 1
        );
        let none = ChunkDigest::default();
        Ok(done(s, none, Some(p), rechecked, Some(why), false, None))
    }

    /// Decide a live range from its rows' marks: `src` read at P, `tgt` read once P was
    /// confirmed. Only the keys whose marks differ are read again: the source's rows of those
    /// keys now, and a key whose target rows equal them matched (the target was past P, the
    /// first rule of [`leaf_verdict`]); the keys left are decided by [`live_rows`], as a leaf.
    /// `None`: no key differs although the digests do (a hash prefix collision), or more keys
    /// differ than `validation.leaf_rows`: the caller reads the range again whole.
    async fn by_keys(
        &self,
        job: &TableJob,
        f: &Follower,
        src: &[RowMark],
        tgt: &[RowMark],
    ) -> Result<Option<(LeafRows, Position)>, String> {
        let keys = differing_keys(src, tgt);
        if keys.is_empty() || keys.len() as u64 > self.settings.leaf_rows {
            return Ok(None);
        }
        let (again, p2) = job
            .src
            .rows_at(
                self.src,
                Sel::Keys(&keys),
                &job.key_cols,
                Some(f.position_sql),
            )
            .await
            .map_err(|e| format!("{} on source: {e}", job.name))?;
        let Some(p2) = p2 else {
            return Err(format!("{}: the source read noted no position", job.name));
        };
        let Some(mut again) = again.iter().map(KeyedRow::mark).collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        again.sort_unstable();
        let tgt_of_keys: Vec<RowMark> = tgt
            .iter()
            .filter(|m| keys.binary_search(&m.key).is_ok())
            .copied()
            .collect();
        let open = differing_keys(&again, &tgt_of_keys);
        if open.is_empty() {
            return Ok(Some((LeafRows::Same, p2)));
        }
        Ok(Some((live_rows(self, f, job, Sel::Keys(&open)).await?, p2)))
    }

    /// [`Ctx::compare`], with hot ranges split into halves until each half is decided (or is
    /// too small to split, and re-read up to `validation.max_rechecks` times).
    fn settle<'b>(
        &'b self,
        job: &'b TableJob,
        r: KeyRange,
    ) -> BoxFuture<'b, Result<Compared, String>> {
        Box::pin(async move {
            let c = self.compare(job, r).await?;
            let Some((left, right)) = halves(r).filter(|_| c.hot) else {
                return Ok(c);
            };
            let (a, b) = futures::try_join!(self.settle(job, left), self.settle(job, right))?;
            let (mut s, mut t) = (a.s, a.t);
            s.merge(&b.s);
            t.merge(&b.t);
            // The halves' rows stand for the whole range only if every half was decided
            // (matched, or its differing rows found); else the range is localised again.
            let rows = match (decided_rows(&a), decided_rows(&b)) {
                (Some((mut s1, mut t1)), Some((s2, t2))) if s != t => {
                    s1.extend(s2);
                    t1.extend(t2);
                    Some((s1, t1))
                }
                _ => None,
            };
            Ok(Compared {
                s,
                t,
                at: a.at.max(b.at),
                rechecked: true,
                undecided: a.undecided.or(b.undecided),
                hot: false,
                rows,
            })
        })
    }

    async fn counts(&self, job: &TableJob) -> Result<(u64, u64), String> {
        futures::try_join!(
            job.src
                .count(self.src)
                .map_err(|e| format!("{} on source: {e}", job.name)),
            job.tgt
                .count(self.tgt)
                .map_err(|e| format!("{} on target: {e}", job.name)),
        )
    }
}

/// A range's real differences, if it is decided to the rows: none when it matched.
fn decided_rows(c: &Compared) -> Option<(Vec<KeyedRow>, Vec<KeyedRow>)> {
    match (&c.rows, c.s == c.t && c.undecided.is_none()) {
        (_, true) => Some((vec![], vec![])),
        (Some(rows), false) => Some(rows.clone()),
        (None, false) => None,
    }
}

/// The keys whose rows differ between two mark lists sorted by (key, hash): a key present on
/// one side only, or whose rows' hashes are not the same multiset. Sorted.
fn differing_keys(a: &[RowMark], b: &[RowMark]) -> Vec<i128> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    loop {
        let k = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.key.min(y.key),
            (Some(x), None) => x.key,
            (None, Some(y)) => y.key,
            (None, None) => return out,
        };
        let i2 = i + a[i..].iter().take_while(|m| m.key == k).count();
        let j2 = j + b[j..].iter().take_while(|m| m.key == k).count();
        if a[i..i2] != b[j..j2] {
            out.push(k);
        }
        (i, j) = (i2, j2);
    }
}

/// Split `[min, max]` into about `rows / chunk_rows` contiguous half-open ranges.
pub fn plan_ranges(bounds: Option<(i128, i128)>, rows: u64, chunk_rows: u64) -> Vec<KeyRange> {
    let Some((lo, hi)) = bounds else {
        return vec![KeyRange::ALL];
    };
    let n = rows.div_ceil(chunk_rows.max(1)).max(1) as i128;
    let span = hi - lo + 1;
    let step = ((span + n - 1) / n).max(1);
    let mut out = Vec::new();
    let mut a = lo;
    while a <= hi {
        let b = (a + step).min(hi + 1);
        out.push(KeyRange {
            lo: Some(a),
            hi: Some(b),
        });
        a = b;
    }
    out
}

struct Found {
    diffs: Vec<RowDifference>,
    truncated: bool,
    cap: usize,
    /// A range on the way to the keys could not be decided (live).
    undecided: Option<String>,
}

impl Found {
    fn push(&mut self, d: RowDifference) {
        if self.diffs.len() < self.cap {
            self.diffs.push(d);
        } else {
            self.truncated = true;
        }
    }
    fn full(&self) -> bool {
        self.diffs.len() >= self.cap
    }
}

fn key_display(job: &TableJob, row: &KeyedRow) -> String {
    if job.key_cols.is_empty() {
        let mut s = format!("(no key) row ({})", display_canonical(&row.key));
        if s.len() > 200 {
            let mut cut = 200;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push_str("...");
        }
        return s;
    }
    job.key_cols
        .iter()
        .map(|&i| format!("{}={}", job.columns[i], display_canonical(&row.cols[i])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compare two row sets by key.
fn diff_rows(job: &TableJob, src: &[KeyedRow], tgt: &[KeyedRow], found: &mut Found) {
    let mut by_key: BTreeMap<&[u8], (Vec<&KeyedRow>, Vec<&KeyedRow>)> = BTreeMap::new();
    for r in src {
        by_key.entry(&r.key).or_default().0.push(r);
    }
    for r in tgt {
        by_key.entry(&r.key).or_default().1.push(r);
    }
    for (s, t) in by_key.values() {
        let sample = s.first().or(t.first());
        let Some(sample) = sample else { continue };
        let key = key_display(job, sample);
        let mk = |kind, columns| RowDifference {
            table: job.name.clone(),
            key: key.clone(),
            kind,
            columns,
        };
        if job.key_cols.is_empty() {
            for _ in t.len()..s.len() {
                found.push(mk(DiffKind::MissingOnTarget, vec![]));
            }
            for _ in s.len()..t.len() {
                found.push(mk(DiffKind::ExtraOnTarget, vec![]));
            }
            continue;
        }
        match (s.first(), t.first()) {
            (Some(_), None) => found.push(mk(DiffKind::MissingOnTarget, vec![])),
            (None, Some(_)) => found.push(mk(DiffKind::ExtraOnTarget, vec![])),
            (Some(a), Some(b)) if a.cols != b.cols => {
                let cols = job
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| a.cols.get(*i) != b.cols.get(*i))
                    .map(|(_, c)| c.clone())
                    .collect();
                found.push(mk(DiffKind::Changed, cols));
            }
            _ => {}
        }
    }
}

/// Narrow a mismatching range down to rows: halve integer ranges until they hold at most
/// `leaf_rows` rows, then compare rows by key.
async fn localise(
    ctx: &Ctx<'_>,
    job: &TableJob,
    range: KeyRange,
    digests: (ChunkDigest, ChunkDigest),
    found: &mut Found,
) -> Result<Option<String>, String> {
    type Todo = (
        KeyRange,
        (
            ChunkDigest,
            ChunkDigest,
            Option<(Vec<KeyedRow>, Vec<KeyedRow>)>,
        ),
    );
    let mut stack: Vec<Todo> = vec![(range, (digests.0, digests.1, None))];
    let half = |r: KeyRange| async move {
        let c = ctx.settle(job, r).await.map_err(Ok)?;
        if let Some(why) = c.undecided {
            return Err(Err(why));
        }
        Ok((c.s, c.t, c.rows))
    };
    while let Some((r, (ds, dt, rows))) = stack.pop() {
        if ds == dt {
            continue;
        }
        // Live: a half decided key by key already holds its differing rows.
        if let Some((s, t)) = rows {
            diff_rows(job, &s, &t, found);
            continue;
        }
        if found.full() {
            found.truncated = true;
            return Ok(None);
        }
        let n = ds.count.max(dt.count);
        let split = halves(r).filter(|_| job.int_key && n > ctx.settings.leaf_rows);
        if let Some((left, right)) = split {
            let (l, rr) = match futures::try_join!(half(left), half(right)) {
                Ok(x) => x,
                Err(Ok(e)) => return Err(e),
                Err(Err(why)) => {
                    found.undecided = Some(why);
                    return Ok(None);
                }
            };
            // Depth-first, lower keys first, so "first N" means the lowest keys.
            stack.push((right, rr));
            stack.push((left, l));
            continue;
        }
        if !job.int_key && n > ctx.settings.max_row_compare_rows {
            return Ok(Some(format!(
                "{n} rows differ somewhere; too many to compare in memory without an integer key \
                 (raise validation.max_row_compare_rows or add an integer primary key)"
            )));
        }
        let (s, t) = match ctx.live {
            None => futures::try_join!(
                job.src
                    .rows(ctx.src, r, &job.key_cols)
                    .map_err(|e| format!("{} on source: {e}", job.name)),
                job.tgt
                    .rows(ctx.tgt, r, &job.key_cols)
                    .map_err(|e| format!("{} on target: {e}", job.name)),
            )?,
            Some(f) => match live_rows(ctx, f, job, Sel::Range(r)).await? {
                LeafRows::Differ(s, t) => (s, t),
                LeafRows::Same => continue,
                LeafRows::Undecided(why) => {
                    found.undecided = Some(why);
                    return Ok(None);
                }
            },
        };
        diff_rows(job, &s, &t, found);
    }
    Ok(None)
}

/// A leaf range's rows compared live.
enum LeafRows {
    /// Nothing differs at the position (or the target was already past it).
    Same,
    /// The rows of the keys that really differ: source, target.
    Differ(Vec<KeyedRow>, Vec<KeyedRow>),
    /// Not decided: the position was not reached, or the source kept changing.
    Undecided(String),
}

/// The rows of a leaf range, live, decided key by key by the rule a chunk's digests follow
/// ([`Ctx::compare`]): the source is read at a position, the target once it reached it, and
/// when they differ the source is read again. A key whose target rows equal the new read
/// matched (the target was past the position); a key whose source rows did not change between
/// the reads really differs; a key whose source changed is read again, up to
/// `validation.max_rechecks` times. So a difference that is only lag is never reported.
async fn live_rows(
    ctx: &Ctx<'_>,
    f: &Follower,
    job: &TableJob,
    sel: Sel<'_>,
) -> Result<LeafRows, String> {
    let read_source = || async {
        job.src
            .rows_at(ctx.src, sel, &job.key_cols, Some(f.position_sql))
            .await
            .map_err(|e| format!("{} on source: {e}", job.name))
    };
    let (mut s, mut p) = read_source().await?;
    for _ in 0..=ctx.settings.max_rechecks {
        if let Some(p) = &p {
            if let Err(Lag(why)) = f.reached(ctx.src, ctx.tgt, p).await {
                return Ok(LeafRows::Undecided(why));
            }
        }
        let (t, _) = job
            .tgt
            .rows_at(ctx.tgt, sel, &job.key_cols, None)
            .await
            .map_err(|e| format!("{} on target: {e}", job.name))?;
        if by_key(&s) == by_key(&t) {
            return Ok(LeafRows::Same);
        }
        let (s2, p2) = read_source().await?;
        match leaf_verdict(&s, &s2, &t) {
            Some(verdict) => return Ok(verdict),
            None => (s, p) = (s2, p2),
        }
    }
    Ok(LeafRows::Undecided(format!(
        "hot: rows of {} changed on the source between every pair of reads ({} re-reads, \
         validation.max_rechecks)",
        job.name,
        ctx.settings.max_rechecks + 1
    )))
}

/// Decides a leaf from its rows: `first` (source at the position the target reached), `tgt`,
/// and `again` (the source read after the target). `None`: some source rows changed between
/// the reads and nothing that differs is stable yet, so read again.
fn leaf_verdict(first: &[KeyedRow], again: &[KeyedRow], tgt: &[KeyedRow]) -> Option<LeafRows> {
    let (first, again, tgt) = (by_key(first), by_key(again), by_key(tgt));
    let keys: std::collections::BTreeSet<&[u8]> = first
        .keys()
        .chain(again.keys())
        .chain(tgt.keys())
        .copied()
        .collect();
    let none = Vec::new();
    let (mut real_s, mut real_t, mut changed) = (Vec::new(), Vec::new(), false);
    for k in keys {
        let (a, b, c) = (
            first.get(k).unwrap_or(&none),
            again.get(k).unwrap_or(&none),
            tgt.get(k).unwrap_or(&none),
        );
        if b == c {
            continue; // equal now: the target was past the position
        }
        if a == b {
            real_s.extend(b.iter().map(|row| (*row).clone()));
            real_t.extend(c.iter().map(|row| (*row).clone()));
        } else {
            changed = true;
        }
    }
    if !real_s.is_empty() || !real_t.is_empty() {
        Some(LeafRows::Differ(real_s, real_t))
    } else if changed {
        None
    } else {
        Some(LeafRows::Same)
    }
}

/// Rows grouped by key, each group in a fixed order (a table without a key keys by the whole
/// row, so a group holds its duplicates), whatever order the read returned them in.
fn by_key(rows: &[KeyedRow]) -> BTreeMap<&[u8], Vec<&KeyedRow>> {
    let mut m: BTreeMap<&[u8], Vec<&KeyedRow>> = BTreeMap::new();
    for row in rows {
        m.entry(row.key.as_slice()).or_default().push(row);
    }
    for group in m.values_mut() {
        group.sort_by(|x, y| x.cols.cmp(&y.cols));
    }
    m
}

type ChunkOutcome = (usize, KeyRange, Result<Compared, String>);

async fn chunk_task(ctx: &Ctx<'_>, jobs: &[TableJob], ti: usize, r: KeyRange) -> ChunkOutcome {
    let job = &jobs[ti];
    if let Some(p) = ctx.progress {
        p.started(ti);
    }
    let res = ctx.settle(job, r).await;
    if let (Some(p), Ok(c)) = (ctx.progress, &res) {
        p.done(ti, c.s.count).await;
    }
    if let (Some(m), Ok(c)) = (ctx.memory, &res) {
        if c.s == c.t && c.undecided.is_none() {
            m.keep(&job.name, &job.fingerprint, r, &c.s, c.at.as_ref())
                .await;
        }
    }
    (ti, r, res)
}

/// Compare all tables; chunks of all tables share one pool of `parallelism` workers.
pub async fn compare_tables(ctx: &Ctx<'_>, jobs: &[TableJob]) -> (Vec<TableReport>, Vec<String>) {
    let par = ctx.settings.parallelism.max(1);
    let mut errors = Vec::new();

    // 1. Exact counts, in parallel across tables.
    // Futures are collected into a Vec first: a closure kept inside the stream would make the
    // whole future lose `Send` (higher-ranked lifetime inference), and the engine spawns it.
    let count_futs: Vec<_> = jobs.iter().map(|j| ctx.counts(j)).collect();
    let counts: Vec<Result<(u64, u64), String>> = futures::stream::iter(count_futs)
        .buffered(par)
        .collect()
        .await;

    // 2. Chunk plans (integer keys: ranges over the union of both sides' key bounds).
    let mut plans: Vec<Vec<KeyRange>> = Vec::with_capacity(jobs.len());
    let mut estimates: Vec<u64> = Vec::with_capacity(jobs.len());
    for (job, c) in jobs.iter().zip(&counts) {
        let rows = c.as_ref().map(|(a, b)| (*a).max(*b)).unwrap_or(0);
        estimates.push(rows);
        let bounds = if job.int_key {
            let b = futures::try_join!(job.src.key_bounds(ctx.src), job.tgt.key_bounds(ctx.tgt));
            match b {
                Ok((a, b)) => match (a, b) {
                    (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
                    (x, y) => x.or(y),
                },
                Err(e) => {
                    errors.push(format!("{}: {e}", job.name));
                    None
                }
            }
        } else {
            None
        };
        let ranges = if job.int_key && bounds.is_none() {
            vec![KeyRange::ALL] // empty on both sides (or bounds failed): one trivial chunk
        } else {
            plan_ranges(bounds, rows, ctx.settings.chunk_rows)
        };
        plans.push(ranges);
    }

    // 3. Digests of every chunk, both sides at once, re-checked while CDC runs; the chunks an
    // earlier attempt of this run matched stand as they were.
    let mut per_table: Vec<Vec<(KeyRange, Compared)>> = (0..jobs.len()).map(|_| vec![]).collect();
    let mut resumed = vec![0u64; jobs.len()];
    let mut resumed_rows = vec![0u64; jobs.len()];
    let mut tasks: Vec<(usize, KeyRange)> = Vec::new();
    for (ti, rs) in plans.iter().enumerate() {
        let kept = ctx
            .memory
            .map(|m| m.trusted(&jobs[ti].name, &jobs[ti].fingerprint))
            .unwrap_or_default();
        let ranges: Vec<KeyRange> = kept.iter().map(|k| k.range).collect();
        for r in resume_plan(rs, &ranges) {
            match kept.iter().find(|k| k.range == r) {
                Some(k) => {
                    resumed[ti] += 1;
                    resumed_rows[ti] += k.digest.count;
                    per_table[ti].push((
                        r,
                        Compared {
                            s: k.digest,
                            t: k.digest,
                            at: k.at.clone(),
                            rechecked: false,
                            undecided: None,
                            hot: false,
                            rows: None,
                        },
                    ));
                }
                None => tasks.push((ti, r)),
            }
        }
    }
    let chunk_futs: Vec<_> = tasks
        .into_iter()
        .map(|(ti, r)| chunk_task(ctx, jobs, ti, r))
        .collect();
    // Live chunks wait for their position between the two reads: keep more of them in flight
    // than there are sessions, so the reads of one overlap the waits of the others.
    if let Some(p) = ctx.progress {
        let tables = jobs.iter().enumerate();
        p.begin(
            tables
                .map(|(ti, j)| (j.name.clone(), estimates[ti], resumed_rows[ti]))
                .collect(),
        )
        .await;
    }
    let in_flight = if ctx.live.is_some() { par * 4 } else { par };
    let results: Vec<ChunkOutcome> = futures::stream::iter(chunk_futs)
        .buffer_unordered(in_flight)
        .collect()
        .await;
    if let Some(p) = ctx.progress {
        p.finish().await;
    }

    let mut rows_read = vec![0u64; jobs.len()];
    let mut table_errors: Vec<Vec<String>> = vec![vec![]; jobs.len()];
    for (ti, r, res) in results {
        match res {
            Ok(c) => {
                rows_read[ti] += c.s.count;
                per_table[ti].push((r, c))
            }
            Err(e) => table_errors[ti].push(e),
        }
    }

    // 4. Localise mismatches and build the reports.
    let mut reports = Vec::with_capacity(jobs.len());
    for (ti, job) in jobs.iter().enumerate() {
        let mut chunks = std::mem::take(&mut per_table[ti]);
        chunks.sort_by_key(|c| c.0.lo);
        let mut ds = ChunkDigest::default();
        let mut dt = ChunkDigest::default();
        let mut mismatched = 0;
        let mut resolved = 0;
        let mut undecided = None;
        for (_, c) in &chunks {
            ds.merge(&c.s);
            dt.merge(&c.t);
            match &c.undecided {
                Some(why) => undecided = undecided.or(Some(why.clone())),
                None if c.s != c.t => mismatched += 1,
                None if c.rechecked => resolved += 1,
                None => {}
            }
        }
        let mut found = Found {
            diffs: vec![],
            truncated: false,
            cap: ctx.settings.max_reported_keys.max(1),
            undecided: None,
        };
        let mut note = job.note.clone();
        let differing = chunks
            .iter()
            .filter(|(_, c)| c.undecided.is_none() && c.s != c.t);
        for (r, c) in differing {
            if let Some((s, t)) = &c.rows {
                diff_rows(job, s, t, &mut found);
            } else {
                match localise(ctx, job, *r, (c.s, c.t), &mut found).await {
                    Ok(Some(n)) => note = Some(n),
                    Ok(None) => {}
                    Err(e) => table_errors[ti].push(e),
                }
            }
            if found.truncated || found.undecided.is_some() {
                break;
            }
        }
        // Live: the counts are those of the compared ranges at their positions (the digests
        // carry them); a count(*) of each side would be taken at two different moments.
        // A count that failed is an error in both modes (live, it only sized the plan).
        if let Err(e) = &counts[ti] {
            table_errors[ti].push(e.clone());
        }
        let (rows_s, rows_t) = match (&counts[ti], ctx.live) {
            (_, Some(_)) => (ds.count, dt.count),
            (Ok(c), None) => *c,
            (Err(_), None) => (0, 0),
        };
        let undecided = undecided.or(found.undecided.take());
        let errs = std::mem::take(&mut table_errors[ti]);
        let passed = errs.is_empty() && mismatched == 0 && rows_s == rows_t && undecided.is_none();
        errors.extend(errs);
        reports.push(TableReport {
            table: job.name.clone(),
            rows_source: rows_s,
            rows_target: rows_t,
            chunks: chunks.len() as u64,
            chunks_mismatched: mismatched,
            chunks_resolved_by_recheck: resolved,
            digest_source: ds.hex(),
            digest_target: dt.hex(),
            differences: found.diffs,
            differences_truncated: found.truncated,
            note,
            compared_at: positions(chunks.iter().filter_map(|(_, c)| c.at.as_ref())),
            undecided,
            passed,
            chunks_resumed: resumed[ti],
            rows_read: rows_read[ti],
            freshness: None,
        });
    }
    (reports, errors)
}

/// "lsn 0/16B3A28" or "lsn 0/16B3A28 .. lsn 0/16B9F00": where a table's ranges were compared.
fn positions<'p>(all: impl Iterator<Item = &'p Position>) -> Option<String> {
    let mut lo: Option<&Position> = None;
    let mut hi: Option<&Position> = None;
    for p in all {
        lo = Some(lo.map_or(p, |l| l.min(p)));
        hi = Some(hi.map_or(p, |h| h.max(p)));
    }
    match (lo, hi) {
        (Some(a), Some(b)) if a == b => Some(a.to_string()),
        (Some(a), Some(b)) => Some(format!("{a} .. {b}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, val: &str) -> KeyedRow {
        KeyedRow {
            key: key.as_bytes().to_vec(),
            cols: vec![key.as_bytes().to_vec(), val.as_bytes().to_vec()],
        }
    }

    fn keys_of(rows: &[KeyedRow]) -> Vec<String> {
        rows.iter()
            .map(|r| String::from_utf8_lossy(&r.key).into_owned())
            .collect()
    }

    #[test]
    fn a_leaf_the_target_applied_past_the_position_is_not_a_difference() {
        // The target read saw a write the first source read did not: the second read has it.
        let first = [row("1", "a"), row("2", "old")];
        let again = [row("1", "a"), row("2", "new")];
        let tgt = [row("1", "a"), row("2", "new")];
        assert!(matches!(
            leaf_verdict(&first, &again, &tgt),
            Some(LeafRows::Same)
        ));
    }

    #[test]
    fn a_leaf_reports_only_the_keys_whose_source_held_still() {
        // Key 1 differs at a source that did not change: real. Key 2 is being written: not
        // reported. Key 3 is missing on the target at a stable source: real.
        let first = [row("1", "a"), row("2", "v1"), row("3", "c")];
        let again = [row("1", "a"), row("2", "v2"), row("3", "c")];
        let tgt = [row("1", "seeded"), row("2", "v1")];
        match leaf_verdict(&first, &again, &tgt) {
            Some(LeafRows::Differ(s, t)) => {
                assert_eq!(keys_of(&s), ["1", "3"]);
                assert_eq!(keys_of(&t), ["1"]);
            }
            _ => panic!("the stable differences are reported"),
        }
    }

    #[test]
    fn a_leaf_whose_only_differences_are_moving_is_read_again() {
        let first = [row("1", "v1")];
        let again = [row("1", "v2")];
        let tgt = [row("1", "v0")];
        assert!(leaf_verdict(&first, &again, &tgt).is_none());
    }

    #[test]
    fn a_keyless_leaf_compares_duplicates_in_any_order() {
        // A table without a key keys each row by its whole encoding: two copies on the
        // source, one on the target, at a stable source, is a difference; order is irrelevant.
        let dup = || KeyedRow {
            key: b"x|1".to_vec(),
            cols: vec![b"x".to_vec(), b"1".to_vec()],
        };
        let other = KeyedRow {
            key: b"y|2".to_vec(),
            cols: vec![b"y".to_vec(), b"2".to_vec()],
        };
        let first = [dup(), other.clone(), dup()];
        let again = [other.clone(), dup(), dup()];
        match leaf_verdict(&first, &again, &[dup(), other.clone()]) {
            Some(LeafRows::Differ(s, t)) => assert_eq!((s.len(), t.len()), (2, 1)),
            _ => panic!("a missing duplicate is a difference"),
        }
        assert!(matches!(
            leaf_verdict(&first, &again, &[other, dup(), dup()]),
            Some(LeafRows::Same)
        ));
    }

    fn mark(key: i128, hash: u128) -> RowMark {
        RowMark { key, hash }
    }

    #[test]
    fn differing_keys_are_the_keys_whose_rows_are_not_the_same_on_both_sides() {
        let src = [mark(1, 10), mark(2, 20), mark(3, 30), mark(5, 50)];
        // 2 changed, 3 missing on the target, 4 extra on the target, 1 and 5 equal.
        let tgt = [mark(1, 10), mark(2, 21), mark(4, 40), mark(5, 50)];
        assert_eq!(differing_keys(&src, &tgt), [2, 3, 4]);
        assert_eq!(differing_keys(&tgt, &src), [2, 3, 4]);
        assert!(differing_keys(&src, &src).is_empty());
        assert_eq!(differing_keys(&[], &src), [1, 2, 3, 5]);
        // A target without the key constraint may hold a key twice: a difference, whatever
        // the order of the copies; the same two copies on both sides are not.
        let dup = [mark(7, 1), mark(7, 2)];
        assert_eq!(differing_keys(&[mark(7, 1)], &dup), [7]);
        assert!(differing_keys(&dup, &dup).is_empty());
    }

    #[test]
    fn a_split_range_stands_decided_only_when_each_half_is() {
        let d = |n| ChunkDigest {
            count: n,
            sum: [0, 0, 0, n],
        };
        let c = |s, t, rows| Compared {
            s,
            t,
            at: None,
            rechecked: true,
            undecided: None,
            hot: false,
            rows,
        };
        assert_eq!(decided_rows(&c(d(1), d(1), None)), Some((vec![], vec![])));
        let found = Some((vec![row("1", "a")], vec![]));
        assert_eq!(decided_rows(&c(d(1), d(0), found.clone())), found);
        // A mismatching half that was not decided key by key must be localised.
        assert_eq!(decided_rows(&c(d(1), d(0), None)), None);
        let mut undecided = c(d(1), d(1), None);
        undecided.undecided = Some("lag".into());
        assert_eq!(decided_rows(&undecided), None);
    }

    #[test]
    fn ranges_cover_the_key_span_without_overlap() {
        let rs = plan_ranges(Some((1, 1_000_000)), 1_000_000, 100_000);
        assert_eq!(rs.len(), 10);
        assert_eq!(rs[0].lo, Some(1));
        assert_eq!(rs.last().unwrap().hi, Some(1_000_001));
        for w in rs.windows(2) {
            assert_eq!(w[0].hi, w[1].lo);
        }
        assert_eq!(
            plan_ranges(Some((5, 5)), 1, 100),
            vec![KeyRange {
                lo: Some(5),
                hi: Some(6)
            }]
        );
        assert_eq!(plan_ranges(None, 10, 100), vec![KeyRange::ALL]);
        // negative keys and a sparse span
        let rs = plan_ranges(Some((-10, 10)), 3, 1);
        assert_eq!(rs.first().unwrap().lo, Some(-10));
        assert_eq!(rs.last().unwrap().hi, Some(11));
    }
}
