//! The lab as a rehearsal of production: `wavedeck lab up` (DRS mode) leaves the databases
//! unreplicated, starts the DRS emulator in native mode, and writes `<lab>/wavedeck.yaml` with
//! a store, the lab inventory, credentials for the emulator and the `file` DNS provider. The
//! cockpit or `wavedeck run` with that config then runs the production engine and DRS client:
//! the engine creates the jobs, the emulator replicates for real, the cutover module cuts over.
//! One rehearsal serves both halves of a lab (PostgreSQL clusters in `lab.json`, MariaDB pairs
//! in `lab-mysql.json`): one emulator, one config, one store, one inventory.

use super::postgres::{LabEmulator, LabError};
use crate::config::Config;
use crate::inventory::Engine;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Config file of the rehearsal, inside the lab directory.
pub const CONFIG_FILE: &str = "wavedeck.yaml";
/// Emulator time compression in the lab: only creating (20 s) and the pre-check (30 s) are
/// emulated steps there; data moves at its real pace whatever the speed.
pub const LAB_SPEED: f64 = 10.0;

fn setup(dir: &Path, msg: impl std::fmt::Display) -> LabError {
    LabError::Setup {
        dir: dir.to_path_buf(),
        msg: msg.to_string(),
    }
}

/// The rehearsal's config: `base` (the operator's, for thresholds and limits) pointed at the lab
/// in `dir`. Pure, so it is tested without a lab.
pub fn lab_config(dir: &Path, base: &Config, emulator_port: u16) -> Config {
    let mut c = base.clone();
    c.store = format!("sqlite://{}", dir.join("wavedeck.db").display());
    c.log_dir = dir.join("logs");
    c.drs.endpoint = format!("http://127.0.0.1:{emulator_port}");
    c.drs.rds_endpoint = c.drs.endpoint.clone();
    c.drs.vpc_endpoint = c.drs.endpoint.clone();
    c.drs.project_id = crate::rehearsal::drs_emulator::DEFAULT_PROJECT_ID.to_string();
    c.drs.auth = crate::config::DrsAuth::AkSk;
    c.drs.credentials_file = Some(dir.join("drs-credentials"));
    crate::rehearsal::drs_emulator::emulated_network(&mut c.drs);
    c.emulator.native = true;
    c.emulator.speed = LAB_SPEED;
    c.emulator.faults_file = None;
    c.engine.time_scale = LAB_SPEED;
    // The cutover module's steps against the lab's servers (drain, final sync by the slot the
    // native job reads, DNS, writes on), as production runs them.
    c.engine.source_drain = crate::config::SourceDrain::Sql;
    // Production's gate: DRS's pre-check and comparison (DRS refuses to start a job without a
    // passed pre-check) and wavedeck's SQL checks against the real servers. In native mode the
    // DRS pre-check and comparison are still the emulator's simulation; the SQL checks are real.
    c.engine.checks = crate::config::ChecksMode::Both;
    c.cutover.dns_provider = crate::config::DnsProvider::File;
    c.cutover.dns_file = dir.join(super::postgres::DNS_FILE);
    // The tables checksummed at the final quick validation are named per database in the lab
    // inventory (`extra.critical_tables`, each in its engine's spelling), not here for all.
    c.lab.dir = dir.to_path_buf();
    c
}

/// Write the AK/SK the emulator accepts and the engine signs with (kept in the lab directory,
/// readable by its owner only). Environment keys, when set, win for both alike.
fn write_credentials(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut rng = rand::thread_rng();
    let mut key = |n: usize| -> String {
        use rand::Rng;
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect()
    };
    let text = format!("ak={}\nsk={}\n", key(20), key(40));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// What `lab up` set up for the rehearsal.
#[derive(Debug)]
pub struct Rehearsal {
    pub config: PathBuf,
    pub emulator: LabEmulator,
}

/// Write the rehearsal config and credentials, start the native emulator (its own process
/// group, log in `<lab>/emulator.log`) and wait until it answers. `record` keeps the emulator in
/// the lab state (one half records it, so `lab down` stops it once) before it is waited for.
pub async fn start(
    dir: &Path,
    base: &Config,
    exe: &Path,
    record: impl FnOnce(&LabEmulator) -> Result<(), LabError>,
) -> Result<Rehearsal, LabError> {
    let dir = dir.to_path_buf();
    let port = super::postgres::free_port().map_err(|e| setup(&dir, e))?;
    let cfg = lab_config(&dir, base, port);
    if let Some(p) = &cfg.drs.credentials_file {
        write_credentials(p).map_err(|e| setup(&dir, format!("{}: {e}", p.display())))?;
    }
    let yaml = serde_yaml::to_string(&cfg).map_err(|e| setup(&dir, e))?;
    let text = format!(
        "# Written by `wavedeck lab up`: the rehearsal against this lab (native DRS emulator on\n\
         # port {port}, store and inventory here). Use: wavedeck --config {}\n{yaml}",
        dir.join(CONFIG_FILE).display()
    );
    let config = dir.join(CONFIG_FILE);
    crate::cutover::dns_provider::write_atomic(&config, text.as_bytes())
        .map_err(|e| setup(&dir, e))?;
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("emulator.log")).map_err(|e| setup(&dir, e))?;
    let mut c = std::process::Command::new(exe);
    c.arg("--config")
        .arg(&config)
        .args(["emulator", "--native", "--listen", &listen])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| setup(&dir, e))?)
        .stderr(log);
    use std::os::unix::process::CommandExt;
    // Its own process group: closing this terminal must not stop the lab's DRS.
    c.process_group(0);
    let child = c
        .spawn()
        .map_err(|e| setup(&dir, format!("cannot start the emulator: {e}")))?;
    let emulator = LabEmulator {
        pid: child.id(),
        listen: listen.clone(),
    };
    record(&emulator)?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect(&listen).await.is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(setup(
                &dir,
                format!(
                    "the DRS emulator did not listen on {listen} within 20 s; see {}",
                    dir.join("emulator.log").display()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Rehearsal { config, emulator })
}

/// Whether `dir` holds a rehearsal (a lab brought up for DRS jobs and the engine).
pub fn is_rehearsal(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).exists()
}

