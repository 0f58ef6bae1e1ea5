//! Canonical bytes of a JSON document whose meaning, not its text, is what a database keeps
//! (PostgreSQL `jsonb`, MySQL's binary `JSON`).
//!
//! Numbers are never turned into doubles: a 23-digit integer or a 21-digit decimal changed by
//! one must stay different, as it does for PostgreSQL. A number is written as its exact
//! decimal value (`-digits e exponent`, no leading or trailing zeros), so `1818`, `1818.0` and
//! `1.818e3` agree, as they do for PostgreSQL's `jsonb =`. With `strict_scale` the scale a
//! `numeric` would keep (`1818.0` has scale 1) is written too, so they differ.
//! Object keys are ordered shorter first, then bytewise, the order in which both PostgreSQL and
//! MySQL already store them, so their output needs no reordering; a later duplicate key wins,
//! as in `jsonb`. Strings are compared by their characters (`"\u00e9"` is `"é"`).

/// Deeper documents are compared as text (PostgreSQL and MySQL refuse far shallower ones).
const MAX_DEPTH: usize = 1000;

/// Append the canonical form of `input` to `out`. Returns false, with `out` as it was, when
/// the input is not one well-formed JSON value.
pub fn write_canonical(input: &[u8], strict_scale: bool, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let mut p = Parser {
        s: input,
        i: 0,
        strict_scale,
        scratch: Vec::new(),
    };
    let ok = p.value(out, 0).is_some() && {
        p.ws();
        p.i == p.s.len()
    };
    if !ok {
        out.truncate(start);
    }
    ok
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    strict_scale: bool,
    /// Reused for reordering object members.
    scratch: Vec<u8>,
}

/// One object member inside `out`: `key` is `out[start..key_end]`, the member is
/// `out[start..end]` (`"key":value`).
#[derive(Clone, Copy)]
struct Member {
    start: usize,
    key_end: usize,
    end: usize,
}

fn key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match self.peek()? {
            b'{' => self.object(out, depth),
            b'[' => self.array(out, depth),
            b'"' => self.string(out),
            b't' => self.literal(b"true", out),
            b'f' => self.literal(b"false", out),
            b'n' => self.literal(b"null", out),
            b'-' | b'0'..=b'9' => self.number(out),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Option<()> {
        if self.s.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        out.extend_from_slice(word);
        Some(())
    }

    fn array(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.i += 1;
        out.push(b'[');
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            out.push(b']');
            return Some(());
        }
        loop {
            self.value(out, depth + 1)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    out.push(b',');
                }
                b']' => {
                    self.i += 1;
                    out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        self.i += 1;
        out.push(b'{');
        let body = out.len();
        let mut members: Vec<Member> = Vec::new();
        let mut in_order = true;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            out.push(b'}');
            return Some(());
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            if !members.is_empty() {
                out.push(b',');
            }
            let start = out.len();
            self.string(out)?;
            let key_end = out.len();
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            out.push(b':');
            self.value(out, depth + 1)?;
            let m = Member {
                start,
                key_end,
                end: out.len(),
            };
            if let Some(prev) = members.last() {
                in_order &= key_order(&out[prev.start..prev.key_end], &out[start..key_end]).is_lt();
            }
            members.push(m);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    break;
                }
                _ => return None,
            }
        }
        if !in_order {
            // Rewrite the members sorted; of equal keys the last one is kept.
            self.scratch.clear();
            self.scratch.extend_from_slice(&out[body..]);
            let base = body;
            let buf = std::mem::take(&mut self.scratch);
            let key = |m: &Member| &buf[m.start - base..m.key_end - base];
            let mut idx: Vec<usize> = (0..members.len()).collect();
            idx.sort_by(|&a, &b| key_order(key(&members[a]), key(&members[b])).then(a.cmp(&b)));
            out.truncate(body);
            let mut first = true;
            for (n, &i) in idx.iter().enumerate() {
                let next_same = idx
                    .get(n + 1)
                    .is_some_and(|&j| key(&members[j]) == key(&members[i]));
                if next_same {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                let m = members[i];
                out.extend_from_slice(&buf[m.start - base..m.end - base]);
            }
            self.scratch = buf;
        }
        out.push(b'}');
        Some(())
    }

    fn string(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let open = self.i;
        self.i += 1;
        // Fast path: no escapes, so the text between the quotes is the string itself.
        loop {
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    out.extend_from_slice(&self.s[open..self.i]);
                    return Some(());
                }
                b'\\' => break,
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        let mut chars: Vec<u8> = self.s[open + 1..self.i].to_vec();
        loop {
            match *self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    let esc = *self.s.get(self.i + 1)?;
                    self.i += 2;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut tmp = [0u8; 4];
                    chars.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                c if c < 0x20 => return None,
                c => {
                    chars.push(c);
                    self.i += 1;
                }
            }
        }
        write_string(&chars, out);
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.i += 4;
        Some(v)
    }

    /// After `\u`: one code point, a surrogate pair read as one.
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.i..self.i + 2)? != b"\\u" {
                return None;
            }
            self.i += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return None;
            }
            return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
        }
        char::from_u32(hi)
    }

    /// `-? int frac? exp?` as its exact value: `[-]digits e exponent` (`s scale` when strict).
    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let s = self.s;
        let neg = s[self.i] == b'-';
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        match *s.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        let int = &s[int_start..self.i];
        let mut frac: &[u8] = &[];
        if s.get(self.i) == Some(&b'.') {
            self.i += 1;
            let f = self.i;
            while s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            if self.i == f {
                return None;
            }
            frac = &s[f..self.i];
        }
        let mut exp: i64 = 0;
        if let Some(b'e' | b'E') = s.get(self.i) {
            self.i += 1;
            let eneg = match s.get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let e = self.i;
            while s.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            // No engine keeps exponents this large; such text is compared as text.
            if self.i == e || self.i - e > 15 {
                return None;
            }
            let v: i64 = std::str::from_utf8(&s[e..self.i]).ok()?.parse().ok()?;
            exp = if eneg { -v } else { v };
        }
        // value = digits × 10^(exp - frac.len())
        self.scratch.clear();
        self.scratch.extend_from_slice(int);
        self.scratch.extend_from_slice(frac);
        let lead = self.scratch.iter().take_while(|&&d| d == b'0').count();
        let trail = self.scratch[lead..]
            .iter()
            .rev()
            .take_while(|&&d| d == b'0')
            .count();
        let digits = &self.scratch[lead..self.scratch.len() - trail];
        let scale = (frac.len() as i64 - exp).max(0);
        if digits.is_empty() {
            out.push(b'0');
        } else {
            if neg {
                out.push(b'-');
            }
            out.extend_from_slice(digits);
            out.push(b'e');
            let e10 = exp - frac.len() as i64 + trail as i64;
            write_int(e10, out);
        }
        if self.strict_scale {
            out.push(b's');
            write_int(scale, out);
        }
        Some(())
    }
}

