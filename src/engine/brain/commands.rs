//! Operator commands: accepted (and acted on) or refused with the guards behind the refusal;
//! sign-offs.

use super::protocol::*;
use super::{ev, Brain};
use crate::lifecycle::{
    check, check_wave_action, members_waiting, GuardContext, GuardKind, Trigger,
};
use crate::store::event::{Body, SignedOff, WaveAct};
use crate::store::{Action, CommandRow, NewEvent, Role, Target};
use chrono::{DateTime, Utc};
use serde_json::Value;

impl Brain {
    /// An operator command: accept it (and act) or reject it, with the reason.
    /// Record a sign-off for one database or every member of a wave, if the signer holds the
    /// role (config `signoff.holders`).
    pub(super) fn sign_off(
        &mut self,
        c: &CommandRow,
        target: &Target,
        wall: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        use crate::signoff::{Signature, SignoffRole};
        // A wave's sign-off is judged by the wave guards the cockpit previews, kept as a list.
        if let Target::Wave(w) = target {
            let ctx = self.wave_context(*w, Some(c.action), c.role, wall);
            check_wave_action(Action::Signoff, &ctx)?;
        }
        let role = c
            .args
            .get("role")
            .and_then(Value::as_str)
            .and_then(SignoffRole::parse)
            .ok_or_else(|| {
                format!(
                    "signoff blocked: args.role must be one of {}",
                    SignoffRole::ALL.map(|r| r.as_str()).join(", ")
                )
            })?;
        let note = c.args.get("note").and_then(Value::as_str);
        self.settings
            .signoff
            .authorize(&c.who, role, c.role)
            .map_err(|e| format!("signoff blocked: {e}"))?;
        let ids: Vec<String> = match target {
            Target::Db(id) if self.dbs.contains_key(id) => vec![id.clone()],
            Target::Db(id) => return Err(format!("no database {id:?} in the store").into()),
            Target::Factory => {
                return Err("a sign-off is for a database or a wave, not the factory"
                    .to_string()
                    .into())
            }
            Target::Wave(w) => self
                .dbs
                .values()
                .filter(|d| d.wave == Some(*w))
                .map(|d| d.id.clone())
                .collect(),
        };
        for id in &ids {
            let Some(d) = self.dbs.get_mut(id) else {
                continue;
            };
            d.signoff.sign(Signature {
                role,
                who: c.who.clone(),
                at: wall,
                note: note.map(str::to_string),
            });
            let signed = SignedOff {
                command: Some(c.id),
                ..SignedOff::new(role, &c.who, note)
            };
            self.out.push(NewEvent::of(
                Some(id),
                d.wave,
                Body::Signoff(signed),
                &c.who,
            ));
        }
        Ok(match target {
            Target::Db(id) => format!("{} sign-off by {} recorded for {id}", role.as_str(), c.who),
            // Refused above.
            Target::Factory => String::new(),
            Target::Wave(w) => format!(
                "{} sign-off by {} recorded for the {} databases of wave {w}",
                role.as_str(),
                c.who,
                ids.len()
            ),
        })
    }

    pub fn on_command(&mut self, c: &CommandRow, wall: DateTime<Utc>) -> Result<String, Refusal> {
        // A close without a passed restore test needs the operator's reason (its guard).
        self.close_reason = (c.action == Action::CloseHypercare)
            .then(|| c.args.get("reason").and_then(|v| v.as_str()))
            .flatten()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        let r = self.decide_command(c, wall);
        self.close_reason = None;
        r
    }

