//! The "no public exposure" pre-check (factory standard: "open only required internal ports;
//! no public exposure"): the target RDS instance has no EIP, and its security group opens the
//! database port only to `checks.allowed_cidrs`. Read through RDS v3 and VPC v3
//! (`crate::cloud`); the verdicts below are pure. An API that cannot be asked decides nothing:
//! that is a fail saying "not decided", never a pass.

use super::CheckResult;
use crate::cloud::model::{InstanceResponse, SecurityGroupRule};
use crate::cloud::CloudClient;
use crate::config::Config;
use crate::inventory::DatabaseSpec;
use std::net::IpAddr;

/// The check when nothing could be decided (no instance id, API unreachable, no such instance).
pub const EXPOSURE: &str = "target/exposure";
/// The target instance's EIPs.
pub const PUBLIC_IP: &str = "target/public_ip";
/// The target's security-group rules on the database port.
pub const SECURITY_GROUP: &str = "target/security_group";
/// The DRS job's replication instance's EIP (checked once the job exists: at cutover).
pub const DRS_PUBLIC_IP: &str = "drs/public_ip";

/// The words a cutover refused for exposure starts with (the evidence pack looks for them).
pub const REFUSAL: &str = "cutover refused: the target is exposed or its exposure is not decided";

/// The refusal of a cutover whose exposure check did not pass (`None`: it passed).
pub fn refusal(results: &[CheckResult]) -> Option<String> {
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.status == super::Status::Fail)
        .map(|r| {
            format!(
                "{}: {} (fix: {})",
                r.name,
                r.evidence,
                r.fix.as_deref().unwrap_or("-")
            )
        })
        .collect();
    (!bad.is_empty()).then(|| format!("{REFUSAL}: {}", bad.join("; ")))
}

/// Whether a pre-check result is one of this check's (what `exposure.json` holds).
pub fn is_exposure(name: &str) -> bool {
    [EXPOSURE, PUBLIC_IP, SECURITY_GROUP, DRS_PUBLIC_IP].contains(&name)
}

