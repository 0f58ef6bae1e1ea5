//! Raise and clear with hysteresis, for one (rule, subject): a value must stay beyond the
//! threshold `for_s` before an alert is raised, and back past the clear level `clear_for_s`
//! before it clears. Between the two levels nothing changes, so a value that hovers around
//! the threshold raises once and stays raised. Pure: time is a number of engine seconds.

use super::rules::Direction;
use super::rules::Rule;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    Quiet,
    /// Beyond the threshold since this instant, not yet for long enough.
    Rising {
        since: f64,
    },
    Active,
    /// Raised, and back past the clear level since this instant.
    Falling {
        since: f64,
    },
}

/// What one evaluation decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change {
    None,
    Raise,
    Clear,
}

impl Phase {
    pub fn active(self) -> bool {
        matches!(self, Phase::Active | Phase::Falling { .. })
    }

    /// Step the phase with the value seen at `now`; `None` (no such value now: the database
    /// left the stage, no sample) counts as back to normal.
    ///
    /// `forced`: beyond whatever the value (a cutover step that failed for good).
    pub fn step(
        &mut self,
        rule: &Rule,
        dir: Direction,
        value: Option<f64>,
        forced: bool,
        now: f64,
    ) -> Change {
        let beyond = forced || value.is_some_and(|v| dir.beyond(v, rule.threshold));
        let normal = !forced && value.is_none_or(|v| dir.within(v, rule.clear));
        match *self {
            Phase::Quiet | Phase::Rising { .. } if !beyond => {
                *self = Phase::Quiet;
                Change::None
            }
            Phase::Quiet => {
                *self = Phase::Rising { since: now };
                self.step(rule, dir, value, forced, now)
            }
            Phase::Rising { since } => {
                if now - since >= rule.for_s {
                    *self = Phase::Active;
                    Change::Raise
                } else {
                    Change::None
                }
            }
            Phase::Active if normal => {
                *self = Phase::Falling { since: now };
                self.step(rule, dir, value, forced, now)
            }
            Phase::Active => Change::None,
            Phase::Falling { .. } if !normal => {
                *self = Phase::Active;
                Change::None
            }
            Phase::Falling { since } => {
                if now - since >= rule.clear_for_s {
                    *self = Phase::Quiet;
                    Change::Clear
                } else {
                    Change::None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rule {
        Rule {
            enabled: true,
            threshold: 30.0,
            for_s: 10.0,
            clear: 15.0,
            clear_for_s: 5.0,
            window_s: 0.0,
        }
    }

    /// A value driven around the threshold (29..31 every second, for ten minutes) raises
    /// once and never clears while it stays above the clear level.
    #[test]
    fn a_value_around_the_threshold_does_not_flap() {
        let r = rule();
        let mut p = Phase::Quiet;
        let mut changes = Vec::new();
        for t in 0..600 {
            let v = if t % 2 == 0 { 29.0 } else { 31.0 };
            // Held beyond for_s only once it stays above for a while: every other second
            // below resets the rise, so hovering alone never raises...
            let c = p.step(&r, Direction::Above, Some(v), false, t as f64);
            if c != Change::None {
                changes.push((t, c));
            }
        }
        assert!(changes.is_empty(), "{changes:?}");
        // ...and once raised, hovering between clear and threshold keeps it raised.
        for t in 600..620 {
            p.step(&r, Direction::Above, Some(40.0), false, t as f64);
        }
        assert_eq!(p, Phase::Active);
        for t in 620..1200 {
            let v = if t % 2 == 0 { 16.0 } else { 31.0 };
            let c = p.step(&r, Direction::Above, Some(v), false, t as f64);
            assert_eq!(c, Change::None, "t={t} v={v}");
        }
        // Dipping below the clear level for less than clear_for_s does not clear either.
        for t in 1200..1300 {
            let v = if t % 4 == 0 { 10.0 } else { 20.0 };
            assert_eq!(
                p.step(&r, Direction::Above, Some(v), false, t as f64),
                Change::None
            );
        }
        let mut cleared = None;
        for t in 1300..1310 {
            if p.step(&r, Direction::Above, Some(10.0), false, t as f64) == Change::Clear {
                cleared = Some(t);
            }
        }
        assert_eq!(cleared, Some(1305));
        assert_eq!(p, Phase::Quiet);
    }

    #[test]
    fn raised_after_for_s_and_cleared_when_the_value_is_gone() {
        let r = rule();
        let mut p = Phase::Quiet;
        assert_eq!(
            p.step(&r, Direction::Above, Some(31.0), false, 0.0),
            Change::None
        );
        assert_eq!(
            p.step(&r, Direction::Above, Some(31.0), false, 9.9),
            Change::None
        );
        assert_eq!(
            p.step(&r, Direction::Above, Some(31.0), false, 10.0),
            Change::Raise
        );
        assert!(p.active());
        assert_eq!(
            p.step(&r, Direction::Above, None, false, 11.0),
            Change::None
        );
        assert_eq!(
            p.step(&r, Direction::Above, None, false, 16.0),
            Change::Clear
        );
    }

    #[test]
    fn a_floor_and_a_boolean() {
        let floor = Rule {
            threshold: 5.0,
            clear: 8.0,
            for_s: 0.0,
            clear_for_s: 0.0,
            ..rule()
        };
        let mut p = Phase::Quiet;
        assert_eq!(
            p.step(&floor, Direction::Below, Some(6.0), false, 0.0),
            Change::None
        );
        assert_eq!(
            p.step(&floor, Direction::Below, Some(4.0), false, 1.0),
            Change::Raise
        );
        assert_eq!(
            p.step(&floor, Direction::Below, Some(7.9), false, 2.0),
            Change::None
        );
        assert_eq!(
            p.step(&floor, Direction::Below, Some(8.0), false, 3.0),
            Change::None
        );
        assert_eq!(
            p.step(&floor, Direction::Below, Some(8.1), false, 4.0),
            Change::Clear
        );
        let flag = Rule {
            threshold: 0.5,
            clear: 0.5,
            for_s: 0.0,
            clear_for_s: 0.0,
            ..rule()
        };
        let mut p = Phase::Quiet;
        assert_eq!(
            p.step(&flag, Direction::Above, Some(1.0), false, 0.0),
            Change::Raise
        );
        assert_eq!(
            p.step(&flag, Direction::Above, Some(1.0), false, 1.0),
            Change::None
        );
        assert_eq!(
            p.step(&flag, Direction::Above, Some(0.0), false, 2.0),
            Change::Clear
        );
    }
}
