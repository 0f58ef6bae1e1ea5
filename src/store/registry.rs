//! `wavedeck init`: register an inventory's databases in the store. Importing the same file
//! again appends nothing; a changed record appends `db.updated` naming each changed field;
//! databases missing from the file are kept unless removal is asked for, and only databases
//! still `registered` may be removed (the others have history the factory must keep).

use super::db::Store;
use super::error::{Result, StoreError};
use super::event::{Body, Registered, Removed, Updated, WavePlanned};
use super::events::{append_in, lock_head};
use super::{Event, NewEvent};
use crate::inventory::DatabaseSpec;
use crate::lifecycle::Stage;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One changed field of a database record, by its path (`source.host`, `size_gb`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// What an import did (or, from `plan_registration`, would do).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RegisterReport {
    pub added: Vec<String>,
    pub updated: Vec<(String, Vec<FieldChange>)>,
    pub removed: Vec<String>,
    /// In the store but not in the inventory, kept (removal not asked for).
    pub kept_missing: Vec<String>,
    /// Waves without a window that got their members' common business window.
    pub waves_planned: Vec<u32>,
    pub unchanged: usize,
    /// The events appended (empty when nothing changed).
    #[serde(skip)]
    pub events: Vec<Event>,
}

impl RegisterReport {
    pub fn changed(&self) -> bool {
        !(self.added.is_empty()
            && self.updated.is_empty()
            && self.removed.is_empty()
            && self.waves_planned.is_empty())
    }
}

/// Field-by-field differences between two JSON values, objects walked by key.
pub fn diff_fields(prefix: &str, from: &Value, to: &Value, out: &mut Vec<FieldChange>) {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                diff_fields(
                    &path,
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(FieldChange {
            field: prefix.to_string(),
            from: a.clone(),
            to: b.clone(),
        }),
        _ => {}
    }
}

/// A database the store already knows: its record and where it is in the lifecycle.
#[derive(Clone, Debug)]
pub struct Known {
    pub spec: DatabaseSpec,
    pub stage: Stage,
}

