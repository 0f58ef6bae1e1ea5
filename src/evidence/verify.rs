//! Verify a pack: every file against the manifest, each chain file line by line (hash, order,
//! continuity, against the index in `pack.json`), and the derived artefacts against what the
//! events say. Every problem names the file and, where there is one, the line.

use super::artefacts;
use super::format::{self, ChainIndex, PackLine, PackMeta, EVENTS, META, WAVE_EVENTS};
use super::index;
use super::manifest::{self, MANIFEST};
use super::pack;
use super::problem::{problem, Problem};
use crate::store::hash::GENESIS_HASH;
use crate::store::model::Event;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Check the files of one pack (name → content). Empty result: the pack is intact.
pub fn verify_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<Problem> {
    let mut out = check_manifest(files);

    let meta = match files.get(META) {
        None => {
            if !out.iter().any(|p| p.file == META) {
                out.push(problem(
                    META,
                    None,
                    "missing: the pack cannot be checked without it",
                ));
            }
            None
        }
        Some(bytes) => match serde_json::from_slice::<PackMeta>(bytes) {
            Ok(m) if m.format == format::FORMAT || m.unbound() => Some(m),
            Ok(m) => {
                out.push(problem(
                    META,
                    None,
                    format!("format {:?} is not {:?}", m.format, format::FORMAT),
                ));
                None
            }
            Err(e) => {
                out.push(problem(
                    META,
                    Some(e.line()),
                    format!("edited: not a pack description any more ({e})"),
                ));
                None
            }
        },
    };

    let mut chains: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    let mut chains_clean = true;
    for name in [EVENTS, WAVE_EVENTS] {
        let index = meta.as_ref().and_then(|m| m.chains.get(name));
        let owner = meta.as_ref().map(|m| {
            if name == EVENTS {
                Owner::Db(m.db_id.as_str())
            } else {
                Owner::Wave(m.state.wave)
            }
        });
        let Some(bytes) = files.get(name) else {
            if !out.iter().any(|p| p.file == name) {
                out.push(problem(name, None, "missing"));
            }
            chains_clean = false;
            continue;
        };
        let Ok(text) = std::str::from_utf8(bytes) else {
            out.push(problem(name, None, "edited: not UTF-8 text any more"));
            chains_clean = false;
            continue;
        };
        let (events, problems) = check_chain(name, text, index, owner);
        chains_clean &= problems.is_empty();
        out.extend(problems);
        chains.insert(name, events);
    }

    // Derived files are only compared when their sources are intact: otherwise every artefact
    // would differ and drown the real finding.
    if let (Some(meta), true) = (&meta, chains_clean) {
        let events = chains.get(EVENTS).map(Vec::as_slice).unwrap_or(&[]);
        let wave_events = chains.get(WAVE_EVENTS).map(Vec::as_slice).unwrap_or(&[]);
        let has = |n: &str| files.contains_key(n) || in_manifest(files, n);
        for (name, expected) in artefacts::derive_having(meta, events, wave_events, &has) {
            if let Some(actual) = files.get(&name) {
                if let Some((line, what)) = first_difference(&expected, actual) {
                    out.push(problem(&name, Some(line), what));
                }
            } else if !out.iter().any(|p| p.file == name) {
                out.push(problem(&name, None, "missing"));
            }
        }
    }
    out
}

