//! The store test suite, run on SQLite (a temp file) and on a real PostgreSQL (a database
//! created for the test on 127.0.0.1:5432 and dropped afterwards). Each case is written once.

use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::{Connection, Row};
use std::future::Future;
use std::time::Duration as StdDuration;
use wavedeck::inventory::{DatabaseSpec, Endpoint, Engine};
use wavedeck::lifecycle::Stage;
use wavedeck::secret::SecretRef;
use wavedeck::store::*;

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A store under test and the URL it lives at (for a second handle or raw SQL).
struct TestDb {
    store: Store,
    url: String,
}

impl TestDb {
    /// Run SQL behind the store's back (tampering, damage).
    async fn raw(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }
}

fn unique(purpose: &str) -> String {
    format!(
        "wd_{purpose}_{}_{}",
        std::process::id(),
        rand::random::<u32>()
    )
}

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    let res = tokio::spawn(case(TestDb { store, url })).await;
    drop(dir);
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let name = unique("store");
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let res: Result<(), Box<dyn std::any::Any + Send>> = match Store::open(&url).await {
        Ok(store) => {
            let s2 = store.clone();
            let r = tokio::spawn(case(TestDb { store, url })).await;
            s2.close().await;
            r.map_err(|e| e.into_panic())
        }
        Err(e) => Err(Box::new(format!("cannot open the store: {e}"))),
    };
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(panic) = res {
        std::panic::resume_unwind(panic);
    }
}

/// Each case runs once on SQLite and once on PostgreSQL.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::on_sqlite(super::$case).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::on_postgres(super::$case).await })*
        }
    };
}

suite!(
    append_assigns_seq_and_links_the_chain,
    state_follows_events_and_rebuild_matches,
    edited_event_is_found_by_seq,
    removed_events_are_found,
    commands_are_recorded_and_decided_once,
    malformed_command_rows_are_rejected_with_the_reason,
    lease_is_exclusive_and_expires,
    lag_is_downsampled_and_bounded,
    concurrent_appenders_keep_one_chain,
    killed_appender_leaves_a_verifiable_store,
    another_writer_is_seen_by_the_next_append,
    inventory_import_is_idempotent_and_guards_removal,
    stage_marks_read_their_index_and_an_older_store_gets_it,
    notifications_are_written_with_their_event_once,
    validation_progress_carries_its_limit_and_an_older_store_gets_its_table,
);

