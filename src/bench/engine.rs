//! `wavedeck bench engine`: an emulated factory run end to end with the real engine, store and
//! DRS client against the emulator (time compressed), then the cutover of one whole wave.
//!
//! The emulator runs on its own threads (`wd-emu*`) so its CPU can be told apart: the engine's
//! CPU is the process's minus the emulator's (the bench's own polling of the store, a few
//! queries per second, is counted with the engine).

use crate::config::{ChecksMode, Config};
use crate::lifecycle::Stage;
use crate::store::{kind, Action, NewCommand, Role, Store, Target};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Example:\n  wavedeck bench engine                     # 2000 databases, 4 waves\n  wavedeck bench engine --dbs 200 --speed 300"
)]
pub struct EngineBenchArgs {
    /// Databases in the emulated factory (generated inventory).
    #[arg(long, default_value_t = 2000)]
    pub dbs: usize,
    /// Waves they are spread over; wave 0 is cut over at the end.
    #[arg(long, default_value_t = 4)]
    pub waves: u32,
    /// Emulator speed factor (emulated seconds per real second).
    #[arg(long, default_value_t = 600.0)]
    pub speed: f64,
    /// Engine time scale: poll intervals and waits are divided by this. Lower than the speed
    /// means sparser polls in emulated time (fewer calls, slightly later transitions).
    #[arg(long, default_value_t = 60.0)]
    pub time_scale: f64,
    /// Largest database size in GB (the generator's sizes are capped to keep the run short).
    #[arg(long, default_value_t = 500.0)]
    pub max_size_gb: f64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_s: u64,
    /// `on`: alert rules evaluated (the defaults) and `/metrics` served on loopback and
    /// scraped every 15 s as Prometheus would; `off`: neither. Run both to see what the
    /// signals cost (issue #18 aims at under 10% more CPU per database per stage).
    #[arg(long, value_enum, default_value_t = Signals::On)]
    pub signals: Signals,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signals {
    On,
    Off,
}

/// Scrape `/metrics` every `every` until stopped, as a Prometheus server would; returns how
/// many scrapes answered 200 (so a dead endpoint shows in the figures, not as a cheap run).
fn scrape_loop(
    addr: std::net::SocketAddr,
    every: Duration,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<u64>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let url = format!("http://{addr}/metrics");
        let mut ok = 0u64;
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status().is_success() && r.bytes().await.is_ok() {
                    ok += 1;
                }
            }
            tokio::select! {
                _ = &mut rx => return ok,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
    (tx, task)
}

/// CPU time (user + system) of this process's threads, split by whether the thread name starts
/// with `prefix`: (matching, all).
fn thread_cpu_split(prefix: &str) -> (Duration, Duration) {
    let tick = 100.0; // USER_HZ on Linux
    let mut matching = 0.0;
    let mut all = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    for t in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ... utime stime" — comm may hold spaces: split after the last ')'.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat[..close].split_once('(').map(|x| x.1).unwrap_or("");
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let cpu = fields
            .get(11)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            + fields
                .get(12)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
        all += cpu;
        if comm.starts_with(prefix) {
            matching += cpu;
        }
    }
    (
        Duration::from_secs_f64(matching / tick),
        Duration::from_secs_f64(all / tick),
    )
}

/// CPU of the whole process, including threads that already ended.
fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::new(
            t.tv_sec.max(0) as u64,
            (t.tv_usec.clamp(0, 999_999) * 1000) as u32,
        )
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn vm_hwm_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn submit(store: &Store, action: Action, target: Target) -> anyhow::Result<i64> {
    Ok(store
        .submit_command(&NewCommand {
            who: "bench".into(),
            role: Role::Operator,
            action,
            target,
            args: serde_json::Value::Null,
        })
        .await?
        .id)
}

