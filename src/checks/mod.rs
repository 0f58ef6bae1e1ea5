//! Pre-checks against the real source and target before a database enters the factory:
//! reachability, DNS, clock, what DRS needs from the engine, privileges, primary keys,
//! storage sizing and schema compatibility. Each gives pass / warn / fail with the evidence
//! and, for anything short of pass, the statement or action that fixes it.

pub mod cmd;
pub mod exposure;
pub mod mysql;
pub mod net;
pub mod pg;
pub mod result;

pub use result::{passed, summary, CheckResult, Status};

use crate::inventory::{DatabaseSpec, Endpoint, Engine};
use crate::validate::catalog::{self, Catalog};
use crate::validate::connect::{self, Pool};
use crate::validate::runbook::{CheckKind, PrecheckSettings, Runbook};
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Target storage capacity in GB; when None, `extra.target_capacity_gb` of the inventory
    /// entry is used; when neither is known the sizing check warns.
    pub target_capacity_gb: Option<f64>,
    /// SNTP server to compare the jump host's clock against (e.g. `ntp.myhuaweicloud.com`).
    pub ntp_server: Option<String>,
    /// The "no public exposure" check's client and allowed CIDRs; `None` leaves it out.
    pub exposure: Option<exposure::Probe>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Target,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// Run the runbook's pre-checks for one database. Never fails as a whole: a side that cannot
