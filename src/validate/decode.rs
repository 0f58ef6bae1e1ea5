//! Turning each engine's wire representation of a value into the canonical encoding.
//!
//! PostgreSQL rows arrive as a `COPY ... (FORMAT binary)` stream (the fastest way out of a
//! PostgreSQL backend: 1.5-1.6 M rows/s from one backend against 1.2 M for text COPY, measured on
//! PostgreSQL 15 on 2 vCPU; `wavedeck bench checksum` prints the figure); MySQL rows arrive through
//! the binary result protocol. Types without a decoder here are cast to text in the SELECT, so
//! every column is hashed: nothing is silently skipped.

use super::canon::{RowEncoder, PG_EPOCH_DAYS, PG_EPOCH_MICROS};
use chrono::{NaiveDate, NaiveDateTime};
use sqlx::mysql::MySqlRow;
use sqlx::{Column, Row};

/// How a PostgreSQL column is read and encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgKind {
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
    Text,
    Bpchar,
    Bytea,
    Timestamp,
    Timestamptz,
    Date,
    Time,
    Bool,
    Uuid,
    Json,
    Jsonb,
    /// Anything else: selected as `col::text`.
    AsText,
}

impl PgKind {
    /// From `pg_type.typname`.
    pub fn from_typname(t: &str) -> PgKind {
        match t {
            "int2" => PgKind::Int2,
            "int4" => PgKind::Int4,
            "int8" => PgKind::Int8,
            "numeric" => PgKind::Numeric,
            "float4" => PgKind::Float4,
            "float8" => PgKind::Float8,
            "text" | "varchar" | "name" | "citext" => PgKind::Text,
            "bpchar" => PgKind::Bpchar,
            "bytea" => PgKind::Bytea,
            "timestamp" => PgKind::Timestamp,
            "timestamptz" => PgKind::Timestamptz,
            "date" => PgKind::Date,
            "time" => PgKind::Time,
            "bool" => PgKind::Bool,
            "uuid" => PgKind::Uuid,
            "json" => PgKind::Json,
            "jsonb" => PgKind::Jsonb,
            _ => PgKind::AsText,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, PgKind::Int2 | PgKind::Int4 | PgKind::Int8)
    }

    /// The SELECT expression for a quoted column name.
    pub fn select_expr(self, quoted: &str) -> String {
        match self {
            PgKind::AsText => format!("{quoted}::text"),
            // citext/name are binary-compatible with text except citext; cast keeps it simple.
            PgKind::Text => format!("{quoted}::text"),
            _ => quoted.to_string(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("malformed {kind:?} value ({len} bytes) in the COPY stream")]
pub struct DecodeError {
    pub kind: PgKind,
    pub len: usize,
}

fn be<const N: usize>(b: &[u8], kind: PgKind) -> Result<[u8; N], DecodeError> {
    b.try_into().map_err(|_| DecodeError { kind, len: b.len() })
}

/// Encode one PostgreSQL binary value.
pub fn encode_pg(kind: PgKind, v: Option<&[u8]>, e: &mut RowEncoder) -> Result<(), DecodeError> {
    let Some(b) = v else {
        e.null();
        return Ok(());
    };
    match kind {
        PgKind::Int2 => e.int(i16::from_be_bytes(be(b, kind)?) as i128),
        PgKind::Int4 => e.int(i32::from_be_bytes(be(b, kind)?) as i128),
        PgKind::Int8 => e.int(i64::from_be_bytes(be(b, kind)?) as i128),
        PgKind::Float4 => e.float(f32::from_be_bytes(be(b, kind)?) as f64),
        PgKind::Float8 => e.float(f64::from_be_bytes(be(b, kind)?)),
        PgKind::Bool => e.int(if b.first().copied().unwrap_or(0) != 0 {
            1
        } else {
            0
        }),
        PgKind::Text | PgKind::AsText => e.text(b),
        PgKind::Bpchar => e.text(trim_trailing_spaces(b)),
        PgKind::Bytea => e.bytes(b),
        PgKind::Timestamp | PgKind::Timestamptz => {
            e.timestamp_micros(i64::from_be_bytes(be(b, kind)?).saturating_add(PG_EPOCH_MICROS))
        }
        PgKind::Date => e.date_days(i32::from_be_bytes(be(b, kind)?).saturating_add(PG_EPOCH_DAYS)),
        PgKind::Time => e.time_micros(i64::from_be_bytes(be(b, kind)?)),
        PgKind::Uuid => {
            let raw: [u8; 16] = be(b, kind)?;
            e.text(&uuid_text(&raw));
        }
        // `json` keeps the text it was given (spaces, key order, duplicate keys): so must the copy.
        PgKind::Json => e.text(b),
        PgKind::Jsonb => e.json_text(b.get(1..).unwrap_or_default()),
        PgKind::Numeric => encode_pg_numeric(b, e).ok_or(DecodeError { kind, len: b.len() })?,
    }
    Ok(())
}

/// MySQL strips trailing spaces of CHAR(n) on read; PostgreSQL's bpchar keeps them. Equal
/// CHAR values must hash equal, so both are compared without the padding.
fn trim_trailing_spaces(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && b[end - 1] == b' ' {
        end -= 1;
    }
    &b[..end]
}

fn uuid_text(raw: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut o = 0;
    for (i, byte) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            o += 1;
        }
        out[o] = HEX[(byte >> 4) as usize];
        out[o + 1] = HEX[(byte & 15) as usize];
        o += 2;
    }
    out
}

/// The base-10000 digits of a binary numeric, read in place.
struct DigitsView<'a> {
    b: &'a [u8],
}

