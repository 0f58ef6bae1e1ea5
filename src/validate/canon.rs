//! Canonical row encoding: the single definition of "equal" across PostgreSQL and MySQL.
//!
//! Every value is written as a type tag plus a fixed-width or length-prefixed payload, so the
//! encoding is injective (no separators that text could imitate, NULL is its own tag and never
//! looks like `''` or `'<null>'`). Values that are equal across engines are written identically:
//! integers and integral decimals as big-endian integers (8 bytes when they fit 64 bits, else
//! 16), other decimals as a normalised digit string, floats as IEEE-754 double bits (float4
//! widened), timestamps as UTC microseconds since the Unix epoch (the information of a UTC
//! ISO-8601 string at µs precision), dates as days since the epoch, text as its UTF-8 bytes,
//! JSON by value (`canon_json`). With `strict_scale` a decimal also keeps its scale (`1.50` is
//! not `1.5`).
//!
//! A row hashes to SHA-256 of its encoding; a chunk is (count, Σ row hashes mod 2²⁵⁶), which is
//! order-independent (each side may scan in its own order) and, unlike XOR, keeps duplicates.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const TAG_NULL: u8 = 0;
pub const TAG_INT: u8 = 1;
pub const TAG_DEC: u8 = 2;
pub const TAG_FLOAT: u8 = 3;
pub const TAG_TEXT: u8 = 4;
pub const TAG_BYTES: u8 = 5;
pub const TAG_TS: u8 = 6;
pub const TAG_DATE: u8 = 7;
pub const TAG_TIME: u8 = 8;
pub const TAG_JSON: u8 = 9;
/// An integer that fits 64 bits, in 8 bytes; `TAG_INT` holds the rest in 16. Every value has
/// one of the two forms only, so the encoding stays injective, and a row of integers spans
/// fewer SHA-256 blocks (64 bytes each): the bench's `orders` row is 2 blocks instead of 3.
pub const TAG_INT64: u8 = 10;

/// The version of this encoding. Kept chunk digests (`resume::fingerprint`) made under another
/// version are read again rather than trusted.
pub const ENCODING: &str = "wavedeck-canon/2";

/// Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_DAYS: i32 = 10_957;

/// Builds the canonical bytes of one row (or one key) and hashes them.
#[derive(Default)]
pub struct RowEncoder {
    pub buf: Vec<u8>,
    /// Reused digit buffer for decimals (no allocation per value on the hot path).
    pub scratch: Vec<u8>,
    /// `validation.strict_numeric_scale`: trailing fraction zeros count.
    pub strict_scale: bool,
}

