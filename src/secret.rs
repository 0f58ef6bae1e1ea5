//! Credentials: where they come from and how they are kept out of logs, events and screens.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value. `Debug` and `Display` never show it; only `expose()` does, and only the code
/// that puts it on the wire (a DB connection, a request signature) should call that.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret is read from: the name of an environment variable, or a file path.
/// The inventory and the config hold only these references, never the value itself.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set (it should hold the secret; export it before starting wavedeck)")]
    EnvMissing(String),
    #[error("cannot read secret file {path}: {reason} (check the path and that it is readable by this user)")]
    File { path: PathBuf, reason: String },
}

impl SecretRef {
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => std::env::var(name)
                .map(Secret)
                .map_err(|_| SecretError::EnvMissing(name.clone())),
            SecretRef::File(path) => read_secret_file(path),
        }
    }
}

fn read_secret_file(path: &Path) -> Result<Secret, SecretError> {
    crate::input::read_capped(path, crate::input::SECRET_BYTES)
        .and_then(|b| crate::input::utf8(path, b))
        .map(|s| Secret(s.trim_end_matches(['\n', '\r']).to_string()))
        .map_err(|e| SecretError::File {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Replace every occurrence of each known secret in `text` with `***`. Used on error strings that
/// come from outside (driver errors, HTTP bodies) before they reach a log, an event or the screen.
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.0.len() >= 3 {
            out = out.replace(&s.0, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_removes_known_secrets() {
        let s = Secret::new("pa55word");
        let msg = "password authentication failed: pa55word rejected";
        assert_eq!(
            redact(msg, &[&s]),
            "password authentication failed: *** rejected"
        );
    }

    #[test]
    fn missing_env_names_the_variable() {
        let r = SecretRef::Env("WAVEDECK_TEST_SURELY_UNSET_VAR".into());
        let err = r.resolve().unwrap_err().to_string();
        assert!(err.contains("WAVEDECK_TEST_SURELY_UNSET_VAR"), "{err}");
    }
}
