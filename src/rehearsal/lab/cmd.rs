//! `wavedeck lab up | status | cutover | rollback | reset | down`: the local replication lab.
//! PostgreSQL databases live in one pair of clusters (`lab.json`), MySQL databases each in a
//! pair of MariaDB servers (`lab-mysql.json`); both share the lab directory, the DNS file, the
//! journals and, in a rehearsal, one DRS emulator, config, inventory and store; every command
//! finds a database in whichever half holds it.

use super::journal_driver::{completed, drive_cutover, drive_rollback, Journal};
use super::mariadb::{self as mylab, MyLabState};
use super::postgres::{self as lab, LabState};
use super::workload::Workload;
use crate::config::Config;
use crate::cutover::context::{CutoverCtx, NativeMover};
use crate::cutover::postgres::ops as pg;
use crate::inventory::Engine;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum LabCommand {
    /// Create source and target servers on free loopback ports (PostgreSQL clusters, a MariaDB
    /// pair per MySQL database), seed the pilot databases, start a write workload on each and the
    /// DRS emulator in native mode, and write the rehearsal's config (`<lab>/wavedeck.yaml`), one
    /// inventory and one store: the engine then migrates the lab as it would production.
    #[command(
        after_help = "Examples:\n  wavedeck lab up && wavedeck --config .lab/wavedeck.yaml     # rehearse in the cockpit\n  wavedeck lab up --db pilot_orders --db pilot_hr --seed-rows 20000\n  wavedeck lab up --direct     # the lab replicates itself; cut over with `wavedeck lab cutover`\n  wavedeck lab up --engine mysql --db pilot_shop   # one MySQL database (a MariaDB pair)\n  wavedeck lab up --engine postgres   # the PostgreSQL half of the pilot wave only"
    )]
    Up(UpArgs),
    /// Ports, replication state and lag (measured from the servers), workload figures.
    #[command(
        after_help = "Examples:\n  wavedeck lab status\n  wavedeck lab status --json   # lag in DRS batch-progress format"
    )]
    Status(StatusArgs),
    /// Cut one lab database over (resumes a cutover that was interrupted).
    #[command(after_help = "Example:\n  wavedeck lab cutover --db pilot_orders")]
    Cutover(CutoverArgs),
    /// Roll back whatever part of a lab cutover ran (typed confirmation).
    #[command(
        after_help = "Example:\n  wavedeck lab rollback --db pilot_orders --confirm pilot_orders"
    )]
    Rollback(RollbackArgs),
    /// Back to a fresh replicating database after a cutover or a rollback, without a full
    /// down/up: rebuilt, seeded, replicating, the service name at the source, the cutover
    /// journal moved aside.
    #[command(after_help = "Example:\n  wavedeck lab reset --db pilot_shop")]
    Reset(ResetArgs),
    /// Stop the workloads and every server and remove the lab directory.
    #[command(after_help = "Example:\n  wavedeck lab down")]
    Down(DirArgs),
    /// The write workload of one database (started by `lab up`).
    #[command(hide = true)]
    Workload(WorkloadArgs),
}

#[derive(clap::Args)]
pub struct DirArgs {
    /// Lab directory (default: lab.dir from the config, `.lab`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Database to create (repeat; default: lab.databases from the config).
    #[arg(long = "db")]
    pub dbs: Vec<String>,
    /// Rows seeded into each database's orders table.
    #[arg(long)]
    pub seed_rows: Option<u32>,
    /// Do not start the write workloads.
    #[arg(long)]
    pub no_workload: bool,
    /// The lab replicates the databases itself (publication + subscription at once) for
    /// `wavedeck lab cutover`. Default: they wait for DRS jobs, which the engine creates against
    /// the lab's DRS emulator in native mode (the rehearsal of production).
    #[arg(long)]
    pub direct: bool,
    /// Only this engine's databases. Default: both engines of `lab.inventory` (or the default
    /// pilot wave: pilot_orders and pilot_billing on PostgreSQL, pilot_shop on MySQL); `--db`
    /// names are PostgreSQL's unless `--engine mysql`. A MySQL database gets its own pair of
    /// MariaDB servers (the write fence, `read_only`, is server-wide).
    #[arg(long, value_parser = ["postgres", "mysql"])]
    pub engine: Option<String>,
}

