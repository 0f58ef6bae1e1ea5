//! `wavedeck.yaml`: defaults < file < environment (`WAVEDECK_*`) < command-line flags.
//!
//! Every key is documented in the README's "Configuration" section; keep the two in step.

pub mod check;
pub mod cmd;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Store URL: `sqlite://PATH` (default, one file, WAL) or `postgres://...` (team mode).
    pub store: String,
    /// Directory for the rolling log file.
    pub log_dir: PathBuf,
    /// Directory where evidence packs are exported by default.
    pub evidence_dir: PathBuf,
    pub thresholds: Thresholds,
    pub limits: Limits,
    pub drs: DrsConfig,
    pub emulator: EmulatorConfig,
    pub engine: EngineConfig,
    pub cutover: CutoverConfig,
    pub lab: LabConfig,
    pub plan: PlanConfig,
    pub signoff: crate::signoff::SignoffConfig,
    /// Alert rules the engine evaluates (src/alerts).
    pub alerts: crate::alerts::AlertsConfig,
    /// Webhooks told about alerts, cutovers and rollbacks (src/notify).
    pub notify: crate::notify::NotifyConfig,
    pub checks: ChecksConfig,
    /// Restore tests of the targets' backups (src/restore, runbooks/restore-test.md).
    pub restore_test: RestoreTestConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreTestConfig {
    /// Days between scheduled restore tests of a database in hypercare (0: none scheduled).
    pub every_days: u32,
    /// How long a restore or a delete may take before the step fails.
    pub timeout_min: u64,
    /// Seconds between looks at a restoring or deleting instance.
    pub poll_s: u64,
    /// Rehearsals: the restored copy's data is in a database named after the new instance
    /// (the emulator's native restore), not under the target database's own name.
    pub copy_named_after_instance: bool,
}

impl Default for RestoreTestConfig {
    fn default() -> Self {
        RestoreTestConfig {
            every_days: 7,
            timeout_min: 60,
            poll_s: 10,
            copy_named_after_instance: false,
        }
    }
}

