//! The MariaDB lab's workload and checks, as the MySQL tests share them.

use std::time::Duration;
use wavedeck::cutover::mysql::ops as my;
use wavedeck::cutover::side::Side;
use wavedeck::inventory::Engine;
use wavedeck::rehearsal::lab::mariadb::MyLabState;
use wavedeck::rehearsal::lab::postgres::LabState;
use wavedeck::rehearsal::lab::workload::{self, Workload, WorkloadStats};

/// The application's write workload on `db`, through the lab's service name, as the
/// application's user (the one the write fence stops).
pub fn start_workload(lab: &MyLabState, db: &str) -> workload::Running {
    let pair = lab.pair(db).unwrap();
    Workload {
        engine: Engine::Mysql,
        client: format!("test-{db}"),
        dns: lab.dns_file(),
        dns_name: LabState::dns_name(db),
        side: lab.app_side(&pair.source, db),
        pause: Duration::from_millis(5),
    }
    .start()
}

pub async fn assert_all_acked_once(side: &Side, stats: &WorkloadStats) {
    let mut c = my::admin(side, "check").await.unwrap();
    super::assert_audit_clean(&workload::audit_my(&mut c.c, stats).await.unwrap());
}

pub async fn fenced(side: &Side) -> bool {
    my::admin(side, "check")
        .await
        .unwrap()
        .fenced()
        .await
        .unwrap()
}

pub async fn count(side: &Side, table: &str) -> i64 {
    let mut c = my::admin(side, "check").await.unwrap();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut c.c)
        .await
        .unwrap()
}
