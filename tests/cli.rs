//! The real binary's answers to bad input: each case runs `wavedeck` as a user would and reads
//! its exit code and words.

use std::process::Command;

fn wavedeck(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wavedeck"))
        .args(args)
        .current_dir(dir)
        .env_remove("WAVEDECK_CONFIG")
        .env_remove("WAVEDECK_STORE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn config_check_prints_the_merged_config_or_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "engine:\n  retry_cap_s: 1e300\n  poll:\n    cdc_s: .nan\nthresholds:\n  max_cutover_lag_s: -1\n",
    )
    .unwrap();
    let (code, out) = wavedeck(dir.path(), &["config", "check", "bad.yaml"]);
    assert_eq!(code, 2, "{out}");
    for want in [
        "bad.yaml:6: thresholds.max_cutover_lag_s is -1; allowed: 0 to 3600 seconds",
        "bad.yaml:2: engine.retry_cap_s is 1e300; allowed: 0 to 86400 seconds",
        "bad.yaml:4: engine.poll.cdc_s is NaN; allowed: 0.001 to 86400 seconds",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    // The same problems stop every other command before it starts.
    let (code, out) = wavedeck(dir.path(), &["--config", "bad.yaml", "status"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("engine.retry_cap_s is 1e300"), "{out}");
    // A made-up closed-set value names the allowed ones.
    std::fs::write(
        dir.path().join("enum.yaml"),
        "engine:\n  source_drain: manual\n",
    )
    .unwrap();
    let (code, out) = wavedeck(dir.path(), &["config", "check", "enum.yaml"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("enum.yaml:2:") && out.contains("`sql`, `emulator`, `runbook`"),
        "{out}"
    );
    // A good file: the merged config, which loads again as it is.
    std::fs::write(
        dir.path().join("good.yaml"),
        "limits:\n  drs_concurrency: 7\n",
    )
    .unwrap();
    let (code, out) = wavedeck(dir.path(), &["--config", "good.yaml", "config", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("drs_concurrency: 7"), "{out}");
    std::fs::write(dir.path().join("merged.yaml"), &out).unwrap();
    let (code, out) = wavedeck(dir.path(), &["config", "check", "merged.yaml"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn config_check_names_the_file_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = wavedeck(dir.path(), &["config", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("# no config file (defaults)"), "{out}");
    // ./wavedeck.yaml is what every command loads when no file is named: the header says so.
    std::fs::write(
        dir.path().join("wavedeck.yaml"),
        "limits:\n  drs_concurrency: 7\n",
    )
    .unwrap();
    let (code, out) = wavedeck(dir.path(), &["config", "check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("# wavedeck.yaml: every value in range"),
        "{out}"
    );
    assert!(out.contains("drs_concurrency: 7"), "{out}");
}

/// A PostgreSQL store that cannot be reached: the wait is announced, bounded by the URL's
/// `connect_timeout`, and the refusal names the URL without its password and what to check.
/// Two ways of being unreachable on loopback: nothing listening, and a server that accepts the
/// connection and never answers (as a blackholed address does, from the client's side).
#[test]
fn an_unreachable_postgres_store_says_what_it_waits_for() {
    let dir = tempfile::tempdir().unwrap();
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // Accept and hold every connection, answering nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    for (port, last) in [(free, "Connection refused"), (silent_port, "no answer")] {
        let url = format!("postgres://wd:hunter2-pw@127.0.0.1:{port}/wd?connect_timeout=2");
        let (code, out) = wavedeck(dir.path(), &["--store", &url, "status"]);
        assert_ne!(code, 0, "{out}");
        let shown = format!("postgres://wd:***@127.0.0.1:{port}/wd?connect_timeout=2");
        assert!(
            out.contains(&format!("waiting for the PostgreSQL store at {shown}")),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "cannot reach the PostgreSQL store {shown} within 2 s"
            )),
            "{out}"
        );
        assert!(out.contains(last), "{last:?} not in {out}");
        assert!(out.contains("check that the server runs"), "{out}");
        assert!(!out.contains("hunter2-pw"), "the password leaked: {out}");
    }
}

/// Database roles are a PostgreSQL store's; a SQLite store says so and exits 2.
#[test]
fn grant_viewer_on_a_sqlite_store_does_not_apply() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = wavedeck(
        dir.path(),
        &[
            "--store",
            "sqlite://store.db",
            "store",
            "grant-viewer",
            "lead",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("a SQLite store is a file; database roles do not apply")
            && out.contains("file's permissions"),
        "{out}"
    );
    // A read-only session never changes permissions either.
    let (code, out) = wavedeck(
        dir.path(),
        &[
            "--read-only",
            "--store",
            "sqlite://store.db",
            "store",
            "grant-viewer",
            "lead",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--read-only"), "{out}");
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_command_without_a_panic() {
    // `wavedeck inventory check … | head -1`: the reader is gone before the report is written.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_wavedeck"))
        .args(["inventory", "check", "inventory/pilot.yaml"])
        .current_dir(repo)
        .env_remove("WAVEDECK_CONFIG")
        .env_remove("WAVEDECK_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}
