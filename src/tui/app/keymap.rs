//! The cockpit's keys in one table. Each `Binding` is one line of the `?` help: the keys it
//! documents and what each does, the views where they act, whether it changes the migration, and
//! the footer hints it gives. Dispatch (`update.rs`), the help, the footer and read-only filtering
//! all read it, so a key cannot work without being documented or be hidden by spelling. The keys
//! of the help, the action dialog and the `/` `:` line are `MODE_BINDINGS`, the same kind of row
//! with a `Context` instead of views: their dispatch, help lines and hint lines come from there.
//! The `:` verbs are parsed by `query::parse_command`; their help lines and danger are `VERBS`.

use super::state::{Dialog, DialogStatus, SortKey, View};
use crate::store::model::Action;
use crate::tui::wavelist::WaveSort;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key does in normal mode (no dialog, help or input line open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UiAction {
    /// Switch to a view.
    Go(View),
    /// The Database view of the database under the cursor, or of the last one shown.
    Detail,
    NextView,
    PrevView,
    Down,
    Up,
    HalfDown,
    HalfUp,
    PageDown,
    PageUp,
    First,
    Last,
    /// `g`: the first row on the second press.
    G,
    /// Enter: a wave's databases, a database's detail.
    Open,
    Back,
    /// Open the `/` line of the view.
    Filter,
    /// Fold or unfold the one-database waves.
    Unfold,
    SortWaves(WaveSort),
    FaultsOnly,
    Sort(SortKey),
    /// The Events view's minimum severity, one step up (back to info after fail).
    Severity,
    Telemetry,
    Freeze,
    CommandLine,
    Help,
    /// Close, clear the view's filter, back from the detail.
    Escape,
    /// Back from the detail, quit elsewhere.
    Quit,
    /// Open the dialog of an action.
    Act(Action),
}

/// Whether the Control modifier must be held, must not be, or does not matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctrl {
    Any,
    No,
    Yes,
}

/// A key as the table matches it. Shift is part of the character ('G' vs 'g').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: Ctrl,
}

impl Key {
    pub fn matches(&self, e: &KeyEvent) -> bool {
        let held = e.modifiers.contains(KeyModifiers::CONTROL);
        self.code == e.code
            && match self.ctrl {
                Ctrl::Any => true,
                Ctrl::No => !held,
                Ctrl::Yes => held,
            }
    }
}

const fn ch(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: Ctrl::Any,
    }
}

/// Without Control: `h` is back, Control-h is not.
const fn plain(code: KeyCode) -> Key {
    Key {
        code,
        ctrl: Ctrl::No,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: Ctrl::Yes,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        ctrl: Ctrl::Any,
    }
}

/// A footer hint: in `view` (every view when `None`), at position `at`, `key` then `word`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint {
    pub view: Option<View>,
    pub at: u8,
    pub key: &'static str,
    pub word: &'static str,
}

const fn hint(view: View, at: u8, key: &'static str, word: &'static str) -> Hint {
    Hint {
        view: Some(view),
        at,
        key,
        word,
    }
}

/// Shown in every view, after the view's own hints.
const fn always(at: u8, key: &'static str, word: &'static str) -> Hint {
    Hint {
        view: None,
        at: 100 + at,
        key,
        word,
    }
}

/// One line of the help and the keys it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The keys as the help shows them.
    pub label: &'static str,
    pub desc: &'static str,
    /// Each key and what it does. Empty: handled before the modes (ctrl-c, `handle_key`).
    pub keys: &'static [(Key, UiAction)],
    /// The views where the keys act; empty: every view.
    pub views: &'static [View],
    /// Changes the migration: left out of the help and the footer in a read-only session
    /// (the dialog refuses it there, and the engine refuses a viewer's command).
    pub dangerous: bool,
    pub hints: &'static [Hint],
}

