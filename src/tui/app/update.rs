//! The pure key handler: a key changes the state and may return an `Intent` for the loop.

use super::keymap::action_key;
use super::state::{App, Dialog, DialogStatus, Intent, Level, Mode, SortKey, View};
use crate::store::model::{Action, Target};
use crate::tui::data::Severity;
use crate::tui::guards;
use crate::tui::query::{parse_command, Command, DbFilter};
use crate::tui::wavelist::{WaveRow, WaveSort};
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
        let guards = guards::for_target(
            action,
            &target,
            &self.data,
            self.now,
            self.limits,
            self.role,
        );
        let confirm = action.confirmation(&target);
        self.dialog = Some(Dialog {
            action,
            target,
            guards,
            confirm,
            typed: String::new(),
            status: DialogStatus::Asking,
            submitted_at: None,
        });
        self.mode = Mode::Dialog;
    }

    fn act_on_current(&mut self, action: Action) {
        let wave_level = matches!(action, Action::ApproveWindow | Action::StartWave)
            || (self.view == View::Waves);
        let target = if wave_level {
            self.current_wave().map(Target::Wave)
        } else {
            self.current_db().map(|s| Target::Db(s.to_string()))
        };
        match target {
            Some(t) => self.open_dialog(action, t),
            None => self.flash(
                format!(
                    "{}: select a {} first",
                    action.as_str(),
                    if wave_level { "wave" } else { "database" }
                ),
                Level::Warn,
            ),
        }
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
            Ok(Command::Wave(n)) => {
                let _ = self.set_db_filter(&format!("wave:{n}"));
                self.go(View::Databases);
            }
            Ok(Command::Db(id)) => self.open_detail(&id),
            Ok(Command::Act(a, t)) => self.open_dialog(a, t),
        }
        None
    }

    fn move_cursor(&mut self, delta: isize) {
        let (cur, len) = match self.view {
            View::Databases => (self.db_cursor, self.rows.len()),
            View::Waves => (self.wave_cursor, self.wave_rows.len()),
            View::Events => (self.ev_cursor, self.events_view().len()),
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
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => {
                    app.mode = Mode::Normal
                }
                KeyCode::Char('j') | KeyCode::Down => app.help_scroll += 1,
                KeyCode::Char('k') | KeyCode::Up => {
                    app.help_scroll = app.help_scroll.saturating_sub(1)
                }
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
    match key.code {
        KeyCode::Esc => {
            if filter {
                app.input.clear();
                apply_live_filter(app);
            }
            app.input.clear();
            app.input_error = None;
            app.mode = Mode::Normal;
        }
        KeyCode::Enter => {
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
        KeyCode::Backspace => {
            if app.input.pop().is_none() && !filter {
                app.mode = Mode::Normal;
            }
            if filter {
                apply_live_filter(app);
            }
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            app.input.push(c);
            if filter {
                apply_live_filter(app);
            }
        }
        KeyCode::Char('u') => {
            app.input.clear();
            if filter {
                apply_live_filter(app);
            }
        }
        _ => {}
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
    if d.status != DialogStatus::Asking {
        // Submitted: the outcome is on screen; any of these closes it.
        if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) {
            app.dialog = None;
            app.mode = Mode::Normal;
        }
        return None;
    }
    match key.code {
        KeyCode::Esc => {
            app.dialog = None;
            app.mode = Mode::Normal;
        }
        KeyCode::Char('n') if d.confirm.is_none() => {
            app.dialog = None;
            app.mode = Mode::Normal;
        }
        KeyCode::Backspace if d.confirm.is_some() => {
            d.typed.pop();
        }
        KeyCode::Enter | KeyCode::Char('y')
            if d.confirm.is_none() || key.code == KeyCode::Enter =>
        {
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
            let args = match &d.confirm {
                Some(c) => serde_json::json!({ "confirmed": c }),
                None => serde_json::json!({}),
            };
            return Some(Intent::Submit {
                action: d.action,
                target: d.target.clone(),
                args,
            });
        }
        KeyCode::Char(c)
            if d.confirm.is_some()
                && !key.modifiers.contains(KeyModifiers::CONTROL)
                && d.typed.chars().count() < 128 =>
        {
            d.typed.push(c);
        }
        _ => {}
    }
    None
}

fn key_normal(app: &mut App, key: KeyEvent) -> Option<Intent> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let g_pending = std::mem::take(&mut app.pending_g);
    let half = (app.page() / 2).max(1) as isize;
    match key.code {
        KeyCode::Char('q') => {
            if app.view == View::Detail {
                if !app.go_back() {
                    app.view = View::Databases;
                }
            } else {
                return Some(Intent::Quit);
            }
        }
        KeyCode::Esc => {
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
        KeyCode::Char('?') => {
            app.help_scroll = 0;
            app.mode = Mode::Help;
        }
        KeyCode::Char(':') => {
            app.input.clear();
            app.mode = Mode::Command;
        }
        KeyCode::Char('/') if matches!(app.view, View::Databases | View::Events) => {
            app.input = if app.view == View::Events {
                app.ev_filter_text.clone()
            } else {
                app.db_filter_text.clone()
            };
            if !app.input.is_empty() {
                app.input.push(' ');
            }
            app.input_error = None;
            app.mode = Mode::Filter;
        }
        KeyCode::Char('/') if app.view == View::Waves => {
            app.input = app.wave_filter_text.clone();
            if !app.input.is_empty() {
                app.input.push(' ');
            }
            app.input_error = None;
            app.mode = Mode::Filter;
        }
        KeyCode::Char('+') if app.view == View::Waves => {
            app.wave_unfold = !app.wave_unfold;
            app.refresh_waves();
        }
        KeyCode::Char(c @ ('W' | 'O' | 'X' | 'Z')) if app.view == View::Waves => {
            app.wave_sort = match c {
                'W' => WaveSort::Number,
                'O' => WaveSort::Opens,
                'X' => WaveSort::Failures,
                _ => WaveSort::Size,
            };
            app.wave_cursor = 0;
            app.refresh_waves();
            let msg = format!("waves sorted by {}", app.wave_sort.as_str());
            app.flash(msg, Level::Info);
        }
        KeyCode::Char('0') => app.go(View::Program),
        KeyCode::Char('1') => app.go(View::Waves),
        KeyCode::Char('2') => app.go(View::Databases),
        KeyCode::Char('3') => app.go(View::Events),
        KeyCode::Char('4') => {
            if let Some(id) = app.detail.clone().or(app.db_sel.clone()) {
                app.open_detail(&id);
            }
        }
        KeyCode::Tab => {
            let next = match app.view {
                View::Program => View::Waves,
                View::Waves => View::Databases,
                View::Databases | View::Detail => View::Events,
                View::Events => View::Program,
            };
            app.go(next);
        }
        KeyCode::BackTab => {
            let next = match app.view {
                View::Program => View::Events,
                View::Waves => View::Program,
                View::Databases | View::Detail => View::Waves,
                View::Events => View::Databases,
            };
            app.go(next);
        }
        KeyCode::Char('[') | KeyCode::Char('h') | KeyCode::Left if !ctrl => {
            app.go_back();
        }
        KeyCode::Char('j') | KeyCode::Down => app.move_cursor(1),
        KeyCode::Char('k') | KeyCode::Up => app.move_cursor(-1),
        KeyCode::Char('d') if ctrl => app.move_cursor(half),
        KeyCode::Char('u') if ctrl => app.move_cursor(-half),
        KeyCode::Char('f') if ctrl => app.move_cursor(app.page() as isize),
        KeyCode::Char('b') if ctrl => app.move_cursor(-(app.page() as isize)),
        KeyCode::PageDown => app.move_cursor(app.page() as isize),
        KeyCode::PageUp => app.move_cursor(-(app.page() as isize)),
        KeyCode::Home => app.move_cursor(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => app.move_cursor(isize::MAX / 2),
        KeyCode::Char('g') => {
            if g_pending {
                app.move_cursor(isize::MIN / 2);
            } else {
                app.pending_g = true;
            }
        }
        KeyCode::Enter | KeyCode::Char('l') | KeyCode::Right => match app.view {
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
            View::Databases | View::Events => {
                if let Some(id) = app.current_db().map(str::to_string) {
                    app.open_detail(&id);
                }
            }
            View::Detail => {}
            View::Program => app.go(View::Waves),
        },
        KeyCode::Char('f') => {
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
        KeyCode::Char('F') if app.view == View::Databases => {
            app.faults_only = !app.faults_only;
            app.refresh_rows();
        }
        KeyCode::Char(c @ ('N' | 'S' | 'W' | 'L' | 'Z' | 'A' | 'P'))
            if app.view == View::Databases =>
        {
            app.sort_by(match c {
                'N' => SortKey::Name,
                'S' => SortKey::Stage,
                'W' => SortKey::Wave,
                'L' => SortKey::Lag,
                'Z' => SortKey::Size,
                'A' => SortKey::Age,
                _ => SortKey::Progress,
            });
        }
        KeyCode::Char('e') if app.view == View::Events => {
            app.ev_min = match app.ev_min {
                Severity::Info => Severity::Warn,
                Severity::Warn => Severity::Fail,
                Severity::Fail => Severity::Info,
            };
            app.ev_cursor = 0;
        }
        KeyCode::Char('v') if app.view == View::Events => {
            app.ev_telemetry = !app.ev_telemetry;
            app.ev_cursor = 0;
        }
        KeyCode::Char(c) => {
            if let Some(a) = action_key(app.view, c) {
                app.act_on_current(a);
            }
        }
        _ => {}
    }
    None
}