fn check_manifest(files: &BTreeMap<String, Vec<u8>>) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(bytes) = files.get(MANIFEST) else {
        out.push(problem(
            MANIFEST,
            None,
            "missing: files cannot be checked against the export",
        ));
        return out;
    };
    let text = String::from_utf8_lossy(bytes);
    let (entries, bad) = manifest::parse(&text);
    for b in bad {
        out.push(problem(MANIFEST, Some(b.line), format!("line {}", b.what)));
    }
    let mut listed = HashSet::new();
    let known = pack::known_files();
    for e in &entries {
        listed.insert(e.name.as_str());
        if files.contains_key(&e.name) && !known.contains(&e.name) {
            out.push(problem(
                &e.name,
                None,
                format!(
                    "added after export: wavedeck writes no such file into a pack, yet {MANIFEST} \
                     line {} lists it, so the manifest was rewritten too; remove the file and check \
                     the pack with --against-store",
                    e.line
                ),
            ));
            continue;
        }
        match files.get(&e.name) {
            None => out.push(problem(
                &e.name,
                None,
                format!(
                    "removed: listed in {MANIFEST} (line {}) but missing",
                    e.line
                ),
            )),
            Some(content) if manifest::sha256_hex(content) != e.sha256 => out.push(problem(
                &e.name,
                None,
                format!(
                    "changed since export: sha256 differs from {MANIFEST} line {}",
                    e.line
                ),
            )),
            Some(_) => {}
        }
    }
    for name in files.keys() {
        if name != MANIFEST && !listed.contains(name.as_str()) {
            out.push(problem(
                name,
                None,
                format!("added after export: not in {MANIFEST}"),
            ));
        }
    }
    out
}

/// Whose events a chain file holds.
#[derive(Clone, Copy)]
enum Owner<'a> {
    /// `events.jsonl`: this database's.
    Db(&'a str),
    /// `wave-events.jsonl`: the events of the pack's wave (about no database).
    Wave(Option<u32>),
}

