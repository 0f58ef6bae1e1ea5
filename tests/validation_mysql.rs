//! Pre-checks and the validation gate against the real local MariaDB (127.0.0.1:3306, root,
//! empty password). Every test makes its own source and target databases and drops them.

mod common;

use common::validation::{
    self as shared, has_diff, my_exec as exec, my_pool as pool, only, unique, Pair,
};
use futures::future::BoxFuture;
use std::future::Future;
use wavedeck::checks::{self, CheckOptions, Status};
use wavedeck::inventory::{DatabaseSpec, Engine};
use wavedeck::validate::{self, DiffKind, Runbook, ValidateOptions};

const SETUP: &str = r#"
CREATE TABLE orders (
  id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(20), amount DECIMAL(12,2),
  price DOUBLE, note TEXT, created_at TIMESTAMP(6) NULL, updated_at DATETIME(6), payload JSON,
  flag TINYINT(1), day DATE, raw VARBINARY(16), code CHAR(5), qty INT UNSIGNED, dur TIME(3),
  ratio FLOAT, kind ENUM('x', 'y'), bits BIT(8), yr YEAR,
  KEY orders_customer_idx (customer_id)) ENGINE=InnoDB;
INSERT INTO orders SELECT seq, seq % 100, ELT(1 + seq % 3, 'new', 'paid', 'shipped'), (seq % 10000) / 100,
  seq / 7, IF(seq % 10 = 0, NULL, MD5(seq)),
  TIMESTAMP('2024-01-01 00:00:00') + INTERVAL seq SECOND,
  IF(seq % 3 = 0, NULL, TIMESTAMP('2024-06-01 12:00:00.123456') + INTERVAL seq * 1000 MICROSECOND),
  JSON_OBJECT('g', seq, 'tags', JSON_ARRAY('a', 'b')), seq % 2 = 0, DATE('2020-01-01') + INTERVAL (seq % 1000) DAY,
  UNHEX(MD5(seq)), CONCAT('c', seq % 7), seq % 50, SEC_TO_TIME(seq + 0.5), seq / 3, ELT(1 + seq % 2, 'x', 'y'),
  seq % 256, 1990 + seq % 50
FROM seq_1_to_20000;
CREATE TABLE tags (name VARCHAR(20) PRIMARY KEY, weight INT) ENGINE=InnoDB;
INSERT INTO tags VALUES ('alpha', 1), ('beta', 2), ('gamma', 3);
CREATE TABLE events (kind VARCHAR(10), at DATETIME) ENGINE=InnoDB;
INSERT INTO events VALUES ('a', '2024-01-01'), ('a', '2024-01-01'), ('b', NULL);
CREATE TABLE legacy (id INT PRIMARY KEY, v INT) ENGINE=MyISAM;
INSERT INTO legacy VALUES (1, 1);
CREATE VIEW paid_orders AS SELECT id FROM orders WHERE status = 'paid';
"#;

async fn with_pair<F, Fut>(tag: &str, body: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            exec("mysql", &format!("CREATE DATABASE {db}")).await;
            exec(&db, SETUP).await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move { exec("mysql", &format!("DROP DATABASE IF EXISTS {db}")).await })
    };
    shared::with_pair(tag, create, drop, body).await
}

fn spec(p: &Pair, user: &str) -> DatabaseSpec {
    shared::spec(Engine::Mysql, p, user)
}

fn runbook() -> Runbook {
    shared::runbook(Engine::Mysql)
}

#[tokio::test]
async fn equal_copies_pass() {
    with_pair("myeq", |p| async move {
        let r =
            validate::run_validation(&spec(&p, "root"), &runbook(), &ValidateOptions::default())
                .await;
        assert!(r.passed(), "{:#?}", r.failures());
        assert_eq!(r.tables.len(), 4);
        let orders = r.tables.iter().find(|t| t.table == "orders").unwrap();
        assert_eq!((orders.rows_source, orders.chunks), (20_000, 4));
        assert_eq!(orders.digest_source, orders.digest_target);
        assert_eq!(r.summary(), "4 tables, 20.0k rows, 0 differences");
    })
    .await;
}

