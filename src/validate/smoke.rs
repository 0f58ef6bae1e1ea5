//! Smoke tests (queries with expected results) and business rules (required, unique, format,
//! no orphans) from the runbook and the inventory entry.

use super::canon::{normalize_decimal, Decimal};
use super::catalog::{quote_dotted, quote_ident};
use super::connect::Pool;
use super::report::CheckOutcome;
use super::runbook::{Rule, SmokeTest};
use crate::inventory::Engine;
use sqlx::Row;

/// Run `sql` through the simple/text protocol so every value arrives as text, whatever its type.
pub async fn query_text(pool: &Pool, sql: &str) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
    match pool {
        Pool::Pg(p) => {
            let rows = sqlx::raw_sql(sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get_unchecked::<Option<String>, _>(i))
                        .collect()
                })
                .collect()
        }
        // MySQL text results may hold binary columns: read bytes, show them lossily.
        Pool::My(p) => {
            let rows = sqlx::raw_sql(sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get_unchecked::<Option<&[u8]>, _>(i)
                                .map(|v| v.map(|b| String::from_utf8_lossy(b).into_owned()))
                        })
                        .collect()
                })
                .collect()
        }
    }
}

/// Numbers compare by value (`1.50` = `1.5`), booleans in any spelling, the rest as text.
fn same_value(got: &Option<String>, want: &Option<String>) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) => {
            if g == w {
                return true;
            }
            let truthy = |s: &str| match s {
                "t" | "true" | "1" => Some(true),
                "f" | "false" | "0" => Some(false),
                _ => None,
            };
            if let (Some(a), Some(b)) = (truthy(g), truthy(w)) {
                return a == b;
            }
            match (normalize_decimal(g), normalize_decimal(w)) {
                (Decimal::Int(a), Decimal::Int(b)) => a == b,
                (Decimal::Text(a), Decimal::Text(b)) => {
                    a == b && a.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                }
                _ => false,
            }
        }
        _ => false,
    }
}

fn json_to_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn show(rows: &[Vec<Option<String>>]) -> String {
    let body: Vec<String> = rows
        .iter()
        .take(5)
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .map(|c| c.clone().unwrap_or_else(|| "NULL".into()))
                .collect();
            format!("[{}]", cells.join(", "))
        })
        .collect();
    let more = if rows.len() > 5 {
        format!(" (+{} more)", rows.len() - 5)
    } else {
        String::new()
    };
    format!("[{}]{more}", body.join(", "))
}

fn rows_equal(a: &[Vec<Option<String>>], b: &[Vec<Option<String>>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q)))
}

pub async fn run_smoke_tests(
    src: &Pool,
    src_db: &str,
    tgt: &Pool,
    tgt_db: &str,
    tests: &[SmokeTest],
) -> Vec<CheckOutcome> {
    let mut out = Vec::new();
    for t in tests {
        let outcome = |passed, detail: String| CheckOutcome {
            name: t.name.clone(),
            passed,
            detail,
        };
        let got = match query_text(tgt, &t.sql.replace("{database}", tgt_db)).await {
            Ok(r) => r,
            Err(e) => {
                out.push(outcome(false, format!("query failed on target: {e}")));
                continue;
            }
        };
        if let Some(expect) = &t.expect {
            let want: Vec<Vec<Option<String>>> = expect
                .iter()
                .map(|r| r.iter().map(json_to_text).collect())
                .collect();
            if !rows_equal(&got, &want) {
                out.push(outcome(
                    false,
                    format!("expected {} on target, got {}", show(&want), show(&got)),
                ));
                continue;
            }
        }
        if t.expect_same_as_source {
            match query_text(src, &t.sql.replace("{database}", src_db)).await {
                Ok(want) if !rows_equal(&got, &want) => {
                    out.push(outcome(
                        false,
                        format!("source returned {}, target {}", show(&want), show(&got)),
                    ));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    out.push(outcome(false, format!("query failed on source: {e}")));
                    continue;
                }
            }
        }
        if t.expect.is_none() && !t.expect_same_as_source {
            out.push(outcome(
                false,
                "the smoke test has neither `expect` nor `expect_same_as_source`".into(),
            ));
            continue;
        }
        out.push(outcome(true, format!("got {}", show(&got))));
    }
    out
}

