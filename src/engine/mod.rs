//! The engine: the tokio runtime that drives every database of every started wave through its
//! stages, and the only writer of events. See DESIGN.md.
//!
//! - [`brain`]: every decision, pure (admission, stage work, retries, commands, resume).
//! - [`runtime`]: the loop that feeds the brain from the store, DRS and the checks, and writes
//!   its events; [`spawn`] starts it, [`EngineHandle::shutdown`] stops it.
//! - Pure helpers: [`backoff`], [`classify`], [`admission`], [`poll_plan`].

pub mod admission;
pub mod backoff;
pub mod brain;
pub mod classify;
pub mod cmd;
pub mod effects;
pub mod poll_plan;
pub mod runtime;
pub mod scripted;
pub mod stats;

pub use effects::drs_jobs::precheck_seen;
pub use runtime::{spawn, EngineHandle};

/// The engine's limits as `wavedeck status --json` prints them (README, "status --json").
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub drs_concurrency: u32,
    pub wave_concurrency: u32,
    pub validation_capacity: u32,
    pub bandwidth_gbps: f64,
    /// `None` (JSON null) when nothing bounds full loads at once.
    pub full_loads_at_once: Option<usize>,
    pub job_bandwidth_mbps: f64,
    pub checks: crate::config::ChecksMode,
}

/// The engine's limits in one line, for `wavedeck status` (text), and as its JSON.
pub fn limits_summary(cfg: &crate::config::Config) -> (String, Limits) {
    let caps = admission::Caps::from_limits(&cfg.limits, cfg.engine.job_bandwidth_mbps);
    let checks = match cfg.engine.checks {
        crate::config::ChecksMode::Drs => "drs",
        crate::config::ChecksMode::Sql => "sql",
        crate::config::ChecksMode::Both => "both",
    };
    let text = format!(
        "engine limits: {} · checks {checks}",
        caps.describe(&cfg.limits, cfg.engine.job_bandwidth_mbps)
    );
    let limits = Limits {
        drs_concurrency: cfg.limits.drs_concurrency,
        wave_concurrency: cfg.limits.wave_concurrency,
        validation_capacity: cfg.limits.validation_capacity,
        bandwidth_gbps: cfg.limits.bandwidth_gbps,
        full_loads_at_once: (caps.full_loads != usize::MAX).then_some(caps.full_loads),
        job_bandwidth_mbps: cfg.engine.job_bandwidth_mbps,
        checks: cfg.engine.checks,
    };
    (text, limits)
}
