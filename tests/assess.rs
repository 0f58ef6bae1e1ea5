//! The fleet assessment against the real local PostgreSQL (127.0.0.1:5432, trust) and MariaDB
//! (127.0.0.1:3306, root, empty password): throwaway databases seeded with a table without a
//! primary key, a trigger and a type DRS cannot carry, written to while the probe samples the
//! write counters, next to a database nobody listens for. Then the user's path through the
//! binary: `wavedeck assess` and `wavedeck plan --assessment`.

mod common;

use common::validation::{self as shared, Pair};
use futures::future::BoxFuture;
use sqlx::any::AnyPoolOptions;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wavedeck::assess::probe::{assess_all, ProbeOptions};
use wavedeck::assess::report::{self, AssessmentFile};
use wavedeck::assess::{DbAssessment, Outcome, Severity};
use wavedeck::inventory::{DatabaseSpec, Engine};

const PG_SETUP: &str = r#"
CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric(12,2), at timestamptz DEFAULT now());
CREATE TABLE audit_log (at timestamptz, what text);
CREATE TABLE positions (id int PRIMARY KEY, lsn pg_lsn);
CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text);
CREATE VIEW big_orders AS SELECT id FROM orders WHERE amount > 100;
CREATE SEQUENCE ticket_seq;
CREATE FUNCTION log_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log VALUES (now(), 'order ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION log_order();
INSERT INTO orders (id, amount) SELECT g, g FROM generate_series(1, 5000) g;
"#;

const MY_SETUP: &str = r#"
CREATE TABLE orders (id BIGINT PRIMARY KEY, amount DECIMAL(12,2), note TEXT) ENGINE=InnoDB;
CREATE TABLE audit_log (at DATETIME, what VARCHAR(100)) ENGINE=InnoDB;
CREATE TABLE peers (id INT PRIMARY KEY, addr INET6, secret INT INVISIBLE) ENGINE=InnoDB;
CREATE VIEW big_orders AS SELECT id FROM orders WHERE amount > 100;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit_log VALUES (NOW(), CONCAT('order ', NEW.id));
CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY DO DELETE FROM audit_log WHERE at < NOW() - INTERVAL 30 DAY;
CREATE PROCEDURE touch() SELECT 1;
INSERT INTO orders (id, amount) SELECT seq, seq FROM seq_1_to_5000;
"#;

fn pg_url(db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{db}")
}

fn my_url(db: &str) -> String {
    format!("mysql://root@127.0.0.1:3306/{db}")
}

async fn pg_exec(db: &str, sql: &str) {
    let p = PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg_url(db))
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)");
    sqlx::raw_sql(sql)
        .execute(&p)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    p.close().await;
}

async fn my_exec(db: &str, sql: &str) {
    let p = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&my_url(db))
        .await
        .expect("MariaDB on 127.0.0.1:3306 (run scripts/services)");
    sqlx::raw_sql(sql)
        .execute(&p)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    p.close().await;
}

/// Insert orders (each fires the trigger) into the database at `url` until `stop`; the write
/// rate has something to see.
fn writer(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        sqlx::any::install_default_drivers();
        let p = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let mut n = 0u64;
        let mut id = 1_000_000i64;
        while !stop.load(Ordering::Relaxed) {
            id += 1;
            let insert = format!("INSERT INTO orders (id, amount) VALUES ({id}, 1)");
            sqlx::raw_sql(&insert).execute(&p).await.unwrap();
            n += 1;
        }
        n
    })
}

/// A database whose source nobody listens for (a loopback port that refuses).
fn unreachable(engine: Engine, p: &Pair) -> DatabaseSpec {
    let mut s = shared::spec(engine, p, "nobody");
    s.db_id = format!("{}-gone", s.db_id);
    s.source.port = 1;
    s
}

fn opts() -> ProbeOptions {
    ProbeOptions {
        connect_timeout: Duration::from_secs(3),
        deadline: Duration::from_secs(30),
        sample: Duration::from_secs(3),
        concurrency: 4,
    }
}

