//! Writing inventories back out, in the same fields the loader reads (used by the generator and
//! the planner, whose output `wavedeck init` imports).

use super::load::CSV_COLUMNS;
use super::model::DatabaseSpec;
use crate::secret::SecretRef;
use std::collections::BTreeSet;

/// A YAML scalar: plain when that cannot be misread (as a number, bool, null, syntax), else a
/// JSON string, which YAML reads as a double-quoted scalar.
pub fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !s.starts_with(['-', '.'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "inf" | "nan"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    }
}

fn push_endpoint(out: &mut String, side: &str, e: &super::model::Endpoint, indent: &str) {
    out.push_str(&format!("{indent}{side}:\n"));
    let i2 = format!("{indent}  ");
    out.push_str(&format!("{i2}host: {}\n", yaml_scalar(&e.host)));
    out.push_str(&format!("{i2}port: {}\n", e.port));
    out.push_str(&format!("{i2}database: {}\n", yaml_scalar(&e.database)));
    out.push_str(&format!("{i2}user: {}\n", yaml_scalar(&e.user)));
    match &e.password {
        SecretRef::Env(v) => out.push_str(&format!("{i2}password_env: {}\n", yaml_scalar(v))),
        SecretRef::File(p) => out.push_str(&format!(
            "{i2}password_file: {}\n",
            yaml_scalar(&p.to_string_lossy())
        )),
    }
}

/// The records as YAML list items (`  - db_id: ...`), indented for a `databases:` key.
pub fn yaml_records(specs: &[DatabaseSpec]) -> String {
    let mut out = String::new();
    for s in specs {
        out.push_str(&format!("  - db_id: {}\n", yaml_scalar(&s.db_id)));
        let i = "    ";
        out.push_str(&format!("{i}engine: {}\n", s.engine.as_str()));
        if !s.engine_version.is_empty() {
            out.push_str(&format!(
                "{i}engine_version: {}\n",
                serde_json::to_string(&s.engine_version).unwrap_or_default()
            ));
        }
        out.push_str(&format!("{i}size_gb: {}\n", s.size_gb));
        out.push_str(&format!("{i}owner: {}\n", yaml_scalar(&s.owner)));
        out.push_str(&format!("{i}criticality: {}\n", s.criticality.as_str()));
        out.push_str(&format!(
            "{i}business_window: {}\n",
            serde_json::to_string(&s.business_window).unwrap_or_default()
        ));
        if let Some(w) = s.wave {
            out.push_str(&format!("{i}wave: {w}\n"));
        }
        push_endpoint(&mut out, "source", &s.source, i);
        push_endpoint(&mut out, "target", &s.target, i);
        if !s.tags.is_empty() {
            let tags: Vec<String> = s.tags.iter().map(|t| yaml_scalar(t)).collect();
            out.push_str(&format!("{i}tags: [{}]\n", tags.join(", ")));
        }
        if let Some(lag) = s.overrides.max_cutover_lag_s {
            out.push_str(&format!("{i}overrides:\n{i}  max_cutover_lag_s: {lag}\n"));
        }
        if s.mode != super::model::Mode::default() {
            out.push_str(&format!("{i}mode: {}\n", s.mode.as_str()));
        }
        if !s.extra.is_empty() {
            out.push_str(&format!("{i}extra:\n"));
            for (k, v) in &s.extra {
                out.push_str(&format!(
                    "{i}  {}: {}\n",
                    yaml_scalar(k),
                    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
                ));
            }
        }
    }
    out
}

/// A whole YAML inventory file.
pub fn to_yaml(specs: &[DatabaseSpec]) -> String {
    format!("databases:\n{}", yaml_records(specs))
}

/// A whole CSV inventory file: the standard columns, then one `extra_NAME` per extra key used.
pub fn to_csv(specs: &[DatabaseSpec]) -> String {
    let extra_keys: BTreeSet<&String> = specs.iter().flat_map(|s| s.extra.keys()).collect();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut header: Vec<String> = CSV_COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend(extra_keys.iter().map(|k| format!("extra_{k}")));
    // Writing into a Vec cannot fail; errors are ignored rather than unwrapped.
    let _ = w.write_record(&header);
    for s in specs {
        let pw = |r: &SecretRef| match r {
            SecretRef::Env(v) => (v.clone(), String::new()),
            SecretRef::File(p) => (String::new(), p.to_string_lossy().into_owned()),
        };
        let (se, sf) = pw(&s.source.password);
        let (te, tf) = pw(&s.target.password);
        let mut row = vec![
            s.db_id.clone(),
            s.engine.as_str().to_string(),
            s.engine_version.clone(),
            s.size_gb.to_string(),
            s.owner.clone(),
            s.criticality.as_str().to_string(),
            s.business_window.clone(),
            s.wave.map(|w| w.to_string()).unwrap_or_default(),
            s.source.host.clone(),
            s.source.port.to_string(),
            s.source.database.clone(),
            s.source.user.clone(),
            se,
            sf,
            s.target.host.clone(),
            s.target.port.to_string(),
            s.target.database.clone(),
            s.target.user.clone(),
            te,
            tf,
            s.tags.join(";"),
            s.overrides
                .max_cutover_lag_s
                .map(|v| v.to_string())
                .unwrap_or_default(),
            s.mode.as_str().to_string(),
        ];
        for k in &extra_keys {
            row.push(match s.extra.get(*k) {
                Some(serde_json::Value::String(v)) => v.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            });
        }
        let _ = w.write_record(&row);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
