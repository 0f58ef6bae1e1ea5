//! The one bridge to `lifecycle/`: the guard contexts the engine judges on, and every stage
//! move through `lifecycle::decide`.

use super::protocol::*;
use super::{ev, Brain};
use crate::lifecycle::transition::{CUTOVER_GUARDS, OFFLINE_CUTOVER_GUARDS};
use crate::lifecycle::{
    decide, facts, wave_member_trigger, GuardContext, GuardKind, Position, Stage, Trigger,
};
use crate::store::event::{Body, StageChanged};
use crate::store::{Action, Role};
use chrono::{DateTime, Utc};

impl Brain {
    /// The lifecycle guards of a cutover that fail now, in words, except the role (checked
    /// when the command came) and "no cutover in flight" (this is the one in flight). An
    /// offline database's are those its cutover was let in by: no lag, no validation before.
    pub(super) fn cutover_blockers(&self, id: &str, wall: DateTime<Utc>) -> Vec<String> {
        let ctx = self.guard_context(id, Role::Operator, wall);
        let online = self.dbs.get(id).is_none_or(|d| d.mode.is_online());
        let guards = if online {
            CUTOVER_GUARDS
        } else {
            OFFLINE_CUTOVER_GUARDS
        };
        guards
            .iter()
            .filter(|g| !matches!(g, GuardKind::Role | GuardKind::NoCutoverInFlight))
            .map(|g| g.check(&ctx))
            .filter(|g| !g.ok)
            .map(|g| g.sentence)
            .collect()
    }

    /// The guard context of a database as the engine knows it now (the cockpit builds its
    /// previews with the same [`facts::guard_context`]).
    pub fn guard_context(&self, db: &str, role: Role, wall: DateTime<Utc>) -> GuardContext {
        let th = self.settings.thresholds();
        let Some(d) = self.dbs.get(db) else {
            let mut ctx = GuardContext::new(db, wall);
            ctx.role = role;
            ctx.validation_max_age_min = th.validation_max_age_min;
            return ctx;
        };
        let wave = d.wave.and_then(|w| self.waves.get(&w));
        let f = facts::Facts {
            db_id: db,
            wave: d.wave,
            stage: d.pos.stage,
            lag_s: d.seen.lag_s,
            own_max_lag_s: d.own_max_lag_s,
            own_window: &d.window,
            validation: d.validation,
            wave_window: wave.map_or(facts::WindowMemo::none(), |w| &w.window),
            wave_approved_by: wave.and_then(|w| w.approved_by.as_deref()),
            wave_started: wave.is_some_and(|w| w.started),
            criticality: d.criticality,
            signoff: &d.signoff,
            restore_passed_at: d.restore_passed_at,
            mode: d.mode,
        };
        let mut ctx = facts::guard_context(&f, th, role, wall);
        ctx.close_reason = self.close_reason.clone();
        ctx
    }

    /// The members of wave `w` that `trigger` would move now, counted, and the others, each
    /// with its first failing guard, judged on its [`Brain::guard_context`] (the cockpit
    /// judges its preview the same way).
    pub(super) fn wave_members_judged(
        &self,
        w: u32,
        trigger: Trigger,
        role: Role,
        wall: DateTime<Utc>,
    ) -> (usize, Vec<(String, String)>) {
        let mut ready = 0;
        let mut waiting = Vec::new();
        for d in self.dbs.values().filter(|d| d.wave == Some(w)) {
            match decide(d.pos, trigger, &self.guard_context(&d.id, role, wall)) {
                Ok(_) => ready += 1,
                Err(rej) => waiting.push((d.id.clone(), rej.reasons[0].clone())),
            }
        }
        (ready, waiting)
    }

    /// The guard context of `action` on wave `w` as a whole (the cockpit builds its preview
    /// with the same [`facts::wave_context`]). For an action that moves members it counts
    /// those whose own guards pass ([`Brain::wave_members_judged`]).
    pub fn wave_context(
        &self,
        w: u32,
        action: Option<Action>,
        role: Role,
        wall: DateTime<Utc>,
    ) -> GuardContext {
        let wave = self.waves.get(&w);
        let trigger = action.and_then(wave_member_trigger);
        let members_ready = trigger.map_or(0, |t| self.wave_members_judged(w, t, role, wall).0);
        let f = facts::WaveFacts {
            wave: w,
            members: wave.map_or(0, |x| x.members),
            trigger,
            started: wave.is_some_and(|x| x.started),
            approved_by: wave.and_then(|x| x.approved_by.as_deref()),
            window: wave.map_or(facts::WindowMemo::none(), |x| &x.window),
            members_ready,
        };
        facts::wave_context(&f, role, wall)
    }

    /// Move a database by `trigger` if the lifecycle allows; write the stage event.
    /// Returns the refusal when it does not.
    pub(super) fn transition(
        &mut self,
        id: &str,
        trigger: Trigger,
        reason: &str,
        wall: DateTime<Utc>,
        role: Role,
        who: Option<&str>,
    ) -> Result<Position, Refusal> {
        let ctx = self.guard_context(id, role, wall);
        let Some(d) = self.dbs.get_mut(id) else {
            return Err(format!("no database {id:?} in the store").into());
        };
        let from = d.pos;
        let to = decide(from, trigger, &ctx)?;
        let outage_s = d
            .drained_at
            .filter(|_| trigger == Trigger::CutoverDone)
            .map(|t| (wall - t).num_milliseconds().max(0) as f64 / 1000.0);
        let reason = match outage_s {
            Some(s) => format!("{reason}; write outage {s:.1} s"),
            None => reason.to_string(),
        };
        // The store's fold takes the stage a `failed` or `paused` database holds from `from`.
        let change = StageChanged {
            from: Some(from.stage),
            to: to.stage,
            trigger: Some(trigger),
            error: (to.stage == Stage::Failed).then(|| reason.clone()),
            reason,
            held: to.held,
            by: who.map(str::to_string),
            outage_s,
        };
        self.out.push(ev(Some(id), d.wave, Body::Stage(change)));
        d.pos = to;
        d.since = Some(wall);
        d.done.clear();
        d.retries = 0;
        d.waits = 0;
        d.partial = None;
        d.not_before = 0.0;
        d.progress_at = 0.0;
        d.last_pct = None;
        d.pct_rate = None;
        d.held_by = None;
        if to.stage == Stage::Cutover || from.stage == Stage::Cutover {
            d.lag_zero_since = None;
        }
        if trigger == Trigger::Cutover {
            d.cut_started.clear();
            d.cut_done.clear();
            d.cut_validated = false;
        }
        if trigger == Trigger::Retry {
            d.job_failed = false;
        }
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

    #[test]
    fn a_cutover_guard_failing_at_the_step_is_passed_on_in_words() {
        let (mut b, _) = ready_for_sql_cutover();
        b.on_command(
            &cmd(1, Role::Operator, Action::Cutover, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        // Lag jumped above the threshold between the command and the step.
        b.on_seen(
            "a",
            LookKind::Job,
            job_seen("INCRE_TRANSFER_STARTED", 100.0, 30.0),
            1.0,
            wall(),
        );
        let p = b.tick(10.0, wall());
        assert_eq!(p.works[0].step, EffectStep::Cut(CutStep::Guards));
        assert!(
            p.works[0].blockers.iter().any(|r| r.contains("lag")),
            "{:?}",
            p.works[0].blockers
        );
    }
}
