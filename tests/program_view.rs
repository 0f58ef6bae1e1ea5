//! The Program view from a real store: the bundled factory inventory planned by the real
//! `wavedeck plan` (2000 databases, 169 waves), imported as `init` does, then worked by the
//! real engine against the DRS emulator: wave 0 cut over (running: in hypercare, not done), wave 1 with a database whose
//! lag never settles (running), wave 2 with a database whose pre-check fails (failed). The
//! cockpit's feed reads the store as it does live, and the screens are snapshots.

mod common;

use common::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::time::Duration;
use wavedeck::config::Config;
use wavedeck::lifecycle::Stage;
use wavedeck::rehearsal::drs_emulator::faults::{FaultPlan, JobFaultKind, JobFaultRule};
use wavedeck::store::{Action, Role, Store, Target};
use wavedeck::tui::app::{handle_key, App};
use wavedeck::tui::data::{Data, FeedUpdate};
use wavedeck::tui::theme::Theme;
use wavedeck::tui::views::render;

const SPEED: f64 = 800.0;

/// 2000 databases at once: quotas and limits wide enough that no wave waits on another.
fn config(dir: &std::path::Path) -> Config {
    let mut cfg = engine_config(dir, SPEED);
    cfg.emulator.quota = 200;
    cfg.limits.drs_concurrency = 200;
    cfg.limits.wave_concurrency = 100;
    cfg.limits.validation_capacity = 50;
    cfg.limits.bandwidth_gbps = 1000.0;
    // Which alerts a run raises depends on its timing (the stuck-lag database crosses the
    // thresholds at whatever poll it does), so the snapshots would not repeat; the alert
    // rules have their own tests (tests/alerts.rs) and the header shows 0 here.
    cfg.alerts.enabled = false;
    cfg
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    app.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `screen` with what this run's timing fills replaced by `~`: the Waves table's ETA and lag
/// columns on every wave's row, and the time wave 0 was approved.
fn masked(screen: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let head = lines
        .iter()
        .position(|l| String::from_iter(l).contains("LAG MAX/MED"))
        .expect("the Waves table's header");
    let at = |name: &str| {
        let h = String::from_iter(&lines[head]);
        h[..h.find(name).unwrap()].chars().count()
    };
    let cols = [(at("ETA"), 7), (at("LAG MAX/MED"), 11)];
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let mut l = l.clone();
        let text = String::from_iter(&l);
        let in_table = i > head && !lines[head + 1..=i].iter().any(|r| r.first() == Some(&'╰'));
        // The folded row's cells there hold its size and key, not timings.
        if in_table && !text.contains("one-db waves") {
            for (start, w) in cols {
                for c in l.iter_mut().skip(start).take(w) {
                    *c = '~';
                }
            }
        }
        // When the test approved wave 0: the wall clock of this run.
        if let Some(at) = text.find("approved by alice at ") {
            let start = text[..at].chars().count() + "approved by alice at ".len();
            for c in l.iter_mut().skip(start).take("2026-12-03 06:20".len()) {
                *c = '~';
            }
        }
        out.extend(l);
        out.push('\n');
    }
    out
}

