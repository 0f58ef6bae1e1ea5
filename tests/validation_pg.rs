//! Pre-checks and the validation gate against the real local PostgreSQL (127.0.0.1:5432,
//! user postgres, trust). Every test makes its own source and target databases and drops them.

mod common;

use common::validation::{self as shared, has_diff, only, unique, Pair};
use futures::future::BoxFuture;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Executor;
use std::future::Future;
use wavedeck::checks::{self, CheckOptions, Status};
use wavedeck::cutover::context::NativeMover;
use wavedeck::cutover::postgres::ops as pg;
use wavedeck::inventory::{DatabaseSpec, Engine};
use wavedeck::rehearsal::lab::postgres::{self as lab, TempLab};
use wavedeck::validate::{self, DiffKind, Mode, Runbook, ValidateOptions};

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const SETUP: &str = r#"
CREATE TABLE orders (
  id bigint PRIMARY KEY, customer_id int NOT NULL, status text, amount numeric(12,2),
  price float8, note text, created_at timestamptz, updated_at timestamp, payload jsonb,
  flag bool, day date, raw bytea, uid uuid, code char(5), qty int, ratio float4, at_time time);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE tags (name text PRIMARY KEY, weight int);
INSERT INTO tags VALUES ('alpha', 1), ('beta', 2), ('gamma', 3);
CREATE TABLE events (kind text, at timestamptz);
INSERT INTO events VALUES ('a', '2024-01-01Z'), ('a', '2024-01-01Z'), ('b', NULL);
CREATE VIEW paid_orders AS SELECT id FROM orders WHERE status = 'paid';
CREATE SEQUENCE invoice_seq;
"#;

/// The generated orders rows (deterministic, so any copy holds the same values).
fn insert_orders(lo: i64, hi: i64) -> String {
    format!(
        r#"INSERT INTO orders SELECT g, g % 100, (ARRAY['new','paid','shipped'])[1 + g % 3], (g % 10000) / 100.0,
  g / 7.0, CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END,
  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
  CASE WHEN g % 3 = 0 THEN NULL ELSE timestamp '2024-06-01 12:00:00.123456' + g * interval '1 ms' END,
  jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'b')), g % 2 = 0, date '2020-01-01' + (g % 1000),
  decode(md5(g::text), 'hex'), md5(g::text)::uuid, 'c' || (g % 7), g % 50, g / 3.0, time '00:00:00' + g * interval '1 second'
FROM generate_series({lo}, {hi}) g;"#
    )
}

// Pools rather than `&mut PgConnection`: futures holding the latter are not `Send` under
// tokio::spawn (higher-ranked lifetime inference).
async fn admin() -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(ADMIN)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)")
}

async fn exec(db: &str, sql: &str) {
    let c = PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("postgres://postgres@127.0.0.1:5432/{db}"))
        .await
        .unwrap();
    sqlx::raw_sql(sql)
        .execute(&c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await;
}

/// A source and a target database holding the same data.
async fn with_pair<F, Fut>(tag: &str, body: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let create = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            admin()
                .await
                .execute(format!("CREATE DATABASE {db}").as_str())
                .await
                .unwrap();
            exec(&db, SETUP).await;
            exec(&db, &insert_orders(1, 20_000)).await;
        })
    };
    let drop = |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            admin()
                .await
                .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                .await
                .unwrap();
        })
    };
    shared::with_pair(tag, create, drop, body).await
}

fn spec(p: &Pair, user: &str) -> DatabaseSpec {
    shared::spec(Engine::Postgres, p, user)
}

fn runbook() -> Runbook {
    shared::runbook(Engine::Postgres)
}