impl Binding {
    pub fn acts_in(&self, view: View) -> bool {
        self.views.is_empty() || self.views.contains(&view)
    }
}

const fn nav(
    label: &'static str,
    desc: &'static str,
    keys: &'static [(Key, UiAction)],
    views: &'static [View],
    hints: &'static [Hint],
) -> Binding {
    Binding {
        label,
        desc,
        keys,
        views,
        dangerous: false,
        hints,
    }
}

const fn act(
    c: &'static str,
    desc: &'static str,
    keys: &'static [(Key, UiAction)],
    views: &'static [View],
    hints: &'static [Hint],
) -> Binding {
    Binding {
        label: c,
        desc,
        keys,
        views,
        dangerous: true,
        hints,
    }
}

use UiAction as U;
use View as V;

const ACT_VIEWS: &[View] = &[V::Waves, V::Databases, V::Detail];
const DB_VIEWS: &[View] = &[V::Databases, V::Detail];

/// Every key of normal mode, in help order. Where two lines could take the same key (ctrl-u
/// and `u`), the earlier line wins.
pub const BINDINGS: &[Binding] = &[
    nav(
        "0-5, Tab",
        "Program, Waves, Databases, Events, Detail, Alerts",
        &[
            (ch('0'), U::Go(V::Program)),
            (ch('1'), U::Go(V::Waves)),
            (ch('2'), U::Go(V::Databases)),
            (ch('3'), U::Go(V::Events)),
            (ch('4'), U::Detail),
            (ch('5'), U::Go(V::Alerts)),
            (code(KeyCode::Tab), U::NextView),
            (code(KeyCode::BackTab), U::PrevView),
        ],
        &[],
        &[
            hint(V::Program, 0, "1", "waves"),
            hint(V::Program, 1, "2", "databases"),
            hint(V::Program, 2, "3", "events"),
        ],
    ),
    nav(
        "j k, Down Up",
        "move",
        &[
            (ch('j'), U::Down),
            (code(KeyCode::Down), U::Down),
            (ch('k'), U::Up),
            (code(KeyCode::Up), U::Up),
        ],
        &[],
        &[],
    ),
    nav(
        "gg G, Home End",
        "first / last",
        &[
            (ch('g'), U::G),
            (ch('G'), U::Last),
            (code(KeyCode::Home), U::First),
            (code(KeyCode::End), U::Last),
        ],
        &[],
        &[],
    ),
    nav(
        "ctrl-d ctrl-u",
        "half page down / up",
        &[(ctrl('d'), U::HalfDown), (ctrl('u'), U::HalfUp)],
        &[],
        &[],
    ),
    nav(
        "PgDn PgUp",
        "page down / up",
        &[
            (code(KeyCode::PageDown), U::PageDown),
            (code(KeyCode::PageUp), U::PageUp),
            (ctrl('f'), U::PageDown),
            (ctrl('b'), U::PageUp),
        ],
        &[],
        &[],
    ),
    nav(
        "Enter l",
        "open (wave -> its databases, database -> detail)",
        &[
            (code(KeyCode::Enter), U::Open),
            (ch('l'), U::Open),
            (code(KeyCode::Right), U::Open),
        ],
        &[],
        &[
            hint(V::Waves, 0, "Enter", "databases"),
            hint(V::Databases, 0, "Enter", "detail"),
            hint(V::Events, 3, "Enter", "db"),
            hint(V::Alerts, 1, "Enter", "db"),
        ],
    ),
    nav(
        "h [",
        "back",
        &[
            (plain(KeyCode::Char('h')), U::Back),
            (plain(KeyCode::Char('[')), U::Back),
            (plain(KeyCode::Left), U::Back),
        ],
        &[],
        &[],
    ),
    nav(
        "/",
        "filter: text stage:cdc wave:2 engine:mysql owner:x lag>5 !inverts",
        &[(ch('/'), U::Filter)],
        &[V::Databases, V::Events],
        &[
            hint(V::Databases, 1, "/", "filter"),
            hint(V::Events, 0, "/", "filter"),
        ],
    ),
    nav(
        "/ (Waves)",
        "filter waves: state:planned|running|done within:7 fail owner:x",
        &[(ch('/'), U::Filter)],
        &[V::Waves],
        &[],
    ),
    nav(
        "W O X Z  +",
        "waves: sort by number, next opening, failures, size; + unfolds 1-db waves",
        &[
            (ch('W'), U::SortWaves(WaveSort::Number)),
            (ch('O'), U::SortWaves(WaveSort::Opens)),
            (ch('X'), U::SortWaves(WaveSort::Failures)),
            (ch('Z'), U::SortWaves(WaveSort::Size)),
            (ch('+'), U::Unfold),
        ],
        &[V::Waves],
        &[],
    ),
    nav(
        "F",
        "faults only: failed, paused, lag above threshold, bad validation",
        &[(ch('F'), U::FaultsOnly)],
        &[V::Databases],
        &[hint(V::Databases, 3, "F", "faults")],
    ),
    nav(
        "N S W L Z A P",
        "sort by name stage wave lag size age progress (again: reverse)",
        &[
            (ch('N'), U::Sort(SortKey::Name)),
            (ch('S'), U::Sort(SortKey::Stage)),
            (ch('W'), U::Sort(SortKey::Wave)),
            (ch('L'), U::Sort(SortKey::Lag)),
            (ch('Z'), U::Sort(SortKey::Size)),
            (ch('A'), U::Sort(SortKey::Age)),
            (ch('P'), U::Sort(SortKey::Progress)),
        ],
        &[V::Databases],
        &[hint(V::Databases, 2, "S/L/W", "sort")],
    ),
    nav(
        "e  v",
        "events: minimum severity; show lag/progress telemetry",
        &[(ch('e'), U::Severity), (ch('v'), U::Telemetry)],
        &[V::Events],
        &[
            hint(V::Events, 1, "e", "severity"),
            hint(V::Events, 2, "v", "telemetry"),
        ],
    ),
    nav(
        "f",
        "freeze / unfreeze the live view",
        &[(ch('f'), U::Freeze)],
        &[],
        &[],
    ),
    nav(
        ":",
        "command line (see below)",
        &[(ch(':'), U::CommandLine)],
        &[],
        &[always(0, ":", "cmd")],
    ),
    nav(
        "?",
        "this help",
        &[(ch('?'), U::Help)],
        &[],
        &[always(1, "?", "help")],
    ),
    nav(
        "Esc",
        "clear the view's filter, back from detail, dismiss the message",
        &[(code(KeyCode::Esc), U::Escape)],
        &[],
        &[hint(V::Detail, 3, "Esc", "back")],
    ),
    nav(
        "q",
        "back from detail; quit elsewhere",
        &[(ch('q'), U::Quit)],
        &[],
        &[always(2, "q", "quit")],
    ),
    nav(
        "ctrl-c",
        "quit (asks again if an action is being typed)",
        &[],
        &[],
        &[],
    ),
    act(
        "a",
        "approve the wave's window",
        &[(ch('a'), U::Act(Action::ApproveWindow))],
        &[V::Waves],
        &[hint(V::Waves, 1, "a", "approve")],
    ),
    act(
        "s",
        "start the wave",
        &[(ch('s'), U::Act(Action::StartWave))],
        &[V::Waves],
        &[hint(V::Waves, 2, "s", "start")],
    ),
    act(
        "p",
        "pause",
        &[(ch('p'), U::Act(Action::Pause))],
        ACT_VIEWS,
        &[],
    ),
    act(
        "u",
        "resume (unpause)",
        &[(ch('u'), U::Act(Action::Resume))],
        ACT_VIEWS,
        &[],
    ),
    act(
        "x",
        "abort (type the name)",
        &[(ch('x'), U::Act(Action::Abort))],
        ACT_VIEWS,
        &[],
    ),
    act(
        "r",
        "retry a failed database",
        &[(ch('r'), U::Act(Action::Retry))],
        DB_VIEWS,
        &[hint(V::Detail, 2, "r", "retry")],
    ),
    act(
        "c",
        "cut over (type the db_id, or wave-N for a wave)",
        &[(ch('c'), U::Act(Action::Cutover))],
        ACT_VIEWS,
        &[
            hint(V::Waves, 3, "c", "cutover"),
            hint(V::Databases, 4, "c", "cutover"),
            hint(V::Detail, 0, "c", "cutover"),
        ],
    ),
    act(
        "b",
        "roll back (type the db_id)",
        &[(ch('b'), U::Act(Action::Rollback))],
        DB_VIEWS,
        &[hint(V::Detail, 1, "b", "rollback")],
    ),
    act(
        "H",
        "close hypercare",
        &[(ch('H'), U::Act(Action::CloseHypercare))],
        DB_VIEWS,
        &[],
    ),
    act(
        "T",
        "restore test: restore the newest backup to a temporary instance, smoke-test it, delete it",
        &[(ch('T'), U::Act(Action::RestoreTest))],
        DB_VIEWS,
        &[],
    ),
    act(
        "A",
        "acknowledge the alert under the cursor (records who)",
        &[(ch('A'), U::Act(Action::AckAlert))],
        &[V::Alerts],
        &[hint(V::Alerts, 0, "A", "ack")],
    ),
];

