//! Reading the files people and other tools hand to wavedeck (config, inventory, theme,
//! faults, runbook, credentials): a regular file only (never `/dev/zero` or a FIFO), a size
//! cap, a UTF-8 byte-order mark accepted, and YAML checked against depth and alias-expansion
//! limits before the parser sees it, because libyaml's cost grows with the square of the
//! nesting and an anchored map referenced thousands of times expands to billions of nodes.
//! Each refusal says which limit was hit.

use std::io::Read;
use std::path::Path;

/// What a YAML document may cost.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_bytes: u64,
    /// Nesting of mappings and sequences (block indentation and flow brackets together).
    pub max_depth: usize,
    /// Nodes that aliases (`*name`) add when expanded.
    pub max_alias_nodes: usize,
}

/// Config, theme, faults and runbook files: hand-written and small.
pub const SMALL: Limits = Limits {
    max_bytes: 1 << 20,
    max_depth: 64,
    max_alias_nodes: 10_000,
};

/// Inventories: thousands of databases.
pub const INVENTORY: Limits = Limits {
    max_bytes: 64 << 20,
    max_depth: 64,
    max_alias_nodes: 200_000,
};

/// A secret file (credentials, a password): a few lines.
pub const SECRET_BYTES: u64 = 64 << 10;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InputError {
    #[error("{path}: cannot read it: {reason}")]
    Io { path: String, reason: String },
    #[error("{path}: not a regular file ({what}); give the path of a file")]
    NotAFile { path: String, what: &'static str },
    #[error("{path}: larger than the {limit} bytes allowed for this file")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: not UTF-8 text (byte {at})")]
    NotText { path: String, at: usize },
    #[error("{path}:{line}: nested deeper than {limit} levels (the limit for this file)")]
    TooDeep {
        path: String,
        line: usize,
        limit: usize,
    },
    #[error("{path}:{line}: aliases would expand to more than {limit} nodes (the limit for this file); write the values out or use fewer references")]
    TooManyAliasNodes {
        path: String,
        line: usize,
        limit: usize,
    },
}

/// The bytes of a regular file of at most `max` bytes.
pub fn read_bytes(path: &Path, max: u64) -> Result<Vec<u8>, InputError> {
    let shown = || path.display().to_string();
    let io = |e: std::io::Error| InputError::Io {
        path: shown(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a file"
        };
        return Err(InputError::NotAFile {
            path: shown(),
            what,
        });
    }
    if meta.len() > max {
        return Err(InputError::TooLarge {
            path: shown(),
            limit: max,
        });
    }
    // The file may grow between the two looks: read at most one byte past the cap.
    let mut out = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .map_err(io)?
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(io)?;
    if out.len() as u64 > max {
        return Err(InputError::TooLarge {
            path: shown(),
            limit: max,
        });
    }
    Ok(out)
}

/// At most `max` bytes of a file of any kind, refusing more: for secret files, where
/// `/dev/null` is the usual way to say "no password".
pub fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut out))
        .map_err(|e| InputError::Io {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
    if out.len() as u64 > max {
        return Err(InputError::TooLarge {
            path: path.display().to_string(),
            limit: max,
        });
    }
    Ok(out)
}

/// UTF-8 text of a regular file of at most `max` bytes, without a leading byte-order mark.
pub fn read_text(path: &Path, max: u64) -> Result<String, InputError> {
    let text = utf8(path, read_bytes(path, max)?)?;
    Ok(strip_bom(&text).to_string())
}

/// The bytes read from `path` as UTF-8 text, else the offset of the first byte that is not.
pub fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| InputError::NotText {
        path: path.display().to_string(),
        at: e.utf8_error().valid_up_to(),
    })
}

/// Text without the UTF-8 byte-order mark some editors write.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A YAML file read and checked against `limits` (the caller parses the text).
pub fn read_yaml(path: &Path, limits: &Limits) -> Result<String, InputError> {
    let text = read_text(path, limits.max_bytes)?;
    check_yaml(&path.display().to_string(), &text, limits)?;
    Ok(text)
}

/// Refuse YAML text whose nesting or alias expansion exceeds `limits`, by a linear scan that
/// never builds the document.
pub fn check_yaml(path: &str, text: &str, limits: &Limits) -> Result<(), InputError> {
    if text.len() as u64 > limits.max_bytes {
        return Err(InputError::TooLarge {
            path: path.into(),
            limit: limits.max_bytes,
        });
    }
    let scan = scan(text);
    if let Some((line, _)) = scan.depth.iter().find(|(_, d)| *d > limits.max_depth) {
        return Err(InputError::TooDeep {
            path: path.into(),
            line: *line,
            limit: limits.max_depth,
        });
    }
    let mut expanded = 0usize;
    for (line, name) in &scan.aliases {
        let size = nodes_of(&scan.anchors, name);
        expanded = expanded.saturating_add(size);
        if expanded > limits.max_alias_nodes {
            return Err(InputError::TooManyAliasNodes {
                path: path.into(),
                line: *line,
                limit: limits.max_alias_nodes,
            });
        }
    }
    Ok(())
}

