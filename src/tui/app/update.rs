//! The pure key handler: a key changes the state and may return an `Intent` for the loop.

use super::keymap::{dialog_context, lookup, lookup_mode, Context, ModeAction, UiAction};
use super::state::{App, Dialog, DialogStatus, Intent, Level, Mode, SortKey, View};
use crate::signoff::SignoffRole;
use crate::store::model::{Action, Target};
use crate::tui::data::Severity;
use crate::tui::query::{parse_command, Command, DbFilter};
use crate::tui::wavelist::WaveRow;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

impl App {
    fn go(&mut self, v: View) {
        if self.view != v {
            self.back.push(self.view);
            if self.back.len() > 32 {
                self.back.remove(0);
            }
            self.view = v;
        }
    }

    fn go_back(&mut self) -> bool {
        match self.back.pop() {
            Some(v) => {
                self.view = v;
                true
            }
            None => false,
        }
    }

    pub fn open_detail(&mut self, id: &str) {
        if self.data.db(id).is_none() {
            self.flash(
                format!("no database {id:?}; press / in Databases to search"),
                Level::Warn,
            );
            return;
        }
        self.detail = Some(id.to_string());
        self.db_sel = Some(id.to_string());
        self.refresh_rows();
        self.go(View::Detail);
    }

    pub fn set_db_filter(&mut self, text: &str) -> Result<(), String> {
        let f = DbFilter::parse(text)?;
        self.db_filter = f;
        self.db_filter_text = text.trim().to_string();
        self.refresh_rows();
        Ok(())
    }

    /// Open the dialog of an action, or say why not.
    pub fn open_dialog(&mut self, action: Action, target: Target) {
        if self.read_only {
            self.flash(
                format!("read-only: {} is disabled", action.as_str()),
                Level::Warn,
            );
            return;
        }
        self.open_dialog_with(action, target, Default::default());
    }

    fn open_dialog_with(
        &mut self,
        action: Action,
        target: Target,
        args: serde_json::Map<String, serde_json::Value>,
    ) {
        let mut d = Dialog {
            action,
            confirm: action.confirmation(&target),
            target,
            guards: Vec::new(),
            typed: String::new(),
            args,
            status: DialogStatus::Asking,
            submitted_at: None,
            outage: Vec::new(),
        };
        d.guards = self.dialog_guards(&d);
        d.outage = self.expected_outage(d.action, &d.target);
        self.dialog = Some(d);
        self.mode = Mode::Dialog;
    }

    /// The sign-off dialog (`:signoff ROLE [note]`) for the wave or database in view, refused
    /// here, before anything is written, for a role `who` does not hold: the engine would
    /// refuse it for the same reason (`SignoffConfig::authorize`).
    fn open_signoff(&mut self, role: SignoffRole, note: Option<String>) {
        let Some(target) = self.current_target(Action::Signoff) else {
            return;
        };
        if let Err(why) = self.signoff.authorize(&self.who, role, self.role) {
            self.flash(format!("signoff refused: {why}"), Level::Error);
            return;
        }
        let mut args = serde_json::Map::new();
        args.insert("role".into(), role.as_str().into());
        args.insert("note".into(), note.into());
        self.open_dialog_with(Action::Signoff, target, args);
    }

    /// The wave (wave-level actions, the Waves view) or the database the cursor is on, or a
    /// warning that there is none.
    fn current_target(&mut self, action: Action) -> Option<Target> {
        let wave_level = matches!(action, Action::ApproveWindow | Action::StartWave)
            || (self.view == View::Waves);
        let target = if wave_level {
            self.current_wave().map(Target::Wave)
        } else {
            self.current_db().map(|s| Target::Db(s.to_string()))
        };
        if target.is_none() {
            self.flash(
                format!(
                    "{}: select a {} first",
                    action.as_str(),
                    if wave_level { "wave" } else { "database" }
                ),
                Level::Warn,
            );
        }
        target
    }

    fn act_on_current(&mut self, action: Action) {
        if action == Action::AckAlert {
            return self.ack_current();
        }
        if let Some(t) = self.current_target(action) {
            self.open_dialog(action, t);
        }
    }

