//! Reaching a PostgreSQL store before the pool is built. The pool alone retried a refused or
//! silent server until its 30 s acquire timeout and then said only "pool timed out": an operator
//! with a wrong port or a firewall in the way waited in silence and learnt nothing. Here the
//! wait is announced on stderr, bounded by libpq's own `connect_timeout` URL parameter, and the
//! refusal names the URL (password hidden), the last error and what to check.

use super::error::{Result, StoreError};
use sqlx::Connection;
use std::time::Duration;
use tokio::time::Instant;

/// Without `connect_timeout` in the URL: long enough for a server that is starting up or a
/// slow VPN, short enough that a wrong address is known before the operator gives up.
pub const DEFAULT_CONNECT_TIMEOUT_S: u64 = 10;
/// Connections that answer at once say nothing; a wait longer than this is announced.
const ANNOUNCE_AFTER: Duration = Duration::from_millis(1000);
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// The connect budget the URL asks for (`?connect_timeout=N`, seconds, as libpq reads it; 0 or
/// unreadable means the default, and libpq's own minimum of 2 s applies).
pub fn connect_timeout(url: &str) -> Duration {
    let secs = url
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "connect_timeout")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT_S);
    Duration::from_secs(secs.clamp(2, 3600))
}

/// Worth another attempt: nothing listening yet, a network error, or a server still starting.
fn retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // 57P03 cannot_connect_now: "the database system is starting up".
        sqlx::Error::Database(d) => d.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// One connection to `url` within its connect budget, else [`StoreError::Unreachable`].
/// `shown`: the URL with the password hidden, the only form that is printed.
pub async fn reach(url: &str, shown: &str) -> Result<()> {
    let budget = connect_timeout(url);
    let deadline = Instant::now() + budget;
    let announce = {
        let shown = shown.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(ANNOUNCE_AFTER).await;
            eprintln!(
                "waiting for the PostgreSQL store at {shown} (up to {} s; `?connect_timeout=N` in the URL changes it)...",
                budget.as_secs()
            );
        })
    };
    let mut last: Option<String> = None;
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sqlx::AnyConnection::connect(url)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                break Ok(());
            }
            Ok(Err(e)) if retryable(&e) => last = Some(e.to_string()),
            Ok(Err(source)) => {
                break Err(StoreError::Open {
                    url: shown.to_string(),
                    source,
                })
            }
            Err(_) => {}
        }
        if Instant::now() + RETRY_EVERY >= deadline {
            break Err(StoreError::Unreachable {
                url: shown.to_string(),
                secs: budget.as_secs(),
                last: last.unwrap_or_else(|| "no answer at all (packets dropped?)".to_string()),
            });
        }
        tokio::time::sleep(RETRY_EVERY).await;
    };
    announce.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_reads_the_libpq_parameter() {
        let d = |u: &str| connect_timeout(u).as_secs();
        assert_eq!(d("postgres://u@h/db"), DEFAULT_CONNECT_TIMEOUT_S);
        assert_eq!(d("postgres://u@h/db?sslmode=disable&connect_timeout=3"), 3);
        assert_eq!(
            d("postgres://u@h/db?connect_timeout=0"),
            DEFAULT_CONNECT_TIMEOUT_S
        );
        assert_eq!(
            d("postgres://u@h/db?connect_timeout=x"),
            DEFAULT_CONNECT_TIMEOUT_S
        );
        assert_eq!(
            d("postgres://u@h/db?connect_timeout=1"),
            2,
            "libpq's minimum"
        );
    }
}
