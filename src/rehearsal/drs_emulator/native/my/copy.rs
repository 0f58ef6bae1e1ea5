//! The copy of a MySQL job: the source database's base tables read from one consistent
//! snapshot and written to the target out of its binary log, then replication from the
//! snapshot's GTID position. Rows travel as SQL literals the source itself prints (`QUOTE`,
//! hex for bytes and text), so no value passes through a Rust type that could change it.

use super::obs::{CopyProgress, MyObs};
use super::session::{lost, open};
use crate::cutover::mysql::ops::{self as my, My};
use crate::cutover::side::Side;
use crate::drs::model::JobStatus;
use crate::rehearsal::drs_emulator::native::common::{smoothed_rate, Failure};
use crate::rehearsal::drs_emulator::native::{NativeJob, Observation};
use crate::rehearsal::drs_emulator::Emulator;
use crate::validate::catalog::my_str;
use futures::TryStreamExt;
use sqlx::Row;
use std::sync::atomic::Ordering;

/// One INSERT of the copy carries at most this many bytes of row literals.
const BATCH_BYTES: usize = 256 * 1024;

/// Whether a column of this `information_schema` data type is copied as a hex literal (its
/// bytes as they are, whatever the character set), else as `QUOTE()` text. Pure.
pub fn copied_as_hex(data_type: &str) -> bool {
    matches!(
        data_type.to_ascii_lowercase().as_str(),
        "char"
            | "varchar"
            | "binary"
            | "varbinary"
            | "tinytext"
            | "text"
            | "mediumtext"
            | "longtext"
            | "tinyblob"
            | "blob"
            | "mediumblob"
            | "longblob"
            | "json"
            | "bit"
            | "geometry"
            | "point"
            | "linestring"
            | "polygon"
            | "multipoint"
            | "multilinestring"
            | "multipolygon"
            | "geometrycollection"
    )
}

/// The expression that reads one row of `columns` (name, data type) as the SQL literal of a
/// `VALUES` tuple: `(1,'2024-01-01 00:00:00',X'616263',NULL)`. Pure.
pub fn row_literal_sql(columns: &[(String, String)]) -> String {
    let parts: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            let c = my::quote_ident(name);
            if copied_as_hex(ty) {
                format!("IF({c} IS NULL, 'NULL', CONCAT('X''', HEX({c}), ''''))")
            } else {
                // ENUM and SET values as text in utf8mb4, numbers and times as QUOTE prints them.
                format!("QUOTE(CONVERT({c} USING utf8mb4))")
            }
        })
        .collect();
    format!(
        "CONCAT('(', CONCAT_WS(',', {}), ')')",
        if parts.is_empty() {
            "''".to_string()
        } else {
            parts.join(", ")
        }
    )
}

