//! What a failed post comes to: tried again later, or given up. Pure: the sender asks after
//! each failure, with the attempts so far. A target that refuses a notification for good (a
//! 4xx other than 408/429: a wrong path, a revoked hook, a body it will never take) or that
//! failed `max_attempts` times is given up, so the notifications behind it still go out.

/// How a post failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The target answered with this status (not 2xx).
    Status(u16),
    /// No answer: connection refused, timeout, TLS (the text holds no URL).
    Transport(String),
}

impl Failure {
    /// Whether posting the same body again cannot succeed: a 4xx says the request itself is
    /// wrong, except 408 (Request Timeout) and 429 (Too Many Requests), which say "later";
    /// a 3xx is a redirect the sender refuses to follow (the body would go elsewhere).
    pub fn permanent(&self) -> bool {
        match self {
            Failure::Status(s) => (300..500).contains(s) && *s != 408 && *s != 429,
            Failure::Transport(_) => false,
        }
    }

    /// In words, for the outbox's `last_error` and the log.
    pub fn text(&self) -> String {
        match self {
            Failure::Status(s) => format!("HTTP {s}"),
            Failure::Transport(t) => t.clone(),
        }
    }
}

/// What the sender does next with a notification whose post failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Retry,
    /// Given up, and why (recorded in the outbox and as a `notify.given_up` event).
    GiveUp(String),
}

/// After the `attempts`-th failed post (`failure`), with `max_attempts` allowed (0: retry
/// transient failures for ever).
pub fn after_failure(failure: &Failure, attempts: u32, max_attempts: u32) -> Next {
    if failure.permanent() {
        Next::GiveUp(format!("{}: refused for good", failure.text()))
    } else if max_attempts > 0 && attempts >= max_attempts {
        Next::GiveUp(format!(
            "{} after {attempts} attempt(s) (notify.max_attempts {max_attempts})",
            failure.text()
        ))
    } else {
        Next::Retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_4xx_is_given_up_at_once_except_408_and_429() {
        for s in [400, 401, 403, 404, 410, 413, 422, 301, 302] {
            assert!(
                matches!(after_failure(&Failure::Status(s), 1, 20), Next::GiveUp(_)),
                "{s}"
            );
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(
                after_failure(&Failure::Status(s), 1, 20),
                Next::Retry,
                "{s}"
            );
        }
        let t = Failure::Transport("tcp connect error: Connection refused".into());
        assert_eq!(after_failure(&t, 1, 20), Next::Retry);
        assert_eq!(
            after_failure(&Failure::Status(404), 1, 20),
            Next::GiveUp("HTTP 404: refused for good".into())
        );
    }

    #[test]
    fn transient_failures_are_given_up_after_max_attempts_or_never_with_0() {
        let f = Failure::Status(503);
        assert_eq!(after_failure(&f, 2, 3), Next::Retry);
        assert_eq!(
            after_failure(&f, 3, 3),
            Next::GiveUp("HTTP 503 after 3 attempt(s) (notify.max_attempts 3)".into())
        );
        assert_eq!(after_failure(&f, 1_000_000, 0), Next::Retry);
        assert!(matches!(
            after_failure(&Failure::Status(400), 1, 0),
            Next::GiveUp(_)
        ));
    }
}
