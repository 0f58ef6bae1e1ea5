//! Whole-screen snapshots (TestBackend + insta) and key-driven scenarios through `handle_key`.

use super::app::{handle_key, App, DialogStatus, Intent, Mode, View};
use super::data::FeedUpdate;
use super::fixture;
use super::theme::Theme;
use super::views::render;
use crate::store::model::{Action, CommandRow, CommandStatus, Role, Target};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn app(ascii: bool, read_only: bool) -> App {
    let th = Theme::load("dark", ascii, false).unwrap();
    App::new(fixture::small(), th, read_only, fixture::now())
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    app.size = (w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn key(app: &mut App, code: KeyCode) -> Option<Intent> {
    handle_key(app, KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn both_sizes(name: &str, app: &mut App) {
    insta::assert_snapshot!(format!("{name}_80x24"), screen(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), screen(app, 160, 48));
}

#[test]
fn snapshot_waves() {
    let mut a = app(false, false);
    both_sizes("waves", &mut a);
}

/// A done wave's state cell ("done 2h") and its panel line (when, and its members by final
/// stage), as the store folds `wave.done` into the wave's state (tests/notify.rs folds the
/// real engine's event).
#[test]
fn snapshot_waves_done() {
    let mut a = app(false, false);
    let w = a.data.waves.iter_mut().find(|w| w.wave == 1).unwrap();
    w.done = Some(crate::store::model::WaveEnd {
        at: fixture::now() - chrono::Duration::hours(2),
        members: 3,
        completed: 2,
        aborted: 0,
        rolled_back: 1,
    });
    key(&mut a, KeyCode::Down);
    insta::assert_snapshot!("waves_done_160x48", screen(&mut a, 160, 48));
}

#[test]
fn snapshot_databases() {
    let mut a = app(false, false);
    key(&mut a, KeyCode::Char('2'));
    both_sizes("databases", &mut a);
}

#[test]
fn snapshot_detail() {
    let mut a = app(false, false);
    a.open_detail("pay-ledger-01");
    both_sizes("detail", &mut a);
    // The one that failed validation: the table, rows on each side and the differing key, as
    // the brain recorded the gate's report.
    let mut a = app(false, false);
    a.open_detail("billing-01");
    let s = screen(&mut a, 160, 48);
    assert!(
        s.contains("public.accounts") && s.contains("id=4711"),
        "{s}"
    );
    // Each table line fits; the position and the keys are on their own indented line.
    assert!(
        s.lines()
            .any(|l| l.contains("✗ public.accounts") && l.contains("rows differ")),
        "{s}"
    );
    assert!(
        s.lines()
            .any(|l| l.contains("│    at 0/3A2F1C8  keys id=4711 (changed)")),
        "{s}"
    );
    assert!(!s.contains("sum="), "{s}");
    insta::assert_snapshot!("detail_failed_validation_160x48", s);
}

/// The last restore test per database (the Databases view's column, at the width an SSH
/// terminal often has) and the detail's Restore tests line, from the restore tester's own
/// events in the fixture's history; before the cutover the line is left out and `T` refuses.
#[test]
fn snapshot_restore_tests() {
    let mut a = app(false, false);
    key(&mut a, KeyCode::Char('2'));
    let s = screen(&mut a, 120, 40);
    let row = |s: &str, db: &str| s.lines().find(|l| l.contains(db)).unwrap().to_string();
    assert!(s.contains(" RT "), "{s}");
    // Passed 23 minutes ago (and the VAL column's ✓ beside it).
    assert!(row(&s, "hr-core-01").contains(" ✓   ✓23m "), "{s}");
    // No restore test: a blank cell, the db_id in full.
    assert!(row(&s, "pay-ledger-01").contains("pay-ledger-01 "), "{s}");
    insta::assert_snapshot!("databases_120x40", s);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("RESTORE"), "{s}");
    assert!(row(&s, "hr-core-01").contains(" ✓ 23m 1m "), "{s}");

    a.open_detail("hr-core-01");
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("restore tests: ✓ passed"), "{s}");
    insta::assert_snapshot!("detail_hypercare_120x40", s);
    a.open_detail("pay-ledger-01");
    let s = screen(&mut a, 120, 40);
    assert!(!s.contains("restore tests"), "{s}");

    a.open_dialog(Action::RestoreTest, Target::Db("pay-ledger-01".into()));
    assert!(a.dialog.as_ref().unwrap().blocked());
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("runs once the target is live"), "{s}");
    insta::assert_snapshot!("dialog_restore_test_refused_100x30", s);
    assert_eq!(key(&mut a, KeyCode::Enter), None);
    let mut a = app(false, false);
    a.open_dialog(Action::RestoreTest, Target::Db("hr-core-01".into()));
    assert!(!a.dialog.as_ref().unwrap().blocked());
}

#[test]
fn snapshot_events() {
    let mut a = app(false, false);
    key(&mut a, KeyCode::Char('3'));
    both_sizes("events", &mut a);
}

#[test]
fn snapshot_help_and_read_only() {
    let mut a = app(false, false);
    key(&mut a, KeyCode::Char('?'));
    both_sizes("help", &mut a);
    let mut ro = app(false, true);
    key(&mut ro, KeyCode::Char('2'));
    insta::assert_snapshot!("databases_read_only_80x24", screen(&mut ro, 80, 24));
    key(&mut ro, KeyCode::Char('?'));
    insta::assert_snapshot!("help_read_only_80x24", screen(&mut ro, 80, 24));
}

/// The help ends with the keys of the help, the dialog and the input line, from the keymap's
/// rows; a read-only session, which opens no dialog, is not shown the dialog's.
#[test]
fn help_lists_the_mode_keys_and_no_dialog_keys_read_only() {
    for read_only in [false, true] {
        let mut a = app(false, read_only);
        key(&mut a, KeyCode::Char('?'));
        for _ in 0..80 {
            key(&mut a, KeyCode::Char('j'));
        }
        let s = screen(&mut a, 120, 40);
        assert!(s.contains("In the help"), "{s}");
        assert!(
            s.contains("erase a character (an empty : line closes)"),
            "{s}"
        );
        assert_eq!(s.contains("In an action's dialog"), !read_only, "{s}");
        assert_eq!(
            s.contains("submit once the typed text matches"),
            !read_only,
            "{s}"
        );
        key(&mut a, KeyCode::Char('?'));
        assert_eq!(a.mode, Mode::Normal);
    }
}

#[test]
fn snapshot_dialogs() {
    let mut a = app(false, false);
    a.open_dialog(Action::Cutover, Target::Db("pay-ledger-01".into()));
    typed(&mut a, "pay-led");
    both_sizes("dialog_cutover", &mut a);
    let mut a = app(false, false);
    a.open_dialog(Action::ApproveWindow, Target::Wave(1));
    both_sizes("dialog_approve", &mut a);
    // A blocked cutover: the database is not ready.
    let mut a = app(false, false);
    let failed = a
        .data
        .dbs
        .iter()
        .find(|d| d.stage == crate::lifecycle::Stage::Failed)
        .unwrap()
        .db_id
        .clone();
    a.open_dialog(Action::Cutover, Target::Db(failed));
    insta::assert_snapshot!("dialog_cutover_blocked_80x24", screen(&mut a, 80, 24));
}

#[test]
fn snapshot_ascii_and_too_small() {
    let mut a = app(true, false);
    key(&mut a, KeyCode::Char('2'));
    insta::assert_snapshot!("databases_ascii_80x24", screen(&mut a, 80, 24));
    a.open_detail("pay-ledger-01");
    insta::assert_snapshot!("detail_ascii_80x24", screen(&mut a, 80, 24));
    let s = screen(&mut a, 50, 12);
    assert!(
        s.contains("Terminal too small") && s.contains("50x12"),
        "{s}"
    );
    insta::assert_snapshot!("too_small_50x12", s);
    // Every screen is pure ASCII with --ascii.
    for v in ['0', '1', '2', '3'] {
        key(&mut a, KeyCode::Char(v));
        let s = screen(&mut a, 100, 30);
        assert!(s.is_ascii(), "view {v} has non-ASCII glyphs:\n{s}");
    }
}

#[test]
fn keys_filter_open_detail_and_cut_over() {
    let mut a = app(false, false);
    assert_eq!(a.view, View::Waves);
    key(&mut a, KeyCode::Char('2'));
    assert_eq!(a.view, View::Databases);
    assert_eq!(a.rows.len(), 12);

    // Filter live while typing; Enter keeps it.
    key(&mut a, KeyCode::Char('/'));
    assert_eq!(a.mode, Mode::Filter);
    typed(&mut a, "pay");
    assert_eq!(a.rows.len(), 2, "pay-ledger-01 and pay-ledger-02");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.db_filter_text, "pay");
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("Databases 2/12 /pay"), "{s}");

    // Open the first match, then the cutover dialog.
    assert_eq!(a.db_sel.as_deref(), Some("pay-ledger-01"));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Detail);
    assert_eq!(a.detail.as_deref(), Some("pay-ledger-01"));
    key(&mut a, KeyCode::Char('c'));
    assert_eq!(a.mode, Mode::Dialog);
    let d = a.dialog.as_ref().unwrap();
    assert_eq!(d.confirm.as_deref(), Some("pay-ledger-01"));

    // A wrong confirmation submits nothing; q is text here, not quit.
    typed(&mut a, "pay-ledger-0q");
    assert_eq!(key(&mut a, KeyCode::Enter), None);
    assert_eq!(a.dialog.as_ref().unwrap().status, DialogStatus::Asking);
    key(&mut a, KeyCode::Backspace);
    typed(&mut a, "1");
    let intent = key(&mut a, KeyCode::Enter);
    assert_eq!(
        intent,
        Some(Intent::Submit {
            action: Action::Cutover,
            target: Target::Db("pay-ledger-01".into()),
            args: serde_json::json!({"confirmed": "pay-ledger-01"}),
        })
    );

    // The store wrote command 7; the engine rejects it (DRS's lag rose meanwhile): the
    // reason is shown, not swallowed, and the engine's own guards replace the preview's.
    a.on_submitted(Ok(7));
    assert_eq!(a.dialog.as_ref().unwrap().status, DialogStatus::Pending(7));
    let db = Target::Db("pay-ledger-01".into());
    a.on_feed(fixture::refused("pay-ledger-01", Action::Cutover, db, 7));
    assert_eq!(
        a.dialog.as_ref().unwrap().status,
        DialogStatus::Rejected(7, "cutover blocked: lag 12.4 s > 5 s".into())
    );
    let d = a.dialog.as_ref().unwrap();
    let failing: Vec<&str> = d
        .guards
        .iter()
        .filter(|g| !g.ok)
        .map(|g| g.sentence.as_str())
        .collect();
    assert_eq!(failing, ["lag 12.4 s > 5 s"], "the engine's guards");
    let s = screen(&mut a, 80, 24);
    assert!(
        s.contains("rejected: cutover blocked: lag 12.4 s > 5 s"),
        "{s}"
    );
    insta::assert_snapshot!("dialog_rejected_80x24", s);

    // Esc closes the dialog, Esc again leaves the detail, Esc clears the filter, q quits.
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.mode, Mode::Normal);
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.view, View::Databases);
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.rows.len(), 12);
    assert_eq!(key(&mut a, KeyCode::Char('q')), Some(Intent::Quit));
}

