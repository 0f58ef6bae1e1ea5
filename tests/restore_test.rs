//! Restore tests (issue #16, part 2) against the real local PostgreSQL and MariaDB: the
//! emulator's native restore copies the target database on its own cluster, the restore
//! test's checks pass on a faithful copy and fail on one the `smoke_fail` fault spoiled, and
//! the copy is dropped once.

mod common;

use common::validation::{pg_exec, spec, unique, Pair};
use std::collections::BTreeMap;
use wavedeck::inventory::{DatabaseSpec, Engine};
use wavedeck::rehearsal::drs_emulator::restore as native;
use wavedeck::restore::smoke::check_copy;

/// The emulator's view of the target: the login DRS was given.
fn side(spec: &DatabaseSpec) -> wavedeck::cutover::side::Side {
    let t = &spec.target;
    wavedeck::cutover::side::Side::new(&t.host, t.port, &t.user, &t.database)
}

async fn my_exec(db: &str, sql: &str) {
    let c = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&format!("mysql://root@127.0.0.1:3306/{db}"))
        .await
        .expect("MariaDB on 127.0.0.1:3306 (run scripts/services)");
    sqlx::raw_sql(sql)
        .execute(&c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await;
}

async fn exec(engine: Engine, db: &str, sql: &str) {
    match engine {
        Engine::Postgres => pg_exec(db, sql).await,
        Engine::Mysql => my_exec(db, sql).await,
    }
}

fn admin_db(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "postgres",
        Engine::Mysql => "mysql",
    }
}

/// A target database with two tables, and the inventory entry with a smoke test on it.
async fn target(engine: Engine, tag: &str) -> DatabaseSpec {
    let base = unique(tag);
    let pair = Pair {
        src: format!("{base}_s"),
        tgt: format!("{base}_t"),
    };
    exec(
        engine,
        admin_db(engine),
        &format!("CREATE DATABASE {}", pair.tgt),
    )
    .await;
    let fill = match engine {
        Engine::Postgres => {
            "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 300) g;
             CREATE TABLE orders (id int PRIMARY KEY, account int, total numeric(10,2));
             INSERT INTO orders SELECT g, g % 300 + 1, g * 1.25 FROM generate_series(1, 2000) g;"
        }
        Engine::Mysql => {
            "CREATE TABLE accounts (id int PRIMARY KEY, name varchar(20) NOT NULL);
             INSERT INTO accounts SELECT seq, CONCAT('a', seq) FROM seq_1_to_300;
             CREATE TABLE orders (id int PRIMARY KEY, account int, total decimal(10,2));
             INSERT INTO orders SELECT seq, seq % 300 + 1, seq * 1.25 FROM seq_1_to_2000;"
        }
    };
    exec(engine, &pair.tgt, fill).await;
    let mut s = spec(
        engine,
        &pair,
        if engine == Engine::Mysql {
            "root"
        } else {
            "postgres"
        },
    );
    s.extra = BTreeMap::from([(
        "smoke_tests".to_string(),
        serde_json::json!([
            {"name": "accounts", "sql": "SELECT count(*) FROM accounts", "expect": [[300]]},
            {"name": "order total", "sql": "SELECT sum(total) FROM orders", "expect_same_as_source": true}
        ]),
    )]);
    s
}

async fn restore_round(engine: Engine, busy: bool) {
    let spec = target(engine, if busy { "rtb" } else { "rt" }).await;
    let copy_name = format!("{}_rt1", spec.target.database);
    // The application's session on the target (PostgreSQL then copies table by table).
    let app = match (engine, busy) {
        (Engine::Postgres, true) => Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .connect(&format!(
                    "postgres://postgres@127.0.0.1:5432/{}",
                    spec.target.database
                ))
                .await
                .unwrap(),
        ),
        _ => None,
    };
    native::copy_database(engine, &side(&spec), &copy_name)
        .await
        .unwrap();
    assert!(native::exists(engine, &side(&spec), &copy_name)
        .await
        .unwrap());
    let mut copy = spec.target.clone();
    copy.database = copy_name.clone();
    let r = check_copy(&spec, &copy).await.unwrap();
    assert!(r.passed(), "{engine:?} busy={busy}: {:?}", r.problems);
    assert_eq!(
        r.smoke_tests.len(),
        2 + wavedeck::validate::Runbook::builtin(engine)
            .smoke_tests
            .len()
    );
    let orders = r
        .counts
        .iter()
        .find(|c| c.table.ends_with("orders"))
        .unwrap();
    assert_eq!((orders.copy, orders.live), (Some(2000), 2000));

    // The fault: the copy lost its first table's rows. Both the count and the smoke test see it.
    let spoiled = native::spoil(engine, &side(&spec), &copy_name)
        .await
        .unwrap();
    assert_eq!(spoiled.as_deref(), Some("accounts"));
    let r = check_copy(&spec, &copy).await.unwrap();
    assert!(!r.passed());
    let all = r.problems.join("\n");
    assert!(all.contains("smoke test \"accounts\""), "{all}");
    assert!(
        all.contains("accounts is empty on the restored copy, 300 rows live"),
        "{all}"
    );
    assert!(
        r.summary().contains("smoke tests passed"),
        "{}",
        r.summary()
    );

    // Dropped once: a second drop finds nothing; the target itself is never dropped.
    assert!(native::drop_database(engine, &side(&spec), &copy_name)
        .await
        .unwrap());
    assert!(!native::drop_database(engine, &side(&spec), &copy_name)
        .await
        .unwrap());
    assert!(!native::exists(engine, &side(&spec), &copy_name)
        .await
        .unwrap());
    let refused = native::drop_database(engine, &side(&spec), &spec.target.database)
        .await
        .unwrap_err();
    assert!(refused.contains("target database itself"), "{refused}");
    if let Some(a) = app {
        a.close().await;
    }
    exec(
        engine,
        admin_db(engine),
        &format!(
            "DROP DATABASE IF EXISTS {}{}",
            spec.target.database,
            if engine == Engine::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            }
        ),
    )
    .await;
}

#[tokio::test]
async fn native_restore_postgres_template() {
    restore_round(Engine::Postgres, false).await;
}

#[tokio::test]
async fn native_restore_postgres_with_the_application_connected() {
    restore_round(Engine::Postgres, true).await;
}

#[tokio::test]
async fn native_restore_mariadb() {
    restore_round(Engine::Mysql, false).await;
}