impl TestDb {
    /// The plan each backend makes for `Store::stage_marks`, as text.
    async fn stage_marks_plan(&self) -> String {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url).await.unwrap();
        let sql = STAGE_MARKS_SQL.replace("$1", "0");
        let explain = match self.store.backend() {
            Backend::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
            // The tables here are tiny: a scan of the table would win whatever the indexes.
            Backend::Postgres => {
                sqlx::query("SET enable_seqscan = off")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                format!("EXPLAIN {sql}")
            }
        };
        let rows = sqlx::query(&explain).fetch_all(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        rows.iter()
            .map(|r| r.try_get::<String, _>(r.len() - 1).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn spec(id: &str, wave: Option<u32>) -> DatabaseSpec {
    let ep = |host: &str| Endpoint {
        host: host.into(),
        port: 5432,
        database: id.into(),
        user: "migrator".into(),
        password: SecretRef::Env("PG_PASSWORD_X".into()),
    };
    DatabaseSpec::new(id, Engine::Postgres, ep("src.example"), ep("rds.example"))
        .with_version("15")
        .with_size_gb(10.0)
        .with_owner("team-a")
        .with_window("Sat 01:00-05:00 UTC")
        .with_wave(wave)
        .with_tags(["pilot"])
}

fn ev(db: Option<&str>, wave: Option<u32>, kind: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        db_id: db.map(str::to_string),
        wave,
        kind: kind.into(),
        payload,
        actor: "engine".into(),
    }
}

fn registration(id: &str, wave: Option<u32>) -> NewEvent {
    ev(
        Some(id),
        wave,
        kind::DB_REGISTERED,
        json!({"spec": spec(id, wave)}),
    )
}

fn stage(id: &str, from: Stage, to: Stage) -> NewEvent {
    ev(
        Some(id),
        None,
        kind::DB_STAGE,
        json!({"from": from, "to": to}),
    )
}

async fn append_assigns_seq_and_links_the_chain(t: TestDb) {
    let s = &t.store;
    assert_eq!(s.last_seq().await.unwrap(), 0);
    assert!(s.append(&[]).await.unwrap().is_empty());
    let a = s
        .append(&[
            registration("a", Some(0)),
            registration("b", Some(0)),
            stage("a", Stage::Registered, Stage::Prechecks),
        ])
        .await
        .unwrap();
    let b = s
        .append(&[ev(
            None,
            Some(0),
            kind::WAVE_PLANNED,
            json!({"window": "Sat 01:00-05:00 UTC", "z": [1, {"b": 2, "a": 1}]}),
        )])
        .await
        .unwrap();
    assert_eq!(a.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(b[0].seq, 4);
    assert_eq!(a[0].prev_hash, GENESIS_HASH);
    assert_eq!(a[1].prev_hash, a[0].hash);
    assert_eq!(b[0].prev_hash, a[2].hash);
    assert_eq!(s.last_seq().await.unwrap(), 4);
    // Read back exactly as returned by append.
    let all = s.events_after(0, 100).await.unwrap();
    assert_eq!(all, [a.clone(), b.clone()].concat());
    assert_eq!(s.events_after(1, 2).await.unwrap(), a[1..3].to_vec());
    let of_a = s.events_for_db("a").await.unwrap();
    assert_eq!(of_a.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(s.events_for_wave(0).await.unwrap(), b);
    for e in &all {
        assert_eq!(e.compute_hash(), e.hash);
    }
    let report = s.verify_chain().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.checked, report.last_seq), (4, 4));
    // Floats whose shortest text is long still verify after a round trip through the store.
    let floats: Vec<NewEvent> = (0..200)
        .map(|i| {
            ev(
                Some("a"),
                None,
                kind::DB_PROGRESS,
                json!({"pct": f64::from(i) * 1.7 + 0.1 + 1.0 / 3.0}),
            )
        })
        .collect();
    s.append(&floats).await.unwrap();
    assert!(s.verify_chain().await.unwrap().is_ok());
}

async fn state_follows_events_and_rebuild_matches(t: TestDb) {
    let s = &t.store;
    let mut batch: Vec<NewEvent> = (0..30)
        .map(|i| registration(&format!("db{i:02}"), Some(i % 3)))
        .collect();
    batch.push(registration("loose", None));
    s.append(&batch).await.unwrap();
    s.append(&[
        stage("db00", Stage::Registered, Stage::Prechecks),
        stage("db00", Stage::Prechecks, Stage::Provisioning),
        ev(
            Some("db00"),
            None,
            kind::STEP_OUTCOME,
            json!({"step": "create_job", "ok": true, "drs_job_id": "job-00"}),
        ),
        stage("db00", Stage::Provisioning, Stage::FullLoad),
        ev(Some("db00"), None, kind::DB_PROGRESS, json!({"pct": 42.5})),
        stage("db01", Stage::Registered, Stage::Prechecks),
        ev(
            Some("db01"),
            None,
            kind::DB_STAGE,
            json!({"from": "prechecks", "to": "failed", "error": "port 5432 unreachable"}),
        ),
        ev(
            None,
            Some(1),
            kind::WAVE_PLANNED,
            json!({"window": "Sun 02:00-04:00 Europe/Paris"}),
        ),
        ev(None, Some(1), kind::WAVE_APPROVED, json!({"by": "alice"})),
        ev(Some("db02"), None, kind::DB_REMOVED, json!({})),
    ])
    .await
    .unwrap();
    let dbs = s.db_states().await.unwrap();
    assert_eq!(dbs.len(), 30);
    let db00 = s.db_state("db00").await.unwrap().unwrap();
    assert_eq!((db00.stage, db00.progress_pct), (Stage::FullLoad, 42.5));
    assert_eq!(db00.drs_job_id.as_deref(), Some("job-00"));
    let db01 = s.db_state("db01").await.unwrap().unwrap();
    assert_eq!(
        (db01.stage, db01.held_stage),
        (Stage::Failed, Some(Stage::Prechecks))
    );
    assert_eq!(db01.last_error.as_deref(), Some("port 5432 unreachable"));
    assert!(s.db_state("db02").await.unwrap().is_none());
    assert!(s.db_spec("db02").await.unwrap().is_none());
    assert_eq!(
        s.db_spec("db03").await.unwrap().unwrap(),
        spec("db03", Some(0))
    );
    assert_eq!(s.db_specs().await.unwrap().len(), 30);
    let waves = s.wave_states().await.unwrap();
    assert_eq!(
        waves.iter().map(|w| w.wave).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(waves[1].window, "Sun 02:00-04:00 Europe/Paris");
    assert_eq!(waves[1].approved_by.as_deref(), Some("alice"));
    // Only what changed after seq 31 (the registrations).
    let changed: Vec<String> = s
        .db_states_changed_after(31)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.db_id)
        .collect();
    assert_eq!(changed, vec!["db00", "db01"]);
    let counts = |pairs: &[(Stage, i64)]| -> std::collections::BTreeMap<String, i64> {
        pairs
            .iter()
            .map(|(st, n)| (st.as_str().to_string(), *n))
            .collect()
    };
    assert_eq!(
        s.stage_counts(None).await.unwrap(),
        counts(&[
            (Stage::Registered, 28),
            (Stage::FullLoad, 1),
            (Stage::Failed, 1)
        ])
    );
    assert_eq!(
        s.stage_counts(Some(1)).await.unwrap(),
        counts(&[(Stage::Registered, 9), (Stage::Failed, 1)])
    );
    assert!(s.stage_counts(Some(7)).await.unwrap().is_empty());
    assert_eq!(s.count_events(kind::DB_STAGE).await.unwrap(), 5);
    assert_eq!(s.count_events(kind::DB_REGISTERED).await.unwrap(), 31);
    assert_eq!(s.count_events("no.such.kind").await.unwrap(), 0);

    // Incremental state equals the fold of the whole log, in the tables and in memory.
    let all = s.events_after(0, 10_000).await.unwrap();
    let folded = fold::Derived::from_events(&all);
    assert_eq!(dbs, folded.dbs.values().cloned().collect::<Vec<_>>());
    assert_eq!(waves, folded.waves.values().cloned().collect::<Vec<_>>());
    assert_eq!(s.rebuild_state().await.unwrap(), all.len() as i64);
    assert_eq!(s.db_states().await.unwrap(), dbs);
    assert_eq!(s.wave_states().await.unwrap(), waves);
    // Damaged derived tables come back from the events.
    t.raw("DELETE FROM db_state WHERE db_id = 'db05'").await;
    t.raw("UPDATE db_state SET state = 'garbage' WHERE db_id = 'db06'")
        .await;
    t.raw("DELETE FROM wave_state").await;
    assert!(s.db_states().await.is_err());
    s.rebuild_state().await.unwrap();
    assert_eq!(s.db_states().await.unwrap(), dbs);
    assert_eq!(s.wave_states().await.unwrap(), waves);
}

async fn edited_event_is_found_by_seq(t: TestDb) {
    let s = &t.store;
    let batch: Vec<NewEvent> = (0..10)
        .map(|i| registration(&format!("db{i}"), Some(0)))
        .collect();
    s.append(&batch).await.unwrap();
    assert!(s.verify_chain().await.unwrap().is_ok());
    // Edit one field of event 4 (the actor), as someone with SQL access might.
    t.raw("UPDATE events SET actor = 'mallory' WHERE seq = 4")
        .await;
    let r = s.verify_chain().await.unwrap();
    assert_eq!(r.first_break.as_ref().map(|b| b.seq), Some(4), "{r:?}");
    assert_eq!(r.checked, 3);
    t.raw("UPDATE events SET actor = 'engine' WHERE seq = 4")
        .await;
    assert!(s.verify_chain().await.unwrap().is_ok());
    // A payload rewritten into different JSON is found too; one that is not JSON as well.
    t.raw("UPDATE events SET payload = '{\"spec\":null}' WHERE seq = 7")
        .await;
    assert_eq!(s.verify_chain().await.unwrap().first_break.unwrap().seq, 7);
    t.raw("UPDATE events SET payload = 'not json' WHERE seq = 6")
        .await;
    assert_eq!(s.verify_chain().await.unwrap().first_break.unwrap().seq, 6);
}

async fn removed_events_are_found(t: TestDb) {
    let s = &t.store;
    let batch: Vec<NewEvent> = (0..10)
        .map(|i| registration(&format!("db{i}"), None))
        .collect();
    s.append(&batch).await.unwrap();
    t.raw("DELETE FROM events WHERE seq = 5").await;
    let b = s.verify_chain().await.unwrap().first_break.unwrap();
    assert_eq!(b.seq, 5, "{b:?}");
    assert!(b.reason.contains("missing"), "{b:?}");
    // Cutting the tail off is found through the chain head.
    t.raw("DELETE FROM events WHERE seq >= 5").await;
    let b = s.verify_chain().await.unwrap().first_break.unwrap();
    assert_eq!(b.seq, 5, "{b:?}");
}

async fn commands_are_recorded_and_decided_once(t: TestDb) {
    let s = &t.store;
    s.append(&[registration("a", Some(0))]).await.unwrap();
    let c1 = s
        .submit_command(&NewCommand {
            who: "alice".into(),
            role: Role::Operator,
            action: Action::ApproveWindow,
            target: Target::Wave(0),
            args: json!({"note": "change CHG-1"}),
        })
        .await
        .unwrap();
    let c2 = s
        .submit_command(&NewCommand {
            who: "bob".into(),
            role: Role::Viewer,
            action: Action::Cutover,
            target: Target::Db("a".into()),
            args: json!({}),
        })
        .await
        .unwrap();
    assert_eq!(c1.status, CommandStatus::Pending);
    assert_eq!(c1.args, json!({"note": "change CHG-1"}));
    assert!(c2.id > c1.id);
    assert_eq!(
        s.pending_commands().await.unwrap(),
        vec![c1.clone(), c2.clone()]
    );

    let (done, events) = s
        .decide_command(
            c1.id,
            &Decision::Accepted,
            "engine@host",
            &[ev(
                None,
                Some(0),
                kind::WAVE_APPROVED,
                json!({"by": "alice"}),
            )],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, CommandStatus::Accepted);
    assert!(done.decided_at.is_some());
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, kind::COMMAND_ACCEPTED);
    assert_eq!(events[0].actor, "alice");
    assert_eq!(events[0].payload["command_id"], json!(c1.id));
    assert_eq!(events[0].wave, Some(0));
    assert_eq!(
        s.wave_states().await.unwrap()[0].approved_by.as_deref(),
        Some("alice")
    );
    // Already decided: nothing happens.
    let seq = s.last_seq().await.unwrap();
    assert!(s
        .decide_command(c1.id, &Decision::Rejected("late".into()), "x", &[])
        .await
        .unwrap()
        .is_none());
    assert!(s
        .decide_command(9999, &Decision::Accepted, "x", &[])
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.last_seq().await.unwrap(), seq);

    let (rej, events) = s
        .decide_command(
            c2.id,
            &Decision::Rejected("viewers cannot cut over".into()),
            "engine",
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rej.reason.as_deref(), Some("viewers cannot cut over"));
    assert_eq!(events[0].kind, kind::COMMAND_REJECTED);
    assert_eq!(events[0].db_id.as_deref(), Some("a"));
    assert!(s.pending_commands().await.unwrap().is_empty());
    let recent = s.recent_commands(10).await.unwrap();
    assert_eq!(
        recent.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![c2.id, c1.id]
    );
    assert_eq!(recent[0].status, CommandStatus::Rejected);
    assert_eq!(s.command(c1.id).await.unwrap().unwrap(), done);
    assert!(s.verify_chain().await.unwrap().is_ok());
}

async fn malformed_command_rows_are_rejected_with_the_reason(t: TestDb) {
    let s = &t.store;
    s.append(&[registration("a", Some(0))]).await.unwrap();
    // Written behind wavedeck's back: a time in milliseconds, an action it does not know.
    t.raw("INSERT INTO commands (time, who, role, action, target, args, status) VALUES \
           ('1764669600000', 'mallory', 'operator', 'approve_window', '{\"wave\":0}', '{}', 'pending')")
        .await;
    t.raw("INSERT INTO commands (time, who, role, action, target, args, status) VALUES \
           ('2026-12-02T10:00:00.000000Z', 'mallory', 'operator', 'drop_everything', '{\"db\":\"a\"}', '{}', 'pending')")
        .await;
    let good = s
        .submit_command(&NewCommand {
            who: "alice".into(),
            role: Role::Operator,
            action: Action::ApproveWindow,
            target: Target::Wave(0),
            args: json!({}),
        })
        .await
        .unwrap();
    // The readable command is still read; the others do not make the read fail.
    assert_eq!(s.pending_commands().await.unwrap(), vec![good.clone()]);
    assert_eq!(s.recent_commands(10).await.unwrap(), vec![good.clone()]);
    let events = s.reject_malformed_commands("engine").await.unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|e| e.kind == kind::COMMAND_REJECTED));
    let why: Vec<&str> = events
        .iter()
        .map(|e| e.payload["reason"].as_str().unwrap())
        .collect();
    assert!(
        why[0].contains("time \"1764669600000\" is not in the store's format"),
        "{}",
        why[0]
    );
    assert!(
        why[1].contains("action \"drop_everything\" is unknown"),
        "{}",
        why[1]
    );
    assert_eq!(events[0].wave, Some(0));
    assert_eq!(events[1].db_id.as_deref(), Some("a"));
    assert_eq!(events[1].actor, "mallory");
    // Decided once: a second pass finds nothing, the good command is untouched.
    assert!(s
        .reject_malformed_commands("engine")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(s.pending_commands().await.unwrap(), vec![good]);
    assert!(s.verify_chain().await.unwrap().is_ok());
}

