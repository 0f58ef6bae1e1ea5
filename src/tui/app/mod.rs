//! Cockpit state and the pure key handler. No I/O here: `handle_key` returns an `Intent` the
//! event loop carries out (quit, submit a command), so every key path is testable.

use super::data::{Data, FeedUpdate, Severity};
use super::guards::{self, GuardLine, Limits};
use super::query::{parse_command, Command, DbFilter};
use super::theme::Theme;
use super::wavelist::{WaveFilter, WaveRow, WaveSort};
use crate::lifecycle::Stage;
use crate::store::model::{Action, CommandStatus, Role, Target};
use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Program,
    Waves,
    Databases,
    Detail,
    Events,
}

impl View {
    pub fn title(self) -> &'static str {
        match self {
            View::Program => "Program",
            View::Waves => "Waves",
            View::Databases => "Databases",
            View::Detail => "Database",
            View::Events => "Events",
        }
    }

    /// For narrow terminals.
    pub fn short_title(self) -> &'static str {
        match self {
            View::Program => "Prog",
            View::Waves => "Waves",
            View::Databases => "DBs",
            View::Detail => "DB",
            View::Events => "Events",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Filter,
    Command,
    Help,
    Dialog,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Stage,
    Wave,
    Lag,
    Size,
    Age,
    Progress,
}

impl SortKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Stage => "stage",
            SortKey::Wave => "wave",
            SortKey::Lag => "lag",
            SortKey::Size => "size",
            SortKey::Age => "age",
            SortKey::Progress => "progress",
        }
    }
}

