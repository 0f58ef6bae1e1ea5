//! The DNS step of a DRS-mode cutover (and its undo at rollback), through the cutover module's
//! providers: `file` (rehearsals, the lab) or `huawei` (Cloud DNS private zone, signed with the
//! same credentials as DRS). The provider is built once per engine (`Shared::dns`). Record names
//! and values are shared with the SQL-mode cutover (`cut`).

use super::ctx::Shared;
use crate::config::Config;
use crate::engine::brain::{Fail, Report, WorkResult};
use crate::engine::classify::ErrorClass;
use crate::inventory::DatabaseSpec;

/// The record name of a database: the inventory's `extra.dns_name`, else `{db_id}.{domain}`.
pub fn record_name(spec: &DatabaseSpec, domain: &str) -> String {
    spec.extra
        .get("dns_name")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}.{}", spec.db_id, domain.trim_matches('.')))
}

/// What the name points at: `host:port` for the file provider, the host for Cloud DNS.
pub fn record_value(cfg: &Config, ep: &crate::inventory::Endpoint) -> String {
    if cfg.cutover.dns_provider == crate::config::DnsProvider::File {
        format!("{}:{}", ep.host, ep.port)
    } else {
        ep.host.clone()
    }
}

pub async fn switch(sh: &Shared, db: &str, back: bool) -> WorkResult {
    let fatal = |words: String| {
        WorkResult::Err(Fail {
            class: ErrorClass::Fatal,
            words,
        })
    };
    let Some(spec) = sh.specs.get(db) else {
        return fatal(format!(
            "{db} is not in the store's inventory (run wavedeck init again)"
        ));
    };
    let dns = match &sh.dns {
        Ok(d) => d,
        Err(e) => return fatal(format!("DNS switch of {db}: {e}")),
    };
    let name = record_name(spec, &sh.cfg.engine.dns_domain);
    let ep = if back { &spec.source } else { &spec.target };
    let value = record_value(&sh.cfg, ep);
    match dns.set(&name, &value, sh.cfg.cutover.dns_ttl_s).await {
        Ok(change) => WorkResult::Ok {
            job: None,
            report: Some(Report {
                passed: true,
                summary: format!(
                    "{} {} -> {} (ttl {} s, was {})",
                    change.provider,
                    change.name,
                    change.value,
                    change.ttl_s,
                    change
                        .previous
                        .as_ref()
                        .map(|p| p.value.clone())
                        .unwrap_or_else(|| "unset".into())
                ),
                detail: serde_json::to_value(&change).unwrap_or_default(),
            }),
            recovered: false,
        },
        Err(e) => WorkResult::Err(Fail {
            class: ErrorClass::Retryable,
            words: format!("DNS switch of {db}: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cutover::dns_provider::Dns;

    #[test]
    fn record_names_come_from_the_inventory_or_the_domain() {
        let mut cfg = Config::default();
        cfg.cutover.dns_provider = crate::config::DnsProvider::File;
        let ep = |host: &str, port: u16| crate::inventory::Endpoint {
            host: host.into(),
            port,
            database: "orders".into(),
            user: "u".into(),
            password: crate::secret::SecretRef::Env("X".into()),
        };
        let mut spec = DatabaseSpec::new(
            "orders",
            crate::inventory::Engine::Postgres,
            ep("10.0.0.1", 5432),
            ep("10.1.0.1", 5433),
        )
        .with_window("daily 00:00-24:00 UTC");
        assert_eq!(record_name(&spec, "db.internal."), "orders.db.internal");
        spec.extra
            .insert("dns_name".into(), serde_json::json!("orders.corp.example"));
        assert_eq!(record_name(&spec, "db.internal"), "orders.corp.example");
        assert_eq!(record_value(&cfg, &spec.target), "10.1.0.1:5433");
        cfg.cutover.dns_provider = crate::config::DnsProvider::Huawei;
        assert_eq!(record_value(&cfg, &spec.target), "10.1.0.1");
        assert!(
            Dns::from_config(&cfg).is_err(),
            "huawei without a zone id is refused"
        );
    }
}
