//! Business windows: when a database may be cut over.
//!
//! Syntax: one or more ranges separated by `;`, each `DAYS TIMES [ZONE]`, and a time zone that
//! is required (on the last range at least; ranges without one use the last range's zone):
//!
//! ```text
//! Sat,Sun 01:00-05:00 Europe/Paris
//! Mon-Fri 22:00-02:00 +02:00                 (crosses midnight: Friday's range ends Saturday 02:00)
//! Mon-Fri 22:00-23:30; Sat,Sun 00:00-06:00 UTC
//! daily 01:00-03:00,13:00-13:30 America/New_York
//! ```
//!
//! DAYS: `Mon`..`Sun` (or full names), lists `Sat,Sun`, ranges `Mon-Fri` (wrapping `Fri-Mon`
//! too), or `daily`. TIMES: `HH:MM-HH:MM` (end `24:00` allowed), several separated by `,`.
//! ZONE: an IANA name (`Europe/Paris`), `UTC`/`Z`, or an offset (`+02:00`, `-0530`, `UTC+2`).
//!
//! Daylight saving: times are wall-clock times in the zone. A start or end that falls in a
//! spring-forward gap moves to the first instant after the gap; one that occurs twice at
//! fall-back uses the first occurrence (the moment the wall clock first shows it).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use std::fmt;

const EXAMPLE: &str = "e.g. \"Sat,Sun 01:00-05:00 Europe/Paris\" or \"Mon-Fri 22:00-02:00 +02:00\"";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    Named(Tz),
    Offset(FixedOffset),
}

impl Zone {
    /// The UTC instant of a local wall-clock time, with the DST rules of the module doc.
    fn to_utc(self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Offset(off) => {
                (local - Duration::seconds(off.local_minus_utc() as i64)).and_utc()
            }
            Zone::Named(tz) => {
                // Gaps are at most a few hours; step minute by minute to the first valid time.
                let mut t = local;
                for _ in 0..(26 * 60) {
                    match tz.from_local_datetime(&t) {
                        LocalResult::Single(d) => return d.with_timezone(&Utc),
                        LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                        LocalResult::None => t += Duration::minutes(1),
                    }
                }
                // Unreachable with real zone data; fall back to reading the time as UTC.
                local.and_utc()
            }
        }
    }

    fn local_date(self, at: DateTime<Utc>) -> NaiveDate {
        match self {
            Zone::Named(tz) => at.with_timezone(&tz).date_naive(),
            Zone::Offset(off) => at.with_timezone(&off).date_naive(),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Named(tz) => f.write_str(tz.name()),
            Zone::Offset(off) => {
                let s = off.local_minus_utc();
                if s == 0 {
                    return f.write_str("UTC");
                }
                let sign = if s < 0 { '-' } else { '+' };
                let a = s.abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
            }
        }
    }
}

/// One weekly range: on each listed day, from `start` to `end` local time (the next day when
/// `end <= start`), in `zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// Days of the week the range starts on, Monday = index 0.
    pub days: [bool; 7],
    /// Minutes after local midnight.
    pub start_min: u32,
    /// Minutes after local midnight, 1..=1440; `<= start_min` means the next day.
    pub end_min: u32,
    pub zone: Zone,
}

impl Range {
    /// Length of one opening in wall-clock minutes.
    pub fn nominal_minutes(&self) -> u32 {
        if self.end_min > self.start_min {
            self.end_min - self.start_min
        } else {
            1440 - self.start_min + self.end_min
        }
    }

    /// The opening that starts on local date `d`, if `d` is one of the range's days.
    fn interval_on(&self, d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days[d.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let at = |date: NaiveDate, min: u32| -> NaiveDateTime {
            let base = date.and_time(NaiveTime::MIN);
            base + Duration::minutes(min as i64)
        };
        let start = self.zone.to_utc(at(d, self.start_min));
        let end_date = if self.end_min > self.start_min {
            d
        } else {
            d.succ_opt()?
        };
        let end = self.zone.to_utc(at(end_date, self.end_min));
        (end > start).then_some((start, end))
    }
}

/// A parsed business window: the union of its ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessWindow {
    pub ranges: Vec<Range>,
}

