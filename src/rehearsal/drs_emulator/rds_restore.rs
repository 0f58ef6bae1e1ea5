//! RDS v3 backups and restores as the emulator serves them, for the restore tests: `ListBackups`,
//! `CreateRestoreInstance` (`POST /v3/{project_id}/instances` with a `restore_point`) and
//! `DeleteInstance`, with the SDK's field names (`crate::cloud::model`).
//!
//! The emulator keeps no backups: each instance that a native job replicates into (its
//! `target_endpoint.inst_id`) has one finished automatic backup, and restoring it copies the
//! target database as it is now into a new database, named after the new instance, on the
//! target's own cluster ([`super::restore`]). The new instance is `BUILD` while the copy runs,
//! then `ACTIVE`; `ListInstances` by id or name shows it until it is deleted, which drops the
//! copy. Faults (`restores:` in the fault plan): `smoke_fail` spoils the copy, `restore_fail`
//! ends it `FAILED`, `build_ms` holds it in `BUILD` (to kill the engine mid-restore).
//!
//! Refusals carry RDS's codes (API reference, "Error Codes"): `DBS.200001` a parameter error,
//! `DBS.200002` no such instance, `DBS.200013` no such source ("original") instance,
//! `DBS.200021` an invalid instance name, `DBS.200022` a name in use. An unknown backup's code
//! is not in that list: `DBS.200106` here is unconfirmed.

use super::faults::RestoreFaultKind;
use super::Emulator;
use crate::cloud::model::*;
use crate::cutover::side::Side;
use crate::inventory::Engine;
use std::sync::Arc;

pub use super::state::{Restored, Restores};