/// A wave command that would move none of its members: the brain refuses it with the wave's
/// guards (the failing `members_ready` among them) and why each member does not pass, and the
/// dialog shows that list, not its preview.
#[test]
fn a_refused_wave_command_shows_the_engines_guards() {
    let mut a = app(false, false);
    a.open_dialog(Action::Resume, Target::Wave(0));
    a.on_submitted(Ok(8));
    a.on_feed(fixture::refused(
        "pay-ledger-01",
        Action::Resume,
        Target::Wave(0),
        8,
    ));
    let d = a.dialog.clone().unwrap();
    let DialogStatus::Rejected(8, why) = &d.status else {
        panic!("{:?}", d.status);
    };
    assert!(
        why.starts_with(
            "resume blocked: none of the 4 databases of wave 0 passes its resume guards now (4 refused for now: "
        ),
        "{why}"
    );
    let names: Vec<(&str, bool)> = d.guards.iter().map(|g| (g.name.as_str(), g.ok)).collect();
    assert_eq!(
        names,
        [
            ("role", true),
            ("members", true),
            ("members_ready", false),
            ("members_waiting", true)
        ],
        "{:#?}",
        d.guards
    );
    let waiting = &d.guards[3].sentence;
    assert!(
        waiting.starts_with("4 refused for now: billing-01 (billing-01 is failed (in validation); resume applies only from paused")
            && waiting.ends_with("; and 1 more"),
        "{waiting}"
    );
    let s = screen(&mut a, 120, 40);
    for g in &d.guards {
        let head: String = g.sentence.chars().take(40).collect();
        assert!(s.contains(&head), "no {head:?} in:\n{s}");
    }
    // Said once, as its guard line: the verdict's line leaves out what that line lists.
    assert_eq!(s.matches("refused for now").count(), 1, "{s}");
    assert!(
        s.contains("rejected: resume blocked: none of the 4 databases of wave 0"),
        "{s}"
    );
    insta::assert_snapshot!("dialog_rejected_wave_120x40", s);
}

