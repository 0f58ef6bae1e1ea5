//! The local replication lab: source and target servers on this machine that rehearse a cutover
//! end to end.
//!
//! - [`postgres`]: PostgreSQL clusters with logical replication (and the helpers both labs share:
//!   free ports, tool runs, [`postgres::LabState`], [`postgres::LabError`]);
//! - [`mariadb`]: MariaDB pairs with GTID binlog replication;
//! - [`workload`]: the write workload a client keeps up through the cutover;
//! - [`journal_driver`]: a resumable, journal-backed driver of the cutover steps (the lab's and
//!   the tests' executor; the engine has its own);
//! - [`rehearsal`]: the lab wired to the engine through the DRS emulator's native mode;
//! - [`cmd`]: the `wavedeck lab` command.
pub mod cmd;
pub mod journal_driver;
pub mod mariadb;
pub mod postgres;
pub mod rehearsal;
pub mod workload;

/// The lab's business window: open at every minute, so a rehearsal may cut over whenever it is
/// run (`00:00-23:59` shut the last minute of each day and refused a cutover at 23:59 UTC).
pub const LAB_WINDOW: &str = "daily 00:00-24:00 UTC";

#[cfg(test)]
mod tests {
    use super::LAB_WINDOW;
    use crate::inventory::BusinessWindow;

    #[test]
    fn the_lab_window_is_open_at_every_minute_of_the_day() {
        let w = BusinessWindow::parse(LAB_WINDOW).unwrap();
        let midnight = chrono::DateTime::parse_from_rfc3339("2026-12-04T00:00:00Z")
            .unwrap()
            .to_utc();
        for s in (0..2 * 86_400).step_by(30) {
            let at = midnight + chrono::Duration::seconds(s);
            assert!(w.is_open(at), "the lab window is shut at {at}");
        }
    }
}