impl DigitsView<'_> {
    fn get(&self, i: usize) -> Option<u16> {
        self.b
            .get(2 * i..2 * i + 2)
            .map(|x| u16::from_be_bytes([x[0], x[1]]))
    }
    fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.b
            .chunks_exact(2)
            .map(|x| u16::from_be_bytes([x[0], x[1]]))
    }
}

/// PostgreSQL binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
fn encode_pg_numeric(b: &[u8], e: &mut RowEncoder) -> Option<()> {
    let rd =
        |i: usize| -> Option<u16> { Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?)) };
    let ndigits = rd(0)? as usize;
    let weight = rd(2)? as i16 as i32;
    let sign = rd(4)?;
    let dscale = rd(6)? as usize;
    match sign {
        0xC000 => {
            e.decimal_str(b"NaN");
            return Some(());
        }
        0xD000 => {
            e.decimal_str(b"Infinity");
            return Some(());
        }
        0xF000 => {
            e.decimal_str(b"-Infinity");
            return Some(());
        }
        _ => {}
    }
    if b.len() < 8 + 2 * ndigits {
        return None;
    }
    let digits = DigitsView {
        b: &b[8..8 + 2 * ndigits],
    };
    let neg = sign == 0x4000;
    // Fast path: integral values up to 10^32 go straight to an integer (not when a strict
    // scale says `12.00` is not `12`).
    let integral = !e.strict_scale || dscale == 0;
    if ndigits == 0 && integral {
        e.int(0);
        return Some(());
    }
    if integral && weight >= 0 && (ndigits as i32) <= weight + 1 && weight < 8 {
        let mut v: i128 = 0;
        for i in 0..=weight as usize {
            v = v * 10_000 + digits.get(i).unwrap_or(0) as i128;
        }
        e.int(if neg { -v } else { v });
        return Some(());
    }
    // Digits as ASCII: integer groups 0..=weight, then fraction groups, 4 digits each.
    let mut digs = std::mem::take(&mut e.scratch);
    digs.clear();
    let push_group = |digs: &mut Vec<u8>, d: u16| {
        digs.extend_from_slice(&[
            b'0' + (d / 1000 % 10) as u8,
            b'0' + (d / 100 % 10) as u8,
            b'0' + (d / 10 % 10) as u8,
            b'0' + (d % 10) as u8,
        ]);
    };
    if weight >= 0 {
        for i in 0..=weight as usize {
            push_group(&mut digs, digits.get(i).unwrap_or(0));
        }
    }
    let int_len = digs.len();
    for _ in 0..(-(weight + 1)).max(0) {
        push_group(&mut digs, 0);
    }
    let first_frac = (weight + 1).max(0) as usize;
    for d in digits.iter().skip(first_frac) {
        push_group(&mut digs, d);
    }
    if e.strict_scale {
        // The groups hold whole 4-digit runs; the value's scale is `dscale` digits.
        digs.resize(int_len + dscale, b'0');
    }
    let (int_part, frac_part) = digs.split_at(int_len);
    e.decimal_digits(neg, int_part, frac_part);
    e.scratch = digs;
    Some(())
}