#[test]
fn keys_command_mode_sort_and_read_only() {
    let mut a = app(false, false);
    key(&mut a, KeyCode::Char(':'));
    typed(&mut a, "wave 1");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view, View::Databases);
    assert!(a.rows.iter().all(|&i| a.data.dbs[i].wave == Some(1)));
    key(&mut a, KeyCode::Char(':'));
    typed(&mut a, "approve 2");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.mode, Mode::Dialog);
    assert_eq!(a.dialog.as_ref().unwrap().target, Target::Wave(2));
    assert!(a.dialog.as_ref().unwrap().confirm.is_none());
    assert!(matches!(
        key(&mut a, KeyCode::Char('y')),
        Some(Intent::Submit {
            action: Action::ApproveWindow,
            ..
        })
    ));
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char(':'));
    typed(&mut a, "launch 3");
    key(&mut a, KeyCode::Enter);
    assert!(a
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("unknown command :launch"));

    // Sorting by lag puts the worst first; pressing again reverses.
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('L'));
    let first = &a.data.dbs[a.rows[0]];
    assert_eq!(first.lag_s, Some(42.0));
    key(&mut a, KeyCode::Char('L'));
    assert!(!a.sort_desc);

    // Read-only: action keys and commands only explain themselves.
    let mut ro = app(false, true);
    ro.open_detail("pay-ledger-01");
    key(&mut ro, KeyCode::Char('c'));
    assert_eq!(ro.mode, Mode::Normal);
    assert!(ro.dialog.is_none());
    assert_eq!(
        ro.flash.as_ref().unwrap().text,
        "read-only: cutover is disabled"
    );
    key(&mut ro, KeyCode::Char(':'));
    typed(&mut ro, "cutover pay-ledger-01");
    key(&mut ro, KeyCode::Enter);
    assert!(ro.dialog.is_none());
}