impl BusinessWindow {
    pub fn parse(text: &str) -> Result<BusinessWindow, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(format!(
                "business window is empty; write days, times and a time zone, {EXAMPLE}"
            ));
        }
        let parts: Vec<&str> = text.split(';').map(str::trim).collect();
        let mut parsed: Vec<Part> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(format!(
                    "range {} of the business window is empty (stray ';'?), {EXAMPLE}",
                    i + 1
                ));
            }
            parsed.push(parse_part(part)?);
        }
        let last_zone = match parsed.last().and_then(|p| p.2) {
            Some(z) => z,
            None => {
                return Err(format!(
                    "business window {text:?} has no time zone; add an IANA zone or a UTC offset at the end, {EXAMPLE}"
                ))
            }
        };
        let mut ranges = Vec::new();
        for (days, times, zone) in parsed {
            let zone = zone.unwrap_or(last_zone);
            let mut d = [false; 7];
            d.copy_from_slice(&days);
            for (start_min, end_min) in times {
                ranges.push(Range {
                    days: d,
                    start_min,
                    end_min,
                    zone,
                });
            }
        }
        Ok(BusinessWindow { ranges })
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.ranges.iter().any(|r| {
            let d = r.zone.local_date(at);
            [d.pred_opt(), Some(d), d.succ_opt()]
                .into_iter()
                .flatten()
                .filter_map(|day| r.interval_on(day))
                .any(|(s, e)| s <= at && at < e)
        })
    }

    /// When the window next opens or closes after `at` (strictly later). `None` when it never
    /// changes, i.e. the window is open all week.
    pub fn next_change(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let merged = self.merged_intervals(at);
        for (s, e) in &merged {
            if *e - *s > Duration::days(8) && *s <= at && at < *e {
                return None;
            }
            if at < *s {
                return Some(*s);
            }
            if at < *e {
                return Some(*e);
            }
        }
        None
    }

    /// When the window next opens: `at` itself when it is open now.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        self.next_change(at)
    }

    /// The shortest single opening, in wall-clock minutes (ranges that touch are not joined,
    /// so this errs on the short side). Used by the planner to fit work into one opening.
    pub fn shortest_opening_minutes(&self) -> u32 {
        self.ranges
            .iter()
            .map(Range::nominal_minutes)
            .min()
            .unwrap_or(0)
    }

    /// Openings from two days before `at` to fifteen days after, sorted and joined where they
    /// overlap or touch.
    fn merged_intervals(&self, at: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut all = Vec::new();
        for r in &self.ranges {
            let d0 = r.zone.local_date(at);
            // Fifteen days ahead: an opening that falls wholly in a DST gap is skipped, so the
            // next one can be two weeks away.
            for k in -2..=15 {
                if let Some(day) = d0.checked_add_signed(Duration::days(k)) {
                    if let Some(iv) = r.interval_on(day) {
                        all.push(iv);
                    }
                }
            }
        }
        all.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (s, e) in all {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }
}

impl fmt::Display for BusinessWindow {
    /// The canonical spelling: equal windows print the same, which the planner groups on.
    /// Runs of three or more days print as ranges; a zone shared by all ranges prints once.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let one_zone = self.ranges.windows(2).all(|w| w[0].zone == w[1].zone);
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if r.days.iter().all(|d| *d) {
                f.write_str("daily")?;
            } else {
                let mut parts = Vec::new();
                let mut d = 0;
                while d < 7 {
                    if !r.days[d] {
                        d += 1;
                        continue;
                    }
                    let start = d;
                    while d + 1 < 7 && r.days[d + 1] {
                        d += 1;
                    }
                    match d - start {
                        0 => parts.push(names[start].to_string()),
                        1 => parts.push(format!("{},{}", names[start], names[d])),
                        _ => parts.push(format!("{}-{}", names[start], names[d])),
                    }
                    d += 1;
                }
                f.write_str(&parts.join(","))?;
            }
            let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
            write!(f, " {}-{}", hm(r.start_min), hm(r.end_min))?;
            if !one_zone || i + 1 == self.ranges.len() {
                write!(f, " {}", r.zone)?;
            }
        }
        Ok(())
    }
}

type Part = (Vec<bool>, Vec<(u32, u32)>, Option<Zone>);

fn parse_part(part: &str) -> Result<Part, String> {
    let tokens: Vec<&str> = part.split_whitespace().collect();
    let (days_tok, times_tok, zone_tok) = match tokens.as_slice() {
        [d, t] => (*d, *t, None),
        [d, t, z] => (*d, *t, Some(*z)),
        _ => {
            return Err(format!(
                "cannot read {part:?}: expected DAYS TIMES ZONE separated by spaces, {EXAMPLE}"
            ))
        }
    };
    let days = parse_days(days_tok)?;
    let mut times = Vec::new();
    for t in times_tok.split(',') {
        times.push(parse_time_range(t)?);
    }
    let zone = zone_tok.map(parse_zone).transpose()?;
    Ok((days, times, zone))
}