/// What the event loop must do after a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    Quit,
    Submit {
        action: Action,
        target: Target,
        args: serde_json::Value,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum DialogStatus {
    Asking,
    /// Handed to the store, no id yet.
    Submitting,
    /// Written as command `id`; waiting for the engine's verdict.
    Pending(i64),
    /// With the engine's note (a wave's command: how many members moved, who was refused).
    Accepted(i64, Option<String>),
    Rejected(i64, String),
    /// The store refused the write itself.
    Error(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dialog {
    pub action: Action,
    pub target: Target,
    pub guards: Vec<GuardLine>,
    /// The text the operator must type, for irreversible actions.
    pub confirm: Option<String>,
    pub typed: String,
    pub status: DialogStatus,
    /// When the command row was written, to say so when no engine answers.
    pub submitted_at: Option<DateTime<Utc>>,
}

impl Dialog {
    pub fn blocked(&self) -> bool {
        self.guards.iter().any(|g| !g.ok)
    }

    pub fn confirmed(&self) -> bool {
        self.confirm.as_deref().is_none_or(|c| c == self.typed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

/// Seconds a flash message stays.
const FLASH_S: i64 = 6;

pub struct App {
    pub data: Data,
    pub theme: Theme,
    pub read_only: bool,
    pub role: Role,
    pub limits: Limits,
    pub now: DateTime<Utc>,
    pub store_label: String,
    /// Who holds which sign-off role (config `signoff.holders`), for the header.
    pub signoff_holders: String,
    pub view: View,
    pub back: Vec<View>,
    pub mode: Mode,
    /// Text being typed in filter or command mode.
    pub input: String,
    pub input_error: Option<String>,
    pub db_filter_text: String,
    pub db_filter: DbFilter,
    pub faults_only: bool,
    pub sort: SortKey,
    pub sort_desc: bool,
    /// Indexes into `data.dbs` after filter and sort.
    pub rows: Vec<usize>,
    pub db_cursor: usize,
    pub db_offset: usize,
    /// Selection is kept by id so rows don't jump when the list changes.
    pub db_sel: Option<String>,
    pub wave_cursor: usize,
    /// The Waves view's `/` filter, sort and folding of one-database waves.
    pub wave_filter_text: String,
    pub wave_filter: WaveFilter,
    pub wave_sort: WaveSort,
    pub wave_unfold: bool,
    /// The Waves table's rows after filter, sort and folding.
    pub wave_rows: Vec<WaveRow>,
    pub ev_filter_text: String,
    pub ev_min: Severity,
    pub ev_telemetry: bool,
    pub ev_cursor: usize,
    pub detail: Option<String>,
    pub dialog: Option<Dialog>,
    pub help_scroll: usize,
    pub flash: Option<Flash>,
    pub frozen: bool,
    /// Updates held back while frozen.
    pub held: Vec<FeedUpdate>,
    /// Ctrl-c pressed once while an action was being typed.
    pub quit_armed: bool,
    /// Terminal size, for paging.
    pub size: (u16, u16),
    pub pending_g: bool,
    /// The program figures, recomputed when the data changes or the minute turns (a frame
    /// only reads them).
    pub program: crate::program::Program,
    program_key: (u64, i64),
}

impl App {
    pub fn new(data: Data, theme: Theme, read_only: bool, now: DateTime<Utc>) -> App {
        let mut app = App {
            data,
            theme,
            read_only,
            role: if read_only {
                Role::Viewer
            } else {
                Role::Operator
            },
            limits: Limits::default(),
            now,
            store_label: String::new(),
            signoff_holders: String::new(),
            view: View::Waves,
            back: Vec::new(),
            mode: Mode::Normal,
            input: String::new(),
            input_error: None,
            db_filter_text: String::new(),
            db_filter: DbFilter::default(),
            faults_only: false,
            sort: SortKey::Name,
            sort_desc: false,
            rows: Vec::new(),
            db_cursor: 0,
            db_offset: 0,
            db_sel: None,
            wave_cursor: 0,
            wave_filter_text: String::new(),
            wave_filter: WaveFilter::default(),
            wave_sort: WaveSort::Number,
            wave_unfold: false,
            wave_rows: Vec::new(),
            ev_filter_text: String::new(),
            ev_min: Severity::Info,
            ev_telemetry: false,
            ev_cursor: 0,
            detail: None,
            dialog: None,
            help_scroll: 0,
            flash: None,
            frozen: false,
            held: Vec::new(),
            quit_armed: false,
            size: (80, 24),
            pending_g: false,
            program: crate::program::build(&[], &[], &[], now),
            program_key: (u64::MAX, i64::MIN),
        };
        app.refresh_rows();
        app.refresh_waves();
        app.refresh_program();
        app
    }

    /// Rows of the Databases table that fit on screen (two header lines, borders, footer
    /// excluded).
    pub fn page(&self) -> usize {
        (self.size.1 as usize).saturating_sub(7).max(1)
    }

    /// Recompute the Waves table's rows, keeping the cursor on the same wave when it stays.
    pub fn refresh_waves(&mut self) {
        let was = self.wave_rows.get(self.wave_cursor).cloned();
        self.wave_rows = super::wavelist::rows(
            &self.data.dbs,
            &self.data.waves,
            &self.wave_filter,
            self.wave_sort,
            !self.wave_unfold,
            self.now,
        );
        if let Some(i) = was.and_then(|w| self.wave_rows.iter().position(|r| *r == w)) {
            self.wave_cursor = i;
        }
        if self.wave_cursor >= self.wave_rows.len() {
            self.wave_cursor = self.wave_rows.len().saturating_sub(1);
        }
    }

    pub fn set_wave_filter(&mut self, text: &str) -> Result<(), String> {
        self.wave_filter = WaveFilter::parse(text)?;
        self.wave_filter_text = text.trim().to_string();
        self.wave_cursor = 0;
        self.refresh_waves();
        Ok(())
    }

    /// Recompute the program figures if the data or the minute changed since the last time.
    pub fn refresh_program(&mut self) {
        let key = (self.data.version, self.now.timestamp() / 60);
        if key == self.program_key {
            return;
        }
        self.program_key = key;
        self.program =
            crate::program::build(&self.data.dbs, &self.data.waves, &self.data.marks, self.now);
    }

    /// Apply a feed batch. Returns whether a redraw is needed.
    pub fn on_feed(&mut self, u: FeedUpdate) -> bool {
        if self.frozen {
            self.held.push(u);
            return false;
        }
        let changed = self.data.apply(u);
        if changed {
            self.after_data_change();
        }
        changed
    }

    fn after_data_change(&mut self) {
        self.refresh_rows();
        self.refresh_program();
        if let Some(d) = &mut self.dialog {
            if let DialogStatus::Pending(id) = d.status {
                if let Some(c) = self.data.commands.iter().find(|c| c.id == id) {
                    match c.status {
                        CommandStatus::Accepted => {
                            d.status = DialogStatus::Accepted(id, c.reason.clone())
                        }
                        CommandStatus::Rejected => {
                            d.status = DialogStatus::Rejected(
                                id,
                                c.reason.clone().unwrap_or_else(|| "no reason given".into()),
                            );
                            // The guards the engine itself evaluated replace the preview's.
                            if let Some(gs) = self.data.refusal_guards(id) {
                                d.guards = gs;
                            }
                        }
                        CommandStatus::Pending => {}
                    }
                }
            }
            if d.status == DialogStatus::Asking {
                d.guards = guards::for_target(
                    d.action,
                    &d.target,
                    &self.data,
                    self.now,
                    self.limits,
                    self.role,
                );
            }
        }
        self.refresh_waves();
    }

    /// The clock moved. Returns whether something on screen depends on it.
    pub fn on_tick(&mut self, now: DateTime<Utc>) -> bool {
        let before = self.now;
        self.now = now;
        let mut dirty = false;
        if let Some(f) = &self.flash {
            if (now - f.at).num_seconds() >= FLASH_S {
                self.flash = None;
                dirty = true;
            }
        }
        let minute = self.program_key.1;
        self.refresh_program();
        dirty = dirty || self.program_key.1 != minute;
        // Ages and countdowns are shown in whole seconds at best.
        dirty || before.timestamp() != now.timestamp()
    }

    /// The submission was written (or not). Called by the event loop after `Intent::Submit`.
    pub fn on_submitted(&mut self, result: Result<i64, String>) {
        if let Some(d) = &mut self.dialog {
            d.submitted_at = Some(self.now);
            d.status = match result {
                Ok(id) => DialogStatus::Pending(id),
                Err(e) => DialogStatus::Error(e),
            };
        }
        // The verdict may already be known (engine in the same process).
        self.after_data_change();
    }

    pub fn flash(&mut self, text: impl Into<String>, level: Level) {
        self.flash = Some(Flash {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    /// Recompute the filtered, sorted list of databases, keeping the selection.
    pub fn refresh_rows(&mut self) {
        let dbs = &self.data.dbs;
        let warn = self.theme.lag_warn_s.max(self.limits.max_lag_s);
        let mut rows: Vec<usize> = (0..dbs.len())
            .filter(|&i| {
                let d = &dbs[i];
                self.db_filter.matches(d)
                    && (!self.faults_only
                        || matches!(d.stage, Stage::Failed | Stage::Paused)
                        || d.lag_s.is_some_and(|l| l > warn)
                        || d.validation.as_ref().is_some_and(|v| !v.passed))
            })
            .collect();
        let key = self.sort;
        rows.sort_by(|&a, &b| {
            let (x, y) = (&dbs[a], &dbs[b]);
            let o = match key {
                SortKey::Name => std::cmp::Ordering::Equal,
                SortKey::Stage => x.stage.cmp(&y.stage),
                SortKey::Wave => x.wave.cmp(&y.wave),
                SortKey::Lag => x.lag_s.unwrap_or(-1.0).total_cmp(&y.lag_s.unwrap_or(-1.0)),
                SortKey::Size => x.size_gb.total_cmp(&y.size_gb),
                SortKey::Age => y.last_event_at.cmp(&x.last_event_at),
                SortKey::Progress => x.progress_pct.total_cmp(&y.progress_pct),
            };
            // dbs are sorted by id already; a stable sort keeps that as the tie-break.
            if self.sort_desc {
                o.reverse()
            } else {
                o
            }
        });
        if self.sort == SortKey::Name && self.sort_desc {
            rows.reverse();
        }
        self.rows = rows;
        self.db_cursor = match &self.db_sel {
            Some(id) => self
                .rows
                .iter()
                .position(|&i| dbs[i].db_id == *id)
                .unwrap_or(self.db_cursor.min(self.rows.len().saturating_sub(1))),
            None => 0,
        };
        self.sync_sel();
    }

    fn sync_sel(&mut self) {
        if self.db_cursor >= self.rows.len() {
            self.db_cursor = self.rows.len().saturating_sub(1);
        }
        self.db_sel = self
            .rows
            .get(self.db_cursor)
            .map(|&i| self.data.dbs[i].db_id.clone());
        let page = self.page();
        self.db_offset = scroll_offset(self.db_offset, self.db_cursor, page);
    }

    /// The database under the cursor in the current view.
    pub fn current_db(&self) -> Option<&str> {
        match self.view {
            View::Detail => self.detail.as_deref(),
            View::Databases => self.db_sel.as_deref(),
            View::Events => self
                .events_view()
                .get(self.ev_cursor)
                .and_then(|s| s.event.db_id.as_deref()),
            View::Waves | View::Program => None,
        }
    }

    pub fn current_wave(&self) -> Option<u32> {
        match self.view {
            View::Waves => match self.wave_rows.get(self.wave_cursor) {
                Some(WaveRow::Wave(n)) => Some(*n),
                // A folded run is many waves: an action needs one, so unfold it first.
                _ => None,
            },
            _ => self
                .current_db()
                .and_then(|id| self.data.db(id))
                .and_then(|d| d.wave),
        }
    }

    /// Events after the Events view's filters, newest first.
    pub fn events_view(&self) -> Vec<&super::data::Shown> {
        let f = self.ev_filter_text.to_ascii_lowercase();
        let terms: Vec<&str> = f.split_whitespace().collect();
        self.data
            .events
            .iter()
            .rev()
            .filter(|s| self.ev_telemetry || !s.telemetry)
            .filter(|s| s.severity >= self.ev_min)
            .filter(|s| {
                let e = &s.event;
                terms.iter().all(|t| {
                    if let Some(w) = t.strip_prefix("wave:") {
                        e.wave.map(|x| x.to_string()).as_deref() == Some(w)
                    } else if let Some(d) = t.strip_prefix("db:") {
                        e.db_id
                            .as_deref()
                            .is_some_and(|x| x.to_ascii_lowercase().contains(d))
                    } else if let Some(sev) = t.strip_prefix("sev:") {
                        s.severity.as_str() == sev
                    } else {
                        e.kind.contains(t)
                            || e.db_id
                                .as_deref()
                                .is_some_and(|x| x.to_ascii_lowercase().contains(t))
                            || s.text.to_ascii_lowercase().contains(t)
                    }
                })
            })
            .collect()
    }

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

/// Keep the cursor visible, scrolling only when it leaves the viewport.
pub fn scroll_offset(offset: usize, cursor: usize, page: usize) -> usize {
    let page = page.max(1);
    if cursor < offset {
        cursor
    } else if cursor >= offset + page {
        cursor + 1 - page
    } else {
        offset
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

fn action_key(view: View, c: char) -> Option<Action> {
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

impl App {
    /// The stage counts of a wave's members, in `Stage::ALL` order.
    pub fn wave_stage_counts(&self, n: Option<u32>) -> [usize; 14] {
        let mut c = [0usize; 14];
        for d in self.data.dbs.iter().filter(|d| d.wave == n) {
            c[super::theme::stage_index(d.stage)] += 1;
        }
        c
    }
}
