//! Sign-off by the people who own the risk of a cutover: the Technical Lead, the Data Owner and
//! the Business Owner (seed 002), each for the databases whose criticality needs them.
//!
//! Pure. The config says which roles each criticality needs and who holds each role; a
//! sign-off is an event (`db.signoff`, [`Body::Signoff`]: who, role, note; the event's time is
//! when); the
//! [`Ledger`] folds a database's events into the sign-offs standing now, and withdraws them all
//! when something that matters changes: a failed validation, a rollback, an inventory change.
//! The cutover guard (`lifecycle::GuardKind::SignOff`) needs every required role in the ledger.

pub mod cmd;
pub mod ledger;

pub use ledger::{check, Ledger, Signature, SignoffRole};

use crate::inventory::Criticality;
use crate::lifecycle::Stage;
use crate::store::event::{Body, SignedOff};
use crate::store::model::Role;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Config `signoff:`. Empty by default: no cutover needs a sign-off until the factory says so.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignoffConfig {
    /// Roles whose sign-off a cutover needs, by criticality (e.g. `high: [tech_lead,
    /// data_owner, business_owner]`).
    pub required: BTreeMap<Criticality, Vec<SignoffRole>>,
    /// Who holds each role: OS user names (`$USER` of whoever runs `wavedeck signoff`).
    pub holders: BTreeMap<SignoffRole, Vec<String>>,
}

impl SignoffConfig {
    pub fn required_for(&self, c: Criticality) -> Vec<SignoffRole> {
        self.required.get(&c).cloned().unwrap_or_default()
    }