fn weekday(tok: &str) -> Option<Weekday> {
    let t = tok.to_ascii_lowercase();
    let all = [
        ("mon", "monday", Weekday::Mon),
        ("tue", "tuesday", Weekday::Tue),
        ("wed", "wednesday", Weekday::Wed),
        ("thu", "thursday", Weekday::Thu),
        ("fri", "friday", Weekday::Fri),
        ("sat", "saturday", Weekday::Sat),
        ("sun", "sunday", Weekday::Sun),
    ];
    all.iter()
        .find(|(short, long, _)| t == *short || t == *long)
        .map(|(_, _, w)| *w)
}

fn parse_days(tok: &str) -> Result<Vec<bool>, String> {
    let mut days = vec![false; 7];
    let lower = tok.to_ascii_lowercase();
    if lower == "daily" || lower == "*" || lower == "mon-sun" {
        return Ok(vec![true; 7]);
    }
    for item in tok.split(',') {
        let bad = || {
            format!("{item:?} is not a day or day range; use Mon..Sun, lists like Sat,Sun, ranges like Mon-Fri, or daily ({EXAMPLE})")
        };
        if let Some((a, b)) = item.split_once('-') {
            let a = weekday(a).ok_or_else(bad)?.num_days_from_monday() as usize;
            let b = weekday(b).ok_or_else(bad)?.num_days_from_monday() as usize;
            let mut d = a;
            loop {
                days[d] = true;
                if d == b {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            let w = weekday(item).ok_or_else(bad)?;
            days[w.num_days_from_monday() as usize] = true;
        }
    }
    Ok(days)
}

fn parse_hm(tok: &str, allow_24: bool) -> Option<u32> {
    let (h, m) = tok.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = m.parse().ok()?;
    if m >= 60 {
        return None;
    }
    let total = h * 60 + m;
    if total < 1440 || (allow_24 && total == 1440) {
        Some(total)
    } else {
        None
    }
}

fn parse_time_range(tok: &str) -> Result<(u32, u32), String> {
    let bad =
        || format!("{tok:?} is not a time range; write HH:MM-HH:MM in 24-hour time, {EXAMPLE}");
    let (a, b) = tok.split_once('-').ok_or_else(bad)?;
    let start = parse_hm(a, false).ok_or_else(bad)?;
    let end = parse_hm(b, true).ok_or_else(bad)?;
    if start == end {
        return Err(format!(
            "time range {tok:?} is empty (start equals end); for a whole day write 00:00-24:00"
        ));
    }
    Ok((start, if end == 0 { 1440 } else { end }))
}

fn parse_zone(tok: &str) -> Result<Zone, String> {
    let upper = tok.to_ascii_uppercase();
    if upper == "UTC" || upper == "Z" || upper == "GMT" {
        return Ok(Zone::Offset(FixedOffset::east_opt(0).expect("zero offset")));
    }
    let offset_part = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))
        .unwrap_or(&upper);
    if offset_part.starts_with('+') || offset_part.starts_with('-') {
        return parse_offset(offset_part).ok_or_else(|| {
            format!("{tok:?} is not a UTC offset; write +HH:MM or -HH:MM (e.g. +02:00, -05:30) or an IANA zone such as Europe/Paris")
        });
    }
    tok.parse::<Tz>().map(Zone::Named).map_err(|_| {
        format!("unknown time zone {tok:?}; use an IANA name such as Europe/Paris or Asia/Shanghai, or an offset such as +08:00")
    })
}

