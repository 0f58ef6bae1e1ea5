//! The limits that bound a wave, from the config.

use super::estimate::Rates;
use crate::inventory::Criticality;

/// Everything that bounds a wave.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanLimits {
    pub bandwidth_gbps: f64,
    pub drs_concurrency: u32,
    pub wave_concurrency: u32,
    pub validation_capacity: u32,
    pub max_wave_size: u32,
    pub pilot_size: u32,
    /// Per-job full-load rate, MB/s.
    pub job_mbps: f64,
    pub validation_gb_per_hour: f64,
    /// Rates earlier validations measured (`store::val_progress`), newest first: an engine
    /// with any is planned at their median instead of `validation_gb_per_hour`.
    pub measured_validation: Vec<crate::store::val_progress::MeasuredRate>,
    pub validation_overhead_s: f64,
    pub max_full_load_h: f64,
    /// Rows written per second, all members of a wave together (measured by `wavedeck assess`).
    pub max_wave_write_rows_s: f64,
}

impl PlanLimits {
    pub fn from_config(cfg: &crate::config::Config) -> PlanLimits {
        PlanLimits {
            bandwidth_gbps: cfg.limits.bandwidth_gbps,
            drs_concurrency: cfg.limits.drs_concurrency,
            wave_concurrency: cfg.limits.wave_concurrency,
            validation_capacity: cfg.limits.validation_capacity,
            max_wave_size: cfg.plan.max_wave_size,
            pilot_size: cfg.plan.pilot_size,
            job_mbps: cfg.engine.job_bandwidth_mbps,
            validation_gb_per_hour: cfg.plan.validation_gb_per_hour,
            measured_validation: vec![],
            validation_overhead_s: cfg.plan.validation_overhead_s,
            max_full_load_h: cfg.plan.max_full_load_h,
            max_wave_write_rows_s: cfg.plan.max_wave_write_rows_s,
        }
    }

    /// The GB per hour an engine's validations are planned at, and how many measured runs
    /// that is the median of (none: the configured `plan.validation_gb_per_hour`).
    pub fn validation_rate(&self, e: crate::inventory::Engine) -> (f64, usize) {
        let mut v: Vec<f64> = self
            .measured_validation
            .iter()
            .filter(|m| m.engine == e.as_str() && m.gb_per_hour.is_finite() && m.gb_per_hour > 0.0)
            .map(|m| m.gb_per_hour)
            .collect();
        if v.is_empty() {
            return (self.validation_gb_per_hour, 0);
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        (median, n)
    }

    pub(crate) fn rates(&self) -> Rates {
        Rates {
            bandwidth_gbps: self.bandwidth_gbps,
            job_mbps: self.job_mbps,
            full_load_slots: self.drs_concurrency.min(self.wave_concurrency).max(1),
            validation_capacity: self.validation_capacity,
            validation_gb_per_hour: super::estimate::PerEngine {
                postgres: self.validation_rate(crate::inventory::Engine::Postgres).0,
                mysql: self.validation_rate(crate::inventory::Engine::Mysql).0,
            },
            validation_overhead_s: self.validation_overhead_s,
        }
    }

    /// The largest wave allowed for databases of this criticality.
    pub fn wave_cap(&self, c: Criticality) -> usize {
        let base = self.max_wave_size.min(self.drs_concurrency).max(1) as usize;
        match c {
            Criticality::Low => base,
            Criticality::Medium => (base / 2).max(1),
            Criticality::High => (base / 4).max(1),
        }
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let pos = |v: f64, name: &str, eg: &str| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a positive number, e.g. {eg}"))
            }
        };
        pos(self.bandwidth_gbps, "bandwidth (--bandwidth-gbps)", "10")?;
        pos(self.job_mbps, "engine.job_bandwidth_mbps", "100")?;
        pos(
            self.validation_gb_per_hour,
            "plan.validation_gb_per_hour",
            "200",
        )?;
        pos(self.max_full_load_h, "plan.max_full_load_h", "72")?;
        pos(
            self.max_wave_write_rows_s,
            "plan.max_wave_write_rows_s",
            "20000",
        )?;
        if !(self.validation_overhead_s.is_finite() && self.validation_overhead_s >= 0.0) {
            return Err("plan.validation_overhead_s must be >= 0, e.g. 120".into());
        }
        for (v, name) in [
            (self.drs_concurrency, "DRS concurrency (--drs-concurrency)"),
            (self.wave_concurrency, "limits.wave_concurrency"),
            (
                self.validation_capacity,
                "validation capacity (--validation-capacity)",
            ),
            (self.max_wave_size, "max wave size (--max-wave-size)"),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if !(5..=10).contains(&self.pilot_size) {
            return Err(format!(
                "pilot size {} is outside 5..10 (the pilot wave is 5 to 10 low-risk databases); pass --pilot-size 8",
                self.pilot_size
            ));
        }
        Ok(())
    }
}