#[tokio::test]
async fn equal_copies_pass() {
    with_pair("eq", |p| async move {
        let r = validate::run_validation(
            &spec(&p, "postgres"),
            &runbook(),
            &ValidateOptions::default(),
        )
        .await;
        assert!(r.passed(), "{:#?}", r.failures());
        assert_eq!(r.tables.len(), 3);
        let orders = r
            .tables
            .iter()
            .find(|t| t.table == "public.orders")
            .unwrap();
        assert_eq!(orders.rows_source, 20_000);
        assert_eq!(orders.chunks, 4);
        assert_eq!(orders.digest_source, orders.digest_target);
        assert_ne!(orders.digest_source, "0".repeat(64));
        assert_eq!(r.summary(), "3 tables, 20.0k rows, 0 differences");
        assert!(r.smoke_tests.iter().all(|s| s.passed) && r.smoke_tests.len() >= 3);
        // The report is what goes into events and evidence packs.
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["tables"][0]["passed"], true);
    })
    .await;
}

#[tokio::test]
async fn every_kind_of_difference_is_found_and_named() {
    with_pair("diff", |p| async move {
        exec(
            &p.tgt,
            "UPDATE orders SET amount = amount + 1 WHERE id = 5;
             DELETE FROM orders WHERE id = 7;
             INSERT INTO orders (id, customer_id) VALUES (20001, 1);
             UPDATE orders SET note = '' WHERE id = 10;
             DROP INDEX orders_customer_idx;
             ALTER TABLE tags ALTER COLUMN weight TYPE bigint;
             UPDATE tags SET weight = 9 WHERE name = 'beta';
             DELETE FROM events WHERE ctid = (SELECT min(ctid) FROM events WHERE kind = 'a');
             ALTER TABLE orders ALTER COLUMN code TYPE char(5) COLLATE \"C\";",
        )
        .await;
        let r = validate::run_validation(
            &spec(&p, "postgres"),
            &runbook(),
            &ValidateOptions::default(),
        )
        .await;
        assert!(!r.passed());
        let f = r.failures().join("\n");
        // one changed cell, named with its column
        let changed = r.tables[1].differences.iter().find(|d| d.key == "id=5");
        assert!(
            changed.is_some_and(|d| d.kind == DiffKind::Changed && d.columns == ["amount"]),
            "{f}"
        );
        assert!(
            has_diff(&r, "public.orders", "id=7", DiffKind::MissingOnTarget),
            "{f}"
        );
        assert!(
            has_diff(&r, "public.orders", "id=20001", DiffKind::ExtraOnTarget),
            "{f}"
        );
        // NULL on the source, '' on the target
        let null_vs_empty = r.tables[1].differences.iter().find(|d| d.key == "id=10");
        assert!(null_vs_empty.is_some_and(|d| d.columns == ["note"]), "{f}");
        assert!(
            has_diff(&r, "public.tags", "name='beta'", DiffKind::Changed),
            "{f}"
        );
        assert!(
            r.tables
                .iter()
                .flat_map(|t| &t.differences)
                .any(|d| d.table == "public.events"
                    && d.kind == DiffKind::MissingOnTarget
                    && d.key.contains("'a'")),
            "duplicate row removed from a table without key: {f}"
        );
        assert!(
            f.contains("schema: index public.orders (index orders_customer_idx)"),
            "{f}"
        );
        assert!(
            f.contains(
                "schema: column public.tags.weight: type integer on source, bigint on target"
            ),
            "{f}"
        );
        assert!(
            f.contains(
                "schema: column public.orders.code: collation default on source, C on target"
            ),
            "{f}"
        );
        // counts are equal (one missing, one extra): only the checksums see it
        let orders = r
            .tables
            .iter()
            .find(|t| t.table == "public.orders")
            .unwrap();
        assert_eq!((orders.rows_source, orders.rows_target), (20_000, 20_000));
        assert_eq!(orders.differences.len(), 4, "{f}");
        assert!(orders.chunks_mismatched >= 2);
    })
    .await;
}

