//! Sessions on a MySQL job's servers, and their errors in DRS's terms (without the password):
//! what the copy (`copy.rs`) and the worker (`my.rs`) both open. Below both.

use super::super::common::{connect_within, Failure, NET_FAIL};
use crate::cutover::mysql::ops::{self as my, My};
use crate::cutover::side::Side;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::ConnectOptions;

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
    let c = connect_within(side, which, o.connect()).await?;
    let err = |e: sqlx::Error| (String::new(), side.err(which, e).to_string());
    let mut s = my::admin_session(c).await.map_err(err)?;
    // The copy writes rows as SQL literals read on the source: one zone on both sides, so a
    // TIMESTAMP is written back as the instant it was read.
    my::exec(&mut s.c, "SET SESSION time_zone = '+00:00'")
        .await
        .map_err(err)?;
    Ok(s)
}

pub(crate) fn at<'a>(side: &'a Side, which: &'a str) -> impl Fn(sqlx::Error) -> Failure + 'a {
    move |e| (String::new(), side.err(which, e).to_string())
}

pub(crate) fn lost<'a>(side: &'a Side, which: &'a str) -> impl Fn(sqlx::Error) -> Failure + 'a {
    move |e| (NET_FAIL.to_string(), side.err(which, e).to_string())
}