    /// The acknowledge dialog of the standing alert under the cursor.
    fn ack_current(&mut self) {
        if self.read_only {
            return self.open_dialog(Action::AckAlert, Target::Factory);
        }
        let Some(((rule, db), _)) = self.current_alert() else {
            self.flash("ack_alert: no standing alert to acknowledge", Level::Warn);
            return;
        };
        let target = db.clone().map_or(Target::Factory, Target::Db);
        let mut args = serde_json::Map::new();
        args.insert("rule".into(), rule.clone().into());
        self.open_dialog_with(Action::AckAlert, target, args);
    }

    fn run_command(&mut self, line: &str) -> Option<Intent> {
        match parse_command(line) {
            Err(e) => self.flash(e, Level::Error),
            Ok(Command::Quit) => return Some(Intent::Quit),
            Ok(Command::Help) => self.mode = Mode::Help,
            Ok(Command::Program) => self.go(View::Program),
            Ok(Command::Waves) => self.go(View::Waves),
            Ok(Command::Databases) => self.go(View::Databases),
            Ok(Command::Events) => self.go(View::Events),
            Ok(Command::Alerts) => self.go(View::Alerts),
            Ok(Command::Wave(n)) => {
                let _ = self.set_db_filter(&format!("wave:{n}"));
                self.go(View::Databases);
            }
            Ok(Command::Db(id)) => self.open_detail(&id),
            Ok(Command::Act(a, t)) => self.open_dialog(a, t),
            Ok(Command::Signoff(role, note)) => self.open_signoff(role, note),
        }
        None
    }

    fn move_cursor(&mut self, delta: isize) {
        let (cur, len) = match self.view {
            View::Databases => (self.db_cursor, self.rows.len()),
            View::Waves => (self.wave_cursor, self.wave_rows.len()),
            View::Events => (self.ev_cursor, self.events_view().len()),
            View::Alerts => (self.alert_cursor, self.data.alerts.standing.len()),
            View::Detail | View::Program => return,
        };
        if len == 0 {
            return;
        }
        let next = (cur as isize + delta).clamp(0, len as isize - 1) as usize;
        match self.view {
            View::Databases => {
                self.db_cursor = next;
                self.sync_sel();
            }
            View::Waves => self.wave_cursor = next,
            View::Events => self.ev_cursor = next,
            View::Alerts => self.alert_cursor = next,
            View::Detail | View::Program => {}
        }
    }

    fn sort_by(&mut self, k: SortKey) {
        if self.sort == k {
            self.sort_desc = !self.sort_desc;
        } else {
            self.sort = k;
            // Worst first is what an operator wants for lag, size, age and progress.
            self.sort_desc = matches!(k, SortKey::Lag | SortKey::Size);
        }
        self.refresh_rows();
        self.flash(
            format!(
                "sorted by {} {}",
                k.as_str(),
                if self.sort_desc {
                    "descending"
                } else {
                    "ascending"
                }
            ),
            Level::Info,
        );
    }
}

/// One key. Pure: reads and changes `app`, returns what the loop must do.
pub fn handle_key(app: &mut App, key: KeyEvent) -> Option<Intent> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        let typing = app
            .dialog
            .as_ref()
            .is_some_and(|d| d.status == DialogStatus::Asking && !d.typed.is_empty());
        if typing && !app.quit_armed {
            app.quit_armed = true;
            app.flash(
                "an action is being typed: ctrl-c again quits, Esc cancels the action",
                Level::Warn,
            );
            return None;
        }
        return Some(Intent::Quit);
    }
    app.quit_armed = false;
    match app.mode {
        Mode::Filter | Mode::Command => key_input(app, key),
        Mode::Help => {
            match lookup_mode(Context::Help, &key) {
                Some(ModeAction::Close) => app.mode = Mode::Normal,
                Some(ModeAction::ScrollDown) => app.help_scroll += 1,
                Some(ModeAction::ScrollUp) => app.help_scroll = app.help_scroll.saturating_sub(1),
                _ => {}
            }
            None
        }
        Mode::Dialog => key_dialog(app, key),
        Mode::Normal => key_normal(app, key),
    }
}

