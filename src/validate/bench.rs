//! `wavedeck bench checksum`: wavedeck's checksum against the raw read limit of the same
//! PostgreSQL server (`COPY ... (FORMAT binary)` into nothing) and against an in-database MD5
//! aggregate of the kind data-diff / pt-table-checksum run, on one generated table, in one run.

use super::canon::ChunkDigest;
use super::catalog;
use super::checksum::plan_ranges;
use super::connect::Pool;
use super::scan::{KeyRange, SideScan};
use crate::inventory::Engine;
use futures::{StreamExt, TryStreamExt};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  cargo build --release && target/release/wavedeck bench checksum --rows 10000000"
)]
pub struct ChecksumArgs {
    /// Rows in the generated table (the goal is stated for at least 10 million).
    #[arg(long, default_value_t = 10_000_000)]
    pub rows: u64,
    /// Parallel streams (connections) for the chunked methods.
    #[arg(long, default_value_t = 2)]
    pub parallel: usize,
    /// Rows per primary-key range chunk.
    #[arg(long, default_value_t = 100_000)]
    pub chunk_rows: u64,
    /// PostgreSQL server (a maintenance database URL; the bench creates its own database).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub url: String,
    /// Keep the generated database (`wd_bench_checksum_<rows>`) and reuse it next time.
    #[arg(long)]
    pub keep: bool,
}

struct Measured {
    method: String,
    streams: usize,
    secs: f64,
    rows: u64,
}

pub async fn run(a: ChecksumArgs) -> anyhow::Result<ExitCode> {
    if a.rows == 0 || a.parallel == 0 {
        anyhow::bail!("--rows and --parallel must be at least 1");
    }
    let db = format!("wd_bench_checksum_{}", a.rows);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&a.url)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to {}: {e} (is PostgreSQL running? scripts/services)",
                redact_url(&a.url)
            )
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&db)
            .fetch_one(&admin)
            .await?;
    let db_url = replace_db(&a.url, &db);
    let mut reuse = false;
    if exists {
        let p = PgPoolOptions::new()
            .max_connections(1)
            .connect(&db_url)
            .await?;
        let n: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&p)
            .await
            .ok();
        p.close().await;
        reuse = n == Some(a.rows as i64);
        if !reuse {
            admin
                .execute(format!("DROP DATABASE {db} WITH (FORCE)").as_str())
                .await?;
        }
    }
    if !reuse {
        admin
            .execute(format!("CREATE DATABASE {db}").as_str())
            .await?;
        eprintln!("generating {} rows in {db}.orders ...", a.rows);
        let t = Instant::now();
        let p = PgPoolOptions::new()
            .max_connections(1)
            .connect(&db_url)
            .await?;
        generate(&p, a.rows).await?;
        p.close().await;
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    } else {
        eprintln!("reusing {db}.orders ({} rows)", a.rows);
    }
    let result = measure(&a, &db_url).await;
    if !a.keep {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
            .await?;
    }
    admin.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The research dataset D1 (research/validation.md §6): mixed types, NULLs.
async fn generate(p: &PgPool, rows: u64) -> anyhow::Result<()> {
    sqlx::raw_sql(&format!(
        "CREATE TABLE orders (id bigint NOT NULL, customer_id int, status text, amount numeric(12,2), price float8, \
           note text, created_at timestamptz, updated_at timestamp);
         INSERT INTO orders SELECT g, (g*7919)%100000, (ARRAY['new','paid','shipped','cancelled'])[1+g%4], \
           ((g*31)%1000000)/100.0, ((g*17)%10000)/7.0, CASE WHEN g%10=0 THEN NULL ELSE md5(g::text) END, \
           timestamptz '2024-01-01' + (g||' seconds')::interval, \
           CASE WHEN g%3=0 THEN NULL ELSE timestamp '2024-06-01 12:00:00.123456' + (g||' ms')::interval END \
         FROM generate_series(1::bigint, {rows}::bigint) g;
         ALTER TABLE orders ADD PRIMARY KEY (id);"
    ))
    .execute(p)
    .await?;
    sqlx::raw_sql("VACUUM (ANALYZE, FREEZE) orders")
        .execute(p)
        .await?;
    Ok(())
}