/// How a MySQL/MariaDB column is read and encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MyKind {
    Int,
    UInt,
    Decimal,
    Float,
    Double,
    Text,
    Bytes,
    DateTime,
    Date,
    /// TIME can exceed 24 h, so it is read as text and parsed.
    Time,
    Json,
    /// BIT and YEAR: selected as integers.
    CastUnsigned,
    /// Anything else: selected as `CAST(col AS CHAR)`.
    AsText,
}

impl MyKind {
    /// From `information_schema.columns` DATA_TYPE and COLUMN_TYPE.
    pub fn from_types(data_type: &str, column_type: &str) -> MyKind {
        let unsigned = column_type.to_ascii_lowercase().contains("unsigned");
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
                if unsigned {
                    MyKind::UInt
                } else {
                    MyKind::Int
                }
            }
            "decimal" | "numeric" => MyKind::Decimal,
            "float" => MyKind::Float,
            "double" | "real" => MyKind::Double,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum"
            | "set" => MyKind::Text,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                MyKind::Bytes
            }
            "datetime" | "timestamp" => MyKind::DateTime,
            "date" => MyKind::Date,
            "time" => MyKind::Time,
            "json" => MyKind::Json,
            "bit" | "year" => MyKind::CastUnsigned,
            _ => MyKind::AsText,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, MyKind::Int | MyKind::UInt)
    }

    pub fn select_expr(self, quoted: &str) -> String {
        match self {
            MyKind::Time | MyKind::Json | MyKind::AsText => format!("CAST({quoted} AS CHAR)"),
            MyKind::CastUnsigned => format!("CAST({quoted} AS UNSIGNED)"),
            _ => quoted.to_string(),
        }
    }
}

/// Encode column `i` of a MySQL row read through a prepared statement (binary protocol, as
/// `scan::read_my` reads). The value's bytes are decoded here rather than through sqlx's typed
/// `Decode`, so that a zero or impossible date gets an error that names it (sqlx's says
/// "unexpected null"). The wire forms are the binary protocol's: little-endian integers and
/// floats of the column's width; dates and times as a length byte and their fields.
pub fn encode_my(
    kind: MyKind,
    row: &MySqlRow,
    i: usize,
    e: &mut RowEncoder,
) -> Result<(), sqlx::Error> {
    // Not `Option<&[u8]>`: sqlx's `is_null` takes a zero date for NULL, and a zero date must
    // stay an error here (see `my_date_time`). The bytes' decode fails only on a real NULL.
    let raw = row.try_get_raw(i)?;
    let Ok(v) = <&[u8] as sqlx::Decode<sqlx::MySql>>::decode(raw) else {
        e.null();
        return Ok(());
    };
    // The column by name: "decoding column 1" sends the operator counting.
    let bad = |what: String| sqlx::Error::ColumnDecode {
        index: format!("{:?}", row.columns()[i].name()),
        source: what.into(),
    };
    match kind {
        MyKind::Int => e.int(my_int(v, true).ok_or_else(|| bad(width("an integer", v)))?),
        MyKind::UInt | MyKind::CastUnsigned => {
            e.int(my_int(v, false).ok_or_else(|| bad(width("an integer", v)))?)
        }
        // FLOAT may arrive as 8 bytes; MySQL itself then takes it as a float, so does sqlx.
        MyKind::Float => e.float(
            match v.len() {
                8 => my_double(v).map(|d| d as f32 as f64),
                _ => my_double(v),
            }
            .ok_or_else(|| bad(width("a FLOAT", v)))?,
        ),
        MyKind::Double => e.float(my_double(v).ok_or_else(|| bad(width("a DOUBLE", v)))?),
        MyKind::Decimal => e.decimal_str(v),
        MyKind::Text | MyKind::AsText => e.text(v),
        MyKind::Bytes => e.bytes(v),
        MyKind::Json => e.json_text(v),
        MyKind::DateTime => e.timestamp_micros(my_datetime_micros(v).map_err(bad)?),
        MyKind::Date => e.date_days(my_date_days(v).map_err(bad)?),
        MyKind::Time => match parse_time_micros(&String::from_utf8_lossy(v)) {
            Some(us) => e.time_micros(us),
            None => e.text(v),
        },
    }
    Ok(())
}