#[tokio::test]
async fn every_kind_of_difference_is_found_and_named() {
    with_pair("mydiff", |p| async move {
        exec(
            &p.tgt,
            "UPDATE orders SET amount = amount + 1 WHERE id = 5;
             DELETE FROM orders WHERE id = 7;
             INSERT INTO orders (id, customer_id) VALUES (20001, 1);
             UPDATE orders SET note = '' WHERE id = 10;
             UPDATE orders SET dur = '00:00:01' WHERE id = 12000;
             DROP INDEX orders_customer_idx ON orders;
             ALTER TABLE tags MODIFY weight BIGINT;
             UPDATE tags SET weight = 9 WHERE name = 'beta';
             DELETE FROM events WHERE kind = 'a' LIMIT 1;
             ALTER TABLE orders MODIFY status VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci,
               MODIFY code CHAR(5) COLLATE utf8mb4_bin;
             ALTER TABLE tags DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;",
        )
        .await;
        exec(
            "mysql",
            &format!("ALTER DATABASE `{}` COLLATE utf8mb4_unicode_ci", p.tgt),
        )
        .await;
        let r =
            validate::run_validation(&spec(&p, "root"), &runbook(), &ValidateOptions::default())
                .await;
        assert!(!r.passed());
        let f = r.failures().join("\n");
        let orders = r.tables.iter().find(|t| t.table == "orders").unwrap();
        let changed = |key: &str| {
            orders
                .differences
                .iter()
                .find(|d| d.key == key)
                .map(|d| d.columns.clone())
        };
        assert_eq!(changed("id=5"), Some(vec!["amount".to_string()]), "{f}");
        assert_eq!(
            changed("id=10"),
            Some(vec!["note".to_string()]),
            "NULL vs '': {f}"
        );
        assert_eq!(changed("id=12000"), Some(vec!["dur".to_string()]), "{f}");
        assert!(
            has_diff(&r, "orders", "id=7", DiffKind::MissingOnTarget),
            "{f}"
        );
        assert!(
            has_diff(&r, "orders", "id=20001", DiffKind::ExtraOnTarget),
            "{f}"
        );
        assert!(
            has_diff(&r, "tags", "name='beta'", DiffKind::Changed),
            "{f}"
        );
        assert!(
            r.tables
                .iter()
                .flat_map(|t| &t.differences)
                .any(|d| d.table == "events" && d.kind == DiffKind::MissingOnTarget),
            "{f}"
        );
        assert!(
            f.contains("schema: index orders (index orders_customer_idx)"),
            "{f}"
        );
        assert!(
            f.contains("schema: column tags.weight: type int on source, bigint on target"),
            "{f}"
        );
        // character sets and collations: column, table and database level
        assert!(
            f.contains("schema: column orders.status: character set utf8mb4 (collation utf8mb4_general_ci) on source, latin1 (collation latin1_swedish_ci) on target"),
            "{f}"
        );
        assert!(
            f.contains("schema: column orders.code: collation utf8mb4_general_ci on source, utf8mb4_bin on target"),
            "{f}"
        );
        assert!(
            f.contains("schema: table tags: default collation utf8mb4_general_ci on source, utf8mb4_bin on target"),
            "{f}"
        );
        assert!(
            f.contains("schema: database collation: utf8mb4_general_ci on source, utf8mb4_unicode_ci on target"),
            "{f}"
        );
        assert_eq!(orders.differences.len(), 5, "{f}");
    })
    .await;
}

#[tokio::test]
async fn wrong_smoke_result_fails_the_gate() {
    with_pair("mysmoke", |p| async move {
        let mut s = spec(&p, "root");
        s.extra.insert(
            "smoke_tests".into(),
            serde_json::json!([
                {"name": "paid orders", "sql": "SELECT count(*) FROM paid_orders", "expect_same_as_source": true},
                {"name": "wrong on purpose", "sql": "SELECT count(*) FROM tags", "expect": [[4]]}
            ]),
        );
        s.extra.insert(
            "rules".into(),
            serde_json::json!([
                {"kind": "format", "table": "orders", "column": "note", "regex": "^[0-9a-f]{32}$"},
                {"kind": "format", "table": "orders", "column": "status", "regex": "^paid$"}
            ]),
        );
        let r = validate::run_validation(&s, &runbook(), &ValidateOptions::default()).await;
        assert!(!r.passed());
        assert!(r.smoke_tests.iter().find(|t| t.name == "paid orders").unwrap().passed);
        let wrong = r.smoke_tests.iter().find(|t| t.name == "wrong on purpose").unwrap();
        assert!(!wrong.passed && wrong.detail.contains("expected [[4]] on target, got [[3]]"), "{}", wrong.detail);
        assert!(r.rules[0].passed, "{:?}", r.rules[0]);
        assert!(!r.rules[1].passed && r.rules[1].detail.contains("violations"), "{:?}", r.rules[1]);
        assert!(r.tables.iter().all(|t| t.passed));
    })
    .await;
}