/// The pre-checks' settings that are the factory's policy rather than a runbook's.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksConfig {
    /// CIDRs the target's security groups may open the database port to (the exposure
    /// pre-check fails any other source); default: the private ranges a VPC is made of.
    pub allowed_cidrs: Vec<String>,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            allowed_cidrs: vec![
                "10.0.0.0/8".into(),
                "172.16.0.0/12".into(),
                "192.168.0.0/16".into(),
            ],
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Cutover is refused while CDC lag is above this many seconds.
    pub max_cutover_lag_s: f64,
    /// A passed validation older than this many minutes must be run again before cutover.
    pub validation_max_age_min: u32,
    /// How long hypercare (the rollback window) lasts after cutover, in hours.
    pub hypercare_hours: u32,
    /// Retries per step before a database goes to `failed`.
    pub max_retries: u32,
    /// Seconds existing write sessions get to finish before they are ended at drain.
    pub drain_grace_s: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Jobs DRS runs at once for this tenant.
    pub drs_concurrency: u32,
    /// Databases of one wave in flight at once.
    pub wave_concurrency: u32,
    /// Validations that may run at once.
    pub validation_capacity: u32,
    /// Network budget for full loads, in gigabits per second.
    pub bandwidth_gbps: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DrsConfig {
    /// Base URL. Empty means `https://drs.{region}.myhuaweicloud.com`.
    pub endpoint: String,
    pub region: String,
    pub project_id: String,
    /// `aksk` (request signing) or `token` (IAM token in X-Auth-Token).
    pub auth: DrsAuth,
    /// Environment variable holding the access key id.
    pub ak_env: String,
    /// Environment variable holding the secret access key.
    pub sk_env: String,
    /// Optional file with `ak=...` and `sk=...` lines; used when the env vars are unset.
    pub credentials_file: Option<PathBuf>,
    /// Environment variable holding an IAM token (auth: token).
    pub token_env: String,
    /// Environment variable holding the security token of temporary AK/SK (auth: aksk); when
    /// set, `ak_env`/`sk_env` hold the temporary pair.
    pub security_token_env: String,
    /// Optional file with temporary credentials (the JSON IAM or the ECS metadata service
    /// gives, or ak=/sk=/security_token=/expires_at= lines), read again when it changes on
    /// disk or before they expire.
    pub temporary_credentials_file: Option<PathBuf>,
    /// Per-request timeout in seconds.
    pub timeout_s: u64,
    /// Base URL of Huawei Cloud DNS. Empty means `https://dns.{region}.myhuaweicloud.com`.
    pub dns_endpoint: String,
    /// Base URL of Huawei Cloud RDS (the exposure pre-check reads the target instance there).
    /// Empty means `https://rds.{region}.myhuaweicloud.com`.
    pub rds_endpoint: String,
    /// Base URL of Huawei Cloud VPC (the target's security-group rules). Empty means
    /// `https://vpc.{region}.myhuaweicloud.com`.
    pub vpc_endpoint: String,
    /// Network between DRS and the source: `vpc`, `vpn` or `eip` (DRS `net_type`).
    pub net_type: NetType,
    /// DRS instance size for new jobs: `micro`, `small`, `medium`, `high`, ... (DRS `node_type`).
    pub node_type: String,
    /// Subnet the DRS node is placed in (DRS `customize_sutnet_id`).
    pub subnet_id: String,
    /// VPC of the DRS node and target.
    pub vpc_id: String,
    /// Security group of the DRS node.
    pub security_group_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Time compression: 60 means one real second is one emulated minute.
    pub speed: f64,
    /// Emulated full-load bandwidth per job, in megabytes per second.
    pub job_bandwidth_mbps: f64,
    /// Concurrent-job quota the emulator enforces.
    pub quota: u32,
    /// Fault-injection plan (YAML) the emulator loads at start; see `rehearsal::drs_emulator::faults`.
    pub faults_file: Option<PathBuf>,
    /// Requests per second the emulated API gateway lets through before answering 429
    /// `APIG.0308`; 0 means no limit.
    pub rate_limit_rps: f64,
    /// Native mode: PostgreSQL jobs move real data with logical replication (publication on
    /// the source, subscription on the target) and report progress and lag measured from the
    /// servers. `wavedeck lab up` runs its emulator this way.
    pub native: bool,
    /// A client that sends no byte of a request's headers, or of its body, for this many
    /// seconds is cut off (a slower client, pausing less, is served).
    pub client_stall_s: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CutoverConfig {
    /// How long the final sync (and the reverse sync of a rollback) may wait for the other side
    /// to apply everything, in seconds.
    pub final_sync_timeout_s: u64,
    /// DNS provider for the switch: `file` (the lab's YAML file) or `huawei` (Cloud DNS private zone).
    pub dns_provider: DnsProvider,
    /// File of the `file` provider (`records: {name: {value: "host:port", ttl_s}}`).
    pub dns_file: PathBuf,
    /// TTL written on switched records, in seconds (lower it well before the window).
    pub dns_ttl_s: u32,
    /// Huawei Cloud DNS private zone id holding the service records (`huawei` provider).
    pub dns_zone_id: String,
    /// Record type of the service records: `A` or `CNAME` (`huawei` provider).
    pub dns_record_type: DnsRecordType,
    /// How long to wait for a record set to go from PENDING_UPDATE to ACTIVE, in seconds.
    pub dns_timeout_s: u64,
    /// Tables (`schema.table`, or `*` for all) checksummed in the final quick validation; every
    /// table gets a row count regardless.
    pub checksum_tables: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LabConfig {
    /// Directory of the local replication lab (clusters, DNS file, journals, workload figures).
    pub dir: PathBuf,
    /// Databases the lab creates (of `lab up --engine`'s engine, PostgreSQL by default). Empty =
    /// the databases of `lab.inventory`, both engines (db_id with `-` as `_`; a MySQL one gets
    /// its own MariaDB pair), or `pilot_orders`, `pilot_billing` (PostgreSQL) and `pilot_shop`
    /// (MySQL) when that file does not exist.
    pub databases: Vec<String>,
    /// Inventory whose databases the lab seeds when `lab.databases` is empty.
    pub inventory: PathBuf,
    /// Rows seeded into each database's `orders` table.
    pub seed_rows: u32,
    /// Pause between two workload writes, in milliseconds (0 = as fast as acknowledged).
    pub workload_pause_ms: u64,
    /// Directory of `initdb` and `pg_ctl`; empty = the newest `/usr/lib/postgresql/*/bin`, else PATH.
    pub pg_bin_dir: Option<PathBuf>,
}

impl Default for CutoverConfig {
    fn default() -> Self {
        CutoverConfig {
            final_sync_timeout_s: 120,
            dns_provider: DnsProvider::File,
            dns_file: PathBuf::from(".lab/dns.yaml"),
            dns_ttl_s: 60,
            dns_zone_id: String::new(),
            dns_record_type: DnsRecordType::A,
            dns_timeout_s: 120,
            checksum_tables: Vec::new(),
        }
    }
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            dir: PathBuf::from(".lab"),
            databases: Vec::new(),
            inventory: PathBuf::from("inventory/pilot.yaml"),
            seed_rows: 5000,
            workload_pause_ms: 5,
            pg_bin_dir: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: "sqlite://wavedeck.db".into(),
            log_dir: PathBuf::from("logs"),
            evidence_dir: PathBuf::from("evidence"),
            thresholds: Thresholds::default(),
            limits: Limits::default(),
            drs: DrsConfig::default(),
            emulator: EmulatorConfig::default(),
            engine: EngineConfig::default(),
            cutover: CutoverConfig::default(),
            lab: LabConfig::default(),
            plan: PlanConfig::default(),
            signoff: Default::default(),
            alerts: Default::default(),
            notify: Default::default(),
            checks: Default::default(),
            restore_test: Default::default(),
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_cutover_lag_s: 5.0,
            validation_max_age_min: 60,
            hypercare_hours: 72,
            max_retries: 5,
            drain_grace_s: 10,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            drs_concurrency: 50,
            wave_concurrency: 20,
            validation_capacity: 8,
            bandwidth_gbps: 10.0,
        }
    }
}

