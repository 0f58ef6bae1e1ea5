//! The plan as a table for people and as a YAML file `wavedeck init` imports.
//!
//! The YAML file is an inventory (`databases:` with `wave` filled in, so `wavedeck init
//! --inventory waves.yaml` registers everything in its wave) preceded by a `waves:` summary
//! (number, window, members, estimates) that the inventory loader accepts and skips.

use super::estimate::{human, validation_one_seconds};
use super::{Plan, PlanLimits};
use crate::inventory::write::{yaml_records, yaml_scalar};
use crate::inventory::{DatabaseSpec, Engine};

pub fn table(plan: &Plan) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:>4}  {:>4}  {:>7}  {:>6}  {:>10}  {:>9}  {:>10}  {:<8}  {}\n",
        "wave", "dbs", "pg/my", "owners", "size", "full load", "validation", "crit", "window"
    ));
    for w in &plan.waves {
        let size = if w.total_gb >= 1000.0 {
            format!("{:.1} TB", w.total_gb / 1000.0)
        } else {
            format!("{:.1} GB", w.total_gb)
        };
        out.push_str(&format!(
            "{:>4}  {:>4}  {:>7}  {:>6}  {:>10}  {:>9}  {:>10}  {:<8}  {}{}\n",
            w.number,
            w.members.len(),
            format!("{}/{}", w.postgres, w.mysql),
            w.owners,
            size,
            human(w.full_load_s),
            human(w.validation_s),
            w.criticality.as_str(),
            w.window,
            if w.pilot { "  (pilot)" } else { "" }
        ));
    }
    let total: f64 = plan.waves.iter().map(|w| w.total_gb).sum();
    let dbs: usize = plan.waves.iter().map(|w| w.members.len()).sum();
    let fl: f64 = plan.waves.iter().map(|w| w.full_load_s).sum();
    out.push_str(&format!(
        "{} waves, {} databases, {:.1} TB, full loads back to back {}\n",
        plan.waves.len(),
        dbs,
        total / 1000.0,
        human(fl)
    ));
    out
}

/// The validation rate each engine is planned at and where it comes from, and how long the
/// biggest database takes to validate at it.
pub fn validation_rates(specs: &[DatabaseSpec], limits: &PlanLimits) -> String {
    let mut out = String::from("validation rate:");
    for (i, e) in [Engine::Postgres, Engine::Mysql].into_iter().enumerate() {
        let (gb_h, runs) = limits.validation_rate(e);
        let from = match runs {
            0 => "plan.validation_gb_per_hour, none measured".to_string(),
            n => format!("median of {n} measured validation(s)"),
        };
        out.push_str(&format!(
            "{} {} {gb_h:.0} GB/h ({from})",
            if i == 0 { "" } else { ";" },
            e.as_str()
        ));
    }
    out.push('\n');
    if let Some(big) = specs.iter().max_by(|a, b| a.size_gb.total_cmp(&b.size_gb)) {
        let s = validation_one_seconds(big.size_gb, big.engine, &limits.rates());
        out.push_str(&format!(
            "biggest database: {} ({:.1} TB, {}) validates in {}\n",
            big.db_id,
            big.size_gb / 1000.0,
            big.engine.as_str(),
            human(s)
        ));
    }
    out
}

pub fn waves_yaml(
    plan: &Plan,
    specs: &[DatabaseSpec],
    limits: &PlanLimits,
    source: &str,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Written by: wavedeck plan --inventory {source} --bandwidth-gbps {} --drs-concurrency {} --validation-capacity {} --max-wave-size {} --pilot-size {}\n",
        limits.bandwidth_gbps, limits.drs_concurrency, limits.validation_capacity, limits.max_wave_size, limits.pilot_size
    ));
    out.push_str(
        "# Import it with: wavedeck init --inventory THIS_FILE (databases carry their wave).\n",
    );
    for w in &plan.warnings {
        out.push_str(&format!("# warning: {}\n", w.replace('\n', " ")));
    }
    out.push_str("waves:\n");
    for w in &plan.waves {
        out.push_str(&format!("  - wave: {}\n", w.number));
        if w.pilot {
            out.push_str("    pilot: true\n");
        }
        out.push_str(&format!(
            "    window: {}\n",
            serde_json::to_string(&w.window).unwrap_or_default()
        ));
        out.push_str(&format!("    criticality: {}\n", w.criticality.as_str()));
        out.push_str(&format!("    total_gb: {:.3}\n", w.total_gb));
        out.push_str(&format!("    full_load_h: {:.2}\n", w.full_load_s / 3600.0));
        out.push_str(&format!(
            "    validation_h: {:.2}\n",
            w.validation_s / 3600.0
        ));
        let members: Vec<String> = w.members.iter().map(|m| yaml_scalar(m)).collect();
        out.push_str(&format!("    members: [{}]\n", members.join(", ")));
        if !w.notes.is_empty() {
            out.push_str(&format!(
                "    notes: {}\n",
                serde_json::to_string(&w.notes).unwrap_or_default()
            ));
        }
    }
    let assignment = plan.assignment();
    let mut planned: Vec<DatabaseSpec> = specs.to_vec();
    for s in &mut planned {
        s.wave = assignment.get(s.db_id.as_str()).copied();
        // The canonical spelling, so that every member of a wave carries the very same window
        // text (the store gives a wave its members' window when their texts agree).
        if let Ok(w) = crate::inventory::BusinessWindow::parse(&s.business_window) {
            s.business_window = w.to_string();
        }
    }
    planned.sort_by(|a, b| a.wave.cmp(&b.wave).then_with(|| a.db_id.cmp(&b.db_id)));
    out.push_str("databases:\n");
    out.push_str(&yaml_records(&planned));
    out
}