fn sql_string(engine: Engine, s: &str) -> String {
    let s = s.replace('\'', "''");
    match engine {
        // MySQL string literals treat backslash as an escape.
        Engine::Mysql => format!("'{}'", s.replace('\\', "\\\\")),
        Engine::Postgres => format!("'{s}'"),
    }
}

/// The SQL selecting the rows that break a rule.
pub fn violation_sql(engine: Engine, rule: &Rule) -> String {
    let q = |c: &str| quote_ident(engine, c);
    match rule {
        Rule::Required { table, columns } => {
            let cond: Vec<String> = columns.iter().map(|c| format!("{} IS NULL", q(c))).collect();
            format!("SELECT * FROM {} WHERE {}", quote_dotted(engine, table), cond.join(" OR "))
        }
        Rule::Unique { table, columns } => {
            let cols: Vec<String> = columns.iter().map(|c| q(c)).collect();
            let cols = cols.join(", ");
            format!(
                "SELECT {cols}, count(*) FROM {} GROUP BY {cols} HAVING count(*) > 1",
                quote_dotted(engine, table)
            )
        }
        Rule::Format { table, column, regex } => {
            let c = q(column);
            let test = match engine {
                Engine::Postgres => format!("{c}::text ~ {}", sql_string(engine, regex)),
                Engine::Mysql => format!("{c} REGEXP {}", sql_string(engine, regex)),
            };
            format!("SELECT * FROM {} WHERE {c} IS NOT NULL AND NOT ({test})", quote_dotted(engine, table))
        }
        Rule::NoOrphans {
            table,
            column,
            ref_table,
            ref_column,
        } => format!(
            "SELECT * FROM {} c WHERE c.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{rc} = c.{col})",
            quote_dotted(engine, table),
            quote_dotted(engine, ref_table),
            col = q(column),
            rc = q(ref_column),
        ),
    }
}

pub async fn run_rules(tgt: &Pool, rules: &[Rule]) -> Vec<CheckOutcome> {
    let mut out = Vec::new();
    for rule in rules {
        let sql = violation_sql(tgt.engine(), rule);
        let (passed, detail) = match query_text(tgt, &sql).await {
            Ok(rows) if rows.is_empty() => (true, "no violations".to_string()),
            Ok(rows) => (
                false,
                format!("{} violations on target, e.g. {}", rows.len(), show(&rows)),
            ),
            Err(e) => (false, format!("rule query failed on target: {e}")),
        };
        out.push(CheckOutcome {
            name: rule.name(),
            passed,
            detail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_by_meaning() {
        let s = |x: &str| Some(x.to_string());
        assert!(same_value(&s("1.50"), &s("1.5")));
        assert!(same_value(&s("t"), &s("true")));
        assert!(!same_value(&s("2"), &s("1")));
        assert!(!same_value(&None, &s("")));
        assert!(!same_value(&s("abc"), &s("abd")));
    }

    #[test]
    fn rule_sql_quotes_names_and_escapes_regex() {
        let r = Rule::Format {
            table: "app.users".into(),
            column: "email".into(),
            regex: r"^[^@]+@[^@]+\.[a-z]+$".into(),
        };
        assert_eq!(
            violation_sql(Engine::Postgres, &r),
            r#"SELECT * FROM "app"."users" WHERE "email" IS NOT NULL AND NOT ("email"::text ~ '^[^@]+@[^@]+\.[a-z]+$')"#
        );
        assert!(violation_sql(Engine::Mysql, &r).contains(r"REGEXP '^[^@]+@[^@]+\\.[a-z]+$'"));
    }
}
