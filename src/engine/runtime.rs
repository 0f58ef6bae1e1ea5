//! The driver: the tokio task that owns the brain, talks to the store, DRS and the checks, and
//! is the only writer of events.
//!
//! One loop, one writer: each round it decides pending commands, asks the brain for the next
//! works and looks, appends the intents *before* starting the works, runs works as tasks and
//! looks as batched DRS calls, and appends their outcomes in one transaction per round.

use super::brain::{
    Brain, EffectStep, Look, LookKind, Plan, Report, Seed, Seen, Settings, WaveSeed, Work,
    WorkResult,
};
use super::effects::ctx::{done, fail_of, fatal, recovered, Shared};
use super::stats::Stats;
use crate::config::Config;
use crate::drs::model::{JobId, JobStatus};
use crate::drs::{DrsClient, DrsError};
use crate::inventory::model::Engine;
use crate::inventory::DatabaseSpec;
use crate::store::event::Body;
use crate::store::{Decision, Event, Store};
use anyhow::Context;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// The engine running in the background.
pub struct EngineHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub stats: Arc<Stats>,
    pub holder: String,
    /// Where `/metrics` is served (`engine.metrics_listen`), once bound.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The notification sender (`notify.targets`), stopped with the engine.
    notify: Option<tokio::task::JoinHandle<()>>,
}

impl EngineHandle {
    /// Ask the engine to stop, let in-flight steps finish (a few seconds at most), record their
    /// outcomes, release the lease. Returns the engine's error if it stopped on one.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.join().await
    }

    /// The engine's result once its task ended, after the sender (told to stop) has ended too.
    async fn join(self) -> anyhow::Result<()> {
        let r = self.task.await;
        let _ = self.stop.send(true);
        if let Some(n) = self.notify {
            let _ = n.await;
        }
        match r {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the engine task ended abnormally: {e}")),
        }
    }

    /// True once the engine stopped by itself (lost lease, store unreachable).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Wait until the engine stops by itself, returning its error if any.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.join().await
    }
}

