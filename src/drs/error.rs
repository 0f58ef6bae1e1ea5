//! DRS errors: the service's own codes and messages kept intact, and the retry classification the
//! engine needs (the engine retries with backoff; this module only says what is worth retrying).

use serde::{Deserialize, Serialize};

use super::codes::{self, Meaning};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DrsError {
    /// The service answered with a non-2xx status and (usually) an error body.
    #[error(
        "DRS {call}: HTTP {status} {code}: {message}{}",
        request_hint(request_id)
    )]
    Api {
        call: String,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// One job of a batch call failed while the call itself succeeded.
    #[error("DRS {call}: job {job}: {code}: {message}")]
    Item {
        call: String,
        job: String,
        code: String,
        message: String,
    },
    #[error(
        "DRS {call}: no answer within {after_s} s (raise drs.timeout_s if the service is slow)"
    )]
    Timeout { call: String, after_s: u64 },
    #[error("DRS {call}: cannot reach {base_url}: {reason}")]
    Transport {
        call: String,
        base_url: String,
        reason: String,
    },
    #[error("DRS {call}: unexpected answer (HTTP {status}): {reason}")]
    Decode {
        call: String,
        status: u16,
        reason: String,
    },
    /// Missing or unreadable credentials, or a bad DRS config key.
    #[error("DRS configuration: {0}")]
    Config(String),
    /// The caller asked for something the API cannot express (bad name, empty id list...).
    #[error("DRS request: {0}")]
    Invalid(String),
}

fn request_hint(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" (request id {id})"),
        None => String::new(),
    }
}

impl DrsError {
    /// Worth retrying after a backoff: 429, 5xx, throttling or busy codes, timeouts, transport.
    pub fn is_retryable(&self) -> bool {
        let soon = |m| matches!(m, Some(Meaning::Throttled | Meaning::Retryable));
        match self {
            DrsError::Api { status, code, .. } => {
                let m = codes::meaning(code, Some(*status));
                *status == 429 || (*status >= 500 && m != Some(Meaning::Fatal)) || soon(m)
            }
            DrsError::Item { code, .. } => soon(codes::meaning(code, None)),
            DrsError::Timeout { .. } | DrsError::Transport { .. } => true,
            DrsError::Decode { status, .. } => *status >= 500,
            DrsError::Config(_) | DrsError::Invalid(_) => false,
        }
    }

    /// Authentication or signature refused: retrying with the same key cannot help.
    pub fn is_auth(&self) -> bool {
        match self {
            DrsError::Api { status, code, .. } => {
                *status == 401 || codes::meaning(code, Some(*status)) == Some(Meaning::Auth)
            }
            _ => false,
        }
    }

    /// The DRS/APIG error code, when the service gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            DrsError::Api { code, .. } | DrsError::Item { code, .. } if !code.is_empty() => {
                Some(code)
            }
            _ => None,
        }
    }

    /// The job does not exist (never created, or deleted).
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(codes::is_gone)
    }

    /// A whole call refused for what one of its jobs is: DRS answers an unknown id with a 400
    /// `DRS.M00289` and a taken name with a 422 `DRS.M00277` for the whole batch, naming one
    /// job in `results[0]`. Which one is not to be trusted, so the caller asks job by job.
    pub fn is_about_one_job(&self) -> bool {
        match self {
            DrsError::Api { status, code, .. } => {
                (400..500).contains(status)
                    && matches!(
                        codes::meaning(code, Some(*status)),
                        Some(Meaning::Gone | Meaning::NameExists)
                    )
            }
            _ => false,
        }
    }
}

