//! The sender: a task beside the engine that posts what the outbox holds due, retries with
//! exponential backoff, and marks each notification sent once its target answered 2xx, or
//! given up (with a `notify.given_up` event) once it refused it for good or failed
//! `notify.max_attempts` times. It
//! runs apart from the engine's loop, so a dead target costs the engine nothing; what it has
//! not marked when the process dies is posted again by the next engine, with the same
//! `Idempotency-Key`.

use super::body::{body, idempotency_key};
use super::config::{NotifyConfig, Resolved};
use super::route::Routes;
use super::verdict::{after_failure, Failure, Next};
use crate::engine::backoff::Backoff;
use crate::secret::redact;
use crate::store::event::{Body, NotifyGivenUp};
use crate::store::{Event, NewEvent, OutboxRow, Router, Store};
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
    max_attempts: u32,
}

/// Rows read from the outbox per round.
const PAGE: u32 = 500;

/// What a round leaves for the next one.
#[derive(Default)]
struct Round {
    /// When the first target now waiting for a retry may be posted to again.
    due: Option<chrono::DateTime<Utc>>,
    /// A row was posted (more may wait behind a full page).
    progressed: bool,
}

impl Round {
    fn due_at(&mut self, t: chrono::DateTime<Utc>) {
        self.due = Some(self.due.map_or(t, |d| d.min(t)));
    }
}

/// What one post came to.
enum Posted {
    Delivered,
    Failed(Failure),
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
            max_attempts: cfg.max_attempts,
        })
    }

    /// Route this store's appends to the targets, then post until `stop`.
    pub fn start(self, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        self.store.route_notifications(router(&self.targets));
        tokio::spawn(self.run(stop))
    }

    /// Rounds until `stop`. Between them it sleeps until the first of: an append that wrote
    /// outbox rows has committed (the store wakes it), the earliest retry is due, or
    /// `notify.poll_ms` has passed (the fallback, for rows it was not woken for).
    async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(targets = self.targets.len(), "notification sender started");
        let wake = self.store.outbox_waker();
        loop {
            if *stop.borrow() {
                break;
            }
            let mut wait = self.poll;
            match self.store.outbox_unsent(PAGE).await {
                Ok(rows) => {
                    let full = rows.len() == PAGE as usize;
                    let r = self.round(rows, &stop).await;
                    if full && r.progressed {
                        // More rows behind this page, and this one moved: go on at once.
                        wait = Duration::ZERO;
                    } else if let Some(due) = r.due {
                        let until = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                        wait = wait.min(until);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the notification outbox"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {},
                _ = wake.notified() => {},
                _ = stop.changed() => {},
            }
        }
        tracing::info!("notification sender stopped");
    }

    /// Post each target's unsent rows in event order, from its oldest: a target stops at its
    /// first row not yet due or failing, so it hears of a cutover's start before its end, and
    /// a dead target costs one timeout per round, not one per row. A row given up (refused
    /// for good, or out of attempts) no longer holds the target: its next row goes out.
    async fn round(&self, rows: Vec<OutboxRow>, stop: &watch::Receiver<bool>) -> Round {
        let mut waiting: BTreeSet<String> = BTreeSet::new();
        let mut r = Round::default();
        let now = Utc::now();
        for row in rows {
            if *stop.borrow() {
                return r;
            }
            if waiting.contains(&row.target) {
                continue;
            }
            if row.next_at > now {
                waiting.insert(row.target.clone());
                r.due_at(row.next_at);
                continue;
            }
            let Some(t) = self.targets.iter().find(|t| t.name == row.target) else {
                // Its target was removed from the config: kept for when it comes back.
                continue;
            };
            r.progressed = true;
            let attempts = row.attempts.saturating_add(1);
            let outcome = match self.event_of(&row).await {
                Ok(ev) => self.post(t, &ev).await.map(|o| (ev, o)),
                Err(e) => Err(e),
            };
            let (ev, outcome) = match outcome {
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
                Posted::Failed(f) => match after_failure(&f, attempts, self.max_attempts) {
                    Next::Retry => {
                        waiting.insert(t.name.clone());
                        let wait = self.backoff.delay(attempts, rand::random());
                        let next = Utc::now()
                            + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::seconds(60));
                        r.due_at(next);
                        let why = f.text();
                        tracing::warn!(seq = row.seq, target = %t.name, attempts, error = %why, retry_in_s = wait.as_secs_f64(), "notification not delivered; will retry");
                        self.store
                            .outbox_failed(row.seq, &t.name, attempts, next, &why)
                            .await
                    }
                    // The target's next notification goes out in this same round.
                    Next::GiveUp(reason) => {
                        tracing::warn!(seq = row.seq, target = %t.name, attempts, reason = %reason, "notification given up");
                        let event = given_up(&ev, &t.name, attempts, &reason);
                        self.store
                            .outbox_give_up(row.seq, &t.name, attempts, &reason, event)
                            .await
                            .map(|_| ())
                    }
                },
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, seq = row.seq, target = %t.name, "cannot record a notification's outcome");
            }
        }
        r
    }

    /// The stored event a row is about.
    async fn event_of(&self, row: &OutboxRow) -> anyhow::Result<Event> {
        self.store
            .events_after(row.seq - 1, 1)
            .await?
            .into_iter()
            .find(|e| e.seq == row.seq)
            .ok_or_else(|| anyhow::anyhow!("event {} is not in the store", row.seq))
    }

    async fn post(&self, t: &Resolved, ev: &Event) -> anyhow::Result<Posted> {
        let mut req = self
            .http
            .post(t.url.expose())
            .header("Idempotency-Key", idempotency_key(ev.seq, &t.name))
            .json(&body(ev, &t.name, t.format));
        if let Some(tok) = &t.token {
            req = req.bearer_auth(tok.expose());
        }
        let secrets: Vec<&crate::secret::Secret> =
            std::iter::once(&t.url).chain(&t.token).collect();
        Ok(match req.send().await {
            Ok(r) if r.status().is_success() => Posted::Delivered,
            Ok(r) => Posted::Failed(Failure::Status(r.status().as_u16())),
            Err(e) => Posted::Failed(Failure::Transport(redact(&transport_error(e), &secrets))),
        })
    }
}

/// The `notify.given_up` event of `ev`'s notification to `target`: about the same database
/// and wave, so the database's evidence and Events view show it.
fn given_up(ev: &Event, target: &str, attempts: u32, reason: &str) -> NewEvent {
    NewEvent::of(
        ev.db_id.as_deref(),
        ev.wave,
        Body::NotifyGivenUp(NotifyGivenUp {
            target: target.to_string(),
            about_seq: ev.seq,
            about: ev.kind.clone(),
            attempts,
            reason: reason.to_string(),
        }),
        crate::engine::brain::ACTOR,
    )
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