pub type Refused = (u16, &'static str, String);

/// The target a native job replicates into, for this RDS instance id.
fn target_of(emu: &Emulator, instance_id: &str) -> Option<(Engine, Side)> {
    let st = emu.lock();
    st.jobs.values().find_map(|j| {
        let n = j.native.as_ref()?;
        (j.req.target_endpoint.inst_id.as_deref() == Some(instance_id)).then(|| {
            let engine = if j.req.engine_type.contains("postgres") {
                Engine::Postgres
            } else {
                Engine::Mysql
            };
            (engine, n.target.clone())
        })
    })
}

/// The one backup of an instance: finished an hour before the emulator's clock now.
fn backup_id(instance_id: &str) -> String {
    format!("bk-{instance_id}-auto")
}

fn rds_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// `GET /v3/{project_id}/backups?instance_id=`.
pub(crate) fn list_backups(
    emu: &Emulator,
    query: &[(String, String)],
) -> Result<ListBackupsResponse, Refused> {
    let Some((_, id)) = query.iter().find(|(k, _)| k == "instance_id") else {
        return Err((
            400,
            "DBS.200001",
            "The parameter instance_id is missing.".into(),
        ));
    };
    let Some((engine, _)) = target_of(emu, id) else {
        return Ok(ListBackupsResponse::default());
    };
    let end = chrono::Utc::now() - chrono::Duration::hours(1);
    Ok(ListBackupsResponse {
        backups: vec![BackupForList {
            id: backup_id(id),
            instance_id: id.clone(),
            name: format!("{id}-auto"),
            begin_time: rds_time(end - chrono::Duration::minutes(5)),
            end_time: rds_time(end),
            status: "COMPLETED".into(),
            kind: "auto".into(),
            size: 1024,
            datastore: Some(Datastore {
                kind: match engine {
                    Engine::Postgres => "PostgreSQL",
                    Engine::Mysql => "MySQL",
                }
                .into(),
                version: String::new(),
            }),
        }],
        total_count: 1,
    })
}

fn missing(field: &str) -> Refused {
    (
        400,
        "DBS.200001",
        format!("The parameter {field} is missing or invalid."),
    )
}

/// RDS instance names (`CreateRestoreInstanceRequestBody.name`): 4 to 64 characters, a letter
/// first, then letters, digits, `-` and `_`.
fn name_ok(n: &str) -> bool {
    (4..=64).contains(&n.len())
        && n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `POST /v3/{project_id}/instances` with a `restore_point`: starts the copy, answers 202.
pub(crate) fn restore(
    emu: &Arc<Emulator>,
    body: &[u8],
) -> Result<CreateRestoreInstanceResponse, Refused> {
    let req: CreateRestoreInstanceRequestBody = serde_json::from_slice(body).map_err(|e| {
        (
            400,
            "DBS.200001",
            format!("The request body is invalid: {e}"),
        )
    })?;
    if !name_ok(&req.name) {
        return Err((
            400,
            "DBS.200021",
            format!(
                "Invalid DB instance name {:?}: 4 to 64 characters, a letter first, then letters, digits, - and _.",
                req.name
            ),
        ));
    }
    if req.flavor_ref.is_empty() {
        return Err(missing("flavor_ref"));
    }
    if req.availability_zone.is_empty() {
        return Err(missing("availability_zone"));
    }
    if req.volume.kind.is_empty() || req.volume.size < 40 {
        return Err(missing("volume"));
    }
    let p = &req.restore_point;
    match (p.kind.as_str(), &p.backup_id, p.restore_time) {
        ("backup", Some(b), _) if *b == backup_id(&p.instance_id) => {}
        ("backup", Some(_), _) => {
            return Err((404, "DBS.200106", "The backup does not exist.".into()))
        }
        ("timestamp", _, Some(_)) => {}
        _ => return Err(missing("restore_point")),
    }
    let Some((engine, target)) = target_of(emu, &p.instance_id) else {
        return Err((
            404,
            "DBS.200013",
            format!(
                "The original DB instance {} does not exist (the emulator restores the instances its native jobs replicate into).",
                p.instance_id
            ),
        ));
    };
    let faults = emu
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .plan
        .restore_faults(&req.name);
    let id = {
        let mut r = emu.restores.lock().unwrap_or_else(|e| e.into_inner());
        if r.by_id.values().any(|x| !x.deleted && x.name == req.name) {
            return Err((
                409,
                "DBS.200022",
                format!("The instance name {} already exists.", req.name),
            ));
        }
        r.next += 1;
        let id = format!(
            "rt{:04}{}in03",
            r.next,
            &emu.project_id.chars().take(6).collect::<String>()
        );
        r.by_id.insert(
            id.clone(),
            Restored {
                id: id.clone(),
                name: req.name.clone(),
                from: p.instance_id.clone(),
                status: "BUILD".into(),
                engine,
                target: target.clone(),
                deleted: false,
                flavor_ref: req.flavor_ref.clone(),
                volume: req.volume.clone(),
                availability_zone: req.availability_zone.clone(),
                created: rds_time(chrono::Utc::now()),
            },
        );
        id
    };
    let (emu2, id2, name) = (emu.clone(), id.clone(), req.name.clone());
    // The copy's futures borrow across awaits in ways `tokio::spawn`'s Send check cannot
    // see through; a blocking thread that drives them on this runtime needs none.
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        rt.block_on(async move {
            let copied = super::restore::copy_database(engine, &target, &name).await;
            let spoiled = match (
                &copied,
                faults
                    .iter()
                    .any(|f| f.fault == RestoreFaultKind::SmokeFail),
            ) {
                (Ok(()), true) => super::restore::spoil(engine, &target, &name)
                    .await
                    .map(|_| ()),
                _ => copied.clone(),
            };
            let hold = faults.iter().map(|f| f.build_ms).max().unwrap_or(0);
            // In steps, so an emulator that stops (or an instance deleted meanwhile) ends it.
            let until = std::time::Instant::now() + std::time::Duration::from_millis(hold);
            while std::time::Instant::now() < until
                && !emu2.stopping.load(std::sync::atomic::Ordering::Relaxed)
                && emu2
                    .restores
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .by_id
                    .get(&id2)
                    .is_some_and(|x| !x.deleted)
            {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let failed = spoiled.is_err()
                || faults
                    .iter()
                    .any(|f| f.fault == RestoreFaultKind::RestoreFail);
            if let Err(e) = &spoiled {
                tracing::warn!(instance = %name, error = %e, "emulator restore failed");
            }
            let mut r = emu2.restores.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(x) = r.by_id.get_mut(&id2) {
                x.status = if failed { "FAILED" } else { "ACTIVE" }.into();
            }
        })
    });
    Ok(CreateRestoreInstanceResponse {
        instance: Some(CreateInstanceRespItem {
            id: Some(id),
            name: req.name,
            status: Some("BUILD".into()),
            flavor_ref: req.flavor_ref,
            volume: Some(req.volume),
            availability_zone: req.availability_zone,
        }),
        job_id: Some(format!("job-{}", uuid_like())),
    })
}

fn uuid_like() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn describe(x: &Restored) -> InstanceResponse {
    InstanceResponse {
        id: x.id.clone(),
        name: x.name.clone(),
        status: x.status.clone(),
        private_ips: vec![x.target.host.clone()],
        kind: "Single".into(),
        datastore: Some(Datastore {
            kind: match x.engine {
                Engine::Postgres => "PostgreSQL",
                Engine::Mysql => "MySQL",
            }
            .into(),
            version: String::new(),
        }),
        port: x.target.port.into(),
        created: x.created.clone(),
        updated: x.created.clone(),
        flavor_ref: x.flavor_ref.clone(),
        volume: Some(x.volume.clone()),
        nodes: vec![NodeResponse {
            id: format!("{}-node0", x.id),
            name: format!("{}_node0", x.name),
            role: "master".into(),
            status: x.status.clone(),
            availability_zone: x.availability_zone.clone(),
        }],
        ..Default::default()
    }
}

/// `ListInstances` for restored instances: by `id` (a deleted one is an empty list) or by
/// `name`, up to `limit`. `None` when the query is about no restored instance (the exposure
/// reads answer it).
pub(crate) fn list_restored(
    emu: &Emulator,
    query: &[(String, String)],
) -> Option<Result<ListInstancesResponse, Refused>> {
    let r = emu.restores.lock().unwrap_or_else(|e| e.into_inner());
    let by = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
    let mut found: Vec<InstanceResponse> = match (by("id"), by("name")) {
        (Some(id), _) => {
            let x = r.by_id.get(id)?;
            x.deleted
                .then(Vec::new)
                .unwrap_or_else(|| vec![describe(x)])
        }
        (None, Some(n)) => r
            .by_id
            .values()
            .filter(|x| !x.deleted && name_matches(n, &x.name))
            .map(describe)
            .collect(),
        _ => return None,
    };
    let limit = match super::cloud::limit(query, super::cloud::MAX_INSTANCES_PAGE, "DBS.200001") {
        Ok(n) => n,
        Err(refused) => return Some(Err(refused)),
    };
    let total = found.len() as i32;
    found.truncate(limit);
    Some(Ok(ListInstancesResponse {
        total_count: total,
        instances: found,
    }))
}

/// `ListInstances?name=`: the exact name, or after a leading `*` any name holding the rest
/// (API reference, "Querying DB Instances").
fn name_matches(query: &str, name: &str) -> bool {
    match query.strip_prefix('*') {
        Some(part) => name.contains(part),
        None => name == query,
    }
}

/// `DELETE /v3/{project_id}/instances/{instance_id}`: drops the copy.
pub(crate) fn delete(emu: &Arc<Emulator>, id: &str) -> Result<DeleteInstanceResponse, Refused> {
    let x = {
        let mut r = emu.restores.lock().unwrap_or_else(|e| e.into_inner());
        let Some(x) = r.by_id.get_mut(id).filter(|x| !x.deleted) else {
            return Err((
                404,
                "DBS.200002",
                format!("The DB instance {id} does not exist."),
            ));
        };
        x.deleted = true;
        let x = x.clone();
        *r.deletes.entry(x.name.clone()).or_insert(0) += 1;
        x
    };
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        rt.block_on(async move {
        if let Err(e) = super::restore::drop_database(x.engine, &x.target, &x.name).await {
            tracing::warn!(instance = %x.name, error = %e, "emulator could not drop a restored copy");
        }
        })
    });
    Ok(DeleteInstanceResponse {
        job_id: Some(format!("job-{}", uuid_like())),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_match_exactly_or_after_a_star() {
        let n = "wd-rt-pilot-pg-hr-12";
        assert!(super::name_matches(n, n));
        // A run's prefix is not the run: wd-rt-x-1 must not find wd-rt-x-12.
        assert!(!super::name_matches("wd-rt-pilot-pg-hr-1", n));
        assert!(super::name_matches("*pilot-pg", n));
        assert!(!super::name_matches("*pilot-my", n));
    }
}
