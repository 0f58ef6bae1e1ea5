//! One emulated DRS job: the status state machine (the status strings of the Go SDK's
//! `model_query_job_status_resp.go` and the DRS "task statuses" appendix), full-load progress at a
//! configured bandwidth, and an incremental delay that behaves like a real one. Pure code on
//! emulated seconds: state only moves when someone looks (`advance`), so 2000 idle jobs cost
//! nothing.

use crate::drs::model::{CreateJobReq, JobStatus};

/// Emulated seconds each timed step takes.
pub const CREATE_S: f64 = 20.0;
pub const STARTING_S: f64 = 15.0;
pub const FULL_COMPLETE_S: f64 = 10.0;
pub const RELEASE_S: f64 = 20.0;
pub const PRECHECK_S: f64 = 30.0;
/// Seconds of lag the replay removes per second once it catches up (it applies ~2x the source
/// write rate).
pub const CATCHUP: f64 = 1.0;
/// Lag that builds up per second of full load (changes captured while copying).
pub const BACKLOG_PER_FULL_S: f64 = 0.02;
/// Changes pile up faster than that while paused: lag grows by this per paused second.
pub const BACKLOG_PER_PAUSED_S: f64 = 0.5;
pub const MAX_BACKLOG_S: f64 = 3600.0;

/// Faults a job carries from birth (fault plan or request header).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobFaults {
    pub create_fail: bool,
    /// The source connection test fails (wrong password).
    pub connection_fail: bool,
    pub precheck_fail: bool,
    /// Full load fails once when it reaches this percent.
    pub full_load_fail_at: Option<f64>,
    /// The incremental delay grows forever.
    pub lag_stuck: bool,
    /// The first terminate (the cutover's stop) ends in RELEASE_RESOURCE_FAILED.
    pub terminate_fail: bool,
    /// Comparisons find one table with fewer rows on the target.
    pub compare_mismatch: bool,
    /// The replication instance has an EIP whatever the job's `net_type` (batch-detail
    /// `inst_info.public_ip`).
    pub eip_bound: bool,
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    /// The create request with passwords removed.
    pub req: CreateJobReq,
    pub size_mb: f64,
    pub seed: u64,
    pub status: JobStatus,
    /// When the next timed transition happens (emulated seconds), if one is pending.
    pub next_at: Option<f64>,
    pub created_at: f64,
    pub updated_at: f64,
    pub started_at: Option<f64>,
    pub full_done_mb: f64,
    pub full_since: Option<f64>,
    pub full_complete_at: Option<f64>,
    pub incr_since: Option<f64>,
    pub backlog0: f64,
    pub paused_at: Option<f64>,
    pub paused_lag: f64,
    pub writes_stopped_at: Option<f64>,
    pub precheck_started: Option<f64>,
    /// Connection tests passed (source `so`, target `ta`) and endpoints saved.
    pub source_tested: bool,
    pub target_tested: bool,
    pub db_info_stored: bool,
    pub faults: JobFaults,
    pub full_fail_fired: bool,
    pub terminate_fail_fired: bool,
    /// Code (empty when DRS gives none, only a reason) and message of the last failure.
    pub error: Option<(String, String)>,
    /// Native mode: the real databases this job moves (see `native`); `None` = simulated.
    pub native: Option<Box<super::native::NativeJob>>,
}

/// Why an action was refused, as DRS says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub msg: String,
}

fn wrong_state(status: &JobStatus) -> Refusal {
    Refusal {
        code: "DRS.M00304",
        msg: format!("This API cannot be called in the current task status. (status {status})"),
    }
}

impl Job {
    pub fn new(
        id: String,
        req: CreateJobReq,
        size_mb: f64,
        seed: u64,
        now: f64,
        faults: JobFaults,
    ) -> Job {
        Job {
            id,
            req,
            size_mb: size_mb.max(1.0),
            seed,
            status: JobStatus::Creating,
            next_at: Some(now + CREATE_S),
            created_at: now,
            updated_at: now,
            started_at: None,
            full_done_mb: 0.0,
            full_since: None,
            full_complete_at: None,
            incr_since: None,
            backlog0: 0.0,
            paused_at: None,
            paused_lag: 0.0,
            writes_stopped_at: None,
            precheck_started: None,
            source_tested: false,
            target_tested: false,
            db_info_stored: false,
            faults,
            full_fail_fired: false,
            terminate_fail_fired: false,
            error: None,
            native: None,
        }
    }