fn width(what: &str, v: &[u8]) -> String {
    format!(
        "expected {what} in the binary protocol, got {} bytes",
        v.len()
    )
}

/// A binary-protocol integer: 1, 2, 4 or 8 little-endian bytes (the column's width).
pub fn my_int(v: &[u8], signed: bool) -> Option<i128> {
    let n = v.len();
    if !matches!(n, 1 | 2 | 4 | 8) {
        return None;
    }
    let mut a = [0u8; 8];
    a[..n].copy_from_slice(v);
    let u = u64::from_le_bytes(a);
    let shift = 64 - 8 * n as u32;
    Some(match signed {
        true => (((u << shift) as i64) >> shift).into(),
        false => u.into(),
    })
}

/// A binary-protocol FLOAT (4 bytes, widened) or DOUBLE (8).
pub fn my_double(v: &[u8]) -> Option<f64> {
    match v.len() {
        4 => Some(f32::from_le_bytes(v.try_into().ok()?) as f64),
        8 => Some(f64::from_le_bytes(v.try_into().ok()?)),
        _ => None,
    }
}

/// A binary-protocol DATE: its length byte, then year (2 bytes LE), month and day.
pub fn my_date_days(v: &[u8]) -> Result<i32, String> {
    Ok(my_date_time(v)?.0.to_epoch_days())
}

/// A binary-protocol DATETIME or TIMESTAMP: the DATE's fields, then hour, minute and second
/// when the length byte is 7 or more, then microseconds (4 bytes LE) when it is 11.
pub fn my_datetime_micros(v: &[u8]) -> Result<i64, String> {
    let (date, us) = my_date_time(v)?;
    Ok(i64::from(date.to_epoch_days()) * 86_400_000_000 + us)
}

/// The date and the microseconds into its day, every field checked (a zero or impossible date
/// is an error, never a nearby day).
fn my_date_time(v: &[u8]) -> Result<(NaiveDate, i64), String> {
    let len = usize::from(*v.first().ok_or("an empty date value")?);
    let f = v
        .get(1..1 + len)
        .filter(|_| v.len() == 1 + len && matches!(len, 0 | 4 | 7 | 11))
        .ok_or_else(|| format!("a date value of {} bytes (length byte {len})", v.len()))?;
    if len == 0 {
        return Err(
            "the zero date 0000-00-00 (no instant to compare; set it to NULL or a real date)"
                .into(),
        );
    }
    let (y, m, d) = (u16::from_le_bytes([f[0], f[1]]), f[2], f[3]);
    let date = NaiveDate::from_ymd_opt(y.into(), m.into(), d.into())
        .ok_or_else(|| format!("an impossible date {y:04}-{m:02}-{d:02}"))?;
    let (h, mi, s) = if len >= 7 {
        (f[4], f[5], f[6])
    } else {
        (0, 0, 0)
    };
    let us = if len == 11 {
        u32::from_le_bytes([f[7], f[8], f[9], f[10]])
    } else {
        0
    };
    if h > 23 || mi > 59 || s > 59 || us > 999_999 {
        return Err(format!("an impossible time {h:02}:{mi:02}:{s:02}.{us:06}"));
    }
    let secs = (i64::from(h) * 60 + i64::from(mi)) * 60 + i64::from(s);
    Ok((date, secs * 1_000_000 + i64::from(us)))
}

/// Wall-clock values are taken as UTC: sessions run with time zone UTC on both engines, so a
/// MySQL TIMESTAMP and a PostgreSQL timestamptz holding the same instant agree, and so do a
/// DATETIME and a `timestamp without time zone` holding the same wall time.
pub fn datetime_micros(v: NaiveDateTime) -> i64 {
    v.and_utc().timestamp_micros()
}

/// `[-]HHH:MM:SS[.ffffff]` -> microseconds.
pub fn parse_time_micros(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = hms.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: i64 = parts.next()?.parse().ok()?;
    let mut us: i64 = 0;
    if !frac.is_empty() {
        let f = format!("{frac:0<6}");
        us = f.get(..6)?.parse().ok()?;
    }
    let total = ((h * 60 + m) * 60 + sec) * 1_000_000 + us;
    Some(if neg { -total } else { total })
}