#[tokio::test]
async fn prechecks_report_binlog_settings_engines_and_missing_grants() {
    with_pair("mypre", |p| async move {
        let admin = pool("mysql").await;
        let vars: (i64, String, String) = sqlx::query_as(
            "SELECT @@log_bin + 0, CAST(@@binlog_format AS CHAR), CAST(@@binlog_row_image AS CHAR)",
        )
        .fetch_one(&admin)
        .await
        .unwrap();
        let res = checks::run_prechecks(
            &spec(&p, "root"),
            &Runbook::builtin(Engine::Mysql),
            &CheckOptions::default(),
        )
        .await;
        let get = |res: &Vec<checks::CheckResult>, n: &str| {
            res.iter()
                .find(|r| r.name == n)
                .cloned()
                .unwrap_or_else(|| panic!("no {n} in {res:#?}"))
        };
        // Whatever the server runs with decides the outcome; the fix names the statement.
        let log_bin = get(&res, "source/log_bin");
        assert_eq!(
            log_bin.status,
            if vars.0 == 1 {
                Status::Pass
            } else {
                Status::Fail
            },
            "{log_bin:?}"
        );
        let fmt = get(&res, "source/binlog_format");
        if vars.1 == "ROW" {
            assert_eq!(fmt.status, Status::Pass);
        } else {
            assert_eq!(fmt.status, Status::Fail);
            assert!(fmt
                .fix
                .unwrap()
                .starts_with("SET GLOBAL binlog_format = 'ROW';"));
        }
        assert_eq!(
            get(&res, "source/binlog_row_image").status == Status::Pass,
            vars.2 == "FULL"
        );
        assert!(get(&res, "source/gtid").evidence.contains("MariaDB GTID"));
        assert_eq!(
            get(&res, "source/replication_privilege").status,
            Status::Pass
        );
        let engines = get(&res, "source/storage_engines");
        assert_eq!(engines.status, Status::Fail);
        assert!(engines.evidence.contains("legacy (MyISAM)"));
        assert_eq!(
            engines.fix.as_deref(),
            Some("ALTER TABLE `legacy` ENGINE=InnoDB; (repeat for each table listed)")
        );
        assert_eq!(get(&res, "source/primary_keys").status, Status::Warn);
        assert_eq!(get(&res, "target/charset").status, Status::Pass);
        assert_eq!(get(&res, "source/clock").status, Status::Pass);

        // A throwaway user that may connect (INSERT only) but has neither replication nor SELECT.
        let user = unique("nr");
        sqlx::raw_sql(&format!(
            "CREATE USER '{user}'@'127.0.0.1'; GRANT INSERT ON `{}`.* TO '{user}'@'127.0.0.1';",
            p.src
        ))
        .execute(&admin)
        .await
        .unwrap();
        let mut s = spec(&p, &user);
        s.target.user = "root".into();
        let res = checks::run_prechecks(
            &s,
            &Runbook::builtin(Engine::Mysql),
            &CheckOptions::default(),
        )
        .await;
        sqlx::raw_sql(&format!("DROP USER '{user}'@'127.0.0.1'"))
            .execute(&admin)
            .await
            .unwrap();
        let repl = get(&res, "source/replication_privilege");
        assert_eq!(repl.status, Status::Fail);
        assert_eq!(
            repl.fix.as_deref(),
            Some(
                format!(
                    "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{user}'@'127.0.0.1';"
                )
                .as_str()
            )
        );
        let sel = get(&res, "source/select_privilege");
        assert_eq!(sel.status, Status::Fail);
        assert_eq!(
            sel.fix.as_deref(),
            Some(format!("GRANT SELECT ON `{}`.* TO '{user}'@'127.0.0.1';", p.src).as_str())
        );
        assert!(!checks::passed(&res));
        admin.close().await;
    })
    .await;
}