    pub fn holders_of(&self, role: SignoffRole) -> &[String] {
        self.holders.get(&role).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The roles `who` holds.
    pub fn roles_of(&self, who: &str) -> Vec<SignoffRole> {
        SignoffRole::ALL
            .into_iter()
            .filter(|r| self.holders_of(*r).iter().any(|h| h == who))
            .collect()
    }

    /// May `who`, in a session of `session` role, sign for `role`? The error says why not and
    /// what to do.
    pub fn authorize(&self, who: &str, role: SignoffRole, session: Role) -> Result<(), String> {
        if session == Role::Viewer {
            return Err(format!(
                "{who} is in a read-only viewer session, and a viewer cannot sign off; run without --read-only"
            ));
        }
        let holders = self.holders_of(role);
        if holders.iter().any(|h| h == who) {
            return Ok(());
        }
        Err(if holders.is_empty() {
            format!(
                "nobody holds the {} role: name its holders in the config under signoff.holders.{}",
                role.as_str(),
                role.as_str()
            )
        } else {
            format!(
                "{who} does not hold the {} role (its holders: {}; config signoff.holders.{})",
                role.as_str(),
                holders.join(", "),
                role.as_str()
            )
        })
    }

    /// "tech_lead: alice; data_owner: bob, dan" for the cockpit header.
    pub fn holders_line(&self) -> String {
        SignoffRole::ALL
            .into_iter()
            .filter(|r| !self.holders_of(*r).is_empty())
            .map(|r| format!("{}: {}", r.as_str(), self.holders_of(r).join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The roles each criticality needs, as a small `Copy` value for the cockpit's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs([u8; 3]);

impl Needs {
    fn slot(c: Criticality) -> usize {
        match c {
            Criticality::Low => 0,
            Criticality::Medium => 1,
            Criticality::High => 2,
        }
    }

    pub fn from_config(cfg: &SignoffConfig) -> Needs {
        let mut n = Needs::default();
        for (c, roles) in &cfg.required {
            for r in roles {
                n.0[Needs::slot(*c)] |= 1 << (*r as u8);
            }
        }
        n
    }

    pub fn roles(self, c: Criticality) -> Vec<SignoffRole> {
        SignoffRole::ALL
            .into_iter()
            .filter(|r| self.0[Needs::slot(c)] & (1 << (*r as u8)) != 0)
            .collect()
    }
}

impl Signature {
    /// The sign-off a `db.signoff` event made at `at`.
    pub fn of(s: &SignedOff, at: DateTime<Utc>) -> Signature {
        Signature {
            role: s.role,
            who: s.who.clone(),
            at,
            note: s.note.clone(),
        }
    }
}

impl Ledger {
    /// Read one of the database's events (its kind, and its body as the store's vocabulary
    /// reads it), in log order. The one reader of sign-off events and of what withdraws them,
    /// for the store's fold, the engine's replay and the evidence.
    pub fn observe(&mut self, kind: &str, body: &Body, at: DateTime<Utc>) {
        // Any inventory change withdraws, whatever its payload says (read or not).
        if kind == crate::store::kind::DB_UPDATED {
            return self.withdraw(at, "its inventory entry changed");
        }
        match body {
            Body::Signoff(s) => self.sign(Signature::of(s, at)),
            Body::Validation(r) if !r.passed => self.withdraw(at, "a validation failed"),
            Body::Stage(st) if st.to == Stage::RolledBack => {
                self.withdraw(at, "the database was rolled back")
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 1, min, 0).unwrap()
    }

    /// `role` signed by `who`, as the engine writes it (through the typed vocabulary).
    fn sign(l: &mut Ledger, role: SignoffRole, who: &str, note: Option<&str>, at: DateTime<Utc>) {
        let e = crate::store::NewEvent::of(
            Some("a"),
            None,
            Body::Signoff(SignedOff::new(role, who, note)),
            who,
        );
        see(l, &e.kind, e.payload, at);
    }

    /// An event of `kind` with `payload`, read as the store reads it.
    fn see(l: &mut Ledger, kind: &str, payload: serde_json::Value, at: DateTime<Utc>) {
        l.observe(kind, &Body::read(kind, &payload), at);
    }

    pub(crate) fn config() -> SignoffConfig {
        SignoffConfig {
            required: BTreeMap::from([
                (Criticality::Low, vec![SignoffRole::TechLead]),
                (
                    Criticality::High,
                    vec![
                        SignoffRole::TechLead,
                        SignoffRole::DataOwner,
                        SignoffRole::BusinessOwner,
                    ],
                ),
            ]),
            holders: BTreeMap::from([
                (SignoffRole::TechLead, vec!["alice".into()]),
                (SignoffRole::DataOwner, vec!["bob".into(), "dan".into()]),
            ]),
        }
    }

    #[test]
    fn config_reads_from_yaml() {
        let c: SignoffConfig = serde_yaml::from_str(
            "required:\n  low: [tech_lead]\n  high: [tech_lead, data_owner, business_owner]\nholders:\n  tech_lead: [alice]\n  data_owner: [bob, dan]\n",
        )
        .unwrap();
        assert_eq!(c, config());
        assert!(serde_yaml::from_str::<SignoffConfig>("required:\n  low: [cto]\n").is_err());
        assert_eq!(c.required_for(Criticality::Medium), vec![]);
        assert_eq!(c.roles_of("dan"), vec![SignoffRole::DataOwner]);
        assert_eq!(c.holders_line(), "tech_lead: alice; data_owner: bob, dan");
        let n = Needs::from_config(&c);
        for crit in [Criticality::Low, Criticality::Medium, Criticality::High] {
            assert_eq!(n.roles(crit), c.required_for(crit), "{crit:?}");
        }
    }

    #[test]
    fn only_holders_sign_and_never_a_viewer() {
        let c = config();
        assert!(c
            .authorize("alice", SignoffRole::TechLead, Role::Operator)
            .is_ok());
        let e = c
            .authorize("bob", SignoffRole::TechLead, Role::Operator)
            .unwrap_err();
        assert!(
            e.contains("bob does not hold the tech_lead role (its holders: alice"),
            "{e}"
        );
        let e = c
            .authorize("alice", SignoffRole::TechLead, Role::Viewer)
            .unwrap_err();
        assert!(e.contains("viewer cannot sign off"), "{e}");
        let e = c
            .authorize("carol", SignoffRole::BusinessOwner, Role::Operator)
            .unwrap_err();
        assert!(e.contains("nobody holds the business_owner role"), "{e}");
    }

    #[test]
    fn the_ledger_keeps_the_latest_per_role_and_change_withdraws_them() {
        let mut l = Ledger::default();
        sign(&mut l, SignoffRole::TechLead, "alice", Some("ok"), t(1));
        sign(&mut l, SignoffRole::DataOwner, "bob", None, t(2));
        sign(&mut l, SignoffRole::DataOwner, "dan", None, t(3));
        assert_eq!(l.signed.len(), 2);
        assert_eq!(l.by(SignoffRole::DataOwner).unwrap().who, "dan");
        assert_eq!(
            l.by(SignoffRole::TechLead).unwrap().note.as_deref(),
            Some("ok")
        );
        // A passing validation or another stage changes nothing.
        see(
            &mut l,
            crate::store::kind::DB_VALIDATION,
            serde_json::json!({"passed": true}),
            t(4),
        );
        see(
            &mut l,
            crate::store::kind::DB_STAGE,
            serde_json::json!({"to": "ready"}),
            t(4),
        );
        assert_eq!(l.signed.len(), 2);
        for (kind, p, why) in [
            (
                crate::store::kind::DB_VALIDATION,
                serde_json::json!({"passed": false}),
                "a validation failed",
            ),
            (
                crate::store::kind::DB_STAGE,
                serde_json::json!({"to": "rolled_back"}),
                "the database was rolled back",
            ),
            (
                crate::store::kind::DB_UPDATED,
                serde_json::json!({"spec": {}}),
                "its inventory entry changed",
            ),
        ] {
            let mut l = l.clone();
            see(&mut l, kind, p, t(5));
            assert!(l.signed.is_empty(), "{kind}");
            assert_eq!(l.withdrawn, Some((t(5), why.to_string())));
        }
        // An event without a readable role or signer is no sign-off.
        let mut e = Ledger::default();
        see(
            &mut e,
            crate::store::kind::DB_SIGNOFF,
            serde_json::json!({"role": "cto", "who": "x"}),
            t(1),
        );
        see(
            &mut e,
            crate::store::kind::DB_SIGNOFF,
            serde_json::json!({"role": "tech_lead"}),
            t(1),
        );
        assert_eq!(e, Ledger::default());
    }

    #[test]
    fn guard_sentences_name_who_signed_and_who_is_missing() {
        let c = config();
        let high = c.required_for(Criticality::High);
        let mut l = Ledger::default();
        assert_eq!(
            check(&[], &l),
            (true, "no sign-off required for this criticality".into())
        );
        sign(&mut l, SignoffRole::TechLead, "alice", None, t(1));
        assert_eq!(
            check(&high, &l),
            (
                false,
                "sign-off missing: data_owner, business_owner (signed: tech_lead by alice)".into()
            )
        );
        see(
            &mut l,
            crate::store::kind::DB_UPDATED,
            serde_json::Value::Null,
            t(2),
        );
        let (ok, s) = check(&high, &l);
        assert!(!ok);
        assert!(
            s.ends_with(
                "earlier sign-offs withdrawn 2026-12-05 01:02 UTC: its inventory entry changed"
            ),
            "{s}"
        );
        for r in &high {
            sign(&mut l, *r, "x", None, t(3));
        }
        assert_eq!(
            check(&high, &l),
            (
                true,
                "signed off: tech_lead by x, data_owner by x, business_owner by x".into()
            )
        );
    }
}
