//! Resumable validation on the real local PostgreSQL: `wavedeck validate --resume` killed with
//! SIGKILL half way through goes on at the first chunk it had not finished, and a chunk is not
//! trusted across a schema change of its table.

mod common;

use common::validation::{self as shared, pg_exec as exec, validate_command, Pair};
use futures::future::BoxFuture;
use sqlx::postgres::PgPoolOptions;
use std::time::{Duration, Instant};
use wavedeck::inventory::{DatabaseSpec, Engine};

/// Rows of the table, and per chunk: 100 chunks.
const ROWS: u64 = 200_000;
const CHUNK: u64 = 2_000;

async fn with_pair<F, Fut>(body: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            exec("postgres", &format!("CREATE DATABASE {db}")).await;
            exec(
                &db,
                &format!(
                    "CREATE TABLE t (id bigint PRIMARY KEY, v text, n numeric(12,2));
                     INSERT INTO t SELECT g, md5(g::text), g / 100.0 FROM generate_series(1, {ROWS}) g;"
                ),
            )
            .await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            exec(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await;
        })
    };
    shared::with_pair("resume", create, drop, body).await
}

/// (chunks, rows) the store keeps for the open run.
async fn kept(store: &str) -> (u64, u64) {
    // Before the run creates the store there is nothing kept.
    let Ok(pool) = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(store)
        .await
    else {
        return (0, 0);
    };
    let n: Result<(i64, Option<i64>), _> = sqlx::query_as(
        "SELECT count(*), sum(rows_n) FROM validation_chunks WHERE run IN \
             (SELECT run FROM validation_runs WHERE finished_at IS NULL)",
    )
    .fetch_one(&pool)
    .await;
    pool.close().await;
    match n {
        Ok((c, r)) => (c as u64, r.unwrap_or(0) as u64),
        Err(_) => (0, 0), // not created yet
    }
}

struct Cli {
    spec: DatabaseSpec,
    dir: tempfile::TempDir,
    store: String,
}

impl Cli {
    fn command(&self, extra: &[&str]) -> std::process::Command {
        let rb = self.dir.path().join("runbook.yaml");
        let mut args = vec!["--resume", "--runbook", rb.to_str().unwrap()];
        args.extend(extra);
        let mut c = validate_command(&self.spec, self.dir.path(), &args);
        c.env("WAVEDECK_STORE", &self.store);
        c
    }

