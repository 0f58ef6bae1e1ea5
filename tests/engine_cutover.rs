//! The engine's cutover (`engine.source_drain: sql`) on the replication lab: two real PostgreSQL
//! clusters replicating with native logical replication under a write workload, the DRS
//! emulator for the job's lifecycle, a real SQLite store. An operator's `cutover` goes through
//! the engine's guards and the cutover module's steps; `kill -9` of the real `wavedeck run`
//! after each step never repeats or loses one; a rollback brings the target's writes back.
//! The MariaDB counterpart is `engine_cutover_mysql.rs`; both share `common::cutover_rig`.

mod common;

use common::cutover_rig::*;
use common::*;
use wavedeck::lifecycle::Stage;
use wavedeck::rehearsal::lab::postgres::{LabState, TempLab};
use wavedeck::rehearsal::lab::workload;

/// A PostgreSQL lab with one database and the engine's rig. `native`: the emulator's jobs
/// replicate the database themselves (publication and subscription, lag measured from the
/// servers, terminate drops the subscription), as DRS does; otherwise the lab replicates it and
/// the emulator's jobs only play DRS's statuses, so the engine finds and releases the lab's
/// subscription at writes-on.
async fn lab_rig(db: &str, rows: u32, native: bool) -> EngineRig<TempLab> {
    let dbs = [db.to_string()];
    let lab = if native {
        TempLab::unreplicated(&dbs, rows).await.unwrap()
    } else {
        TempLab::new(&dbs, rows).await.unwrap()
    };
    let spec = lab.state.spec(db);
    let dns = lab.state.dns_file().path;
    engine_rig(lab, &[spec], native, |dir| {
        let mut cfg = config(dir, dns);
        cfg.cutover.checksum_tables = vec!["public.customers".into(), "public.orders".into()];
        cfg
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cutover_through_the_engine_keeps_every_acknowledged_write_once() {
    let db = "engcut";
    let r = lab_rig(db, 2000, true).await;
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    let w = start_workload(st, db);
    wait_acks(&w, &source.endpoint(), 200).await;

    cutover(&r.store, db).await;
    wait_hypercare(&r.store).await;
    wait_acks(&w, &target.endpoint(), 200).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&target, &stats).await;
    assert!(
        read_only(&source).await,
        "the source stays read-only in hypercare"
    );
    assert!(!read_only(&target).await, "the target takes writes");
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(target.endpoint()));

    let events = assert_one_clean_cutover(&r.store, db).await;
    // What the steps report is evidence: the WAL positions compared, the tables checked, the
    // smoke test through the switched name. None of it is filed as a pre-check.
    let detail = |step: &str| ok_detail(&events, db, step);
    let sync = detail("cutover.final_sync");
    assert_eq!(
        sync["slot"],
        wavedeck::cutover::context::NativeMover::for_db(db).subscription
    );
    assert!(sync["sync"]["confirmed_lsn"].is_string(), "{sync}");
    let quick = detail("cutover.quick_validation");
    assert_eq!(quick["tables"], 3, "{quick}");
    assert_eq!(quick["checksummed"], 2, "{quick}");
    let on = detail("cutover.target_writes_on");
    assert_eq!(on["smoke"]["endpoint"], target.endpoint(), "{on}");
    assert!(
        on.get("replication_released").is_none(),
        "terminating the DRS job released the replication: {on}"
    );
    let states = r.store.db_states().await.unwrap();
    let prechecks = states[0].precheck.as_ref().map(|p| p.summary.clone());
    assert!(
        prechecks
            .as_deref()
            .is_some_and(|p| p.contains("DRS pre-check")),
        "{prechecks:?}"
    );
    let unavailable =
        workload::unavailability_ms(&stats.acks, &source.endpoint(), &target.endpoint());
    eprintln!(
        "write unavailability through the engine: {:.0} ms ({} writes acknowledged)",
        unavailable.unwrap_or(f64::NAN),
        stats.acks.len()
    );
    let _ = &r.dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_each_cutover_step_then_restart_finishes_it_exactly_once() {
    let db = "engkill";
    let r = lab_rig(db, 1000, true).await;
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    // To ready with an engine in this process, stopped cleanly.
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    engine.shutdown().await.unwrap();
    let w = start_workload(st, db);
    wait_acks(&w, &source.endpoint(), 100).await;

    let (engine, _, _) = kill_9_after_each_step(&r, db).await;
    wait_acks(&w, &target.endpoint(), 100).await;
    stop_engine(&r.store, engine).await;
    let stats = w.stop().await;

    assert_all_acked_once(&target, &stats).await;
    assert!(read_only(&source).await);
    assert!(!read_only(&target).await);
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(target.endpoint()));
    assert_each_step_once_after_kills(&r, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_through_the_engine_after_target_writes_loses_nothing() {
    let db = "engroll";
    let r = lab_rig(db, 1000, false).await;
    let st = &r.lab.state;
    let source = st.side(&st.source, db);
    let target = st.side(&st.target, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    let w = start_workload(st, db);
    wait_acks(&w, &source.endpoint(), 100).await;
    cutover(&r.store, db).await;
    wait_hypercare(&r.store).await;
    wait_acks(&w, &target.endpoint(), 200).await;
    // A row written only at the target, through a sequence, must come back too.
    let mut t = target.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 42.00)")
        .execute(&mut t)
        .await
        .unwrap();
    drop(t);
    // The lab's own subscription (not the emulated job's) was found by its slot and released
    // before the target took writes.
    let events = all_events(&r.store).await;
    let on = outcomes(&events, db, "cutover.target_writes_on")[0].payload["detail"].clone();
    assert_eq!(
        on["replication_released"],
        wavedeck::cutover::context::NativeMover::for_db(db).subscription,
        "{on}"
    );

    roll_back(&r.store, db).await;
    let after_rollback = acks_from(&w, &source.endpoint());
    wait_acks(&w, &source.endpoint(), after_rollback + 100).await;
    let stats = w.stop().await;
    engine.shutdown().await.unwrap();

    assert_all_acked_once(&source, &stats).await;
    assert!(!read_only(&source).await, "source writable again");
    assert!(read_only(&target).await, "target drained");
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(source.endpoint()));
    let count = |side: wavedeck::cutover::side::Side| async move {
        let mut c = side.connect_admin("check").await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(count(source.clone()).await, count(target.clone()).await);
    // Sequences came back too: a new order at the source does not collide.
    let mut s = source.connect_app("check").await.unwrap();
    sqlx::query("INSERT INTO orders (customer_id, amount) VALUES (1, 1.00)")
        .execute(&mut s)
        .await
        .unwrap();
    assert_rolled_back(&r.store, db).await;
}

/// An offline database (`mode: offline`) on the lab, with the DRS-side playbook (checks: drs,
/// the emulator's drain): pre-checked by wavedeck's SQL checks against the lab's servers, it
/// waits in ready_offline with no DRS job; the operator's cutover makes one FULL_TRANS job
/// (read back from the emulator through DRS's API), drains the source before starting it,
/// compares after its full load, terminates it and switches the name: hypercare.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_database_is_cut_over_with_one_full_load_only_job() {
    let db = "engoff";
    let lab = TempLab::unreplicated(&[db.to_string()], 500).await.unwrap();
    let mut spec = lab.state.spec(db);
    spec.mode = wavedeck::inventory::Mode::Offline;
    let dns = lab.state.dns_file().path;
    let r = engine_rig(lab, &[spec], false, |dir| {
        let mut cfg = config(dir, dns);
        cfg.engine.source_drain = wavedeck::config::SourceDrain::Emulator;
        cfg
    })
    .await;
    let st = &r.lab.state;
    let target = st.side(&st.target, db);
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    use wavedeck::store::{Action, Role, Target};
    let start = command(&r.store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&r.store, start).await.0);
    let states = wait_for(
        &r.store,
        "ready_offline",
        std::time::Duration::from_secs(60),
        |s| s.iter().all(|d| d.stage == Stage::ReadyOffline),
    )
    .await;
    assert_eq!(states[0].drs_job_id, None, "no DRS job before the cutover");
    let approve = command(
        &r.store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    assert!(decided(&r.store, approve).await.0);
    // Through `wavedeck cutover DB --confirm DB`: it prints the expected outage and carries
    // it in the command the engine decides.
    use wavedeck::store::operate::{run, ActArgs, OperatorCommand};
    let mut limits = wavedeck::plan::PlanLimits::from_config(&r.cfg);
    limits.measured_validation = r.store.validation_rates().await.unwrap();
    let asked = OperatorCommand::Cutover(ActArgs {
        target: db.into(),
        confirm: Some(db.into()),
        timeout: 60,
        json: false,
        reason: None,
    });
    let code = run(asked, r.cfg.clone()).await.unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "cutover refused");
    wait_hypercare(&r.store).await;
    engine.shutdown().await.unwrap();

    let states = r.store.db_states().await.unwrap();
    let job = states[0].drs_job_id.clone().expect("the cutover's DRS job");
    let detail = r
        .drs
        .batch_detail(&[wavedeck::drs::model::JobId(job)])
        .await
        .unwrap();
    assert_eq!(detail.len(), 1);
    assert_eq!(detail[0].task_type, "FULL_TRANS");
    let events = all_events(&r.store).await;
    check_intents(&events);
    let order = [
        "create_job",
        "drs_precheck",
        "drain_source",
        "start_job",
        "compare",
        "terminate_job",
        "dns_switch",
    ];
    let seq_of = |step: &str| {
        let ok: Vec<i64> = outcomes(&events, db, step)
            .into_iter()
            .filter(|e| e.payload["ok"] == true)
            .map(|e| e.seq)
            .collect();
        assert_eq!(ok.len(), 1, "{step}: {ok:?}");
        ok[0]
    };
    let seqs: Vec<i64> = order.iter().map(|s| seq_of(s)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "{order:?} at {seqs:?}"
    );
    assert_eq!(stage_entries(&events, db, "cutover"), 1);
    assert_eq!(stage_entries(&events, db, "hypercare"), 1);
    assert!(events
        .iter()
        .any(|e| e.kind == wavedeck::store::kind::DB_JOB_STATUS
            && e.payload["status"] == "FULL_TRANSFER_COMPLETE"));
    // The exact comparison: every row's content, not the row counts of the online gate.
    let checked = events
        .iter()
        .find(|e| e.kind == wavedeck::store::kind::DB_VALIDATION)
        .expect("the load's validation");
    assert_eq!(checked.payload["passed"], true, "{}", checked.payload);
    let summary = checked.payload["summary"].as_str().unwrap_or_default();
    assert!(summary.starts_with("DRS content comparison"), "{summary}");
    let dns = st.dns_file().current(&LabState::dns_name(db)).unwrap();
    assert_eq!(dns.map(|e| e.value), Some(target.endpoint()));
    assert!(r.store.verify_chain().await.unwrap().is_ok());
    // The write outage, from the drain to the end: on the hypercare event and in the pack.
    let done = events
        .iter()
        .find(|e| e.kind == wavedeck::store::kind::DB_STAGE && e.payload["to"] == "hypercare")
        .unwrap();
    let outage = done.payload["outage_s"].as_f64().expect("outage_s");
    assert!(outage > 0.0, "{}", done.payload);
    let out = r.dir.path().join("evidence");
    let sel = wavedeck::evidence::export::Selection::Db(db.into());
    let dirs =
        wavedeck::evidence::export::export(&r.store, &sel, &out, "tester", chrono::Utc::now())
            .await
            .unwrap();
    let summary = std::fs::read_to_string(dirs[0].join("summary.md")).unwrap();
    let line = format!("| Write outage | {outage:.1} s, from the source's drain");
    assert!(summary.contains(&line), "{summary}");
    assert!(summary.contains("| Mode | offline"), "{summary}");
    // The estimate the command carried, as the engine recorded the accepted command: the
    // plan's one estimate of this database, in the pack and in the cockpit's detail.
    let want = wavedeck::plan::expected::of(&states[0], &limits).unwrap();
    let accepted = events
        .iter()
        .rev()
        .find(|e| {
            e.kind == wavedeck::store::kind::COMMAND_ACCEPTED && e.payload["action"] == "cutover"
        })
        .expect("the accepted cutover");
    let expected = wavedeck::plan::expected::from_args(&accepted.payload["args"], db);
    assert_eq!(
        expected,
        Some(want.outage.total_s()),
        "{}",
        accepted.payload
    );
    let row = format!(
        "| Expected outage | {} ({:.0} s), estimated when cutover command",
        wavedeck::plan::estimate::human(want.outage.total_s()),
        want.outage.total_s()
    );
    assert!(summary.contains(&row), "{row}: {summary}");
    let mut data = wavedeck::tui::data::Data::default();
    data.apply(wavedeck::tui::data::FeedUpdate {
        dbs: Some(states.clone()),
        events: events.clone(),
        ..Default::default()
    });
    let x = &data.extra[db];
    assert_eq!(
        (x.outage_s, x.expected_outage_s),
        (Some(outage), expected),
        "the cockpit's detail reads both"
    );
    eprintln!(
        "offline write outage through the engine: {outage:.1} s (emulated time x{SPEED}); expected {:.0} s ({})",
        want.outage.total_s(),
        want.sentence()
    );
}
