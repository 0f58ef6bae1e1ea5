//! The one table of DRS and API-gateway error codes wavedeck knows: what each means for a
//! retry, and what the operator should do. `DrsError`'s predicates and the engine's
//! `classify` both read it, so a code is described once.
//!
//! Sources: OTC `data-replication-service/api-ref/source/appendix/error_code.rst` (codes and
//! their HTTP statuses), the Huawei APIG error table (`APIG.*`), Terraform's
//! `resource_huaweicloud_drs_job.go` (`DRS.M00289` inside a 400), HW drs_03_0255
//! (`DRS.10000024`).

/// What a code says about the failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meaning {
    /// The service asks to slow down: back off the whole client.
    Throttled,
    /// Transient, or "busy": the same call can succeed later.
    Retryable,
    /// Credentials, signature or permissions refused: retrying with the same key cannot help.
    Auth,
    /// The job does not exist (never created, deleted, released).
    Gone,
    /// A job with this name exists already (the create's "find it" path).
    NameExists,
    /// The request itself is wrong, or the account must be fixed first.
    Fatal,
}

/// Which HTTP statuses an entry applies to: some gateway codes mean different things by status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Any,
    /// Status at least this (e.g. `APIG.0201` is a timeout only as a 5xx).
    AtLeast(u16),
    /// Status below this, or no status known.
    Below(u16),
}

/// One known code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    pub code: &'static str,
    pub meaning: Meaning,
    /// What the operator should do (shown after the service's own words).
    pub advice: &'static str,
    when: When,
}

const fn k(code: &'static str, meaning: Meaning, advice: &'static str) -> Known {
    Known {
        code,
        meaning,
        advice,
        when: When::Any,
    }
}

use Meaning::*;

const TABLE: &[Known] = &[
    k("APIG.0308", Throttled, "the API gateway is rate limiting this account; wavedeck slows down by itself"),
    k("DRS.M01503", Throttled, "DRS says operations are too frequent; wavedeck slows down by itself"),
    k("DRS.M01504", Retryable, "another operation is running on the DRS job; wavedeck retries"),
    k("DRS.10000024", Retryable, "another operation is in progress on the DRS job; wavedeck retries"),
    k("DRS.M00304", Retryable, "the DRS job is not in a state that allows this call yet; wavedeck retries"),
    k("DRS.M00004", Retryable, "DRS reports an internal service error; wavedeck retries"),
    k("DRS.M01501", Retryable, "DRS reports a service error; wavedeck retries"),
    k("DRS.M05066", Retryable, "DRS failed to create the replication instance; wavedeck retries"),
    k("DRS.M00100", Auth, "the IAM token is invalid or expired: renew it (drs.token_env) and retry the database"),
    k("DRS.M00102", Auth, "the account lacks DRS permissions: grant them in IAM, then retry the database"),
    k("DRS.M00103", Auth, "IAM refuses this operation: check the account's policies, then retry the database"),
    k("APIG.0301", Auth, "the request signature was refused: check the access key, secret key and security token (drs.ak_env / drs.sk_env / drs.security_token_env)"),
    k("APIG.0303", Auth, "the access key is unknown or disabled: check drs.ak_env"),
    k("DRS.M00105", Fatal, "the account is restricted (arrears or frozen): clear it with Huawei Cloud, then retry"),
    k("DRS.M00261", Fatal, "the project id is wrong: fix drs.project_id in wavedeck.yaml"),
    k("DRS.KE0002", Fatal, "DRS cannot log in to a database: check the user and the password reference in the inventory"),
    k("DRS.M00289", Gone, "the DRS job does not exist: retry the database to create it again"),
    k("DRS.M05003", Gone, "the DRS job no longer exists: retry the database to create it again"),
    k("DRS.M05004", Gone, "the DRS job was deleted or released: retry the database to create it again"),
    k("DRS.10000010", Gone, "the DRS job does not exist: retry the database to create it again"),
    k("DRS.M00277", NameExists, "a DRS job with this name already exists but could not be matched: check the DRS console"),
    // The gateway uses APIG.0201 for a backend timeout (502/504) and for a refused request
    // (400 bad request, 413 body over 12 MB, 414, 494): only the first is worth a retry.
    Known {
        when: When::AtLeast(500),
        ..k("APIG.0201", Retryable, "the API gateway timed out or the backend is unavailable; wavedeck retries")
    },
    Known {
        when: When::Below(500),
        ..k("APIG.0201", Fatal, "the API gateway refused the request (malformed or too large): a retry sends the same; report it as a wavedeck bug")
    },
];

/// The entry for a code at an HTTP status (`None` when the status is unknown).
pub fn lookup(code: &str, status: Option<u16>) -> Option<&'static Known> {
    if code.is_empty() {
        return None;
    }
    TABLE.iter().find(|e| e.code == code && applies(e, status))
}

fn applies(e: &Known, status: Option<u16>) -> bool {
    match (e.when, status) {
        (When::Any, _) => true,
        (When::AtLeast(m), Some(s)) => s >= m,
        (When::AtLeast(_), None) => false,
        (When::Below(m), s) => s.is_none_or(|s| s < m),
    }
}

/// What a code means at a status, if the code is known.
pub fn meaning(code: &str, status: Option<u16>) -> Option<Meaning> {
    lookup(code, status).map(|e| e.meaning)
}

/// The code says the job does not exist.
pub fn is_gone(code: &str) -> bool {
    meaning(code, None) == Some(Gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apig_0201_is_retried_only_as_a_server_error() {
        assert_eq!(meaning("APIG.0201", Some(504)), Some(Retryable));
        assert_eq!(meaning("APIG.0201", Some(502)), Some(Retryable));
        assert_eq!(meaning("APIG.0201", Some(400)), Some(Fatal));
        assert_eq!(meaning("APIG.0201", Some(413)), Some(Fatal));
    }

    #[test]
    fn another_operation_in_progress_is_retried() {
        assert_eq!(meaning("DRS.10000024", Some(400)), Some(Retryable));
        assert_eq!(meaning("DRS.M01504", Some(202)), Some(Retryable));
    }

    #[test]
    fn each_code_has_one_meaning_per_status() {
        for e in TABLE {
            for s in [None, Some(200), Some(400), Some(422), Some(500), Some(504)] {
                let n = TABLE
                    .iter()
                    .filter(|o| o.code == e.code && applies(o, s))
                    .count();
                assert!(n <= 1, "{} at {s:?}", e.code);
            }
        }
        assert!(is_gone("DRS.M00289") && is_gone("DRS.M05004"));
        assert!(!is_gone("DRS.M00277") && !is_gone(""));
        assert_eq!(lookup("", Some(500)), None);
    }
}
