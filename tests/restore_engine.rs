//! Restore tests through the real engine and the real binary (issue #16, part 2): a PostgreSQL
//! lab database migrated to hypercare by the engine on the native emulator, then
//! `wavedeck restore-test` against a running `wavedeck run`: restore passed (smoke tests on the
//! restored copy), restore failed (the `smoke_fail` fault spoils the copy), and `kill -9` of the
//! engine mid-restore: the next engine deletes the temporary instance exactly once.

mod common;

use common::cutover_rig::*;
use common::*;
use std::time::Duration;
use wavedeck::rehearsal::drs_emulator::faults::{FaultPlan, RestoreFaultKind, RestoreFaultRule};
use wavedeck::rehearsal::lab::postgres::TempLab;
use wavedeck::store::{kind, Action, Event, Role, Target};

const DB: &str = "rtest";

fn plan(rules: &[(&str, RestoreFaultKind, u64)]) -> FaultPlan {
    FaultPlan {
        restores: rules
            .iter()
            .map(|(i, f, ms)| RestoreFaultRule {
                instance: i.to_string(),
                fault: *f,
                build_ms: *ms,
            })
            .collect(),
        ..Default::default()
    }
}

fn restore_outcomes<'a>(events: &'a [Event], step: &str, run: u32) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.kind == kind::STEP_OUTCOME
                && e.payload["step"] == step
                && e.payload["detail"]["run_ref"]["run"] == run
        })
        .collect()
}

fn intents(events: &[Event], step: &str, run: u32) -> usize {
    events
        .iter()
        .filter(|e| {
            e.kind == kind::STEP_INTENT
                && e.payload["step"] == step
                && e.payload["detail"]["run_ref"]["run"] == run
        })
        .count()
}

/// The database's row of the cockpit's Databases view, drawn `w` columns wide at `now` from
/// what the store holds (its states, as the fold keeps them).
async fn databases_row(
    store: &wavedeck::store::Store,
    db: &str,
    w: u16,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use ratatui::backend::TestBackend;
    use wavedeck::tui::data::{Data, FeedUpdate};
    let mut data = Data::default();
    data.apply(FeedUpdate {
        dbs: Some(store.db_states().await.unwrap()),
        waves: Some(store.wave_states().await.unwrap()),
        commands: Some(vec![]),
        ..Default::default()
    });
    let th = wavedeck::tui::theme::Theme::load("dark", false, false).unwrap();
    let mut app = wavedeck::tui::app::App::new(data, th, false, now);
    let two = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('2'),
        crossterm::event::KeyModifiers::NONE,
    );
    wavedeck::tui::app::handle_key(&mut app, two);
    app.size = (w, 30);
    let mut t = ratatui::Terminal::new(TestBackend::new(w, 30)).unwrap();
    t.draw(|f| wavedeck::tui::views::render(&app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..30)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .find(|l| l.contains(db))
        .unwrap_or_default()
}

/// The restore tests the store's fold keeps for `db` (what the Databases view draws).
async fn brief(store: &wavedeck::store::Store, db: &str) -> wavedeck::store::RestoreBrief {
    store.db_state(db).await.unwrap().unwrap().restore_test
}

async fn copy_exists(port: u16, name: &str) -> bool {
    let c = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&c)
        .await
        .unwrap();
    c.close().await;
    n > 0
}

