//! Put a built pack on disk: refuse if a known secret would land in it, write into a temporary
//! folder, then rename, so a crash never leaves a half-written pack that looks complete.

use super::format::META;
use super::manifest::MANIFEST;
use super::pack::Pack;
use crate::inventory::DatabaseSpec;
use crate::secret::{Secret, SecretRef};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// The secrets a database's spec points at, resolved where possible, with a label that names
/// where they come from (never the value).
pub fn secrets_of(spec: &DatabaseSpec) -> Vec<(String, Secret)> {
    let mut out = Vec::new();
    for (side, ep) in [("source", &spec.source), ("target", &spec.target)] {
        let label = match &ep.password {
            SecretRef::Env(name) => format!("the {side} password (env {name})"),
            SecretRef::File(path) => format!("the {side} password (file {})", path.display()),
        };
        if let Ok(s) = ep.password.resolve() {
            out.push((label, s));
        }
    }
    out
}

/// Where a secret appears in the pack: (file, line, label). Short values are skipped: a
/// two-letter password would match everywhere and say nothing.
pub fn find_secret(pack: &Pack, secrets: &[(String, Secret)]) -> Option<(String, usize, String)> {
    for (name, bytes) in &pack.files {
        let text = String::from_utf8_lossy(bytes);
        for (label, secret) in secrets {
            let value = secret.expose();
            if value.len() < 4 {
                continue;
            }
            if let Some(i) = text.lines().position(|l| l.contains(value)) {
                return Some((name.clone(), i + 1, label.clone()));
            }
        }
    }
    None
}

/// A db_id is used as a folder name: keep it to one plain path component.
fn folder_name(db_id: &str) -> anyhow::Result<&str> {
    let bad = db_id.is_empty()
        || db_id.starts_with('.')
        || db_id.contains(['/', '\\', '\0'])
        || db_id.chars().any(char::is_control);
    if bad {
        bail!("{db_id:?} cannot be used as a folder name for its evidence pack");
    }
    Ok(db_id)
}

/// Write `pack` as `out/<db_id>/`, replacing an earlier export of the same database.
pub fn write_pack(
    out: &Path,
    pack: &Pack,
    secrets: &[(String, Secret)],
) -> anyhow::Result<PathBuf> {
    if let Some((file, line, label)) = find_secret(pack, secrets) {
        bail!(
            "refusing to export {}: {label} appears in {file} line {line}; an event payload holds a secret — \
             find the event in the store and fix the code that wrote it",
            pack.db_id
        );
    }
    let name = folder_name(&pack.db_id)?;
    std::fs::create_dir_all(out).with_context(|| {
        format!(
            "cannot create {} (check the --out path and permissions)",
            out.display()
        )
    })?;
    let final_dir = out.join(name);
    let tmp = out.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("cannot clear {}", tmp.display()))?;
    }
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    for (file, bytes) in &pack.files {
        let path = tmp.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if final_dir.exists() {
        let looks_like_pack = final_dir.join(MANIFEST).exists() || final_dir.join(META).exists();
        if !looks_like_pack {
            let _ = std::fs::remove_dir_all(&tmp);
            bail!(
                "{} exists and is not an evidence pack; choose another --out folder",
                final_dir.display()
            );
        }
        std::fs::remove_dir_all(&final_dir).with_context(|| {
            format!("cannot replace the earlier export {}", final_dir.display())
        })?;
    }
    std::fs::rename(&tmp, &final_dir)
        .with_context(|| format!("cannot move the pack into {}", final_dir.display()))?;
    Ok(final_dir)
}

/// Write a wave export's member list as `out/wave-N.index.json`, through a temporary file and
/// a rename like the packs.
pub fn write_index(out: &Path, ix: &super::index::WaveIndex) -> anyhow::Result<PathBuf> {
    let name = super::index::file_name(ix.wave);
    let path = out.join(&name);
    let tmp = out.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, super::index::render(ix))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("cannot move the wave index into {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::pack::fixture;
    use crate::evidence::verify::verify_dir;

    #[test]
    fn written_pack_verifies_and_rewrites_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let pack = fixture::sample();
        let dir = write_pack(tmp.path(), &pack, &[]).unwrap();
        assert_eq!(dir, tmp.path().join("pay-ledger-01"));
        let r = verify_dir(&dir).unwrap();
        assert!(r.is_ok(), "{:?}", r.problems);
        assert_eq!((r.packs, r.events), (1, 13));
        // A folder of packs verifies too; exporting again replaces the pack.
        std::fs::write(dir.join("extra.txt"), "x").unwrap();
        write_pack(tmp.path(), &pack, &[]).unwrap();
        let r = verify_dir(tmp.path()).unwrap();
        assert!(r.is_ok(), "{:?}", r.problems);
        // Tampering on disk is named with the file and line.
        let ev = dir.join("events.jsonl");
        let text = std::fs::read_to_string(&ev).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(2);
        std::fs::write(&ev, lines.join("\n") + "\n").unwrap();
        let r = verify_dir(tmp.path()).unwrap();
        assert!(!r.is_ok());
        let shown: Vec<String> = r.problems.iter().map(|(_, p)| p.to_string()).collect();
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("events.jsonl:3: removed")),
            "{shown:?}"
        );
    }

    #[test]
    fn refuses_a_folder_that_is_not_a_pack_and_bad_ids() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("pay-ledger-01")).unwrap();
        std::fs::write(tmp.path().join("pay-ledger-01/precious.txt"), "keep").unwrap();
        let err = write_pack(tmp.path(), &fixture::sample(), &[]).unwrap_err();
        assert!(err.to_string().contains("is not an evidence pack"), "{err}");
        assert!(tmp.path().join("pay-ledger-01/precious.txt").exists());
        for bad in ["", "../x", ".hidden", "a/b"] {
            assert!(folder_name(bad).is_err(), "{bad}");
        }
        assert!(verify_dir(tmp.path()).is_ok_and(|r| !r.is_ok()));
        assert!(verify_dir(&tmp.path().join("nope")).is_err());
    }

    #[test]
    fn a_secret_in_an_event_blocks_the_export_without_showing_it() {
        let value = format!("pw-{}-{}", std::process::id(), rand::random::<u32>());
        let env = format!("WD_EVIDENCE_TEST_PW_{}", rand::random::<u32>());
        let spec = fixture::spec("pay-ledger-01", &env);
        let secrets = vec![(
            format!("the source password (env {env})"),
            crate::secret::Secret::new(value.clone()),
        )];
        // Clean events: the pack holds the variable's name, never its value.
        let all = fixture::chain("pay-ledger-01", "crm-02", &env);
        let pack = fixture::pack_of(&all, "pay-ledger-01", &spec);
        assert_eq!(find_secret(&pack, &secrets), None);
        assert!(String::from_utf8_lossy(&pack.files["plan.json"]).contains(&env));
        // An event that leaked the password: refused, naming where, not what.
        let mut leaky = all.clone();
        let e = leaky.iter_mut().find(|e| e.seq == 17).unwrap();
        e.payload["error"] = serde_json::Value::String(format!("auth failed for password {value}"));
        e.hash = e.compute_hash();
        let pack = fixture::pack_of(&leaky, "pay-ledger-01", &spec);
        let tmp = tempfile::tempdir().unwrap();
        let err = write_pack(tmp.path(), &pack, &secrets)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&env) && err.contains("cutover.md line"),
            "{err}"
        );
        assert!(!err.contains(&value));
        assert!(!tmp.path().join("pay-ledger-01").exists());
    }
}
