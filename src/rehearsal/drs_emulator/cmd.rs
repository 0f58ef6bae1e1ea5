//! Command-line entry points of this module: `wavedeck emulator`.

use crate::config::Config;
use crate::drs::auth::Auth;
use crate::rehearsal::drs_emulator as emulator;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
  export HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=...     # the keys clients will sign with\n  \
  wavedeck emulator --listen 127.0.0.1:8443 --speed 60\n  \
  wavedeck emulator --listen 127.0.0.1:8443 --faults rehearsal-faults.yaml\n  \
  wavedeck emulator --native   # jobs move real data (what `wavedeck lab up` runs)\n\n\
Clients reach it with drs.endpoint: http://127.0.0.1:8443 and the same drs.project_id\n\
(default 0123456789abcdef0123456789abcdef when empty); drs.rds_endpoint and drs.vpc_endpoint\n\
too: it serves the exposure pre-check's RDS and VPC reads.\n\n\
Fault plan (YAML):\n  \
requests:                      # error_500 | error_503 | throttle_429 | slow\n    \
- {path: batch-progress, fault: throttle_429, every: 5}\n    \
- {path: batch-status, fault: slow, delay_ms: 3000, first: 10}\n  \
jobs:       # create_fail | connection_fail | precheck_fail | full_load_fail | lag_stuck\n    \
- {name: \"wd-db00*\", fault: full_load_fail, at_pct: 40}   # | terminate_fail | compare_mismatch | eip_bound\n  \
rds:        # RDS instances (any other id: private, port 5432, VPC-only rules)\n    \
- {instance: \"rds-orders*\", port: 3306, fault: open_port}   # public_ip | open_port | open_all\n\n\
Per request: header X-Wavedeck-Fault: 429 | 500 | 503 | slow=MS | full_load_fail@PCT | lag_stuck ...")]
pub struct EmulatorArgs {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: std::net::SocketAddr,
    /// Time compression (overrides emulator.speed): 60 = one real second is one emulated minute.
    #[arg(long)]
    pub speed: Option<f64>,
    /// Fault plan file (overrides emulator.faults_file).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Concurrent-job quota (overrides emulator.quota).
    #[arg(long)]
    pub quota: Option<u32>,
    /// Native mode (sets emulator.native): jobs move real data between the endpoints of their
    /// create request and report what the servers show: PostgreSQL by logical replication,
    /// MySQL (MariaDB servers) by a consistent copy and GTID replication.
    #[arg(long)]
    pub native: bool,
}

pub async fn run(args: EmulatorArgs, mut cfg: Config) -> anyhow::Result<ExitCode> {
    // What the gateway does not tell its client (a refused clock, a stalled request) is said
    // in the emulator's log.
    let _log = crate::logging::init(&cfg.log_dir)?;
    if let Some(s) = args.speed {
        if !(s.is_finite() && s > 0.0) {
            anyhow::bail!("--speed must be a positive number, e.g. 60");
        }
        cfg.emulator.speed = s;
    }
    if let Some(f) = args.faults {
        cfg.emulator.faults_file = Some(f);
    }
    if let Some(q) = args.quota {
        cfg.emulator.quota = q;
    }
    if args.native {
        cfg.emulator.native = true;
    }
    // A standalone emulator must accept the keys the engine will sign with: the same config.
    let auth = Auth::from_config(&crate::config::DrsConfig {
        auth: crate::config::DrsAuth::AkSk,
        ..cfg.drs.clone()
    })
    .map_err(|e| {
        anyhow::anyhow!("{e} (the emulator accepts the same keys the client signs with)")
    })?;
    let handle = emulator::spawn_with(&cfg, args.listen, auth).await?;
    println!(
        "DRS emulator on {} (project id {}, speed x{}, quota {}, {}; log in {}); Ctrl-C to stop",
        handle.base_url(),
        handle.project_id,
        cfg.emulator.speed,
        cfg.emulator.quota,
        if cfg.emulator.native {
            "native: PostgreSQL and MySQL (MariaDB) jobs replicate for real".to_string()
        } else {
            format!("bandwidth {} MB/s per job", cfg.emulator.job_bandwidth_mbps)
        },
        cfg.log_dir.display()
    );
    // SIGTERM too: `wavedeck lab down` stops the lab's emulator that way.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