/// Check one chain file. `index` (from pack.json) lets removals, insertions and moves be named
/// exactly; without it, order and continuity are still checked. `owner`: `None` when unknown.
fn check_chain(
    name: &str,
    text: &str,
    index: Option<&ChainIndex>,
    owner: Option<Owner>,
) -> (Vec<Event>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut events = Vec::new();
    let lines: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect()
    };
    if !text.is_empty() && !text.ends_with('\n') {
        out.push(problem(
            name,
            Some(lines.len()),
            "edited: the file no longer ends with a newline",
        ));
    }

    // Where each indexed hash belongs, and which hashes the file still holds.
    let position: HashMap<&str, usize> = index
        .map(|ix| {
            ix.events
                .iter()
                .enumerate()
                .map(|(i, (_, h))| (h.as_str(), i))
                .collect()
        })
        .unwrap_or_default();
    let parsed: Vec<Option<PackLine>> = lines
        .iter()
        .map(|l| serde_json::from_str::<PackLine>(l).ok())
        .collect();
    let present: HashSet<&str> = parsed
        .iter()
        .flatten()
        .map(|p| p.event.hash.as_str())
        .collect();

    let mut expected = 0usize; // next index position
    let mut prev_hash: Option<String> = Some(GENESIS_HASH.to_string());
    let mut prev_seq: Option<i64> = None;
    for (i, (raw, line)) in lines.iter().zip(&parsed).enumerate() {
        let n = i + 1;
        let Some(line) = line else {
            let err = serde_json::from_str::<PackLine>(raw)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            out.push(problem(
                name,
                Some(n),
                format!("edited: not an event line ({err})"),
            ));
            expected += 1;
            prev_hash = None;
            prev_seq = None;
            continue;
        };
        let ev = &line.event;
        let seq = ev.seq;
        // An edited line is taken to stand where it stood: the index pointer moves past it.
        let in_place = |expected: &mut usize| *expected += 1;
        let found = if ev.compute_hash() != ev.hash {
            in_place(&mut expected);
            Some(format!(
                "edited: event seq {seq} no longer matches its hash"
            ))
        } else if pack::line_text(line) != *raw {
            in_place(&mut expected);
            Some(format!(
                "edited: the text of event seq {seq} is not as exported"
            ))
        } else if let Some(ix) = index {
            match position.get(ev.hash.as_str()) {
                Some(&j) if j == expected => {
                    expected = j + 1;
                    None
                }
                Some(&j) if j > expected => {
                    let skipped = &ix.events[expected..j];
                    let moved = skipped.iter().any(|(_, h)| present.contains(h.as_str()));
                    let seqs = seq_list(skipped);
                    expected = j + 1;
                    Some(if moved {
                        format!("reordered: event seq {seq} stands before seq {seqs}, which were exported ahead of it")
                    } else {
                        format!(
                            "removed: event(s) seq {seqs} exported before this line are missing"
                        )
                    })
                }
                Some(&j) => Some(format!(
                    "reordered: event seq {seq} was exported as line {}, it is now after line {}",
                    j + 1,
                    n - 1
                )),
                // Not exported: a replacement when the event expected here is gone and had
                // this seq, otherwise an insertion.
                None if ix
                    .events
                    .get(expected)
                    .is_some_and(|(s, h)| *s == seq && !present.contains(h.as_str())) =>
                {
                    in_place(&mut expected);
                    Some(format!(
                        "edited: event seq {seq} is not the one exported (content and hash rewritten)"
                    ))
                }
                None => Some(format!(
                    "inserted: event seq {seq} is not among the {} events exported",
                    ix.count
                )),
            }
        } else if prev_seq.is_some_and(|p| seq <= p) {
            Some(format!(
                "reordered: seq {seq} after seq {} on line {}",
                prev_seq.unwrap_or_default(),
                n - 1
            ))
        } else {
            None
        };
        let wrong_owner = match owner {
            Some(Owner::Db(db)) if ev.db_id.as_deref() != Some(db) => Some(format!(
                "inserted: event seq {seq} is about {:?}, not {db}",
                ev.db_id
            )),
            Some(Owner::Wave(_)) if ev.db_id.is_some() => Some(format!(
                "inserted: event seq {seq} is about a database, not the wave"
            )),
            Some(Owner::Wave(w)) if ev.wave != w => Some(format!(
                "inserted: event seq {seq} is about wave {}, not this pack's wave {} (pack.json)",
                wave_text(ev.wave),
                wave_text(w)
            )),
            _ => None,
        };
        let found = found.or(wrong_owner).or_else(|| {
            prev_hash
                .as_ref()
                .filter(|p| **p != line.pack_prev_hash)
                .map(|_| {
                    format!(
                        "edited: pack_prev_hash of event seq {seq} does not match line {} (a line was removed, inserted or moved)",
                        n.saturating_sub(1)
                    )
                })
        });
        if let Some(what) = found {
            out.push(problem(name, Some(n), what));
        }
        prev_hash = Some(ev.hash.clone());
        prev_seq = Some(seq);
        events.push(ev.clone());
    }

    if let Some(ix) = index {
        if expected < ix.events.len() {
            let missing = &ix.events[expected..];
            out.push(problem(
                name,
                Some(lines.len() + 1),
                format!(
                    "removed: event(s) seq {} exported at the end are missing ({} exported, {} lines)",
                    seq_list(missing),
                    ix.count,
                    lines.len()
                ),
            ));
        } else if out.is_empty() && (ix.count != lines.len() || ix.last_hash != last_hash(&events))
        {
            out.push(problem(
                name,
                None,
                format!(
                    "does not match {META}: {} events with last hash {} were exported",
                    ix.count, ix.last_hash
                ),
            ));
        }
    }
    (events, out)
}

fn wave_text(w: Option<u32>) -> String {
    w.map(|w| w.to_string()).unwrap_or_else(|| "none".into())
}

fn last_hash(events: &[Event]) -> String {
    events
        .last()
        .map(|e| e.hash.clone())
        .unwrap_or_else(|| GENESIS_HASH.to_string())
}

fn seq_list(items: &[(i64, String)]) -> String {
    let seqs: Vec<String> = items.iter().map(|(s, _)| s.to_string()).collect();
    if seqs.len() <= 5 {
        seqs.join(", ")
    } else {
        format!(
            "{}, ... {} ({} events)",
            seqs[..3].join(", "),
            seqs[seqs.len() - 1],
            seqs.len()
        )
    }
}

