//! The alerts as their events say: which stand (raised, not cleared), who acknowledged them,
//! and the last few cleared. One fold for every reader (the engine's rules, the ack command,
//! the cockpit's Alerts view), so they cannot disagree on what stands.

use crate::store::event::{AlertCleared, AlertRaised, Body};
use crate::store::Event;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, VecDeque};

/// Cleared alerts kept for the cockpit.
pub const CLEARED_KEEP: usize = 50;

/// An alert raised and not cleared yet.
#[derive(Clone, Debug, PartialEq)]
pub struct Standing {
    pub raised: AlertRaised,
    pub at: DateTime<Utc>,
    pub seq: i64,
    pub wave: Option<u32>,
    pub acked_by: Option<String>,
}

/// An alert that came back to normal.
#[derive(Clone, Debug, PartialEq)]
pub struct Cleared {
    pub key: Key,
    pub wave: Option<u32>,
    pub raised: AlertRaised,
    pub raised_at: DateTime<Utc>,
    pub cleared: AlertCleared,
    pub cleared_at: DateTime<Utc>,
    pub acked_by: Option<String>,
}

/// (rule name, database or `None` for the factory).
pub type Key = (String, Option<String>);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Board {
    pub standing: BTreeMap<Key, Standing>,
    /// Newest last.
    pub cleared: VecDeque<Cleared>,
    /// Highest seq folded in, so a full read and the live stream never fold one twice.
    pub seq: i64,
}

impl Board {
    /// Fold one event (`body` is `ev.body()`, read once by the caller).
    pub fn apply(&mut self, ev: &Event, body: &Body) {
        if ev.seq <= self.seq {
            return;
        }
        let key = |rule: &str| (rule.to_string(), ev.db_id.clone());
        match body {
            Body::AlertRaised(r) => {
                self.standing.insert(
                    key(&r.rule),
                    Standing {
                        raised: r.clone(),
                        at: ev.time,
                        seq: ev.seq,
                        wave: ev.wave,
                        acked_by: None,
                    },
                );
            }
            Body::AlertCleared(c) => {
                if let Some(s) = self.standing.remove(&key(&c.rule)) {
                    self.cleared.push_back(Cleared {
                        key: key(&c.rule),
                        wave: s.wave,
                        raised: s.raised,
                        raised_at: s.at,
                        cleared: c.clone(),
                        cleared_at: ev.time,
                        acked_by: s.acked_by,
                    });
                    if self.cleared.len() > CLEARED_KEEP {
                        self.cleared.pop_front();
                    }
                }
            }
            Body::AlertAcked(a) => {
                if let Some(s) = self.standing.get_mut(&key(&a.rule)) {
                    s.acked_by = Some(a.by.clone());
                }
            }
            _ => return,
        }
        self.seq = ev.seq;
    }

    /// The standing alert `rule` about `db` (`None`: the factory), if it may be acknowledged,
    /// or why not: what the cockpit's dialog previews and the engine decides on.
    pub fn ackable(&self, rule: &str, db: Option<&str>) -> Result<&Standing, String> {
        let about = db.unwrap_or("the factory");
        let s = self
            .standing
            .get(&(rule.to_string(), db.map(str::to_string)))
            .ok_or_else(|| format!("no {rule} alert stands for {about} (cleared already?)"))?;
        match &s.acked_by {
            Some(by) => Err(format!(
                "the {rule} alert on {about} is acknowledged already, by {by}"
            )),
            None => Ok(s),
        }
    }

    /// Standing alerts nobody has acknowledged yet.
    pub fn unacked(&self) -> usize {
        self.standing
            .values()
            .filter(|s| s.acked_by.is_none())
            .count()
    }
}