pub async fn run(args: EngineBenchArgs, base: Config) -> anyhow::Result<ExitCode> {
    if args.dbs == 0
        || args.waves == 0
        || args.speed.is_nan()
        || args.speed <= 0.0
        || args.time_scale.is_nan()
        || args.time_scale <= 0.0
    {
        anyhow::bail!("--dbs, --waves, --speed and --time-scale must be positive");
    }
    let dir = tempfile_dir()?;
    let mut cfg = base;
    cfg.store = format!("sqlite://{}", dir.join("bench.db").display());
    cfg.log_dir = dir.join("logs");
    cfg.emulator.speed = args.speed;
    cfg.emulator.quota = args.dbs as u32 + 10;
    cfg.emulator.faults_file = None;
    cfg.emulator.rate_limit_rps = 0.0;
    cfg.engine.checks = ChecksMode::Drs;
    cfg.engine.time_scale = args.time_scale;
    cfg.engine.source_drain = crate::config::SourceDrain::Emulator;
    cfg.limits.drs_concurrency = args.dbs as u32;
    cfg.limits.wave_concurrency = args.dbs as u32;
    cfg.limits.validation_capacity = (args.dbs as u32 / 4).max(1);
    cfg.limits.bandwidth_gbps = args.dbs as f64 * cfg.engine.job_bandwidth_mbps * 8.0 / 1000.0;
    cfg.cutover.dns_provider = crate::config::DnsProvider::File;
    cfg.cutover.dns_file = dir.join("dns.yaml");
    cfg.alerts.enabled = args.signals == Signals::On;
    cfg.engine.metrics_listen = match args.signals {
        Signals::On => "127.0.0.1:0".into(),
        Signals::Off => String::new(),
    };

    // The emulator on its own runtime and threads, so its CPU is counted apart.
    let (emu_tx, emu_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let emu_cfg = cfg.clone();
    let emu_thread = std::thread::Builder::new()
        .name("wd-emu-main".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("wd-emu")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = emu_tx.send(Err(anyhow::anyhow!("emulator runtime: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                match crate::rehearsal::drs_emulator::spawn(
                    &emu_cfg,
                    "127.0.0.1:0".parse().expect("literal address"),
                )
                .await
                {
                    Ok(h) => {
                        let client = h.client(&emu_cfg).map_err(anyhow::Error::from);
                        let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                        let _ = emu_tx
                            .send(client.map(|c| (c, h.client_config(&emu_cfg), served.clone())));
                        let _ = stop_rx.await;
                        served.store(h.requests_served(), std::sync::atomic::Ordering::Relaxed);
                        h.shutdown().await;
                    }
                    Err(e) => {
                        let _ = emu_tx.send(Err(e));
                    }
                }
            });
        })?;
    let (drs, client_cfg, _served) = emu_rx
        .recv()
        .map_err(|_| anyhow::anyhow!("the emulator thread ended early"))??;
    cfg.drs = client_cfg.drs;

    // The factory: generated inventory, sizes capped, spread over waves; wave 0's window is
    // open all week so its cutover can run now.
    let mut specs = crate::inventory::generate::generate(args.dbs, 7);
    let per_wave = args.dbs.div_ceil(args.waves as usize);
    for (i, s) in specs.iter_mut().enumerate() {
        // The emulator connects to none of these databases, but DRS's connection test needs
        // a password (the generated inventory names variables nobody set): an empty one.
        for ep in [&mut s.source, &mut s.target] {
            ep.password = crate::secret::SecretRef::File("/dev/null".into());
        }
        s.size_gb = s.size_gb.min(args.max_size_gb);
        s.wave = Some((i / per_wave) as u32);
        if s.wave == Some(0) {
            s.business_window = "daily 00:00-24:00 UTC".into();
        }
    }
    let store = Store::open(&cfg.store).await?;
    store.register_inventory(&specs, "bench", false).await?;
    let wave0 = specs.iter().filter(|s| s.wave == Some(0)).count();
    let total_gb: f64 = specs.iter().map(|s| s.size_gb).sum();
    println!(
        "engine bench: {} databases ({:.1} TB) in {} waves, emulator x{}, engine time scale x{}, signals {}",
        args.dbs,
        total_gb / 1024.0,
        args.waves,
        args.speed,
        args.time_scale,
        match args.signals {
            Signals::On => "on (alert rules, /metrics scraped every 15 s)",
            Signals::Off => "off (no alert rules, no /metrics)",
        }
    );

    let cpu0 = process_cpu();
    let (emu_cpu0, _) = thread_cpu_split("wd-emu");
    let (store_cpu0, _) = thread_cpu_split("sqlx-sqlite");
    let (rt_cpu0, _) = thread_cpu_split("tokio-rt");
    let calls0 = drs.calls_made();
    let t0 = Instant::now();
    let engine = crate::engine::spawn(cfg.clone(), store.clone(), drs.clone()).await?;
    let scraper = engine
        .metrics_addr
        .map(|a| scrape_loop(a, Duration::from_secs(15)));
    for w in 0..args.waves {
        submit(&store, Action::StartWave, Target::Wave(w)).await?;
    }
    let deadline = t0 + Duration::from_secs(args.timeout_s);
    // The bench's own polling counts stages in SQL: its CPU is counted with the engine's.
    let only = |counts: &BTreeMap<String, i64>, stages: &[Stage]| {
        counts
            .keys()
            .all(|k| stages.iter().any(|s| s.as_str() == k))
    };
    let failed = loop {
        let counts = store.stage_counts(None).await?;
        if only(&counts, &[Stage::Ready, Stage::Failed]) {
            break counts.get(Stage::Failed.as_str()).copied().unwrap_or(0);
        }
        if Instant::now() > deadline {
            anyhow::bail!("timed out waiting for every database to be ready: {counts:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let t_ready = t0.elapsed();

    // Cutover of wave 0: approve its window, cut it over; databases refused for a lag spike at
    // that instant are asked again, as an operator would.
    submit(&store, Action::ApproveWindow, Target::Wave(0)).await?;
    submit(&store, Action::Cutover, Target::Wave(0)).await?;
    let t_cut0 = Instant::now();
    let mut asks = 1;
    loop {
        let counts = store.stage_counts(Some(0)).await?;
        if only(&counts, &[Stage::Hypercare, Stage::Failed]) {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!("timed out cutting over wave 0: {counts:?}");
        }
        let pending = store.pending_commands().await?.len();
        if pending == 0
            && counts.contains_key(Stage::Ready.as_str())
            && t_cut0.elapsed() > Duration::from_secs(2 * asks)
        {
            submit(&store, Action::Cutover, Target::Wave(0)).await?;
            asks += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let t_cutover = t_cut0.elapsed();
    let wall = t0.elapsed();
    let (emu_cpu1, _) = thread_cpu_split("wd-emu");
    let (store_cpu1, _) = thread_cpu_split("sqlx-sqlite");
    let (rt_cpu1, _) = thread_cpu_split("tokio-rt");
    let cpu = process_cpu().saturating_sub(cpu0);
    let emu_cpu = emu_cpu1.saturating_sub(emu_cpu0);
    let engine_cpu = cpu.saturating_sub(emu_cpu);
    let calls = drs.calls_made() - calls0;
    let scrapes = match scraper {
        Some((stop, task)) => {
            let _ = stop.send(());
            Some(task.await.unwrap_or(0))
        }
        None => None,
    };
    let alerts_raised = store.count_events(kind::ALERT_RAISED).await?;
    let decisions_cpu = engine.stats.cpu();
    let engine_events = engine.stats.events();
    engine.shutdown().await?;
    let _ = stop_tx.send(());
    let _ = emu_thread.join();

    let stage_moves = store.count_events(kind::DB_STAGE).await?.max(1);
    let chain_ok = store.verify_chain().await?.is_ok();
    let per_stage_us = engine_cpu.as_secs_f64() * 1e6 / stage_moves as f64;
    let wall_min = wall.as_secs_f64() / 60.0;
    println!(
        "  to ready:              {:>8.1} s wall ({} databases, {} failed)",
        t_ready.as_secs_f64(),
        args.dbs,
        failed
    );
    println!(
        "  wave 0 cutover:        {:>8.1} s wall ({} databases, {} cutover commands)",
        t_cutover.as_secs_f64(),
        wave0,
        asks
    );
    println!(
        "  total wall time:       {:>8.1} s (= {:.1} emulated hours)",
        wall.as_secs_f64(),
        wall.as_secs_f64() * args.speed / 3600.0
    );
    println!("  engine CPU:            {:>8.2} s  = {:.0} µs per database per stage ({} stage moves); decisions alone {:.0} µs",
        engine_cpu.as_secs_f64(), per_stage_us, stage_moves, decisions_cpu.as_secs_f64() * 1e6 / stage_moves as f64);
    println!(
        "    by thread:           {:>8.2} s runtime workers (engine, DRS client), {:.2} s SQLite workers (store), {:.2} s other (bench main thread; threads that ended)",
        rt_cpu1.saturating_sub(rt_cpu0).as_secs_f64(),
        store_cpu1.saturating_sub(store_cpu0).as_secs_f64(),
        engine_cpu
            .saturating_sub(rt_cpu1.saturating_sub(rt_cpu0))
            .saturating_sub(store_cpu1.saturating_sub(store_cpu0))
            .as_secs_f64()
    );
    println!(
        "  emulator CPU:          {:>8.2} s (its own threads, not counted above)",
        emu_cpu.as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM):   {:>8.1} MB (whole process, emulator and SQLite cache included)",
        vm_hwm_mb().unwrap_or(f64::NAN)
    );
    println!(
        "  DRS calls:             {:>8} = {:.0} per minute wall, {:.1} per emulated minute",
        calls,
        calls as f64 / wall_min,
        calls as f64 / (wall_min * args.speed)
    );
    println!("  events:                {:>8} appended by the engine = {:.0} per second; chain verifies: {}",
        engine_events, engine_events as f64 / wall.as_secs_f64(), chain_ok);
    println!(
        "  signals:               {:>8} alerts raised; /metrics {}",
        alerts_raised,
        match scrapes {
            Some(n) => format!("scraped {n} times"),
            None => "not served".into(),
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(if chain_ok && failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A fresh directory under the system temp dir.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "wavedeck-bench-engine-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
