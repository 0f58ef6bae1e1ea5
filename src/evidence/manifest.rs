//! `MANIFEST.sha256`: one `HEX  NAME` line per file, the format `sha256sum -c` reads, so an
//! auditor can check a pack with standard tools and no wavedeck at hand.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MANIFEST: &str = "MANIFEST.sha256";

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The manifest text over `files` (name → content), in name order. The manifest never lists
/// itself.
pub fn render(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut out = String::new();
    for (name, bytes) in files {
        if name == MANIFEST {
            continue;
        }
        out.push_str(&sha256_hex(bytes));
        out.push_str("  ");
        out.push_str(name);
        out.push('\n');
    }
    out
}

/// One manifest entry and the line it is on (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    pub sha256: String,
    pub name: String,
}

/// A manifest line that is not `HEX  NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub what: String,
}

/// Parse a manifest. Bad lines are reported, good ones kept, so one damaged line does not hide
/// the checks of every other file.
pub fn parse(text: &str) -> (Vec<Entry>, Vec<BadLine>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let parsed = raw.split_once("  ").and_then(|(h, n)| {
            let ok = h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !n.is_empty();
            ok.then(|| (h.to_ascii_lowercase(), n.to_string()))
        });
        match parsed {
            Some((sha256, name)) if is_plain_name(&name) => {
                entries.push(Entry { line, sha256, name })
            }
            Some((_, name)) => bad.push(BadLine {
                line,
                what: format!("names {name:?}, which is not a file of this pack"),
            }),
            None => bad.push(BadLine {
                line,
                what: "is not `SHA256  FILE`".to_string(),
            }),
        }
    }
    (entries, bad)
}

/// Pack files sit flat in their folder; anything with a path separator or `..` in a manifest
/// was not written by wavedeck (and must not make verify read outside the pack).
fn is_plain_name(name: &str) -> bool {
    !name.contains('/') && !name.contains('\\') && name != "." && name != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_then_parse() {
        let mut files = BTreeMap::new();
        files.insert("b.txt".to_string(), b"b".to_vec());
        files.insert("a.txt".to_string(), b"".to_vec());
        files.insert(MANIFEST.to_string(), b"ignored".to_vec());
        let text = render(&files);
        assert_eq!(
            text,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  a.txt\n\
             3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.txt\n"
        );
        let (entries, bad) = parse(&text);
        assert!(bad.is_empty());
        assert_eq!(entries[1].name, "b.txt");
        assert_eq!(entries[1].line, 2);
    }

    #[test]
    fn bad_lines_are_named() {
        let text = "zz  a.txt\n\
                    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  ../etc/passwd\n\
                    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  ok.txt\n";
        let (entries, bad) = parse(text);
        assert_eq!(entries.len(), 1);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![1, 2]);
    }
}
