//! The cockpit's actions as commands a script can give: `wavedeck approve | start | pause |
//! resume | abort | retry | cutover | rollback | close TARGET`. Each writes the same command row
//! the cockpit writes (same action, target, role and typed confirmation in its args), waits for
//! the engine to decide it through the lifecycle guards, and prints the verdict.
//!
//! Exit codes: 0 accepted, 3 rejected (the engine's reason is printed), 4 no verdict in time
//! (the command stays pending and the engine decides it when it next runs), 2 bad usage (a
//! missing or wrong `--confirm`, an unknown target; nothing is written).

use super::{Action, CommandStatus, NewCommand, Role, Store, Target};
use crate::config::Config;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Exit code of a command the engine rejected.
pub const EXIT_REJECTED: u8 = 3;
/// Exit code when the engine gave no verdict within `--timeout`.
pub const EXIT_TIMEOUT: u8 = 4;
/// Exit code of a command refused before anything was written.
pub const EXIT_USAGE: u8 = 2;

#[derive(clap::Subcommand, Debug)]
pub enum OperatorCommand {
    /// Approve a wave's cutover window (operator command; waits for the engine's verdict).
    #[command(after_help = "Example:\n  wavedeck approve wave-0")]
    Approve(ActArgs),
    /// Start a wave: its databases go through pre-checks, full load and CDC.
    #[command(after_help = "Example:\n  wavedeck start wave-0")]
    Start(ActArgs),
    /// Pause a database's (or a wave's) replication.
    Pause(ActArgs),
    /// Resume what was paused.
    Resume(ActArgs),
    /// Abort a database or a wave (needs --confirm).
    #[command(after_help = "Example:\n  wavedeck abort pilot-01 --confirm pilot-01")]
    Abort(ActArgs),
    /// Retry a failed database (or every failed database of a wave).
    Retry(ActArgs),
    /// Cut a database or a whole wave over to the target (needs --confirm).
    #[command(
        after_help = "Examples:\n  wavedeck cutover pilot-01 --confirm pilot-01\n  wavedeck cutover wave-0 --confirm wave-0 --timeout 600"
    )]
    Cutover(ActArgs),
    /// Roll a database or a wave back to its source (needs --confirm).
    Rollback(ActArgs),
    /// Close hypercare of a database or a wave.
    Close(ActArgs),
}

#[derive(clap::Args, Debug)]
pub struct ActArgs {
    /// A database id, or `wave-N`.
    pub target: String,
    /// The typed confirmation abort, cutover and rollback need, as in the cockpit: the
    /// database id, or `wave-N`.
    #[arg(long)]
    pub confirm: Option<String>,
    /// Seconds to wait for the engine's verdict (then exit 4; the command stays pending).
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Print the verdict as JSON: {"command_id", "action", "target", "status", "reason"}.
    #[arg(long)]
    pub json: bool,
    /// close: why hypercare closes without a passed restore test (kept in the evidence).
    #[arg(long)]
    pub reason: Option<String>,
}

impl OperatorCommand {
    /// The command's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            OperatorCommand::Approve(_) => "approve",
            OperatorCommand::Start(_) => "start",
            OperatorCommand::Pause(_) => "pause",
            OperatorCommand::Resume(_) => "resume",
            OperatorCommand::Abort(_) => "abort",
            OperatorCommand::Retry(_) => "retry",
            OperatorCommand::Cutover(_) => "cutover",
            OperatorCommand::Rollback(_) => "rollback",
            OperatorCommand::Close(_) => "close",
        }
    }

    fn parts(self) -> (Action, ActArgs) {
        match self {
            OperatorCommand::Approve(a) => (Action::ApproveWindow, a),
            OperatorCommand::Start(a) => (Action::StartWave, a),
            OperatorCommand::Pause(a) => (Action::Pause, a),
            OperatorCommand::Resume(a) => (Action::Resume, a),
            OperatorCommand::Abort(a) => (Action::Abort, a),
            OperatorCommand::Retry(a) => (Action::Retry, a),
            OperatorCommand::Cutover(a) => (Action::Cutover, a),
            OperatorCommand::Rollback(a) => (Action::Rollback, a),
            OperatorCommand::Close(a) => (Action::CloseHypercare, a),
        }
    }
}

/// `wave-3` is wave 3; anything else names a database.
pub fn parse_target(text: &str) -> Target {
    match text.strip_prefix("wave-").map(str::parse::<u32>) {
        Some(Ok(n)) => Target::Wave(n),
        _ => Target::Db(text.to_string()),
    }
}

fn target_text(t: &Target) -> String {
    match t {
        Target::Db(id) => id.clone(),
        Target::Wave(n) => format!("wave-{n}"),
        Target::Factory => "factory".to_string(),
    }
}

/// The command row's args for a confirmation check that passed, or why it did not. Pure.
pub fn confirmed_args(
    name: &str,
    action: Action,
    target: &Target,
    typed: Option<&str>,
) -> Result<serde_json::Value, String> {
    match (action.confirmation(target), typed) {
        (None, _) => Ok(serde_json::json!({})),
        (Some(want), Some(got)) if got == want => Ok(serde_json::json!({ "confirmed": want })),
        (Some(want), Some(got)) => Err(format!(
            "--confirm {got:?} does not match: type {want} exactly to confirm {name} of {want}"
        )),
        (Some(want), None) => Err(format!(
            "{name} of {want} needs a typed confirmation, as in the cockpit: add --confirm {want}"
        )),
    }
}

