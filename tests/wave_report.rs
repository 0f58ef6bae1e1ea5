//! The pilot wave's report from a real store: the bundled pilot inventory worked by the real
//! engine against the DRS emulator (loaded, validated, cut over), then `wavedeck report` run
//! as a person would, and the HTML opened in headless Chromium (Debian's `chromium` package;
//! `scripts/test` installs it): the charts must be in the page the browser built, and a
//! screenshot is taken to look at (REPORT_KEEP=/dir keeps it and the report).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wavedeck::config::{ChecksMode, Config};
use wavedeck::lifecycle::Stage;
use wavedeck::store::{kind, Action, Role, Store, Target};

const SPEED: f64 = 400.0;

fn config(dir: &Path) -> Config {
    let mut cfg = Config {
        store: format!("sqlite://{}", dir.join("store.db").display()),
        log_dir: dir.join("logs"),
        ..Config::default()
    };
    cfg.emulator.speed = SPEED;
    cfg.engine.checks = ChecksMode::Drs;
    cfg.engine.time_scale = SPEED;
    cfg.engine.source_drain = wavedeck::config::SourceDrain::Emulator;
    cfg.engine.retry_base_s = 2.0;
    cfg.engine.lag_stable_s = 10.0;
    cfg.cutover.dns_provider = wavedeck::config::DnsProvider::File;
    cfg.cutover.dns_file = dir.join("dns.yaml");
    cfg
}

fn chromium() -> PathBuf {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return c.into();
        }
    }
    panic!("headless Chromium is needed to test the wave report: apt-get install -y chromium (scripts/test installs it)");
}

fn headless(args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pilot_wave_report_renders_its_charts_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let base = config(dir.path());
    let specs =
        wavedeck::inventory::load::load_files(&[PathBuf::from("inventory/pilot.yaml")]).unwrap();
    for s in &specs {
        for ep in [&s.source, &s.target] {
            if let wavedeck::secret::SecretRef::Env(var) = &ep.password {
                std::env::set_var(var, "rehearsal-only");
            }
        }
    }
    let emu = wavedeck::rehearsal::drs_emulator::spawn(&base, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cfg = emu.client_config(&base);
    let drs = emu.client(&cfg).unwrap();
    let store = Store::open(&cfg.store).await.unwrap();
    store
        .register_inventory(&specs, "init", false)
        .await
        .unwrap();
    let ids: Vec<String> = specs.iter().map(|s| s.db_id.clone()).collect();

    // The real engine works the pilot wave to ready, then cuts it over.
    let engine = wavedeck::engine::spawn(cfg.clone(), store.clone(), drs.clone())
        .await
        .unwrap();
    let id = command(&store, Role::Operator, Action::StartWave, Target::Wave(0)).await;
    assert!(decided(&store, id).await.0);
    wait_for(&store, "pilot ready", Duration::from_secs(240), |s| {
        s.iter().all(|d| d.stage == Stage::Ready)
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
    for _ in 0..20 {
        let id = command(&store, Role::Operator, Action::Cutover, Target::Wave(0)).await;
        decided(&store, id).await;
        let s = store.db_states().await.unwrap();
        if !s.iter().any(|d| d.stage == Stage::Ready) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    wait_for(
        &store,
        "pilot in hypercare",
        Duration::from_secs(240),
        |s| s.iter().all(|d| d.stage == Stage::Hypercare),
    )
    .await;
    engine.shutdown().await.unwrap();
    let events = all_events(&store).await;
    let raised = events
        .iter()
        .filter(|e| e.kind == kind::ALERT_RAISED && e.db_id.is_some())
        .count();

    // `wavedeck report`, both formats.
    let out = dir.path().join("report");
    for format in ["html", "md"] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
            .args([
                "--store", &cfg.store, "report", "--wave", "0", "--format", format, "--out",
            ])
            .arg(&out)
            .env_remove("WAVEDECK_STORE")
            .env_remove("WAVEDECK_CONFIG")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let html_path = out.join("wave-0-report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let md = std::fs::read_to_string(out.join("wave-0-report.md")).unwrap();
    for id in &ids {
        assert!(
            html.contains(id.as_str()) && md.contains(id.as_str()),
            "{id} missing"
        );
    }
    assert!(html.contains("8 database(s): 8 hypercare."), "{html}");
    assert!(html.contains(&format!("{raised} alert(s) raised, 0 rollback(s).")));
    // Every member went through cutover: each has a write gap, none is "-".
    let r = wavedeck::report::build(0, &events, chrono::Utc::now());
    assert_eq!(r.dbs.len(), 8);
    assert!(r.dbs.iter().all(|d| d.write_gap_s.is_some_and(|g| g > 0.0)));
    assert!(r
        .dbs
        .iter()
        .all(|d| d.validation.as_ref().is_some_and(|v| v.0)));
    assert_eq!(
        r.lag_at_cutover.len(),
        8,
        "a lag line per database cut over"
    );
    assert_eq!(
        r.throughput.len(),
        8,
        "a throughput line per database loaded"
    );
    for stem in ["burn-down", "lag-at-cutover", "throughput"] {
        assert!(
            out.join(format!("wave-0-{stem}.svg")).exists(),
            "{stem}.svg"
        );
    }
    for loads in ["src=", "<link", "<script", "url("] {
        assert!(!html.contains(loads), "the HTML loads nothing ({loads})");
    }
    assert!(!html.contains("rehearsal-only"), "a password in the report");

    // The page as Chromium builds it: three charts, each with its drawn lines.
    let dom = headless(&["--dump-dom", &format!("file://{}", html_path.display())]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let svgs: Vec<&str> = dom.split("<svg").skip(1).collect();
    assert_eq!(svgs.len(), 3, "three charts in the page");
    for s in &svgs {
        let body = s.split("</svg>").next().unwrap();
        assert!(
            body.contains("<polyline"),
            "a chart without a line: {body:.300}"
        );
    }
    let png = dir.path().join("report.png");
    headless(&[
        "--window-size=1280,2200",
        &format!("--screenshot={}", png.display()),
        &format!("file://{}", html_path.display()),
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG screenshot");
    assert!(
        bytes.len() > 20_000,
        "a screenshot of a drawn page, {} bytes",
        bytes.len()
    );
    if let Some(keep) = std::env::var_os("REPORT_KEEP") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&png, keep.join("wave-0-report.png")).unwrap();
        for f in std::fs::read_dir(&out).unwrap().flatten() {
            std::fs::copy(f.path(), keep.join(f.file_name())).unwrap();
        }
    }
}