#[tokio::test]
async fn json_numbers_beyond_a_double_are_seen() {
    with_pair("myjson", |p| async move {
        // MariaDB's JSON is LONGTEXT with a JSON_VALID check: its text is what is compared
        let setup = r#"CREATE TABLE docs (id INT PRIMARY KEY, doc JSON) ENGINE=InnoDB;
            INSERT INTO docs VALUES (1, '{"big": 12345678901234567890123}'), (2, '{"dec": 1.23456789012345678901}'), (3, '{"n": 1}');"#;
        exec(&p.src, setup).await;
        exec(&p.tgt, setup).await;
        exec(
            &p.tgt,
            r#"UPDATE docs SET doc = '{"big": 12345678901234567890124}' WHERE id = 1;
               UPDATE docs SET doc = '{"dec": 1.23456789012345678902}' WHERE id = 2;"#,
        )
        .await;
        let r = validate::run_validation(&spec(&p, "root"), &runbook(), &only(&["docs"])).await;
        let f = r.failures().join("\n");
        assert!(has_diff(&r, "docs", "id=1", DiffKind::Changed), "{f}");
        assert!(has_diff(&r, "docs", "id=2", DiffKind::Changed), "{f}");
        assert_eq!(r.row_differences(), 2, "{f}");
    })
    .await;
}