/// One lab database's DRS job as the emulator reports it to the production client.
#[derive(Debug, serde::Serialize)]
pub struct DrsView {
    pub db: String,
    pub job_name: String,
    /// The batch-progress item, or `None` while the engine has not created the job.
    pub progress: Option<crate::drs::model::ProgressResult>,
}

/// The DRS side of `lab status`: each lab database of `engine` in `dbs`, its job found by the
/// name the engine gives it, read with the same client and calls the engine uses.
pub async fn drs_view(dir: &Path, engine: Engine, dbs: &[String]) -> anyhow::Result<Vec<DrsView>> {
    let cfg = Config::load(Some(&dir.join(CONFIG_FILE)))?;
    let drs = crate::drs::DrsClient::from_config(&cfg)?;
    let inventory = dir.join("inventory.yaml");
    let specs = crate::inventory::load_file(&inventory).map_err(|p| {
        anyhow::anyhow!(
            "{}: {}",
            inventory.display(),
            p.first().map(|x| x.to_string()).unwrap_or_default()
        )
    })?;
    let mut out = Vec::new();
    for db in dbs {
        let db_id = specs
            .iter()
            .find(|s| s.engine == engine && s.source.database == *db)
            .map(|s| s.db_id.clone())
            .unwrap_or_else(|| db.clone());
        let job_name = crate::drs::api::job_name_for(&db_id);
        let progress = match drs.find_job_by_name(engine, &job_name).await? {
            Some(j) => {
                let id = crate::drs::JobId(j.id);
                drs.batch_progress(std::slice::from_ref(&id))
                    .await?
                    .into_iter()
                    .next()
            }
            None => None,
        };
        out.push(DrsView {
            db: db.clone(),
            job_name,
            progress,
        });
    }
    Ok(out)
}

/// One line for a DRS job: status, progress, delay, error.
pub fn drs_line(v: &DrsView) -> String {
    let Some(p) = &v.progress else {
        return format!("DRS job {}: not created yet", v.job_name);
    };
    let status = p
        .transfer_status
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_else(|| "?".into());
    let delay = match p.incre_trans_delay_millis.as_deref() {
        None | Some("-1") => "-".to_string(),
        Some(ms) => format!("{ms} ms"),
    };
    let err = match (&p.error_code, &p.error_msg) {
        (None, None) => String::new(),
        (c, m) => format!(
            "  error {} {}",
            c.as_deref().unwrap_or(""),
            m.as_deref().unwrap_or("")
        ),
    };
    format!(
        "DRS job {}: {status}, progress {}%, delay {delay}{err}",
        v.job_name,
        p.progress.as_deref().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rehearsal_config_points_everything_at_the_lab_and_round_trips() {
        let mut base = Config::default();
        base.thresholds.max_cutover_lag_s = 7.0;
        let c = lab_config(Path::new("/labs/x"), &base, 4321);
        assert_eq!(c.drs.endpoint, "http://127.0.0.1:4321");
        assert_eq!(c.store, "sqlite:///labs/x/wavedeck.db");
        assert!(c.emulator.native);
        assert_eq!(c.engine.source_drain, crate::config::SourceDrain::Sql);
        assert_eq!(c.cutover.dns_file, PathBuf::from("/labs/x/dns.yaml"));
        assert_eq!(
            c.thresholds.max_cutover_lag_s, 7.0,
            "operator thresholds kept"
        );
        let yaml = serde_yaml::to_string(&c).unwrap();
        let back: Config = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, c);
    }
}