/// What `key` does in `view`, if anything.
pub fn lookup(view: View, key: &KeyEvent) -> Option<UiAction> {
    BINDINGS
        .iter()
        .filter(|b| b.acts_in(view))
        .flat_map(|b| b.keys)
        .find(|(k, _)| k.matches(key))
        .map(|(_, a)| *a)
}

/// The footer hints of `view` in order; in a read-only session none that changes the migration.
pub fn hints(view: View, read_only: bool) -> Vec<Hint> {
    let mut hs: Vec<Hint> = BINDINGS
        .iter()
        .filter(|b| !(read_only && b.dangerous))
        .flat_map(|b| b.hints)
        .filter(|h| h.view.is_none_or(|v| v == view))
        .copied()
        .collect();
    hs.sort_by_key(|h| h.at);
    hs
}

/// Where a key of `MODE_BINDINGS` acts: the help, the action dialog by its state, or the input
/// line (`/` filter, `:` command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Help,
    /// A dialog asking yes or no (no text to type).
    Asking,
    /// A dialog waiting for its confirmation text (the db_id, wave-N or the name).
    Typing,
    /// A submitted dialog showing the engine's verdict.
    Done,
    Filter,
    Command,
}

impl Context {
    pub const ALL: [Context; 6] = [
        Context::Help,
        Context::Asking,
        Context::Typing,
        Context::Done,
        Context::Filter,
        Context::Command,
    ];
}

