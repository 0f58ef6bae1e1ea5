//! Final quick validation at cutover: row counts on every table of both sides and a content
//! checksum on the critical tables. Runs while both sides are read-only, so the figures are
//! exact, not estimates. PostgreSQL tables are named `schema.table`; MySQL tables by their bare
//! name (the database is the schema and may be named differently on each side).

use super::mysql::ops::{self as my, My};
use super::postgres::ops::quote_ident;
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

/// Content digest of a MySQL table, independent of row order and storage: per row an MD5 of
/// every column's text (with a NULL marker per column), summed as two 60-bit halves. A sum,
/// not XOR, so two equal rows do not cancel out.
async fn my_checksum(c: &mut My, db: &str, table: &str) -> Result<String, sqlx::Error> {
    let cols: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
         WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
    )
    .bind(db)
    .bind(table)
    .fetch_all(&mut c.c)
    .await?;
    let parts: Vec<String> = cols
        .iter()
        .map(|c| {
            let q = my::quote_ident(c);
            format!("{q}, ISNULL({q})")
        })
        .collect();
    let row = format!("MD5(CONCAT_WS('#', {}))", parts.join(", "));
    let sql = format!(
        "SELECT CAST(CONCAT(COALESCE(SUM(CAST(CONV(SUBSTRING({row}, 1, 15), 16, 10) AS UNSIGNED)), 0), \
         '-', COALESCE(SUM(CAST(CONV(SUBSTRING({row}, 16, 15), 16, 10) AS UNSIGNED)), 0)) AS CHAR) \
         FROM {}.{}",
        my::quote_ident(db),
        my::quote_ident(table)
    );
    sqlx::query_scalar(&sql).fetch_one(&mut c.c).await
}

/// One side of the comparison.
pub enum QuickSide<'a> {
    Pg(&'a mut PgConnection),
    /// An admin session and the database compared.
    My(&'a mut My, &'a str),
}

impl QuickSide<'_> {
    async fn tables(&mut self) -> Result<Vec<String>, sqlx::Error> {
        match self {
            QuickSide::Pg(c) => super::postgres::ops::user_tables(c).await,
            QuickSide::My(c, db) => c.tables(db).await,
        }
    }

    async fn count(&mut self, table: &str) -> Result<i64, sqlx::Error> {
        match self {
            QuickSide::Pg(c) => count(c, table).await,
            QuickSide::My(c, db) => {
                sqlx::query_scalar(&format!(
                    "SELECT COUNT(*) FROM {}.{}",
                    my::quote_ident(db),
                    my::quote_ident(table)
                ))
                .fetch_one(&mut c.c)
                .await
            }
        }
    }

    async fn checksum(&mut self, table: &str) -> Result<String, sqlx::Error> {
        match self {
            QuickSide::Pg(c) => checksum(c, table).await,
            QuickSide::My(c, db) => my_checksum(c, db, table).await,
        }
    }

    /// Whether `table` is named by an entry of `critical`: exactly, by `*`, or for MySQL by
    /// `anything.table` (the database part differs between sides).
    fn is_critical(&self, critical: &[String], table: &str) -> bool {
        critical.iter().any(|c| {
            c == "*"
                || c == table
                || (matches!(self, QuickSide::My(..))
                    && c.rsplit_once('.').is_some_and(|(_, t)| t == table))
        })
    }
}

/// Compare every user table of both PostgreSQL sides; checksum those named in `critical`
/// (`schema.table`, or `*` for all).
pub async fn quick_compare(
    source: &mut PgConnection,
    target: &mut PgConnection,
    critical: &[String],
) -> Result<QuickReport, sqlx::Error> {
    compare(QuickSide::Pg(source), QuickSide::Pg(target), critical).await
}

/// Compare every table of both sides (either engine); checksum the critical ones.
pub async fn compare(
    mut source: QuickSide<'_>,
    mut target: QuickSide<'_>,
    critical: &[String],
) -> Result<QuickReport, sqlx::Error> {
    let started = std::time::Instant::now();
    let src_tables = source.tables().await?;
    let tgt_tables = target.tables().await?;
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
            Some(source.count(&t).await?)
        } else {
            None
        };
        let g = if tgt_tables.contains(&t) {
            Some(target.count(&t).await?)
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
        let wants_sum = source.is_critical(critical, &t);
        if check.ok && wants_sum {
            let a = source.checksum(&t).await?;
            let b = target.checksum(&t).await?;
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