pub async fn run(c: OperatorCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    let name = c.name();
    let (action, a) = c.parts();
    let target = parse_target(&a.target);
    let args = match confirmed_args(name, action, &target, a.confirm.as_deref()) {
        Ok(mut v) => {
            if let (Some(r), Some(m)) = (&a.reason, v.as_object_mut()) {
                m.insert("reason".into(), serde_json::json!(r));
            }
            v
        }
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let store = Store::open_existing(&cfg.store).await?;
    let args = match action {
        Action::Cutover => with_expected_outage(&store, &cfg, &target, args).await?,
        _ => args,
    };
    let r = submit_and_wait(&store, name, action, target, args, &a).await;
    store.close().await;
    r
}

/// A cutover's offline databases: print the write outage each is expected to cause (one line,
/// before the engine's verdict, as the cockpit's dialog shows it) and carry it in the args, so
/// the accepted command's event keeps it beside the outage the engine will measure.
async fn with_expected_outage(
    store: &Store,
    cfg: &Config,
    target: &Target,
    args: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    use crate::plan::expected;
    let dbs = match target {
        Target::Db(id) => store.db_state(id).await?.into_iter().collect(),
        Target::Wave(n) => store
            .db_states()
            .await?
            .into_iter()
            .filter(|d| d.wave == Some(*n))
            .collect(),
        Target::Factory => Vec::new(),
    };
    let mut limits = crate::plan::PlanLimits::from_config(cfg);
    limits.measured_validation = store.validation_rates().await?;
    let list: Vec<expected::Expected> = dbs
        .iter()
        .filter_map(|d| expected::of(d, &limits))
        .collect();
    match (target, list.as_slice()) {
        (_, []) => {}
        (Target::Db(id), [one]) => println!("offline cutover of {id}: {}", one.sentence()),
        (_, list) => {
            let each: Vec<String> = list
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.db_id,
                        crate::plan::estimate::human(e.outage.total_s())
                    )
                })
                .collect();
            if let Some(s) = expected::wave_sentence(list) {
                println!("offline cutover: {s} ({})", each.join(", "));
            }
        }
    }
    Ok(expected::with_args(args, &list))
}

/// Submit one command as `$USER`, wait for the engine's verdict and print it (the exit codes
/// above). Also the path of `wavedeck signoff`.
pub(crate) async fn submit_and_wait(
    store: &Store,
    name: &str,
    action: Action,
    target: Target,
    args: serde_json::Value,
    a: &ActArgs,
) -> anyhow::Result<ExitCode> {
    let known = match &target {
        Target::Db(id) => store.db_state(id).await?.is_some(),
        Target::Wave(n) => store.wave_states().await?.iter().any(|w| w.wave == *n),
        Target::Factory => true,
    };
    if !known {
        eprintln!(
            "error: no {} in the store {} (see `wavedeck status --dbs`)",
            match &target {
                Target::Db(id) => format!("database {id:?}"),
                Target::Wave(n) => format!("wave {n}"),
                Target::Factory => "factory".to_string(),
            },
            store.url()
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if store.lease_holder().await?.is_none() {
        eprintln!("note: no engine runs on this store; the command waits for one (`wavedeck run`)");
    }
    let row = store
        .submit_command(&NewCommand {
            who: super::cmd::whoami(),
            role: Role::Operator,
            action,
            target: target.clone(),
            args,
        })
        .await?;
    tracing::info!(command = row.id, action = action.as_str(), target = %target_text(&target), "command line submitted a command");
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let decided = loop {
        match store.command(row.id).await? {
            Some(c) if c.status != CommandStatus::Pending => break Some(c),
            _ => {}
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (status, reason) = match &decided {
        Some(c) => (c.status, c.reason.clone()),
        None => (CommandStatus::Pending, None),
    };
    let what = format!("{name} {}", target_text(&target));
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "command_id": row.id,
                "action": action,
                "target": target,
                "status": status.as_str(),
                "reason": reason,
            })
        );
    } else {
        match status {
            CommandStatus::Accepted => match &reason {
                Some(r) => println!("accepted: {what} (command {}): {r}", row.id),
                None => println!("accepted: {what} (command {})", row.id),
            },
            CommandStatus::Rejected => println!(
                "rejected: {what} (command {}): {}",
                row.id,
                reason.as_deref().unwrap_or("no reason given")
            ),
            CommandStatus::Pending => println!(
                "no verdict: {what} (command {}) is still pending after {} s; the engine \
                 decides it when it runs (see `wavedeck status`)",
                row.id, a.timeout
            ),
        }
    }
    Ok(match status {
        CommandStatus::Accepted => ExitCode::SUCCESS,
        CommandStatus::Rejected => ExitCode::from(EXIT_REJECTED),
        CommandStatus::Pending => ExitCode::from(EXIT_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_typed_confirmations() {
        assert_eq!(parse_target("wave-2"), Target::Wave(2));
        assert_eq!(parse_target("wave-x"), Target::Db("wave-x".into()));
        assert_eq!(parse_target("pilot-01"), Target::Db("pilot-01".into()));
        let db = Target::Db("pilot-01".into());
        assert_eq!(
            confirmed_args("approve", Action::ApproveWindow, &Target::Wave(0), None),
            Ok(serde_json::json!({}))
        );
        assert_eq!(
            confirmed_args("cutover", Action::Cutover, &db, Some("pilot-01")),
            Ok(serde_json::json!({"confirmed": "pilot-01"}))
        );
        let missing = confirmed_args("cutover", Action::Cutover, &db, None).unwrap_err();
        assert!(missing.contains("--confirm pilot-01"), "{missing}");
        let wrong = confirmed_args(
            "rollback",
            Action::Rollback,
            &Target::Wave(1),
            Some("wave-2"),
        )
        .unwrap_err();
        assert!(wrong.contains("type wave-1 exactly"), "{wrong}");
        assert!(confirmed_args("abort", Action::Abort, &db, Some("pilot-02")).is_err());
    }
}
