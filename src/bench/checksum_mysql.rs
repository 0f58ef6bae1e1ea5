//! `wavedeck bench checksum --engine mysql`: wavedeck's checksum against the raw read limit
//! (a streaming SELECT of all rows into nothing: sqlx, and the mariadb/mysql client as the
//! libmariadb reference) and against pt-table-checksum's in-database chunk aggregate, written
//! as pt-table-checksum writes it (RowChecksum.pm): `CONCAT_WS('#', cols, CONCAT(ISNULL(..)))`,
//! TIMESTAMP as `UNIX_TIMESTAMP()`, then CRC32 + `BIT_XOR` (its default) or MD5 XORed in 16-hex
//! slices through `@crc` (its MD5 mode), in primary-key chunks over `FORCE INDEX(PRIMARY)`.

use super::checksum::{
    print_ratios, rate_of, redact_url, repeat_ratios, replace_db, split_password, wavedeck_rate,
    wavedeck_streams, ChecksumArgs, RunRatio,
};
use super::meter::{self as meter, Measured, ServerCpu};
use crate::inventory::Engine;
use crate::validate::catalog;
use crate::validate::checksum::plan_ranges;
use crate::validate::connect::Pool;
use crate::validate::scan::{KeyRange, SideScan};
use futures::{StreamExt, TryStreamExt};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::Executor;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

pub async fn run(a: ChecksumArgs) -> anyhow::Result<ExitCode> {
    let url = a
        .url
        .clone()
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/mysql".into());
    let db = format!("wd_bench_checksum_{}", a.rows);
    let admin = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to {}: {e} (is MariaDB running? scripts/services)",
                redact_url(&url)
            )
        })?;
    let db_url = replace_db(&url, &db);
    admin
        .execute(format!("CREATE DATABASE IF NOT EXISTS {db}").as_str())
        .await?;
    let pool = my_pool(&db_url, a.parallel).await?;
    let n: Option<i64> = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .ok();
    if n == Some(a.rows as i64) {
        eprintln!("reusing {db}.orders ({} rows)", a.rows);
    } else {
        eprintln!("generating {} rows in {db}.orders ...", a.rows);
        let t = Instant::now();
        generate(&pool, a.rows).await?;
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let result = measure(&a, &db_url, &pool).await;
    pool.close().await;
    if !a.keep {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {db}").as_str())
            .await?;
    }
    admin.close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn my_pool(db_url: &str, conns: usize) -> anyhow::Result<MySqlPool> {
    let opts = MySqlConnectOptions::from_str(db_url)?
        .charset("utf8mb4")
        .timezone(Some("+00:00".to_string()));
    Ok(MySqlPoolOptions::new()
        .max_connections(conns as u32 + 1)
        .connect_with(opts)
        .await?)
}

/// The same shape as the PostgreSQL bench table, in 1M-row statements (one huge INSERT would
/// hold a 10M-row transaction).
/// The 1-stream reads of wavedeck's own PK-range chunks, without hashing.
const CHUNK_READ_MY: &str = "same PK-range SELECTs as wavedeck, no hashing, sqlx";

async fn generate(p: &MySqlPool, rows: u64) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS orders;
         CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, customer_id INT, status VARCHAR(16), \
           amount DECIMAL(12,2), price DOUBLE, note VARCHAR(32), created_at TIMESTAMP(6) NULL, \
           updated_at DATETIME(6) NULL) ENGINE=InnoDB",
    )
    .execute(p)
    .await?;
    let step = 1_000_000u64;
    let mut lo = 1u64;
    while lo <= rows {
        let hi = (lo + step - 1).min(rows);
        sqlx::raw_sql(&format!(
            "INSERT INTO orders SELECT seq, (seq*7919)%100000, ELT(1+seq%4,'new','paid','shipped','cancelled'), \
               ((seq*31)%1000000)/100, ((seq*17)%10000)/7, IF(seq%10=0, NULL, MD5(seq)), \
               TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, \
               IF(seq%3=0, NULL, TIMESTAMP'2024-06-01 12:00:00.123456' + INTERVAL seq*1000 MICROSECOND) \
             FROM seq_{lo}_to_{hi}"
        ))
        .execute(p)
        .await?;
        lo = hi + 1;
    }
    sqlx::raw_sql("ANALYZE TABLE orders").execute(p).await?;
    Ok(())
}