/// Inventory `extra` keys: `public_ok: true` with `public_ok_reason`, or `public_ok: "<reason>"`.
pub const EXTRA_PUBLIC_OK: &str = "public_ok";
pub const EXTRA_PUBLIC_OK_REASON: &str = "public_ok_reason";

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `::/0`; a bare address is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address (e.g. 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("prefix {p:?} is not 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    fn bits(&self) -> (u128, u32) {
        match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// Every address of `other` is in `self` (same family).
    pub fn contains(&self, other: &Cidr) -> bool {
        let ((a, fa), (b, fb)) = (self.bits(), other.bits());
        if fa != fb || other.prefix < self.prefix {
            return false;
        }
        // Both families sit at the top of the u128, so the prefix counts from its top bit.
        let keep = u32::from(self.prefix);
        let mask = if keep == 0 {
            0
        } else {
            u128::MAX << (128 - keep)
        };
        a & mask == b & mask
    }

    /// `0.0.0.0/0` or `::/0`: the whole Internet.
    pub fn is_world(&self) -> bool {
        self.prefix == 0
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// What the check needs besides the database: the client (or why there is none) and the
/// allowed sources.
#[derive(Clone, Debug)]
pub struct Probe {
    pub client: Result<CloudClient, String>,
    pub allowed: Vec<Cidr>,
}

impl Probe {
    /// The probe of a config: its RDS/VPC endpoints and credentials, `checks.allowed_cidrs`
    /// (checked when the config loads; an entry that does not parse is left out).
    pub fn from_config(cfg: &Config) -> Probe {
        Probe::with_client(cfg, CloudClient::from_config(cfg))
    }

    /// The probe of a config with the credentials another client holds (the engine's DRS one).
    pub fn with_auth(cfg: &Config, auth: &crate::drs::Auth) -> Probe {
        Probe::with_client(cfg, CloudClient::new(cfg, auth.clone()))
    }

    fn with_client(cfg: &Config, client: Result<CloudClient, crate::cloud::CloudError>) -> Probe {
        Probe {
            client: client.map_err(|e| e.to_string()),
            allowed: cfg
                .checks
                .allowed_cidrs
                .iter()
                .filter_map(|c| Cidr::parse(c).ok())
                .collect(),
        }
    }
}

/// The inventory's leave to keep an EIP: `Ok(Some(reason))`, `Ok(None)` when not given, or why
/// what is given is not enough.
pub fn public_ok(spec: &DatabaseSpec) -> Result<Option<String>, String> {
    let reason = spec
        .extra
        .get(EXTRA_PUBLIC_OK_REASON)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match spec.extra.get(EXTRA_PUBLIC_OK) {
        None | Some(serde_json::Value::Bool(false)) | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().into())),
        Some(serde_json::Value::Bool(true)) => match reason {
            Some(r) => Ok(Some(r.to_string())),
            None => Err(format!(
                "extra.{EXTRA_PUBLIC_OK} is true for {} but gives no reason: add extra.{EXTRA_PUBLIC_OK_REASON}",
                spec.db_id
            )),
        },
        Some(other) => Err(format!(
            "extra.{EXTRA_PUBLIC_OK} of {} is {other}; allowed: true (with extra.{EXTRA_PUBLIC_OK_REASON}) or the reason as text",
            spec.db_id
        )),
    }
}

fn describe(inst: &InstanceResponse) -> String {
    if inst.name.is_empty() || inst.name == inst.id {
        format!("RDS instance {}", inst.id)
    } else {
        format!("RDS instance {} ({})", inst.id, inst.name)
    }
}

/// The verdict on the instance's EIPs.
pub fn public_ip_result(
    inst: &InstanceResponse,
    ok: &Result<Option<String>, String>,
) -> CheckResult {
    let who = describe(inst);
    if inst.public_ips.is_empty() {
        return CheckResult::pass(
            PUBLIC_IP,
            format!(
                "{who} has no public IP (private {})",
                inst.private_ips.join(", ")
            ),
        );
    }
    let ips = inst.public_ips.join(", ");
    let unbind = format!(
        "unbind EIP {ips} from {who} (console: the instance's Connectivity & Security, EIP, Unbind; API: PUT /v3/{{project_id}}/instances/{}/public-ip with action unbind)",
        inst.id
    );
    match ok {
        Ok(Some(reason)) => CheckResult::pass(
            PUBLIC_IP,
            format!("{who} has public IP {ips}, allowed by the inventory: {reason}"),
        ),
        Ok(None) => CheckResult::fail(
            PUBLIC_IP,
            format!("{who} has public IP {ips}: the database is reachable from the Internet"),
            format!("{unbind}; or, if it must stay public, set extra.{EXTRA_PUBLIC_OK}: true and extra.{EXTRA_PUBLIC_OK_REASON} in the inventory"),
        ),
        Err(e) => CheckResult::fail(
            PUBLIC_IP,
            format!("{who} has public IP {ips}; {e}"),
            unbind,
        ),
    }
}

/// A rule's ports cover `port`: empty is every port; else `80`, `1-30`, `22,3389,80` or a mix.
pub fn covers_port(multiport: &str, port: u16) -> bool {
    let m = multiport.trim();
    if m.is_empty() || m == "1-65535" {
        return true;
    }
    m.split(',')
        .map(str::trim)
        .any(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                (Ok(a), Ok(b)) => (a..=b).contains(&port),
                // A range the check cannot read is taken as covering: a fail names it.
                _ => true,
            },
            None => part.parse::<u16>().map_or(true, |p| p == port),
        })
}

/// The rule lets TCP through: `tcp`, its number, or every protocol (empty / `any`).
fn lets_tcp(protocol: &str) -> bool {
    matches!(
        protocol.trim().to_ascii_lowercase().as_str(),
        "" | "tcp" | "6" | "any"
    )
}

