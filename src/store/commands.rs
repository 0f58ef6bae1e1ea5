//! Operator commands: the cockpit writes intents, the engine decides them. Deciding also
//! appends a `command.accepted` / `command.rejected` event in the same transaction, so the
//! audit trail (and every evidence pack) holds who asked for what and what became of it.

use super::db::{fmt_time, get, now, parse_time, Store};
use super::error::{Ctx, Result, StoreError};
use super::event::{Body, CommandDecided, GuardLine};
use super::events::append_in;
use super::{kind, Action, CommandRow, CommandStatus, Event, NewEvent, Role, Target};
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

/// An operator intent to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCommand {
    pub who: String,
    pub role: Role,
    pub action: Action,
    pub target: Target,
    pub args: serde_json::Value,
}

/// The engine's verdict on a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Accepted,
    /// Accepted, with a note kept as the command's reason (e.g. a wave command that moved only
    /// some of its databases, and why not the others).
    AcceptedWith(String),
    /// With the reason the cockpit shows ("cutover blocked: lag 12.4 s > 5 s").
    Rejected(String),
}

impl Decision {
    /// The command's `status` and `reason` columns once decided.
    fn columns(&self) -> (CommandStatus, Option<String>) {
        match self {
            Decision::Accepted => (CommandStatus::Accepted, None),
            Decision::AcceptedWith(note) => (CommandStatus::Accepted, Some(note.clone())),
            Decision::Rejected(r) => (CommandStatus::Rejected, Some(r.clone())),
        }
    }
}

/// The command row `cmd` becomes once decided at `at` (the columns the store's update sets).
pub fn decided_row(cmd: &CommandRow, decision: &Decision, at: DateTime<Utc>) -> CommandRow {
    let (status, reason) = decision.columns();
    CommandRow {
        status,
        reason,
        decided_at: Some(at),
        ..cmd.clone()
    }
}

/// The `command.accepted` / `command.rejected` event recording `decision` on the decided
/// command `cmd`, with the guards the engine evaluated for a refusal. Pure: the store appends
/// exactly this with the decision, and tests build the cockpit's view of a refusal with it.
pub fn decision_event(
    cmd: &CommandRow,
    decision: &Decision,
    guards: &[GuardLine],
    decided_by: &str,
) -> NewEvent {
    let (db_id, wave) = match &cmd.target {
        Target::Db(d) => (Some(d.as_str()), None),
        Target::Wave(w) => (None, Some(*w)),
        Target::Factory => (None, None),
    };
    let decided = CommandDecided {
        command_id: cmd.id,
        who: cmd.who.clone(),
        role: Some(cmd.role),
        action: Some(cmd.action),
        args: cmd.args.clone(),
        requested_at: fmt_time(cmd.time),
        decided_by: Some(decided_by.to_string()),
        reason: decision.columns().1,
        guards: match decision {
            Decision::Rejected(_) => guards.to_vec(),
            _ => Vec::new(),
        },
        malformed: false,
    };
    let body = match decision {
        Decision::Accepted | Decision::AcceptedWith(_) => Body::CommandAccepted(decided),
        Decision::Rejected(_) => Body::CommandRejected(decided),
    };
    NewEvent::of(db_id, wave, body, &cmd.who)
}

const COLS: &str = "id, time, who, role, action, target, args, status, reason, decided_at";

fn enum_text<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn enum_from<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| StoreError::Corrupt(format!("command {what} {text:?} is unknown")))
}

fn from_row(row: &AnyRow) -> Result<CommandRow> {
    let target: String = get(row, "target")?;
    let args: String = get(row, "args")?;
    let decided: Option<String> = get(row, "decided_at")?;
    Ok(CommandRow {
        id: get(row, "id")?,
        time: parse_time(&get::<String>(row, "time")?)?,
        who: get(row, "who")?,
        role: enum_from(&get::<String>(row, "role")?, "role")?,
        action: enum_from(&get::<String>(row, "action")?, "action")?,
        target: serde_json::from_str(&target)
            .map_err(|_| StoreError::Corrupt(format!("command target {target:?}")))?,
        args: serde_json::from_str(&args)
            .map_err(|_| StoreError::Corrupt(format!("command args {args:?}")))?,
        status: enum_from(&get::<String>(row, "status")?, "status")?,
        reason: get(row, "reason")?,
        decided_at: decided.as_deref().map(parse_time).transpose()?,
    })
}

/// The rows that are commands; the others are logged (and rejected by the engine).
fn readable(rows: &[AnyRow]) -> Vec<CommandRow> {
    rows.iter()
        .filter_map(|r| match from_row(r) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "a command row that cannot be read is skipped");
                None
            }
        })
        .collect()
}

impl Store {
    /// Record an operator intent as `pending`. The engine picks it up with `pending_commands`.
    pub async fn submit_command(&self, cmd: &NewCommand) -> Result<CommandRow> {
        let target =
            serde_json::to_string(&cmd.target).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = sqlx::query(&format!(
            "INSERT INTO commands (time, who, role, action, target, args, status) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending') RETURNING {COLS}"
        ))
        .bind(fmt_time(now()))
        .bind(cmd.who.clone())
        .bind(enum_text(&cmd.role))
        .bind(enum_text(&cmd.action))
        .bind(target)
        .bind(cmd.args.to_string())
        .fetch_one(&self.pool)
        .await
        .ctx("record command")?;
        from_row(&row)
    }