/// pt-table-checksum's row expression for the table (make_row_checksum / get_checksum_columns).
fn pt_row(func: &str, t: &catalog::Table) -> String {
    let q = |c: &str| catalog::quote_ident(Engine::Mysql, c);
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            if c.type_key == "timestamp" {
                format!("UNIX_TIMESTAMP({})", q(&c.name))
            } else {
                q(&c.name)
            }
        })
        .collect();
    let nulls: Vec<String> = t
        .columns
        .iter()
        .filter(|c| c.nullable)
        .map(|c| format!("ISNULL({})", q(&c.name)))
        .collect();
    let mut all = cols;
    if !nulls.is_empty() {
        all.push(format!("CONCAT({})", nulls.join(", ")));
    }
    format!("{func}(CONCAT_WS('#', {}))", all.join(", "))
}

/// pt-table-checksum's chunk aggregate (make_chunk_checksum): CRC32 is an integer and goes
/// straight into BIT_XOR; MD5 is XORed in two 16-hex slices, computed once through `@crc` in
/// slice `opt_slice`.
fn pt_chunk(func: &str, row: &str, opt_slice: usize) -> String {
    if func == "CRC32" {
        return format!("COUNT(*) AS cnt, COALESCE(LOWER(CONV(BIT_XOR(CAST({row} AS UNSIGNED)), 10, 16)), 0) AS crc");
    }
    format!(
        "COUNT(*) AS cnt, COALESCE(LOWER(CONCAT({})), 0) AS crc",
        pt_slices(row, opt_slice)
    )
}

