//! Admission: which waiting databases start, as far as the waves and the limits allow, and the
//! revalidation of stale ready databases (`engine::admission` holds the pure limits).

use super::Brain;
use crate::engine::admission::{self, Candidate};
use crate::lifecycle::{decide, Position, Stage, Trigger};
use crate::store::Role;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

impl Brain {
    /// Waves whose members `trigger` may move from `from` as far as the wave decides: the
    /// row's guards on the wave's context, once per wave rather than once per database (each
    /// database moved is judged again on its own context by [`Brain::transition`]).
    pub(super) fn waves_allowing(
        &self,
        from: Position,
        trigger: Trigger,
        wall: DateTime<Utc>,
    ) -> BTreeSet<u32> {
        self.waves
            .keys()
            .copied()
            .filter(|&w| {
                let ctx = self.wave_context(w, None, Role::Operator, wall);
                decide(from, trigger, &ctx).is_ok()
            })
            .collect()
    }

    /// Start waiting databases of waves the lifecycle admits from (started ones), as far as
    /// the limits allow.
    pub(super) fn admit(&mut self, wall: DateTime<Utc>) {
        let open = self.waves_allowing(Position::at(Stage::Registered), Trigger::Start, wall);
        let mut waiting: Vec<Candidate> = self
            .dbs
            .values()
            .filter(|d| {
                d.pos.stage == Stage::Registered && d.wave.is_some_and(|w| open.contains(&w))
            })
            .map(|d| Candidate {
                wave: d.wave.unwrap_or(u32::MAX),
                criticality: d.criticality,
                size_gb: d.size_gb,
                db_id: d.id.clone(),
                needs_drs_job: d.mode.is_online(),
            })
            .collect();
        if waiting.is_empty() {
            return;
        }
        waiting.sort_by(admission::priority);
        let mut usage = self.usage();
        let admitted = admission::admit(&waiting, &self.settings.caps, &mut usage);
        let admitted: BTreeSet<usize> = admitted.into_iter().collect();
        for (i, c) in waiting.iter().enumerate() {
            if admitted.contains(&i) {
                let _ = self.transition(
                    &c.db_id,
                    Trigger::Start,
                    "admitted: its wave is started and a slot is free",
                    wall,
                    Role::Operator,
                    None,
                );
            } else if let Some(d) = self.dbs.get_mut(&c.db_id) {
                d.held_by = Some(
                    if c.needs_drs_job && usage.drs_jobs >= self.settings.caps.drs_jobs {
                        admission::Held::DrsJobs(self.settings.caps.drs_jobs).to_string()
                    } else {
                        admission::Held::Wave(c.wave, self.settings.caps.per_wave).to_string()
                    },
                );
            }
        }
    }

    /// Ready databases whose validation is too old are validated again, in the waves the
    /// lifecycle revalidates in (approved ones), so the cutover guard finds a fresh one.
    pub(super) fn revalidate_stale(&mut self, wall: DateTime<Utc>) {
        let max_age = chrono::Duration::minutes(self.settings.validation_max_age_min as i64);
        let approved = self.waves_allowing(Position::at(Stage::Ready), Trigger::Revalidate, wall);
        let stale: Vec<String> = self
            .dbs
            .values()
            .filter(|d| {
                d.pos.stage == Stage::Ready
                    && !d.busy
                    && d.wave.is_some_and(|w| approved.contains(&w))
                    && d.validation.is_none_or(|(_, at)| wall - at > max_age)
            })
            .map(|d| d.id.clone())
            .collect();
        for id in stale {
            let _ = self.transition(
                &id,
                Trigger::Revalidate,
                "validation older than thresholds.validation_max_age_min before the window",
                wall,
                Role::Operator,
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

    #[test]
    fn admission_follows_limits_and_priority() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("small-low", 0, Criticality::Low, 1.0),
                seed("big-low", 0, Criticality::Low, 100.0),
                seed("small-high", 0, Criticality::High, 1.0),
            ],
        );
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        b.take_events();
        let plan = b.tick(0.0, wall());
        let started: Vec<String> = b
            .take_events()
            .iter()
            .filter(|e| e.kind == kind::DB_STAGE)
            .map(|e| e.db_id.clone().unwrap())
            .collect();
        // Wave concurrency 2: the most critical, then the largest.
        assert_eq!(started, ["small-high", "big-low"]);
        assert_eq!(b.held().len(), 1);
        assert!(b.held()[0].1.contains("wave 0"), "{:?}", b.held());
        // Each admitted database asks for its first pre-check, intent first.
        assert_eq!(plan.works.len(), 2);
        assert!(plan
            .works
            .iter()
            .all(|w| w.step == EffectStep::ExposureCheck && !w.resumed));
    }
}