/// First line where `actual` differs from `expected`, with a short description.
fn first_difference(expected: &[u8], actual: &[u8]) -> Option<(usize, String)> {
    if expected == actual {
        return None;
    }
    let exp = String::from_utf8_lossy(expected);
    let act = String::from_utf8_lossy(actual);
    let mut e_lines = exp.split('\n');
    let mut a_lines = act.split('\n');
    let mut n = 0;
    loop {
        n += 1;
        match (e_lines.next(), a_lines.next()) {
            (Some(e), Some(a)) if e == a => continue,
            (Some(e), Some(_)) => {
                return Some((
                    n,
                    format!(
                        "edited: differs from what the events say (expected {:?})",
                        clip(e)
                    ),
                ))
            }
            (Some(e), None) => {
                return Some((n, format!("removed: line expected here ({:?})", clip(e))))
            }
            (None, Some(_)) => {
                return Some((n, "inserted: line not derived from the events".into()))
            }
            (None, None) => return Some((n, "edited".into())),
        }
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The result of verifying a folder of packs (or a single pack).
#[derive(Debug, Default)]
pub struct Report {
    pub packs: usize,
    pub events: usize,
    /// (pack folder, or the export folder for its index files; problem)
    pub problems: Vec<(PathBuf, Problem)>,
    /// Folders of packs made before packs were bound to their wave export (format 1).
    pub unbound: Vec<String>,
    /// Wave exports whose member list was checked: (wave, members).
    pub waves: Vec<(u32, usize)>,
    /// Every event line was also compared with the store (`--against-store`).
    pub store_checked: bool,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.packs > 0
    }

    /// The line printed when nothing is wrong: what was checked, and what was not.
    pub fn ok_line(&self) -> String {
        let mut s = format!(
            "ok: {} pack(s), {} event(s), every file matches its manifest and every chain is intact",
            self.packs, self.events
        );
        for (wave, n) in &self.waves {
            s.push_str(&format!(
                "; wave {wave}: all {n} member(s) of its export present and unchanged"
            ));
        }
        if !self.unbound.is_empty() {
            s.push_str(&format!(
                "; {} pack(s) made before the wave binding ({}): their wave membership was not checked",
                self.unbound.len(),
                self.unbound.join(", ")
            ));
        }
        s.push_str(if self.store_checked {
            "; every event matches the store"
        } else {
            "; the store was not checked (add --against-store)"
        });
        s
    }
}

/// Is `dir` a pack itself (it holds `MANIFEST.sha256`, `events.jsonl` or `pack.json`)?
pub(crate) fn is_pack(dir: &Path) -> bool {
    dir.join(MANIFEST).exists() || dir.join(EVENTS).exists() || dir.join(META).exists()
}

/// The packs under `dir`: `dir` itself when it is a pack, else each of its sub-folders.
pub fn pack_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    use anyhow::Context as _;
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("cannot read {} (is the path right?)", dir.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "{} is not a folder: give the pack folder or the folder holding packs",
        dir.display()
    );
    let mut packs = Vec::new();
    if is_pack(dir) {
        packs.push(dir.to_path_buf());
    } else {
        let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subs.sort();
        packs.extend(subs);
    }
    anyhow::ensure!(
        !packs.is_empty(),
        "{} holds no evidence pack (no {MANIFEST}, no pack folders); export one with `wavedeck evidence export`",
        dir.display()
    );
    Ok(packs)
}

/// A folder's own name, also for `.` or a path ending in `..`.
fn folder_name(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_default()
}

/// An index file is a few lines per member; this is far above any real wave.
const MAX_INDEX_BYTES: u64 = 16 << 20;

/// The wave indexes at the top of an export folder.
pub(crate) fn read_indexes(top: &Path) -> anyhow::Result<index::Indexes> {
    use anyhow::Context as _;
    let mut out = index::Indexes::new();
    let Ok(entries) = std::fs::read_dir(top) else {
        return Ok(out);
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", top.display()))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(wave) = index::wave_of(&name) else {
            continue;
        };
        let read = crate::input::read_text(&entry.path(), MAX_INDEX_BYTES);
        let (text, parsed) = match read {
            Ok(text) => {
                let parsed = index::parse(wave, &text);
                (text, parsed)
            }
            Err(e) => (String::new(), Err(e.to_string())),
        };
        out.insert(wave, (text, parsed));
    }
    Ok(out)
}

