//! Running a restore test's steps at the edge: RDS calls through a [`RestoreCloud`] (the signed
//! RDS v3 client, or anything that speaks for it) and the checks on the copy. Each call gives
//! back the `step.outcome` the tester's intent waits for.

use super::plan::{Point, RestoreStep};
use super::tester::RestoreWork;
use crate::inventory::{DatabaseSpec, Endpoint};
use crate::store::event::StepOutcome;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::{Duration, Instant};

/// A backup as RDS v3 lists it (`ListBackups`: `backups[]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Backup {
    pub id: String,
    /// `BUILDING`, `COMPLETED`, `FAILED`, `DELETING`.
    pub status: String,
    pub end_time: Option<DateTime<Utc>>,
}

/// An instance as RDS v3 lists it, what the restore test needs of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub id: String,
    pub name: String,
    /// `BUILD`, `ACTIVE`, `FAILED`, ...
    pub status: String,
    pub private_ip: Option<String>,
    pub port: u16,
}

/// What a restore test asks of RDS.
pub trait RestoreCloud: Send + Sync {
    fn backups(
        &self,
        instance_id: &str,
    ) -> impl Future<Output = Result<Vec<Backup>, String>> + Send;
    /// Restore to a new instance named `name`: from `backup_id`, else to `at`. The new id.
    fn restore(
        &self,
        instance_id: &str,
        backup_id: Option<&str>,
        at: Option<DateTime<Utc>>,
        name: &str,
    ) -> impl Future<Output = Result<String, String>> + Send;
    /// The instance of this name, if there is one.
    fn find(&self, name: &str) -> impl Future<Output = Result<Option<Instance>, String>> + Send;
    fn delete(&self, instance_id: &str) -> impl Future<Output = Result<(), String>> + Send;
}

/// How the restore test waits and where it finds the copy's data.
#[derive(Clone, Debug)]
pub struct Knobs {
    pub poll: Duration,
    pub timeout: Duration,
    /// The database to read on the restored instance: the target's own name (RDS restores
    /// every database under its name), or the instance's name (the emulator, which restores
    /// into a new database on the target's cluster).
    pub copy_named_after_instance: bool,
}

/// The newest finished backup.
pub fn newest_finished(backups: &[Backup]) -> Option<&Backup> {
    backups
        .iter()
        .filter(|b| b.status == "COMPLETED")
        .max_by_key(|b| b.end_time)
}

/// The `step.outcome` of a step that gave `r`: `(passed, summary, detail)`, or why it failed.
pub fn outcome(
    w: &RestoreWork,
    r: Result<(Option<bool>, String, serde_json::Value), String>,
) -> StepOutcome {
    let mut o = StepOutcome::ok(w.step.as_str(), w.attempt);
    let mut detail = serde_json::json!({ "run_ref": w.r });
    match r {
        Ok((passed, summary, more)) => {
            o.passed = passed;
            o.summary = Some(summary);
            if let (Some(d), serde_json::Value::Object(m)) = (detail.as_object_mut(), more) {
                d.extend(m);
            }
        }
        Err(e) => {
            o.ok = false;
            o.error = Some(e);
            o.class = Some("retryable".into());
        }
    }
    o.detail = Some(detail);
    o
}

/// The outcome of a step that could not run at all.
pub fn failed(w: &RestoreWork, why: String) -> StepOutcome {
    outcome(w, Err(why))
}

/// Run one step. `spec`: the database's inventory record.
pub async fn run_step<C: RestoreCloud>(
    cloud: &C,
    spec: &DatabaseSpec,
    w: &mut RestoreWork,
    k: &Knobs,
) -> StepOutcome {
    let r = match w.step {
        RestoreStep::Create => create(cloud, spec, w, k).await,
        RestoreStep::Smoke => smoke(cloud, spec, w, k).await,
        RestoreStep::Delete => delete(cloud, w, k).await,
    };
    let recovered = matches!(&r, Ok((_, s, _)) if s.starts_with("already gone"));
    let mut o = outcome(w, r);
    o.recovered = recovered;
    o
}

fn rds_instance(spec: &DatabaseSpec) -> Result<String, String> {
    spec.extra
        .get(crate::drs::api::EXTRA_RDS_INSTANCE)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "{} has no extra.{} in the inventory: set it to the target RDS instance id so its backups can be found",
                spec.db_id,
                crate::drs::api::EXTRA_RDS_INSTANCE
            )
        })
}