async fn lease_is_exclusive_and_expires(t: TestDb) {
    let s = &t.store;
    let other = Store::open(&t.url).await.unwrap();
    let ttl = StdDuration::from_secs(30);
    assert_eq!(s.lease_holder().await.unwrap(), None);
    assert!(s.try_acquire_lease("engine-a", ttl).await.unwrap());
    assert!(!other.try_acquire_lease("engine-b", ttl).await.unwrap());
    assert!(
        s.try_acquire_lease("engine-a", ttl).await.unwrap(),
        "re-acquiring our own lease"
    );
    assert!(s.renew_lease("engine-a", ttl).await.unwrap());
    assert!(!other.renew_lease("engine-b", ttl).await.unwrap());
    let held = other.lease_holder().await.unwrap().unwrap();
    assert_eq!(held.holder, "engine-a");
    assert!(held.expires_at > Utc::now());
    assert!(!other.release_lease("engine-b").await.unwrap());
    assert!(s.release_lease("engine-a").await.unwrap());
    assert_eq!(s.lease_holder().await.unwrap(), None);
    assert!(other
        .try_acquire_lease("engine-b", StdDuration::from_millis(1))
        .await
        .unwrap());
    // engine-b dies without renewing: once expired, engine-a takes over and b cannot renew.
    tokio::time::sleep(StdDuration::from_millis(20)).await;
    assert_eq!(s.lease_holder().await.unwrap(), None);
    assert!(s.try_acquire_lease("engine-a", ttl).await.unwrap());
    assert!(!other.renew_lease("engine-b", ttl).await.unwrap());
    assert_eq!(
        other.lease_holder().await.unwrap().unwrap().holder,
        "engine-a"
    );
    other.close().await;
}