/// Verify `dir`: a pack or a folder of packs, each pack against its folder name, and each wave
/// export against its member list.
pub fn verify_dir(dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let whole = !is_pack(dir);
    let packs = pack_dirs(dir)?;
    // Index files sit beside the pack folders: in `dir`, or above the one pack given.
    let top = if whole {
        dir.to_path_buf()
    } else {
        std::fs::canonicalize(dir)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."))
    };
    let mut found = Vec::new();
    let mut folders = HashMap::new();
    for p in packs {
        let (files, mut problems) = read_pack(&p)?;
        report.packs += 1;
        report.events += files
            .get(EVENTS)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0);
        problems.extend(verify_files(&files));
        report
            .problems
            .extend(problems.into_iter().map(|pr| (p.clone(), pr)));
        let meta = files
            .get(META)
            .and_then(|b| serde_json::from_slice::<PackMeta>(b).ok());
        let folder = folder_name(&p);
        if meta.as_ref().is_some_and(PackMeta::unbound) {
            report.unbound.push(folder.clone());
        }
        found.push(index::Found {
            folder: folder.clone(),
            db_id: meta.as_ref().map(|m| m.db_id.clone()),
            member_of: meta.as_ref().and_then(|m| m.member_of),
            manifest_sha256: files.get(MANIFEST).map(|b| manifest::sha256_hex(b)),
        });
        folders.insert(folder, p);
    }
    let indexes = read_indexes(&top)?;
    for (at, problem) in index::check(&found, &indexes, whole) {
        let path = match at {
            index::At::Pack(f) => folders.get(&f).cloned().unwrap_or_else(|| top.join(f)),
            index::At::Top => top.clone(),
        };
        report.problems.push((path, problem));
    }
    if whole {
        report.waves = indexes
            .iter()
            .filter_map(|(w, (_, ix))| ix.as_ref().ok().map(|ix| (*w, ix.members.len())))
            .collect();
    }
    Ok(report)
}

/// A pack's files by name.
pub type Files = BTreeMap<String, Vec<u8>>;

fn read_pack(dir: &Path) -> anyhow::Result<(Files, Vec<Problem>)> {
    use anyhow::Context as _;
    let mut files = BTreeMap::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if path.is_dir() {
            problems.push(problem(
                &name,
                None,
                "added after export: a folder inside the pack",
            ));
            continue;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.insert(name, bytes);
    }
    Ok((files, problems))
}

