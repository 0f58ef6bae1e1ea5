//! The write outage an offline cutover is expected to cause (issue #17), as the cockpit's
//! dialog and `wavedeck cutover` show it before the operator confirms, with where each rate
//! comes from, and as the cutover command carries it (`args.expected_outage_s`) so the
//! engine's `command.accepted` event, the detail view and the evidence keep it beside the
//! outage the engine measured. The arithmetic is [`Outage::of`]'s; this only picks the inputs
//! and says them.

use super::estimate::{human, Outage};
use super::PlanLimits;
use crate::inventory::{Engine, Mode};
use crate::store::event::CommandDecided;
use crate::store::model::{Action, DbState};
use serde_json::{Map, Value};

/// The cutover command's args key: `{db_id: seconds}` for each offline database it moves.
pub const ARG: &str = "expected_outage_s";

/// One offline database's expected outage and the figures it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub db_id: String,
    /// The inventory's `size_gb` (the store measures no size of its own: an offline database
    /// has had no full load before its cutover, and the assessment feeds the inventory).
    pub size_gb: f64,
    pub outage: Outage,
    /// MB/s one full load runs at: `min(limits.bandwidth_gbps, engine.job_bandwidth_mbps)`.
    pub load_mbps: f64,
    /// Which of the two configured figures bounds it.
    pub load_from: &'static str,
    pub validation_gb_h: f64,
    /// Measured validations the rate is the median of (0: the config's assumption).
    pub validation_runs: usize,
}

/// The expected outage of `d` if it moves offline; `None` for an online database (its outage
/// is the cutover's short write gap, not a full load).
pub fn of(d: &DbState, limits: &PlanLimits) -> Option<Expected> {
    (d.mode == Mode::Offline).then(|| expected(&d.db_id, d.size_gb, d.engine, limits))
}

fn expected(db_id: &str, size_gb: f64, engine: Engine, limits: &PlanLimits) -> Expected {
    let link_mbps = limits.bandwidth_gbps * 1000.0 / 8.0;
    let (load_mbps, load_from) = if limits.job_mbps <= link_mbps {
        (limits.job_mbps, "engine.job_bandwidth_mbps")
    } else {
        (link_mbps, "limits.bandwidth_gbps")
    };
    let (validation_gb_h, validation_runs) = limits.validation_rate(engine);
    Expected {
        db_id: db_id.to_string(),
        size_gb,
        outage: Outage::of(size_gb, engine, &limits.rates()),
        load_mbps,
        load_from,
        validation_gb_h,
        validation_runs,
    }
}

impl Expected {
    /// "Writes stop for about: full load 1m + exact validation 3m = 4m (0.1 GB at 100 MB/s,
    /// the config's engine.job_bandwidth_mbps; validation at 540 GB/h, the median of 3
    /// measured in this store)".
    pub fn sentence(&self) -> String {
        let val_from = match self.validation_runs {
            0 => "the config's plan.validation_gb_per_hour, none measured yet".to_string(),
            n => format!("the median of {n} measured in this store"),
        };
        format!(
            "writes stop for about: {} ({} GB at {:.0} MB/s, the config's {}; validation at {:.0} GB/h, {val_from})",
            self.outage.sentence(),
            self.size_gb,
            self.load_mbps,
            self.load_from,
            self.validation_gb_h,
        )
    }
}

/// What a cutover of several offline databases (a wave's) is expected to stop: the engine cuts
/// a wave's members over together (each drains its own source when its job is made, within the
/// DRS, full-load and validation limits), so each member's writes stop for about its own
/// outage and the longest one bounds the wave's, not their sum. One line per member follows.
pub fn wave_sentence(list: &[Expected]) -> Option<String> {
    let longest = list
        .iter()
        .max_by(|a, b| a.outage.total_s().total_cmp(&b.outage.total_s()))?;
    Some(format!(
        "{} offline member(s) cut over together, each with its writes stopped: the longest, {}, for about {}",
        list.len(),
        longest.db_id,
        human(longest.outage.total_s())
    ))
}

