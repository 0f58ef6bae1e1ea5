//! Reading inventory files (YAML or CSV) into records whose every field knows its line.
//!
//! Both formats become the same [`RawRecord`] (canonical keys such as `source.port`), so one
//! checker (`check.rs`) validates them and the two formats cannot drift apart.
//!
//! YAML: a list of databases at the top level, or a mapping with a `databases:` list (and
//! optionally the `waves:` summary `wavedeck plan` writes). Endpoints are nested mappings.
//! CSV: one header row; endpoints are flattened (`source_host`, `target_port`, ...), `tags` are
//! separated by `;`, `max_cutover_lag_s` is the override column, `extra_NAME` columns go to
//! `extra`. Empty cells mean "not given".

use super::check::{self, Problem};
use super::model::DatabaseSpec;
use super::raw::{split_tags, RawField, RawRecord, RawValue, ENDPOINT_KEYS, TOP_KEYS};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Csv,
}

impl Format {
    /// From the extension; without one, a first line naming `db_id,` means CSV.
    pub fn detect(path: &Path, bytes: &[u8]) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("csv") => Format::Csv,
            Some("yaml") | Some("yml") => Format::Yaml,
            _ => {
                let first = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
                if first.starts_with(b"db_id,") || first.windows(7).any(|w| w == b",db_id,") {
                    Format::Csv
                } else {
                    Format::Yaml
                }
            }
        }
    }
}

/// Load and check one file. Either every database, or every problem found.
pub fn load_file(path: &Path) -> Result<Vec<DatabaseSpec>, Vec<Problem>> {
    load_files(&[path.to_path_buf()])
}

/// Load and check several files as one inventory (db_id must be unique across all of them).
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<DatabaseSpec>, Vec<Problem>> {
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match crate::input::read_bytes(path, crate::input::INVENTORY.max_bytes) {
            Ok(bytes) => {
                let (specs, mut p) = parse_bytes(path, &bytes);
                problems.append(&mut p);
                parsed.push((path.clone(), specs));
            }
            Err(e) => problems.push(Problem::new(
                path,
                0,
                None,
                e.to_string(),
                "check the path, that it is a regular file and that this user may read it",
            )),
        }
    }
    problems.extend(check::duplicates_across(&parsed));
    problems.extend(check::drs_name_clashes(&parsed));
    if problems.is_empty() {
        Ok(parsed
            .into_iter()
            .flat_map(|(_, s)| s.into_iter().map(|(_, d)| d))
            .collect())
    } else {
        Err(problems)
    }
}

/// [`load_files`] for a command that needs the whole inventory: on problems, prints each one
/// on stderr, then `N problem(s)` followed by `then` (what to do next), and gives None.
pub fn load_files_or_report(paths: &[PathBuf], then: &str) -> Option<Vec<DatabaseSpec>> {
    match load_files(paths) {
        Ok(specs) => Some(specs),
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s){then}", problems.len());
            None
        }
    }
}

/// Parse and check the bytes of one file. Pure; never panics, whatever the bytes. Returns the
/// databases that are valid (with their line) and every problem.
pub fn parse_bytes(file: &Path, bytes: &[u8]) -> (Vec<(usize, DatabaseSpec)>, Vec<Problem>) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return (
            Vec::new(),
            vec![Problem::new(
                file,
                1,
                None,
                "the file is empty".into(),
                "add at least one database; see inventory/pilot.yaml for the format",
            )],
        );
    }
    let (records, mut problems) = match Format::detect(file, bytes) {
        Format::Yaml => read_yaml(file, bytes),
        Format::Csv => read_csv(file, bytes),
    };
    if records.is_empty() && problems.is_empty() {
        problems.push(Problem::new(
            file,
            1,
            None,
            "the file holds no database".into(),
            "add at least one database; see inventory/pilot.yaml for the format",
        ));
    }
    let (specs, mut p) = check::check_records(file, &records);
    problems.append(&mut p);
    problems.sort_by_key(|p| p.line);
    (specs, problems)
}

