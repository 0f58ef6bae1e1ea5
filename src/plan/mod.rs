//! Wave planning: which database goes in which wave, and how long each wave should take.
//!
//! Pure: an inventory and limits in, a plan out, the same plan for the same input (whatever the
//! order of the records). The rules:
//! - wave 0 is the pilot: 5 to 10 small, low-criticality databases over both engines and as
//!   many owners as possible, all sharing one business window;
//! - every other database lands in exactly one wave of databases with the same business window
//!   (compared in canonical form) and the same criticality;
//! - a wave never holds more than `min(max_wave_size, drs_concurrency)` databases (each
//!   member keeps a DRS job open through CDC until its cutover), halved for medium and quartered
//!   for high criticality: smaller batches where the business risk is;
//! - its validation must fit in one opening of its window, and its full load within
//!   `max_full_load_h`; a database too big for that alone gets a wave of its own and a warning;
//! - with a fleet assessment (`plan --assessment`), the members' measured write rates together
//!   stay under `max_wave_write_rows_s`: the CDC of one wave lands on targets and DRS nodes
//!   that apply changes at a bounded rate;
//! - waves run low criticality first, then medium, then high, and within one window and
//!   criticality the smallest wave first, so the factory learns on the cheapest mistakes.
//!
//! The duration model is in [`estimate`]; which online databases could move offline (and why)
//! is in [`offline`].

pub mod assessed;
pub mod cmd;
pub mod estimate;
pub mod expected;
mod fit;
pub mod limits;
pub mod offline;
pub mod output;
mod pilot;

use fit::{measure, size_desc, within, Item};
pub use limits::PlanLimits;

use crate::inventory::{BusinessWindow, Criticality, DatabaseSpec, Engine};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Wave {
    pub number: u32,
    pub pilot: bool,
    /// The members' business window, canonical spelling.
    pub window: String,
    /// The highest criticality among the members.
    pub criticality: Criticality,
    /// db_ids, biggest first.
    pub members: Vec<String>,
    pub postgres: usize,
    pub mysql: usize,
    pub owners: usize,
    pub total_gb: f64,
    pub full_load_s: f64,
    pub validation_s: f64,
    /// The shortest opening of the window, in minutes.
    pub opening_min: u32,
    /// Why this wave bends a rule (e.g. one database too big to validate in one opening).
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub waves: Vec<Wave>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// db_id -> wave number.
    pub fn assignment(&self) -> BTreeMap<&str, u32> {
        self.waves
            .iter()
            .flat_map(|w| w.members.iter().map(move |m| (m.as_str(), w.number)))
            .collect()
    }
}

pub fn plan(specs: &[DatabaseSpec], limits: &PlanLimits) -> Result<Plan, String> {
    plan_impl(specs, limits, false, &BTreeMap::new())
}

/// Like [`plan`], but databases whose `wave` is already set stay in it (an operator moved them,
/// or an earlier plan was edited); only the others are planned, into waves numbered after the
/// highest kept one. A kept wave must have one business window; one over its size cap is
/// kept with a warning. There is an automatic pilot only when no wave 0 is kept.
pub fn plan_keeping_waves(specs: &[DatabaseSpec], limits: &PlanLimits) -> Result<Plan, String> {
    plan_impl(specs, limits, true, &BTreeMap::new())
}

/// [`plan`] (or, with `keep`, [`plan_keeping_waves`]) with measured write rates, rows per second
/// by db_id (from [`assessed::apply`]); a database missing from the map counts as 0.
pub fn plan_measured(
    specs: &[DatabaseSpec],
    limits: &PlanLimits,
    keep: bool,
    write_rows_s: &BTreeMap<String, f64>,
) -> Result<Plan, String> {
    plan_impl(specs, limits, keep, write_rows_s)
}

