//! `wavedeck lab cutover` as a process killed with SIGKILL after each step, for the labs of both
//! engines: the same kill-and-restart check, so the PostgreSQL and MariaDB tests cannot drift.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use wavedeck::cutover::CutoverStep;
use wavedeck::engine::effects::FAULT_STALL_ENV;
use wavedeck::rehearsal::lab::journal_driver::Journal;

/// Runs the lab's cutover of `db` (its lab in `lab_dir`, its journal at `journal`) stalled and
/// killed after each step in turn, then once to the end, and checks the journal: every step done
/// exactly once, each either found in place on restart or run again, the drain and the DNS
/// switch found in place (both are checkable on the servers), and a further run changing nothing.
pub async fn kill_9_after_each_step_then_finish(lab_dir: &Path, db: &str, journal: &Path) {
    let work = lab_dir.join("driver");
    std::fs::create_dir_all(&work).unwrap();
    let driver = |stall: Option<&str>| -> Child {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wavedeck"));
        c.args(["lab", "cutover", "--db", db, "--grace-s", "1", "--dir"])
            .arg(lab_dir)
            .current_dir(&work)
            .env_remove("WAVEDECK_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match stall {
            Some(s) => c.env(FAULT_STALL_ENV, s),
            None => c.env_remove(FAULT_STALL_ENV),
        };
        c.spawn().unwrap()
    };
    for step in CutoverStep::ALL {
        let mut child = driver(Some(step.as_str()));
        let stderr = child.stderr.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut l = String::new();
            BufReader::new(stderr).read_line(&mut l).map(|_| l)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(line.trim(), format!("stalled at {step}"), "driver output");
        child.kill().unwrap(); // SIGKILL: no cleanup runs
        child.wait().unwrap();
    }
    assert!(driver(None).wait().unwrap().success());

    let entries = Journal::new(journal).entries().unwrap();
    for step in CutoverStep::ALL {
        let of_step = || entries.iter().filter(|e| e.step == step.as_str());
        let ok = of_step()
            .filter(|e| e.kind == "outcome" && e.ok == Some(true))
            .count();
        assert_eq!(ok, 1, "{step} must complete exactly once");
        let intents = of_step().filter(|e| e.kind == "intent").count();
        let resumed = of_step().any(|e| e.resumed && e.ok == Some(true));
        // Killed once after its effect: either found in place on restart, or run again.
        assert!(
            (resumed && intents == 1) || (!resumed && intents == 2),
            "{step}: {intents} intents, resumed {resumed}"
        );
        if matches!(step, CutoverStep::DrainSource | CutoverStep::DnsSwitch) {
            assert!(
                resumed,
                "{step} is checkable on the servers and was not redone"
            );
        }
    }
    // A further run finds everything done and changes nothing.
    assert!(driver(None).wait().unwrap().success());
    let after = Journal::new(journal).entries().unwrap();
    assert_eq!(after.len(), entries.len());
}
