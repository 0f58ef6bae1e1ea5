//! The DRS emulator: an HTTP server on loopback that speaks the DRS v3 REST API (same paths,
//! bodies, status strings and error bodies), checks AK/SK signatures like the API gateway, and
//! runs every job through DRS's state machine on a compressible clock. It is the stand-in for
//! rehearsals, the demo and the tests; state is in memory.
//!
//! Job size: the emulator reads the `wavedeck-size-mb` tag of the create request (the client
//! sets it from the inventory's `size_gb`); a job without it is 1024 MB. Full load runs at
//! `emulator.job_bandwidth_mbps`; `emulator.speed` compresses time.
//!
//! Like DRS, a job accepts its pre-check only after both connection tests passed and the
//! endpoints were saved (`batch-connection` so/ta, then `batch-modification` with
//! `store_db_info: true`; `DrsClient::prepare_jobs` does both plus object selection), and
//! starts only after a passed pre-check. Timed steps (emulated seconds): creating 20,
//! pre-check 30, starting 15, full load size/bandwidth, full-complete 10, stopping 20.
//! Passwords in requests are used for nothing and dropped on arrival.
//!
//! Native mode (`emulator.native`, `wavedeck emulator --native`, what `wavedeck lab up` runs):
//! PostgreSQL jobs move real data with logical replication, MySQL jobs (MariaDB servers) with a
//! consistent copy and GTID replication, and report what the servers show; see [`native`]. Passwords are then kept in memory to reach the databases, never echoed.

pub mod cloud;
pub mod cmd;
pub mod faults;
pub mod job;
pub mod native;
pub mod rds_restore;
pub mod restore;
mod serve;
mod server;
mod state;

use crate::config::Config;
use crate::drs::auth::Auth;
use crate::drs::client::DrsClient;
use crate::drs::error::DrsError;
use crate::rehearsal::dns_emulator as dns;
use crate::secret::Secret;
use faults::{FaultPlan, FaultState};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use state::{Clock, CompareTask, EMULATED_SUBNET_ID};
pub(crate) use state::{Emulator, State};

