//! A wave export's member list, `wave-N.index.json` at the top of the export folder, and the
//! checks that bind packs to their folder and their wave. Pure: verify reads the folder and
//! hands over what it found.
//!
//! Each pack is hashed whole by its `MANIFEST.sha256` (which covers `pack.json`, which names
//! the database, its wave and the wave export it belongs to). The index lists every member
//! with its manifest's SHA-256, so:
//! - a pack removed from the folder is missing from the index's list;
//! - a pack replaced by another (another database's, or an older export) has another manifest;
//! - the index removed with it is missed by the packs that say they belong to it;
//! - a pack copied under another folder name holds a `pack.json` naming another database.
//!
//! Someone who rewrites every pack, every manifest and the index consistently passes these
//! checks, as with any unsigned file; `verify --against-store` compares with the store.

use super::problem::Problem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const FORMAT: &str = "wavedeck-evidence-index/1";

/// `wave-N.index.json`.
pub fn file_name(wave: u32) -> String {
    format!("wave-{wave}.index.json")
}

/// The wave of an index file's name, if it is one.
pub fn wave_of(name: &str) -> Option<u32> {
    name.strip_prefix("wave-")?
        .strip_suffix(".index.json")?
        .parse()
        .ok()
}

/// One member of a wave export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub db_id: String,
    /// SHA-256 of the member's `MANIFEST.sha256`, which hashes every file of its pack.
    pub manifest_sha256: String,
}

/// The content of `wave-N.index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaveIndex {
    pub format: String,
    pub wave: u32,
    pub exported_at: DateTime<Utc>,
    pub exported_by: String,
    /// In db_id order.
    pub members: Vec<Member>,
}

/// The index file's text (one member per line, so a removed or edited entry is named by line).
pub fn render(index: &WaveIndex) -> String {
    let mut out = format!(
        "{{\n  \"format\": {},\n  \"wave\": {},\n  \"exported_at\": {},\n  \"exported_by\": {},\n  \"members\": [\n",
        json(&index.format),
        index.wave,
        json(&index.exported_at),
        json(&index.exported_by)
    );
    for (i, m) in index.members.iter().enumerate() {
        let comma = if i + 1 < index.members.len() { "," } else { "" };
        out.push_str(&format!("    {}{comma}\n", json(m)));
    }
    out.push_str("  ]\n}\n");
    out
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The line of `text` on which member `db_id` is listed (1-based).
fn member_line(text: &str, db_id: &str) -> Option<usize> {
    let needle = format!("\"db_id\":{}", json(&db_id));
    text.lines()
        .position(|l| l.contains(&needle))
        .map(|i| i + 1)
}

/// What verify found of one pack folder, for the binding checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The folder's name.
    pub folder: String,
    /// `pack.json`'s database, when it could be read.
    pub db_id: Option<String>,
    /// The wave export the pack says it belongs to (format 2 packs of a wave export).
    pub member_of: Option<u32>,
    /// SHA-256 of its `MANIFEST.sha256`, when there is one.
    pub manifest_sha256: Option<String>,
}

/// An index file found at the top of the export: its text, or why it could not be read.
pub type Indexes = BTreeMap<u32, (String, Result<WaveIndex, String>)>;

/// Read an index file's text.
pub fn parse(wave: u32, text: &str) -> Result<WaveIndex, String> {
    let ix: WaveIndex = serde_json::from_str(text)
        .map_err(|e| format!("line {}: not a wave index any more ({e})", e.line()))?;
    if ix.format != FORMAT {
        return Err(format!("format {:?} is not {FORMAT:?}", ix.format));
    }
    if ix.wave != wave {
        return Err(format!(
            "lists wave {} but is named for wave {wave}: the file was renamed",
            ix.wave
        ));
    }
    Ok(ix)
}

/// Where a problem belongs: a pack folder, or a file at the top of the export.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum At {
    Pack(String),
    Top,
}

fn at_top(file: &str, line: Option<usize>, what: String) -> (At, Problem) {
    (
        At::Top,
        Problem {
            file: file.to_string(),
            line,
            what,
        },
    )
}