/// Decimal digits of `v` without allocating (numbers are on the checksum's hot path).
fn write_int(v: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// A string's characters between quotes, escaping only what JSON requires.
fn write_string(chars: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in chars {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            c if c < 0x20 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Option<String> {
        canon_with(s, false)
    }

    fn canon_with(s: &str, strict: bool) -> Option<String> {
        let mut out = b"keep".to_vec();
        let ok = write_canonical(s.as_bytes(), strict, &mut out);
        assert!(out.starts_with(b"keep"));
        ok.then(|| String::from_utf8(out[4..].to_vec()).unwrap())
    }

    #[test]
    fn numbers_beyond_a_double_stay_exact() {
        assert_ne!(
            canon(r#"{"n": 12345678901234567890123}"#),
            canon(r#"{"n": 12345678901234567890124}"#)
        );
        assert_ne!(
            canon("1.23456789012345678901"),
            canon("1.23456789012345678902")
        );
        assert_ne!(canon("9007199254740993"), canon("9007199254740992"));
    }

    #[test]
    fn numbers_compare_by_value_unless_scale_is_strict() {
        assert_eq!(canon("1818"), canon("1818.0"));
        assert_eq!(canon("1818"), canon("1.818e3"));
        assert_eq!(canon("0.50"), canon("5E-1"));
        assert_eq!(canon("-0"), canon("0.000"));
        assert_ne!(canon("-1.5"), canon("1.5"));
        assert_ne!(canon("15"), canon("1.5"));
        assert_ne!(canon_with("1818", true), canon_with("1818.0", true));
        assert_eq!(canon_with("1.50e1", true), canon_with("15.0", true));
        assert_eq!(canon_with("1.50", true), canon_with("1.50", true));
    }

    #[test]
    fn key_order_does_not_matter_and_the_last_duplicate_wins() {
        assert_eq!(
            canon(r#"{"b": 1, "aa": [1, {"y":2,"x":1}], "a": null}"#),
            canon(r#"{"a":null,"b":1,"aa":[1,{"x":1,"y":2}]}"#)
        );
        assert_eq!(canon(r#"{"a":1,"b":2,"a":3}"#), canon(r#"{"b":2,"a":3}"#));
        assert_ne!(canon("[1,2]"), canon("[2,1]"));
    }

    #[test]
    fn strings_compare_by_their_characters() {
        assert_eq!(canon(r#""\u00e9\/""#), canon(r#""é/""#));
        assert_eq!(canon(r#""\ud83d\ude00""#), canon(r#""😀""#));
        assert_ne!(canon(r#""a\"b""#), canon(r#""a\\b""#));
        assert_eq!(canon(r#""a\nb""#).unwrap(), r#""a\u000ab""#);
    }

    #[test]
    fn not_json_is_refused_and_leaves_the_buffer() {
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "[1,]",
            "01",
            "1.",
            "tru",
            "\"a",
            "1 2",
            "\"\\ud800\"",
            "1e9999999999999999",
        ] {
            assert_eq!(canon(bad), None, "{bad:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(canon(&deep), None);
    }
}
