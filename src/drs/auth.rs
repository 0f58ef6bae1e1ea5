//! Where the DRS credentials come from: environment variables or a credentials file named in the
//! config (`drs.ak_env`, `drs.sk_env`, `drs.credentials_file`, `drs.token_env`,
//! `drs.security_token_env`, `drs.temporary_credentials_file`). Never the inventory. Values
//! live in `Secret`s, so Debug and errors never show them.

use super::error::DrsError;
use crate::config::DrsConfig;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Header carrying the security token of temporary credentials; signed like the others (Go SDK
/// `core/auth/basic_credentials.go` adds it before signing).
pub const SECURITY_TOKEN_HEADER: &str = "X-Security-Token";

/// Temporary credentials are read again this long before they expire.
const REFRESH_BEFORE_S: i64 = 10 * 60;

#[derive(Clone)]
pub enum Auth {
    /// Access key id and secret access key: requests are signed (SDK-HMAC-SHA256).
    AkSk { ak: Secret, sk: Secret },
    /// Temporary AK/SK with a security token (an agency's on a Huawei Cloud jump host, or
    /// STS): signed like `AkSk`, plus `X-Security-Token`. Read again from their source
    /// before they expire.
    Temporary(Arc<Temporary>),
    /// An IAM token sent as `X-Auth-Token`.
    Token(Secret),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::AkSk { .. } => f.write_str("Auth::AkSk(***)"),
            Auth::Temporary(_) => f.write_str("Auth::Temporary(***)"),
            Auth::Token(_) => f.write_str("Auth::Token(***)"),
        }
    }
}

/// One set of temporary credentials.
#[derive(Clone)]
pub struct TemporaryKey {
    pub ak: Secret,
    pub sk: Secret,
    pub token: Secret,
    /// When they stop working, if the source says.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Where temporary credentials are read from.
#[derive(Clone, Debug)]
enum TemporarySource {
    /// Environment variables (fixed for the process: they cannot be refreshed).
    Env,
    /// A file rewritten by whatever renews them: the JSON IAM and the ECS metadata service
    /// answer (`{"credential":{"access","secret","securitytoken","expires_at"}}`), or
    /// `ak=`, `sk=`, `security_token=`, `expires_at=` lines.
    File(PathBuf),
}

/// Temporary credentials and their source.
pub struct Temporary {
    source: TemporarySource,
    current: Mutex<Current>,
}

/// The key in use and, for a file, which version of the file it was read from.
struct Current {
    key: TemporaryKey,
    file: Option<FileStamp>,
}

/// What tells one version of the credentials file from the next without reading it: whatever
/// renews the file (an agent, a cron job, `mv` of a new file) changes its modification time or
/// its length. A file without `expires_at` has nothing else that says when to read it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            modified: m.modified().ok(),
            len: m.len(),
        })
    }
}

impl Temporary {
    /// Credentials given as they are (environment): never re-read.
    pub fn fixed(key: TemporaryKey) -> Temporary {
        Temporary {
            source: TemporarySource::Env,
            current: Mutex::new(Current { key, file: None }),
        }
    }

    /// Credentials read from a file, and read again from it when the file changes or before
    /// they expire.
    pub fn from_file(path: &Path) -> Result<Temporary, DrsError> {
        let file = FileStamp::of(path);
        Ok(Temporary {
            current: Mutex::new(Current {
                key: read_temporary_file(path)?,
                file,
            }),
            source: TemporarySource::File(path.to_path_buf()),
        })
    }

    /// The credentials to sign with now: read again from the file when it changed on disk
    /// or when they are about to expire; an error when they have expired and no newer ones
    /// are there.
    pub fn key(&self) -> Result<TemporaryKey, DrsError> {
        self.key_at(Utc::now())
    }

    fn key_at(&self, now: DateTime<Utc>) -> Result<TemporaryKey, DrsError> {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let TemporarySource::File(p) = &self.source {
            // One stat per signed request: cheap next to the request, and the only way to see
            // a rotation of a file that carries no expires_at.
            let stamp = FileStamp::of(p);
            let expiring = cur
                .key
                .expires_at
                .is_some_and(|t| (t - now).num_seconds() < REFRESH_BEFORE_S);
            if expiring || (stamp.is_some() && stamp != cur.file) {
                match read_temporary_file(p) {
                    Ok(k) => {
                        *cur = Current {
                            key: k,
                            file: stamp,
                        }
                    }
                    // Half-written by its renewer, or gone for a moment: keep the key in use
                    // and look again at the next request (the stamp is not taken).
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot re-read the temporary credentials")
                    }
                }
            }
        }
        match cur.key.expires_at {
            Some(t) if t <= now => Err(DrsError::Config(format!(
                "the temporary credentials expired at {t}: {}",
                match &self.source {
                    TemporarySource::File(p) => format!(
                        "renew them in {} (wavedeck reads it again by itself)",
                        p.display()
                    ),
                    TemporarySource::Env => {
                        "export new ones and restart wavedeck, or name a file in drs.temporary_credentials_file".into()
                    }
                }
            ))),
            _ => Ok(cur.key.clone()),
        }
    }
}

