//! What the validation tests of both engines share: a source/target pair of throwaway
//! databases, the inventory entry pointing at them, the test runbook, and report look-ups.

use futures::future::BoxFuture;
use std::future::Future;
use std::path::PathBuf;
use wavedeck::inventory::{DatabaseSpec, Endpoint, Engine};
use wavedeck::secret::SecretRef;
use wavedeck::validate::{DiffKind, Runbook, ValidateOptions, ValidationReport};

#[derive(Clone)]
pub struct Pair {
    pub src: String,
    pub tgt: String,
}

pub fn unique(tag: &str) -> String {
    format!("wd_{tag}_{}_{}", std::process::id(), rand::random::<u32>())
}

/// Run `sql` in database `db` of the local PostgreSQL, as postgres.
pub async fn pg_exec(db: &str, sql: &str) {
    let c = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("postgres://postgres@127.0.0.1:5432/{db}"))
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)");
    sqlx::raw_sql(sql)
        .execute(&c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await;
}

/// A pool of one session on database `db` of the local MariaDB, as root.
pub async fn my_pool(db: &str) -> sqlx::MySqlPool {
    sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&format!("mysql://root@127.0.0.1:3306/{db}"))
        .await
        .expect("MariaDB on 127.0.0.1:3306 (run scripts/services)")
}

/// Run `sql` in database `db` of the local MariaDB, as root.
pub async fn my_exec(db: &str, sql: &str) {
    let p = my_pool(db).await;
    sqlx::raw_sql(sql)
        .execute(&p)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    p.close().await;
}

/// Create a source and a target database (`create` makes and fills one), run `body`, drop
/// both even when `body` panics.
pub async fn with_pair<F, Fut>(
    tag: &str,
    create: impl Fn(String) -> BoxFuture<'static, ()>,
    drop: impl Fn(String) -> BoxFuture<'static, ()>,
    body: F,
) where
    F: FnOnce(Pair) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = unique(tag);
    let pair = Pair {
        src: format!("{base}_s"),
        tgt: format!("{base}_t"),
    };
    for db in [&pair.src, &pair.tgt] {
        create(db.clone()).await;
    }
    let res = tokio::spawn(body(pair.clone())).await;
    for db in [&pair.src, &pair.tgt] {
        drop(db.clone()).await;
    }
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn endpoint(engine: Engine, db: &str, user: &str) -> Endpoint {
    Endpoint {
        host: "127.0.0.1".into(),
        port: match engine {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
        },
        database: db.into(),
        user: user.into(),
        // trust auth / empty root password
        password: SecretRef::File(PathBuf::from("/dev/null")),
    }
}

pub fn spec(engine: Engine, p: &Pair, user: &str) -> DatabaseSpec {
    let (prefix, version) = match engine {
        Engine::Postgres => ("pg", "15"),
        Engine::Mysql => ("my", "10.11"),
    };
    DatabaseSpec::new(
        format!("{prefix}-{}", p.src),
        engine,
        endpoint(engine, &p.src, user),
        endpoint(engine, &p.tgt, user),
    )
    .with_version(version)
    .with_size_gb(0.01)
    .with_owner("test")
    .with_window("Sat 01:00-05:00 UTC")
    .with_wave(Some(0))
}

/// Small chunks and leaves so that ranges, bisection and row comparison are all exercised.
pub fn runbook(engine: Engine) -> Runbook {
    let mut rb = Runbook::builtin(engine);
    rb.validation.chunk_rows = 5_000;
    rb.validation.leaf_rows = 100;
    rb.validation.parallelism = 3;
    rb
}

/// The gate on these tables only (`--tables`).
pub fn only(tables: &[&str]) -> ValidateOptions {
    ValidateOptions {
        tables: Some(tables.iter().map(|t| t.to_string()).collect()),
        ..Default::default()
    }
}

pub fn has_diff(r: &ValidationReport, table: &str, key: &str, kind: DiffKind) -> bool {
    r.tables
        .iter()
        .flat_map(|t| &t.differences)
        .any(|d| d.table == table && d.key == key && d.kind == kind)
}

/// `wavedeck validate` on the real binary for the pair's database: (exit code, stdout).
pub fn validate_cli(spec: &DatabaseSpec, args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = validate_command(spec, dir.path(), args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `wavedeck validate` for the pair's database, its inventory written into `dir` (also its
/// working directory), not yet started.
pub fn validate_command(
    spec: &DatabaseSpec,
    dir: &std::path::Path,
    args: &[&str],
) -> std::process::Command {
    let side = |e: &Endpoint| {
        format!(
            "      host: {}\n      port: {}\n      database: {}\n      user: {}\n      password_file: /dev/null\n",
            e.host, e.port, e.database, e.user
        )
    };
    let inv = dir.join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "databases:\n  - db_id: {}\n    engine: {}\n    engine_version: \"{}\"\n    size_gb: 0.01\n    owner: test\n    criticality: low\n    business_window: \"daily 00:00-24:00 UTC\"\n    wave: 0\n    source:\n{}    target:\n{}",
            spec.db_id,
            spec.engine.as_str(),
            spec.engine_version,
            side(&spec.source),
            side(&spec.target)
        ),
    )
    .unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"));
    c.arg("validate")
        .arg(&inv)
        .args(["--db", &spec.db_id])
        .args(args)
        .current_dir(dir)
        .env_remove("WAVEDECK_CONFIG")
        .env_remove("WAVEDECK_STORE");
    c
}