/// be reached fails its checks with the reason.
pub async fn run_prechecks(
    spec: &DatabaseSpec,
    runbook: &Runbook,
    opts: &CheckOptions,
) -> Vec<CheckResult> {
    let st = &runbook.precheck_settings;
    let timeout = Duration::from_secs(st.connect_timeout_s.max(1));
    let kinds = &runbook.prechecks;
    let want = |k: CheckKind| kinds.contains(&k);
    let mut out = Vec::new();

    // Network first: no point logging in where the port is closed.
    let mut reachable = [true, true];
    for (i, (side, ep)) in [(Side::Source, &spec.source), (Side::Target, &spec.target)]
        .into_iter()
        .enumerate()
    {
        let name = |c: &str| format!("{}/{c}", side.as_str());
        let addrs = net::resolve(&ep.host, ep.port).await;
        if want(CheckKind::Dns) {
            out.push(match &addrs {
                Ok(a) => CheckResult::pass(
                    name("dns"),
                    format!(
                        "{} -> {}",
                        ep.host,
                        a.iter()
                            .map(|x| x.ip().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Err(e) => CheckResult::fail(
                    name("dns"),
                    e.clone(),
                    format!(
                        "add a DNS record (or an /etc/hosts entry on the jump host) for {}",
                        ep.host
                    ),
                ),
            });
        }
        let reach = match &addrs {
            Ok(a) => net::reach(a, timeout).await,
            Err(e) => Err(e.clone()),
        };
        reachable[i] = reach.is_ok();
        if want(CheckKind::Reachability) {
            out.push(match reach {
                Ok((a, t)) => CheckResult::pass(name("reachability"), format!("TCP {a} answered in {} ms", t.as_millis())),
                Err(e) => CheckResult::fail(
                    name("reachability"),
                    e,
                    format!(
                        "allow TCP {} from the jump host to {} (security group / firewall) and check the server listens there",
                        ep.port, ep.host
                    ),
                ),
            });
        }
    }

    if let Some(server) = &st_ntp(st, opts) {
        out.push(match net::sntp_offset(server, timeout).await {
            Ok(off) => clock_result(
                "jump_host/ntp",
                off,
                st,
                &format!("jump host clock vs NTP {server}"),
            ),
            Err(e) => CheckResult::warn(
                "jump_host/ntp",
                e,
                format!("allow UDP 123 to {server} or configure another NTP server"),
            ),
        });
    }

    let conns = futures::join!(
        login(spec.engine, &spec.source, reachable[0], timeout),
        login(spec.engine, &spec.target, reachable[1], timeout),
    );
    let mut pools: [Option<Pool>; 2] = [None, None];
    for (i, (side, ep, res)) in [
        (Side::Source, &spec.source, conns.0),
        (Side::Target, &spec.target, conns.1),
    ]
    .into_iter()
    .enumerate()
    {
        match res {
            Ok(p) => pools[i] = Some(p),
            Err(e) => out.push(CheckResult::fail(
                format!("{}/login", side.as_str()),
                e,
                format!(
                    "check that user {} exists with the password in {:?} and may connect from the jump host{}",
                    ep.user,
                    ep.password,
                    match spec.engine {
                        Engine::Postgres => " (pg_hba.conf)",
                        Engine::Mysql => " (the user's host part)",
                    }
                ),
            )),
        }
    }

    if want(CheckKind::Clock) {
        for (side, pool) in [(Side::Source, &pools[0]), (Side::Target, &pools[1])] {
            if let Some(p) = pool {
                out.push(clock_check(side, p, st).await);
            }
        }
    }

    let src_cat = match &pools[0] {
        Some(p) => catalog::load(p, &spec.source.database, &[])
            .await
            .map_err(|e| connect::scrub(&spec.source, &e.to_string())),
        None => Err("not connected".into()),
    };
    let tgt_cat = match &pools[1] {
        Some(p) => catalog::load(p, &spec.target.database, &[])
            .await
            .map_err(|e| connect::scrub(&spec.target, &e.to_string())),
        None => Err("not connected".into()),
    };

    if let Some(src) = &pools[0] {
        let ep = &spec.source;
        for kind in kinds {
            let mut results = match (kind, src) {
                (CheckKind::LogicalDecoding, Pool::Pg(p)) => pg::logical_decoding(p, st).await,
                (CheckKind::Binlog, Pool::My(p)) => mysql::binlog(p).await,
                (CheckKind::Privileges, Pool::Pg(p)) => pg::privileges(p, ep).await,
                (CheckKind::Privileges, Pool::My(p)) => mysql::privileges(p, ep).await,
                (CheckKind::PrimaryKeys, _) => match &src_cat {
                    Ok(c) => vec![primary_keys(spec.engine, c)],
                    Err(e) => vec![CheckResult::fail(
                        "source/primary_keys",
                        e.clone(),
                        "fix the catalog read error above",
                    )],
                },
                (CheckKind::StorageEngines, Pool::My(_)) => match &src_cat {
                    Ok(c) => vec![mysql::storage_engines(c)],
                    Err(e) => vec![CheckResult::fail(
                        "source/storage_engines",
                        e.clone(),
                        "fix the catalog read error above",
                    )],
                },
                (CheckKind::StorageSizing, _) => vec![sizing(spec, src, st, opts).await],
                (CheckKind::SchemaCompatibility, _) => match &pools[1] {
                    Some(tgt) => schema_compat(spec, src, tgt, &src_cat, &tgt_cat).await,
                    None => vec![],
                },
                _ => vec![],
            };
            for r in results.iter_mut() {
                r.evidence = connect::scrub(ep, &r.evidence);
            }
            out.extend(results);
        }
    }
    for p in pools.iter().flatten() {
        p.close().await;
    }
    if let Some(probe) = &opts.exposure {
        out.extend(exposure::check(spec, probe).await);
    }
    tracing::info!(db_id = %spec.db_id, summary = %summary(&out), "pre-checks finished");
    out
}

fn st_ntp(_st: &PrecheckSettings, opts: &CheckOptions) -> Option<String> {
    opts.ntp_server.clone().filter(|s| !s.is_empty())
}

async fn login(
    engine: Engine,
    ep: &Endpoint,
    reachable: bool,
    timeout: Duration,
) -> Result<Pool, String> {
    if !reachable {
        return Err(format!("{} is not reachable", connect::describe(ep)));
    }
    connect::connect(engine, ep, 2, timeout)
        .await
        .map_err(|e| e.to_string())
}

fn clock_result(name: &str, skew_s: f64, st: &PrecheckSettings, what: &str) -> CheckResult {
    let evidence = format!("{what}: skew {skew_s:+.3} s");
    let fix = "synchronise the clocks with NTP (chrony/ntpd on the jump host; the cloud NTP server for the database host)";
    if skew_s.abs() > st.clock_fail_s {
        CheckResult::fail(name, format!("{evidence} > {} s", st.clock_fail_s), fix)
    } else if skew_s.abs() > st.clock_warn_s {
        CheckResult::warn(name, format!("{evidence} > {} s", st.clock_warn_s), fix)
    } else {
        CheckResult::pass(name, evidence)
    }
}

async fn clock_check(side: Side, pool: &Pool, st: &PrecheckSettings) -> CheckResult {
    let name = format!("{}/clock", side.as_str());
    let t0 = net::now_unix();
    let server: Result<f64, sqlx::Error> = match pool {
        Pool::Pg(p) => {
            sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8")
                .fetch_one(p)
                .await
        }
        Pool::My(p) => {
            sqlx::query_scalar("SELECT UNIX_TIMESTAMP(NOW(6)) + 0e0")
                .fetch_one(p)
                .await
        }
    };
    let t1 = net::now_unix();
    match server {
        Ok(s) => clock_result(&name, s - (t0 + t1) / 2.0, st, "server clock vs jump host"),
        Err(e) => CheckResult::warn(
            name,
            format!("cannot read the server clock: {e}"),
            "check the user may run SELECT now()",
        ),
    }
}

/// The tables of `c` without a primary key, by display name.
pub(crate) fn without_primary_key(c: &Catalog) -> Vec<String> {
    c.tables
        .iter()
        .filter(|t| t.primary_key.is_empty())
        .map(|t| t.display())
        .collect()
}

pub(crate) fn primary_keys(engine: Engine, c: &Catalog) -> CheckResult {
    let without = without_primary_key(c);
    if without.is_empty() {
        return CheckResult::pass(
            "source/primary_keys",
            format!("all {} tables have a primary key", c.tables.len()),
        );
    }
    let first = &without[0];
    let q = catalog::quote_dotted(engine, first);
    let fix = match engine {
        Engine::Postgres => format!(
            "ALTER TABLE {q} ADD PRIMARY KEY (<key columns>); -- or, if no key exists: ALTER TABLE {q} REPLICA IDENTITY FULL; (repeat for each table listed)"
        ),
        Engine::Mysql => format!("ALTER TABLE {q} ADD PRIMARY KEY (<key columns>); (repeat for each table listed)"),
    };
    CheckResult::warn(
        "source/primary_keys",
        format!(
            "{} tables without a primary key (DRS cannot compare their values and replicates them slowly): {}",
            without.len(),
            without.join(", ")
        ),
        fix,
    )
}

async fn sizing(
    spec: &DatabaseSpec,
    src: &Pool,
    st: &PrecheckSettings,
    opts: &CheckOptions,
) -> CheckResult {
    let name = "target/storage_sizing";
    let measured = measured_size_bytes(src).await;
    let measured_gb = measured.map(|b| b as f64 / 1e9);
    let source_gb = match &measured_gb {
        Ok(m) => m.max(spec.size_gb),
        Err(_) => spec.size_gb,
    };
    let needed = source_gb * st.storage_headroom;
    let capacity = opts.target_capacity_gb.or_else(|| {
        spec.extra
            .get("target_capacity_gb")
            .and_then(|v| v.as_f64())
    });
    let evidence = format!(
        "source {} GB (measured {}, inventory {} GB), needs {:.2} GB with headroom x{}",
        fmt_gb(source_gb),
        match &measured_gb {
            Ok(m) => format!("{} GB", fmt_gb(*m)),
            Err(e) => format!("unavailable: {e}"),
        },
        spec.size_gb,
        needed,
        st.storage_headroom
    );
    match capacity {
        None => CheckResult::warn(
            name,
            format!("{evidence}; target capacity unknown"),
            format!(
                "set extra.target_capacity_gb for {} in the inventory (the RDS volume size)",
                spec.db_id
            ),
        ),
        Some(c) if c < needed => CheckResult::fail(
            name,
            format!("{evidence}; target has {c} GB"),
            format!(
                "grow the target RDS storage to at least {:.0} GB",
                needed.ceil()
            ),
        ),
        Some(c) => CheckResult::pass(name, format!("{evidence}; target has {c} GB")),
    }
}

/// The bytes the database occupies on the source: what a full load has to move (PostgreSQL:
/// `pg_database_size`; MySQL: data and indexes of its tables as information_schema reports them).
pub(crate) async fn measured_size_bytes(pool: &Pool) -> Result<i64, sqlx::Error> {
    match pool {
        Pool::Pg(p) => sqlx::query_scalar("SELECT pg_database_size(current_database())::int8").fetch_one(p).await,
        Pool::My(p) => {
            sqlx::query_scalar(
                "SELECT CAST(IFNULL(SUM(data_length + index_length), 0) AS SIGNED) FROM information_schema.tables WHERE table_schema = DATABASE()",
            )
            .fetch_one(p)
            .await
        }
    }
}

fn fmt_gb(v: f64) -> String {
    if v < 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.2}")
    }
}

/// `major.minor` as a comparable number from a version string ("15.4", "10.11.6-MariaDB").
pub fn version_number(v: &str) -> Option<(u32, u32)> {
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

pub(crate) async fn server_version(pool: &Pool) -> Result<String, sqlx::Error> {
    match pool {
        Pool::Pg(p) => sqlx::query_scalar("SHOW server_version").fetch_one(p).await,
        Pool::My(p) => {
            let v: Vec<u8> = sqlx::query_scalar("SELECT CAST(VERSION() AS BINARY)")
                .fetch_one(p)
                .await?;
            Ok(String::from_utf8_lossy(&v).into_owned())
        }
    }
}

async fn schema_compat(
    spec: &DatabaseSpec,
    src: &Pool,
    tgt: &Pool,
    src_cat: &Result<Catalog, String>,
    tgt_cat: &Result<Catalog, String>,
) -> Vec<CheckResult> {
    let mut out = Vec::new();
    match futures::join!(server_version(src), server_version(tgt)) {
        (Ok(s), Ok(t)) => {
            let older =
                matches!((version_number(&s), version_number(&t)), (Some(a), Some(b)) if b < a);
            let maria = |v: &str| v.to_ascii_lowercase().contains("mariadb");
            let evidence = format!("source {s}, target {t}");
            out.push(if older {
                CheckResult::fail("target/version", evidence, "create the target RDS instance with the same or a newer major version than the source")
            } else if maria(&s) != maria(&t) {
                CheckResult::warn("target/version", evidence, "MariaDB and MySQL differ (GTID, JSON, system tables): confirm DRS supports this pair")
            } else {
                CheckResult::pass("target/version", evidence)
            });
        }
        (a, b) => out.push(CheckResult::warn(
            "target/version",
            format!(
                "cannot read versions: {:?} / {:?}",
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            ),
            "check the users may run SHOW server_version / SELECT VERSION()",
        )),
    }
    match (src, tgt) {
        (Pool::Pg(s), Pool::Pg(t)) => out.extend(pg::extensions_and_encoding(s, t).await),
        (Pool::My(s), Pool::My(t)) => {
            out.extend(mysql::charsets(s, &spec.source.database, t, &spec.target.database).await)
        }
        _ => {}
    }
    match (src_cat, tgt_cat) {
        (Ok(s), Ok(t)) => out.push(CheckResult::pass(
            "schema/inventory",
            format!(
                "source: {}; target: {}",
                s.inventory_line(),
                t.inventory_line()
            ),
        )),
        (s, t) => out.push(CheckResult::warn(
            "schema/inventory",
            format!(
                "cannot read the catalogs: {:?} / {:?}",
                s.as_ref().err(),
                t.as_ref().err()
            ),
            "grant the users read access to the catalog (information_schema / pg_catalog)",
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_major_minor() {
        assert_eq!(version_number("15.4 (Debian 15.4-1)"), Some((15, 4)));
        assert_eq!(version_number("10.11.6-MariaDB-0+deb12u1"), Some((10, 11)));
        assert!(version_number("8.0.36").unwrap() < version_number("8.4.0").unwrap());
        assert_eq!(version_number("x"), None);
    }

    #[test]
    fn clock_thresholds() {
        let st = PrecheckSettings::default();
        assert_eq!(clock_result("c", 0.2, &st, "x").status, Status::Pass);
        assert_eq!(clock_result("c", -2.0, &st, "x").status, Status::Warn);
        assert_eq!(clock_result("c", 9.0, &st, "x").status, Status::Fail);
    }

    #[test]
    fn summary_counts() {
        let r = vec![
            CheckResult::pass("a", "ok"),
            CheckResult::fail("b", "bad", "fix it"),
        ];
        assert_eq!(summary(&r), "2 checks: 1 pass, 0 warn, 1 fail");
        assert!(!passed(&r));
    }
}