async fn wait_gone(port: u16, name: &str) {
    for _ in 0..100 {
        if !copy_exists(port, name).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the restored copy {name} was never dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_tests_pass_fail_and_survive_kill_9() {
    let lab = TempLab::unreplicated(&[DB.to_string()], 500).await.unwrap();
    let mut spec = lab.state.spec(DB);
    spec.extra
        .insert("rds_instance_id".into(), serde_json::json!("rds-rtest"));
    spec.extra.insert(
        "smoke_tests".into(),
        serde_json::json!([{"name": "customers kept", "sql": "SELECT count(*) > 0 FROM customers", "expect": [[true]]}]),
    );
    let dns = lab.state.dns_file().path;
    let target_port = lab.state.target.port;
    let r = engine_rig(lab, &[spec], true, |dir| {
        let mut cfg = config(dir, dns);
        cfg.restore_test.poll_s = 1;
        cfg.restore_test.every_days = 0;
        cfg
    })
    .await;
    // To hypercare with the engine in this process.
    let engine = wavedeck::engine::spawn(r.cfg.clone(), r.store.clone(), r.drs.clone())
        .await
        .unwrap();
    to_ready(&r.store).await;
    cutover(&r.store, DB).await;
    wait_hypercare(&r.store).await;
    engine.shutdown().await.unwrap();

    let mut cfg = r.cfg.clone();
    cfg.engine.lease_ttl_s = 1;
    let cfg_path = r.dir.path().join("wavedeck.yaml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let log = r.dir.path().join("processes.log");
    let run_engine = || Reap(wavedeck(&cfg_path, &["run"], &log));

    // 1. Passed: the real command against the real engine.
    let mut e = run_engine();
    wait_lease(&r.store, true, Duration::from_secs(20)).await;
    // Hypercare does not close before a restore test passed (or without a reason).
    let o = wavedeck_command(&cfg_path, &["close", DB], &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(
        text.contains("no restore test of rtest has passed since it entered hypercare"),
        "{text}"
    );
    let t0 = std::time::Instant::now();
    let out = wavedeck_command(&cfg_path, &["restore-test", DB, "--timeout", "120"], &[])
        .output()
        .unwrap();
    let took = t0.elapsed();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("passed: restore test 1 of rtest"), "{text}");
    assert!(text.contains("wd-rt-rtest-1: restore the backup"), "{text}");
    assert!(
        text.contains("smoke tests passed, 3 tables counted"),
        "{text}"
    );
    eprintln!(
        "restore test of the lab database (500 rows): {:.1} s\n{text}",
        took.as_secs_f64()
    );
    assert_eq!(r._emu.restore_deletes("wd-rt-rtest-1"), 1);
    wait_gone(target_port, "wd-rt-rtest-1").await;
    // The cockpit's column, from the tester's own events as the store folded them.
    let b = brief(&r.store, DB).await;
    let last = b.last.clone().expect("a verdict");
    assert!(last.passed && last.run == 1 && b.running.is_none(), "{b:?}");
    assert!(
        last.took_s >= 0 && last.took_s <= took.as_secs() as i64 + 1,
        "{b:?}"
    );
    // At the verdict's own time, and two days on.
    let row = databases_row(&r.store, DB, 120, last.at).await;
    assert!(row.contains(" ✓0s "), "{row}");
    let row = databases_row(&r.store, DB, 120, last.at + chrono::Duration::days(2)).await;
    assert!(row.contains(" ✓2d "), "{row}");

    // 2. Failed: the copy lost its first table's rows; the smoke test and the count say so.
    r._emu
        .set_faults(plan(&[("wd-rt-*-2", RestoreFaultKind::SmokeFail, 0)]));
    let out = wavedeck_command(&cfg_path, &["restore-test", DB, "--timeout", "120"], &[])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAILED: restore test 2 of rtest"), "{text}");
    assert!(text.contains("customers kept"), "{text}");
    assert_eq!(r._emu.restore_deletes("wd-rt-rtest-2"), 1);
    wait_gone(target_port, "wd-rt-rtest-2").await;
    let b = brief(&r.store, DB).await;
    assert!(
        b.last.as_ref().is_some_and(|l| !l.passed && l.run == 2) && b.running.is_none(),
        "{b:?}"
    );
    let last = b.last.unwrap();
    let row = databases_row(&r.store, DB, 160, last.at).await;
    let took2 = wavedeck::tui::fmt::dur_secs(last.took_s);
    assert!(row.contains(&format!(" ✗ 0s {took2} ")), "{took2}: {row}");

    // 3. kill -9 while the instance is building: the next engine deletes it, once.
    r._emu
        .set_faults(plan(&[("wd-rt-*-3", RestoreFaultKind::Slow, 60_000)]));
    let c = command(
        &r.store,
        Role::Operator,
        Action::RestoreTest,
        Target::Db(DB.into()),
    )
    .await;
    assert!(decided(&r.store, c).await.0);
    for _ in 0..200 {
        if r._emu
            .restored_instances()
            .contains(&"wd-rt-rtest-3".to_string())
            && copy_exists(target_port, "wd-rt-rtest-3").await
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        copy_exists(target_port, "wd-rt-rtest-3").await,
        "the restore never began"
    );
    let b = brief(&r.store, DB).await;
    assert!(
        b.running.is_some_and(|(run, _)| run == 3) && b.last.as_ref().is_some_and(|l| l.run == 2),
        "{b:?}"
    );
    let row = databases_row(&r.store, DB, 120, chrono::Utc::now()).await;
    assert!(row.contains(" … "), "{row}");
    signal(&e.0, libc::SIGKILL);
    e.0.wait().unwrap();
    wait_lease(&r.store, false, Duration::from_secs(10)).await;
    let before = all_events(&r.store).await;
    assert_eq!(
        restore_outcomes(&before, "restore.create", 3).len(),
        0,
        "killed before its outcome"
    );
    e = run_engine();
    let mut done = false;
    for _ in 0..300 {
        let ev = all_events(&r.store).await;
        if restore_outcomes(&ev, "restore.delete", 3)
            .iter()
            .any(|e| e.payload["ok"] == true)
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "the next engine never deleted the instance");
    let ev = all_events(&r.store).await;
    let del = restore_outcomes(&ev, "restore.delete", 3);
    assert_eq!(del.len(), 1);
    assert_eq!(del[0].payload["detail"]["run_ref"]["interrupted"], true);
    assert_eq!(intents(&ev, "restore.delete", 3), 1);
    assert_eq!(
        intents(&ev, "restore.smoke", 3),
        0,
        "an interrupted test is not carried on"
    );
    assert_eq!(r._emu.restore_deletes("wd-rt-rtest-3"), 1);
    assert!(
        r._emu.restored_instances().is_empty(),
        "{:?}",
        r._emu.restored_instances()
    );
    wait_gone(target_port, "wd-rt-rtest-3").await;
    // Deleted after the crash, with no verdict: the last test is still run 2's.
    let b = brief(&r.store, DB).await;
    assert!(
        b.running.is_none() && b.last.as_ref().is_some_and(|l| l.run == 2),
        "{b:?}"
    );
    // Every earlier run kept its one delete, nothing was deleted twice.
    for run in 1..=2 {
        assert_eq!(
            restore_outcomes(&ev, "restore.delete", run).len(),
            1,
            "run {run}"
        );
    }
    // Run 1 passed since hypercare began: now it closes.
    let o = wavedeck_command(&cfg_path, &["close", DB], &[])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    stop_engine(&r.store, e).await;

    // For a look in the cockpit (tmux): WAVEDECK_KEEP_STORE=PATH keeps a copy of the store.
    if let Ok(keep) = std::env::var("WAVEDECK_KEEP_STORE") {
        for ext in ["", "-wal", "-shm"] {
            let from = r.dir.path().join(format!("store.db{ext}"));
            if from.exists() {
                std::fs::copy(from, format!("{keep}{ext}")).unwrap();
            }
        }
    }
    // Evidence: restore-tests.json holds the three runs, summary.md says the last verdict.
    let out_dir = r.dir.path().join("evidence");
    let o = wavedeck_command(
        &cfg_path,
        &["evidence", "export", DB, "--out", out_dir.to_str().unwrap()],
        &[],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pack = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let tests: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pack.join("restore-tests.json")).unwrap()).unwrap();
    let runs = tests.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{tests:#}");
    assert_eq!(runs[0]["passed"], true);
    assert_eq!(runs[0]["report"]["counts"].as_array().unwrap().len(), 3);
    assert_eq!(runs[1]["passed"], false);
    assert!(
        runs[2]["passed"].is_null() && runs[2]["interrupted"] == true,
        "{:#}",
        runs[2]
    );
    assert!(runs.iter().all(|r| r["deleted"] == true));
    let summary = std::fs::read_to_string(pack.join("summary.md")).unwrap();
    let line = summary
        .lines()
        .find(|l| l.starts_with("- restore test:"))
        .unwrap();
    assert!(
        line.contains("FAILED") && line.contains("run 2") && line.contains("customers kept"),
        "{line}"
    );
    let o = wavedeck_command(
        &cfg_path,
        &["evidence", "verify", pack.to_str().unwrap()],
        &[],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
