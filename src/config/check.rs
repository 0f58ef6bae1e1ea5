//! Every config value is range-checked at load, so a value the engine cannot use (a NaN lag
//! limit, a concurrency of 0, a retry cap of 1e300 seconds that would overflow a timer) is
//! refused with its key, the file line and what is allowed, instead of misbehaving later.
//! Closed sets (`engine.source_drain`, `cutover.dns_provider`...) are enums: serde refuses
//! other words with the allowed ones.

use crate::config::{Config, ConfigError, DnsProvider};
use std::path::Path;

/// One value out of range: the dotted key and what is wrong with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub key: String,
    pub msg: String,
}

struct Rules(Vec<Problem>);

/// `1e300` rather than 301 digits; plain for ordinary values.
fn show(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-3..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

impl Rules {
    fn real(&mut self, key: &str, v: f64, lo: f64, hi: f64, unit: &str) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.0.push(Problem {
                key: key.into(),
                msg: format!(
                    "is {}; allowed: {} to {}{unit}",
                    show(v),
                    show(lo),
                    show(hi)
                ),
            });
        }
    }
    /// Above zero: `lo` is the smallest value that still means something.
    fn positive(&mut self, key: &str, v: f64, lo: f64, hi: f64, unit: &str) {
        self.real(key, v, lo, hi, &format!("{unit} (more than 0)"));
    }
    fn int(&mut self, key: &str, v: u64, lo: u64, hi: u64, unit: &str) {
        if v < lo || v > hi {
            self.0.push(Problem {
                key: key.into(),
                msg: format!("is {v}; allowed: {lo} to {hi}{unit}"),
            });
        }
    }
    fn require(&mut self, ok: bool, key: &str, msg: String) {
        if !ok {
            self.0.push(Problem {
                key: key.into(),
                msg,
            });
        }
    }
}

const DAY_S: f64 = 86_400.0;