#[tokio::test]
async fn smoke_tests_and_rules_decide_the_gate() {
    with_pair("smoke", |p| async move {
        let mut s = spec(&p, "postgres");
        s.extra.insert(
            "smoke_tests".into(),
            serde_json::json!([
                {"name": "three tags", "sql": "SELECT count(*) FROM tags", "expect": [[3]]},
                {"name": "wrong on purpose", "sql": "SELECT count(*), max(name) FROM tags", "expect": [[2, "gamma"]]}
            ]),
        );
        s.extra.insert(
            "rules".into(),
            serde_json::json!([
                {"kind": "required", "table": "public.orders", "columns": ["id", "customer_id"]},
                {"kind": "unique", "table": "public.events", "columns": ["kind", "at"]},
                {"kind": "format", "table": "public.orders", "column": "status", "regex": "^(new|paid|shipped)$"},
                {"kind": "no_orphans", "table": "public.orders", "column": "customer_id", "ref_table": "public.tags", "ref_column": "weight"}
            ]),
        );
        let r = validate::run_validation(&s, &runbook(), &ValidateOptions::default()).await;
        assert!(!r.passed());
        let by_name = |n: &str| r.smoke_tests.iter().find(|t| t.name == n).unwrap();
        assert!(by_name("three tags").passed);
        let wrong = by_name("wrong on purpose");
        assert!(!wrong.passed && wrong.detail.contains("expected [[2, gamma]]") && wrong.detail.contains("[[3, gamma]]"), "{}", wrong.detail);
        let rule = |prefix: &str| r.rules.iter().find(|x| x.name.starts_with(prefix)).unwrap();
        assert!(rule("required").passed);
        assert!(!rule("unique").passed, "events holds a duplicate row");
        assert!(rule("format").passed);
        assert!(!rule("no orphans").passed && rule("no orphans").detail.contains("violations"));
        assert!(r.tables.iter().all(|t| t.passed), "data itself is equal");
    })
    .await;
}

