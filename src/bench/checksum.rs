//! `wavedeck bench checksum`: wavedeck's checksum against the raw read limit of the same
//! server and against the in-database aggregate the peers run, on one generated table, in one
//! run. PostgreSQL: raw read = `COPY ... (FORMAT binary)` into nothing (sqlx, and psql as the
//! libpq reference); aggregate = data-diff's MD5 sum. MySQL/MariaDB: see `bench_mysql`.
//!
//! "Streams" are server sessions: every method gets the same number of server processes
//! (parallel query is off except in the row that gives data-diff PostgreSQL's parallel workers),
//! so a ratio compares equal server resources. Server CPU per row is printed beside wall time
//! because wall time on a shared machine moves with the load average.

use super::meter::{self as meter, Measured, ServerCpu};
use crate::inventory::Engine;
use crate::validate::canon::ChunkDigest;
use crate::validate::catalog;
use crate::validate::checksum::plan_ranges;
use crate::validate::connect::Pool;
use crate::validate::scan::{KeyRange, SideScan};
use futures::{StreamExt, TryStreamExt};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Row};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchEngine {
    Postgres,
    Mysql,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  cargo build --release && target/release/wavedeck bench checksum --rows 10000000\n  target/release/wavedeck bench checksum --engine mysql --rows 10000000\n  target/release/wavedeck bench checksum --rows 2000000 --live-writes 500"
)]
pub struct ChecksumArgs {
    /// Which server to measure.
    #[arg(long, value_enum, default_value_t = BenchEngine::Postgres)]
    pub engine: BenchEngine,
    /// Rows in the generated table (the goal is stated for at least 10 million).
    #[arg(long, default_value_t = 10_000_000)]
    pub rows: u64,
    /// Parallel streams (server sessions) for the chunked methods.
    #[arg(long, default_value_t = 2)]
    pub parallel: usize,
    /// Rows per primary-key range chunk.
    #[arg(long, default_value_t = 100_000)]
    pub chunk_rows: u64,
    /// Server URL of a maintenance database (the bench creates its own database). Default:
    /// postgres://postgres@127.0.0.1:5432/postgres, or mysql://root@127.0.0.1:3306/mysql.
    #[arg(long)]
    pub url: Option<String>,
    /// Keep the generated database (`wd_bench_checksum_<rows>`) and reuse it next time.
    #[arg(long)]
    pub keep: bool,
    /// Live against final validation instead, on a temporary lab (two local PostgreSQL
    /// clusters replicating logically): the live gate while the source takes this many updates
    /// per second on the measured table, the final gate with writes stopped.
    #[arg(long, value_name = "WRITES_PER_S")]
    pub live_writes: Option<u64>,
    /// Runs back to back: the first measures every method; each further run measures the raw
    /// read and wavedeck again (1 and N streams) and prints its ratios with the load average.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
}

/// wavedeck's checksum against the raw read of the same rows, in every run (issue #19).
pub const RAW_AIM: f64 = 0.90;