#[derive(clap::Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[arg(long)]
    pub db: String,
    /// Rows seeded into the orders table (default: lab.seed_rows).
    #[arg(long)]
    pub seed_rows: Option<u32>,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// One JSON document: per database the DRS batch-progress item and the raw measures.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct CutoverArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[arg(long)]
    pub db: String,
    /// Seconds write sessions get to finish at drain (default: thresholds.drain_grace_s).
    #[arg(long)]
    pub grace_s: Option<u32>,
    /// Journal file (default: <lab dir>/cutover-<db>.jsonl).
    #[arg(long)]
    pub journal: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[arg(long)]
    pub db: String,
    /// Type the database name again to confirm.
    #[arg(long)]
    pub confirm: String,
    #[arg(long)]
    pub grace_s: Option<u32>,
    #[arg(long)]
    pub journal: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct WorkloadArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[arg(long)]
    pub db: String,
}

fn lab_dir(d: &DirArgs, cfg: &Config) -> PathBuf {
    d.dir.clone().unwrap_or_else(|| cfg.lab.dir.clone())
}

fn check_db(state: &LabState, db: &str) -> anyhow::Result<()> {
    if !state.databases.iter().any(|d| d == db) {
        anyhow::bail!(
            "{db} is not a lab database (the lab has: {}); see `wavedeck lab status`",
            state.databases.join(", ")
        );
    }
    Ok(())
}

pub async fn run(cmd: LabCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    match cmd {
        LabCommand::Up(a) => up(a, &cfg).await,
        LabCommand::Status(a) => status(a, &cfg).await,
        LabCommand::Cutover(a) => cutover(a, &cfg).await,
        LabCommand::Rollback(a) => rollback(a, &cfg).await,
        LabCommand::Reset(a) => reset(a, &cfg).await,
        LabCommand::Down(a) => {
            let dir = lab_dir(&a, &cfg);
            let my = MyLabState::load_if_any(&dir)?;
            let has_pg = dir.join(lab::STATE_FILE).exists();
            if my.is_none() && !has_pg {
                // Says what to do.
                LabState::load(&dir)?;
            }
            if let Some(my) = &my {
                mylab::down(my)?;
            }
            if has_pg {
                lab::down(&LabState::load(&dir)?)?;
            } else if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            println!("lab {} stopped and removed", dir.display());
            Ok(ExitCode::SUCCESS)
        }

        LabCommand::Workload(a) => workload(a, &cfg).await,
    }
}

fn spawn_workload(dir: &std::path::Path, db: &str) -> anyhow::Result<u32> {
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(dir.join(format!("workload-{db}.log")))?;
    let mut c = std::process::Command::new(&exe);
    c.args(["lab", "workload", "--db", db, "--dir"])
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Its own process group: closing this terminal must not stop the workload.
    use std::os::unix::process::CommandExt;
    c.process_group(0);
    Ok(c.spawn()?.id())
}

/// A lab database name and the inventory entry it comes from.
pub(crate) type NamedSpec = (String, crate::inventory::DatabaseSpec);

/// The default pilot databases of an engine, when neither flags, `lab.databases` nor
/// `lab.inventory` name any.
fn default_databases(engine: Engine) -> Vec<String> {
    match engine {
        Engine::Postgres => vec!["pilot_orders".into(), "pilot_billing".into()],
        Engine::Mysql => vec!["pilot_shop".into()],
    }
}