/// What a key does while the help, a dialog or the input line is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeAction {
    ScrollDown,
    ScrollUp,
    /// Close the help, or the dialog showing its outcome.
    Close,
    /// Submit the dialog's action (refused with the reason while a guard fails or the text
    /// does not match).
    Submit,
    /// Close the dialog or the `:` line without doing anything; clear a `/` filter.
    Cancel,
    /// Erase the last typed character (on an empty `:` line: close it).
    Erase,
    /// Erase the whole line.
    Clear,
    /// Keep the filter, run the command.
    Enter,
}

/// One help line of a mode and the keys it stands for; `hint` is its part of the mode's hint
/// line (key, word), shown wherever the row acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeBinding {
    pub label: &'static str,
    pub desc: &'static str,
    /// Each key and what it does. Empty: the characters typed into the line or the dialog.
    pub keys: &'static [(Key, ModeAction)],
    pub contexts: &'static [Context],
    /// A dialog's key: a read-only session never opens a dialog, so its help leaves them out.
    pub dangerous: bool,
    pub hint: Option<(&'static str, &'static str)>,
}

const fn mode(
    label: &'static str,
    desc: &'static str,
    keys: &'static [(Key, ModeAction)],
    contexts: &'static [Context],
    hint: Option<(&'static str, &'static str)>,
) -> ModeBinding {
    ModeBinding {
        label,
        desc,
        keys,
        contexts,
        dangerous: false,
        hint,
    }
}

