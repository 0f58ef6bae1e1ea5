//! `notify:` in wavedeck.yaml: webhook targets and the events each one wants. A target's URL
//! (which for Slack and Teams holds the token) and its bearer token are read from an environment
//! variable or a file named here, like the other credentials; the config never holds them.

use crate::secret::{Secret, SecretError, SecretRef};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Every target, and how the sender retries.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    pub targets: Vec<TargetConfig>,
    /// Delay before the first retry of a failed post, in seconds (doubled each attempt).
    pub retry_base_s: f64,
    /// No retry waits longer than this, in seconds.
    pub retry_cap_s: f64,
    /// One post may take this long before it counts as failed, in seconds.
    pub timeout_s: f64,
    /// The sender's fallback look at the outbox, in milliseconds: it is woken by each append
    /// that writes a notification and sleeps until the next retry is due, so this only
    /// bounds how late a row it was not woken for (written by another process) goes out.
    pub poll_ms: u64,
    /// A notification whose posts failed this many times (timeouts, 5xx, 408, 429) is given
    /// up, so the ones behind it for the same target still go out; 0: retried for ever. A
    /// 4xx (other than 408/429) is given up at its first answer whatever this says.
    pub max_attempts: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            targets: Vec::new(),
            retry_base_s: 2.0,
            retry_cap_s: 300.0,
            timeout_s: 5.0,
            poll_ms: 5000,
            max_attempts: 20,
        }
    }
}

/// One webhook.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Names the target in the outbox, the logs and the `Idempotency-Key`.
    pub name: String,
    /// The URL itself, only when it holds no token (a receiver on the jump host).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Environment variable holding the URL (a Slack or Teams incoming webhook).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url_env: String,
    /// File holding the URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Environment variable holding a bearer token sent as `Authorization: Bearer …`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_env: String,
    /// File holding that token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Body shape: `json` (the event), `slack` or `teams`.
    #[serde(default)]
    pub format: Format,
    /// The events this target wants (default: all of them).
    #[serde(default = "EventClass::all")]
    pub events: Vec<EventClass>,
}

/// The body a target gets.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `{"key", "event", "seq", "time", "db_id", "wave", "text", "payload"}`.
    #[default]
    Json,
    /// `{"text"}`: a Slack incoming webhook.
    Slack,
    /// A MessageCard with title and text: a Teams incoming webhook.
    Teams,
}

/// What a target can ask to hear about. A closed set: a typo in the config is refused.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// An alert rule fired (`alert.raised`).
    Alerts,
    /// An alert went back to normal (`alert.cleared`).
    AlertsCleared,
    /// A database entered cutover.
    CutoverStarted,
    /// A database left cutover for hypercare.
    CutoverDone,
    /// A database's cutover failed.
    CutoverFailed,
    /// A database was rolled back.
    Rollback,
    /// Every member of a wave is in a final stage (`wave.done`).
    WaveDone,
}

impl EventClass {
    pub const ALL: [EventClass; 7] = [
        EventClass::Alerts,
        EventClass::AlertsCleared,
        EventClass::CutoverStarted,
        EventClass::CutoverDone,
        EventClass::CutoverFailed,
        EventClass::Rollback,
        EventClass::WaveDone,
    ];

    pub fn all() -> Vec<EventClass> {
        Self::ALL.to_vec()
    }
}

/// Why a target cannot be used, naming the key to fix.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("notify target {index} has no name: give it `name:` (it keys the outbox)")]
    NoName { index: usize },
    #[error("notify target {0:?} is named twice: names key the outbox, make them unique")]
    Duplicate(String),
    #[error("notify target {name:?} needs exactly one of url, url_env, url_file (it has {count}); a URL holding a token belongs in url_env or url_file")]
    Url { name: String, count: usize },
    #[error("notify target {name:?} has both token_env and token_file: keep one")]
    Token { name: String },
    #[error("notify target {name:?}: {source}")]
    Secret {
        name: String,
        #[source]
        source: SecretError,
    },
    #[error("notify target {name:?}: the URL does not start with http:// or https:// (the value is not shown; check {from})")]
    Scheme { name: String, from: String },
}

/// A target ready to post to: its URL and token read, held as secrets.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub name: String,
    pub url: Secret,
    pub token: Option<Secret>,
    pub format: Format,
    pub events: Vec<EventClass>,
}

impl TargetConfig {
    fn url_ref(&self) -> Result<Option<SecretRef>, TargetError> {
        let count = usize::from(!self.url.is_empty())
            + usize::from(!self.url_env.is_empty())
            + usize::from(self.url_file.is_some());
        if count != 1 {
            return Err(TargetError::Url {
                name: self.name.clone(),
                count,
            });
        }
        Ok(if !self.url_env.is_empty() {
            Some(SecretRef::Env(self.url_env.clone()))
        } else {
            self.url_file.clone().map(SecretRef::File)
        })
    }