/// The temporary credentials file: JSON as IAM and the ECS metadata service give them, or
/// key=value lines. Errors name the file but never echo a value.
fn read_temporary_file(path: &Path) -> Result<TemporaryKey, DrsError> {
    let text = read_key_file(path, "drs.temporary_credentials_file")?;
    parse_temporary(&text).map_err(|what| {
        DrsError::Config(format!(
            "drs.temporary_credentials_file {}: {what}",
            path.display()
        ))
    })
}

fn parse_temporary(text: &str) -> Result<TemporaryKey, String> {
    let (ak, sk, token, expires) = if text.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON at line {}", e.line()))?;
        let c = v.get("credential").unwrap_or(&v);
        let s = |k: &str| c.get(k).and_then(|x| x.as_str()).map(str::to_string);
        (
            s("access"),
            s("secret"),
            s("securitytoken"),
            s("expires_at"),
        )
    } else {
        let (mut ak, mut sk, mut token, mut expires) = (None, None, None, None);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or(format!("line {}: expected key=value", i + 1))?;
            let v = Some(v.trim().to_string());
            match k.trim().to_ascii_lowercase().as_str() {
                "ak" => ak = v,
                "sk" => sk = v,
                "security_token" => token = v,
                "expires_at" => expires = v,
                _ => {
                    return Err(format!(
                        "line {}: unknown key (keys: ak, sk, security_token, expires_at)",
                        i + 1
                    ))
                }
            }
        }
        (ak, sk, token, expires)
    };
    let need = |v: Option<String>, what: &str| {
        v.filter(|v| !v.is_empty())
            .map(Secret::new)
            .ok_or(format!("no {what}"))
    };
    let expires_at = match expires.filter(|e| !e.is_empty()) {
        None => None,
        Some(e) => Some(
            DateTime::parse_from_rfc3339(&e)
                .map_err(|_| format!("expires_at {e:?} is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
    };
    Ok(TemporaryKey {
        ak: need(ak, "access key (access / ak)")?,
        sk: need(sk, "secret key (secret / sk)")?,
        token: need(token, "security token (securitytoken / security_token)")?,
        expires_at,
    })
}

impl Auth {
    pub fn aksk(ak: impl Into<String>, sk: impl Into<String>) -> Auth {
        Auth::AkSk {
            ak: Secret::new(ak),
            sk: Secret::new(sk),
        }
    }

    /// The secrets this auth holds, for `secret::redact` on text that came from outside.
    pub fn secrets(&self) -> Vec<Secret> {
        match self {
            Auth::AkSk { ak, sk } => vec![ak.clone(), sk.clone()],
            Auth::Temporary(t) => match t.key() {
                Ok(k) => vec![k.ak, k.sk, k.token],
                Err(_) => Vec::new(),
            },
            Auth::Token(t) => vec![t.clone()],
        }
    }

    /// The key to sign with (AK, SK, and the security token of temporary credentials), or
    /// `None` for an IAM token.
    pub fn signing_key(&self) -> Result<Option<(Secret, Secret, Option<Secret>)>, DrsError> {
        match self {
            Auth::AkSk { ak, sk } => Ok(Some((ak.clone(), sk.clone(), None))),
            Auth::Temporary(t) => {
                let k = t.key()?;
                Ok(Some((k.ak, k.sk, Some(k.token))))
            }
            Auth::Token(_) => Ok(None),
        }
    }

    /// Resolve credentials as the config says: `auth: aksk` reads `ak_env`/`sk_env`, then the
    /// credentials file; `auth: token` reads `token_env` (or `token=` in the file).
    pub fn from_config(cfg: &DrsConfig) -> Result<Auth, DrsError> {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| Secret::new(v.trim()))
        };
        let file = match &cfg.credentials_file {
            Some(p) => Some(read_credentials_file(p)?),
            None => None,
        };
        let from_file = |key: &str| {
            file.as_ref()
                .and_then(|f| f.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
        };
        match cfg.auth {
            crate::config::DrsAuth::AkSk => {
                if let Some(p) = &cfg.temporary_credentials_file {
                    return Ok(Auth::Temporary(Arc::new(Temporary::from_file(p)?)));
                }
                if let Some(token) = env(&cfg.security_token_env) {
                    let (ak, sk) = (env(&cfg.ak_env), env(&cfg.sk_env));
                    let (Some(ak), Some(sk)) = (ak, sk) else {
                        return Err(DrsError::Config(format!(
                            "{} is set but {} or {} is not: temporary credentials need all three",
                            cfg.security_token_env, cfg.ak_env, cfg.sk_env
                        )));
                    };
                    return Ok(Auth::Temporary(Arc::new(Temporary::fixed(TemporaryKey {
                        ak,
                        sk,
                        token,
                        expires_at: None,
                    }))));
                }
                let ak = env(&cfg.ak_env).or_else(|| from_file("ak"));
                let sk = env(&cfg.sk_env).or_else(|| from_file("sk"));
                match (ak, sk) {
                    (Some(ak), Some(sk)) => Ok(Auth::AkSk { ak, sk }),
                    _ => Err(DrsError::Config(format!(
                        "no access key: export {} and {} or set drs.credentials_file to a file with ak=... and sk=... lines",
                        cfg.ak_env, cfg.sk_env
                    ))),
                }
            }
            crate::config::DrsAuth::Token => env(&cfg.token_env)
                .or_else(|| from_file("token"))
                .map(Auth::Token)
                .ok_or_else(|| {
                    DrsError::Config(format!(
                        "no IAM token: export {} or put token=... in drs.credentials_file",
                        cfg.token_env
                    ))
                }),
        }
    }
}

impl Auth {
    /// Sign a built request in place: `Host` and `X-Sdk-Date` added and `Authorization` set
    /// over the headers present now (AK/SK), or `X-Auth-Token` added (token). The body must be
    /// in memory (JSON), as every Huawei Cloud API call here is.
    pub fn sign_request(&self, req: &mut reqwest::Request) -> Result<(), String> {
        use reqwest::header::{HeaderName, HeaderValue};
        let header =
            |v: &str| HeaderValue::from_str(v).map_err(|e| format!("bad header value: {e}"));
        let key = self.signing_key().map_err(|e| e.to_string())?;
        match (self, key) {
            (Auth::Token(t), _) => {
                let mut v = header(t.expose())?;
                v.set_sensitive(true);
                req.headers_mut().insert("X-Auth-Token", v);
                Ok(())
            }
            (_, None) => Err("this auth signs nothing".into()),
            (_, Some((ak, sk, token))) => {
                if let Some(t) = token {
                    let mut v = header(t.expose())?;
                    v.set_sensitive(true);
                    req.headers_mut().insert(SECURITY_TOKEN_HEADER, v);
                }
                let url = req.url().clone();
                let host = match (url.host_str(), url.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_string(),
                    (None, _) => return Err(format!("{url} has no host")),
                };
                req.headers_mut()
                    .insert(reqwest::header::HOST, header(&host)?);
                req.headers_mut().insert(
                    HeaderName::from_static("x-sdk-date"),
                    header(&super::sign::date_header_value(chrono::Utc::now()))?,
                );
                let headers: Vec<(String, String)> = req
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| {
                        v.to_str()
                            .ok()
                            .map(|v| (k.as_str().to_string(), v.to_string()))
                    })
                    .collect();
                let query: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let body: &[u8] = match req.body() {
                    None => &[],
                    Some(b) => b
                        .as_bytes()
                        .ok_or("a streaming body cannot be signed; send JSON bytes")?,
                };
                let input = super::sign::SignInput {
                    method: req.method().as_str(),
                    path: url.path(),
                    query: &query,
                    headers: &headers,
                    body,
                };
                let authz = super::sign::sign(&input, &ak, &sk).map_err(|e| e.to_string())?;
                let mut v = header(&authz)?;
                v.set_sensitive(true);
                req.headers_mut().insert(reqwest::header::AUTHORIZATION, v);
                Ok(())
            }
        }
    }
}

