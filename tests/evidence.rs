//! Evidence packs end to end: a real store (SQLite file, and PostgreSQL), the real command line,
//! every kind of tampering named by file and line, and no secret in a pack.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use wavedeck::evidence::format::PackLine;
use wavedeck::inventory::{Criticality, DatabaseSpec, Endpoint, Engine};
use wavedeck::secret::SecretRef;
use wavedeck::store::model::{kind, NewEvent};
use wavedeck::store::Store;

fn spec(db_id: &str, pw_env: &str) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: "ledger".into(),
        user: "migrator".into(),
        password: SecretRef::Env(pw_env.into()),
    };
    DatabaseSpec::new(db_id, Engine::Postgres, ep("127.0.0.1"), ep("127.0.0.2"))
        .with_version("15")
        .with_size_gb(12.5)
        .with_owner("payments")
        .with_criticality(Criticality::Medium)
        .with_window("Sat 01:00-05:00 Europe/Paris")
        .with_wave(Some(2))
}

fn ev(db: Option<&str>, k: &str, payload: serde_json::Value, actor: &str) -> NewEvent {
    NewEvent {
        db_id: db.map(str::to_string),
        wave: Some(2),
        kind: k.into(),
        payload,
        actor: actor.into(),
    }
}

/// Two databases of wave 2 through to hypercare (one of them), interleaved in the chain.
async fn populate(store: &Store, pw_env: &str) {
    let a = Some("pay-ledger-01");
    let b = Some("crm-02");
    let stage = |from: &str, to: &str| json!({"from": from, "to": to, "reason": "test"});
    let events = vec![
        ev(
            None,
            kind::WAVE_PLANNED,
            json!({"window": "Sat 01:00-05:00 Europe/Paris"}),
            "plan",
        ),
        ev(
            a,
            kind::DB_REGISTERED,
            json!({"spec": spec("pay-ledger-01", pw_env)}),
            "init",
        ),
        ev(
            b,
            kind::DB_REGISTERED,
            json!({"spec": spec("crm-02", pw_env)}),
            "init",
        ),
        ev(None, kind::WAVE_STARTED, json!({"who": "alice"}), "alice"),
        ev(
            a,
            kind::DB_STAGE,
            stage("registered", "prechecks"),
            "engine",
        ),
        ev(
            b,
            kind::DB_STAGE,
            stage("registered", "prechecks"),
            "engine",
        ),
        ev(
            a,
            kind::DB_PRECHECK,
            json!({"passed": true, "summary": "6 checks ok"}),
            "engine",
        ),
        ev(
            a,
            kind::DB_STAGE,
            stage("prechecks", "provisioning"),
            "engine",
        ),
        ev(
            a,
            kind::STEP_INTENT,
            json!({"step": "drs.create_job", "attempt": 1}),
            "engine",
        ),
        ev(
            a,
            kind::STEP_OUTCOME,
            json!({"step": "drs.create_job", "attempt": 1, "ok": true, "drs": {"id": "j-1"}}),
            "engine",
        ),
        ev(b, kind::DB_LAG, json!({"lag_s": 3.5}), "engine"),
        ev(a, kind::DB_LAG, json!({"lag_s": 0.5}), "engine"),
        ev(
            a,
            kind::DB_VALIDATION,
            json!({"passed": true, "summary": "42 tables, 0 differences"}),
            "engine",
        ),
        ev(None, kind::WAVE_APPROVED, json!({"who": "bob"}), "bob"),
        ev(
            a,
            kind::COMMAND_ACCEPTED,
            json!({"action": "cutover", "who": "alice"}),
            "engine",
        ),
        ev(
            a,
            kind::STEP_INTENT,
            json!({"step": "cutover.drain_source", "attempt": 1}),
            "engine",
        ),
        ev(
            a,
            kind::STEP_OUTCOME,
            json!({"step": "cutover.drain_source", "attempt": 1, "ok": true}),
            "engine",
        ),
        ev(a, kind::DB_STAGE, stage("ready", "cutover"), "engine"),
        ev(a, kind::DB_STAGE, stage("cutover", "hypercare"), "engine"),
    ];
    store.append(&events).await.expect("append");
}