    /// Whether the status is moved by the native worker from what the servers show, not by
    /// the emulated clock (starting, transferring, releasing).
    fn worker_driven(&self) -> bool {
        self.native.is_some()
            && matches!(
                self.status,
                JobStatus::StartJobing
                    | JobStatus::FullTransferStarted
                    | JobStatus::FullTransferComplete
                    | JobStatus::ReleaseResourceStarted
            )
    }

    fn set(&mut self, status: JobStatus, at: f64) {
        self.status = status;
        self.updated_at = at;
    }

    /// Apply every timed transition due by `now`.
    pub fn advance(&mut self, now: f64, bw_mbps: f64) {
        while let Some(t) = self.next_at.filter(|t| *t <= now) {
            self.next_at = None;
            if self.worker_driven() {
                break;
            }
            match self.status {
                JobStatus::Creating => {
                    if self.faults.create_fail {
                        self.error =
                            Some(("DRS.M05066".into(), "Failed to create instance!".into()));
                        self.set(JobStatus::CreateFailed, t);
                    } else {
                        self.set(JobStatus::Configuration, t);
                    }
                }
                JobStatus::StartJobing => self.enter_transfer(t, bw_mbps),
                JobStatus::FullTransferStarted => {
                    let fail_mb = self.pending_fail_mb();
                    if let Some(mb) = fail_mb {
                        self.full_done_mb = mb;
                        self.full_since = None;
                        self.full_fail_fired = true;
                        self.error = Some((
                            String::new(),
                            "Full migration failed: source connection lost while reading table data".into(),
                        ));
                        self.set(JobStatus::FullTransferFailed, t);
                    } else {
                        self.full_done_mb = self.size_mb;
                        self.full_since = None;
                        self.full_complete_at = Some(t);
                        self.set(JobStatus::FullTransferComplete, t);
                        if self.req.task_type != "FULL_TRANS" {
                            self.next_at = Some(t + FULL_COMPLETE_S);
                        }
                    }
                }
                JobStatus::FullTransferComplete => {
                    let full_s = self.size_mb / bw_mbps.max(0.001);
                    self.backlog0 = (full_s * BACKLOG_PER_FULL_S + 5.0).min(MAX_BACKLOG_S);
                    self.incr_since = Some(t);
                    self.set(JobStatus::IncreTransferStarted, t);
                }
                JobStatus::ReleaseResourceStarted => {
                    if self.faults.terminate_fail && !self.terminate_fail_fired {
                        self.terminate_fail_fired = true;
                        self.error = Some((
                            String::new(),
                            "Failed to release resources: triggers and events could not be migrated to the destination".into(),
                        ));
                        self.set(JobStatus::ReleaseResourceFailed, t);
                    } else {
                        self.error = None;
                        self.set(JobStatus::ReleaseResourceComplete, t);
                    }
                }
                _ => {}
            }
        }
    }

    fn pending_fail_mb(&self) -> Option<f64> {
        match self.faults.full_load_fail_at {
            Some(p) if !self.full_fail_fired => Some(self.size_mb * p.clamp(0.0, 100.0) / 100.0),
            _ => None,
        }
    }

    fn enter_transfer(&mut self, t: f64, bw: f64) {
        self.error = None;
        if self.req.task_type == "INCR_TRANS" || self.full_done_mb >= self.size_mb {
            self.incr_since = Some(t);
            self.set(JobStatus::IncreTransferStarted, t);
            return;
        }
        self.full_since = Some(t);
        self.set(JobStatus::FullTransferStarted, t);
        let target = self
            .pending_fail_mb()
            .filter(|mb| *mb >= self.full_done_mb)
            .unwrap_or(self.size_mb);
        self.next_at = Some(t + (target - self.full_done_mb).max(0.0) / bw.max(0.001));
    }

    /// Full-load percent at `now` (0–100).
    pub fn full_pct(&self, now: f64, bw: f64) -> f64 {
        let done = match self.full_since {
            Some(s) if self.status == JobStatus::FullTransferStarted => {
                self.full_done_mb + (now - s).max(0.0) * bw
            }
            _ => self.full_done_mb,
        };
        (done / self.size_mb * 100.0).clamp(0.0, 100.0)
    }