/// The PostgreSQL bench (the dispatch on `--engine` and `--live-writes` is in `bench/mod.rs`).
pub async fn run_pg(a: ChecksumArgs) -> anyhow::Result<ExitCode> {
    let url = a
        .url
        .clone()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("wd_bench_checksum_{}", a.rows);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to {}: {e} (is PostgreSQL running? scripts/services)",
                redact_url(&url)
            )
        })?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&db)
            .fetch_one(&admin)
            .await?;
    let db_url = replace_db(&url, &db);
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
        let docs: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM docs")
            .fetch_one(&p)
            .await
            .ok();
        p.close().await;
        reuse = n == Some(a.rows as i64) && docs == Some(docs_rows(a.rows) as i64);
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
    let result = measure_pg(&a, &db_url).await;
    if !a.keep {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
            .await?;
    }
    admin.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The measured dataset: an `orders` table of mixed types (bigint key, int, text, numeric,
/// float8, timestamptz, timestamp), with NULLs in `note` (10 %) and `updated_at` (33 %).
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
    // A second table for the JSON path: nested objects with keys out of order, arrays,
    // escaped strings, decimals and integers beyond a double.
    sqlx::raw_sql(&format!(
        "CREATE TABLE docs (id bigint PRIMARY KEY, doc jsonb);
         INSERT INTO docs SELECT g, jsonb_build_object('order', g, 'customer', md5(g::text), \
           'amount', ((g*31)%1000000)/100.0, 'big', 123456789012345678901234 + g, \
           'tags', jsonb_build_array('a', 'b', g % 7, g % 2 = 0), 'note', E'line\\n\\u00e9 ' || g, \
           'lines', jsonb_build_array(jsonb_build_object('sku', 'p' || g % 100, 'qty', g % 5, 'price', g / 7.0)), \
           'meta', CASE WHEN g % 10 = 0 THEN NULL ELSE jsonb_build_object('z', g, 'a', 'x') END) \
         FROM generate_series(1::bigint, {}::bigint) g;",
        docs_rows(rows)
    ))
    .execute(p)
    .await?;
    sqlx::raw_sql("VACUUM (ANALYZE, FREEZE) orders, docs")
        .execute(p)
        .await?;
    Ok(())
}

/// Rows of the jsonb table: a tenth of the orders (each document is ~8 times a row's size).
fn docs_rows(rows: u64) -> u64 {
    (rows / 10).max(1)
}

/// A pool whose sessions carry `app` (so their backends can be found) and the given number of
/// parallel workers per query.
async fn pg_pool(db_url: &str, app: &str, conns: usize, workers: usize) -> anyhow::Result<PgPool> {
    let opts = PgConnectOptions::from_str(db_url)?
        .application_name(app)
        .options([("max_parallel_workers_per_gather", workers.to_string())]);
    Ok(PgPoolOptions::new()
        .max_connections(conns as u32 + 1)
        .connect_with(opts)
        .await?)
}

