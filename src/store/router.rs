//! The notification router a store carries: which appended events are notifications, for
//! whom. A leaf below the store (db.rs holds the slot) and the outbox (outbox.rs fills and reads
//! it), so the two do not import each other for it.

use super::Event;
use std::sync::{Arc, RwLock};

/// The targets that want an event (empty: not a notification). Set by the engine from
/// `notify:` ([`Store::route_notifications`]); a store without one writes no outbox rows.
pub type Router = Arc<dyn Fn(&Event) -> Vec<String> + Send + Sync>;

/// The router shared by every clone of a store.
#[derive(Clone, Default)]
pub(crate) struct RouterSlot(pub(super) Arc<RwLock<Option<Router>>>);

impl std::fmt::Debug for RouterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.read().map(|r| r.is_some()).unwrap_or(false);
        write!(f, "RouterSlot({})", if set { "set" } else { "none" })
    }
}

impl RouterSlot {
    pub(super) fn get(&self) -> Option<Router> {
        self.0.read().ok().and_then(|r| r.clone())
    }
}
