//! One thing wrong with a pack or a wave export, naming the file and the line: what verify and
//! the export index check both report (below both, so neither imports the other for it).

use std::fmt;

/// One thing wrong with a pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Empty for a problem of the pack as a whole (its folder).
    pub file: String,
    /// 1-based line, when the problem is on a line.
    pub line: Option<usize>,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            _ if self.file.is_empty() => write!(f, "{}", self.what),
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.what),
            None => write!(f, "{}: {}", self.file, self.what),
        }
    }
}

pub(crate) fn problem(file: &str, line: Option<usize>, what: impl Into<String>) -> Problem {
    Problem {
        file: file.to_string(),
        line,
        what: what.into(),
    }
}