impl RowEncoder {
    pub fn new() -> Self {
        RowEncoder {
            buf: Vec::with_capacity(256),
            scratch: Vec::with_capacity(64),
            strict_scale: false,
        }
    }
    pub fn with_strict_scale(strict_scale: bool) -> Self {
        RowEncoder {
            strict_scale,
            ..Self::new()
        }
    }
    pub fn clear(&mut self) {
        self.buf.clear();
    }
    pub fn null(&mut self) {
        self.buf.push(TAG_NULL);
    }
    pub fn int(&mut self, v: i128) {
        match i64::try_from(v) {
            Ok(small) => {
                self.buf.push(TAG_INT64);
                self.buf.extend_from_slice(&small.to_be_bytes());
            }
            Err(_) => {
                self.buf.push(TAG_INT);
                self.buf.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    pub fn float(&mut self, v: f64) {
        // One NaN, so engines that produce different NaN payloads still agree.
        let bits = if v.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            v.to_bits()
        };
        self.buf.push(TAG_FLOAT);
        self.buf.extend_from_slice(&bits.to_be_bytes());
    }
    fn var(&mut self, tag: u8, bytes: &[u8]) {
        self.buf.push(tag);
        self.buf
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }
    pub fn text(&mut self, v: &[u8]) {
        self.var(TAG_TEXT, v);
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.var(TAG_BYTES, v);
    }
    pub fn timestamp_micros(&mut self, utc_micros: i64) {
        self.buf.push(TAG_TS);
        self.buf.extend_from_slice(&utc_micros.to_be_bytes());
    }
    pub fn date_days(&mut self, days_since_1970: i32) {
        self.buf.push(TAG_DATE);
        self.buf.extend_from_slice(&days_since_1970.to_be_bytes());
    }
    pub fn time_micros(&mut self, micros: i64) {
        self.buf.push(TAG_TIME);
        self.buf.extend_from_slice(&micros.to_be_bytes());
    }
    /// A decimal given as ASCII text (`-001.500`; exponent forms are not produced by the
    /// engines), taken as bytes because MySQL sends it so and a UTF-8 check per value costs.
    /// Integral values become integers so `numeric(10,0)` and `bigint` agree.
    pub fn decimal_str(&mut self, s: &[u8]) {
        let t = s.trim_ascii();
        let (neg, body) = match t.strip_prefix(b"-") {
            Some(r) => (true, r),
            None => (false, t.strip_prefix(b"+").unwrap_or(t)),
        };
        let (int_part, frac_part) = match body.iter().position(|&b| b == b'.') {
            Some(dot) => (&body[..dot], &body[dot + 1..]),
            None => (body, &b""[..]),
        };
        let digits_ok = !body.is_empty()
            && int_part.iter().all(u8::is_ascii_digit)
            && frac_part.iter().all(u8::is_ascii_digit);
        if digits_ok {
            self.decimal_digits(neg, int_part, frac_part);
        } else {
            // NaN, Infinity: kept verbatim so they still equal themselves.
            self.var(TAG_DEC, t);
        }
    }
    /// A decimal from its ASCII digits: leading zeros of the integer part and (unless
    /// `strict_scale`) trailing zeros of the fraction do not count; `-0` is `0`.
    pub fn decimal_digits(&mut self, neg: bool, int_digits: &[u8], frac_digits: &[u8]) {
        let lead = int_digits.iter().take_while(|&&b| b == b'0').count();
        let int = &int_digits[lead..];
        let trail = if self.strict_scale {
            0
        } else {
            frac_digits.iter().rev().take_while(|&&b| b == b'0').count()
        };
        let frac = &frac_digits[..frac_digits.len() - trail];
        let neg = neg && !(int.is_empty() && frac.iter().all(|&d| d == b'0'));
        if frac.is_empty() {
            if int.is_empty() {
                return self.int(0);
            }
            if int.len() <= 38 {
                let v = int.iter().fold(0i128, |a, &d| a * 10 + (d - b'0') as i128);
                return self.int(if neg { -v } else { v });
            }
        }
        let int: &[u8] = if int.is_empty() && !frac.is_empty() {
            b"0"
        } else {
            int
        };
        let len = usize::from(neg) + int.len() + if frac.is_empty() { 0 } else { 1 + frac.len() };
        self.buf.push(TAG_DEC);
        self.buf.extend_from_slice(&(len as u32).to_be_bytes());
        if neg {
            self.buf.push(b'-');
        }
        self.buf.extend_from_slice(int);
        if !frac.is_empty() {
            self.buf.push(b'.');
            self.buf.extend_from_slice(frac);
        }
    }
    /// A JSON document by value (`jsonb`, MySQL's JSON): see `canon_json`. Text that is not
    /// JSON is kept as text.
    pub fn json_text(&mut self, s: &[u8]) {
        let at = self.buf.len();
        self.buf.push(TAG_JSON);
        self.buf.extend_from_slice(&[0; 4]);
        if super::canon_json::write_canonical(s, self.strict_scale, &mut self.buf) {
            let len = (self.buf.len() - at - 5) as u32;
            self.buf[at + 1..at + 5].copy_from_slice(&len.to_be_bytes());
        } else {
            self.buf.truncate(at);
            self.text(s);
        }
    }
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.buf).into()
    }
}

pub enum Decimal {
    Int(i128),
    Text(String),
}

/// `-001.2500` -> `-1.25`; `0.000` -> 0; `12.00` -> 12. Anything that is not plain digits
/// (NaN, Infinity) is kept verbatim so it still compares equal to itself.
pub fn normalize_decimal(s: &str) -> Decimal {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let digits_ok = !body.is_empty()
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && frac_part.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok {
        return Decimal::Text(t.to_string());
    }
    let int_part = int_part.trim_start_matches('0');
    let frac_part = frac_part.trim_end_matches('0');
    if frac_part.is_empty() {
        if int_part.is_empty() {
            return Decimal::Int(0);
        }
        if int_part.len() <= 38 {
            if let Ok(v) = int_part.parse::<i128>() {
                return Decimal::Int(if neg { -v } else { v });
            }
        }
        return Decimal::Text(format!("{}{}", if neg { "-" } else { "" }, int_part));
    }
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    Decimal::Text(format!(
        "{}{}.{}",
        if neg { "-" } else { "" },
        int_part,
        frac_part
    ))
}

/// (row count, Σ SHA-256 mod 2²⁵⁶) of a set of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkDigest {
    pub count: u64,
    /// Big-endian limbs of the 256-bit sum.
    pub sum: [u64; 4],
}