    /// Commands not decided yet, oldest first. A row wavedeck cannot read (written behind its
    /// back) is left out: `reject_malformed_commands` decides it.
    pub async fn pending_commands(&self) -> Result<Vec<CommandRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM commands WHERE status = 'pending' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("read pending commands")?;
        Ok(readable(&rows))
    }

    /// The latest `limit` commands, newest first (the cockpit's command log). Rows that cannot
    /// be read are left out (their rejection is in the event log).
    pub async fn recent_commands(&self, limit: u32) -> Result<Vec<CommandRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM commands ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .ctx("read commands")?;
        Ok(readable(&rows))
    }

    /// Reject every pending row that is not a command wavedeck can read (a time in
    /// milliseconds, an unknown action or role, a target that is not JSON...), each with a
    /// `command.rejected` event saying why, so one poisoned row never stops the engine.
    pub async fn reject_malformed_commands(&self, decided_by: &str) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM commands WHERE status = 'pending' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("read pending commands")?;
        let mut out = Vec::new();
        for row in &rows {
            let e = match from_row(row) {
                Ok(_) => continue,
                Err(StoreError::Corrupt(what)) => what,
                Err(other) => other.to_string(),
            };
            let id: i64 = get(row, "id")?;
            let text = |col: &str| get::<String>(row, col).unwrap_or_default();
            let reason = format!(
                "malformed command row {id}: {e}; rejected without acting (commands are written by the cockpit or the wavedeck command line)"
            );
            tracing::warn!(command = id, %reason, "malformed command rejected");
            let mut cache = self.cache.lock().await;
            let mut tx = self.begin_write().await?;
            let updated = sqlx::query(
                "UPDATE commands SET status = 'rejected', reason = $1, decided_at = $2 \
                 WHERE id = $3 AND status = 'pending'",
            )
            .bind(reason.clone())
            .bind(fmt_time(now()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("reject a malformed command")?;
            if updated.rows_affected() == 0 {
                continue;
            }
            let target: Option<Target> = serde_json::from_str(&text("target")).ok();
            let who = text("who");
            let event = NewEvent {
                db_id: match &target {
                    Some(Target::Db(d)) => Some(d.clone()),
                    _ => None,
                },
                wave: match &target {
                    Some(Target::Wave(w)) => Some(*w),
                    _ => None,
                },
                kind: kind::COMMAND_REJECTED.to_string(),
                payload: serde_json::json!({
                    "command_id": id,
                    "who": who,
                    "action": text("action"),
                    "requested_at": text("time"),
                    "decided_by": decided_by,
                    "reason": reason,
                    "malformed": true,
                }),
                actor: if who.is_empty() {
                    "unknown".into()
                } else {
                    who
                },
            };
            let (events, fresh) = append_in(&mut tx, &[event], cache.take(), &self.outbox).await?;
            tx.commit().await.ctx("commit command rejection")?;
            self.outbox.committed();
            *cache = Some(fresh);
            out.extend(events);
        }
        Ok(out)
    }

    /// One command by id.
    pub async fn command(&self, id: i64) -> Result<Option<CommandRow>> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM commands WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ctx("read a command")?;
        row.as_ref().map(from_row).transpose()
    }

    /// Decide a pending command, and in the same transaction append a `command.accepted` or
    /// `command.rejected` event followed by `with` (the events the decision causes, e.g.
    /// `wave.approved`). Returns `None`, appending nothing, when the command does not exist or
    /// was already decided (so two engines cannot both act on it).
    pub async fn decide_command(
        &self,
        id: i64,
        decision: &Decision,
        decided_by: &str,
        with: &[NewEvent],
    ) -> Result<Option<(CommandRow, Vec<Event>)>> {
        self.decide_command_with_guards(id, decision, &[], decided_by, with)
            .await
    }

    /// [`Store::decide_command`], with the guards the engine evaluated for a refusal: they go
    /// into the `command.rejected` event, so the cockpit and evidence show each of them.
    pub async fn decide_command_with_guards(
        &self,
        id: i64,
        decision: &Decision,
        guards: &[GuardLine],
        decided_by: &str,
        with: &[NewEvent],
    ) -> Result<Option<(CommandRow, Vec<Event>)>> {
        let mut cache = self.cache.lock().await;
        let mut tx = self.begin_write().await?;
        let (status, reason) = decision.columns();
        let row = sqlx::query(&format!(
            "UPDATE commands SET status = $1, reason = $2, decided_at = $3 \
             WHERE id = $4 AND status = 'pending' RETURNING {COLS}"
        ))
        .bind(status.as_str())
        .bind(reason)
        .bind(fmt_time(now()))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("decide command")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let cmd = from_row(&row)?;
        let mut batch = vec![decision_event(&cmd, decision, guards, decided_by)];
        batch.extend_from_slice(with);
        let (events, fresh) = append_in(&mut tx, &batch, cache.take(), &self.outbox).await?;
        tx.commit().await.ctx("commit command decision")?;
        self.outbox.committed();
        *cache = Some(fresh);
        Ok(Some((cmd, events)))
    }
}

impl CommandStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Pending => "pending",
            CommandStatus::Accepted => "accepted",
            CommandStatus::Rejected => "rejected",
        }
    }
}
