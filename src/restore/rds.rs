//! [`RestoreCloud`] over the signed RDS v3 client (`crate::cloud`): `ListBackups`,
//! `CreateRestoreInstance` with the source instance's flavour, disk, zone and network, and
//! `ListInstances` by name / `DeleteInstance`.

use super::run::{Backup, Instance, RestoreCloud};
use crate::cloud::model::{CreateRestoreInstanceRequestBody, RestorePoint};
use crate::cloud::CloudClient;
use chrono::{DateTime, Utc};

pub struct Rds(pub CloudClient);

/// RDS times: `yyyy-mm-ddThh:mm:ss+0800` (or `Z`).
fn rds_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl RestoreCloud for Rds {
    async fn backups(&self, instance_id: &str) -> Result<Vec<Backup>, String> {
        let all = self
            .0
            .backups(instance_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .map(|b| Backup {
                end_time: rds_time(&b.end_time),
                id: b.id,
                status: b.status,
            })
            .collect())
    }

    async fn restore(
        &self,
        instance_id: &str,
        backup_id: Option<&str>,
        at: Option<DateTime<Utc>>,
        name: &str,
    ) -> Result<String, String> {
        let src = self
            .0
            .instance(instance_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("RDS has no instance {instance_id} in this project"))?;
        let body = CreateRestoreInstanceRequestBody {
            name: name.to_string(),
            flavor_ref: src.flavor_ref.clone(),
            volume: src.volume.clone().unwrap_or_default(),
            availability_zone: src
                .nodes
                .first()
                .map(|n| n.availability_zone.clone())
                .unwrap_or_default(),
            vpc_id: Some(src.vpc_id.clone()).filter(|s| !s.is_empty()),
            subnet_id: Some(src.subnet_id.clone()).filter(|s| !s.is_empty()),
            security_group_id: Some(src.security_group_id.clone()).filter(|s| !s.is_empty()),
            restore_point: RestorePoint {
                instance_id: instance_id.to_string(),
                kind: if backup_id.is_some() {
                    "backup"
                } else {
                    "timestamp"
                }
                .into(),
                backup_id: backup_id.map(str::to_string),
                restore_time: at.map(|t| t.timestamp_millis()),
            },
        };
        let r = self
            .0
            .restore_to_new(&body)
            .await
            .map_err(|e| e.to_string())?;
        r.instance
            .and_then(|i| i.id)
            .ok_or_else(|| format!("RDS accepted the restore of {name} but gave no instance id"))
    }

    async fn find(&self, name: &str) -> Result<Option<Instance>, String> {
        let all = self
            .0
            .instances_named(name)
            .await
            .map_err(|e| e.to_string())?;
        Ok(all.into_iter().find(|i| i.name == name).map(|i| Instance {
            private_ip: i.private_ips.first().cloned(),
            port: u16::try_from(i.port).unwrap_or(0),
            id: i.id,
            name: i.name,
            status: i.status,
        }))
    }

    async fn delete(&self, instance_id: &str) -> Result<(), String> {
        self.0
            .delete_instance(instance_id)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rds_times_read() {
        let t = super::rds_time("2026-12-01T03:00:00+0800").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-30T19:00:00+00:00");
        assert!(super::rds_time("yesterday").is_none());
    }
}
