//! From the real producers to the cockpit's detail view: the engine's own SQL steps run against
//! real PostgreSQL and MariaDB databases with a seeded difference (or a seeded pre-check
//! failure), the brain writes its events, the store folds them, and the detail view must name
//! what failed: the table, the rows on each side and the differing key; the check and the
//! statement that fixes it; the DRS job's status as DRS reported it.

mod common;

use chrono::Utc;
use futures::future::BoxFuture;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use sqlx::Executor;
use wavedeck::checks::Status;
use wavedeck::config::{ChecksMode, Config};
use wavedeck::engine::brain::{
    Brain, EffectStep, LookKind, Seed, Seen, Settings, Work, WorkResult,
};
use wavedeck::inventory::{DatabaseSpec, Engine};
use wavedeck::lifecycle::Stage;
use wavedeck::store::{Event, Store};
use wavedeck::tui::app::App;
use wavedeck::tui::data::{Data, FeedUpdate};
use wavedeck::tui::theme::Theme;
use wavedeck::tui::views::render;
use wavedeck::validate::ValidationReport;

use common::validation::{self as shared, Pair};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MY_ADMIN: &str = "mysql://root@127.0.0.1:3306/mysql";

const SETUP: &str = "CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40), balance INT);
INSERT INTO accounts VALUES (1, 'ada', 10), (2, 'bob', 20), (3, 'cy', 30), (4, 'di', 40);";

async fn exec(engine: Engine, db: &str, sql: &str) {
    match engine {
        Engine::Postgres => {
            let p = sqlx::PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{db}"))
                .await
                .expect("PostgreSQL on 127.0.0.1:5432");
            sqlx::raw_sql(sql).execute(&p).await.unwrap();
            p.close().await;
        }
        Engine::Mysql => {
            let p = sqlx::MySqlPool::connect(&format!("mysql://root@127.0.0.1:3306/{db}"))
                .await
                .expect("MariaDB on 127.0.0.1:3306");
            sqlx::raw_sql(sql).execute(&p).await.unwrap();
            p.close().await;
        }
    }
}

async fn admin(engine: Engine, sql: String) {
    match engine {
        Engine::Postgres => {
            let p = sqlx::PgPool::connect(PG_ADMIN).await.unwrap();
            p.execute(sql.as_str()).await.unwrap();
            p.close().await;
        }
        Engine::Mysql => {
            let p = sqlx::MySqlPool::connect(MY_ADMIN).await.unwrap();
            p.execute(sql.as_str()).await.unwrap();
            p.close().await;
        }
    }
}

async fn with_pair<F, Fut>(engine: Engine, tag: &str, body: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let create = move |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            admin(engine, format!("CREATE DATABASE {db}")).await;
            exec(engine, &db, SETUP).await;
        })
    };
    let drop = move |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let sql = match engine {
                Engine::Postgres => format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                Engine::Mysql => format!("DROP DATABASE IF EXISTS {db}"),
            };
            admin(engine, sql).await;
        })
    };
    shared::with_pair(tag, create, drop, body).await
}

fn config(dir: &std::path::Path) -> Config {
    let mut cfg = Config {
        store: format!("sqlite://{}", dir.join("store.db").display()),
        ..Default::default()
    };
    cfg.engine.checks = ChecksMode::Sql;
    cfg
}

fn seed(spec: &DatabaseSpec, stage: Stage) -> Seed {
    Seed {
        db_id: spec.db_id.clone(),
        wave: spec.wave,
        criticality: spec.criticality,
        size_gb: spec.size_gb,
        business_window: spec.business_window.clone(),
        max_lag_s: spec.overrides.max_cutover_lag_s,
        stage,
        held: None,
        job: Some("job-0001".into()),
        mode: spec.mode,
    }
}

fn work(db: &str, step: EffectStep) -> Work {
    Work {
        db: db.into(),
        step,
        attempt: 0,
        job: Some("job-0001".into()),
        resumed: false,
        blockers: vec![],
    }
}

/// The store as the engine leaves it: the inventory registered, then the brain's events
/// appended. Returns the database's events as stored.
async fn store_with(cfg: &Config, spec: &DatabaseSpec, brain: &mut Brain) -> (Store, Vec<Event>) {
    let store = Store::open(&cfg.store).await.unwrap();
    store
        .register_inventory(std::slice::from_ref(spec), "test", false)
        .await
        .unwrap();
    store.append(&brain.take_events()).await.unwrap();
    let events = store.events_for_db(&spec.db_id).await.unwrap();
    (store, events)
}

/// The detail view of `db` as the cockpit draws it from the store, one string per row.
async fn detail_screen(store: &Store, db: &str) -> String {
    detail_screen_at(store, db, 200, 60).await
}