impl ChunkDigest {
    pub fn add_hash(&mut self, h: &[u8; 32]) {
        self.count += 1;
        let mut carry = 0u64;
        for i in (0..4).rev() {
            let mut limb = [0u8; 8];
            limb.copy_from_slice(&h[i * 8..i * 8 + 8]);
            let (s1, c1) = self.sum[i].overflowing_add(u64::from_be_bytes(limb));
            let (s2, c2) = s1.overflowing_add(carry);
            self.sum[i] = s2;
            carry = (c1 as u64) + (c2 as u64);
        }
    }
    pub fn merge(&mut self, other: &ChunkDigest) {
        self.count += other.count;
        let mut carry = 0u64;
        for i in (0..4).rev() {
            let (s1, c1) = self.sum[i].overflowing_add(other.sum[i]);
            let (s2, c2) = s1.overflowing_add(carry);
            self.sum[i] = s2;
            carry = (c1 as u64) + (c2 as u64);
        }
    }
    pub fn hex(&self) -> String {
        self.sum.iter().map(|l| format!("{l:016x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(f: impl FnOnce(&mut RowEncoder)) -> Vec<u8> {
        let mut e = RowEncoder::new();
        f(&mut e);
        e.buf
    }

    #[test]
    fn integers_take_8_bytes_when_they_fit_64_bits_and_16_beyond() {
        let bytes = |tag: u8, v: &[u8]| [&[tag][..], v].concat();
        assert_eq!(
            enc(|e| e.int(-42)),
            bytes(TAG_INT64, &(-42i64).to_be_bytes())
        );
        assert_eq!(
            enc(|e| e.int(i64::MIN.into())),
            bytes(TAG_INT64, &i64::MIN.to_be_bytes())
        );
        let big = i128::from(i64::MAX) + 1;
        assert_eq!(enc(|e| e.int(big)), bytes(TAG_INT, &big.to_be_bytes()));
        // Decimals and integers still agree, in both forms.
        assert_eq!(
            enc(|e| e.decimal_str(b"9223372036854775808")),
            enc(|e| e.int(big))
        );
        assert_eq!(enc(|e| e.decimal_str(b"-7.0")), enc(|e| e.int(-7)));
    }

    #[test]
    fn decimals_normalise_to_value() {
        assert_eq!(
            enc(|e| e.decimal_str(b"1.50")),
            enc(|e| e.decimal_str(b"001.5"))
        );
        assert_eq!(enc(|e| e.decimal_str(b"12.000")), enc(|e| e.int(12)));
        assert_eq!(enc(|e| e.decimal_str(b"-0.00")), enc(|e| e.int(0)));
        assert_ne!(
            enc(|e| e.decimal_str(b"1.5")),
            enc(|e| e.decimal_str(b"1.05"))
        );
        assert_ne!(
            enc(|e| e.decimal_str(b"-1.5")),
            enc(|e| e.decimal_str(b"1.5"))
        );
        assert_eq!(
            enc(|e| e.decimal_str(b".5")),
            enc(|e| e.decimal_str(b"0.50"))
        );
    }

    #[test]
    fn null_is_not_empty_text_nor_a_literal() {
        assert_ne!(enc(|e| e.null()), enc(|e| e.text(b"")));
        assert_ne!(enc(|e| e.null()), enc(|e| e.text(b"<null>")));
    }

    #[test]
    fn adjacent_text_columns_cannot_shift() {
        let a = enc(|e| {
            e.text(b"a|");
            e.text(b"b")
        });
        let b = enc(|e| {
            e.text(b"a");
            e.text(b"|b")
        });
        assert_ne!(a, b);
    }

    #[test]
    fn json_key_order_does_not_matter() {
        assert_eq!(
            enc(|e| e.json_text(br#"{"b": 1, "a": [1, {"y":2,"x":1}]}"#)),
            enc(|e| e.json_text(br#"{"a":[1,{"x":1,"y":2}],"b":1}"#))
        );
        // what is not JSON is compared as the text it is
        assert_eq!(enc(|e| e.json_text(b"{x")), enc(|e| e.text(b"{x")));
        assert_eq!(
            crate::validate::decode::display_canonical(&enc(|e| e.json_text(b"[1.50]"))),
            crate::validate::decode::display_canonical(&enc(|e| e.json_text(b"[ 15e-1 ]")))
        );
    }

    #[test]
    fn digest_sum_is_order_independent_and_keeps_duplicates() {
        let h1 = [0xffu8; 32];
        let mut h2 = [0u8; 32];
        h2[31] = 1;
        let mut a = ChunkDigest::default();
        a.add_hash(&h1);
        a.add_hash(&h2);
        let mut b = ChunkDigest::default();
        b.add_hash(&h2);
        b.add_hash(&h1);
        assert_eq!(a, b);
        assert_eq!(a.sum, [0, 0, 0, 0]); // 2^256-1 + 1 wraps to zero
        let mut c = ChunkDigest::default();
        c.add_hash(&h1);
        c.add_hash(&h1);
        assert_ne!(c.sum, [0, 0, 0, 0], "duplicates must not cancel like XOR");
        let mut m = ChunkDigest::default();
        m.merge(&a);
        m.merge(&c);
        let mut all = ChunkDigest::default();
        for h in [&h1, &h2, &h1, &h1] {
            all.add_hash(h);
        }
        assert_eq!(m, all);
    }

    #[test]
    fn negative_zero_and_nan() {
        assert_ne!(enc(|e| e.float(0.0)), enc(|e| e.float(-0.0)));
        assert_eq!(enc(|e| e.float(f64::NAN)), enc(|e| e.float(-f64::NAN)));
    }
}
