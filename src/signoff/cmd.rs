//! `wavedeck signoff DB_ID|wave-N --role R [--note ...]`: sign off as `$USER` in a role you hold.
//!
//! The sign-off is a command row like any cockpit action; the engine checks the signer holds
//! the role and records the `db.signoff` event. The same check runs here first, so a refusal
//! needs no engine.

use super::SignoffRole;
use crate::config::Config;
use crate::store::{Action, CommandStatus, NewCommand, Role, Store, Target};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(
    after_help = "Signs as $USER, who must be listed under signoff.holders.<role> in the config.\nExamples:\n  wavedeck signoff pg-payments-0006 --role tech_lead --note \"rehearsal passed\"\n  wavedeck signoff wave-3 --role business_owner\nExit codes: 0 recorded, 3 refused, 4 queued (no engine decided within --wait-s)."
)]
pub struct SignoffArgs {
    /// A database id, or `wave-N` for every member of wave N.
    pub target: String,
    /// tech_lead, data_owner or business_owner.
    #[arg(long, value_parser = parse_role)]
    pub role: SignoffRole,
    /// Recorded with the sign-off (e.g. what was checked).
    #[arg(long)]
    pub note: Option<String>,
    /// Seconds to wait for the engine's verdict.
    #[arg(long, default_value_t = 30)]
    pub wait_s: u64,
}

fn parse_role(s: &str) -> Result<SignoffRole, String> {
    SignoffRole::parse(s).ok_or_else(|| {
        format!(
            "unknown role {s:?}: use one of {}",
            SignoffRole::ALL.map(|r| r.as_str()).join(", ")
        )
    })
}

/// `wave-3` is wave 3; anything else is a database id.
pub fn parse_target(s: &str) -> Target {
    match s.strip_prefix("wave-").and_then(|n| n.parse().ok()) {
        Some(w) => Target::Wave(w),
        None => Target::Db(s.to_string()),
    }
}

pub async fn run(args: SignoffArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let who = crate::tui::feed::operator_name();
    if let Err(why) = cfg.signoff.authorize(&who, args.role, Role::Operator) {
        eprintln!("signoff refused: {why}");
        return Ok(ExitCode::from(3));
    }
    let store = Store::open_existing(&cfg.store).await?;
    let target = parse_target(&args.target);
    let row = store
        .submit_command(&NewCommand {
            who: who.clone(),
            role: Role::Operator,
            action: Action::Signoff,
            target,
            args: serde_json::json!({ "role": args.role.as_str(), "note": args.note }),
        })
        .await?;
    let deadline = Instant::now() + Duration::from_secs(args.wait_s);
    loop {
        let now = store.command(row.id).await?;
        match now {
            Some(c) if c.status == CommandStatus::Accepted => {
                println!(
                    "{}",
                    c.reason
                        .unwrap_or_else(|| format!("sign-off recorded (command {})", c.id))
                );
                return Ok(ExitCode::SUCCESS);
            }
            Some(c) if c.status == CommandStatus::Rejected => {
                eprintln!(
                    "signoff refused: {}",
                    c.reason.unwrap_or_else(|| "no reason given".into())
                );
                return Ok(ExitCode::from(3));
            }
            _ if Instant::now() >= deadline => {
                println!(
                    "queued as command {}: no engine decided within {} s; the engine records it when it runs (wavedeck run)",
                    row.id, args.wait_s
                );
                return Ok(ExitCode::from(4));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_roles_parse() {
        assert_eq!(parse_target("wave-3"), Target::Wave(3));
        assert_eq!(parse_target("pg-a-01"), Target::Db("pg-a-01".into()));
        assert_eq!(parse_target("wave-x"), Target::Db("wave-x".into()));
        assert_eq!(parse_role("data_owner"), Ok(SignoffRole::DataOwner));
        assert!(parse_role("cto")
            .unwrap_err()
            .contains("tech_lead, data_owner, business_owner"));
    }
}
