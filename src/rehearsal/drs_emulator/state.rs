//! The emulator's state: its clock, its jobs and compare tasks, the keys it accepts, and the
//! gateway's token bucket. A leaf below the server, the native workers and the handle, which all
//! reach it (it uses none of them), so the folder has no import circle.

use super::faults::FaultState;
use super::job::Job;
use crate::rehearsal::dns_emulator as dns;
use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;
use std::time::Instant;

/// The subnet (here, below the server and cloud.rs that name it) a DRS job is placed in when the config points at the emulator and names none.
pub const EMULATED_SUBNET_ID: &str = "subnet-wavedeck-emulator";

/// Emulated time: real time since start times the speed factor.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    epoch_ms0: i64,
    speed: f64,
}

impl Clock {
    pub fn new(speed: f64) -> Clock {
        Clock {
            start: Instant::now(),
            epoch_ms0: chrono::Utc::now().timestamp_millis(),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }
    /// Emulated seconds since the emulator started.
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * self.speed
    }
    /// Emulated wall time as epoch milliseconds.
    pub fn epoch_ms(&self, t: f64) -> i64 {
        self.epoch_ms0 + (t * 1000.0) as i64
    }
}

#[derive(Debug, Clone)]
pub struct CompareTask {
    pub id: String,
    /// `object`, `lines` or `contents`.
    pub kind: String,
    pub created_at: f64,
    pub done_at: f64,
    /// (database, table, rows)
    pub tables: Vec<(String, String, i64)>,
    pub mismatch: bool,
    pub cancelled: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub jobs: HashMap<String, Job>,
    /// Job ids in creation order (the list API pages through this).
    pub order: Vec<String>,
    /// Name of each job not deleted, to its id.
    pub by_name: HashMap<String, String>,
    pub compares: HashMap<String, Vec<CompareTask>>,
    pub next_seed: u64,
    pub bucket: f64,
    pub bucket_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub(super) struct AkFailures {
    consecutive: u32,
    locked_until: Option<Instant>,
}

pub(crate) struct Emulator {
    pub project_id: String,
    pub clock: Clock,
    pub bandwidth_mbps: f64,
    pub quota: u32,
    pub rate_limit_rps: f64,
    pub(super) keys: Mutex<HashMap<String, Secret>>,
    /// Temporary access keys and the security token each must come with.
    pub(super) security_tokens: Mutex<HashMap<String, Secret>>,
    pub(super) token: Secret,
    pub state: Mutex<State>,
    pub faults: Mutex<FaultState>,
    pub dns: Mutex<dns::Zones>,
    pub(super) ak_failures: Mutex<HashMap<String, AkFailures>>,
    pub requests: AtomicU64,
    /// Requests that passed the signature check, by access key.
    pub(super) signed_by: Mutex<HashMap<String, u64>>,
    /// `http://ADDR` this emulator listens on, for the links its answers carry.
    pub base_url: String,
    /// Native mode: PostgreSQL and MySQL jobs move real data (see [`native`]).
    pub native: bool,
    /// Grace write sessions get when the native source-writes switch drains a source.
    pub drain_grace: std::time::Duration,
    /// Set when the handle stops the server: native workers exit.
    pub stopping: AtomicBool,
    /// How long a request's headers or body may stall before the client is cut off.
    pub client_stall: std::time::Duration,
    /// RDS instances restored from backups (the restore tests).
    pub restores: Mutex<Restores>,
}

/// After this many consecutive bad signatures an access key is locked (like the gateway).
const AK_LOCK_AFTER: u32 = 5;
const AK_LOCK_FOR: std::time::Duration = std::time::Duration::from_secs(300);

impl Emulator {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn secret_for(&self, ak: &str) -> Option<Secret> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ak)
            .cloned()
    }

    /// The security token a temporary access key must be sent with, if it is one.
    pub(crate) fn security_token_for(&self, ak: &str) -> Option<Secret> {
        self.security_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ak)
            .cloned()
    }

    pub(super) fn ak_locked(&self, ak: &str) -> bool {
        let map = self.ak_failures.lock().unwrap_or_else(|e| e.into_inner());
        map.get(ak)
            .and_then(|f| f.locked_until)
            .is_some_and(|t| Instant::now() < t)
    }

    pub(super) fn record_ak(&self, ak: &str, ok: bool) {
        if ok {
            *self
                .signed_by
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(ak.to_string())
                .or_default() += 1;
        }
        let mut map = self.ak_failures.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.entry(ak.to_string()).or_default();
        if ok {
            f.consecutive = 0;
            f.locked_until = None;
        } else {
            f.consecutive += 1;
            if f.consecutive >= AK_LOCK_AFTER {
                f.locked_until = Some(Instant::now() + AK_LOCK_FOR);
                f.consecutive = 0;
            }
        }
    }

    /// Token bucket of the emulated gateway; true if the request may pass.
    pub(super) fn admit(&self) -> bool {
        if self.rate_limit_rps <= 0.0 {
            return true;
        }
        let mut st = self.lock();
        let now = Instant::now();
        let elapsed = st
            .bucket_at
            .map(|t| now.duration_since(t).as_secs_f64())
            .unwrap_or(1.0);
        st.bucket = (st.bucket + elapsed * self.rate_limit_rps).min(self.rate_limit_rps.max(1.0));
        st.bucket_at = Some(now);
        if st.bucket >= 1.0 {
            st.bucket -= 1.0;
            true
        } else {
            false
        }
    }
}

// The restore tests' instances live here, beside the rest of the emulator's state, so that
// rds_restore.rs (which serves them) and this leaf do not import each other.
/// One restored instance.
#[derive(Clone, Debug)]
pub struct Restored {
    pub id: String,
    pub name: String,
    pub from: String,
    pub status: String,
    pub engine: crate::inventory::Engine,
    pub target: crate::cutover::side::Side,
    pub deleted: bool,
    pub flavor_ref: String,
    pub volume: crate::cloud::model::Volume,
    pub availability_zone: String,
    /// When the restore began, as RDS writes times (`created` and `updated`).
    pub created: String,
}

#[derive(Debug, Default)]
pub struct Restores {
    pub by_id: std::collections::BTreeMap<String, Restored>,
    /// `DeleteInstance` calls that deleted a restored instance, by its name.
    pub deletes: std::collections::BTreeMap<String, u32>,
    pub(super) next: u64,
}