    /// Seconds of full load left at the configured bandwidth.
    pub fn remaining_s(&self, now: f64, bw: f64) -> f64 {
        let pct = self.full_pct(now, bw);
        self.size_mb * (100.0 - pct) / 100.0 / bw.max(0.001)
    }

    /// Incremental delay in seconds at `now`; `None` outside the incremental phase (DRS: -1).
    pub fn lag_s(&self, now: f64) -> Option<f64> {
        if self.status != JobStatus::IncreTransferStarted {
            return None;
        }
        let since = self.incr_since?;
        let t = (now - since).max(0.0);
        if self.faults.lag_stuck {
            return Some(self.backlog0 + 5.0 + 0.5 * t);
        }
        match self.writes_stopped_at {
            Some(w) if w <= now => {
                let at_stop = natural_lag(self.seed, self.backlog0, (w - since).max(0.0));
                Some((at_stop - CATCHUP * (now - w)).max(0.0))
            }
            _ => Some(natural_lag(self.seed, self.backlog0, t)),
        }
    }

    // ---------- actions ----------

    /// Connection test of one side (`so` or `ta`); only while the job is being configured.
    pub fn test_connection(&mut self, side: &str) -> Result<(), Refusal> {
        if self.status != JobStatus::Configuration {
            return Err(wrong_state(&self.status));
        }
        let ok = !(self.faults.connection_fail && side == "so");
        match side {
            "so" => self.source_tested = ok,
            "ta" => self.target_tested = ok,
            _ => {
                return Err(Refusal {
                    code: "DRS.M00202",
                    msg: "The value of parameter end_point_type is invalid.".into(),
                })
            }
        }
        if ok {
            Ok(())
        } else {
            Err(Refusal {
                code: "DRS.KE0002",
                msg: "The username or password is incorrect.".into(),
            })
        }
    }

    /// `store_db_info: true`: keep the tested endpoints. Needs both tests passed.
    pub fn store_db_info(&mut self) -> Result<(), Refusal> {
        if self.status != JobStatus::Configuration {
            return Err(wrong_state(&self.status));
        }
        if !(self.source_tested && self.target_tested) {
            return Err(Refusal {
                code: "DRS.M00304",
                msg: "This API cannot be called in the current task status. (test the source and destination connections first: batch-connection)".into(),
            });
        }
        self.db_info_stored = true;
        Ok(())
    }

    pub fn precheck(&mut self, now: f64) -> Result<(), Refusal> {
        if self.status == JobStatus::Configuration && !self.db_info_stored {
            return Err(Refusal {
                code: "DRS.M00304",
                msg: "This API cannot be called in the current task status. (test the connections and save the database information first: batch-connection, then batch-modification with store_db_info)".into(),
            });
        }
        match self.status {
            JobStatus::Configuration
            | JobStatus::FullTransferFailed
            | JobStatus::IncreTransferFailed => {
                self.precheck_started = Some(now);
                Ok(())
            }
            _ => Err(wrong_state(&self.status)),
        }
    }

    /// Pre-check progress (0–100) and whether it passed, or `None` if none was started.
    pub fn precheck_state(&self, now: f64) -> Option<(u32, bool)> {
        let s = self.precheck_started?;
        let pct = (((now - s) / PRECHECK_S) * 100.0).clamp(0.0, 100.0) as u32;
        Some((pct, pct == 100 && !self.faults.precheck_fail))
    }

    pub fn start(&mut self, now: f64) -> Result<(), Refusal> {
        if self.status != JobStatus::Configuration {
            return Err(wrong_state(&self.status));
        }
        match self.precheck_state(now) {
            Some((100, true)) => {}
            _ => {
                return Err(Refusal {
                    code: "DRS.M00304",
                    msg: "This API cannot be called in the current task status. (the pre-check has not passed)".into(),
                })
            }
        }
        self.started_at = Some(now);
        self.set(JobStatus::StartJobing, now);
        self.next_at = Some(now + STARTING_S);
        Ok(())
    }