/// Start the engine on `store`, talking to DRS (or the emulator) through `drs`.
///
/// Takes the store's engine lease first: if another engine holds it, this fails with who holds
/// it (the caller then attaches as a cockpit only).
pub async fn spawn(cfg: Config, store: Store, drs: DrsClient) -> anyhow::Result<EngineHandle> {
    let holder = format!(
        "{}:{}:{:08x}",
        hostname(),
        std::process::id(),
        rand::random::<u32>()
    );
    let ttl = Duration::from_secs(cfg.engine.lease_ttl_s.max(1));
    // Targets first: a URL that cannot be read stops the start before the lease is taken.
    let sender = if cfg.notify.targets.is_empty() {
        None
    } else {
        Some(crate::notify::Sender::new(&cfg.notify, store.clone())?)
    };
    // A lease still in the store when this engine takes it was never released: its holder
    // lost it (kill -9, a stall beyond the TTL), which the `lease_lost` alert reports.
    let before = store.lease_left().await.ok().flatten().map(|l| l.holder);
    if !store.try_acquire_lease(&holder, ttl).await?
        && !take_over_dead(&store, &holder, ttl).await?
    {
        let who = store
            .lease_holder()
            .await
            .ok()
            .flatten()
            .map(|l| {
                format!(
                    "{} (until {})",
                    l.holder,
                    l.expires_at.format("%H:%M:%S UTC")
                )
            })
            .unwrap_or_else(|| "another engine".into());
        anyhow::bail!("{who} already runs the engine on this store; attach a cockpit instead");
    }
    let stats = Arc::new(Stats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let lost = before.filter(|b| *b != holder);
    let listen = cfg.engine.metrics_listen.trim().to_string();
    let mut engine =
        match Driver::load(cfg, store.clone(), drs, holder.clone(), stats.clone(), lost).await {
            Ok(e) => e,
            Err(e) => {
                let _ = store.release_lease(&holder).await;
                return Err(e);
            }
        };
    let loaded = std::mem::take(&mut engine.loaded);
    let mut metrics_addr = None;
    if !listen.is_empty() {
        let m = Arc::new(crate::metrics::prom::Metrics::new());
        m.watch_drs(engine.shared.drs.call_log());
        m.observe(&loaded);
        match crate::metrics::prom::serve(&listen, m.clone(), stop_rx.clone()).await {
            Ok(a) => metrics_addr = Some(a),
            Err(e) => {
                let _ = store.release_lease(&holder).await;
                return Err(e);
            }
        }
        tracing::info!(addr = ?metrics_addr, "metrics served at /metrics");
        engine.metrics = Some(m);
    }
    drop(loaded);
    // Routed before the engine's first append, so no notification of this run goes unwritten.
    let notify = sender.map(|s| s.start(stop_rx.clone()));
    let task = tokio::spawn(engine.run(stop_rx));
    Ok(EngineHandle {
        stop: stop_tx,
        task,
        stats,
        holder,
        metrics_addr,
        notify,
    })
}

/// An engine of this host whose process is gone (kill -9, crash) cannot renew its lease:
/// take it over at once instead of waiting out the TTL. A holder on another host, or a live
/// process, keeps the lease until it expires.
async fn take_over_dead(store: &Store, holder: &str, ttl: Duration) -> anyhow::Result<bool> {
    let Some(current) = store.lease_holder().await? else {
        return Ok(false);
    };
    let here = hostname();
    if !crate::store::lease::predecessor_gone(&current.holder, &here, process_alive) {
        return Ok(false);
    }
    let taken = store.take_over_lease(&current.holder, holder, ttl).await?;
    if taken {
        tracing::warn!(dead = %current.holder, holder = %holder, "took over the engine lease of a process that is gone");
    }
    Ok(taken)
}

/// Whether a process with this pid exists (signal 0 checks without sending anything).
/// The store's decision on a command from the brain's verdict, with the guards behind a
/// refusal.
pub fn decision_of(
    verdict: &Result<String, super::brain::Refusal>,
) -> (Decision, Vec<crate::store::event::GuardLine>) {
    match verdict {
        Ok(note) => (Decision::AcceptedWith(note.clone()), Vec::new()),
        Err(why) => (Decision::Rejected(why.reason.clone()), why.guards.clone()),
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for the process; EPERM means it exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// What comes back from the tasks.
enum Msg {
    Work(Work, WorkResult),
    Seen(String, LookKind, Seen),
    /// A restore test's step returned: its outcome event.
    Restore(crate::store::NewEvent),
}

struct Driver {
    brain: Brain,
    store: Store,
    shared: Arc<Shared>,
    holder: String,
    stats: Arc<Stats>,
    started: Instant,
    in_flight: usize,
    /// Alert rules (`alerts.enabled`), fed with what the engine stores.
    alerts: Option<crate::alerts::Alerter>,
    /// The `/metrics` figures (`engine.metrics_listen`), fed the same way.
    metrics: Option<Arc<crate::metrics::prom::Metrics>>,
    /// The event log read at load, kept until the metrics have seen it.
    loaded: Vec<Event>,
    /// Restore tests (src/restore): their commands, schedule and steps.
    restore: crate::restore::tester::Tester,
    /// RDS for them, or why there is none (each step then fails with these words).
    rds: Result<Arc<crate::restore::rds::Rds>, String>,
    /// Outcomes of restore steps, appended at the next flush.
    restore_out: Vec<crate::store::NewEvent>,
}

/// Read every event once, in pages.
async fn all_events(store: &Store) -> anyhow::Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        out.extend(page);
    }
    Ok(out)
}

impl Driver {
    async fn load(
        cfg: Config,
        store: Store,
        drs: DrsClient,
        holder: String,
        stats: Arc<Stats>,
        lease_lost_by: Option<String>,
    ) -> anyhow::Result<Driver> {
        let states = store.db_states().await.context("read database states")?;
        let specs: HashMap<String, DatabaseSpec> = store
            .db_specs()
            .await
            .context("read database specs")?
            .into_iter()
            .map(|s| (s.db_id.clone(), s))
            .collect();
        let waves = store.wave_states().await.context("read wave states")?;
        let events = all_events(&store).await.context("read the event log")?;
        let seeds = states
            .into_iter()
            .map(|s| {
                let spec = specs.get(&s.db_id);
                Seed::from_state(s, spec)
            })
            .collect();
        let waves = waves.into_iter().map(WaveSeed::from_state).collect();
        let mut brain = Brain::new(Settings::from_config(&cfg), rand::random());
        brain.load(seeds, waves, &events);
        let mut alerts = crate::alerts::Alerter::new(&cfg, Utc::now());
        if let Some(a) = &mut alerts {
            a.load(&events);
            if let Some(prev) = &lease_lost_by {
                a.lease_taken_over(prev);
            }
        }
        let mut restore = crate::restore::tester::Tester::new(cfg.restore_test.every_days);
        restore.load(&events);
        let rds = crate::cloud::CloudClient::from_config(&cfg)
            .map(|c| Arc::new(crate::restore::rds::Rds(c)))
            .map_err(|e| e.to_string());
        tracing::info!(
            databases = brain.db_count(),
            events = events.len(),
            holder = %holder,
            "engine loaded the store"
        );
        Ok(Driver {
            brain,
            store: store.clone(),
            shared: Arc::new(Shared {
                calls: Semaphore::new(16),
                dns: crate::cutover::dns_provider::Dns::from_config(&cfg).map(Arc::new),
                stall_at: std::env::var(super::effects::FAULT_STALL_ENV)
                    .ok()
                    .filter(|s| !s.is_empty()),
                step_delay: std::env::var("WAVEDECK_ENGINE_STEP_DELAY_MS")
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis),
                cfg,
                drs,
                specs,
                store: store.clone(),
            }),
            holder,
            stats,
            started: Instant::now(),
            in_flight: 0,
            alerts,
            metrics: None,
            loaded: events,
            restore,
            rds,
            restore_out: Vec::new(),
        })
    }

    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        let cfg = &self.shared.cfg;
        let ttl = Duration::from_secs(cfg.engine.lease_ttl_s.max(1));
        let renew_every = ttl.as_secs_f64() / 3.0;
        let scale = if cfg.engine.time_scale.is_finite() && cfg.engine.time_scale > 0.0 {
            cfg.engine.time_scale
        } else {
            1.0
        };
        let tick = Duration::from_secs_f64((0.5 / scale).clamp(0.01, 0.25));
        let mut next_renew = 0.0;
        let mut next_commands = 0.0;
        let mut next_tick = 0.0;
        let result: anyhow::Result<()> = async {
            loop {
                if *stop.borrow() {
                    break;
                }
                let now = self.now();
                if now >= next_renew {
                    if !self.store.renew_lease(&self.holder, ttl).await? {
                        anyhow::bail!(
                            "the engine lease was taken over by another engine (this one stalled longer than engine.lease_ttl_s = {} s); stopping",
                            ttl.as_secs()
                        );
                    }
                    next_renew = now + renew_every;
                }
                if now >= next_commands {
                    self.commands().await?;
                    next_commands = now + 0.25;
                }
                // Results wake the loop often; the brain's round runs at most once per tick.
                if now >= next_tick {
                    next_tick = now + tick.as_secs_f64();
                    let plan = self.measure(|b, now, wall| b.tick(now, wall));
                    let (intents, restores) = self.restore.tick(Utc::now());
                    self.restore_out.extend(intents);
                    self.flush(true).await?;
                    self.launch(plan, &tx);
                    self.launch_restores(restores, &tx);
                }
                // Wait for a result or the next tick, then take every result already there.
                tokio::select! {
                    msg = rx.recv() => if let Some(m) = msg { self.on_msg(m) },
                    _ = tokio::time::sleep(tick) => {},
                    _ = stop.changed() => {},
                }
                // Outcomes wait for the next tick's flush (one transaction, one fsync, per
                // tick instead of per wake-up): an outcome lost to a crash in between leaves
                // its intent open, and the next engine asks the world (resumed mode).
                while let Ok(m) = rx.try_recv() {
                    self.on_msg(m);
                }
            }
            // Let in-flight steps finish so their outcomes are recorded; what does not finish
            // in time stays an open intent, resumed by the next engine.
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.in_flight > 0 && Instant::now() < deadline {
                match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                    Ok(Some(m)) => self.on_msg(m),
                    _ => break,
                }
            }
            self.flush(false).await?;
            Ok(())
        }
        .await;
        if let Err(e) = &result {
            tracing::error!(error = %format!("{e:#}"), "engine stopped on an error");
        }
        if let Err(e) = self.store.release_lease(&self.holder).await {
            tracing::warn!(error = %e, "could not release the engine lease; it expires by itself");
        }
        tracing::info!("engine stopped");
        result
    }

    /// Run a brain call, counting its CPU time.
    fn measure<T>(&mut self, f: impl FnOnce(&mut Brain, f64, chrono::DateTime<Utc>) -> T) -> T {
        let t0 = super::stats::thread_cpu();
        let now = self.now();
        let out = f(&mut self.brain, now, Utc::now());
        self.stats
            .add_cpu(super::stats::thread_cpu().saturating_sub(t0));
        out
    }

    fn on_msg(&mut self, m: Msg) {
        match m {
            Msg::Work(w, r) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.measure(|b, now, wall| b.on_work(&w, r, now, wall));
            }
            Msg::Seen(db, k, s) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.measure(|b, now, wall| b.on_seen(&db, k, s, now, wall));
            }
            Msg::Restore(e) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.restore_out.push(e);
            }
        }
    }

    /// Store what the brain wrote and the lag samples; with `evaluate` (the tick's flush:
    /// at most once a tick), the alert rules too when they are due.
    async fn flush(&mut self, evaluate: bool) -> anyhow::Result<()> {
        let mut events = self.brain.take_events();
        events.append(&mut self.restore_out);
        let t = Utc::now();
        let lags: Vec<_> = self
            .brain
            .take_lag_samples()
            .into_iter()
            .map(|(d, l)| (d, t, l))
            .collect();
        if let Some(m) = &self.metrics {
            for (db, _, l) in &lags {
                m.lag_sample(db, *l);
            }
        }
        if let Some(a) = &mut self.alerts {
            let t0 = super::stats::thread_cpu();
            a.lag_samples(&lags);
            if evaluate && a.due(t) {
                let log = self.shared.drs.call_log();
                events.extend(a.evaluate(t, log.errors(), log.throttled()));
            }
            self.stats
                .add_cpu(super::stats::thread_cpu().saturating_sub(t0));
        }
        if !events.is_empty() || !lags.is_empty() {
            let stored = self
                .store
                .append_with_lags(&events, &lags)
                .await
                .context("append engine events and lag samples")?;
            self.stats.add_events(events.len());
            self.observe(&stored);
        }
        Ok(())
    }

    /// Let the alert rules see what was stored.
    fn observe(&mut self, stored: &[Event]) {
        self.restore.observe(stored);
        self.brain.observe_restore(stored);
        if self.alerts.is_none() && self.metrics.is_none() {
            return;
        }
        let t0 = super::stats::thread_cpu();
        // Each payload read once for both readers.
        let bodies: Vec<Body> = stored.iter().map(Event::body).collect();
        if let Some(a) = &mut self.alerts {
            a.observe_read(stored, &bodies);
        }
        if let Some(m) = &self.metrics {
            m.observe_read(stored, &bodies);
        }
        self.stats
            .add_cpu(super::stats::thread_cpu().saturating_sub(t0));
    }

    /// Decide pending commands: accept or reject each, with the events it causes, in one
    /// transaction per command.
    async fn commands(&mut self) -> anyhow::Result<()> {
        self.flush(false).await?;
        let poisoned = self
            .store
            .reject_malformed_commands("engine")
            .await
            .context("reject malformed commands")?;
        self.stats.add_events(poisoned.len());
        let pending = self
            .store
            .pending_commands()
            .await
            .context("read commands")?;
        for c in pending {
            // Acknowledging an alert is the alert rules' business; every other command the brain's.
            let (verdict, with) =
                if c.action == crate::store::Action::AckAlert {
                    match &self.alerts {
                    Some(a) => match a.ack(&c) {
                        Ok((said, ev)) => (Ok(said), vec![ev]),
                        Err(why) => (Err(why.into()), vec![]),
                    },
                    None => (
                        Err("alert rules are off (alerts.enabled: false): nothing to acknowledge"
                            .to_string()
                            .into()),
                        vec![],
                    ),
                }
                } else if c.action == crate::store::Action::RestoreTest {
                    // The restore tests' business too; the run's first intent goes with the verdict.
                    match self.restore.decide(&c) {
                        Ok((said, evs)) => (Ok(said), evs),
                        Err(why) => (Err(why.into()), vec![]),
                    }
                } else {
                    let verdict = self.measure(|b, _, wall| b.on_command(&c, wall));
                    (verdict, self.brain.take_events())
                };
            let (decision, guards) = decision_of(&verdict);
            tracing::info!(command = c.id, action = c.action.as_str(), who = %c.who, verdict = ?verdict, "command decided");
            let n = with.len() + 1;
            let stored = self
                .store
                .decide_command_with_guards(c.id, &decision, &guards, "engine", &with)
                .await
                .context("record command decision")?;
            self.stats.add_events(n);
            if let Some((_, evs)) = stored {
                self.observe(&evs);
            }
        }
        Ok(())
    }

    /// Run restore-test steps; each sends its outcome back as an event to append.
    fn launch_restores(
        &mut self,
        works: Vec<crate::restore::tester::RestoreWork>,
        tx: &mpsc::UnboundedSender<Msg>,
    ) {
        let cfg = &self.shared.cfg.restore_test;
        let knobs = crate::restore::run::Knobs {
            poll: Duration::from_secs(cfg.poll_s.max(1)),
            timeout: Duration::from_secs(cfg.timeout_min.max(1) * 60),
            copy_named_after_instance: cfg.copy_named_after_instance,
        };
        for mut w in works {
            self.in_flight += 1;
            let (shared, tx, rds, knobs) = (
                self.shared.clone(),
                tx.clone(),
                self.rds.clone(),
                knobs.clone(),
            );
            tokio::spawn(async move {
                let o = match (&rds, shared.specs.get(&w.db)) {
                    (Ok(rds), Some(spec)) => {
                        Box::pin(crate::restore::run::run_step(
                            rds.as_ref(),
                            spec,
                            &mut w,
                            &knobs,
                        ))
                        .await
                    }
                    (Err(why), _) => crate::restore::run::failed(&w, format!("RDS: {why}")),
                    (_, None) => crate::restore::run::failed(
                        &w,
                        "the database is not in the store's inventory (run wavedeck init again)"
                            .into(),
                    ),
                };
                tracing::info!(db = %w.db, step = w.step.as_str(), ok = o.ok, "restore test step done");
                let _ = tx.send(Msg::Restore(w.outcome(o)));
            });
        }
    }

    fn launch(&mut self, plan: Plan, tx: &mpsc::UnboundedSender<Msg>) {
        let Plan { works, looks } = plan;
        for batch in super::effects::drs_jobs::group(works) {
            self.in_flight += batch.len();
            let shared = self.shared.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let step = batch[0].step;
                // The step's future (~10 KB: every DRS call it may make) is boxed once it
                // may run, so thousands of works queued for a slot stay small.
                let results = if matches!(step, EffectStep::Cut(_) | EffectStep::Undo(_)) {
                    // Database work, no DRS call: a long drain or final sync must not hold
                    // one of the DRS request slots.
                    vec![Box::pin(run_work(&shared, &batch[0])).await]
                } else {
                    let _permit = shared.calls.acquire().await;
                    if super::effects::drs_jobs::batchable(&batch[0]) {
                        Box::pin(super::effects::drs_jobs::run(&shared, &batch)).await
                    } else {
                        vec![Box::pin(run_work(&shared, &batch[0])).await]
                    }
                };
                if results.iter().any(|r| matches!(r, WorkResult::Ok { .. }))
                    && shared.stall_at.as_deref() == Some(step.as_str())
                {
                    eprintln!("stalled at {}", step.as_str());
                    std::future::pending::<()>().await;
                }
                if let Some(d) = shared.step_delay {
                    tokio::time::sleep(d).await;
                }
                for (w, r) in batch.into_iter().zip(results) {
                    let _ = tx.send(Msg::Work(w, r));
                }
            });
        }
        let mut prechecks: Vec<Look> = Vec::new();
        let mut jobs: Vec<Look> = Vec::new();
        for l in looks {
            self.in_flight += 1;
            match l.kind {
                LookKind::Job => jobs.push(l),
                LookKind::Precheck => prechecks.push(l),
                LookKind::Compare => {
                    let shared = self.shared.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let s = {
                            let _permit = shared.calls.acquire().await;
                            Box::pin(compare_look(&shared, &l)).await
                        };
                        let _ = tx.send(Msg::Seen(l.db, l.kind, s));
                    });
                }
            }
        }
        for chunk in prechecks.chunks(crate::drs::client::BATCH_MAX) {
            let (shared, tx, chunk) = (self.shared.clone(), tx.clone(), chunk.to_vec());
            tokio::spawn(async move {
                let seen = {
                    let _permit = shared.calls.acquire().await;
                    Box::pin(super::effects::drs_jobs::precheck_looks(&shared, &chunk)).await
                };
                for (l, s) in chunk.into_iter().zip(seen) {
                    let _ = tx.send(Msg::Seen(l.db, LookKind::Precheck, s));
                }
            });
        }
        if !jobs.is_empty() {
            // One polling round for every job look due now (see poll_plan::plan_round).
            let shared = self.shared.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let looks: Vec<(Look, Engine)> = jobs
                    .into_iter()
                    .map(|l| {
                        let engine = shared
                            .specs
                            .get(&l.db)
                            .map_or(Engine::Postgres, |s| s.engine);
                        (l, engine)
                    })
                    .collect();
                let budget = shared.cfg.engine.poll.progress_calls_per_round as usize;
                let seen = super::effects::poll_round::round(&shared.drs, &looks, budget).await;
                for ((l, _), s) in looks.into_iter().zip(seen) {
                    let _ = tx.send(Msg::Seen(l.db, LookKind::Job, s));
                }
            });
        }
    }
}