/// Decide the events an import appends. Pure. Refuses (with every reason at once) duplicate
/// db_ids in the inventory and removals of databases past `registered`.
pub fn plan_registration(
    known: &BTreeMap<String, Known>,
    wave_windows: &BTreeMap<u32, String>,
    specs: &[DatabaseSpec],
    actor: &str,
    remove_missing: bool,
) -> std::result::Result<(Vec<NewEvent>, RegisterReport), Vec<String>> {
    let mut refusals = Vec::new();
    let mut seen = BTreeSet::new();
    for s in specs {
        if !seen.insert(s.db_id.as_str()) {
            refusals.push(format!(
                "{}: listed twice in the inventory; keep one record per db_id",
                s.db_id
            ));
        }
    }
    let mut report = RegisterReport::default();
    let mut events = Vec::new();
    for s in specs {
        let spec_json = serde_json::to_value(s).unwrap_or(Value::Null);
        match known.get(&s.db_id) {
            None => {
                report.added.push(s.db_id.clone());
                events.push(NewEvent::of(
                    Some(&s.db_id),
                    s.wave,
                    Body::Registered(Registered { spec: s.clone() }),
                    actor,
                ));
            }
            Some(k) => {
                let mut changes = Vec::new();
                let old = serde_json::to_value(&k.spec).unwrap_or(Value::Null);
                diff_fields("", &old, &spec_json, &mut changes);
                if changes.is_empty() {
                    report.unchanged += 1;
                    continue;
                }
                let updated = Updated {
                    spec: s.clone(),
                    changes: changes
                        .iter()
                        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                        .collect(),
                };
                events.push(NewEvent::of(
                    Some(&s.db_id),
                    s.wave,
                    Body::Updated(updated),
                    actor,
                ));
                report.updated.push((s.db_id.clone(), changes));
            }
        }
    }
    for (id, k) in known {
        if seen.contains(id.as_str()) {
            continue;
        }
        if !remove_missing {
            report.kept_missing.push(id.clone());
        } else if k.stage != Stage::Registered {
            refusals.push(format!(
                "{id}: not in the inventory, but it is in stage {} and cannot be removed; put it back in the inventory (or finish or abort its migration first)",
                k.stage
            ));
        } else {
            report.removed.push(id.clone());
            let removed = Removed {
                reason: "not in the inventory".into(),
                spec: Some(k.spec.clone()),
            };
            events.push(NewEvent::of(
                Some(id),
                k.spec.wave,
                Body::Removed(removed),
                actor,
            ));
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    // A wave without a window gets its members' business window when they all agree. A window
    // already set (by the planner or an earlier import) is left alone.
    let mut members: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
    for s in specs {
        if let Some(w) = s.wave {
            members
                .entry(w)
                .or_default()
                .insert(s.business_window.as_str());
        }
    }
    for (w, windows) in members {
        if windows.len() != 1 {
            continue;
        }
        let Some(window) = windows.into_iter().next() else {
            continue;
        };
        if wave_windows.get(&w).is_none_or(String::is_empty) {
            report.waves_planned.push(w);
            let planned = WavePlanned {
                window: window.to_string(),
                source: Some("inventory business windows".into()),
            };
            events.push(NewEvent::of(
                None,
                Some(w),
                Body::WavePlanned(planned),
                actor,
            ));
        }
    }
    Ok((events, report))
}

impl Store {
    /// Register (or update) the inventory's databases, in one transaction. With
    /// `remove_missing`, databases absent from the inventory are removed if still
    /// `registered`; if any of them is further along, nothing is written and the error names
    /// each one.
    pub async fn register_inventory(
        &self,
        specs: &[DatabaseSpec],
        actor: &str,
        remove_missing: bool,
    ) -> Result<RegisterReport> {
        let mut cache = self.cache.lock().await;
        let mut tx = self.begin_write().await?;
        // Read what is known under the chain lock, so two imports cannot both register a db.
        lock_head(&mut tx).await?;
        let mut known = BTreeMap::new();
        let stages: BTreeMap<String, Stage> = sqlx::query("SELECT db_id, stage FROM db_state")
            .fetch_all(&mut *tx)
            .await
            .map_err(|source| StoreError::Db {
                what: "read database stages",
                source,
            })?
            .iter()
            .filter_map(|r| {
                use sqlx::Row;
                let id: String = r.try_get("db_id").ok()?;
                let st: String = r.try_get("stage").ok()?;
                Some((id, Stage::parse(&st)?))
            })
            .collect();
        let rows = sqlx::query("SELECT spec FROM db_spec")
            .fetch_all(&mut *tx)
            .await
            .map_err(|source| StoreError::Db {
                what: "read database specs",
                source,
            })?;
        for r in &rows {
            let spec: DatabaseSpec = super::events::decode_json(r, "spec")?;
            let stage = stages
                .get(&spec.db_id)
                .copied()
                .unwrap_or(Stage::Registered);
            known.insert(spec.db_id.clone(), Known { spec, stage });
        }
        let waves: BTreeMap<u32, String> = {
            let rows = sqlx::query("SELECT state FROM wave_state")
                .fetch_all(&mut *tx)
                .await
                .map_err(|source| StoreError::Db {
                    what: "read wave states",
                    source,
                })?;
            let mut m = BTreeMap::new();
            for r in &rows {
                let w: super::WaveState = super::events::decode_json(r, "state")?;
                m.insert(w.wave, w.window);
            }
            m
        };
        let (events, mut report) = plan_registration(&known, &waves, specs, actor, remove_missing)
            .map_err(|why| {
                StoreError::Refused(format!(
                    "inventory not imported, nothing was changed:\n  {}",
                    why.join("\n  ")
                ))
            })?;
        if events.is_empty() {
            // Nothing to write; the lock on the head is released by the rollback.
            return Ok(report);
        }
        let (appended, fresh) = append_in(&mut tx, &events, cache.take(), &self.outbox).await?;
        tx.commit().await.map_err(|source| StoreError::Db {
            what: "commit inventory import",
            source,
        })?;
        self.outbox.committed();
        report.events = appended;
        *cache = Some(fresh);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Criticality, Endpoint, Engine};
    use crate::secret::SecretRef;
    use crate::store::kind;

    fn spec(id: &str, wave: Option<u32>) -> DatabaseSpec {
        let ep = |host: &str| Endpoint {
            host: host.into(),
            port: 3306,
            database: id.into(),
            user: "m".into(),
            password: SecretRef::Env("PW".into()),
        };
        DatabaseSpec::new(id, Engine::Mysql, ep("a"), ep("b"))
            .with_version("8.0")
            .with_size_gb(1.0)
            .with_owner("o")
            .with_criticality(Criticality::Medium)
            .with_window("Sat 01:00-05:00 UTC")
            .with_wave(wave)
    }

    fn known(specs: &[(DatabaseSpec, Stage)]) -> BTreeMap<String, Known> {
        specs
            .iter()
            .map(|(s, st)| {
                (
                    s.db_id.clone(),
                    Known {
                        spec: s.clone(),
                        stage: *st,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn new_databases_are_registered_and_wave_window_planned() {
        let (ev, rep) = plan_registration(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &[spec("a", Some(0))],
            "op",
            false,
        )
        .unwrap();
        assert_eq!(rep.added, vec!["a"]);
        assert_eq!(ev[0].kind, kind::DB_REGISTERED);
        assert_eq!(ev[1].kind, kind::WAVE_PLANNED);
        assert_eq!(ev[1].payload["window"], "Sat 01:00-05:00 UTC");
    }

    #[test]
    fn same_inventory_twice_plans_nothing() {
        let k = known(&[(spec("a", Some(0)), Stage::Cdc)]);
        let w = BTreeMap::from([(0, "Sat 01:00-05:00 UTC".to_string())]);
        let (ev, rep) = plan_registration(&k, &w, &[spec("a", Some(0))], "op", true).unwrap();
        assert!(ev.is_empty(), "{ev:?}");
        assert_eq!(rep.unchanged, 1);
        assert!(!rep.changed());
    }

    #[test]
    fn a_wave_window_already_set_is_kept() {
        let w = BTreeMap::from([(0, "Sun 03:00-04:00 UTC".to_string())]);
        let (ev, rep) =
            plan_registration(&BTreeMap::new(), &w, &[spec("a", Some(0))], "op", false).unwrap();
        assert!(rep.waves_planned.is_empty());
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn changes_are_named_by_field() {
        let k = known(&[(spec("a", None), Stage::Registered)]);
        let mut s = spec("a", None);
        s.size_gb = 2.5;
        s.source.host = "new-host".into();
        let (ev, rep) = plan_registration(&k, &BTreeMap::new(), &[s], "op", false).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, kind::DB_UPDATED);
        let fields: Vec<&str> = rep.updated[0].1.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["size_gb", "source.host"]);
        assert_eq!(ev[0].payload["changes"][1]["to"], "new-host");
    }

    #[test]
    fn removal_only_when_asked_and_only_while_registered() {
        let k = known(&[
            (spec("a", None), Stage::Registered),
            (spec("b", None), Stage::FullLoad),
        ]);
        let (ev, rep) = plan_registration(&k, &BTreeMap::new(), &[], "op", false).unwrap();
        assert!(ev.is_empty());
        assert_eq!(rep.kept_missing, vec!["a", "b"]);
        let err = plan_registration(&k, &BTreeMap::new(), &[], "op", true).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].starts_with("b: ") && err[0].contains("full_load"),
            "{err:?}"
        );
        let (ev, rep) =
            plan_registration(&k, &BTreeMap::new(), &[spec("b", None)], "op", true).unwrap();
        assert_eq!(rep.removed, vec!["a"]);
        assert_eq!(ev[0].kind, kind::DB_REMOVED);
    }

    #[test]
    fn duplicates_are_refused() {
        let err = plan_registration(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &[spec("a", None), spec("a", None)],
            "op",
            false,
        )
        .unwrap_err();
        assert!(err[0].contains("twice"));
    }

    #[test]
    fn members_with_different_windows_leave_the_wave_unplanned() {
        let mut b = spec("b", Some(3));
        b.business_window = "Sun 02:00-03:00 UTC".into();
        let (ev, rep) = plan_registration(
            &BTreeMap::new(),
            &BTreeMap::new(),
            &[spec("a", Some(3)), b],
            "op",
            false,
        )
        .unwrap();
        assert!(rep.waves_planned.is_empty());
        assert!(ev.iter().all(|e| e.kind != kind::WAVE_PLANNED));
    }
}
