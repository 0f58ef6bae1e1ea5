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

/// How a database moves. `Online` keeps the source writable while DRS copies and then streams
/// changes (FULL_INCR_TRANS), so the outage is the cutover's write gap. `Offline` stops writes
/// for the whole move inside the window (FULL_TRANS: full load, exact validation, switch): for
/// databases small or quiet enough, or whose engine or version cannot do CDC.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Online,
    Offline,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Online, Mode::Offline];

    pub fn is_online(&self) -> bool {
        *self == Mode::Online
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Online => "online",
            Mode::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        let s = s.trim();
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
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
    /// Online (CDC, the default) or offline (writes stopped for the move). Left out when online,
    /// so a spec written before the field existed serializes as it did then (evidence packs
    /// exported before it keep verifying against their plan.json).
    #[serde(default, skip_serializing_if = "Mode::is_online")]
    pub mode: Mode,
    /// Extra fields a runbook may read (e.g. custom smoke tests), kept as given.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl DatabaseSpec {
    /// A database named by its id, engine and two endpoints; every other field starts where an
    /// inventory record without it would leave it (no version, size 0, no owner, low
    /// criticality, no window, no wave, no tags, no overrides, no extras). The `with_*` calls
    /// set the rest, so a new inventory field needs a default here and nowhere else.
    pub fn new(
        db_id: impl Into<String>,
        engine: Engine,
        source: Endpoint,
        target: Endpoint,
    ) -> Self {
        DatabaseSpec {
            db_id: db_id.into(),
            engine,
            engine_version: String::new(),
            size_gb: 0.0,
            owner: String::new(),
            criticality: Criticality::Low,
            business_window: String::new(),
            wave: None,
            source,
            target,
            tags: Vec::new(),
            overrides: Overrides::default(),
            mode: Mode::Online,
            extra: BTreeMap::new(),
        }
    }

    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.engine_version = version.into();
        self
    }

    pub fn with_size_gb(mut self, size_gb: f64) -> Self {
        self.size_gb = size_gb;
        self
    }

    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = owner.into();
        self
    }

    pub fn with_criticality(mut self, criticality: Criticality) -> Self {
        self.criticality = criticality;
        self
    }

    pub fn with_window(mut self, business_window: impl Into<String>) -> Self {
        self.business_window = business_window.into();
        self
    }

    pub fn with_wave(mut self, wave: Option<u32>) -> Self {
        self.wave = wave;
        self
    }

    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_max_cutover_lag_s(mut self, max: Option<f64>) -> Self {
        self.overrides.max_cutover_lag_s = max;
        self
    }

    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The extra fields, all at once (what the inventory checker collected).
    pub fn with_extras(mut self, extra: BTreeMap<String, serde_json::Value>) -> Self {
        self.extra = extra;
        self
    }

    /// One extra field (e.g. `rds_instance`), kept as given.
    pub fn with_extra(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}
