//! The engine's refusal as the cockpit shows it. The real engine runs against the DRS emulator
//! and a real SQLite store; an operator's cutover goes through the cockpit's own dialog and
//! submitter, the cockpit's feed brings the decision back, and the dialog must list the guards
//! the engine evaluated (not the preview's), each on its own line, the failing ones marked.
//!
//! The race it stands for: the operator opens the dialog while the window is open and submits
//! as it closes. The cockpit's clock is set inside the database's window; the engine's real
//! clock is outside it.

mod common;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use common::*;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Instant;
use tokio::sync::{mpsc, watch};
use wavedeck::config::Config;
use wavedeck::inventory::{DatabaseSpec, Endpoint, Engine};
use wavedeck::lifecycle::Stage;
use wavedeck::secret::SecretRef;
use wavedeck::store::event::Body;
use wavedeck::store::{Action, Role, Store, Target};
use wavedeck::tui::app::{handle_key, App, DialogStatus, Intent};
use wavedeck::tui::data::Data;
use wavedeck::tui::feed;
use wavedeck::tui::guards::Limits;
use wavedeck::tui::term::Msg;
use wavedeck::tui::theme::Theme;
use wavedeck::tui::views::render;

const SPEED: f64 = 800.0;

/// 01:30 UTC three days from now: inside the window below, which is closed all of today.
fn inside_window() -> DateTime<Utc> {
    let d = (Utc::now() + Duration::days(3)).date_naive();
    Utc.with_ymd_and_hms(d.year(), d.month(), d.day(), 1, 30, 0)
        .unwrap()
}

fn spec(id: &str) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: id.replace('-', "_"),
        user: "migrator".into(),
        // The emulator connects to nothing; DRS's connection test needs a password.
        password: SecretRef::File("/dev/null".into()),
    };
    DatabaseSpec::new(id, Engine::Postgres, ep("10.0.0.1"), ep("10.1.0.1"))
        .with_version("15")
        .with_size_gb(0.5)
        .with_owner("team-a")
        .with_window(format!("{} 01:00-02:00 UTC", inside_window().format("%a")))
        .with_wave(Some(0))
        // The emulator's lag may spike; a generous limit of its own keeps the lag guard out
        // of this test's way (on both sides, by the same rule).
        .with_max_cutover_lag_s(Some(3600.0))
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    app.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Hand the cockpit what the feed sent until `done` holds.
async fn pump(
    app: &mut App,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let t0 = Instant::now();
    while !done(app) {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(30),
            "the cockpit never saw {what}"
        );
        match tokio::time::timeout(std::time::Duration::from_millis(500), rx.recv()).await {
            Ok(Some(Msg::Feed(u))) => {
                app.on_feed(*u);
            }
            Ok(Some(Msg::Submitted(r))) => app.on_submitted(r),
            Ok(None) => panic!("the feed stopped"),
            Err(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialog_lists_the_guards_the_engine_refused_with() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = wavedeck::rehearsal::demo::demo_config(
        Config {
            store: format!("sqlite://{}", dir.path().join("store.db").display()),
            ..Config::default()
        },
        dir.path(),
        SPEED,
    );
    // The preview looks three days ahead: a validation that old must still count as fresh.
    cfg.thresholds.validation_max_age_min = 5 * 24 * 60;
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&cfg);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    let db = "pay-ledger-01";
    store
        .register_inventory(&[spec(db)], "test", false)
        .await
        .unwrap();
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs)
        .await
        .unwrap();
    for action in [Action::ApproveWindow, Action::StartWave] {
        let id = command(&store, Role::Operator, action, Target::Wave(0)).await;
        let (ok, why) = decided(&store, id).await;
        assert!(ok, "{action:?}: {why:?}");
    }
    wait_for(&store, "ready", std::time::Duration::from_secs(90), |s| {
        s.iter().all(|d| d.stage == Stage::Ready)
    })
    .await;

    // The cockpit, wired as `wavedeck tui` wires it: the store's feed and submitter.
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let (_detail_tx, detail_rx) = watch::channel(None);
    let feed_task = tokio::spawn(feed::run(store.clone(), tx.clone(), detail_rx));
    let submit = feed::submitter(store.clone(), tx.clone(), "alice".into(), Role::Operator);
    let th = Theme::load("dark", false, false).unwrap();
    let mut app = App::new(Data::default(), th, false, inside_window());
    app.limits = Limits::from_config(&cfg);
    pump(&mut app, &mut rx, "the database at ready", |a| {
        a.data
            .db(db)
            .is_some_and(|d| d.stage == Stage::Ready && d.validation.is_some())
    })
    .await;

    app.open_dialog(Action::Cutover, Target::Db(db.into()));
    let preview = app.dialog.as_ref().unwrap().guards.clone();
    assert!(
        preview.iter().all(|g| g.ok),
        "the preview, inside the window, lets it through: {preview:#?}"
    );
    for c in db.chars() {
        handle_key(
            &mut app,
            crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)),
        );
    }
    let intent = handle_key(
        &mut app,
        crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Enter),
    );
    let Some(Intent::Submit {
        action,
        target,
        args,
    }) = intent
    else {
        panic!("the dialog did not submit: {intent:?}");
    };
    submit(action, target, args);
    pump(&mut app, &mut rx, "the engine's decision", |a| {
        matches!(
            a.dialog.as_ref().map(|d| &d.status),
            Some(DialogStatus::Rejected(..) | DialogStatus::Accepted(..))
        )
    })
    .await;

    // What the engine recorded: every guard it evaluated, the window's among the failing.
    let events = all_events(&store).await;
    let refused = events
        .iter()
        .find_map(|e| match e.body() {
            Body::CommandRejected(c) => Some(c),
            _ => None,
        })
        .expect("the engine refused the cutover");
    let failing: Vec<&str> = refused
        .guards
        .iter()
        .filter(|g| !g.ok)
        .map(|g| g.sentence.as_str())
        .collect();
    assert!(
        failing.iter().any(|s| s.starts_with("window opens in")),
        "{:#?}",
        refused.guards
    );
    let d = app.dialog.as_ref().unwrap();
    assert!(matches!(d.status, DialogStatus::Rejected(..)), "{d:?}");
    assert_eq!(
        d.guards, refused.guards,
        "the engine's list replaces the preview"
    );

    // On screen: one line per guard, its mark first; the failing ones marked as failing.
    let s = screen(&mut app, 120, 40);
    let lines: Vec<&str> = s.lines().collect();
    for g in &refused.guards {
        let mark = if g.ok { "✓" } else { "✗" };
        let want = format!("{mark} {}", g.sentence);
        assert!(
            lines.iter().any(|l| l.contains(&want)),
            "no line {want:?} in:\n{s}"
        );
    }
    let crossed = lines
        .iter()
        .filter(|l| l.contains("│✗ ") && !l.contains("rejected"))
        .count();
    assert_eq!(crossed, failing.len(), "one line per failing guard:\n{s}");
    assert!(
        s.contains("rejected: cutover blocked: window opens in"),
        "{s}"
    );

    feed_task.abort();
    engine.shutdown().await.unwrap();
    emu.shutdown().await;
}
