//! Choosing wave 0: small, low-criticality databases over both engines and several owners,
//! all in one business window (a wave has one window).

use super::estimate::Rates;
use super::fit::{measure, size_desc, within, Item};
use super::limits::PlanLimits;
use crate::inventory::{Criticality, Engine};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Engines covered, at least 5, owners, members, minus total MB: higher is better.
type Score = (usize, bool, usize, usize, i64);

/// The db_ids of the pilot. `items` are sorted biggest first.
pub(super) fn choose(
    items: &[Item],
    limits: &PlanLimits,
    rates: &Rates,
    warnings: &mut Vec<String>,
) -> HashSet<String> {
    let want = (limits.pilot_size as usize).min(limits.wave_cap(Criticality::Low));
    let low = items
        .iter()
        .filter(|i| i.spec.criticality == Criticality::Low)
        .count();
    let allowed = if low >= 5 {
        Criticality::Low
    } else {
        warnings.push(format!(
            "only {low} low-criticality database(s): the pilot also takes medium ones"
        ));
        Criticality::Medium
    };
    let mut by_window: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    // Smallest first within each window.
    for it in items.iter().rev() {
        if it.spec.criticality <= allowed {
            by_window.entry(it.window.as_str()).or_default().push(it);
        }
    }
    let mut best: Option<(Score, Vec<&Item>)> = None;
    for cands in by_window.values() {
        let mut picked = select(cands, want);
        // Keep dropping the biggest until the pilot fits its window and the full-load budget.
        while !picked.is_empty() && !within(&measure(&picked, rates), picked[0].opening_min, limits)
        {
            picked.pop();
        }
        let engines: BTreeSet<Engine> = picked.iter().map(|i| i.spec.engine).collect();
        let owners: BTreeSet<&str> = picked.iter().map(|i| i.spec.owner.as_str()).collect();
        let total_mb: i64 = picked
            .iter()
            .map(|i| (i.spec.size_gb * 1000.0) as i64)
            .sum();
        let score = (
            engines.len(),
            picked.len() >= 5,
            owners.len(),
            picked.len(),
            -total_mb,
        );
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, picked));
        }
    }
    let Some((_, picked)) = best else {
        warnings.push("no database qualifies for the pilot wave (wave 0)".into());
        return HashSet::new();
    };
    if picked.len() < 5 {
        warnings.push(format!(
            "the pilot has only {} database(s) sharing one window (5 to 10 wanted)",
            picked.len()
        ));
    }
    let engines: BTreeSet<Engine> = picked.iter().map(|i| i.spec.engine).collect();
    if engines.len() < 2 {
        warnings.push(
            "the pilot covers one engine only: no window has low-risk databases of both".into(),
        );
    }
    picked.iter().map(|i| i.spec.db_id.clone()).collect()
}

/// Up to `want` of `cands` (smallest first): balanced engines and distinct owners first, then
/// balanced engines, then anything.
fn select<'a, 'b>(cands: &[&'a Item<'b>], want: usize) -> Vec<&'a Item<'b>> {
    let half = want.div_ceil(2);
    let mut picked: Vec<&Item> = Vec::new();
    let mut taken = HashSet::new();
    let count = |p: &[&Item], e: Engine| p.iter().filter(|i| i.spec.engine == e).count();
    for pass in 0..3 {
        for c in cands {
            if picked.len() >= want {
                break;
            }
            if taken.contains(c.spec.db_id.as_str()) {
                continue;
            }
            let new_owner = !picked.iter().any(|p| p.spec.owner == c.spec.owner);
            let engine_room = count(&picked, c.spec.engine) < half;
            let ok = match pass {
                0 => new_owner && engine_room,
                1 => engine_room,
                _ => true,
            };
            if ok {
                taken.insert(c.spec.db_id.as_str());
                picked.push(c);
            }
        }
    }
    // Biggest first, like every wave's member list.
    picked.sort_by(|a, b| size_desc(a, b));
    picked
}