fn parse_offset(s: &str) -> Option<Zone> {
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let body = &s[1..];
    let (h, m) = if let Some((h, m)) = body.split_once(':') {
        (h, m)
    } else if body.len() == 4 {
        body.split_at(2)
    } else {
        (body, "0")
    };
    if h.is_empty() || h.len() > 2 || m.is_empty() || m.len() > 2 {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 14 || m >= 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(Zone::Offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn weekend_night_in_paris() {
        let w = BusinessWindow::parse("Sat,Sun 01:00-05:00 Europe/Paris").unwrap();
        // 2026-01-10 is a Saturday; Paris is UTC+1 in winter.
        assert!(w.is_open(utc("2026-01-10T00:00:00Z")));
        assert!(!w.is_open(utc("2026-01-09T23:59:00Z")));
        assert!(!w.is_open(utc("2026-01-10T04:00:00Z")));
        assert!(!w.is_open(utc("2026-01-12T00:30:00Z"))); // Monday
        assert_eq!(
            w.next_change(utc("2026-01-10T01:00:00Z")),
            Some(utc("2026-01-10T04:00:00Z"))
        );
        assert_eq!(
            w.next_change(utc("2026-01-10T04:00:00Z")),
            Some(utc("2026-01-11T00:00:00Z"))
        );
        // From Monday, the next opening is Saturday.
        assert_eq!(
            w.next_change(utc("2026-01-12T12:00:00Z")),
            Some(utc("2026-01-17T00:00:00Z"))
        );
    }

    #[test]
    fn crossing_midnight_with_offset() {
        let w = BusinessWindow::parse("Mon-Fri 22:00-02:00 +02:00").unwrap();
        // Friday 2026-01-09 22:00 +02:00 = 20:00Z, open until Saturday 02:00 +02:00 = 00:00Z.
        assert!(w.is_open(utc("2026-01-09T20:00:00Z")));
        assert!(w.is_open(utc("2026-01-09T23:59:00Z")));
        assert!(!w.is_open(utc("2026-01-10T00:00:00Z")));
        // Saturday night does not open; Sunday neither; Monday 22:00 does.
        assert!(!w.is_open(utc("2026-01-10T21:00:00Z")));
        assert_eq!(
            w.next_change(utc("2026-01-10T00:00:00Z")),
            Some(utc("2026-01-12T20:00:00Z"))
        );
        // Monday 00:30 local belongs to Sunday's range, which does not exist.
        assert!(!w.is_open(utc("2026-01-11T22:30:00Z")));
    }

    #[test]
    fn spring_forward_gap_and_fall_back() {
        // 2026-03-29: Paris goes 02:00 CET -> 03:00 CEST (01:00Z). A Sunday.
        let w = BusinessWindow::parse("Sun 02:30-04:00 Europe/Paris").unwrap();
        // 02:30 does not exist: the window opens at the first instant after the gap, 03:00 CEST.
        assert_eq!(
            w.next_change(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert_eq!(
            w.next_change(utc("2026-03-29T01:00:00Z")),
            Some(utc("2026-03-29T02:00:00Z"))
        );
        // 2026-10-25: 03:00 CEST -> 02:00 CET; 02:30 happens twice, the first is 00:30Z.
        assert_eq!(
            w.next_change(utc("2026-10-24T12:00:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // 04:00 CET = 03:00Z: the opening lasts 2h30 of real time that night.
        assert_eq!(
            w.next_change(utc("2026-10-25T01:00:00Z")),
            Some(utc("2026-10-25T03:00:00Z"))
        );
        // 2026-10-04 02:00-03:00 in Sydney does not exist (clocks jump to 03:00): that Sunday
        // does not open and the next opening is a week later.
        let syd = BusinessWindow::parse("Sun 02:00-03:00 Australia/Sydney").unwrap();
        assert_eq!(
            syd.next_change(utc("2026-09-26T17:00:00Z")),
            Some(utc("2026-10-10T15:00:00Z"))
        );
        // Summer: UTC+2.
        let w = BusinessWindow::parse("Sat 01:00-05:00 Europe/Paris").unwrap();
        assert!(w.is_open(utc("2026-07-04T00:00:00Z")));
        assert!(!w.is_open(utc("2026-07-04T03:00:00Z")));
    }

    #[test]
    fn several_ranges_and_always_open() {
        let w = BusinessWindow::parse("Mon-Fri 22:00-23:00; Sat,Sun 00:00-24:00 UTC").unwrap();
        assert!(w.is_open(utc("2026-01-10T12:00:00Z")));
        assert!(w.is_open(utc("2026-01-09T22:30:00Z")));
        assert!(!w.is_open(utc("2026-01-09T21:00:00Z")));
        // Weekend ranges touch: Saturday 00:00 to Monday 00:00 is one opening.
        assert_eq!(
            w.next_change(utc("2026-01-10T01:00:00Z")),
            Some(utc("2026-01-12T00:00:00Z"))
        );
        let always = BusinessWindow::parse("daily 00:00-24:00 Asia/Shanghai").unwrap();
        assert!(always.is_open(utc("2026-01-10T01:00:00Z")));
        assert_eq!(always.next_change(utc("2026-01-10T01:00:00Z")), None);
        let two = BusinessWindow::parse("daily 01:00-02:00,13:00-13:30 UTC").unwrap();
        assert_eq!(two.ranges.len(), 2);
        assert_eq!(two.shortest_opening_minutes(), 30);
    }

    #[test]
    fn zone_spellings() {
        for z in [
            "UTC",
            "Z",
            "+02:00",
            "-0530",
            "UTC+2",
            "+8",
            "America/New_York",
        ] {
            BusinessWindow::parse(&format!("Mon 01:00-02:00 {z}"))
                .unwrap_or_else(|e| panic!("{z}: {e}"));
        }
        let w = BusinessWindow::parse("Mon 01:00-02:00 -0530").unwrap();
        assert_eq!(w.to_string(), "Mon 01:00-02:00 -05:30");
    }

    #[test]
    fn canonical_form_groups_equal_windows() {
        let a = BusinessWindow::parse("sat,sun 01:00-05:00 Europe/Paris").unwrap();
        let b = BusinessWindow::parse("Saturday,Sun 01:00-05:00 Europe/Paris").unwrap();
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(a.to_string(), "Sat,Sun 01:00-05:00 Europe/Paris");
        let c = BusinessWindow::parse("Fri-Mon 22:00-02:00 UTC").unwrap();
        assert_eq!(c.to_string(), "Mon,Fri-Sun 22:00-02:00 UTC");
        let d =
            BusinessWindow::parse("Mon,Tue,Wed,Thu 20:00-23:00; Sat,Sun 00:00-06:00 Europe/Madrid")
                .unwrap();
        assert_eq!(
            d.to_string(),
            "Mon-Thu 20:00-23:00; Sat,Sun 00:00-06:00 Europe/Madrid"
        );
        assert_eq!(BusinessWindow::parse(&d.to_string()).unwrap(), d);
        let e = BusinessWindow::parse("Mon 01:00-02:00 UTC; Tue 01:00-02:00 Asia/Tokyo").unwrap();
        assert_eq!(
            e.to_string(),
            "Mon 01:00-02:00 UTC; Tue 01:00-02:00 Asia/Tokyo"
        );
    }

    #[test]
    fn errors_say_what_and_give_an_example() {
        let cases = [
            ("Sat,Sun 01:00-05:00", "no time zone"),
            ("Sat,Sun 01:00-05:00 Mars/Olympus", "unknown time zone"),
            ("Sat,Sun 1am-5am UTC", "not a time range"),
            ("Sat,Sun 01:00-25:00 UTC", "not a time range"),
            ("Funday 01:00-05:00 UTC", "not a day"),
            ("Mon 01:00-01:00 UTC", "empty"),
            ("", "empty"),
            ("Mon 01:00-02:00 UTC;", "empty"),
            ("Mon 01:00-02:00 +25:00", "not a UTC offset"),
            ("Mon", "expected DAYS TIMES ZONE"),
        ];
        for (input, want) in cases {
            let err = BusinessWindow::parse(input).unwrap_err();
            assert!(err.contains(want), "{input:?}: {err}");
            assert!(
                err.contains("e.g.") || err.contains("write") || err.contains("use"),
                "{err}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// next_change is exactly where is_open flips, across DST changes in both hemispheres.
        #[test]
        fn next_change_is_where_is_open_flips(
            w in 0usize..8,
            secs in 1_767_225_600i64..1_798_761_600i64, // 2026
        ) {
            let windows = [
                "Sat,Sun 01:00-05:00 Europe/Paris",
                "Sun 02:30-04:00 Europe/Paris",
                "Mon-Fri 22:00-02:00 +02:00",
                "daily 01:30-02:30 America/New_York",
                "Sun 02:00-03:00 Australia/Sydney",
                "Mon-Fri 20:00-23:00; Sat,Sun 00:00-06:00 Europe/Madrid",
                "Fri-Mon 23:00-01:00 Asia/Kolkata",
                "Sat 00:00-24:00; Sun 00:00-12:00 UTC",
            ];
            let win = BusinessWindow::parse(windows[w]).unwrap();
            let t = DateTime::from_timestamp(secs, 0).unwrap();
            let open = win.is_open(t);
            let nc = win.next_change(t).expect("these windows are not always open");
            proptest::prop_assert!(nc > t);
            proptest::prop_assert!(nc - t <= Duration::days(14));
            proptest::prop_assert_ne!(win.is_open(nc), open, "{} at {} -> {}", windows[w], t, nc);
            let span = (nc - t).num_seconds();
            for k in 1..20 {
                let mid = t + Duration::seconds(span * k / 20);
                proptest::prop_assert_eq!(win.is_open(mid), open, "{} at {}", windows[w], mid);
            }
            proptest::prop_assert_eq!(win.is_open(nc - Duration::seconds(1)), open);
            if !open {
                proptest::prop_assert_eq!(win.next_open(t), Some(nc));
            }
        }
    }
}