type StepResult = Result<(Option<bool>, String, serde_json::Value), String>;

async fn create<C: RestoreCloud>(
    cloud: &C,
    spec: &DatabaseSpec,
    w: &mut RestoreWork,
    k: &Knobs,
) -> StepResult {
    let from = rds_instance(spec)?;
    let (backup, at) = match &w.r.point {
        Point::NewestBackup => {
            let all = cloud.backups(&from).await?;
            let b = newest_finished(&all).ok_or_else(|| {
                format!("RDS instance {from} has no finished backup ({} listed): take one, or give --at", all.len())
            })?;
            (Some(b.id.clone()), None)
        }
        Point::At { time } => (None, Some(*time)),
    };
    w.r.backup_id = backup.clone();
    let id = cloud
        .restore(&from, backup.as_deref(), at, &w.r.instance)
        .await?;
    w.r.instance_id = Some(id.clone());
    let started = Instant::now();
    loop {
        match cloud.find(&w.r.instance).await? {
            Some(i) if i.status == "ACTIVE" => {
                return Ok((
                    None,
                    format!(
                        "{} restored from {} in {:.0} s",
                        w.r.instance,
                        backup
                            .as_deref()
                            .map_or_else(|| w.r.point.to_string(), |b| format!("backup {b}")),
                        started.elapsed().as_secs_f64()
                    ),
                    serde_json::json!({}),
                ))
            }
            Some(i) if i.status == "FAILED" => {
                return Err(format!(
                    "RDS could not restore {} (status FAILED)",
                    w.r.instance
                ))
            }
            _ if started.elapsed() > k.timeout => {
                return Err(format!(
                    "{} not available after {} s (restore_test.timeout_min)",
                    w.r.instance,
                    k.timeout.as_secs()
                ))
            }
            _ => tokio::time::sleep(k.poll).await,
        }
    }
}

/// Where the copy's data is: the restored instance's address, the target's login.
pub fn copy_endpoint(spec: &DatabaseSpec, i: &Instance, k: &Knobs) -> Endpoint {
    let mut e = spec.target.clone();
    if let Some(ip) = &i.private_ip {
        e.host = ip.clone();
    }
    if i.port != 0 {
        e.port = i.port;
    }
    if k.copy_named_after_instance {
        e.database = i.name.clone();
    }
    e
}

async fn smoke<C: RestoreCloud>(
    cloud: &C,
    spec: &DatabaseSpec,
    w: &RestoreWork,
    k: &Knobs,
) -> StepResult {
    let i = cloud
        .find(&w.r.instance)
        .await?
        .ok_or_else(|| format!("the restored instance {} is gone", w.r.instance))?;
    let copy = copy_endpoint(spec, &i, k);
    let rep = super::smoke::check_copy(spec, &copy).await?;
    Ok((
        Some(rep.passed()),
        rep.summary(),
        serde_json::json!({ "report": rep }),
    ))
}

async fn delete<C: RestoreCloud>(cloud: &C, w: &RestoreWork, k: &Knobs) -> StepResult {
    // Look first, always: a delete cut short by a crash or one that failed may have done it.
    let Some(i) = cloud.find(&w.r.instance).await? else {
        return Ok((
            None,
            format!("already gone: {}", w.r.instance),
            serde_json::json!({}),
        ));
    };
    cloud.delete(&i.id).await?;
    let started = Instant::now();
    while cloud.find(&w.r.instance).await?.is_some() {
        if started.elapsed() > k.timeout {
            return Err(format!(
                "{} still there {} s after its delete",
                w.r.instance,
                k.timeout.as_secs()
            ));
        }
        tokio::time::sleep(k.poll).await;
    }
    Ok((
        None,
        format!("{} ({}) deleted", w.r.instance, i.id),
        serde_json::json!({}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_finished_backup_is_chosen() {
        let b = |id: &str, status: &str, s: i64| Backup {
            id: id.into(),
            status: status.into(),
            end_time: DateTime::from_timestamp(s, 0),
        };
        let all = [
            b("a", "COMPLETED", 10),
            b("b", "BUILDING", 30),
            b("c", "COMPLETED", 20),
            b("d", "FAILED", 40),
        ];
        assert_eq!(newest_finished(&all).unwrap().id, "c");
        assert!(newest_finished(&all[1..2]).is_none());
    }
}