#[test]
fn keys_scroll_2000_rows_and_keep_selection() {
    let th = Theme::load("dark", false, false).unwrap();
    let mut a = App::new(fixture::large(2000), th, false, fixture::now());
    a.size = (200, 60);
    key(&mut a, KeyCode::Char('2'));
    key(&mut a, KeyCode::Char('G'));
    assert_eq!(a.db_cursor, 1999);
    let s = screen(&mut a, 200, 60);
    let last = a.data.dbs[a.rows[1999]].db_id.clone();
    assert!(s.contains(&last), "last row visible after G");
    key(&mut a, KeyCode::Char('g'));
    key(&mut a, KeyCode::Char('g'));
    assert_eq!(a.db_cursor, 0);
    for _ in 0..3 {
        handle_key(
            &mut a,
            KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL),
        );
    }
    let sel = a.db_sel.clone().unwrap();
    // New data arrives: the same database stays selected even if its row moves.
    let mut dbs = a.data.dbs.clone();
    dbs.remove(0);
    a.on_feed(FeedUpdate {
        dbs: Some(dbs),
        ..Default::default()
    });
    assert_eq!(a.db_sel.as_deref(), Some(sel.as_str()));
}

#[test]
fn ctrl_c_asks_only_while_an_action_is_typed() {
    let mut a = app(false, false);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    a.open_dialog(Action::Cutover, Target::Db("pay-ledger-01".into()));
    typed(&mut a, "pay");
    assert_eq!(handle_key(&mut a, ctrl_c), None);
    assert_eq!(handle_key(&mut a, ctrl_c), Some(Intent::Quit));
    let mut b = app(false, false);
    assert_eq!(handle_key(&mut b, ctrl_c), Some(Intent::Quit));
}

