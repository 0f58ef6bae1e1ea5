//! Notifications (`notify:`) from the real engine to a real HTTP receiver on 127.0.0.1 that
//! dedupes by `Idempotency-Key`: retried with backoff through failures, posted again after a
//! kill -9 between the post and its mark, applied once each, given up when refused for good or
//! out of attempts (and the next one still delivered), and no secret anywhere.

mod common;

use common::receiver::Receiver;
use common::*;
use std::time::{Duration, Instant};
use wavedeck::config::Config;
use wavedeck::drs::DrsClient;
use wavedeck::lifecycle::Stage;
use wavedeck::notify::{EventClass, TargetConfig};
use wavedeck::rehearsal::drs_emulator::EmulatorHandle;
use wavedeck::store::event::Body;
use wavedeck::store::{kind, Action, Event, OutboxRow, Role, Store, Target};

const SPEED: f64 = 800.0;
/// In the URL's path, as a Slack or Teams webhook holds its token.
const URL_TOKEN: &str = "T0KEN-in-the-url-7f3a9c1e55";
const BEARER: &str = "bearer-s3cret-0b8d2e4471";

/// One target `ops` wanting `events`, its URL from `url` (a reference), its bearer token from
/// a file in `dir`; retries start at 50 ms.
fn with_target(cfg: &mut Config, dir: &std::path::Path, url: TargetUrl, events: Vec<EventClass>) {
    let token = dir.join("ops-token");
    std::fs::write(&token, format!("{BEARER}\n")).unwrap();
    let mut t = TargetConfig {
        name: "ops".into(),
        url: String::new(),
        url_env: String::new(),
        url_file: None,
        token_env: String::new(),
        token_file: Some(token),
        format: Default::default(),
        events,
    };
    match url {
        TargetUrl::File(u) => {
            let f = dir.join("ops-url");
            std::fs::write(&f, u).unwrap();
            t.url_file = Some(f);
        }
        TargetUrl::Env(name) => t.url_env = name.into(),
    }
    cfg.notify.targets = vec![t];
    cfg.notify.retry_base_s = 0.05;
    cfg.notify.retry_cap_s = 0.5;
    cfg.notify.poll_ms = 50;
}