async fn lag_is_downsampled_and_bounded(t: TestDb) {
    let s = &t.store;
    let now = Utc::now();
    let minute_start = |m: i64| {
        let t = now - Duration::minutes(m);
        t - Duration::seconds(t.timestamp().rem_euclid(60))
            - Duration::nanoseconds(t.timestamp_subsec_nanos().into())
    };
    // Two days ago (dropped), 30 minutes ago (folded: max kept), and the last minutes (raw).
    let old = minute_start(60 * 48);
    let mid = minute_start(30);
    let samples = vec![
        ("a".to_string(), old + Duration::seconds(5), 99.0),
        ("a".to_string(), mid + Duration::seconds(1), 3.0),
        ("a".to_string(), mid + Duration::seconds(20), 7.5),
        ("a".to_string(), mid + Duration::seconds(40), 1.0),
        ("a".to_string(), now - Duration::seconds(90), 2.0),
        ("a".to_string(), now - Duration::seconds(30), 0.5),
        ("b".to_string(), now - Duration::seconds(30), 9.0),
    ];
    s.record_lags(&samples).await.unwrap();
    s.record_lag("a", now - Duration::seconds(10), 0.25)
        .await
        .unwrap();
    s.compact_lag(now).await.unwrap();
    let a = s.lag_series("a").await.unwrap();
    let vals: Vec<f64> = a.iter().map(|p| p.1).collect();
    assert_eq!(vals, vec![7.5, 2.0, 0.5, 0.25], "{a:?}");
    assert_eq!(a[0].0.timestamp(), mid.timestamp());
    assert_eq!(s.lag_series("b").await.unwrap().len(), 1);
    // A later sample in an already folded minute keeps the worst value.
    s.record_lag("a", mid + Duration::seconds(50), 12.0)
        .await
        .unwrap();
    s.compact_lag(now).await.unwrap();
    assert_eq!(s.lag_series("a").await.unwrap()[0].1, 12.0);
    assert!(s.lag_series("nobody").await.unwrap().is_empty());
    // db.lag events record samples too (the last one per database of a batch).
    let appended = s
        .append(&[
            ev(Some("c"), None, kind::DB_LAG, json!({"lag_s": 4.0})),
            ev(Some("c"), None, kind::DB_LAG, json!({"lag_s": 1.5})),
            ev(Some("d"), None, kind::DB_LAG, json!({"lag_s": "fast"})),
        ])
        .await
        .unwrap();
    assert_eq!(
        s.lag_series("c").await.unwrap(),
        vec![(appended[0].time, 1.5)]
    );
    assert!(s.lag_series("d").await.unwrap().is_empty());
    // Samples given beside events go in with them; alone, they are still recorded.
    let t1 = now - Duration::seconds(5);
    let appended = s
        .append_with_lags(
            &[ev(Some("e"), None, kind::DB_PROGRESS, json!({"pct": 10.0}))],
            &[("e".to_string(), t1, 3.0), ("f".to_string(), t1, f64::NAN)],
        )
        .await
        .unwrap();
    assert_eq!(appended.len(), 1);
    assert_eq!(s.lag_series("e").await.unwrap().len(), 1);
    assert!(s.lag_series("f").await.unwrap().is_empty());
    let none = s
        .append_with_lags(&[], &[("g".to_string(), t1, 2.0)])
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(s.lag_series("g").await.unwrap()[0].1, 2.0);
}

