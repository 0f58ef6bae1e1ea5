//! The cockpit's state: what each view shows and where its cursor is, refreshed from the feed.

use crate::alerts::board::{Key, Standing};
use crate::lifecycle::Stage;
use crate::signoff::{self, Signature, SignoffRole};
use crate::store::model::{Action, CommandStatus, DbState, Role, Target};
use crate::tui::data::{Data, FeedUpdate, Severity};
use crate::tui::guards::{self, GuardLine, Limits};
use crate::tui::query::DbFilter;
use crate::tui::theme::Theme;
use crate::tui::wavelist::{WaveFilter, WaveRow, WaveSort};
use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Program,
    Waves,
    Databases,
    Detail,
    Events,
    Alerts,
}

impl View {
    pub fn title(self) -> &'static str {
        match self {
            View::Program => "Program",
            View::Waves => "Waves",
            View::Databases => "Databases",
            View::Detail => "Database",
            View::Events => "Events",
            View::Alerts => "Alerts",
        }
    }

    /// For narrow terminals.
    pub fn short_title(self) -> &'static str {
        match self {
            View::Program => "Prog",
            View::Waves => "Waves",
            View::Databases => "DBs",
            View::Detail => "DB",
            View::Events => "Evts",
            View::Alerts => "Alrt",
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
    /// What the command carries besides the confirmation (a sign-off's role and note, the rule
    /// of an alert to acknowledge).
    pub args: serde_json::Map<String, serde_json::Value>,
    pub status: DialogStatus,
    /// When the command row was written, to say so when no engine answers.
    pub submitted_at: Option<DateTime<Utc>>,
    /// A cutover's offline databases and the write outage each is expected to cause: shown
    /// before the confirmation and carried in the command's args.
    pub outage: Vec<crate::plan::expected::Expected>,
}

impl Dialog {
    pub fn blocked(&self) -> bool {
        self.guards.iter().any(|g| !g.ok)
    }

    fn target_db(&self) -> Option<&str> {
        match &self.target {
            Target::Db(id) => Some(id),
            Target::Wave(_) | Target::Factory => None,
        }
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
    /// The planner's limits from the config (the expected offline outage is the plan's one
    /// estimate); the store's measured validation rates are added from the feed.
    pub plan_limits: crate::plan::PlanLimits,
    pub now: DateTime<Utc>,
    pub store_label: String,
    /// Config `signoff`: who holds which role (the header) and who may sign here.
    pub signoff: crate::signoff::SignoffConfig,
    /// Who the commands are written as (`$USER`).
    pub who: String,
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
    /// The Alerts view's cursor, over the standing alerts.
    pub alert_cursor: usize,
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
            plan_limits: crate::plan::PlanLimits::from_config(&Default::default()),
            now,
            store_label: String::new(),
            signoff: Default::default(),
            who: "operator".into(),
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
            alert_cursor: 0,
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
        self.wave_rows = crate::tui::wavelist::rows(
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

    pub(super) fn after_data_change(&mut self) {
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
        }
        if let Some(mut d) = self.dialog.take() {
            if d.status == DialogStatus::Asking {
                d.guards = self.dialog_guards(&d);
                d.outage = self.expected_outage(d.action, &d.target);
            }
            self.dialog = Some(d);
        }
        self.refresh_waves();
        let n = self.data.alerts.standing.len();
        if self.alert_cursor >= n {
            self.alert_cursor = n.saturating_sub(1);
        }
    }

    /// The lines an open dialog shows before it is submitted: the action's guards and, for a
    /// sign-off, whose role it is and what the cutover guard will say once it is in.
    pub(super) fn dialog_guards(&self, d: &Dialog) -> Vec<GuardLine> {
        let mut out = guards::for_dialog(
            d.action,
            &d.target,
            &d.args,
            &self.data,
            self.now,
            self.limits,
            self.role,
        );
        let role = d
            .args
            .get("role")
            .and_then(|r| r.as_str())
            .and_then(SignoffRole::parse);
        let (Action::Signoff, Some(role)) = (d.action, role) else {
            return out;
        };
        out.push(GuardLine {
            name: "holder".into(),
            ok: true,
            sentence: format!("{} holds the {} role", self.who, role.as_str()),
        });
        if let Some(db) = d.target_db().and_then(|id| self.data.db(id)) {
            let mut after = db.signoff.clone();
            after.sign(Signature {
                role,
                who: self.who.clone(),
                at: self.now,
                note: None,
            });
            let (_, s) = signoff::check(&self.limits.signoff.roles(db.criticality), &after);
            // Informational: a sign-off that leaves roles missing is still worth recording.
            out.push(GuardLine {
                name: "signoff".into(),
                ok: true,
                sentence: format!("after this: {s}"),
            });
        }
        out
    }

    /// The offline databases a cutover of `target` moves and the write outage each is expected
    /// to cause (nothing for another action, or for online databases).
    pub(super) fn expected_outage(
        &self,
        action: Action,
        target: &Target,
    ) -> Vec<crate::plan::expected::Expected> {
        if action != Action::Cutover {
            return Vec::new();
        }
        let mut limits = self.plan_limits.clone();
        limits.measured_validation = self.data.measured_rates.clone();
        let of = |d: &DbState| crate::plan::expected::of(d, &limits);
        match target {
            Target::Db(id) => self.data.db(id).and_then(of).into_iter().collect(),
            Target::Wave(n) => self.data.members(Some(*n)).filter_map(of).collect(),
            Target::Factory => Vec::new(),
        }
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

    pub(super) fn sync_sel(&mut self) {
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
            View::Alerts => self.current_alert().and_then(|(k, _)| k.1.as_deref()),
            View::Waves | View::Program => None,
        }
    }

    /// The standing alert under the Alerts view's cursor.
    pub fn current_alert(&self) -> Option<(&Key, &Standing)> {
        self.data.alerts.standing.iter().nth(self.alert_cursor)
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
    pub fn events_view(&self) -> Vec<&crate::tui::data::Shown> {
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

impl App {
    /// The stage counts of a wave's members, in `Stage::ALL` order.
    pub fn wave_stage_counts(&self, n: Option<u32>) -> [usize; Stage::COUNT] {
        let mut c = [0usize; Stage::COUNT];
        for d in self.data.dbs.iter().filter(|d| d.wave == n) {
            c[crate::tui::theme::stage_index(d.stage)] += 1;
        }
        c
    }
}