/// The status of one job, for resumed steps that must ask the world first.
async fn status_of(drs: &DrsClient, job: &JobId) -> Result<Option<JobStatus>, DrsError> {
    let r = drs.batch_status(std::slice::from_ref(job)).await?;
    match r.into_iter().find(|s| s.id == job.0) {
        Some(s) => match s.error_code.filter(|c| !c.is_empty()) {
            Some(code) => Err(DrsError::Item {
                call: "batch-status".into(),
                job: job.0.clone(),
                code,
                message: s.error_message.unwrap_or_default(),
            }),
            None => Ok(s.status),
        },
        None => Ok(None),
    }
}

/// Run one side effect. In resumed mode (an intent found without outcome after a restart),
/// first ask the world whether it already happened.
async fn run_work(sh: &Shared, w: &Work) -> WorkResult {
    let drs = &sh.drs;
    let r: Result<WorkResult, DrsError> = async {
        match w.step {
            EffectStep::CreateJob | EffectStep::PrepareJob => {
                Ok(super::effects::drs_jobs::one(sh, w).await)
            }
            EffectStep::DrsPrecheck => {
                let job = match super::effects::drs_jobs::job_of(w) {
                    Ok(j) => j,
                    Err(r) => return Ok(r),
                };
                if w.resumed {
                    let r = drs.precheck_results(std::slice::from_ref(&job)).await?;
                    if r.iter().any(|p| {
                        p.error_code.as_deref().unwrap_or("").is_empty() && !p.process.is_empty()
                    }) {
                        return Ok(recovered());
                    }
                }
                Ok(super::effects::drs_jobs::one(sh, w).await)
            }
            EffectStep::StartJob
            | EffectStep::ResumeJob
            | EffectStep::PauseJob
            | EffectStep::Terminate
            | EffectStep::DeleteJob => {
                let job = match super::effects::drs_jobs::job_of(w) {
                    Ok(j) => j,
                    Err(r) => return Ok(r),
                };
                if w.resumed || w.step == EffectStep::DeleteJob {
                    let st = match status_of(drs, &job).await {
                        Ok(s) => s,
                        Err(e)
                            if e.is_not_found()
                                && matches!(
                                    w.step,
                                    EffectStep::DeleteJob | EffectStep::Terminate
                                ) =>
                        {
                            return Ok(recovered())
                        }
                        Err(e) => return Err(e),
                    };
                    let already = match (&w.step, &st) {
                        (_, None) => false,
                        (EffectStep::StartJob, Some(s)) => {
                            !matches!(s, JobStatus::Configuration | JobStatus::Creating)
                        }
                        (EffectStep::ResumeJob, Some(s)) => {
                            !s.is_failed() && *s != JobStatus::Pausing
                        }
                        (EffectStep::PauseJob, Some(s)) => *s == JobStatus::Pausing,
                        (EffectStep::Terminate, Some(s)) => {
                            (s.is_finished() && *s != JobStatus::CreateFailed)
                                || matches!(
                                    s,
                                    JobStatus::ReleaseResourceStarted
                                        | JobStatus::ReleaseChildTransferStarted
                                )
                        }
                        (EffectStep::DeleteJob, Some(s)) => *s == JobStatus::Deleted,
                        _ => false,
                    };
                    if already {
                        return Ok(recovered());
                    }
                }
                Ok(super::effects::drs_jobs::one(sh, w).await)
            }
            EffectStep::Compare => {
                let job = match super::effects::drs_jobs::job_of(w) {
                    Ok(j) => j,
                    Err(r) => return Ok(r),
                };
                let req = crate::drs::api::compare_request(mode_of(sh, &w.db));
                if w.resumed {
                    let list = drs.list_table_compares(&job).await?;
                    if list.compare_jobs.iter().any(|c| c.kind == req.kind) {
                        return Ok(recovered());
                    }
                }
                drs.create_table_compare(&job, &req).await?;
                Ok(done())
            }
            EffectStep::DrainSource | EffectStep::SourceWritesOn => {
                let job = match super::effects::drs_jobs::job_of(w) {
                    Ok(j) => j,
                    Err(r) => return Ok(r),
                };
                match sh.cfg.engine.source_drain {
                    crate::config::SourceDrain::Emulator => {
                        drs.emulator_source_writes(&job, w.step == EffectStep::SourceWritesOn)
                            .await?;
                        Ok(done())
                    }
                    other => Ok(fatal(runbook_drain_refusal(
                        other,
                        mode_of(sh, &w.db),
                        w.step,
                    ))),
                }
            }
            EffectStep::DnsSwitch | EffectStep::DnsSwitchBack => {
                Ok(
                    super::effects::dns::switch(sh, &w.db, w.step == EffectStep::DnsSwitchBack)
                        .await,
                )
            }
            EffectStep::Cut(c) => Ok(super::effects::cutover::step(sh, w, c).await),
            EffectStep::Undo(a) => Ok(super::effects::cutover::undo(sh, w, a).await),
            EffectStep::SqlPrecheck | EffectStep::ExposureCheck | EffectStep::SqlValidate => {
                Ok(super::effects::checks::run(
                    &sh.cfg,
                    &sh.store,
                    sh.drs.auth(),
                    sh.specs.get(&w.db),
                    w.step,
                )
                .await)
            }
        }
    }
    .await;
    match r {
        Ok(r) => r,
        Err(e) => WorkResult::Err(fail_of(&e)),
    }
}

