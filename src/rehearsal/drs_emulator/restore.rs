//! The emulator's native restore: what RDS does when it restores a backup to a new instance,
//! done for real on the target's own cluster. The "new instance" is a new database there, a
//! copy of the target database as it is now (the emulator keeps no backups), so the smoke
//! tests and row counts of a restore test read real data.
//!
//! PostgreSQL copies with `CREATE DATABASE … TEMPLATE …`, which needs the target database to
//! have no other session; while the application is connected it copies table by table
//! (`COPY … TO STDOUT` into `COPY … FROM STDIN`, columns and types from the catalog, no
//! indexes: enough for smoke tests and counts). MariaDB copies table by table on the server
//! (`CREATE TABLE … LIKE`, `INSERT … SELECT`).
//!
//! A fault (`spoil`) damages the copy so that a smoke test fails: the restore test must see it.

use crate::cutover::side::Side;
use crate::inventory::Engine;
use crate::secret::redact;
use crate::validate::connect::Pool;
use sqlx::Row;
use std::time::Duration;

type Endpoint = Side;

/// A driver error without the login's password.
fn scrub(ep: &Side, text: &str) -> String {
    match &ep.password {
        Some(p) => redact(text, &[p]),
        None => text.to_string(),
    }
}

/// PostgreSQL's "source database is being accessed by other users".
const OBJECT_IN_USE: &str = "55006";

/// The cluster of `target`, reached through its own login; `database` is the one to copy.
fn admin(engine: Engine, target: &Endpoint) -> Endpoint {
    let mut e = target.clone();
    e.database = match engine {
        Engine::Postgres => "postgres".into(),
        Engine::Mysql => String::new(),
    };
    e
}

async fn pool(engine: Engine, ep: &Side) -> Result<Pool, String> {
    let t = Duration::from_secs(10);
    let pw = ep.password.as_ref().map(|p| p.expose()).unwrap_or("");
    let r = match engine {
        Engine::Postgres => {
            let mut o = sqlx::postgres::PgConnectOptions::new_without_pgpass()
                .host(&ep.host)
                .port(ep.port)
                .username(&ep.user)
                .database(&ep.database)
                .application_name("wavedeck-emulator-restore");
            if !pw.is_empty() {
                o = o.password(pw);
            }
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(t)
                .connect_with(o)
                .await
                .map(Pool::Pg)
        }
        Engine::Mysql => {
            let mut o = sqlx::mysql::MySqlConnectOptions::new()
                .host(&ep.host)
                .port(ep.port)
                .username(&ep.user)
                .charset("utf8mb4");
            if !ep.database.is_empty() {
                o = o.database(&ep.database);
            }
            if !pw.is_empty() {
                o = o.password(pw);
            }
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(t)
                .connect_with(o)
                .await
                .map(Pool::My)
        }
    };
    r.map_err(|e| {
        format!(
            "{}:{}/{}: {}",
            ep.host,
            ep.port,
            ep.database,
            scrub(ep, &e.to_string())
        )
    })
}

fn pg_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn my_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

fn ident(engine: Engine, s: &str) -> String {
    match engine {
        Engine::Postgres => pg_ident(s),
        Engine::Mysql => my_ident(s),
    }
}

/// Whether a database of this name exists on the target's cluster.
pub async fn exists(engine: Engine, target: &Endpoint, name: &str) -> Result<bool, String> {
    let ep = admin(engine, target);
    let p = pool(engine, &ep).await?;
    let r = match &p {
        Pool::Pg(p) => sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(p)
            .await
            .map(|r| r.is_some()),
        Pool::My(p) => {
            sqlx::query("SELECT 1 FROM information_schema.schemata WHERE schema_name = ?")
                .bind(name)
                .fetch_optional(p)
                .await
                .map(|r| r.is_some())
        }
    };
    p.close().await;
    r.map_err(|e| scrub(target, &e.to_string()))
}