enum TargetUrl {
    File(String),
    Env(&'static str),
}

async fn wait_outbox(
    store: &Store,
    what: &str,
    within: Duration,
    done: impl Fn(&[OutboxRow]) -> bool,
) -> Vec<OutboxRow> {
    let t0 = Instant::now();
    loop {
        let rows = store.outbox().await.unwrap();
        if done(&rows) {
            return rows;
        }
        assert!(t0.elapsed() < within, "outbox never {what}: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Neither the URL's token nor the bearer token is in `texts`.
fn assert_no_secret(texts: &[(String, String)]) {
    assert!(!texts.is_empty());
    for (what, text) in texts {
        for s in [URL_TOKEN, BEARER] {
            assert!(!text.contains(s), "a notify secret is in {what}");
        }
    }
}

/// The emulator for `base`, the client config and DRS client that talk to it, and the store with
/// db-00 registered: the set-up every engine test here starts from.
async fn emulated_db00(base: &Config) -> (EmulatorHandle, Config, DrsClient, Store) {
    let emu = wavedeck::rehearsal::drs_emulator::spawn(base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    register(&store, &[emulated_spec("db-00", 0.5)]).await;
    (emu, cfg, drs, store)
}

/// Wave 0 approved and started, db-00 driven to ready.
async fn ready_db00(store: &Store) {
    for a in [Action::ApproveWindow, Action::StartWave] {
        let c = command(store, Role::Operator, a, Target::Wave(0)).await;
        let (ok, why) = decided(store, c).await;
        assert!(ok, "{a:?}: {why:?}");
    }
    wait_for(store, "db-00 ready", Duration::from_secs(60), |s| {
        s.iter().any(|d| d.stage == Stage::Ready)
    })
    .await;
}

/// db-00's cutover asked until accepted: the lag may spike past the cutover limit at the
/// instant asked.
async fn ask_cutover_db00(store: &Store) {
    let t0 = Instant::now();
    loop {
        let c = command(
            store,
            Role::Operator,
            Action::Cutover,
            Target::Db("db-00".into()),
        )
        .await;
        let (ok, why) = decided(store, c).await;
        if ok {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "cutover refused: {why:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// db-00 ready, cut over and waited for in hypercare: the real engine's `cutover started` and
/// `cutover done`.
async fn cut_over_db00(store: &Store) {
    ready_db00(store).await;
    ask_cutover_db00(store).await;
    wait_for(store, "db-00 in hypercare", Duration::from_secs(60), |s| {
        s.iter().any(|d| d.stage == Stage::Hypercare)
    })
    .await;
}

/// A cutover through the real engine and emulator: its `cutover started` and `cutover done`
/// reach a receiver that refuses the first 3 posts; each is applied once, retried with the
/// same key, and marked sent with the attempts it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_three_times_gets_each_cutover_notification_once() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(3, false).await;
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::File(rx.url(&format!("/hook/{URL_TOKEN}"))),
        vec![EventClass::CutoverStarted, EventClass::CutoverDone],
    );
    let (emu, cfg, drs, store) = emulated_db00(&base).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    cut_over_db00(&store).await;
    let rows = wait_outbox(&store, "all sent", Duration::from_secs(30), |r| {
        r.len() == 2 && r.iter().all(|r| r.sent_at.is_some())
    })
    .await;
    engine.shutdown().await.unwrap();

    let events = all_events(&store).await;
    let stage_seqs: Vec<i64> = events
        .iter()
        .filter(|e| {
            e.kind == kind::DB_STAGE
                && (e.payload["to"] == "cutover" || e.payload["from"] == "cutover")
        })
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        stage_seqs,
        "one row per cutover stage event"
    );
    let applied = rx.applied();
    let texts: Vec<&str> = applied
        .iter()
        .map(|(_, b)| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "cutover started: db-00 (wave 0)",
            "cutover done: db-00 (wave 0) is in hypercare"
        ]
    );
    let keys: Vec<String> = rows
        .iter()
        .map(|r| format!("wavedeck-{}-ops", r.seq))
        .collect();
    assert_eq!(
        applied.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        keys
    );
    // Three refusals and two deliveries, every one with its notification's key and the token.
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 5, "{reqs:#?}");
    assert_eq!(reqs.iter().filter(|r| r.answered == 503).count(), 3);
    assert_eq!(rows.iter().map(|r| r.attempts).sum::<u32>(), 5, "{rows:#?}");
    for r in &reqs {
        assert!(keys.contains(r.key.as_ref().unwrap()), "{r:?}");
        assert_eq!(r.auth.as_deref(), Some(format!("Bearer {BEARER}").as_str()));
        assert_eq!(r.path, format!("/hook/{URL_TOKEN}"));
    }
    let bodies: Vec<String> = reqs.iter().map(|r| r.body.to_string()).collect();
    assert_no_secret(&[
        ("events".into(), format!("{events:?}")),
        ("outbox".into(), format!("{rows:?}")),
        ("bodies".into(), bodies.join("\n")),
    ]);
    emu.shutdown().await;
}

/// The real `wavedeck run` is killed with SIGKILL while its post of a `lease_lost` alert is
/// held by the receiver (applied there, not yet answered, so not marked sent). The next
/// engine posts it again with the same key: the receiver applies it once. The URL comes from
/// an environment variable; at trace level neither secret is in the logs or the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_between_post_and_mark_posts_again_and_the_receiver_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, true).await;
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::Env("WAVEDECK_TEST_HOOK_URL"),
        vec![EventClass::Alerts],
    );
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&base);
    let cfg_path = dir.path().join("wavedeck.yaml");
    std::fs::write(&cfg_path, serde_yaml::to_string(&cfg).unwrap()).unwrap();
    let out = dir.path().join("processes.log");
    let store = Store::open(&cfg.store).await.unwrap();
    register(&store, &[emulated_spec("db-00", 0.5)]).await;
    // A lease its holder never released: the engine that takes it raises `lease_lost`.
    assert!(store
        .try_acquire_lease("otherhost:4242:deadbeef", Duration::from_millis(300))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let url = rx.url(&format!("/hook/{URL_TOKEN}"));
    let env = [
        ("WAVEDECK_TEST_HOOK_URL", url.as_str()),
        ("RUST_LOG", "trace"),
    ];
    let mut engine = Reap(wavedeck_env(&cfg_path, &["run"], &out, &env));
    let first = rx.wait_applied(1, Duration::from_secs(30)).await[0]
        .0
        .clone();
    // Held at the receiver: posted and applied, not marked.
    let rows = store.outbox().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(format!("wavedeck-{}-ops", rows[0].seq), first);
    assert!(rows[0].sent_at.is_none());
    signal(&engine.0, libc::SIGKILL);
    engine.0.wait().unwrap();
    assert!(store.outbox().await.unwrap()[0].sent_at.is_none());

    // The next engine takes the dead one's lease at once (its lease_lost is raised again if
    // the first had cleared) and posts what is unsent.
    let engine = Reap(wavedeck_env(&cfg_path, &["run"], &out, &env));
    let rows = wait_outbox(&store, "all sent", Duration::from_secs(30), |r| {
        r.iter().all(|r| r.sent_at.is_some())
    })
    .await;
    stop_engine(&store, engine).await;
    let rows_after = store.outbox().await.unwrap();
    let raised: Vec<Event> = all_events(&store)
        .await
        .into_iter()
        .filter(|e| e.kind == kind::ALERT_RAISED)
        .collect();
    assert_eq!(
        rows_after.iter().map(|r| r.seq).collect::<Vec<_>>(),
        raised.iter().map(|e| e.seq).collect::<Vec<_>>(),
        "one outbox row per alert raised, none lost: {rows_after:#?}"
    );
    assert!(rows.len() <= rows_after.len());
    let reqs = rx.requests();
    assert!(
        reqs.iter()
            .filter(|r| r.key.as_deref() == Some(first.as_str()))
            .count()
            >= 2,
        "the held notification was posted again: {reqs:#?}"
    );
    // Each delivered notification applied once, in event order, under its own key (the
    // receiver's dedupe turns the repeat of `first` into no effect).
    let applied = rx.applied();
    let sent: Vec<String> = rows_after
        .iter()
        .filter(|r| r.sent_at.is_some())
        .map(|r| format!("wavedeck-{}-ops", r.seq))
        .collect();
    assert_eq!(
        applied.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        sent,
        "{applied:#?}"
    );
    assert!(
        applied
            .iter()
            .all(|(_, b)| b["payload"]["rule"] == "lease_lost"),
        "{applied:#?}"
    );

    // No secret in what wavedeck wrote: logs (trace), output, events, outbox, bodies.
    let mut texts = vec![
        (
            "engine output".to_string(),
            std::fs::read_to_string(&out).unwrap(),
        ),
        ("events".into(), format!("{:?}", all_events(&store).await)),
        ("outbox".into(), format!("{rows_after:?}")),
        (
            "bodies".into(),
            reqs.iter()
                .map(|r| r.body.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ];
    let mut logs = 0;
    for e in std::fs::read_dir(&cfg.log_dir).unwrap().flatten() {
        let t = std::fs::read_to_string(e.path()).unwrap();
        assert!(t.contains("notification delivered"), "{t}");
        logs += t.matches("TRACE").count();
        texts.push((e.path().display().to_string(), t));
    }
    assert!(logs > 0, "no trace-level log line was written");
    assert_no_secret(&texts);
    emu.shutdown().await;
}

/// A target nobody listens on: its post fails at the transport, is retried with growing
/// delays, and the recorded error names neither the URL nor its token; meanwhile the engine
/// decides commands as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_target_is_retried_and_does_not_hold_up_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}/hook/{URL_TOKEN}", free_port());
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::File(dead),
        vec![EventClass::Alerts],
    );
    let (emu, cfg, drs, store) = emulated_db00(&base).await;
    assert!(store
        .try_acquire_lease("otherhost:4242:deadbeef", Duration::from_millis(300))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    let rows = wait_outbox(&store, "retried", Duration::from_secs(30), |r| {
        r.len() == 1 && r[0].attempts >= 3
    })
    .await;
    // Decided while the target is dead (`decided` allows 20 s).
    let c = command(
        &store,
        Role::Operator,
        Action::ApproveWindow,
        Target::Wave(0),
    )
    .await;
    assert!(decided(&store, c).await.0);
    assert!(store.outbox().await.unwrap()[0].sent_at.is_none());
    engine.shutdown().await.unwrap();
    let row = &rows[0];
    assert!(row.sent_at.is_none());
    let why = row.last_error.as_deref().unwrap();
    eprintln!("recorded error after {} attempts: {why}", row.attempts);
    assert!(why.contains("onnect") && !why.contains("/hook"), "{why}");
    assert_no_secret(&[("outbox".into(), format!("{rows:?}"))]);
    emu.shutdown().await;
}

/// Two targets of one cutover: `ops` answers its first post 400 (refused for good: given up
/// at once), `flaky` its first two 503 with `max_attempts: 2` (given up after two). Each gives
/// up `cutover started` with a `notify.given_up` event about db-00, and still gets `cutover
/// done`: a given-up notification no longer holds its target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_refused_for_good_or_out_of_attempts_is_given_up_and_the_next_goes_out() {
    let dir = tempfile::tempdir().unwrap();
    let ops = Receiver::refusing(1, 400).await;
    let flaky = Receiver::refusing(2, 503).await;
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::File(ops.url(&format!("/hook/{URL_TOKEN}"))),
        vec![EventClass::CutoverStarted, EventClass::CutoverDone],
    );
    let mut second = base.notify.targets[0].clone();
    second.name = "flaky".into();
    let f = dir.path().join("flaky-url");
    std::fs::write(&f, flaky.url(&format!("/hook/{URL_TOKEN}"))).unwrap();
    second.url_file = Some(f);
    base.notify.targets.push(second);
    base.notify.max_attempts = 2;
    let (emu, cfg, drs, store) = emulated_db00(&base).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    cut_over_db00(&store).await;
    let rows = wait_outbox(&store, "all settled", Duration::from_secs(30), |r| {
        r.len() == 4
            && r.iter()
                .all(|r| r.sent_at.is_some() || r.given_up_at.is_some())
    })
    .await;
    engine.shutdown().await.unwrap();

