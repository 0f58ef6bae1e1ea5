//! Where the DRS credentials come from: environment variables or a credentials file named in the
//! config (`drs.ak_env`, `drs.sk_env`, `drs.credentials_file`, `drs.token_env`). Never the
//! inventory. Values live in `Secret`s, so Debug and errors never show them.

use super::error::DrsError;
use crate::config::DrsConfig;
use crate::secret::Secret;
use std::fmt;
use std::path::Path;

#[derive(Clone)]
pub enum Auth {
    /// Access key id and secret access key: requests are signed (SDK-HMAC-SHA256).
    AkSk { ak: Secret, sk: Secret },
    /// An IAM token sent as `X-Auth-Token`.
    Token(Secret),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::AkSk { .. } => f.write_str("Auth::AkSk(***)"),
            Auth::Token(_) => f.write_str("Auth::Token(***)"),
        }
    }
}

impl Auth {
    pub fn aksk(ak: impl Into<String>, sk: impl Into<String>) -> Auth {
        Auth::AkSk {
            ak: Secret::new(ak),
            sk: Secret::new(sk),
        }
    }

    /// The secrets this auth holds, for `secret::redact` on text that came from outside.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Auth::AkSk { ak, sk } => vec![ak, sk],
            Auth::Token(t) => vec![t],
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
        match cfg.auth.as_str() {
            "aksk" => {
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
            "token" => env(&cfg.token_env)
                .or_else(|| from_file("token"))
                .map(Auth::Token)
                .ok_or_else(|| {
                    DrsError::Config(format!(
                        "no IAM token: export {} or put token=... in drs.credentials_file",
                        cfg.token_env
                    ))
                }),
            other => Err(DrsError::Config(format!(
                "drs.auth is {other:?}; expected \"aksk\" or \"token\""
            ))),
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
        match self {
            Auth::Token(t) => {
                let mut v = header(t.expose())?;
                v.set_sensitive(true);
                req.headers_mut().insert("X-Auth-Token", v);
                Ok(())
            }
            Auth::AkSk { ak, sk } => {
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
                let authz = super::sign::sign(&input, ak, sk).map_err(|e| e.to_string())?;
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
    let text = std::fs::read_to_string(path).map_err(|e| {
        DrsError::Config(format!(
            "cannot read drs.credentials_file {}: {} (check the path and its permissions)",
            path.display(),
            e.kind()
        ))
    })?;
    parse_credentials(&text).map_err(|line| {
        DrsError::Config(format!(
            "{}:{line}: expected key=value (keys: ak, sk, token)",
            path.display()
        ))
    })
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
            Auth::Token(_) => panic!("expected aksk"),
        }
        assert!(!format!("{auth:?}").contains("file-secret-key"));
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