fn at_pack(folder: &str, what: String) -> (At, Problem) {
    (
        At::Pack(folder.to_string()),
        Problem {
            file: String::new(),
            line: None,
            what,
        },
    )
}

/// Bind each pack to its folder and each wave export to its members. `whole`: the folder of
/// packs was given (every member must be there); otherwise one pack was given, and only its
/// own membership is checked.
pub fn check(found: &[Found], indexes: &Indexes, whole: bool) -> Vec<(At, Problem)> {
    let mut out = Vec::new();
    let by_folder: BTreeMap<&str, &Found> = found.iter().map(|f| (f.folder.as_str(), f)).collect();

    // A pack is written as <out>/<db_id>: any other folder name means it was moved or copied.
    for f in found {
        let Some(db) = f.db_id.as_deref() else {
            continue;
        };
        if db == f.folder {
            continue;
        }
        let what = if by_folder
            .get(db)
            .is_some_and(|o| o.db_id.as_deref() == Some(db))
        {
            format!(
                "copied: this folder holds the pack of {db}, whose own folder {db} holds it too; \
                 a pack lives in the folder named after its database: remove this copy"
            )
        } else {
            format!(
                "holds the pack of {db}, not of {}: a pack lives in the folder named after its \
                 database, so it was moved or copied here; restore {} from the original export \
                 (or export it again) and put {db}'s pack back under {db}",
                f.folder, f.folder
            )
        };
        out.push(at_pack(&f.folder, what));
    }

    for (wave, (text, ix)) in indexes {
        let name = file_name(*wave);
        let ix = match ix {
            Ok(ix) => ix,
            Err(why) => {
                out.push(at_top(
                    &name,
                    None,
                    format!("edited: {why}; the wave's membership cannot be checked"),
                ));
                continue;
            }
        };
        let mut listed = BTreeSet::new();
        for m in &ix.members {
            listed.insert(m.db_id.as_str());
            let line = member_line(text, &m.db_id);
            match by_folder.get(m.db_id.as_str()) {
                None if whole => out.push(at_top(
                    &name,
                    line,
                    format!(
                        "removed: wave {wave}'s export lists {} but its pack folder is missing; \
                         restore it from the original export, or export the wave again",
                        m.db_id
                    ),
                )),
                None => {}
                Some(f) if f.manifest_sha256.as_deref() != Some(m.manifest_sha256.as_str()) => out
                    .push(at_top(
                        &name,
                        line,
                        format!(
                            "replaced: the pack in folder {} is not the one exported with wave \
                             {wave} (its {} differs from this entry); restore it from the \
                             original export, or export the wave again",
                            m.db_id,
                            super::manifest::MANIFEST
                        ),
                    )),
                Some(_) => {}
            }
        }
        for f in found {
            if f.member_of == Some(*wave) && !listed.contains(f.folder.as_str()) {
                out.push(at_pack(
                    &f.folder,
                    format!(
                        "added: the pack says it was exported with wave {wave}, but {name} does \
                         not list it; it does not belong to that export"
                    ),
                ));
            }
        }
    }

    // Packs of a wave export whose index is gone: a removed pack could not be seen.
    let mut orphaned: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for f in found {
        if let Some(w) = f.member_of.filter(|w| !indexes.contains_key(w)) {
            orphaned.entry(w).or_default().push(&f.folder);
        }
    }
    for (wave, folders) in orphaned {
        out.push(at_top(
            &file_name(wave),
            None,
            format!(
                "removed: {} say(s) they were exported with wave {wave}, but the export's member \
                 list is missing, so a removed pack cannot be seen; restore {} from the original \
                 export, or export the wave again",
                folders.join(", "),
                file_name(wave)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(folder: &str, db: &str, wave: Option<u32>, sha: &str) -> Found {
        Found {
            folder: folder.into(),
            db_id: Some(db.into()),
            member_of: wave,
            manifest_sha256: Some(sha.into()),
        }
    }

    fn index(members: &[(&str, &str)]) -> Indexes {
        let ix = WaveIndex {
            format: FORMAT.into(),
            wave: 2,
            exported_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            exported_by: "auditor".into(),
            members: members
                .iter()
                .map(|(d, s)| Member {
                    db_id: d.to_string(),
                    manifest_sha256: s.to_string(),
                })
                .collect(),
        };
        let text = render(&ix);
        assert_eq!(parse(2, &text).as_ref(), Ok(&ix));
        [(2, (text, Ok(ix)))].into_iter().collect()
    }

    fn whats(p: &[(At, Problem)]) -> Vec<String> {
        p.iter()
            .map(|(at, p)| format!("{at:?} {}:{:?} {}", p.file, p.line, p.what))
            .collect()
    }

    #[test]
    fn names_and_waves_of_index_files() {
        assert_eq!(file_name(2), "wave-2.index.json");
        assert_eq!(wave_of("wave-2.index.json"), Some(2));
        assert_eq!(wave_of("wave-x.index.json"), None);
        assert_eq!(wave_of("pack.json"), None);
        assert!(parse(3, &render(&index(&[])[&2].1.clone().unwrap())).is_err());
    }

    #[test]
    fn an_intact_wave_export_passes() {
        let ix = index(&[("a", "1"), ("b", "2")]);
        let f = [found("a", "a", Some(2), "1"), found("b", "b", Some(2), "2")];
        assert_eq!(whats(&check(&f, &ix, true)), Vec::<String>::new());
        // Single packs and packs of no wave export live beside it.
        let f = [
            found("a", "a", Some(2), "1"),
            found("b", "b", Some(2), "2"),
            found("c", "c", None, "3"),
        ];
        assert!(check(&f, &ix, true).is_empty());
    }

    #[test]
    fn a_removed_pack_is_named_at_its_index_line() {
        let ix = index(&[("a", "1"), ("b", "2")]);
        let p = check(&[found("a", "a", Some(2), "1")], &ix, true);
        assert_eq!(p.len(), 1, "{:?}", whats(&p));
        assert_eq!(p[0].0, At::Top);
        assert_eq!(
            (p[0].1.file.as_str(), p[0].1.line),
            ("wave-2.index.json", Some(8))
        );
        assert!(
            p[0].1.what.starts_with("removed: wave 2's export lists b"),
            "{:?}",
            p[0]
        );
        // Verifying one pack alone does not ask for its siblings.
        assert!(check(&[found("a", "a", Some(2), "1")], &ix, false).is_empty());
    }

    #[test]
    fn a_pack_removed_with_its_index_is_seen_by_the_others() {
        let p = check(&[found("a", "a", Some(2), "1")], &Indexes::new(), true);
        assert_eq!(p.len(), 1);
        assert!(p[0].1.what.contains("member list is missing"), "{:?}", p[0]);
    }

    #[test]
    fn another_databases_pack_in_a_folder_is_named() {
        let ix = index(&[("a", "1"), ("b", "2")]);
        // b's folder now holds a's pack.
        let f = [found("a", "a", Some(2), "1"), found("b", "a", Some(2), "1")];
        let p = whats(&check(&f, &ix, true));
        assert!(
            p.iter().any(|s| s.starts_with("Pack(\"b\")")
                && s.contains("copied: this folder holds the pack of a")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|s| s.contains("replaced: the pack in folder b")),
            "{p:?}"
        );
        // Moved, not copied.
        let f = [found("a", "b", Some(2), "2"), found("b", "a", Some(2), "1")];
        let p = whats(&check(&f, &ix, true));
        assert!(
            p.iter()
                .any(|s| s.contains("holds the pack of b, not of a")),
            "{p:?}"
        );
    }

    #[test]
    fn a_pack_copied_under_a_new_name_is_named() {
        let ix = index(&[("a", "1")]);
        let f = [
            found("a", "a", Some(2), "1"),
            found("a-copy", "a", Some(2), "1"),
        ];
        let p = whats(&check(&f, &ix, true));
        assert!(
            p.iter()
                .any(|s| s.starts_with("Pack(\"a-copy\")") && s.contains("copied")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|s| s.contains("wave-2.index.json does not list it")),
            "{p:?}"
        );
    }
}