#[test]
fn no_color_theme_keeps_meaning_in_symbols() {
    let th = Theme::load("dark", false, true).unwrap();
    let mut a = App::new(fixture::small(), th, false, fixture::now());
    a.open_detail("pay-ledger-01");
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("✓ validation passed"), "{s}");
    key(&mut a, KeyCode::Char('1'));
    let s = screen(&mut a, 120, 40);
    // Without colour the stacked bar uses one letter per stage.
    assert!(s.contains('R') && s.contains('X'), "{s}");
}

#[test]
fn a_wave_waiting_on_the_operator_or_on_no_engine_shows_no_eta() {
    use crate::lifecycle::Stage;
    let mut a = app(false, false);
    let wave = a
        .data
        .waves
        .iter()
        .find(|w| w.started_at.is_some())
        .map(|w| w.wave)
        .expect("the fixture has a started wave");
    let member = |d: &crate::store::model::DbState| d.wave == Some(wave);
    assert!(a.data.dbs.iter().filter(|d| member(d)).count() > 0);
    let moving = super::views::wave_summary(&a, Some(wave));
    assert!(
        moving.eta_s.is_some(),
        "databases still moving on their own get an ETA"
    );
    // No engine holds the store: nothing moves, however long one waits.
    a.data.engine = Some(None);
    assert_eq!(super::views::wave_summary(&a, Some(wave)).eta_s, None);
    a.data.engine = Some(Some("engine@host".into()));
    assert!(super::views::wave_summary(&a, Some(wave)).eta_s.is_some());
    for d in a.data.dbs.iter_mut().filter(|d| member(d)) {
        d.stage = Stage::Ready;
        d.held_stage = None;
    }
    let waiting = super::views::wave_summary(&a, Some(wave));
    assert!(waiting.progress < 1.0);
    assert_eq!(
        waiting.eta_s, None,
        "all at ready: nothing moves until the operator acts"
    );
}

#[test]
fn a_wave_cutover_goes_for_the_members_that_pass_and_names_the_rest() {
    use crate::lifecycle::Stage;
    use crate::store::model::ValidationSummary;
    let mut a = app(false, false);
    // Wave 0 (approved, window open at the fixture's now): every member ready with a fresh
    // validation, but one lags too far behind.
    let mut members = 0;
    for d in a.data.dbs.iter_mut().filter(|d| d.wave == Some(0)) {
        members += 1;
        d.stage = Stage::Ready;
        d.held_stage = None;
        d.lag_s = Some(if members == 2 { 99.0 } else { 1.0 });
        d.validation = Some(ValidationSummary {
            passed: true,
            at: fixture::now() - chrono::Duration::minutes(5),
            summary: "ok".into(),
        });
    }
    assert!(members >= 3, "the fixture's wave 0 has {members} databases");
    let laggard = a
        .data
        .dbs
        .iter()
        .find(|d| d.lag_s == Some(99.0))
        .map(|d| d.db_id.clone())
        .unwrap();

    key(&mut a, KeyCode::Char('1'));
    assert_eq!(a.view, View::Waves);
    key(&mut a, KeyCode::Char('c'));
    let d = a
        .dialog
        .as_ref()
        .expect("c opens the wave's cutover dialog");
    assert_eq!(
        (&d.target, d.confirm.as_deref()),
        (&Target::Wave(0), Some("wave-0"))
    );
    let line = |name: &str| d.guards.iter().find(|g| g.name == name).cloned().unwrap();
    let ready = line("members_ready");
    assert!(ready.ok, "{ready:?}");
    assert_eq!(
        ready.sentence,
        format!(
            "{} of {members} databases of wave 0 pass their cutover guards now",
            members - 1
        )
    );
    let waiting = line("members_waiting");
    assert!(
        waiting.sentence.starts_with("1 refused for now: ")
            && waiting.sentence.contains(&laggard)
            && waiting.sentence.contains("lag"),
        "{waiting:?}"
    );

    typed(&mut a, "wave-0");
    assert_eq!(
        key(&mut a, KeyCode::Enter),
        Some(Intent::Submit {
            action: Action::Cutover,
            target: Target::Wave(0),
            args: serde_json::json!({"confirmed": "wave-0"}),
        })
    );
    // The engine's note says who moved and who was refused, wrapped inside the dialog.
    a.on_submitted(Ok(9));
    let note = format!(
        "wave 0: {} of {members} databases; 1 refused for now: {laggard} (lag 99 s > 5 s); end-of-note",
        members - 1
    );
    a.on_feed(FeedUpdate {
        commands: Some(vec![CommandRow {
            id: 9,
            time: fixture::now(),
            who: "op".into(),
            role: Role::Operator,
            action: Action::Cutover,
            target: Target::Wave(0),
            args: serde_json::json!({}),
            status: CommandStatus::Accepted,
            reason: Some(note.clone()),
            decided_at: Some(fixture::now()),
        }]),
        ..Default::default()
    });
    assert_eq!(
        a.dialog.as_ref().unwrap().status,
        DialogStatus::Accepted(9, Some(note))
    );
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("accepted: wave 0:"), "{s}");
    assert!(
        s.contains("end-of-note"),
        "the end of the note is on screen too: {s}"
    );

    // Nobody passes (the window is not approved): the dialog blocks the wave's cutover.
    let mut b = app(false, false);
    for w in b.data.waves.iter_mut().filter(|w| w.wave == 0) {
        w.approved_by = None;
    }
    b.open_dialog(Action::Cutover, Target::Wave(0));
    let d = b.dialog.as_ref().unwrap();
    let ready = d.guards.iter().find(|g| g.name == "members_ready").unwrap();
    assert!(
        !ready.ok && ready.sentence.starts_with("none of the "),
        "{ready:?}"
    );
}