    let events = all_events(&store).await;
    let seq_to = |to: &str| {
        events
            .iter()
            .find(|e| e.kind == kind::DB_STAGE && e.payload["to"] == to)
            .unwrap()
            .seq
    };
    let (started, done) = (seq_to("cutover"), seq_to("hypercare"));
    let row = |seq: i64, target: &str| {
        rows.iter()
            .find(|r| r.seq == seq && r.target == target)
            .unwrap_or_else(|| panic!("no outbox row {seq} {target}: {rows:#?}"))
    };
    for (target, attempts) in [("ops", 1), ("flaky", 2)] {
        let r = row(started, target);
        assert!(r.given_up_at.is_some() && r.sent_at.is_none(), "{r:?}");
        assert_eq!(r.attempts, attempts, "{r:?}");
        let r = row(done, target);
        assert!(r.sent_at.is_some() && r.given_up_at.is_none(), "{r:?}");
    }
    // Each receiver applied `cutover done` only, after the posts it refused.
    for (rx, refused) in [(&ops, 1), (&flaky, 2)] {
        let texts: Vec<String> = rx
            .applied()
            .iter()
            .map(|(_, b)| b["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(texts, ["cutover done: db-00 (wave 0) is in hypercare"]);
        assert_eq!(rx.requests().len(), refused + 1, "{:#?}", rx.requests());
    }
    // One event per notification given up, about db-00 (so its evidence and Events view
    // have it), naming the target, the event and why.
    let given: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == kind::NOTIFY_GIVEN_UP)
        .collect();
    let reasons: Vec<(String, i64, u32, String)> = given
        .iter()
        .map(|e| match e.body() {
            Body::NotifyGivenUp(g) => (g.target, g.about_seq, g.attempts, g.reason),
            b => panic!("{b:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "ops".into(),
                started,
                1,
                "HTTP 400: refused for good".into()
            ),
            (
                "flaky".into(),
                started,
                2,
                "HTTP 503 after 2 attempt(s) (notify.max_attempts 2)".into()
            ),
        ]
    );
    assert!(given
        .iter()
        .all(|e| e.db_id.as_deref() == Some("db-00") && e.wave == Some(0)));
    let of_db = store.events_for_db("db-00").await.unwrap();
    assert_eq!(
        of_db
            .iter()
            .filter(|e| e.kind == kind::NOTIFY_GIVEN_UP)
            .count(),
        2
    );
    let shown = wavedeck::tui::data::Shown::of(given[0].clone());
    assert_eq!(shown.severity, wavedeck::tui::data::Severity::Warn);
    assert!(
        shown
            .text
            .contains("notification to ops given up after 1 attempt(s)"),
        "{}",
        shown.text
    );
    assert_no_secret(&[
        ("events".into(), format!("{events:?}")),
        ("outbox".into(), format!("{rows:?}")),
    ]);
    emu.shutdown().await;
}

/// Wave 0's two members aborted by the operator, one after the other, while the real engine
/// runs on the emulator: once the second is aborted and its DRS job cleaned up, the engine
/// writes one `wave.done` (2 aborted, the wave's duration) and the target that asked for
/// `wave_done` gets it, once; a restarted engine replays the store and writes no second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_whose_members_all_ended_is_done_once_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, false).await;
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::File(rx.url(&format!("/hook/{URL_TOKEN}"))),
        vec![EventClass::WaveDone],
    );
    let (emu, cfg, drs, store) = emulated_db00(&base).await;
    register(&store, &[emulated_spec("db-01", 0.5)]).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    let c = command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&store, c).await.0);
    wait_for(&store, "both loading", Duration::from_secs(60), |s| {
        s.iter().all(|d| d.stage >= Stage::FullLoad)
    })
    .await;
    let abort = |db: &'static str| {
        let store = store.clone();
        async move {
            let c = command(&store, Role::Operator, Action::Abort, Target::Db(db.into())).await;
            let (ok, why) = decided(&store, c).await;
            assert!(ok, "abort {db}: {why:?}");
        }
    };
    abort("db-00").await;
    // db-00's job is terminated and deleted meanwhile; db-01 still runs: not done.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        let events = all_events(&store).await;
        assert!(
            !events.iter().any(|e| e.kind == kind::WAVE_DONE),
            "done with db-01 still running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    abort("db-01").await;
    let applied = rx.wait_applied(1, Duration::from_secs(30)).await;
    engine.shutdown().await.unwrap();
    // A restart: the engine replays the log, the wave is still done.
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine.shutdown().await.unwrap();

    let events = all_events(&store).await;
    let done: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == kind::WAVE_DONE)
        .collect();
    assert_eq!(done.len(), 1, "{done:#?}");
    let (e, started) = (
        done[0],
        events
            .iter()
            .find(|e| e.kind == kind::WAVE_STARTED)
            .unwrap(),
    );
    assert_eq!((e.wave, e.db_id.as_deref()), (Some(0), None));
    let Body::WaveDone(d) = e.body() else {
        panic!("{e:?}")
    };
    assert_eq!(
        (d.wave, d.members, d.aborted, d.completed, d.rolled_back),
        (0, 2, 2, 0, 0)
    );
    let last_abort = events
        .iter()
        .filter(|e| e.kind == kind::DB_STAGE && e.payload["to"] == "aborted")
        .map(|e| e.time)
        .max()
        .unwrap();
    // The engine's clock when it decided, a moment before the store stamped the event.
    let near = |a: chrono::DateTime<chrono::Utc>, b: chrono::DateTime<chrono::Utc>| {
        (a - b).num_milliseconds().abs() < 1000
    };
    assert!(near(d.started_at.unwrap(), started.time), "{d:?}");
    assert!(near(d.ended_at.unwrap(), last_abort), "{d:?}");
    assert!(d.duration_s.unwrap() > 0.0, "{d:?}");
    // The store's wave state says so, as folded on append and from seq 1 alike.
    let end = wavedeck::store::WaveEnd {
        at: e.time,
        members: 2,
        completed: 0,
        aborted: 2,
        rolled_back: 0,
    };
    let w0 = |ws: Vec<wavedeck::store::WaveState>| ws.into_iter().find(|w| w.wave == 0).unwrap();
    let folded = w0(store.wave_states().await.unwrap());
    assert_eq!(folded.done.as_ref(), Some(&end), "{folded:?}");
    assert_eq!(folded.status().as_str(), "done");
    store.rebuild_state().await.unwrap();
    assert_eq!(w0(store.wave_states().await.unwrap()), folded);
    // After the last member's job was deleted: nothing was left to do.
    let deleted = events
        .iter()
        .filter(|x| x.kind == kind::STEP_OUTCOME && x.payload["step"] == "delete_job")
        .count();
    assert_eq!(deleted, 2, "both jobs deleted");
    let rows = store.outbox().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert!(rows[0].seq == e.seq && rows[0].sent_at.is_some());
    assert_eq!(rx.requests().len(), 1, "{:#?}", rx.requests());
    assert_eq!(applied[0].1["event"], "wave.done");
    assert_eq!(
        applied[0].1["text"].as_str().unwrap(),
        format!(
            "wave 0 done: 2 databases: 2 aborted, in {}",
            wavedeck::tui::fmt::dur_long(d.duration_s.unwrap().round() as i64)
        )
    );
    let shown = wavedeck::tui::data::Shown::of(e.clone());
    assert!(
        shown.text.starts_with("wave done: 2 databases: 2 aborted"),
        "{}",
        shown.text
    );
    emu.shutdown().await;
}

