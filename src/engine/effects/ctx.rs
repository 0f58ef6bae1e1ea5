//! What every effect runner shares: the driver's context (config, DRS client, specs, store, DNS
//! provider, the rehearsal knobs) and the helpers that turn an outcome into the brain's
//! [`WorkResult`]. Here rather than in `runtime` so the runners do not import the loop that
//! calls them.

use crate::config::Config;
use crate::drs::{DrsClient, DrsError};
use crate::engine::brain::{Fail, WorkResult};
use crate::engine::classify::{self, ErrorClass, Failure};
use crate::inventory::DatabaseSpec;
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) drs: DrsClient,
    pub(crate) specs: HashMap<String, DatabaseSpec>,
    /// The store, for what steps keep outside the event log (validation chunks).
    pub(crate) store: Store,
    /// Bounds concurrent DRS requests from works (looks are batched separately).
    pub(crate) calls: Semaphore,
    /// Rehearsal knob (`WAVEDECK_ENGINE_STEP_DELAY_MS`): hold each step's result this long
    /// after it ran, widening the window between a side effect and its outcome event, to
    /// rehearse crashes there.
    pub(crate) step_delay: Option<Duration>,
    /// The DNS provider, built once (its HTTP client and credentials serve every switch), or
    /// why it could not be: a switch then fails with these words.
    pub(crate) dns: Result<Arc<crate::cutover::dns_provider::Dns>, String>,
    /// Fault injection for the kill tests ([`super::FAULT_STALL_ENV`], a step name): after that
    /// step's effect and before its outcome is recorded, print `stalled at <step>` on stderr
    /// and wait to be killed.
    pub(crate) stall_at: Option<String>,
}

/// A DRS error in the brain's terms: its class and the words for the operator.
pub(crate) fn fail_of(e: &DrsError) -> Fail {
    let (status, code, message) = match e {
        DrsError::Api {
            status,
            code,
            message,
            ..
        } => (Some(*status), code.as_str(), message.as_str()),
        DrsError::Item { code, message, .. } => (Some(200), code.as_str(), message.as_str()),
        DrsError::Decode { status, .. } => (Some(*status), "", ""),
        DrsError::Timeout { .. } | DrsError::Transport { .. } => (None, "", ""),
        DrsError::Config(_) | DrsError::Invalid(_) => (Some(400), "", ""),
    };
    let f = Failure {
        http_status: status,
        code,
        message,
    };
    let mut class = classify::classify(&f);
    if e.is_auth() || matches!(e, DrsError::Config(_) | DrsError::Invalid(_)) {
        class = ErrorClass::Fatal;
    } else if class == ErrorClass::Fatal && e.is_retryable() {
        class = ErrorClass::Retryable;
    }
    Fail {
        class,
        words: format!("{e} ({})", classify::advice(&f, class)),
    }
}

pub(crate) fn fatal(words: impl Into<String>) -> WorkResult {
    WorkResult::Err(Fail {
        class: ErrorClass::Fatal,
        words: words.into(),
    })
}

pub(crate) fn done() -> WorkResult {
    WorkResult::Ok {
        job: None,
        report: None,
        recovered: false,
    }
}

pub(crate) fn recovered() -> WorkResult {
    WorkResult::Ok {
        job: None,
        report: None,
        recovered: true,
    }
}
