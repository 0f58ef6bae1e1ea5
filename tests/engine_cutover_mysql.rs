//! The engine's cutover (`engine.source_drain: sql`) of a MySQL database on the MariaDB lab: a
//! real source/target pair replicating by GTID under the application's write workload, the DRS
//! emulator playing the job's statuses, a real SQLite store. The engine's mover is DRS, so the
//! final sync proves delivery with a marker row written on the drained source (and, the lab's
//! replication being found on the target, with the source's GTID position too); `kill -9` of
//! the real `wavedeck run` after each step never repeats or loses one; a rollback after writes
//! at the target brings them back. The PostgreSQL counterpart is `engine_cutover.rs`.

mod common;

use common::cutover_rig::*;
use common::mysql::{assert_all_acked_once, count, fenced, start_workload};
use common::*;
use wavedeck::cutover::context::NativeMover;
use wavedeck::cutover::mysql::ops as my;
use wavedeck::cutover::side::Side;
use wavedeck::rehearsal::lab::mariadb::TempMyLab;
use wavedeck::rehearsal::lab::postgres::LabState;
use wavedeck::rehearsal::lab::workload;

async fn lab_rig(db: &str, rows: u32) -> EngineRig<TempMyLab> {
    rig(db, rows, false).await
}

/// `native`: the targets start empty and the emulator's MySQL jobs copy and replicate them by
/// GTID themselves (terminate removes the replication), as DRS does; otherwise the lab
/// replicates and the emulator's jobs only play DRS's statuses.
async fn rig(db: &str, rows: u32, native: bool) -> EngineRig<TempMyLab> {
    let dbs = [db.to_string()];
    let lab = if native {
        TempMyLab::unreplicated(&dbs, rows).await.unwrap()
    } else {
        TempMyLab::new(&dbs, rows).await.unwrap()
    };
    let spec = lab.state.spec(db).unwrap();
    let dns = lab.state.dns_file().path;
    engine_rig(lab, &[spec], native, |dir| {
        let mut cfg = config(dir, dns);
        cfg.cutover.checksum_tables = vec!["customers".into(), "orders".into()];
        cfg
    })
    .await
}

/// wavedeck's (admin) view of the source and the target.
fn sides(r: &EngineRig<TempMyLab>, db: &str) -> (Side, Side) {
    let st = &r.lab.state;
    let pair = st.pair(db).unwrap();
    (st.side(&pair.source, db), st.side(&pair.target, db))
}

