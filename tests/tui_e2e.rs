//! End to end: the real `wavedeck demo` binary in a real terminal (tmux), driven by keys, with
//! the screen text asserted at each step. Skips (saying why) only when tmux is not installed.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    name: String,
}

impl Tmux {
    fn start(cmd: &str, w: u16, h: u16) -> Tmux {
        let name = format!("wd_e2e_{}_{}", std::process::id(), rand_suffix());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                cmd,
            ])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { name }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.name.as_str()];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux")
            .args(&args)
            .status()
            .expect("tmux send-keys")
            .success());
    }

    /// Escape alone: a key right after it would read as Alt+key, so give the terminal a moment.
    fn esc(&self) {
        self.keys(&["Escape"]);
        std::thread::sleep(Duration::from_millis(400));
    }

    /// Type text literally (no key-name interpretation).
    fn type_text(&self, text: &str) {
        assert!(Command::new("tmux")
            .args(["send-keys", "-t", &self.name, "-l", text])
            .status()
            .expect("tmux send-keys")
            .success());
    }

    /// Wait until every needle is on screen; panic with the screen if not.
    fn wait_for(&self, needles: &[&str], timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            if t0.elapsed() > timeout {
                panic!("waited {timeout:?} for {needles:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn demo_navigate_filter_open_and_quit() {
    if !have_tmux() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux), so the real terminal cannot be driven");
        return;
    }
    // The demo keeps its store and logs in a directory under TMPDIR for the operator to look
    // at; pointing TMPDIR at a directory removed on drop leaves nothing behind.
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("exit");
    let bin = env!("CARGO_BIN_EXE_wavedeck");
    let cmd = format!(
        "TMPDIR={} {bin} demo; echo $? > {}; sleep 60",
        dir.path().display(),
        marker.display()
    );
    let t = Tmux::start(&cmd, 120, 40);
    let s = t.wait_for(
        &["Waves (1)", "Wave 0: 8 databases"],
        Duration::from_secs(30),
    );
    assert!(s.contains("window always open"), "{s}");

    t.keys(&["2"]);
    t.wait_for(
        &["Databases 8/8", "pilot-pg-billing", "pilot-my-catalog"],
        Duration::from_secs(5),
    );

    t.keys(&["/"]);
    t.type_text("engine:mysql");
    let s = t.wait_for(&["Databases 4/8 /engine:mysql"], Duration::from_secs(5));
    assert!(
        !s.contains("pilot-pg-billing"),
        "postgres rows filtered out:\n{s}"
    );
    t.keys(&["Enter"]);

    t.keys(&["Enter"]);
    let s = t.wait_for(
        &[
            "pilot-my-catalog",
            "Replication",
            "CDC lag",
            "Validation and guards",
        ],
        Duration::from_secs(5),
    );
    assert!(s.contains("mysql"), "{s}");

    t.keys(&["?"]);
    t.wait_for(
        &["Help", "Navigation", "Command line"],
        Duration::from_secs(5),
    );
    t.esc();
    t.esc();
    t.wait_for(&["Databases 4/8"], Duration::from_secs(5));
    t.esc();
    t.wait_for(&["Databases 8/8"], Duration::from_secs(5));

    t.keys(&["q"]);
    let t0 = Instant::now();
    while !marker.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&marker).unwrap_or_default();
    assert_eq!(
        code.trim(),
        "0",
        "demo exits 0 on q; screen:\n{}",
        t.screen()
    );
    let s = t.screen();
    assert!(
        s.contains("demo store and logs kept in"),
        "terminal restored, message printed:\n{s}"
    );
}