fn wavedeck(store_url: &str, args: &[&str], env: &[(&str, &str)], logs: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wavedeck"));
    cmd.arg("--store").arg(store_url).args(args);
    cmd.env("WAVEDECK_LOG_DIR", logs);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run wavedeck")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn copy_pack(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn edit_lines(file: &Path, f: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    f(&mut lines);
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
}

/// Export with the CLI, check the pack, then tamper with copies of it in every way and check
/// that `verify` fails naming the file and line.
fn exercise(store_url: &str, tmp: &Path) {
    let logs = tmp.join("logs");
    let out = tmp.join("evidence");
    let pw_env = format!("WD_EVIDENCE_PW_{}", std::process::id());
    let pw_value = format!("s3cret-{}-{}", std::process::id(), rand::random::<u64>());

    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "export",
            "pay-ledger-01",
            "--out",
            out.to_str().unwrap(),
            "--by",
            "auditor",
        ],
        &[(&pw_env, &pw_value)],
        &logs,
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let pack = out.join("pay-ledger-01");
    let mut names: Vec<String> = std::fs::read_dir(&pack)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "MANIFEST.sha256",
            "cdc-lag.csv",
            "cutover.md",
            "drs.jsonl",
            "events.jsonl",
            "exposure.json",
            "pack.json",
            "plan.json",
            "prechecks.json",
            "restore-tests.json",
            "summary.md",
            "validation.json",
            "wave-events.jsonl"
        ]
    );
    let events = std::fs::read_to_string(pack.join("events.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 13, "{events}");
    let summary = std::fs::read_to_string(pack.join("summary.md")).unwrap();
    assert!(summary.contains("stage cutover → hypercare"), "{summary}");
    assert!(
        summary.contains("window of wave 2 approved by bob"),
        "{summary}"
    );
    assert!(
        summary.contains("Exported") && summary.contains("by auditor"),
        "{summary}"
    );

    // No secret anywhere in the pack (the variable's name is fine, its value never).
    for f in all_files(&out) {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&pw_value), "secret in {}", f.display());
    }
    assert!(std::fs::read_to_string(pack.join("plan.json"))
        .unwrap()
        .contains(&pw_env));

    // Intact: exit 0. Also with the standard tool.
    let o = wavedeck(
        store_url,
        &["evidence", "verify", pack.to_str().unwrap()],
        &[],
        &logs,
    );
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("ok: 1 pack(s), 13 event(s)"),
        "{}",
        stdout(&o)
    );
    let sums = Command::new("sha256sum")
        .arg("-c")
        .arg("--quiet")
        .arg("MANIFEST.sha256")
        .current_dir(&pack)
        .status();
    if let Ok(s) = sums {
        assert!(s.success(), "sha256sum -c disagrees with the manifest");
    }

    type Tamper = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "edit",
            Box::new(|p: &Path| {
                edit_lines(&p.join("events.jsonl"), |l| {
                    l[4] = l[4].replace("\"engine\"", "\"mallory\"")
                })
            }),
            "events.jsonl:5: edited",
        ),
        (
            "remove",
            Box::new(|p: &Path| {
                edit_lines(&p.join("events.jsonl"), |l| {
                    l.remove(3);
                })
            }),
            "events.jsonl:4: removed",
        ),
        (
            "reorder",
            Box::new(|p: &Path| edit_lines(&p.join("events.jsonl"), |l| l.swap(6, 7))),
            "events.jsonl:7: reordered",
        ),
        (
            "insert",
            Box::new(|p: &Path| {
                edit_lines(&p.join("events.jsonl"), |l| {
                    // A forged event, correctly hashed and linked to the line before it.
                    let before: PackLine = serde_json::from_str(&l[8]).unwrap();
                    let mut forged = before.clone();
                    forged.event.seq += 1;
                    forged.event.payload = json!({"passed": true, "summary": "forged"});
                    forged.event.kind = kind::DB_VALIDATION.into();
                    forged.event.hash = forged.event.compute_hash();
                    forged.pack_prev_hash = before.event.hash.clone();
                    l.insert(9, serde_json::to_string(&forged).unwrap());
                })
            }),
            "events.jsonl:10: inserted",
        ),
        (
            "summary edited",
            Box::new(|p: &Path| {
                edit_lines(&p.join("summary.md"), |l| {
                    l[0] = "# Evidence pack: other".into()
                })
            }),
            "summary.md: changed since export",
        ),
        (
            "file added",
            Box::new(|p: &Path| std::fs::write(p.join("notes.txt"), "x").unwrap()),
            "notes.txt: added after export",
        ),
        (
            "file removed",
            Box::new(|p: &Path| std::fs::remove_file(p.join("validation.json")).unwrap()),
            "validation.json: removed",
        ),
    ];
    for (i, (what, tamper, expected)) in cases.iter().enumerate() {
        let copy = tmp.join(format!("tampered-{i}")).join("pay-ledger-01");
        copy_pack(&pack, &copy);
        tamper(&copy);
        let o = wavedeck(
            store_url,
            &["evidence", "verify", copy.to_str().unwrap()],
            &[],
            &logs,
        );
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stdout(&o));
        let shown = stdout(&o);
        assert!(
            shown
                .lines()
                .any(|l| l.contains(&format!("pay-ledger-01/{expected}"))),
            "{what}: expected {expected:?} in\n{shown}"
        );
        assert!(shown.contains("TAMPERED"), "{what}: {shown}");
    }

    // A pack rewritten consistently (event edited and re-hashed, pack rebuilt, manifest
    // resealed) passes the file checks; only the store can tell.
    let forged_out = tmp.join("forged");
    {
        use wavedeck::evidence::format::PackMeta;
        use wavedeck::evidence::pack::{build, PackInputs};
        let meta: PackMeta =
            serde_json::from_slice(&std::fs::read(pack.join("pack.json")).unwrap()).unwrap();
        let read = |f: &str| -> Vec<wavedeck::store::model::Event> {
            std::fs::read_to_string(pack.join(f))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<PackLine>(l).unwrap().event)
                .collect()
        };
        let mut events = read("events.jsonl");
        let wave_events = read("wave-events.jsonl");
        let v = events
            .iter_mut()
            .find(|e| e.kind == kind::DB_VALIDATION)
            .unwrap();
        v.payload = json!({"passed": true, "summary": "forged"});
        v.hash = v.compute_hash();
        let forged = build(&PackInputs {
            state: &meta.state,
            spec: meta.spec.as_ref(),
            wave: meta.wave.as_ref(),
            events: &events,
            wave_events: &wave_events,
            exported_at: meta.exported_at,
            exported_by: &meta.exported_by,
            member_of: meta.member_of,
        })
        .unwrap();
        wavedeck::evidence::write::write_pack(&forged_out, &forged, &[]).unwrap();
    }
    let forged = forged_out.join("pay-ledger-01");
    let o = wavedeck(
        store_url,
        &["evidence", "verify", forged.to_str().unwrap()],
        &[],
        &logs,
    );
    assert!(
        o.status.success(),
        "consistent forgery passes the file checks: {}",
        stdout(&o)
    );
    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "verify",
            forged.to_str().unwrap(),
            "--against-store",
        ],
        &[],
        &logs,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("pay-ledger-01/events.jsonl:8: event seq"),
        "{}",
        stdout(&o)
    );
    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "verify",
            pack.to_str().unwrap(),
            "--against-store",
        ],
        &[],
        &logs,
    );
    assert!(
        o.status.success(),
        "the real pack matches the store: {}",
        stdout(&o)
    );

    // A whole wave: one folder per database, verified together.
    let wave_out = tmp.join("wave-2");
    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "export",
            "--wave",
            "2",
            "--out",
            wave_out.to_str().unwrap(),
        ],
        &[],
        &logs,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wave_out.join("pay-ledger-01/events.jsonl").exists());
    assert!(wave_out.join("crm-02/events.jsonl").exists());
    let o = wavedeck(
        store_url,
        &["evidence", "verify", wave_out.to_str().unwrap()],
        &[],
        &logs,
    );
    assert!(stdout(&o).starts_with("ok: 2 pack(s)"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("wave 2: all 2 member(s) of its export present and unchanged")
            && stdout(&o).contains("the store was not checked (add --against-store)"),
        "{}",
        stdout(&o)
    );
    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "verify",
            wave_out.to_str().unwrap(),
            "--against-store",
        ],
        &[],
        &logs,
    );
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("every event matches the store"),
        "{}",
        stdout(&o)
    );
    // One pack of the export, given alone, is checked against the export's index too.
    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "verify",
            wave_out.join("crm-02").to_str().unwrap(),
        ],
        &[],
        &logs,
    );
    assert!(stdout(&o).starts_with("ok: 1 pack(s)"), "{}", stdout(&o));

    whole_pack_tamperings(store_url, &wave_out, tmp, &logs);

    // Unknown database: a clear error, non-zero.
    let o = wavedeck(
        store_url,
        &["evidence", "export", "nope", "--out", out.to_str().unwrap()],
        &[],
        &logs,
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no database \"nope\""), "{err}");
}