/// Assess `specs` while writing into the first one's source.
async fn assess_while_writing(engine: Engine, specs: &[DatabaseSpec]) -> Vec<DbAssessment> {
    let stop = Arc::new(AtomicBool::new(false));
    let db = &specs[0].source.database;
    let url = match engine {
        Engine::Postgres => pg_url(db),
        Engine::Mysql => my_url(db),
    };
    let w = writer(url, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = assess_all(specs, &opts()).await;
    stop.store(true, Ordering::Relaxed);
    let written = w.await.unwrap();
    assert!(written > 0, "the writer wrote nothing");
    rows
}

fn rules(r: &DbAssessment, sev: Severity) -> Vec<&str> {
    r.findings
        .iter()
        .filter(|f| f.severity == sev)
        .map(|f| f.rule.as_str())
        .collect()
}

fn finding<'a>(r: &'a DbAssessment, rule: &str) -> &'a str {
    r.findings
        .iter()
        .find(|f| f.rule == rule)
        .map(|f| f.detail.as_str())
        .unwrap_or_else(|| panic!("no {rule} finding in {:#?}", r.findings))
}

fn assert_unreachable(r: &DbAssessment) {
    assert_eq!(r.outcome, Outcome::Unreachable, "{r:#?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("not reachable over TCP")),
        "{:?}",
        r.problems
    );
    assert!(r.tables.is_none() && r.measured_size_bytes.is_none());
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wavedeck")
}

