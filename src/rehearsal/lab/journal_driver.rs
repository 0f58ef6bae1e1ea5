//! A resumable driver for one cutover (or its rollback) outside the engine: the lab and the
//! tests use it. It records intent before and outcome after each step in an append-only JSONL
//! journal (fsynced per line), exactly as the engine records `step.intent` / `step.outcome`
//! events in the store, so a driver killed at any moment resumes where it stopped and every step
//! completes exactly once.

use crate::cutover;
use crate::cutover::context::{CutoverCtx, CutoverError, StepOutcome};
use crate::cutover::steps::{rollback_plan, CutoverStep, RollbackAction};
use crate::engine::effects::FAULT_STALL_ENV;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: String,
    /// `intent` or `outcome`.
    pub kind: String,
    pub step: String,
    #[serde(default)]
    pub ok: Option<bool>,
    /// True when the outcome was found already in place on resume (no new effect).
    #[serde(default)]
    pub resumed: bool,
    #[serde(default)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct Journal {
    pub path: PathBuf,
}

impl Journal {
    pub fn new(path: impl Into<PathBuf>) -> Journal {
        Journal { path: path.into() }
    }

    /// Entries in order. A torn last line (crash while writing it) is ignored: the step it
    /// described is then simply not recorded, and the step is idempotent.
    pub fn entries(&self) -> std::io::Result<Vec<JournalEntry>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    pub fn append(&self, e: &JournalEntry) -> std::io::Result<()> {
        if let Some(d) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut line = Vec::new();
        // After a torn write, start on a fresh line so this entry stays readable.
        if ends_without_newline(&self.path)? {
            line.push(b'\n');
        }
        line.extend(serde_json::to_vec(e).map_err(std::io::Error::other)?);
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_data()
    }

    /// Rename the journal to `<name>.reset-<time>` so the next cutover starts a fresh one
    /// (the old one stays as evidence). Returns the new path, `None` when there was none.
    pub fn move_aside(&self) -> std::io::Result<Option<PathBuf>> {
        if !self.path.exists() {
            return Ok(None);
        }
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".reset-{}", Utc::now().format("%Y%m%dT%H%M%S%.3f")));
        let aside = self.path.with_file_name(name);
        std::fs::rename(&self.path, &aside)?;
        Ok(Some(aside))
    }

    fn has(&self, entries: &[JournalEntry], step: &str, kind: &str, ok: Option<bool>) -> bool {
        entries
            .iter()
            .any(|e| e.step == step && e.kind == kind && (ok.is_none() || e.ok == ok))
    }
}

fn ends_without_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b)?;
    Ok(b[0] != b'\n')
}

/// Steps with a successful outcome in `entries`.
pub fn completed(entries: &[JournalEntry]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.kind == "outcome" && e.ok == Some(true))
        .map(|e| e.step.clone())
        .collect()
}

/// Cutover steps that at least started (an intent was recorded).
pub fn started_steps(entries: &[JournalEntry]) -> Vec<CutoverStep> {
    CutoverStep::ALL
        .into_iter()
        .filter(|s| entries.iter().any(|e| e.step == s.as_str()))
        .collect()
}

fn entry(
    kind: &str,
    step: &str,
    ok: Option<bool>,
    resumed: bool,
    detail: serde_json::Value,
) -> JournalEntry {
    JournalEntry {
        at: Utc::now().to_rfc3339(),
        kind: kind.into(),
        step: step.into(),
        ok,
        resumed,
        detail,
    }
}

