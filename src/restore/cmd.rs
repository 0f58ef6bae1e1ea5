//! `wavedeck restore-test DB_ID [--at TIME]`: asks the engine for a restore test (the same
//! `restore_test` command the cockpit's `T` writes), then follows the run in the store until its
//! temporary instance is deleted, and prints its verdict. Exit codes: 0 passed, 1 failed, and
//! those of the operator commands (3 refused, 4 no verdict or not finished in time).

use super::plan::{Book, RestoreStep};
use crate::config::Config;
use crate::store::operate::{submit_and_wait, ActArgs, EXIT_TIMEOUT};
use crate::store::{Action, Store, Target};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  wavedeck restore-test pilot-pg-hr\n  wavedeck restore-test pilot-pg-hr --at 2026-12-01T02:00:00Z"
)]
pub struct RestoreTestArgs {
    pub db_id: String,
    /// Restore to this point in time (RFC 3339) instead of the newest finished backup.
    #[arg(long)]
    pub at: Option<String>,
    /// Seconds to wait for the verdict and the temporary instance's deletion.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

pub async fn run(a: RestoreTestArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(&cfg.store).await?;
    let r = follow(&store, a).await;
    store.close().await;
    r
}

async fn follow(store: &Store, a: RestoreTestArgs) -> anyhow::Result<ExitCode> {
    let args = match &a.at {
        Some(t) => serde_json::json!({ "at": t }),
        None => serde_json::json!({}),
    };
    let before = Book::from_events(&store.events_for_db(&a.db_id).await?).next_run(&a.db_id);
    let act = ActArgs {
        target: a.db_id.clone(),
        confirm: None,
        timeout: a.timeout.min(120),
        json: false,
        reason: None,
    };
    let code = submit_and_wait(
        store,
        "restore-test",
        Action::RestoreTest,
        Target::Db(a.db_id.clone()),
        args,
        &act,
    )
    .await?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let started = Instant::now();
    let mut said: Option<RestoreStep> = None;
    loop {
        let book = Book::from_events(&store.events_for_db(&a.db_id).await?);
        if let Some(run) = book.runs(&a.db_id).iter().find(|r| r.r.run >= before) {
            let now = RestoreStep::ALL
                .into_iter()
                .rev()
                .find(|s| run.steps.contains_key(s));
            if now != said {
                if let Some(s) = now {
                    println!(
                        "{:>5.0} s  {}: {}",
                        started.elapsed().as_secs_f64(),
                        run.r.instance,
                        s.describe()
                    );
                }
                said = now;
            }
            if run.done() {
                return Ok(match run.verdict() {
                    Some(v) => {
                        println!(
                            "{}: restore test {} of {} in {} s: {} ({} deleted)",
                            if v.passed { "passed" } else { "FAILED" },
                            run.r.run,
                            a.db_id,
                            v.took.num_seconds(),
                            v.summary,
                            run.r.instance
                        );
                        if v.passed {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::FAILURE
                        }
                    }
                    None => {
                        println!(
                            "interrupted: restore test {} of {} has no verdict ({} deleted)",
                            run.r.run, a.db_id, run.r.instance
                        );
                        ExitCode::FAILURE
                    }
                });
            }
        }
        if Instant::now() >= deadline {
            println!("not finished after {} s: the engine goes on with it (see the cockpit's Restore tests line)", a.timeout);
            return Ok(ExitCode::from(EXIT_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
