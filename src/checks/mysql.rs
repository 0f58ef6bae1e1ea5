//! MySQL / MariaDB pre-checks: binary log settings, GTID, the migration user's grants,
//! storage engines and character sets.

use super::result::CheckResult;
use crate::inventory::Endpoint;
use crate::validate::catalog::{my_str, Catalog};
use sqlx::MySqlPool;

/// A global variable as text; None when the server has no such variable (e.g. gtid_mode on MariaDB).
async fn var(p: &MySqlPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    let rows = sqlx::query("SHOW GLOBAL VARIABLES WHERE Variable_name = ?")
        .bind(name)
        .fetch_all(p)
        .await?;
    rows.first().map(|r| my_str(r, 1)).transpose()
}

async fn version(p: &MySqlPool) -> Result<String, sqlx::Error> {
    Ok(var(p, "version").await?.unwrap_or_default())
}

pub async fn binlog(p: &MySqlPool) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let read = async {
        Ok::<_, sqlx::Error>((
            var(p, "log_bin").await?,
            var(p, "binlog_format").await?,
            var(p, "binlog_row_image").await?,
            var(p, "server_id").await?,
            version(p).await?,
        ))
    };
    let (log_bin, format, image, server_id, ver) = match read.await {
        Ok(v) => v,
        Err(e) => {
            return vec![CheckResult::fail(
                "source/binlog",
                format!("cannot read server variables: {e}"),
                "let the user run SHOW GLOBAL VARIABLES",
            )]
        }
    };
    let mariadb = ver.to_ascii_lowercase().contains("mariadb");
    let restart = "add it under [mysqld] in my.cnf and restart (on a managed service: set it in the parameter group)";
    let log_bin = log_bin.unwrap_or_default();
    out.push(if log_bin.eq_ignore_ascii_case("ON") || log_bin == "1" {
        CheckResult::pass("source/log_bin", "log_bin = ON")
    } else {
        CheckResult::fail(
            "source/log_bin",
            format!("log_bin = {log_bin}; DRS reads changes from the binary log"),
            format!("log_bin = mysql-bin (and binlog_format = ROW, binlog_row_image = FULL, server_id = <unique>): {restart}"),
        )
    });
    let format = format.unwrap_or_default();
    out.push(if format.eq_ignore_ascii_case("ROW") {
        CheckResult::pass("source/binlog_format", "binlog_format = ROW")
    } else {
        CheckResult::fail(
            "source/binlog_format",
            format!("binlog_format = {format}; DRS needs ROW"),
            format!("SET GLOBAL binlog_format = 'ROW'; (new sessions only; to persist, binlog_format = ROW: {restart})"),
        )
    });
    let image = image.unwrap_or_default();
    out.push(if image.eq_ignore_ascii_case("FULL") {
        CheckResult::pass("source/binlog_row_image", "binlog_row_image = FULL")
    } else {
        CheckResult::fail(
            "source/binlog_row_image",
            format!("binlog_row_image = {image}; DRS needs FULL"),
            format!("SET GLOBAL binlog_row_image = 'FULL'; (to persist, binlog_row_image = FULL: {restart})"),
        )
    });
    let server_id = server_id.unwrap_or_default();
    out.push(if server_id.parse::<u64>().unwrap_or(0) > 0 {
        CheckResult::pass("source/server_id", format!("server_id = {server_id}"))
    } else {
        CheckResult::fail(
            "source/server_id",
            format!("server_id = {server_id}; a binlog reader needs a non-zero server_id"),
            format!("SET GLOBAL server_id = <unique non-zero number>; (to persist: server_id = N, {restart})"),
        )
    });
    // MariaDB always has GTIDs (domain-server-sequence); MySQL needs gtid_mode = ON.
    if mariadb {
        let pos = var(p, "gtid_binlog_pos")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let domain = var(p, "gtid_domain_id")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        out.push(CheckResult::pass(
            "source/gtid",
            format!("MariaDB GTID: gtid_domain_id = {domain}, gtid_binlog_pos = '{pos}'"),
        ));
    } else {
        let mode = var(p, "gtid_mode").await.ok().flatten().unwrap_or_default();
        out.push(if mode.eq_ignore_ascii_case("ON") {
            CheckResult::pass("source/gtid", "gtid_mode = ON")
        } else {
            CheckResult::warn(
                "source/gtid",
                format!("gtid_mode = {mode}; DRS resumes more safely with GTIDs"),
                "SET GLOBAL enforce_gtid_consistency = ON; SET GLOBAL gtid_mode = OFF_PERMISSIVE; SET GLOBAL gtid_mode = ON_PERMISSIVE; SET GLOBAL gtid_mode = ON;",
            )
        });
    }
    out
}