fn dns_value(r: &EngineRig<TempMyLab>, db: &str) -> Option<String> {
    let dns = r.lab.state.dns_file();
    dns.current(&LabState::dns_name(db))
        .unwrap()
        .map(|e| e.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cutover_of_a_mysql_database_keeps_every_acknowledged_write_once() {
    let db = "mycut";
    let r = lab_rig(db, 2000).await;
    let (source, target) = sides(&r, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    let w = start_workload(&r.lab.state, db);
    wait_acks(&w, &source.endpoint(), 200).await;

    cutover(&r.store, db).await;
    wait_hypercare(&r.store).await;
    wait_acks(&w, &target.endpoint(), 200).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&target, &stats).await;
    assert!(
        fenced(&source).await,
        "the source stays fenced in hypercare"
    );
    assert!(!fenced(&target).await, "the target takes writes");
    assert_eq!(dns_value(&r, db), Some(target.endpoint()));

    let events = assert_one_clean_cutover(&r.store, db).await;
    let detail = |step: &str| ok_detail(&events, db, step);
    let drain = detail("cutover.drain_source");
    assert_eq!(drain["drain"]["flavor"], "maria_db", "{drain}");
    // DRS is the mover: the marker written on the drained source reached the target; the lab's
    // GTID replication, found on the target, also delivered the source's whole position.
    let sync = detail("cutover.final_sync");
    assert_eq!(sync["sync"]["method"], "marker", "{sync}");
    let marker = sync["sync"]["marker"].as_str().unwrap().to_string();
    let mut t = my::admin(&target, "check").await.unwrap();
    assert!(t.has_marker(db, &marker).await.unwrap());
    let want = my::MariaPos::parse(sync["sync"]["source_gtid_pos"].as_str().unwrap()).unwrap();
    let have = my::MariaPos::parse(sync["sync"]["target_gtid_have"].as_str().unwrap()).unwrap();
    assert!(!want.0.is_empty() && have.contains(&want), "{sync}");
    // Every table counted (the marker table among them), the configured ones checksummed.
    let quick = detail("cutover.quick_validation");
    assert_eq!(quick["tables"], 4, "{quick}");
    assert_eq!(quick["checksummed"], 2, "{quick}");
    let on = detail("cutover.target_writes_on");
    assert_eq!(on["smoke"]["endpoint"], target.endpoint(), "{on}");
    assert_eq!(
        on["replication_released"],
        NativeMover::for_db(db).subscription,
        "{on}"
    );
    assert_eq!(on["way_back"]["fed_by"], "gtid", "{on}");
    assert_eq!(on["way_back"]["cutover"], marker.as_str(), "{on}");
    assert!(
        t.replicas().await.unwrap().is_empty(),
        "target replicates no more"
    );
    let unavailable =
        workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint());
    eprintln!(
        "MySQL write unavailability through the engine: {:.0} ms ({} writes acknowledged)",
        unavailable.unwrap_or(f64::NAN),
        stats.acks.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_each_mysql_cutover_step_then_restart_finishes_it_exactly_once() {
    let db = "mykill";
    let r = lab_rig(db, 1000).await;
    let (source, target) = sides(&r, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    engine.shutdown().await.unwrap();
    let w = start_workload(&r.lab.state, db);
    wait_acks(&w, &source.endpoint(), 100).await;

    let (engine, _, _) = kill_9_after_each_step(&r, db).await;
    wait_acks(&w, &target.endpoint(), 100).await;
    stop_engine(&r.store, engine).await;
    let stats = w.stop().await;

    assert_all_acked_once(&target, &stats).await;
    assert!(fenced(&source).await);
    assert!(!fenced(&target).await);
    assert_eq!(dns_value(&r, db), Some(target.endpoint()));
    let events = assert_each_step_once_after_kills(&r, db).await;
    // Killed after releasing the lab's replication, the resumed step 6 still knew how the target
    // had been fed: the note it wrote before the release says so.
    let on = ok_detail(&events, db, "cutover.target_writes_on");
    assert_eq!(on["way_back"]["fed_by"], "gtid", "{on}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_rollback_through_the_engine_after_target_writes_loses_nothing() {
    let db = "myroll";
    let r = lab_rig(db, 1000).await;
    let (source, target) = sides(&r, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    let w = start_workload(&r.lab.state, db);
    wait_acks(&w, &source.endpoint(), 100).await;
    cutover(&r.store, db).await;
    wait_hypercare(&r.store).await;
    wait_acks(&w, &target.endpoint(), 200).await;
    // A row written only at the target, through AUTO_INCREMENT, must come back too.
    let pair = r.lab.state.pair(db).unwrap();
    let mut app = my::app(&r.lab.state.app_side(&pair.target, db))
        .await
        .unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut app)
        .await
        .unwrap();
    drop(app);

    roll_back(&r.store, db).await;
    let after_rollback = acks_from(&w, &source.endpoint());
    wait_acks(&w, &source.endpoint(), after_rollback + 100).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&source, &stats).await;
    assert!(!fenced(&source).await, "source writable again");
    assert!(fenced(&target).await, "target drained");
    assert_eq!(dns_value(&r, db), Some(source.endpoint()));
    assert_eq!(
        count(&source, "orders").await,
        count(&target, "orders").await
    );
    let events = all_events(&r.store).await;
    let back = ok_detail(&events, db, "rollback.reverse_sync");
    assert!(
        back["reverse_sync"]["target_gtid_pos"].is_string(),
        "{back}"
    );
    // AUTO_INCREMENT came back too: a new order at the source does not collide.
    let mut s = my::app(&r.lab.state.app_side(&pair.source, db))
        .await
        .unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1.00)")
        .execute(&mut s)
        .await
        .unwrap();
    let mut s = my::admin(&source, "check").await.unwrap();
    assert!(
        s.replicas().await.unwrap().is_empty(),
        "the reverse connection is gone"
    );
    assert_rolled_back(&r.store, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drs_moved_mysql_database_cuts_over_and_rolls_back_after_target_writes() {
    let db = "mydrs";
    let r = rig(db, 2000, true).await;
    let (source, target) = sides(&r, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    assert_eq!(
        count(&target, "orders").await,
        2000,
        "the DRS job copied the source"
    );
    let w = start_workload(&r.lab.state, db);
    wait_acks(&w, &source.endpoint(), 200).await;
    cutover(&r.store, db).await;
    wait_hypercare(&r.store).await;
    wait_acks(&w, &target.endpoint(), 200).await;
    let pair = r.lab.state.pair(db).unwrap();
    let mut app = my::app(&r.lab.state.app_side(&pair.target, db))
        .await
        .unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut app)
        .await
        .unwrap();
    drop(app);
    let events = all_events(&r.store).await;
    // The job's replication was gone when step 6 ran (terminated before step 4); the target's
    // binary log, continuing the source's GTIDs, still told the way back.
    let sync = ok_detail(&events, db, "cutover.final_sync");
    assert_eq!(sync["sync"]["method"], "marker", "{sync}");
    assert_eq!(
        sync["sync"]["replication"],
        NativeMover::for_db(db).subscription,
        "{sync}"
    );
    let on = ok_detail(&events, db, "cutover.target_writes_on");
    assert_eq!(on["way_back"]["fed_by"], "gtid", "{on}");
    assert!(on.get("replication_released").is_none(), "{on}");
    let mut t = my::admin(&target, "check").await.unwrap();
    assert!(
        t.replicas().await.unwrap().is_empty(),
        "the job released it"
    );
    drop(t);

    roll_back(&r.store, db).await;
    let after_rollback = acks_from(&w, &source.endpoint());
    wait_acks(&w, &source.endpoint(), after_rollback + 100).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&source, &stats).await;
    assert!(!fenced(&source).await, "source writable again");
    assert!(fenced(&target).await, "target drained");
    assert_eq!(dns_value(&r, db), Some(source.endpoint()));
    assert_eq!(
        count(&source, "orders").await,
        count(&target, "orders").await
    );
    let events = all_events(&r.store).await;
    let back = ok_detail(&events, db, "rollback.reverse_sync");
    assert!(
        back["reverse_sync"]["target_gtid_pos"].is_string(),
        "reverse GTID replication brought the target's writes back: {back}"
    );
    assert_rolled_back(&r.store, db).await;
}