fn line_of_offset(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

fn utf8_problem(file: &Path, bytes: &[u8], err: std::str::Utf8Error) -> Problem {
    let off = err.valid_up_to();
    Problem::new(
        file,
        line_of_offset(bytes, off),
        None,
        format!(
            "the file is not valid UTF-8 (byte {off}): it looks binary or uses another encoding"
        ),
        "save it as UTF-8 text (e.g. iconv -f latin1 -t utf-8)",
    )
}

// ---------------------------------------------------------------------------------------------
// YAML

fn read_yaml(file: &Path, bytes: &[u8]) -> (Vec<RawRecord>, Vec<Problem>) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => crate::input::strip_bom(t),
        Err(e) => return (Vec::new(), vec![utf8_problem(file, bytes, e)]),
    };
    if let Err(e) =
        crate::input::check_yaml(&file.display().to_string(), text, &crate::input::INVENTORY)
    {
        let line = match &e {
            crate::input::InputError::TooDeep { line, .. }
            | crate::input::InputError::TooManyAliasNodes { line, .. } => *line,
            _ => 0,
        };
        return (
            Vec::new(),
            vec![Problem::new(
                file,
                line,
                None,
                e.to_string()
                    .strip_prefix(&format!("{}:{line}: ", file.display()))
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string()),
                "write the inventory without deep nesting or mass aliases (one record per database)",
            )],
        );
    }
    let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let line = e.location().map(|l| l.line()).unwrap_or(1);
            return (
                Vec::new(),
                vec![Problem::new(
                    file,
                    line,
                    None,
                    format!("YAML syntax error: {e}"),
                    "fix the YAML at this line (indentation, a missing ':', unbalanced quotes); one document per file",
                )],
            );
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut problems = Vec::new();
    let in_databases = matches!(doc, serde_yaml::Value::Mapping(_));
    let items = match doc {
        serde_yaml::Value::Null => return (Vec::new(), Vec::new()),
        serde_yaml::Value::Sequence(s) => s,
        serde_yaml::Value::Mapping(m) => {
            let mut items = None;
            for (k, v) in m {
                match k.as_str() {
                    Some("databases") => match v {
                        serde_yaml::Value::Sequence(s) => items = Some(s),
                        serde_yaml::Value::Null => items = Some(Vec::new()),
                        _ => problems.push(Problem::new(
                            file,
                            find_key_line(&lines, 0, lines.len(), "databases").unwrap_or(1),
                            None,
                            "`databases:` must be a list of databases".into(),
                            "write each database as a list item starting with `- db_id: ...`",
                        )),
                    },
                    // The plan summary written by `wavedeck plan`: informative, not checked here.
                    Some("waves") => {}
                    other => {
                        let name = other
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{k:?}"));
                        problems.push(Problem::new(
                            file,
                            find_key_line(&lines, 0, lines.len(), &name).unwrap_or(1),
                            None,
                            format!("unknown top-level key `{name}`"),
                            "the top level is a list of databases, or `databases:` (and `waves:` from wavedeck plan)",
                        ))
                    }
                }
            }
            match items {
                Some(i) => i,
                None => {
                    if problems.is_empty() {
                        problems.push(Problem::new(
                            file,
                            1,
                            None,
                            "no `databases:` list in this file".into(),
                            "put the databases under `databases:` or make the file a list",
                        ));
                    }
                    return (Vec::new(), problems);
                }
            }
        }
        _ => {
            return (
                Vec::new(),
                vec![Problem::new(
                    file,
                    1,
                    None,
                    "the file is not a list of databases".into(),
                    "start each database with `- db_id: ...`; see inventory/pilot.yaml",
                )],
            )
        }
    };
    let spans = record_spans(&lines, &items, in_databases);
    let mut records = Vec::new();
    for (item, (start, end)) in items.into_iter().zip(spans) {
        match item {
            serde_yaml::Value::Mapping(m) => {
                records.push(yaml_record(file, &lines, start, end, m, &mut problems))
            }
            other => problems.push(Problem::new(
                file,
                start,
                None,
                format!("this list item is {}, not a database", describe(&other)),
                "write each database as a mapping: `- db_id: ...` followed by its fields",
            )),
        }
    }
    (records, problems)
}

