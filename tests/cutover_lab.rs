//! Cutover and rollback on real PostgreSQL clusters replicating under a real write workload.
//! Each test builds its own lab (two fresh clusters on free loopback ports) and removes it.

mod common;

use common::*;
use std::time::Duration;
use wavedeck::config::Config;
use wavedeck::cutover::CutoverStep;
use wavedeck::rehearsal::lab::journal_driver::{self as driver, Journal};
use wavedeck::rehearsal::lab::postgres::TempLab;

fn cfg() -> Config {
    let mut c = Config::default();
    c.thresholds.drain_grace_s = 2;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_cutover_under_workload_keeps_every_acknowledged_write_once() {
    let lab = TempLab::new(&["orders".to_string()], 3000).await.unwrap();
    let st = &lab.state;
    let cfg = cfg();
    let ctx = st.ctx("orders", &cfg, Duration::from_secs(2));
    let w = start_workload(st, "orders");
    wait_acks(&w, &ctx.source.endpoint(), 200).await;

    let journal = Journal::new(st.journal_path("orders"));
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
        read_only(&ctx.source).await,
        "source must stay read-only in hypercare"
    );
    assert!(!read_only(&ctx.target).await);
    let dns = st.dns_file().current(&ctx.dns_name).unwrap().unwrap();
    assert_eq!(dns.value, ctx.target.endpoint());
    // The final sync compared WAL positions, and step 4 compared every table.
    let sync = &outcomes[2].detail["sync"];
    assert!(sync["source_lsn"].is_string() && sync["confirmed_lsn"].is_string());
    assert_eq!(outcomes[3].detail["tables"], 3);
    assert_eq!(outcomes[3].detail["checksummed"], 2);
    assert_eq!(
        outcomes[3].detail["gate"]["passed"], true,
        "{}",
        outcomes[3].detail["gate"]["summary"]
    );
    // Sequences were carried: a plain insert at the target gets a fresh id.
    let mut t = ctx.target.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO customers (name) VALUES ('after cutover')")
        .execute(&mut t)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_and_data_differences_stop_a_cutover_and_rollback_reopens_the_source() {
    let lab = TempLab::new(&["guarded".to_string()], 100).await.unwrap();
    let cfg = cfg();
    let mut ctx = lab.state.ctx("guarded", &cfg, Duration::from_secs(1));
    ctx.checksum_tables = vec!["public.customers".into()];
    ctx.blockers = vec!["window opens 01:00".into()];
    ctx.max_lag_s = -1.0;
    let err = wavedeck::cutover::run_step(CutoverStep::Guards, &ctx)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("window opens 01:00"), "{text}");
    assert!(text.contains("lag 0.0 s > -1 s"), "{text}");
    assert!(!err.retryable());
    assert!(
        !read_only(&ctx.source).await,
        "a blocked cutover touches nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_each_step_then_restart_finishes_exactly_once() {
    let lab = TempLab::new(&["killed".to_string()], 2000).await.unwrap();
    let st = &lab.state;
    let cfg = cfg();
    let ctx = st.ctx("killed", &cfg, Duration::from_secs(1));
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
    let lab = TempLab::new(&["rollme".to_string()], 2000).await.unwrap();
    let st = &lab.state;
    let cfg = cfg();
    let ctx = st.ctx("rollme", &cfg, Duration::from_secs(1));
    let w = start_workload(st, "rollme");
    wait_acks(&w, &ctx.source.endpoint(), 100).await;
    let journal = Journal::new(st.journal_path("rollme"));
    driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    wait_acks(&w, &ctx.target.endpoint(), 300).await;
    // Rows written only at the target, through a sequence, must come back too.
    let mut t = ctx.target.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut t)
        .await
        .unwrap();
    let target_orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut t)
        .await
        .unwrap();
    drop(t);

    let done = driver::drive_rollback(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(done.len(), 4);
    let acked_before = w.snapshot().acks.len();
    let source_acks_before = w
        .snapshot()
        .acks
        .iter()
        .filter(|a| a.endpoint == ctx.source.endpoint())
        .count();
    wait_acks(&w, &ctx.source.endpoint(), source_acks_before + 100).await;
    let stats = w.stop().await;
    assert!(stats.acks.len() > acked_before);

    assert_all_acked_once(&ctx.source, &stats).await;
    assert!(!read_only(&ctx.source).await, "source writable again");
    assert!(read_only(&ctx.target).await, "target drained");
    let dns = st.dns_file().current(&ctx.dns_name).unwrap().unwrap();
    assert_eq!(dns.value, ctx.source.endpoint());
    let mut s = ctx.source.connect_app("check").await.unwrap();
    let source_orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut s)
        .await
        .unwrap();
    assert_eq!(source_orders, target_orders);
    // Sequences came back too: a new order at the source does not collide.
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1.00)")
        .execute(&mut s)
        .await
        .unwrap();
    // A rolled-back journal refuses to be driven forward again.
    let again = driver::drive_cutover(&ctx, &journal, |_, _, _| {}).await;
    assert!(again.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_after_a_cutover_gives_a_fresh_replicating_database_that_cuts_over_again() {
    let lab = TempLab::new(&["again".to_string()], 500).await.unwrap();
    let st = &lab.state;
    let cfg = cfg();
    let ctx = st.ctx("again", &cfg, Duration::from_secs(1));
    let journal = Journal::new(st.journal_path("again"));
    driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    let mut t = ctx.target.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO customers (name) VALUES ('only in the first round')")
        .execute(&mut t)
        .await
        .unwrap();
    drop(t);

    wavedeck::rehearsal::lab::postgres::reset(st, "again", 500)
        .await
        .unwrap();
    assert!(journal.entries().unwrap().is_empty(), "journal moved aside");
    let dns = st.dns_file().current(&ctx.dns_name).unwrap().unwrap();
    assert_eq!(dns.value, ctx.source.endpoint());
    assert!(!read_only(&ctx.source).await);
    assert!(read_only(&ctx.target).await);
    let mut t = ctx.target.connect_admin("check").await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM customers")
        .fetch_one(&mut t)
        .await
        .unwrap();
    assert_eq!(n, 50, "fresh seed, nothing from round one");
    let outcomes = driver::drive_cutover(&ctx, &journal, |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 7);
}