/// Copy an export folder (index files and pack folders).
fn copy_export(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_pack(&p, &dest);
        } else {
            std::fs::copy(&p, dest).unwrap();
        }
    }
}

/// Tamperings that swap, add or drop whole packs of a wave export, each named.
fn whole_pack_tamperings(store_url: &str, wave_out: &Path, tmp: &Path, logs: &Path) {
    type Tamper = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Tamper, Vec<&str>)> = vec![
        (
            "an extra file, listed in the manifest",
            Box::new(|w: &Path| {
                let p = w.join("pay-ledger-01");
                std::fs::write(p.join("notes.txt"), "all fine\n").unwrap();
                let line = format!(
                    "{}  notes.txt\n",
                    wavedeck::evidence::manifest::sha256_hex(b"all fine\n")
                );
                let mut m = std::fs::read_to_string(p.join("MANIFEST.sha256")).unwrap();
                m.push_str(&line);
                std::fs::write(p.join("MANIFEST.sha256"), m).unwrap();
            }),
            vec![
                "pay-ledger-01/notes.txt: added after export: wavedeck writes no such file into a pack",
                "wave-2.index.json:8: replaced: the pack in folder pay-ledger-01",
            ],
        ),
        (
            "one database's folder holding another's pack",
            Box::new(|w: &Path| {
                std::fs::remove_dir_all(w.join("crm-02")).unwrap();
                copy_pack(&w.join("pay-ledger-01"), &w.join("crm-02"));
            }),
            vec![
                "crm-02: copied: this folder holds the pack of pay-ledger-01",
                "wave-2.index.json:7: replaced: the pack in folder crm-02",
            ],
        ),
        (
            "a pack deleted from the wave folder",
            Box::new(|w: &Path| std::fs::remove_dir_all(w.join("crm-02")).unwrap()),
            vec!["wave-2.index.json:7: removed: wave 2's export lists crm-02 but its pack folder is missing"],
        ),
        (
            "a pack deleted with the wave's index",
            Box::new(|w: &Path| {
                std::fs::remove_dir_all(w.join("crm-02")).unwrap();
                std::fs::remove_file(w.join("wave-2.index.json")).unwrap();
            }),
            vec!["wave-2.index.json: removed: pay-ledger-01 say(s) they were exported with wave 2, but the export's member list is missing"],
        ),
        (
            "a pack copied under a new folder name",
            Box::new(|w: &Path| copy_pack(&w.join("crm-02"), &w.join("crm-03"))),
            vec![
                "crm-03: copied: this folder holds the pack of crm-02",
                "crm-03: added: the pack says it was exported with wave 2, but wave-2.index.json does not list it",
            ],
        ),
    ];
    for (i, (what, tamper, expected)) in cases.iter().enumerate() {
        let copy = tmp.join(format!("whole-{i}")).join("wave-2");
        copy_export(wave_out, &copy);
        tamper(&copy);
        let o = wavedeck(
            store_url,
            &["evidence", "verify", copy.to_str().unwrap()],
            &[],
            logs,
        );
        let shown = stdout(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {shown}");
        for e in expected {
            let want = format!("{}/{e}", copy.display());
            let want_pack = format!("{}", copy.join(e).display());
            assert!(
                shown
                    .lines()
                    .any(|l| l.starts_with(&want) || l.starts_with(&want_pack)),
                "{what}: expected {e:?} in\n{shown}"
            );
        }
        assert!(shown.contains("TAMPERED"), "{what}: {shown}");
    }

    // The index rewritten without the removed pack: only the store can tell.
    let copy = tmp.join("whole-index-rewritten").join("wave-2");
    copy_export(wave_out, &copy);
    std::fs::remove_dir_all(copy.join("crm-02")).unwrap();
    let ix_path = copy.join("wave-2.index.json");
    let text = std::fs::read_to_string(&ix_path).unwrap();
    let mut ix = wavedeck::evidence::index::parse(2, &text).unwrap();
    ix.members.retain(|m| m.db_id != "crm-02");
    std::fs::write(&ix_path, wavedeck::evidence::index::render(&ix)).unwrap();
    // pay-ledger-01's own files are untouched, so the file checks pass...
    let o = wavedeck(
        store_url,
        &["evidence", "verify", copy.to_str().unwrap()],
        &[],
        logs,
    );
    assert!(o.status.success(), "{}", stdout(&o));
    // ...and the store names the database the export no longer lists.
    let o = wavedeck(
        store_url,
        &[
            "evidence",
            "verify",
            copy.to_str().unwrap(),
            "--against-store",
        ],
        &[],
        logs,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("wave-2.index.json: removed: the store has crm-02 in wave 2"),
        "{}",
        stdout(&o)
    );
}

