//! `wavedeck store grant-viewer ROLE`: a PostgreSQL role that can read every table the cockpit
//! reads and write none. The engine refuses a viewer's commands, but a command row is only as
//! honest as the session that wrote it: anyone holding a role that may INSERT into `commands`
//! can write one that claims to be an operator. A viewer's role without INSERT makes
//! PostgreSQL itself refuse it, whatever client the viewer runs.

use super::db::{table_names, Backend, Store};
use super::error::{Ctx, Result, StoreError};
use sqlx::Executor;

/// `"name"` with inner quotes doubled: a role name is an identifier, never spliced raw.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The statements, in order: take back whatever ROLE held on the store's tables (so a role
/// that once wrote becomes a viewer), then let it connect, see the schema and read each table.
pub fn statements(role: &str, database: &str, schema: &str) -> Vec<String> {
    let r = quote_ident(role);
    let s = quote_ident(schema);
    let tables: Vec<String> = table_names()
        .iter()
        .map(|t| format!("{s}.{}", quote_ident(t)))
        .collect();
    let list = tables.join(", ");
    vec![
        format!("REVOKE ALL ON {list} FROM {r}"),
        format!("GRANT CONNECT ON DATABASE {} TO {r}", quote_ident(database)),
        format!("GRANT USAGE ON SCHEMA {s} TO {r}"),
        format!("GRANT SELECT ON {list} TO {r}"),
    ]
}

/// What was done, for the command's output.
#[derive(Debug, PartialEq, Eq)]
pub struct Granted {
    pub role: String,
    pub database: String,
    pub schema: String,
    pub tables: usize,
}

/// Issue the GRANTs on the store's database, as the store URL's user (the owner of the tables).
pub async fn grant_viewer(store: &Store, role: &str) -> Result<Granted> {
    if store.backend() != Backend::Postgres {
        return Err(StoreError::Refused(format!(
            "store {} is a SQLite file: database roles do not apply; who may read or write it is \
             set by the file's permissions (give viewers a read-only copy or `wavedeck status`)",
            store.url()
        )));
    }
    if role.trim().is_empty() {
        return Err(StoreError::Refused(
            "give the name of an existing PostgreSQL role (CREATE ROLE name LOGIN first)".into(),
        ));
    }
    let mut tx = store.begin_write().await?;
    let exists: Option<(String, String)> = sqlx::query_as(
        "SELECT current_database()::text, current_schema()::text \
         FROM pg_roles WHERE rolname = $1",
    )
    .bind(role)
    .fetch_optional(&mut *tx)
    .await
    .ctx("look up the role")?;
    let Some((database, schema)) = exists else {
        return Err(StoreError::Refused(format!(
            "role {role:?} does not exist in {}: create it first (CREATE ROLE {} LOGIN PASSWORD '...'), \
             then run this again",
            store.url(),
            quote_ident(role)
        )));
    };
    for stmt in statements(role, &database, &schema) {
        tx.execute(stmt.as_str()).await.ctx("grant read access")?;
    }
    tx.commit().await.ctx("commit the grants")?;
    Ok(Granted {
        role: role.to_string(),
        database,
        schema,
        tables: table_names().len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("lead"), "\"lead\"");
        assert_eq!(
            quote_ident("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }

    #[test]
    fn every_table_is_revoked_then_granted_select_only() {
        let s = statements("lead", "wd", "public");
        assert_eq!(s.len(), 4);
        for t in table_names() {
            assert!(
                s[0].contains(&format!("\"public\".\"{t}\"")),
                "{t}: {}",
                s[0]
            );
            assert!(
                s[3].contains(&format!("\"public\".\"{t}\"")),
                "{t}: {}",
                s[3]
            );
        }
        assert!(s[0].starts_with("REVOKE ALL ON "));
        assert!(s[3].starts_with("GRANT SELECT ON ") && s[3].ends_with(" TO \"lead\""));
        assert!(s.iter().all(|x| !x.contains("INSERT")));
    }
}