/// `:signoff ROLE [note]` on the database in view: refused for a role the user does not hold
/// and in a read-only session; the cutover dialog names who signed and who is still needed,
/// from the engine's own `db.signoff` event folded by the store.
#[test]
fn signoff_from_the_cockpit_and_the_cutover_dialog_lists_the_missing_roles() {
    use crate::signoff::{Needs, SignoffConfig, SignoffRole};
    let cfg: SignoffConfig = serde_yaml::from_str(
        "required:\n  low: [tech_lead, data_owner]\n  high: [tech_lead, data_owner, business_owner]\nholders:\n  tech_lead: [alice]\n  data_owner: [bob]\n",
    )
    .unwrap();
    let signed = fixture::signed_off("pay-ledger-01", &cfg, "alice", SignoffRole::TechLead, 1);
    let with = |read_only: bool| {
        let mut a = app(false, read_only);
        a.signoff = cfg.clone();
        a.limits.signoff = Needs::from_config(&cfg);
        a.who = "bob".into();
        a.on_feed(signed.clone());
        a.open_detail("pay-ledger-01");
        a
    };
    let command = |a: &mut App, line: &str| {
        key(a, KeyCode::Char(':'));
        typed(a, line);
        key(a, KeyCode::Enter)
    };

    let mut a = with(false);
    a.open_dialog(Action::Cutover, Target::Db("pay-ledger-01".into()));
    let g = a
        .dialog
        .as_ref()
        .unwrap()
        .guards
        .iter()
        .find(|g| g.name == "signoff")
        .cloned();
    assert_eq!(
        g.map(|g| (g.ok, g.sentence)),
        Some((
            false,
            "sign-off missing: data_owner (signed: tech_lead by alice)".to_string()
        ))
    );
    insta::assert_snapshot!(
        "dialog_cutover_signoff_missing_100x30",
        screen(&mut a, 100, 30)
    );
    key(&mut a, KeyCode::Esc);

    // bob holds data_owner only: tech_lead is refused before anything is written.
    assert_eq!(command(&mut a, "signoff tech_lead"), None);
    assert!(a.dialog.is_none());
    let f = a.flash.as_ref().unwrap().text.clone();
    assert!(
        f.starts_with("signoff refused: bob does not hold the tech_lead role (its holders: alice"),
        "{f}"
    );
    assert_eq!(
        command(&mut a, "signoff data_owner rows checked by hand"),
        None
    );
    let d = a.dialog.as_ref().expect("the sign-off dialog opens");
    assert_eq!((d.action, d.confirm.as_deref()), (Action::Signoff, None));
    let after = d.guards.iter().find(|g| g.name == "signoff").unwrap();
    assert_eq!(
        after.sentence,
        "after this: signed off: tech_lead by alice, data_owner by bob"
    );
    insta::assert_snapshot!("dialog_signoff_100x30", screen(&mut a, 100, 30));
    assert_eq!(
        key(&mut a, KeyCode::Enter),
        Some(Intent::Submit {
            action: Action::Signoff,
            target: Target::Db("pay-ledger-01".into()),
            args: serde_json::json!({"role": "data_owner", "note": "rows checked by hand"}),
        })
    );

    let mut ro = with(true);
    assert_eq!(command(&mut ro, "signoff data_owner"), None);
    assert!(ro.dialog.is_none());
    assert!(
        ro.flash
            .as_ref()
            .unwrap()
            .text
            .contains("viewer cannot sign off"),
        "{:?}",
        ro.flash
    );
}