fn key_input(app: &mut App, key: KeyEvent) -> Option<Intent> {
    let filter = app.mode == Mode::Filter;
    let ctx = if filter {
        Context::Filter
    } else {
        Context::Command
    };
    match lookup_mode(ctx, &key) {
        Some(ModeAction::Cancel) => {
            if filter {
                app.input.clear();
                apply_live_filter(app);
            }
            app.input.clear();
            app.input_error = None;
            app.mode = Mode::Normal;
        }
        Some(ModeAction::Enter) => {
            app.mode = Mode::Normal;
            let line = std::mem::take(&mut app.input);
            if filter {
                if let Some(e) = app.input_error.take() {
                    app.flash(e, Level::Error);
                }
            } else {
                return app.run_command(line.trim());
            }
        }
        Some(ModeAction::Erase) => {
            if app.input.pop().is_none() && !filter {
                app.mode = Mode::Normal;
            }
            if filter {
                apply_live_filter(app);
            }
        }
        Some(ModeAction::Clear) => {
            app.input.clear();
            if filter {
                apply_live_filter(app);
            }
        }
        Some(_) => {}
        None => match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                app.input.push(c);
                if filter {
                    apply_live_filter(app);
                }
            }
            _ => {}
        },
    }
    None
}

fn apply_live_filter(app: &mut App) {
    let text = app.input.clone();
    if app.view == View::Waves {
        match app.set_wave_filter(&text) {
            Ok(()) => app.input_error = None,
            Err(e) => app.input_error = Some(e),
        }
        return;
    }
    if app.view == View::Events {
        app.ev_filter_text = text.trim().to_string();
        app.ev_cursor = 0;
        app.input_error = None;
        return;
    }
    match app.set_db_filter(&text) {
        Ok(()) => app.input_error = None,
        Err(e) => app.input_error = Some(e),
    }
}

fn key_dialog(app: &mut App, key: KeyEvent) -> Option<Intent> {
    let Some(d) = app.dialog.as_mut() else {
        app.mode = Mode::Normal;
        return None;
    };
    match lookup_mode(dialog_context(d), &key) {
        Some(ModeAction::Close | ModeAction::Cancel) => {
            app.dialog = None;
            app.mode = Mode::Normal;
        }
        Some(ModeAction::Erase) => {
            d.typed.pop();
        }
        Some(ModeAction::Submit) => {
            if d.blocked() {
                let why: Vec<String> = d
                    .guards
                    .iter()
                    .filter(|g| !g.ok)
                    .map(|g| g.sentence.clone())
                    .collect();
                let msg = format!("{} blocked: {}", d.action.as_str(), why.join("; "));
                app.flash(msg, Level::Error);
                return None;
            }
            if !d.confirmed() {
                let msg = format!(
                    "type {} exactly to confirm",
                    d.confirm.as_deref().unwrap_or("")
                );
                app.flash(msg, Level::Warn);
                return None;
            }
            d.status = DialogStatus::Submitting;
            let mut args = d.args.clone();
            if let Some(c) = &d.confirm {
                args.insert("confirmed".into(), c.clone().into());
            }
            let args = crate::plan::expected::with_args(serde_json::Value::Object(args), &d.outage);
            return Some(Intent::Submit {
                action: d.action,
                target: d.target.clone(),
                args,
            });
        }
        Some(_) => {}
        None => match key.code {
            KeyCode::Char(c)
                if dialog_context(d) == Context::Typing
                    && !key.modifiers.contains(KeyModifiers::CONTROL)
                    && d.typed.chars().count() < 128 =>
            {
                d.typed.push(c);
            }
            _ => {}
        },
    }
    None
}

fn key_normal(app: &mut App, key: KeyEvent) -> Option<Intent> {
    let g_pending = std::mem::take(&mut app.pending_g);
    let action = lookup(app.view, &key)?;
    update(app, action, g_pending)
}

