//! PostgreSQL pre-checks: logical decoding settings, the migration user's rights, extensions
//! and encoding.

use super::result::CheckResult;
use crate::inventory::Endpoint;
use crate::validate::catalog::quote_ident;
use crate::validate::runbook::PrecheckSettings;
use sqlx::{PgPool, Row};

async fn setting(p: &PgPool, name: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = $1")
        .bind(name)
        .fetch_one(p)
        .await
}

pub async fn logical_decoding(p: &PgPool, st: &PrecheckSettings) -> Vec<CheckResult> {
    let mut out = Vec::new();
    match setting(p, "wal_level").await {
        Ok(v) if v == "logical" => out.push(CheckResult::pass("source/wal_level", "wal_level = logical")),
        Ok(v) => out.push(CheckResult::fail(
            "source/wal_level",
            format!("wal_level = {v}; DRS needs logical decoding"),
            "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (on a managed service: set the rds.logical_replication parameter and reboot)",
        )),
        Err(e) => out.push(CheckResult::fail("source/wal_level", format!("cannot read wal_level: {e}"), "let the user read pg_settings")),
    }
    let counts = sqlx::query(
        "SELECT current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)::int, \
                current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_replication)::int",
    )
    .fetch_one(p)
    .await;
    match counts {
        Ok(r) => {
            let (slots, used_slots, senders, used_senders): (i32, i32, i32, i32) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let free_slots = slots - used_slots;
            out.push(if free_slots < st.min_replication_slots as i32 {
                CheckResult::fail(
                    "source/replication_slots",
                    format!("max_replication_slots = {slots}, {used_slots} in use, {free_slots} free; DRS needs {}", st.min_replication_slots),
                    format!("ALTER SYSTEM SET max_replication_slots = {}; then restart PostgreSQL (or drop unused slots: SELECT pg_drop_replication_slot('<name>');)", used_slots + st.min_replication_slots as i32 + 2),
                )
            } else {
                CheckResult::pass("source/replication_slots", format!("max_replication_slots = {slots}, {used_slots} in use"))
            });
            let free_senders = senders - used_senders;
            out.push(if free_senders < st.min_wal_senders as i32 {
                CheckResult::fail(
                    "source/wal_senders",
                    format!(
                        "max_wal_senders = {senders}, {used_senders} in use; DRS needs {}",
                        st.min_wal_senders
                    ),
                    format!(
                        "ALTER SYSTEM SET max_wal_senders = {}; then restart PostgreSQL",
                        used_senders + st.min_wal_senders as i32 + 2
                    ),
                )
            } else {
                CheckResult::pass(
                    "source/wal_senders",
                    format!("max_wal_senders = {senders}, {used_senders} in use"),
                )
            });
        }
        Err(e) => out.push(CheckResult::fail(
            "source/replication_slots",
            format!("cannot read replication settings: {e}"),
            "let the user read pg_replication_slots and pg_stat_replication",
        )),
    }
    out
}