async fn concurrent_appenders_keep_one_chain(t: TestDb) {
    let mut tasks = vec![];
    for w in 0..4 {
        let store = Store::open(&t.url).await.unwrap();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let batch: Vec<NewEvent> = (0..8)
                    .map(|j| registration(&format!("w{w}-{i}-{j}"), Some(w)))
                    .collect();
                store.append(&batch).await.unwrap();
            }
            store.close().await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let s = &t.store;
    assert_eq!(s.last_seq().await.unwrap(), 4 * 25 * 8);
    let r = s.verify_chain().await.unwrap();
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(s.db_states().await.unwrap().len(), 800);
    assert_eq!(s.wave_states().await.unwrap().len(), 4);
    let all = s.events_after(0, u32::MAX).await.unwrap();
    let folded = fold::Derived::from_events(&all);
    assert_eq!(
        s.db_states().await.unwrap(),
        folded.dbs.values().cloned().collect::<Vec<_>>()
    );
}

/// A writer keeps derived state between its appends; another writer's append in between must
/// not be overwritten by that stale copy.
async fn another_writer_is_seen_by_the_next_append(t: TestDb) {
    let a = &t.store;
    let b = Store::open(&t.url).await.unwrap();
    a.append(&[registration("x", Some(0))]).await.unwrap();
    a.append(&[stage("x", Stage::Registered, Stage::Prechecks)])
        .await
        .unwrap();
    b.append(&[stage("x", Stage::Prechecks, Stage::Provisioning)])
        .await
        .unwrap();
    b.append(&[ev(None, Some(0), kind::WAVE_APPROVED, json!({"by": "bob"}))])
        .await
        .unwrap();
    a.append(&[ev(Some("x"), None, kind::DB_PROGRESS, json!({"pct": 5.0}))])
        .await
        .unwrap();
    a.append(&[ev(None, Some(0), kind::WAVE_STARTED, json!({}))])
        .await
        .unwrap();
    let x = a.db_state("x").await.unwrap().unwrap();
    assert_eq!((x.stage, x.progress_pct), (Stage::Provisioning, 5.0));
    let w = &a.wave_states().await.unwrap()[0];
    assert_eq!(w.approved_by.as_deref(), Some("bob"));
    assert!(w.started_at.is_some());
    // And after a rebuild, appends go on from the rebuilt state.
    b.rebuild_state().await.unwrap();
    b.append(&[stage("x", Stage::Provisioning, Stage::FullLoad)])
        .await
        .unwrap();
    a.append(&[ev(Some("x"), None, kind::DB_PROGRESS, json!({"pct": 9.0}))])
        .await
        .unwrap();
    let x = b.db_state("x").await.unwrap().unwrap();
    assert_eq!((x.stage, x.progress_pct), (Stage::FullLoad, 9.0));
    b.close().await;
}

