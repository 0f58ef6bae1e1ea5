//! RDS v3 `ListInstances` and VPC v3 `ListSecurityGroupRules` as the emulator serves them, for
//! the exposure pre-check. Every instance id is an instance: private, in the emulated VPC, its
//! security group open to the VPC's range on its port only; the fault plan's `rds` rules give
//! one another port or expose it (an EIP, 0.0.0.0/0 on the port or on everything).

use super::faults::{ExposureFault, FaultPlan};
use crate::cloud::model::*;

/// The emulated VPC's range: the source of the clean ingress rule.
pub const EMULATED_VPC_CIDR: &str = "192.168.0.0/16";
/// The EIP of an instance with the `public_ip` fault (TEST-NET-3, a documentation range).
pub const EMULATED_EIP: &str = "203.0.113.10";
const EMULATED_VPC_ID: &str = "vpc-wavedeck-emulator";
const CREATED: &str = "2026-01-01T00:00:00+0000";
const RULE_CREATED: &str = "2026-01-01T00:00:00Z";
/// `ListInstancesRequest.limit`: 1 to 100 (default 100).
pub(crate) const MAX_INSTANCES_PAGE: usize = 100;
/// `ListSecurityGroupRulesRequest.limit`: 1 to 2000 (default 2000).
const MAX_RULES_PAGE: usize = 2000;

/// The security group the emulator gives an instance.
pub fn security_group_of(instance: &str) -> String {
    format!("sg-{instance}")
}

fn port_of(plan: &FaultPlan, id: &str) -> u16 {
    plan.rds_rule(id).and_then(|r| r.port).unwrap_or(5432)
}

/// The instance with this id, as RDS describes it.
pub fn instance(plan: &FaultPlan, id: &str) -> InstanceResponse {
    let port = port_of(plan, id);
    let fault = plan.rds_rule(id).and_then(|r| r.fault);
    // A stable private address per id, inside the emulated VPC.
    let host = id
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into()))
        % 250
        + 2;
    InstanceResponse {
        id: id.to_string(),
        name: id.to_string(),
        status: "ACTIVE".into(),
        private_ips: vec![format!("192.168.0.{host}")],
        public_ips: match fault {
            Some(ExposureFault::PublicIp) => vec![EMULATED_EIP.into()],
            _ => vec![],
        },
        kind: "Single".into(),
        datastore: Some(Datastore {
            kind: if port == 3306 { "MySQL" } else { "PostgreSQL" }.into(),
            version: if port == 3306 { "8.0" } else { "15" }.into(),
        }),
        port: port.into(),
        region: String::new(),
        vpc_id: EMULATED_VPC_ID.into(),
        subnet_id: super::EMULATED_SUBNET_ID.into(),
        security_group_id: security_group_of(id),
        created: CREATED.into(),
        updated: CREATED.into(),
        // What a restore to a new instance copies (the restore tests).
        flavor_ref: if port == 3306 {
            "rds.mysql.n1.large.2"
        } else {
            "rds.pg.n1.large.2"
        }
        .into(),
        volume: Some(Volume {
            kind: "CLOUDSSD".into(),
            size: 100,
        }),
        nodes: vec![NodeResponse {
            id: format!("{id}-node0"),
            name: format!("{id}_node0"),
            role: "master".into(),
            status: "ACTIVE".into(),
            availability_zone: "az1".into(),
        }],
    }
}

/// A refusal as RDS and VPC send it: status, `error_code`, `error_msg`.
pub type Refused = (u16, &'static str, String);

pub(crate) fn limit(
    query: &[(String, String)],
    max: usize,
    code: &'static str,
) -> Result<usize, Refused> {
    match query.iter().find(|(k, _)| k == "limit") {
        None => Ok(max),
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err((
                400,
                code,
                format!("Invalid parameter limit: {v:?} (1 to {max})"),
            )),
        },
    }
}

/// `GET /v3/{project_id}/instances`: by `id` (an unknown one is an empty list, not an error),
/// or the instances the fault plan names exactly.
pub fn list_instances(
    plan: &FaultPlan,
    query: &[(String, String)],
) -> Result<ListInstancesResponse, Refused> {
    let limit = limit(query, MAX_INSTANCES_PAGE, "DBS.200001")?;
    let ids: Vec<String> = match query.iter().find(|(k, _)| k == "id") {
        Some((_, id)) => vec![id.clone()],
        None => plan
            .rds
            .iter()
            .filter(|r| !r.instance.contains('*'))
            .map(|r| r.instance.clone())
            .collect(),
    };
    let mut instances: Vec<InstanceResponse> = ids.iter().map(|id| instance(plan, id)).collect();
    if let Some((_, t)) = query.iter().find(|(k, _)| k == "datastore_type") {
        instances.retain(|i| i.datastore.as_ref().is_some_and(|d| &d.kind == t));
    }
    let total = instances.len();
    instances.truncate(limit);
    Ok(ListInstancesResponse {
        instances,
        total_count: total as i32,
    })
}

fn rule(
    sg: &str,
    id: &str,
    direction: &str,
    protocol: &str,
    ports: &str,
    from: &str,
    ethertype: &str,
) -> SecurityGroupRule {
    SecurityGroupRule {
        id: id.to_string(),
        description: String::new(),
        security_group_id: sg.to_string(),
        direction: direction.into(),
        protocol: protocol.into(),
        ethertype: ethertype.into(),
        multiport: ports.into(),
        action: "allow".into(),
        priority: 1,
        remote_group_id: String::new(),
        remote_ip_prefix: from.into(),
        remote_address_group_id: String::new(),
        created_at: Some(RULE_CREATED.into()),
        updated_at: Some(RULE_CREATED.into()),
        project_id: String::new(),
        enabled: true,
    }
}

