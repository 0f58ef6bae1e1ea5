//! A realistic factory inventory, deterministic for a seed: sizes log-normal from megabytes to
//! terabytes, dozens of teams of uneven size, each with its usual window (and some exceptions),
//! both engines about 60/40, a criticality mix, fake non-loopback hostnames.

use super::model::{Criticality, DatabaseSpec, Endpoint, Engine};
use crate::secret::SecretRef;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DOMAINS: &[&str] = &[
    "billing",
    "payments",
    "catalog",
    "search",
    "checkout",
    "orders",
    "inventory",
    "shipping",
    "returns",
    "pricing",
    "promo",
    "loyalty",
    "crm",
    "support",
    "hr",
    "payroll",
    "finance",
    "ledger",
    "audit",
    "risk",
    "fraud",
    "identity",
    "auth",
    "profile",
    "notify",
    "mailer",
    "analytics",
    "reporting",
    "bi",
    "etl",
    "iot",
    "telemetry",
    "fleet",
    "maps",
    "booking",
    "calendar",
    "cms",
    "wiki",
    "intranet",
    "docs",
    "media",
    "assets",
    "warehouse",
    "procurement",
    "vendor",
    "contracts",
    "legal",
    "compliance",
];

/// Windows as teams write them, with the region tag their zone implies.
const WINDOWS: &[(&str, &str)] = &[
    ("Sat,Sun 01:00-05:00 Europe/Paris", "eu"),
    ("Sun 00:00-06:00 Europe/London", "eu"),
    ("Mon-Fri 22:00-02:00 +02:00", "eu"),
    ("Mon-Thu 23:00-03:00 Europe/Berlin", "eu"),
    (
        "Mon-Fri 20:00-23:00; Sat,Sun 00:00-06:00 Europe/Madrid",
        "eu",
    ),
    ("Sat 22:00-04:00 Asia/Shanghai", "apac"),
    ("Sun 01:00-07:00 Asia/Singapore", "apac"),
    ("Fri 21:00-03:00 Asia/Kolkata", "apac"),
    ("Wed 00:30-03:30 +08:00", "apac"),
    ("Sat 02:00-06:00 Australia/Sydney", "apac"),
    ("daily 02:00-04:00 America/New_York", "amer"),
    ("Sun 03:00-06:00 America/Sao_Paulo", "amer"),
    ("Sat,Sun 00:00-08:00 UTC", "global"),
    ("Tue,Thu 01:00-04:00 Africa/Johannesburg", "emea"),
];

const PG_VERSIONS: &[&str] = &["12", "13", "14", "15", "16"];
const MY_VERSIONS: &[&str] = &["5.7", "8.0", "8.0", "10.6", "10.11"];

/// A standard normal sample (Box-Muller), so no extra crate is needed for the log-normal.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Index in 0..n, skewed: a few big teams own many databases, many own a few.
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let x: f64 = rng.gen();
    ((x * x) * n as f64) as usize % n
}

