//! The sign-off roles, a database's ledger of sign-offs and the guard's check of it: the part of
//! sign-off the store's state and the lifecycle's guard hold, below both. Reading events into a
//! ledger ([`Ledger::observe`], `signoff/mod.rs`) is above the store's event types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignoffRole {
    TechLead,
    DataOwner,
    BusinessOwner,
}

impl SignoffRole {
    pub const ALL: [SignoffRole; 3] = [
        SignoffRole::TechLead,
        SignoffRole::DataOwner,
        SignoffRole::BusinessOwner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SignoffRole::TechLead => "tech_lead",
            SignoffRole::DataOwner => "data_owner",
            SignoffRole::BusinessOwner => "business_owner",
        }
    }

    pub fn parse(s: &str) -> Option<SignoffRole> {
        SignoffRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub role: SignoffRole,
    pub who: String,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub note: Option<String>,
}

/// The sign-offs of one database standing now, and the last time they were withdrawn.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// At most one per role: the latest.
    pub signed: Vec<Signature>,
    /// When and why the sign-offs were last withdrawn.
    pub withdrawn: Option<(DateTime<Utc>, String)>,
}

impl Ledger {
    pub fn sign(&mut self, s: Signature) {
        self.signed.retain(|x| x.role != s.role);
        self.signed.push(s);
        self.signed.sort_by_key(|x| x.role);
    }

    pub fn withdraw(&mut self, at: DateTime<Utc>, why: impl Into<String>) {
        if !self.signed.is_empty() {
            self.signed.clear();
            self.withdrawn = Some((at, why.into()));
        }
    }

    pub fn by(&self, role: SignoffRole) -> Option<&Signature> {
        self.signed.iter().find(|s| s.role == role)
    }

    /// Required roles nobody has signed for yet.
    pub fn missing(&self, required: &[SignoffRole]) -> Vec<SignoffRole> {
        required
            .iter()
            .copied()
            .filter(|r| self.by(*r).is_none())
            .collect()
    }
}

/// The sign-off guard: passes only when every required role has signed. The sentence names who
/// signed and who is still needed, as the cutover dialog shows it.
pub fn check(required: &[SignoffRole], ledger: &Ledger) -> (bool, String) {
    if required.is_empty() {
        return (true, "no sign-off required for this criticality".into());
    }
    let signed: Vec<String> = required
        .iter()
        .filter_map(|r| ledger.by(*r))
        .map(|s| format!("{} by {}", s.role.as_str(), s.who))
        .collect();
    let missing = ledger.missing(required);
    if missing.is_empty() {
        return (true, format!("signed off: {}", signed.join(", ")));
    }
    let mut s = format!(
        "sign-off missing: {}",
        missing
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !signed.is_empty() {
        s.push_str(&format!(" (signed: {})", signed.join(", ")));
    }
    if let Some((at, why)) = &ledger.withdrawn {
        s.push_str(&format!(
            "; earlier sign-offs withdrawn {}: {why}",
            at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    (false, s)
}