fn describe(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "empty",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

fn scalar(v: &serde_yaml::Value) -> RawValue {
    match v {
        serde_yaml::Value::String(s) => RawValue::Text(s.clone()),
        serde_yaml::Value::Number(n) => RawValue::Text(n.to_string()),
        serde_yaml::Value::Bool(b) => RawValue::Text(b.to_string()),
        serde_yaml::Value::Null => RawValue::Text(String::new()),
        other => RawValue::Wrong(describe(other)),
    }
}

fn yaml_record(
    file: &Path,
    lines: &[&str],
    start: usize,
    end: usize,
    m: serde_yaml::Mapping,
    problems: &mut Vec<Problem>,
) -> RawRecord {
    let db_id = m.get("db_id").and_then(|v| v.as_str()).map(str::to_string);
    let mut fields = Vec::new();
    for (k, v) in m {
        let Some(key) = k.as_str().map(str::to_string) else {
            problems.push(Problem::new(
                file,
                start,
                db_id.clone(),
                format!("a key is {}, not a name", describe(&k)),
                "field names are words such as db_id, engine, size_gb",
            ));
            continue;
        };
        let line = find_key_line(lines, start, end, &key).unwrap_or(start);
        match key.as_str() {
            "source" | "target" => match v {
                serde_yaml::Value::Mapping(em) => {
                    for (sk, sv) in em {
                        let sub = sk
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{sk:?}"));
                        let sline = find_key_line(lines, line, end, &sub).unwrap_or(line);
                        fields.push(RawField {
                            key: format!("{key}.{sub}"),
                            written: format!("{key}.{sub}"),
                            value: scalar(&sv),
                            line: sline,
                        });
                    }
                }
                other => fields.push(RawField {
                    key: key.clone(),
                    written: key.clone(),
                    value: RawValue::Wrong(describe(&other)),
                    line,
                }),
            },
            "overrides" => match v {
                serde_yaml::Value::Mapping(om) => {
                    for (ok, ov) in om {
                        let sub = ok
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{ok:?}"));
                        let sline = find_key_line(lines, line, end, &sub).unwrap_or(line);
                        fields.push(RawField {
                            key: format!("overrides.{sub}"),
                            written: format!("overrides.{sub}"),
                            value: scalar(&ov),
                            line: sline,
                        });
                    }
                }
                serde_yaml::Value::Null => {}
                other => fields.push(RawField {
                    key: key.clone(),
                    written: key.clone(),
                    value: RawValue::Wrong(describe(&other)),
                    line,
                }),
            },
            "extra" => match v {
                serde_yaml::Value::Mapping(xm) => {
                    for (xk, xv) in xm {
                        let sub = xk
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("{xk:?}"));
                        let json = serde_json::to_value(&xv).unwrap_or(serde_json::Value::Null);
                        fields.push(RawField {
                            key: format!("extra.{sub}"),
                            written: format!("extra.{sub}"),
                            value: RawValue::Json(json),
                            line: find_key_line(lines, line, end, &sub).unwrap_or(line),
                        });
                    }
                }
                serde_yaml::Value::Null => {}
                other => fields.push(RawField {
                    key: key.clone(),
                    written: key.clone(),
                    value: RawValue::Wrong(describe(&other)),
                    line,
                }),
            },
            "tags" => {
                let value = match v {
                    serde_yaml::Value::Sequence(s) => {
                        let mut tags = Vec::new();
                        let mut wrong = None;
                        for t in &s {
                            match scalar(t) {
                                RawValue::Text(t) => tags.push(t),
                                _ => wrong = Some("a list holding non-text items"),
                            }
                        }
                        match wrong {
                            Some(w) => RawValue::Wrong(w),
                            None => RawValue::List(tags),
                        }
                    }
                    other => match scalar(&other) {
                        RawValue::Text(t) => RawValue::List(split_tags(&t)),
                        w => w,
                    },
                };
                fields.push(RawField {
                    key: key.clone(),
                    written: key.clone(),
                    value,
                    line,
                });
            }
            _ => fields.push(RawField {
                key: key.clone(),
                written: key.clone(),
                value: scalar(&v),
                line,
            }),
        }
    }
    RawRecord {
        line: start,
        csv: false,
        fields,
    }
}