    /// Start a run and SIGKILL it once the store holds at least `at` of the chunks: what it
    /// kept by then, read after it died.
    async fn kill_at(&self, at: f64) -> (u64, u64) {
        let mut child = self
            .command(&[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let want = ((ROWS / CHUNK) as f64 * at) as u64;
        let started = Instant::now();
        loop {
            if kept(&self.store).await.0 >= want {
                break;
            }
            if let Some(st) = child.try_wait().unwrap() {
                panic!("the run ended ({st}) before it kept {want} chunks: make the table bigger");
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the run is stuck"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kept(&self.store).await
    }

    /// Run to the end: (rows read, chunks resumed, passed).
    fn finish(&self) -> (u64, u64, bool) {
        let out = self.command(&["--json"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let r: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
        let t = &r["tables"][0];
        assert_eq!(t["table"], "public.t", "{r}");
        assert_eq!(t["rows_source"], ROWS, "{r}");
        (
            t["rows_read"].as_u64().unwrap(),
            t["chunks_resumed"].as_u64().unwrap(),
            t["passed"].as_bool().unwrap() && out.status.success(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_goes_on_at_the_first_chunk_not_done() {
    with_pair(|p: Pair| async move {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("runbook.yaml"),
            format!("engine: postgres\nprechecks: []\nvalidation:\n  chunk_rows: {CHUNK}\n  parallelism: 1\n"),
        )
        .unwrap();
        let store = format!("sqlite://{}", dir.path().join("store.db").display());
        let cli = Cli {
            spec: shared::spec(Engine::Postgres, &p, "postgres"),
            dir,
            store,
        };

        // 1. Killed at about half; the resumed run reads only what was not kept.
        let (chunks, kept_rows) = cli.kill_at(0.5).await;
        assert!(chunks >= 50 && kept_rows < ROWS, "{chunks} chunks, {kept_rows} rows kept");
        let (read, resumed, passed) = cli.finish();
        assert!(passed);
        assert_eq!(resumed, chunks);
        assert_eq!(read, ROWS - kept_rows, "every row not kept is read once");
        // Read in all: what was kept, at most one chunk in flight when killed (parallelism
        // 1), and the rest.
        let total = kept_rows + CHUNK + read;
        assert!(
            (total as f64) < 1.02 * ROWS as f64,
            "{total} rows read for a table of {ROWS}"
        );

        // 2. The finished run is closed: the next one starts afresh (a row changed, so the
        // freshness gate reads the table). Killed again, then the table's schema changes
        // (same data, another type): no kept chunk stands.
        for db in [&p.src, &p.tgt] {
            exec(db, "UPDATE t SET v = 'changed' WHERE id = 7").await;
            wait_stats(db, "t", 1).await;
        }
        let (chunks, _) = cli.kill_at(0.3).await;
        assert!(chunks > 0);
        for db in [&p.src, &p.tgt] {
            exec(db, "ALTER TABLE t ALTER COLUMN v TYPE varchar(64)").await;
        }
        let (read, resumed, passed) = cli.finish();
        assert!(passed);
        assert_eq!((read, resumed), (ROWS, 0), "a schema change drops the kept chunks");
    })
    .await;
}

/// Tables of the freshness case, and rows in each.
const TABLES: usize = 20;
const TABLE_ROWS: u64 = 5_000;

/// Until the server's statistics show `t`'s update (a backend sends its counters when it goes
/// idle or exits, not at commit): the freshness gate sees what the statistics show.
async fn wait_stats(db: &str, t: &str, upd: i64) {
    let c = PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("postgres://postgres@127.0.0.1:5432/{db}"))
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let (n,): (i64,) =
            sqlx::query_as("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = $1")
                .bind(t)
                .fetch_one(&c)
                .await
                .unwrap();
        if n >= upd {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "statistics never showed the update"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_freshness_gate_reads_only_the_tables_that_changed() {
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            exec("postgres", &format!("CREATE DATABASE {db}")).await;
            let mut sql = String::new();
            for i in 0..TABLES {
                sql.push_str(&format!(
                    "CREATE TABLE t{i} (id bigint PRIMARY KEY, v text);
                     INSERT INTO t{i} SELECT g, md5(g::text) FROM generate_series(1, {TABLE_ROWS}) g;"
                ));
            }
            exec(&db, &sql).await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            exec(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await;
        })
    };
    shared::with_pair("fresh", create, drop, |p: Pair| async move {
        let dir = tempfile::tempdir().unwrap();
        let store = format!("sqlite://{}", dir.path().join("store.db").display());
        let spec = shared::spec(Engine::Postgres, &p, "postgres");
        let run = || {
            let out = validate_command(&spec, dir.path(), &["--resume", "--json"])
                .env("WAVEDECK_STORE", &store)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let r: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert!(out.status.success(), "{r}");
            // (table, rows read, the freshness gate's word)
            r["tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["table"].as_str().unwrap().to_string(),
                        t["rows_read"].as_u64().unwrap(),
                        t["freshness"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first.len(), TABLES);
        assert!(
            first.iter().all(|(_, read, _)| *read == TABLE_ROWS),
            "{first:?}"
        );

        // One row changes on both sides of t7 (the gate still passes); t3 is rewritten on the
        // target without a row changing (VACUUM FULL: a new relfilenode).
        for db in [&p.src, &p.tgt] {
            exec(db, "UPDATE t7 SET v = 'changed' WHERE id = 10").await;
            wait_stats(db, "t7", 1).await;
        }
        exec(&p.tgt, "VACUUM FULL t3").await;
        let second = run();
        let read: Vec<&str> = second
            .iter()
            .filter(|(_, n, _)| *n > 0)
            .map(|(t, _, _)| t.as_str())
            .collect();
        assert_eq!(read, ["public.t3", "public.t7"], "{second:?}");
        for (t, n, why) in &second {
            match t.as_str() {
                "public.t7" => {
                    assert_eq!(*n, TABLE_ROWS);
                    assert!(why.contains("source's n_tup_upd changed"), "{why}");
                }
                "public.t3" => assert!(why.contains("target's relfilenode"), "{why}"),
                _ => assert!(why.starts_with("not read: unchanged since"), "{t}: {why}"),
            }
        }
    })
    .await;
}