/// Every value out of its range, in key order.
pub fn check(c: &Config) -> Vec<Problem> {
    let mut r = Rules(Vec::new());
    r.require(
        c.store.starts_with("sqlite://")
            || c.store.starts_with("postgres://")
            || c.store.starts_with("postgresql://"),
        "store",
        "must be sqlite://PATH or postgres://... (team mode)".into(),
    );
    let t = &c.thresholds;
    r.real(
        "thresholds.max_cutover_lag_s",
        t.max_cutover_lag_s,
        0.0,
        3600.0,
        " seconds",
    );
    r.int(
        "thresholds.validation_max_age_min",
        t.validation_max_age_min.into(),
        1,
        10_080,
        " minutes",
    );
    r.int(
        "thresholds.hypercare_hours",
        t.hypercare_hours.into(),
        0,
        8_760,
        " hours",
    );
    r.int("thresholds.max_retries", t.max_retries.into(), 0, 100, "");
    r.int(
        "thresholds.drain_grace_s",
        t.drain_grace_s.into(),
        0,
        3_600,
        " seconds",
    );
    let l = &c.limits;
    r.int(
        "limits.drs_concurrency",
        l.drs_concurrency.into(),
        1,
        10_000,
        " jobs",
    );
    r.int(
        "limits.wave_concurrency",
        l.wave_concurrency.into(),
        1,
        10_000,
        " databases",
    );
    r.int(
        "limits.validation_capacity",
        l.validation_capacity.into(),
        1,
        1_000,
        " validations",
    );
    r.positive(
        "limits.bandwidth_gbps",
        l.bandwidth_gbps,
        0.001,
        1_000.0,
        " Gbit/s",
    );
    let d = &c.drs;
    r.require(
        !d.region.is_empty(),
        "drs.region",
        "is empty; e.g. ap-southeast-1".into(),
    );
    r.int("drs.timeout_s", d.timeout_s, 1, 600, " seconds");
    for (key, url) in [
        ("drs.endpoint", &d.endpoint),
        ("drs.dns_endpoint", &d.dns_endpoint),
        ("drs.rds_endpoint", &d.rds_endpoint),
        ("drs.vpc_endpoint", &d.vpc_endpoint),
    ] {
        r.require(
            url.is_empty() || url.starts_with("https://") || url.starts_with("http://"),
            key,
            format!("is {url:?}; allowed: empty (the public endpoint) or an http(s):// URL"),
        );
    }
    for (i, cidr) in c.checks.allowed_cidrs.iter().enumerate() {
        if let Err(e) = crate::checks::exposure::Cidr::parse(cidr) {
            r.require(
                false,
                "checks.allowed_cidrs",
                format!("[{i}] {cidr:?}: {e}"),
            );
        }
    }
    let e = &c.emulator;
    r.positive("emulator.speed", e.speed, 0.001, 100_000.0, "");
    r.positive(
        "emulator.job_bandwidth_mbps",
        e.job_bandwidth_mbps,
        0.001,
        1e6,
        " MB/s",
    );
    r.int("emulator.quota", e.quota.into(), 1, 100_000, " jobs");
    r.real(
        "emulator.rate_limit_rps",
        e.rate_limit_rps,
        0.0,
        1e6,
        " requests/s (0: no limit)",
    );
    r.int(
        "emulator.client_stall_s",
        e.client_stall_s.into(),
        1,
        3600,
        " seconds",
    );
    let g = &c.engine;
    r.positive("engine.time_scale", g.time_scale, 0.001, 100_000.0, "");
    r.positive(
        "engine.job_bandwidth_mbps",
        g.job_bandwidth_mbps,
        0.001,
        1e6,
        " MB/s",
    );
    r.real(
        "engine.retry_base_s",
        g.retry_base_s,
        0.0,
        DAY_S,
        " seconds",
    );
    r.real("engine.retry_cap_s", g.retry_cap_s, 0.0, DAY_S, " seconds");
    r.require(
        !(g.retry_cap_s.is_finite()
            && g.retry_base_s.is_finite()
            && g.retry_cap_s < g.retry_base_s),
        "engine.retry_cap_s",
        format!(
            "is {} but engine.retry_base_s is {}: the cap must be at least the base",
            g.retry_cap_s, g.retry_base_s
        ),
    );
    r.real(
        "engine.lag_stable_s",
        g.lag_stable_s,
        0.0,
        DAY_S,
        " seconds",
    );
    r.int("engine.lease_ttl_s", g.lease_ttl_s, 1, 3_600, " seconds");
    let p = &g.poll;
    for (key, v) in [
        ("engine.poll.prechecks_s", p.prechecks_s),
        ("engine.poll.provisioning_s", p.provisioning_s),
        ("engine.poll.full_load_s", p.full_load_s),
        ("engine.poll.cdc_s", p.cdc_s),
        ("engine.poll.validation_s", p.validation_s),
        ("engine.poll.ready_s", p.ready_s),
        ("engine.poll.cutover_s", p.cutover_s),
        ("engine.poll.ready_lag_s", p.ready_lag_s),
        ("engine.poll.round_s", p.round_s),
    ] {
        r.positive(key, v, 0.001, DAY_S, " seconds");
    }
    r.int(
        "engine.poll.progress_calls_per_round",
        p.progress_calls_per_round.into(),
        1,
        10_000,
        " calls",
    );
    let u = &c.cutover;
    r.int(
        "cutover.final_sync_timeout_s",
        u.final_sync_timeout_s,
        1,
        DAY_S as u64,
        " seconds",
    );
    r.int(
        "cutover.dns_ttl_s",
        u.dns_ttl_s.into(),
        0,
        DAY_S as u64,
        " seconds",
    );
    r.int(
        "cutover.dns_timeout_s",
        u.dns_timeout_s,
        1,
        DAY_S as u64,
        " seconds",
    );
    r.require(
        u.dns_provider != DnsProvider::Huawei || !u.dns_zone_id.is_empty(),
        "cutover.dns_zone_id",
        "is empty but cutover.dns_provider is huawei: set the private zone id".into(),
    );
    let b = &c.lab;
    r.int("lab.seed_rows", b.seed_rows.into(), 0, 100_000_000, " rows");
    r.int(
        "lab.workload_pause_ms",
        b.workload_pause_ms,
        0,
        60_000,
        " ms",
    );
    let n = &c.plan;
    r.int(
        "plan.max_wave_size",
        n.max_wave_size.into(),
        1,
        10_000,
        " databases",
    );
    r.int("plan.pilot_size", n.pilot_size.into(), 1, 100, " databases");
    r.positive(
        "plan.validation_gb_per_hour",
        n.validation_gb_per_hour,
        0.001,
        1e6,
        " GB/h",
    );
    r.real(
        "plan.validation_overhead_s",
        n.validation_overhead_s,
        0.0,
        DAY_S,
        " seconds",
    );
    r.positive(
        "plan.max_full_load_h",
        n.max_full_load_h,
        0.001,
        8_760.0,
        " hours",
    );
    for (key, msg) in c.alerts.problems().into_iter().chain(c.notify.problems()) {
        r.0.push(Problem { key, msg });
    }
    r.0
}

