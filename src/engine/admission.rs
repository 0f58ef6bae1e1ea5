//! Who may start next: the order databases are taken in, and the limits that hold them back.
//! Pure: the scheduler passes counts in, gets decisions out.

use crate::config::Limits;
use crate::inventory::Criticality;
use std::cmp::Ordering;

/// What the scheduler knows of a database waiting to be admitted.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub wave: u32,
    pub criticality: Criticality,
    pub size_gb: f64,
    /// Tie-break so the order is total and the same input always gives the same order.
    pub db_id: String,
    /// It will create a DRS job at its pre-checks (online). An offline database gets its job
    /// only at its cutover, so its admission takes no DRS slot.
    pub needs_drs_job: bool,
}

/// Waves in order; inside a wave the most critical first (they get the longest CDC soak before
/// the window and any trouble shows early), then the largest first (the longest full loads
/// start first, which shortens the wave as a whole), then by id.
pub fn priority(a: &Candidate, b: &Candidate) -> Ordering {
    a.wave
        .cmp(&b.wave)
        .then(b.criticality.cmp(&a.criticality))
        .then(b.size_gb.partial_cmp(&a.size_gb).unwrap_or(Ordering::Equal))
        .then(a.db_id.cmp(&b.db_id))
}

/// The limits in the units the scheduler counts in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Caps {
    /// DRS jobs alive at once (the tenant's concurrent-job quota).
    pub drs_jobs: usize,
    /// Databases of one wave working at once (pre-checks through validation).
    pub per_wave: usize,
    /// Validations running at once.
    pub validations: usize,
    /// Full loads running at once, from the bandwidth budget.
    pub full_loads: usize,
}

impl Caps {
    /// `job_mbps`: the bandwidth one full load is expected to use, megabytes per second.
    pub fn from_limits(l: &Limits, job_mbps: f64) -> Caps {
        let budget_mbps = l.bandwidth_gbps.max(0.0) * 1000.0 / 8.0;
        let full_loads = if job_mbps > 0.0 && budget_mbps.is_finite() {
            ((budget_mbps / job_mbps).floor() as usize).max(1)
        } else {
            usize::MAX
        };
        Caps {
            drs_jobs: (l.drs_concurrency as usize).max(1),
            per_wave: (l.wave_concurrency as usize).max(1),
            validations: (l.validation_capacity as usize).max(1),
            full_loads,
        }
    }

    /// One line for `wavedeck status` and the cockpit.
    pub fn describe(&self, l: &Limits, job_mbps: f64) -> String {
        format!(
            "DRS jobs {} · per wave {} · validations {} · bandwidth {} Gbit/s = {} full loads at {} MB/s",
            self.drs_jobs,
            self.per_wave,
            self.validations,
            l.bandwidth_gbps,
            if self.full_loads == usize::MAX {
                "unlimited".to_string()
            } else {
                self.full_loads.to_string()
            },
            job_mbps
        )
    }
}

/// What is in use right now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub drs_jobs: usize,
    /// Working databases per wave (index = wave number; missing = 0).
    pub per_wave: std::collections::BTreeMap<u32, usize>,
    pub validations: usize,
    pub full_loads: usize,
}

/// Why a database waits; shown to the operator as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    DrsJobs(usize),
    Wave(u32, usize),
    Validations(usize),
    Bandwidth(usize),
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::DrsJobs(n) => write!(f, "waiting: DRS concurrent-job limit ({n}) reached"),
            Held::Wave(w, n) => write!(f, "waiting: wave {w} already has {n} databases in flight"),
            Held::Validations(n) => write!(f, "waiting: validation capacity ({n}) in use"),
            Held::Bandwidth(n) => {
                write!(f, "waiting: bandwidth budget allows {n} full loads at once")
            }
        }
    }
}

/// Admit new databases into the pipeline (they will need a DRS job and a wave slot), in
/// priority order, as far as the caps allow. Returns the indexes of `waiting` admitted; updates
/// `usage` as it admits. `waiting` must already be sorted by [`priority`].
pub fn admit(waiting: &[Candidate], caps: &Caps, usage: &mut Usage) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, c) in waiting.iter().enumerate() {
        if c.needs_drs_job && usage.drs_jobs >= caps.drs_jobs {
            // The online ones after it wait too; an offline one takes no DRS slot.
            continue;
        }
        let in_wave = usage.per_wave.entry(c.wave).or_insert(0);
        if *in_wave >= caps.per_wave {
            // A later wave could still have room, but waves go in order: an earlier wave that
            // is full holds the later ones back.
            break;
        }
        *in_wave += 1;
        if c.needs_drs_job {
            usage.drs_jobs += 1;
        }
        out.push(i);
    }
    out
}

/// Whether one more validation may start; if not, why.
pub fn may_validate(caps: &Caps, usage: &Usage) -> Result<(), Held> {
    if usage.validations < caps.validations {
        Ok(())
    } else {
        Err(Held::Validations(caps.validations))
    }
}

