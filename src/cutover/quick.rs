//! Final quick validation at cutover: row counts on every table of both sides and a content
//! checksum on the critical tables. Runs while both sides are read-only, so the figures are
//! exact, not estimates.

use super::pg::quote_ident;
use serde::Serialize;
use sqlx::postgres::PgConnection;

#[derive(Clone, Debug, Serialize)]
pub struct TableCheck {
    pub table: String,
    pub source_rows: Option<i64>,
    pub target_rows: Option<i64>,
    pub source_md5: Option<String>,
    pub target_md5: Option<String>,
    pub ok: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct QuickReport {
    pub tables: Vec<TableCheck>,
    pub checksummed: usize,
    pub differences: Vec<String>,
    pub ms: u64,
}

impl QuickReport {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

fn qualified(table: &str) -> String {
    match table.split_once('.') {
        Some((s, t)) => format!("{}.{}", quote_ident(s), quote_ident(t)),
        None => quote_ident(table),
    }
}

async fn count(c: &mut PgConnection, table: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {}", qualified(table)))
        .fetch_one(c)
        .await
}

/// Order-independent of physical layout: rows are sorted by their text form before hashing, so
/// the same content gives the same digest on both servers.
async fn checksum(c: &mut PgConnection, table: &str) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "SELECT coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), md5('')) FROM {} t",
        qualified(table)
    ))
    .fetch_one(c)
    .await
}

/// Compare every user table of both sides; checksum those named in `critical`
/// (`schema.table`, or `*` for all).
pub async fn quick_compare(
    source: &mut PgConnection,
    target: &mut PgConnection,
    critical: &[String],
) -> Result<QuickReport, sqlx::Error> {
    let started = std::time::Instant::now();
    let src_tables = super::pg::user_tables(source).await?;
    let tgt_tables = super::pg::user_tables(target).await?;
    let mut all: Vec<String> = src_tables
        .iter()
        .chain(tgt_tables.iter())
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    let mut tables = Vec::new();
    let mut differences = Vec::new();
    let mut checksummed = 0;
    for t in all {
        let s = if src_tables.contains(&t) {
            Some(count(source, &t).await?)
        } else {
            None
        };
        let g = if tgt_tables.contains(&t) {
            Some(count(target, &t).await?)
        } else {
            None
        };
        let mut check = TableCheck {
            table: t.clone(),
            source_rows: s,
            target_rows: g,
            source_md5: None,
            target_md5: None,
            ok: s == g,
        };
        match (s, g) {
            (Some(a), Some(b)) if a != b => {
                differences.push(format!("{t}: {a} rows at source, {b} at target"))
            }
            (None, Some(_)) => differences.push(format!("{t}: only at target")),
            (Some(_), None) => differences.push(format!("{t}: missing at target")),
            _ => {}
        }
        let wants_sum = critical.iter().any(|c| c == "*" || *c == t);
        if check.ok && wants_sum {
            let a = checksum(source, &t).await?;
            let b = checksum(target, &t).await?;
            checksummed += 1;
            if a != b {
                check.ok = false;
                differences.push(format!("{t}: same row count but content differs (md5)"));
            }
            check.source_md5 = Some(a);
            check.target_md5 = Some(b);
        }
        tables.push(check);
    }
    Ok(QuickReport {
        tables,
        checksummed,
        differences,
        ms: started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_quoted_per_part() {
        assert_eq!(qualified("public.orders"), "\"public\".\"orders\"");
        assert_eq!(qualified("orders"), "\"orders\"");
    }
}
