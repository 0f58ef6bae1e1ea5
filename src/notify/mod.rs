//! Notifications (`notify:`): webhooks told about alerts, cutovers and rollbacks.
//!
//! The store writes an outbox row per (event, target) in the transaction of the event itself
//! (`store/outbox.rs`, routed by [`route`]); the [`sender`] posts them with retries and marks
//! them sent. Delivery is at least once: a crash between a post and its mark posts again after
//! the restart, with the same `Idempotency-Key`, so a receiver that remembers keys applies each
//! notification exactly once. A notification refused for good (a 4xx) or failed
//! `max_attempts` times is given up ([`verdict`]): marked so in the outbox with an event
//! `notify.given_up` in one transaction, and the target's next notifications go out.

pub mod body;
pub mod config;
pub mod route;
pub mod sender;
pub mod verdict;

pub use config::{EventClass, Format, NotifyConfig, TargetConfig};
pub use sender::Sender;