/// The cutover command's args with the expected outages added (nothing for none).
pub fn with_args(mut args: Value, list: &[Expected]) -> Value {
    if list.is_empty() {
        return args;
    }
    let per: Map<String, Value> = list
        .iter()
        .map(|e| (e.db_id.clone(), Value::from(e.outage.total_s())))
        .collect();
    if !args.is_object() {
        args = Value::Object(Map::new());
    }
    if let Some(m) = args.as_object_mut() {
        m.insert(ARG.into(), Value::Object(per));
    }
    args
}

/// The expected outage of `db_id` a cutover command's args carry.
pub fn from_args(args: &Value, db_id: &str) -> Option<f64> {
    args.get(ARG)?.get(db_id)?.as_f64()
}

/// The expected outages a decided cutover command carries, by database (nothing for another
/// action).
pub fn of_command(c: &CommandDecided) -> Vec<(String, f64)> {
    if c.action != Some(Action::Cutover) {
        return Vec::new();
    }
    c.args
        .get(ARG)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(db, s)| Some((db.clone(), s.as_f64()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::val_progress::MeasuredRate;

    fn limits() -> PlanLimits {
        let mut l = PlanLimits::from_config(&crate::config::Config::default());
        l.bandwidth_gbps = 10.0;
        l.job_mbps = 100.0;
        l.validation_gb_per_hour = 200.0;
        l.validation_overhead_s = 120.0;
        l
    }

    fn db(mode: Mode, size_gb: f64) -> DbState {
        let mut d = crate::tui::fixture::small().dbs[0].clone();
        d.db_id = "hr-01".into();
        d.engine = Engine::Postgres;
        d.mode = mode;
        d.size_gb = size_gb;
        d
    }

    #[test]
    fn an_offline_database_is_estimated_by_the_one_outage_model_with_its_sources() {
        let l = limits();
        assert_eq!(of(&db(Mode::Online, 6.0), &l), None);
        let e = of(&db(Mode::Offline, 6.0), &l).unwrap();
        assert_eq!(e.outage, Outage::of(6.0, Engine::Postgres, &l.rates()));
        // 6 GB at 100 MB/s: 60 s; 120 s + 6 GB at 200 GB/h (108 s).
        assert_eq!(
            e.sentence(),
            "writes stop for about: full load 1m + exact validation 4m = 5m (6 GB at 100 MB/s, the config's engine.job_bandwidth_mbps; validation at 200 GB/h, the config's plan.validation_gb_per_hour, none measured yet)"
        );
        // A thin link bounds the job instead; measured validations replace the assumption.
        let mut l = limits();
        l.bandwidth_gbps = 0.4;
        l.measured_validation = [500.0, 540.0, 600.0]
            .map(|g| MeasuredRate {
                engine: "postgres".into(),
                gb_per_hour: g,
                rows_per_s: 1.0,
            })
            .to_vec();
        let e = of(&db(Mode::Offline, 6.0), &l).unwrap();
        assert!(
            e.sentence().ends_with("(6 GB at 50 MB/s, the config's limits.bandwidth_gbps; validation at 540 GB/h, the median of 3 measured in this store)"),
            "{}",
            e.sentence()
        );
    }

    #[test]
    fn a_wave_is_bounded_by_its_longest_member_and_the_args_carry_each() {
        let l = limits();
        let mut big = db(Mode::Offline, 60.0);
        big.db_id = "hr-02".into();
        let list: Vec<Expected> = [db(Mode::Offline, 6.0), big]
            .iter()
            .filter_map(|d| of(d, &l))
            .collect();
        assert_eq!(
            wave_sentence(&list).unwrap(),
            format!(
                "2 offline member(s) cut over together, each with its writes stopped: the longest, hr-02, for about {}",
                human(list[1].outage.total_s())
            )
        );
        assert_eq!(wave_sentence(&[]), None);
        let args = with_args(serde_json::json!({"confirmed": "wave-3"}), &list);
        assert_eq!(args["confirmed"], "wave-3");
        assert_eq!(from_args(&args, "hr-02"), Some(list[1].outage.total_s()));
        assert_eq!(from_args(&args, "pay-01"), None);
        // No offline member: the args stay as they were.
        assert_eq!(with_args(serde_json::json!({}), &[]), serde_json::json!({}));
    }
}
