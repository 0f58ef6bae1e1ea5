//! An inventory record as read, before it is checked: each field with its canonical key, the
//! key as written and its line, and the keys a record may have. Both readers (`load.rs`, YAML
//! and CSV) write it and the checker (`check.rs`) reads it, so it sits below both.

/// A value as written in the file.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    Text(String),
    List(Vec<String>),
    /// Structured values (YAML `extra:` entries) kept as JSON.
    Json(serde_json::Value),
    /// A value of the wrong shape (e.g. a mapping where a scalar belongs); described for errors.
    Wrong(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawField {
    /// Canonical key: `db_id`, `source.port`, `overrides.max_cutover_lag_s`, `extra.NAME`, ...
    pub key: String,
    /// The key as written (`source_port` in CSV), for messages.
    pub written: String,
    pub value: RawValue,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawRecord {
    /// First line of the record.
    pub line: usize,
    /// Read from CSV: messages then spell fields as columns (`source_host`).
    pub csv: bool,
    pub fields: Vec<RawField>,
}

pub(crate) const ENDPOINT_KEYS: &[&str] = &[
    "host",
    "port",
    "database",
    "user",
    "password_env",
    "password_file",
];
pub(crate) const TOP_KEYS: &[&str] = &[
    "db_id",
    "engine",
    "engine_version",
    "size_gb",
    "owner",
    "criticality",
    "business_window",
    "wave",
    "source",
    "target",
    "tags",
    "overrides",
    "mode",
    "extra",
];
pub(crate) const OVERRIDE_KEYS: &[&str] = &["max_cutover_lag_s"];

pub(crate) fn split_tags(s: &str) -> Vec<String> {
    s.split([';', ','])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn known_yaml_keys() -> (
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
) {
    (TOP_KEYS, ENDPOINT_KEYS, OVERRIDE_KEYS)
}