async fn measure_pg(a: &ChecksumArgs, db_url: &str) -> anyhow::Result<()> {
    let load_before = meter::loadavg();
    let app = format!("wavedeck-bench-{}", std::process::id());
    let pg = pg_pool(db_url, &app, a.parallel, 0).await?;
    let opts = PgConnectOptions::from_str(db_url)?;
    let server = if meter::is_local_host(opts.get_host()) {
        ServerCpu::PgBackends {
            pool: pg.clone(),
            app: app.clone(),
        }
    } else {
        ServerCpu::Unknown
    };
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
    let ssl: bool = sqlx::query_scalar(
        "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
    )
    .fetch_one(&pg)
    .await?;

    // Warm-up: bring the table into the caches so every method reads the same way.
    let copy_bytes = raw_copy_whole(&pg).await?;
    let n = a.parallel;
    let mut out: Vec<Measured> = Vec::new();

    // 1. The raw read limit.
    out.push(
        meter::measure(
            &server,
            "raw read: COPY orders TO STDOUT (binary), sqlx",
            1,
            true,
            async {
                raw_copy_whole(&pg).await?;
                Ok(a.rows)
            },
        )
        .await?,
    );
    let psql = meter::measure(
        &ServerCpu::Unknown,
        "raw read: same COPY, psql (libpq) > /dev/null",
        1,
        false,
        async {
            if psql_copy(db_url).await? {
                Ok(a.rows)
            } else {
                Ok(0)
            }
        },
    )
    .await?;
    let have_psql = psql.rows > 0;
    if have_psql {
        out.push(psql);
    }
    out.push(
        meter::measure(
            &server,
            "raw read: PK-range COPY (binary), sqlx",
            n,
            true,
            async {
                raw_copy_ranges(&pg, &scan, &ranges, n).await?;
                Ok(a.rows)
            },
        )
        .await?,
    );
    // Not a "raw read:" row: the whole-table read stays the limit; this one tells the cost of
    // hashing (the same reads without it) from the cost of reading by key ranges.
    out.push(
        meter::measure(&server, CHUNK_READ_PG, 1, true, async {
            raw_copy_ranges(&pg, &scan, &ranges, 1).await?;
            Ok(a.rows)
        })
        .await?,
    );

    // 2. The in-database aggregate as data-diff runs it.
    let md5_expr = md5_row_expr(&columns);
    out.push(
        meter::measure(
            &server,
            "in-db MD5 sum (data-diff), whole table",
            1,
            true,
            async { md5_ranges(&pg, &md5_expr, &[KeyRange::ALL], 1).await },
        )
        .await?,
    );
    out.push(
        meter::measure(
            &server,
            "in-db MD5 sum (data-diff), PK ranges",
            n,
            true,
            async { md5_ranges(&pg, &md5_expr, &ranges, n).await },
        )
        .await?,
    );
    let par_workers = n.saturating_sub(1);
    let mut planned = 0usize;
    if par_workers > 0 {
        // data-diff leaves PostgreSQL's parallel query on: give it the same number of server
        // processes as our N streams (leader + N-1 workers). Workers exit with the query, so
        // their CPU cannot be read afterwards.
        let ppg = pg_pool(db_url, &format!("{app}-par"), 1, par_workers).await?;
        planned = planned_workers(&ppg, &md5_expr).await?;
        out.push(
            meter::measure(
                &server,
                &format!(
                    "in-db MD5 sum (data-diff), whole table, parallel query ({planned} workers)"
                ),
                1 + planned,
                false,
                async { md5_ranges(&ppg, &md5_expr, &[KeyRange::ALL], 1).await },
            )
            .await?,
        );
        ppg.close().await;
    }

    // 3. wavedeck's checksum.
    let (measured, dp) = wavedeck_streams(
        &server,
        "wavedeck checksum (COPY binary, SHA-256/row, sum)",
        n,
        &pool,
        &scan,
        &ranges,
    )
    .await?;
    out.extend(measured);

    let mb = copy_bytes as f64 / 1e6;
    println!("wavedeck bench checksum --engine postgres");
    println!(
        "  table: orders, {} rows, heap {:.1} MB, binary COPY stream {:.1} MB (MB/s = this stream size / time)",
        a.rows,
        heap as f64 / 1e6,
        mb
    );
    println!(
        "  server: PostgreSQL {version}, shared_buffers {sb}, TLS {}; host: {} ({} CPUs); chunks: {} x ~{} rows",
        if ssl { "on" } else { "off" },
        meter::cpu_model(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        ranges.len(),
        a.chunk_rows
    );
    println!(
        "  load average: {load_before} before, {} after; {}; cli CPU = this process (+ psql)",
        meter::loadavg(),
        server.label()
    );
    meter::print_table(&out, a.rows, mb);
    println!("  table digest: {} ({} rows)", dp.hex(), dp.count);
    let find = |prefix: &str, streams: usize| {
        out.iter()
            .filter(|m| m.method.starts_with(prefix) && m.streams == streams)
            .map(|m| m.rate())
            .fold(0.0f64, f64::max)
    };
    let us = |prefix: &str| {
        out.iter()
            .find(|m| m.method.starts_with(prefix))
            .and_then(|m| m.server_us_per_row())
    };
    let raw1 = find("raw read:", 1);
    let rawn = find("raw read:", n);
    let md1 = find("in-db MD5", 1);
    let mdn = find("in-db MD5", n);
    let wd1 = find("wavedeck", 1);
    let wdn = find("wavedeck", n);
    print_ratios(
        [wd1, wdn],
        [raw1, rawn],
        find(CHUNK_READ_PG, 1),
        [md1, mdn],
        n,
        "in-database MD5",
    );
    let first = RunRatio::of(load_before, wd1, wdn, raw1, rawn);
    let want = dp;
    let psql_won = have_psql && raw1 > find("raw read: COPY", 1);
    repeat_ratios(
        a.runs,
        n,
        first,
        async |streams| {
            // Later runs time only the 1-stream raw read that was faster in run 1.
            if streams > 1 {
                rate_of(a.rows, raw_copy_ranges(&pg, &scan, &ranges, streams)).await
            } else if psql_won {
                rate_of(a.rows, psql_copy(db_url)).await
            } else {
                rate_of(a.rows, raw_copy_whole(&pg)).await
            }
        },
        async |streams| wavedeck_rate(&pool, &scan, &ranges, streams, &want).await,
    )
    .await?;
    if let (Some(w), Some(r), Some(m)) = (us("wavedeck"), us("raw read"), us("in-db MD5")) {
        println!(
            "  server CPU per row: wavedeck {w:.3} us, raw COPY {r:.3} us, in-db MD5 {m:.3} us: the MD5 aggregate costs the server {:.1}x what wavedeck does",
            m / w
        );
    }
    if !have_psql {
        println!("  (psql not found: the libpq reference row is missing)");
    }
    let _ = planned;
    let jsonb = measure_jsonb(&pool, &server, a).await;
    pg.close().await;
    jsonb
}

/// The jsonb table: wavedeck's checksum beside the raw read of the same table, and the JSON
/// encoding alone against the encoder it replaced (serde_json's Value, numbers as doubles).
async fn measure_jsonb(pool: &Pool, server: &ServerCpu, a: &ChecksumArgs) -> anyhow::Result<()> {
    let Pool::Pg(pg) = pool else {
        anyhow::bail!("the jsonb bench is for PostgreSQL")
    };
    let rows = docs_rows(a.rows);
    let cat = catalog::load(pool, "", &[]).await?;
    let table = cat
        .table("public.docs")
        .ok_or_else(|| anyhow::anyhow!("public.docs missing in the bench database"))?;
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let scan = SideScan::new(Engine::Postgres, table, &columns, Some("id"));
    let ranges = plan_ranges(scan.key_bounds(pool).await?, rows, a.chunk_rows);
    let copy = |sql: &'static str| async move {
        let mut conn = pg.acquire().await?;
        let mut s = conn.copy_out_raw(sql).await?;
        let mut bytes = 0u64;
        while let Some(c) = s.try_next().await? {
            bytes += c.len() as u64;
        }
        Ok::<u64, anyhow::Error>(bytes)
    };
    let bytes = copy("COPY docs TO STDOUT (FORMAT binary)").await?;
    let mut out = vec![
        meter::measure(
            server,
            "raw read: COPY docs TO STDOUT (binary), sqlx",
            1,
            true,
            async {
                copy("COPY docs TO STDOUT (FORMAT binary)").await?;
                Ok(rows)
            },
        )
        .await?,
    ];
    let (measured, d) = wavedeck_streams(
        server,
        "wavedeck checksum of docs (jsonb canonical by value)",
        a.parallel,
        pool,
        &scan,
        &ranges,
    )
    .await?;
    out.extend(measured);
    println!(
        "  jsonb table: docs, {rows} rows (id bigint, doc jsonb ~{} B), binary COPY stream {:.1} MB",
        bytes / rows.max(1),
        bytes as f64 / 1e6
    );
    meter::print_table(&out, rows, bytes as f64 / 1e6);
    println!("  docs digest: {} ({} rows)", d.hex(), d.count);

    // The encoding alone, in memory, on the same documents as PostgreSQL prints them.
    let sample: Vec<String> =
        sqlx::query_scalar("SELECT doc::text FROM docs ORDER BY id LIMIT 200000")
            .fetch_all(pg)
            .await?;
    let mut enc = crate::validate::canon::RowEncoder::new();
    let time = |f: &mut dyn FnMut(&[u8])| {
        let t = Instant::now();
        for _ in 0..3 {
            for doc in &sample {
                f(doc.as_bytes());
            }
        }
        t.elapsed().as_secs_f64() * 1e6 / (3 * sample.len().max(1)) as f64
    };
    let new = time(&mut |doc| {
        enc.clear();
        enc.json_text(doc);
    });
    let mut buf = Vec::new();
    let old = time(&mut |doc| {
        buf.clear();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(doc) {
            write_json_via_serde_value(&v, &mut buf);
        }
    });
    println!(
        "  JSON encoding alone, {} documents in memory: wavedeck {new:.2} us/doc, serde_json::Value re-serialised with sorted keys (the encoder before #21, numbers as doubles) {old:.2} us/doc: {:.2}x",
        sample.len(),
        old / new.max(1e-9)
    );
    Ok(())
}

