//! The SQL pre-checks and validation gate (`engine.checks: sql | both`), through the checks and
//! validate modules with the engine's built-in runbook for the database's engine; and the
//! exposure check alone, for the pre-checks of `engine.checks: drs`.

use crate::config::Config;
use crate::engine::brain::{EffectStep, Fail, Report, WorkResult};
use crate::engine::classify::ErrorClass;
use crate::inventory::DatabaseSpec;

/// The gate's mode for a step. The brain runs an online database's `SqlValidate` at the
/// validation stage only, where the DRS job is started and not paused, i.e. replicating
/// changes (CDC): live. An offline database's runs inside its cutover, on its full load with
/// the source's writes stopped: final, every row. The gate after the drain at cutover
/// (`cutover.quick_validation`, with `engine.source_drain: sql`) runs in the cutover module
/// with writes fenced and the lag at zero: final.
pub fn mode_for(step: EffectStep, mode: crate::inventory::Mode) -> crate::validate::Mode {
    match step {
        EffectStep::SqlValidate if mode.is_online() => crate::validate::Mode::Live,
        _ => crate::validate::Mode::Final,
    }
}

pub async fn run(
    cfg: &Config,
    store: &crate::store::Store,
    auth: &crate::drs::Auth,
    spec: Option<&DatabaseSpec>,
    step: EffectStep,
) -> WorkResult {
    let Some(spec) = spec else {
        return WorkResult::Err(Fail {
            class: ErrorClass::Fatal,
            words: "the database is not in the store's inventory (run wavedeck init again)".into(),
        });
    };
    let runbook = crate::validate::Runbook::builtin(spec.engine);
    // The exposure check signs with the engine's DRS credentials.
    let probe = || crate::checks::exposure::Probe::with_auth(cfg, auth);
    let report = match step {
        EffectStep::SqlPrecheck => {
            let opts = crate::checks::CheckOptions {
                exposure: Some(probe()),
                ..Default::default()
            };
            let results = crate::checks::run_prechecks(spec, &runbook, &opts).await;
            precheck_report(&results)
        }
        EffectStep::ExposureCheck => {
            precheck_report(&crate::checks::exposure::check(spec, &probe()).await)
        }
        _ => {
            let opts = crate::validate::ValidateOptions {
                mode: mode_for(step, spec.mode),
                // An attempt cut short (restart, lag, a lost connection) goes on where it
                // stopped.
                memory: Some(store.clone()),
                ..Default::default()
            };
            let r = crate::validate::run_validation(spec, &runbook, &opts).await;
            if !r.decided() {
                // Lag or a range changing at every read decides nothing about the data: the
                // step waits and is tried again on its own budget, not the failure retries.
                return WorkResult::Err(Fail {
                    class: ErrorClass::Waiting,
                    words: format!(
                        "validation not decided: {} (wavedeck compares again)",
                        r.undecided().join("; ")
                    ),
                });
            }
            validation_report(&r)
        }
    };
    WorkResult::Ok {
        job: None,
        report: Some(report),
        recovered: false,
    }
}

/// The brain's report of the SQL pre-checks: what goes into its `db.precheck` event.
pub fn precheck_report(results: &[crate::checks::CheckResult]) -> Report {
    Report {
        passed: crate::checks::passed(results),
        summary: crate::checks::summary(results),
        detail: serde_json::to_value(results).unwrap_or_default(),
    }
}

/// The brain's report of a decided validation: what goes into its `db.validation` event.
pub fn validation_report(r: &crate::validate::ValidationReport) -> Report {
    Report {
        passed: r.passed(),
        summary: r.summary(),
        detail: serde_json::to_value(r).unwrap_or_default(),
    }
}