/// Why the engine does not drain (or reopen) a source itself with `source_drain` other than
/// `emulator` on the DRS-mode path (`runbook`: the operator drains by the runbook and the
/// engine refuses to guess whether that happened). An online and an offline cutover stop at
/// the same step with the same words; the offline one has made and pre-checked its FULL_TRANS
/// job by then (not started: nothing loaded), which a rollback deletes.
fn runbook_drain_refusal(
    drain: crate::config::SourceDrain,
    mode: crate::inventory::Mode,
    step: EffectStep,
) -> String {
    let what = if step == EffectStep::SourceWritesOn {
        "turn the source's writes back on"
    } else {
        "drain the source"
    };
    let offline = if mode.is_online() || step == EffectStep::SourceWritesOn {
        ""
    } else {
        "; this offline database's FULL_TRANS job is made and pre-checked but not started (nothing loaded): a rollback deletes it"
    };
    format!(
        "engine.source_drain is {:?}: the engine does not {what} itself in this mode; do it by the runbook (runbooks/cutover-night.md), or set engine.source_drain to \"sql\" (the cutover module's steps) and retry{offline}",
        drain.as_str()
    )
}

/// How a database migrates (inventory `mode`; online when the store lacks its spec).
fn mode_of(sh: &Shared, db: &str) -> crate::inventory::Mode {
    sh.specs.get(db).map(|s| s.mode).unwrap_or_default()
}

