//! Short, stable text for cells: ages, sizes, lags, durations. Coarse on purpose: a value that
//! changes less often redraws less often (idle output over SSH).

use chrono::{DateTime, Utc};

/// `42s`, `7m`, `3h`, `2d`: one unit, rounded down.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    dur_secs((now - then).num_seconds().max(0))
}

pub fn dur_secs(s: i64) -> String {
    let s = s.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// `1h05m`, `12m30s`, `9s`: two units, for stage times and ETAs.
pub fn dur_long(s: i64) -> String {
    let s = s.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

pub fn size_gb(gb: f64) -> String {
    if gb >= 1000.0 {
        format!("{:.1}T", gb / 1024.0)
    } else if gb >= 10.0 {
        format!("{gb:.0}G")
    } else {
        format!("{gb:.1}G")
    }
}

pub fn lag(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 600.0 {
        format!("{s:.0}s")
    } else {
        dur_secs(s as i64)
    }
}

/// Cut `s` to `w` display columns, marking the cut.
pub fn fit(s: &str, w: usize, ellipsis: &str) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push_str(ellipsis);
    out
}

/// A text gauge `█████░░░` of `w` cells for a fraction in 0..=1.
pub fn gauge(frac: f64, w: usize, full: char, empty: char) -> String {
    let frac = if frac.is_finite() {
        frac.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let n = (frac * w as f64).round() as usize;
    let mut s = String::with_capacity(w * 3);
    s.extend(std::iter::repeat_n(full, n));
    s.extend(std::iter::repeat_n(empty, w - n));
    s
}

/// `950`, `12.3k`, `4.5M`, `1.2G`: a row count in four or five columns.
pub fn count(n: f64) -> String {
    let n = n.max(0.0);
    if n < 1000.0 {
        format!("{n:.0}")
    } else if n < 1e6 {
        format!("{:.1}k", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1}M", n / 1e6)
    } else {
        format!("{:.1}G", n / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ages_and_durations() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 1, 0, 0).unwrap();
        assert_eq!(age(t0 + chrono::Duration::seconds(42), t0), "42s");
        assert_eq!(age(t0 + chrono::Duration::seconds(7 * 60 + 5), t0), "7m");
        assert_eq!(age(t0, t0 + chrono::Duration::seconds(5)), "0s");
        assert_eq!(dur_long(3900), "1h05m");
        assert_eq!(dur_long(750), "12m30s");
        assert_eq!(dur_long(2 * 86_400 + 7200), "2d02h");
    }

    #[test]
    fn sizes_lags_and_gauges() {
        assert_eq!(size_gb(3.25), "3.2G");
        assert_eq!(size_gb(120.0), "120G");
        assert_eq!(size_gb(2048.0), "2.0T");
        assert_eq!(lag(1.26), "1.3s");
        assert_eq!(lag(42.0), "42s");
        assert_eq!(gauge(0.5, 4, '#', '.'), "##..");
        assert_eq!(gauge(f64::NAN, 3, '#', '.'), "...");
        assert_eq!(gauge(7.0, 3, '#', '.'), "###");
        assert_eq!(fit("pay-ledger-01", 6, "~"), "pay-l~");
        assert_eq!(fit("ab", 6, "~"), "ab");
    }
}
