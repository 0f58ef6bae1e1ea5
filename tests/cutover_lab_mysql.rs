//! Cutover and rollback on real MariaDB servers replicating (binlog, GTID) under a real write
//! workload. Each test builds its own pair of servers on free loopback ports and removes them,
//! also when it fails (the lab's Drop guard).

mod common;

use common::mysql::*;
use common::{lab_driver, wait_acks};
use std::time::Duration;
use wavedeck::config::Config;
use wavedeck::cutover;
use wavedeck::cutover::context::Mover;
use wavedeck::cutover::mysql::ops as my;
use wavedeck::cutover::{CutoverCtx, CutoverStep, RollbackAction};
use wavedeck::rehearsal::lab::journal_driver::{self as driver, Journal};
use wavedeck::rehearsal::lab::mariadb::{MyLabState, TempMyLab};

fn cfg() -> Config {
    let mut c = Config::default();
    c.thresholds.drain_grace_s = 2;
    c
}

fn ctx(lab: &MyLabState, db: &str, grace_s: u64) -> CutoverCtx {
    lab.ctx(db, &cfg(), Duration::from_secs(grace_s)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_cutover_under_workload_keeps_every_acknowledged_write_once() {
    let lab = TempMyLab::new(&["shop".to_string()], 3000).await.unwrap();
    let st = &lab.state;
    let ctx = ctx(st, "shop", 2);
    let w = start_workload(st, "shop");
    wait_acks(&w, &ctx.source.endpoint(), 200).await;

    let journal = Journal::new(st.journal_path("shop"));
    let outcomes = driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 7);
    wait_acks(&w, &ctx.target.endpoint(), 200).await;
    let stats = w.stop().await;
    assert!(stats
        .acks
        .iter()
        .any(|a| a.endpoint == ctx.source.endpoint()));

    assert_all_acked_once(&ctx.target, &stats).await;
    assert!(
        fenced(&ctx.source).await,
        "source must stay read-only in hypercare"
    );
    assert!(!fenced(&ctx.target).await);
    let dns = st.dns_file().current(&ctx.dns_name).unwrap().unwrap();
    assert_eq!(dns.value, ctx.target.endpoint());
    // The drain says how it fenced writes on this server family.
    let drain = &outcomes[1].detail["drain"];
    assert_eq!(drain["flavor"], "maria_db", "{drain}");
    assert!(drain["mode"]
        .as_str()
        .unwrap()
        .contains("no super_read_only"));
    // The final sync waited for a GTID position, and the target held it afterwards.
    let sync = &outcomes[2].detail["sync"];
    assert_eq!(sync["method"], "MASTER_GTID_WAIT");
    let want = my::MariaPos::parse(sync["source_gtid_pos"].as_str().unwrap()).unwrap();
    let have = my::MariaPos::parse(sync["target_gtid_have"].as_str().unwrap()).unwrap();
    assert!(!want.0.is_empty() && have.contains(&want), "{sync}");
    // Step 4 compared every table, checksummed two, and the validation gate passed.
    assert_eq!(outcomes[3].detail["tables"], 3);
    assert_eq!(outcomes[3].detail["checksummed"], 2);
    assert_eq!(
        outcomes[3].detail["gate"]["passed"], true,
        "{}",
        outcomes[3].detail["gate"]["summary"]
    );
    // Replication was released, and the target is no replica any more.
    assert_eq!(
        outcomes[5].detail["replication_released"],
        wavedeck::cutover::context::NativeMover::for_db(&ctx.db_id).subscription
    );
    let mut t = my::admin(&ctx.target, "check").await.unwrap();
    assert!(t
        .replica(&wavedeck::cutover::context::NativeMover::for_db(&ctx.db_id).subscription)
        .await
        .unwrap()
        .is_none());
    // The application's user writes at the target with fresh ids.
    let pair = st.pair("shop").unwrap();
    let mut app = my::app(&st.app_side(&pair.target, "shop")).await.unwrap();
    sqlx::query("INSERT INTO customers (name) VALUES ('after cutover')")
        .execute(&mut app)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_block_a_cutover_whose_replication_is_broken() {
    let lab = TempMyLab::new(&["guarded".to_string()], 100).await.unwrap();
    let st = &lab.state;
    let mut ctx = ctx(st, "guarded", 1);
    ctx.blockers = vec!["window opens 01:00".into()];
    let mut t = my::admin(&ctx.target, "t").await.unwrap();
    sqlx::raw_sql("STOP SLAVE 'wd_sub_guarded'")
        .execute(&mut t.c)
        .await
        .unwrap();
    let err = wavedeck::cutover::run_step(CutoverStep::Guards, &ctx)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("window opens 01:00"), "{text}");
    assert!(
        text.contains("replication wd_sub_guarded on the target is not running"),
        "{text}"
    );
    assert!(!err.retryable());
    assert!(
        !fenced(&ctx.source).await,
        "a blocked cutover touches nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_each_step_then_restart_finishes_exactly_once() {
    let lab = TempMyLab::new(&["killed".to_string()], 2000).await.unwrap();
    let st = &lab.state;
    let ctx = ctx(st, "killed", 1);
    let w = start_workload(st, "killed");
    wait_acks(&w, &ctx.source.endpoint(), 100).await;
    lab_driver::kill_9_after_each_step_then_finish(&st.dir, "killed", &st.journal_path("killed"))
        .await;

    wait_acks(&w, &ctx.target.endpoint(), 100).await;
    let stats = w.stop().await;
    assert_all_acked_once(&ctx.target, &stats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_after_writes_reached_target_loses_nothing() {
    let lab = TempMyLab::new(&["rollme".to_string()], 2000).await.unwrap();
    let st = &lab.state;
    let ctx = ctx(st, "rollme", 1);
    let w = start_workload(st, "rollme");
    wait_acks(&w, &ctx.source.endpoint(), 100).await;
    let journal = Journal::new(st.journal_path("rollme"));
    driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    wait_acks(&w, &ctx.target.endpoint(), 300).await;
    // A row written only at the target, with an AUTO_INCREMENT id, must come back too.
    let pair = st.pair("rollme").unwrap();
    let mut t = my::app(&st.app_side(&pair.target, "rollme")).await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut t)
        .await
        .unwrap();
    drop(t);
    let target_orders = count(&ctx.target, "orders").await;

    let done = driver::drive_rollback(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(done.len(), 4);
    let rs = &done[1].detail["reverse_sync"];
    assert!(rs["from_source_gtid_pos"].is_string(), "{}", done[1].detail);
    let source_acks_before = w
        .snapshot()
        .acks
        .iter()
        .filter(|a| a.endpoint == ctx.source.endpoint())
        .count();
    wait_acks(&w, &ctx.source.endpoint(), source_acks_before + 100).await;
    let stats = w.stop().await;

    assert_all_acked_once(&ctx.source, &stats).await;
    assert!(!fenced(&ctx.source).await, "source writable again");
    assert!(fenced(&ctx.target).await, "target drained");
    let dns = st.dns_file().current(&ctx.dns_name).unwrap().unwrap();
    assert_eq!(dns.value, ctx.source.endpoint());
    assert_eq!(count(&ctx.source, "orders").await, target_orders);
    let mut s = my::admin(&ctx.source, "check").await.unwrap();
    assert!(
        s.replica(ctx.mover.reverse()).await.unwrap().is_none(),
        "reverse link removed"
    );
    // AUTO_INCREMENT came back too: a new order at the source does not collide.
    let mut app = my::app(&st.app_side(&pair.source, "rollme")).await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1.00)")
        .execute(&mut app)
        .await
        .unwrap();
    // Rolling back again finds everything done; a rolled-back journal refuses to go forward.
    assert!(driver::drive_rollback(&ctx, &journal, |_, _, _| {})
        .await
        .is_ok());
    assert!(driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .is_err());
}

/// DRS as the mover, as the servers show it: nothing on the target replicates from the source
/// at the host and port wavedeck knows, and the target's binary log holds only its own
/// transactions (DRS applies as the target's own). The lab's replication plays DRS
/// (`TempMyLab::playing_drs`: the source reached as `127.1`, `log_slave_updates` off, the
/// target's own GTID domain); the test "terminates the job" itself and later plays the reverse
/// DRS job the runbook has the operator create, started at the target's position noted at
/// cutover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_drs_as_mover_the_final_sync_and_the_way_back_are_proven_by_markers() {
    let db = "bydrs";
    let lab = TempMyLab::playing_drs(&[db.to_string()], 1000)
        .await
        .unwrap();
    let st = &lab.state;
    let mut ctx = ctx(st, db, 1);
    ctx.mover = Mover::drs(db, None);
    let sub = wavedeck::cutover::context::NativeMover::for_db(db).subscription;
    let mut t = my::admin(&ctx.target, "t").await.unwrap();
    let w = start_workload(st, db);
    wait_acks(&w, &ctx.source.endpoint(), 100).await;

    let step = |s: CutoverStep| {
        let ctx = &ctx;
        async move {
            match wavedeck::cutover::run_step(s, ctx).await {
                Ok(o) => o.detail,
                Err(e) => panic!("{}: {e}", s.as_str()),
            }
        }
    };
    assert_eq!(step(CutoverStep::Guards).await["fed_by"], "DRS");
    step(CutoverStep::DrainSource).await;
    let sync = step(CutoverStep::FinalSync).await;
    assert_eq!(sync["sync"]["method"], "marker", "{sync}");
    assert!(sync["sync"].get("target_gtid_have").is_none(), "{sync}");
    // The job terminated: replication gone, and DRS lifts the target's read_only.
    my::exec(&mut t.c, &format!("STOP SLAVE '{sub}'"))
        .await
        .unwrap();
    my::exec(&mut t.c, &format!("RESET SLAVE '{sub}' ALL"))
        .await
        .unwrap();
    t.set_fence(false).await.unwrap();
    let quick = step(CutoverStep::QuickValidation).await;
    assert_eq!(quick["tables"], 4, "{quick}");
    assert!(fenced(&ctx.target).await, "step 4 fenced the target again");
    step(CutoverStep::DnsSwitch).await;
    let on = step(CutoverStep::TargetWritesOn).await;
    assert_eq!(on["way_back"]["fed_by"], "drs", "{on}");
    let target_pos = on["way_back"]["target_gtid_pos"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        my::MariaPos::parse(&target_pos)
            .unwrap()
            .0
            .values()
            .all(|(server, _)| *server == pair_target_id(st, db)),
        "the target's binary log holds its own GTIDs only: {on}"
    );
    assert_eq!(on["way_back"]["cutover"], sync["sync"]["marker"], "{on}");
    assert!(on.get("replication_released").is_none(), "{on}");
    step(CutoverStep::Hypercare).await;
    wait_acks(&w, &ctx.target.endpoint(), 200).await;
    let pair = st.pair(db).unwrap();
    let mut app = my::app(&st.app_side(&pair.target, db)).await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut app)
        .await
        .unwrap();
    drop(app);

    cutover::run_rollback(RollbackAction::DrainTarget, &ctx)
        .await
        .unwrap();
    // No reverse job yet: the step waits for its marker, then says what to do.
    let mut short = self::ctx(st, db, 1);
    short.mover = ctx.mover.clone();
    short.sync_timeout = Duration::from_secs(2);
    let err = cutover::run_rollback(RollbackAction::ReverseSync, &short)
        .await
        .unwrap_err();
    assert!(err.retryable(), "{err}");
    assert!(err.to_string().contains("reverse DRS job"), "{err}");
    assert!(
        !cutover::rollback_is_done(RollbackAction::ReverseSync, &ctx)
            .await
            .unwrap()
    );
    // The operator's reverse job (here: the source replicating from the target), started where
    // the target stood at cutover, as the runbook's reverse DRS job is (beside the source's
    // own domain, which the target's binary log never had).
    let mut s = my::admin(&ctx.source, "s").await.unwrap();
    let own = s.gtid_pos().await.unwrap();
    let from = [own.as_str(), target_pos.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    s.replicate_from("test_reverse_job", &ctx.target, Some(&from))
        .await
        .unwrap();
    let back = cutover::run_rollback(RollbackAction::ReverseSync, &ctx)
        .await
        .unwrap();
    assert_eq!(
        back.detail["reverse_sync"]["method"], "marker",
        "{}",
        back.detail
    );
    assert!(cutover::rollback_is_done(RollbackAction::ReverseSync, &ctx)
        .await
        .unwrap());
    assert!(s.remove_replica("test_reverse_job").await.unwrap());
    let target_orders = count(&ctx.target, "orders").await;
    cutover::run_rollback(RollbackAction::DnsBack, &ctx)
        .await
        .unwrap();
    cutover::run_rollback(RollbackAction::SourceWritesOn, &ctx)
        .await
        .unwrap();
    let before = w
        .snapshot()
        .acks
        .iter()
        .filter(|a| a.endpoint == ctx.source.endpoint())
        .count();
    wait_acks(&w, &ctx.source.endpoint(), before + 100).await;
    let stats = w.stop().await;
    assert_all_acked_once(&ctx.source, &stats).await;
    assert!(count(&ctx.source, "orders").await >= target_orders);
}

fn pair_target_id(st: &MyLabState, db: &str) -> u32 {
    st.pair(db).unwrap().target.server_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_a_cutover_gives_a_fresh_replicating_pair_that_cuts_over_again() {
    let lab = TempMyLab::new(&["again".to_string()], 500).await.unwrap();
    let st = &lab.state;
    let ctx = ctx(st, "again", 1);
    let journal = Journal::new(st.journal_path("again"));
    driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    let mut app = my::app(&st.app_side(&st.pair("again").unwrap().target, "again"))
        .await
        .unwrap();
    sqlx::query("INSERT INTO customers (name) VALUES ('only in the first round')")
        .execute(&mut app)
        .await
        .unwrap();
    drop(app);

    wavedeck::rehearsal::lab::mariadb::reset(st, "again", 500)
        .await
        .unwrap();
    assert!(journal.entries().unwrap().is_empty(), "journal moved aside");
    assert!(std::fs::read_dir(&st.dir).unwrap().flatten().any(|e| e
        .file_name()
        .to_string_lossy()
        .starts_with("cutover-again.jsonl.reset-")));
    let dns = st.dns_file().current(&ctx.dns_name).unwrap().unwrap();
    assert_eq!(dns.value, ctx.source.endpoint());
    assert!(!fenced(&ctx.source).await);
    assert!(fenced(&ctx.target).await);
    assert_eq!(
        count(&ctx.target, "customers").await,
        50,
        "fresh seed, nothing from round one"
    );
    let outcomes = driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_drain_ends_idle_sessions_at_once_and_open_writers_after_the_grace() {
    let lab = TempMyLab::new(&["drained".to_string()], 100).await.unwrap();
    let st = &lab.state;
    let ctx = ctx(st, "drained", 1);
    let pair = st.pair("drained").unwrap();
    let app_side = st.app_side(&pair.source, "drained");
    let mut idle = my::app(&app_side).await.unwrap();
    let mut writer = my::app(&app_side).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut idle).await.unwrap();
    my::exec(&mut writer, "BEGIN").await.unwrap();
    my::exec(
        &mut writer,
        "INSERT INTO customers (name) VALUES ('uncommitted')",
    )
    .await
    .unwrap();
    let _dba = my::admin(&ctx.source, "dba").await.unwrap();
    assert!(!wavedeck::cutover::is_done(CutoverStep::DrainSource, &ctx)
        .await
        .unwrap());

    let o = wavedeck::cutover::run_step(CutoverStep::DrainSource, &ctx)
        .await
        .unwrap();
    let d = &o.detail["drain"];
    assert_eq!(d["ended_idle"], 1, "{d}");
    assert_eq!(d["ended_after_grace"], 1, "{d}");
    assert!(
        d["waited_ms"].as_u64().unwrap() >= 1000,
        "the writer had its grace: {d}"
    );
    assert!(d["privileged_sessions"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["privileged_users"].to_string().contains("root"), "{d}");
    assert!(
        d["mode"].as_str().unwrap().starts_with("read_only=ON"),
        "{d}"
    );

    // Both sessions are gone; the open transaction never committed.
    assert!(sqlx::query("SELECT 1").execute(&mut idle).await.is_err());
    assert!(my::exec(&mut writer, "COMMIT").await.is_err());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers WHERE name = 'uncommitted'")
        .fetch_one(&mut my::admin(&ctx.source, "check").await.unwrap().c)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // A new application session cannot write, and the drain reads as done on the server.
    let mut late = my::app(&app_side).await.unwrap();
    let e = my::exec(&mut late, "INSERT INTO customers (name) VALUES ('late')")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1290"), "{e}");
    assert!(wavedeck::cutover::is_done(CutoverStep::DrainSource, &ctx)
        .await
        .unwrap());
}
