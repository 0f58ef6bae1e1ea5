//! Sorting failures into what a retry can fix and what it cannot, and saying them in plain
//! words for the operator. Pure: works on the facts an error carries (HTTP status, service
//! error code, message), whatever client produced it.

use crate::drs::codes::{self, Meaning};

/// What the engine does about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (timeouts, 5xx, connection reset, "another operation in progress"):
    /// retry this step after a backoff, counted against the step's retry cap.
    Retryable,
    /// The service asked us to slow down (429, APIG.0308, DRS.M01503): back off the whole
    /// client, and do not count it against the database's retries: it is not its fault.
    Throttled,
    /// Retrying cannot help (bad credentials, no permission, invalid parameters, job gone):
    /// the database goes to `failed` at once, with the reason.
    Fatal,
    /// Nothing failed: the step could not decide yet because the replication has not reached
    /// the position it needs (the live validation gate "not decided: lag"). Tried again on a
    /// schedule and budget of its own, never counted against the step's retries: the data
    /// was not found wrong, and the workload that causes it never stops.
    Waiting,
}

/// The facts of one failure, as the clients report them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Failure<'a> {
    /// HTTP status when an answer came back; `None` for timeouts and connection errors.
    pub http_status: Option<u16>,
    /// Service error code (`DRS.M00304`, `APIG.0308`, `DNS.0001`, SQLSTATE, ...), empty if none.
    pub code: &'a str,
    /// The message as the service gave it.
    pub message: &'a str,
}

/// The class of a known service code (the table is `drs::codes`), at the failure's status.
fn known(f: &Failure<'_>) -> Option<(ErrorClass, &'static str)> {
    let k = codes::lookup(f.code, f.http_status)?;
    let class = match k.meaning {
        Meaning::Throttled => ErrorClass::Throttled,
        Meaning::Retryable => ErrorClass::Retryable,
        Meaning::Auth | Meaning::Gone | Meaning::NameExists | Meaning::Fatal => ErrorClass::Fatal,
    };
    Some((class, k.advice))
}

/// Sort a failure.
pub fn classify(f: &Failure<'_>) -> ErrorClass {
    if let Some((class, _)) = known(f) {
        return class;
    }
    match f.http_status {
        None => ErrorClass::Retryable,
        Some(429) => ErrorClass::Throttled,
        Some(401) | Some(403) => ErrorClass::Fatal,
        Some(408) | Some(409) | Some(423) | Some(425) => ErrorClass::Retryable,
        Some(s) if s >= 500 => ErrorClass::Retryable,
        // Other 4xx: the request itself is wrong; sending it again gives the same answer.
        Some(s) if s >= 400 => ErrorClass::Fatal,
        Some(_) => ErrorClass::Retryable,
    }
}

/// What the operator should do about a failure of this class.
pub fn advice(f: &Failure<'_>, class: ErrorClass) -> &'static str {
    known(f).map(|(_, a)| a).unwrap_or(match class {
        ErrorClass::Throttled => "the service is rate limiting; wavedeck slows down by itself",
        ErrorClass::Retryable => "looks transient; wavedeck retries with backoff",
        ErrorClass::Fatal => {
            "a retry will not fix this: correct the cause, then retry the database"
        }
        ErrorClass::Waiting => "waiting for the replication; wavedeck tries again by itself",
    })
}

/// The failure in plain words: what happened, the service's own code, and what to do.
pub fn plain_words(f: &Failure<'_>) -> String {
    let advice = advice(f, classify(f));
    let what = match (f.http_status, f.code.is_empty(), f.message.is_empty()) {
        (None, _, true) => "no answer (timeout or connection error)".to_string(),
        (None, _, false) => f.message.to_string(),
        (Some(s), true, true) => format!("HTTP {s}"),
        (Some(s), true, false) => format!("HTTP {s}: {}", f.message),
        (Some(s), false, _) => format!("HTTP {s} {}: {}", f.code, f.message),
    };
    format!("{what} ({advice})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(status: Option<u16>, code: &'static str) -> Failure<'static> {
        Failure {
            http_status: status,
            code,
            message: "m",
        }
    }

    #[test]
    fn bad_credentials_are_not_retried() {
        assert_eq!(classify(&f(Some(401), "APIG.0301")), ErrorClass::Fatal);
        assert_eq!(classify(&f(Some(403), "DRS.M00100")), ErrorClass::Fatal);
        assert_eq!(classify(&f(Some(400), "DRS.KE0002")), ErrorClass::Fatal);
        assert_eq!(classify(&f(Some(401), "")), ErrorClass::Fatal);
    }

    #[test]
    fn rate_limits_throttle_instead_of_failing() {
        assert_eq!(classify(&f(Some(429), "")), ErrorClass::Throttled);
        assert_eq!(classify(&f(Some(429), "APIG.0308")), ErrorClass::Throttled);
        // DRS answers "too frequent" with 400: the code wins over the status.
        assert_eq!(classify(&f(Some(400), "DRS.M01503")), ErrorClass::Throttled);
    }

    #[test]
    fn transient_failures_are_retried() {
        assert_eq!(classify(&f(None, "")), ErrorClass::Retryable);
        assert_eq!(classify(&f(Some(500), "")), ErrorClass::Retryable);
        assert_eq!(classify(&f(Some(503), "")), ErrorClass::Retryable);
        assert_eq!(classify(&f(Some(202), "DRS.M01504")), ErrorClass::Retryable);
        assert_eq!(classify(&f(Some(400), "DRS.M00304")), ErrorClass::Retryable);
        assert_eq!(
            classify(&f(Some(400), "DRS.10000024")),
            ErrorClass::Retryable
        );
        assert_eq!(classify(&f(Some(504), "APIG.0201")), ErrorClass::Retryable);
    }

    #[test]
    fn a_gateway_code_follows_the_http_status() {
        // APIG.0201 as a 400/413 is a refused request, not a timeout.
        assert_eq!(classify(&f(Some(400), "APIG.0201")), ErrorClass::Fatal);
        assert_eq!(classify(&f(Some(413), "APIG.0201")), ErrorClass::Fatal);
    }

    #[test]
    fn other_client_errors_are_fatal() {
        assert_eq!(classify(&f(Some(400), "DRS.M00202")), ErrorClass::Fatal);
        assert_eq!(classify(&f(Some(404), "")), ErrorClass::Fatal);
    }

    #[test]
    fn plain_words_keep_the_code_and_say_what_to_do() {
        let s = plain_words(&Failure {
            http_status: Some(400),
            code: "DRS.KE0002",
            message: "The username or password is incorrect.",
        });
        assert!(s.contains("DRS.KE0002"), "{s}");
        assert!(s.contains("password reference"), "{s}");
        let t = plain_words(&Failure {
            http_status: None,
            code: "",
            message: "",
        });
        assert!(t.contains("timeout"), "{t}");
        assert!(t.contains("retries"), "{t}");
    }
}