/// Copy the target database into a new database `to` on the same cluster. A copy left half
/// made by an earlier try is dropped first.
pub async fn copy_database(engine: Engine, target: &Endpoint, to: &str) -> Result<(), String> {
    drop_database(engine, target, to).await?;
    let ep = admin(engine, target);
    let p = pool(engine, &ep).await?;
    let r = match &p {
        Pool::Pg(pg) => {
            let sql = format!(
                "CREATE DATABASE {} TEMPLATE {}",
                pg_ident(to),
                pg_ident(&target.database)
            );
            match sqlx::raw_sql(&sql).execute(pg).await {
                Ok(_) => Ok(()),
                Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some(OBJECT_IN_USE) => {
                    pg_copy_tables(pg, target, to).await
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Pool::My(my) => my_copy_tables(my, &target.database, to).await,
    };
    p.close().await;
    r.map_err(|e| scrub(target, &e))
}

/// Table by table, while the application holds sessions on the target database.
async fn pg_copy_tables(admin: &sqlx::PgPool, target: &Endpoint, to: &str) -> Result<(), String> {
    let err = |e: sqlx::Error| e.to_string();
    sqlx::raw_sql(&format!("CREATE DATABASE {}", pg_ident(to)))
        .execute(admin)
        .await
        .map_err(err)?;
    let Pool::Pg(from) = pool(Engine::Postgres, target).await? else {
        unreachable!("a PostgreSQL endpoint gives a PostgreSQL pool")
    };
    let mut into_ep = target.clone();
    into_ep.database = to.to_string();
    let Pool::Pg(into) = pool(Engine::Postgres, &into_ep).await? else {
        unreachable!("a PostgreSQL endpoint gives a PostgreSQL pool")
    };
    let tables = sqlx::query(
        "SELECT n.nspname, c.relname, c.oid::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') \
         AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
    )
    .fetch_all(&from)
    .await
    .map_err(err)?;
    for t in tables {
        let (schema, name, oid): (String, String, i64) = (t.get(0), t.get(1), t.get(2));
        let cols = sqlx::query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a \
             WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        )
        .bind(oid)
        .fetch_all(&from)
        .await
        .map_err(err)?;
        let defs: Vec<String> = cols
            .iter()
            .map(|c| {
                let (n, ty, nn): (String, String, bool) = (c.get(0), c.get(1), c.get(2));
                format!("{} {ty}{}", pg_ident(&n), if nn { " NOT NULL" } else { "" })
            })
            .collect();
        let qualified = format!("{}.{}", pg_ident(&schema), pg_ident(&name));
        sqlx::raw_sql(&format!(
            "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE {qualified} ({})",
            pg_ident(&schema),
            defs.join(", ")
        ))
        .execute(&into)
        .await
        .map_err(err)?;
        let mut rc = from.acquire().await.map_err(err)?;
        let mut wc = into.acquire().await.map_err(err)?;
        let mut out = rc
            .copy_out_raw(&format!("COPY {qualified} TO STDOUT"))
            .await
            .map_err(err)?;
        let mut sink = wc
            .copy_in_raw(&format!("COPY {qualified} FROM STDIN"))
            .await
            .map_err(err)?;
        use futures::StreamExt;
        while let Some(chunk) = out.next().await {
            sink.send(chunk.map_err(err)?).await.map_err(err)?;
        }
        sink.finish().await.map_err(err)?;
    }
    from.close().await;
    into.close().await;
    Ok(())
}

async fn my_copy_tables(p: &sqlx::MySqlPool, from: &str, to: &str) -> Result<(), String> {
    let err = |e: sqlx::Error| e.to_string();
    sqlx::raw_sql(&format!("CREATE DATABASE {}", my_ident(to)))
        .execute(p)
        .await
        .map_err(err)?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .bind(from)
    .fetch_all(p)
    .await
    .map_err(err)?;
    let mut c = p.acquire().await.map_err(err)?;
    // Rows go in as they are, children before parents included.
    sqlx::raw_sql("SET FOREIGN_KEY_CHECKS = 0")
        .execute(&mut *c)
        .await
        .map_err(err)?;
    for t in tables {
        let (a, b) = (
            format!("{}.{}", my_ident(from), my_ident(&t)),
            format!("{}.{}", my_ident(to), my_ident(&t)),
        );
        sqlx::raw_sql(&format!(
            "CREATE TABLE {b} LIKE {a}; INSERT INTO {b} SELECT * FROM {a}"
        ))
        .execute(&mut *c)
        .await
        .map_err(err)?;
    }
    sqlx::raw_sql("SET FOREIGN_KEY_CHECKS = 1")
        .execute(&mut *c)
        .await
        .map_err(err)?;
    Ok(())
}

/// Drop the database `name` from the target's cluster; false when there was none.
pub async fn drop_database(engine: Engine, target: &Endpoint, name: &str) -> Result<bool, String> {
    if name == target.database {
        return Err(format!(
            "refusing to drop {name}: it is the target database itself, not a restored copy"
        ));
    }
    if !exists(engine, target, name).await? {
        return Ok(false);
    }
    let ep = admin(engine, target);
    let p = pool(engine, &ep).await?;
    let r = match &p {
        Pool::Pg(pg) => sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            pg_ident(name)
        ))
        .execute(pg)
        .await
        .map(|_| ()),
        Pool::My(my) => sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {}", my_ident(name)))
            .execute(my)
            .await
            .map(|_| ()),
    };
    p.close().await;
    r.map(|_| true).map_err(|e| scrub(target, &e.to_string()))
}

/// The fault `smoke_fail`: the copy loses every row of its first table by name, as a backup
/// that missed a table's data would. Returns the table emptied.
pub async fn spoil(
    engine: Engine,
    target: &Endpoint,
    copy: &str,
) -> Result<Option<String>, String> {
    let mut ep = target.clone();
    ep.database = copy.to_string();
    let p = pool(engine, &ep).await?;
    let first: Result<Option<(String, String)>, sqlx::Error> = match &p {
        Pool::Pg(pg) => sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog','information_schema') \
             ORDER BY table_name, table_schema LIMIT 1",
        )
        .fetch_optional(pg)
        .await,
        Pool::My(my) => sqlx::query_as(
            "SELECT CAST(table_schema AS CHAR), CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema = DATABASE() ORDER BY table_name LIMIT 1",
        )
        .fetch_optional(my)
        .await,
    };
    let r = match first {
        Ok(Some((schema, table))) => {
            let q = format!("{}.{}", ident(engine, &schema), ident(engine, &table));
            let del = match &p {
                Pool::Pg(pg) => sqlx::raw_sql(&format!("TRUNCATE TABLE {q} CASCADE"))
                    .execute(pg)
                    .await
                    .map(|_| ()),
                Pool::My(my) => {
                    sqlx::raw_sql(&format!("SET FOREIGN_KEY_CHECKS = 0; DELETE FROM {q}"))
                        .execute(my)
                        .await
                        .map(|_| ())
                }
            };
            del.map(|_| Some(table)).map_err(|e| e.to_string())
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    };
    p.close().await;
    r.map_err(|e| scrub(target, &e))
}