/// Put the copy's progress on the job; false when the job no longer copies (paused,
/// terminated, deleted, the emulator stopping): the copy then stops. A copy started again
/// after a failure puts the job back to FULL_TRANSFER_STARTED.
fn publish(emu: &Emulator, id: &str, progress: &CopyProgress) -> bool {
    if emu.stopping.load(Ordering::Relaxed) {
        return false;
    }
    let now = emu.clock.now();
    let mut st = emu.lock();
    let Some(j) = st.jobs.get_mut(id) else {
        return false;
    };
    if !matches!(
        j.status,
        JobStatus::FullTransferStarted | JobStatus::FullTransferFailed
    ) {
        return false;
    }
    if j.status != JobStatus::FullTransferStarted {
        j.status = JobStatus::FullTransferStarted;
        j.updated_at = now;
    }
    j.error = None;
    let Some(nj) = j.native.as_mut() else {
        return false;
    };
    let mut o = Observation {
        at_ms: chrono::Utc::now().timestamp_millis(),
        // Rows stand in for bytes: the rate and the remaining time are in rows then.
        source_bytes: progress.rows_est as i64,
        target_bytes: progress.rows_done as i64,
        target_rows: progress.rows_done as i64,
        my: Some(MyObs {
            copy: Some(progress.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    o.rate_bps = smoothed_rate(nj.obs.as_ref(), &o);
    nj.obs = Some(o);
    true
}

/// A full-load-only job's copy is over: FULL_TRANSFER_COMPLETE (unless the API moved it on
/// meanwhile), noted as loaded so a resume does not copy again.
pub(super) fn loaded(emu: &Emulator, id: &str) {
    let now = emu.clock.now();
    let mut st = emu.lock();
    let Some(j) = st.jobs.get_mut(id) else { return };
    if !matches!(
        j.status,
        JobStatus::FullTransferStarted | JobStatus::FullTransferFailed
    ) {
        return;
    }
    if let Some(n) = j.native.as_mut() {
        n.loaded = true;
    }
    j.status = JobStatus::FullTransferComplete;
    j.error = None;
    j.updated_at = now;
    j.full_complete_at.get_or_insert(now);
}

/// The GTID position of the source's snapshot: `BINLOG_GTID_POS` of the binary log coordinates
/// MariaDB reports for the session's consistent snapshot.
async fn snapshot_position(s: &mut My, side: &Side) -> Result<String, Failure> {
    let err = lost(side, "source");
    let rows = my::rows(&mut s.c, "SHOW STATUS LIKE 'binlog_snapshot_%'")
        .await
        .map_err(&err)?;
    let mut file = None;
    let mut pos = None;
    for r in &rows {
        let name = my_str(r, 0).map_err(&err)?;
        let value = my_str(r, 1).map_err(&err)?;
        match name.to_ascii_lowercase().as_str() {
            "binlog_snapshot_file" => file = Some(value),
            "binlog_snapshot_position" => pos = value.parse::<i64>().ok(),
            _ => {}
        }
    }
    let (Some(file), Some(pos)) = (file.filter(|f| !f.is_empty()), pos) else {
        return Err((
            String::new(),
            side.err(
                "source",
                "the server reports no binary log position for a consistent snapshot \
                 (Binlog_snapshot_file/position): is log_bin on?",
            )
            .to_string(),
        ));
    };
    let gtid: Option<String> = sqlx::query_scalar("SELECT CAST(BINLOG_GTID_POS(?, ?) AS CHAR)")
        .bind(&file)
        .bind(pos)
        .fetch_one(&mut s.c)
        .await
        .map_err(&err)?;
    gtid.ok_or_else(|| {
        (
            String::new(),
            side.err(
                "source",
                format!(
                    "BINLOG_GTID_POS({file}, {pos}) is NULL: the binary log is not readable there"
                ),
            )
            .to_string(),
        )
    })
}

/// Base tables of `db` with the server's row estimate.
async fn source_tables(s: &mut My, db: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(table_name AS CHAR), CAST(COALESCE(table_rows, 0) AS SIGNED) \
         FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' \
         ORDER BY 1",
    )
    .bind(db)
    .fetch_all(&mut s.c)
    .await?;
    rows.iter()
        .map(|r| Ok((my_str(r, 0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

/// The columns of `db.table` an INSERT writes (name, data type): generated ones are computed
/// again on the target.
async fn stored_columns(
    s: &mut My,
    db: &str,
    table: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR), CAST(extra AS CHAR) \
         FROM information_schema.columns WHERE table_schema = ? AND table_name = ? \
         ORDER BY ordinal_position",
    )
    .bind(db)
    .bind(table)
    .fetch_all(&mut s.c)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let extra = my_str(r, 2)?.to_ascii_uppercase();
        if extra.contains("GENERATED") || extra.contains("VIRTUAL") || extra.contains("PERSISTENT")
        {
            continue;
        }
        out.push((my_str(r, 0)?, my_str(r, 1)?));
    }
    Ok(out)
}

/// Copy the source database's base tables to the target from one consistent snapshot, then
/// replicate from the snapshot's GTID position. Returns early (Ok) when the job stops copying
/// (paused, terminated): a later start copies again from scratch (each table is dropped and
/// created anew). The copy is kept out of the target's binary log.
pub(super) async fn copy(emu: &Emulator, id: &str, nj: &NativeJob) -> Result<(), Failure> {
    let (src, tgt) = (&nj.source, &nj.target);
    let serr = lost(src, "source");
    let terr = lost(tgt, "target");
    let (db, tdb) = (&src.database, &tgt.database);
    let mut s = open(src, "source").await?;
    let mut t = open(tgt, "target").await?;
    for sql in [
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "START TRANSACTION WITH CONSISTENT SNAPSHOT",
    ] {
        my::exec(&mut s.c, sql).await.map_err(&serr)?;
    }
    let position = snapshot_position(&mut s, src).await?;
    let charset: Option<(String, String)> = sqlx::query_as(
        "SELECT CAST(default_character_set_name AS CHAR), CAST(default_collation_name AS CHAR) \
         FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(db)
    .fetch_optional(&mut s.c)
    .await
    .map_err(&serr)?;
    let Some((cs, coll)) = charset else {
        return Err((
            String::new(),
            src.err(
                "source",
                format!("no database {db} on the server: check the job's source db_name"),
            )
            .to_string(),
        ));
    };
    let tables = source_tables(&mut s, db).await.map_err(&serr)?;
    let mut progress = CopyProgress {
        tables_total: tables.len() as u64,
        rows_est: tables.iter().map(|(_, n)| (*n).max(0) as u64).sum(),
        ..Default::default()
    };
    if !publish(emu, id, &progress) {
        return Ok(());
    }
    // mysqldump's settings for a load: no checks between tables, 0 kept as a value.
    my::exec(
        &mut t.c,
        "SET SESSION sql_log_bin = 0, SESSION foreign_key_checks = 0, SESSION unique_checks = 0, \
         SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    )
    .await
    .map_err(&terr)?;
    let qdb = my::quote_ident(tdb);
    my::exec(
        &mut t.c,
        &format!(
            "CREATE DATABASE IF NOT EXISTS {qdb} CHARACTER SET {} COLLATE {}",
            my::quote_ident(&cs),
            my::quote_ident(&coll)
        ),
    )
    .await
    .map_err(&terr)?;
    my::exec(&mut t.c, &format!("USE {qdb}"))
        .await
        .map_err(&terr)?;
    for (table, _) in &tables {
        let qt = my::quote_ident(table);
        let create = my::rows(
            &mut s.c,
            &format!("SHOW CREATE TABLE {}.{qt}", my::quote_ident(db)),
        )
        .await
        .map_err(&serr)?;
        let create = match create.first() {
            Some(r) => my_str(r, 1).map_err(&serr)?,
            None => continue,
        };
        my::exec(&mut t.c, &format!("DROP TABLE IF EXISTS {qt}"))
            .await
            .map_err(&terr)?;
        my::exec(&mut t.c, &create).await.map_err(&terr)?;
        let columns = stored_columns(&mut s, db, table).await.map_err(&serr)?;
        let head = format!(
            "INSERT INTO {qt} ({}) VALUES ",
            columns
                .iter()
                .map(|(n, _)| my::quote_ident(n))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let select = format!(
            "SELECT {} FROM {}.{qt}",
            row_literal_sql(&columns),
            my::quote_ident(db)
        );
        let mut batch = String::new();
        let mut in_batch = 0u64;
        let mut rows = sqlx::query(&select).fetch(&mut s.c);
        loop {
            let row = rows.try_next().await.map_err(&serr)?;
            let literal = row
                .as_ref()
                .map(|r| my_str(r, 0))
                .transpose()
                .map_err(&serr)?;
            let full = batch.len() + literal.as_ref().map_or(0, |l| l.len()) > BATCH_BYTES;
            if in_batch > 0 && (literal.is_none() || full) {
                my::exec(&mut t.c, &format!("{head}{batch}"))
                    .await
                    .map_err(&terr)?;
                progress.rows_done += in_batch;
                batch.clear();
                in_batch = 0;
                if !publish(emu, id, &progress) {
                    return Ok(());
                }
            }
            let Some(literal) = literal else { break };
            if in_batch > 0 {
                batch.push(',');
            }
            batch.push_str(&literal);
            in_batch += 1;
        }
        drop(rows);
        progress.tables_done += 1;
        if !publish(emu, id, &progress) {
            return Ok(());
        }
    }
    my::exec(&mut s.c, "COMMIT").await.map_err(&serr)?;
    if nj.full_only {
        // FULL_TRANS: the snapshot is the whole job; no replica follows it.
        loaded(emu, id);
        tracing::info!(job = %id, tables = progress.tables_done, rows = progress.rows_done, "native MySQL full-load-only copy done");
        return Ok(());
    }
    let name = &nj.mover.subscription;
    t.replicate_from(name, src, Some(&position))
        .await
        .map_err(|m| (String::new(), tgt.err("target", nj.clean(&m)).to_string()))?;
    tracing::info!(job = %id, tables = progress.tables_done, rows = progress.rows_done, position = %position, "native MySQL copy done, replicating");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_as_literals_bytes_as_hex() {
        let cols = vec![
            ("id".to_string(), "bigint".to_string()),
            ("name".to_string(), "varchar".to_string()),
            ("kind".to_string(), "enum".to_string()),
            ("odd`col".to_string(), "BLOB".to_string()),
        ];
        let sql = row_literal_sql(&cols);
        assert_eq!(
            sql,
            "CONCAT('(', CONCAT_WS(',', QUOTE(CONVERT(`id` USING utf8mb4)), \
             IF(`name` IS NULL, 'NULL', CONCAT('X''', HEX(`name`), '''')), \
             QUOTE(CONVERT(`kind` USING utf8mb4)), \
             IF(`odd``col` IS NULL, 'NULL', CONCAT('X''', HEX(`odd``col`), ''''))), ')')"
        );
        assert!(copied_as_hex("longtext") && copied_as_hex("bit") && !copied_as_hex("datetime"));
    }
}
