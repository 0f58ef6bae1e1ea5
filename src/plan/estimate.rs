//! Duration model of a wave. Pure arithmetic, stated here so the numbers can be argued with.
//!
//! **Full load.** At most `slots = min(drs_concurrency, wave_concurrency)` full loads run at once,
//! biggest first (longest-processing-time order). While `n` run, each moves
//! `min(bandwidth / n, job_rate)` bytes per second: the network budget is shared evenly, and one
//! DRS job never goes faster than `engine.job_bandwidth_mbps`. The estimate simulates this
//! processor-sharing schedule to the last byte. Sizes are decimal (1 GB = 1000 MB), bandwidth
//! is in gigabits (divided by 8).
//!
//! **Validation.** One database takes `overhead + size / rate`: a fixed part (connect, schema
//! presence, row counts, smoke tests) and table checksums that read the data on both sides at
//! `rate` GB per hour, the engine's own (measured by earlier validations, see
//! [`PerEngine`]). `validation_capacity` run at once; the wave's validation time is the
//! makespan of those workers, biggest first. The final validation must be fresh at cutover
//! (`thresholds.validation_max_age_min`), so the planner keeps it within one opening of the
//! wave's window.

/// The figures the model needs, in the units people configure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub bandwidth_gbps: f64,
    pub job_mbps: f64,
    pub full_load_slots: u32,
    pub validation_capacity: u32,
    pub validation_gb_per_hour: PerEngine,
    pub validation_overhead_s: f64,
}

/// A figure per engine: PostgreSQL and MySQL read at different speeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerEngine {
    pub postgres: f64,
    pub mysql: f64,
}

impl PerEngine {
    pub fn both(v: f64) -> PerEngine {
        PerEngine {
            postgres: v,
            mysql: v,
        }
    }

    pub fn of(&self, e: Engine) -> f64 {
        match e {
            Engine::Postgres => self.postgres,
            Engine::Mysql => self.mysql,
        }
    }
}

use crate::inventory::Engine;

/// Seconds to full-load databases of these sizes (GB).
pub fn full_load_seconds(sizes_gb: &[f64], r: &Rates) -> f64 {
    let total_bw = (r.bandwidth_gbps / 8.0).max(1e-9); // GB/s
    let job_rate = (r.job_mbps / 1000.0).max(1e-9); // GB/s
    let slots = r.full_load_slots.max(1) as usize;
    let mut queue: Vec<f64> = sizes_gb.iter().copied().filter(|s| *s > 0.0).collect();
    queue.sort_by(|a, b| b.total_cmp(a));
    let mut queue = queue.into_iter();
    let mut running: Vec<f64> = Vec::new();
    let mut t = 0.0;
    loop {
        while running.len() < slots {
            match queue.next() {
                Some(s) => running.push(s),
                None => break,
            }
        }
        if running.is_empty() {
            return t;
        }
        let rate = (total_bw / running.len() as f64).min(job_rate);
        let smallest = running.iter().copied().fold(f64::INFINITY, f64::min);
        let dt = smallest / rate;
        t += dt;
        for s in running.iter_mut() {
            *s -= rate * dt;
        }
        running.retain(|s| *s > 1e-9);
    }
}

/// Seconds to validate one database of `size_gb` on `engine`.
pub fn validation_one_seconds(size_gb: f64, engine: Engine, r: &Rates) -> f64 {
    r.validation_overhead_s + size_gb / r.validation_gb_per_hour.of(engine).max(1e-9) * 3600.0
}

/// Seconds to validate databases of these sizes (GB, engine) with `validation_capacity`
/// workers.
pub fn validation_seconds(dbs: &[(f64, Engine)], r: &Rates) -> f64 {
    let mut jobs: Vec<f64> = dbs
        .iter()
        .map(|(s, e)| validation_one_seconds(*s, *e, r))
        .collect();
    jobs.sort_by(|a, b| b.total_cmp(a));
    let mut workers = vec![0.0f64; r.validation_capacity.max(1) as usize];
    for j in jobs {
        if let Some(w) = workers.iter_mut().min_by(|a, b| a.total_cmp(b)) {
            *w += j;
        }
    }
    workers.into_iter().fold(0.0, f64::max)
}

/// The write outage of one database moved offline: writes stop, one DRS job copies it alone
/// (at `min(bandwidth, job rate)`, [`full_load_seconds`] of one), the exact validation reads
/// both sides ([`validation_one_seconds`]), then the switch. The cockpit shows this before the
/// operator confirms and keeps it beside the real outage in the evidence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outage {
    pub full_load_s: f64,
    pub validation_s: f64,
}