/// The JSON encoder before #21, kept as this bench's reference: parse into serde_json's Value
/// (numbers become doubles), write with sorted keys.
fn write_json_via_serde_value(v: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String((*k).clone()).to_string().as_bytes());
                out.push(b':');
                write_json_via_serde_value(&map[k.as_str()], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_via_serde_value(item, out);
            }
            out.push(b']');
        }
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

/// The two headline ratios, against the best raw read and the best in-database aggregate with
/// the same number of server sessions.
#[allow(clippy::too_many_arguments)]
/// The 1-stream reads of wavedeck's own PK-range chunks, without hashing.
const CHUNK_READ_PG: &str = "same PK-range COPYs as wavedeck, no hashing, sqlx";

/// The ratios of run 1; `chunks1` is the 1-stream read of wavedeck's chunks without hashing.
pub fn print_ratios(
    wd: [f64; 2],
    raw: [f64; 2],
    chunks1: f64,
    agg: [f64; 2],
    n: usize,
    agg_name: &str,
) {
    let [wd1, wdn] = wd;
    println!(
        "  wavedeck / raw read limit: {:.2} with 1 stream, {:.2} with {n} streams (aim >= {RAW_AIM:.2})",
        wd1 / raw[0].max(1e-9),
        wdn / raw[1].max(1e-9),
    );
    println!(
        "  wavedeck / the same PK-range reads without hashing: {:.2} with 1 stream (what hashing costs; the limit also counts reading by key ranges; with {n} streams the raw read above is those reads)",
        wd1 / chunks1.max(1e-9),
    );
    println!(
        "  wavedeck / {agg_name}: {:.1}x with 1 stream, {:.1}x with {n} streams (aim >= 2x)",
        wd1 / agg[0].max(1e-9),
        wdn / agg[1].max(1e-9),
    );
}

