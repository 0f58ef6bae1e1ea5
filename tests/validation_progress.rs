//! A running validation's progress as the real validator writes it to the store, on the real
//! local PostgreSQL and MariaDB (one body, both engines): rows done out of the exact estimate,
//! rising until every table is done, the measured rate kept for `wavedeck plan`, and the
//! cockpit's Databases and detail views drawn from those rows.

mod common;

use common::validation::{self as shared, my_exec, pg_exec, Pair};
use futures::future::BoxFuture;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Duration;
use wavedeck::inventory::Engine;
use wavedeck::store::val_progress::{DbProgress, TableProgress};
use wavedeck::store::Store;
use wavedeck::tui::app::App;
use wavedeck::tui::data::FeedUpdate;
use wavedeck::tui::theme::Theme;
use wavedeck::validate::{run_validation, ValidateOptions};

const BIG: u64 = 600_000;
const SMALL: u64 = 3_000;
/// A database of the cockpit's fixture, so the views have it to draw.
const DB: &str = "crm-main-02";

/// The pair of one engine: `big` (of `big` rows) and `small`, filled alike on both sides.
async fn with_pair<F, Fut>(engine: Engine, big: u64, body: F)
where
    F: FnOnce(Pair) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let create = move |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            match engine {
                Engine::Postgres => {
                    pg_exec("postgres", &format!("CREATE DATABASE {db}")).await;
                    pg_exec(
                        &db,
                        &format!(
                            "CREATE TABLE big (id bigint PRIMARY KEY, v text);
                             INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {big}) g;
                             CREATE TABLE small (id int PRIMARY KEY, v text);
                             INSERT INTO small SELECT g, g::text FROM generate_series(1, {SMALL}) g;"
                        ),
                    )
                    .await;
                }
                Engine::Mysql => {
                    my_exec("mysql", &format!("CREATE DATABASE {db}")).await;
                    my_exec(
                        &db,
                        &format!(
                            "CREATE TABLE big (id bigint PRIMARY KEY, v text) ENGINE=InnoDB;
                             INSERT INTO big SELECT seq, md5(seq) FROM seq_1_to_{big};
                             CREATE TABLE small (id int PRIMARY KEY, v text) ENGINE=InnoDB;
                             INSERT INTO small SELECT seq, seq FROM seq_1_to_{SMALL};"
                        ),
                    )
                    .await;
                }
            }
        })
    };
    let drop = move |db: String| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            match engine {
                Engine::Postgres => {
                    let sql = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
                    pg_exec("postgres", &sql).await
                }
                Engine::Mysql => my_exec("mysql", &format!("DROP DATABASE IF EXISTS {db}")).await,
            }
        })
    };
    let tag = format!("progress_{}", engine.as_str());
    shared::with_pair(&tag, create, drop, body).await
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    app.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| wavedeck::tui::views::render(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The fixture's cockpit with these progress rows fed in, its clock at `now`.
fn cockpit(rows: &[TableProgress], now: chrono::DateTime<chrono::Utc>) -> App {
    let mut data = wavedeck::tui::fixture::small();
    data.apply(FeedUpdate {
        validations: Some(rows.to_vec()),
        ..Default::default()
    });
    let th = Theme::load("dark", false, false).unwrap();
    App::new(data, th, false, now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_writes_its_progress_and_the_cockpit_shows_it() {
    progress_is_written_and_shown(Engine::Postgres, "detail_validating_first_picture").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_validator_writes_its_progress_and_the_cockpit_shows_it_on_mariadb() {
    progress_is_written_and_shown(Engine::Mysql, "detail_validating_first_picture_mysql").await;
}

/// The whole check, for one engine; `snapshot` names the detail view of the first picture.
async fn progress_is_written_and_shown(engine: Engine, snapshot: &'static str) {
    with_pair(engine, BIG, move |p| async move {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.unwrap();
        let user = match engine {
            Engine::Postgres => "postgres",
            Engine::Mysql => "root",
        };
        let mut spec = shared::spec(engine, &p, user);
        spec.db_id = DB.into();
        let mut rb = shared::runbook(engine);
        // On a quiet machine the unlimited run of BIG ends before the second DbProgress::rate
        // asks for, and no picture shows a rate: held to BIG / 2 rows/s a side, it lasts 2 s.
        rb.validation.max_rows_per_s = BIG / 2;
        let opts = ValidateOptions {
            memory: Some(store.clone()),
            parallelism: Some(2),
            ..Default::default()
        };
        let run = tokio::spawn(async move { run_validation(&spec, &rb, &opts).await });
        // Every picture the cockpit could have read while the run went on.
        let mut seen: Vec<Vec<TableProgress>> = Vec::new();
        while !run.is_finished() {
            let now = store.running_validations().await.unwrap();
            if !now.is_empty() && seen.last() != Some(&now) {
                seen.push(now);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let report = run.await.unwrap();
        assert!(report.passed(), "{:?}", report.errors);

        // The first picture: both tables at 0 of their exact counts.
        let first = seen
            .first()
            .expect("no progress seen while the run went on");
        let est = |rows: &[TableProgress], t: &str| {
            let r = rows.iter().find(|r| r.table.ends_with(t)).unwrap();
            (r.rows_est, r.rows_done)
        };
        assert_eq!(est(first, "big"), (BIG, 0));
        assert_eq!(est(first, "small"), (SMALL, 0));
        // Rows done only rise, and some picture shows the big table part way.
        let done: Vec<u64> = seen
            .iter()
            .map(|rows| DbProgress::of(rows).unwrap().rows_done)
            .collect();
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
        let mid = seen
            .iter()
            .rev()
            .find(|rows| {
                let (e, d) = est(rows, "big");
                d > 0 && d < e && DbProgress::of(rows).unwrap().rate().is_some()
            })
            .cloned();
        // Finished: no longer running, every row done, read by this attempt.
        assert!(store.running_validations().await.unwrap().is_empty());
        let last = store.validation_progress_of(DB).await.unwrap();
        assert!(last.iter().all(|r| r.finished));
        assert_eq!(est(&last, "big"), (BIG, BIG));
        assert_eq!(est(&last, "small"), (SMALL, SMALL));
        let read: u64 = last.iter().map(|r| r.rows_read).sum();
        assert_eq!(read, BIG + SMALL);

        // The measured rate is kept, and the plan takes it for this engine only.
        let rates = store.validation_rates().await.unwrap();
        assert_eq!(rates.len(), 1, "{rates:?}");
        assert_eq!(rates[0].engine, engine.as_str());
        assert!(rates[0].gb_per_hour > 0.0 && rates[0].rows_per_s > 0.0);
        let other = match engine {
            Engine::Postgres => Engine::Mysql,
            Engine::Mysql => Engine::Postgres,
        };
        let mut limits =
            wavedeck::plan::PlanLimits::from_config(&wavedeck::config::Config::default());
        let (constant, _) = limits.validation_rate(other);
        limits.measured_validation = rates.clone();
        assert_eq!(limits.validation_rate(engine), (rates[0].gb_per_hour, 1));
        assert_eq!(limits.validation_rate(other), (constant, 0));

        // The cockpit, from the first picture: its rows as written, moved to the fixture's
        // clock (the one figure the clock decides) two seconds before it.
        let at_fixture: Vec<TableProgress> = first
            .iter()
            .map(|r| TableProgress {
                updated_at: wavedeck::tui::fixture::now() - chrono::Duration::seconds(2),
                ..r.clone()
            })
            .collect();
        let mut app = cockpit(&at_fixture, wavedeck::tui::fixture::now());
        app.open_detail(DB);
        insta::assert_snapshot!(snapshot, screen(&mut app, 120, 40));
        // Mid-run, the database's rate and ETA are the store's figures.
        {
            let mid = mid.expect("no picture caught the big table part way");
            let d = DbProgress::of(&mid).unwrap();
            let mut app = cockpit(&mid, d.updated_at);
            app.open_detail(DB);
            let s = screen(&mut app, 160, 48);
            let rate = format!("{} rows/s", wavedeck::tui::fmt::count(d.rate().unwrap()));
            assert!(s.contains(&rate), "{rate} not in\n{s}");
            let pct = format!("{:.0}%", d.fraction() * 100.0);
            assert!(s.contains(&pct), "{pct} not in\n{s}");
            let mut app = cockpit(&mid, d.updated_at);
            app.view = wavedeck::tui::app::View::Databases;
            let s = screen(&mut app, 160, 48);
            let row = s.lines().find(|l| l.contains(DB)).unwrap();
            assert!(
                row.contains(&format!("{:>4.0}%", d.fraction() * 100.0)),
                "{row}"
            );
        }
        // Interrupted: figures that have not moved for minutes say so, not an ETA.
        let mut app = cockpit(first, first[0].updated_at + chrono::Duration::minutes(5));
        app.open_detail(DB);
        assert!(screen(&mut app, 160, 48).contains("no progress for 5m"));
    })
    .await;
}

/// The cockpit says when `validation.max_rows_per_s` holds a validation back, from what the
/// validator writes: limited to a fifth of the speed the same run had unlimited, its readers
/// wait most of the time. Under load the wait share is noisy: only the cockpit's threshold is
/// asserted, which a limit at a fifth of the natural speed clears by far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cockpit_shows_when_the_rate_limit_holds_validation_back() {
    const ROWS: u64 = 120_000;
    with_pair(Engine::Postgres, ROWS, move |p| async move {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let url = format!("sqlite://{}", dir.path().join(name).display());
            async move { Store::open(&url).await.unwrap() }
        };
        // Two stores: a second run on the first would keep its unchanged tables unread.
        let (free_store, store) = (open("free.db").await, open("held.db").await);
        let mut spec = shared::spec(Engine::Postgres, &p, "postgres");
        spec.db_id = DB.into();
        let mut rb = shared::runbook(Engine::Postgres);
        rb.validation.chunk_rows = 10_000;
        let opts = |s: &Store| ValidateOptions {
            memory: Some(s.clone()),
            parallelism: Some(2),
            ..Default::default()
        };
        // Unlimited: the natural speed, over the attempt's whole time (so a little below the
        // reads' own speed), and no limit shown.
        let report = run_validation(&spec, &rb, &opts(&free_store)).await;
        assert!(report.passed(), "{:?}", report.errors);
        let free = DbProgress::of(&free_store.validation_progress_of(DB).await.unwrap()).unwrap();
        assert_eq!(free.limit, None);
        // Raw figures: on a quiet machine the unlimited run takes under the second `rate()`
        // asks for before it shows a rate. The limit is also held to a fifth of the rows per
        // second, so the limited run lasts 5 s or more, long enough for the cockpit to see it.
        let natural = free.rows_read as f64 * 1000.0 / free.run_ms.max(1) as f64;
        let limit = (natural / 5.0).min(ROWS as f64 / 5.0).max(1.0) as u64;
        rb.validation.max_rows_per_s = limit;

        let run = tokio::spawn({
            let opts = opts(&store);
            async move { run_validation(&spec, &rb, &opts).await }
        });
        let mut seen: Vec<Vec<TableProgress>> = Vec::new();
        while !run.is_finished() {
            let now = store.running_validations().await.unwrap();
            if !now.is_empty() && seen.last() != Some(&now) {
                seen.push(now);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let report = run.await.unwrap();
        assert!(report.passed(), "{:?}", report.errors);
        let waits: Vec<f64> = seen
            .iter()
            .filter_map(|rows| Some(DbProgress::of(rows)?.limit?.waiting))
            .collect();
        eprintln!("natural {natural:.0} rows/s, limit {limit}; wait shares seen: {waits:.2?}");
        let held = seen
            .iter()
            .rev()
            .find(|rows| {
                DbProgress::of(rows)
                    .unwrap()
                    .limit
                    .is_some_and(|l| l.holding())
            })
            .unwrap_or_else(|| panic!("the limit never showed as holding: {waits:.2?}"));
        let d = DbProgress::of(held).unwrap();
        let l = d.limit.clone().unwrap();
        assert_eq!(l.rows_per_s, limit);

        let mut app = cockpit(held, d.updated_at);
        app.open_detail(DB);
        let s = screen(&mut app, 160, 48);
        let said = format!(
            "limited to {} rows/s (waiting {:.0}%)",
            wavedeck::tui::fmt::count(limit as f64),
            l.waiting * 100.0
        );
        assert!(s.contains(&said), "{said} not in\n{s}");
        let mut app = cockpit(held, d.updated_at);
        app.view = wavedeck::tui::app::View::Databases;
        let s = screen(&mut app, 160, 48);
        let row = s.lines().find(|l| l.contains(DB)).unwrap();
        assert!(row.contains(" lim "), "{row}");
    })
    .await;
}