/// Whether one more full load may start; if not, why.
pub fn may_full_load(caps: &Caps, usage: &Usage) -> Result<(), Held> {
    if usage.full_loads < caps.full_loads {
        Ok(())
    } else {
        Err(Held::Bandwidth(caps.full_loads))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(wave: u32, crit: Criticality, size: f64, id: &str) -> Candidate {
        Candidate {
            wave,
            criticality: crit,
            size_gb: size,
            db_id: id.into(),
            needs_drs_job: true,
        }
    }

    fn limits() -> Limits {
        Limits {
            drs_concurrency: 4,
            wave_concurrency: 3,
            validation_capacity: 2,
            bandwidth_gbps: 1.6,
        }
    }

    #[test]
    fn order_is_wave_then_criticality_then_size_then_id() {
        let mut v = [
            c(1, Criticality::High, 500.0, "e"),
            c(0, Criticality::Low, 900.0, "d"),
            c(0, Criticality::High, 1.0, "c"),
            c(0, Criticality::High, 10.0, "b"),
            c(0, Criticality::High, 10.0, "a"),
            c(0, Criticality::Medium, f64::NAN, "f"),
        ];
        v.sort_by(priority);
        let ids: Vec<&str> = v.iter().map(|x| x.db_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "f", "d", "e"]);
    }

    #[test]
    fn bandwidth_budget_becomes_a_count_of_full_loads() {
        let caps = Caps::from_limits(&limits(), 100.0);
        // 1.6 Gbit/s = 200 MB/s = two jobs at 100 MB/s.
        assert_eq!(caps.full_loads, 2);
        let tiny = Caps::from_limits(&limits(), 10_000.0);
        assert_eq!(tiny.full_loads, 1, "never zero: the factory must move");
        let s = caps.describe(&limits(), 100.0);
        assert!(s.contains("2 full loads"), "{s}");
    }

    #[test]
    fn admission_stops_at_the_drs_job_limit() {
        let caps = Caps {
            drs_jobs: 4,
            per_wave: 100,
            validations: 1,
            full_loads: 1,
        };
        let waiting: Vec<_> = (0..10)
            .map(|i| c(0, Criticality::Low, 1.0, &format!("d{i}")))
            .collect();
        let mut usage = Usage {
            drs_jobs: 1,
            ..Usage::default()
        };
        assert_eq!(admit(&waiting, &caps, &mut usage), vec![0, 1, 2]);
        assert_eq!(usage.drs_jobs, 4);
        assert!(admit(&waiting, &caps, &mut usage).is_empty());
    }

    /// An offline database makes no DRS job before its cutover: the DRS limit being reached
    /// holds the online ones back, not it, and admitting it uses no DRS slot.
    #[test]
    fn offline_databases_take_no_drs_slot() {
        let caps = Caps {
            drs_jobs: 1,
            per_wave: 100,
            validations: 1,
            full_loads: 1,
        };
        let offline = |id: &str| Candidate {
            needs_drs_job: false,
            ..c(0, Criticality::Low, 1.0, id)
        };
        let waiting = vec![
            c(0, Criticality::Low, 1.0, "on-1"),
            offline("off-1"),
            c(0, Criticality::Low, 1.0, "on-2"),
            offline("off-2"),
        ];
        let mut usage = Usage::default();
        assert_eq!(admit(&waiting, &caps, &mut usage), vec![0, 1, 3]);
        assert_eq!(usage.drs_jobs, 1, "only on-1 holds a DRS slot");
        assert_eq!(
            usage.per_wave.get(&0),
            Some(&3),
            "all three work in the wave"
        );
    }

    #[test]
    fn a_full_earlier_wave_holds_later_waves_back() {
        let caps = Caps::from_limits(&limits(), 100.0);
        let mut waiting = vec![
            c(0, Criticality::Low, 1.0, "a"),
            c(0, Criticality::Low, 1.0, "b"),
            c(0, Criticality::Low, 1.0, "c"),
            c(0, Criticality::Low, 1.0, "d"),
            c(1, Criticality::High, 1.0, "e"),
        ];
        waiting.sort_by(priority);
        let mut usage = Usage::default();
        let got = admit(&waiting, &caps, &mut usage);
        assert_eq!(
            got,
            vec![0, 1, 2],
            "wave cap 3, and wave 1 waits for wave 0"
        );
        assert_eq!(usage.per_wave.get(&0), Some(&3));
    }

    #[test]
    fn validation_and_full_load_gates_say_why() {
        let caps = Caps::from_limits(&limits(), 100.0);
        let mut usage = Usage::default();
        assert!(may_validate(&caps, &usage).is_ok());
        usage.validations = 2;
        let held = may_validate(&caps, &usage).unwrap_err();
        assert_eq!(held.to_string(), "waiting: validation capacity (2) in use");
        usage.full_loads = 2;
        assert!(may_full_load(&caps, &usage)
            .unwrap_err()
            .to_string()
            .contains("bandwidth"));
    }
}