impl Default for DrsConfig {
    fn default() -> Self {
        DrsConfig {
            endpoint: String::new(),
            region: "ap-southeast-1".into(),
            project_id: String::new(),
            auth: DrsAuth::AkSk,
            ak_env: "HUAWEICLOUD_SDK_AK".into(),
            sk_env: "HUAWEICLOUD_SDK_SK".into(),
            credentials_file: None,
            token_env: "HUAWEICLOUD_SDK_TOKEN".into(),
            security_token_env: "HUAWEICLOUD_SDK_SECURITY_TOKEN".into(),
            temporary_credentials_file: None,
            timeout_s: 30,
            dns_endpoint: String::new(),
            rds_endpoint: String::new(),
            vpc_endpoint: String::new(),
            net_type: NetType::Vpc,
            node_type: "high".into(),
            subnet_id: String::new(),
            vpc_id: String::new(),
            security_group_id: String::new(),
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            speed: 1.0,
            job_bandwidth_mbps: 100.0,
            quota: 50,
            faults_file: None,
            rate_limit_rps: 0.0,
            native: false,
            client_stall_s: 30,
        }
    }
}

/// A closed set of config words: serde refuses any other with the allowed values, and
/// `as_str` gives the word back for messages and events.
macro_rules! config_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),+ }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
        }
    };
}

config_enum!(
    /// `engine.source_drain`: how a cutover stops writes at the source (see EngineConfig).
    SourceDrain { Sql = "sql", Emulator = "emulator", Runbook = "runbook" }
);
config_enum!(
    /// `cutover.dns_provider`.
    DnsProvider { File = "file", Huawei = "huawei" }
);
config_enum!(
    /// `cutover.dns_record_type` (Huawei Cloud DNS).
    DnsRecordType { A = "A", Cname = "CNAME" }
);
config_enum!(
    /// `drs.auth`: request signing with AK/SK, or an IAM token.
    DrsAuth { AkSk = "aksk", Token = "token" }
);
config_enum!(
    /// `drs.net_type`: the network between DRS and the source.
    NetType { Vpc = "vpc", Vpn = "vpn", Eip = "eip" }
);