/// The rules of one security group the emulator gave an instance (none for any other id).
pub fn rules(plan: &FaultPlan, sg: &str, project: &str) -> Vec<SecurityGroupRule> {
    let Some(inst) = sg.strip_prefix("sg-") else {
        return vec![];
    };
    let port = port_of(plan, inst).to_string();
    let mut out = vec![
        rule(
            sg,
            &format!("{sg}-vpc-in"),
            "ingress",
            "tcp",
            &port,
            EMULATED_VPC_CIDR,
            "IPv4",
        ),
        rule(
            sg,
            &format!("{sg}-out-v4"),
            "egress",
            "",
            "",
            "0.0.0.0/0",
            "IPv4",
        ),
        rule(
            sg,
            &format!("{sg}-out-v6"),
            "egress",
            "",
            "",
            "::/0",
            "IPv6",
        ),
    ];
    match plan.rds_rule(inst).and_then(|r| r.fault) {
        Some(ExposureFault::OpenPort) => out.push(rule(
            sg,
            &format!("{sg}-world-db"),
            "ingress",
            "tcp",
            &port,
            "0.0.0.0/0",
            "IPv4",
        )),
        Some(ExposureFault::OpenAll) => out.push(rule(
            sg,
            &format!("{sg}-world-all"),
            "ingress",
            "",
            "",
            "0.0.0.0/0",
            "IPv4",
        )),
        _ => {}
    }
    for r in out.iter_mut() {
        r.project_id = project.to_string();
    }
    out
}

/// `GET /v3/{project_id}/vpc/security-group-rules`: the rules of the groups named by
/// `security_group_id` (repeatable), by id, `limit` at a time after `marker`.
pub fn list_rules(
    plan: &FaultPlan,
    query: &[(String, String)],
    project: &str,
) -> Result<ListSecurityGroupRulesResponse, Refused> {
    let limit = limit(query, MAX_RULES_PAGE, "VPC.0601")?;
    let mut all: Vec<SecurityGroupRule> = query
        .iter()
        .filter(|(k, _)| k == "security_group_id")
        .flat_map(|(_, sg)| rules(plan, sg, project))
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let start = match query.iter().find(|(k, _)| k == "marker") {
        Some((_, m)) => match all.iter().position(|r| &r.id == m) {
            Some(i) => i + 1,
            None => return Err((400, "VPC.0601", format!("Invalid parameter marker: {m:?}"))),
        },
        None => 0,
    };
    let page: Vec<SecurityGroupRule> = all.iter().skip(start).take(limit).cloned().collect();
    let more = start + page.len() < all.len();
    Ok(ListSecurityGroupRulesResponse {
        request_id: Some(format!("{:032x}", rand::random::<u128>())),
        page_info: Some(PageInfo {
            previous_marker: page.first().map(|r| r.id.clone()).unwrap_or_default(),
            current_count: page.len() as i32,
            next_marker: if more {
                page.last().map(|r| r.id.clone())
            } else {
                None
            },
        }),
        security_group_rules: page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn faults_expose_the_instance_they_name_only() {
        let plan = FaultPlan::parse(
            Path::new("f.yaml"),
            "rds:\n  - instance: rds-pub\n    fault: public_ip\n  - instance: rds-open\n    port: 3306\n    fault: open_port\n",
        )
        .unwrap();
        assert_eq!(instance(&plan, "rds-pub").public_ips, vec![EMULATED_EIP]);
        assert!(instance(&plan, "rds-clean").public_ips.is_empty());
        let open = rules(&plan, &security_group_of("rds-open"), "p");
        assert!(open.iter().any(|r| r.remote_ip_prefix == "0.0.0.0/0"
            && r.direction == "ingress"
            && r.multiport == "3306"));
        let clean = rules(&plan, &security_group_of("rds-clean"), "p");
        assert!(clean
            .iter()
            .all(|r| r.direction == "egress" || r.remote_ip_prefix == EMULATED_VPC_CIDR));
        assert!(rules(&plan, "sg-", "p").iter().all(|r| r.project_id == "p"));
        assert!(rules(&plan, "other", "p").is_empty());
    }

    #[test]
    fn rules_page_by_marker() {
        let plan = FaultPlan::default();
        let sg = security_group_of("rds-1");
        let first = list_rules(
            &plan,
            &q(&[("security_group_id", &sg), ("limit", "2")]),
            "p",
        )
        .unwrap();
        assert_eq!(first.security_group_rules.len(), 2);
        let next = first.page_info.unwrap().next_marker.unwrap();
        let second = list_rules(
            &plan,
            &q(&[
                ("security_group_id", &sg),
                ("limit", "2"),
                ("marker", &next),
            ]),
            "p",
        )
        .unwrap();
        assert_eq!(second.security_group_rules.len(), 1);
        assert!(second.page_info.unwrap().next_marker.is_none());
        assert!(list_rules(&plan, &q(&[("limit", "5000")]), "p").is_err());
        let none =
            list_instances(&plan, &q(&[("id", "rds-9"), ("datastore_type", "MySQL")])).unwrap();
        assert_eq!(none.total_count, 0);
    }
}
