//! The sender: a task beside the engine that posts what the outbox holds due, retries with
//! exponential backoff, and marks each notification sent once its target answered 2xx. It
//! runs apart from the engine's loop, so a dead target costs the engine nothing; what it has
//! not marked when the process dies is posted again by the next engine, with the same
//! `Idempotency-Key`.

use super::body::{body, idempotency_key};
use super::config::{NotifyConfig, Resolved};
use super::route::Routes;
use crate::engine::backoff::Backoff;
use crate::secret::redact;
use crate::store::{OutboxRow, Router, Store};
use chrono::Utc;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The store's router for these targets.
pub fn router(targets: &[Resolved]) -> Router {
    let routes = Routes(
        targets
            .iter()
            .map(|t| (t.name.clone(), t.events.clone()))
            .collect(),
    );
    Arc::new(move |e| routes.targets_for(e))
}

/// Posts the outbox of one store.
pub struct Sender {
    store: Store,
    targets: Vec<Resolved>,
    http: reqwest::Client,
    backoff: Backoff,
    poll: Duration,
}

/// What one post came to.
enum Posted {
    Delivered,
    Failed(String),
}

impl Sender {
    /// Read every target's URL and token (an error names the target and the key to fix).
    pub fn new(cfg: &NotifyConfig, store: Store) -> anyhow::Result<Sender> {
        let targets = cfg.resolve()?;
        let secs = |v: f64, dflt: f64| {
            Duration::from_secs_f64(if v.is_finite() && v > 0.0 { v } else { dflt })
        };
        let http = reqwest::Client::builder()
            .timeout(secs(cfg.timeout_s, 5.0))
            // A webhook that redirects elsewhere is refused rather than followed with the body.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Sender {
            store,
            targets,
            http,
            backoff: Backoff::new(
                secs(cfg.retry_base_s, 2.0),
                secs(cfg.retry_cap_s, 300.0),
                u32::MAX,
            ),
            poll: Duration::from_millis(cfg.poll_ms.clamp(10, 60_000)),
        })
    }

    /// Route this store's appends to the targets, then post until `stop`.
    pub fn start(self, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        self.store.route_notifications(router(&self.targets));
        tokio::spawn(self.run(stop))
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(targets = self.targets.len(), "notification sender started");
        loop {
            if *stop.borrow() {
                break;
            }
            match self.store.outbox_unsent(500).await {
                Ok(rows) => self.round(rows, &stop).await,
                Err(e) => tracing::warn!(error = %e, "cannot read the notification outbox"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {},
                _ = stop.changed() => {},
            }
        }
        tracing::info!("notification sender stopped");
    }

    /// Post each target's unsent rows in event order, from its oldest: a target stops at its
    /// first row not yet due or failing, so it hears of a cutover's start before its end, and
    /// a dead target costs one timeout per round, not one per row.
    async fn round(&self, rows: Vec<OutboxRow>, stop: &watch::Receiver<bool>) {
        let mut waiting: BTreeSet<String> = BTreeSet::new();
        let now = Utc::now();
        for row in rows {
            if *stop.borrow() {
                return;
            }
            if waiting.contains(&row.target) {
                continue;
            }
            if row.next_at > now {
                waiting.insert(row.target.clone());
                continue;
            }
            let Some(t) = self.targets.iter().find(|t| t.name == row.target) else {
                // Its target was removed from the config: kept for when it comes back.
                continue;
            };
            let attempts = row.attempts.saturating_add(1);
            let outcome = match self.post(t, &row).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(error = %e, seq = row.seq, target = %t.name, "cannot prepare a notification");
                    continue;
                }
            };
            let result = match outcome {
                Posted::Delivered => {
                    tracing::info!(seq = row.seq, target = %t.name, attempts, "notification delivered");
                    self.store
                        .outbox_sent(row.seq, &t.name, attempts)
                        .await
                        .map(|_| ())
                }
                Posted::Failed(why) => {
                    waiting.insert(t.name.clone());
                    let wait = self.backoff.delay(attempts, rand::random());
                    let next = Utc::now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
                    tracing::warn!(seq = row.seq, target = %t.name, attempts, error = %why, retry_in_s = wait.as_secs_f64(), "notification not delivered; will retry");
                    self.store
                        .outbox_failed(row.seq, &t.name, attempts, next, &why)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, seq = row.seq, target = %t.name, "cannot record a notification's outcome");
            }
        }
    }

    async fn post(&self, t: &Resolved, row: &OutboxRow) -> anyhow::Result<Posted> {
        let ev = self
            .store
            .events_after(row.seq - 1, 1)
            .await?
            .into_iter()
            .find(|e| e.seq == row.seq)
            .ok_or_else(|| anyhow::anyhow!("event {} is not in the store", row.seq))?;
        let mut req = self
            .http
            .post(t.url.expose())
            .header("Idempotency-Key", idempotency_key(row.seq, &t.name))
            .json(&body(&ev, &t.name, t.format));
        if let Some(tok) = &t.token {
            req = req.bearer_auth(tok.expose());
        }
        let secrets: Vec<&crate::secret::Secret> =
            std::iter::once(&t.url).chain(&t.token).collect();
        Ok(match req.send().await {
            Ok(r) if r.status().is_success() => Posted::Delivered,
            Ok(r) => Posted::Failed(format!("HTTP {}", r.status())),
            Err(e) => Posted::Failed(redact(&transport_error(e), &secrets)),
        })
    }
}

/// A transport error with its causes ("error sending request: client error (Connect): tcp
/// connect error: Connection refused"), without the URL reqwest would name (it may hold the
/// token).
fn transport_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
