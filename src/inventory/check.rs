//! Turning raw records into `DatabaseSpec`s, reporting every problem with its file and line.

use super::model::{Criticality, DatabaseSpec, Endpoint, Engine, Mode};
use super::raw::{known_yaml_keys, split_tags, RawRecord, RawValue};
use super::window::BusinessWindow;
use crate::secret::SecretRef;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong in an inventory file: where, what, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line; 0 when the file could not be read at all.
    pub line: usize,
    pub db_id: Option<String>,
    pub message: String,
    /// The fix, in words.
    pub fix: String,
}

impl Problem {
    pub fn new(
        file: &Path,
        line: usize,
        db_id: Option<String>,
        message: String,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.to_path_buf(),
            line,
            db_id,
            message,
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `file:line: [db_id] message (fix)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(id) = &self.db_id {
            write!(f, "{id}: ")?;
        }
        write!(f, "{} ({})", self.message, self.fix)
    }
}

/// A value quoted back in a message: escaped, and cut when long.
fn shown(v: &str) -> String {
    let mut out: String = v
        .chars()
        .take(60)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if v.chars().count() > 60 {
        out.push_str("...");
    }
    out
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name closest to `word`, when it is close enough to be a typo.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&w, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min()
        .map(|(_, k)| k)
}

/// db_id becomes part of DRS job names and file names: keep it to a safe alphabet.
fn valid_db_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

pub(crate) fn parse_engine(s: &str) -> Option<Engine> {
    match s.trim().to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" => Some(Engine::Postgres),
        "mysql" | "mariadb" => Some(Engine::Mysql),
        _ => None,
    }
}

pub(crate) fn parse_criticality(s: &str) -> Option<Criticality> {
    match s.trim().to_ascii_lowercase().as_str() {
        "low" => Some(Criticality::Low),
        "medium" => Some(Criticality::Medium),
        "high" => Some(Criticality::High),
        _ => None,
    }
}

/// Check every record of one file; duplicates within the file are reported here.
pub fn check_records(
    file: &Path,
    records: &[RawRecord],
) -> (Vec<(usize, DatabaseSpec)>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut specs = Vec::new();
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for rec in records {
        let mut ctx = Ctx {
            file,
            rec,
            db_id: None,
            problems: &mut problems,
            typo_of: Vec::new(),
        };
        if let Some(spec) = ctx.build() {
            if let Some(first) = first_seen.get(&spec.db_id) {
                problems.push(Problem::new(
                    file,
                    rec.line,
                    Some(spec.db_id.clone()),
                    format!(
                        "duplicate db_id `{}`: already used at line {first}",
                        spec.db_id
                    ),
                    "every database needs its own db_id; rename one of them or remove the copy",
                ));
            } else {
                first_seen.insert(spec.db_id.clone(), rec.line);
                specs.push((rec.line, spec));
            }
        }
    }
    (specs, problems)
}

/// db_ids used in more than one file.
pub fn duplicates_across(files: &[(PathBuf, Vec<(usize, DatabaseSpec)>)]) -> Vec<Problem> {
    let mut first: HashMap<&str, (&Path, usize)> = HashMap::new();
    let mut problems = Vec::new();
    for (file, specs) in files {
        for (line, spec) in specs {
            match first.get(spec.db_id.as_str()) {
                Some((f, l)) if *f != file.as_path() => problems.push(Problem::new(
                    file,
                    *line,
                    Some(spec.db_id.clone()),
                    format!(
                        "duplicate db_id `{}`: already used in {}:{}",
                        spec.db_id,
                        f.display(),
                        l
                    ),
                    "db_id must be unique across all inventory files; rename one of them",
                )),
                Some(_) => {}
                None => {
                    first.insert(&spec.db_id, (file, *line));
                }
            }
        }
    }
    problems
}

/// Two databases DRS could not tell apart: DRS job names are case-insensitive
/// (`create_job_req.py` name: "不区分大小写"), and a db_id travels in the `wavedeck-db-id` tag
/// in an encoded form ([`crate::drs::api::tag_value_for`]). Either clash would make one
/// database find the other's job, so both rows are named.
pub fn drs_name_clashes(files: &[(PathBuf, Vec<(usize, DatabaseSpec)>)]) -> Vec<Problem> {
    use crate::drs::api::{job_name_for, tag_value_for};
    let mut by_name: HashMap<String, (&Path, usize, &str)> = HashMap::new();
    let mut by_tag: HashMap<String, (&Path, usize, &str)> = HashMap::new();
    let mut problems = Vec::new();
    for (file, specs) in files {
        for (line, spec) in specs {
            let id = spec.db_id.as_str();
            let keys = [
                (
                    &mut by_name,
                    job_name_for(id).to_lowercase(),
                    "DRS job name (DRS ignores case)",
                    "rename one of them so they differ by more than letter case",
                ),
                (
                    &mut by_tag,
                    tag_value_for(id),
                    "wavedeck-db-id tag value",
                    "rename one of them: a db_id too long for a tag value is cut to DRS's 43 \
                     characters with a hash of the whole, and these two came out the same",
                ),
            ];
            for (seen, key, what, fix) in keys {
                match seen.get(&key) {
                    Some((f, l, other)) if *other != id => {
                        problems.push(Problem::new(
                            file,
                            *line,
                            Some(spec.db_id.clone()),
                            format!(
                                "db_id `{id}` and db_id `{other}` ({}:{l}) give the same {what} `{key}`",
                                f.display()
                            ),
                            fix,
                        ));
                        break;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key, (file, *line, id));
                    }
                }
            }
        }
    }
    problems
}

struct Ctx<'a> {
    file: &'a Path,
    rec: &'a RawRecord,
    db_id: Option<String>,
    problems: &'a mut Vec<Problem>,
    /// Known fields an unknown field looks like a typo of: not also reported as missing.
    typo_of: Vec<String>,
}

impl Ctx<'_> {
    fn problem(&mut self, line: usize, message: String, fix: impl Into<String>) {
        self.problems.push(Problem::new(
            self.file,
            line,
            self.db_id.clone(),
            message,
            fix,
        ));
    }

    fn line_of(&self, key: &str) -> usize {
        self.rec
            .fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.line)
            .unwrap_or(self.rec.line)
    }

    /// The text of a scalar field; `None` (after reporting) when missing and required or wrong.
    fn text(&mut self, key: &str, required: bool, hint: &str) -> Option<String> {
        let field = self.rec.fields.iter().find(|f| f.key == key);
        match field.map(|f| (&f.value, f.line, f.written.clone())) {
            Some((RawValue::Text(t), _, _)) if !t.trim().is_empty() => Some(t.trim().to_string()),
            Some((RawValue::Wrong(what), line, written)) => {
                self.problem(
                    line,
                    format!("`{written}` is {what}, expected a single value"),
                    format!("write it as {hint}"),
                );
                None
            }
            Some((RawValue::List(_), line, written)) | Some((RawValue::Json(_), line, written)) => {
                self.problem(
                    line,
                    format!("`{written}` is a list, expected a single value"),
                    format!("write it as {hint}"),
                );
                None
            }
            _ => {
                if required && !self.typo_of.iter().any(|t| t == key) {
                    let line = self.rec.line;
                    let (name, fix) = if self.rec.csv {
                        let col = key.replace('.', "_");
                        (col.clone(), format!("fill the {col} column"))
                    } else {
                        (key.replace('.', ": "), format!("add it, e.g. {hint}"))
                    };
                    self.problem(line, format!("missing required field `{name}`"), fix);
                }
                None
            }
        }
    }

    fn build(&mut self) -> Option<DatabaseSpec> {
        let mut ok = true;
        // db_id first, so later problems can name the database.
        let db_id = self.text("db_id", true, "db_id: billing-pg-01");
        if let Some(id) = &db_id {
            if valid_db_id(id) {
                self.db_id = Some(id.clone());
            } else {
                let line = self.line_of("db_id");
                self.problem(
                    line,
                    format!(
                        "db_id `{}` is not usable (it names DRS jobs and files)",
                        shown(id)
                    ),
                    "use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
                );
                ok = false;
            }
        } else {
            ok = false;
        }
        self.unknown_and_refused_fields();

        let engine = match self.text("engine", true, "engine: postgres") {
            Some(e) => match parse_engine(&e) {
                Some(e) => Some(e),
                None => {
                    let line = self.line_of("engine");
                    self.problem(
                        line,
                        format!("unknown engine `{}`", shown(&e)),
                        "engine must be postgres or mysql (MariaDB is mysql)",
                    );
                    None
                }
            },
            None => None,
        };
        let engine_version = self
            .text("engine_version", false, "engine_version: \"16\"")
            .unwrap_or_default();
        let size_gb = match self.text("size_gb", true, "size_gb: 12.5") {
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    let line = self.line_of("size_gb");
                    self.problem(
                        line,
                        format!("size_gb `{}` is not a size", shown(&s)),
                        "write the size in gigabytes as a number >= 0, e.g. 12.5 (0.05 for 50 MB)",
                    );
                    None
                }
            },
            None => None,
        };
        let owner = self.text("owner", true, "owner: team-billing");
        let criticality = match self.text("criticality", true, "criticality: low") {
            Some(c) => match parse_criticality(&c) {
                Some(c) => Some(c),
                None => {
                    let line = self.line_of("criticality");
                    self.problem(
                        line,
                        format!("unknown criticality `{}`", shown(&c)),
                        "criticality must be low, medium or high",
                    );
                    None
                }
            },
            None => None,
        };
        let window = match self.text(
            "business_window",
            true,
            "business_window: \"Sat,Sun 01:00-05:00 Europe/Paris\"",
        ) {
            Some(w) => match BusinessWindow::parse(&w) {
                Ok(_) => Some(w),
                Err(e) => {
                    let line = self.line_of("business_window");
                    self.problem(
                        line,
                        format!("bad business_window: {e}"),
                        "fix the window syntax",
                    );
                    None
                }
            },
            None => None,
        };
        let wave = match self.text("wave", false, "wave: 1") {
            Some(w) => match w.parse::<u32>() {
                Ok(n) => Some(Some(n)),
                Err(_) => {
                    let line = self.line_of("wave");
                    self.problem(
                        line,
                        format!("wave `{}` is not a wave number", shown(&w)),
                        "write a whole number >= 0 (0 is the pilot), or leave it empty for the planner",
                    );
                    None
                }
            },
            None => Some(None),
        };
        let source = self.endpoint("source");
        let target = self.endpoint("target");
        if let (Some(s), Some(t)) = (&source, &target) {
            if s.host.eq_ignore_ascii_case(&t.host) && s.port == t.port && s.database == t.database
            {
                let line = self.line_of("target.host");
                self.problem(
                    line,
                    format!(
                        "target is identical to source ({}:{}/{})",
                        s.host, s.port, s.database
                    ),
                    "point target at the RDS instance (another host, port or database name)",
                );
                ok = false;
            }
        }
        let tags = match self.rec.fields.iter().find(|f| f.key == "tags") {
            Some(f) => match &f.value {
                RawValue::List(l) => l.clone(),
                RawValue::Text(t) => split_tags(t),
                _ => {
                    let line = f.line;
                    self.problem(
                        line,
                        "`tags` must be a list of words".into(),
                        "write tags: [billing, eu] in YAML or billing;eu in CSV",
                    );
                    ok = false;
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let max_lag = match self.text("overrides.max_cutover_lag_s", false, "max_cutover_lag_s: 3")
        {
            Some(s) => match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Some(Some(v)),
                _ => {
                    let line = self.line_of("overrides.max_cutover_lag_s");
                    self.problem(
                        line,
                        format!("max_cutover_lag_s `{}` is not a number of seconds", shown(&s)),
                        "write a positive number of seconds, e.g. 3, or leave it out to use the config value",
                    );
                    None
                }
            },
            None => Some(None),
        };
        let mut extra = BTreeMap::new();
        for f in &self.rec.fields {
            if let Some(name) = f.key.strip_prefix("extra.") {
                let v = match &f.value {
                    RawValue::Json(j) => j.clone(),
                    RawValue::Text(t) => serde_json::Value::String(t.clone()),
                    RawValue::List(l) => serde_json::json!(l),
                    RawValue::Wrong(_) => serde_json::Value::Null,
                };
                extra.insert(name.to_string(), v);
            }
        }
        let mode = match self.text("mode", false, "mode: offline") {
            Some(m) => match Mode::parse(&m) {
                Some(m) => Some(m),
                None => {
                    let line = self.line_of("mode");
                    self.problem(
                        line,
                        format!("unknown mode `{}`", shown(&m)),
                        "mode must be online (CDC, the default) or offline (writes stopped for the move)",
                    );
                    None
                }
            },
            None => Some(Mode::default()),
        };
        if !ok {
            return None;
        }
        Some(
            DatabaseSpec::new(db_id?, engine?, source?, target?)
                .with_version(engine_version)
                .with_size_gb(size_gb?)
                .with_owner(owner?)
                .with_criticality(criticality?)
                .with_window(window?)
                .with_wave(wave?)
                .with_tags(tags)
                .with_max_cutover_lag_s(max_lag?)
                .with_mode(mode?)
                .with_extras(extra),
        )
    }

    fn endpoint(&mut self, side: &str) -> Option<Endpoint> {
        if let Some(f) = self.rec.fields.iter().find(|f| f.key == side) {
            if let RawValue::Wrong(what) = f.value {
                let line = f.line;
                self.problem(
                    line,
                    format!("`{side}` is {what}, expected host, port, database, user and password_env"),
                    format!("write {side}: on its own line with host:, port:, database:, user:, password_env: indented below"),
                );
                return None;
            }
        }
        let k = |sub: &str| format!("{side}.{sub}");
        let host = self.text(&k("host"), true, &format!("{side}: host: db1.corp.example"));
        let port = match self.text(&k("port"), true, &format!("{side}: port: 5432")) {
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    let line = self.line_of(&k("port"));
                    self.problem(
                        line,
                        format!("{side} port `{}` is not a TCP port", shown(&p)),
                        "write a whole number from 1 to 65535, e.g. 5432 for PostgreSQL, 3306 for MySQL",
                    );
                    None
                }
            },
            None => None,
        };
        let database = self.text(&k("database"), true, &format!("{side}: database: billing"));
        let user = self.text(&k("user"), true, &format!("{side}: user: migrator"));
        let env = self.text(
            &k("password_env"),
            false,
            "password_env: BILLING_PG_PASSWORD",
        );
        let file = self.text(
            &k("password_file"),
            false,
            "password_file: /etc/wavedeck/billing.pw",
        );
        let password = match (env, file) {
            (Some(_), Some(_)) => {
                let line = self.line_of(&k("password_file"));
                self.problem(
                    line,
                    format!("{side} has both password_env and password_file"),
                    "keep only one of them",
                );
                None
            }
            (Some(e), None) => {
                let valid = e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !e.starts_with(|c: char| c.is_ascii_digit());
                if valid {
                    Some(SecretRef::Env(e))
                } else {
                    let line = self.line_of(&k("password_env"));
                    self.problem(
                        line,
                        format!("{side} password_env is not an environment variable name"),
                        "give the NAME of the variable holding the password (letters, digits, _), e.g. BILLING_PG_PASSWORD, never the password",
                    );
                    None
                }
            }
            (None, Some(f)) => Some(SecretRef::File(PathBuf::from(f))),
            (None, None) => {
                let refused = self.rec.fields.iter().any(|f| f.key == k("password"));
                if !refused {
                    let line = self.line_of(side);
                    self.problem(
                        line,
                        format!("{side} has no password_env or password_file"),
                        "add password_env: NAME_OF_THE_ENV_VAR (or password_file: PATH) to say where the password is",
                    );
                }
                None
            }
        };
        Some(Endpoint {
            host: host?,
            port: port?,
            database: database?,
            user: user?,
            password: password?,
        })
    }

    fn unknown_and_refused_fields(&mut self) {
        let (top, endpoint, overrides) = known_yaml_keys();
        let fields: Vec<(String, String, usize)> = self
            .rec
            .fields
            .iter()
            .map(|f| (f.key.clone(), f.written.clone(), f.line))
            .collect();
        for (key, written, line) in fields {
            if key == "password" || key.ends_with(".password") {
                // Never echo the value: it is a password.
                let side = key.strip_suffix(".password").unwrap_or("source");
                self.problem(
                    line,
                    format!("`{written}` holds a password inline: refused"),
                    format!("remove it and write {side} password_env: NAME (an env var holding the password) or password_file: PATH"),
                );
                continue;
            }
            let known = if let Some((head, sub)) = key.split_once('.') {
                match head {
                    "source" | "target" => {
                        if endpoint.contains(&sub) {
                            None
                        } else {
                            Some((sub.to_string(), endpoint))
                        }
                    }
                    "overrides" => {
                        if overrides.contains(&sub) {
                            None
                        } else {
                            Some((sub.to_string(), overrides))
                        }
                    }
                    "extra" => None,
                    _ => Some((key.clone(), top)),
                }
            } else if top.contains(&key.as_str()) {
                None
            } else {
                Some((key.clone(), top))
            };
            if let Some((word, candidates)) = known {
                let fix = if let Some((side, sub)) = word
                    .split_once('_')
                    .filter(|(s, sub)| ["source", "target"].contains(s) && endpoint.contains(sub))
                {
                    format!("in YAML, nest it: {side}: then {sub}: indented below")
                } else if word == "max_cutover_lag_s" {
                    "in YAML, nest it: overrides: then max_cutover_lag_s: indented below"
                        .to_string()
                } else {
                    match closest(&word, candidates) {
                        Some(s) => {
                            let prefix = key
                                .rsplit_once('.')
                                .map(|(h, _)| format!("{h}."))
                                .unwrap_or_default();
                            self.typo_of.push(format!("{prefix}{s}"));
                            format!("did you mean `{s}`? custom data goes under extra:")
                        }
                        None => format!(
                            "known fields here: {}; custom data goes under extra:",
                            candidates.join(", ")
                        ),
                    }
                };
                self.problem(line, format!("unknown field `{written}`"), fix);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::load::{load_files, parse_bytes};
    use super::*;
    use proptest::prelude::*;

    const BROKEN_YAML: &str = include_str!("../../inventory/examples/broken.yaml");
    const BROKEN_CSV: &str = include_str!("../../inventory/examples/broken.csv");
    const PILOT: &str = include_str!("../../inventory/pilot.yaml");
    const FACTORY: &str = include_str!("../../inventory/factory-2000.csv");

    fn problems(name: &str, text: &[u8]) -> Vec<Problem> {
        parse_bytes(Path::new(name), text).1
    }

    #[test]
    fn broken_yaml_reports_each_marked_error_on_its_line_and_nothing_else() {
        let got = problems("broken.yaml", BROKEN_YAML.as_bytes());
        let mut expected = Vec::new();
        for (i, line) in BROKEN_YAML.lines().enumerate() {
            for part in line.split("# expect: ").skip(1) {
                expected.push((i + 1, part.trim().to_string()));
            }
        }
        assert!(expected.len() >= 12);
        for (line, text) in &expected {
            assert!(
                got.iter()
                    .any(|p| p.line == *line && p.to_string().contains(text.as_str())),
                "no problem on line {line} containing {text:?}; got:\n{}",
                got.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for p in &got {
            assert!(p
                .to_string()
                .starts_with(&format!("broken.yaml:{}: ", p.line)));
            assert!(!p.fix.is_empty());
        }
    }

    #[test]
    fn broken_csv_reports_each_error_with_its_line() {
        let got = problems("broken.csv", BROKEN_CSV.as_bytes());
        let expected = [
            (1, "unknown column `tgas` (did you mean `tags`?"),
            (3, "duplicate db_id `good-my-01`: already used at line 2"),
            (4, "unknown engine `db2`"),
            (5, "target port `pg` is not a TCP port"),
            (6, "size_gb `12GB` is not a size"),
            (7, "bad business_window"),
            (8, "target is identical to source"),
            (9, "max_cutover_lag_s `-1`"),
            (10, "this row has 6 fields but the header has 22 columns"),
            (11, "source has no password_env"),
            (12, "`target_password` holds a password inline: refused"),
        ];
        for (line, text) in expected {
            assert!(
                got.iter()
                    .any(|p| p.line == line && p.to_string().contains(text)),
                "no problem on line {line} containing {text:?}; got {got:#?}"
            );
        }
        assert_eq!(got.len(), expected.len(), "{got:#?}");
    }

    #[test]
    fn mode_is_online_unless_written_and_a_wrong_one_is_named_on_its_line() {
        let first = PILOT.find("  - db_id:").unwrap();
        let second = first + 1 + PILOT[first + 1..].find("  - db_id:").unwrap();
        let eol = |at: usize| at + PILOT[at..].find('\n').unwrap() + 1;
        let text = format!(
            "{}    mode: offline\n{}    mode: sideways\n{}",
            &PILOT[..eol(first)],
            &PILOT[eol(first)..eol(second)],
            &PILOT[eol(second)..]
        );
        let (specs, probs) = parse_bytes(Path::new("pilot.yaml"), text.as_bytes());
        let line = text.lines().position(|l| l.contains("sideways")).unwrap() + 1;
        assert_eq!(probs.len(), 1, "{probs:#?}");
        assert_eq!(probs[0].line, line);
        assert_eq!(probs[0].message, "unknown mode `sideways`");
        assert!(probs[0].fix.contains("online") && probs[0].fix.contains("offline"));
        assert_eq!(specs[0].1.mode, Mode::Offline);
        assert!(specs[1..].iter().all(|(_, s)| s.mode == Mode::Online));
        assert_eq!(
            specs.len(),
            7,
            "the record with the wrong mode is not loaded"
        );
    }

    #[test]
    fn inline_passwords_are_never_echoed() {
        for p in problems("broken.yaml", BROKEN_YAML.as_bytes())
            .into_iter()
            .chain(problems("broken.csv", BROKEN_CSV.as_bytes()))
        {
            let s = p.to_string();
            assert!(!s.contains("hunter2") && !s.contains("s3cr3t"), "{s}");
        }
    }

    #[test]
    fn pilot_loads_eight_low_risk_databases_of_both_engines() {
        let (specs, probs) = parse_bytes(Path::new("pilot.yaml"), PILOT.as_bytes());
        assert!(probs.is_empty(), "{probs:#?}");
        assert_eq!(specs.len(), 8);
        assert!(specs
            .iter()
            .all(|(_, s)| s.wave == Some(0) && s.criticality == Criticality::Low));
        assert!(specs.iter().any(|(_, s)| s.engine == Engine::Postgres));
        assert!(specs.iter().any(|(_, s)| s.engine == Engine::Mysql));
        assert!(specs
            .iter()
            .all(|(_, s)| s.source.host == "127.0.0.1" && s.source != s.target));
        let first = &specs[0].1;
        assert_eq!(first.overrides.max_cutover_lag_s, Some(3.0));
        assert_eq!(
            first.source.password,
            SecretRef::Env("WD_PILOT_PG_PASSWORD".into())
        );
        assert_eq!(
            specs[1].0,
            PILOT
                .lines()
                .position(|l| l.contains("pilot-my-catalog"))
                .unwrap()
                + 1
        );
    }

    #[test]
    fn empty_and_garbage_files_are_problems() {
        for (name, bytes, want) in [
            ("e.yaml", &b""[..], "empty"),
            ("e.csv", &b"  \n\n"[..], "empty"),
            ("c.yaml", &b"# only a comment\n"[..], "no database"),
            ("h.csv", &b"db_id,engine\n"[..], "no database"),
            (
                "b.yaml",
                &b"db_id: x\n\xff\xfe\x00garbage"[..],
                "not valid UTF-8",
            ),
            ("b.csv", &b"db_id,engine\nx,\xff\n"[..], "not valid UTF-8"),
            ("s.yaml", &b"- db_id: [unclosed\n"[..], "YAML syntax error"),
            ("n.yaml", &b"42\n"[..], "not a list of databases"),
            ("x.csv", &b"name,size\na,1\n"[..], "no db_id column"),
        ] {
            let got = problems(name, bytes);
            assert!(
                got.iter().any(|p| p.message.contains(want)),
                "{name}: {got:#?}"
            );
        }
        let got = problems("b.yaml", b"databases:\n  - db_id: a\n\xff");
        assert_eq!(got[0].line, 3, "{got:#?}");
    }

    #[test]
    fn db_ids_drs_cannot_tell_apart_are_refused_naming_both_rows() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, PILOT).unwrap();
        // The pilot's first db_id in upper case: a new db_id, but the same DRS job name.
        let upper = PILOT.replace("pilot-pg-billing", "PILOT-PG-BILLING");
        let only_first: String = {
            let start = upper.find("  - db_id: PILOT-PG-BILLING").unwrap();
            let end = upper[start + 4..]
                .find("  - db_id:")
                .map_or(upper.len(), |e| start + 4 + e);
            format!("databases:\n{}", &upper[start..end])
        };
        std::fs::write(&b, only_first).unwrap();
        let err = load_files(&[a.clone(), b.clone()]).unwrap_err();
        assert_eq!(err.len(), 1, "{err:#?}");
        let m = &err[0].message;
        assert!(
            err[0].file == b && m.contains("PILOT-PG-BILLING"),
            "{err:#?}"
        );
        assert!(
            m.contains("`pilot-pg-billing`") && m.contains("a.yaml:"),
            "{m}"
        );
        assert!(m.contains("ignores case"), "{m}");
    }

    #[test]
    fn duplicate_across_files_names_both_places() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.yaml");
        let b = dir.path().join("b.yaml");
        std::fs::write(&a, PILOT).unwrap();
        std::fs::write(&b, PILOT).unwrap();
        let err = load_files(&[a.clone(), b.clone()]).unwrap_err();
        assert_eq!(err.len(), 8);
        assert!(
            err[0].file == b && err[0].message.contains("a.yaml:"),
            "{:#?}",
            err[0]
        );
        assert_eq!(load_files(&[a]).unwrap().len(), 8);
    }

    #[test]
    fn yaml_typo_of_csv_style_key_says_to_nest() {
        let text = PILOT.replacen(
            "    owner: team-billing",
            "    owner: team-billing\n    source_host: x",
            1,
        );
        let got = problems("p.yaml", text.as_bytes());
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0].fix.contains("nest it: source:"), "{got:#?}");
    }

    fn mutate(base: &[u8], ops: &[(u8, usize, u8)]) -> Vec<u8> {
        let mut v = base.to_vec();
        for (op, pos, byte) in ops {
            if v.is_empty() {
                v.push(*byte);
                continue;
            }
            let i = pos % v.len();
            match op % 4 {
                0 => v[i] = *byte,
                1 => v.insert(i, *byte),
                2 => {
                    v.remove(i);
                }
                _ => {
                    let j = (i + 1 + *byte as usize).min(v.len());
                    let chunk: Vec<u8> = v[i..j].to_vec();
                    v.splice(i..i, chunk);
                }
            }
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400), csv in any::<bool>()) {
            let name = if csv { "r.csv" } else { "r.yaml" };
            let (specs, probs) = parse_bytes(Path::new(name), &bytes);
            prop_assert!(!specs.is_empty() || !probs.is_empty());
        }

        #[test]
        fn never_panics_on_mutated_valid_files(
            ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..8),
            csv in any::<bool>(),
        ) {
            // A valid CSV: the factory's header and first rows.
            let factory: String = FACTORY.lines().take(12).map(|l| format!("{l}\n")).collect();
            let (name, base) = if csv { ("m.csv", factory.as_bytes()) } else { ("m.yaml", PILOT.as_bytes()) };
            let bytes = mutate(base, &ops);
            let (_, probs) = parse_bytes(Path::new(name), &bytes);
            for p in probs {
                // Every problem points into the file.
                let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
                prop_assert!(p.line >= 1 && p.line <= lines + 1, "{p}");
            }
        }
    }
}