/// The live gate against real logical replication (a lab: two clusters, a subscription) while
/// the lab's workload writes: no false alarm, a seeded target difference named by key at a
/// position, and a paused subscription leaves the gate undecided instead of failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_gate_compares_at_confirmed_positions_under_writes() {
    let db = "livegate";
    let lab = TempLab::new(&[db.to_string()], 20_000).await.unwrap();
    let st = &lab.state;
    lab::wait_cdc(st, db, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let source = st.side(&st.source, db);
    let w = common::start_workload(st, db);
    common::wait_acks(&w, &source.endpoint(), 100).await;
    let spec = st.spec(db);
    let mut rb = runbook();
    rb.validation.chunk_rows = 2_000; // several ranges per table, the workload's included
    rb.validation.recheck_wait_s = 30;
    let live = ValidateOptions {
        mode: Mode::Live,
        ..Default::default()
    };
    // (In final mode this table's tail differs while the target applies the last writes.)
    for _ in 0..3 {
        let r = validate::run_validation(&spec, &rb, &live).await;
        assert_eq!(r.mode, "live");
        assert!(
            r.passed(),
            "false alarm under writes: {}",
            r.failures().join("\n")
        );
        let wl = r
            .tables
            .iter()
            .find(|t| t.table == "public.wd_workload")
            .unwrap();
        assert!(
            wl.rows_source > 0 && wl.rows_source == wl.rows_target,
            "{wl:?}"
        );
        let at = wl.compared_at.as_deref().unwrap_or_default();
        assert!(at.starts_with("lsn "), "no position named: {wl:?}");
    }

    // One real difference on the target while the workload goes on.
    let target = st.side(&st.target, db);
    let mut t = target.connect_admin("seed").await.unwrap();
    t.execute("BEGIN READ WRITE; UPDATE orders SET note = 'seeded' WHERE id = 777; COMMIT")
        .await
        .unwrap();
    let r = validate::run_validation(&spec, &rb, &live).await;
    let f = r.failures().join("\n");
    assert!(r.decided() && !r.passed(), "{f}");
    assert!(
        has_diff(&r, "public.orders", "id=777", DiffKind::Changed),
        "{f}"
    );
    assert_eq!(r.row_differences(), 1, "only the seeded row differs: {f}");
    let orders = r
        .tables
        .iter()
        .find(|t| t.table == "public.orders")
        .unwrap();
    assert!(orders.compared_at.is_some(), "{orders:?}");
    t.execute("BEGIN READ WRITE; UPDATE orders SET note = md5('777') WHERE id = 777; COMMIT")
        .await
        .unwrap();

    // Replication paused: writes the target cannot have are not differences, only lag.
    let sub = NativeMover::for_db(db).subscription;
    pg::set_subscription_enabled(&mut t, &sub, false, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let acked = w.snapshot().acks.len();
    common::wait_acks(&w, &source.endpoint(), acked + 50).await;
    rb.validation.recheck_wait_s = 1;
    let r = validate::run_validation(&spec, &rb, &live).await;
    let f = r.failures().join("\n");
    assert!(!r.decided() && !r.passed(), "{f}");
    assert!(
        r.undecided()
            .iter()
            .any(|u| u.starts_with("public.wd_workload: lag: slot wd_sub_livegate")),
        "{f}"
    );
    assert_eq!(r.row_differences(), 0, "{f}");
    assert!(r.summary().contains("not decided"), "{}", r.summary());
    pg::set_subscription_enabled(&mut t, &sub, true, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let stats = w.stop().await;
    assert!(
        stats.acks.len() > 150,
        "the workload wrote through the test"
    );
}

#[tokio::test]
async fn prechecks_report_server_settings_and_missing_rights() {
    with_pair("pre", |p| async move {
        let a = admin().await;
        // 1. As the superuser: wal_level must match what the server really runs with.
        let wal: String = sqlx::query_scalar("SHOW wal_level").fetch_one(&a).await.unwrap();
        let opts = CheckOptions {
            target_capacity_gb: Some(0.000_001),
            ntp_server: None,
            exposure: None,
        };
        let res = checks::run_prechecks(&spec(&p, "postgres"), &Runbook::builtin(Engine::Postgres), &opts).await;
        let get = |res: &Vec<checks::CheckResult>, n: &str| res.iter().find(|r| r.name == n).cloned().unwrap_or_else(|| panic!("no {n} in {res:#?}"));
        let w = get(&res, "source/wal_level");
        if wal == "logical" {
            assert_eq!(w.status, Status::Pass);
        } else {
            assert_eq!(w.status, Status::Fail, "{w:?}");
            assert!(w.fix.as_deref().unwrap().starts_with("ALTER SYSTEM SET wal_level = logical;"), "{w:?}");
            assert!(w.evidence.contains(&wal));
        }
        for n in ["source/dns", "source/reachability", "target/reachability", "source/clock", "source/replication_privilege", "source/select_privilege", "target/version", "target/extensions", "target/encoding"] {
            assert_eq!(get(&res, n).status, Status::Pass, "{:?}", get(&res, n));
        }
        assert_eq!(get(&res, "source/primary_keys").status, Status::Warn, "events has no key");
        assert!(get(&res, "source/primary_keys").fix.unwrap().contains("ALTER TABLE \"public\".\"events\""));
        let sizing = get(&res, "target/storage_sizing");
        assert_eq!(sizing.status, Status::Fail, "{sizing:?}");
        assert!(sizing.fix.unwrap().contains("grow the target RDS storage"));
        assert!(get(&res, "schema/inventory").evidence.contains("3 tables, 1 views, 1 sequences"));

        // 2. A throwaway role with no rights fails with the statements that fix it.
        let role = unique("norights");
        a.execute(format!("CREATE ROLE {role} LOGIN").as_str()).await.unwrap();
        let res = checks::run_prechecks(&spec(&p, &role), &Runbook::builtin(Engine::Postgres), &CheckOptions::default()).await;
        a.execute(format!("DROP ROLE {role}").as_str()).await.unwrap();
        let repl = get(&res, "source/replication_privilege");
        assert_eq!(repl.status, Status::Fail);
        assert_eq!(repl.fix.as_deref(), Some(format!("ALTER ROLE \"{role}\" WITH REPLICATION;").as_str()));
        let sel = get(&res, "source/select_privilege");
        assert_eq!(sel.status, Status::Fail);
        assert!(sel.evidence.contains("public.orders"), "{sel:?}");
        assert_eq!(
            sel.fix.as_deref(),
            Some(format!("GRANT USAGE ON SCHEMA \"public\" TO \"{role}\"; GRANT SELECT ON ALL TABLES IN SCHEMA \"public\" TO \"{role}\";").as_str())
        );
        assert!(!checks::passed(&res));
        assert_eq!(get(&res, "target/storage_sizing").status, Status::Warn, "capacity unknown");
    })
    .await;
}

#[tokio::test]
async fn unreachable_endpoint_fails_with_the_reason() {
    let p = Pair {
        src: "postgres".into(),
        tgt: "postgres".into(),
    };
    let mut s = spec(&p, "postgres");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    s.target.port = l.local_addr().unwrap().port();
    drop(l);
    let res = checks::run_prechecks(
        &s,
        &Runbook::builtin(Engine::Postgres),
        &CheckOptions::default(),
    )
    .await;
    let reach = res
        .iter()
        .find(|r| r.name == "target/reachability")
        .unwrap();
    assert_eq!(reach.status, Status::Fail);
    assert!(reach
        .fix
        .as_deref()
        .unwrap()
        .contains(&format!("allow TCP {}", s.target.port)));
    let r = validate::run_validation(&s, &runbook(), &ValidateOptions::default()).await;
    assert!(
        !r.passed() && r.errors[0].contains("cannot connect to postgres@127.0.0.1"),
        "{:?}",
        r.errors
    );
}

const DOCS: &str = r#"CREATE TABLE docs (id int PRIMARY KEY, doc jsonb, raw json);
INSERT INTO docs VALUES
  (1, '{"big": 12345678901234567890123}', '{"a": 1, "b": 2}'),
  (2, '{"dec": 1.23456789012345678901}', '{"a": 1, "b": 2}'),
  (3, '{"x": [1, {"k": "v", "j": null}], "y": "é"}', '{"a": 1, "b": 2}'),
  (4, '{"n": 1}', '{"a": 1, "b": 2}');"#;

#[tokio::test]
async fn jsonb_numbers_are_compared_exactly_and_json_keeps_its_text() {
    with_pair("json", |p| async move {
        exec(&p.src, DOCS).await;
        exec(&p.tgt, DOCS).await;
        exec(
            &p.tgt,
            r#"UPDATE docs SET doc = '{"big": 12345678901234567890124}' WHERE id = 1;
               UPDATE docs SET doc = '{"dec": 1.23456789012345678902}' WHERE id = 2;
               UPDATE docs SET doc = '{"y": "\u00e9", "x": [1, {"j": null, "k": "v"}]}' WHERE id = 3;
               UPDATE docs SET raw = '{"b": 2, "a": 1}' WHERE id = 4;"#,
        )
        .await;
        let r = validate::run_validation(&spec(&p, "postgres"), &runbook(), &only(&["public.docs"])).await;
        let f = r.failures().join("\n");
        let docs = r.tables.iter().find(|t| t.table == "public.docs").unwrap();
        let cols = |key: &str| {
            docs.differences
                .iter()
                .find(|d| d.key == key)
                .map(|d| d.columns.clone())
        };
        // PostgreSQL itself says 1 and 2 differ; 3 is the same jsonb value written otherwise
        assert_eq!(cols("id=1"), Some(vec!["doc".to_string()]), "{f}");
        assert_eq!(cols("id=2"), Some(vec!["doc".to_string()]), "{f}");
        assert_eq!(cols("id=3"), None, "{f}");
        // json keeps the text it was given: other key order is another value
        assert_eq!(cols("id=4"), Some(vec!["raw".to_string()]), "{f}");
        assert_eq!(docs.differences.len(), 3, "{f}");
        assert!(!r.passed());
    })
    .await;
}

#[tokio::test]
async fn numeric_scale_follows_one_rule_and_strict_scale_counts_it() {
    with_pair("scale", |p| async move {
        let setup = "CREATE TABLE money (id int PRIMARY KEY, n numeric, doc jsonb);";
        exec(
            &p.src,
            &format!(
                "{setup} INSERT INTO money VALUES (1, 1.50, '{{\"a\": 1818}}'), (2, 7, '[2]');"
            ),
        )
        .await;
        exec(
            &p.tgt,
            &format!(
                "{setup} INSERT INTO money VALUES (1, 1.5, '{{\"a\": 1818.0}}'), (2, 7, '[2]');"
            ),
        )
        .await;
        // By value (PostgreSQL's `=` agrees on both columns)
        let r =
            validate::run_validation(&spec(&p, "postgres"), &runbook(), &only(&["public.money"]))
                .await;
        assert!(r.passed(), "{:#?}", r.failures());
        // validation.strict_numeric_scale: the scale an unconstrained numeric keeps counts
        let mut rb = runbook();
        rb.validation.strict_numeric_scale = true;
        let r =
            validate::run_validation(&spec(&p, "postgres"), &rb, &only(&["public.money"])).await;
        let f = r.failures().join("\n");
        let money = r.tables.iter().find(|t| t.table == "public.money").unwrap();
        assert_eq!(money.differences.len(), 1, "{f}");
        assert_eq!(money.differences[0].key, "id=1", "{f}");
        assert_eq!(money.differences[0].columns, ["n", "doc"], "{f}");
        // and the whole database under the strict rule: the generated data keeps its scale
        let r =
            validate::run_validation(&spec(&p, "postgres"), &rb, &only(&["public.orders"])).await;
        assert!(r.passed(), "{:#?}", r.failures());
    })
    .await;
}

#[tokio::test]
async fn a_table_filter_that_matches_nothing_is_an_error() {
    with_pair("filter", |p| async move {
        let s = spec(&p, "postgres");
        let r = validate::run_validation(&s, &runbook(), &only(&["public.Orders", "ordres"])).await;
        assert!(!r.passed());
        assert_eq!(r.tables.len(), 0);
        let f = r.failures().join("\n");
        assert!(
            f.contains(
                r#"--tables "public.Orders" matches no table on the source (closest: public.orders"#
            ),
            "{f}"
        );
        assert!(
            f.contains(
                r#"--tables "ordres" matches no table on the source (closest: public.orders"#
            ),
            "{f}"
        );
        // one good name among bad ones is still an error
        let r =
            validate::run_validation(&s, &runbook(), &only(&["public.tags", "public.tag"])).await;
        assert!(!r.passed() && r.tables.len() == 1, "{:#?}", r.failures());
        // a validation that compared no table never passes
        let mut rb = runbook();
        rb.validation.exclude_tables = ["public.orders", "public.tags", "public.events"]
            .map(String::from)
            .to_vec();
        let r = validate::run_validation(&s, &rb, &ValidateOptions::default()).await;
        assert!(
            r.errors.is_empty() && r.tables.is_empty(),
            "{:#?}",
            r.failures()
        );
        assert!(!r.passed());
        assert!(r.failures()[0].starts_with("no table was compared"));
        // the command line: exit 3 and the names
        let (code, out) = shared::validate_cli(&s, &["--tables", "public.Orders"]);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("FAILED — 0 tables") && out.contains("closest: public.orders"),
            "{out}"
        );
    })
    .await;
}

#[tokio::test]
async fn with_tables_the_verdict_speaks_of_those_tables() {
    with_pair("scope", |p| async move {
        // a schema difference in orders, a failing smoke test: neither is about tags
        exec(&p.tgt, "DROP INDEX orders_customer_idx;").await;
        let mut s = spec(&p, "postgres");
        s.extra.insert(
            "smoke_tests".into(),
            serde_json::json!([{"name": "wrong on purpose", "sql": "SELECT count(*) FROM tags", "expect": [[2]]}]),
        );
        let r = validate::run_validation(&s, &runbook(), &only(&["public.tags"])).await;
        assert!(r.passed(), "{:#?}", r.failures());
        assert_eq!(
            r.summary(),
            "1 tables, 3 rows, 0 differences (database-wide, not counted: 1 schema differences elsewhere, 1 smoke tests failed)"
        );
        let ctx = r.context().join("\n");
        assert!(ctx.contains("schema: index public.orders (index orders_customer_idx)"), "{ctx}");
        assert!(ctx.contains("smoke test \"wrong on purpose\""), "{ctx}");
        // the table that has the difference fails on it
        let r = validate::run_validation(&s, &runbook(), &only(&["public.orders"])).await;
        assert!(!r.passed());
        assert!(r.failures().join("\n").contains("orders_customer_idx"));
        // the whole database fails on both
        let r = validate::run_validation(&s, &runbook(), &ValidateOptions::default()).await;
        assert!(!r.passed() && r.failures().len() == 2, "{:#?}", r.failures());
        // the command line's exit code follows the tables asked
        let (code, out) = shared::validate_cli(&spec(&p, "postgres"), &["--tables", "public.tags"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("PASSED — 1 tables") && out.contains("shown as context") && out.contains("orders_customer_idx"), "{out}");
        let (code, out) = shared::validate_cli(&spec(&p, "postgres"), &["--tables", "public.orders"]);
        assert_eq!(code, 3, "{out}");
    })
    .await;
}

/// `validation.max_rows_per_s` holds over a 30 s read, on each side, with every session of
/// the side sharing it; and a side never has more sessions than `validation.parallelism`,
/// as the server counts them in `pg_stat_activity`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_and_a_side_has_at_most_parallelism_sessions() {
    const ROWS: u64 = 150_000;
    const LIMIT: u64 = 5_000;
    const PAR: usize = 3;
    with_pair("pace", |p| async move {
        for db in [&p.src, &p.tgt] {
            exec(db, &insert_orders(20_001, ROWS as i64)).await;
        }
        let s = spec(&p, "postgres");
        let mut rb = runbook();
        rb.validation.parallelism = PAR;
        let opts = only(&["public.orders"]);
        let rows_read =
            |r: &validate::ValidationReport| -> u64 { r.tables.iter().map(|t| t.rows_read).sum() };
        // Unlimited, this run's own costs: catalog, counts, smoke tests and the read itself.
        let t = std::time::Instant::now();
        let r = validate::run_validation(&s, &rb, &opts).await;
        let free = t.elapsed().as_secs_f64();
        assert!(r.passed(), "{:#?}", r.failures());
        assert_eq!(rows_read(&r), ROWS);

        rb.validation.max_rows_per_s = LIMIT;
        let t = std::time::Instant::now();
        let run = tokio::spawn({
            let (s, rb, opts) = (s.clone(), rb.clone(), opts.clone());
            async move { validate::run_validation(&s, &rb, &opts).await }
        });
        let admin = admin().await;
        let (mut most_src, mut most_tgt) = (0i64, 0i64);
        while !run.is_finished() {
            let n: Vec<(String, i64)> = sqlx::query_as(
                "SELECT datname::text, count(*) FROM pg_stat_activity \
                 WHERE datname = ANY($1) AND application_name = 'wavedeck' GROUP BY datname",
            )
            .bind(vec![p.src.clone(), p.tgt.clone()])
            .fetch_all(&admin)
            .await
            .unwrap();
            for (db, n) in n {
                let most = if db == p.src {
                    &mut most_src
                } else {
                    &mut most_tgt
                };
                *most = (*most).max(n);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let r = run.await.unwrap();
        let took = t.elapsed().as_secs_f64();
        assert!(r.passed(), "{:#?}", r.failures());
        assert_eq!(rows_read(&r), ROWS);
        // Each side read ROWS at LIMIT rows/s: ROWS / LIMIT seconds (30 s), never less than
        // 10 % below; at most 10 % above plus what the unlimited run took for everything.
        let want = ROWS as f64 / LIMIT as f64;
        let rate = ROWS as f64 / took;
        eprintln!(
            "limited {took:.1} s ({rate:.0} rows/s a side, limit {LIMIT}), unlimited {free:.1} s; \
             sessions: source {most_src}, target {most_tgt} (parallelism {PAR})"
        );
        assert!(rate <= LIMIT as f64 * 1.1, "{rate:.0} rows/s over {LIMIT}");
        assert!(
            took <= want * 1.1 + free,
            "{took:.1} s for {want:.0} s (+{free:.1} s)"
        );
        // The reads use the whole parallelism, and no more, on either side.
        assert_eq!((most_src, most_tgt), (PAR as i64, PAR as i64));
    })
    .await;
}

/// The live gate's position work (the WAL position in the reader's snapshot, the slot's
/// confirmed position, the subscriber's origin) keeps to `validation.parallelism` too: each
/// side's sessions in `pg_stat_activity`, sampled every few milliseconds, on the final and the
/// live path at parallelism 1 and 2, while the lab's workload writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_final_gates_keep_to_parallelism_sessions_a_side() {
    let db = "livesess";
    let lab = TempLab::new(&[db.to_string()], 20_000).await.unwrap();
    let st = &lab.state;
    lab::wait_cdc(st, db, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let spec = st.spec(db);
    let mut rb = runbook();
    rb.validation.chunk_rows = 2_000;
    rb.validation.recheck_wait_s = 30;
    // Slow enough that every phase of the run is sampled many times.
    rb.validation.max_rows_per_s = 10_000;
    let sampler = |port: u16| async move {
        PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
            .await
    };
    let (src, tgt) = (
        sampler(st.source.port).await.unwrap(),
        sampler(st.target.port).await.unwrap(),
    );
    let most_sessions = |opts: ValidateOptions, rb: Runbook| {
        let (spec, src, tgt) = (spec.clone(), src.clone(), tgt.clone());
        async move {
            let run =
                tokio::spawn(async move { validate::run_validation(&spec, &rb, &opts).await });
            let count = "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = $1 AND application_name = 'wavedeck'";
            let (mut most_src, mut most_tgt) = (0i64, 0i64);
            while !run.is_finished() {
                for (p, most) in [(&src, &mut most_src), (&tgt, &mut most_tgt)] {
                    let n: i64 = sqlx::query_scalar(count)
                        .bind(db)
                        .fetch_one(p)
                        .await
                        .unwrap();
                    *most = (*most).max(n);
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            (run.await.unwrap(), most_src, most_tgt)
        }
    };
    let mut seen = vec![];
    for par in [1, 2] {
        rb.validation.parallelism = par;
        let (r, s, t) = most_sessions(ValidateOptions::default(), rb.clone()).await;
        assert!(
            r.passed(),
            "final, parallelism {par}: {}",
            r.failures().join("\n")
        );
        seen.push(("final", par, s, t));
    }
    let w = common::start_workload(st, db);
    common::wait_acks(&w, &st.side(&st.source, db).endpoint(), 100).await;
    let live = ValidateOptions {
        mode: Mode::Live,
        ..Default::default()
    };
    for par in [1, 2] {
        rb.validation.parallelism = par;
        let (r, s, t) = most_sessions(live.clone(), rb.clone()).await;
        assert!(
            r.passed(),
            "live, parallelism {par}: {}",
            r.failures().join("\n")
        );
        seen.push(("live", par, s, t));
    }
    w.stop().await;
    for (mode, par, s, t) in &seen {
        eprintln!("{mode}, parallelism {par}: most sessions source {s}, target {t}");
    }
    for (mode, par, s, t) in &seen {
        let par = *par as i64;
        assert!(
            (1..=par).contains(s) && (1..=par).contains(t),
            "{mode}: source {s}, target {t} sessions at parallelism {par}: {seen:?}"
        );
    }
}
