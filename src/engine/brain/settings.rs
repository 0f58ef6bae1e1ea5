//! The engine's settings, read once from the config, and the load figures a brain reports.

use crate::config::{ChecksMode, Config};
use crate::engine::admission::Caps;
use crate::engine::backoff::Backoff;
use crate::engine::poll_plan::{self};
use crate::lifecycle::facts;
use std::collections::BTreeMap;
use std::time::Duration;

/// Engine settings derived from the config.
#[derive(Clone, Debug)]
pub struct Settings {
    pub checks: ChecksMode,
    pub time_scale: f64,
    pub poll: poll_plan::PollIntervals,
    pub backoff: Backoff,
    pub caps: Caps,
    pub max_lag_s: f64,
    pub lag_stable_s: f64,
    pub validation_max_age_min: u32,
    /// `engine.source_drain: sql`: cutover and rollback run the cutover module's steps.
    pub sql_cutover: bool,
    /// Who must sign off a cutover, and who may.
    pub signoff: crate::signoff::SignoffConfig,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        let e = &cfg.engine;
        let secs = |s: f64| Duration::from_secs_f64(if s.is_finite() { s.max(0.0) } else { 0.0 });
        Settings {
            checks: e.checks,
            time_scale: if e.time_scale.is_finite() && e.time_scale > 0.0 {
                e.time_scale
            } else {
                1.0
            },
            poll: e.poll,
            backoff: Backoff::new(
                secs(e.retry_base_s),
                secs(e.retry_cap_s),
                cfg.thresholds.max_retries,
            ),
            caps: Caps::from_limits(&cfg.limits, e.job_bandwidth_mbps),
            max_lag_s: cfg.thresholds.max_cutover_lag_s,
            lag_stable_s: e.lag_stable_s,
            validation_max_age_min: cfg.thresholds.validation_max_age_min,
            sql_cutover: e.source_drain == crate::config::SourceDrain::Sql,
            signoff: cfg.signoff.clone(),
        }
    }

    /// The thresholds the guards read, as the cockpit reads them from the same config.
    pub fn thresholds(&self) -> facts::Thresholds {
        facts::Thresholds {
            max_lag_s: self.max_lag_s,
            validation_max_age_min: self.validation_max_age_min,
            signoff: crate::signoff::Needs::from_config(&self.signoff),
        }
    }

    pub(super) fn drs(&self) -> bool {
        matches!(self.checks, ChecksMode::Drs | ChecksMode::Both)
    }
    pub(super) fn sql(&self) -> bool {
        matches!(self.checks, ChecksMode::Sql | ChecksMode::Both)
    }
}

/// Counts for `wavedeck status` and the cockpit.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Load {
    pub drs_jobs: usize,
    pub working_per_wave: BTreeMap<u32, usize>,
    pub validations: usize,
    pub full_loads: usize,
    pub held: usize,
}