impl Outage {
    pub fn of(size_gb: f64, engine: Engine, r: &Rates) -> Outage {
        Outage {
            full_load_s: full_load_seconds(&[size_gb], r),
            validation_s: validation_one_seconds(size_gb, engine, r),
        }
    }

    pub fn total_s(&self) -> f64 {
        self.full_load_s + self.validation_s
    }

    /// "full load 3m + exact validation 2m = 5m".
    pub fn sentence(&self) -> String {
        // Seconds under a minute: "1m + 3m = 3m" (each rounded up) reads as a wrong sum.
        let part = |s: f64| {
            if s < 60.0 {
                format!("{:.0}s", s.ceil())
            } else {
                human(s)
            }
        };
        format!(
            "full load {} + exact validation {} = {}",
            part(self.full_load_s),
            part(self.validation_s),
            human(self.total_s())
        )
    }
}

/// `1h05m`, `12m`, `3d04h` for the table.
pub fn human(seconds: f64) -> String {
    let m = (seconds / 60.0).ceil() as u64;
    if m < 60 {
        format!("{m}m")
    } else if m < 48 * 60 {
        format!("{}h{:02}m", m / 60, m % 60)
    } else {
        format!("{}d{:02}h", m / 1440, (m % 1440) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Rates {
        Rates {
            bandwidth_gbps: 8.0, // 1 GB/s
            job_mbps: 100.0,     // 0.1 GB/s
            full_load_slots: 20,
            validation_capacity: 2,
            validation_gb_per_hour: PerEngine {
                postgres: 360.0, // 0.1 GB/s
                mysql: 180.0,
            },
            validation_overhead_s: 60.0,
        }
    }

    #[test]
    fn one_job_is_capped_by_the_job_rate() {
        assert!((full_load_seconds(&[10.0], &rates()) - 100.0).abs() < 1e-6);
    }

    #[test]
    fn many_jobs_share_the_bandwidth() {
        // 20 jobs of 10 GB: 1 GB/s shared = 0.05 GB/s each, 200 s.
        let sizes = vec![10.0; 20];
        assert!((full_load_seconds(&sizes, &rates()) - 200.0).abs() < 1e-6);
        // 40 jobs with 20 slots: two rounds of 200 s.
        let sizes = vec![10.0; 40];
        assert!((full_load_seconds(&sizes, &rates()) - 400.0).abs() < 1e-6);
    }

    #[test]
    fn freed_bandwidth_speeds_up_the_rest() {
        // 12 jobs: 11 x 1 GB and 1 x 10 GB. Together 1/12 GB/s each (below the 0.1 cap) until
        // the small ones finish at 12 s; the big one has 9 GB left at 0.1 GB/s: 90 s more.
        let mut sizes = vec![1.0; 11];
        sizes.push(10.0);
        assert!((full_load_seconds(&sizes, &rates()) - 102.0).abs() < 1e-6);
        assert_eq!(full_load_seconds(&[], &rates()), 0.0);
    }

    #[test]
    fn validation_is_the_makespan_of_the_workers() {
        // 36 GB = 360 s + 60 s; three such on two workers: 840 s.
        let pg = |gb| (gb, Engine::Postgres);
        assert!(
            (validation_seconds(&[pg(36.0), pg(36.0), pg(36.0)], &rates()) - 840.0).abs() < 1e-6
        );
        assert!((validation_seconds(&[pg(36.0)], &rates()) - 420.0).abs() < 1e-6);
        // Each engine at its own rate: MySQL's half the speed takes twice the reading.
        assert!((validation_seconds(&[(36.0, Engine::Mysql)], &rates()) - 780.0).abs() < 1e-6);
    }

    #[test]
    fn an_offline_outage_is_one_full_load_and_one_exact_validation() {
        // 10 GB alone at the 0.1 GB/s job cap: 100 s; validation 60 s + 100 s.
        let o = Outage::of(10.0, Engine::Postgres, &rates());
        assert!((o.full_load_s - 100.0).abs() < 1e-6);
        assert!((o.validation_s - 160.0).abs() < 1e-6);
        assert!((o.total_s() - 260.0).abs() < 1e-6);
        assert_eq!(o.sentence(), "full load 2m + exact validation 3m = 5m");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(59.0), "1m");
        assert_eq!(human(3900.0), "1h05m");
        assert_eq!(human(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
    }
}