/// `wavedeck assess` then `wavedeck plan --assessment` on an inventory of `specs`, as an
/// operator runs them; returns both outputs and the files.
fn cli_path(specs: &[DatabaseSpec]) -> (String, String, AssessmentFile, PathBuf) {
    let dir = std::env::temp_dir().join(shared::unique("assess_cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let inv = dir.join("inventory.yaml");
    std::fs::write(
        &inv,
        format!(
            "databases:\n{}",
            wavedeck::inventory::write::yaml_records(specs)
        ),
    )
    .unwrap();
    let out = dir.join("assessment");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(bin())
            .args(args)
            .env_remove("WAVEDECK_CONFIG")
            .current_dir(&dir)
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "wavedeck {args:?}: {text}");
        text
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let assessed = run(&[
        "assess",
        &s(&inv),
        "--out",
        &s(&out),
        "--sample-s",
        "1",
        "--connect-timeout-s",
        "2",
    ]);
    let planned = run(&["plan", "--inventory", &s(&inv), "--assessment", &s(&out)]);
    let file = report::read(&out).unwrap();
    (assessed, planned, file, dir)
}

#[tokio::test]
async fn postgres_sources_are_assessed_and_blockers_keep_them_out_of_the_plan() {
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            pg_exec("postgres", &format!("CREATE DATABASE {db}")).await;
            pg_exec(&db, PG_SETUP).await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            pg_exec(
                "postgres",
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await
        })
    };
    shared::with_pair("assesspg", create, drop, |p| async move {
        let admin = PgPoolOptions::new().max_connections(1).connect(&pg_url(&p.src)).await.unwrap();
        let (version, wal_level, size_before): (String, String, i64) = sqlx::query_as(
            "SELECT current_setting('server_version'), current_setting('wal_level'), pg_database_size(current_database())",
        )
        .fetch_one(&admin)
        .await
        .unwrap();
        let objects_before: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class").fetch_one(&admin).await.unwrap();
        let specs = vec![shared::spec(Engine::Postgres, &p, "postgres"), unreachable(Engine::Postgres, &p)];
        let rows = assess_while_writing(Engine::Postgres, &specs).await;
        assert_eq!(rows.len(), 2, "one row per database, in inventory order");
        let r = &rows[0];
        assert_eq!(r.db_id, specs[0].db_id);
        assert_eq!(r.outcome, Outcome::Assessed, "{:?}", r.problems);
        assert_eq!(r.version.as_deref(), Some(version.as_str()));
        assert_eq!(r.encoding.as_deref(), Some("UTF8"));
        let size = r.measured_size_bytes.unwrap();
        assert!(size >= size_before / 2 && size > 1_000_000, "{size} vs {size_before}");
        assert_eq!(r.tables, Some(4));
        assert_eq!(r.tables_without_pk, vec!["public.audit_log".to_string()]);
        let o = r.objects.as_ref().unwrap();
        assert_eq!((o.views, o.triggers, o.sequences, o.events, o.procedures), (1, 1, 1, 0, 0));
        assert_eq!(o.functions, 1, "log_order()");
        assert!(o.extensions.is_empty(), "{:?}", o.extensions);
        let w = r.write_rate.as_ref().unwrap();
        assert_eq!(w.scope, "database");
        assert!(w.rows_per_s > 0.0 && w.sample_s >= 3.0, "{w:?}");
        let blockers = rules(r, Severity::Blocker);
        assert!(finding(r, "type/unsupported").contains("public.positions.lsn pg_lsn"));
        assert!(finding(r, "table/unlogged").contains("public.cache"));
        assert!(finding(r, "source/primary_keys").contains("audit_log"));
        assert!(rules(r, Severity::Warning).contains(&"source/primary_keys"));
        // The replication prerequisite follows the server's real setting.
        assert_eq!(blockers.contains(&"source/wal_level"), wal_level != "logical", "{blockers:?}");
        assert_unreachable(&rows[1]);
        // Read-only: the probe created nothing.
        let objects_after: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class").fetch_one(&admin).await.unwrap();
        assert_eq!(objects_before, objects_after);
        admin.close().await;

        let (assessed, planned, file, dir) = cli_path(&specs);
        assert_eq!(file.databases.len(), 2);
        assert!(assessed.contains(&format!("unreachable {}", specs[1].db_id)), "{assessed}");
        assert!(assessed.contains(&format!("blocker {} type/unsupported", specs[0].db_id)), "{assessed}");
        assert!(assessed.contains("2 databases in "), "{assessed}");
        assert!(
            planned.contains(&format!("{} is in no wave:", specs[0].db_id)) && planned.contains("type/unsupported"),
            "{planned}"
        );
        assert!(planned.contains(&format!("{} (unreachable at assessment)", specs[1].db_id)), "{planned}");
        assert!(planned.contains("1 databases"), "only the unreachable one is planned: {planned}");
        let md = std::fs::read_to_string(dir.join("assessment/assessment.md")).unwrap();
        assert!(md.find(&format!("### {}", specs[0].db_id)) < md.find("## Unreachable"), "{md}");
        let csv = std::fs::read_to_string(dir.join("assessment/assessment.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        println!("{md}");
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

#[tokio::test]
async fn mariadb_sources_are_assessed_and_blockers_keep_them_out_of_the_plan() {
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            my_exec("mysql", &format!("CREATE DATABASE {db}")).await;
            my_exec(&db, MY_SETUP).await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move { my_exec("mysql", &format!("DROP DATABASE IF EXISTS {db}")).await })
    };
    shared::with_pair("assessmy", create, drop, |p| async move {
        let admin = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&my_url(&p.src))
            .await
            .unwrap();
        let log_bin: (String, String) = sqlx::query_as("SHOW GLOBAL VARIABLES LIKE 'log_bin'")
            .fetch_one(&admin)
            .await
            .unwrap();
        admin.close().await;
        let specs = vec![
            shared::spec(Engine::Mysql, &p, "root"),
            unreachable(Engine::Mysql, &p),
        ];
        let rows = assess_while_writing(Engine::Mysql, &specs).await;
        let r = &rows[0];
        assert_eq!(r.outcome, Outcome::Assessed, "{:?}", r.problems);
        assert!(
            r.version.as_deref().unwrap().contains("MariaDB"),
            "{:?}",
            r.version
        );
        assert_eq!(r.encoding.as_deref(), Some("utf8mb4"));
        assert!(r.measured_size_bytes.unwrap() > 0);
        assert_eq!(r.tables, Some(3));
        assert_eq!(r.tables_without_pk, vec!["audit_log".to_string()]);
        let o = r.objects.as_ref().unwrap();
        assert_eq!(
            (o.views, o.triggers, o.events, o.procedures, o.functions),
            (1, 1, 1, 1, 0)
        );
        let w = r.write_rate.as_ref().unwrap();
        assert!(w.rows_per_s > 0.0, "{w:?}");
        assert!(finding(r, "type/unsupported").contains("peers.addr inet6"));
        assert!(finding(r, "column/invisible").contains("peers.secret"));
        assert!(finding(r, "type/not_compared_by_drs").contains("orders.note"));
        assert!(finding(r, "source/primary_keys").contains("audit_log"));
        let blockers = rules(r, Severity::Blocker);
        assert_eq!(
            blockers.contains(&"source/log_bin"),
            log_bin.1 != "ON",
            "{blockers:?}"
        );
        assert_unreachable(&rows[1]);

        let (assessed, planned, _file, dir) = cli_path(&specs);
        assert!(
            assessed.contains(&format!("blocker {} column/invisible", specs[0].db_id)),
            "{assessed}"
        );
        assert!(
            planned.contains(&format!("{} is in no wave:", specs[0].db_id)),
            "{planned}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}
