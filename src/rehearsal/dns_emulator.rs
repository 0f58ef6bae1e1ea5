//! Huawei Cloud DNS private-zone record sets, enough for the cutover's DNS switch to rehearse
//! against the emulator (Cloud DNS v2 `PUT /v2/zones/{zone_id}/recordsets/{id}`, `GET
//! .../recordsets?name=&search_mode=equal`, as in the Go SDK `services/dns/v2`): create, find by
//! name, read, update. An update answers 202 `PENDING_UPDATE` and turns `ACTIVE` a few emulated
//! seconds later. Zones need no creation: any zone id holds the record sets created in it.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Emulated seconds a change stays `PENDING_*`.
pub const PENDING_S: f64 = 5.0;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RecordSet {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ttl: u32,
    pub records: Vec<String>,
    pub status: String,
    pub zone_id: String,
    pub description: String,
    pub create_at: String,
    pub update_at: String,
    #[serde(skip)]
    pub pending_until: f64,
}

/// PUT / POST body (`model_update_record_set_req.go`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RecordSetReq {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub ttl: Option<u32>,
    #[serde(default)]
    pub records: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct DnsRefusal {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
}

const NOT_FOUND: DnsRefusal = DnsRefusal {
    status: 404,
    code: "DNS.0313",
    message: "The record set does not exist.",
};

#[derive(Debug, Default)]
pub struct Zones {
    zones: HashMap<String, Vec<RecordSet>>,
    next: u64,
}

impl Zones {
    fn settle(&mut self, now: f64) {
        for sets in self.zones.values_mut() {
            for r in sets.iter_mut() {
                if r.status.starts_with("PENDING_") && now >= r.pending_until {
                    r.status = "ACTIVE".into();
                }
            }
        }
    }

    pub fn create(
        &mut self,
        zone: &str,
        req: RecordSetReq,
        now: f64,
        stamp: String,
    ) -> Result<RecordSet, DnsRefusal> {
        self.settle(now);
        let (Some(name), Some(kind), Some(records)) = (req.name, req.kind, req.records) else {
            return Err(DnsRefusal {
                status: 400,
                code: "DNS.0304",
                message: "Invalid record set: name, type and records are required.",
            });
        };
        if !name.ends_with('.') {
            return Err(DnsRefusal {
                status: 400,
                code: "DNS.0304",
                message: "Invalid record set name: use a fully qualified name ending in '.'.",
            });
        }
        let sets = self.zones.entry(zone.to_string()).or_default();
        if sets.iter().any(|r| r.name == name && r.kind == kind) {
            return Err(DnsRefusal {
                status: 400,
                code: "DNS.0312",
                message: "The record set name already exists.",
            });
        }
        self.next += 1;
        let r = RecordSet {
            id: format!("ff8080826{:023x}", self.next),
            name,
            kind,
            ttl: req.ttl.unwrap_or(300),
            records,
            status: "PENDING_CREATE".into(),
            zone_id: zone.to_string(),
            description: req.description.unwrap_or_default(),
            create_at: stamp.clone(),
            update_at: stamp,
            pending_until: now + PENDING_S,
        };
        sets.push(r.clone());
        Ok(r)
    }

    pub fn find(
        &mut self,
        zone: &str,
        name: Option<&str>,
        kind: Option<&str>,
        exact: bool,
        now: f64,
    ) -> Vec<RecordSet> {
        self.settle(now);
        self.zones
            .get(zone)
            .map(|sets| {
                sets.iter()
                    .filter(|r| kind.is_none_or(|k| k.is_empty() || r.kind == k))
                    .filter(|r| match name {
                        None | Some("") => true,
                        Some(n) if exact => r.name == n,
                        Some(n) => r.name.contains(n),
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn get(&mut self, zone: &str, id: &str, now: f64) -> Result<RecordSet, DnsRefusal> {
        self.settle(now);
        self.zones
            .get(zone)
            .and_then(|s| s.iter().find(|r| r.id == id))
            .cloned()
            .ok_or(NOT_FOUND)
    }

    pub fn update(
        &mut self,
        zone: &str,
        id: &str,
        req: RecordSetReq,
        now: f64,
        stamp: String,
    ) -> Result<RecordSet, DnsRefusal> {
        self.settle(now);
        let r = self
            .zones
            .get_mut(zone)
            .and_then(|s| s.iter_mut().find(|r| r.id == id))
            .ok_or(NOT_FOUND)?;
        if let Some(n) = &req.name {
            if *n != r.name {
                return Err(DnsRefusal {
                    status: 400,
                    code: "DNS.0304",
                    message: "Invalid record set name: it cannot be changed.",
                });
            }
        }
        if let Some(ttl) = req.ttl {
            if ttl == 0 {
                return Err(DnsRefusal {
                    status: 400,
                    code: "DNS.0303",
                    message: "Invalid TTL.",
                });
            }
            r.ttl = ttl;
        }
        if let Some(records) = req.records {
            r.records = records;
        }
        if let Some(d) = req.description {
            r.description = d;
        }
        r.status = "PENDING_UPDATE".into();
        r.pending_until = now + PENDING_S;
        r.update_at = stamp;
        Ok(r.clone())
    }
}

/// The zone a record set's name sits in, as DNS answers `zone_name`: the name without its
/// first label (`orders.corp.internal.` is in `corp.internal.`). The emulator's zones are
/// made by their first record set, so the name is all there is to go by.
pub fn zone_name_of(name: &str) -> String {
    match name.split_once('.') {
        Some((_, rest)) if !rest.is_empty() => rest.to_string(),
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_sets_zone_is_its_name_less_the_first_label() {
        assert_eq!(zone_name_of("orders.corp.internal."), "corp.internal.");
        assert_eq!(zone_name_of("internal."), "internal.");
        assert_eq!(zone_name_of("top"), "top");
    }

    fn req(records: &[&str]) -> RecordSetReq {
        RecordSetReq {
            name: Some("db01.corp.internal.".into()),
            kind: Some("A".into()),
            ttl: Some(60),
            records: Some(records.iter().map(|s| s.to_string()).collect()),
            description: None,
        }
    }

    #[test]
    fn create_find_update_then_active() {
        let mut z = Zones::default();
        let r = z.create("z1", req(&["10.0.0.1"]), 0.0, "t".into()).unwrap();
        assert_eq!(r.status, "PENDING_CREATE");
        assert_eq!(
            z.create("z1", req(&["10.0.0.1"]), 0.0, "t".into())
                .unwrap_err()
                .code,
            "DNS.0312"
        );
        let found = z.find("z1", Some("db01.corp.internal."), Some("A"), true, 10.0);
        assert_eq!((found.len(), found[0].status.as_str()), (1, "ACTIVE"));
        assert!(z
            .find("z1", Some("db01.corp"), Some("A"), true, 10.0)
            .is_empty());
        assert_eq!(
            z.find("z1", Some("db01.corp"), Some("A"), false, 10.0)
                .len(),
            1
        );
        let u = z
            .update("z1", &r.id, req(&["10.9.9.9"]), 20.0, "t2".into())
            .unwrap();
        assert_eq!(
            (u.status.as_str(), u.records[0].as_str()),
            ("PENDING_UPDATE", "10.9.9.9")
        );
        assert_eq!(
            z.get("z1", &r.id, 20.0 + PENDING_S).unwrap().status,
            "ACTIVE"
        );
        assert_eq!(z.get("z1", "nope", 0.0).unwrap_err().code, "DNS.0313");
        assert_eq!(z.get("z2", &r.id, 0.0).unwrap_err().status, 404);
    }
}