fn rule_words(r: &SecurityGroupRule) -> String {
    let proto = if r.protocol.is_empty() {
        "all protocols"
    } else {
        r.protocol.as_str()
    };
    let ports = if r.multiport.is_empty() {
        "all ports".to_string()
    } else {
        format!("port {}", r.multiport)
    };
    let from = if !r.remote_ip_prefix.is_empty() {
        r.remote_ip_prefix.clone()
    } else if !r.remote_address_group_id.is_empty() {
        format!("address group {}", r.remote_address_group_id)
    } else if !r.remote_group_id.is_empty() {
        format!("security group {}", r.remote_group_id)
    } else {
        "anywhere".to_string()
    };
    format!(
        "rule {} ({} {proto} {ports} from {from}, {}, priority {})",
        r.id, r.direction, r.action, r.priority
    )
}

enum Finding {
    /// Opens the port beyond the allowed CIDRs.
    Open(String),
    /// Cannot be judged here (an address group is not read).
    Unknown(String),
}

fn judge(r: &SecurityGroupRule, ports: &[u16], allowed: &[Cidr]) -> Option<Finding> {
    let ingress = r.direction.eq_ignore_ascii_case("ingress");
    // `deny` rules only narrow; a disabled rule lets nothing through.
    let allows = !r.action.eq_ignore_ascii_case("deny");
    if !ingress || !allows || !r.enabled || !lets_tcp(&r.protocol) {
        return None;
    }
    if !ports.iter().any(|p| covers_port(&r.multiport, *p)) {
        return None;
    }
    let words = rule_words(r);
    if !r.remote_ip_prefix.is_empty() {
        return match Cidr::parse(&r.remote_ip_prefix) {
            Ok(c) if allowed.iter().any(|a| a.contains(&c)) => None,
            Ok(c) if c.is_world() => Some(Finding::Open(format!("{words}: the whole Internet"))),
            Ok(_) => Some(Finding::Open(format!(
                "{words}: outside checks.allowed_cidrs"
            ))),
            Err(e) => Some(Finding::Open(format!("{words}: unreadable source ({e})"))),
        };
    }
    if !r.remote_group_id.is_empty() {
        // Members of another group of this tenant: internal by construction.
        return None;
    }
    if !r.remote_address_group_id.is_empty() {
        return Some(Finding::Unknown(format!(
            "{words}: the addresses of an address group are not read by this check"
        )));
    }
    // No source at all lets every address in.
    Some(Finding::Open(format!(
        "{words}: no source given, so the whole Internet"
    )))
}