/// The 1-based line of a dotted key (`engine.poll.cdc_s`) in YAML text written as nested
/// block mappings, the way config files are; None when the key is not in the text (a default
/// or an environment value).
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut parts = key.split('.').peekable();
    let mut want = parts.next()?;
    let mut parent_indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if parent_indent.is_some_and(|p| indent <= p) {
            // Left the block of the parent key without finding the child.
            return None;
        }
        let name = body
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if name == want
            && body[name.len()..]
                .trim_start_matches(['"', '\''])
                .starts_with(':')
        {
            match parts.next() {
                None => return Some(i + 1),
                Some(next) => {
                    want = next;
                    parent_indent = Some(indent);
                }
            }
        }
    }
    None
}

/// Here, beside the checks, so that config.rs (the types) does not import this file.
impl Config {
    /// Every value in its range (`config_check`), else each problem with the file line of its
    /// key (or where it came from when it is not in the file).
    pub fn check(&self, path: Option<&Path>, text: &str) -> Result<(), ConfigError> {
        let problems: Vec<String> = check(self)
            .into_iter()
            .map(|p| match (path, line_of(text, &p.key)) {
                (Some(path), Some(line)) => {
                    format!("{}:{line}: {} {}", path.display(), p.key, p.msg)
                }
                _ => format!(
                    "{} {} (set by a WAVEDECK_* variable or the default)",
                    p.key, p.msg
                ),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_in_range() {
        assert_eq!(check(&Config::default()), vec![]);
    }

    #[test]
    fn values_the_engine_cannot_use_are_named_with_what_is_allowed() {
        let mut c = Config::default();
        c.engine.retry_cap_s = 1e300;
        c.engine.time_scale = 1e-300;
        c.thresholds.max_cutover_lag_s = f64::NAN;
        c.engine.poll.cdc_s = -1.0;
        c.limits.wave_concurrency = 0;
        let p = check(&c);
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "thresholds.max_cutover_lag_s",
                "limits.wave_concurrency",
                "engine.time_scale",
                "engine.retry_cap_s",
                "engine.poll.cdc_s"
            ]
        );
        assert_eq!(p[3].msg, "is 1e300; allowed: 0 to 86400 seconds");
        assert_eq!(p[1].msg, "is 0; allowed: 1 to 10000 databases");
        assert!(p[2].msg.contains("more than 0"), "{}", p[2].msg);
    }

    #[test]
    fn keys_are_found_on_their_line() {
        let text = "# wavedeck\nstore: sqlite://a.db\nengine:\n  time_scale: 2\n  poll:\n    # fast\n    cdc_s: 1\nlimits:\n  cdc_s: 3\n";
        assert_eq!(line_of(text, "store"), Some(2));
        assert_eq!(line_of(text, "engine.time_scale"), Some(4));
        assert_eq!(line_of(text, "engine.poll.cdc_s"), Some(7));
        assert_eq!(line_of(text, "limits.cdc_s"), Some(9));
        assert_eq!(line_of(text, "engine.retry_cap_s"), None);
        assert_eq!(line_of(text, "limits.drs_concurrency"), None);
    }
}
