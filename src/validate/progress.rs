//! Progress of the attempt running now, written to the store as its chunks finish (at most
//! once a second, and at the start and the end) for the cockpit to show: see
//! `store::val_progress`. A store that fails to take it costs the screen its figures, never
//! the validation: the failure is logged and the run goes on.

use super::pace::Pace;
use crate::store::val_progress::{Limit, TableProgress};
use crate::store::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes closer together than this would cost the store more than the screen gains.
const EVERY: Duration = Duration::from_secs(1);

pub struct Recorder {
    store: Store,
    db_id: String,
    mode: &'static str,
    started: Instant,
    /// The sides' paces under `validation.max_rows_per_s` (none without a limit).
    paces: Vec<Arc<Pace>>,
    state: Mutex<State>,
    /// One write at a time, so an older picture never lands after a newer one.
    writing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    tables: Vec<Table>,
    last: Option<Instant>,
}

#[derive(Clone, Default)]
struct Table {
    name: String,
    est: u64,
    done: u64,
    read: u64,
    first: Option<Duration>,
    last: Duration,
}

impl Recorder {
    pub fn new(store: &Store, db_id: &str, mode: &'static str) -> Recorder {
        Recorder {
            store: store.clone(),
            db_id: db_id.to_string(),
            mode,
            started: Instant::now(),
            paces: Vec::new(),
            state: Mutex::new(State::default()),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// The paces the sides' reads take their rows from: the figures say how they hold back.
    pub fn with_paces(mut self, paces: impl IntoIterator<Item = Option<Arc<Pace>>>) -> Recorder {
        self.paces = paces.into_iter().flatten().collect();
        self
    }

    /// The limit, and the wait share of the side it holds back most.
    fn limit(&self) -> Option<Limit> {
        Some(Limit {
            rows_per_s: self.paces.first()?.rows_per_s(),
            waiting: self.paces.iter().map(|p| p.waiting()).fold(0.0, f64::max),
        })
    }

    /// The tables this attempt compares: name, rows estimated, rows already done (kept chunks
    /// of an earlier attempt). Replaces what an earlier attempt wrote.
    pub async fn begin(&self, tables: Vec<(String, u64, u64)>) {
        if let Ok(mut s) = self.state.lock() {
            s.tables = tables
                .into_iter()
                .map(|(name, est, done)| Table {
                    name,
                    est,
                    done,
                    ..Default::default()
                })
                .collect();
        }
        if let Err(e) = self
            .store
            .clear_validation_progress(&self.db_id, self.mode)
            .await
        {
            tracing::warn!(db_id = %self.db_id, error = %e, "cannot clear validation progress");
        }
        self.write(false).await;
    }

    /// A chunk of table `ti` starts being read.
    pub fn started(&self, ti: usize) {
        let at = self.started.elapsed();
        if let Ok(mut s) = self.state.lock() {
            if let Some(t) = s.tables.get_mut(ti) {
                t.first.get_or_insert(at);
            }
        }
    }

    /// A chunk of table `ti` of `rows` rows is done; written when a second has passed.
    pub async fn done(&self, ti: usize, rows: u64) {
        let at = self.started.elapsed();
        let due = match self.state.lock() {
            Ok(mut s) => {
                if let Some(t) = s.tables.get_mut(ti) {
                    t.done += rows;
                    t.read += rows;
                    t.last = at;
                }
                s.last.is_none_or(|l| l.elapsed() >= EVERY)
            }
            Err(_) => false,
        };
        if due {
            self.write(false).await;
        }
    }

    /// The attempt's chunks are all compared.
    pub async fn finish(&self) {
        self.write(true).await;
    }

    async fn write(&self, finished: bool) {
        let _one = self.writing.lock().await;
        let run_ms = self.started.elapsed().as_millis() as u64;
        let limit = self.limit();
        let limited_ms = self.paces.iter().map(|p| p.waited()).max();
        let limited_ms = limited_ms.map_or(0, |d| d.as_millis() as u64);
        let now = chrono::Utc::now();
        let rows: Vec<TableProgress> = match self.state.lock() {
            Ok(mut s) => {
                s.last = Some(Instant::now());
                s.tables
                    .iter()
                    .map(|t| TableProgress {
                        db_id: self.db_id.clone(),
                        table: t.name.clone(),
                        rows_est: t.est,
                        rows_done: t.done,
                        rows_read: t.read,
                        read_ms: t
                            .first
                            .map(|f| t.last.saturating_sub(f).as_millis() as u64)
                            .unwrap_or(0),
                        run_ms,
                        limited_ms,
                        limit: limit.clone(),
                        finished,
                        updated_at: now,
                    })
                    .collect()
            }
            Err(_) => return,
        };
        if let Err(e) = self.store.put_validation_progress(self.mode, &rows).await {
            tracing::warn!(db_id = %self.db_id, error = %e, "cannot keep validation progress");
        }
    }
}
