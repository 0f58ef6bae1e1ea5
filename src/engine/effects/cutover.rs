//! Cutover and rollback with `engine.source_drain: sql`: each step through the cutover module of
//! the database's engine, the same code the lab's driver runs (`cutover::context`, which dispatches
//! to the PostgreSQL or the MySQL / MariaDB steps by the context's engine). The brain writes
//! the intent before and the outcome after; a step resumed after a crash first asks the
//! servers whether its effect is already in place.

use super::ctx::Shared;
use crate::cutover;
use crate::cutover::context::{CutoverCtx, CutoverError, Mover, StepOutcome};
use crate::cutover::side::Side;
use crate::cutover::{CutoverStep as CutStep, RollbackAction};
use crate::engine::brain::{Fail, Report, Work, WorkResult};
use crate::engine::classify::ErrorClass;
use crate::inventory::{DatabaseSpec, Engine};
use std::time::Duration;

/// Inventory `extra` key the cutover reads (the slot's, `extra.replication_slot`, is read by
/// `validate::position::named_slot`).
const EXTRA_CRITICAL: &str = "critical_tables";

/// Tables checksummed at the final quick validation: the inventory's `extra.critical_tables`
/// of this database and `cutover.checksum_tables`; every table gets a row count anyway.
fn critical_tables(spec: &DatabaseSpec, configured: &[String]) -> Vec<String> {
    let mut out: Vec<String> = spec
        .extra
        .get(EXTRA_CRITICAL)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for t in configured {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// The cutover context of one database of either engine: DRS moves its data (the mover), the
/// steps themselves are picked by `spec.engine`.
fn cut_ctx(sh: &Shared, spec: &DatabaseSpec, blockers: &[String]) -> Result<CutoverCtx, String> {
    let cfg = &sh.cfg;
    let dns = sh.dns.clone().map_err(|e| format!("DNS provider: {e}"))?;
    let side = |ep, which: &str| {
        Side::from_endpoint(ep).map_err(|e| format!("{which} of {}: {e}", spec.db_id))
    };
    // DRS reads a named logical slot on a PostgreSQL source; a MySQL source has no such thing.
    let slot = match spec.engine {
        Engine::Postgres => crate::validate::position::named_slot(spec),
        Engine::Mysql => None,
    };
    Ok(CutoverCtx {
        db_id: spec.db_id.clone(),
        engine: spec.engine,
        source: side(&spec.source, "source")?,
        target: side(&spec.target, "target")?,
        mover: Mover::drs(&spec.db_id, slot),
        dns,
        dns_name: super::dns::record_name(spec, &cfg.engine.dns_domain),
        dns_source_value: super::dns::record_value(cfg, &spec.source),
        dns_target_value: super::dns::record_value(cfg, &spec.target),
        dns_ttl_s: cfg.cutover.dns_ttl_s,
        drain_grace: Duration::from_secs(cfg.thresholds.drain_grace_s.into()),
        sync_timeout: Duration::from_secs(cfg.cutover.final_sync_timeout_s),
        max_lag_s: crate::lifecycle::facts::Thresholds::from_config(cfg)
            .lag_limit(spec.overrides.max_cutover_lag_s),
        checksum_tables: critical_tables(spec, &cfg.cutover.checksum_tables),
        validation: None,
        blockers: blockers.to_vec(),
        hypercare_hours: cfg.thresholds.hypercare_hours,
        offline: !spec.mode.is_online(),
    })
}

fn failed(class: ErrorClass, words: String) -> WorkResult {
    WorkResult::Err(Fail { class, words })
}

fn of_error(e: CutoverError) -> WorkResult {
    let class = if e.retryable() {
        ErrorClass::Retryable
    } else {
        ErrorClass::Fatal
    };
    failed(class, e.to_string())
}

fn finished(o: StepOutcome, recovered: bool) -> WorkResult {
    WorkResult::Ok {
        job: None,
        report: Some(Report {
            passed: true,
            summary: summary(&o),
            detail: o.detail,
        }),
        recovered,
    }
}

/// One line for the outcome event and the cockpit.
fn summary(o: &StepOutcome) -> String {
    let d = &o.detail;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    if d.get("already_in_place").is_some() {
        return format!("{}: found already in place after a restart", o.step);
    }
    match o.step.as_str() {
        "cutover.drain_source" | "rollback.drain_target" => format!(
            "drained in {} ms ({} idle sessions ended, {} after the grace)",
            d["drain"]["waited_ms"], d["drain"]["ended_idle"], d["drain"]["ended_after_grace"]
        ),
        "cutover.final_sync" => match d["sync"]["method"].as_str() {
            Some("marker") => format!(
                "marker written on the drained source reached the target in {} ms{}",
                d["sync"]["marker_waited_ms"],
                d["sync"]
                    .get("target_gtid_have")
                    .map(|_| format!(
                        "; target holds the source's GTID position {}",
                        s(&d["sync"]["source_gtid_pos"])
                    ))
                    .unwrap_or_default()
            ),
            Some(method) => format!(
                "target applied the source's GTID position {} ({method})",
                s(&d["sync"]["source_gtid_pos"])
            ),
            None => format!(
                "target applied up to {} (source at {}) from slot {}",
                s(&d["sync"]["confirmed_lsn"]),
                s(&d["sync"]["source_lsn"]),
                s(&d["slot"])
            ),
        },
        "cutover.quick_validation" => format!(
            "{} tables counted, {} checksummed: no difference",
            d["tables"], d["checksummed"]
        ),
        "cutover.dns_switch" | "rollback.dns_back" => format!(
            "{} {} -> {} (ttl {} s)",
            s(&d["dns"]["provider"]),
            s(&d["dns"]["name"]),
            s(&d["dns"]["value"]),
            d["dns"]["ttl_s"]
        ),
        "cutover.target_writes_on" => format!(
            "target writable; {}; smoke test through {} passed",
            match d["auto_increment_moved"].as_array() {
                Some(t) => format!("{} AUTO_INCREMENT counters carried", t.len()),
                None => format!("{} sequences carried", d["sequences_moved"]),
            },
            s(&d["smoke"]["endpoint"])
        ),
        "cutover.hypercare" => format!("rollback window open until {}", s(&d["rollback_until"])),
        other => format!("{other} done in {} ms", o.ms),
    }
}

/// The DNS provider rewrites shared state (the file provider its whole file): one switch at a
/// time across databases.
fn in_place(step: &str) -> StepOutcome {
    StepOutcome {
        step: step.into(),
        detail: serde_json::json!({"already_in_place": true}),
        ms: 0,
    }
}

/// The cutover context of `w.db`, or the failure to report. Shared by steps and rollback
/// actions.
fn prepare(sh: &Shared, w: &Work, blockers: &[String]) -> Result<CutoverCtx, WorkResult> {
    let Some(spec) = sh.specs.get(&w.db) else {
        return Err(failed(
            ErrorClass::Fatal,
            format!(
                "{} is not in the store's inventory (run wavedeck init again)",
                w.db
            ),
        ));
    };
    cut_ctx(sh, spec, blockers).map_err(|words| failed(ErrorClass::Fatal, words))
}

/// Run (or, resumed, finish) one cutover step of `w.db`.
pub async fn step(sh: &Shared, w: &Work, step: CutStep) -> WorkResult {
    let ctx = match prepare(sh, w, &w.blockers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if w.resumed {
        match cutover::is_done(step, &ctx).await {
            Ok(true) => return finished(in_place(step.as_str()), true),
            Ok(false) => {}
            Err(e) => return of_error(e),
        }
    }
    // The guards look at the target's exposure again: a rule or an EIP added since the
    // pre-checks must not see the switch. Checked before anything is touched.
    let exposure = if step == CutStep::Guards {
        let Some(spec) = sh.specs.get(&w.db) else {
            return failed(
                ErrorClass::Fatal,
                format!("{} is not in the store's inventory", w.db),
            );
        };
        let probe = crate::checks::exposure::Probe::with_auth(&sh.cfg, sh.drs.auth());
        let mut results = crate::checks::exposure::check(spec, &probe).await;
        if let Some(job) = &w.job {
            results
                .push(crate::checks::exposure::drs_check(&sh.drs, job, sh.cfg.drs.net_type).await);
        }
        if let Some(words) = crate::checks::exposure::refusal(&results) {
            return failed(ErrorClass::Fatal, words);
        }
        Some(results)
    } else {
        None
    };
    match cutover::run_step(step, &ctx).await {
        Ok(mut o) => {
            if let (Some(x), Some(d)) = (exposure, o.detail.as_object_mut()) {
                d.insert(
                    "exposure".into(),
                    serde_json::to_value(x).unwrap_or_default(),
                );
            }
            finished(o, false)
        }
        Err(e) => of_error(e),
    }
}

/// Run (or, resumed, finish) one rollback action of `w.db`.
pub async fn undo(sh: &Shared, w: &Work, action: RollbackAction) -> WorkResult {
    let ctx = match prepare(sh, w, &[]) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if w.resumed {
        match cutover::rollback_is_done(action, &ctx).await {
            Ok(true) => return finished(in_place(action.as_str()), true),
            Ok(false) => {}
            Err(e) => return of_error(e),
        }
    }
    match cutover::run_rollback(action, &ctx).await {
        Ok(o) => finished(o, false),
        Err(e) => of_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Endpoint;
    use crate::secret::SecretRef;

    fn spec(extra: serde_json::Value) -> DatabaseSpec {
        let ep = |host: &str, port: u16| Endpoint {
            host: host.into(),
            port,
            database: "orders".into(),
            user: "u".into(),
            password: SecretRef::Env("X".into()),
        };
        let spec = DatabaseSpec::new(
            "orders",
            Engine::Postgres,
            ep("10.0.0.1", 5432),
            ep("10.1.0.1", 5433),
        )
        .with_version("15")
        .with_size_gb(1.0)
        .with_window("daily 00:00-24:00 UTC")
        .with_wave(Some(0));
        match extra {
            serde_json::Value::Object(m) => spec.with_extras(m.into_iter().collect()),
            _ => spec,
        }
    }

    #[test]
    fn critical_tables_come_from_the_inventory_and_the_config() {
        let s = spec(serde_json::json!({"critical_tables": ["public.orders", "public.ledger"]}));
        assert_eq!(
            critical_tables(&s, &["public.orders".into(), "public.users".into()]),
            ["public.orders", "public.ledger", "public.users"]
        );
        assert!(critical_tables(&spec(serde_json::json!({})), &[]).is_empty());
    }

    #[test]
    fn summaries_name_what_happened() {
        let o = StepOutcome {
            step: "cutover.dns_switch".into(),
            detail: serde_json::json!({"dns": {"provider": "file", "name": "orders.db.internal", "value": "10.1.0.1:5433", "ttl_s": 60}}),
            ms: 3,
        };
        assert_eq!(
            summary(&o),
            "file orders.db.internal -> 10.1.0.1:5433 (ttl 60 s)"
        );
        let marker = StepOutcome {
            step: "cutover.final_sync".into(),
            detail: serde_json::json!({"sync": {"method": "marker", "marker": "final_sync-x", "marker_waited_ms": 40}}),
            ms: 41,
        };
        assert_eq!(
            summary(&marker),
            "marker written on the drained source reached the target in 40 ms"
        );
        let gtid = StepOutcome {
            step: "cutover.final_sync".into(),
            detail: serde_json::json!({"sync": {"method": "MASTER_GTID_WAIT", "source_gtid_pos": "0-1-9"}}),
            ms: 2,
        };
        assert_eq!(
            summary(&gtid),
            "target applied the source's GTID position 0-1-9 (MASTER_GTID_WAIT)"
        );
        let on = StepOutcome {
            step: "cutover.target_writes_on".into(),
            detail: serde_json::json!({"auto_increment_moved": ["orders"], "smoke": {"endpoint": "127.0.0.1:3307"}}),
            ms: 9,
        };
        assert_eq!(
            summary(&on),
            "target writable; 1 AUTO_INCREMENT counters carried; smoke test through 127.0.0.1:3307 passed"
        );
        assert_eq!(
            summary(&in_place("cutover.drain_source")),
            "cutover.drain_source: found already in place after a restart"
        );
    }
}
