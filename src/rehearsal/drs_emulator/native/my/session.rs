//! Sessions on a MySQL job's servers, and their errors in DRS's terms (without the password):
//! what the copy (`copy.rs`) and the worker (`my.rs`) both open. Below both.

use super::super::common::{connect_failure, Failure, NET_FAIL};
use crate::cutover::mysql::ops::{self as my, Flavor, My};
use crate::cutover::side::Side;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::ConnectOptions;
use std::time::Duration;

/// A session on `side`'s server without selecting a database (the target's does not exist
/// before the copy), as wavedeck's admin sessions are set up; connection failures in DRS's
/// terms, without the password.
pub async fn open(side: &Side, which: &str) -> Result<My, Failure> {
    let mut o = MySqlConnectOptions::new()
        .host(&side.host)
        .port(side.port)
        .username(&side.user)
        .disable_statement_logging();
    // An empty password is no password: MariaDB refuses an empty one sent for a user without.
    if let Some(p) = side.password.as_ref().filter(|p| !p.expose().is_empty()) {
        o = o.password(p.expose());
    }
    let mut c = match tokio::time::timeout(Duration::from_secs(10), o.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(connect_failure(side, which, &e)),
        Err(_) => {
            return Err((
                NET_FAIL.into(),
                format!(
                    "The {which} database cannot be reached: no answer from {} in 10 s.",
                    side.endpoint()
                ),
            ))
        }
    };
    let err = |e: sqlx::Error| (String::new(), side.err(which, e).to_string());
    my::exec(
        &mut c,
        "SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', ''), \
         SESSION lock_wait_timeout = 10, SESSION time_zone = '+00:00'",
    )
    .await
    .map_err(err)?;
    let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut c)
        .await
        .map_err(err)?;
    Ok(My {
        c,
        flavor: Flavor::of_version(&version),
        version,
    })
}

pub(crate) fn at<'a>(side: &'a Side, which: &'a str) -> impl Fn(sqlx::Error) -> Failure + 'a {
    move |e| (String::new(), side.err(which, e).to_string())
}

pub(crate) fn lost<'a>(side: &'a Side, which: &'a str) -> impl Fn(sqlx::Error) -> Failure + 'a {
    move |e| (NET_FAIL.to_string(), side.err(which, e).to_string())
}