    pub fn pause(&mut self, now: f64, bw: f64) -> Result<(), Refusal> {
        match self.status {
            JobStatus::FullTransferStarted => {
                self.full_done_mb = self.size_mb * self.full_pct(now, bw) / 100.0;
                self.full_since = None;
            }
            JobStatus::IncreTransferStarted => {
                self.paused_lag = self.lag_s(now).unwrap_or(0.0);
            }
            JobStatus::FullTransferFailed
            | JobStatus::FullTransferComplete
            | JobStatus::IncreTransferFailed => {}
            _ => return Err(wrong_state(&self.status)),
        }
        self.next_at = None;
        self.paused_at = Some(now);
        self.set(JobStatus::Pausing, now);
        Ok(())
    }

    /// Resume a paused job or retry a failed one.
    pub fn resume(&mut self, now: f64) -> Result<(), Refusal> {
        match self.status {
            JobStatus::Pausing
            | JobStatus::FullTransferFailed
            | JobStatus::IncreTransferFailed
            | JobStatus::StartJobFailed => {}
            _ => return Err(wrong_state(&self.status)),
        }
        if let Some(p) = self.paused_at.take() {
            if self.full_done_mb >= self.size_mb {
                self.backlog0 =
                    (self.paused_lag + (now - p) * BACKLOG_PER_PAUSED_S).min(MAX_BACKLOG_S);
            }
        }
        self.set(JobStatus::StartJobing, now);
        self.next_at = Some(now + STARTING_S);
        Ok(())
    }

    pub fn terminate(&mut self, now: f64) -> Result<(), Refusal> {
        match self.status {
            JobStatus::Creating
            | JobStatus::Configuration
            | JobStatus::WaitingForStart
            | JobStatus::FullTransferStarted
            | JobStatus::FullTransferFailed
            | JobStatus::FullTransferComplete
            | JobStatus::IncreTransferStarted
            | JobStatus::IncreTransferFailed
            | JobStatus::Pausing
            | JobStatus::RebuildNodeStarted
            | JobStatus::ReleaseResourceFailed => {
                self.set(JobStatus::ReleaseResourceStarted, now);
                self.next_at = Some(now + RELEASE_S);
                Ok(())
            }
            _ => Err(wrong_state(&self.status)),
        }
    }

    pub fn delete(&mut self, now: f64) -> Result<(), Refusal> {
        match self.status {
            JobStatus::CreateFailed | JobStatus::ReleaseResourceComplete => {
                self.next_at = None;
                self.set(JobStatus::Deleted, now);
                Ok(())
            }
            _ => Err(Refusal {
                code: "DRS.M01504",
                msg: format!("Another operation is being performed on the migration task or the migration task is abnormal. (status {}; terminate it first)", self.status),
            }),
        }
    }

    pub fn set_source_writes(&mut self, active: bool, now: f64) {
        if active {
            // Writes resume: what had not drained yet is the new backlog.
            if self.writes_stopped_at.is_some() {
                self.backlog0 = self.lag_s(now).unwrap_or(0.0);
                self.incr_since = self.incr_since.map(|_| now);
            }
            self.writes_stopped_at = None;
        } else if self.writes_stopped_at.is_none() {
            self.writes_stopped_at = Some(now);
        }
    }