async fn measure(a: &ChecksumArgs, db_url: &str) -> anyhow::Result<()> {
    let pg = PgPoolOptions::new()
        .max_connections(a.parallel as u32 + 1)
        .connect(db_url)
        .await?;
    let pool = Pool::Pg(pg.clone());
    let cat = catalog::load(&pool, "", &[]).await?;
    let table = cat
        .table("public.orders")
        .ok_or_else(|| anyhow::anyhow!("public.orders missing in the bench database"))?;
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let scan = SideScan::new(Engine::Postgres, table, &columns, Some("id"));
    let bounds = scan.key_bounds(&pool).await?;
    let ranges = plan_ranges(bounds, a.rows, a.chunk_rows);

    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pg)
        .await?;
    let heap: i64 = sqlx::query_scalar("SELECT pg_relation_size('orders')")
        .fetch_one(&pg)
        .await?;
    let sb: String = sqlx::query_scalar("SHOW shared_buffers")
        .fetch_one(&pg)
        .await?;

    // Warm-up: bring the table into the caches so every method reads the same way.
    let (copy_bytes, _) = raw_copy_whole(&pg).await?;

    let mut out: Vec<Measured> = Vec::new();
    let t = Instant::now();
    raw_copy_whole(&pg).await?;
    out.push(Measured {
        method: "raw read limit: COPY orders TO STDOUT (FORMAT binary) -> nothing".into(),
        streams: 1,
        secs: t.elapsed().as_secs_f64(),
        rows: a.rows,
    });

    let t = Instant::now();
    let n = raw_copy_ranges(&pool, &scan, &ranges, a.parallel).await?;
    out.push(Measured {
        method: "raw read limit: PK-range COPY (FORMAT binary) -> nothing".into(),
        streams: a.parallel,
        secs: t.elapsed().as_secs_f64(),
        rows: n,
    });

    let md5_expr = md5_row_expr(&columns);
    let t = Instant::now();
    let n = md5_ranges(&pg, &md5_expr, &[KeyRange::ALL], 1).await?;
    out.push(Measured {
        method: "in-database MD5 aggregate (data-diff style), whole table".into(),
        streams: 1,
        secs: t.elapsed().as_secs_f64(),
        rows: n,
    });

    let t = Instant::now();
    let n = md5_ranges(&pg, &md5_expr, &ranges, a.parallel).await?;
    out.push(Measured {
        method: "in-database MD5 aggregate (data-diff style), PK ranges".into(),
        streams: a.parallel,
        secs: t.elapsed().as_secs_f64(),
        rows: n,
    });

    let t = Instant::now();
    let d1 = wavedeck_digest(&pool, &scan, &ranges, 1).await?;
    out.push(Measured {
        method: "wavedeck checksum (binary COPY, SHA-256/row, 256-bit sum)".into(),
        streams: 1,
        secs: t.elapsed().as_secs_f64(),
        rows: d1.count,
    });

    let t = Instant::now();
    let dp = wavedeck_digest(&pool, &scan, &ranges, a.parallel).await?;
    out.push(Measured {
        method: "wavedeck checksum (binary COPY, SHA-256/row, 256-bit sum)".into(),
        streams: a.parallel,
        secs: t.elapsed().as_secs_f64(),
        rows: dp.count,
    });
    if d1 != dp {
        anyhow::bail!(
            "the checksum differs between 1 and {} streams: {} vs {}",
            a.parallel,
            d1.hex(),
            dp.hex()
        );
    }
    pg.close().await;

    let mb = copy_bytes as f64 / 1e6;
    println!("wavedeck bench checksum");
    println!(
        "  table: orders, {} rows, heap {:.1} MB, binary COPY stream {:.1} MB (MB/s below = this stream size / time)",
        a.rows,
        heap as f64 / 1e6,
        mb
    );
    println!(
        "  server: PostgreSQL {version}, shared_buffers {sb}; host: {} ({} CPUs); chunks: {} x ~{} rows",
        cpu_model(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        ranges.len(),
        a.chunk_rows
    );
    println!(
        "  {:<66} {:>7} {:>9} {:>12} {:>9}",
        "method", "streams", "seconds", "rows/s", "MB/s"
    );
    for r in &out {
        println!(
            "  {:<66} {:>7} {:>9.2} {:>12.0} {:>9.1}",
            r.method,
            r.streams,
            r.secs,
            r.rows as f64 / r.secs,
            mb * (r.rows as f64 / a.rows as f64) / r.secs
        );
    }
    let rate = |i: usize| out[i].rows as f64 / out[i].secs;
    println!("  table digest: {} ({} rows)", dp.hex(), dp.count);
    println!(
        "  wavedeck / raw read limit: {:.2} with 1 stream (vs whole-table COPY), {:.2} with {} streams (aim >= 0.70)",
        rate(4) / rate(0),
        rate(5) / rate(1),
        a.parallel
    );
    println!(
        "  wavedeck / in-database MD5: {:.1}x with 1 stream, {:.1}x with {} streams (aim >= 2x)",
        rate(4) / rate(2),
        rate(5) / rate(3),
        a.parallel
    );
    Ok(())
}

