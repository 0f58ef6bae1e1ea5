//! Inventory types shared by the planner, the engine, the checks and the cockpit.

use crate::secret::SecretRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
}

impl Criticality {
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
        }
    }
}

/// A database server endpoint. The password is a reference (env var or file), never a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: SecretRef,
}

/// Per-database overrides of config thresholds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    pub max_cutover_lag_s: Option<f64>,
}

/// One database of the factory, as the inventory describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSpec {
    pub db_id: String,
    pub engine: Engine,
    pub engine_version: String,
    pub size_gb: f64,
    pub owner: String,
    pub criticality: Criticality,
    /// The business window as written (e.g. `"Sat,Sun 01:00-05:00 Europe/Paris"`); parsed by
    /// the window module, which the checker validates.
    pub business_window: String,
    pub wave: Option<u32>,
    pub source: Endpoint,
    pub target: Endpoint,
    pub tags: Vec<String>,
    pub overrides: Overrides,
    /// Extra fields a runbook may read (e.g. custom smoke tests), kept as given.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}
