//! Properties of plans of the bundled 2000-database factory and of generated ones.

use super::*;
use crate::inventory::generate::generate;
use crate::inventory::load::parse_bytes;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

const FACTORY: &str = include_str!("../../inventory/factory-2000.csv");
const PILOT: &str = include_str!("../../inventory/pilot.yaml");

fn limits() -> PlanLimits {
    PlanLimits::from_config(&crate::config::Config::default())
}

fn factory() -> Vec<DatabaseSpec> {
    let (specs, probs) = parse_bytes(Path::new("factory-2000.csv"), FACTORY.as_bytes());
    assert!(probs.is_empty(), "{:?}", probs.first());
    specs.into_iter().map(|(_, s)| s).collect()
}

/// Every property the planner promises, checked on one plan.
fn assert_valid(specs: &[DatabaseSpec], l: &PlanLimits, p: &Plan) {
    let by_id: HashMap<&str, &DatabaseSpec> = specs.iter().map(|s| (s.db_id.as_str(), s)).collect();
    // Exactly one wave per database.
    let mut seen = BTreeSet::new();
    for w in &p.waves {
        for m in &w.members {
            assert!(seen.insert(m.as_str()), "{m} in two waves");
        }
    }
    assert_eq!(seen.len(), specs.len(), "some database has no wave");
    // Wave numbers are 0 (pilot), 1, 2, ... in order.
    for (i, w) in p.waves.iter().enumerate() {
        assert_eq!(w.number as usize, i);
        assert_eq!(w.pilot, i == 0);
    }
    for w in &p.waves {
        let members: Vec<&DatabaseSpec> = w.members.iter().map(|m| by_id[m.as_str()]).collect();
        // One window per wave, and it is each member's own.
        for m in &members {
            let own = BusinessWindow::parse(&m.business_window)
                .unwrap()
                .to_string();
            assert_eq!(own, w.window, "wave {} member {}", w.number, m.db_id);
        }
        // Size caps, stricter for higher criticality.
        assert!(
            w.members.len() <= l.wave_cap(w.criticality),
            "wave {} too big",
            w.number
        );
        assert!(w.members.len() as u32 <= l.drs_concurrency.min(l.max_wave_size));
        // Time limits, unless a single database cannot meet them (then it says so).
        let fits = w.validation_s <= w.opening_min as f64 * 60.0
            && w.full_load_s <= l.max_full_load_h * 3600.0;
        assert!(
            fits || (w.members.len() == 1 && !w.notes.is_empty()),
            "wave {} breaks a time limit",
            w.number
        );
        if !w.pilot {
            assert!(members.iter().all(|m| m.criticality == w.criticality));
        }
        let total: f64 = members.iter().map(|m| m.size_gb).sum();
        assert!((total - w.total_gb).abs() < 1e-6);
    }
    // Low criticality first, high last.
    let crits: Vec<Criticality> = p.waves.iter().skip(1).map(|w| w.criticality).collect();
    assert!(crits.windows(2).all(|c| c[0] <= c[1]), "criticality order");
}

#[test]
fn factory_plan_keeps_every_promise() {
    let specs = factory();
    let l = limits();
    let p = plan(&specs, &l).unwrap();
    assert_valid(&specs, &l, &p);
    let pilot = &p.waves[0];
    assert!((5..=10).contains(&pilot.members.len()));
    assert!(
        pilot.postgres > 0 && pilot.mysql > 0,
        "pilot covers both engines"
    );
    assert!(
        pilot.owners >= 4,
        "pilot spread over owners: {}",
        pilot.owners
    );
    let by_id: HashMap<&str, &DatabaseSpec> = specs.iter().map(|s| (s.db_id.as_str(), s)).collect();
    for m in &pilot.members {
        let s = by_id[m.as_str()];
        assert_eq!(s.criticality, Criticality::Low);
        assert!(s.size_gb < 1.0, "pilot member {m} is {} GB", s.size_gb);
    }
    // High-criticality waves are smaller on average than low ones.
    let avg = |c: Criticality| {
        let ws: Vec<&Wave> = p
            .waves
            .iter()
            .skip(1)
            .filter(|w| w.criticality == c)
            .collect();
        ws.iter().map(|w| w.members.len()).sum::<usize>() as f64 / ws.len() as f64
    };
    assert!(avg(Criticality::High) < avg(Criticality::Low));
}

#[test]
fn same_input_same_plan_whatever_the_order() {
    let specs = factory();
    let a = plan(&specs, &limits()).unwrap();
    let mut rev = specs.clone();
    rev.reverse();
    assert_eq!(a, plan(&rev, &limits()).unwrap());
}

#[test]
fn tighter_limits_still_hold_on_other_factories() {
    for seed in [1u64, 2, 3] {
        let specs = generate(600, seed);
        let mut l = limits();
        l.drs_concurrency = 12;
        l.validation_capacity = 2;
        l.bandwidth_gbps = 1.0;
        l.pilot_size = 5;
        let p = plan(&specs, &l).unwrap();
        assert_valid(&specs, &l, &p);
        assert!(p.waves.iter().all(|w| w.members.len() <= 12));
    }
}