fn plan_impl(
    specs: &[DatabaseSpec],
    limits: &PlanLimits,
    keep: bool,
    write_rows_s: &BTreeMap<String, f64>,
) -> Result<Plan, String> {
    limits.validate()?;
    let rates = limits.rates();
    let mut items = Vec::with_capacity(specs.len());
    let mut seen = std::collections::HashSet::new();
    for s in specs {
        if !seen.insert(s.db_id.as_str()) {
            return Err(format!(
                "db_id {} appears twice; run wavedeck inventory check",
                s.db_id
            ));
        }
        let w =
            BusinessWindow::parse(&s.business_window).map_err(|e| format!("{}: {e}", s.db_id))?;
        items.push(Item {
            spec: s,
            window: w.to_string(),
            opening_min: w.shortest_opening_minutes(),
            write_rows_s: write_rows_s.get(&s.db_id).copied().unwrap_or(0.0),
        });
    }
    items.sort_by(size_desc);
    let mut warnings = Vec::new();

    // (number, pilot, members, notes)
    type Raw<'a, 'b> = (u32, bool, Vec<&'a Item<'b>>, Vec<String>);
    let mut waves_raw: Vec<Raw> = Vec::new();
    let mut kept: BTreeMap<u32, Vec<&Item>> = BTreeMap::new();
    if keep {
        for it in &items {
            if let Some(w) = it.spec.wave {
                kept.entry(w).or_default().push(it);
            }
        }
    }
    for (n, members) in &kept {
        if let Some(other) = members.iter().find(|m| m.window != members[0].window) {
            return Err(format!(
                "wave {n} mixes business windows: {} has {:?}, {} has {:?}; move one of them to another wave or clear its wave",
                members[0].spec.db_id, members[0].window, other.spec.db_id, other.window
            ));
        }
        let crit = members
            .iter()
            .map(|m| m.spec.criticality)
            .max()
            .unwrap_or(Criticality::Low);
        let mut notes = Vec::new();
        if members.len() > limits.wave_cap(crit) {
            let note = format!(
                "kept wave {n} holds {} databases, more than the {} allowed for {} criticality",
                members.len(),
                limits.wave_cap(crit),
                crit.as_str()
            );
            warnings.push(note.clone());
            notes.push(note);
        }
        waves_raw.push((*n, *n == 0, members.clone(), notes));
    }
    let free: Vec<Item> = items
        .iter()
        .filter(|i| !(keep && i.spec.wave.is_some()))
        .map(|i| Item {
            spec: i.spec,
            window: i.window.clone(),
            opening_min: i.opening_min,
            write_rows_s: i.write_rows_s,
        })
        .collect();
    let pilot_ids = if kept.contains_key(&0) {
        Default::default()
    } else {
        pilot::choose(&free, limits, &rates, &mut warnings)
    };
    if !pilot_ids.is_empty() {
        let members: Vec<&Item> = items
            .iter()
            .filter(|i| pilot_ids.contains(&i.spec.db_id))
            .collect();
        waves_raw.push((0, true, members, Vec::new()));
    }
    let mut next = kept.keys().next_back().map(|n| n + 1).unwrap_or(1);

    // Group the rest by (criticality, window); BTreeMap keeps the order deterministic and puts
    // low criticality first.
    let mut groups: BTreeMap<(Criticality, &str), Vec<&Item>> = BTreeMap::new();
    for it in items
        .iter()
        .filter(|i| !(pilot_ids.contains(&i.spec.db_id) || keep && i.spec.wave.is_some()))
    {
        groups
            .entry((it.spec.criticality, it.window.as_str()))
            .or_default()
            .push(it);
    }
    for ((crit, _), members) in groups {
        let cap = limits.wave_cap(crit);
        // First-fit decreasing: members arrive biggest first.
        let mut bins: Vec<(Vec<&Item>, Vec<String>)> = Vec::new();
        for it in members {
            let mut placed = false;
            for (bin, notes) in bins.iter_mut() {
                if !notes.is_empty() || bin.len() >= cap {
                    continue;
                }
                bin.push(it);
                if within(&measure(bin, &rates), it.opening_min, limits) {
                    placed = true;
                    break;
                }
                bin.pop();
            }
            if placed {
                continue;
            }
            let alone = measure(&[it], &rates);
            let mut notes = Vec::new();
            if !within(&alone, it.opening_min, limits) {
                let mut why = Vec::new();
                if alone.validation_s > it.opening_min as f64 * 60.0 {
                    why.push(format!(
                        "validation {} > one {} opening",
                        estimate::human(alone.validation_s),
                        estimate::human(it.opening_min as f64 * 60.0)
                    ));
                }
                if alone.full_load_s > limits.max_full_load_h * 3600.0 {
                    why.push(format!(
                        "full load {} > {}h budget",
                        estimate::human(alone.full_load_s),
                        limits.max_full_load_h
                    ));
                }
                if alone.write_rows_s > limits.max_wave_write_rows_s {
                    why.push(format!(
                        "it writes {:.0} rows/s > {:.0} per wave",
                        alone.write_rows_s, limits.max_wave_write_rows_s
                    ));
                }
                let note = format!(
                    "{} ({:.0} GB) gets a wave of its own: {}; validate it ahead (sampled checksums) or give it a longer window",
                    it.spec.db_id,
                    it.spec.size_gb,
                    why.join(", ")
                );
                warnings.push(note.clone());
                notes.push(note);
            }
            bins.push((vec![it], notes));
        }
        // Smallest wave of the group first: the team learns a window on the cheap ones.
        let total = |b: &[&Item]| b.iter().map(|i| i.spec.size_gb).sum::<f64>();
        bins.sort_by(|a, b| total(&a.0).total_cmp(&total(&b.0)));
        for (bin, notes) in bins {
            waves_raw.push((next, false, bin, notes));
            next += 1;
        }
    }

    let mut waves = Vec::new();
    waves_raw.sort_by_key(|w| w.0);
    for (number, pilot, mut members, notes) in waves_raw {
        members.sort_by(|a, b| size_desc(a, b));
        let fit = measure(&members, &rates);
        let owners: std::collections::BTreeSet<&str> =
            members.iter().map(|m| m.spec.owner.as_str()).collect();
        waves.push(Wave {
            number,
            pilot,
            window: members
                .first()
                .map(|m| m.window.clone())
                .unwrap_or_default(),
            criticality: members
                .iter()
                .map(|m| m.spec.criticality)
                .max()
                .unwrap_or(Criticality::Low),
            members: members.iter().map(|m| m.spec.db_id.clone()).collect(),
            postgres: members
                .iter()
                .filter(|m| m.spec.engine == Engine::Postgres)
                .count(),
            mysql: members
                .iter()
                .filter(|m| m.spec.engine == Engine::Mysql)
                .count(),
            owners: owners.len(),
            total_gb: members.iter().map(|m| m.spec.size_gb).sum(),
            full_load_s: fit.full_load_s,
            validation_s: fit.validation_s,
            opening_min: members.iter().map(|m| m.opening_min).min().unwrap_or(0),
            notes,
        });
    }
    Ok(Plan { waves, warnings })
}

/// The window of each wave of an inventory whose `wave` fields are filled (e.g. a file written
/// by `wavedeck plan`): the members' common business window, canonical spelling. An error names
/// a wave whose members disagree.
pub fn wave_windows(specs: &[DatabaseSpec]) -> Result<BTreeMap<u32, String>, String> {
    let mut out: BTreeMap<u32, (String, &str)> = BTreeMap::new();
    for s in specs {
        let Some(w) = s.wave else { continue };
        let win = BusinessWindow::parse(&s.business_window)
            .map_err(|e| format!("{}: {e}", s.db_id))?
            .to_string();
        match out.get(&w) {
            Some((other, first)) if *other != win => {
                return Err(format!(
                    "wave {w} mixes business windows: {first} has {other:?}, {} has {win:?}; run wavedeck plan to regroup them",
                    s.db_id
                ))
            }
            Some(_) => {}
            None => {
                out.insert(w, (win, s.db_id.as_str()));
            }
        }
    }
    Ok(out.into_iter().map(|(k, (w, _))| (k, w)).collect())
}

#[cfg(test)]
mod tests;