    fn decide_command(&mut self, c: &CommandRow, wall: DateTime<Utc>) -> Result<String, Refusal> {
        let role_ctx = {
            let mut g = GuardContext::new("", wall);
            g.role = c.role;
            g
        };
        // A viewer hears about the role alone on a database; on a wave, every wave guard (the
        // role among them) is evaluated, as the cockpit's dialog shows them.
        if c.role == Role::Viewer && matches!(c.target, Target::Db(_)) {
            return Err(check(c.action.as_str(), &[GuardKind::Role], &role_ctx)
                .err()
                .map(Refusal::from)
                .unwrap_or_else(|| "viewers cannot act".to_string().into()));
        }
        match (c.action, &c.target) {
            (Action::StartWave | Action::ApproveWindow, Target::Wave(w)) => {
                let ctx = self.wave_context(*w, Some(c.action), c.role, wall);
                check_wave_action(c.action, &ctx)?;
                let wave = self.waves.entry(*w).or_default();
                if c.action == Action::StartWave {
                    wave.started = true;
                    wave.started_at = Some(wall);
                    self.out
                        .push(ev(None, Some(*w), Body::WaveStarted(wave_act(*w, c))));
                    Ok(format!(
                        "wave {w} started: {} databases queued",
                        ctx.wave_members
                    ))
                } else {
                    wave.approved_by = Some(c.who.clone());
                    self.out
                        .push(ev(None, Some(*w), Body::WaveApproved(wave_act(*w, c))));
                    Ok(format!("cutover window of wave {w} approved by {}", c.who))
                }
            }
            (Action::Signoff, target) => self.sign_off(c, target, wall),
            (Action::AckAlert, _) => {
                Err("ack_alert is decided by the alert rules, not the lifecycle"
                    .to_string()
                    .into())
            }
            (Action::RestoreTest, _) => Err(
                "restore_test is decided by the restore tests, not the lifecycle"
                    .to_string()
                    .into(),
            ),
            (action, Target::Factory) => Err(format!(
                "{} applies to a database or a wave, not to the factory",
                action.as_str()
            )
            .into()),
            (Action::StartWave | Action::ApproveWindow, Target::Db(id)) => Err(format!(
                "{} applies to a wave, not to database {id}",
                c.action.as_str()
            )
            .into()),
            (action, Target::Db(id)) => {
                let trig = Trigger::for_action(action)
                    .ok_or_else(|| format!("{} moves no database", action.as_str()))?;
                if !self.dbs.contains_key(id) {
                    return Err(format!("no database {id:?} in the store").into());
                }
                let mut why = format!("{} by {}", action.as_str(), c.who);
                if let Some(r) = &self.close_reason {
                    why.push_str(&format!(" (reason: {r})"));
                }
                let to = self.transition(id, trig, &why, wall, c.role, Some(&c.who))?;
                Ok(format!("{id}: now {to}"))
            }
            (action, Target::Wave(w)) => {
                let trig = Trigger::for_action(action)
                    .ok_or_else(|| format!("{} moves no database", action.as_str()))?;
                let ctx = self.wave_context(*w, Some(action), c.role, wall);
                if let Err(rej) = check_wave_action(action, &ctx) {
                    // A wave command that would move none: the wave's guards, then why each
                    // member does not pass, as the cockpit's preview lists them.
                    let (_, waiting) = self.wave_members_judged(*w, trig, c.role, wall);
                    return Err(with_waiting(rej.into(), &waiting));
                }
                let members: Vec<String> = self
                    .dbs
                    .values()
                    .filter(|d| d.wave == Some(*w))
                    .map(|d| d.id.clone())
                    .collect();
                let mut moved = 0;
                let mut refused: Vec<(String, String)> = Vec::new();
                for id in &members {
                    match self.transition(
                        id,
                        trig,
                        &format!("{} of wave {w} by {}", action.as_str(), c.who),
                        wall,
                        c.role,
                        Some(&c.who),
                    ) {
                        Ok(_) => moved += 1,
                        Err(why) => refused.push((id.clone(), why.reason)),
                    }
                }
                match members_waiting(&refused) {
                    None => Ok(format!("wave {w}: {moved} databases")),
                    Some(line) => Ok(format!(
                        "wave {w}: {moved} of {} databases; {}",
                        members.len(),
                        line.sentence
                    )),
                }
            }
        }
    }
}

/// A wave's refusal with the line saying why its members do not pass, in its guards and its
/// sentence.
fn with_waiting(mut r: Refusal, waiting: &[(String, String)]) -> Refusal {
    if let Some(line) = members_waiting(waiting) {
        r.reason.push_str(&format!(" ({})", line.sentence));
        r.guards.push(line.into());
    }
    r
}

