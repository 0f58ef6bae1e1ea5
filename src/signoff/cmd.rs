//! `wavedeck signoff DB_ID|wave-N --role R [--note ...]`: sign off as `$USER` in a role you hold.
//!
//! The sign-off is a command row like any operator action (`store::operate`): the engine checks
//! that the signer holds the role and records the `db.signoff` event. The same check runs here
//! first, so a refusal needs no engine and writes nothing.

use super::SignoffRole;
use crate::config::Config;
use crate::store::operate::{self, ActArgs, EXIT_REJECTED};
use crate::store::{Action, Role, Store};
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(
    after_help = "Signs as $USER, who must be listed under signoff.holders.<role> in the config.\nExamples:\n  wavedeck signoff pg-payments-0006 --role tech_lead --note \"rehearsal passed\"\n  wavedeck signoff wave-3 --role business_owner\nExit codes: 0 recorded, 3 refused, 4 no verdict in time (the command stays pending), 2 unknown target."
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
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_role(s: &str) -> Result<SignoffRole, String> {
    SignoffRole::parse(s).ok_or_else(|| {
        format!(
            "unknown role {s:?}: use one of {}",
            SignoffRole::ALL.map(|r| r.as_str()).join(", ")
        )
    })
}

pub async fn run(a: SignoffArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let who = crate::store::cmd::whoami();
    if let Err(why) = cfg.signoff.authorize(&who, a.role, Role::Operator) {
        eprintln!("signoff refused: {why}");
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    let target = operate::parse_target(&a.target);
    let args = serde_json::json!({ "role": a.role.as_str(), "note": a.note });
    let act = ActArgs {
        target: a.target,
        confirm: None,
        timeout: a.timeout,
        json: a.json,
        reason: None,
    };
    let store = Store::open_existing(&cfg.store).await?;
    let r = operate::submit_and_wait(&store, "signoff", Action::Signoff, target, args, &act).await;
    store.close().await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_with_a_clear_error() {
        assert_eq!(parse_role("data_owner"), Ok(SignoffRole::DataOwner));
        assert!(parse_role("cto")
            .unwrap_err()
            .contains("tech_lead, data_owner, business_owner"));
    }
}