/// A pack exported by wavedeck before packs were bound to their wave (format 1, made with the
/// engine and the emulator of `wavedeck demo`, two databases of its wave 0) still verifies, and
/// says what could not be checked; tampering with it is still found.
#[test]
fn packs_made_before_the_binding_still_verify() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evidence-v1/wave-0");
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    let run = |dir: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_wavedeck"))
            .args(["evidence", "verify"])
            .arg(dir)
            .env("WAVEDECK_LOG_DIR", &logs)
            .env_remove("WAVEDECK_CONFIG")
            .output()
            .unwrap();
        (o.status.code(), stdout(&o))
    };
    let (code, out) = run(&fixture);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ok: 2 pack(s), 154 event(s)"), "{out}");
    assert!(
        out.contains("2 pack(s) made before the wave binding (pilot-my-cms, pilot-pg-hr): their wave membership was not checked"),
        "{out}"
    );
    let (code, out) = run(&fixture.join("pilot-pg-hr"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("made before the wave binding (pilot-pg-hr)"),
        "{out}"
    );

    // A copy under another name, and an extra file listed in the manifest: still named.
    let copy = tmp.path().join("wave-0");
    copy_export(&fixture, &copy);
    copy_pack(&copy.join("pilot-pg-hr"), &copy.join("pilot-pg-hr-2"));
    let p = copy.join("pilot-my-cms");
    std::fs::write(p.join("extra.md"), "x").unwrap();
    let mut m = std::fs::read_to_string(p.join("MANIFEST.sha256")).unwrap();
    m.push_str(&format!(
        "{}  extra.md\n",
        wavedeck::evidence::manifest::sha256_hex(b"x")
    ));
    std::fs::write(p.join("MANIFEST.sha256"), m).unwrap();
    let (code, out) = run(&copy);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("pilot-pg-hr-2: copied: this folder holds the pack of pilot-pg-hr"),
        "{out}"
    );
    assert!(
        out.contains("pilot-my-cms/extra.md: added after export"),
        "{out}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn evidence_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("store.db").display());
    let store = Store::open(&url).await.expect("open store");
    populate(&store, &format!("WD_EVIDENCE_PW_{}", std::process::id())).await;
    store.close().await;
    let path = tmp.path().to_path_buf();
    tokio::task::spawn_blocking(move || exercise(&url, &path))
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn evidence_on_postgres() {
    use sqlx::Connection;
    let name = format!(
        "wd_evidence_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    );
    let admin_url = "postgres://postgres@127.0.0.1:5432/postgres";
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let result = async {
        let store = Store::open(&url).await.expect("open store");
        populate(&store, &format!("WD_EVIDENCE_PW_{}", std::process::id())).await;
        store.close().await;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().to_path_buf();
        let u = url.clone();
        let r = tokio::task::spawn_blocking(move || exercise(&u, &path)).await;
        drop(tmp);
        r
    }
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
