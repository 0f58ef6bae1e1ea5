//! The production DRS client against the emulator in native mode with MySQL jobs on real
//! MariaDB pairs (a `TempMyLab` whose targets start empty): the job copies the source's tables
//! and replicates by GTID, statuses and the delay come from the servers in DRS's format, pause,
//! resume and terminate act on the replica, a server that goes away fails the job and it
//! recovers, and a bad login is DRS.KE0002 without the password. Every test removes its servers.
//! The PostgreSQL counterpart is `drs_native.rs`.

mod common;

use common::mysql::{count, fenced, start_workload};
use common::native::*;
use std::time::Duration;
use wavedeck::cutover::context::NativeMover;
use wavedeck::cutover::mysql::ops as my;
use wavedeck::cutover::side::Side;
use wavedeck::drs::model::JobStatus;
use wavedeck::rehearsal::lab::mariadb::{self as mylab, TempMyLab};
use wavedeck::secret::SecretRef;

async fn exec(side: &Side, sql: &str) {
    let mut c = my::admin(side, "check").await.unwrap();
    my::exec(&mut c.c, sql).await.unwrap();
}

async fn scalar(side: &Side, sql: &str) -> i64 {
    let mut c = my::admin(side, "check").await.unwrap();
    sqlx::query_scalar(sql).fetch_one(&mut c.c).await.unwrap()
}

