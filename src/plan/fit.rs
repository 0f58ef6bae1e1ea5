//! How a set of databases fits a wave: their full load and validation time and their write rate
//! together, against the limits. Shared by the packing (`mod.rs`) and the pilot's choice
//! (`pilot.rs`), below both.

use super::estimate::{self, Rates};
use super::limits::PlanLimits;
use crate::inventory::DatabaseSpec;

pub(super) struct Item<'a> {
    pub(super) spec: &'a DatabaseSpec,
    pub(super) window: String,
    pub(super) opening_min: u32,
    /// Measured rows written per second (0 when not assessed).
    pub(super) write_rows_s: f64,
}

/// Biggest first, then by id: the order that makes the packing (and the plan) deterministic.
pub(super) fn size_desc(a: &Item, b: &Item) -> std::cmp::Ordering {
    b.spec
        .size_gb
        .total_cmp(&a.spec.size_gb)
        .then_with(|| a.spec.db_id.cmp(&b.spec.db_id))
}

pub(super) struct Fit {
    pub(super) full_load_s: f64,
    pub(super) validation_s: f64,
    pub(super) write_rows_s: f64,
}

pub(super) fn measure(items: &[&Item], rates: &Rates) -> Fit {
    let sizes: Vec<f64> = items.iter().map(|i| i.spec.size_gb).collect();
    let dbs: Vec<(f64, crate::inventory::Engine)> = items
        .iter()
        .map(|i| (i.spec.size_gb, i.spec.engine))
        .collect();
    Fit {
        full_load_s: estimate::full_load_seconds(&sizes, rates),
        validation_s: estimate::validation_seconds(&dbs, rates),
        write_rows_s: items.iter().map(|i| i.write_rows_s).sum(),
    }
}

pub(super) fn within(fit: &Fit, opening_min: u32, limits: &PlanLimits) -> bool {
    fit.validation_s <= opening_min as f64 * 60.0
        && fit.full_load_s <= limits.max_full_load_h * 3600.0
        && fit.write_rows_s <= limits.max_wave_write_rows_s
}
