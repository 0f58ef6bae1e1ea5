//! Sorting failures into what a retry can fix and what it cannot, and saying them in plain
//! words for the operator. Pure: works on the facts an error carries (HTTP status, service
//! error code, message), whatever client produced it.

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

/// Error codes whose meaning is known, with the class and what the operator should do.
const KNOWN: &[(&str, ErrorClass, &str)] = &[
    ("APIG.0308", ErrorClass::Throttled, "the API gateway is rate limiting this account; wavedeck slows down by itself"),
    ("DRS.M01503", ErrorClass::Throttled, "DRS says operations are too frequent; wavedeck slows down by itself"),
    ("DRS.M01504", ErrorClass::Retryable, "another operation is running on the DRS job; wavedeck retries"),
    ("DRS.M00304", ErrorClass::Retryable, "the DRS job is not in a state that allows this call yet; wavedeck retries"),
    ("DRS.M00004", ErrorClass::Retryable, "DRS reports an internal service error; wavedeck retries"),
    ("DRS.M01501", ErrorClass::Retryable, "DRS reports a service error; wavedeck retries"),
    ("DRS.M00100", ErrorClass::Fatal, "the IAM token is invalid or expired: renew it (drs.token_env) and retry the database"),
    ("DRS.M00102", ErrorClass::Fatal, "the account lacks DRS permissions: grant them in IAM, then retry the database"),
    ("DRS.M00103", ErrorClass::Fatal, "IAM refuses this operation: check the account's policies, then retry the database"),
    ("DRS.M00105", ErrorClass::Fatal, "the account is restricted (arrears or frozen): clear it with Huawei Cloud, then retry"),
    ("DRS.M00261", ErrorClass::Fatal, "the project id is wrong: fix drs.project_id in wavedeck.yaml"),
    ("DRS.KE0002", ErrorClass::Fatal, "DRS cannot log in to a database: check the user and the password reference in the inventory"),
    ("DRS.M05003", ErrorClass::Fatal, "the DRS job no longer exists: retry the database to create it again"),
    ("DRS.M05004", ErrorClass::Fatal, "the DRS job was deleted or released: retry the database to create it again"),
    ("DRS.M05066", ErrorClass::Retryable, "DRS failed to create the replication instance; wavedeck retries"),
    ("DRS.M00277", ErrorClass::Fatal, "a DRS job with this name already exists but could not be matched: check the DRS console"),
    ("APIG.0301", ErrorClass::Fatal, "the request signature was refused: check the access key and secret key (drs.ak_env / drs.sk_env)"),
    ("APIG.0303", ErrorClass::Fatal, "the access key is unknown or disabled: check drs.ak_env"),
    ("APIG.0201", ErrorClass::Retryable, "the API gateway timed out; wavedeck retries"),
];

/// Sort a failure.
pub fn classify(f: &Failure<'_>) -> ErrorClass {
    if let Some((_, class, _)) = KNOWN.iter().find(|(c, _, _)| *c == f.code) {
        return *class;
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
    KNOWN
        .iter()
        .find(|(c, _, _)| *c == f.code)
        .map(|(_, _, a)| *a)
        .unwrap_or(match class {
            ErrorClass::Throttled => "the service is rate limiting; wavedeck slows down by itself",
            ErrorClass::Retryable => "looks transient; wavedeck retries with backoff",
            ErrorClass::Fatal => {
                "a retry will not fix this: correct the cause, then retry the database"
            }
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