/// DRS's PostgreSQL user needs REPLICATION (or superuser / rds_superuser on a managed source)
/// and SELECT on every table it migrates.
pub async fn privileges(p: &PgPool, ep: &Endpoint) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let user = quote_ident(crate::inventory::Engine::Postgres, &ep.user);
    let role = sqlx::query(
        "SELECT rolsuper, rolreplication, \
                EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'rds_superuser' AND pg_has_role(current_user, r.oid, 'member')) \
         FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(p)
    .await;
    match role {
        Ok(r) => {
            let (sup, repl, rds): (bool, bool, bool) = (r.get(0), r.get(1), r.get(2));
            let evidence = format!(
                "user {}: superuser={sup}, replication={repl}, rds_superuser member={rds}",
                ep.user
            );
            out.push(if sup || repl || rds {
                CheckResult::pass("source/replication_privilege", evidence)
            } else {
                CheckResult::fail(
                    "source/replication_privilege",
                    evidence,
                    format!("ALTER ROLE {user} WITH REPLICATION;"),
                )
            });
        }
        Err(e) => out.push(CheckResult::fail(
            "source/replication_privilege",
            format!("cannot read the role: {e}"),
            "let the user read pg_roles",
        )),
    }
    let missing = sqlx::query(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
           AND NOT has_table_privilege(current_user, c.oid, 'SELECT') ORDER BY 1, 2",
    )
    .fetch_all(p)
    .await;
    match missing {
        Ok(rows) if rows.is_empty() => out.push(CheckResult::pass(
            "source/select_privilege",
            "SELECT granted on every table",
        )),
        Ok(rows) => {
            let tables: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let mut schemas: Vec<&String> = tables.iter().map(|t| &t.0).collect();
            schemas.dedup();
            let fix: Vec<String> = schemas
                .iter()
                .map(|s| {
                    let s = quote_ident(crate::inventory::Engine::Postgres, s);
                    format!("GRANT USAGE ON SCHEMA {s} TO {user}; GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {user};")
                })
                .collect();
            out.push(CheckResult::fail(
                "source/select_privilege",
                format!(
                    "user {} cannot SELECT from {} tables: {}",
                    ep.user,
                    tables.len(),
                    tables
                        .iter()
                        .take(10)
                        .map(|(s, t)| format!("{s}.{t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix.join(" "),
            ));
        }
        Err(e) => out.push(CheckResult::fail(
            "source/select_privilege",
            format!("cannot list table privileges: {e}"),
            "let the user read pg_class",
        )),
    }
    out
}

pub async fn extensions_and_encoding(src: &PgPool, tgt: &PgPool) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let exts: Result<Vec<String>, _> = sqlx::query_scalar(
        "SELECT extname::text FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1",
    )
    .fetch_all(src)
    .await;
    let avail: Result<Vec<String>, _> =
        sqlx::query_scalar("SELECT name::text FROM pg_available_extensions")
            .fetch_all(tgt)
            .await;
    match (exts, avail) {
        (Ok(e), Ok(a)) => {
            let missing: Vec<&String> = e.iter().filter(|x| !a.contains(x)).collect();
            out.push(if missing.is_empty() {
                CheckResult::pass("target/extensions", format!("source extensions available on target: {}", if e.is_empty() { "(none)".into() } else { e.join(", ") }))
            } else {
                CheckResult::fail(
                    "target/extensions",
                    format!("extensions used on source but not available on target: {}", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
                    "choose a target version/flavour that offers these extensions, or remove their use from the source",
                )
            });
        }
        (a, b) => out.push(CheckResult::warn(
            "target/extensions",
            format!(
                "cannot list extensions: {:?} {:?}",
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            ),
            "let the users read pg_extension / pg_available_extensions",
        )),
    }
    let q = "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text FROM pg_database WHERE datname = current_database()";
    match futures::join!(sqlx::query(q).fetch_one(src), sqlx::query(q).fetch_one(tgt)) {
        (Ok(s), Ok(t)) => {
            let sv: (String, String, String) = (s.get(0), s.get(1), s.get(2));
            let tv: (String, String, String) = (t.get(0), t.get(1), t.get(2));
            let ev = format!(
                "source encoding {} collate {} ctype {}; target encoding {} collate {} ctype {}",
                sv.0, sv.1, sv.2, tv.0, tv.1, tv.2
            );
            out.push(if sv.0 != tv.0 {
                CheckResult::fail("target/encoding", ev, format!("create the target database with ENCODING '{}'", sv.0))
            } else if sv.1 != tv.1 || sv.2 != tv.2 {
                CheckResult::warn("target/encoding", ev, format!("create the target database with LC_COLLATE '{}' LC_CTYPE '{}' (text ordering and unique indexes depend on it)", sv.1, sv.2))
            } else {
                CheckResult::pass("target/encoding", ev)
            });
        }
        (a, b) => out.push(CheckResult::warn(
            "target/encoding",
            format!(
                "cannot read encodings: {:?} {:?}",
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            ),
            "let the users read pg_database",
        )),
    }
    out
}
