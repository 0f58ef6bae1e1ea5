//! The assessment's files: `assessment.json` (the whole rows, what `plan --assessment` reads),
//! `assessment.csv` (one flat line per database, for a spreadsheet) and `assessment.md` (for
//! people: blockers first, then the unreachable databases, then warnings and the full table).

use super::{DbAssessment, Outcome};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "wavedeck-assessment/1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssessmentFile {
    pub format: String,
    pub generated_at: String,
    /// The inventory files assessed.
    pub inventory: Vec<String>,
    pub elapsed_s: f64,
    /// One row per database of the inventory, in its order.
    pub databases: Vec<DbAssessment>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0} (run wavedeck assess INVENTORY --out DIR first)")]
    Io(crate::input::InputError),
    #[error("{path}: not a wavedeck assessment ({reason}); point --assessment at the directory wavedeck assess wrote")]
    Format { path: String, reason: String },
}

/// Read `DIR/assessment.json` (one row per inventory database: an inventory's size cap).
pub fn read(dir: &Path) -> Result<AssessmentFile, ReadError> {
    let path = dir.join("assessment.json");
    let shown = path.display().to_string();
    let text =
        crate::input::read_text(&path, crate::input::INVENTORY.max_bytes).map_err(ReadError::Io)?;
    let file: AssessmentFile = serde_json::from_str(&text).map_err(|e| ReadError::Format {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if file.format != FORMAT {
        return Err(ReadError::Format {
            path: shown,
            reason: format!("format {:?}, expected {FORMAT:?}", file.format),
        });
    }
    Ok(file)
}

pub fn json(file: &AssessmentFile) -> String {
    serde_json::to_string_pretty(file).unwrap_or_default() + "\n"
}

const CSV_HEADER: &[&str] = &[
    "db_id",
    "engine",
    "outcome",
    "source",
    "version",
    "encoding",
    "declared_size_gb",
    "measured_size_gb",
    "tables",
    "tables_without_pk",
    "views",
    "functions",
    "procedures",
    "triggers",
    "events",
    "sequences",
    "extensions",
    "write_rows_per_s",
    "write_scope",
    "blockers",
    "warnings",
    "blocker_rules",
    "problems",
    "elapsed_ms",
];

pub fn csv(rows: &[DbAssessment]) -> String {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(CSV_HEADER);
    for r in rows {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let obj = r.objects.as_ref();
        let count = |f: fn(&super::Objects) -> usize| opt(obj.map(|o| f(o).to_string()));
        let blockers: Vec<&str> = r.blockers().map(|f| f.rule.as_str()).collect();
        let record = vec![
            r.db_id.clone(),
            r.engine.as_str().to_string(),
            r.outcome.as_str().to_string(),
            r.source.clone(),
            opt(r.version.clone()),
            opt(r.encoding.clone()),
            format!("{}", r.declared_size_gb),
            opt(r.measured_size_gb().map(|g| format!("{g:.6}"))),
            opt(r.tables.map(|n| n.to_string())),
            opt(r.tables.map(|_| r.tables_without_pk.len().to_string())),
            count(|o| o.views),
            count(|o| o.functions),
            count(|o| o.procedures),
            count(|o| o.triggers),
            count(|o| o.events),
            count(|o| o.sequences),
            opt(obj.map(|o| o.extensions.join(";"))),
            opt(r
                .write_rate
                .as_ref()
                .map(|w| format!("{:.1}", w.rows_per_s))),
            opt(r.write_rate.as_ref().map(|w| w.scope.clone())),
            blockers.len().to_string(),
            r.warnings().count().to_string(),
            blockers.join(";"),
            r.problems.join("; "),
            r.elapsed_ms.to_string(),
        ];
        let _ = w.write_record(&record);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Markdown table cells must not break the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn size(r: &DbAssessment) -> String {
    match r.measured_size_gb() {
        Some(g) => format!("{g:.3} GB (declared {} GB)", r.declared_size_gb),
        None => format!("declared {} GB", r.declared_size_gb),
    }
}

pub fn markdown(file: &AssessmentFile) -> String {
    let rows = &file.databases;
    let n = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    let blocked: Vec<&DbAssessment> = rows
        .iter()
        .filter(|r| r.blockers().next().is_some())
        .collect();
    let unreachable: Vec<&DbAssessment> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::Unreachable)
        .collect();
    let mut out = String::new();
    out.push_str("# Fleet assessment\n\n");
    out.push_str(&format!(
        "{} databases from {} on {} in {:.1} s: {} assessed, {} partial, {} unreachable; {} with blockers (they wait in no wave until fixed).\n\n",
        rows.len(),
        file.inventory.join(", "),
        file.generated_at,
        file.elapsed_s,
        n(Outcome::Assessed),
        n(Outcome::Partial),
        n(Outcome::Unreachable),
        blocked.len()
    ));
    out.push_str("## Blockers\n\n");
    if blocked.is_empty() {
        out.push_str("None among the databases reached.\n\n");
    }
    for r in &blocked {
        out.push_str(&format!(
            "### {} ({}, {})\n\n",
            r.db_id,
            r.engine.as_str(),
            r.source
        ));
        for f in r.blockers() {
            out.push_str(&format!("- **{}**: {}\n", f.rule, f.detail));
            if let Some(fix) = &f.fix {
                out.push_str(&format!("  - fix: `{}`\n", fix.replace('`', "'")));
            }
        }
        out.push('\n');
    }
    out.push_str("## Unreachable (not assessed)\n\n");
    if unreachable.is_empty() {
        out.push_str("None.\n\n");
    } else {
        out.push_str("| db_id | source | why |\n|---|---|---|\n");
        for r in &unreachable {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                r.db_id,
                cell(&r.source),
                cell(&r.problems.join("; "))
            ));
        }
        out.push('\n');
    }
    let partial: Vec<&DbAssessment> = rows
        .iter()
        .filter(|r| r.outcome == Outcome::Partial)
        .collect();
    if !partial.is_empty() {
        out.push_str("## Partly assessed\n\n| db_id | what failed |\n|---|---|\n");
        for r in &partial {
            out.push_str(&format!(
                "| {} | {} |\n",
                r.db_id,
                cell(&r.problems.join("; "))
            ));
        }
        out.push('\n');
    }
    out.push_str("## Warnings\n\n");
    let mut any = false;
    for r in rows {
        for f in r.warnings() {
            any = true;
            out.push_str(&format!("- {} **{}**: {}\n", r.db_id, f.rule, f.detail));
        }
    }
    if !any {
        out.push_str("None.\n");
    }
    out.push_str("\n## All databases\n\n");
    out.push_str("| db_id | engine | outcome | version | encoding | size | tables (no PK) | views/functions/procedures/triggers/events/sequences | extensions / plugins | writes/s | blockers | warnings |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let objects = r
            .objects
            .as_ref()
            .map(|o| {
                format!(
                    "{}/{}/{}/{}/{}/{}",
                    o.views, o.functions, o.procedures, o.triggers, o.events, o.sequences
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.db_id,
            r.engine.as_str(),
            r.outcome.as_str(),
            cell(r.version.as_deref().unwrap_or("")),
            cell(r.encoding.as_deref().unwrap_or("")),
            size(r),
            r.tables
                .map(|t| format!("{t} ({})", r.tables_without_pk.len()))
                .unwrap_or_default(),
            objects,
            cell(
                &r.objects
                    .as_ref()
                    .map(|o| o.extensions.join(", "))
                    .unwrap_or_default()
            ),
            r.write_rate
                .as_ref()
                .map(|w| format!("{:.1} ({})", w.rows_per_s, w.scope))
                .unwrap_or_default(),
            r.blockers().count(),
            r.warnings().count()
        ));
    }
    out
}

/// Write the three files into `dir` (created if missing).
pub fn write_all(dir: &Path, file: &AssessmentFile) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("assessment.json"), json(file))?;
    std::fs::write(dir.join("assessment.csv"), csv(&file.databases))?;
    std::fs::write(dir.join("assessment.md"), markdown(file))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::{Finding, Objects, Severity, WriteRate};
    use crate::inventory::Engine;

    fn row(id: &str, outcome: Outcome) -> DbAssessment {
        DbAssessment {
            db_id: id.into(),
            engine: Engine::Postgres,
            source: format!("app@{id}.example:5432/app"),
            outcome,
            problems: vec![],
            elapsed_ms: 12,
            version: None,
            encoding: None,
            collation: None,
            declared_size_gb: 2.5,
            measured_size_bytes: None,
            tables: None,
            tables_without_pk: vec![],
            objects: None,
            write_rate: None,
            findings: vec![],
        }
    }

    fn file() -> AssessmentFile {
        let mut a = row("pg-a", Outcome::Assessed);
        a.version = Some("15.4".into());
        a.encoding = Some("UTF8".into());
        a.measured_size_bytes = Some(1_500_000_000);
        a.tables = Some(3);
        a.tables_without_pk = vec!["public.log".into()];
        a.objects = Some(Objects {
            views: 1,
            triggers: 2,
            extensions: vec!["hstore 1.8".into()],
            ..Objects::default()
        });
        a.write_rate = Some(WriteRate {
            rows_per_s: 42.25,
            sample_s: 2.0,
            scope: "database".into(),
        });
        a.findings = vec![
            Finding {
                severity: Severity::Warning,
                rule: "source/primary_keys".into(),
                detail: "1 table without a primary key".into(),
                fix: None,
            },
            Finding {
                severity: Severity::Blocker,
                rule: "type/unsupported".into(),
                detail: "public.t.l pg_lsn | odd".into(),
                fix: Some("ALTER TABLE `t`".into()),
            },
        ];
        let mut u = row("pg-b", Outcome::Unreachable);
        u.problems = vec!["cannot resolve pg-b.example: no such host".into()];
        AssessmentFile {
            format: FORMAT.into(),
            generated_at: "2026-12-02T10:00:00Z".into(),
            inventory: vec!["fleet.csv".into()],
            elapsed_s: 3.5,
            databases: vec![a, u],
        }
    }

    #[test]
    fn csv_has_one_line_per_database_with_the_figures() {
        let text = csv(&file().databases);
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let headers = r.headers().unwrap().clone();
        assert_eq!(headers.len(), CSV_HEADER.len());
        let recs: Vec<::csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        let get = |rec: &::csv::StringRecord, name: &str| {
            rec.get(headers.iter().position(|h| h == name).unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(get(&recs[0], "measured_size_gb"), "1.500000");
        assert_eq!(get(&recs[0], "tables_without_pk"), "1");
        assert_eq!(get(&recs[0], "triggers"), "2");
        assert_eq!(get(&recs[0], "write_rows_per_s"), "42.2");
        assert_eq!(get(&recs[0], "blocker_rules"), "type/unsupported");
        assert_eq!(get(&recs[0], "warnings"), "1");
        assert_eq!(get(&recs[1], "outcome"), "unreachable");
        assert_eq!(get(&recs[1], "measured_size_gb"), "");
        assert!(get(&recs[1], "problems").contains("cannot resolve"));
    }

    #[test]
    fn markdown_puts_blockers_first_and_lists_the_unreachable() {
        let md = markdown(&file());
        let blockers = md.find("## Blockers").unwrap();
        let unreachable = md.find("## Unreachable").unwrap();
        let warnings = md.find("## Warnings").unwrap();
        let all = md.find("## All databases").unwrap();
        assert!(blockers < unreachable && unreachable < warnings && warnings < all);
        let section = &md[blockers..unreachable];
        assert!(section.contains("### pg-a"), "{section}");
        assert!(section.contains("**type/unsupported**"));
        assert!(section.contains("fix: `ALTER TABLE 't'`"));
        assert!(md[unreachable..warnings].contains("| pg-b |"));
        assert!(md.contains("2 databases from fleet.csv"));
        assert!(md.contains("1 with blockers"));
        // A pipe in a detail must not split the table row.
        assert!(md.contains("| pg-a | postgres | assessed | 15.4 | UTF8 | 1.500 GB (declared 2.5 GB) | 3 (1) | 1/0/0/2/0/0 | hstore 1.8 | 42.2 (database) | 1 | 1 |"), "{md}");
    }

    #[test]
    fn json_round_trips_and_the_reader_checks_the_format() {
        let dir = std::env::temp_dir().join(format!("wd-assess-{}", std::process::id()));
        let f = file();
        write_all(&dir, &f).unwrap();
        assert_eq!(read(&dir).unwrap(), f);
        for name in ["assessment.csv", "assessment.md"] {
            assert!(dir.join(name).exists(), "{name}");
        }
        std::fs::write(dir.join("assessment.json"), "{\"format\": \"other\"}").unwrap();
        let err = read(&dir).unwrap_err().to_string();
        assert!(err.contains("not a wavedeck assessment"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = read(&dir).unwrap_err().to_string();
        assert!(err.contains("run wavedeck assess"), "{err}");
    }
}
