//! Which online databases could move offline instead (issue #17): their whole outage (writes
//! stopped, full load alone, exact validation, switch; [`Outage`]) fits in half of the shortest
//! opening of their window, so the other half is left for the switch, smoke tests and a
//! rollback. Pure; `plan` prints these with the reason and does not change the mode itself:
//! stopping writes is the owner's decision, written as `mode: offline` in the inventory.

use super::estimate::{human, Outage, Rates};
use crate::inventory::{BusinessWindow, DatabaseSpec, Mode};

#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub db_id: String,
    pub outage: Outage,
    /// The shortest opening of the database's window, in minutes.
    pub opening_min: u32,
}

impl Suggestion {
    /// Why, in one line: "db-1: full load 1m + exact validation 2m = 3m fits in half of its
    /// shortest opening (4h00m of Sat 01:00-05:00 UTC)".
    pub fn why(&self) -> String {
        format!(
            "{}: {} fits in half of its shortest opening ({})",
            self.db_id,
            self.outage.sentence(),
            human(self.opening_min as f64 * 60.0)
        )
    }
}

/// The online databases whose offline outage fits in half their shortest opening, in inventory
/// order. A database whose window does not parse or never opens gets no suggestion.
pub fn suggestions(specs: &[DatabaseSpec], r: &Rates) -> Vec<Suggestion> {
    specs
        .iter()
        .filter(|s| s.mode == Mode::Online)
        .filter_map(|s| {
            let opening_min = BusinessWindow::parse(&s.business_window)
                .ok()?
                .shortest_opening_minutes();
            let outage = Outage::of(s.size_gb, s.engine, r);
            (opening_min > 0 && outage.total_s() <= opening_min as f64 * 60.0 / 2.0).then(|| {
                Suggestion {
                    db_id: s.db_id.clone(),
                    outage,
                    opening_min,
                }
            })
        })
        .collect()
}

/// The lines `plan` prints: a heading, the first `shown` reasons, and how many more.
pub fn report(list: &[Suggestion], shown: usize) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "offline suggested for {} database(s): the outage fits in half the window (set mode: offline in the inventory to take it)\n",
        list.len()
    );
    for s in list.iter().take(shown) {
        out.push_str(&format!("  {}\n", s.why()));
    }
    if list.len() > shown {
        out.push_str(&format!(
            "  and {} more (all listed in the --out file)\n",
            list.len() - shown
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::estimate::PerEngine;
    use super::*;
    use crate::inventory::{Endpoint, Engine};
    use crate::secret::SecretRef;

    fn rates() -> Rates {
        Rates {
            bandwidth_gbps: 8.0,
            job_mbps: 100.0, // 0.1 GB/s: 360 GB/h
            full_load_slots: 4,
            validation_capacity: 1,
            validation_gb_per_hour: PerEngine::both(360.0),
            validation_overhead_s: 60.0,
        }
    }

    fn spec(id: &str, gb: f64, window: &str, mode: Mode) -> DatabaseSpec {
        let ep = |host: &str| Endpoint {
            host: host.into(),
            port: 5432,
            database: "app".into(),
            user: "m".into(),
            password: SecretRef::Env("X".into()),
        };
        DatabaseSpec::new(id, Engine::Postgres, ep("a"), ep("b"))
            .with_size_gb(gb)
            .with_window(window)
            .with_mode(mode)
    }

    #[test]
    fn small_databases_whose_outage_fits_half_the_window_are_suggested_with_the_reason() {
        let w = "Sat 01:00-05:00 UTC"; // 4 h: half is 7200 s
        let specs = [
            // 100 GB: 1000 s + 60 + 1000 s = 2060 s: fits.
            spec("small", 100.0, w, Mode::Online),
            // 400 GB: 4000 + 4060 = 8060 s > 7200 s: stays online.
            spec("big", 400.0, w, Mode::Online),
            // Already offline: nothing to suggest.
            spec("done", 1.0, w, Mode::Offline),
            // No window: nothing known to fit into.
            spec("nowin", 1.0, "", Mode::Online),
        ];
        let got = suggestions(&specs, &rates());
        assert_eq!(
            got.iter().map(|s| s.db_id.as_str()).collect::<Vec<_>>(),
            ["small"]
        );
        assert_eq!(
            got[0].why(),
            "small: full load 17m + exact validation 18m = 35m fits in half of its shortest opening (4h00m)"
        );
        let text = report(&got, 10);
        assert!(
            text.starts_with("offline suggested for 1 database(s)"),
            "{text}"
        );
        assert!(!text.contains("more"), "{text}");
    }

    #[test]
    fn the_edge_is_half_the_opening() {
        // 1 h window, half 1800 s: 85 GB is 850 + 910 = 1760 s (in), 90 GB 900 + 960 (out).
        let w = "daily 01:00-02:00 UTC";
        let s = |gb| suggestions(&[spec("x", gb, w, Mode::Online)], &rates()).len();
        assert_eq!((s(85.0), s(90.0)), (1, 0));
    }

    #[test]
    fn the_report_counts_what_it_does_not_show() {
        let w = "daily 00:00-24:00 UTC";
        let specs: Vec<_> = (0..5)
            .map(|i| spec(&format!("db{i}"), 1.0, w, Mode::Online))
            .collect();
        let text = report(&suggestions(&specs, &rates()), 2);
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.ends_with("and 3 more (all listed in the --out file)\n"),
            "{text}"
        );
    }
}