struct Anchor {
    name: String,
    /// Nodes under the anchor, counting the nodes its own aliases add.
    nodes: usize,
}

/// What an alias of `name` adds: the nodes of the last anchor of that name (1 when unknown).
fn nodes_of(anchors: &[Anchor], name: &str) -> usize {
    anchors
        .iter()
        .rev()
        .find(|a| a.name == name)
        .map_or(1, |a| a.nodes)
}

#[derive(Default)]
struct Scan {
    /// (line, depth) where the depth first exceeds what came before (enough to find the max).
    depth: Vec<(usize, usize)>,
    anchors: Vec<Anchor>,
    /// (line, name) of every alias.
    aliases: Vec<(usize, String)>,
}

/// One pass over the text: nesting depth per line (indentation levels plus open flow
/// brackets), anchors with the number of nodes (scalars and keys) until their block or flow
/// collection closes, and alias references.
fn scan(text: &str) -> Scan {
    let mut s = Scan::default();
    let mut indents: Vec<usize> = Vec::new();
    let mut max_depth = 0usize;
    // Anchors still open: (index in s.anchors, indent of their line, flow depth at the anchor).
    let mut open: Vec<(usize, usize, usize)> = Vec::new();
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let lineno = n + 1;
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        if flow == 0 {
            while indents.last().is_some_and(|&i| i > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
            // Block anchors end when a line comes back to their indentation or less.
            open.retain(|&(_, ind, fl)| !(fl == 0 && indent <= ind));
        }
        // `- ` items nest one level more than their indentation says.
        let dashes = body
            .as_bytes()
            .chunks(2)
            .take_while(|c| c == b"- " || c == b"-")
            .count();
        let mut nodes_here = 0usize;
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match quote {
                Some(q) => {
                    if c == q && !(q == '"' && prev == '\\') {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    '"' | '\'' if matches!(prev, ' ' | '[' | '{' | ',' | ':' | '-') || i == 0 => {
                        quote = Some(c)
                    }
                    '[' | '{' => {
                        flow += 1;
                        let d = indents.len() + dashes + flow;
                        if d > max_depth {
                            max_depth = d;
                            s.depth.push((lineno, d));
                        }
                    }
                    ']' | '}' => {
                        flow = flow.saturating_sub(1);
                        open.retain(|&(_, _, fl)| fl == 0 || fl <= flow);
                    }
                    ',' | ':' => nodes_here += 1,
                    '&' | '*' if matches!(prev, ' ' | '[' | '{' | ',' | '-' | ':') || i == 0 => {
                        let name: String = body[i + 1..]
                            .chars()
                            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}'))
                            .collect();
                        if !name.is_empty() {
                            if c == '&' {
                                s.anchors.push(Anchor { name, nodes: 0 });
                                open.push((s.anchors.len() - 1, indent, flow));
                            } else {
                                // The alias adds its anchor's nodes to every anchor around it.
                                let size = nodes_of(&s.anchors, &name);
                                for &(a, _, _) in &open {
                                    s.anchors[a].nodes = s.anchors[a].nodes.saturating_add(size);
                                }
                                s.aliases.push((lineno, name));
                            }
                        }
                        for _ in 0..body[i + 1..]
                            .chars()
                            .take_while(|c| !c.is_whitespace())
                            .count()
                        {
                            chars.next();
                        }
                    }
                    _ => {}
                },
            }
            prev = c;
        }
        let d = indents.len() + dashes + flow;
        if d > max_depth {
            max_depth = d;
            s.depth.push((lineno, d));
        }
        let count = nodes_here.max(1);
        for &(a, _, _) in &open {
            s.anchors[a].nodes = s.anchors[a].nodes.saturating_add(count);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Limits = Limits {
        max_bytes: 1 << 20,
        max_depth: 20,
        max_alias_nodes: 1000,
    };

    #[test]
    fn ordinary_yaml_passes() {
        let ok = "# c\ndefaults: &ep\n  host: 10.0.0.1\n  port: 5432\ndatabases:\n  - db_id: a\n    source: *ep\n    tags: [x, y]\n  - db_id: b\n    source: *ep\n    note: \"a: b, [c]\"\n";
        assert_eq!(check_yaml("f", ok, &T), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused_with_its_line() {
        let flow = "a: ".to_string() + &"{b: ".repeat(100) + "1" + &"}".repeat(100);
        assert!(matches!(
            check_yaml("f", &flow, &T),
            Err(InputError::TooDeep {
                line: 1,
                limit: 20,
                ..
            })
        ));
        let block: String = (0..30)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        let e = check_yaml("f", &block, &T).unwrap_err().to_string();
        assert!(e.starts_with("f:21: nested deeper than 20 levels"), "{e}");
        let seq = "- ".repeat(30) + "x\n";
        assert!(check_yaml("f", &seq, &T).is_err());
    }

    #[test]
    fn alias_expansion_is_refused_with_its_line() {
        // a 50-key anchored map referenced 100 times: 5000 nodes > 1000
        let mut y = "big: &m\n".to_string();
        for i in 0..50 {
            y += &format!("  k{i}: {i}\n");
        }
        y += "uses:\n";
        for i in 0..100 {
            y += &format!("  u{i}: *m\n");
        }
        let e = check_yaml("inv.yaml", &y, &T).unwrap_err();
        assert!(
            matches!(e, InputError::TooManyAliasNodes { line, .. } if line > 52 && line < 100),
            "{e:?}"
        );
        // the billion laughs in flow style: each level multiplies
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
        let r = check_yaml("f", laughs, &T);
        assert!(
            matches!(r, Err(InputError::TooManyAliasNodes { line: 3 | 4, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn files_are_capped_regular_and_may_start_with_a_bom() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, "\u{feff}store: sqlite://a.db\n").unwrap();
        assert_eq!(read_text(&p, 100).unwrap(), "store: sqlite://a.db\n");
        assert!(matches!(
            read_text(&p, 10),
            Err(InputError::TooLarge { limit: 10, .. })
        ));
        let e = read_text(Path::new("/dev/zero"), 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: not a regular file (a device); give the path of a file"
        );
        assert!(matches!(
            read_text(dir.path(), 100),
            Err(InputError::NotAFile {
                what: "a directory",
                ..
            })
        ));
        std::fs::write(&p, b"a: \xff\n").unwrap();
        assert!(matches!(
            read_text(&p, 100),
            Err(InputError::NotText { at: 3, .. })
        ));
    }
}

/// Generated YAML and CSV through the loaders: whatever the text, they answer (specs, problems
/// or an error) and never panic, hang or grow without bound. `PROPTEST_CASES` sets the count;
/// the suite runs the default.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use std::path::Path;

    /// Pieces that make YAML interesting: keys the loaders know, nesting, anchors and aliases,
    /// flow brackets, quotes, odd scalars, a BOM, tabs and bare control bytes.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("databases:\n".to_string()),
            Just("  - db_id: a\n".to_string()),
            Just("    engine: postgres\n".to_string()),
            Just(
                "    source: {host: h, port: 5432, database: d, user: u, password_env: P}\n"
                    .to_string()
            ),
            Just("    size_gb: 1e308\n".to_string()),
            Just("    wave: -1\n".to_string()),
            Just("engine:\n  retry_cap_s: .nan\n".to_string()),
            Just("limits:\n  drs_concurrency: 99999999999\n".to_string()),
            Just("store: sqlite://x\n".to_string()),
            Just("x: &a [1, 2, 3]\n".to_string()),
            Just("y: [*a, *a, *a]\n".to_string()),
            Just("z: *nope\n".to_string()),
            Just("{".to_string()),
            Just("[".to_string()),
            Just("}".to_string()),
            Just("]".to_string()),
            Just("\"unterminated".to_string()),
            Just("'q''q'\n".to_string()),
            Just("\u{feff}".to_string()),
            Just("\t".to_string()),
            Just("---\n".to_string()),
            Just("? complex\n: key\n".to_string()),
            Just("!!binary aGk=\n".to_string()),
            "[ -~]{0,12}".prop_map(|s| s + "\n"),
            (0usize..12).prop_map(|n| "  ".repeat(n) + "k:\n"),
        ]
    }

    fn csv_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("db_id,engine,engine_version,size_gb,owner,criticality,business_window,wave,source_host,source_port\n".to_string()),
            Just("a,postgres,15,1,o,low,daily 00:00-24:00 UTC,0,h,5432\n".to_string()),
            Just("\"a,\"\"b\",mysql\n".to_string()),
            Just(",,,,,,,,,\n".to_string()),
            Just("\u{feff}".to_string()),
            "[ -~]{0,20}".prop_map(|s| s + "\n"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        #[test]
        fn inventory_and_config_loaders_answer_any_yaml(parts in prop::collection::vec(piece(), 0..40)) {
            let text = parts.concat();
            let _ = crate::inventory::load::parse_bytes(Path::new("gen.yaml"), text.as_bytes());
            let c = crate::config::Config::from_yaml(Path::new("gen.yaml"), super::strip_bom(&text));
            if let Ok(c) = c {
                let _ = c.check(Some(Path::new("gen.yaml")), &text);
            }
            let _ = super::check_yaml("gen.yaml", &text, &super::SMALL);
        }

        #[test]
        fn inventory_loader_answers_any_csv(parts in prop::collection::vec(csv_piece(), 0..30)) {
            let text = parts.concat();
            let _ = crate::inventory::load::parse_bytes(Path::new("gen.csv"), text.as_bytes());
        }
    }
}