/// A cutover that fails for real: the DNS provider's file is unreadable when the engine comes
/// to switch db-00's record, so the step fails until its retries run out and db-00 fails in
/// cutover; the operator rolls it back, the engine turns the source's writes back on, and the
/// wave (db-00 alone) is done. The target asking for `cutover_failed`, `rollback` and
/// `wave_done` gets each once, in that order, from the real engine's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cutover_and_its_rollback_are_each_notified_once() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(0, false).await;
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::File(rx.url(&format!("/hook/{URL_TOKEN}"))),
        vec![
            EventClass::CutoverFailed,
            EventClass::Rollback,
            EventClass::WaveDone,
        ],
    );
    let (emu, cfg, drs, store) = emulated_db00(&base).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    ready_db00(&store).await;
    std::fs::write(&cfg.cutover.dns_file, "records: [not, a, map\n").unwrap();
    ask_cutover_db00(&store).await;
    wait_for(
        &store,
        "db-00 failed in cutover",
        Duration::from_secs(60),
        |s| {
            s.iter()
                .any(|d| d.stage == Stage::Failed && d.held_stage == Some(Stage::Cutover))
        },
    )
    .await;
    let c = command(
        &store,
        Role::Operator,
        Action::Rollback,
        Target::Db("db-00".into()),
    )
    .await;
    let (ok, why) = decided(&store, c).await;
    assert!(ok, "rollback: {why:?}");
    let applied = rx.wait_applied(3, Duration::from_secs(30)).await;
    engine.shutdown().await.unwrap();

    let events = all_events(&store).await;
    let stage = |from: &str, to: &str| {
        let found: Vec<&Event> = events
            .iter()
            .filter(|e| {
                e.kind == kind::DB_STAGE && e.payload["from"] == from && e.payload["to"] == to
            })
            .collect();
        assert_eq!(found.len(), 1, "{from} -> {to}: {found:#?}");
        found[0].seq
    };
    let (failed, rolled) = (stage("cutover", "failed"), stage("failed", "rolled_back"));
    let done: Vec<i64> = events
        .iter()
        .filter(|e| e.kind == kind::WAVE_DONE)
        .map(|e| e.seq)
        .collect();
    assert_eq!(done.len(), 1);
    let dns = outcomes(&events, "db-00", "dns_switch");
    assert!(
        !dns.is_empty() && dns.iter().all(|e| e.payload["ok"] == false),
        "the DNS step failed each time: {dns:#?}"
    );
    assert!(
        outcomes(&events, "db-00", "source_writes_on")
            .iter()
            .any(|e| e.payload["ok"] == true),
        "the rollback turned the source's writes back on"
    );
    let keys: Vec<String> = [failed, rolled, done[0]]
        .iter()
        .map(|s| format!("wavedeck-{s}-ops"))
        .collect();
    assert_eq!(
        applied.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        keys,
        "{applied:#?}"
    );
    assert_eq!(
        rx.requests().len(),
        3,
        "each posted once: {:#?}",
        rx.requests()
    );
    let text = |i: usize| applied[i].1["text"].as_str().unwrap().to_string();
    assert!(
        text(0).starts_with("cutover FAILED: db-00 (wave 0): ") && text(0).contains("DNS switch"),
        "{}",
        text(0)
    );
    assert!(
        text(1).starts_with("rolled back: db-00 (wave 0)"),
        "{}",
        text(1)
    );
    assert!(
        text(2).starts_with("wave 0 done: 1 database: 1 rolled back"),
        "{}",
        text(2)
    );
    let rows = store.outbox().await.unwrap();
    assert!(
        rows.len() == 3 && rows.iter().all(|r| r.sent_at.is_some()),
        "{rows:#?}"
    );
    emu.shutdown().await;
}