pub fn generate(count: usize, seed: u64) -> Vec<DatabaseSpec> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Each team keeps one usual window; 15% of its databases use another.
    let team_window: Vec<usize> = (0..DOMAINS.len())
        .map(|_| rng.gen_range(0..WINDOWS.len()))
        .collect();
    let mut out = Vec::with_capacity(count);
    for i in 1..=count {
        let team = skewed(&mut rng, DOMAINS.len());
        let domain = DOMAINS[team];
        let engine = if rng.gen_bool(0.6) {
            Engine::Postgres
        } else {
            Engine::Mysql
        };
        let (short, port, versions) = match engine {
            Engine::Postgres => ("pg", 5432, PG_VERSIONS),
            Engine::Mysql => ("my", 3306, MY_VERSIONS),
        };
        // Median ~15 GB; 1 in 1000 above ~2 TB, a few percent under 100 MB.
        let size_gb = (15.0 * (2.1 * normal(&mut rng)).exp()).clamp(0.005, 12_000.0);
        let size_gb = (size_gb * 1000.0).round() / 1000.0;
        let criticality = match rng.gen_range(0..100) {
            0..=44 => Criticality::Low,
            45..=79 => Criticality::Medium,
            _ => Criticality::High,
        };
        let w = if rng.gen_bool(0.85) {
            team_window[team]
        } else {
            rng.gen_range(0..WINDOWS.len())
        };
        let (window, region) = WINDOWS[w];
        let db_id = format!("{short}-{domain}-{i:04}");
        let database = format!("{domain}_{i:04}");
        let team_env = domain.to_ascii_uppercase();
        let user = if rng.gen_bool(0.7) {
            "migrator".to_string()
        } else {
            format!("{domain}_admin")
        };
        let mut tags = vec![domain.to_string(), region.to_string()];
        if matches!(domain, "billing" | "payments" | "checkout" | "ledger") {
            tags.push("pci".into());
        }
        if region == "eu" && rng.gen_bool(0.5) {
            tags.push("gdpr".into());
        }
        if rng.gen_bool(0.1) {
            tags.push("legacy".into());
        }
        let max_cutover_lag_s =
            (criticality == Criticality::High && rng.gen_bool(0.3)).then_some(2.0);
        out.push(
            DatabaseSpec::new(
                db_id,
                engine,
                Endpoint {
                    host: format!("{short}-{i:04}.src.corp.example"),
                    port,
                    database: database.clone(),
                    user: user.clone(),
                    password: SecretRef::Env(format!("WD_{team_env}_SRC_PASSWORD")),
                },
                Endpoint {
                    host: format!("rds-{short}-{i:04}.tgt.corp.example"),
                    port,
                    database,
                    user,
                    password: SecretRef::Env(format!("WD_{team_env}_TGT_PASSWORD")),
                },
            )
            .with_version(versions[rng.gen_range(0..versions.len())])
            .with_size_gb(size_gb)
            .with_owner(format!("team-{domain}"))
            .with_criticality(criticality)
            .with_window(window)
            .with_tags(tags)
            .with_max_cutover_lag_s(max_cutover_lag_s),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::load::parse_bytes;
    use super::super::write::{to_csv, to_yaml};
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn same_seed_same_inventory_other_seed_other() {
        assert_eq!(generate(50, 7), generate(50, 7));
        assert_ne!(generate(50, 7), generate(50, 8));
    }

    #[test]
    fn realistic_spread() {
        let g = generate(2000, 42);
        let pg = g.iter().filter(|d| d.engine == Engine::Postgres).count();
        assert!((1050..1350).contains(&pg), "postgres share {pg}/2000");
        let owners: BTreeSet<_> = g.iter().map(|d| &d.owner).collect();
        assert!(owners.len() >= 30, "{} owners", owners.len());
        let windows: BTreeSet<_> = g.iter().map(|d| &d.business_window).collect();
        assert!(windows.len() >= 10);
        assert!(
            g.iter().any(|d| d.size_gb < 0.1),
            "no database under 100 MB"
        );
        assert!(
            g.iter().any(|d| d.size_gb > 1000.0),
            "no database over 1 TB"
        );
        for c in [Criticality::Low, Criticality::Medium, Criticality::High] {
            assert!(g.iter().filter(|d| d.criticality == c).count() > 200);
        }
        assert!(g
            .iter()
            .all(|d| !d.source.host.starts_with("127.") && d.source != d.target));
    }

    #[test]
    fn csv_and_yaml_round_trip_through_the_checker() {
        let mut g = generate(300, 3);
        // Every third one offline: the mode is written and read back in both formats.
        for d in g.iter_mut().step_by(3) {
            d.mode = crate::inventory::Mode::Offline;
        }
        for (name, text) in [("g.csv", to_csv(&g)), ("g.yaml", to_yaml(&g))] {
            let (specs, probs) = parse_bytes(Path::new(name), text.as_bytes());
            assert!(
                probs.is_empty(),
                "{name}: {:?}",
                &probs[..probs.len().min(3)]
            );
            let back: Vec<DatabaseSpec> = specs.into_iter().map(|(_, s)| s).collect();
            assert_eq!(back, g, "{name}");
        }
    }
}