    fn token_ref(&self) -> Result<Option<SecretRef>, TargetError> {
        match (self.token_env.is_empty(), &self.token_file) {
            (false, Some(_)) => Err(TargetError::Token {
                name: self.name.clone(),
            }),
            (false, None) => Ok(Some(SecretRef::Env(self.token_env.clone()))),
            (true, Some(f)) => Ok(Some(SecretRef::File(f.clone()))),
            (true, None) => Ok(None),
        }
    }

    /// Read the URL and token from where the config says.
    pub fn resolve(&self) -> Result<Resolved, TargetError> {
        let secret = |e| TargetError::Secret {
            name: self.name.clone(),
            source: e,
        };
        let (url, from) = match self.url_ref()? {
            Some(r) => {
                let from = match &r {
                    SecretRef::Env(n) => format!("environment variable {n}"),
                    SecretRef::File(p) => format!("file {}", p.display()),
                };
                (r.resolve().map_err(secret)?, from)
            }
            None => (Secret::new(self.url.clone()), "url".into()),
        };
        let u = url.expose().trim();
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(TargetError::Scheme {
                name: self.name.clone(),
                from,
            });
        }
        let token = self
            .token_ref()?
            .map(|r| r.resolve().map_err(secret))
            .transpose()?;
        Ok(Resolved {
            name: self.name.clone(),
            url: Secret::new(u.to_string()),
            token,
            format: self.format,
            events: self.events.clone(),
        })
    }
}

impl NotifyConfig {
    /// Every target resolved, or the first one that cannot be (names and shapes are checked
    /// before any secret is read).
    pub fn resolve(&self) -> Result<Vec<Resolved>, TargetError> {
        self.check_shape()?;
        self.targets.iter().map(TargetConfig::resolve).collect()
    }

    /// Names present and unique, one URL source and at most one token source per target.
    pub fn check_shape(&self) -> Result<(), TargetError> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            if t.name.trim().is_empty() {
                return Err(TargetError::NoName { index: i + 1 });
            }
            if !seen.insert(t.name.as_str()) {
                return Err(TargetError::Duplicate(t.name.clone()));
            }
            t.url_ref()?;
            t.token_ref()?;
        }
        Ok(())
    }

    /// Values out of range or targets of the wrong shape: (`notify.KEY`, what is wrong), for
    /// the config check. No secret is read here.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (key, v) in [
            ("retry_base_s", self.retry_base_s),
            ("retry_cap_s", self.retry_cap_s),
            ("timeout_s", self.timeout_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                out.push((
                    format!("notify.{key}"),
                    format!("{v} must be a positive number of seconds"),
                ));
            }
        }
        if let Err(e) = self.check_shape() {
            out.push(("notify.targets".into(), e.to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(yaml: &str) -> TargetConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_url_comes_from_exactly_one_place() {
        let t = target("name: a\nurl: http://127.0.0.1:9/x\nurl_env: X\n");
        assert!(matches!(
            t.resolve(),
            Err(TargetError::Url { count: 2, .. })
        ));
        let t = target("name: a\n");
        assert!(matches!(
            t.resolve(),
            Err(TargetError::Url { count: 0, .. })
        ));
        let t = target("name: a\nurl: http://127.0.0.1:9/x\n");
        let r = t.resolve().unwrap();
        assert_eq!(r.url.expose(), "http://127.0.0.1:9/x");
        assert_eq!(r.events, EventClass::all(), "every event by default");
        assert_eq!(r.format, Format::Json);
    }

    #[test]
    fn secrets_are_read_from_env_and_file_and_never_shown_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("url");
        std::fs::write(&f, "ftp://hooks.example/T0PSECRET\n").unwrap();
        let t = target(&format!("name: a\nurl_file: {}\n", f.display()));
        let e = t.resolve().unwrap_err().to_string();
        assert!(
            e.contains("does not start with http") && !e.contains("T0PSECRET"),
            "{e}"
        );
        std::fs::write(&f, "https://hooks.example/T0PSECRET\n").unwrap();
        let r = t.resolve().unwrap();
        assert_eq!(r.url.expose(), "https://hooks.example/T0PSECRET");
        assert!(!format!("{r:?}").contains("T0PSECRET"));
        let t = target("name: a\nurl: http://h/\ntoken_env: WAVEDECK_TEST_NOTIFY_TOKEN_UNSET\n");
        let e = t.resolve().unwrap_err().to_string();
        assert!(
            e.contains("WAVEDECK_TEST_NOTIFY_TOKEN_UNSET") && e.contains("\"a\""),
            "{e}"
        );
    }

    #[test]
    fn names_must_be_present_and_unique_and_events_a_known_set() {
        let c: NotifyConfig = serde_yaml::from_str(
            "targets:\n- {name: a, url: 'http://h/'}\n- {name: a, url: 'http://h/'}\n",
        )
        .unwrap();
        assert!(matches!(c.check_shape(), Err(TargetError::Duplicate(_))));
        assert_eq!(c.problems().len(), 1);
        let bad = serde_yaml::from_str::<NotifyConfig>(
            "targets:\n- {name: a, url: 'http://h/', events: [alerts, wave_exploded]}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            bad.contains("wave_exploded") && bad.contains("line"),
            "{bad}"
        );
    }
}