/// The Alerts view over the alert rules' own events (fixture::alert_log): standing alerts with
/// value against threshold and since, the acknowledged one marked, and the count in the header.
#[test]
fn snapshot_alerts() {
    let th = Theme::load("dark", false, false).unwrap();
    let mut a = App::new(fixture::alerting(), th, false, fixture::now());
    assert!(
        !a.data.alerts.standing.is_empty(),
        "the rules raised nothing"
    );
    key(&mut a, KeyCode::Char('5'));
    assert_eq!(a.view, View::Alerts);
    insta::assert_snapshot!("alerts_120x40", screen(&mut a, 120, 40));
    insta::assert_snapshot!("alerts_80x24", screen(&mut a, 80, 24));
}

/// `A` on a standing alert opens the acknowledge dialog with the board's guards, and `y`
/// submits `ack_alert` aimed at its database with its rule; on an acknowledged one the dialog
/// says so and submits nothing; a read-only session opens no dialog.
#[test]
fn ack_submits_the_alert_under_the_cursor() {
    let th = Theme::load("dark", false, false).unwrap();
    let mut a = App::new(fixture::alerting(), th.clone(), false, fixture::now());
    key(&mut a, KeyCode::Char('5'));
    let ((rule, db), s) = a.current_alert().expect("an alert under the cursor");
    let (rule, db) = (rule.clone(), db.clone());
    assert!(s.acked_by.is_none(), "{rule} {db:?} acked already");
    key(&mut a, KeyCode::Char('A'));
    assert_eq!(a.mode, Mode::Dialog);
    let d = a.dialog.as_ref().unwrap();
    assert!(!d.blocked(), "{:?}", d.guards);
    assert_eq!(
        key(&mut a, KeyCode::Char('y')),
        Some(Intent::Submit {
            action: Action::AckAlert,
            target: db.clone().map_or(Target::Factory, Target::Db),
            args: serde_json::json!({ "rule": rule }),
        })
    );

    // The acknowledged one (alice's, in the fixture): blocked, with who.
    let mut a = App::new(fixture::alerting(), th.clone(), false, fixture::now());
    key(&mut a, KeyCode::Char('5'));
    let i = a
        .data
        .alerts
        .standing
        .values()
        .position(|s| s.acked_by.is_some())
        .expect("the fixture acknowledges one");
    for _ in 0..i {
        key(&mut a, KeyCode::Char('j'));
    }
    key(&mut a, KeyCode::Char('A'));
    let d = a.dialog.as_ref().unwrap();
    assert!(d.blocked());
    assert!(
        d.guards
            .iter()
            .any(|g| g.sentence.contains("already, by alice")),
        "{:?}",
        d.guards
    );
    assert_eq!(key(&mut a, KeyCode::Char('y')), None);

    let mut ro = App::new(fixture::alerting(), th, true, fixture::now());
    key(&mut ro, KeyCode::Char('5'));
    key(&mut ro, KeyCode::Char('A'));
    assert_eq!(ro.mode, Mode::Normal);
    assert!(ro.dialog.is_none());
    let s = screen(&mut ro, 120, 40);
    assert!(!s.contains("A ack"), "read-only footer offers ack:\n{s}");
}