async fn detail_screen_at(store: &Store, db: &str, w: u16, h: u16) -> String {
    let mut data = Data::default();
    data.apply(FeedUpdate {
        dbs: Some(store.db_states().await.unwrap()),
        waves: Some(store.wave_states().await.unwrap()),
        history: Some((db.to_string(), store.events_for_db(db).await.unwrap())),
        events: store.events_after(0, 10_000).await.unwrap(),
        commands: Some(vec![]),
        ..Default::default()
    });
    let th = Theme::load("dark", true, false).unwrap();
    let mut app = App::new(data, th, false, Utc::now());
    app.open_detail(db);
    app.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(&app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

async fn validation_names_table_rows_and_key(engine: Engine) {
    with_pair(engine, "detail_val", move |p| async move {
        // The seeded difference: one changed row, one row missing on the target.
        exec(
            engine,
            &p.tgt,
            "UPDATE accounts SET balance = 999 WHERE id = 3; DELETE FROM accounts WHERE id = 4;",
        )
        .await;
        let user = match engine {
            Engine::Postgres => "postgres",
            Engine::Mysql => "root",
        };
        let spec = shared::spec(engine, &p, user);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        // The engine's gate runs live while the DRS job replicates. Here nothing replicates:
        // PostgreSQL live mode follows DRS's logical slot (this server, wal_level replica,
        // cannot have one), and two MariaDB databases on one server with no replication between
        // them would wait for a marker row that never arrives (the live gate's fallback when
        // the target does not replicate from the source). So both run the gate in final mode
        // (as at cutover, writes drained) and hand its report to the brain as the step does.
        let opts = wavedeck::validate::ValidateOptions {
            mode: wavedeck::validate::Mode::Final,
            ..Default::default()
        };
        let rb = wavedeck::validate::Runbook::builtin(engine);
        let r = wavedeck::validate::run_validation(&spec, &rb, &opts).await;
        let result = WorkResult::Ok {
            job: None,
            report: Some(wavedeck::engine::effects::checks::validation_report(&r)),
            recovered: false,
        };
        let report = match &result {
            WorkResult::Ok {
                report: Some(r), ..
            } => r.clone(),
            other => panic!("validation step returned {other:?}"),
        };
        assert!(
            !report.passed,
            "the seeded difference must fail: {report:?}"
        );
        let typed: ValidationReport = serde_json::from_value(report.detail.clone()).unwrap();
        let bad = typed
            .tables
            .iter()
            .find(|t| !t.passed)
            .expect("a failed table");
        let key = &bad.differences.first().expect("a differing key").key;

        let mut brain = Brain::new(Settings::from_config(&cfg), 1);
        brain.load(vec![seed(&spec, Stage::Validation)], vec![], &[]);
        brain.on_work(
            &work(&spec.db_id, EffectStep::SqlValidate),
            result,
            0.0,
            Utc::now(),
        );
        let (store, _) = store_with(&cfg, &spec, &mut brain).await;
        let screen = detail_screen(&store, &spec.db_id).await;
        let line = screen
            .lines()
            .find(|l| l.contains(&bad.table))
            .unwrap_or_else(|| panic!("no line names table {}:\n{screen}", bad.table));
        assert!(
            line.contains(&format!("{}/{}", bad.rows_source, bad.rows_target))
                || line.contains(&format!("{} / {}", bad.rows_source, bad.rows_target)),
            "rows of each side ({} / {}) on the table's line: {line}",
            bad.rows_source,
            bad.rows_target
        );
        assert!(
            screen.contains(key.as_str()),
            "the differing key {key} is on screen:\n{screen}"
        );
        if let Some(at) = &bad.compared_at {
            assert!(line.contains(at.as_str()), "compared at {at}: {line}");
        }
    })
    .await;
}

async fn precheck_names_check_and_fix(engine: Engine) {
    with_pair(engine, "detail_pre", move |p| async move {
        // The seeded failure: a login without rights on the source.
        let role = shared::unique("norights");
        match engine {
            Engine::Postgres => admin(engine, format!("CREATE ROLE {role} LOGIN")).await,
            Engine::Mysql => admin(engine, format!("CREATE USER '{role}'@'127.0.0.1'")).await,
        }
        let spec = shared::spec(engine, &p, &role);
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let store = wavedeck::store::Store::open(&cfg.store).await.unwrap();
        let result = wavedeck::engine::effects::checks::run(
            &cfg,
            &store,
            // No rds_instance_id in this inventory: the exposure check asks no API.
            &wavedeck::drs::Auth::aksk("unused", "unused"),
            Some(&spec),
            EffectStep::SqlPrecheck,
        )
        .await;
        match engine {
            Engine::Postgres => admin(engine, format!("DROP ROLE {role}")).await,
            Engine::Mysql => admin(engine, format!("DROP USER '{role}'@'127.0.0.1'")).await,
        }
        let report = match &result {
            WorkResult::Ok {
                report: Some(r), ..
            } => r.clone(),
            other => panic!("pre-check step returned {other:?}"),
        };
        assert!(!report.passed, "a login without rights fails: {report:?}");
        let checks: Vec<wavedeck::checks::CheckResult> =
            serde_json::from_value(report.detail.clone()).unwrap();
        let failed: Vec<_> = checks
            .iter()
            .filter(|c| c.status == Status::Fail && c.fix.is_some())
            .collect();
        assert!(!failed.is_empty(), "{checks:#?}");

        let mut brain = Brain::new(Settings::from_config(&cfg), 1);
        brain.load(vec![seed(&spec, Stage::Prechecks)], vec![], &[]);
        brain.on_work(
            &work(&spec.db_id, EffectStep::SqlPrecheck),
            result,
            0.0,
            Utc::now(),
        );
        // DRS's own pre-check always runs too: its half, all passed, through the engine's
        // reader of DRS's answer.
        let drs = wavedeck::drs::model::PrecheckResult {
            result: true,
            process: "100%".into(),
            total_passed_rate: "100%".into(),
            ..Default::default()
        };
        let seen = wavedeck::engine::precheck_seen(
            &wavedeck::drs::model::JobId("job-0001".into()),
            Some(&drs),
        )
        .unwrap();
        brain.on_seen(&spec.db_id, LookKind::Precheck, seen, 0.0, Utc::now());
        let (store, _) = store_with(&cfg, &spec, &mut brain).await;
        let screen = detail_screen(&store, &spec.db_id).await;
        // The first failures (failures are listed first) with their fixing statements.
        let first = failed.first().unwrap();
        assert!(
            screen.contains(&first.name),
            "check {} on screen:\n{screen}",
            first.name
        );
        let fix: String = first.fix.as_deref().unwrap().chars().take(40).collect();
        assert!(
            screen.contains(&fix),
            "its fix {fix:?} on screen:\n{screen}"
        );
    })
    .await;
}

#[tokio::test]
async fn pg_validation_failure_names_table_rows_and_key() {
    validation_names_table_rows_and_key(Engine::Postgres).await;
}

#[tokio::test]
async fn mysql_validation_failure_names_table_rows_and_key() {
    validation_names_table_rows_and_key(Engine::Mysql).await;
}

#[tokio::test]
async fn pg_precheck_failure_names_check_and_fix() {
    precheck_names_check_and_fix(Engine::Postgres).await;
}

#[tokio::test]
async fn mysql_precheck_failure_names_check_and_fix() {
    precheck_names_check_and_fix(Engine::Mysql).await;
}

/// The DRS job status on the detail view is the one DRS reported last, whatever the stage.
#[tokio::test]
async fn detail_shows_drs_job_status_as_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let spec = shared::spec(
        Engine::Postgres,
        &Pair {
            src: "src_db".into(),
            tgt: "tgt_db".into(),
        },
        "postgres",
    );
    let mut brain = Brain::new(Settings::from_config(&cfg), 1);
    brain.load(vec![seed(&spec, Stage::FullLoad)], vec![], &[]);
    let job = |status: &str, pct: f64| Seen::Job {
        status: wavedeck::drs::model::JobStatus::parse(status),
        progress_pct: Some(pct),
        lag_s: None,
    };
    brain.on_seen(
        &spec.db_id,
        LookKind::Job,
        job("FULL_TRANSFER_STARTED", 40.0),
        1.0,
        Utc::now(),
    );
    let (store, _) = store_with(&cfg, &spec, &mut brain).await;
    let screen = detail_screen(&store, &spec.db_id).await;
    let line = screen.lines().find(|l| l.contains("DRS status")).unwrap();
    assert!(line.contains("FULL_TRANSFER_STARTED"), "{line}");
    // A later status replaces it.
    brain.on_seen(
        &spec.db_id,
        LookKind::Job,
        job("INCRE_TRANSFER_STARTED", 100.0),
        2.0,
        Utc::now(),
    );
    store.append(&brain.take_events()).await.unwrap();
    let screen = detail_screen(&store, &spec.db_id).await;
    let line = screen.lines().find(|l| l.contains("DRS status")).unwrap();
    assert!(line.contains("INCRE_TRANSFER_STARTED"), "{line}");
    // The status comes before the 36-character job id, so a narrow terminal still shows it.
    let narrow = detail_screen_at(&store, &spec.db_id, 80, 24).await;
    let line = narrow.lines().find(|l| l.contains("DRS status")).unwrap();
    assert!(line.contains("INCRE_TRANSFER_STARTED"), "{narrow}");
}
