//! The notification router a store carries: which appended events are notifications, for
//! whom. A leaf below the store (db.rs holds the slot) and the outbox (outbox.rs fills and reads
//! it), so the two do not import each other for it.

use super::Event;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// The targets that want an event (empty: not a notification). Set by the engine from
/// `notify:` ([`Store::route_notifications`]); a store without one writes no outbox rows.
pub type Router = Arc<dyn Fn(&Event) -> Vec<String> + Send + Sync>;

/// The router shared by every clone of a store, and the sender's wake-up: a transaction that
/// wrote outbox rows wakes it once committed (not before: it would find nothing yet).
#[derive(Clone, Default)]
pub(crate) struct RouterSlot {
    router: Arc<RwLock<Option<Router>>>,
    /// Outbox rows written by the transaction under way (appends are one at a time: each
    /// holds the store's state cache until it commits).
    written: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for RouterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.router.read().map(|r| r.is_some()).unwrap_or(false);
        write!(f, "RouterSlot({})", if set { "set" } else { "none" })
    }
}

impl RouterSlot {
    pub(super) fn get(&self) -> Option<Router> {
        self.router.read().ok().and_then(|r| r.clone())
    }

    pub(super) fn set(&self, router: Router) {
        if let Ok(mut slot) = self.router.write() {
            *slot = Some(router);
        }
    }

    pub(super) fn wrote_rows(&self) {
        self.written.store(true, Ordering::SeqCst);
    }

    /// After the commit of a transaction that appended events: wake the sender if it wrote
    /// outbox rows (a wake-up with nobody waiting is kept for the sender's next wait).
    pub(super) fn committed(&self) {
        if self.written.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    pub(super) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