/// Carry out what a key of the keymap stands for.
fn update(app: &mut App, action: UiAction, g_pending: bool) -> Option<Intent> {
    let half = (app.page() / 2).max(1) as isize;
    match action {
        UiAction::Quit => {
            if app.view == View::Detail {
                if !app.go_back() {
                    app.view = View::Databases;
                }
            } else {
                return Some(Intent::Quit);
            }
        }
        UiAction::Escape => {
            if app.view == View::Databases && (!app.db_filter_text.is_empty() || app.faults_only) {
                app.faults_only = false;
                let _ = app.set_db_filter("");
            } else if app.view == View::Waves && !app.wave_filter_text.is_empty() {
                let _ = app.set_wave_filter("");
            } else if app.view == View::Events && !app.ev_filter_text.is_empty() {
                app.ev_filter_text.clear();
            } else if app.view == View::Detail {
                if !app.go_back() {
                    app.view = View::Databases;
                }
            } else if app.flash.is_some() {
                app.flash = None;
            }
        }
        UiAction::Help => {
            app.help_scroll = 0;
            app.mode = Mode::Help;
        }
        UiAction::CommandLine => {
            app.input.clear();
            app.mode = Mode::Command;
        }
        UiAction::Filter => {
            app.input = match app.view {
                View::Events => app.ev_filter_text.clone(),
                View::Waves => app.wave_filter_text.clone(),
                _ => app.db_filter_text.clone(),
            };
            if !app.input.is_empty() {
                app.input.push(' ');
            }
            app.input_error = None;
            app.mode = Mode::Filter;
        }
        UiAction::Unfold => {
            app.wave_unfold = !app.wave_unfold;
            app.refresh_waves();
        }
        UiAction::SortWaves(s) => {
            app.wave_sort = s;
            app.wave_cursor = 0;
            app.refresh_waves();
            let msg = format!("waves sorted by {}", app.wave_sort.as_str());
            app.flash(msg, Level::Info);
        }
        UiAction::Go(v) => app.go(v),
        UiAction::Detail => {
            if let Some(id) = app.detail.clone().or(app.db_sel.clone()) {
                app.open_detail(&id);
            }
        }
        UiAction::NextView => {
            let next = match app.view {
                View::Program => View::Waves,
                View::Waves => View::Databases,
                View::Databases | View::Detail => View::Events,
                View::Events => View::Alerts,
                View::Alerts => View::Program,
            };
            app.go(next);
        }
        UiAction::PrevView => {
            let next = match app.view {
                View::Program => View::Alerts,
                View::Waves => View::Program,
                View::Databases | View::Detail => View::Waves,
                View::Events => View::Databases,
                View::Alerts => View::Events,
            };
            app.go(next);
        }
        UiAction::Back => {
            app.go_back();
        }
        UiAction::Down => app.move_cursor(1),
        UiAction::Up => app.move_cursor(-1),
        UiAction::HalfDown => app.move_cursor(half),
        UiAction::HalfUp => app.move_cursor(-half),
        UiAction::PageDown => app.move_cursor(app.page() as isize),
        UiAction::PageUp => app.move_cursor(-(app.page() as isize)),
        UiAction::First => app.move_cursor(isize::MIN / 2),
        UiAction::Last => app.move_cursor(isize::MAX / 2),
        UiAction::G => {
            if g_pending {
                app.move_cursor(isize::MIN / 2);
            } else {
                app.pending_g = true;
            }
        }
        UiAction::Open => match app.view {
            View::Waves => match app.wave_rows.get(app.wave_cursor).cloned() {
                Some(WaveRow::Folded { waves, .. }) => {
                    // Enter on a folded run unfolds it, the cursor on its first wave.
                    app.wave_unfold = true;
                    app.refresh_waves();
                    if let Some(i) = waves
                        .first()
                        .and_then(|f| app.wave_rows.iter().position(|r| *r == WaveRow::Wave(*f)))
                    {
                        app.wave_cursor = i;
                    }
                }
                Some(WaveRow::Loose) => {
                    let _ = app.set_db_filter("wave:none");
                    app.go(View::Databases);
                }
                Some(WaveRow::Wave(n)) => {
                    let _ = app.set_db_filter(&format!("wave:{n}"));
                    app.go(View::Databases);
                }
                None => {}
            },
            View::Databases | View::Events | View::Alerts => {
                if let Some(id) = app.current_db().map(str::to_string) {
                    app.open_detail(&id);
                }
            }
            View::Detail => {}
            View::Program => app.go(View::Waves),
        },
        UiAction::Freeze => {
            app.frozen = !app.frozen;
            if !app.frozen {
                for u in std::mem::take(&mut app.held) {
                    app.data.apply(u);
                }
                app.after_data_change();
                app.flash("live again", Level::Info);
            } else {
                app.flash("frozen: the view stops updating until f", Level::Info);
            }
        }
        UiAction::FaultsOnly => {
            app.faults_only = !app.faults_only;
            app.refresh_rows();
        }
        UiAction::Sort(k) => app.sort_by(k),
        UiAction::Severity => {
            app.ev_min = match app.ev_min {
                Severity::Info => Severity::Warn,
                Severity::Warn => Severity::Fail,
                Severity::Fail => Severity::Info,
            };
            app.ev_cursor = 0;
        }
        UiAction::Telemetry => {
            app.ev_telemetry = !app.ev_telemetry;
            app.ev_cursor = 0;
        }
        UiAction::Act(a) => app.act_on_current(a),
    }
    None
}