/// sqlx takes a zero date for NULL when asked for an `Option`; the validation must not: a
/// legacy source's `0000-00-00` that DRS (or a strict target) turned into NULL is a difference
/// the operator has to decide on, and it is named, never hashed as NULL.
#[tokio::test]
async fn a_zero_date_is_never_taken_for_null() {
    with_pair("myzero", |p| async move {
        let table = "CREATE TABLE stamps (id INT PRIMARY KEY, at DATETIME NULL, day DATE NULL)";
        exec(
            &p.src,
            &format!(
                "SET SESSION sql_mode = ''; {table};
                 INSERT INTO stamps VALUES (1, '0000-00-00 00:00:00', '2024-01-01'), (2, NULL, '0000-00-00')"
            ),
        )
        .await;
        exec(
            &p.tgt,
            &format!("{table}; INSERT INTO stamps VALUES (1, NULL, '2024-01-01'), (2, NULL, NULL)"),
        )
        .await;
        let r = validate::run_validation(&spec(&p, "root"), &runbook(), &only(&["stamps"])).await;
        let f = r.failures().join("\n");
        assert!(!r.passed(), "a zero date passed as NULL: {f}");
        assert!(
            f.contains("stamps on source") && f.contains("column \"at\": the zero date"),
            "{f}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_table_filter_that_matches_nothing_is_an_error() {
    with_pair("myfilter", |p| async move {
        let s = spec(&p, "root");
        let qualified = format!("{}.orders", p.src);
        let r = validate::run_validation(&s, &runbook(), &only(&[&qualified, "Tags"])).await;
        assert!(!r.passed() && r.tables.is_empty());
        let f = r.failures().join("\n");
        assert!(
            f.contains(&format!(
                "--tables \"{qualified}\" matches no table on the source (closest: orders"
            )),
            "{f}"
        );
        assert!(
            f.contains("--tables \"Tags\" matches no table on the source (closest: tags"),
            "{f}"
        );
        let (code, out) = shared::validate_cli(&s, &["--tables", &qualified]);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("FAILED — 0 tables") && out.contains("closest: orders"),
            "{out}"
        );
    })
    .await;
}

#[tokio::test]
async fn with_tables_the_verdict_speaks_of_those_tables() {
    with_pair("myscope", |p| async move {
        exec(&p.tgt, "DROP INDEX orders_customer_idx ON orders;").await;
        let s = spec(&p, "root");
        let r = validate::run_validation(&s, &runbook(), &only(&["tags"])).await;
        assert!(r.passed(), "{:#?}", r.failures());
        assert!(
            r.summary()
                .contains("not counted: 1 schema differences elsewhere"),
            "{}",
            r.summary()
        );
        let r = validate::run_validation(&s, &runbook(), &only(&["orders"])).await;
        assert!(!r.passed());
        let (code, out) = shared::validate_cli(&s, &["--tables", "tags"]);
        assert_eq!(code, 0, "{out}");
        let (code, out) = shared::validate_cli(&s, &["--tables", "orders"]);
        assert_eq!(code, 3, "{out}");
    })
    .await;
}

/// The live gate against a real MariaDB GTID replica while the lab's workload writes: no false
/// alarm, a seeded target difference named by key, and a stopped replica leaves the gate
/// undecided ("lag") instead of failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_gate_compares_at_gtid_positions_under_writes() {
    use sqlx::Executor;
    use std::time::Duration;
    let db = "mylive";
    let lab = wavedeck::rehearsal::lab::mariadb::TempMyLab::new(&[db.to_string()], 20_000)
        .await
        .unwrap();
    let st = &lab.state;
    let pair = st.pair(db).unwrap();
    let w = common::mysql::start_workload(st, db);
    common::wait_acks(&w, &st.side(&pair.source, db).endpoint(), 100).await;
    let spec = st.spec(db).unwrap();
    let mut rb = Runbook::builtin(Engine::Mysql);
    rb.validation.chunk_rows = 2_000;
    rb.validation.recheck_wait_s = 30;
    let live = ValidateOptions {
        mode: validate::Mode::Live,
        ..Default::default()
    };
    for _ in 0..2 {
        let r = validate::run_validation(&spec, &rb, &live).await;
        assert!(
            r.passed(),
            "false alarm under writes: {}",
            r.failures().join("\n")
        );
        let wl = r.tables.iter().find(|t| t.table == "wd_workload").unwrap();
        assert!(
            wl.rows_source > 0 && wl.rows_source == wl.rows_target,
            "{wl:?}"
        );
        let at = wl.compared_at.as_deref().unwrap_or_default();
        assert!(at.starts_with("gtid 0-"), "no GTID position named: {wl:?}");
    }

    // A difference written on the replica itself, out of the binlog (a strict-GTID replica
    // would stop on a local GTID).
    let mut t = wavedeck::rehearsal::lab::mariadb::admin(st, &pair.target, db)
        .await
        .unwrap();
    t.c.execute("SET SESSION sql_log_bin = 0; UPDATE orders SET note = 'seeded' WHERE id = 777")
        .await
        .unwrap();
    let r = validate::run_validation(&spec, &rb, &live).await;
    let f = r.failures().join("\n");
    assert!(r.decided() && !r.passed(), "{f}");
    assert!(has_diff(&r, "orders", "id=777", DiffKind::Changed), "{f}");
    assert_eq!(r.row_differences(), 1, "only the seeded row differs: {f}");

    // Replication stopped: the target cannot reach the source's position.
    t.c.execute("STOP ALL SLAVES").await.unwrap();
    let acked = w.snapshot().acks.len();
    common::wait_acks(&w, &st.side(&pair.source, db).endpoint(), acked + 50).await;
    rb.validation.recheck_wait_s = 1;
    let r = validate::run_validation(&spec, &rb, &live).await;
    let f = r.failures().join("\n");
    assert!(!r.decided() && !r.passed(), "{f}");
    assert!(
        r.undecided()
            .iter()
            .any(|u| u.contains("lag: the target had not applied gtid") && !u.contains("marker")),
        "the replica's own GTIDs are waited for, no marker: {f}"
    );
    t.c.execute("START ALL SLAVES").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.stop().await;
}

/// The marker fallback on a real MariaDB pair whose target replicates from the source through a
/// connection wavedeck cannot tie to it (here: through a TCP relay, as DRS's own reader is
/// invisible on the target): the live gate writes marker rows on the source and waits for them
/// on the target. No false alarm under the workload, a seeded difference named by key, a
/// stopped replica leaves the gate undecided by the marker, and the table keeps one marker row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_gate_falls_back_to_marker_rows_when_the_target_has_no_gtids_of_the_source() {
    use sqlx::Executor;
    let db = "mymark";
    let lab = wavedeck::rehearsal::lab::mariadb::TempMyLab::new(&[db.to_string()], 20_000)
        .await
        .unwrap();
    let st = &lab.state;
    let pair = st.pair(db).unwrap();
    // A relay in front of the source, and the target's replication moved onto it.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let src_port = pair.source.port;
    let relaying = tokio::spawn(async move {
        while let Ok((mut a, _)) = relay.accept().await {
            tokio::spawn(async move {
                if let Ok(mut b) = tokio::net::TcpStream::connect(("127.0.0.1", src_port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                }
            });
        }
    });
    let name = wavedeck::cutover::context::NativeMover::for_db(db).subscription;
    let mut t = wavedeck::rehearsal::lab::mariadb::admin(st, &pair.target, db)
        .await
        .unwrap();
    t.remove_replica(&name).await.unwrap();
    let via_relay = wavedeck::cutover::side::Side::new(
        "127.0.0.1",
        relay_port,
        wavedeck::rehearsal::lab::mariadb::ADMIN_USER,
        "mysql",
    );
    t.replicate_from(&name, &via_relay, None).await.unwrap();

    let w = common::mysql::start_workload(st, db);
    common::wait_acks(&w, &st.side(&pair.source, db).endpoint(), 100).await;
    let spec = st.spec(db).unwrap();
    let mut rb = Runbook::builtin(Engine::Mysql);
    rb.validation.chunk_rows = 2_000;
    rb.validation.recheck_wait_s = 30;
    let live = ValidateOptions {
        mode: validate::Mode::Live,
        ..Default::default()
    };
    for _ in 0..2 {
        let r = validate::run_validation(&spec, &rb, &live).await;
        assert!(
            r.passed(),
            "false alarm under writes: {}",
            r.failures().join("\n")
        );
        let wl = r.tables.iter().find(|t| t.table == "wd_workload").unwrap();
        assert!(
            wl.rows_source > 0 && wl.rows_source == wl.rows_target,
            "{wl:?}"
        );
        let at = wl.compared_at.as_deref().unwrap_or_default();
        assert!(at.starts_with("gtid 0-"), "no GTID position named: {wl:?}");
    }
    let mut s = wavedeck::rehearsal::lab::mariadb::admin(st, &pair.source, db)
        .await
        .unwrap();
    let sql = format!(
        "SELECT COUNT(*) FROM {db}.wavedeck_marker WHERE kind = '{}'",
        validate::position::LIVE_MARKER
    );
    let markers: i64 = sqlx::query_scalar(&sql).fetch_one(&mut s.c).await.unwrap();
    assert_eq!(markers, 1, "one marker row, however many were written");

    // A difference written on the replica itself, out of the binlog.
    t.c.execute("SET SESSION sql_log_bin = 0; UPDATE orders SET note = 'seeded' WHERE id = 777")
        .await
        .unwrap();
    let r = validate::run_validation(&spec, &rb, &live).await;
    let f = r.failures().join("\n");
    assert!(r.decided() && !r.passed(), "{f}");
    assert!(has_diff(&r, "orders", "id=777", DiffKind::Changed), "{f}");
    assert_eq!(r.row_differences(), 1, "only the seeded row differs: {f}");

    // Replication stopped: the marker does not arrive, the gate is not decided.
    t.c.execute("STOP ALL SLAVES").await.unwrap();
    rb.validation.recheck_wait_s = 1;
    let r = validate::run_validation(&spec, &rb, &live).await;
    let f = r.failures().join("\n");
    assert!(!r.decided() && !r.passed(), "{f}");
    assert!(
        r.undecided()
            .iter()
            .any(|u| u.contains("lag: the target had not applied gtid") && u.contains("marker")),
        "{f}"
    );
    t.c.execute("START ALL SLAVES").await.unwrap();
    w.stop().await;
    relaying.abort();
}

/// The most sessions each side's server showed wavedeck's gate holding, sampled every few
/// milliseconds while `opts` validated `db` (information_schema.PROCESSLIST: the gate's user on
/// the database, which neither the workload's user nor replication threads share).
async fn most_sessions(
    st: &wavedeck::rehearsal::lab::mariadb::MyLabState,
    db: &str,
    rb: &Runbook,
    opts: &ValidateOptions,
) -> (validate::ValidationReport, i64, i64) {
    use wavedeck::rehearsal::lab::mariadb::{admin, ADMIN_USER};
    let pair = st.pair(db).unwrap();
    let spec = st.spec(db).unwrap();
    let run = tokio::spawn({
        let (spec, rb, opts) = (spec.clone(), rb.clone(), opts.clone());
        async move { validate::run_validation(&spec, &rb, &opts).await }
    });
    // The samplers sit on another database, so they never count themselves.
    let mut src = admin(st, &pair.source, "mysql").await.unwrap();
    let mut tgt = admin(st, &pair.target, "mysql").await.unwrap();
    let count = "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE USER = ? AND DB = ? AND ID <> CONNECTION_ID()";
    let (mut most_src, mut most_tgt) = (0i64, 0i64);
    while !run.is_finished() {
        for (c, most) in [(&mut src, &mut most_src), (&mut tgt, &mut most_tgt)] {
            let n: i64 = sqlx::query_scalar(count)
                .bind(ADMIN_USER)
                .bind(db)
                .fetch_one(&mut c.c)
                .await
                .unwrap();
            *most = (*most).max(n);
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    (run.await.unwrap(), most_src, most_tgt)
}

/// `validation.parallelism` bounds each side's sessions, the live gate's position work (marker
/// rows or GTID waits) included, on the final and the live path, at parallelism 1 and 2, while
/// the lab's workload writes on the source.
async fn a_side_has_at_most_parallelism_sessions(
    lab: wavedeck::rehearsal::lab::mariadb::TempMyLab,
    db: &str,
    follow: &str,
) {
    let st = &lab.state;
    let pair = st.pair(db).unwrap();
    let mut rb = Runbook::builtin(Engine::Mysql);
    rb.validation.chunk_rows = 2_000;
    rb.validation.recheck_wait_s = 30;
    // Slow enough that every phase of the run is sampled many times.
    rb.validation.max_rows_per_s = 10_000;
    let mut seen = vec![];
    // Final first, while nothing writes: both sides as they are.
    for par in [1, 2] {
        rb.validation.parallelism = par;
        let (r, s, t) = most_sessions(st, db, &rb, &ValidateOptions::default()).await;
        assert!(
            r.passed(),
            "final, parallelism {par}: {}",
            r.failures().join("\n")
        );
        seen.push(("final", par, s, t));
    }
    let w = common::mysql::start_workload(st, db);
    common::wait_acks(&w, &st.side(&pair.source, db).endpoint(), 100).await;
    let live = ValidateOptions {
        mode: validate::Mode::Live,
        ..Default::default()
    };
    for par in [1, 2] {
        rb.validation.parallelism = par;
        let (r, s, t) = most_sessions(st, db, &rb, &live).await;
        assert!(
            r.passed(),
            "live, parallelism {par}: {}",
            r.failures().join("\n")
        );
        let wl = r.tables.iter().find(|t| t.table == "wd_workload").unwrap();
        assert!(wl.rows_source > 0, "{wl:?}");
        seen.push(("live", par, s, t));
    }
    w.stop().await;
    for (mode, par, s, t) in &seen {
        eprintln!("{follow}: {mode}, parallelism {par}: most sessions source {s}, target {t}");
    }
    for (mode, par, s, t) in &seen {
        let par = *par as i64;
        assert!(
            (1..=par).contains(s) && (1..=par).contains(t),
            "{follow}, {mode}: source {s}, target {t} sessions at parallelism {par}: {seen:?}"
        );
    }
}

/// Markers stand for positions (the target does not carry the source's GTIDs, as under DRS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_has_at_most_parallelism_sessions_with_markers() {
    let db = "mysessm";
    let lab = wavedeck::rehearsal::lab::mariadb::TempMyLab::playing_drs(&[db.to_string()], 20_000)
        .await
        .unwrap();
    a_side_has_at_most_parallelism_sessions(lab, db, "markers").await;
}

/// The target replicates the source's GTIDs and is waited on with MASTER_GTID_WAIT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_has_at_most_parallelism_sessions_with_gtids() {
    let db = "mysessg";
    let lab = wavedeck::rehearsal::lab::mariadb::TempMyLab::new(&[db.to_string()], 20_000)
        .await
        .unwrap();
    a_side_has_at_most_parallelism_sessions(lab, db, "gtid").await;
}