async fn raw_copy_whole(pg: &PgPool) -> anyhow::Result<u64> {
    let mut conn = pg.acquire().await?;
    let mut s = conn
        .copy_out_raw("COPY orders TO STDOUT (FORMAT binary)")
        .await?;
    let mut bytes = 0u64;
    while let Some(c) = s.try_next().await? {
        bytes += c.len() as u64;
    }
    Ok(bytes)
}

/// psql's COPY into /dev/null; false when psql is not installed. The password (if the URL has
/// one) goes through PGPASSWORD, never the command line.
async fn psql_copy(db_url: &str) -> anyhow::Result<bool> {
    let (url, password) = split_password(db_url);
    let mut cmd = tokio::process::Command::new("psql");
    cmd.args([
        "-X",
        "-q",
        "-d",
        &url,
        "-c",
        "COPY orders TO STDOUT (FORMAT binary)",
    ]);
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    }
    meter::run_cli(cmd).await
}

async fn raw_copy_ranges(
    pg: &PgPool,
    scan: &SideScan,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<u64> {
    let futs: Vec<_> = ranges
        .iter()
        .map(|r| {
            let sql = format!("COPY ({}) TO STDOUT (FORMAT binary)", scan.select_sql(*r));
            let pg = pg.clone();
            // Spawned when polled (see checksum_mysql's raw_ranges).
            async move {
                tokio::spawn(async move {
                    let mut conn = pg.acquire().await?;
                    let mut s = conn.copy_out_raw(&sql).await?;
                    let mut bytes = 0u64;
                    while let Some(c) = s.try_next().await? {
                        bytes += c.len() as u64;
                    }
                    Ok::<u64, sqlx::Error>(bytes)
                })
                .await
            }
        })
        .collect();
    let mut total = 0;
    let mut res = futures::stream::iter(futs).buffer_unordered(par);
    while let Some(r) = res.next().await {
        total += r??;
    }
    Ok(total)
}

/// data-diff's row checksum: text joined by '|', NULL as '<null>', md5, 60 bits summed.
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

fn range_where(r: &KeyRange) -> String {
    let mut conds = Vec::new();
    if let Some(lo) = r.lo {
        conds.push(format!("id >= {lo}"));
    }
    if let Some(hi) = r.hi {
        conds.push(format!("id < {hi}"));
    }
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

async fn planned_workers(pg: &PgPool, expr: &str) -> anyhow::Result<usize> {
    let plan: Vec<String> =
        sqlx::query_scalar(&format!("EXPLAIN SELECT count(*), {expr} FROM orders"))
            .fetch_all(pg)
            .await?;
    Ok(plan
        .iter()
        .find_map(|l| {
            l.split("Workers Planned:")
                .nth(1)
                .and_then(|x| x.trim().parse().ok())
        })
        .unwrap_or(0))
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
            let sql = format!(
                "SELECT count(*), {expr}::text FROM orders{}",
                range_where(r)
            );
            let pg = pg.clone();
            async move {
                let row = sqlx::query(&sql).fetch_one(&pg).await?;
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

/// One run's ratios of wavedeck to the raw read, with the load average it started at.
pub struct RunRatio {
    pub load: String,
    pub one: f64,
    pub many: f64,
}

impl RunRatio {
    pub fn of(load: String, wd1: f64, wdn: f64, raw1: f64, rawn: f64) -> RunRatio {
        RunRatio {
            load,
            one: wd1 / raw1.max(1e-9),
            many: wdn / rawn.max(1e-9),
        }
    }
}

/// Runs 2..=`runs`: the raw read and wavedeck (rows/s) with 1 and `n` streams, each pair back
/// to back so that both see the same machine; then every run's ratios and whether the aim held.
pub async fn repeat_ratios(
    runs: usize,
    n: usize,
    first: RunRatio,
    raw: impl AsyncFn(usize) -> anyhow::Result<f64>,
    wd: impl AsyncFn(usize) -> anyhow::Result<f64>,
) -> anyhow::Result<()> {
    let mut all = vec![first];
    for _ in 1..runs {
        let load = meter::loadavg();
        let (raw1, wd1) = (raw(1).await?, wd(1).await?);
        let (rawn, wdn) = (raw(n).await?, wd(n).await?);
        all.push(RunRatio::of(load, wd1, wdn, raw1, rawn));
    }
    if runs > 1 {
        print_runs(&all, n);
    }
    Ok(())
}

fn print_runs(all: &[RunRatio], n: usize) {
    println!("  runs back to back, wavedeck / raw read (aim >= {RAW_AIM:.2} in every run):");
    for (i, r) in all.iter().enumerate() {
        println!(
            "    run {}: {:.2} with 1 stream, {:.2} with {n} streams (load average {})",
            i + 1,
            r.one,
            r.many,
            r.load
        );
    }
    let worst1 = all.iter().map(|r| r.one).fold(f64::INFINITY, f64::min);
    let worstn = all.iter().map(|r| r.many).fold(f64::INFINITY, f64::min);
    let verdict = if worst1 >= RAW_AIM && worstn >= RAW_AIM {
        "the aim holds in every run"
    } else {
        "BELOW the aim"
    };
    println!("    worst: {worst1:.2} with 1 stream, {worstn:.2} with {n} streams: {verdict}");
}

/// `rows` over the time `read` takes, in rows/s.
pub async fn rate_of<T>(
    rows: u64,
    read: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    read.await?;
    Ok(rows as f64 / t.elapsed().as_secs_f64())
}

/// wavedeck's checksum in rows/s with `streams` streams; the digest must be the table's.
pub async fn wavedeck_rate(
    pool: &Pool,
    scan: &SideScan,
    ranges: &[KeyRange],
    streams: usize,
    want: &ChunkDigest,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let d = wavedeck_digest(pool, scan, ranges, streams).await?;
    let rate = d.count as f64 / t.elapsed().as_secs_f64();
    if &d != want {
        anyhow::bail!(
            "the checksum changed between runs: {} vs {}",
            d.hex(),
            want.hex()
        );
    }
    Ok(rate)
}

/// wavedeck's checksum measured with 1 stream and with `n`; both must give the same digest.
pub async fn wavedeck_streams(
    server: &ServerCpu,
    method: &str,
    n: usize,
    pool: &Pool,
    scan: &SideScan,
    ranges: &[KeyRange],
) -> anyhow::Result<(Vec<Measured>, ChunkDigest)> {
    let mut digests = [ChunkDigest::default(), ChunkDigest::default()];
    let mut measured = Vec::with_capacity(2);
    for (d, streams) in digests.iter_mut().zip([1, n]) {
        measured.push(
            meter::measure(server, method, streams, true, async {
                *d = wavedeck_digest(pool, scan, ranges, streams).await?;
                Ok(d.count)
            })
            .await?,
        );
    }
    let [d1, dp] = digests;
    if d1 != dp {
        anyhow::bail!(
            "the checksum differs between 1 and {n} streams: {} vs {}",
            d1.hex(),
            dp.hex()
        );
    }
    Ok((measured, dp))
}

/// Chunks hashed on the runtime's worker threads (spawned), `par` at a time, so parallel
/// streams also use parallel client cores.
pub async fn wavedeck_digest(
    pool: &Pool,
    scan: &SideScan,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<ChunkDigest> {
    let futs: Vec<_> = ranges
        .iter()
        .map(|r| {
            let (scan, pool, r) = (scan.clone(), pool.clone(), *r);
            async move {
                tokio::spawn(async move { scan.digest(&pool, r).await })
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .collect();
    let mut res = futures::stream::iter(futs).buffer_unordered(par);
    let mut d = ChunkDigest::default();
    while let Some(r) = res.next().await {
        d.merge(&r??);
    }
    Ok(d)
}

/// `scheme://user:password@host/...` -> (`scheme://user@host/...`, Some(password)), the
/// password percent-decoded.
pub fn split_password(url: &str) -> (String, Option<String>) {
    if let (Some(s), Some(at)) = (url.find("://"), url.rfind('@')) {
        if at > s {
            let creds = &url[s + 3..at];
            if let Some((u, pw)) = creds.split_once(':') {
                let pw = percent_encoding::percent_decode_str(pw)
                    .decode_utf8_lossy()
                    .into_owned();
                return (format!("{}{u}{}", &url[..s + 3], &url[at..]), Some(pw));
            }
        }
    }
    (url.to_string(), None)
}

pub fn replace_db(url: &str, db: &str) -> String {
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
pub fn redact_url(url: &str) -> String {
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
        assert_eq!(
            replace_db("mysql://root@127.0.0.1:3306/mysql", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            split_password("mysql://u:p%40ss@h:3306/db"),
            ("mysql://u@h:3306/db".to_string(), Some("p@ss".to_string()))
        );
        assert_eq!(
            split_password("postgres://u@h/db"),
            ("postgres://u@h/db".to_string(), None)
        );
    }
}
