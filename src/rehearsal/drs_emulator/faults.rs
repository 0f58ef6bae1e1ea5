//! Fault injection for rehearsing bad nights: a YAML plan (`emulator.faults_file`, or set at run
//! time in process) and a per-request header (`X-Wavedeck-Fault`).
//!
//! Plan format:
//! ```yaml
//! requests:                       # answers of the API gateway / service
//!   - path: batch-progress        # substring of the path; omitted = every request
//!     fault: throttle_429         # error_500 | error_503 | throttle_429 | slow
//!     every: 5                    # every 5th matching request (default 1 = all)
//!     first: 20                   # only the first 20 matching requests (default: no limit)
//!     delay_ms: 3000              # for slow
//! jobs:                           # faults a job carries from its creation
//!   - name: "wd-db00*"            # job name, `*` wildcard
//!     fault: full_load_fail       # create_fail | connection_fail | precheck_fail | full_load_fail
//!     at_pct: 40                  #   | lag_stuck | terminate_fail | compare_mismatch | eip_bound (at_pct: full_load_fail)
//! restores:                       # restores to a new instance (the restore tests), by its name
//!   - instance: "wd-rt-*"
//!     fault: smoke_fail             # smoke_fail (the copy loses a table's rows) | restore_fail | slow
//!     build_ms: 5000                # hold the new instance in BUILD this long
//! rds:                            # RDS instances as RDS v3 / VPC v3 describe them (any other id
//!   - instance: "rds-orders*"     #   is a private instance, port 5432, VPC-only rules); `*` wildcard
//!     port: 3306                  # the instance's database port (default 5432)
//!     fault: public_ip            # public_ip (an EIP bound) | open_port (0.0.0.0/0 on the port)
//!                                 #   | open_all (0.0.0.0/0 on every port and protocol); omitted = none
//! ```
//! Header: comma-separated `500`, `503`, `429`, `slow=MS` (this request) and job faults
//! (`full_load_fail@40`, `lag_stuck`, ...) applied to jobs created by this request.

use super::job::JobFaults;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default)]
    pub requests: Vec<RequestFault>,
    #[serde(default)]
    pub jobs: Vec<JobFaultRule>,
    #[serde(default)]
    pub rds: Vec<RdsInstanceRule>,
    #[serde(default)]
    pub restores: Vec<RestoreFaultRule>,
}

/// What goes wrong with a restore to a new instance (the restore tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreFaultKind {
    /// The copy loses its first table's rows: a smoke test must fail on it.
    SmokeFail,
    /// The new instance ends FAILED.
    RestoreFail,
    /// Nothing wrong; with `build_ms`, only slow.
    Slow,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreFaultRule {
    /// The new instance's name, `*` wildcard (`wd-rt-*`).
    pub instance: String,
    pub fault: RestoreFaultKind,
    /// Hold the new instance in BUILD this long after the copy.
    #[serde(default)]
    pub build_ms: u64,
}