/// The cockpit's data as its feed builds it on the first poll.
async fn cockpit_data(store: &Store) -> Data {
    let mut d = Data::default();
    let head = store.last_seq().await.unwrap();
    d.apply(FeedUpdate {
        dbs: Some(store.db_states().await.unwrap()),
        waves: Some(store.wave_states().await.unwrap()),
        events: store
            .events_after((head - 5000).max(0), 5000)
            .await
            .unwrap(),
        marks: store.stage_marks(0).await.unwrap(),
        commands: Some(store.recent_commands(100).await.unwrap()),
        ..Default::default()
    });
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_program_view_of_a_worked_factory() {
    let dir = tempfile::tempdir().unwrap();
    let waves_yaml = dir.path().join("waves.yaml");
    // 1. The real planner on the bundled factory.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
        .args(["plan", "--inventory", "inventory/factory-2000.csv", "--out"])
        .arg(&waves_yaml)
        .env_remove("WAVEDECK_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 2. Imported as `wavedeck init` imports it; the rehearsal opens the pilot's window now
    // (as `wavedeck bench engine` does) so that wave 0 can be cut over during the test.
    let mut specs = wavedeck::inventory::load::load_files(&[PathBuf::from(&waves_yaml)]).unwrap();
    assert_eq!(specs.len(), 2000);
    for s in specs.iter_mut().filter(|s| s.wave == Some(0)) {
        s.business_window = "daily 00:00-24:00 UTC".into();
    }
    // The operator exports the passwords the inventory names (DRS's connection test needs
    // them); here each gets a throwaway value.
    for s in &specs {
        for ep in [&s.source, &s.target] {
            if let wavedeck::secret::SecretRef::Env(var) = &ep.password {
                std::env::set_var(var, "rehearsal-only");
            }
        }
    }
    let in_wave = |n: u32| -> Vec<String> {
        specs
            .iter()
            .filter(|s| s.wave == Some(n))
            .map(|s| s.db_id.clone())
            .collect()
    };
    let (w0, w1, w2) = (in_wave(0), in_wave(1), in_wave(2));
    let stuck = w1[0].clone();
    let broken = w2[0].clone();

    let base = config(dir.path());
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    emu.set_faults(FaultPlan {
        rds: vec![],
        requests: vec![],
        jobs: vec![
            JobFaultRule {
                name: format!("wd-{stuck}"),
                fault: JobFaultKind::LagStuck,
                at_pct: None,
            },
            JobFaultRule {
                name: format!("wd-{broken}"),
                fault: JobFaultKind::PrecheckFail,
                at_pct: None,
            },
        ],
        ..Default::default()
    });
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    store
        .register_inventory(&specs, "init", false)
        .await
        .unwrap();
    let waves = store.wave_states().await.unwrap();
    assert_eq!(
        waves.len(),
        169,
        "the planner's waves, as init records them"
    );

    // 3. The real engine works waves 0, 1 and 2.
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    for w in 0..3 {
        let id = command(&store, Role::Operator, Action::StartWave, Target::Wave(w)).await;
        assert!(decided(&store, id).await.0, "start wave {w}");
    }
    let settled =
        |s: &[wavedeck::store::DbState], ids: &[String], ok: Stage, odd: &str, odd_stage: Stage| {
            ids.iter().all(|id| {
                s.iter()
                    .any(|d| d.db_id == *id && d.stage == if id == odd { odd_stage } else { ok })
            })
        };
    wait_for(&store, "wave 0 ready", Duration::from_secs(240), |s| {
        settled(s, &w0, Stage::Ready, "", Stage::Ready)
    })
    .await;
    let id = command(
        &store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    assert!(decided(&store, id).await.0);
    // A database refused for a lag spike at that instant is asked again, as an operator would.
    for _ in 0..20 {
        let id = command(&store, Role::Operator, Action::Cutover, Target::Wave(0)).await;
        decided(&store, id).await;
        let s = store.db_states().await.unwrap();
        if !s
            .iter()
            .any(|d| d.wave == Some(0) && d.stage == Stage::Ready)
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    wait_for(
        &store,
        "wave 0 in hypercare",
        Duration::from_secs(240),
        |s| settled(s, &w0, Stage::Hypercare, "", Stage::Hypercare),
    )
    .await;
    wait_for(
        &store,
        "wave 1 ready but one in cdc, wave 2 ready but one failed",
        Duration::from_secs(300),
        |s| {
            settled(s, &w1, Stage::Ready, &stuck, Stage::Cdc)
                && settled(s, &w2, Stage::Ready, &broken, Stage::Failed)
        },
    )
    .await;
    engine.shutdown().await.unwrap();
    // To look at this store in the cockpit (tmux), keep a copy: PROGRAM_VIEW_KEEP=/some/dir.
    if let Some(keep) = std::env::var_os("PROGRAM_VIEW_KEEP") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        for f in ["store.db", "store.db-wal", "store.db-shm"] {
            let _ = std::fs::copy(dir.path().join(f), keep.join(f));
        }
    }

    // 4. What the cockpit reads. At the real now: the pace measured on this run gives an ETA,
    // and says how it was computed.
    let data = cockpit_data(&store).await;
    let th = Theme::load("dark", false, false).unwrap();
    let mut live = App::new(data.clone(), th.clone(), true, chrono::Utc::now());
    let p = &live.program;
    assert_eq!(p.progress.databases, 2000);
    assert_eq!(p.progress.failed_now, 1);
    assert_eq!(p.progress.failures_24h, 1);
    assert_eq!(p.progress.active_24h, w0.len() + w1.len() + w2.len());
    let phases: Vec<(usize, usize)> = p
        .pace
        .phases
        .iter()
        .map(|ph| (ph.done, ph.remaining))
        .collect();
    let loaded = w0.len() + w1.len() + w2.len() - 1;
    assert_eq!(
        phases[0],
        (loaded, 2000 - loaded),
        "full loads done / ahead"
    );
    assert_eq!(
        phases[1].0,
        loaded - 1,
        "validations: all loaded but the stuck one"
    );
    assert_eq!(
        phases[2],
        (w0.len(), 2000 - w0.len()),
        "cutovers done / ahead"
    );
    assert!(p.pace.eta.is_some(), "{:?}", p.pace);
    assert!(
        p.pace.basis.starts_with("at the pace since "),
        "{}",
        p.pace.basis
    );
    handle_key(
        &mut live,
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('0'),
            crossterm::event::KeyModifiers::NONE,
        ),
    );
    let s = screen(&mut live, 200, 50);
    assert!(s.contains("set by"), "{s}");
    assert!(s.contains("at the pace since"), "{s}");
    assert!(!s.contains("rehearsal-only"), "no secret on screen");

    // 5. Snapshots at a fixed instant (Wednesday 2 Jan 2030, noon UTC) so that the calendar
    // and every figure are the same on each run: the week-old pace is gone by then, so the
    // view says there is no ETA rather than invent one.
    let fixed = chrono::DateTime::parse_from_rfc3339("2030-01-02T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let mut app = App::new(data, th, true, fixed);
    handle_key(
        &mut app,
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('0'),
            crossterm::event::KeyModifiers::NONE,
        ),
    );
    insta::assert_snapshot!("program_factory_200x50", screen(&mut app, 200, 50));
    insta::assert_snapshot!("program_factory_80x24", screen(&mut app, 80, 24));
    // The Waves view of the same store: one-database waves folded, read-only hints.
    handle_key(
        &mut app,
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('1'),
            crossterm::event::KeyModifiers::NONE,
        ),
    );
    let s = screen(&mut app, 200, 50);
    assert!(s.contains("one-db waves"), "{s}");
    assert!(!s.contains("a approve"), "read-only offers no action:\n{s}");
    assert!(!s.contains("(a approves)"), "{s}");
    let folded = s.lines().find(|l| l.contains("one-db waves")).unwrap();
    assert!(folded.contains("folded"), "{folded}");
    // Snapshots with the columns this run's timing fills masked: the lags the emulator
    // happened to report, and the ETAs extrapolated from when the waves started.
    insta::assert_snapshot!("waves_factory_200x50", masked(&s));
    insta::assert_snapshot!("waves_factory_80x24", masked(&screen(&mut app, 80, 24)));

    // 6. The same figures for scripts.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
        .args(["--store", &cfg.store, "status", "--program", "--json"])
        .env_remove("WAVEDECK_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["progress"]["databases"], 2000);
    assert_eq!(v["progress"]["stages"]["hypercare"], w0.len());
    assert_eq!(v["progress"]["stages"]["failed"], 1);
    assert_eq!(v["progress"]["failures_24h"], 1);
    assert_eq!(v["pace"]["phases"][2]["done"], w0.len());
    assert!(v["pace"]["eta"].is_string(), "{}", v["pace"]);
    assert_eq!(v["alerts"], serde_json::json!([]));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
        .args(["--store", &cfg.store, "status", "--program"])
        .env_remove("WAVEDECK_STORE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("databases: 2000 ("), "{text}");
    assert!(text.contains("ETA: 20"), "{text}");
    assert!(
        text.contains(&format!(
            "1 in the last 24 h of {} databases that moved",
            w0.len() + w1.len() + w2.len()
        )),
        "{text}"
    );
}