/// A DRS comparison's result (pre-check and job looks are batched elsewhere): of the kind the
/// database's gate asks for ([`crate::drs::api::compare_request`]).
async fn compare_look(sh: &Shared, l: &Look) -> Seen {
    let job = JobId(l.job.clone());
    let kind = crate::drs::api::compare_request(mode_of(sh, &l.db)).kind;
    let r: Result<Seen, DrsError> = async {
        let list = sh.drs.list_table_compares(&job).await?;
        let Some(c) = list
            .compare_jobs
            .iter()
            .filter(|c| c.kind == kind)
            .max_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)))
        else {
            return Ok(Seen::Report {
                finished: false,
                report: Report {
                    passed: false,
                    summary: "no comparison yet".into(),
                    detail: serde_json::Value::Null,
                },
            });
        };
        match c.status.as_str() {
            "SUCCESSFUL" => {
                // (status, tables compared, inconsistent) per database, and the overview.
                let (what, rows, detail): (&str, Vec<(i32, i64, i64)>, _) = if kind == "contents" {
                    let o = sh.drs.content_overview(&job, &c.id).await?;
                    let rows = o
                        .content_compare_result_infos
                        .iter()
                        .map(|i| (i.status, i.compare_num, i.data_inconsistent_num))
                        .collect();
                    ("content", rows, serde_json::to_value(&o))
                } else {
                    let o = sh.drs.line_overview(&job, &c.id).await?;
                    let rows = o
                        .data_compare_overview_infos
                        .iter()
                        .map(|i| (i.status, i.compare_num, i.data_inconsistent_num))
                        .collect();
                    ("row-count", rows, serde_json::to_value(&o))
                };
                let bad = rows
                    .iter()
                    .filter(|(st, _, diff)| {
                        !crate::drs::model::compare_status::consistent(*st) || *diff > 0
                    })
                    .count();
                let tables: i64 = rows.iter().map(|r| r.1).sum();
                let diffs: i64 = rows.iter().map(|r| r.2).sum();
                Ok(Seen::Report {
                    finished: true,
                    report: Report {
                        passed: bad == 0 && !rows.is_empty(),
                        summary: format!(
                            "DRS {what} comparison {}: {} tables, {} inconsistent",
                            c.id, tables, diffs
                        ),
                        detail: detail.unwrap_or_default(),
                    },
                })
            }
            "FAILED" | "CANCELLED" | "TIMEOUT_INTERRUPT" => Ok(Seen::Report {
                finished: true,
                report: Report {
                    passed: false,
                    summary: format!("DRS comparison {} ended {}", c.id, c.status),
                    detail: serde_json::Value::Null,
                },
            }),
            _ => Ok(Seen::Report {
                finished: false,
                report: Report {
                    passed: false,
                    summary: format!("comparison {}", c.status),
                    detail: serde_json::Value::Null,
                },
            }),
        }
    }
    .await;
    match r {
        Ok(s) => s,
        Err(e) if e.is_not_found() => Seen::Gone,
        Err(e) => Seen::Err(fail_of(&e)),
    }
}