const fn dialog(
    label: &'static str,
    desc: &'static str,
    keys: &'static [(Key, ModeAction)],
    contexts: &'static [Context],
    hint: Option<(&'static str, &'static str)>,
) -> ModeBinding {
    ModeBinding {
        label,
        desc,
        keys,
        contexts,
        dangerous: true,
        hint,
    }
}

use Context as C;
use ModeAction as M;

/// Every key of the help, the dialog and the input line, in help order.
pub const MODE_BINDINGS: &[ModeBinding] = &[
    mode(
        "j k, Down Up",
        "scroll the help",
        &[
            (ch('j'), M::ScrollDown),
            (code(KeyCode::Down), M::ScrollDown),
            (ch('k'), M::ScrollUp),
            (code(KeyCode::Up), M::ScrollUp),
        ],
        &[C::Help],
        Some(("j/k", "scroll")),
    ),
    mode(
        "Esc q ? Enter",
        "close the help",
        &[
            (code(KeyCode::Esc), M::Close),
            (ch('q'), M::Close),
            (ch('?'), M::Close),
            (code(KeyCode::Enter), M::Close),
        ],
        &[C::Help],
        Some(("Esc", "close")),
    ),
    dialog(
        "Enter y",
        "submit the action (a yes/no dialog)",
        &[(code(KeyCode::Enter), M::Submit), (ch('y'), M::Submit)],
        &[C::Asking],
        Some(("Enter or y", "submits")),
    ),
    dialog(
        "Esc n",
        "cancel (a yes/no dialog)",
        &[(code(KeyCode::Esc), M::Cancel), (ch('n'), M::Cancel)],
        &[C::Asking],
        Some(("Esc or n", "cancels")),
    ),
    dialog(
        "letters",
        "type the confirmation the dialog asks for",
        &[],
        &[C::Typing],
        None,
    ),
    dialog(
        "Backspace",
        "erase the last typed character",
        &[(code(KeyCode::Backspace), M::Erase)],
        &[C::Typing],
        None,
    ),
    dialog(
        "Enter",
        "submit once the typed text matches",
        &[(code(KeyCode::Enter), M::Submit)],
        &[C::Typing],
        Some(("Enter", "submits once the text matches")),
    ),
    dialog(
        "Esc",
        "cancel",
        &[(code(KeyCode::Esc), M::Cancel)],
        &[C::Typing],
        Some(("Esc", "cancels")),
    ),
    dialog(
        "Enter Esc q",
        "close the dialog once the engine answered",
        &[
            (code(KeyCode::Enter), M::Close),
            (code(KeyCode::Esc), M::Close),
            (ch('q'), M::Close),
        ],
        &[C::Done],
        Some(("Enter or Esc", "closes")),
    ),
    mode(
        "letters",
        "type the filter (applied as you type) or the command",
        &[],
        &[C::Filter, C::Command],
        None,
    ),
    mode(
        "Bksp  ctrl-u",
        "erase a character (an empty : line closes) / the whole line",
        &[(code(KeyCode::Backspace), M::Erase), (ctrl('u'), M::Clear)],
        &[C::Filter, C::Command],
        None,
    ),
    mode(
        "Enter",
        "/: keep the filter",
        &[(code(KeyCode::Enter), M::Enter)],
        &[C::Filter],
        Some(("Enter", "keep")),
    ),
    mode(
        "Esc",
        "/: clear the filter",
        &[(code(KeyCode::Esc), M::Cancel)],
        &[C::Filter],
        Some(("Esc", "clear")),
    ),
    mode(
        "Enter",
        ":: run the command",
        &[(code(KeyCode::Enter), M::Enter)],
        &[C::Command],
        Some(("Enter", "run")),
    ),
    mode(
        "Esc",
        ":: cancel",
        &[(code(KeyCode::Esc), M::Cancel)],
        &[C::Command],
        Some(("Esc", "cancel")),
    ),
];