/// A `wavedeck bench store` child appending to the store is killed with SIGKILL at an
/// arbitrary moment, three times; each time the store must open, verify, and match its events.
async fn killed_appender_leaves_a_verifiable_store(t: TestDb) {
    let s = &t.store;
    for round in 0..3u64 {
        let start = s.last_seq().await.unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
            .args([
                "bench",
                "store",
                "--events",
                "100000000",
                "--batch",
                "300",
                "--dbs",
                "50",
            ])
            .args(["--url", &t.url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + StdDuration::from_secs(120);
        while s.last_seq().await.unwrap() < start + 1500 {
            assert!(
                std::time::Instant::now() < deadline,
                "the child appends nothing"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the child exited early"
            );
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
        tokio::time::sleep(StdDuration::from_millis(rand::random::<u64>() % 40 + round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let reopened = Store::open(&t.url).await.unwrap();
        let report = reopened.verify_chain().await.unwrap();
        assert!(report.is_ok(), "round {round}: {report:?}");
        assert!(report.last_seq > start + 1500);
        let states = reopened.db_states().await.unwrap();
        assert_eq!(states.len(), 50);
        let all = reopened.events_after(0, u32::MAX).await.unwrap();
        let folded = fold::Derived::from_events(&all);
        assert_eq!(states, folded.dbs.values().cloned().collect::<Vec<_>>());
        // And it goes on: appends after the crash extend the same chain.
        reopened
            .append(&[stage("bench-0001", Stage::Cdc, Stage::Validation)])
            .await
            .unwrap();
        assert!(reopened.verify_chain().await.unwrap().is_ok());
        reopened.close().await;
    }
}

async fn inventory_import_is_idempotent_and_guards_removal(t: TestDb) {
    let s = &t.store;
    let specs: Vec<DatabaseSpec> = (0..5).map(|i| spec(&format!("db{i}"), Some(1))).collect();
    let r = s.register_inventory(&specs, "alice", false).await.unwrap();
    assert_eq!(r.added.len(), 5);
    assert_eq!(r.waves_planned, vec![1]);
    assert_eq!(r.events.len(), 6);
    assert_eq!(
        s.wave_states().await.unwrap()[0].window,
        "Sat 01:00-05:00 UTC"
    );
    let seq = s.last_seq().await.unwrap();
    // Same inventory again: nothing appended.
    let r = s.register_inventory(&specs, "alice", false).await.unwrap();
    assert!(!r.changed() && r.events.is_empty(), "{r:?}");
    assert_eq!(r.unchanged, 5);
    assert_eq!(s.last_seq().await.unwrap(), seq);
    // One change is recorded with its field.
    let mut changed = specs.clone();
    changed[2].target.host = "rds-new.example".into();
    let r = s.register_inventory(&changed, "bob", false).await.unwrap();
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].kind, kind::DB_UPDATED);
    assert_eq!(r.events[0].actor, "bob");
    assert_eq!(r.events[0].payload["changes"][0]["field"], "target.host");
    assert_eq!(
        s.db_spec("db2").await.unwrap().unwrap().target.host,
        "rds-new.example"
    );
    // db0 moves on; db0 and db1 leave the inventory.
    s.append(&[stage("db0", Stage::Registered, Stage::Prechecks)])
        .await
        .unwrap();
    let rest = changed[2..].to_vec();
    let r = s.register_inventory(&rest, "bob", false).await.unwrap();
    assert_eq!(r.kept_missing, vec!["db0", "db1"]);
    assert!(r.events.is_empty());
    let seq = s.last_seq().await.unwrap();
    let err = s
        .register_inventory(&rest, "bob", true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("db0") && err.contains("prechecks") && err.contains("nothing was changed"),
        "{err}"
    );
    assert!(!err.contains("db1"), "{err}");
    assert_eq!(s.last_seq().await.unwrap(), seq);
    assert_eq!(s.db_states().await.unwrap().len(), 5);
    // With db0 back in the list, db1 (still registered) can go.
    let mut keep = rest.clone();
    keep.push(changed[0].clone());
    let r = s.register_inventory(&keep, "bob", true).await.unwrap();
    assert_eq!(r.removed, vec!["db1"]);
    assert!(s.db_state("db1").await.unwrap().is_none());
    assert_eq!(s.db_states().await.unwrap().len(), 4);
    assert!(s.verify_chain().await.unwrap().is_ok());
}

/// `wavedeck store grant-viewer ROLE` on a real PostgreSQL store: before, the role reads
/// nothing; after, it reads everything the cockpit reads, and PostgreSQL itself refuses its
/// command rows and events (42501 insufficient_privilege), whatever client it uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_viewer_lets_a_role_read_and_refuses_its_writes() {
    let name = unique("viewer");
    let role = format!("{name}_lead");
    let mut admin = sqlx::PgConnection::connect(PG_ADMIN)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run scripts/services)");
    for sql in [
        format!("CREATE DATABASE {name}"),
        format!("CREATE ROLE {role} LOGIN"),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    let owner_url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let viewer_url = format!("postgres://{role}@127.0.0.1:5432/{name}");
    let res = tokio::spawn({
        let (owner_url, viewer_url, role) = (owner_url.clone(), viewer_url.clone(), role.clone());
        async move { viewer_case(&owner_url, &viewer_url, &role).await }
    })
    .await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    let _ = sqlx::query(&format!("DROP ROLE IF EXISTS {role}"))
        .execute(&mut admin)
        .await;
    if let Err(e) = res {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn insufficient_privilege(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42501")
}

async fn viewer_case(owner_url: &str, viewer_url: &str, role: &str) {
    let owner = Store::open(owner_url).await.unwrap();
    owner
        .register_inventory(&[spec("pay-01", Some(0))], "alice", false)
        .await
        .unwrap();
    let cmd = |who: &str| NewCommand {
        who: who.into(),
        role: Role::Operator,
        action: Action::StartWave,
        target: Target::Wave(0),
        args: serde_json::Value::Null,
    };
    owner.submit_command(&cmd("alice")).await.unwrap();

    // Before the grant the role reads nothing.
    let before = Store::open_existing(viewer_url).await;
    assert!(before.is_err(), "a role with no grant opened the store");

    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wavedeck"))
            .arg("--store")
            .arg(owner_url)
            .args(args)
            .env(
                "WAVEDECK_LOG_DIR",
                std::env::temp_dir().join("wd-viewer-logs"),
            )
            .env_remove("WAVEDECK_CONFIG")
            .output()
            .unwrap()
    };
    let o = run(&["store", "grant-viewer", role]);
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&format!("role {role} may now read")), "{out}");
    // A role that does not exist: named, exit 2.
    let o = run(&["store", "grant-viewer", "no_such_role_wd"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));

    // Everything the cockpit reads.
    let viewer = Store::open_existing(viewer_url).await.unwrap();
    assert_eq!(viewer.db_states().await.unwrap().len(), 1);
    assert_eq!(viewer.db_states_changed_after(0).await.unwrap().len(), 1);
    assert!(!viewer.wave_states().await.unwrap().is_empty());
    assert!(!viewer.events_after(0, 100).await.unwrap().is_empty());
    assert!(!viewer.events_for_db("pay-01").await.unwrap().is_empty());
    assert!(viewer.last_seq().await.unwrap() > 0);
    assert!(viewer.lag_series("pay-01").await.unwrap().is_empty());
    assert_eq!(viewer.lease_holder().await.unwrap(), None);
    assert_eq!(viewer.recent_commands(10).await.unwrap().len(), 1);
    assert!(viewer.verify_chain().await.unwrap().is_ok());

    // Its writes are PostgreSQL's to refuse.
    match viewer.submit_command(&cmd("mallory")).await {
        Err(e @ StoreError::Denied { .. }) => {
            let shown = e.to_string();
            assert!(
                shown.contains("permission denied for table commands")
                    && shown.contains("may only read"),
                "{shown}"
            );
        }
        other => panic!("the viewer's command was not refused by PostgreSQL: {other:?}"),
    }
    let mut raw = sqlx::PgConnection::connect(viewer_url).await.unwrap();
    for sql in [
        "INSERT INTO commands (time, who, role, action, target, args, status) \
         VALUES ('2026-01-01 00:00:00.000000', 'mallory', 'operator', 'cutover', 'wave-0', 'null', 'pending')",
        "INSERT INTO events (seq, time, kind, payload, actor, prev_hash, hash) \
         VALUES (999, 't', 'db.stage', '{}', 'mallory', 'x', 'y')",
        "UPDATE commands SET role = 'operator'",
        "DELETE FROM lease",
    ] {
        let e = sqlx::query(sql).execute(&mut raw).await.unwrap_err();
        assert!(insufficient_privilege(&e), "{sql}: {e}");
    }
    raw.close().await.unwrap();
    assert_eq!(owner.recent_commands(10).await.unwrap().len(), 1);
    viewer.close().await;
    owner.close().await;
}

/// `Store::stage_marks` reads the partial index a new store is created with; a store made
/// before it gets it when it is opened (PostgreSQL: also when an interrupted build left it
/// invalid), and opening a store that has it runs no DDL: it succeeds while another
/// connection holds the lock a DDL statement would wait for.
async fn stage_marks_read_their_index_and_an_older_store_gets_it(t: TestDb) {
    let s = &t.store;
    let lag = |id: &str| ev(Some(id), None, kind::DB_LAG, json!({"lag_s": 1.5}));
    s.append(&[
        registration("a", Some(0)),
        stage("a", Stage::Registered, Stage::Prechecks),
        lag("a"),
        lag("a"),
        stage("a", Stage::Prechecks, Stage::Provisioning),
    ])
    .await
    .unwrap();
    let marks = s.stage_marks(0).await.unwrap();
    let seen: Vec<(i64, Stage)> = marks.iter().map(|m| (m.seq, m.to)).collect();
    assert_eq!(seen, vec![(2, Stage::Prechecks), (5, Stage::Provisioning)]);
    assert_eq!(s.stage_marks(2).await.unwrap().len(), 1);
    let plan = t.stage_marks_plan().await;
    assert!(plan.contains("events_stage_by_seq"), "new store: {plan}");

    // A store from before the index.
    t.raw("DROP INDEX events_stage_by_seq").await;
    let plan = t.stage_marks_plan().await;
    assert!(!plan.contains("events_stage_by_seq"), "{plan}");
    let reopened = Store::open(&t.url).await.unwrap();
    let plan = t.stage_marks_plan().await;
    assert!(plan.contains("events_stage_by_seq"), "reopened: {plan}");
    assert_eq!(reopened.stage_marks(0).await.unwrap(), marks);
    reopened.close().await;

    if s.backend() == Backend::Postgres {
        // What a `CREATE INDEX CONCURRENTLY` killed half-way leaves: an index the planner
        // ignores and `IF NOT EXISTS` would keep.
        t.raw("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'events_stage_by_seq'::regclass")
            .await;
        let plan = t.stage_marks_plan().await;
        assert!(!plan.contains("events_stage_by_seq"), "invalid: {plan}");
        Store::open(&t.url).await.unwrap().close().await;
        let plan = t.stage_marks_plan().await;
        assert!(plan.contains("events_stage_by_seq"), "rebuilt: {plan}");
    }

    // Another session holds what DDL on `events` waits for (SQLite: the write lock;
    // PostgreSQL: the lock `CREATE INDEX CONCURRENTLY` takes): opening does not wait.
    let mut holder = sqlx::AnyConnection::connect(&t.url).await.unwrap();
    let hold: &[&str] = match s.backend() {
        Backend::Sqlite => &["BEGIN IMMEDIATE"],
        Backend::Postgres => &["BEGIN", "LOCK TABLE events IN SHARE UPDATE EXCLUSIVE MODE"],
    };
    for sql in hold {
        sqlx::query(sql).execute(&mut holder).await.unwrap();
    }
    let opened = tokio::time::timeout(StdDuration::from_secs(10), Store::open(&t.url))
        .await
        .expect("opening a store that has its indexes must not wait on a lock")
        .unwrap();
    assert_eq!(opened.stage_marks(0).await.unwrap(), marks);
    opened.close().await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
}

/// The outbox: rows for the targets that want an event, written by the append of the event
/// itself (an append whose outbox write fails stores neither), one per (seq, target), kept
/// across handles, due until marked sent and never due after.
async fn notifications_are_written_with_their_event_once(t: TestDb) {
    let s = &t.store;
    let alert = || {
        ev(
            Some("a"),
            None,
            kind::ALERT_RAISED,
            json!({"rule": "lag_high", "value": 40.0, "threshold": 30.0, "what": "CDC lag 40 s"}),
        )
    };
    s.append(&[registration("a", Some(0)), alert()])
        .await
        .unwrap();
    assert!(
        s.outbox().await.unwrap().is_empty(),
        "no router: no outbox rows"
    );

    let cfg: wavedeck::notify::NotifyConfig = serde_yaml::from_str(
        "targets:\n- {name: all, url: 'http://127.0.0.1:9/a'}\n- {name: cutovers, url: 'http://127.0.0.1:9/c', events: [cutover_started]}\n",
    )
    .unwrap();
    s.route_notifications(wavedeck::notify::sender::router(&cfg.resolve().unwrap()));
    let stored = s
        .append(&[
            alert(),
            stage("a", Stage::Cdc, Stage::Validation),
            stage("a", Stage::Ready, Stage::Cutover),
        ])
        .await
        .unwrap();
    let (al, cut) = (stored[0].seq, stored[2].seq);
    let keys = |rows: &[OutboxRow]| -> Vec<(i64, String)> {
        rows.iter().map(|r| (r.seq, r.target.clone())).collect()
    };
    let want = vec![
        (al, "all".to_string()),
        (cut, "all".to_string()),
        (cut, "cutovers".to_string()),
    ];
    let rows = s.outbox().await.unwrap();
    assert_eq!(keys(&rows), want);
    assert!(rows.iter().all(|r| r.attempts == 0 && r.sent_at.is_none()));

    // Same transaction: with the outbox table gone, a notification's event is not stored
    // either, while an event no target wants still is.
    t.raw("DROP TABLE notify_outbox").await;
    let before = s.last_seq().await.unwrap();
    assert!(s.append(&[alert()]).await.is_err());
    assert_eq!(
        s.last_seq().await.unwrap(),
        before,
        "the event went without its outbox row"
    );
    s.append(&[stage("a", Stage::Cutover, Stage::Ready)])
        .await
        .unwrap();
    // Reopening adds the missing table back (empty: the rows dropped with it are gone).
    let s2 = Store::open(&t.url).await.unwrap();
    assert!(s2.outbox().await.unwrap().is_empty());
    let again = s.append(&[alert()]).await.unwrap()[0].seq;
    assert_eq!(
        keys(&s2.outbox().await.unwrap()),
        vec![(again, "all".to_string())]
    );

    // Unsent until sent; a failure records its attempt and moves it later; marked once.
    let now = Utc::now();
    let unsent = s2.outbox_unsent(10).await.unwrap();
    assert!(unsent.len() == 1 && unsent[0].next_at <= now, "{unsent:?}");
    let later = now + Duration::seconds(60);
    s2.outbox_failed(again, "all", 1, later, "HTTP 503")
        .await
        .unwrap();
    let unsent = s2.outbox_unsent(10).await.unwrap();
    assert_eq!(
        (unsent[0].attempts, unsent[0].last_error.as_deref()),
        (1, Some("HTTP 503"))
    );
    // The store keeps microseconds.
    assert!((unsent[0].next_at - later).num_milliseconds().abs() < 1);
    assert!(s2.outbox_sent(again, "all", 2).await.unwrap());
    assert!(
        !s2.outbox_sent(again, "all", 3).await.unwrap(),
        "marked twice"
    );
    assert!(s2.outbox_unsent(10).await.unwrap().is_empty());
    let row = &s.outbox().await.unwrap()[0];
    assert_eq!((row.attempts, row.last_error.as_deref()), (2, None));
    assert!(row.sent_at.is_some());
    s2.close().await;
}

/// A running validation's rows carry the database's rate limit (kept in `validation_limits`,
/// beside them), a run without a limit none; clearing the progress clears it; and a store made
/// before that table gets it when it is opened.
async fn validation_progress_carries_its_limit_and_an_older_store_gets_its_table(t: TestDb) {
    use wavedeck::store::val_progress::{DbProgress, Limit, TableProgress};
    let s = &t.store;
    let row = |db: &str, tbl: &str, limit: Option<Limit>| TableProgress {
        db_id: db.into(),
        table: tbl.into(),
        rows_est: 100,
        rows_done: 40,
        rows_read: 40,
        read_ms: 2_000,
        run_ms: 2_500,
        limited_ms: 1_500,
        limit,
        finished: false,
        updated_at: Utc::now(),
    };
    let held = Limit {
        rows_per_s: 2_000,
        waiting: 0.64,
    };
    let a = vec![
        row("a", "t1", Some(held.clone())),
        row("a", "t2", Some(held.clone())),
    ];
    s.put_validation_progress("final", &a).await.unwrap();
    s.put_validation_progress("final", &[row("b", "t1", None)])
        .await
        .unwrap();
    let running = s.running_validations().await.unwrap();
    let limits: Vec<(&str, Option<&Limit>)> = running
        .iter()
        .map(|r| (r.db_id.as_str(), r.limit.as_ref()))
        .collect();
    assert_eq!(
        limits,
        vec![("a", Some(&held)), ("a", Some(&held)), ("b", None)]
    );
    let d = DbProgress::of(&s.validation_progress_of("a").await.unwrap()).unwrap();
    assert!(d.limit.unwrap().holding());
    assert_eq!(d.limited_ms, 1_500);
    // A later picture without a limit drops it; a cleared run has no rows left.
    s.put_validation_progress("final", &[row("a", "t1", None)])
        .await
        .unwrap();
    let of_a = s.validation_progress_of("a").await.unwrap();
    assert!(of_a.iter().all(|r| r.limit.is_none()), "{of_a:?}");
    s.put_validation_progress("final", &a).await.unwrap();
    s.clear_validation_progress("a", "final").await.unwrap();
    assert!(s.validation_progress_of("a").await.unwrap().is_empty());

    // An older store: no validation_limits. Opened again, it has it back, and works.
    t.raw("DROP TABLE validation_limits").await;
    assert!(s.running_validations().await.is_err());
    let s2 = Store::open(&t.url).await.unwrap();
    s2.put_validation_progress("final", &a).await.unwrap();
    let of_a = s2.validation_progress_of("a").await.unwrap();
    assert_eq!(of_a.len(), 2);
    assert!(of_a.iter().all(|r| r.limit.as_ref() == Some(&held)));
    s2.close().await;
}
