//! The keys: what each does, in which views, for help and dispatch.

use super::state::View;
use crate::store::model::Action;

/// Action keys per view. One table so help and dispatch agree.
pub const ACTION_KEYS: &[(char, Action, &str, &[View])] = &[
    (
        'a',
        Action::ApproveWindow,
        "approve the wave's window",
        &[View::Waves],
    ),
    ('s', Action::StartWave, "start the wave", &[View::Waves]),
    (
        'p',
        Action::Pause,
        "pause",
        &[View::Waves, View::Databases, View::Detail],
    ),
    (
        'u',
        Action::Resume,
        "resume (unpause)",
        &[View::Waves, View::Databases, View::Detail],
    ),
    (
        'x',
        Action::Abort,
        "abort (type the name)",
        &[View::Waves, View::Databases, View::Detail],
    ),
    (
        'r',
        Action::Retry,
        "retry a failed database",
        &[View::Databases, View::Detail],
    ),
    (
        'c',
        Action::Cutover,
        "cut over (type the db_id, or wave-N for a wave)",
        &[View::Waves, View::Databases, View::Detail],
    ),
    (
        'b',
        Action::Rollback,
        "roll back (type the db_id)",
        &[View::Databases, View::Detail],
    ),
    (
        'H',
        Action::CloseHypercare,
        "close hypercare",
        &[View::Databases, View::Detail],
    ),
];

pub(super) fn action_key(view: View, c: char) -> Option<Action> {
    ACTION_KEYS
        .iter()
        .find(|(k, _, _, views)| *k == c && views.contains(&view))
        .map(|(_, a, _, _)| *a)
}

/// Navigation keys, for the help screen.
pub const NAV_KEYS: &[(&str, &str)] = &[
    (
        "0 1 2 3 4, Tab",
        "Program, Waves, Databases, Events, Detail",
    ),
    ("j k, Down Up", "move"),
    ("gg G, Home End", "first / last"),
    ("ctrl-d ctrl-u", "half page down / up"),
    ("PgDn PgUp", "page down / up"),
    (
        "Enter l",
        "open (wave -> its databases, database -> detail)",
    ),
    ("h [", "back"),
    (
        "/",
        "filter: text stage:cdc wave:2 engine:mysql owner:x lag>5 !inverts",
    ),
    (
        "/ (Waves)",
        "filter waves: state:planned|running|done within:7 fail owner:x",
    ),
    (
        "W O X Z  +",
        "waves: sort by number, next opening, failures, size; + unfolds 1-db waves",
    ),
    (
        "F",
        "faults only: failed, paused, lag above threshold, bad validation",
    ),
    (
        "N S W L Z A P",
        "sort by name stage wave lag size age progress (again: reverse)",
    ),
    (
        "e  v",
        "events: minimum severity; show lag/progress telemetry",
    ),
    ("f", "freeze / unfreeze the live view"),
    (":", "command line (see below)"),
    ("?", "this help"),
    (
        "Esc",
        "close dialog or help, clear filter, back from detail",
    ),
    ("q", "back from detail; quit elsewhere"),
    ("ctrl-c", "quit (asks again if an action is being typed)"),
];