/// Render a canonical encoding for people (keys in reports, smoke-test values).
pub fn display_canonical(mut b: &[u8]) -> String {
    use super::canon::*;
    let mut parts = Vec::new();
    while let Some((&tag, rest)) = b.split_first() {
        b = rest;
        let take = |b: &mut &[u8], n: usize| -> Option<Vec<u8>> {
            let v = b.get(..n)?.to_vec();
            *b = &b[n..];
            Some(v)
        };
        let part = match tag {
            TAG_NULL => Some("NULL".to_string()),
            TAG_INT => take(&mut b, 16)
                .and_then(|v| v.try_into().ok())
                .map(|a: [u8; 16]| i128::from_be_bytes(a).to_string()),
            TAG_INT64 => take(&mut b, 8)
                .and_then(|v| v.try_into().ok())
                .map(|a: [u8; 8]| i64::from_be_bytes(a).to_string()),
            TAG_FLOAT => take(&mut b, 8)
                .and_then(|v| v.try_into().ok())
                .map(|a: [u8; 8]| f64::from_bits(u64::from_be_bytes(a)).to_string()),
            TAG_TS => take(&mut b, 8)
                .and_then(|v| v.try_into().ok())
                .map(|a: [u8; 8]| {
                    let us = i64::from_be_bytes(a);
                    chrono::DateTime::from_timestamp_micros(us)
                        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                        .unwrap_or_else(|| us.to_string())
                }),
            TAG_DATE => take(&mut b, 4)
                .and_then(|v| v.try_into().ok())
                .map(|a: [u8; 4]| {
                    let d = i32::from_be_bytes(a);
                    NaiveDate::from_ymd_opt(1970, 1, 1)
                        .and_then(|e| e.checked_add_signed(chrono::Duration::days(d as i64)))
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| d.to_string())
                }),
            TAG_TIME => take(&mut b, 8)
                .and_then(|v| v.try_into().ok())
                .map(|a: [u8; 8]| format!("{}us", i64::from_be_bytes(a))),
            TAG_DEC | TAG_TEXT | TAG_BYTES | TAG_JSON => take(&mut b, 4)
                .and_then(|v| v.try_into().ok())
                .and_then(|a: [u8; 4]| take(&mut b, u32::from_be_bytes(a) as usize))
                .map(|v| match tag {
                    TAG_BYTES => format!("\\x{}", hex::encode(v)),
                    TAG_TEXT => format!("'{}'", String::from_utf8_lossy(&v)),
                    _ => String::from_utf8_lossy(&v).into_owned(),
                }),
            _ => None,
        };
        match part {
            Some(p) => parts.push(p),
            None => {
                parts.push("?".into());
                break;
            }
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary form of a DATETIME(6) as the server sends it.
    fn my_dt(y: u16, m: u8, d: u8, h: u8, mi: u8, s: u8, us: u32) -> Vec<u8> {
        let mut v = vec![11];
        v.extend_from_slice(&y.to_le_bytes());
        v.extend_from_slice(&[m, d, h, mi, s]);
        v.extend_from_slice(&us.to_le_bytes());
        v
    }

    #[test]
    fn binary_dates_agree_with_chrono_over_mysqls_whole_range() {
        let mut day = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        while day <= last {
            use chrono::Datelike;
            let (y, m, d) = (day.year() as u16, day.month() as u8, day.day() as u8);
            let mut v = vec![4];
            v.extend_from_slice(&y.to_le_bytes());
            v.extend_from_slice(&[m, d]);
            assert_eq!(
                my_date_days(&v),
                Ok((day - epoch).num_days() as i32),
                "{day}"
            );
            let dt = day.and_hms_micro_opt(23, 59, 58, 999_999).unwrap();
            let b = my_dt(y, m, d, 23, 59, 58, 999_999);
            assert_eq!(my_datetime_micros(&b), Ok(datetime_micros(dt)), "{dt}");
            day = day.succ_opt().unwrap();
        }
        // The short forms: midnight (4 bytes) and whole seconds (7).
        let mut v = vec![7];
        v.extend_from_slice(&2024u16.to_le_bytes());
        v.extend_from_slice(&[2, 29, 1, 2, 3]);
        let want = NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_opt(1, 2, 3)
            .unwrap();
        assert_eq!(my_datetime_micros(&v), Ok(datetime_micros(want)));
        let mut midnight = vec![4];
        midnight.extend_from_slice(&v[1..5]);
        let want = want.date().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(my_datetime_micros(&midnight), Ok(datetime_micros(want)));
    }

    #[test]
    fn impossible_and_zero_binary_dates_are_errors_not_nearby_days() {
        // ALLOW_INVALID_DATES lets MySQL keep 2023-02-29; it must not hash as March 1st.
        assert!(my_datetime_micros(&my_dt(2023, 2, 29, 0, 0, 0, 0))
            .unwrap_err()
            .contains("impossible date 2023-02-29"));
        assert!(my_datetime_micros(&my_dt(2024, 13, 1, 0, 0, 0, 0)).is_err());
        assert!(my_datetime_micros(&my_dt(2024, 1, 0, 0, 0, 0, 0)).is_err());
        assert!(my_datetime_micros(&my_dt(2024, 1, 1, 24, 0, 0, 0))
            .unwrap_err()
            .contains("impossible time"));
        assert!(my_datetime_micros(&my_dt(2024, 1, 1, 0, 0, 0, 1_000_000)).is_err());
        assert!(my_date_days(&[0]).unwrap_err().contains("zero date"));
        assert!(my_date_days(&[]).is_err());
        // A length byte that does not match the bytes is a protocol error, not a panic.
        assert!(my_datetime_micros(&[11, 1, 2]).is_err());
        assert!(my_datetime_micros(&[5, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn binary_integers_take_their_columns_width_and_sign() {
        assert_eq!(my_int(&[0xff], true), Some(-1));
        assert_eq!(my_int(&[0xff], false), Some(255));
        assert_eq!(my_int(&(-300i16).to_le_bytes(), true), Some(-300));
        assert_eq!(
            my_int(&(-8_388_608i32).to_le_bytes(), true),
            Some(-8_388_608)
        );
        assert_eq!(my_int(&i64::MIN.to_le_bytes(), true), Some(i64::MIN.into()));
        assert_eq!(
            my_int(&u64::MAX.to_le_bytes(), false),
            Some(u64::MAX.into())
        );
        assert_eq!(my_int(&[1, 2, 3], true), None);
        assert_eq!(my_int(&[], false), None);
        assert_eq!(my_double(&0.1f32.to_le_bytes()), Some(0.1f32 as f64));
        assert_eq!(my_double(&(-2.5f64).to_le_bytes()), Some(-2.5));
        assert_eq!(my_double(&[0; 3]), None);
    }

    fn pg(kind: PgKind, v: Option<&[u8]>) -> Vec<u8> {
        let mut e = RowEncoder::new();
        encode_pg(kind, v, &mut e).unwrap();
        e.buf
    }

    fn pg_numeric(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(digits.len() as u16).to_be_bytes());
        b.extend_from_slice(&weight.to_be_bytes());
        b.extend_from_slice(&sign.to_be_bytes());
        b.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    /// The cross-engine contract: PostgreSQL's binary wire values and MySQL's decoded values of
    /// the same data produce the same canonical bytes, hence the same SHA-256.
    #[test]
    fn postgres_and_mysql_representations_of_equal_values_hash_equal() {
        let mut e = RowEncoder::new();
        // numeric(12,2) 1234.50 (PG: weight 0, digits [1234, 5000]) vs MySQL DECIMAL text "1234.50"
        let n = pg_numeric(0, 0, 2, &[1234, 5000]);
        assert_eq!(pg(PgKind::Numeric, Some(&n)), {
            e.clear();
            e.decimal_str(b"1234.50");
            e.buf.clone()
        });
        // numeric 0.0001 (weight -1, digits [1]) vs "0.000100"
        let n = pg_numeric(-1, 0, 4, &[1]);
        assert_eq!(pg(PgKind::Numeric, Some(&n)), {
            e.clear();
            e.decimal_str(b"0.000100");
            e.buf.clone()
        });
        // numeric -20000 (weight 1, digits [2]) vs BIGINT -20000
        let n = pg_numeric(1, 0x4000, 0, &[2]);
        assert_eq!(pg(PgKind::Numeric, Some(&n)), {
            e.clear();
            e.int(-20000);
            e.buf.clone()
        });
        // int4 42 vs MySQL INT 42 (decoded as i64)
        assert_eq!(pg(PgKind::Int4, Some(&42i32.to_be_bytes())), {
            e.clear();
            e.int(42i64 as i128);
            e.buf.clone()
        });
        // bool true vs tinyint(1) 1
        assert_eq!(pg(PgKind::Bool, Some(&[1])), {
            e.clear();
            e.int(1);
            e.buf.clone()
        });
        // timestamptz 2024-03-01 12:34:56.789012Z vs MySQL DATETIME(6) read in a UTC session
        let dt = NaiveDate::from_ymd_opt(2024, 3, 1)
            .unwrap()
            .and_hms_micro_opt(12, 34, 56, 789_012)
            .unwrap();
        let pg_us = datetime_micros(dt) - PG_EPOCH_MICROS;
        assert_eq!(pg(PgKind::Timestamptz, Some(&pg_us.to_be_bytes())), {
            e.clear();
            e.timestamp_micros(datetime_micros(dt));
            e.buf.clone()
        });
        // date
        let d = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
        let pg_days = d.to_epoch_days() - PG_EPOCH_DAYS;
        assert_eq!(pg(PgKind::Date, Some(&pg_days.to_be_bytes())), {
            e.clear();
            e.date_days(d.to_epoch_days());
            e.buf.clone()
        });
        // time 25:00:01.5 is impossible in PG; 13:00:01.5 vs MySQL TIME text
        let t_us: i64 = (13 * 3600 + 1) * 1_000_000 + 500_000;
        assert_eq!(pg(PgKind::Time, Some(&t_us.to_be_bytes())), {
            e.clear();
            e.time_micros(parse_time_micros("13:00:01.500000").unwrap());
            e.buf.clone()
        });
        // float4 0.1 vs MySQL FLOAT 0.1 (f32 widened on both sides)
        assert_eq!(pg(PgKind::Float4, Some(&0.1f32.to_be_bytes())), {
            e.clear();
            e.float(0.1f32 as f64);
            e.buf.clone()
        });
        // CHAR(5) 'ab   ' (PG keeps padding) vs MySQL CHAR(5) 'ab' (stripped on read)
        assert_eq!(pg(PgKind::Bpchar, Some(b"ab   ")), {
            e.clear();
            e.text(b"ab");
            e.buf.clone()
        });
        // uuid vs CHAR(36)
        let raw = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40, 0x00,
        ];
        assert_eq!(pg(PgKind::Uuid, Some(&raw)), {
            e.clear();
            e.text(b"123e4567-e89b-12d3-a456-426614174000");
            e.buf.clone()
        });
        // jsonb (version byte) vs MySQL JSON text with other key order
        assert_eq!(pg(PgKind::Jsonb, Some(b"\x01{\"a\": 1, \"b\": [true]}")), {
            e.clear();
            e.json_text(br#"{"b":[true],"a":1}"#);
            e.buf.clone()
        });
        // NULL vs '' differ on both engines
        assert_ne!(pg(PgKind::Text, None), pg(PgKind::Text, Some(b"")));
    }

    #[test]
    fn strict_scale_keeps_the_numeric_scale() {
        let show = |strict: bool, n: Vec<u8>| {
            let mut e = RowEncoder::with_strict_scale(strict);
            encode_pg(PgKind::Numeric, Some(&n), &mut e).unwrap();
            display_canonical(&e.buf)
        };
        // 1.50 (dscale 2) and 1.5 (dscale 1): equal by value, not under a strict scale
        let a = || pg_numeric(0, 0, 2, &[1, 5000]);
        let b = || pg_numeric(0, 0, 1, &[1, 5000]);
        assert_eq!(show(false, a()), show(false, b()));
        assert_eq!(
            (show(true, a()), show(true, b())),
            ("1.50".into(), "1.5".into())
        );
        // 12.00 stored as the single group 12, and zero with a scale
        assert_eq!(show(true, pg_numeric(0, 0, 2, &[12])), "12.00");
        assert_eq!(show(false, pg_numeric(0, 0, 2, &[12])), "12");
        assert_eq!(show(true, pg_numeric(0, 0, 3, &[])), "0.000");
        assert_eq!(show(true, pg_numeric(0, 0, 0, &[12])), "12");
        // the same rule for MySQL's DECIMAL text
        let my = |strict: bool, t: &str| {
            let mut e = RowEncoder::with_strict_scale(strict);
            e.decimal_str(t.as_bytes());
            display_canonical(&e.buf)
        };
        assert_eq!(my(true, "1.50"), "1.50");
        assert_eq!(my(true, "-0.00"), "0.00");
        assert_eq!(my(false, "1.50"), "1.5");
    }

    #[test]
    fn json_keeps_its_text_and_jsonb_its_value() {
        // `json` is compared as the text it stores; `jsonb` by value, numbers exactly
        assert_ne!(
            pg(PgKind::Json, Some(br#"{"a":1,"b":2}"#)),
            pg(PgKind::Json, Some(br#"{"b":2,"a":1}"#))
        );
        assert_eq!(
            pg(PgKind::Jsonb, Some(b"\x01{\"a\": 1818}")),
            pg(PgKind::Jsonb, Some(b"\x01{\"a\": 1818.0}"))
        );
        assert_ne!(
            pg(PgKind::Jsonb, Some(b"\x01{\"a\": 12345678901234567890123}")),
            pg(PgKind::Jsonb, Some(b"\x01{\"a\": 12345678901234567890124}"))
        );
    }

    #[test]
    fn numeric_decoding_covers_weights_and_specials() {
        let show = |b: Vec<u8>| display_canonical(&b);
        assert_eq!(
            show(pg(PgKind::Numeric, Some(&pg_numeric(2, 0, 0, &[1, 2, 3])))),
            "100020003"
        );
        assert_eq!(
            show(pg(
                PgKind::Numeric,
                Some(&pg_numeric(0, 0x4000, 3, &[7, 1230]))
            )),
            "-7.123"
        );
        assert_eq!(
            show(pg(PgKind::Numeric, Some(&pg_numeric(-2, 0, 8, &[5])))),
            "0.00000005"
        );
        assert_eq!(
            show(pg(PgKind::Numeric, Some(&pg_numeric(0, 0xC000, 0, &[])))),
            "NaN"
        );
        assert!(encode_pg(PgKind::Numeric, Some(&[0, 1]), &mut RowEncoder::new()).is_err());
        assert!(encode_pg(PgKind::Int8, Some(&[0, 1]), &mut RowEncoder::new()).is_err());
    }

    /// PostgreSQL's binary numeric for a decimal given as digits (what the server would send).
    fn pg_numeric_from(neg: bool, int: &str, frac: &str) -> Vec<u8> {
        let int = int.trim_start_matches('0');
        let pad_int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
        let pad_frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
        let mut groups: Vec<u16> = pad_int
            .as_bytes()
            .chunks(4)
            .chain(pad_frac.as_bytes().chunks(4))
            .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
            .collect();
        let mut weight = (pad_int.len() / 4) as i16 - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        pg_numeric(
            weight,
            if neg { 0x4000 } else { 0 },
            frac.len() as u16,
            &groups,
        )
    }

    proptest::proptest! {
        #[test]
        fn pg_numeric_equals_mysql_decimal_text(neg: bool, int in "[0-9]{0,40}", frac in "[0-9]{0,30}") {
            let text = format!("{}{}{}{}", if neg { "-" } else { "" }, if int.is_empty() { "0" } else { &int }, if frac.is_empty() { "" } else { "." }, frac);
            let mut e = RowEncoder::new();
            e.decimal_str(text.as_bytes());
            let bin = pg_numeric_from(neg, &int, &frac);
            proptest::prop_assert_eq!(pg(PgKind::Numeric, Some(&bin)), e.buf, "{}", text);
        }
    }

    #[test]
    fn time_text_parses_beyond_a_day() {
        assert_eq!(
            parse_time_micros("-838:59:59"),
            Some(-(838 * 3600 + 59 * 60 + 59) * 1_000_000)
        );
        assert_eq!(parse_time_micros("00:00:00.5"), Some(500_000));
        assert_eq!(parse_time_micros("x"), None);
    }
}
