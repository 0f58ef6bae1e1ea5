//! The one place that turns an inventory `Endpoint` into a sqlx pool. Passwords come from
//! `SecretRef::resolve()` and never leave this file except inside the driver's options; every
//! driver error is passed through `secret::redact` before it is returned.

use crate::inventory::{Endpoint, Engine};
use crate::secret::{redact, Secret};
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::time::Duration;

/// A connection pool to one side of a migration.
#[derive(Clone)]
pub enum Pool {
    Pg(PgPool),
    My(MySqlPool),
}

/// Where a pool points, for messages (never includes the password).
pub fn describe(ep: &Endpoint) -> String {
    format!("{}@{}:{}/{}", ep.user, ep.host, ep.port, ep.database)
}

/// Connection error with the endpoint named and the password scrubbed from the driver text.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {endpoint}: {reason}")]
pub struct ConnectError {
    pub endpoint: String,
    pub reason: String,
}

pub(crate) fn resolve_password(ep: &Endpoint) -> Result<Secret, ConnectError> {
    ep.password.resolve().map_err(|e| ConnectError {
        endpoint: describe(ep),
        reason: e.to_string(),
    })
}

/// Scrub a driver error of the endpoint's password (if it can be resolved at all).
pub fn scrub(ep: &Endpoint, text: &str) -> String {
    match ep.password.resolve() {
        Ok(pw) => redact(text, &[&pw]),
        Err(_) => text.to_string(),
    }
}

/// Open a pool of at most `max` connections. Sessions run in UTC so timestamps decode alike
/// on both engines.
pub async fn connect(
    engine: Engine,
    ep: &Endpoint,
    max: u32,
    timeout: Duration,
) -> Result<Pool, ConnectError> {
    let pw = resolve_password(ep)?;
    let fail = |e: sqlx::Error| ConnectError {
        endpoint: describe(ep),
        reason: redact(&e.to_string(), &[&pw]),
    };
    match engine {
        Engine::Postgres => {
            let mut opts = PgConnectOptions::new_without_pgpass()
                .host(&ep.host)
                .port(ep.port)
                .username(&ep.user)
                .database(&ep.database)
                .application_name("wavedeck")
                .options([("TimeZone", "UTC")]);
            if !pw.is_empty() {
                opts = opts.password(pw.expose());
            }
            let pool = PgPoolOptions::new()
                .max_connections(max.max(1))
                .acquire_timeout(timeout)
                .connect_with(opts)
                .await
                .map_err(fail)?;
            Ok(Pool::Pg(pool))
        }
        Engine::Mysql => {
            let mut opts = MySqlConnectOptions::new()
                .host(&ep.host)
                .port(ep.port)
                .username(&ep.user)
                .database(&ep.database)
                .charset("utf8mb4")
                .timezone(Some("+00:00".to_string()));
            if !pw.is_empty() {
                opts = opts.password(pw.expose());
            }
            let pool = MySqlPoolOptions::new()
                .max_connections(max.max(1))
                .acquire_timeout(timeout)
                .connect_with(opts)
                .await
                .map_err(fail)?;
            Ok(Pool::My(pool))
        }
    }
}

impl Pool {
    pub async fn close(&self) {
        match self {
            Pool::Pg(p) => p.close().await,
            Pool::My(p) => p.close().await,
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Pool::Pg(_) => Engine::Postgres,
            Pool::My(_) => Engine::Mysql,
        }
    }
}