/// Whether the pack's manifest lists `name` (a listed file that is missing was removed).
fn in_manifest(files: &BTreeMap<String, Vec<u8>>, name: &str) -> bool {
    files.get(MANIFEST).is_some_and(|m| {
        String::from_utf8_lossy(m)
            .lines()
            .any(|l| l.split_whitespace().last() == Some(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::pack::fixture;

    fn lines(files: &Files, name: &str) -> Vec<String> {
        String::from_utf8(files[name].clone())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn set_lines(files: &mut Files, name: &str, lines: &[String]) {
        let mut text = lines.join("\n");
        if !lines.is_empty() {
            text.push('\n');
        }
        files.insert(name.to_string(), text.into_bytes());
    }

    /// What an attacker who also rewrites the manifest leaves behind.
    fn reseal(files: &mut Files) {
        files.remove(MANIFEST);
        let m = manifest::render(files);
        files.insert(MANIFEST.to_string(), m.into_bytes());
    }

    /// Apply `tamper` to events.jsonl; check the line findings with and without a resealed
    /// manifest (without: the manifest also names events.jsonl).
    fn tampered(tamper: impl Fn(&mut Vec<String>)) -> Vec<Problem> {
        let mut files = fixture::sample().files;
        let mut ls = lines(&files, EVENTS);
        tamper(&mut ls);
        set_lines(&mut files, EVENTS, &ls);
        let unsealed = verify_files(&files);
        assert!(
            unsealed.iter().any(|p| p.file == EVENTS
                && p.line.is_none()
                && p.what.contains("changed since export")),
            "{unsealed:?}"
        );
        reseal(&mut files);
        let sealed = verify_files(&files);
        let lined: Vec<&Problem> = unsealed.iter().filter(|p| p.line.is_some()).collect();
        assert_eq!(
            sealed.iter().collect::<Vec<_>>(),
            lined,
            "same line findings either way"
        );
        sealed
    }

    fn only(problems: &[Problem]) -> &Problem {
        assert_eq!(problems.len(), 1, "{problems:#?}");
        &problems[0]
    }

    fn line_json(l: &str) -> serde_json::Value {
        serde_json::from_str(l).unwrap()
    }

    #[test]
    fn intact_pack_verifies() {
        let files = fixture::sample().files;
        assert_eq!(verify_files(&files), vec![]);
    }

    #[test]
    fn edited_line_is_named() {
        let ps = tampered(|ls| {
            ls[4] = ls[4].replace("\"engine\"", "\"mallory\"");
        });
        let p = only(&ps);
        assert_eq!((p.file.as_str(), p.line), (EVENTS, Some(5)));
        assert!(
            p.what
                .starts_with("edited: event seq 10 no longer matches its hash"),
            "{p}"
        );
    }

    #[test]
    fn edited_and_rehashed_line_is_named() {
        let ps = tampered(|ls| {
            let mut line: PackLine = serde_json::from_str(&ls[2]).unwrap();
            line.event.payload = serde_json::json!({"passed": true, "summary": "all fine"});
            line.event.hash = line.event.compute_hash();
            ls[2] = pack::line_text(&line);
        });
        // The rewritten line, and the next one whose pack_prev_hash no longer matches.
        assert_eq!(ps[0].line, Some(3), "{ps:#?}");
        assert!(ps[0].what.contains("not the one exported"), "{}", ps[0]);
        assert_eq!(ps[1].line, Some(4), "{ps:#?}");
        assert!(ps.iter().all(|p| p.file == EVENTS));
    }

    #[test]
    fn reformatted_line_is_named() {
        let ps = tampered(|ls| ls[0] = ls[0].replacen(':', ": ", 1));
        let p = only(&ps);
        assert_eq!(p.line, Some(1));
        assert!(
            p.what.contains("text of event seq 2 is not as exported"),
            "{p}"
        );
    }

    #[test]
    fn removed_line_is_named() {
        let ps = tampered(|ls| {
            ls.remove(3);
        });
        let p = &ps[0];
        assert_eq!((p.file.as_str(), p.line), (EVENTS, Some(4)));
        assert!(
            p.what
                .contains("removed: event(s) seq 9 exported before this line"),
            "{p}"
        );
    }

    #[test]
    fn removed_last_line_is_named() {
        let ps = tampered(|ls| {
            ls.pop();
        });
        let p = only(&ps);
        assert_eq!(p.line, Some(13));
        assert!(
            p.what.contains("seq 19 exported at the end are missing"),
            "{p}"
        );
    }

    #[test]
    fn reordered_lines_are_named() {
        let ps = tampered(|ls| ls.swap(5, 6));
        assert_eq!(ps[0].line, Some(6), "{ps:#?}");
        assert!(
            ps[0].what.starts_with("reordered: event seq 12"),
            "{}",
            ps[0]
        );
        assert_eq!(ps[1].line, Some(7));
        assert!(
            ps[1]
                .what
                .starts_with("reordered: event seq 11 was exported as line 6"),
            "{}",
            ps[1]
        );
    }

    #[test]
    fn inserted_line_is_named() {
        // A well-formed forged event, correctly hashed and linked: only the index knows.
        let ps = tampered(|ls| {
            let before: PackLine = serde_json::from_str(&ls[6]).unwrap();
            let mut forged = before.clone();
            forged.event.seq += 1;
            forged.event.kind = "db.validation".into();
            forged.event.payload = serde_json::json!({"passed": true, "summary": "forged"});
            forged.event.prev_hash = before.event.hash.clone();
            forged.event.hash = forged.event.compute_hash();
            forged.pack_prev_hash = before.event.hash.clone();
            ls.insert(7, pack::line_text(&forged));
        });
        assert_eq!(ps[0].line, Some(8), "{ps:#?}");
        assert!(ps[0].what.starts_with("inserted: event seq"), "{}", ps[0]);
    }

    #[test]
    fn inserted_line_with_the_next_lines_seq_is_an_insertion() {
        let ps = tampered(|ls| {
            let before: PackLine = serde_json::from_str(&ls[3]).unwrap();
            let after: PackLine = serde_json::from_str(&ls[4]).unwrap();
            let mut forged = before.clone();
            forged.event.seq = after.event.seq;
            forged.event.actor = "mallory".into();
            forged.event.hash = forged.event.compute_hash();
            ls.insert(4, pack::line_text(&forged));
        });
        assert_eq!(ps[0].line, Some(5), "{ps:#?}");
        assert!(ps[0].what.starts_with("inserted"), "{}", ps[0]);
    }

    #[test]
    fn inserted_line_from_another_database_is_named() {
        let all = fixture::chain("pay-ledger-01", "crm-02", "WD_FIXTURE_PW");
        let other = all.iter().find(|e| e.seq == 13).unwrap().clone();
        let ps = tampered(|ls| {
            let prev = line_json(&ls[5])["hash"].as_str().unwrap().to_string();
            let line = PackLine {
                event: other.clone(),
                pack_prev_hash: prev,
            };
            ls.insert(6, pack::line_text(&line));
        });
        assert_eq!(ps[0].line, Some(7), "{ps:#?}");
        assert!(ps[0].what.starts_with("inserted"), "{}", ps[0]);
    }

    #[test]
    fn wave_events_are_checked_too() {
        let mut files = fixture::sample().files;
        let mut ls = lines(&files, WAVE_EVENTS);
        ls.remove(1);
        set_lines(&mut files, WAVE_EVENTS, &ls);
        reseal(&mut files);
        let ps = verify_files(&files);
        let p = only(&ps);
        assert_eq!((p.file.as_str(), p.line), (WAVE_EVENTS, Some(2)));
        assert!(p.what.contains("seq 4"), "{p}");
    }

    #[test]
    fn edited_artefact_line_is_named() {
        let mut files = fixture::sample().files;
        let mut ls = lines(&files, "summary.md");
        let i = ls
            .iter()
            .position(|l| l.contains("approved by bob"))
            .unwrap();
        ls[i] = ls[i].replace("bob", "carol");
        set_lines(&mut files, "summary.md", &ls);
        let ps = verify_files(&files);
        assert_eq!(ps.len(), 2, "{ps:#?}");
        assert!(ps[0].file == "summary.md" && ps[0].what.contains("changed since export"));
        assert_eq!(
            (ps[1].file.as_str(), ps[1].line),
            ("summary.md", Some(i + 1))
        );
        reseal(&mut files);
        let ps = verify_files(&files);
        assert_eq!(only(&ps).line, Some(i + 1));
    }

    #[test]
    fn file_changes_are_named() {
        // Added.
        let mut files = fixture::sample().files;
        files.insert("notes.txt".into(), b"hi".to_vec());
        let p = only(&verify_files(&files)).clone();
        assert_eq!(p.file, "notes.txt");
        assert!(p.what.contains("added after export"));
        // Removed.
        let mut files = fixture::sample().files;
        files.remove("cdc-lag.csv");
        let p = only(&verify_files(&files)).clone();
        assert_eq!(p.file, "cdc-lag.csv");
        assert!(p.what.starts_with("removed"), "{p}");
        // Changed pack.json (the index): the manifest names it.
        let mut files = fixture::sample().files;
        let meta = String::from_utf8(files[META].clone())
            .unwrap()
            .replace("auditor", "someone");
        files.insert(META.into(), meta.into_bytes());
        let ps = verify_files(&files);
        assert!(ps.iter().any(|p| p.file == META), "{ps:#?}");
        // Manifest gone.
        let mut files = fixture::sample().files;
        files.remove(MANIFEST);
        assert_eq!(only(&verify_files(&files)).file, MANIFEST);
        // Manifest line mangled.
        let mut files = fixture::sample().files;
        let mut ls = lines(&files, MANIFEST);
        ls[2] = format!("x{}", &ls[2][1..]);
        set_lines(&mut files, MANIFEST, &ls);
        let ps = verify_files(&files);
        assert!(
            ps.iter().any(|p| p.file == MANIFEST && p.line == Some(3)),
            "{ps:#?}"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut files = fixture::sample().files;
        files.insert(EVENTS.into(), vec![0xff, 0xfe, b'\n']);
        files.insert(META.into(), b"{".to_vec());
        let ps = verify_files(&files);
        assert!(ps.iter().any(|p| p.file == EVENTS));
        assert!(ps.iter().any(|p| p.file == META));
        let mut files = fixture::sample().files;
        set_lines(
            &mut files,
            EVENTS,
            &["{}".to_string(), "not json".to_string()],
        );
        reseal(&mut files);
        let ps = verify_files(&files);
        assert_eq!(ps[0].line, Some(1));
        assert_eq!(ps[1].line, Some(2));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Tamper {
            Remove(usize),
            Swap(usize, usize),
            Duplicate(usize, usize),
            /// Replace the character at (line, position) with another printable ASCII one.
            Edit(usize, usize, u8),
        }

        fn arb_tamper() -> impl Strategy<Value = Tamper> {
            prop_oneof![
                (0usize..13).prop_map(Tamper::Remove),
                (0usize..13, 0usize..13)
                    .prop_filter("two lines", |(a, b)| a != b)
                    .prop_map(|(a, b)| Tamper::Swap(a, b)),
                (0usize..13, 0usize..14).prop_map(|(a, b)| Tamper::Duplicate(a, b)),
                (0usize..13, any::<usize>(), 0x20u8..0x7f)
                    .prop_map(|(l, p, c)| Tamper::Edit(l, p, c)),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]
            /// Any single tampering of events.jsonl is found, even with a rewritten manifest,
            /// and removals and edits are named at the right line.
            #[test]
            fn any_tampering_is_found(t in arb_tamper()) {
                let mut files = fixture::sample().files;
                let mut ls = lines(&files, EVENTS);
                prop_assert_eq!(ls.len(), 13);
                let expected_line = match t {
                    Tamper::Remove(i) => {
                        ls.remove(i);
                        Some(i + 1)
                    }
                    Tamper::Swap(a, b) => {
                        ls.swap(a, b);
                        Some(a.min(b) + 1)
                    }
                    Tamper::Duplicate(a, b) => {
                        let l = ls[a].clone();
                        ls.insert(b, l);
                        None
                    }
                    Tamper::Edit(l, p, c) => {
                        let mut bytes = ls[l].clone().into_bytes();
                        let p = p % bytes.len();
                        prop_assume!(bytes[p] != c);
                        bytes[p] = c;
                        ls[l] = String::from_utf8(bytes).unwrap();
                        Some(l + 1)
                    }
                };
                set_lines(&mut files, EVENTS, &ls);
                reseal(&mut files);
                let ps = verify_files(&files);
                prop_assert!(!ps.is_empty(), "{:?} not found", t);
                prop_assert!(ps.iter().all(|p| p.file == EVENTS), "{:?}", ps);
                if let Some(line) = expected_line {
                    prop_assert_eq!(ps[0].line, Some(line), "{:?}: {:?}", t, ps);
                }
            }
        }
    }
}