fn strip_comment_free(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with('#') || t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// The 1-based line of `key:` within lines `[from, to)` (1-based, `to` exclusive), looking
/// through list dashes (`- key:`) and quotes.
fn find_key_line(lines: &[&str], from: usize, to: usize, key: &str) -> Option<usize> {
    let from = from.max(1);
    let to = to.min(lines.len() + 1);
    (from..to).find(|&n| {
        let Some(mut t) = strip_comment_free(lines[n - 1]) else {
            return false;
        };
        while let Some(rest) = t.strip_prefix('-') {
            t = rest.trim_start();
        }
        let t = t.strip_prefix(['"', '\'']).unwrap_or(t);
        t.strip_prefix(key)
            .map(|rest| {
                let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest);
                rest.starts_with(':')
            })
            .unwrap_or(false)
    })
}

/// Start and end lines (1-based, end exclusive) of each database list item, within the
/// `databases:` block when there is one. Items are the dash lines with the smallest
/// indentation; when that does not match the parsed count (flow style, anchors), every record is
/// placed on the line of its `db_id`, else line 1.
fn record_spans(
    lines: &[&str],
    items: &[serde_yaml::Value],
    in_databases: bool,
) -> Vec<(usize, usize)> {
    let (from, to) = if in_databases {
        let start = lines
            .iter()
            .position(|l| l.starts_with("databases:"))
            .map(|p| p + 1)
            .unwrap_or(0);
        let end = (start..lines.len())
            .find(|&i| {
                let l = lines[i];
                l.starts_with(|c: char| !c.is_whitespace() && c != '#' && c != '-')
            })
            .unwrap_or(lines.len());
        (start, end)
    } else {
        (0, lines.len())
    };
    let dash_lines: Vec<(usize, usize)> = (from..to)
        .filter_map(|i| {
            let l = lines[i];
            let t = l.trim_start();
            (t == "-" || t.starts_with("- ")).then(|| (i + 1, l.len() - t.len()))
        })
        .collect();
    if let Some(min) = dash_lines.iter().map(|(_, ind)| *ind).min() {
        let starts: Vec<usize> = dash_lines
            .iter()
            .filter(|(_, ind)| *ind == min)
            .map(|(n, _)| *n)
            .collect();
        if starts.len() == items.len() {
            let mut spans = Vec::new();
            for (i, s) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(to + 1);
                spans.push((*s, end));
            }
            return spans;
        }
    }
    let mut id_lines: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(pos) = l.find("db_id:") {
            let v = l[pos + 6..]
                .trim()
                .trim_matches(|c| c == '"' || c == '\'' || c == ',' || c == '}');
            id_lines.entry(v).or_insert(i + 1);
        }
    }
    items
        .iter()
        .map(|item| {
            let line = item
                .get("db_id")
                .and_then(|v| v.as_str())
                .and_then(|id| id_lines.get(id).copied())
                .unwrap_or(1);
            (line, line + 1)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// CSV

/// CSV columns in the order the generator writes them.
pub const CSV_COLUMNS: &[&str] = &[
    "db_id",
    "engine",
    "engine_version",
    "size_gb",
    "owner",
    "criticality",
    "business_window",
    "wave",
    "source_host",
    "source_port",
    "source_database",
    "source_user",
    "source_password_env",
    "source_password_file",
    "target_host",
    "target_port",
    "target_database",
    "target_user",
    "target_password_env",
    "target_password_file",
    "tags",
    "max_cutover_lag_s",
    "mode",
];

/// The canonical key of a CSV column, if it is one.
fn csv_key(col: &str) -> Option<String> {
    for side in ["source", "target"] {
        if let Some(sub) = col.strip_prefix(side).and_then(|r| r.strip_prefix('_')) {
            if ENDPOINT_KEYS.contains(&sub) || sub == "password" {
                return Some(format!("{side}.{sub}"));
            }
        }
    }
    if col == "max_cutover_lag_s" {
        return Some("overrides.max_cutover_lag_s".into());
    }
    if let Some(x) = col.strip_prefix("extra_").filter(|x| !x.is_empty()) {
        return Some(format!("extra.{x}"));
    }
    if col == "password"
        || (TOP_KEYS.contains(&col) && !["source", "target", "overrides", "extra"].contains(&col))
    {
        return Some(col.to_string());
    }
    None
}

fn read_csv(file: &Path, bytes: &[u8]) -> (Vec<RawRecord>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = rdr.byte_records();
    let header = match rows.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(1);
            return (
                Vec::new(),
                vec![Problem::new(
                    file,
                    line,
                    None,
                    format!("cannot read the CSV header: {e}"),
                    "the first line must name the columns, e.g. db_id,engine,size_gb,...",
                )],
            );
        }
        None => return (Vec::new(), Vec::new()),
    };
    let header_line = header.position().map(|p| p.line() as usize).unwrap_or(1);
    let mut columns: Vec<Option<(String, String)>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for raw in header.iter() {
        let name = match std::str::from_utf8(raw) {
            Ok(n) => n.trim().to_string(),
            Err(_) => {
                problems.push(Problem::new(
                    file,
                    header_line,
                    None,
                    "a column name is not valid UTF-8".into(),
                    "save the file as UTF-8 text",
                ));
                columns.push(None);
                continue;
            }
        };
        if !seen.insert(name.clone()) {
            problems.push(Problem::new(
                file,
                header_line,
                None,
                format!("column `{name}` appears twice in the header"),
                "keep one column of each name",
            ));
            columns.push(None);
            continue;
        }
        match csv_key(&name) {
            Some(key) => columns.push(Some((key, name))),
            None => {
                let hint = match check::closest(&name, CSV_COLUMNS) {
                    Some(s) => {
                        format!("did you mean `{s}`? (extra data goes in extra_NAME columns)")
                    }
                    None => format!("known columns: {}", CSV_COLUMNS.join(", ")),
                };
                problems.push(Problem::new(
                    file,
                    header_line,
                    None,
                    format!("unknown column `{name}`"),
                    hint,
                ));
                columns.push(None);
            }
        }
    }
    if !columns.iter().flatten().any(|(k, _)| k == "db_id") {
        problems.push(Problem::new(
            file,
            header_line,
            None,
            "the header has no db_id column (is the first line the header?)".into(),
            format!("start the file with the header: {}", CSV_COLUMNS.join(",")),
        ));
        return (Vec::new(), problems);
    }
    let mut records = Vec::new();
    for row in rows {
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(1);
                problems.push(Problem::new(file, line, None, format!("cannot read this CSV row: {e}"), "check quoting: a field with a comma or quote must be in double quotes, quotes doubled inside"));
                continue;
            }
        };
        let line = row.position().map(|p| p.line() as usize).unwrap_or(1);
        if row
            .iter()
            .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
        {
            continue;
        }
        if row.len() != columns.len() {
            problems.push(Problem::new(
                file,
                line,
                None,
                format!("this row has {} fields but the header has {} columns", row.len(), columns.len()),
                "add or remove fields (commas) so every row matches the header; quote values holding commas",
            ));
            continue;
        }
        let mut fields = Vec::new();
        for (i, raw) in row.iter().enumerate() {
            let Some(Some((key, name))) = columns.get(i) else {
                continue;
            };
            let value = match std::str::from_utf8(raw) {
                Ok(v) => v.trim().to_string(),
                Err(_) => {
                    problems.push(Problem::new(
                        file,
                        line,
                        None,
                        format!("column `{name}` is not valid UTF-8"),
                        "save the file as UTF-8 text",
                    ));
                    continue;
                }
            };
            if value.is_empty() {
                continue;
            }
            let value = if key == "tags" {
                RawValue::List(split_tags(&value))
            } else if key.starts_with("extra.") {
                RawValue::Json(serde_json::Value::String(value))
            } else {
                RawValue::Text(value)
            };
            fields.push(RawField {
                key: key.clone(),
                written: name.clone(),
                value,
                line,
            });
        }
        records.push(RawRecord {
            line,
            csv: true,
            fields,
        });
    }
    (records, problems)
}