/// The verdict on the instance's security-group rules for the database ports.
pub fn rules_result(
    inst: &InstanceResponse,
    rules: &[SecurityGroupRule],
    ports: &[u16],
    allowed: &[Cidr],
) -> CheckResult {
    let sg = &inst.security_group_id;
    let ports_words = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let allowed_words = allowed
        .iter()
        .map(Cidr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut open = Vec::new();
    let mut unknown = Vec::new();
    let mut ids = Vec::new();
    for r in rules {
        match judge(r, ports, allowed) {
            Some(Finding::Open(w)) => {
                open.push(w);
                ids.push(r.id.clone());
            }
            Some(Finding::Unknown(w)) => unknown.push(w),
            None => {}
        }
    }
    let head = format!(
        "security group {sg} of {}: {} rules read, database port {ports_words}",
        describe(inst),
        rules.len()
    );
    if !open.is_empty() {
        return CheckResult::fail(
            SECURITY_GROUP,
            format!("{head}; open beyond {allowed_words}: {}", open.join("; ")),
            format!(
                "in security group {sg}, delete rule {} or narrow its source to a CIDR inside checks.allowed_cidrs ({allowed_words}) (console: Access Control, Security Groups, {sg}, Inbound Rules; API: DELETE /v3/{{project_id}}/vpc/security-group-rules/{{rule_id}})",
                ids.join(", ")
            ),
        );
    }
    if !unknown.is_empty() {
        return CheckResult::warn(
            SECURITY_GROUP,
            format!("{head}; {}", unknown.join("; ")),
            format!("check that the address group holds only sources inside {allowed_words}, or replace the rule by one with a CIDR"),
        );
    }
    CheckResult::pass(
        SECURITY_GROUP,
        format!("{head}; opened only to {allowed_words} or other security groups"),
    )
}

/// The verdict on the DRS replication instance of `job` (`inst_info` of batch-detail): an EIP
/// only when `drs.net_type: eip` asks for one.
pub fn drs_eip_result(
    job: &str,
    info: Option<&crate::drs::model::InstInfo>,
    net_type: crate::config::NetType,
) -> CheckResult {
    let Some(info) = info else {
        return CheckResult::warn(
            DRS_PUBLIC_IP,
            format!("not decided: DRS batch-detail gives no inst_info for job {job}"),
            format!("look at the replication instance of job {job} in the DRS console"),
        );
    };
    let private = info.ip.as_deref().unwrap_or("?");
    match info.public_ip.as_deref().filter(|s| !s.trim().is_empty()) {
        None => CheckResult::pass(
            DRS_PUBLIC_IP,
            format!("the DRS instance of job {job} has no EIP (private {private})"),
        ),
        Some(ip) if net_type == crate::config::NetType::Eip => CheckResult::pass(
            DRS_PUBLIC_IP,
            format!("the DRS instance of job {job} has EIP {ip}, as drs.net_type: eip asks"),
        ),
        Some(ip) => CheckResult::fail(
            DRS_PUBLIC_IP,
            format!(
                "the DRS instance of job {job} has EIP {ip} while drs.net_type is {}",
                net_type.as_str()
            ),
            format!("unbind EIP {ip} from the replication instance of DRS job {job} (DRS console: the job's Basic Information, Unbind EIP; API v5 action unbind_eip), or set drs.net_type: eip if the source is reached over the Internet"),
        ),
    }
}

/// The DRS side of the check: batch-detail of the job, its replication instance's EIP.
pub async fn drs_check(
    drs: &crate::drs::DrsClient,
    job: &str,
    net_type: crate::config::NetType,
) -> CheckResult {
    match drs
        .batch_detail(&[crate::drs::JobId(job.to_string())])
        .await
    {
        Ok(details) => drs_eip_result(
            job,
            details
                .iter()
                .find(|d| d.id == job)
                .and_then(|d| d.inst_info.as_ref()),
            net_type,
        ),
        Err(e) => CheckResult::fail(
            DRS_PUBLIC_IP,
            format!("not decided: {e}"),
            "make DRS reachable from the jump host and try again",
        ),
    }
}

/// The exposure check of one database: its target's instance, then its security group.
pub async fn check(spec: &DatabaseSpec, probe: &Probe) -> Vec<CheckResult> {
    let Some(id) = spec
        .extra
        .get(crate::drs::api::EXTRA_RDS_INSTANCE)
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty())
    else {
        return vec![CheckResult::warn(
            EXPOSURE,
            format!(
                "not decided: the inventory gives no extra.{} for {}, so its RDS instance cannot be looked up",
                crate::drs::api::EXTRA_RDS_INSTANCE,
                spec.db_id
            ),
            format!(
                "set extra.{} of {} to the target RDS instance id",
                crate::drs::api::EXTRA_RDS_INSTANCE,
                spec.db_id
            ),
        )];
    };
    let undecided = |what: String| {
        vec![CheckResult::fail(
            EXPOSURE,
            format!("not decided: {what}"),
            "make RDS and VPC reachable from the jump host with the DRS credentials (drs.rds_endpoint, drs.vpc_endpoint, drs.project_id) and run the pre-checks again",
        )]
    };
    let client = match &probe.client {
        Ok(c) => c,
        Err(e) => return undecided(e.clone()),
    };
    let inst = match client.instance(id).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return vec![CheckResult::fail(
                EXPOSURE,
                format!(
                    "RDS has no instance {id} in this project (extra.{} of {})",
                    crate::drs::api::EXTRA_RDS_INSTANCE,
                    spec.db_id
                ),
                format!(
                    "correct extra.{} of {} (RDS console: the instance's id)",
                    crate::drs::api::EXTRA_RDS_INSTANCE,
                    spec.db_id
                ),
            )]
        }
        Err(e) => return undecided(e.to_string()),
    };
    let mut out = vec![public_ip_result(&inst, &public_ok(spec))];
    let mut ports = vec![spec.target.port];
    if let Ok(p) = u16::try_from(inst.port) {
        if p > 0 && !ports.contains(&p) {
            ports.push(p);
        }
    }
    if inst.security_group_id.is_empty() {
        out.push(CheckResult::fail(
            SECURITY_GROUP,
            format!("{} names no security group", describe(&inst)),
            "check the instance in the RDS console (Connectivity & Security)",
        ));
        return out;
    }
    match client.security_group_rules(&inst.security_group_id).await {
        Ok(rules) => out.push(rules_result(&inst, &rules, &ports, &probe.allowed)),
        Err(e) => out.extend(undecided(e.to_string())),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    fn cidrs(v: &[&str]) -> Vec<Cidr> {
        v.iter().map(|c| Cidr::parse(c).unwrap()).collect()
    }

    fn inst(public: &[&str]) -> InstanceResponse {
        InstanceResponse {
            id: "rds-1".into(),
            name: "orders".into(),
            private_ips: vec!["192.168.0.10".into()],
            public_ips: public.iter().map(|s| s.to_string()).collect(),
            port: 5432,
            security_group_id: "sg-1".into(),
            ..Default::default()
        }
    }

    fn rule(id: &str, proto: &str, ports: &str, from: &str) -> SecurityGroupRule {
        SecurityGroupRule {
            id: id.into(),
            direction: "ingress".into(),
            protocol: proto.into(),
            multiport: ports.into(),
            remote_ip_prefix: from.into(),
            action: "allow".into(),
            priority: 1,
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn cidrs_contain_their_subnets_only() {
        let private = cidrs(&["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
        let inside = |c: &str| private.iter().any(|p| p.contains(&Cidr::parse(c).unwrap()));
        assert!(inside("10.1.2.0/24"));
        assert!(inside("192.168.0.10"));
        assert!(inside("172.31.255.255/32"));
        assert!(!inside("172.32.0.0/16"));
        assert!(!inside("0.0.0.0/0"));
        assert!(!inside("8.8.8.8"));
        assert!(!inside("::/0"));
        assert!(Cidr::parse("::/0").unwrap().is_world());
        assert!(Cidr::parse("fd00::/8")
            .unwrap()
            .contains(&Cidr::parse("fd12:3456::/32").unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains(&Cidr::parse("8.8.8.8").unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("ten/8").is_err());
    }

    #[test]
    fn a_drs_eip_fails_unless_net_type_eip_asks_for_it() {
        use crate::config::NetType;
        use crate::drs::model::InstInfo;
        let with = InstInfo {
            ip: Some("192.168.1.2".into()),
            public_ip: Some("198.51.100.2".into()),
            ..Default::default()
        };
        let r = drs_eip_result("job-1", Some(&with), NetType::Vpc);
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.evidence.contains("job-1") && r.evidence.contains("198.51.100.2"),
            "{r:?}"
        );
        assert!(r.fix.unwrap().contains("unbind EIP 198.51.100.2"));
        assert_eq!(
            drs_eip_result("job-1", Some(&with), NetType::Eip).status,
            Status::Pass
        );
        let without = InstInfo {
            public_ip: None,
            ..with
        };
        assert_eq!(
            drs_eip_result("job-1", Some(&without), NetType::Vpc).status,
            Status::Pass
        );
        assert_eq!(
            drs_eip_result("job-1", None, NetType::Vpc).status,
            Status::Warn
        );
    }

    #[test]
    fn ports_cover_singles_ranges_and_lists() {
        assert!(covers_port("", 5432));
        assert!(covers_port("5432", 5432));
        assert!(!covers_port("3306", 5432));
        assert!(covers_port("5000-6000", 5432));
        assert!(covers_port("22, 3389,5432", 5432));
        assert!(!covers_port("22,3389,80", 5432));
    }

    #[test]
    fn an_eip_fails_unless_the_inventory_gives_a_reason() {
        assert_eq!(public_ip_result(&inst(&[]), &Ok(None)).status, Status::Pass);
        let r = public_ip_result(&inst(&["203.0.113.7"]), &Ok(None));
        assert_eq!(r.status, Status::Fail);
        assert!(
            r.evidence.contains("rds-1") && r.evidence.contains("203.0.113.7"),
            "{r:?}"
        );
        assert!(r.fix.unwrap().contains("unbind EIP 203.0.113.7"));
        let ok = public_ip_result(
            &inst(&["203.0.113.7"]),
            &Ok(Some("partner VPN ends on it".into())),
        );
        assert_eq!(ok.status, Status::Pass);
        assert!(ok.evidence.contains("partner VPN ends on it"));
        let no_reason = public_ip_result(&inst(&["203.0.113.7"]), &Err("no reason".into()));
        assert_eq!(no_reason.status, Status::Fail);
    }

    #[test]
    fn rules_open_to_the_world_on_the_port_or_all_ports_fail() {
        let allowed = cidrs(&["10.0.0.0/8", "192.168.0.0/16"]);
        let i = inst(&[]);
        let clean = [
            rule("r-vpc", "tcp", "5432", "192.168.0.0/16"),
            rule("r-ssh", "tcp", "22", "0.0.0.0/0"),
            SecurityGroupRule {
                direction: "egress".into(),
                ..rule("r-out", "", "", "0.0.0.0/0")
            },
            SecurityGroupRule {
                action: "deny".into(),
                ..rule("r-deny", "tcp", "5432", "0.0.0.0/0")
            },
            SecurityGroupRule {
                remote_group_id: "sg-app".into(),
                ..rule("r-app", "tcp", "5432", "")
            },
        ];
        assert_eq!(
            rules_result(&i, &clean, &[5432], &allowed).status,
            Status::Pass
        );
        for bad in [
            rule("r-open", "tcp", "5432", "0.0.0.0/0"),
            rule("r-all", "", "", "0.0.0.0/0"),
            rule("r-v6", "tcp", "5000-6000", "::/0"),
            rule("r-public", "tcp", "5432", "198.51.100.0/24"),
            rule("r-none", "tcp", "5432", ""),
        ] {
            let mut rules = clean.to_vec();
            rules.push(bad.clone());
            let r = rules_result(&i, &rules, &[5432], &allowed);
            assert_eq!(r.status, Status::Fail, "{bad:?}");
            assert!(r.evidence.contains(&bad.id), "{r:?}");
            assert!(r
                .fix
                .as_deref()
                .unwrap()
                .contains(&format!("delete rule {}", bad.id)));
            assert!(r.fix.as_deref().unwrap().contains("sg-1"));
        }
        // A disabled rule, or another port, lets nothing through to the database.
        let off = SecurityGroupRule {
            enabled: false,
            ..rule("r-off", "tcp", "5432", "0.0.0.0/0")
        };
        let other = rule("r-http", "tcp", "80,443", "0.0.0.0/0");
        assert_eq!(
            rules_result(&i, &[off, other], &[5432], &allowed).status,
            Status::Pass
        );
        let ag = SecurityGroupRule {
            remote_address_group_id: "ag-1".into(),
            ..rule("r-ag", "tcp", "5432", "")
        };
        assert_eq!(
            rules_result(&i, &[ag], &[5432], &allowed).status,
            Status::Warn
        );
    }
}