/// Project id the emulator serves when the config has none.
pub const DEFAULT_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    pub addr: SocketAddr,
    pub project_id: String,
    auth: Auth,
    token: Secret,
    emu: Arc<Emulator>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `cfg` pointed at this emulator (endpoint and project id, and the emulated network
    /// where `cfg` names none: see [`emulated_network`]).
    pub fn client_config(&self, cfg: &Config) -> Config {
        let mut c = cfg.clone();
        c.drs.endpoint = self.base_url();
        // The emulator serves the RDS and VPC reads of the exposure pre-check too.
        c.drs.rds_endpoint = self.base_url();
        c.drs.vpc_endpoint = self.base_url();
        c.drs.project_id = self.project_id.clone();
        // A restored instance is a new database named after it on the target's cluster.
        c.restore_test.copy_named_after_instance = true;
        emulated_network(&mut c.drs);
        c
    }

    /// How many times `DeleteInstance` deleted the restored instance of this name.
    pub fn restore_deletes(&self, name: &str) -> u32 {
        let r = self.emu.restores.lock().unwrap_or_else(|e| e.into_inner());
        r.deletes.get(name).copied().unwrap_or(0)
    }

    /// Names of the restored instances not deleted.
    pub fn restored_instances(&self) -> Vec<String> {
        let r = self.emu.restores.lock().unwrap_or_else(|e| e.into_inner());
        r.by_id
            .values()
            .filter(|x| !x.deleted)
            .map(|x| x.name.clone())
            .collect()
    }

    /// The AK/SK this emulator accepts.
    pub fn auth(&self) -> Auth {
        self.auth.clone()
    }

    /// A new set of temporary credentials this emulator accepts from now on (with their
    /// security token only), expiring at `expires_at`.
    pub fn issue_temporary(
        &self,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> crate::drs::auth::TemporaryKey {
        let key = crate::drs::auth::TemporaryKey {
            ak: Secret::new(random_key(20)),
            sk: Secret::new(random_key(40)),
            token: Secret::new(random_key(120)),
            expires_at,
        };
        let ak = key.ak.expose().to_string();
        self.emu
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ak.clone(), key.sk.clone());
        self.emu
            .security_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ak, key.token.clone());
        key
    }

    /// Refuse a temporary access key from now on, as IAM does once it expires or is replaced.
    pub fn revoke_temporary(&self, ak: &str) {
        self.emu
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ak);
        self.emu
            .security_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ak);
    }

    /// Requests signed with access key `ak` that passed the signature check so far.
    pub fn requests_signed_by(&self, ak: &str) -> u64 {
        self.emu
            .signed_by
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ak)
            .copied()
            .unwrap_or(0)
    }

    /// The IAM token this emulator accepts.
    pub fn token_auth(&self) -> Auth {
        Auth::Token(self.token.clone())
    }

    /// A signing client for this emulator.
    pub fn client(&self, cfg: &Config) -> Result<DrsClient, DrsError> {
        DrsClient::new(&self.client_config(cfg), self.auth())
    }

    /// Replace the fault plan (rehearsals, tests).
    pub fn set_faults(&self, plan: FaultPlan) {
        *self.emu.faults.lock().unwrap_or_else(|e| e.into_inner()) = FaultState::new(plan);
    }

    /// Create a DNS record set in a private zone (what an operator does before the night).
    pub fn dns_create(
        &self,
        zone_id: &str,
        name: &str,
        kind: &str,
        records: &[&str],
        ttl: u32,
    ) -> Result<String, String> {
        let now = self.emu.clock.now();
        let req = dns::RecordSetReq {
            name: Some(name.to_string()),
            kind: Some(kind.to_string()),
            ttl: Some(ttl),
            records: Some(records.iter().map(|s| s.to_string()).collect()),
            description: None,
        };
        self.emu
            .dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .create(zone_id, req, now, String::new())
            .map(|r| r.id)
            .map_err(|e| format!("{}: {}", e.code, e.message))
    }

    /// A DNS record set as the emulator holds it now (tests check what a switch stored).
    pub fn dns_record(&self, zone_id: &str, id: &str) -> Option<dns::RecordSet> {
        let now = self.emu.clock.now();
        self.emu
            .dns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(zone_id, id, now)
            .ok()
    }

    /// Requests received so far (including refused ones).
    pub fn requests_served(&self) -> u64 {
        self.emu.requests.load(Ordering::Relaxed)
    }

    /// Jobs currently holding quota.
    pub fn active_jobs(&self) -> usize {
        self.emu
            .lock()
            .jobs
            .values()
            .filter(|j| j.holds_quota())
            .count()
    }

    /// Whether jobs move real data (native mode).
    pub fn is_native(&self) -> bool {
        self.emu.native
    }

    /// Stop the server and wait for it.
    pub async fn shutdown(mut self) {
        self.emu.stopping.store(true, Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.emu.stopping.store(true, Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Give a config pointed at the emulator the subnet DRS requires (batch-creation
/// `customize_sutnet_id` is mandatory, and the emulator refuses a create without it as DRS
/// does): the emulator has no VPC, so any id stands for its network. A subnet the config
/// names is kept.
pub fn emulated_network(drs: &mut crate::config::DrsConfig) {
    if drs.subnet_id.trim().is_empty() {
        drs.subnet_id = EMULATED_SUBNET_ID.to_string();
    }
}

fn random_key(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// Start an emulator on `addr` (loopback only; port 0 picks a free one).
///
/// It accepts the AK/SK the config resolves (`drs.ak_env`/`sk_env`/`credentials_file`), so a
/// `wavedeck run` in the same environment talks to it unchanged; without configured keys it
/// makes up a pair, available through [`EmulatorHandle::auth`] for in-process clients.
pub async fn spawn(cfg: &Config, addr: SocketAddr) -> anyhow::Result<EmulatorHandle> {
    let auth = match Auth::from_config(&crate::config::DrsConfig {
        auth: crate::config::DrsAuth::AkSk,
        ..cfg.drs.clone()
    }) {
        Ok(a) => a,
        Err(_) => Auth::aksk(random_key(20), random_key(40)),
    };
    spawn_with(cfg, addr, auth).await
}

/// Like [`spawn`], accepting exactly the given AK/SK.
pub async fn spawn_with(
    cfg: &Config,
    addr: SocketAddr,
    auth: Auth,
) -> anyhow::Result<EmulatorHandle> {
    if !addr.ip().is_loopback() {
        anyhow::bail!(
            "the DRS emulator listens on loopback only; {addr} is not (use 127.0.0.1:PORT)"
        );
    }
    let (ak, sk, security_token) = match auth.signing_key() {
        Ok(Some(k)) => k,
        _ => anyhow::bail!("the emulator needs an AK/SK pair to verify signatures"),
    };
    let plan = match &cfg.emulator.faults_file {
        Some(p) => FaultPlan::load(p)?,
        None => FaultPlan::default(),
    };
    let token = match std::env::var(&cfg.drs.token_env) {
        Ok(t) if !t.trim().is_empty() => Secret::new(t.trim()),
        _ => Secret::new(random_key(64)),
    };
    let project_id = if cfg.drs.project_id.trim().is_empty() {
        DEFAULT_PROJECT_ID.to_string()
    } else {
        cfg.drs.project_id.trim().to_string()
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e} (is the port in use?)"))?;
    let local = listener.local_addr()?;
    let emu = Arc::new(Emulator {
        base_url: format!("http://{local}"),
        project_id: project_id.clone(),
        clock: Clock::new(cfg.emulator.speed),
        bandwidth_mbps: if cfg.emulator.job_bandwidth_mbps > 0.0 {
            cfg.emulator.job_bandwidth_mbps
        } else {
            100.0
        },
        quota: cfg.emulator.quota,
        rate_limit_rps: cfg.emulator.rate_limit_rps,
        keys: Mutex::new(
            [(ak.expose().to_string(), sk.clone())]
                .into_iter()
                .collect(),
        ),
        security_tokens: Mutex::new(
            security_token
                .map(|t| (ak.expose().to_string(), t))
                .into_iter()
                .collect(),
        ),
        token: token.clone(),
        state: Mutex::new(State::default()),
        faults: Mutex::new(FaultState::new(plan)),
        dns: Mutex::new(dns::Zones::default()),
        ak_failures: Mutex::new(HashMap::new()),
        requests: AtomicU64::new(0),
        signed_by: Mutex::new(HashMap::new()),
        native: cfg.emulator.native,
        drain_grace: std::time::Duration::from_secs(cfg.thresholds.drain_grace_s.into()),
        stopping: AtomicBool::new(false),
        client_stall: std::time::Duration::from_secs(cfg.emulator.client_stall_s.max(1).into()),
        restores: Mutex::new(Default::default()),
    });
    let app = server::router(emu.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stall = emu.client_stall;
    let task = tokio::spawn(serve::serve(listener, app, stall, rx));
    tracing::info!(addr = %local, project_id = %project_id, "DRS emulator listening");
    Ok(EmulatorHandle {
        addr: local,
        project_id,
        auth,
        token,
        emu,
        shutdown: Some(tx),
        task: Some(task),
    })
}