/// How an emulated RDS instance is exposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureFault {
    /// An EIP is bound: `public_ips` is not empty.
    PublicIp,
    /// Its security group lets 0.0.0.0/0 in on the database port.
    OpenPort,
    /// Its security group lets 0.0.0.0/0 in on every port and protocol.
    OpenAll,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RdsInstanceRule {
    pub instance: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub fault: Option<ExposureFault>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestFaultKind {
    #[serde(rename = "error_500")]
    Error500,
    #[serde(rename = "error_503")]
    Error503,
    #[serde(rename = "throttle_429")]
    Throttle429,
    Slow,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFault {
    #[serde(default)]
    pub path: String,
    pub fault: RequestFaultKind,
    #[serde(default)]
    pub every: Option<u64>,
    #[serde(default)]
    pub first: Option<u64>,
    #[serde(default)]
    pub delay_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobFaultKind {
    CreateFail,
    ConnectionFail,
    PrecheckFail,
    FullLoadFail,
    LagStuck,
    TerminateFail,
    CompareMismatch,
    EipBound,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFaultRule {
    pub name: String,
    pub fault: JobFaultKind,
    #[serde(default)]
    pub at_pct: Option<f64>,
}

/// What to do to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestAction {
    Fail(RequestFaultKind),
    Delay(u64),
}

impl FaultPlan {
    pub fn load(path: &Path) -> anyhow::Result<FaultPlan> {
        let text = crate::input::read_yaml(path, &crate::input::SMALL)
            .map_err(|e| anyhow::anyhow!("fault plan {e}"))?;
        FaultPlan::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> anyhow::Result<FaultPlan> {
        if text.trim().is_empty() {
            return Ok(FaultPlan::default());
        }
        let plan: FaultPlan = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            anyhow::anyhow!(
                "{}:{line}: {e} (see `wavedeck emulator --help` for the fault plan format)",
                path.display()
            )
        })?;
        // A percentage of the full load: outside 0..=100 (or NaN) the fault would never fire.
        for (i, r) in plan.jobs.iter().enumerate() {
            if let Some(p) = r.at_pct {
                if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
                    anyhow::bail!(
                        "{}: jobs[{i}] ({}): at_pct is {p}; allowed: 0 to 100 (percent of the full load)",
                        path.display(),
                        r.name
                    );
                }
            }
        }
        Ok(plan)
    }

    /// The `restores` rules that name a new instance of this name.
    pub fn restore_faults(&self, name: &str) -> Vec<RestoreFaultRule> {
        self.restores
            .iter()
            .filter(|r| glob_match(&r.instance, name))
            .cloned()
            .collect()
    }

    /// The first `rds` rule that names this instance id.
    pub fn rds_rule(&self, instance: &str) -> Option<&RdsInstanceRule> {
        self.rds.iter().find(|r| glob_match(&r.instance, instance))
    }

    /// Faults for a job created with this name.
    pub fn job_faults(&self, name: &str) -> JobFaults {
        let mut f = JobFaults::default();
        for r in self.jobs.iter().filter(|r| glob_match(&r.name, name)) {
            apply_job_fault(&mut f, r.fault, r.at_pct);
        }
        f
    }
}

fn apply_job_fault(f: &mut JobFaults, kind: JobFaultKind, at_pct: Option<f64>) {
    match kind {
        JobFaultKind::CreateFail => f.create_fail = true,
        JobFaultKind::ConnectionFail => f.connection_fail = true,
        JobFaultKind::PrecheckFail => f.precheck_fail = true,
        JobFaultKind::FullLoadFail => f.full_load_fail_at = Some(at_pct.unwrap_or(50.0)),
        JobFaultKind::LagStuck => f.lag_stuck = true,
        JobFaultKind::TerminateFail => f.terminate_fail = true,
        JobFaultKind::CompareMismatch => f.compare_mismatch = true,
        JobFaultKind::EipBound => f.eip_bound = true,
    }
}

/// Plan plus the per-rule counters that `every`/`first` need.
#[derive(Debug, Default)]
pub struct FaultState {
    pub plan: FaultPlan,
    seen: Vec<u64>,
}

impl FaultState {
    pub fn new(plan: FaultPlan) -> FaultState {
        let seen = vec![0; plan.requests.len()];
        FaultState { plan, seen }
    }

    /// The actions the plan takes on a request to `path` (counts it against each matching rule).
    pub fn on_request(&mut self, path: &str) -> Vec<RequestAction> {
        let mut out = Vec::new();
        for (i, r) in self.plan.requests.iter().enumerate() {
            if !r.path.is_empty() && !path.contains(&r.path) {
                continue;
            }
            self.seen[i] += 1;
            let n = self.seen[i];
            if r.first.is_some_and(|f| n > f) {
                continue;
            }
            if !n.is_multiple_of(r.every.unwrap_or(1).max(1)) {
                continue;
            }
            out.push(match r.fault {
                RequestFaultKind::Slow => RequestAction::Delay(r.delay_ms),
                k => RequestAction::Fail(k),
            });
        }
        out
    }
}

/// Parse the `X-Wavedeck-Fault` header: request actions, and job faults for created jobs.
pub fn parse_header(value: &str) -> Result<(Vec<RequestAction>, JobFaults), String> {
    let mut actions = Vec::new();
    let mut jf = JobFaults::default();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, arg) = match item.split_once(['=', '@']) {
            Some((n, a)) => (n, Some(a)),
            None => (item, None),
        };
        let num = |a: Option<&str>| -> Result<Option<f64>, String> {
            a.map(|v| {
                v.parse::<f64>()
                    .map_err(|_| format!("{item}: {v:?} is not a number"))
            })
            .transpose()
        };
        match name {
            "500" => actions.push(RequestAction::Fail(RequestFaultKind::Error500)),
            "503" => actions.push(RequestAction::Fail(RequestFaultKind::Error503)),
            "429" => actions.push(RequestAction::Fail(RequestFaultKind::Throttle429)),
            "slow" => actions.push(RequestAction::Delay(num(arg)?.unwrap_or(1000.0) as u64)),
            "create_fail" => apply_job_fault(&mut jf, JobFaultKind::CreateFail, None),
            "connection_fail" => apply_job_fault(&mut jf, JobFaultKind::ConnectionFail, None),
            "precheck_fail" => apply_job_fault(&mut jf, JobFaultKind::PrecheckFail, None),
            "full_load_fail" => apply_job_fault(&mut jf, JobFaultKind::FullLoadFail, num(arg)?),
            "lag_stuck" => apply_job_fault(&mut jf, JobFaultKind::LagStuck, None),
            "terminate_fail" => apply_job_fault(&mut jf, JobFaultKind::TerminateFail, None),
            "compare_mismatch" => apply_job_fault(&mut jf, JobFaultKind::CompareMismatch, None),
            "eip_bound" => apply_job_fault(&mut jf, JobFaultKind::EipBound, None),
            other => return Err(format!("unknown fault {other:?}")),
        }
    }
    Ok((actions, jf))
}