/// The databases `lab up` (and `bench native`) create for `engine`: the names given, then
/// `lab.databases`, then `lab.inventory`'s databases of that engine (db_id with `-` as `_`), then
/// the default pilot names; with the inventory entries they come from, if any. `Ok` with no
/// names when the inventory holds none of that engine.
pub(crate) fn lab_databases(
    flags: &[String],
    cfg: &Config,
    engine: Engine,
) -> anyhow::Result<(Vec<String>, Vec<NamedSpec>)> {
    if !flags.is_empty() {
        return Ok((flags.to_vec(), vec![]));
    }
    if !cfg.lab.databases.is_empty() {
        return Ok((cfg.lab.databases.clone(), vec![]));
    }
    let path = &cfg.lab.inventory;
    if !path.exists() {
        return Ok((default_databases(engine), vec![]));
    }
    let specs = crate::inventory::load::load_file(path).map_err(|problems| {
        let lines: Vec<String> = problems.iter().take(5).map(|p| p.to_string()).collect();
        anyhow::anyhow!(
            "lab.inventory {}: {} problem(s), first: {}",
            path.display(),
            problems.len(),
            lines.join("; ")
        )
    })?;
    let named: Vec<NamedSpec> = specs
        .into_iter()
        .filter(|s| s.engine == engine)
        .map(|s| (lab::lab_db_name(&s.db_id), s))
        .collect();
    Ok((named.iter().map(|(n, _)| n.clone()).collect(), named))
}

/// What `lab up` builds: the PostgreSQL and the MySQL databases and the inventory entries they
/// come from. Without `--engine` the whole pilot wave (both engines) when the databases come
/// from `lab.inventory` or the defaults; `--db` names and `lab.databases` carry no engine, so
/// they are `--engine`'s (PostgreSQL when not given).
fn lab_plan(
    flags: &[String],
    cfg: &Config,
    engine: Option<Engine>,
) -> anyhow::Result<(Vec<String>, Vec<String>, Vec<NamedSpec>)> {
    let named = !flags.is_empty() || !cfg.lab.databases.is_empty();
    let engines = match engine {
        Some(e) => vec![e],
        None if named => vec![Engine::Postgres],
        None => vec![Engine::Postgres, Engine::Mysql],
    };
    let (mut pg, mut my, mut specs) = (vec![], vec![], vec![]);
    for e in engines {
        let (names, s) = lab_databases(flags, cfg, e)?;
        match e {
            Engine::Postgres => pg = names,
            Engine::Mysql => my = names,
        }
        specs.extend(s);
    }
    if pg.is_empty() && my.is_empty() {
        anyhow::bail!(
            "lab.inventory {} has no {} database; pass --db NAME",
            cfg.lab.inventory.display(),
            match engine {
                Some(Engine::Postgres) => "PostgreSQL",
                Some(Engine::Mysql) => "MySQL",
                None => "PostgreSQL or MySQL",
            }
        );
    }
    if let Some(both) = pg.iter().find(|d| my.contains(d)) {
        anyhow::bail!(
            "{both} is both a PostgreSQL and a MySQL database of the lab: lab databases are found \
             by name, give one of them another name in lab.inventory"
        );
    }
    Ok((pg, my, specs))
}

fn parse_engine(e: Option<&str>) -> Option<Engine> {
    match e {
        Some("mysql") => Some(Engine::Mysql),
        Some(_) => Some(Engine::Postgres),
        None => None,
    }
}