/// The error body of DRS (`error_code`/`error_msg`), the gateway (`+ request_id`) or DNS
/// (`code`/`message`). Like the Go SDK, accept any of these spellings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_msg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ErrorBody {
    pub fn new(code: &str, msg: impl Into<String>) -> Self {
        ErrorBody {
            error_code: Some(code.to_string()),
            error_msg: Some(msg.into()),
            ..Default::default()
        }
    }

    /// Code and message from an error body, also looking into `results[0]` (batch calls
    /// answer a failed item inside a 400, e.g. `DRS.M00289`).
    pub fn extract(body: &[u8]) -> Option<(String, String, Option<String>)> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let pick = |v: &serde_json::Value| -> Option<(String, String)> {
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let code = s("error_code").or_else(|| s("code"))?;
            let msg = s("error_msg")
                .or_else(|| s("error_message"))
                .or_else(|| s("message"))
                .unwrap_or_default();
            Some((code, msg))
        };
        let request_id = v
            .get("request_id")
            .and_then(|x| x.as_str())
            .map(str::to_string);
        let found = pick(&v).or_else(|| {
            v.get("results")
                .and_then(|r| r.as_array())
                .and_then(|a| a.iter().find_map(pick))
        })?;
        Some((found.0, found.1, request_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> DrsError {
        DrsError::Api {
            call: "batch-status".into(),
            status,
            code: code.into(),
            message: "m".into(),
            request_id: None,
        }
    }

    #[test]
    fn classification() {
        assert!(api(429, "APIG.0308").is_retryable());
        assert!(api(500, "DRS.M00004").is_retryable());
        assert!(api(503, "").is_retryable());
        assert!(api(400, "DRS.M01503").is_retryable());
        assert!(!api(401, "APIG.0301").is_retryable());
        assert!(api(401, "APIG.0301").is_auth());
        assert!(!api(400, "DRS.M00202").is_retryable());
        assert!(!api(422, "DRS.M00277").is_retryable());
        assert!(api(400, "DRS.M00289").is_not_found());
        // The gateway's APIG.0201 is a timeout only as a 5xx; as a 400/413 it is a bad request.
        assert!(api(504, "APIG.0201").is_retryable());
        assert!(!api(400, "APIG.0201").is_retryable());
        assert!(!api(413, "APIG.0201").is_retryable());
        assert!(api(400, "DRS.10000024").is_retryable());
        assert!(api(400, "DRS.M00289").is_about_one_job());
        assert!(api(422, "DRS.M00277").is_about_one_job());
        assert!(!api(500, "DRS.M00289").is_about_one_job());
        assert!(!api(400, "DRS.M00202").is_about_one_job());
        assert!(DrsError::Timeout {
            call: "x".into(),
            after_s: 3
        }
        .is_retryable());
        assert!(!DrsError::Config("no key".into()).is_retryable());
    }

    #[test]
    fn extract_reads_every_error_shape() {
        let (c, m, r) = ErrorBody::extract(
            br#"{"error_code":"APIG.0308","error_msg":"throttled","request_id":"abc"}"#,
        )
        .unwrap();
        assert_eq!(
            (c.as_str(), m.as_str(), r.as_deref()),
            ("APIG.0308", "throttled", Some("abc"))
        );
        let (c, m, _) =
            ErrorBody::extract(br#"{"code":"DNS.0014","message":"flow control"}"#).unwrap();
        assert_eq!((c.as_str(), m.as_str()), ("DNS.0014", "flow control"));
        let (c, _, _) = ErrorBody::extract(
            br#"{"results":[{"id":"x","error_code":"DRS.M00289","error_message":"job does not exist"}],"count":1}"#,
        )
        .unwrap();
        assert_eq!(c, "DRS.M00289");
        assert!(ErrorBody::extract(b"<html>bad gateway</html>").is_none());
    }

    #[test]
    fn display_keeps_code_and_request_id() {
        let e = DrsError::Api {
            call: "batch-creation".into(),
            status: 401,
            code: "APIG.0301".into(),
            message: "Incorrect IAM authentication information: verify aksk signature fail".into(),
            request_id: Some("r1".into()),
        };
        let s = e.to_string();
        assert!(
            s.contains("APIG.0301") && s.contains("request id r1"),
            "{s}"
        );
    }
}