    /// Counts against the concurrent-job quota.
    pub fn holds_quota(&self) -> bool {
        !self.status.is_finished()
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The delay a job shows `t` seconds into its incremental phase while the source keeps writing:
/// the initial backlog draining, then occasional spikes (a batch job, a big transaction) that
/// rise in ~20 s and drain at the catch-up rate, over a small jitter that is often exactly 0.
pub fn natural_lag(seed: u64, backlog0: f64, t: f64) -> f64 {
    let initial = (backlog0 - CATCHUP * t).max(0.0);
    let period = 600.0 + (splitmix(seed) % 600) as f64;
    let offset = (splitmix(seed ^ 1) % 600) as f64;
    let shifted = t + offset;
    let k = (shifted / period).floor() as u64;
    let u = shifted - k as f64 * period;
    let h = splitmix(seed ^ k.wrapping_mul(0x1000_0001));
    let spike = if h.is_multiple_of(3) {
        0.0
    } else {
        let height = 5.0 + (h % 55) as f64;
        if u < 20.0 {
            height * u / 20.0
        } else {
            (height - CATCHUP * (u - 20.0)).max(0.0)
        }
    };
    let j = splitmix(seed ^ ((t / 5.0).floor() as u64).wrapping_mul(0x2545_F491)) % 100;
    let jitter = if j < 40 { 0.0 } else { (j - 40) as f64 / 40.0 };
    initial + spike + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(size_mb: f64, faults: JobFaults) -> Job {
        let req = CreateJobReq {
            name: "wd-t".into(),
            task_type: "FULL_INCR_TRANS".into(),
            ..Default::default()
        };
        Job::new("id".into(), req, size_mb, 7, 0.0, faults)
    }

    fn configure(j: &mut Job) {
        j.test_connection("so").unwrap();
        j.test_connection("ta").unwrap();
        j.store_db_info().unwrap();
    }

    #[test]
    fn precheck_needs_tested_and_stored_endpoints() {
        let mut j = job(10.0, JobFaults::default());
        j.advance(CREATE_S, 100.0);
        assert_eq!(j.precheck(CREATE_S).unwrap_err().code, "DRS.M00304");
        j.test_connection("so").unwrap();
        assert!(j.store_db_info().is_err());
        j.test_connection("ta").unwrap();
        j.store_db_info().unwrap();
        j.precheck(CREATE_S).unwrap();
        let mut bad = job(
            10.0,
            JobFaults {
                connection_fail: true,
                ..Default::default()
            },
        );
        bad.advance(CREATE_S, 100.0);
        assert_eq!(bad.test_connection("so").unwrap_err().code, "DRS.KE0002");
    }

    fn started(size_mb: f64, faults: JobFaults) -> Job {
        let mut j = job(size_mb, faults);
        j.advance(CREATE_S, 100.0);
        assert_eq!(j.status, JobStatus::Configuration);
        configure(&mut j);
        j.precheck(CREATE_S).unwrap();
        let t = CREATE_S + PRECHECK_S;
        assert_eq!(j.precheck_state(t), Some((100, true)));
        j.start(t).unwrap();
        j
    }

    #[test]
    fn full_lifecycle_follows_drs_statuses() {
        let mut j = started(1000.0, JobFaults::default());
        let t0 = CREATE_S + PRECHECK_S;
        assert_eq!(j.status, JobStatus::StartJobing);
        j.advance(t0 + STARTING_S + 5.0, 100.0);
        assert_eq!(j.status, JobStatus::FullTransferStarted);
        assert!((j.full_pct(t0 + STARTING_S + 5.0, 100.0) - 50.0).abs() < 1e-9);
        assert_eq!(j.lag_s(t0 + STARTING_S + 5.0), None);
        j.advance(t0 + STARTING_S + 10.0, 100.0);
        assert_eq!(j.status, JobStatus::FullTransferComplete);
        let incr = t0 + STARTING_S + 10.0 + FULL_COMPLETE_S;
        j.advance(incr, 100.0);
        assert_eq!(j.status, JobStatus::IncreTransferStarted);
        assert!(j.lag_s(incr).unwrap() >= 5.0, "initial backlog");
        j.terminate(incr + 100.0).unwrap();
        j.advance(incr + 100.0 + RELEASE_S, 100.0);
        assert_eq!(j.status, JobStatus::ReleaseResourceComplete);
        assert!(!j.holds_quota());
        j.delete(incr + 200.0).unwrap();
        assert_eq!(j.status, JobStatus::Deleted);
    }

    #[test]
    fn one_big_jump_applies_every_due_transition() {
        let mut j = started(100.0, JobFaults::default());
        j.advance(10_000.0, 100.0);
        assert_eq!(j.status, JobStatus::IncreTransferStarted);
        assert_eq!(j.full_pct(10_000.0, 100.0), 100.0);
    }

    #[test]
    fn start_needs_a_passed_precheck() {
        let mut j = job(10.0, JobFaults::default());
        j.advance(CREATE_S, 100.0);
        assert_eq!(j.start(CREATE_S).unwrap_err().code, "DRS.M00304");
        let mut f = job(
            10.0,
            JobFaults {
                precheck_fail: true,
                ..Default::default()
            },
        );
        f.advance(CREATE_S, 100.0);
        configure(&mut f);
        f.precheck(CREATE_S).unwrap();
        assert_eq!(f.precheck_state(CREATE_S + PRECHECK_S), Some((100, false)));
        assert!(f.start(CREATE_S + PRECHECK_S).is_err());
    }

    #[test]
    fn full_load_fault_fails_once_then_retry_completes() {
        let mut j = started(
            1000.0,
            JobFaults {
                full_load_fail_at: Some(40.0),
                ..Default::default()
            },
        );
        j.advance(1000.0, 100.0);
        assert_eq!(j.status, JobStatus::FullTransferFailed);
        assert!((j.full_pct(1000.0, 100.0) - 40.0).abs() < 1e-9);
        assert!(j.error.is_some());
        j.resume(1000.0).unwrap();
        j.advance(1000.0 + STARTING_S, 100.0);
        assert_eq!(j.status, JobStatus::FullTransferStarted);
        j.advance(1000.0 + STARTING_S + 6.0, 100.0);
        assert_eq!(j.status, JobStatus::FullTransferComplete);
    }

    #[test]
    fn pause_keeps_progress_and_resume_continues() {
        let mut j = started(1000.0, JobFaults::default());
        let t = CREATE_S + PRECHECK_S + STARTING_S;
        j.advance(t + 3.0, 100.0);
        j.pause(t + 3.0, 100.0).unwrap();
        assert_eq!(j.status, JobStatus::Pausing);
        assert!((j.full_pct(t + 500.0, 100.0) - 30.0).abs() < 1e-9);
        j.resume(t + 500.0).unwrap();
        j.advance(t + 500.0 + STARTING_S + 1.0, 100.0);
        assert!((j.full_pct(t + 500.0 + STARTING_S + 1.0, 100.0) - 40.0).abs() < 1e-9);
    }

    #[test]
    fn lag_settles_to_zero_after_writes_stop_and_stuck_lag_grows() {
        let mut j = started(100.0, JobFaults::default());
        j.advance(200.0, 100.0);
        assert_eq!(j.status, JobStatus::IncreTransferStarted);
        j.set_source_writes(false, 5000.0);
        let at_stop = j.lag_s(5000.0).unwrap();
        assert_eq!(j.lag_s(5000.0 + at_stop + 1.0), Some(0.0));
        assert_eq!(j.lag_s(99_999.0), Some(0.0));

        let mut s = started(
            100.0,
            JobFaults {
                lag_stuck: true,
                ..Default::default()
            },
        );
        s.advance(200.0, 100.0);
        s.set_source_writes(false, 300.0);
        assert!(s.lag_s(10_000.0).unwrap() > s.lag_s(1_000.0).unwrap());
    }

    #[test]
    fn natural_lag_spikes_and_returns_near_zero() {
        let samples: Vec<f64> = (0..20_000)
            .map(|i| natural_lag(42, 30.0, i as f64))
            .collect();
        let max = samples.iter().cloned().fold(0.0, f64::max);
        let zeros = samples.iter().filter(|v| **v == 0.0).count();
        assert!(max > 5.0, "spikes happen: {max}");
        assert!(zeros > 1000, "often exactly caught up: {zeros}");
        assert!(
            samples[0] >= 30.0 && samples[100] < samples[0],
            "initial backlog drains"
        );
    }

    #[test]
    fn terminate_fault_fails_once_and_can_be_retried() {
        let mut j = started(
            10.0,
            JobFaults {
                terminate_fail: true,
                ..Default::default()
            },
        );
        j.advance(500.0, 100.0);
        j.terminate(500.0).unwrap();
        j.advance(500.0 + RELEASE_S, 100.0);
        assert_eq!(j.status, JobStatus::ReleaseResourceFailed);
        assert!(j.delete(600.0).is_err());
        j.terminate(600.0).unwrap();
        j.advance(600.0 + RELEASE_S, 100.0);
        assert_eq!(j.status, JobStatus::ReleaseResourceComplete);
    }

    #[test]
    fn create_fault_ends_in_create_failed_which_frees_quota() {
        let mut j = job(
            10.0,
            JobFaults {
                create_fail: true,
                ..Default::default()
            },
        );
        assert!(j.holds_quota());
        j.advance(CREATE_S, 100.0);
        assert_eq!(j.status, JobStatus::CreateFailed);
        assert!(!j.holds_quota());
    }
}
