//! Which kind of DRS job each engine is (`db_use_type`, `engine_type`) and the tenant list
//! request filtered by it: below both the client (which pages the list) and the request
//! building in `api.rs`, so neither imports the other for it.

use super::model::ListJobsReq;
use crate::inventory::model::Engine;

/// DRS `db_use_type` and `engine_type` for an engine: PostgreSQL through the API is `sync`,
/// MySQL is `migration`: the DRS API supports PostgreSQL-to-PostgreSQL only as
/// synchronization, and creating a MySQL job needs v3 `engine_type: mysql`, `db_use_type:
/// migration` (DRS API reference, "Constraints"; the v5 create call has no MySQL migration).
pub fn drs_types(engine: Engine) -> (&'static str, &'static str) {
    match engine {
        Engine::Postgres => ("sync", "postgresql"),
        Engine::Mysql => ("migration", "mysql"),
    }
}

/// The tenant job-list request for one engine's jobs, page `cur_page` of `per_page`.
/// `engine_type` is always sent: DRS's default is `mysql` (HW drs_03_0138 "engine_type …
/// 缺省值:mysql"), so a list without it never shows a PostgreSQL job. `name`: a job name, or
/// up to 100 comma-separated job ids.
pub fn list_request(
    engine: Engine,
    cur_page: u32,
    per_page: u32,
    name: Option<String>,
) -> ListJobsReq {
    let (db_use_type, engine_type) = drs_types(engine);
    ListJobsReq {
        cur_page,
        per_page,
        db_use_type: db_use_type.to_string(),
        engine_type: Some(engine_type.to_string()),
        name,
        ..Default::default()
    }
}
