//! Appending to the hash chain, reading events back, checking the chain, and keeping the
//! derived state tables in step with the log.

use super::db::{
    fmt_time, get, list_placeholders, now, parse_time, row_chunks, values_placeholders, Backend,
    StateCache, Store,
};
use super::error::{Ctx, Result, StoreError};
use super::fold::{apply, Derived};
use super::hash::{canonical_json, check_link, event_hash_text, ChainBreak, GENESIS_HASH};
use super::{kind, DbState, Event, NewEvent, WaveState};
use crate::inventory::DatabaseSpec;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Transaction};
use std::collections::{BTreeMap, BTreeSet};

/// Outcome of `verify_chain`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainReport {
    /// Events checked (up to the first break).
    pub checked: i64,
    /// Seq of the last stored event.
    pub last_seq: i64,
    /// The first place the chain is broken, if any.
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    pub fn is_ok(&self) -> bool {
        self.first_break.is_none()
    }
}

const EVENT_COLS: &str = "seq, time, db_id, wave, kind, payload, actor, prev_hash, hash";

/// An event row as stored, before its payload and time are parsed (so a damaged row can be
/// reported by `verify_chain` rather than fail the read).
struct RawEvent {
    seq: i64,
    time: String,
    db_id: Option<String>,
    wave: Option<i64>,
    kind: String,
    payload: String,
    actor: String,
    prev_hash: String,
    hash: String,
}

impl RawEvent {
    fn from_row(row: &AnyRow) -> Result<RawEvent> {
        Ok(RawEvent {
            seq: get(row, "seq")?,
            time: get(row, "time")?,
            db_id: get(row, "db_id")?,
            wave: get(row, "wave")?,
            kind: get(row, "kind")?,
            payload: get(row, "payload")?,
            actor: get(row, "actor")?,
            prev_hash: get(row, "prev_hash")?,
            hash: get(row, "hash")?,
        })
    }

