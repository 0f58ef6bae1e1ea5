//! The store's errors, each saying what to check or run, and the helper that names what a failed
//! query was doing. Below every query module (and the opening in `db.rs`).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL {0:?} is not supported: use sqlite://PATH (one file) or postgres://USER@HOST:PORT/DB (team mode)")]
    BadUrl(String),
    #[error("store {0} does not exist yet: run `wavedeck init --inventory FILE` first (or check --store / WAVEDECK_STORE)")]
    Missing(String),
    #[error("cannot open store {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot reach the PostgreSQL store {url} within {secs} s (last error: {last}): check that the server runs and listens on that host and port, that no firewall drops the jump host's connections, and the store URL (--store, WAVEDECK_STORE or config `store`)")]
    Unreachable {
        url: String,
        secs: u64,
        last: String,
    },
    #[error("store {what}: {source}")]
    Db {
        what: &'static str,
        source: sqlx::Error,
    },
    /// PostgreSQL's insufficient_privilege (42501): the URL's role may not do this.
    #[error("store {what}: refused by PostgreSQL ({detail}): this store URL's role may only read (a viewer role, see `wavedeck store grant-viewer`); act with an operator's store URL")]
    Denied { what: &'static str, detail: String },
    #[error("store data is damaged: {0} (run `wavedeck status` to see the chain report; restore from a backup if it persists)")]
    Corrupt(String),
    #[error("{0}")]
    Refused(String),
}

pub type StoreResult<T> = std::result::Result<T, StoreError>;
pub(crate) use StoreResult as Result;

/// Attach "what we were doing" to a driver error.
pub(crate) trait Ctx<T> {
    fn ctx(self, what: &'static str) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, what: &'static str) -> Result<T> {
        self.map_err(|source| match source.as_database_error() {
            Some(d) if d.code().as_deref() == Some("42501") => StoreError::Denied {
                what,
                detail: d.message().to_string(),
            },
            _ => StoreError::Db { what, source },
        })
    }
}