/// The header at every width the cockpit draws, with every badge up and sign-off holders
/// configured: the clock and the badges always show; the holders, then the tabs' names give
/// way (the current tab keeps its name). The whole screen at 80x24 as a snapshot.
#[test]
fn the_header_gives_way_so_the_clock_always_shows() {
    let cfg: crate::signoff::SignoffConfig = serde_yaml::from_str(
        "holders:\n  tech_lead: [alice]\n  data_owner: [bob]\n  business_owner: [dave]\n",
    )
    .unwrap();
    let mut a = app(false, true);
    a.signoff = cfg;
    a.data.engine = Some(None);
    let clock = fixture::now().format("%H:%M UTC").to_string();
    for frozen in [false, true] {
        a.frozen = frozen;
        for w in super::views::MIN_W..=200 {
            let s = screen(&mut a, w, 24);
            let head = s.lines().next().unwrap();
            assert!(head.ends_with(&clock), "{w} columns: {head}");
            assert!(head.contains(" NO ENGINE "), "{w}: {head}");
            assert!(head.contains(" READ-ONLY "), "{w}: {head}");
            assert_eq!(head.contains(" FROZEN "), frozen, "{w}: {head}");
            if !frozen || w > 61 {
                assert!(
                    head.contains("1 Waves"),
                    "the current tab keeps its name: {head}"
                );
            }
            if w >= 140 {
                assert!(head.contains("2 Databases"), "{w}: {head}");
            }
        }
    }
    a.frozen = false;
    let wide = screen(&mut a, 200, 24);
    assert!(
        wide.lines()
            .next()
            .unwrap()
            .contains("sign-off tech_lead: alice; data_owner: bob; business_owner: dave"),
        "{wide}"
    );
    let s = screen(&mut a, 80, 24);
    assert!(s.lines().next().unwrap().contains("sign-off tech_l"), "{s}");
    insta::assert_snapshot!("header_signoff_read_only_80x24", s);
}

/// An offline database's cutover dialog says the offline order (no final sync) and the write
/// outage the plan's one estimate expects, with where each rate comes from, before the typed
/// confirmation; the command it submits carries that estimate. After the brain's offline
/// cutover, the detail shows the outage the engine measured beside the expected one.
#[test]
fn snapshot_offline_dialog_and_outage() {
    let th = Theme::load("dark", false, false).unwrap();
    let (data, _) = fixture::offline(false);
    let mut a = App::new(data, th.clone(), false, fixture::now());
    let db = Target::Db("hr-offline-01".into());
    a.open_dialog(Action::Cutover, db.clone());
    let s = screen(&mut a, 120, 40);
    assert!(s.contains("Offline: exposure checked again"), "{s}");
    assert!(!s.contains("final sync"), "{s}");
    let expected = crate::plan::expected::of(
        a.data.db("hr-offline-01").unwrap(),
        &crate::plan::PlanLimits::from_config(&Default::default()),
    )
    .unwrap();
    assert!(s.contains(&expected.outage.sentence()), "{s}");
    let at = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle}: {s}"));
    assert!(at("Writes stop for about") < at("to confirm:"), "{s}");
    insta::assert_snapshot!("dialog_cutover_offline_120x40", s);
    insta::assert_snapshot!("dialog_cutover_offline_80x24", screen(&mut a, 80, 24));
    typed(&mut a, "hr-offline-01");
    match key(&mut a, KeyCode::Enter) {
        Some(Intent::Submit { args, .. }) => assert_eq!(
            crate::plan::expected::from_args(&args, "hr-offline-01"),
            Some(expected.outage.total_s()),
            "{args}"
        ),
        other => panic!("no submit: {other:?}"),
    }

    // After the cutover: the brain's measured outage beside the estimate the accepted
    // command carried.
    let (data, log) = fixture::offline(true);
    let real = log
        .iter()
        .find_map(|e| e.payload["outage_s"].as_f64())
        .expect("the brain measured the outage");
    let mut a = App::new(data, th, false, fixture::now());
    a.open_detail("hr-offline-01");
    let s = screen(&mut a, 120, 40);
    let want = format!(
        "write outage {real:.1} s (expected {})",
        crate::plan::estimate::human(expected.outage.total_s())
    );
    assert!(s.contains(&want), "{want}: {s}");
    insta::assert_snapshot!("detail_offline_hypercare_120x40", s);
}