/// Whether the server of `side` has database `db` (the target's does not before the copy).
/// Tables of `db` on the server of `side` (the lab prepares the target's database empty).
async fn tables_in(side: &Side, db: &str) -> i64 {
    let server = Side::new(&side.host, side.port, &side.user, "mysql");
    let mut c = my::admin(&server, "check").await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?")
        .bind(db)
        .fetch_one(&mut c.c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_job_copies_replicates_reports_delay_pauses_recovers_and_terminates() {
    let db = "natmy";
    let lab = TempMyLab::unreplicated(&[db.to_string()], 20_000)
        .await
        .unwrap();
    let st = &lab.state;
    let pair = st.pair(db).unwrap().clone();
    let src = st.side(&pair.source, db);
    let tgt = st.side(&pair.target, db);
    // Rows the copy must carry as they are: NULLs, quotes, bytes, zero ids.
    exec(
        &src,
        "CREATE TABLE odd (id INT PRIMARY KEY, t TEXT, b VARBINARY(8), d DATETIME(6), \
         e ENUM('x','y z'), g INT AS (id * 2) VIRTUAL)",
    )
    .await;
    exec(
        &src,
        "INSERT INTO odd (id, t, b, d, e) VALUES (0, 'it''s \\\\ ü', X'00FF27', \
         '2024-02-29 23:59:59.123456', 'y z'), (1, NULL, '', NULL, NULL)",
    )
    .await;
    let cfg = native_cfg();
    let (_emu, drs) = start_emulator(&cfg).await;
    let spec = st.spec(db).unwrap();
    let job = configured_job(&drs, &cfg, &spec).await;
    assert!(
        tables_in(&tgt, db).await == 0,
        "nothing moves before the job starts"
    );

    let (seen, incre) = start_to_incremental(&drs, &job, 180).await;
    assert!(
        seen.contains(&JobStatus::FullTransferStarted),
        "full transfer is reported while tables copy: {seen:?}"
    );
    assert_eq!(incre.progress.as_deref(), Some("100"));
    assert!(delay_ms(&incre) >= 0, "{incre:?}");
    // The replica is named as the cutover code looks it up; the target is fenced.
    let name = NativeMover::for_db(&spec.db_id).subscription;
    {
        let mut t = my::admin(&tgt, "check").await.unwrap();
        let r = t
            .replica(&name)
            .await
            .unwrap()
            .expect("replica on the target");
        assert!(r.running(), "{r:?}");
        assert_eq!(r.source_port, Some(pair.source.port));
    }
    assert!(fenced(&tgt).await, "target read-only while the job runs");
    assert_eq!(count(&src, "orders").await, 20_000);
    assert_eq!(count(&tgt, "orders").await, 20_000);
    let digest = "SELECT CAST(CRC32(GROUP_CONCAT(CONCAT_WS('|', id, HEX(t), HEX(b), d, e, g) \
                  ORDER BY id)) AS SIGNED) FROM odd";
    assert_eq!(
        scalar(&src, digest).await,
        scalar(&tgt, digest).await,
        "odd values copied as they are"
    );

    // Under the workload the delay is measured; a stalled apply (a table lock on the target)
    // makes it grow like DRS's; once the writes stop it settles to 0 with every write there.
    let w = start_workload(st, db);
    for _ in 0..20 {
        let p = progress(&drs, &job).await;
        assert_eq!(p.transfer_status, Some(JobStatus::IncreTransferStarted));
        let ms = delay_ms(&p);
        let s: i64 = p.incre_trans_delay.unwrap().parse().unwrap();
        assert!(ms >= 0 && s == ms / 1000, "delay {s} s / {ms} ms");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut stall = my::admin(&tgt, "stall").await.unwrap();
    my::exec(&mut stall.c, "LOCK TABLES wd_workload WRITE")
        .await
        .unwrap();
    assert_delay_grows_while_stalled(&drs, &job).await;
    my::exec(&mut stall.c, "UNLOCK TABLES").await.unwrap();
    drop(stall);
    let stats = w.stop().await;
    assert!(stats.acked() > 50, "workload wrote: {}", stats.acked());
    let acked = stats.acked() as i64;
    wait_until("workload rows on the target, delay 0", 60, || async {
        let n = scalar(
            &tgt,
            &format!(
                "SELECT COUNT(*) FROM wd_workload WHERE client = 'test-{db}' AND seq <= {}",
                stats.acks.last().unwrap().seq
            ),
        )
        .await;
        let p = progress(&drs, &job).await;
        (n == acked && p.incre_trans_delay_millis.as_deref() == Some("0")).then_some(())
    })
    .await;

    assert_pause_holds_and_resume_applies(
        &drs,
        &job,
        async |sql: &str| exec(&src, sql).await,
        async |sql: &str| scalar(&tgt, sql).await,
    )
    .await;

    // The source goes away: DRS's failed status and network error; it comes back: the job
    // streams again by itself, and what was written meanwhile arrives.
    mylab::stop_instance(&pair.source);
    assert_fails_naming_the_stopped_source(&drs, &job, pair.source.port).await;
    mylab::start_instance(&st.mariadbd, &st.dir.join("mysql"), &pair.source)
        .await
        .unwrap();
    exec(
        &src,
        "INSERT INTO customers (name) VALUES ('after the outage')",
    )
    .await;
    wait_until("INCRE after the source came back", 90, || async {
        (status(&drs, &job).await == JobStatus::IncreTransferStarted).then_some(())
    })
    .await;
    let outage = "SELECT COUNT(*) FROM customers WHERE name = 'after the outage'";
    wait_until("write after the outage applied", 60, || async {
        (scalar(&tgt, outage).await == 1).then_some(())
    })
    .await;

    // Terminate: the replica is gone, the target keeps its rows and takes writes.
    let before = count(&tgt, "orders").await;
    terminate(&drs, &job).await;
    {
        let mut t = my::admin(&tgt, "check").await.unwrap();
        assert!(t.replicas().await.unwrap().is_empty(), "replica removed");
    }
    assert!(!fenced(&tgt).await, "read-only lifted");
    assert_eq!(count(&tgt, "orders").await, before);
    exec(
        &src,
        "INSERT INTO customers (name) VALUES ('after terminate')",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        scalar(
            &tgt,
            "SELECT COUNT(*) FROM customers WHERE name = 'after terminate'"
        )
        .await,
        0
    );
    delete(&drs, &job).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_wrong_password_and_unreachable_source_get_drs_errors_without_the_password() {
    let db = "natmypw";
    let lab = TempMyLab::unreplicated(&[db.to_string()], 100)
        .await
        .unwrap();
    let st = &lab.state;
    let pair = st.pair(db).unwrap().clone();
    exec(
        &st.side(&pair.source, db),
        "CREATE USER 'wd_pw'@'%' IDENTIFIED BY 'right-pass-4711'",
    )
    .await;
    let cfg = native_cfg();
    let (emu, drs) = start_emulator(&cfg).await;
    let pw_file = st.dir.join("wrong-pw");
    let mut spec = st.spec(db).unwrap();
    spec.db_id = "natmypw-wrong".into();
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

    let mut gone = st.spec(db).unwrap();
    gone.db_id = "natmypw-gone".into();
    gone.source.port = common::free_port();
    assert_unreachable_source(&drs, &cfg, &gone).await;
    drop(emu);
}

/// Whether the application's user may write on the server of `side` (the drain fences it).
async fn app_writes(side: &Side, sql: &str) -> Result<(), String> {
    let mut c = my::admin(side, "app").await.map_err(|e| e.to_string())?;
    my::exec(&mut c.c, sql)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// An offline migration's job (FULL_TRANS) on a drained (read_only) source: one consistent
/// copy, FULL_TRANSFER_COMPLETE with the target exactly the source and no replica set up, so
/// what the source takes afterwards never arrives; the job rests there, even with the source
/// gone; release lifts the target's read_only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_full_load_only_job_copies_a_drained_source_once_and_stops() {
    let db = "natmyfull";
    let lab = TempMyLab::unreplicated(&[db.to_string()], 20_000)
        .await
        .unwrap();
    let st = &lab.state;
    let pair = st.pair(db).unwrap().clone();
    let src = st.side(&pair.source, db);
    let tgt = st.side(&pair.target, db);
    for i in 1..=3 {
        exec(
            &src,
            &format!("CREATE TABLE extra_{i} (id INT PRIMARY KEY, v TEXT)"),
        )
        .await;
        exec(
            &src,
            &format!("INSERT INTO extra_{i} SELECT seq, MD5(seq) FROM seq_1_to_5000"),
        )
        .await;
    }
    let tables: Vec<String> = {
        let mut c = my::admin(&src, "check").await.unwrap();
        sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .bind(db)
        .fetch_all(&mut c.c)
        .await
        .unwrap()
    };
    assert!(tables.len() >= 5, "{tables:?}");
    // The offline cutover drains the source before the job starts.
    my::admin(&src, "drain")
        .await
        .unwrap()
        .drain(Duration::from_secs(1))
        .await
        .unwrap();
    let app_src = st.app_side(&pair.source, db);
    let fenced_write = "INSERT INTO customers (name) VALUES ('while drained')";
    assert!(
        app_writes(&app_src, fenced_write).await.is_err(),
        "the drained source refuses application writes"
    );
    let cfg = native_cfg();
    let (emu, drs) = start_emulator(&cfg).await;
    let mut spec = st.spec(db).unwrap();
    spec.mode = wavedeck::inventory::Mode::Offline;
    let job = configured_job(&drs, &cfg, &spec).await;
    assert_eq!(
        progress(&drs, &job).await.task_mode.as_deref(),
        Some("FULL_TRANS")
    );

    let (seen, done) = start_to_full_complete(&drs, &job, 180).await;
    assert!(
        seen.contains(&JobStatus::FullTransferStarted),
        "full transfer is reported while tables copy: {seen:?}"
    );
    assert_eq!(done.progress.as_deref(), Some("100"));
    assert_eq!(done.incre_trans_delay_millis.as_deref(), Some("-1"));
    let report = wavedeck::validate::run_validation(
        &spec,
        &wavedeck::validate::runbook::Runbook::builtin(wavedeck::inventory::Engine::Mysql),
        &wavedeck::validate::ValidateOptions {
            tables: Some(tables.clone()),
            ..Default::default()
        },
    )
    .await;
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.tables.len(), tables.len());
    {
        let mut t = my::admin(&tgt, "check").await.unwrap();
        assert!(
            t.replicas().await.unwrap().is_empty(),
            "no replication after the load"
        );
    }
    assert!(
        fenced(&tgt).await,
        "target read-only while the job holds it"
    );

    // Writes back on at the source: what it takes now never reaches the target; the job rests
    // in FULL_TRANSFER_COMPLETE past the worker's grace, and with its source gone.
    my::admin(&src, "undrain")
        .await
        .unwrap()
        .set_fence(false)
        .await
        .unwrap();
    app_writes(
        &app_src,
        "INSERT INTO customers (name) VALUES ('after the load')",
    )
    .await
    .unwrap();
    let resting = async || {
        let p = progress(&drs, &job).await;
        assert_eq!(
            (p.transfer_status.clone(), p.error_msg.clone()),
            (Some(JobStatus::FullTransferComplete), None),
            "{p:?}"
        );
    };
    let grace = wavedeck::rehearsal::drs_emulator::native::WORKER_GRACE_MS as u64 + 1_500;
    let until = std::time::Instant::now() + Duration::from_millis(grace);
    while std::time::Instant::now() < until {
        resting().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = "SELECT COUNT(*) FROM customers WHERE name = 'after the load'";
    assert_eq!(scalar(&src, after).await, 1);
    assert_eq!(scalar(&tgt, after).await, 0, "a FULL_TRANS job replicated");
    mylab::stop_instance(&pair.source);
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        resting().await;
    }
    mylab::start_instance(&st.mariadbd, &st.dir.join("mysql"), &pair.source)
        .await
        .unwrap();

    // Release: no replica, the target writable by the application, rows kept.
    terminate(&drs, &job).await;
    assert!(!fenced(&tgt).await, "read-only lifted");
    let before = count(&tgt, "customers").await;
    app_writes(
        &st.app_side(&pair.target, db),
        "INSERT INTO customers (name) VALUES ('on the target')",
    )
    .await
    .unwrap();
    assert_eq!(count(&tgt, "customers").await, before + 1);
    delete(&drs, &job).await;
    drop(emu);
}