/// Privileges a `SHOW GRANTS` output gives, per scope (`*.*` or a database).
#[derive(Debug, Default, PartialEq)]
pub struct Grants {
    pub global: Vec<String>,
    pub on_db: Vec<String>,
}

/// Parse `GRANT a, b ON x.* TO ...` lines; `db` is the database whose grants count.
pub fn parse_grants(lines: &[String], db: &str) -> Grants {
    let mut g = Grants::default();
    for l in lines {
        let Some(rest) = l.strip_prefix("GRANT ") else {
            continue;
        };
        let Some((privs, after)) = rest.split_once(" ON ") else {
            continue;
        };
        let scope = after
            .split(" TO ")
            .next()
            .unwrap_or("")
            .trim()
            .replace('`', "");
        let privs: Vec<String> = privs
            .split(',')
            .map(|p| p.trim().to_ascii_uppercase())
            .collect();
        if scope == "*.*" {
            g.global.extend(privs);
        } else if scope == format!("{db}.*") {
            g.on_db.extend(privs);
        }
    }
    g
}

impl Grants {
    fn has_global(&self, p: &str) -> bool {
        self.global
            .iter()
            .any(|x| x == p || x == "ALL PRIVILEGES" || x == "ALL")
    }
    pub fn replication_slave(&self) -> bool {
        self.has_global("REPLICATION SLAVE") || self.has_global("REPLICATION REPLICA")
    }
    /// MariaDB 10.5+ shows REPLICATION CLIENT as BINLOG MONITOR.
    pub fn replication_client(&self) -> bool {
        self.has_global("REPLICATION CLIENT") || self.has_global("BINLOG MONITOR")
    }
    pub fn select(&self) -> bool {
        self.has_global("SELECT")
            || self
                .on_db
                .iter()
                .any(|x| x == "SELECT" || x == "ALL PRIVILEGES" || x == "ALL")
    }
}

pub async fn privileges(p: &MySqlPool, ep: &Endpoint) -> Vec<CheckResult> {
    let lines = match sqlx::query("SHOW GRANTS").fetch_all(p).await {
        Ok(rows) => rows
            .iter()
            .filter_map(|r| my_str(r, 0).ok())
            .collect::<Vec<_>>(),
        Err(e) => {
            return vec![CheckResult::fail(
                "source/privileges",
                format!("cannot read the user's grants: {e}"),
                "let the user run SHOW GRANTS",
            )]
        }
    };
    let account = match sqlx::query("SELECT CAST(CURRENT_USER() AS CHAR)")
        .fetch_one(p)
        .await
    {
        Ok(r) => my_str(&r, 0).unwrap_or_default(),
        Err(_) => format!("{}@%", ep.user),
    };
    let (u, h) = account.rsplit_once('@').unwrap_or((&account, "%"));
    let to = format!("'{}'@'{}'", u.replace('\'', "''"), h.replace('\'', "''"));
    let g = parse_grants(&lines, &ep.database);
    let mut out = Vec::new();
    let mut missing = Vec::new();
    if !g.replication_slave() {
        missing.push("REPLICATION SLAVE");
    }
    if !g.replication_client() {
        missing.push("REPLICATION CLIENT");
    }
    // Grant lines can carry a password hash (IDENTIFIED BY PASSWORD '*...'): keep it out.
    let shown: Vec<&str> = lines
        .iter()
        .map(|l| l.split(" IDENTIFIED ").next().unwrap_or(l))
        .collect();
    let evidence = format!("{account}: {}", shown.join("; "));
    out.push(if missing.is_empty() {
        CheckResult::pass("source/replication_privilege", evidence.clone())
    } else {
        CheckResult::fail(
            "source/replication_privilege",
            format!("missing {}: {evidence}", missing.join(", ")),
            format!("GRANT {} ON *.* TO {to};", missing.join(", ")),
        )
    });
    out.push(if g.select() {
        CheckResult::pass(
            "source/select_privilege",
            format!("SELECT on {}.*", ep.database),
        )
    } else {
        CheckResult::fail(
            "source/select_privilege",
            format!("no SELECT on {}.*: {evidence}", ep.database),
            format!(
                "GRANT SELECT ON `{}`.* TO {to};",
                ep.database.replace('`', "``")
            ),
        )
    });
    out
}

