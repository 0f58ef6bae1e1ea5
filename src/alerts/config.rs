//! `alerts:` in wavedeck.yaml: one entry per rule of [`RuleKind`], each with the
//! defaults of a cutover night. A rule is a fixed condition with tunable numbers rather than a
//! free-form expression, so a typo is refused with its line instead of silently never firing.

use super::rules::{Direction, Rule, RuleKind};
use serde::{Deserialize, Serialize};

/// Every rule; durations are in engine seconds (divided by `engine.time_scale`, as every
/// other engine wait).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Off: the engine evaluates nothing and writes no alert event.
    pub enabled: bool,
    /// CDC lag in seconds.
    pub lag_high: Rule,
    /// Time in one stage as a multiple of its estimate.
    pub stage_overdue: Rule,
    /// Full-load throughput in MB/s (a floor: raised below it).
    pub throughput_low: Rule,
    /// Share of failed step outcomes over `window_s` (0.01 = 1%).
    pub step_errors: Rule,
    /// DRS API errors and throttled answers per minute over `window_s`.
    pub drs_errors: Rule,
    /// The latest validation failed (1) or not (0).
    pub validation_failed: Rule,
    /// A cutover step failed for good (raised at once), or has been running this many
    /// seconds (`threshold`) without an outcome.
    pub cutover_step: Rule,
    /// This engine took over a lease its predecessor never released (raised at start,
    /// cleared after `clear_for_s` of holding it).
    pub lease_lost: Rule,
    /// Age in seconds of the newest lag sample of a database in CDC.
    pub lag_stale: Rule,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            lag_high: Rule::new(30.0, 120.0, 15.0, 60.0),
            stage_overdue: Rule::new(2.0, 0.0, 1.5, 0.0),
            throughput_low: Rule::new(5.0, 300.0, 8.0, 120.0).window(300.0),
            step_errors: Rule::new(0.01, 0.0, 0.005, 300.0).window(900.0),
            drs_errors: Rule::new(10.0, 60.0, 5.0, 300.0).window(300.0),
            validation_failed: Rule::new(0.5, 0.0, 0.5, 0.0),
            cutover_step: Rule::new(900.0, 0.0, 900.0, 0.0),
            lease_lost: Rule::new(0.5, 0.0, 0.5, 300.0),
            lag_stale: Rule::new(300.0, 0.0, 120.0, 0.0),
        }
    }
}

impl AlertsConfig {
    /// The numbers of one rule.
    pub fn rule(&self, k: RuleKind) -> &Rule {
        use RuleKind as K;
        match k {
            K::LagHigh => &self.lag_high,
            K::StageOverdue => &self.stage_overdue,
            K::ThroughputLow => &self.throughput_low,
            K::StepErrors => &self.step_errors,
            K::DrsErrors => &self.drs_errors,
            K::ValidationFailed => &self.validation_failed,
            K::CutoverStep => &self.cutover_step,
            K::LeaseLost => &self.lease_lost,
            K::LagStale => &self.lag_stale,
        }
    }

    /// Values out of range: (`alerts.RULE.KEY`, what is wrong), for the config check.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for k in RuleKind::ALL {
            let r = self.rule(k);
            for (key, v) in [
                ("threshold", r.threshold),
                ("for_s", r.for_s),
                ("clear", r.clear),
                ("clear_for_s", r.clear_for_s),
                ("window_s", r.window_s),
            ] {
                if !v.is_finite() || v < 0.0 {
                    out.push((
                        format!("alerts.{}.{key}", k.name()),
                        format!("is {v}; allowed: 0 or more"),
                    ));
                }
            }
            let band_ok = match k.direction() {
                Direction::Above => r.clear <= r.threshold,
                Direction::Below => r.clear >= r.threshold,
            };
            if !band_ok {
                out.push((
                    format!("alerts.{}.clear", k.name()),
                    format!(
                    "is {} and threshold {}; allowed: clear on the {} side of threshold (or equal)",
                    r.clear,
                    r.threshold,
                    match k.direction() {
                        Direction::Above => "lower",
                        Direction::Below => "higher",
                    }
                ),
                ));
            }
        }
        out
    }
}
