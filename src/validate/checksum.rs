//! Table comparison: exact counts, PK-range chunk digests on both sides in parallel, live
//! re-checks while CDC runs, and bisection of mismatching ranges down to the differing keys.

use super::canon::ChunkDigest;
use super::connect::Pool;
use super::decode::display_canonical;
use super::report::{DiffKind, RowDifference, TableReport};
use super::runbook::ValidationSettings;
use super::scan::{KeyRange, KeyedRow, SideScan};
use futures::future::BoxFuture;
use futures::{StreamExt, TryFutureExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Current replication lag in seconds (None when unknown). Given while CDC runs; a mismatch
/// is then re-checked once lag is below the runbook's threshold before it is called real.
pub type LagProbe = Arc<dyn Fn() -> BoxFuture<'static, Option<f64>> + Send + Sync>;

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
}

pub struct Ctx<'a> {
    pub src: &'a Pool,
    pub tgt: &'a Pool,
    pub settings: &'a ValidationSettings,
    pub live: Option<LagProbe>,
}

impl Ctx<'_> {
    async fn pair(
        &self,
        job: &TableJob,
        r: KeyRange,
    ) -> Result<(ChunkDigest, ChunkDigest), String> {
        // Each side on a task of its own: decoding and hashing are client CPU, and polled
        // inside one task every chunk of the gate would share one core.
        let side = |scan: &SideScan, pool: &Pool, which: &'static str| {
            let (scan, pool, name) = (scan.clone(), pool.clone(), job.name.clone());
            async move {
                match tokio::spawn(async move { scan.digest(&pool, r).await }).await {
                    Ok(Ok(d)) => Ok(d),
                    Ok(Err(e)) => Err(format!("{name} on {which}: {e}")),
                    Err(e) => Err(format!("{name} on {which}: the digest task failed: {e}")),
                }
            }
        };
        futures::try_join!(
            side(&job.src, self.src, "source"),
            side(&job.tgt, self.tgt, "target")
        )
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

    /// Wait until the lag probe reports a lag at or below the threshold (or give up).
    async fn lag_settled(&self) -> bool {
        let Some(probe) = &self.live else {
            return true;
        };
        let deadline = Instant::now() + Duration::from_secs(self.settings.recheck_wait_s);
        loop {
            if let Some(lag) = probe().await {
                if lag <= self.settings.recheck_lag_s {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
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
    let mut stack = vec![(range, digests)];
    while let Some((r, (ds, dt))) = stack.pop() {
        if ds == dt {
            continue;
        }
        if found.full() {
            found.truncated = true;
            return Ok(None);
        }
        let rows = ds.count.max(dt.count);
        let splittable = match (r.lo, r.hi) {
            (Some(lo), Some(hi)) => job.int_key && hi - lo > 1,
            _ => false,
        };
        if splittable && rows > ctx.settings.leaf_rows {
            let (lo, hi) = (r.lo.unwrap_or(0), r.hi.unwrap_or(0));
            let mid = lo + (hi - lo) / 2;
            let left = KeyRange {
                lo: Some(lo),
                hi: Some(mid),
            };
            let right = KeyRange {
                lo: Some(mid),
                hi: Some(hi),
            };
            let (l, rr) = futures::try_join!(ctx.pair(job, left), ctx.pair(job, right))?;
            // Depth-first, lower keys first, so "first N" means the lowest keys.
            stack.push((right, rr));
            stack.push((left, l));
            continue;
        }
        if !job.int_key && rows > ctx.settings.max_row_compare_rows {
            return Ok(Some(format!(
                "{rows} rows differ somewhere; too many to compare in memory without an integer key \
                 (raise validation.max_row_compare_rows or add an integer primary key)"
            )));
        }
        let (s, t) = futures::try_join!(
            job.src
                .rows(ctx.src, r, &job.key_cols)
                .map_err(|e| format!("{} on source: {e}", job.name)),
            job.tgt
                .rows(ctx.tgt, r, &job.key_cols)
                .map_err(|e| format!("{} on target: {e}", job.name)),
        )?;
        diff_rows(job, &s, &t, found);
    }
    Ok(None)
}

type ChunkOutcome = (
    usize,
    KeyRange,
    Result<(ChunkDigest, ChunkDigest, bool), String>,
);

/// Digest one range on both sides; while CDC runs, re-check a mismatch after lag falls.
async fn chunk_task(ctx: &Ctx<'_>, jobs: &[TableJob], ti: usize, r: KeyRange) -> ChunkOutcome {
    let job = &jobs[ti];
    let res = async {
        let (mut s, mut t) = ctx.pair(job, r).await?;
        let mut resolved = false;
        if s != t && ctx.live.is_some() {
            for _ in 0..ctx.settings.max_rechecks {
                if !ctx.lag_settled().await {
                    break;
                }
                (s, t) = ctx.pair(job, r).await?;
                if s == t {
                    resolved = true;
                    break;
                }
            }
        }
        Ok((s, t, resolved))
    }
    .await;
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
    for (job, c) in jobs.iter().zip(&counts) {
        let rows = c.as_ref().map(|(a, b)| (*a).max(*b)).unwrap_or(0);
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

    // 3. Digests of every chunk, both sides at once, re-checked while CDC runs.
    let mut tasks: Vec<(usize, KeyRange)> = Vec::new();
    for (ti, rs) in plans.iter().enumerate() {
        for r in rs {
            tasks.push((ti, *r));
        }
    }
    let chunk_futs: Vec<_> = tasks
        .into_iter()
        .map(|(ti, r)| chunk_task(ctx, jobs, ti, r))
        .collect();
    let results: Vec<ChunkOutcome> = futures::stream::iter(chunk_futs)
        .buffer_unordered(par)
        .collect()
        .await;

    let mut per_table: Vec<Vec<(KeyRange, ChunkDigest, ChunkDigest, bool)>> =
        vec![vec![]; jobs.len()];
    let mut table_errors: Vec<Vec<String>> = vec![vec![]; jobs.len()];
    for (ti, r, res) in results {
        match res {
            Ok((s, t, resolved)) => per_table[ti].push((r, s, t, resolved)),
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
        for (_, s, t, res) in &chunks {
            ds.merge(s);
            dt.merge(t);
            if s != t {
                mismatched += 1;
            }
            if *res {
                resolved += 1;
            }
        }
        let mut found = Found {
            diffs: vec![],
            truncated: false,
            cap: ctx.settings.max_reported_keys.max(1),
        };
        let mut note = job.note.clone();
        for (r, s, t, _) in chunks.iter().filter(|c| c.1 != c.2) {
            match localise(ctx, job, *r, (*s, *t), &mut found).await {
                Ok(Some(n)) => note = Some(n),
                Ok(None) => {}
                Err(e) => table_errors[ti].push(e),
            }
            if found.truncated {
                break;
            }
        }
        let (mut rows_s, mut rows_t) = match &counts[ti] {
            Ok(c) => *c,
            Err(e) => {
                table_errors[ti].push(e.clone());
                (0, 0)
            }
        };
        // While CDC runs, counts taken before the chunks may be stale: count again once lag
        // is low if every range matched.
        if rows_s != rows_t && mismatched == 0 && ctx.live.is_some() && ctx.lag_settled().await {
            if let Ok(c) = ctx.counts(job).await {
                (rows_s, rows_t) = c;
            }
        }
        let errs = std::mem::take(&mut table_errors[ti]);
        let passed = errs.is_empty() && mismatched == 0 && rows_s == rows_t;
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
            passed,
        });
    }
    (reports, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

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
