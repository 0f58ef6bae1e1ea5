//! The refresh task: polls the store off the UI task and sends only what changed: new events,
//! the states they touched, commands whose status moved, and the detail database's history and
//! lag series. A slow store delays data, never a frame.

use super::data::{FeedUpdate, EVENTS_KEEP};
use super::term::{Msg, Submitter};
use crate::store::model::{kind, CommandRow, Role};
use crate::store::val_progress::TableProgress;
use crate::store::{NewCommand, Store};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the store is polled.
pub const POLL: Duration = Duration::from_millis(500);
/// Commands kept for dialogs and guards.
const COMMANDS_KEEP: u32 = 100;

/// Poll until the UI goes away (the receiver is dropped).
pub async fn run(
    store: Store,
    tx: mpsc::UnboundedSender<Msg>,
    mut detail: watch::Receiver<Option<String>>,
) {
    let mut last_seq: i64 = 0;
    let mut first = true;
    let mut commands: Vec<CommandRow> = Vec::new();
    let mut detail_db: Option<String> = None;
    let mut lag_tick = 0u32;
    let mut had_error = false;
    // Who holds the engine lease, looked up every 3 s.
    let mut lease_tick = 100u32;
    let mut engine: Option<Option<String>> = None;
    // Running validations' progress, read every 2 s (written once a second at most).
    let mut progress_tick = 100u32;
    let mut progress: Vec<TableProgress> = Vec::new();
    let mut rates: Vec<crate::store::val_progress::MeasuredRate> = Vec::new();
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = detail.changed() => if r.is_err() { return },
        }
        let mut u = FeedUpdate::default();
        match poll(&store, &mut u, &mut last_seq, first, &mut commands).await {
            Ok(()) => first = false,
            Err(e) => {
                tracing::warn!("cockpit: store poll failed: {e}");
                u.error = Some(e.to_string());
            }
        }
        let want = detail.borrow_and_update().clone();
        lag_tick += 1;
        lease_tick += 1;
        if lease_tick >= 6 {
            lease_tick = 0;
            if let Ok(l) = store.lease_holder().await {
                let now = l.map(|l| l.holder);
                if engine.as_ref() != Some(&now) {
                    engine = Some(now.clone());
                    u.engine = Some(now);
                }
            }
        }
        progress_tick += 1;
        if progress_tick >= 4 {
            progress_tick = 0;
            match store.running_validations().await {
                Ok(p) if p != progress => {
                    progress = p.clone();
                    u.validations = Some(p);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cockpit: validation progress: {e}"),
            }
            // The measured rates move only when a validation ends: read with the progress.
            match store.validation_rates().await {
                Ok(r) if r != rates => {
                    rates = r.clone();
                    u.measured_rates = Some(r);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cockpit: validation rates: {e}"),
            }
        }
        if want != detail_db {
            detail_db = want.clone();
            if let Some(db) = &want {
                match store.events_for_db(db).await {
                    Ok(evs) => u.history = Some((db.clone(), evs)),
                    Err(e) => tracing::warn!("cockpit: history of {db}: {e}"),
                }
            }
            lag_tick = 100;
        }
        // Lag samples of the database on screen, every 2 s.
        if let Some(db) = &detail_db {
            if lag_tick >= 4 {
                lag_tick = 0;
                match store.lag_series(db).await {
                    Ok(s) => u.lag = Some((db.clone(), s)),
                    Err(e) => tracing::warn!("cockpit: lag series of {db}: {e}"),
                }
            }
        }
        let quiet = u.dbs.is_none()
            && u.changed_dbs.is_empty()
            && u.events.is_empty()
            && u.waves.is_none()
            && u.commands.is_none()
            && u.history.is_none()
            && u.lag.is_none()
            && u.validations.is_none()
            && u.measured_rates.is_none()
            && u.engine.is_none();
        // An empty batch would change nothing, except clearing an error shown before.
        let has_error = u.error.is_some();
        if quiet && !has_error && !had_error {
            continue;
        }
        had_error = has_error;
        if tx.send(Msg::Feed(Box::new(u))).is_err() {
            return;
        }
    }
}

async fn poll(
    store: &Store,
    u: &mut FeedUpdate,
    last_seq: &mut i64,
    first: bool,
    commands: &mut Vec<CommandRow>,
) -> anyhow::Result<()> {
    if first {
        let head = store.last_seq().await?;
        let from = (head - EVENTS_KEEP as i64).max(0);
        u.dbs = Some(store.db_states().await?);
        u.waves = Some(store.wave_states().await?);
        u.events = store.events_after(from, EVENTS_KEEP as u32).await?;
        // The whole history of stage changes, once: the program pace needs more than the tail.
        u.marks = store.stage_marks(0).await?;
        u.alerts = store.alert_events().await?;
        *last_seq = u.events.last().map(|e| e.seq).unwrap_or(head).max(head);
    } else {
        let prev = *last_seq;
        loop {
            let batch = store.events_after(*last_seq, 2000).await?;
            let full = batch.len() == 2000;
            if let Some(e) = batch.last() {
                *last_seq = e.seq;
            }
            u.events.extend(batch);
            if !full {
                break;
            }
        }
        if !u.events.is_empty() {
            if u.events.iter().any(|e| e.kind == kind::DB_REMOVED) {
                u.dbs = Some(store.db_states().await?);
            } else {
                u.changed_dbs = store.db_states_changed_after(prev).await?;
            }
            if u.events
                .iter()
                .any(|e| e.db_id.is_none() || e.kind.starts_with("wave."))
            {
                u.waves = Some(store.wave_states().await?);
            }
        }
    }
    let cmds = store.recent_commands(COMMANDS_KEEP).await?;
    if cmds != *commands {
        *commands = cmds.clone();
        u.commands = Some(cmds);
    }
    Ok(())
}

/// A submitter that writes command rows to the store and answers on `tx`.
pub fn submitter(
    store: Store,
    tx: mpsc::UnboundedSender<Msg>,
    who: String,
    role: Role,
) -> Submitter {
    Box::new(move |action, target, args| {
        let store = store.clone();
        let tx = tx.clone();
        let cmd = NewCommand {
            who: who.clone(),
            role,
            action,
            target,
            args,
        };
        tokio::spawn(async move {
            let r = store
                .submit_command(&cmd)
                .await
                .map(|row| row.id)
                .map_err(|e| e.to_string());
            if let Err(e) = &r {
                tracing::warn!("cockpit: submitting {} failed: {e}", cmd.action.as_str());
            } else {
                tracing::info!(
                    "cockpit: {} submitted {} on {:?}",
                    cmd.who,
                    cmd.action.as_str(),
                    cmd.target
                );
            }
            let _ = tx.send(Msg::Submitted(r));
        });
    })
}

/// Who is at the keyboard, for the command rows' `who`.
pub fn operator_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "operator".into())
}