    fn parse(self) -> Result<Event> {
        let seq = self.seq;
        let bad = |what: &str| StoreError::Corrupt(format!("event {seq}: {what}"));
        Ok(Event {
            seq,
            time: parse_time(&self.time).map_err(|_| bad("time is not readable"))?,
            db_id: self.db_id,
            wave: match self.wave {
                Some(w) => Some(u32::try_from(w).map_err(|_| bad("wave is out of range"))?),
                None => None,
            },
            kind: self.kind,
            payload: serde_json::from_str(&self.payload).map_err(|_| bad("payload is not JSON"))?,
            actor: self.actor,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

fn parse_rows(rows: Vec<AnyRow>) -> Result<Vec<Event>> {
    rows.iter()
        .map(|r| RawEvent::from_row(r).and_then(RawEvent::parse))
        .collect()
}

impl Store {
    /// Append events in one transaction and return them as stored (seq, time, hashes).
    /// All or nothing: a crash mid-call leaves none of them. The derived state tables are
    /// updated in the same transaction. Batch for throughput: one call, one commit.
    pub async fn append(&self, events: &[NewEvent]) -> Result<Vec<Event>> {
        self.append_with_lags(events, &[]).await
    }

    /// [`Store::append`], and in the same transaction the raw lag samples `lags` (what
    /// [`Store::record_lags`] records alone): one commit, one fsync, where the engine's rounds
    /// paid two.
    pub async fn append_with_lags(
        &self,
        events: &[NewEvent],
        lags: &[(String, DateTime<Utc>, f64)],
    ) -> Result<Vec<Event>> {
        if events.is_empty() {
            if !lags.is_empty() {
                self.record_lags(lags).await?;
            }
            return Ok(vec![]);
        }
        let mut cache = self.cache.lock().await;
        let mut tx = self.begin_write().await?;
        let (out, fresh) = append_in(&mut tx, events, cache.take(), &self.outbox).await?;
        if !lags.is_empty() {
            super::lag::insert_samples(&mut tx, lags).await?;
        }
        tx.commit().await.ctx("commit append")?;
        self.outbox.committed();
        *cache = Some(fresh);
        if !lags.is_empty() || out.iter().any(|e| e.kind == kind::DB_LAG) {
            self.maybe_compact_lag().await?;
        }
        Ok(out)
    }

    /// Seq of the last event (0 when the log is empty). Poll this to notice new events cheaply.
    pub async fn last_seq(&self) -> Result<i64> {
        let row = sqlx::query("SELECT last_seq FROM chain_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .ctx("read chain head")?;
        get(&row, "last_seq")
    }

    /// Events with seq > `after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .ctx("read events")?;
        parse_rows(rows)
    }

    /// Every alert event (`kind::ALERTS`), oldest first: what the cockpit's alerts board folds
    /// before it follows the tail.
    pub async fn alert_events(&self) -> Result<Vec<Event>> {
        let [a, b, c] = kind::ALERTS;
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE kind IN ($1, $2, $3) ORDER BY seq"
        ))
        .bind(a)
        .bind(b)
        .bind(c)
        .fetch_all(&self.pool)
        .await
        .ctx("read alert events")?;
        parse_rows(rows)
    }

    /// Every event of one database, oldest first (its audit trail for evidence packs).
    pub async fn events_for_db(&self, db_id: &str) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE db_id = $1 ORDER BY seq"
        ))
        .bind(db_id)
        .fetch_all(&self.pool)
        .await
        .ctx("read events of a database")?;
        parse_rows(rows)
    }

    /// Events about one wave itself (planned, approved, started...), oldest first.
    pub async fn events_for_wave(&self, wave: u32) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE wave = $1 AND db_id IS NULL ORDER BY seq"
        ))
        .bind(i64::from(wave))
        .fetch_all(&self.pool)
        .await
        .ctx("read events of a wave")?;
        parse_rows(rows)
    }

    /// Current state of every database, by db_id.
    pub async fn db_states(&self) -> Result<Vec<DbState>> {
        let rows = sqlx::query("SELECT state FROM db_state ORDER BY db_id")
            .fetch_all(&self.pool)
            .await
            .ctx("read database states")?;
        rows.iter().map(|r| decode_json(r, "state")).collect()
    }

    /// How many databases are at each stage, of one wave or of all: for a poller that only
    /// waits for stages (decoding every state each time cost the engine bench more CPU than
    /// the engine's own decisions).
    pub async fn stage_counts(&self, wave: Option<u32>) -> Result<BTreeMap<String, i64>> {
        let sql = match wave {
            Some(_) => "SELECT stage, COUNT(*) AS n FROM db_state WHERE wave = $1 GROUP BY stage",
            None => "SELECT stage, COUNT(*) AS n FROM db_state GROUP BY stage",
        };
        let mut q = sqlx::query(sql);
        if let Some(w) = wave {
            q = q.bind(i64::from(w));
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .ctx("count databases by stage")?;
        rows.iter()
            .map(|r| Ok((get::<String>(r, "stage")?, get::<i64>(r, "n")?)))
            .collect()
    }

    /// How many events of `kind` the log holds.
    pub async fn count_events(&self, kind: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE kind = $1")
            .bind(kind)
            .fetch_one(&self.pool)
            .await
            .ctx("count events")?;
        get(&row, "n")
    }

    /// Databases whose state changed after event `seq`, for a cockpit refreshing incrementally.
    /// (Removed databases are not reported: reload everything when `db.removed` is seen.)
    pub async fn db_states_changed_after(&self, seq: i64) -> Result<Vec<DbState>> {
        let rows = sqlx::query("SELECT state FROM db_state WHERE updated_seq > $1 ORDER BY db_id")
            .bind(seq)
            .fetch_all(&self.pool)
            .await
            .ctx("read database states")?;
        rows.iter().map(|r| decode_json(r, "state")).collect()
    }

    /// Current state of one database.
    pub async fn db_state(&self, db_id: &str) -> Result<Option<DbState>> {
        let row = sqlx::query("SELECT state FROM db_state WHERE db_id = $1")
            .bind(db_id)
            .fetch_optional(&self.pool)
            .await
            .ctx("read a database state")?;
        row.map(|r| decode_json(&r, "state")).transpose()
    }

    /// The inventory record a database was registered (or last updated) with: endpoints,
    /// window, overrides. Passwords are references (env var / file), never values.
    pub async fn db_spec(&self, db_id: &str) -> Result<Option<DatabaseSpec>> {
        let row = sqlx::query("SELECT spec FROM db_spec WHERE db_id = $1")
            .bind(db_id)
            .fetch_optional(&self.pool)
            .await
            .ctx("read a database spec")?;
        row.map(|r| decode_json(&r, "spec")).transpose()
    }

    /// Every registered database's inventory record, by db_id.
    pub async fn db_specs(&self) -> Result<Vec<DatabaseSpec>> {
        let rows = sqlx::query("SELECT spec FROM db_spec ORDER BY db_id")
            .fetch_all(&self.pool)
            .await
            .ctx("read database specs")?;
        rows.iter().map(|r| decode_json(r, "spec")).collect()
    }

    /// Current state of every wave, by number.
    pub async fn wave_states(&self) -> Result<Vec<WaveState>> {
        let rows = sqlx::query("SELECT state FROM wave_state ORDER BY wave")
            .fetch_all(&self.pool)
            .await
            .ctx("read wave states")?;
        rows.iter().map(|r| decode_json(r, "state")).collect()
    }

    /// Walk the whole chain and report the first break: a missing seq, a `prev_hash` that does
    /// not match, an edited event, or a chain head that disagrees with the last event.
    pub async fn verify_chain(&self) -> Result<ChainReport> {
        // One snapshot for the head and the events, or a concurrent append would look like a
        // mismatch between them.
        let mut conn = self.pool.begin().await.ctx("verify chain")?;
        if self.backend == super::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *conn)
                .await
                .ctx("verify chain")?;
        }
        let head = sqlx::query("SELECT last_seq, last_hash FROM chain_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await
            .ctx("read chain head")?;
        let (head_seq, head_hash): (i64, String) =
            (get(&head, "last_seq")?, get(&head, "last_hash")?);
        let mut prev_seq = 0i64;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut checked = 0i64;
        let mut first_break = None;
        {
            let sql = format!("SELECT {EVENT_COLS} FROM events ORDER BY seq");
            let mut rows = sqlx::query(&sql).fetch(&mut *conn);
            while let Some(row) = rows.try_next().await.ctx("read events")? {
                let raw = RawEvent::from_row(&row)?;
                let seq = raw.seq;
                // The stored text is what was hashed: check it byte for byte, so even an
                // edit that keeps the JSON equivalent (spacing, key order) is found.
                let stored_hash = event_hash_text(
                    raw.seq,
                    &raw.time,
                    raw.db_id.as_deref(),
                    raw.wave.and_then(|w| u32::try_from(w).ok()),
                    &raw.kind,
                    &raw.payload,
                    &raw.actor,
                    &raw.prev_hash,
                );
                let text_ok = stored_hash == raw.hash;
                let ev = match raw.parse() {
                    Ok(ev) => ev,
                    Err(e) => {
                        first_break = Some(ChainBreak {
                            seq,
                            reason: e.to_string(),
                        });
                        break;
                    }
                };
                if let Err(b) = check_link(prev_seq, &prev_hash, &ev) {
                    first_break = Some(b);
                    break;
                }
                if !text_ok {
                    first_break = Some(ChainBreak {
                        seq,
                        reason: "stored text does not match its hash (the event was edited)".into(),
                    });
                    break;
                }
                prev_seq = ev.seq;
                prev_hash = ev.hash;
                checked += 1;
            }
        }
        if first_break.is_none() && (head_seq != prev_seq || head_hash != prev_hash) {
            first_break = Some(ChainBreak {
                seq: prev_seq.min(head_seq) + 1,
                reason: format!(
                    "chain head says the last event is {head_seq} but the log ends at {prev_seq} (events were removed or added outside wavedeck)"
                ),
            });
        }
        Ok(ChainReport {
            checked,
            last_seq: prev_seq.max(head_seq),
            first_break,
        })
    }

    /// Recompute every database and wave state from the events and replace the derived
    /// tables, in one transaction. Returns the number of events folded.
    pub async fn rebuild_state(&self) -> Result<i64> {
        let mut cache = self.cache.lock().await;
        cache.take();
        let mut tx = self.begin_write().await?;
        let (head_seq, head_hash) = lock_head(&mut tx).await?;
        let mut derived = Derived::default();
        let mut last_seq_of: BTreeMap<String, i64> = BTreeMap::new();
        let mut n = 0i64;
        {
            let sql = format!("SELECT {EVENT_COLS} FROM events ORDER BY seq");
            let mut rows = sqlx::query(&sql).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.ctx("read events")? {
                let ev = RawEvent::from_row(&row)?.parse()?;
                if let Some(id) = &ev.db_id {
                    last_seq_of.insert(id.clone(), ev.seq);
                }
                apply(&mut derived, &ev);
                n += 1;
            }
        }
        for table in ["db_state", "db_spec", "wave_state"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .ctx("clear derived state")?;
        }
        let all_ids: BTreeSet<String> = derived.dbs.keys().cloned().collect();
        let waves = derived.waves.clone();
        write_dbs(&mut tx, &derived, &all_ids, &last_seq_of).await?;
        write_specs(&mut tx, &derived, &all_ids).await?;
        write_waves(&mut tx, &BTreeMap::new(), &waves).await?;
        tx.commit().await.ctx("commit rebuild")?;
        *cache = Some(StateCache {
            seq: head_seq,
            hash: head_hash,
            derived,
        });
        Ok(n)
    }
}

pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|e| {
        StoreError::Corrupt(format!(
            "a stored {col} is not readable ({e}); `wavedeck` can rebuild derived state from the events"
        ))
    })
}

/// Take the chain head's lock: a write to its row. First statement of every append, so that
/// appenders queue here (PostgreSQL row lock, SQLite write lock with busy timeout) before
/// reading the head, and the chain cannot fork.
pub(crate) async fn lock_head(tx: &mut Transaction<'_, Any>) -> Result<(i64, String)> {
    sqlx::query("UPDATE chain_head SET last_seq = last_seq WHERE id = 1")
        .execute(&mut **tx)
        .await
        .ctx("lock chain head")?;
    let row = sqlx::query("SELECT last_seq, last_hash FROM chain_head WHERE id = 1")
        .fetch_one(&mut **tx)
        .await
        .ctx("read chain head")?;
    Ok((get(&row, "last_seq")?, get(&row, "last_hash")?))
}

/// The body of `append`, usable inside a larger transaction (e.g. deciding a command).
///
/// `cached` is the derived state as of the previous append of this process; it is used only
/// if the chain head is still where it was left (no other writer appended since), otherwise
/// the derived tables are read in full. Returns the state to cache once the caller commits.
pub(crate) async fn append_in(
    tx: &mut Transaction<'_, Any>,
    batch: &[NewEvent],
    cached: Option<StateCache>,
    outbox: &super::outbox::RouterSlot,
) -> Result<(Vec<Event>, StateCache)> {
    let (mut seq, mut prev) = lock_head(tx).await?;
    let mut derived = match cached {
        Some(c) if c.seq == seq && c.hash == prev => c.derived,
        _ => load_derived(tx).await?,
    };
    let time = now();
    let time_text = fmt_time(time);
    let mut out = Vec::with_capacity(batch.len());
    let mut payloads = Vec::with_capacity(batch.len());
    for ne in batch {
        seq += 1;
        let payload_text = canonical_json(&ne.payload);
        let hash = event_hash_text(
            seq,
            &time_text,
            ne.db_id.as_deref(),
            ne.wave,
            &ne.kind,
            &payload_text,
            &ne.actor,
            &prev,
        );
        out.push(Event {
            seq,
            time,
            db_id: ne.db_id.clone(),
            wave: ne.wave,
            kind: ne.kind.clone(),
            payload: ne.payload.clone(),
            actor: ne.actor.clone(),
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
        payloads.push(payload_text);
    }
    for (chunk, texts) in row_chunks(&out).zip(row_chunks(&payloads)) {
        let sql = format!(
            "INSERT INTO events ({EVENT_COLS}) VALUES {}",
            values_placeholders(Backend::of(tx), chunk.len(), 9)
        );
        let mut q = sqlx::query(&sql);
        for (e, text) in chunk.iter().zip(texts) {
            q = q
                .bind(e.seq)
                .bind(time_text.as_str())
                .bind(e.db_id.as_deref())
                .bind(e.wave.map(i64::from))
                .bind(e.kind.as_str())
                .bind(text.as_str())
                .bind(e.actor.as_str())
                .bind(e.prev_hash.as_str())
                .bind(e.hash.as_str());
        }
        q.execute(&mut **tx).await.ctx("insert events")?;
    }
    update_derived(tx, &out, &mut derived).await?;
    super::outbox::insert_in(tx, outbox, &out).await?;
    let samples = super::lag::samples_of(&out);
    if !samples.is_empty() {
        super::lag::insert_samples(tx, &samples).await?;
    }
    sqlx::query("UPDATE chain_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(prev.clone())
        .execute(&mut **tx)
        .await
        .ctx("move chain head")?;
    let fresh = StateCache {
        seq,
        hash: prev,
        derived,
    };
    Ok((out, fresh))
}

/// Every derived row, read under the chain lock (a cache miss: first append of this process,
/// or another writer appended since).
async fn load_derived(tx: &mut AnyConnection) -> Result<Derived> {
    let mut d = Derived::default();
    let rows = sqlx::query("SELECT state FROM db_state")
        .fetch_all(&mut *tx)
        .await
        .ctx("read database states")?;
    for r in &rows {
        let st: DbState = decode_json(r, "state")?;
        d.dbs.insert(st.db_id.clone(), st);
    }
    let rows = sqlx::query("SELECT spec FROM db_spec")
        .fetch_all(&mut *tx)
        .await
        .ctx("read database specs")?;
    for r in &rows {
        let sp: DatabaseSpec = decode_json(r, "spec")?;
        d.specs.insert(sp.db_id.clone(), sp);
    }
    let rows = sqlx::query("SELECT state FROM wave_state")
        .fetch_all(&mut *tx)
        .await
        .ctx("read wave states")?;
    for r in &rows {
        let w: WaveState = decode_json(r, "state")?;
        d.waves.insert(w.wave, w);
    }
    Ok(d)
}

/// Fold a batch into `d` (the whole derived state) and write back the rows it touched.
async fn update_derived(
    tx: &mut Transaction<'_, Any>,
    events: &[Event],
    d: &mut Derived,
) -> Result<()> {
    let ids: BTreeSet<String> = events.iter().filter_map(|e| e.db_id.clone()).collect();
    let touches_specs = events.iter().any(|e| {
        matches!(
            e.kind.as_str(),
            kind::DB_REGISTERED | kind::DB_UPDATED | kind::DB_REMOVED
        )
    });
    let touches_waves =
        touches_specs || events.iter().any(|e| e.wave.is_some() && e.db_id.is_none());
    let waves_before = if touches_waves {
        d.waves.clone()
    } else {
        BTreeMap::new()
    };
    let mut last_seq_of: BTreeMap<String, i64> = BTreeMap::new();
    for e in events {
        if let Some(id) = &e.db_id {
            last_seq_of.insert(id.clone(), e.seq);
        }
        apply(d, e);
    }
    write_dbs(tx, d, &ids, &last_seq_of).await?;
    if touches_specs {
        write_specs(tx, d, &ids).await?;
    }
    if touches_waves {
        write_waves(tx, &waves_before, &d.waves).await?;
    }
    Ok(())
}

async fn delete_by_ids(tx: &mut AnyConnection, table: &str, ids: &[&String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for chunk in row_chunks(ids) {
        let sql = format!(
            "DELETE FROM {table} WHERE db_id IN ({})",
            list_placeholders(Backend::of(tx), 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        q.execute(&mut *tx).await.ctx("delete derived state")?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode state: {e}")))
}

/// Upsert the states of `ids` present in `d`, delete those absent (removed databases).
async fn write_dbs(
    tx: &mut AnyConnection,
    d: &Derived,
    ids: &BTreeSet<String>,
    last_seq_of: &BTreeMap<String, i64>,
) -> Result<()> {
    let present: Vec<&DbState> = ids.iter().filter_map(|id| d.dbs.get(id)).collect();
    for chunk in row_chunks(&present) {
        let sql = format!(
            "INSERT INTO db_state (db_id, wave, stage, updated_seq, state) VALUES {} \
             ON CONFLICT (db_id) DO UPDATE SET wave = excluded.wave, stage = excluded.stage, \
             updated_seq = excluded.updated_seq, state = excluded.state",
            values_placeholders(Backend::of(tx), chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for st in chunk {
            q = q
                .bind(st.db_id.as_str())
                .bind(st.wave.map(i64::from))
                .bind(st.stage.as_str())
                .bind(last_seq_of.get(&st.db_id).copied().unwrap_or(0))
                .bind(to_json(st)?);
        }
        q.execute(&mut *tx).await.ctx("write database states")?;
    }
    let gone: Vec<&String> = ids.iter().filter(|id| !d.dbs.contains_key(*id)).collect();
    delete_by_ids(tx, "db_state", &gone).await
}

async fn write_specs(tx: &mut AnyConnection, d: &Derived, ids: &BTreeSet<String>) -> Result<()> {
    let present: Vec<&DatabaseSpec> = ids.iter().filter_map(|id| d.specs.get(id)).collect();
    for chunk in row_chunks(&present) {
        let sql = format!(
            "INSERT INTO db_spec (db_id, spec) VALUES {} \
             ON CONFLICT (db_id) DO UPDATE SET spec = excluded.spec",
            values_placeholders(Backend::of(tx), chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for sp in chunk {
            q = q.bind(sp.db_id.as_str()).bind(to_json(sp)?);
        }
        q.execute(&mut *tx).await.ctx("write database specs")?;
    }
    let gone: Vec<&String> = ids.iter().filter(|id| !d.specs.contains_key(*id)).collect();
    delete_by_ids(tx, "db_spec", &gone).await
}

async fn write_waves(
    tx: &mut AnyConnection,
    before: &BTreeMap<u32, WaveState>,
    after: &BTreeMap<u32, WaveState>,
) -> Result<()> {
    for (w, st) in after {
        if before.get(w) == Some(st) {
            continue;
        }
        sqlx::query(
            "INSERT INTO wave_state (wave, state) VALUES ($1, $2) \
             ON CONFLICT (wave) DO UPDATE SET state = excluded.state",
        )
        .bind(i64::from(*w))
        .bind(to_json(st)?)
        .execute(&mut *tx)
        .await
        .ctx("write wave states")?;
    }
    Ok(())
}

impl Store {
    /// Give a notification up (see `outbox.rs`; here beside `append_in`, which the outbox
    /// rows are written by, so the two files do not import each other): its attempts and last error recorded, marked given up, and
    /// `event` (its `notify.given_up`) appended, all in one transaction, so a crash leaves
    /// either a notification still to post or one given up with its event, never one without
    /// the other. The event once: false (and nothing written) if it was no longer waiting.
    pub async fn outbox_give_up(
        &self,
        seq: i64,
        target: &str,
        attempts: u32,
        reason: &str,
        event: super::NewEvent,
    ) -> Result<bool> {
        let mut cache = self.cache.lock().await;
        let mut tx = self.begin_write().await?;
        let waiting = sqlx::query(
            "UPDATE notify_outbox SET attempts = $1, last_error = $2 \
             WHERE seq = $3 AND target = $4 AND sent_at IS NULL",
        )
        .bind(i64::from(attempts))
        .bind(reason)
        .bind(seq)
        .bind(target)
        .execute(&mut *tx)
        .await
        .ctx("record a notification given up")?
        .rows_affected()
            == 1;
        // Marked once: a second give-up of the same row writes no second event.
        let marked = waiting
            && sqlx::query(
                "INSERT INTO notify_given_up (seq, target, at, reason) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (seq, target) DO NOTHING",
            )
            .bind(seq)
            .bind(target)
            .bind(fmt_time(now()))
            .bind(reason)
            .execute(&mut *tx)
            .await
            .ctx("mark a notification given up")?
            .rows_affected()
                == 1;
        if !marked {
            return Ok(false);
        }
        let (_, fresh) = append_in(&mut tx, &[event], cache.take(), &self.outbox).await?;
        tx.commit().await.ctx("commit a notification given up")?;
        self.outbox.committed();
        *cache = Some(fresh);
        Ok(true)
    }
}
