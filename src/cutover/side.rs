//! One side of a cutover (source or target) for either engine: host, port, user, password and
//! database. The engine-specific sessions are opened by `Side::connect_admin` / `connect_app`
//! (PostgreSQL, in `postgres::ops`) and `my::admin` / `my::app` (MySQL, MariaDB, in
//! `mysql::ops`). Errors name the side and the database and never carry the password; which
//! engine they came from is the `CutoverError` variant that carries them.

use crate::secret::{redact, Secret};

/// Where one database lives. The password, if any, is only put on the wire.
#[derive(Clone, Debug)]
pub struct Side {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub database: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{side} {host}:{port}/{database}: {msg}")]
pub struct SideError {
    pub side: String,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub msg: String,
}

impl Side {
    pub fn new(host: &str, port: u16, user: &str, database: &str) -> Side {
        Side {
            host: host.into(),
            port,
            user: user.into(),
            password: None,
            database: database.into(),
        }
    }

    /// An error naming this database; driver text is redacted of the password.
    pub fn err(&self, side: &str, e: impl std::fmt::Display) -> SideError {
        let secrets: Vec<&Secret> = self.password.iter().collect();
        SideError {
            side: side.into(),
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            msg: redact(&e.to_string(), &secrets),
        }
    }

    /// An inventory endpoint, its password read from the SecretRef (an empty one means none:
    /// trust or peer authentication, as in the lab). The error names the reference, never a
    /// value.
    pub fn from_endpoint(
        ep: &crate::inventory::Endpoint,
    ) -> Result<Side, crate::secret::SecretError> {
        let pw = ep.password.resolve()?;
        Ok(Side {
            host: ep.host.clone(),
            port: ep.port,
            user: ep.user.clone(),
            password: (!pw.is_empty()).then_some(pw),
            database: ep.database.clone(),
        })
    }

    pub fn with_database(&self, database: &str) -> Side {
        Side {
            database: database.into(),
            ..self.clone()
        }
    }

    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
