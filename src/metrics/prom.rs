//! `/metrics` for Prometheus (`engine.metrics_listen`, off by default): the engine's figures in
//! the exposition format, by the `prometheus-client` crate.
//!
//! Labels stay bounded (README, "Metrics"): `stage` (14) and `wave` (the plan's waves) on the
//! database count, `call` (the DRS client's ~30 calls) on latency, `code` (at most 32 DRS
//! error codes, the rest as `other`) on errors, `step` (the engine's ~30 steps) on step
//! durations, `rule` (9) on alerts. Only the lag gauge carries `db_id`.

use crate::store::event::Body;
use crate::store::fold::{self, Derived};
use crate::store::Event;
use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

type L1 = [(&'static str, String); 1];
type L2 = [(&'static str, String); 2];
type FGauge = Gauge<f64, AtomicU64>;

type HFamily = Family<L1, Histogram, fn() -> Histogram>;

/// 5 ms to 41 s.
fn drs_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// 50 ms to 3.6 h.
fn step_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 18))
}

/// The engine's metrics and what they are computed from.
pub struct Metrics {
    registry: Registry,
    databases: Family<L2, Gauge>,
    lag: Family<L1, FGauge>,
    lag_hist: Histogram,
    drs_latency: HFamily,
    drs_errors: Family<L1, Counter>,
    step_duration: HFamily,
    validation_rows: Histogram,
    alerts: Family<L1, Gauge>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    derived: Derived,
    /// Open step intents: (db, step) -> when.
    intents: HashMap<(String, String), DateTime<Utc>>,
    /// Standing alerts: (rule, db).
    alerts: HashMap<(String, Option<String>), ()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("wavedeck");
        let databases = Family::<L2, Gauge>::default();
        registry.register(
            "databases",
            "Databases per stage and wave",
            databases.clone(),
        );
        let lag = Family::<L1, FGauge>::default();
        registry.register(
            "cdc_lag_seconds",
            "Latest CDC apply lag per database (the only metric with a db_id label)",
            lag.clone(),
        );
        let lag_hist = Histogram::new(exponential_buckets(0.5, 2.0, 14));
        registry.register(
            "cdc_lag_distribution_seconds",
            "CDC lag samples of every database",
            lag_hist.clone(),
        );
        let latency: HFamily = Family::new_with_constructor(drs_buckets);
        registry.register(
            "drs_request_duration_seconds",
            "DRS API request latency by call",
            latency.clone(),
        );
        let drs_errors = Family::<L1, Counter>::default();
        registry.register(
            "drs_errors",
            "DRS API errors by code (HTTP status, DRS/APIG code, timeout, transport)",
            drs_errors.clone(),
        );
        let step_duration: HFamily = Family::new_with_constructor(step_buckets);
        registry.register(
            "step_duration_seconds",
            "Engine step duration (intent to outcome) by step",
            step_duration.clone(),
        );
        let validation_rows = Histogram::new(exponential_buckets(1000.0, 2.0, 16));
        registry.register(
            "validation_rows_per_second",
            "Rows compared per second by each validation",
            validation_rows.clone(),
        );
        let alerts = Family::<L1, Gauge>::default();
        registry.register("alerts_active", "Alerts standing, by rule", alerts.clone());
        Metrics {
            registry,
            databases,
            lag,
            lag_hist,
            drs_latency: latency,
            drs_errors,
            step_duration,
            validation_rows,
            alerts,
            state: Mutex::new(State::default()),
        }
    }

    /// Take in the DRS client's calls from now on (latency by call, errors by code).
    pub fn watch_drs(self: &Arc<Self>, log: &crate::metrics::calls::CallLog) {
        let me = Arc::downgrade(self);
        log.observe_latency(Box::new(move |call, elapsed, code| {
            if let Some(m) = me.upgrade() {
                m.drs_latency
                    .get_or_create(&[("call", call.to_string())])
                    .observe(elapsed.as_secs_f64());
                if let Some(code) = code {
                    m.drs_errors
                        .get_or_create(&[("code", code.to_string())])
                        .inc();
                }
            }
        }));
    }

    /// Take in events as stored.
    pub fn observe(&self, events: &[Event]) {
        let bodies: Vec<Body> = events.iter().map(Event::body).collect();
        self.observe_read(events, &bodies)
    }

    /// [`Metrics::observe`] with each event's payload already read (`bodies[i]` is
    /// `events[i].body()`), for a caller that hands the same events to other readers.
    pub fn observe_read(&self, events: &[Event], bodies: &[Body]) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        for (ev, body) in events.iter().zip(bodies) {
            fold::apply_read(&mut st.derived, ev, body.clone());
            let db = ev.db_id.clone().unwrap_or_default();
            match body {
                Body::StepIntent(i) => {
                    st.intents.insert((db, i.step.clone()), ev.time);
                }
                Body::StepOutcome(o) => {
                    if let Some(t) = st.intents.remove(&(db, o.step.clone())) {
                        let s = (ev.time - t).as_seconds_f64().max(0.0);
                        self.step_duration
                            .get_or_create(&[("step", o.step.clone())])
                            .observe(s);
                    }
                }
                Body::Validation(r) => {
                    let rows: u64 = r
                        .validation()
                        .tables()
                        .into_iter()
                        .filter_map(|t| t.rows_source)
                        .sum();
                    let started = ["sql_validate", "compare"]
                        .iter()
                        .filter_map(|s| st.intents.get(&(db.clone(), s.to_string())))
                        .max()
                        .copied();
                    if let Some(t) = started {
                        let s = (ev.time - t).as_seconds_f64();
                        if s > 0.0 && rows > 0 {
                            self.validation_rows.observe(rows as f64 / s);
                        }
                    }
                }
                Body::AlertRaised(a) => {
                    st.alerts.insert((a.rule.clone(), ev.db_id.clone()), ());
                }
                Body::AlertCleared(a) => {
                    st.alerts.remove(&(a.rule.clone(), ev.db_id.clone()));
                }
                _ => {}
            }
        }
    }

    /// One lag sample (the engine takes more than it writes as events).
    pub fn lag_sample(&self, db: &str, lag_s: f64) {
        self.lag
            .get_or_create(&[("db_id", db.to_string())])
            .set(lag_s);
        self.lag_hist.observe(lag_s);
    }

    /// The exposition text, with the gauges that are counted from the state set now.
    pub fn encode(&self) -> String {
        if let Ok(st) = self.state.lock() {
            self.databases.clear();
            for d in st.derived.dbs.values() {
                let wave = d.wave.map_or_else(|| "none".to_string(), |w| w.to_string());
                self.databases
                    .get_or_create(&[("stage", d.stage.as_str().to_string()), ("wave", wave)])
                    .inc();
            }
            // A database that left the stages with a lag (cutover done) keeps no gauge.
            for d in st.derived.dbs.values() {
                if d.lag_s.is_none() {
                    self.lag.remove(&[("db_id", d.db_id.clone())]);
                }
            }
            self.alerts.clear();
            for k in crate::alerts::rules::RuleKind::ALL {
                let n = st.alerts.keys().filter(|(r, _)| r == k.name()).count();
                self.alerts
                    .get_or_create(&[("rule", k.name().to_string())])
                    .set(n as i64);
            }
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Serve `/metrics` on `listen` until the engine stops. Binding fails with the key's name.
pub async fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!(
            "engine.metrics_listen {listen:?}: cannot listen there: {e} (use HOST:PORT, e.g. 127.0.0.1:9464, or leave it empty)"
        )
    })?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let shutdown = async move {
            while stop.changed().await.is_ok() {
                if *stop.borrow() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok(addr)
}
