//! The SQL pre-checks and validation gate (`engine.checks: sql | both`), through the checks and
//! validate modules.

use super::brain::{Fail, Step, WorkResult};
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
    WorkResult::Err(Fail {
        class: ErrorClass::Fatal,
        words: format!(
            "{}: {} through SQL is not wired into this build yet; set engine.checks: drs",
            spec.db_id,
            step.as_str()
        ),
    })
}