/// _make_xor_slices for a 32-hex-digit hash.
fn pt_slices(row: &str, opt_slice: usize) -> String {
    [1, 17]
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let src = if i == opt_slice {
                format!("@crc := {row}")
            } else {
                "@crc".to_string()
            };
            format!("LPAD(CONV(BIT_XOR(CAST(CONV(SUBSTRING({src}, {start}, 16), 16, 10) AS UNSIGNED)), 10, 16), 16, '0')")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// pt-table-checksum's _optimize_xor: the slice whose `@crc :=` makes the sliced XOR of one
/// row equal MD5 of it (evaluation order is the server's business).
async fn md5_opt_slice(p: &MySqlPool) -> anyhow::Result<usize> {
    let mut c = p.acquire().await?;
    let want: String = sqlx::query_scalar("SELECT LOWER(MD5('a'))")
        .fetch_one(&mut *c)
        .await?;
    for slice in 0..2 {
        c.execute("SET @crc := ''").await?;
        let sql = format!(
            "SELECT CAST(LOWER(CONCAT({})) AS CHAR) FROM (SELECT NULL) AS x",
            pt_slices("MD5('a')", slice)
        );
        let got: String = sqlx::query_scalar(&sql).fetch_one(&mut *c).await?;
        if got == want {
            return Ok(slice);
        }
    }
    anyhow::bail!(
        "no MD5 slice reproduces MD5('a') on this server (pt-table-checksum would fail too)"
    )
}

async fn pt_chunks(
    p: &MySqlPool,
    select: &str,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<u64> {
    let futs: Vec<_> = ranges
        .iter()
        .map(|r| {
            let sql = format!(
                "SELECT {select} FROM `orders` FORCE INDEX(`PRIMARY`) WHERE `id` >= {} AND `id` < {}",
                r.lo.unwrap_or(i64::MIN as i128),
                r.hi.unwrap_or(i64::MAX as i128)
            );
            let p = p.clone();
            async move {
                let mut c = p.acquire().await?;
                c.execute("SET @crc := ''").await?;
                let (cnt, _crc): (i64, Vec<u8>) = sqlx::query_as(&sql).fetch_one(&mut *c).await?;
                Ok::<u64, sqlx::Error>(cnt as u64)
            }
        })
        .collect();
    let mut res = futures::stream::iter(futs).buffer_unordered(par);
    let mut n = 0;
    while let Some(r) = res.next().await {
        n += r?;
    }
    Ok(n)
}

/// Rows streamed through sqlx (prepared statement, binary protocol: what wavedeck's scan
/// uses) and dropped.
async fn raw_ranges(
    p: &MySqlPool,
    scan: &SideScan,
    ranges: &[KeyRange],
    par: usize,
) -> anyhow::Result<u64> {
    let futs: Vec<_> = ranges
        .iter()
        .map(|r| {
            let sql = scan.select_sql(*r);
            let p = p.clone();
            // Spawned when polled: spawned up front, every range would wait for the pool at
            // once and the last ones time out on a slow machine.
            async move {
                tokio::spawn(async move {
                    let mut rows = sqlx::query(&sql).fetch(&p);
                    let mut n = 0u64;
                    while rows.try_next().await?.is_some() {
                        n += 1;
                    }
                    Ok::<u64, sqlx::Error>(n)
                })
                .await
            }
        })
        .collect();
    let mut res = futures::stream::iter(futs).buffer_unordered(par);
    let mut n = 0;
    while let Some(r) = res.next().await {
        n += r??;
    }
    Ok(n)
}

/// The mariadb (or mysql) client, unbuffered, into nothing; false when neither is installed.
async fn cli_select(db_url: &str, select: &str) -> anyhow::Result<bool> {
    let opts = MySqlConnectOptions::from_str(db_url)?;
    let (_, password) = split_password(db_url);
    for prog in ["mariadb", "mysql"] {
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args([
            "--quick",
            "--batch",
            "--skip-column-names",
            "-h",
            opts.get_host(),
            "-P",
            &opts.get_port().to_string(),
            "-u",
            opts.get_username(),
            opts.get_database().unwrap_or_default(),
            "-e",
            select,
        ]);
        if let Some(pw) = &password {
            cmd.env("MYSQL_PWD", pw);
        }
        if meter::run_cli(cmd).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn server_pid(p: &MySqlPool) -> Option<i32> {
    let f: Vec<u8> = sqlx::query_scalar("SELECT CAST(@@pid_file AS CHAR)")
        .fetch_one(p)
        .await
        .ok()?;
    let path = String::from_utf8_lossy(&f).into_owned();
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

async fn measure(a: &ChecksumArgs, db_url: &str, my: &MySqlPool) -> anyhow::Result<()> {
    let load_before = meter::loadavg();
    let opts = MySqlConnectOptions::from_str(db_url)?;
    let server = match (meter::is_local_host(opts.get_host()), server_pid(my).await) {
        (true, Some(pid)) => ServerCpu::Process(pid),
        _ => ServerCpu::Unknown,
    };
    let pool = Pool::My(my.clone());
    let db = opts.get_database().unwrap_or_default().to_string();
    let cat = catalog::load(&pool, &db, &[]).await?;
    let table = cat
        .table("orders")
        .ok_or_else(|| anyhow::anyhow!("orders missing in the bench database"))?
        .clone();
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let scan = SideScan::new(Engine::Mysql, &table, &columns, Some("id"));
    let bounds = scan.key_bounds(&pool).await?;
    let ranges = plan_ranges(bounds, a.rows, a.chunk_rows);
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(my)
        .await?;
    let data_length: i64 = sqlx::query_scalar(
        "SELECT CAST(data_length AS SIGNED) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'orders'",
    )
    .fetch_one(my)
    .await?;
    let n = a.parallel;
    let whole = [KeyRange::ALL];
    // Warm-up: the buffer pool.
    raw_ranges(my, &scan, &whole, 1).await?;

    let mut out: Vec<Measured> = Vec::new();
    out.push(
        meter::measure(
            &server,
            "raw read: SELECT all rows, sqlx (binary protocol)",
            1,
            true,
            async { raw_ranges(my, &scan, &whole, 1).await },
        )
        .await?,
    );
    let cli = meter::measure(
        &server,
        "raw read: same SELECT, mariadb --quick > /dev/null",
        1,
        true,
        async {
            Ok(
                if cli_select(db_url, &scan.select_sql(KeyRange::ALL)).await? {
                    a.rows
                } else {
                    0
                },
            )
        },
    )
    .await?;
    let have_cli = cli.rows > 0;
    if have_cli {
        out.push(cli);
    }
    out.push(
        meter::measure(&server, "raw read: PK-range SELECT, sqlx", n, true, async {
            raw_ranges(my, &scan, &ranges, n).await
        })
        .await?,
    );
    // Not a "raw read:" row (see the PostgreSQL bench's CHUNK_READ_PG).
    out.push(
        meter::measure(&server, CHUNK_READ_MY, 1, true, async {
            raw_ranges(my, &scan, &ranges, 1).await
        })
        .await?,
    );
    let crc = pt_chunk("CRC32", &pt_row("CRC32", &table), 0);
    let slice = md5_opt_slice(my).await?;
    let md5 = pt_chunk("MD5", &pt_row("MD5", &table), slice);
    for (name, sel) in [("CRC32 + BIT_XOR", &crc), ("MD5 + BIT_XOR slices", &md5)] {
        for streams in [1, n] {
            out.push(
                meter::measure(
                    &server,
                    &format!("in-db {name} (pt-table-checksum), PK chunks"),
                    streams,
                    true,
                    async { pt_chunks(my, sel, &ranges, streams).await },
                )
                .await?,
            );
            if n == 1 {
                break;
            }
        }
    }
    let (measured, dp) = wavedeck_streams(
        &server,
        "wavedeck checksum (SELECT, SHA-256/row, sum)",
        n,
        &pool,
        &scan,
        &ranges,
    )
    .await?;
    out.extend(measured);

    let mb = data_length as f64 / 1e6;
    println!("wavedeck bench checksum --engine mysql");
    println!(
        "  table: orders, {} rows, InnoDB data_length {mb:.1} MB (MB/s = data_length / time)",
        a.rows
    );
    println!(
        "  server: {version}; host: {} ({} CPUs); chunks: {} x ~{} rows",
        meter::cpu_model(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        ranges.len(),
        a.chunk_rows
    );
    println!(
        "  load average: {load_before} before, {} after; {}; cli CPU = this process (+ the mariadb client)",
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
    let (wd1, wdn) = (find("wavedeck", 1), find("wavedeck", n));
    let (raw1, rawn) = (find("raw read:", 1), find("raw read:", n));
    print_ratios(
        [wd1, wdn],
        [raw1, rawn],
        find(CHUNK_READ_MY, 1),
        [find("in-db MD5", 1), find("in-db MD5", n)],
        n,
        "in-database MD5 (pt-table-checksum)",
    );
    println!(
        "  wavedeck / in-database CRC32 (pt-table-checksum default): {:.1}x with 1 stream, {:.1}x with {n} streams",
        wd1 / find("in-db CRC32", 1).max(1e-9),
        wdn / find("in-db CRC32", n).max(1e-9)
    );
    if !have_cli {
        println!(
            "  (neither mariadb nor mysql client found: the libmariadb reference row is missing)"
        );
    }
    let sql_all = scan.select_sql(KeyRange::ALL);
    // Later runs time only the 1-stream raw read that was faster in run 1.
    let cli_won = have_cli && raw1 > find("raw read: SELECT", 1);
    repeat_ratios(
        a.runs,
        n,
        RunRatio::of(load_before, wd1, wdn, raw1, rawn),
        async |streams| {
            if streams > 1 {
                rate_of(a.rows, raw_ranges(my, &scan, &ranges, streams)).await
            } else if cli_won {
                rate_of(a.rows, cli_select(db_url, &sql_all)).await
            } else {
                rate_of(a.rows, raw_ranges(my, &scan, &whole, 1)).await
            }
        },
        async |streams| wavedeck_rate(&pool, &scan, &ranges, streams, &dp).await,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, key: &str, nullable: bool) -> catalog::Column {
        catalog::Column {
            name: name.into(),
            data_type: key.into(),
            type_key: key.into(),
            column_type: key.into(),
            nullable,
            charset: None,
            collation: None,
        }
    }

    #[test]
    fn pt_expressions_match_pt_table_checksum() {
        let t = catalog::Table {
            schema: String::new(),
            name: "t".into(),
            columns: vec![
                col("id", "bigint", false),
                col("at", "timestamp", true),
                col("v", "varchar", true),
            ],
            primary_key: vec!["id".into()],
            indexes: vec![],
            engine: None,
            collation: None,
        };
        let row = pt_row("CRC32", &t);
        assert_eq!(
            row,
            "CRC32(CONCAT_WS('#', `id`, UNIX_TIMESTAMP(`at`), `v`, CONCAT(ISNULL(`at`), ISNULL(`v`))))"
        );
        assert_eq!(
            pt_chunk("CRC32", &row, 0),
            format!("COUNT(*) AS cnt, COALESCE(LOWER(CONV(BIT_XOR(CAST({row} AS UNSIGNED)), 10, 16)), 0) AS crc")
        );
        let m = pt_chunk("MD5", "MD5(x)", 0);
        assert!(
            m.contains("SUBSTRING(@crc := MD5(x), 1, 16)") && m.contains("SUBSTRING(@crc, 17, 16)"),
            "{m}"
        );
    }
}
