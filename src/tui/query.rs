//! Pure parsers for the `/` filter and the `:` command line.

use crate::lifecycle::Stage;
use crate::signoff::SignoffRole;
use crate::store::model::{Action, DbState, Target};

/// One filter term. Terms are ANDed; `!` in front inverts one.
#[derive(Clone, Debug, PartialEq)]
enum Term {
    Text(String),
    Stage(Stage),
    Wave(Option<u32>),
    Engine(String),
    Owner(String),
    LagAbove(f64),
    LagBelow(f64),
}

/// A parsed `/` filter for the Databases view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DbFilter {
    terms: Vec<(bool, Term)>,
}

impl DbFilter {
    /// Parse `pay stage:cdc wave:2 lag>5 !owner:team-a`. Errors name the bad term.
    pub fn parse(s: &str) -> Result<DbFilter, String> {
        let mut terms = Vec::new();
        for raw in s.split_whitespace() {
            let (neg, t) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            if t.is_empty() {
                continue;
            }
            let term = if let Some(v) = t.strip_prefix("lag>") {
                Term::LagAbove(
                    v.trim_end_matches('s')
                        .parse()
                        .map_err(|_| format!("{raw}: lag needs a number of seconds, e.g. lag>5"))?,
                )
            } else if let Some(v) = t.strip_prefix("lag<") {
                Term::LagBelow(
                    v.trim_end_matches('s')
                        .parse()
                        .map_err(|_| format!("{raw}: lag needs a number of seconds, e.g. lag<5"))?,
                )
            } else if let Some((k, v)) = t.split_once(':') {
                match k {
                    "stage" | "s" => Term::Stage(Stage::parse(v).ok_or_else(|| {
                        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                        format!("{raw}: unknown stage; one of {}", names.join(" "))
                    })?),
                    "wave" | "w" => Term::Wave(if v == "none" || v == "-" {
                        None
                    } else {
                        Some(v.parse().map_err(|_| {
                            format!("{raw}: wave needs a number (or none), e.g. wave:2")
                        })?)
                    }),
                    "engine" | "e" => Term::Engine(v.to_ascii_lowercase()),
                    "owner" | "o" => Term::Owner(v.to_ascii_lowercase()),
                    "db" => Term::Text(v.to_ascii_lowercase()),
                    _ => {
                        return Err(format!(
                        "{raw}: unknown field {k:?}; use stage: wave: engine: owner: db: lag> lag<"
                    ))
                    }
                }
            } else {
                Term::Text(t.to_ascii_lowercase())
            };
            terms.push((neg, term));
        }
        Ok(DbFilter { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, d: &DbState) -> bool {
        self.terms.iter().all(|(neg, t)| {
            let hit = match t {
                Term::Text(s) => contains_ci(&d.db_id, s),
                Term::Stage(st) => d.stage == *st,
                Term::Wave(w) => d.wave == *w,
                Term::Engine(e) => d.engine.as_str().starts_with(e.as_str()),
                Term::Owner(o) => contains_ci(&d.owner, o),
                Term::LagAbove(x) => d.lag_s.is_some_and(|l| l > *x),
                Term::LagBelow(x) => d.lag_s.is_some_and(|l| l < *x),
            };
            hit != *neg
        })
    }

    /// The wave this filter pins, if it pins exactly one (shown in the title).
    pub fn wave(&self) -> Option<u32> {
        self.terms.iter().find_map(|(neg, t)| match t {
            Term::Wave(w) if !neg => *w,
            _ => None,
        })
    }
}

/// `needle` must already be lower case.
fn contains_ci(hay: &str, needle: &str) -> bool {
    if hay.is_ascii() {
        hay.as_bytes()
            .windows(needle.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            || needle.is_empty()
    } else {
        hay.to_lowercase().contains(needle)
    }
}

/// What a `:` line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Program,
    Waves,
    Databases,
    Events,
    Help,
    Quit,
    /// Databases view filtered to one wave.
    Wave(u32),
    /// Detail of one database.
    Db(String),
    Alerts,
    /// Open the dialog of an action.
    Act(Action, Target),
    /// Sign off, in a role and with an optional note, for what is in view (`:signoff ROLE
    /// [note]`): the target comes from the cursor, like a key's action.
    Signoff(SignoffRole, Option<String>),
}

pub fn parse_command(line: &str) -> Result<Command, String> {
    let mut it = line.split_whitespace();
    let Some(verb) = it.next() else {
        return Err("empty command; try :help".into());
    };
    let arg = it.next();
    // The note is free text: the rest of the line, however many words.
    if matches!(verb, "signoff" | "sign") {
        return signoff(verb, arg, it.collect::<Vec<_>>().join(" "));
    }
    if let Some(extra) = it.next() {
        return Err(format!(
            "unexpected {extra:?} after :{verb} {}",
            arg.unwrap_or("")
        ));
    }
    let need = |what: &str| -> Result<&str, String> {
        arg.ok_or_else(|| format!(":{verb} needs {what}, e.g. :{verb} {}", example(what)))
    };
    let wave_no = |s: &str| -> Result<u32, String> {
        s.trim_start_matches("wave-")
            .parse()
            .map_err(|_| format!(":{verb}: {s:?} is not a wave number"))
    };
    let target = |s: &str| -> Target {
        match s.trim_start_matches("wave-").parse::<u32>() {
            Ok(n) if s.chars().all(|c| c.is_ascii_digit()) || s.starts_with("wave-") => {
                Target::Wave(n)
            }
            _ => Target::Db(s.to_string()),
        }
    };
    let db = |s: &str| -> Result<Target, String> {
        match target(s) {
            Target::Wave(_) => Err(format!(":{verb} acts on one database: give its db_id")),
            t => Ok(t),
        }
    };
    Ok(match verb {
        "q" | "q!" | "quit" => Command::Quit,
        "help" | "h" | "?" => Command::Help,
        "program" | "prog" | "p0" => Command::Program,
        "waves" => Command::Waves,
        "events" | "ev" => Command::Events,
        "alerts" | "al" => Command::Alerts,
        "dbs" | "databases" => Command::Databases,
        "db" => match arg {
            None => Command::Databases,
            Some(id) => Command::Db(id.to_string()),
        },
        "wave" | "w" => match arg {
            None => Command::Waves,
            Some(n) => Command::Wave(wave_no(n)?),
        },
        "approve" => Command::Act(
            Action::ApproveWindow,
            Target::Wave(wave_no(need("a wave")?)?),
        ),
        "start" => Command::Act(Action::StartWave, Target::Wave(wave_no(need("a wave")?)?)),
        "pause" => Command::Act(Action::Pause, target(need("a db_id or wave")?)),
        "resume" => Command::Act(Action::Resume, target(need("a db_id or wave")?)),
        "abort" => Command::Act(Action::Abort, target(need("a db_id or wave")?)),
        "retry" => Command::Act(Action::Retry, db(need("a db_id")?)?),
        // A whole wave only when written wave-N: a bare number is too easy to mistype.
        "cutover" => Command::Act(
            Action::Cutover,
            match need("a db_id")? {
                s if s.starts_with("wave-") => Target::Wave(wave_no(s)?),
                s => db(s).map_err(|_| {
                    ":cutover acts on one database (its db_id) or on a whole wave written wave-N"
                        .to_string()
                })?,
            },
        ),
        "rollback" => Command::Act(Action::Rollback, db(need("a db_id")?)?),
        "close" | "close-hypercare" => Command::Act(Action::CloseHypercare, db(need("a db_id")?)?),
        other => return Err(format!("unknown command :{other}; press ? for the list")),
    })
}

fn signoff(verb: &str, role: Option<&str>, note: String) -> Result<Command, String> {
    let names = SignoffRole::ALL.map(|r| r.as_str()).join(", ");
    let role = role.ok_or_else(|| {
        format!(":{verb} needs a role ({names}), e.g. :{verb} tech_lead rehearsal passed")
    })?;
    let role = SignoffRole::parse(role)
        .ok_or_else(|| format!(":{verb}: unknown role {role:?}; one of {names}"))?;
    Ok(Command::Signoff(role, Some(note).filter(|n| !n.is_empty())))
}

fn example(what: &str) -> &'static str {
    match what {
        "a wave" => "2",
        _ => "pay-ledger-01",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Criticality, Engine};
    use chrono::TimeZone;

    fn db(id: &str, stage: Stage, wave: Option<u32>, lag: Option<f64>) -> DbState {
        let t = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
        DbState {
            db_id: id.into(),
            wave,
            engine: Engine::Postgres,
            size_gb: 1.0,
            owner: "team-pay".into(),
            criticality: Criticality::Low,
            stage,
            held_stage: None,
            stage_since: t,
            progress_pct: 0.0,
            lag_s: lag,
            validation: None,
            precheck: None,
            drs_job_id: None,
            last_error: None,
            last_event_at: t,
            attempts: 0,
            max_lag_s: None,
            business_window: String::new(),
            signoff: Default::default(),
            restore_passed_at: None,
            restore_test: Default::default(),
            mode: Default::default(),
        }
    }

    #[test]
    fn filter_terms_and_inversion() {
        let a = db("pay-ledger-01", Stage::Cdc, Some(2), Some(7.0));
        let b = db("crm-main", Stage::Ready, Some(1), Some(0.5));
        let f = DbFilter::parse("stage:cdc lag>5").unwrap();
        assert!(f.matches(&a) && !f.matches(&b));
        let f = DbFilter::parse("!PAY").unwrap();
        assert!(!f.matches(&a) && f.matches(&b));
        let e = DbFilter::parse("colour:red").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        let f = DbFilter::parse("wave:1 engine:post").unwrap();
        assert!(f.matches(&b) && !f.matches(&a));
        assert_eq!(f.wave(), Some(1));
        let e = DbFilter::parse("stage:cutover_now").unwrap_err();
        assert!(e.contains("unknown stage"), "{e}");
        let e = DbFilter::parse("lag>fast").unwrap_err();
        assert!(e.contains("lag>5"), "{e}");
        assert!(DbFilter::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn commands_parse_with_clear_errors() {
        assert_eq!(parse_command("wave 2"), Ok(Command::Wave(2)));
        assert_eq!(
            parse_command("db pay-ledger-01"),
            Ok(Command::Db("pay-ledger-01".into()))
        );
        assert_eq!(
            parse_command("approve 2"),
            Ok(Command::Act(Action::ApproveWindow, Target::Wave(2)))
        );
        assert_eq!(
            parse_command("cutover pay-ledger-01"),
            Ok(Command::Act(
                Action::Cutover,
                Target::Db("pay-ledger-01".into())
            ))
        );
        assert_eq!(
            parse_command("pause wave-3"),
            Ok(Command::Act(Action::Pause, Target::Wave(3)))
        );
        assert!(parse_command("cutover 2")
            .unwrap_err()
            .contains("one database (its db_id) or on a whole wave written wave-N"));
        assert_eq!(
            parse_command("cutover wave-2"),
            Ok(Command::Act(Action::Cutover, Target::Wave(2)))
        );
        assert!(parse_command("cutover wave-x")
            .unwrap_err()
            .contains("not a wave number"));
        assert!(parse_command("rollback wave-2")
            .unwrap_err()
            .contains("acts on one database"));
        assert!(parse_command("approve").unwrap_err().contains(":approve 2"));
        assert!(parse_command("approve two")
            .unwrap_err()
            .contains("not a wave number"));
        assert!(parse_command("launch 2")
            .unwrap_err()
            .contains("unknown command :launch"));
        assert_eq!(parse_command("q"), Ok(Command::Quit));
        assert_eq!(
            parse_command("signoff data_owner  rows  checked by hand"),
            Ok(Command::Signoff(
                SignoffRole::DataOwner,
                Some("rows checked by hand".into())
            ))
        );
        assert_eq!(
            parse_command("sign tech_lead"),
            Ok(Command::Signoff(SignoffRole::TechLead, None))
        );
        assert!(parse_command("signoff")
            .unwrap_err()
            .contains("needs a role (tech_lead, data_owner, business_owner)"));
        assert!(parse_command("signoff cto")
            .unwrap_err()
            .contains("unknown role \"cto\""));
    }
}