async fn up(a: UpArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    let dir = lab_dir(&a.dir, cfg);
    let engine = parse_engine(a.engine.as_deref());
    let (pg_dbs, my_dbs, specs) = lab_plan(&a.dbs, cfg, engine)?;
    let seed = a.seed_rows.unwrap_or(cfg.lab.seed_rows);
    let mover = if a.direct {
        lab::LabMover::Direct
    } else {
        lab::LabMover::Drs
    };
    if mover == lab::LabMover::Drs && super::rehearsal::is_rehearsal(&dir) {
        anyhow::bail!(
            "lab {}: a rehearsal already runs here (its store and DRS jobs cover the lab's \
             databases); `wavedeck lab status` shows it, `wavedeck lab down` removes it",
            dir.display()
        );
    }
    // Both servers' binaries checked before anything starts: no half-built lab for a missing one.
    if !my_dbs.is_empty() {
        mylab::find_binaries().map_err(|e| {
            let leave_out = if engine.is_none() {
                "; or rehearse the PostgreSQL databases alone with `--engine postgres`"
            } else {
                ""
            };
            anyhow::anyhow!("{e}{leave_out}")
        })?;
    }
    if !pg_dbs.is_empty() {
        lab::find_bin_dir(cfg.lab.pg_bin_dir.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("creating lab in {} ...", dir.display());
    let mut pg = match pg_dbs.is_empty() {
        true => None,
        false => {
            Some(lab::up_with(&dir, &pg_dbs, seed, cfg.lab.pg_bin_dir.as_deref(), mover).await?)
        }
    };
    let mut my = match my_dbs.is_empty() {
        true => None,
        false => match mylab::up_with(&dir, &my_dbs, seed, mover).await {
            Ok(s) => Some(s),
            Err(e) => {
                if let Some(p) = &pg {
                    let _ = lab::down(p);
                }
                return Err(e.into());
            }
        },
    };
    if !a.no_workload {
        if let Some(st) = pg.as_mut() {
            for db in &pg_dbs {
                let pid = spawn_workload(&st.dir, db)?;
                st.workload_pids.push((db.clone(), pid));
            }
            st.save()?;
        }
        if let Some(st) = my.as_mut() {
            for db in &my_dbs {
                let pid = spawn_workload(&st.dir, db)?;
                st.workload_pids.push((db.clone(), pid));
            }
            st.save()?;
        }
    }
    let dir = pg
        .as_ref()
        .map(|s| s.dir.clone())
        .or(my.as_ref().map(|s| s.dir.clone()))
        .unwrap_or(dir);
    // The inventory covers whatever halves live here (a direct lab may get its other half later).
    let pw = lab::password_file(&dir)?;
    let mut entries = Vec::new();
    let pg_any = match &pg {
        Some(s) => Some(s.clone()),
        None if dir.join(lab::STATE_FILE).exists() => Some(LabState::load(&dir)?),
        None => None,
    };
    let my_any = match &my {
        Some(s) => Some(s.clone()),
        None => MyLabState::load_if_any(&dir)?,
    };
    if let Some(s) = &pg_any {
        entries.extend(lab::inventory_entries(s, &specs, &pw));
    }
    if let Some(s) = &my_any {
        entries.extend(s.inventory_entries(&specs, &pw));
    }
    let inv = lab::write_inventory(&dir, entries)?;
    let rehearsal = if mover == lab::LabMover::Drs {
        let exe = std::env::current_exe()?;
        // One half records the emulator, so `lab down` stops it once.
        let r = super::rehearsal::start(&dir, cfg, &exe, |e| match (&mut pg, &mut my) {
            (Some(st), _) => {
                st.emulator = Some(e.clone());
                st.save()
            }
            (None, Some(st)) => {
                st.emulator = Some(e.clone());
                st.save()
            }
            (None, None) => Ok(()),
        })
        .await?;
        let lab_cfg = Config::load(Some(&r.config))?;
        let init = crate::store::cmd::InitArgs {
            inventory: vec![inv.clone()],
            remove_missing: false,
            actor: Some("wavedeck-lab".into()),
        };
        crate::store::cmd::init(init, lab_cfg).await?;
        Some(r)
    } else {
        None
    };
    let waiting = if rehearsal.is_some() {
        "waiting for its DRS job"
    } else {
        "replicating"
    };
    let dns_path = dir.join(lab::DNS_FILE);
    if let Some(state) = &pg {
        println!(
            "PostgreSQL source 127.0.0.1:{}  ({})\n           target 127.0.0.1:{}  ({})",
            state.source.port,
            state.source.data_dir.display(),
            state.target.port,
            state.target.data_dir.display()
        );
        for db in &state.databases {
            println!(
                "  {db:<20} {waiting}; service name {} in {}",
                LabState::dns_name(db),
                dns_path.display()
            );
        }
    }
    if let Some(state) = &my {
        println!("MySQL (a MariaDB pair per database):");
        for p in &state.pairs {
            println!(
                "  {:<20} source 127.0.0.1:{} -> target 127.0.0.1:{}; {}; service name {} in {}",
                p.db,
                p.source.port,
                p.target.port,
                if rehearsal.is_some() {
                    waiting
                } else {
                    "GTID replica"
                },
                LabState::dns_name(&p.db),
                dns_path.display()
            );
        }
    }
    let first = pg_dbs
        .first()
        .or(my_dbs.first())
        .map(String::as_str)
        .unwrap_or("<db>");
    match rehearsal {
        Some(r) => println!(
            "DRS emulator (native mode) on http://{} (pid {}, log {})\n\
             inventory {} registered in the lab store\n\
             rehearse: wavedeck --config {}          # the cockpit: approve and start wave 0\n\
             \x20     or: wavedeck --config {} run      # the engine alone\n\
             watch:    wavedeck lab status{}   # replication measured on the servers and as DRS reports it",
            r.emulator.listen,
            r.emulator.pid,
            dir.join("emulator.log").display(),
            inv.display(),
            r.config.display(),
            r.config.display(),
            if dir == cfg.lab.dir {
                String::new()
            } else {
                format!(" --dir {}", dir.display())
            }
        ),
        None => println!(
            "lab inventory (points at the lab ports): {}\n  e.g. wavedeck init --inventory {0}\n\
             next: `wavedeck lab status`, `wavedeck lab cutover --db {first}`, `wavedeck lab reset --db {first}`",
            inv.display(),
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(a: StatusArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    let dir = lab_dir(&a.dir, cfg);
    let my = MyLabState::load_if_any(&dir)?;
    let mut doc = serde_json::json!({});
    if my.is_none() || dir.join(lab::STATE_FILE).exists() {
        let state = LabState::load(&dir)?;
        let out = status_pg(&state, a.json).await;
        doc = serde_json::json!({
            "source_port": state.source.port, "target_port": state.target.port, "databases": out
        });
    }
    if let Some(my) = &my {
        doc["mysql"] = serde_json::Value::Array(status_my(my, a.json).await);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Service name target, cutover phase and workload figures of one lab database.
fn db_extras(dir: &std::path::Path, db: &str) -> (String, String, serde_json::Value) {
    let dns = crate::cutover::dns_provider::FileDns::new(dir.join("dns.yaml"))
        .current(&LabState::dns_name(db))
        .ok()
        .flatten()
        .map(|e| e.value)
        .unwrap_or_else(|| "-".into());
    let steps = Journal::new(dir.join(format!("cutover-{db}.jsonl")))
        .entries()
        .map(|e| cutover_phase(&e))
        .unwrap_or_else(|e| format!("journal unreadable: {e}"));
    let wl: serde_json::Value = std::fs::read_to_string(super::workload::figures_file(dir, db))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (dns, steps, wl)
}

fn workload_text(wl: &serde_json::Value) -> String {
    if wl.is_null() {
        "-".to_string()
    } else {
        format!(
            "{} acked, {} errors, on {}",
            wl["acked"],
            wl["errors"],
            wl["endpoint"].as_str().unwrap_or("-")
        )
    }
}

async fn status_pg(state: &LabState, json: bool) -> Vec<serde_json::Value> {
    let dir = &state.dir;
    let mut out = Vec::new();
    if !json {
        println!(
            "lab {}\n  source 127.0.0.1:{}   target 127.0.0.1:{}",
            state.dir.display(),
            state.source.port,
            state.target.port
        );
        println!(
            "  {:<18} {:<12} {:>9} {:>10} {:<22} {:<28} workload",
            "database", "replication", "lag ms", "lag bytes", "service ->", "cutover",
        );
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    // DRS mode: what the emulator reports to the production client, beside the raw measures.
    let drs_jobs = drs_jobs(dir, state.mover, Engine::Postgres, &state.databases).await;
    let drs_job_missing = |db: &str| match &drs_jobs {
        Some(Ok(v)) => v.iter().any(|j| j.db == db && j.progress.is_none()),
        _ => false,
    };
    for db in &state.databases {
        let src = state.side(&state.source, db);
        let tgt = state.side(&state.target, db);
        let mover = NativeMover::for_db(db);
        let lag = async {
            let mut s = src.connect_admin("source").await?;
            let mut t = tgt.connect_admin("target").await?;
            pg::measure_lag(&mut s, &mut t, &mover.subscription, &mover.subscription)
                .await
                .map_err(|e| src.err("source", e))
        }
        .await;
        let (dns, steps, wl) = db_extras(dir, db);
        let (repl, lag_ms, bytes, drs) = match &lag {
            Ok(l) => (
                if l.in_cdc() {
                    "streaming"
                } else if l.subscriber.worker_running {
                    "copying"
                } else if l.confirmed_lsn.is_none() && drs_jobs.is_some() && drs_job_missing(db) {
                    "no job yet"
                } else if l.confirmed_lsn.is_none() {
                    "released"
                } else {
                    "stopped"
                }
                .to_string(),
                l.millis.to_string(),
                l.bytes.to_string(),
                l.to_drs_progress(&mover.subscription, now_ms),
            ),
            Err(e) => (
                format!("error: {e}"),
                "-".into(),
                "-".into(),
                serde_json::Value::Null,
            ),
        };
        let drs_job = match &drs_jobs {
            Some(Ok(v)) => v.iter().find(|j| j.db == *db),
            _ => None,
        };
        if json {
            out.push(serde_json::json!({
                "db": db, "drs_progress": drs, "lag": lag.as_ref().ok(),
                "service": dns, "cutover": steps, "workload": wl,
                "drs_job": drs_job,
            }));
        } else {
            let wl_text = workload_text(&wl);
            println!(
                "  {db:<18} {repl:<12} {lag_ms:>9} {bytes:>10} {dns:<22} {steps:<28} {wl_text}"
            );
            if let Some(j) = drs_job {
                println!("  {:<18} {}", "", super::rehearsal::drs_line(j));
            }
        }
    }
    if let Some(Err(e)) = &drs_jobs {
        println!("  DRS emulator not answering: {e}");
    }
    out
}

/// In a rehearsal, what the emulator reports to the production client for the lab databases
/// of `engine` (`None` in a lab that replicates itself).
async fn drs_jobs(
    dir: &std::path::Path,
    mover: lab::LabMover,
    engine: Engine,
    dbs: &[String],
) -> Option<Result<Vec<super::rehearsal::DrsView>, String>> {
    if mover != lab::LabMover::Drs || !super::rehearsal::is_rehearsal(dir) {
        return None;
    }
    Some(
        super::rehearsal::drs_view(dir, engine, dbs)
            .await
            .map_err(|e| format!("{e:#}")),
    )
}

async fn status_my(state: &MyLabState, json: bool) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    if !json {
        println!(
            "lab {} (MySQL: a MariaDB pair per database)",
            state.dir.display()
        );
        println!(
            "  {:<18} {:<24} {:<12} {:>6} {:>8} {:<22} {:<28} workload",
            "database",
            "source -> target",
            "replication",
            "lag s",
            "behind",
            "service ->",
            "cutover",
        );
    }
    let drs_jobs = drs_jobs(&state.dir, state.mover, Engine::Mysql, &state.databases()).await;
    for p in &state.pairs {
        let lag = mylab::lag(state, &p.db).await;
        let (dns, steps, wl) = db_extras(&state.dir, &p.db);
        let drs_job = match &drs_jobs {
            Some(Ok(v)) => v.iter().find(|j| j.db == p.db),
            _ => None,
        };
        let (repl, secs, behind) = match &lag {
            Ok(l) => (
                match &l.replica {
                    Some(r) if r.running() => "streaming".to_string(),
                    Some(r) => format!(
                        "stopped: {}",
                        r.last_error.as_deref().unwrap_or("no error reported")
                    ),
                    None if drs_job.is_some_and(|j| j.progress.is_none()) => {
                        "no job yet".to_string()
                    }
                    None => "released".to_string(),
                },
                l.seconds
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                l.behind.to_string(),
            ),
            Err(e) => (format!("error: {e}"), "-".into(), "-".into()),
        };
        if json {
            out.push(serde_json::json!({
                "db": p.db, "source_port": p.source.port, "target_port": p.target.port,
                "transfer_status": lag.as_ref().map(|l| l.drs_status()).unwrap_or("-"),
                "lag": lag.as_ref().ok(), "service": dns, "cutover": steps, "workload": wl,
                "drs_job": drs_job,
            }));
        } else {
            let ports = format!("{} -> {}", p.source.port, p.target.port);
            println!(
                "  {:<18} {ports:<24} {repl:<12} {secs:>6} {behind:>8} {dns:<22} {steps:<28} {}",
                p.db,
                workload_text(&wl)
            );
            if let Some(j) = drs_job {
                println!("  {:<18} {}", "", super::rehearsal::drs_line(j));
            }
        }
    }
    if let Some(Err(e)) = &drs_jobs {
        println!("  DRS emulator not answering: {e}");
    }
    out
}

/// One phrase for where a lab cutover stands, from its journal.
fn cutover_phase(entries: &[super::journal_driver::JournalEntry]) -> String {
    let done = completed(entries);
    if done.iter().any(|s| s == "rollback.done") {
        return "rolled back".into();
    }
    if entries.iter().any(|e| e.step.starts_with("rollback.")) {
        return "rollback in progress".into();
    }
    let n = crate::cutover::steps::CutoverStep::ALL
        .iter()
        .filter(|s| done.iter().any(|d| d == s.as_str()))
        .count();
    let failed = entries
        .last()
        .filter(|e| e.kind == "outcome" && e.ok == Some(false))
        .map(|e| format!(", {} failed", e.step.trim_start_matches("cutover.")))
        .unwrap_or_default();
    match n {
        0 if entries.is_empty() => "not started".into(),
        7 => "cut over, hypercare".into(),
        n => format!("{n}/7 steps{failed}"),
    }
}

fn grace(arg: Option<u32>, cfg: &Config) -> Duration {
    Duration::from_secs(arg.unwrap_or(cfg.thresholds.drain_grace_s).into())
}

/// The cutover context of a lab database, from whichever half of the lab holds it.
fn lab_ctx(
    dir: &std::path::Path,
    db: &str,
    cfg: &Config,
    grace: Duration,
) -> anyhow::Result<CutoverCtx> {
    if let Some(my) = MyLabState::load_if_any(dir)? {
        if my.pair(db).is_some() {
            return Ok(my.ctx(db, cfg, grace)?);
        }
        if !dir.join(lab::STATE_FILE).exists() {
            anyhow::bail!(
                "{db} is not a lab database (the lab has: {}); see `wavedeck lab status`",
                my.databases().join(", ")
            );
        }
    }
    let state = LabState::load(dir)?;
    check_db(&state, db)?;
    Ok(state.ctx(db, cfg, grace))
}

async fn cutover(a: CutoverArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    let dir = lab_dir(&a.dir, cfg);
    let ctx = lab_ctx(&dir, &a.db, cfg, grace(a.grace_s, cfg))?;
    let journal = Journal::new(
        a.journal
            .unwrap_or_else(|| dir.join(format!("cutover-{}.jsonl", a.db))),
    );

    let r = drive_cutover(&ctx, &journal, |step, o, resumed| {
        println!(
            "  ok  {step:<28} {:>6} ms{}",
            o.ms,
            if resumed {
                "  (found done on resume)"
            } else {
                ""
            }
        );
    })
    .await;
    match r {
        Ok(_) => {
            println!("{}: cut over; hypercare open, source kept read-only", a.db);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("  FAILED  {e}");
            println!("fix the cause and run the same command again to resume, or roll back:\n  wavedeck lab rollback --db {0} --confirm {0}", a.db);
            Ok(ExitCode::from(1))
        }
    }
}

async fn rollback(a: RollbackArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    if a.confirm != a.db {
        anyhow::bail!(
            "rollback not confirmed: --confirm must repeat the database name ({})",
            a.db
        );
    }
    let dir = lab_dir(&a.dir, cfg);
    let ctx = lab_ctx(&dir, &a.db, cfg, grace(a.grace_s, cfg))?;
    let journal = Journal::new(
        a.journal
            .unwrap_or_else(|| dir.join(format!("cutover-{}.jsonl", a.db))),
    );
    let r = drive_rollback(&ctx, &journal, |step, o, _| {
        println!("  ok  {step:<28} {:>6} ms", o.ms);
    })
    .await;
    match r {
        Ok(_) => {
            println!("{}: rolled back; the source serves and takes writes", a.db);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("  FAILED  {e}\nfix the cause and run the same command again to resume");
            Ok(ExitCode::from(1))
        }
    }
}

async fn reset(a: ResetArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    let dir = lab_dir(&a.dir, cfg);
    let seed = a.seed_rows.unwrap_or(cfg.lab.seed_rows);
    let my = MyLabState::load_if_any(&dir)?;
    match my.as_ref().filter(|m| m.pair(&a.db).is_some()) {
        Some(m) => {
            println!("{}: rebuilding the MariaDB pair ...", a.db);
            mylab::reset(m, &a.db, seed).await?;
        }
        None => {
            let state = LabState::load(&dir)?;
            check_db(&state, &a.db)?;
            println!("{}: recreating the database on both clusters ...", a.db);
            lab::reset(&state, &a.db, seed).await?;
        }
    }
    println!(
        "{}: fresh and replicating again; the service name points at the source",
        a.db
    );
    Ok(ExitCode::SUCCESS)
}

async fn workload(a: WorkloadArgs, cfg: &Config) -> anyhow::Result<ExitCode> {
    let dir = lab_dir(&a.dir, cfg);
    let pause = Duration::from_millis(cfg.lab.workload_pause_ms);
    let my = MyLabState::load_if_any(&dir)?;
    let w = match my.as_ref().and_then(|m| Some((m, m.pair(&a.db)?))) {
        Some((m, pair)) => Workload {
            engine: Engine::Mysql,
            client: format!("lab-{}", a.db),
            dns: m.dns_file(),
            dns_name: LabState::dns_name(&a.db),
            side: m.app_side(&pair.source, &a.db),
            pause,
        },
        None => {
            let state = LabState::load(&dir)?;
            check_db(&state, &a.db)?;
            Workload {
                engine: Engine::Postgres,
                client: format!("lab-{}", a.db),
                dns: state.dns_file(),
                dns_name: LabState::dns_name(&a.db),
                side: state.side(&state.source, &a.db),
                pause,
            }
        }
    };
    let running = w.start();
    let figures = super::workload::figures_file(&dir, &a.db);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let mut summary = running.summary();
        summary["at"] = serde_json::json!(chrono::Utc::now().to_rfc3339());
        let _ =
            crate::cutover::dns_provider::write_atomic(&figures, summary.to_string().as_bytes());
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    let stats = running.stop().await;
    crate::cutover::dns_provider::write_atomic(
        &super::workload::acks_file(&dir, &a.db),
        serde_json::to_string(&stats)?.as_bytes(),
    )?;
    Ok(ExitCode::SUCCESS)
}
