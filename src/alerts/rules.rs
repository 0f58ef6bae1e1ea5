//! The rule table: each rule names what it measures, on which side of its threshold trouble
//! lies, and how to read its value from the [`Facts`]. Pure, like the lifecycle's guards: the
//! engine fills the facts, this module only reads them.

use super::facts::Facts;
use crate::lifecycle::Stage;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    LagHigh,
    StageOverdue,
    ThroughputLow,
    StepErrors,
    DrsErrors,
    ValidationFailed,
    CutoverStep,
    LeaseLost,
    LagStale,
}

/// One rule's numbers. What `threshold` and `clear` measure depends on the rule (README,
/// "Alerts"); a rule whose value goes *below* its floor (throughput) has `clear` above
/// `threshold`, every other rule below it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub enabled: bool,
    /// Raised beyond this value...
    pub threshold: f64,
    /// ...held beyond it for this many seconds (0: at once).
    pub for_s: f64,
    /// Cleared once back past this value (the hysteresis band between the two keeps a value
    /// hovering at the threshold from raising and clearing in turn)...
    pub clear: f64,
    /// ...for this many seconds.
    pub clear_for_s: f64,
    /// For rates: the window they are measured over, in seconds (0: not a rate).
    pub window_s: f64,
}

impl Default for Rule {
    fn default() -> Self {
        Rule::new(0.0, 0.0, 0.0, 0.0)
    }
}

impl Rule {
    pub(super) const fn new(threshold: f64, for_s: f64, clear: f64, clear_for_s: f64) -> Rule {
        Rule {
            enabled: true,
            threshold,
            for_s,
            clear,
            clear_for_s,
            window_s: 0.0,
        }
    }
    pub(super) const fn window(mut self, s: f64) -> Rule {
        self.window_s = s;
        self
    }
}

/// Which side of the threshold is trouble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Above,
    Below,
}

impl Direction {
    /// Strictly on the trouble side of `level`.
    pub fn beyond(self, v: f64, level: f64) -> bool {
        match self {
            Direction::Above => v > level,
            Direction::Below => v < level,
        }
    }
    /// Strictly on the normal side of `level`.
    pub fn within(self, v: f64, level: f64) -> bool {
        match self {
            Direction::Above => v < level,
            Direction::Below => v > level,
        }
    }
}

/// One value a rule read: about a database (`db`) or the whole factory (`None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub db: Option<String>,
    pub value: f64,
    /// Beyond the threshold whatever the value (a cutover step that failed for good).
    pub forced: bool,
}

impl RuleKind {
    pub const ALL: [RuleKind; 9] = [
        RuleKind::LagHigh,
        RuleKind::StageOverdue,
        RuleKind::ThroughputLow,
        RuleKind::StepErrors,
        RuleKind::DrsErrors,
        RuleKind::ValidationFailed,
        RuleKind::CutoverStep,
        RuleKind::LeaseLost,
        RuleKind::LagStale,
    ];

    /// Its key under `alerts:` and its name in events.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::LagHigh => "lag_high",
            RuleKind::StageOverdue => "stage_overdue",
            RuleKind::ThroughputLow => "throughput_low",
            RuleKind::StepErrors => "step_errors",
            RuleKind::DrsErrors => "drs_errors",
            RuleKind::ValidationFailed => "validation_failed",
            RuleKind::CutoverStep => "cutover_step",
            RuleKind::LeaseLost => "lease_lost",
            RuleKind::LagStale => "lag_stale",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn direction(self) -> Direction {
        match self {
            RuleKind::ThroughputLow => Direction::Below,
            _ => Direction::Above,
        }
    }