/// `key=value` lines; `#` comments and blank lines ignored. Errors name the file and line but
/// never echo a value.
fn read_credentials_file(path: &Path) -> Result<Vec<(String, Secret)>, DrsError> {
    let text = read_key_file(path, "drs.credentials_file")?;
    parse_credentials(&text).map_err(|line| {
        DrsError::Config(format!(
            "{}:{line}: expected key=value (keys: ak, sk, token)",
            path.display()
        ))
    })
}

/// The text of a file of keys named by config key `key`; the error names the file, not its text.
fn read_key_file(path: &Path, key: &str) -> Result<String, DrsError> {
    crate::input::read_text(path, crate::input::SECRET_BYTES)
        .map_err(|e| DrsError::Config(format!("{key} {e} (check the path and its permissions)")))
}

fn parse_credentials(text: &str) -> Result<Vec<(String, Secret)>, usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or(i + 1)?;
        let k = k.trim().to_ascii_lowercase();
        if !matches!(k.as_str(), "ak" | "sk" | "token") {
            return Err(i + 1);
        }
        out.push((k, Secret::new(v.trim())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_reqwest_request_verifies() {
        let auth = Auth::aksk("AKTEST", "sk-test-secret");
        let client = reqwest::Client::new();
        let mut req = client
            .put("http://127.0.0.1:9/v2/zones/z1/recordsets/r1?name=db01.corp.internal.&type=A")
            .header("X-Project-Id", "p1")
            .header("Content-Type", "application/json")
            .body(r#"{"records":["10.0.0.9"]}"#)
            .build()
            .unwrap();
        auth.sign_request(&mut req).unwrap();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let authz = req.headers()["authorization"].to_str().unwrap().to_string();
        assert!(
            authz.contains("SignedHeaders=host;x-project-id;x-sdk-date"),
            "{authz}"
        );
        let query = super::super::sign::parse_query(req.url().query().unwrap());
        let input = super::super::sign::SignInput {
            method: "PUT",
            path: req.url().path(),
            query: &query,
            headers: &headers,
            body: req.body().unwrap().as_bytes().unwrap(),
        };
        let lookup = |ak: &str| (ak == "AKTEST").then(|| Secret::new("sk-test-secret"));
        assert_eq!(
            super::super::sign::verify(&input, &authz, lookup, chrono::Utc::now()).unwrap(),
            "AKTEST"
        );
    }

    #[test]
    fn credentials_file_is_parsed_and_bad_lines_named() {
        let c = parse_credentials("# keys\nak = AK123\nsk=very-secret\n").unwrap();
        assert_eq!(c[0].0, "ak");
        assert_eq!(c[1].1.expose(), "very-secret");
        assert_eq!(parse_credentials("ak=1\nnonsense\n").unwrap_err(), 2);
        assert_eq!(parse_credentials("password=x\n").unwrap_err(), 1);
    }

    #[test]
    fn file_is_used_when_env_is_unset_and_debug_hides_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("creds");
        std::fs::write(&p, "ak=FILEAK\nsk=file-secret-key\n").unwrap();
        let cfg = DrsConfig {
            ak_env: "WAVEDECK_TEST_UNSET_AK_VAR".into(),
            sk_env: "WAVEDECK_TEST_UNSET_SK_VAR".into(),
            credentials_file: Some(p),
            ..DrsConfig::default()
        };
        let auth = Auth::from_config(&cfg).unwrap();
        match &auth {
            Auth::AkSk { ak, sk } => {
                assert_eq!(ak.expose(), "FILEAK");
                assert_eq!(sk.expose(), "file-secret-key");
            }
            _ => panic!("expected aksk"),
        }
        assert!(!format!("{auth:?}").contains("file-secret-key"));
    }

    #[test]
    fn temporary_credentials_read_iam_json_and_lines() {
        let j = parse_temporary(
            r#"{"credential":{"access":"TMPAK","secret":"tmp-sk","securitytoken":"tok-123","expires_at":"2026-12-02T12:00:00.000000Z"}}"#,
        )
        .unwrap();
        assert_eq!((j.ak.expose(), j.token.expose()), ("TMPAK", "tok-123"));
        assert_eq!(
            j.expires_at.unwrap().to_rfc3339(),
            "2026-12-02T12:00:00+00:00"
        );
        let l = parse_temporary("ak=A\nsk=B\nsecurity_token=C\n").unwrap();
        assert_eq!((l.sk.expose(), l.expires_at), ("B", None));
        let e = parse_temporary("ak=A\nsk=secret-value\n").err().unwrap();
        assert!(
            e.contains("security token") && !e.contains("secret-value"),
            "{e}"
        );
    }

    #[test]
    fn temporary_credentials_are_read_again_before_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tmp.json");
        let write = |ak: &str, exp: &str| {
            std::fs::write(
                &p,
                format!(r#"{{"credential":{{"access":"{ak}","secret":"s","securitytoken":"t-{ak}","expires_at":"{exp}"}}}}"#),
            )
            .unwrap()
        };
        write("OLD", "2026-12-02T12:00:00Z");
        let t = Temporary::from_file(&p).unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // An hour left and the file as it was read (same length, modification time put
        // back): the cached key, the file is not read again.
        let read_at = std::fs::metadata(&p).unwrap().modified().unwrap();
        write("NEW", "2026-12-02T13:00:00Z");
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(read_at)
            .unwrap();
        assert_eq!(
            t.key_at(at("2026-12-02T11:00:00Z")).unwrap().ak.expose(),
            "OLD"
        );
        // Five minutes left: read again, the renewed key.
        let k = t.key_at(at("2026-12-02T11:55:00Z")).unwrap();
        assert_eq!((k.ak.expose(), k.token.expose()), ("NEW", "t-NEW"));
        // Expired and not renewed: an error naming the file, no secret in it.
        let e = t
            .key_at(at("2026-12-02T14:00:00Z"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("expired") && e.contains("tmp.json") && !e.contains("t-NEW"),
            "{e}"
        );
        assert!(!format!("{:?}", Auth::Temporary(Arc::new(t))).contains("NEW"));
    }

    #[test]
    fn a_file_without_expires_at_is_read_again_when_it_is_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("securitykey");
        let write = |ak: &str| {
            std::fs::write(
                &p,
                format!("ak={ak}\nsk=sk-{ak}\nsecurity_token=token-of-{ak}\n"),
            )
            .unwrap()
        };
        write("FIRST");
        let t = Temporary::from_file(&p).unwrap();
        let now = Utc::now();
        assert_eq!(t.key_at(now).unwrap().ak.expose(), "FIRST");
        // Rotated on disk the way renewers do it: a new file moved over the old one.
        let next = dir.path().join("securitykey.new");
        std::fs::write(
            &next,
            "ak=SECOND-KEY\nsk=sk-second\nsecurity_token=token-of-second\n",
        )
        .unwrap();
        std::fs::rename(&next, &p).unwrap();
        let k = t.key_at(now).unwrap();
        assert_eq!(
            (k.ak.expose(), k.token.expose()),
            ("SECOND-KEY", "token-of-second")
        );
        // Half-written (no token yet): the key in use stays, and the complete file is taken
        // at the next look.
        std::fs::write(&p, "ak=THIRD-KEY-X\nsk=sk-third\n").unwrap();
        assert_eq!(t.key_at(now).unwrap().ak.expose(), "SECOND-KEY");
        write("THIRD-KEY-X");
        assert_eq!(t.key_at(now).unwrap().ak.expose(), "THIRD-KEY-X");
        // Gone for a moment: the key in use stays.
        std::fs::remove_file(&p).unwrap();
        assert_eq!(t.key_at(now).unwrap().ak.expose(), "THIRD-KEY-X");
    }

    #[test]
    fn temporary_credentials_sign_the_security_token() {
        let auth = Auth::Temporary(Arc::new(Temporary::fixed(TemporaryKey {
            ak: Secret::new("TMPAK"),
            sk: Secret::new("tmp-secret"),
            token: Secret::new("sec-token-1"),
            expires_at: None,
        })));
        let mut req = reqwest::Client::new()
            .get("http://127.0.0.1:9/v2/zones/z1/recordsets?name=a.&type=A")
            .build()
            .unwrap();
        auth.sign_request(&mut req).unwrap();
        assert_eq!(req.headers()["x-security-token"], "sec-token-1");
        assert!(req.headers()["x-security-token"].is_sensitive());
        let authz = req.headers()["authorization"].to_str().unwrap().to_string();
        assert!(authz.contains("x-security-token"), "{authz}");
        assert!(!format!("{req:?}").contains("sec-token-1"));
        assert_eq!(auth.secrets().len(), 3, "the token is redacted too");
    }

    #[test]
    fn security_token_env_makes_temporary_credentials() {
        let cfg = DrsConfig {
            ak_env: "WAVEDECK_TEST_UNSET_AK_VAR".into(),
            sk_env: "WAVEDECK_TEST_UNSET_SK_VAR".into(),
            security_token_env: "PATH".into(),
            ..DrsConfig::default()
        };
        // The token is there but not the pair: say which variables are needed.
        let e = Auth::from_config(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("WAVEDECK_TEST_UNSET_AK_VAR") && e.contains("all three"),
            "{e}"
        );
    }

    #[test]
    fn missing_credentials_say_what_to_export() {
        let cfg = DrsConfig {
            ak_env: "WAVEDECK_TEST_UNSET_AK_VAR".into(),
            sk_env: "WAVEDECK_TEST_UNSET_SK_VAR".into(),
            ..DrsConfig::default()
        };
        let err = Auth::from_config(&cfg).unwrap_err().to_string();
        assert!(err.contains("WAVEDECK_TEST_UNSET_AK_VAR"), "{err}");
    }
}
