//! "One engine per store": a named lease with an expiry. The engine takes it at start and
//! renews it well before it expires; a second wavedeck sees the holder and attaches as a
//! cockpit instead. A holder that died (kill -9, lost host) stops renewing and the lease can be
//! taken over once expired. Times are the writers' clocks: keep hosts in NTP sync in team mode.

use super::db::{fmt_time, get, now, parse_time, Store};
use super::error::{Ctx, Result};
use chrono::{DateTime, Utc};
use std::time::Duration;

const ENGINE_LEASE: &str = "engine";

/// Who holds the engine lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    pub holder: String,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn expiry(ttl: Duration) -> DateTime<Utc> {
    now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(365))
}

/// A holder name is `host:pid:random` (the engine's `spawn`). True when it names this host
/// and a pid that is not alive, so no process can renew it.
pub fn predecessor_gone(holder: &str, this_host: &str, alive: impl Fn(u32) -> bool) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(_rand), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    match pid.parse::<u32>() {
        Ok(pid) if pid > 0 && pid != std::process::id() => host == this_host && !alive(pid),
        _ => false,
    }
}

impl Store {
    /// Take the lease over from `dead` (a holder known to be gone), whatever its expiry. One
    /// statement: false if `dead` no longer holds it (someone else was faster).
    pub async fn take_over_lease(&self, dead: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let t = now();
        let done = sqlx::query(
            "UPDATE lease SET holder = $1, acquired_at = $2, expires_at = $3 WHERE name = $4 AND holder = $5",
        )
        .bind(holder)
        .bind(fmt_time(t))
        .bind(fmt_time(expiry(ttl)))
        .bind(ENGINE_LEASE)
        .bind(dead)
        .execute(&self.pool)
        .await
        .ctx("take over the engine lease")?;
        Ok(done.rows_affected() > 0)
    }

    /// Take the engine lease for `ttl` if it is free, expired, or already ours. True if we
    /// hold it afterwards. One statement, so two engines racing cannot both win.
    pub async fn try_acquire_lease(&self, holder: &str, ttl: Duration) -> Result<bool> {
        let t = now();
        let done = sqlx::query(
            "INSERT INTO lease (name, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             acquired_at = CASE WHEN lease.holder = excluded.holder THEN lease.acquired_at ELSE excluded.acquired_at END, \
             expires_at = excluded.expires_at \
             WHERE lease.holder = excluded.holder OR lease.expires_at < $3",
        )
        .bind(ENGINE_LEASE)
        .bind(holder)
        .bind(fmt_time(t))
        .bind(fmt_time(expiry(ttl)))
        .execute(&self.pool)
        .await
        .ctx("take the engine lease")?;
        Ok(done.rows_affected() > 0)
    }

    /// Extend our lease by `ttl` from now. False if someone else holds it (ours expired and
    /// was taken over): the caller must stop acting as the engine.
    pub async fn renew_lease(&self, holder: &str, ttl: Duration) -> Result<bool> {
        let done = sqlx::query("UPDATE lease SET expires_at = $1 WHERE name = $2 AND holder = $3")
            .bind(fmt_time(expiry(ttl)))
            .bind(ENGINE_LEASE)
            .bind(holder)
            .execute(&self.pool)
            .await
            .ctx("renew the engine lease")?;
        Ok(done.rows_affected() > 0)
    }

    /// Give the lease up (clean shutdown), so another engine can start at once.
    pub async fn release_lease(&self, holder: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM lease WHERE name = $1 AND holder = $2")
            .bind(ENGINE_LEASE)
            .bind(holder)
            .execute(&self.pool)
            .await
            .ctx("release the engine lease")?;
        Ok(done.rows_affected() > 0)
    }

    /// The current, unexpired holder of the engine lease, if any.
    pub async fn lease_holder(&self) -> Result<Option<Lease>> {
        self.lease_row(false).await
    }

    /// The lease row, expired or not: one left behind was never released (its holder was
    /// killed or stalled), which the `lease_lost` alert reports.
    pub async fn lease_left(&self) -> Result<Option<Lease>> {
        self.lease_row(true).await
    }

    async fn lease_row(&self, expired_too: bool) -> Result<Option<Lease>> {
        let row = sqlx::query(
            "SELECT holder, acquired_at, expires_at FROM lease WHERE name = $1 AND (expires_at >= $2 OR $3)",
        )
        .bind(ENGINE_LEASE)
        .bind(fmt_time(now()))
        .bind(expired_too)
        .fetch_optional(&self.pool)
        .await
        .ctx("read the engine lease")?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(Lease {
                holder: get(&r, "holder")?,
                acquired_at: parse_time(&get::<String>(&r, "acquired_at")?)?,
                expires_at: parse_time(&get::<String>(&r, "expires_at")?)?,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::predecessor_gone;

    #[test]
    fn only_a_dead_process_of_this_host_is_gone() {
        let dead = |_| false;
        let alive = |_| true;
        assert!(predecessor_gone("jump-1:4242:0a1b2c3d", "jump-1", dead));
        assert!(!predecessor_gone("jump-1:4242:0a1b2c3d", "jump-1", alive));
        assert!(
            !predecessor_gone("jump-2:4242:0a1b2c3d", "jump-1", dead),
            "another host keeps its TTL"
        );
        let me = format!("jump-1:{}:00000000", std::process::id());
        assert!(
            !predecessor_gone(&me, "jump-1", dead),
            "this process is not gone"
        );
        for odd in ["", "jump-1", "jump-1:x:1", "jump-1:0:1", "a:b"] {
            assert!(!predecessor_gone(odd, "jump-1", dead), "{odd:?}");
        }
        // host names with colons (IPv6 literal) still split at the last two
        assert!(predecessor_gone("fe80::1:77:ab", "fe80::1", dead));
    }
}
