//! A fleet assessment applied to the inventory before planning. Pure.
//!
//! A database the assessment reached is planned with its measured size and write rate instead
//! of the inventory's declared size; one with a blocker is held back in no wave, with the
//! reason, until it is fixed and assessed again; one the assessment could not reach (or does not
//! list) keeps its declared size, and the plan says so.

use crate::assess::report::AssessmentFile;
use crate::assess::{DbAssessment, Outcome};
use crate::inventory::DatabaseSpec;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The databases to plan, sizes measured where known.
    pub specs: Vec<DatabaseSpec>,
    /// Measured rows written per second, by db_id.
    pub write_rows_s: BTreeMap<String, f64>,
    /// db_id and why it is in no wave.
    pub held_back: Vec<(String, String)>,
    /// What the plan used the declared figures for, and why.
    pub notes: Vec<String>,
}

pub fn apply(specs: &[DatabaseSpec], file: &AssessmentFile) -> Applied {
    let rows: BTreeMap<&str, &DbAssessment> = file
        .databases
        .iter()
        .map(|r| (r.db_id.as_str(), r))
        .collect();
    let mut out = Applied {
        specs: Vec::with_capacity(specs.len()),
        write_rows_s: BTreeMap::new(),
        held_back: Vec::new(),
        notes: Vec::new(),
    };
    let mut declared = Vec::new();
    for s in specs {
        let Some(r) = rows.get(s.db_id.as_str()) else {
            declared.push(format!("{} (not in the assessment)", s.db_id));
            out.specs.push(s.clone());
            continue;
        };
        let blockers: Vec<&str> = r.blockers().map(|f| f.rule.as_str()).collect();
        if !blockers.is_empty() {
            out.held_back.push((
                s.db_id.clone(),
                format!(
                    "{} blocker(s): {} (see assessment.md; fix them and assess again)",
                    blockers.len(),
                    blockers.join(", ")
                ),
            ));
            continue;
        }
        let mut s = s.clone();
        match r.measured_size_gb() {
            Some(gb) => s.size_gb = gb,
            None if r.outcome == Outcome::Unreachable => {
                declared.push(format!("{} (unreachable at assessment)", s.db_id))
            }
            None => declared.push(format!("{} (size not measured)", s.db_id)),
        }
        if let Some(w) = &r.write_rate {
            out.write_rows_s.insert(s.db_id.clone(), w.rows_per_s);
        }
        out.specs.push(s);
    }
    if !declared.is_empty() {
        let shown: Vec<&str> = declared.iter().take(10).map(|s| s.as_str()).collect();
        out.notes.push(format!(
            "{} database(s) planned with their declared size: {}{}",
            declared.len(),
            shown.join(", "),
            if declared.len() > shown.len() {
                format!(" and {} more", declared.len() - shown.len())
            } else {
                String::new()
            }
        ));
    }
    let known: std::collections::HashSet<&str> = specs.iter().map(|s| s.db_id.as_str()).collect();
    let extra = file
        .databases
        .iter()
        .filter(|r| !known.contains(r.db_id.as_str()))
        .count();
    if extra > 0 {
        out.notes.push(format!(
            "{extra} database(s) of the assessment are not in the inventory (ignored)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::{Finding, Severity, WriteRate};
    use crate::inventory::generate::generate;

    fn row(spec: &DatabaseSpec, outcome: Outcome) -> DbAssessment {
        let mut r = DbAssessment::new(spec);
        r.outcome = outcome;
        r
    }

    #[test]
    fn measured_sizes_and_rates_replace_declared_and_blockers_hold_back() {
        let specs = generate(4, 7);
        let mut measured = row(&specs[0], Outcome::Assessed);
        measured.measured_size_bytes = Some(3_000_000_000);
        measured.write_rate = Some(WriteRate {
            rows_per_s: 900.0,
            sample_s: 2.0,
            scope: "database".into(),
        });
        measured.findings.push(Finding {
            severity: Severity::Warning,
            rule: "source/primary_keys".into(),
            detail: "1 table".into(),
            fix: None,
        });
        let mut blocked = row(&specs[1], Outcome::Assessed);
        blocked.measured_size_bytes = Some(1);
        blocked.findings.push(Finding {
            severity: Severity::Blocker,
            rule: "type/unsupported".into(),
            detail: "t.c pg_lsn".into(),
            fix: None,
        });
        let unreachable = row(&specs[2], Outcome::Unreachable);
        let mut stranger = row(&specs[3], Outcome::Assessed);
        stranger.db_id = "not-in-inventory".into();
        let file = AssessmentFile {
            format: crate::assess::report::FORMAT.into(),
            generated_at: "t".into(),
            inventory: vec![],
            elapsed_s: 1.0,
            databases: vec![measured, blocked, unreachable, stranger],
        };
        let a = apply(&specs, &file);
        let ids: Vec<&str> = a.specs.iter().map(|s| s.db_id.as_str()).collect();
        assert_eq!(ids, vec![&specs[0].db_id, &specs[2].db_id, &specs[3].db_id]);
        assert_eq!(a.specs[0].size_gb, 3.0);
        assert_eq!(a.specs[1].size_gb, specs[2].size_gb);
        assert_eq!(a.write_rows_s.get(&specs[0].db_id), Some(&900.0));
        assert_eq!(a.held_back.len(), 1);
        assert_eq!(a.held_back[0].0, specs[1].db_id);
        assert!(
            a.held_back[0].1.contains("type/unsupported"),
            "{:?}",
            a.held_back
        );
        assert_eq!(a.notes.len(), 2, "{:?}", a.notes);
        assert!(a.notes[0].starts_with("2 database(s) planned with their declared size"));
        assert!(a.notes[0].contains("(unreachable at assessment)"));
        assert!(a.notes[0].contains("(not in the assessment)"));
        assert!(a.notes[1].contains("1 database(s) of the assessment are not in the inventory"));
    }

    #[test]
    fn write_rates_split_waves() {
        let mut specs = generate(60, 3);
        for s in specs.iter_mut() {
            s.criticality = crate::inventory::Criticality::Low;
            s.business_window = "Sat 01:00-05:00 UTC".into();
            s.size_gb = 1.0;
        }
        let mut limits = super::super::PlanLimits::from_config(&crate::config::Config::default());
        limits.max_wave_write_rows_s = 1000.0;
        let quiet = super::super::plan_measured(&specs, &limits, false, &BTreeMap::new()).unwrap();
        let busy: BTreeMap<String, f64> = specs.iter().map(|s| (s.db_id.clone(), 300.0)).collect();
        let p = super::super::plan_measured(&specs, &limits, false, &busy).unwrap();
        assert!(p.waves.len() > quiet.waves.len());
        for w in &p.waves {
            assert!(
                w.members.len() * 300 <= 1000,
                "wave {} has {}",
                w.number,
                w.members.len()
            );
        }
    }
}
