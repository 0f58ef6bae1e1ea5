//! The production DRS client against the emulator in native mode, with real PostgreSQL clusters
//! (a `TempLab` whose databases wait for DRS to replicate them): rows really move, statuses and
//! figures come from the servers in DRS's format, pause/resume/terminate act on the replication,
//! and failures come back as DRS errors without passwords. Every test removes its clusters.

mod common;

use common::native::*;
use std::time::Duration;
use wavedeck::cutover::context::NativeMover;
use wavedeck::cutover::postgres::ops as pg;
use wavedeck::drs::model::JobStatus;
use wavedeck::rehearsal::lab::postgres::{self as lab, LabState, TempLab};
use wavedeck::rehearsal::lab::workload::Workload;
use wavedeck::secret::SecretRef;

async fn count(side: &wavedeck::cutover::side::Side, sql: &str) -> i64 {
    let mut c = side.connect_admin("check").await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
}

async fn exec(side: &wavedeck::cutover::side::Side, sql: &str) {
    let mut c = side.connect_admin("check").await.unwrap();
    sqlx::query(sql).execute(&mut c).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_job_moves_rows_reports_drs_figures_pauses_and_terminates() {
    let db = "natjob";
    let tl = TempLab::unreplicated(&[db.to_string()], 100_000)
        .await
        .unwrap();
    let st = &tl.state;
    let src = st.side(&st.source, db);
    let tgt = st.side(&st.target, db);
    let cfg = native_cfg();
    let (_emu, drs) = start_emulator(&cfg).await;
    let spec = st.spec(db);
    let job = configured_job(&drs, &cfg, &spec).await;
    assert_eq!(
        count(&tgt, "SELECT count(*) FROM orders").await,
        0,
        "nothing moves before the job starts"
    );

    let (seen, incre) = start_to_incremental(&drs, &job, 120).await;
    assert!(
        seen.contains(&JobStatus::FullTransferStarted),
        "full transfer is reported while tables copy: {seen:?}"
    );
    assert_eq!(incre.progress.as_deref(), Some("100"));
    assert!(
        incre
            .incre_trans_delay_millis
            .as_deref()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            >= 0
    );
    // Subscription named as the cutover code expects, target read-only while the job runs.
    let mover = NativeMover::for_db(&spec.db_id);
    {
        let mut t = tgt.connect_admin("check").await.unwrap();
        assert!(pg::subscription_exists(&mut t, &mover.subscription)
            .await
            .unwrap());
        assert!(pg::db_read_only(&mut t, db).await.unwrap());
    }
    // Every seeded row arrives.
    let n_src = count(&src, "SELECT count(*) FROM orders").await;
    assert_eq!(n_src, 100_000);
    wait_until("rows on the target", 60, || async {
        (count(&tgt, "SELECT count(*) FROM orders").await == n_src).then_some(())
    })
    .await;

    // Under a write workload the lag is measured and moves; DRS's string numbers, -1 never.
    let w = Workload {
        engine: wavedeck::inventory::Engine::Postgres,
        client: "native-test".into(),
        dns: st.dns_file(),
        dns_name: LabState::dns_name(db),
        side: src.clone(),
        pause: Duration::from_millis(2),
    }
    .start();
    let mut times = Vec::new();
    for _ in 0..60 {
        let p = progress(&drs, &job).await;
        assert_eq!(p.transfer_status, Some(JobStatus::IncreTransferStarted));
        let ms: i64 = p.incre_trans_delay_millis.unwrap().parse().unwrap();
        let s: i64 = p.incre_trans_delay.unwrap().parse().unwrap();
        assert!(ms >= 0 && s == ms / 1000, "delay {s} s / {ms} ms");
        times.push(p.process_time.unwrap().parse::<i64>().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        times.windows(2).any(|w| w[1] > w[0]),
        "samples are taken again: {times:?}"
    );
    // A stalled apply (a lock on the target) sends the publisher no feedback, yet the delay
    // grows as DRS's does while the writes go on; a quick subscriber may well read 0 above.
    let mut stall = tgt.connect_admin("stall").await.unwrap();
    let mut tx = sqlx::Acquire::begin(&mut stall).await.unwrap();
    sqlx::query("SET TRANSACTION READ WRITE")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("LOCK TABLE wd_workload IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_delay_grows_while_stalled(&drs, &job).await;
    tx.rollback().await.unwrap();
    drop(stall);
    let stats = w.stop().await;
    assert!(stats.acked() > 50, "workload wrote: {}", stats.acked());
    // Once the writes stop, every acknowledged write reaches the target and the lag settles.
    let last = stats.acks.last().unwrap().seq;
    wait_until("workload rows on the target, lag 0", 60, || async {
        let n = count(
            &tgt,
            &format!(
                "SELECT count(*) FROM wd_workload WHERE client = 'native-test' AND seq <= {last}"
            ),
        )
        .await;
        let p = progress(&drs, &job).await;
        (n == stats.acked() as i64 && p.incre_trans_delay_millis.as_deref() == Some("0"))
            .then_some(())
    })
    .await;

    assert_pause_holds_and_resume_applies(
        &drs,
        &job,
        async |sql: &str| exec(&src, sql).await,
        async |sql: &str| count(&tgt, sql).await,
    )
    .await;

    // The source goes away: the job fails with a DRS error; it comes back: the job streams again.
    lab::stop_cluster(&st.bin_dir, &st.dir, &st.source).unwrap();
    assert_fails_naming_the_stopped_source(&drs, &job, st.source.port).await;
    let detail = drs.batch_detail(std::slice::from_ref(&job)).await.unwrap();
    assert_eq!(detail[0].status, Some(JobStatus::IncreTransferFailed));
    assert!(detail[0].error_message.is_some());
    lab::start_cluster(&st.bin_dir, &st.dir, &st.source).unwrap();
    wait_until("INCRE after the source came back", 90, || async {
        (status(&drs, &job).await == JobStatus::IncreTransferStarted).then_some(())
    })
    .await;

    // Terminate: replication stops, subscription and slot are gone, the target keeps its rows
    // and takes writes; sequences were carried.
    let before = count(&tgt, "SELECT count(*) FROM orders").await;
    terminate(&drs, &job).await;
    {
        let mut t = tgt.connect_admin("check").await.unwrap();
        let mut s = src.connect_admin("check").await.unwrap();
        assert!(!pg::subscription_exists(&mut t, &mover.subscription)
            .await
            .unwrap());
        assert!(!pg::slot_exists(&mut s, &mover.subscription).await.unwrap());
        assert!(!pg::publication_exists(&mut s, &mover.publication)
            .await
            .unwrap());
        assert!(
            !pg::db_read_only(&mut t, db).await.unwrap(),
            "read-only lifted"
        );
    }
    assert_eq!(count(&tgt, "SELECT count(*) FROM orders").await, before);
    exec(
        &src,
        "INSERT INTO customers (name) VALUES ('after terminate')",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        count(
            &tgt,
            "SELECT count(*) FROM customers WHERE name = 'after terminate'"
        )
        .await,
        0
    );
    let src_seq = count(&src, "SELECT last_value FROM orders_id_seq").await;
    assert!(count(&tgt, "SELECT last_value FROM orders_id_seq").await >= src_seq);

    delete(&drs, &job).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unreachable_source_get_drs_errors_without_the_password() {
    let db = "natpw";
    let tl = TempLab::unreplicated(&[db.to_string()], 100).await.unwrap();
    let st = &tl.state;
    // The lab trusts loopback; make this one user check its password.
    let admin = st.side(&st.source, "postgres");
    exec(
        &admin,
        "CREATE ROLE wd_pw LOGIN SUPERUSER PASSWORD 'right-pass-4711'",
    )
    .await;
    let hba = st.source.data_dir.join("pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("host all wd_pw 127.0.0.1/32 scram-sha-256\n{old}"),
    )
    .unwrap();
    exec(&admin, "SELECT pg_reload_conf()").await;

    let cfg = native_cfg();
    let (emu, drs) = start_emulator(&cfg).await;
    let pw_file = st.dir.join("wrong-pw");
    let mut spec = st.spec(db);
    spec.db_id = "natpw-wrong".into();
    spec.source.user = "wd_pw".into();
    spec.source.password = SecretRef::File(pw_file.clone());
    assert_bad_login_then_right(
        &drs,
        &cfg,
        &spec,
        &pw_file,
        ("wrong-pass-0815", "right-pass-4711"),
    )
    .await;

    let mut gone = st.spec(db);
    gone.db_id = "natpw-gone".into();
    gone.source.port = lab::free_port().unwrap();
    assert_unreachable_source(&drs, &cfg, &gone).await;
    drop(emu);
}

/// Whether the job's subscription on the target is enabled and how many of its workers run.
async fn subscription_state(side: &wavedeck::cutover::side::Side, sub: &str) -> (bool, i64) {
    let mut c = side.connect_admin("check").await.unwrap();
    let enabled: bool =
        sqlx::query_scalar("SELECT subenabled FROM pg_subscription WHERE subname = $1")
            .bind(sub)
            .fetch_one(&mut c)
            .await
            .unwrap();
    let workers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL",
    )
    .bind(sub)
    .fetch_one(&mut c)
    .await
    .unwrap();
    (enabled, workers)
}

/// An offline migration's job (FULL_TRANS) on a drained source: the tables are copied once
/// from a database whose sessions default to read-only, the job rests in
/// FULL_TRANSFER_COMPLETE with the target exactly the source, nothing written on the source
/// afterwards reaches the target, and release leaves the target writable with its sequences.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_load_only_job_copies_a_drained_source_once_and_stops() {
    let db = "natfull";
    let tl = TempLab::unreplicated(&[db.to_string()], 100_000)
        .await
        .unwrap();
    let st = &tl.state;
    let src = st.side(&st.source, db);
    let tgt = st.side(&st.target, db);
    // More tables than the subscription copies at once (the lab allows 2 sync workers), so a
    // load cut short leaves some of them empty.
    for i in 1..=4 {
        let create = format!("CREATE TABLE extra_{i} (id int PRIMARY KEY, v text)");
        exec(&src, &create).await;
        exec(&tgt, &create).await;
        exec(
            &src,
            &format!(
                "INSERT INTO extra_{i} SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
            ),
        )
        .await;
    }
    let tables = {
        let mut s = src.connect_admin("check").await.unwrap();
        pg::user_tables(&mut s).await.unwrap()
    };
    assert_eq!(tables.len(), 7, "{tables:?}");
    // The offline cutover drains the source before the job starts.
    {
        let mut s = src.connect_admin("drain").await.unwrap();
        pg::drain(&mut s, db, Duration::from_secs(1)).await.unwrap();
    }
    {
        let mut app = src.connect_app("app").await.unwrap();
        let ro: String = sqlx::query_scalar("SHOW default_transaction_read_only")
            .fetch_one(&mut app)
            .await
            .unwrap();
        assert_eq!(
            ro, "on",
            "the drained source's sessions default to read-only"
        );
    }
    let cfg = native_cfg();
    let (_emu, drs) = start_emulator(&cfg).await;
    let mut spec = st.spec(db);
    spec.mode = wavedeck::inventory::Mode::Offline;
    let job = configured_job(&drs, &cfg, &spec).await;
    assert_eq!(
        progress(&drs, &job).await.task_mode.as_deref(),
        Some("FULL_TRANS")
    );

    let (seen, done) = start_to_full_complete(&drs, &job, 120).await;
    assert!(
        seen.contains(&JobStatus::FullTransferStarted),
        "full transfer is reported while tables copy: {seen:?}"
    );
    assert_eq!(done.progress.as_deref(), Some("100"));
    assert_eq!(done.incre_trans_delay_millis.as_deref(), Some("-1"));
    // Complete means copied: the target is the source, now.
    let report = wavedeck::validate::run_validation(
        &spec,
        &wavedeck::validate::runbook::Runbook::builtin(wavedeck::inventory::Engine::Postgres),
        &wavedeck::validate::ValidateOptions {
            tables: Some(tables),
            ..Default::default()
        },
    )
    .await;
    assert!(report.passed(), "{report:#?}");
    assert_eq!(count(&tgt, "SELECT count(*) FROM orders").await, 100_000);
    let mover = NativeMover::for_db(&spec.db_id);
    assert_eq!(
        subscription_state(&tgt, &mover.subscription).await,
        (false, 0),
        "nothing streams after the load"
    );

    // Writes back on at the source: what it takes now never reaches the target, and the job
    // rests in FULL_TRANSFER_COMPLETE past the worker's grace (its disabled subscription is no
    // failure).
    {
        let mut s = src.connect_admin("undrain").await.unwrap();
        pg::set_db_read_only(&mut s, db, false).await.unwrap();
        pg::clear_drained(&mut s, db).await.unwrap();
    }
    {
        let mut app = src.connect_app("app").await.unwrap();
        sqlx::query("INSERT INTO customers (name) VALUES ('after the load')")
            .execute(&mut app)
            .await
            .unwrap();
    }
    let grace = wavedeck::rehearsal::drs_emulator::native::WORKER_GRACE_MS as u64 + 1_500;
    let until = std::time::Instant::now() + Duration::from_millis(grace);
    while std::time::Instant::now() < until {
        let p = progress(&drs, &job).await;
        assert_eq!(
            (p.transfer_status.clone(), p.error_msg.clone()),
            (Some(JobStatus::FullTransferComplete), None),
            "{p:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = "SELECT count(*) FROM customers WHERE name = 'after the load'";
    assert_eq!(count(&src, after).await, 1);
    assert_eq!(count(&tgt, after).await, 0, "a FULL_TRANS job streamed");

    // Release: subscription, slot and publication gone, the target writable by applications,
    // its sequences carried (the next id is past every copied one).
    terminate(&drs, &job).await;
    {
        let mut t = tgt.connect_admin("check").await.unwrap();
        let mut s = src.connect_admin("check").await.unwrap();
        assert!(!pg::subscription_exists(&mut t, &mover.subscription)
            .await
            .unwrap());
        assert!(!pg::slot_exists(&mut s, &mover.subscription).await.unwrap());
        assert!(!pg::publication_exists(&mut s, &mover.publication)
            .await
            .unwrap());
    }
    assert!(!common::read_only(&tgt).await, "read-only lifted");
    let src_seq = count(&src, "SELECT last_value FROM orders_id_seq").await;
    assert!(count(&tgt, "SELECT last_value FROM orders_id_seq").await >= src_seq);
    {
        let mut app = tgt.connect_app("app").await.unwrap();
        sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1)")
            .execute(&mut app)
            .await
            .unwrap();
    }
    delete(&drs, &job).await;
}