async fn raw_copy_whole(pg: &PgPool) -> anyhow::Result<(u64, Duration)> {
    let t = Instant::now();
    let mut conn = pg.acquire().await?;
    let mut s = conn
        .copy_out_raw("COPY orders TO STDOUT (FORMAT binary)")
        .await?;
    let mut bytes = 0u64;
    while let Some(c) = s.try_next().await? {
        bytes += c.len() as u64;
    }
    Ok((bytes, t.elapsed()))
}

async fn raw_copy_ranges(
    pool: &Pool,
    scan: &SideScan,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<u64> {
    let Pool::Pg(pg) = pool else {
        anyhow::bail!("PostgreSQL only")
    };
    let futs: Vec<_> = ranges
        .iter()
        .map(|r| {
            let sql = format!("COPY ({}) TO STDOUT (FORMAT binary)", scan.select_sql(*r));
            let pg = pg.clone();
            async move {
                let mut conn = pg.acquire().await?;
                let mut s = conn.copy_out_raw(&sql).await?;
                let mut bytes = 0u64;
                while let Some(c) = s.try_next().await? {
                    bytes += c.len() as u64;
                }
                Ok::<u64, sqlx::Error>(bytes)
            }
        })
        .collect();
    let res: Vec<Result<u64, sqlx::Error>> = futures::stream::iter(futs)
        .buffer_unordered(par)
        .collect()
        .await;
    for r in res {
        r?;
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(pg)
        .await?;
    Ok(n as u64)
}

/// data-diff's row checksum: normalised text joined by '|', NULL as '<null>', md5, 60 bits summed.
fn md5_row_expr(columns: &[String]) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|c| {
            format!(
                "coalesce({}::text, '<null>')",
                catalog::quote_ident(Engine::Postgres, c)
            )
        })
        .collect();
    format!(
        "sum(('x' || substring(md5(concat_ws('|', {})), 18))::bit(60)::bigint)",
        parts.join(", ")
    )
}

async fn md5_ranges(
    pg: &PgPool,
    expr: &str,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<u64> {
    let futs: Vec<_> = ranges
        .iter()
        .map(|r| {
            let mut conds = Vec::new();
            if let Some(lo) = r.lo {
                conds.push(format!("id >= {lo}"));
            }
            if let Some(hi) = r.hi {
                conds.push(format!("id < {hi}"));
            }
            let wh = if conds.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conds.join(" AND "))
            };
            let sql = format!("SELECT count(*), {expr}::text FROM orders{wh}");
            async move {
                let row = sqlx::query(&sql).fetch_one(pg).await?;
                row.try_get::<i64, _>(0)
            }
        })
        .collect();
    let res: Vec<Result<i64, sqlx::Error>> = futures::stream::iter(futs)
        .buffer_unordered(par)
        .collect()
        .await;
    let mut n = 0u64;
    for r in res {
        n += r? as u64;
    }
    Ok(n)
}

async fn wavedeck_digest(
    pool: &Pool,
    scan: &SideScan,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<ChunkDigest> {
    let futs: Vec<_> = ranges.iter().map(|r| scan.digest(pool, *r)).collect();
    let res: Vec<_> = futures::stream::iter(futs)
        .buffer_unordered(par)
        .collect()
        .await;
    let mut d = ChunkDigest::default();
    for r in res {
        d.merge(&r?);
    }
    Ok(d)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Hide a password in a URL before it is printed.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten_and_redacted() {
        assert_eq!(
            replace_db("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            replace_db("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