pub(super) fn wave_act(w: u32, c: &CommandRow) -> WaveAct {
    WaveAct {
        wave: Some(w),
        by: Some(c.who.clone()),
        command: Some(c.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::brain::test_support::*;

    #[test]
    fn viewers_are_always_refused_and_waves_start_once() {
        let mut b = brain(ChecksMode::Drs, vec![seed("a", 0, Criticality::Low, 1.0)]);
        let err = b
            .on_command(
                &cmd(1, Role::Viewer, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(err.contains("viewer"), "{err}");
        assert!(b.take_events().is_empty());
        let okm = b
            .on_command(
                &cmd(2, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap();
        assert!(okm.contains("1 databases"), "{okm}");
        assert_eq!(kinds(&b.take_events()), [kind::WAVE_STARTED]);
        let again = b
            .on_command(
                &cmd(3, Role::Operator, Action::StartWave, Target::Wave(0)),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(again.contains("already started"), "{again}");
        let none = b
            .on_command(
                &cmd(4, Role::Operator, Action::StartWave, Target::Wave(9)),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(none.contains("no databases"), "{none}");
    }

    #[test]
    fn wave_commands_report_what_moved_and_what_did_not() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("a", 0, Criticality::Low, 1.0),
                seed("b", 0, Criticality::Low, 1.0),
            ],
        );
        b.on_command(
            &cmd(1, Role::Operator, Action::StartWave, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        for w in &b.tick(0.0, wall()).works {
            assert_eq!(w.step, EffectStep::ExposureCheck);
            b.on_work(w, ok(None), 0.0, wall());
        }
        let p = b.tick(0.0, wall());
        // Pause the wave: both in prechecks.
        let m = b
            .on_command(
                &cmd(2, Role::Operator, Action::Pause, Target::Wave(0)),
                wall(),
            )
            .unwrap();
        assert!(m.contains("2 databases"), "{m}");
        for w in &p.works {
            b.on_work(w, ok(Some(&format!("job-{}", w.db))), 1.0, wall());
        }
        // No job started yet: nothing to pause at DRS.
        assert!(b.tick(100.0, wall()).works.is_empty());
        let err = b
            .on_command(
                &cmd(3, Role::Operator, Action::Cutover, Target::Wave(0)),
                wall(),
            )
            .unwrap_err()
            .reason;
        // Refused as a whole by the wave's guard, with each member's reason.
        assert_eq!(
            err,
            "cutover blocked: none of the 2 databases of wave 0 passes its cutover guards now \
             (2 refused for now: a (a is paused (in prechecks); cutover applies only from ready); \
             b (b is paused (in prechecks); cutover applies only from ready))"
        );
        b.on_command(
            &cmd(4, Role::Operator, Action::Abort, Target::Db("a".into())),
            wall(),
        )
        .unwrap();
        let p = b.tick(200.0, wall());
        assert_eq!(
            p.works
                .iter()
                .map(|w| (w.db.as_str(), w.step))
                .collect::<Vec<_>>(),
            [("a", EffectStep::Terminate)]
        );
    }

    /// Wave pause, resume, retry, abort and rollback that would move no member keep the wave's
    /// guards, like its cutover: the failing `members_ready` and why each member waits; a wave
    /// sign-off is judged by the wave guards too.
    #[test]
    fn wave_commands_moving_none_keep_their_guards() {
        let mut b = brain(
            ChecksMode::Drs,
            vec![
                seed("a", 0, Criticality::Low, 1.0),
                seed("b", 0, Criticality::Low, 1.0),
            ],
        );
        let names = |r: &Refusal| {
            r.guards
                .iter()
                .map(|g| (g.name.clone(), g.ok))
                .collect::<Vec<_>>()
        };
        let want: Vec<(String, bool)> = [
            ("role", true),
            ("members", true),
            ("members_ready", false),
            ("members_waiting", true),
        ]
        .map(|(n, ok)| (n.to_string(), ok))
        .to_vec();
        for (i, action) in [
            Action::Resume,
            Action::Retry,
            Action::Rollback,
            Action::CloseHypercare,
        ]
        .into_iter()
        .enumerate()
        {
            let r = b
                .on_command(
                    &cmd(i as i64 + 1, Role::Operator, action, Target::Wave(0)),
                    wall(),
                )
                .unwrap_err();
            assert_eq!(names(&r), want, "{action:?}: {r:?}");
            let verb = action.as_str();
            assert!(
                r.reason.starts_with(&format!(
                    "{verb} blocked: none of the 2 databases of wave 0 passes its {verb} guards now (2 refused for now: a (a is registered; {verb} applies only from"
                )),
                "{}",
                r.reason
            );
            assert_eq!(
                r.guards[2].sentence,
                format!("none of the 2 databases of wave 0 passes its {verb} guards now")
            );
        }
        // Once both are paused, pausing again and aborting a cut-over wave move none either.
        b.on_command(
            &cmd(10, Role::Operator, Action::Pause, Target::Wave(0)),
            wall(),
        )
        .unwrap();
        let r = b
            .on_command(
                &cmd(11, Role::Operator, Action::Pause, Target::Wave(0)),
                wall(),
            )
            .unwrap_err();
        assert_eq!(names(&r), want, "{r:?}");
        assert!(b.take_events().iter().all(|e| e.kind == kind::DB_STAGE));
        // A viewer's wave command: the role fails, and so does every member.
        let r = b
            .on_command(
                &cmd(12, Role::Viewer, Action::Resume, Target::Wave(0)),
                wall(),
            )
            .unwrap_err();
        assert!(!r.guards[0].ok && !r.guards[2].ok, "{r:?}");

        let mut sign = cmd(13, Role::Operator, Action::Signoff, Target::Wave(9));
        sign.args = json!({"role": "tech_lead"});
        let r = b.on_command(&sign, wall()).unwrap_err();
        assert_eq!(
            r.reason,
            "signoff blocked: wave 9 has no databases (plan and init it first)"
        );
        assert_eq!(
            r.guards
                .iter()
                .map(|g| (g.name.as_str(), g.ok))
                .collect::<Vec<_>>(),
            [("role", true), ("members", false)]
        );
    }

    #[test]
    fn signoff_needs_a_holder_and_feeds_the_cutover_guard_until_withdrawn() {
        let mut st = settings(ChecksMode::Drs);
        st.signoff = serde_yaml::from_str(
            "required:\n  high: [tech_lead, data_owner]\nholders:\n  tech_lead: [alice]\n  data_owner: [bob]\n",
        )
        .unwrap();
        let mut s = seed("a", 0, Criticality::High, 1.0);
        s.stage = Stage::Ready;
        let wave = || WaveSeed {
            wave: 0,
            ..Default::default()
        };
        let mut b = Brain::new(st.clone(), 1);
        b.load(vec![s.clone()], vec![wave()], &[]);
        let sign = |id: i64, who: &str, role: Role, r: &str| {
            let mut c = cmd(id, role, Action::Signoff, Target::Db("a".into()));
            c.who = who.into();
            c.args = json!({"role": r, "note": "rehearsal passed"});
            c
        };
        let guard =
            |b: &Brain| GuardKind::SignOff.check(&b.guard_context("a", Role::Operator, wall()));

        let e = b
            .on_command(&sign(1, "alice", Role::Viewer, "tech_lead"), wall())
            .unwrap_err()
            .reason;
        assert!(e.contains("viewer"), "{e}");
        let e = b
            .on_command(&sign(2, "bob", Role::Operator, "tech_lead"), wall())
            .unwrap_err()
            .reason;
        assert!(
            e.contains("bob does not hold the tech_lead role (its holders: alice"),
            "{e}"
        );
        let e = b
            .on_command(&sign(3, "alice", Role::Operator, "cto"), wall())
            .unwrap_err()
            .reason;
        assert!(e.contains("args.role must be one of"), "{e}");
        assert!(
            b.take_events().is_empty(),
            "a refused sign-off writes nothing"
        );

        let ok = b
            .on_command(&sign(4, "alice", Role::Operator, "tech_lead"), wall())
            .unwrap();
        assert_eq!(ok, "tech_lead sign-off by alice recorded for a");
        let signed = b.take_events();
        assert_eq!(kinds(&signed), vec![kind::DB_SIGNOFF.to_string()]);
        assert_eq!(signed[0].actor, "alice");
        assert_eq!(signed[0].payload["role"], "tech_lead");
        assert_eq!(signed[0].payload["note"], "rehearsal passed");
        let g = guard(&b);
        assert!(!g.ok);
        assert_eq!(
            g.sentence,
            "sign-off missing: data_owner (signed: tech_lead by alice)"
        );
        let why = b
            .on_command(
                &cmd(5, Role::Operator, Action::Cutover, Target::Db("a".into())),
                wall(),
            )
            .unwrap_err()
            .reason;
        assert!(why.contains("sign-off missing: data_owner"), "{why}");

        b.on_command(&sign(6, "bob", Role::Operator, "data_owner"), wall())
            .unwrap();
        let mut log = signed.clone();
        log.extend(b.take_events());
        assert!(guard(&b).ok, "{}", guard(&b).sentence);

        // A restarted engine reads the sign-offs back from the log.
        let events: Vec<Event> = log
            .iter()
            .enumerate()
            .map(|(i, e)| Event {
                seq: i as i64 + 1,
                time: wall(),
                db_id: e.db_id.clone(),
                wave: e.wave,
                kind: e.kind.clone(),
                payload: e.payload.clone(),
                actor: e.actor.clone(),
                prev_hash: String::new(),
                hash: String::new(),
            })
            .collect();
        let mut again = Brain::new(st, 1);
        again.load(vec![s], vec![wave()], &events);
        assert!(guard(&again).ok, "{}", guard(&again).sentence);

        // A failed validation the engine records withdraws every sign-off.
        b.out.push(ev(
            Some("a"),
            Some(0),
            Body::Validation(CheckReport {
                passed: false,
                summary: String::new(),
                detail: Value::Null,
            }),
        ));
        b.take_events();
        let g = guard(&b);
        assert!(!g.ok);
        assert!(
            g.sentence.starts_with(
                "sign-off missing: tech_lead, data_owner; earlier sign-offs withdrawn"
            ) && g.sentence.ends_with("a validation failed"),
            "{}",
            g.sentence
        );
    }
}