/// The README's main story: the pilot wave runs to `ready` under the engine and the emulator,
/// the operator approves, starts, and cuts one database over with the typed confirmation.
#[test]
fn demo_pilot_wave_to_cutover() {
    if !have_tmux() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux), so the real terminal cannot be driven");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_wavedeck");
    let cmd = format!(
        "TMPDIR={} {bin} demo --speed 300; sleep 60",
        dir.path().display()
    );
    let t = Tmux::start(&cmd, 120, 40);
    t.wait_for(&["Waves (1)", "engine"], Duration::from_secs(30));

    // Approve the window, then start the wave: each through its dialog, each judged by the engine.
    t.keys(&["a"]);
    t.wait_for(
        &["Approve window wave 0?", "Enter or y submits"],
        Duration::from_secs(5),
    );
    t.keys(&["y"]);
    t.wait_for(&[" accepted"], Duration::from_secs(30));
    t.esc();
    t.wait_for(&["approved by"], Duration::from_secs(10));
    t.keys(&["s"]);
    t.wait_for(&["Start wave 0?"], Duration::from_secs(5));
    t.keys(&["y"]);
    t.wait_for(&[" accepted"], Duration::from_secs(30));
    t.esc();

    // Databases, filtered to the ready ones; wait for the pilot to get there.
    t.keys(&["2", "/"]);
    t.type_text("stage:ready");
    t.keys(&["Enter"]);
    let s = t.wait_for(&["/stage:ready", "│pilot-"], Duration::from_secs(240));
    assert!(!s.contains("Databases 0/8"), "{s}");

    // Open the first ready database and cut it over, typing its id.
    t.keys(&["Enter"]);
    let s = t.wait_for(&["Replication", "next: cut over"], Duration::from_secs(10));
    let db = s
        .lines()
        .find_map(|l| {
            l.split_once("╭ ")
                .and_then(|(_, r)| r.split_whitespace().next())
        })
        .filter(|id| id.starts_with("pilot-"))
        .unwrap_or_else(|| panic!("no db_id in the detail title:\n{s}"))
        .to_string();
    t.keys(&["c"]);
    t.wait_for(
        &[&format!("Cut over {db}?"), &format!("Type {db} to confirm")],
        Duration::from_secs(5),
    );
    // A wrong confirmation does nothing.
    t.type_text("nope");
    t.keys(&["Enter"]);
    t.wait_for(
        &[&format!("type {db} exactly to confirm")],
        Duration::from_secs(5),
    );
    for _ in 0..4 {
        t.keys(&["BSpace"]);
    }
    t.type_text(&db);
    t.keys(&["Enter"]);
    // The verdict line reads "command #N accepted: <the engine's note>" or "... rejected: why".
    // The engine checks the guards again when it reads the command: an emulated lag spike
    // above the threshold gets a rejection with its reason, and the operator asks again.
    let mut tries = 1;
    loop {
        let t0 = Instant::now();
        let s = loop {
            let s = t.screen();
            if s.contains(" accepted") || s.contains(" rejected: ") {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "no verdict on the cutover:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        if s.contains(" accepted") {
            break;
        }
        assert!(tries < 5, "cutover rejected {tries} times:\n{s}");
        tries += 1;
        t.keys(&["Enter"]);
        std::thread::sleep(Duration::from_secs(2));
        t.keys(&["c"]);
        t.wait_for(&[&format!("Type {db} to confirm")], Duration::from_secs(5));
        t.type_text(&db);
        t.keys(&["Enter"]);
    }
    t.esc();
    // The engine runs the cutover: the database reaches hypercare (the rollback window).
    t.wait_for(
        &[&format!("╭ {db}"), "hypercare for"],
        Duration::from_secs(180),
    );
    t.keys(&["q", "q"]);
}

/// `wavedeck --read-only tui` (the order `--help` shows) is a viewer session like
/// `wavedeck tui --read-only`: the badge is shown, an action is refused, and no engine is started
/// in the store.
#[test]
fn read_only_before_or_after_the_command_never_acts() {
    if !have_tmux() {
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux), so the real terminal cannot be driven");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_wavedeck");
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/inventory/pilot.yaml");
    for order in [["--read-only", "tui"], ["tui", "--read-only"]] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = format!("sqlite://{}/store.db", dir.path().display());
        let init = Command::new(bin)
            .args(["init", "--inventory", inventory, "--store", &store])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(init.status.success(), "{init:?}");
        let cmd = format!(
            "cd {} && {bin} {} {} --store {store}; sleep 60",
            dir.path().display(),
            order[0],
            order[1]
        );
        let t = Tmux::start(&cmd, 120, 40);
        // A read-only session is the lead's: it opens on the Program view.
        t.wait_for(
            &["READ-ONLY", "Calendar: next 14 days", "8 dbs"],
            Duration::from_secs(30),
        );
        t.keys(&[":"]);
        t.type_text("approve 0");
        t.keys(&["Enter"]);
        let s = t.wait_for(&["read-only: approve"], Duration::from_secs(5));
        assert!(!s.contains("attached"), "{order:?}: {s}");
        // No engine took the store: its lease table is empty.
        let status = Command::new(bin)
            .args(["status", "--json", "--store", &store])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&status.stdout);
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(v["engine"].is_null(), "{order:?}: an engine runs: {text}");
        t.keys(&["q"]);
    }
}