pub fn storage_engines(c: &Catalog) -> CheckResult {
    let bad: Vec<String> = c
        .tables
        .iter()
        .filter(|t| {
            !t.engine
                .as_deref()
                .unwrap_or("InnoDB")
                .eq_ignore_ascii_case("InnoDB")
        })
        .map(|t| format!("{} ({})", t.name, t.engine.clone().unwrap_or_default()))
        .collect();
    if bad.is_empty() {
        return CheckResult::pass(
            "source/storage_engines",
            format!("all {} tables use InnoDB", c.tables.len()),
        );
    }
    let first = bad[0]
        .split(' ')
        .next()
        .unwrap_or_default()
        .replace('`', "``");
    CheckResult::fail(
        "source/storage_engines",
        format!("{} tables are not InnoDB (no transactional snapshot, DRS cannot migrate them consistently): {}", bad.len(), bad.join(", ")),
        format!("ALTER TABLE `{first}` ENGINE=InnoDB; (repeat for each table listed)"),
    )
}

pub async fn charsets(
    src: &MySqlPool,
    src_db: &str,
    tgt: &MySqlPool,
    tgt_db: &str,
) -> Vec<CheckResult> {
    let q = "SELECT CAST(default_character_set_name AS CHAR), CAST(default_collation_name AS CHAR) FROM information_schema.schemata WHERE schema_name = ?";
    let tq = "SELECT DISTINCT CAST(table_collation AS CHAR) FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' AND table_collation IS NOT NULL ORDER BY 1";
    let read = |p: &MySqlPool, db: &str| {
        let (p, db) = (p.clone(), db.to_string());
        async move {
            let r = sqlx::query(q).bind(&db).fetch_one(&p).await?;
            let cols = sqlx::query(tq).bind(&db).fetch_all(&p).await?;
            let tables: Vec<String> = cols.iter().filter_map(|r| my_str(r, 0).ok()).collect();
            Ok::<_, sqlx::Error>((my_str(&r, 0)?, my_str(&r, 1)?, tables))
        }
    };
    match futures::join!(read(src, src_db), read(tgt, tgt_db)) {
        (Ok(s), Ok(t)) => {
            let ev = format!(
                "source {} / {} (tables: {}); target {} / {} (tables: {})",
                s.0,
                s.1,
                s.2.join(", "),
                t.0,
                t.1,
                t.2.join(", ")
            );
            let unsupported: Vec<&String> =
                s.2.iter()
                    .filter(|c| c.starts_with("utf8mb4_0900") && t.0 != "utf8mb4")
                    .collect();
            vec![if s.0 != t.0 || !unsupported.is_empty() {
                CheckResult::warn(
                    "target/charset",
                    ev,
                    format!(
                        "ALTER DATABASE `{}` CHARACTER SET {} COLLATE {};",
                        tgt_db.replace('`', "``"),
                        s.0,
                        s.1
                    ),
                )
            } else if s.1 != t.1 {
                CheckResult::warn(
                    "target/charset",
                    ev,
                    format!("ALTER DATABASE `{}` COLLATE {}; (unique keys on text depend on the collation)", tgt_db.replace('`', "``"), s.1),
                )
            } else {
                CheckResult::pass("target/charset", ev)
            }]
        }
        (a, b) => vec![CheckResult::warn(
            "target/charset",
            format!(
                "cannot read character sets: {:?} {:?}",
                a.err().map(|e| e.to_string()),
                b.err().map(|e| e.to_string())
            ),
            "let the users read information_schema",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_parsed_per_scope() {
        let lines = vec![
            "GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*ABC'".to_string(),
            "GRANT SELECT, INSERT ON `app`.* TO `u`@`%`".to_string(),
        ];
        let g = parse_grants(&lines, "app");
        assert!(g.replication_slave() && g.replication_client() && g.select());
        let g = parse_grants(&lines, "other");
        assert!(!g.select());
        let g = parse_grants(&["GRANT USAGE ON *.* TO `u`@`%`".to_string()], "app");
        assert!(!g.replication_slave() && !g.replication_client() && !g.select());
        let g = parse_grants(
            &["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION".to_string()],
            "app",
        );
        assert!(g.replication_slave() && g.select());
    }
}