/// The sender is woken by the append that wrote a notification and sleeps only until its
/// retry is due, not until its next poll: with `poll_ms` at 60 s, a `wave.done` (db-00 aborted
/// while the engine runs, well after the sender's first look) refused once with 503 is
/// delivered on its retry within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_goes_out_at_once_and_its_retry_when_due_not_at_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(1, false).await;
    let mut base = engine_config(dir.path(), SPEED);
    with_target(
        &mut base,
        dir.path(),
        TargetUrl::File(rx.url("/hook")),
        vec![EventClass::WaveDone],
    );
    base.notify.poll_ms = 60_000;
    let (emu, cfg, drs, store) = emulated_db00(&base).await;
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    // The sender's first look (an empty outbox) is long past.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = command(
        &store,
        Role::Operator,
        Action::Abort,
        Target::Db("db-00".into()),
    )
    .await;
    let (ok, why) = decided(&store, c).await;
    assert!(ok, "abort: {why:?}");
    let t0 = Instant::now();
    let applied = rx.wait_applied(1, Duration::from_secs(10)).await;
    let took = t0.elapsed();
    engine.shutdown().await.unwrap();
    eprintln!("delivered {took:?} after the abort was decided (poll_ms 60000)");
    assert_eq!(applied[0].1["event"], "wave.done");
    let reqs = rx.requests();
    assert_eq!(
        reqs.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [503, 200],
        "refused once, then delivered on the retry: {reqs:#?}"
    );
    emu.shutdown().await;
}
