//! The SQL pre-checks and validation gate (`engine.checks: sql | both`), through the checks and
//! validate modules with the engine's built-in runbook for the database's engine.

use super::brain::{Fail, Report, Step, WorkResult};
use super::classify::ErrorClass;
use crate::config::Config;
use crate::inventory::DatabaseSpec;

pub async fn run(_cfg: &Config, spec: Option<&DatabaseSpec>, step: Step) -> WorkResult {
    let Some(spec) = spec else {
        return WorkResult::Err(Fail {
            class: ErrorClass::Fatal,
            words: "the database is not in the store's inventory (run wavedeck init again)".into(),
        });
    };
    let runbook = crate::validate::Runbook::builtin(spec.engine);
    let report = match step {
        Step::SqlPrecheck => {
            let results = crate::checks::run_prechecks(
                spec,
                &runbook,
                &crate::checks::CheckOptions::default(),
            )
            .await;
            Report {
                passed: crate::checks::passed(&results),
                summary: crate::checks::summary(&results),
                detail: serde_json::to_value(&results).unwrap_or_default(),
            }
        }
        _ => {
            let r = crate::validate::run_validation(
                spec,
                &runbook,
                &crate::validate::ValidateOptions::default(),
            )
            .await;
            Report {
                passed: r.passed(),
                summary: r.summary(),
                detail: serde_json::to_value(&r).unwrap_or_default(),
            }
        }
    };
    WorkResult::Ok {
        job: None,
        report: Some(report),
        recovered: false,
    }
}
