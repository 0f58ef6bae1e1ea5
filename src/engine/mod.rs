//! The engine: the tokio runtime that drives every database of every started wave through its
//! stages, and the only writer of events. See DESIGN.md.
//!
//! - [`brain`]: every decision, pure (admission, stage work, retries, commands, resume).
//! - [`runtime`]: the loop that feeds the brain from the store, DRS and the checks, and writes
//!   its events; [`spawn`] starts it, [`EngineHandle::shutdown`] stops it.
//! - Pure helpers: [`backoff`], [`classify`], [`admission`], [`poll`].

pub mod admission;
pub mod backoff;
mod batch;
pub mod bench;
pub mod brain;
pub mod classify;
pub mod cmd;
mod cut;
mod dns;
pub mod poll;
pub mod poller;
pub mod runtime;
pub mod scripted;
pub mod sql;
pub mod stats;

pub use batch::precheck_seen;
pub use runtime::{spawn, EngineHandle};

/// The engine's limits in one line, for `wavedeck status` (text) and its JSON.
pub fn limits_summary(cfg: &crate::config::Config) -> (String, serde_json::Value) {
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
    let json = serde_json::json!({
        "drs_concurrency": cfg.limits.drs_concurrency,
        "wave_concurrency": cfg.limits.wave_concurrency,
        "validation_capacity": cfg.limits.validation_capacity,
        "bandwidth_gbps": cfg.limits.bandwidth_gbps,
        "full_loads_at_once": if caps.full_loads == usize::MAX { serde_json::Value::Null } else { serde_json::json!(caps.full_loads) },
        "job_bandwidth_mbps": cfg.engine.job_bandwidth_mbps,
        "checks": checks,
    });
    (text, json)
}