/// Which pre-checks and validation the engine runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksMode {
    /// DRS's own pre-check and comparison tasks (the emulator's, in rehearsals).
    Drs,
    /// wavedeck's SQL pre-checks and validation against the real endpoints.
    Sql,
    /// Both; a database moves on only when both pass.
    Both,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// `drs`, `sql` or `both`: which pre-checks and validation gate run.
    pub checks: ChecksMode,
    /// Divides every engine wait (poll intervals, backoff, stability windows). Set it to the
    /// emulator's speed factor in rehearsals; 1 in production.
    pub time_scale: f64,
    /// Base poll interval per stage, in seconds.
    pub poll: crate::engine::poll_plan::PollIntervals,
    /// Bandwidth one full load is expected to use (MB/s): turns `limits.bandwidth_gbps` into a
    /// number of full loads at once.
    pub job_bandwidth_mbps: f64,
    /// First retry delay of a failed step, in seconds (doubles per attempt, with jitter).
    pub retry_base_s: f64,
    /// Longest retry delay, in seconds.
    pub retry_cap_s: f64,
    /// Lag must stay at 0 this many seconds before a cutover terminates the DRS job.
    pub lag_stable_s: f64,
    /// Engine lease: another engine may take over after this many seconds without heartbeat.
    pub lease_ttl_s: u64,
    /// How a cutover stops writes at the source, and with it which cutover runs:
    /// - `sql`: the engine runs the cutover module's steps against the servers (PostgreSQL:
    ///   source read-only and write sessions ended after `thresholds.drain_grace_s`, final sync
    ///   by WAL position of DRS's slot plus DRS lag 0, DRS job terminated, quick validation,
    ///   DNS switch, target writable with smoke tests, hypercare; rollback by the plan);
    /// - `emulator`: DRS-mode cutover, the emulator's switch stops the writes (rehearsals);
    /// - `runbook`: DRS-mode cutover, the operator drains by the runbook (the engine refuses to
    ///   guess).
    pub source_drain: SourceDrain,
    /// DNS name switched at cutover: `{db_id}.` + this domain, unless the inventory's `extra`
    /// has a `dns_name`.
    pub dns_domain: String,
    /// `HOST:PORT` where the engine serves `/metrics` for Prometheus (e.g. 127.0.0.1:9464);
    /// empty: no endpoint.
    pub metrics_listen: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            checks: ChecksMode::Both,
            time_scale: 1.0,
            poll: Default::default(),
            job_bandwidth_mbps: 100.0,
            retry_base_s: 5.0,
            retry_cap_s: 300.0,
            lag_stable_s: 30.0,
            lease_ttl_s: 15,
            source_drain: SourceDrain::Runbook,
            dns_domain: "db.internal".into(),
            metrics_listen: String::new(),
        }
    }
}

/// Wave planning (`wavedeck plan`); the other bounds come from `limits` and
/// `engine.job_bandwidth_mbps`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    /// Most databases in one low-criticality wave (halved for medium, quartered for high).
    pub max_wave_size: u32,
    /// Databases in the pilot wave 0 (5 to 10).
    pub pilot_size: u32,
    /// Table checksums read this many GB per hour per validation (both sides).
    pub validation_gb_per_hour: f64,
    /// Fixed part of one validation (connect, schema, counts, smoke tests), in seconds.
    pub validation_overhead_s: f64,
    /// A wave's full load must fit in this many hours.
    pub max_full_load_h: f64,
    /// Rows written per second by all members of one wave together, as `wavedeck assess`
    /// measures them (only binds with `plan --assessment`).
    pub max_wave_write_rows_s: f64,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            max_wave_size: 40,
            pilot_size: 8,
            validation_gb_per_hour: 200.0,
            validation_overhead_s: 120.0,
            max_full_load_h: 72.0,
            max_wave_write_rows_s: 20_000.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("{path}:{line}: {msg} (see the README's Configuration section for every key)")]
    Parse {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("{}", problems.join("\n"))]
    Invalid {
        /// One line per value out of range: `file:line: key is ...; allowed: ...`.
        problems: Vec<String>,
    },
    #[error("environment variable {var}={value:?} is not valid: {msg}")]
    Env {
        var: String,
        value: String,
        msg: String,
    },
}

/// Environment overrides: variable name and the config key it sets.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("WAVEDECK_STORE", "store"),
    ("WAVEDECK_LOG_DIR", "log_dir"),
    ("WAVEDECK_EVIDENCE_DIR", "evidence_dir"),
    ("WAVEDECK_MAX_CUTOVER_LAG_S", "thresholds.max_cutover_lag_s"),
    ("WAVEDECK_DRS_ENDPOINT", "drs.endpoint"),
    ("WAVEDECK_DRS_REGION", "drs.region"),
    ("WAVEDECK_DRS_PROJECT_ID", "drs.project_id"),
    ("WAVEDECK_DRS_CONCURRENCY", "limits.drs_concurrency"),
    ("WAVEDECK_EMULATOR_SPEED", "emulator.speed"),
];

