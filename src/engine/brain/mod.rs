//! The engine's decisions, free of I/O: given what the store says and what DRS, the checks and
//! the operators report, what happens next. The driver (`runtime`) feeds it and carries out
//! what it asks for; this split keeps every rule testable without a network or a database.
//!
//! Two kinds of request leave the brain:
//! - [`Work`]: a side effect (create a DRS job, start it, terminate it, switch DNS...). Its
//!   `step.intent` event is in the batch the driver appends *before* running it; the
//!   `step.outcome` event is written when it returns. After a crash, an intent without an
//!   outcome is run again in "resumed" mode, where the driver first asks the world whether it
//!   already happened (a DRS job named after the db_id is found, not created twice).
//! - [`Look`]: a read-only poll (job status/progress/lag, pre-check or comparison result),
//!   batched by the driver, with no events of its own.
//!
//! The parts are `impl Brain` blocks over one state: `protocol` (what the brain and the driver
//! trade), `settings`, `memory` (per database and wave), `replay` (loading from the store),
//! `tick` (one round), `playbook` (what each stage needs next), `moves` (the bridge to
//! `lifecycle/`), `admit`, `observe` (results and DRS reports), `commands` and `wave_done` (a wave's end).

mod admit;
mod commands;
mod memory;
mod moves;
mod observe;
#[cfg(test)]
mod offline_tests;
mod playbook;
mod protocol;
mod replay;
mod settings;
#[cfg(test)]
mod test_support;
mod tick;
mod wave_done;

pub use protocol::*;
pub use settings::*;

use crate::engine::admission::Usage;
use crate::engine::poll_plan::Slowdown;
use crate::lifecycle::{Position, Stage};
use crate::store::event::Body;
use crate::store::NewEvent;
use chrono::Utc;
use memory::{holds_job, in_full_load, rollback_next, runs_validation, working, Db, Wave};
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::time::Duration;

/// The `actor` of every event the engine writes on its own behalf.
pub const ACTOR: &str = "engine";

/// `Clone`: a test judges several commands against one state.
#[derive(Clone)]
pub struct Brain {
    pub settings: Settings,
    dbs: BTreeMap<String, Db>,
    waves: BTreeMap<u32, Wave>,
    /// Events to append before the works of this round run.
    out: Vec<NewEvent>,
    /// Lag samples to record (db_id, seconds).
    lag_samples: Vec<(String, f64)>,
    pub slowdown: Slowdown,
    /// Job looks wait for the next polling round (`engine.poll.round_s`) to share its calls.
    next_round: f64,
    rng: rand::rngs::StdRng,
    /// The `reason` of the close_hypercare command being decided (for its restore guard).
    close_reason: Option<String>,
}

pub(super) fn ev(db: Option<&str>, wave: Option<u32>, body: Body) -> NewEvent {
    NewEvent::of(db, wave, body, ACTOR)
}

impl Brain {
    pub fn new(settings: Settings, seed: u64) -> Brain {
        Brain {
            settings,
            dbs: BTreeMap::new(),
            waves: BTreeMap::new(),
            out: Vec::new(),
            lag_samples: Vec::new(),
            slowdown: Slowdown::default(),
            next_round: 0.0,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            close_reason: None,
        }
    }

    /// Events to append now (intents of the works about to run among them).
    pub fn take_events(&mut self) -> Vec<NewEvent> {
        // The brain's own events that withdraw sign-offs (a failed validation, a rollback)
        // reach the ledgers here, in the one place every event leaves by.
        let now = Utc::now();
        for e in &self.out {
            if let Some(d) = e.db_id.as_deref().and_then(|id| self.dbs.get_mut(id)) {
                d.signoff
                    .observe(&e.kind, &Body::read(&e.kind, &e.payload), now);
            }
        }
        std::mem::take(&mut self.out)
    }

    /// Lag samples for the store's downsampled series.
    pub fn take_lag_samples(&mut self) -> Vec<(String, f64)> {
        std::mem::take(&mut self.lag_samples)
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    pub fn stage_of(&self, db: &str) -> Option<Position> {
        self.dbs.get(db).map(|d| d.pos)
    }

    pub fn job_of(&self, db: &str) -> Option<&str> {
        self.dbs.get(db).and_then(|d| d.job.as_deref())
    }

    /// Whether nothing more will happen without an operator: every database of every started
    /// wave is in ready or beyond, failed, or aborted, and nothing is in flight.
    pub fn idle(&self) -> bool {
        self.dbs.values().all(|d| {
            !d.busy
                && d.open.is_none()
                && match d.pos.stage {
                    Stage::Registered => !self.wave_started(d.wave),
                    Stage::Ready | Stage::ReadyOffline | Stage::Hypercare | Stage::Failed => true,
                    Stage::Paused => d.job_paused || !d.job_started,
                    Stage::Completed | Stage::Aborted => d.job.is_none(),
                    Stage::RolledBack => rollback_next(d).is_none(),
                    _ => false,
                }
        })
    }

    pub(super) fn wave_started(&self, w: Option<u32>) -> bool {
        w.and_then(|w| self.waves.get(&w))
            .is_some_and(|w| w.started)
    }

    /// What is in use, from the current positions.
    pub fn load_now(&self) -> Load {
        let mut l = Load::default();
        for d in self.dbs.values() {
            if holds_job(d) {
                l.drs_jobs += 1;
            }
            if working(d.pos.stage) {
                if let Some(w) = d.wave {
                    *l.working_per_wave.entry(w).or_insert(0) += 1;
                }
            }
            if runs_validation(d) {
                l.validations += 1;
            }
            if in_full_load(d) {
                l.full_loads += 1;
            }
            if d.held_by.is_some() {
                l.held += 1;
            }
        }
        l
    }

    /// Why each held database waits (db_id, sentence).
    pub fn held(&self) -> Vec<(String, String)> {
        self.dbs
            .values()
            .filter_map(|d| d.held_by.clone().map(|h| (d.id.clone(), h)))
            .collect()
    }

    pub(super) fn usage(&self) -> Usage {
        let l = self.load_now();
        Usage {
            drs_jobs: l.drs_jobs,
            per_wave: l.working_per_wave,
            validations: l.validations,
            full_loads: l.full_loads,
        }
    }

    pub(super) fn scaled(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.settings.time_scale
    }
}