/// Which rows act on dialog `d` now: yes/no or a typed confirmation while it asks, the close
/// keys once it was submitted.
pub fn dialog_context(d: &Dialog) -> Context {
    match (&d.status, &d.confirm) {
        (DialogStatus::Asking, None) => Context::Asking,
        (DialogStatus::Asking, Some(_)) => Context::Typing,
        _ => Context::Done,
    }
}

/// What `key` does in `ctx`, if a row says (else a typed character, where the context types).
pub fn lookup_mode(ctx: Context, key: &KeyEvent) -> Option<ModeAction> {
    MODE_BINDINGS
        .iter()
        .filter(|b| b.contexts.contains(&ctx))
        .flat_map(|b| b.keys)
        .find(|(k, _)| k.matches(key))
        .map(|(_, a)| *a)
}

/// The hint line of `ctx` ("Enter or y submits · Esc or n cancels"), from the rows that act
/// there and whose action `keep` accepts.
pub fn mode_hint(ctx: Context, keep: impl Fn(ModeAction) -> bool) -> String {
    MODE_BINDINGS
        .iter()
        .filter(|b| b.contexts.contains(&ctx))
        .filter(|b| b.keys.iter().any(|(_, a)| keep(*a)))
        .filter_map(|b| b.hint)
        .map(|(k, w)| format!("{k} {w}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One line of the `:` help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verb {
    pub usage: &'static str,
    pub desc: &'static str,
    /// Opens an action's dialog: left out of the help in a read-only session.
    pub dangerous: bool,
}

const fn verb(usage: &'static str, desc: &'static str, dangerous: bool) -> Verb {
    Verb {
        usage,
        desc,
        dangerous,
    }
}

/// The `:` verbs `query::parse_command` reads, for the help.
pub const VERBS: &[Verb] = &[
    verb(":program  :waves  :dbs  :events", "switch view", false),
    verb(":alerts", "standing and recently cleared alerts", false),
    verb(":wave N", "databases of wave N", false),
    verb(":db ID", "open one database", false),
    verb(
        ":approve N  :start N",
        "approve the window / start wave N",
        true,
    ),
    verb(
        ":pause X  :resume X  :abort X",
        "X is a db_id or a wave number",
        true,
    ),
    verb(
        ":cutover ID  :cutover wave-N",
        "one database / a whole wave",
        true,
    ),
    verb(":retry ID  :rollback ID", "one database", true),
    verb(":close ID", "close hypercare of one database", true),
    verb(
        ":signoff ROLE [note]",
        "sign off what is in view, in a role you hold",
        true,
    ),
    verb(":q", "quit", false),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::query::{parse_command, Command};

    const VIEWS: [View; 6] = [
        V::Program,
        V::Waves,
        V::Databases,
        V::Detail,
        V::Events,
        V::Alerts,
    ];

    fn ev(code: KeyCode, ctrl: bool) -> KeyEvent {
        let m = if ctrl {
            KeyModifiers::CONTROL
        } else {
            KeyModifiers::NONE
        };
        KeyEvent::new(code, m)
    }

    #[test]
    fn no_key_is_bound_twice_in_one_view() {
        for v in VIEWS {
            let keys: Vec<Key> = BINDINGS
                .iter()
                .filter(|b| b.acts_in(v))
                .flat_map(|b| b.keys.iter().map(|(k, _)| *k))
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} twice in {v:?}");
            }
        }
    }

    #[test]
    fn control_keys_win_over_the_letters_they_share() {
        let c = KeyCode::Char;
        assert_eq!(lookup(V::Databases, &ev(c('u'), true)), Some(U::HalfUp));
        assert_eq!(
            lookup(V::Databases, &ev(c('u'), false)),
            Some(U::Act(Action::Resume))
        );
        assert_eq!(lookup(V::Detail, &ev(c('b'), true)), Some(U::PageUp));
        assert_eq!(
            lookup(V::Detail, &ev(c('b'), false)),
            Some(U::Act(Action::Rollback))
        );
        assert_eq!(lookup(V::Waves, &ev(c('f'), true)), Some(U::PageDown));
        assert_eq!(lookup(V::Waves, &ev(c('f'), false)), Some(U::Freeze));
        assert_eq!(lookup(V::Waves, &ev(c('h'), true)), None);
        assert_eq!(lookup(V::Waves, &ev(c('h'), false)), Some(U::Back));
    }

    #[test]
    fn a_key_means_what_its_view_says() {
        let c = KeyCode::Char;
        assert_eq!(
            lookup(V::Waves, &ev(c('W'), false)),
            Some(U::SortWaves(WaveSort::Number))
        );
        assert_eq!(
            lookup(V::Databases, &ev(c('W'), false)),
            Some(U::Sort(SortKey::Wave))
        );
        assert_eq!(lookup(V::Detail, &ev(c('W'), false)), None);
        assert_eq!(lookup(V::Program, &ev(c('/'), false)), None);
        assert_eq!(lookup(V::Program, &ev(c('a'), false)), None);
        assert_eq!(
            lookup(V::Waves, &ev(c('a'), false)),
            Some(U::Act(Action::ApproveWindow))
        );
    }

    #[test]
    fn dangerous_lines_are_exactly_the_actions() {
        for b in BINDINGS {
            for (k, a) in b.keys {
                assert_eq!(
                    b.dangerous,
                    matches!(a, U::Act(_)),
                    "{} ({k:?}): dangerous must mean it opens an action",
                    b.label
                );
            }
        }
        for a in [
            Action::ApproveWindow,
            Action::StartWave,
            Action::Pause,
            Action::Resume,
            Action::Abort,
            Action::Retry,
            Action::Cutover,
            Action::Rollback,
            Action::CloseHypercare,
            Action::AckAlert,
            Action::RestoreTest,
        ] {
            assert!(
                BINDINGS
                    .iter()
                    .any(|b| b.keys.iter().any(|(_, x)| *x == U::Act(a))),
                "{a:?} has no key"
            );
        }
    }

    #[test]
    fn a_hint_is_given_only_where_its_keys_act() {
        for b in BINDINGS {
            for h in b.hints {
                if let Some(v) = h.view {
                    assert!(b.acts_in(v), "{} hinted in {v:?}", b.label);
                }
            }
        }
    }

    #[test]
    fn read_only_hints_offer_no_action() {
        for v in VIEWS {
            let all = hints(v, false);
            let ro = hints(v, true);
            assert!(ro.len() <= all.len());
            for h in &ro {
                let b = BINDINGS
                    .iter()
                    .find(|b| b.hints.contains(h))
                    .expect("a hint comes from a binding");
                assert!(!b.dangerous, "{} offered read-only in {v:?}", h.key);
            }
            // The last three are the same everywhere.
            let tail: Vec<&str> = ro.iter().rev().take(3).map(|h| h.key).collect();
            assert_eq!(tail, ["q", "?", ":"]);
        }
        let keys = |hs: Vec<Hint>| hs.into_iter().map(|h| h.key).collect::<Vec<_>>();
        assert_eq!(
            keys(hints(V::Detail, false)),
            ["c", "b", "r", "Esc", ":", "?", "q"]
        );
        assert_eq!(keys(hints(V::Detail, true)), ["Esc", ":", "?", "q"]);
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for c in Context::ALL {
            let keys: Vec<Key> = MODE_BINDINGS
                .iter()
                .filter(|b| b.contexts.contains(&c))
                .flat_map(|b| b.keys.iter().map(|(k, _)| *k))
                .collect();
            for (i, k) in keys.iter().enumerate() {
                assert!(!keys[i + 1..].contains(k), "{k:?} twice in {c:?}");
            }
            assert!(
                MODE_BINDINGS
                    .iter()
                    .any(|b| b.contexts.contains(&c) && b.hint.is_some()),
                "{c:?} has no hint"
            );
        }
    }

    #[test]
    fn mode_keys_mean_what_their_context_says() {
        let c = KeyCode::Char;
        let at = |ctx, k| lookup_mode(ctx, &ev(k, false));
        assert_eq!(at(C::Asking, c('y')), Some(M::Submit));
        assert_eq!(at(C::Asking, c('n')), Some(M::Cancel));
        // Typed confirmations take y and n as letters.
        assert_eq!(at(C::Typing, c('y')), None);
        assert_eq!(at(C::Typing, c('n')), None);
        assert_eq!(at(C::Typing, KeyCode::Enter), Some(M::Submit));
        assert_eq!(at(C::Done, c('q')), Some(M::Close));
        assert_eq!(at(C::Help, c('?')), Some(M::Close));
        assert_eq!(at(C::Help, c('j')), Some(M::ScrollDown));
        assert_eq!(at(C::Filter, c('u')), None);
        assert_eq!(lookup_mode(C::Filter, &ev(c('u'), true)), Some(M::Clear));
        assert_eq!(at(C::Command, KeyCode::Esc), Some(M::Cancel));
    }

    #[test]
    fn mode_hint_lines_come_from_the_rows() {
        let all = |_| true;
        assert_eq!(mode_hint(C::Help, all), "j/k scroll · Esc close");
        assert_eq!(
            mode_hint(C::Asking, all),
            "Enter or y submits · Esc or n cancels"
        );
        assert_eq!(
            mode_hint(C::Typing, all),
            "Enter submits once the text matches · Esc cancels"
        );
        assert_eq!(mode_hint(C::Typing, |a| a != M::Submit), "Esc cancels");
        assert_eq!(mode_hint(C::Done, all), "Enter or Esc closes");
        assert_eq!(mode_hint(C::Filter, all), "Enter keep · Esc clear");
        assert_eq!(mode_hint(C::Command, all), "Enter run · Esc cancel");
    }

    #[test]
    fn dangerous_mode_rows_are_exactly_the_dialogs() {
        for b in MODE_BINDINGS {
            assert_eq!(
                b.dangerous,
                b.contexts
                    .iter()
                    .all(|c| matches!(c, C::Asking | C::Typing | C::Done)),
                "{}: a dialog row is dangerous, no other",
                b.label
            );
            assert!(!b.contexts.is_empty(), "{} acts nowhere", b.label);
        }
    }

    /// A verb's help says it is dangerous exactly when the parser makes it open an action.
    #[test]
    fn verb_danger_agrees_with_the_parser() {
        for v in VERBS {
            for form in v.usage.split("  ") {
                let line = form
                    .trim_start_matches(':')
                    .replace("wave-N", "wave-2")
                    .replace(" N", " 2")
                    .replace(" X", " pay-01")
                    .replace(" ID", " pay-01")
                    .replace(" ROLE", " tech_lead")
                    .replace(" [note]", " rehearsal passed");
                let c = parse_command(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
                assert_eq!(
                    v.dangerous,
                    matches!(c, Command::Act(..) | Command::Signoff(..)),
                    "{line}: {c:?}"
                );
            }
        }
    }
}
