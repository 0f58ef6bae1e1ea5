//! Window status for the Waves view and the guards: open now, or opens/closes in how long.

use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq)]
pub struct WindowStatus {
    pub open: bool,
    /// Next open/close instant, if the window ever changes.
    pub next_change: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl WindowStatus {
    /// "open, closes in 2h10m" / "closed, opens in 45m".
    pub fn sentence(&self) -> String {
        let when = |t: DateTime<Utc>| super::fmt::dur_long((t - self.now).num_seconds());
        match (self.open, self.next_change) {
            (true, Some(t)) => format!("window open, closes in {}", when(t)),
            (true, None) => "window always open".into(),
            (false, Some(t)) => format!("window closed, opens in {}", when(t)),
            (false, None) => "window never opens".into(),
        }
    }

    /// Short form for the Waves table: "open 2h10m" / "in 45m".
    pub fn short(&self) -> String {
        let when = |t: DateTime<Utc>| super::fmt::dur_long((t - self.now).num_seconds());
        match (self.open, self.next_change) {
            (true, Some(t)) => format!("OPEN {}", when(t)),
            (true, None) => "OPEN".into(),
            (false, Some(t)) => format!("in {}", when(t)),
            (false, None) => "never".into(),
        }
    }
}

pub fn status(window: &str, now: DateTime<Utc>) -> Result<WindowStatus, String> {
    let w = crate::inventory::BusinessWindow::parse(window)?;
    Ok(WindowStatus {
        open: w.is_open(now),
        next_change: w.next_change(now),
        now,
    })
}