impl Config {
    /// The file [`Config::load`] reads: the one given, else `./wavedeck.yaml` when present,
    /// else none (defaults and environment only).
    pub fn file_to_load(path: Option<&Path>) -> Option<PathBuf> {
        let default_path = Path::new("wavedeck.yaml");
        match path {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.exists() => Some(default_path.to_path_buf()),
            None => None,
        }
    }

    /// Load defaults, then `path` if given (or `./wavedeck.yaml` if it exists), then the
    /// environment. Flags are applied by the caller afterwards.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let chosen = Config::file_to_load(path);
        let (mut cfg, text) = match &chosen {
            Some(p) => {
                let text = crate::input::read_yaml(p, &crate::input::SMALL).map_err(|e| {
                    ConfigError::Read {
                        path: p.clone(),
                        reason: e.to_string(),
                    }
                })?;
                (Config::from_yaml(p, &text)?, text)
            }
            None => (Config::default(), String::new()),
        };
        cfg.apply_env(&env)?;
        cfg.check(chosen.as_deref(), &text)?;
        Ok(cfg)
    }

    /// Parse a config file's text (types and closed sets; ranges are `check`'s).
    pub fn from_yaml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            msg: e.to_string(),
        })
    }

    pub fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        for (var, value) in env {
            let bad = |msg: &str| ConfigError::Env {
                var: var.clone(),
                value: value.clone(),
                msg: msg.to_string(),
            };
            match var.as_str() {
                "WAVEDECK_STORE" => self.store = value.clone(),
                "WAVEDECK_LOG_DIR" => self.log_dir = value.into(),
                "WAVEDECK_EVIDENCE_DIR" => self.evidence_dir = value.into(),
                "WAVEDECK_MAX_CUTOVER_LAG_S" => {
                    self.thresholds.max_cutover_lag_s = value
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                        .ok_or_else(|| bad("expected a number of seconds, e.g. 5"))?
                }
                "WAVEDECK_DRS_ENDPOINT" => self.drs.endpoint = value.clone(),
                "WAVEDECK_DRS_REGION" => self.drs.region = value.clone(),
                "WAVEDECK_DRS_PROJECT_ID" => self.drs.project_id = value.clone(),
                "WAVEDECK_DRS_CONCURRENCY" => {
                    self.limits.drs_concurrency = value
                        .parse()
                        .map_err(|_| bad("expected a whole number, e.g. 50"))?
                }
                "WAVEDECK_EMULATOR_SPEED" => {
                    self.emulator.speed = value
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite() && *v > 0.0)
                        .ok_or_else(|| bad("expected a positive number, e.g. 60"))?
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The DRS base URL: the configured endpoint, else the public one for the region.
    pub fn rds_base_url(&self) -> String {
        service_url(&self.drs.rds_endpoint, "rds", &self.drs.region)
    }

    pub fn vpc_base_url(&self) -> String {
        service_url(&self.drs.vpc_endpoint, "vpc", &self.drs.region)
    }

    pub fn drs_base_url(&self) -> String {
        if self.drs.endpoint.is_empty() {
            huawei_endpoint("drs", &self.drs.region)
        } else {
            self.drs.endpoint.trim_end_matches('/').to_string()
        }
    }
}

/// A configured endpoint without its trailing slash, or the service's public one when empty.
fn service_url(configured: &str, service: &str, region: &str) -> String {
    if configured.is_empty() {
        huawei_endpoint(service, region)
    } else {
        configured.trim_end_matches('/').to_string()
    }
}

/// The public endpoint of a Huawei Cloud service in a region. Most regions are under
/// `myhuaweicloud.com`; the European sovereign region is under `myhuaweicloud.eu` (Go SDK
/// `services/drs/v3/region/region.go`: `https://drs.eu-west-101.myhuaweicloud.eu`).
pub fn huawei_endpoint(service: &str, region: &str) -> String {
    let domain = match region {
        "eu-west-101" => "myhuaweicloud.eu",
        _ => "myhuaweicloud.com",
    };
    format!("https://{service}.{region}.{domain}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn regional_endpoints_follow_the_sdk() {
        use super::huawei_endpoint;
        assert_eq!(
            huawei_endpoint("drs", "eu-west-101"),
            "https://drs.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            huawei_endpoint("drs", "ap-southeast-1"),
            "https://drs.ap-southeast-1.myhuaweicloud.com"
        );
    }

    use super::*;

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let yaml = "store: sqlite://a.db\nthresholds:\n  max_cutover_lag_s: 3\n";
        let mut cfg = Config::from_yaml(Path::new("w.yaml"), yaml).unwrap();
        assert_eq!(cfg.store, "sqlite://a.db");
        assert_eq!(cfg.thresholds.max_cutover_lag_s, 3.0);
        assert_eq!(cfg.limits.drs_concurrency, 50);
        cfg.apply_env(&[("WAVEDECK_STORE".into(), "postgres://x/y".into())])
            .unwrap();
        assert_eq!(cfg.store, "postgres://x/y");
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let yaml = "store: sqlite://a.db\nthreshold:\n  max_cutover_lag_s: 3\n";
        let err = Config::from_yaml(Path::new("w.yaml"), yaml)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.yaml:2:"), "{err}");
        assert!(err.contains("threshold"), "{err}");
    }

    #[test]
    fn closed_sets_name_the_allowed_words_and_ranges_the_line() {
        let err = Config::from_yaml(Path::new("w.yaml"), "engine:\n  source_drain: manual\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("w.yaml:2:"), "{err}");
        assert!(err.contains("`sql`, `emulator`, `runbook`"), "{err}");
        for (yaml, word) in [
            ("cutover:\n  dns_provider: route53\n", "`file` or `huawei`"),
            ("drs:\n  net_type: lan\n", "`vpc`, `vpn`, `eip`"),
            ("drs:\n  auth: password\n", "`aksk` or `token`"),
        ] {
            let err = Config::from_yaml(Path::new("w.yaml"), yaml)
                .unwrap_err()
                .to_string();
            assert!(err.contains(word), "{err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("w.yaml");
        std::fs::write(
            &file,
            "engine:\n  retry_cap_s: 1e300\n  time_scale: 1e-300\nlimits:\n  drs_concurrency: 0\n",
        )
        .unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        let at = |n: usize| format!("{}:{n}: ", file.display());
        assert!(
            lines[0].starts_with(&(at(5) + "limits.drs_concurrency is 0; allowed: 1 to 10000")),
            "{err}"
        );
        assert!(
            lines[1].starts_with(&(at(3) + "engine.time_scale is")),
            "{err}"
        );
        assert!(
            lines[2]
                .starts_with(&(at(2) + "engine.retry_cap_s is 1e300; allowed: 0 to 86400 seconds")),
            "{err}"
        );
    }

    #[test]
    fn bad_env_value_is_refused_with_its_name() {
        let mut cfg = Config::default();
        let err = cfg
            .apply_env(&[("WAVEDECK_MAX_CUTOVER_LAG_S".into(), "fast".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("WAVEDECK_MAX_CUTOVER_LAG_S"), "{err}");
    }
}

#[cfg(test)]
mod readme_tests {
    use super::*;

    fn key_paths(v: &serde_yaml::Value, prefix: &str, out: &mut Vec<String>) {
        if let serde_yaml::Value::Mapping(m) = v {
            for (k, v) in m {
                let key = format!("{prefix}{}", k.as_str().unwrap_or("?"));
                out.push(key.clone());
                key_paths(v, &format!("{key}."), out);
            }
        }
    }

    /// The README documents every config key with its default; this keeps the two in step.
    #[test]
    fn readme_config_block_lists_every_key_with_its_default() {
        let readme = include_str!("../README.md");
        let start = readme
            .find("```yaml\n# wavedeck.yaml\n")
            .expect("README has the config block");
        let body = &readme[start + "```yaml\n".len()..];
        let block = &body[..body.find("```").expect("block is closed")];
        let documented = Config::from_yaml(Path::new("README.md"), block).unwrap();
        assert_eq!(
            documented,
            Config::default(),
            "README defaults differ from the code"
        );

        let mut in_readme = Vec::new();
        key_paths(&serde_yaml::from_str(block).unwrap(), "", &mut in_readme);
        let mut in_code = Vec::new();
        key_paths(
            &serde_yaml::to_value(Config::default()).unwrap(),
            "",
            &mut in_code,
        );
        in_readme.sort();
        in_code.sort();
        assert_eq!(
            in_readme, in_code,
            "README config keys differ from the code"
        );
    }
}