    /// The value's unit, for sentences.
    pub fn unit(self) -> &'static str {
        match self {
            RuleKind::LagHigh | RuleKind::CutoverStep | RuleKind::LagStale => " s",
            RuleKind::StageOverdue => "x estimate",
            RuleKind::ThroughputLow => " MB/s",
            RuleKind::StepErrors => " of steps failed",
            RuleKind::DrsErrors => " errors/min",
            RuleKind::ValidationFailed | RuleKind::LeaseLost => "",
        }
    }

    /// Read this rule's values now. `scale` is `engine.time_scale`: facts keep wall-clock
    /// instants, rules speak in engine seconds. No words here (this runs every engine tick
    /// over every database): [`RuleKind::words`] says what a reading is when it changes.
    pub fn measure(
        self,
        f: &Facts,
        rule: &Rule,
        now: DateTime<Utc>,
        scale: f64,
        out: &mut Vec<Reading>,
    ) {
        let secs = |t: DateTime<Utc>| (now - t).as_seconds_f64().max(0.0) * scale;
        let per_db = |db: &str, value: f64| Reading {
            db: Some(db.to_string()),
            value,
            forced: false,
        };
        let dir = self.direction();
        // Only readings beyond the clear level can raise or hold an alert; the rest are
        // left out (the evaluator treats a missing reading as normal), which keeps a tick
        // over 2000 quiet databases from allocating 2000 readings.
        let matters = |v: f64| !dir.within(v, rule.clear);
        match self {
            RuleKind::LagHigh => {
                for d in f.in_stages(&[Stage::Cdc, Stage::Validation, Stage::Ready, Stage::Cutover])
                {
                    if let Some(lag) = f.lag(&d.db_id).filter(|l| matters(*l)) {
                        out.push(per_db(&d.db_id, lag));
                    }
                }
            }
            RuleKind::StageOverdue => {
                for d in f.dbs() {
                    if let Some(est) = f.estimate_s(d.stage, d.size_gb) {
                        let x = secs(d.stage_since) / est;
                        if matters(x) {
                            out.push(per_db(&d.db_id, x));
                        }
                    }
                }
            }
            RuleKind::ThroughputLow => {
                for d in f.in_stages(&[Stage::FullLoad]) {
                    if let Some(mbps) = f.throughput(&d.db_id, d.size_gb, now, scale, rule.window_s)
                    {
                        if matters(mbps) {
                            out.push(per_db(&d.db_id, mbps));
                        }
                    }
                }
            }
            RuleKind::StepErrors => {
                if let Some((failed, total)) = f.step_error_rate(now, scale, rule.window_s) {
                    out.push(Reading {
                        db: None,
                        value: failed as f64 / total as f64,
                        forced: false,
                    });
                }
            }
            RuleKind::DrsErrors => {
                if let Some((per_min, _)) = f.drs_error_rate(now, rule.window_s) {
                    out.push(Reading {
                        db: None,
                        value: per_min,
                        forced: false,
                    });
                }
            }
            RuleKind::ValidationFailed => {
                for d in f.dbs() {
                    if d.validation.as_ref().is_some_and(|v| !v.passed) {
                        out.push(per_db(&d.db_id, 1.0));
                    }
                }
            }
            RuleKind::CutoverStep => {
                for (db, c) in f.cutover_steps() {
                    out.push(Reading {
                        forced: c.failed.is_some(),
                        ..per_db(db, secs(c.since))
                    });
                }
            }
            RuleKind::LeaseLost => {
                if f.lease_lost.as_ref().is_some_and(|l| !l.reported) {
                    out.push(Reading {
                        db: None,
                        value: 1.0,
                        forced: false,
                    });
                }
            }
            RuleKind::LagStale => {
                for d in f.in_stages(&[Stage::Cdc, Stage::Ready]) {
                    let age = secs(f.lag_at(&d.db_id).max(d.stage_since));
                    if matters(age) {
                        out.push(per_db(&d.db_id, age));
                    }
                }
            }
        }
    }

    /// A value of this rule with its unit ("41.2 s", "3.0%").
    pub fn show(self, v: f64) -> String {
        match self {
            RuleKind::LagHigh | RuleKind::CutoverStep | RuleKind::LagStale => format!("{v:.1} s"),
            RuleKind::StageOverdue => format!("{v:.1}x"),
            RuleKind::ThroughputLow => format!("{v:.1} MB/s"),
            RuleKind::StepErrors => format!("{:.1}%", v * 100.0),
            RuleKind::DrsErrors => format!("{v:.1}/min"),
            RuleKind::ValidationFailed | RuleKind::LeaseLost => {
                if v >= 0.5 { "yes" } else { "no" }.to_string()
            }
        }
    }

    /// A value against its threshold, for tables ("41.2 s > 30.0 s"); a yes/no rule is its
    /// value alone.
    pub fn versus(self, v: f64, threshold: f64) -> String {
        if matches!(self, RuleKind::ValidationFailed | RuleKind::LeaseLost) {
            return self.show(v);
        }
        let op = match self.direction() {
            Direction::Above => ">",
            Direction::Below => "<",
        };
        format!("{} {op} {}", self.show(v), self.show(threshold))
    }

    /// What a reading is, in words, for the event and the operator ("CDC lag 41.0 s").
    pub fn words(self, f: &Facts, r: &Reading, now: DateTime<Utc>) -> String {
        let human = crate::plan::estimate::human;
        let db = r.db.as_deref().and_then(|id| f.state.dbs.get(id));
        let v = r.value;
        match self {
            RuleKind::LagHigh => format!("CDC lag {v:.1} s"),
            RuleKind::StageOverdue => match db {
                Some(d) => {
                    let est = f.estimate_s(d.stage, d.size_gb).unwrap_or(0.0);
                    format!(
                        "{} for {} ({v:.1}x its estimate of {})",
                        d.stage.as_str(),
                        human(v * est),
                        human(est)
                    )
                }
                None => format!("{v:.1}x its stage's estimate"),
            },
            RuleKind::ThroughputLow => format!(
                "full load at {v:.1} MB/s ({:.0}% done)",
                db.map_or(0.0, |d| d.progress_pct)
            ),
            RuleKind::StepErrors => format!("{:.1}% of step outcomes failed", v * 100.0),
            RuleKind::DrsErrors => {
                let throttled = f.drs_error_rate(now, 60.0).map_or(0, |(_, t)| t);
                format!("DRS answered {v:.1} errors/min ({throttled} throttled in the last minute)")
            }
            RuleKind::ValidationFailed => match db.and_then(|d| d.validation.as_ref()) {
                Some(s) => format!("validation failed: {}", s.summary),
                None => "validation failed".into(),
            },
            RuleKind::CutoverStep => {
                let c =
                    r.db.as_deref()
                        .and_then(|id| f.cutover_steps().find(|(d, _)| *d == id));
                match c {
                    Some((_, c)) => match &c.failed {
                        Some(err) => format!("{} failed: {err}", c.step),
                        None => format!("{} running for {}", c.step, human(v)),
                    },
                    None => "cutover step".into(),
                }
            }
            RuleKind::LeaseLost => match &f.lease_lost {
                Some(l) => format!(
                    "the engine lease of {} was lost without release; this engine took over",
                    l.previous
                ),
                None => "engine lease lost".into(),
            },
            RuleKind::LagStale => format!("no lag sample for {}", human(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_reads_against_its_threshold_on_the_trouble_side() {
        assert_eq!(RuleKind::LagHigh.versus(41.25, 30.0), "41.2 s > 30.0 s");
        assert_eq!(
            RuleKind::ThroughputLow.versus(2.0, 5.0),
            "2.0 MB/s < 5.0 MB/s"
        );
        assert_eq!(RuleKind::StepErrors.versus(0.034, 0.01), "3.4% > 1.0%");
        assert_eq!(RuleKind::ValidationFailed.versus(1.0, 0.5), "yes");
    }
}