#[test]
fn bundled_pilot_is_one_pilot_wave() {
    let (specs, probs) = parse_bytes(Path::new("pilot.yaml"), PILOT.as_bytes());
    assert!(probs.is_empty());
    let specs: Vec<DatabaseSpec> = specs.into_iter().map(|(_, s)| s).collect();
    let p = plan(&specs, &limits()).unwrap();
    assert_eq!(p.waves.len(), 1);
    assert_eq!(p.waves[0].members.len(), 8);
    assert_valid(&specs, &limits(), &p);
}

#[test]
fn written_plan_imports_with_waves_filled_in() {
    let mut specs = factory();
    // Two spellings of one window end up in the same waves, written the same way.
    for s in specs.iter_mut().step_by(2) {
        if s.business_window == "Sat,Sun 01:00-05:00 Europe/Paris" {
            s.business_window = "sat,Sunday 01:00-05:00 Europe/Paris".into();
        }
    }
    let l = limits();
    let p = plan(&specs, &l).unwrap();
    let text = output::waves_yaml(&p, &specs, &l, "factory-2000.csv");
    let (back, probs) = parse_bytes(Path::new("waves.yaml"), text.as_bytes());
    assert!(probs.is_empty(), "{:?}", probs.first());
    assert_eq!(back.len(), specs.len());
    let assignment = p.assignment();
    for (_, s) in &back {
        assert_eq!(
            s.wave,
            assignment.get(s.db_id.as_str()).copied(),
            "{}",
            s.db_id
        );
    }
    let back: Vec<DatabaseSpec> = back.into_iter().map(|(_, s)| s).collect();
    // Members of one wave carry the same window text.
    for w in &p.waves {
        let texts: BTreeSet<&str> = back
            .iter()
            .filter(|s| s.wave == Some(w.number))
            .map(|s| s.business_window.as_str())
            .collect();
        assert_eq!(texts.len(), 1, "wave {}", w.number);
    }
    let windows = wave_windows(&back).unwrap();
    assert_eq!(windows.len(), p.waves.len());
    assert_eq!(windows[&0], p.waves[0].window);
    assert!(output::table(&p).contains("(pilot)"));
}

#[test]
fn bad_limits_and_mixed_waves_are_refused_in_words() {
    let specs = factory();
    let mut l = limits();
    l.pilot_size = 20;
    assert!(plan(&specs, &l).unwrap_err().contains("5..10"));
    let mut l = limits();
    l.validation_capacity = 0;
    assert!(plan(&specs, &l)
        .unwrap_err()
        .contains("validation capacity"));
    let mut two = vec![specs[0].clone(), specs[1].clone()];
    two[1].business_window = "Mon 01:00-02:00 UTC".into();
    two[0].wave = Some(3);
    two[1].wave = Some(3);
    assert!(wave_windows(&two).unwrap_err().contains("wave 3 mixes"));
}

#[test]
fn plan_file_problems_point_at_the_right_line() {
    let specs: Vec<DatabaseSpec> = generate(30, 9);
    let l = limits();
    let p = plan(&specs, &l).unwrap();
    let text =
        output::waves_yaml(&p, &specs, &l, "g.yaml").replacen("engine: mysql", "engine: mssql", 1);
    let (_, probs) = parse_bytes(Path::new("waves.yaml"), text.as_bytes());
    assert_eq!(probs.len(), 1, "{probs:?}");
    let line = text
        .lines()
        .position(|l| l.contains("engine: mssql"))
        .unwrap()
        + 1;
    assert_eq!(probs[0].line, line);
}

#[test]
fn kept_waves_stay_and_the_rest_is_planned_after_them() {
    let (pilot, _) = parse_bytes(Path::new("pilot.yaml"), PILOT.as_bytes());
    let mut specs: Vec<DatabaseSpec> = pilot.into_iter().map(|(_, s)| s).collect();
    let mut more = generate(200, 5);
    more[0].wave = Some(7);
    more[1].wave = Some(7);
    more[1].business_window = more[0].business_window.clone();
    specs.extend(more.iter().cloned());
    let l = limits();
    let p = plan_keeping_waves(&specs, &l).unwrap();
    let a = p.assignment();
    assert_eq!(a.len(), specs.len());
    for s in &specs {
        match s.wave {
            Some(w) => assert_eq!(a[s.db_id.as_str()], w, "{} moved", s.db_id),
            None => assert!(
                a[s.db_id.as_str()] > 7,
                "{} planned before the kept waves",
                s.db_id
            ),
        }
    }
    // The kept pilot is the pilot: no second one is chosen.
    assert_eq!(p.waves[0].members.len(), 8);
    assert!(p.waves.iter().filter(|w| w.pilot).count() == 1);
    let nums: Vec<u32> = p.waves.iter().map(|w| w.number).collect();
    assert!(nums.windows(2).all(|n| n[0] < n[1]), "{nums:?}");
    // Plain planning ignores the wave fields.
    assert!(plan(&specs, &l)
        .unwrap()
        .waves
        .iter()
        .all(|w| w.number != 7 || w.members.len() != 2));
    // A kept wave with two windows is refused in words.
    more[1].business_window = "Mon 01:00-02:00 UTC".into();
    let err = plan_keeping_waves(&more, &l).unwrap_err();
    assert!(err.contains("wave 7 mixes business windows"), "{err}");
}