fn stall_if_asked(step: &str) {
    if std::env::var(FAULT_STALL_ENV).ok().as_deref() == Some(step) {
        eprintln!("stalled at {step}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    CutoverStep(#[from] CutoverError),
    #[error("journal {path}: {msg}")]
    Journal { path: PathBuf, msg: String },
    #[error("{0}")]
    Refused(String),
}

fn jerr(path: &Path, e: impl std::fmt::Display) -> DriveError {
    DriveError::Journal {
        path: path.to_path_buf(),
        msg: e.to_string(),
    }
}

/// Run (or resume) the cutover recorded in `journal`. `progress` is told about each step.
pub async fn drive_cutover(
    ctx: &CutoverCtx,
    journal: &Journal,
    mut progress: impl FnMut(&str, &StepOutcome, bool),
) -> Result<Vec<StepOutcome>, DriveError> {
    let mut outcomes = Vec::new();
    for step in CutoverStep::ALL {
        let name = step.as_str();
        let entries = journal.entries().map_err(|e| jerr(&journal.path, e))?;
        if journal.has(&entries, "rollback.done", "outcome", Some(true)) {
            return Err(DriveError::Refused(format!(
                "{}: this cutover was rolled back; start a new journal for a new attempt",
                ctx.db_id
            )));
        }
        if journal.has(&entries, name, "outcome", Some(true)) {
            continue;
        }
        let interrupted = journal.has(&entries, name, "intent", None);
        if interrupted && cutover::is_done(step, ctx).await? {
            let o = StepOutcome {
                step: name.into(),
                detail: serde_json::json!({"already_in_place": true}),
                ms: 0,
            };
            journal
                .append(&entry("outcome", name, Some(true), true, o.detail.clone()))
                .map_err(|e| jerr(&journal.path, e))?;
            progress(name, &o, true);
            outcomes.push(o);
            continue;
        }
        journal
            .append(&entry("intent", name, None, false, ctx.intent(step)))
            .map_err(|e| jerr(&journal.path, e))?;
        match cutover::run_step(step, ctx).await {
            Ok(o) => {
                stall_if_asked(name);
                journal
                    .append(&entry("outcome", name, Some(true), false, o.detail.clone()))
                    .map_err(|e| jerr(&journal.path, e))?;
                progress(name, &o, false);
                outcomes.push(o);
            }
            Err(e) => {
                journal
                    .append(&entry(
                        "outcome",
                        name,
                        Some(false),
                        false,
                        serde_json::json!({"error": e.to_string(), "retryable": e.retryable()}),
                    ))
                    .map_err(|e| jerr(&journal.path, e))?;
                return Err(e.into());
            }
        }
    }
    Ok(outcomes)
}

/// Undo the cutover recorded in `journal` (whatever part of it ran), resumably.
pub async fn drive_rollback(
    ctx: &CutoverCtx,
    journal: &Journal,
    mut progress: impl FnMut(&str, &StepOutcome, bool),
) -> Result<Vec<StepOutcome>, DriveError> {
    let entries = journal.entries().map_err(|e| jerr(&journal.path, e))?;
    let plan: Vec<RollbackAction> = rollback_plan(&started_steps(&entries));
    let mut outcomes = Vec::new();
    for action in plan {
        let name = action.as_str();
        let entries = journal.entries().map_err(|e| jerr(&journal.path, e))?;
        if journal.has(&entries, name, "outcome", Some(true)) {
            continue;
        }
        let interrupted = journal.has(&entries, name, "intent", None);
        if interrupted && cutover::rollback_is_done(action, ctx).await? {
            let o = StepOutcome {
                step: name.into(),
                detail: serde_json::json!({"already_in_place": true}),
                ms: 0,
            };
            journal
                .append(&entry("outcome", name, Some(true), true, o.detail.clone()))
                .map_err(|e| jerr(&journal.path, e))?;
            progress(name, &o, true);
            outcomes.push(o);
            continue;
        }
        journal
            .append(&entry(
                "intent",
                name,
                None,
                false,
                ctx.rollback_intent(action),
            ))
            .map_err(|e| jerr(&journal.path, e))?;
        match cutover::run_rollback(action, ctx).await {
            Ok(o) => {
                stall_if_asked(name);
                journal
                    .append(&entry("outcome", name, Some(true), false, o.detail.clone()))
                    .map_err(|e| jerr(&journal.path, e))?;
                progress(name, &o, false);
                outcomes.push(o);
            }
            Err(e) => {
                journal
                    .append(&entry(
                        "outcome",
                        name,
                        Some(false),
                        false,
                        serde_json::json!({"error": e.to_string()}),
                    ))
                    .map_err(|e| jerr(&journal.path, e))?;
                return Err(e.into());
            }
        }
    }
    journal
        .append(&entry(
            "outcome",
            "rollback.done",
            Some(true),
            false,
            serde_json::json!({}),
        ))
        .map_err(|e| jerr(&journal.path, e))?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_survives_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("j.jsonl"));
        j.append(&entry(
            "intent",
            "cutover.guards",
            None,
            false,
            serde_json::json!({}),
        ))
        .unwrap();
        j.append(&entry(
            "outcome",
            "cutover.guards",
            Some(true),
            false,
            serde_json::json!({}),
        ))
        .unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&j.path)
            .unwrap();
        f.write_all(b"{\"at\":\"2026-").unwrap();
        let es = j.entries().unwrap();
        assert_eq!(es.len(), 2);
        j.append(&entry(
            "intent",
            "cutover.drain_source",
            None,
            false,
            serde_json::json!({}),
        ))
        .unwrap();
        let es = j.entries().unwrap();
        assert_eq!(es.len(), 3);
        assert_eq!(completed(&es), vec!["cutover.guards".to_string()]);
        assert_eq!(
            started_steps(&es),
            vec![CutoverStep::Guards, CutoverStep::DrainSource]
        );
        let aside = j.move_aside().unwrap().unwrap();
        assert!(
            aside.to_string_lossy().contains("j.jsonl.reset-"),
            "{aside:?}"
        );
        assert!(j.entries().unwrap().is_empty());
        assert_eq!(j.move_aside().unwrap(), None);
    }
}