/// Merge header job faults into plan job faults.
pub fn merge(mut a: JobFaults, b: &JobFaults) -> JobFaults {
    a.create_fail |= b.create_fail;
    a.connection_fail |= b.connection_fail;
    a.precheck_fail |= b.precheck_fail;
    a.full_load_fail_at = a.full_load_fail_at.or(b.full_load_fail_at);
    a.lag_stuck |= b.lag_stuck;
    a.terminate_fail |= b.terminate_fail;
    a.compare_mismatch |= b.compare_mismatch;
    a.eip_bound |= b.eip_bound;
    a
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || !s[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_parses_and_counts() {
        let yaml = "requests:\n  - path: batch-progress\n    fault: throttle_429\n    every: 2\n    first: 4\njobs:\n  - name: \"wd-db00*\"\n    fault: full_load_fail\n    at_pct: 40\n";
        let plan = FaultPlan::parse(Path::new("f.yaml"), yaml).unwrap();
        assert_eq!(plan.job_faults("wd-db0001").full_load_fail_at, Some(40.0));
        assert_eq!(plan.job_faults("wd-x").full_load_fail_at, None);
        let mut st = FaultState::new(plan);
        let hits: Vec<bool> = (0..6)
            .map(|_| !st.on_request("/v3/p/jobs/batch-progress").is_empty())
            .collect();
        assert_eq!(hits, vec![false, true, false, true, false, false]);
        assert!(st.on_request("/v3/p/jobs/batch-status").is_empty());
    }

    #[test]
    fn bad_plan_names_file_and_line() {
        let err = FaultPlan::parse(Path::new("f.yaml"), "requests:\n  - fault: explode\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("f.yaml:2"), "{err}");
    }

    #[test]
    fn header_parses_request_and_job_faults() {
        let (a, j) = parse_header("429, slow=250, full_load_fail@30, lag_stuck").unwrap();
        assert_eq!(
            a,
            vec![
                RequestAction::Fail(RequestFaultKind::Throttle429),
                RequestAction::Delay(250)
            ]
        );
        assert_eq!(j.full_load_fail_at, Some(30.0));
        assert!(j.lag_stuck);
        assert!(parse_header("boom").is_err());
    }

    #[test]
    fn rds_rules_parse_and_match() {
        let yaml = "rds:\n  - instance: \"rds-pub*\"\n    fault: public_ip\n  - instance: rds-my\n    port: 3306\n    fault: open_port\n";
        let plan = FaultPlan::parse(Path::new("f.yaml"), yaml).unwrap();
        assert_eq!(
            plan.rds_rule("rds-pub-1").unwrap().fault,
            Some(ExposureFault::PublicIp)
        );
        assert_eq!(plan.rds_rule("rds-my").unwrap().port, Some(3306));
        assert!(plan.rds_rule("rds-other").is_none());
        assert!(FaultPlan::parse(
            Path::new("f.yaml"),
            "rds:\n  - instance: x\n    fault: leaky\n"
        )
        .is_err());
    }

    #[test]
    fn glob() {
        assert!(glob_match("wd-*", "wd-db1"));
        assert!(glob_match("*db*1", "wd-db01"));
        assert!(!glob_match("wd-*x", "wd-db1"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn at_pct_is_a_percentage() {
        for bad in ["140", "-1", ".nan"] {
            let yaml = format!(
                "jobs:\n  - name: \"wd-*\"\n    fault: full_load_fail\n    at_pct: {bad}\n"
            );
            let e = FaultPlan::parse(Path::new("f.yaml"), &yaml)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("at_pct is") && e.contains("allowed: 0 to 100"),
                "{e}"
            );
        }
        let ok = "jobs:\n  - name: \"wd-*\"\n    fault: full_load_fail\n    at_pct: 100\n";
        assert!(FaultPlan::parse(Path::new("f.yaml"), ok).is_ok());
    }
}
