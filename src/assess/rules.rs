//! The risk rules of the assessment, per engine. Pure: the probe reads the catalogs, these
//! decide what is in DRS's way. Where DRS documents a limit, the rule names the page.
//!
//! The pre-checks' own rules (logical decoding, binary log, primary keys, storage engines) are
//! reused as they are: a failed pre-check is a blocker here, a warning stays a warning.

use super::{Finding, Severity};
use crate::checks::{CheckResult, Status};

/// A pre-check result as a finding (a pass is no finding).
pub fn from_check(c: &CheckResult) -> Option<Finding> {
    let severity = match c.status {
        Status::Pass => return None,
        Status::Warn => Severity::Warning,
        Status::Fail => Severity::Blocker,
    };
    Some(Finding {
        severity,
        rule: c.name.clone(),
        detail: c.evidence.clone(),
        fix: c.fix.clone(),
    })
}

/// A PostgreSQL column as the probe reads it. For a domain the type is its base type, for an
/// array its element type: what DRS has to carry.
#[derive(Clone, Debug, PartialEq)]
pub struct PgColumn {
    /// `schema.table.column`
    pub column: String,
    /// As declared (`format_type`), for people.
    pub declared: String,
    pub typname: String,
    /// `pg_type.typcategory`
    pub category: char,
    /// Schema of the type: `pg_catalog` for built-in types.
    pub type_schema: String,
}

/// Field types DRS synchronises from PostgreSQL to PostgreSQL. Source: Huawei Cloud DRS user
/// guide, "From PostgreSQL to PostgreSQL", supported synchronization objects
/// (https://support.huaweicloud.com/intl/en-us/realtimesyn-drs/drs_04_0508.html): "digit,
/// currency, character, binary, date/time, boolean, enumeration, geometry, network address,
/// bit, text search, UUID, XML, JSON, array, compound, and range". In `pg_type.typcategory`
/// terms that is N, S, D, T, B, E, G, I, V, R, C, A, plus these user-category (U) built-ins.
const PG_SUPPORTED_U: &[&str] = &[
    "bytea", "uuid", "xml", "json", "jsonb", "tsvector", "tsquery",
];

/// Why DRS cannot (or may not) carry this column; None when it is in DRS's list.
pub fn pg_column_risk(c: &PgColumn) -> Option<(Severity, String)> {
    let name = c.typname.as_str();
    if c.category == 'N' && (name == "oid" || name.starts_with("reg")) {
        return Some((
            Severity::Warning,
            "an object identifier: its values are OIDs of the source cluster and mean nothing on the target".into(),
        ));
    }
    match c.category {
        'N' | 'S' | 'D' | 'T' | 'B' | 'E' | 'G' | 'I' | 'V' | 'R' | 'C' | 'A' => None,
        'U' if PG_SUPPORTED_U.contains(&name) => None,
        'U' if c.type_schema != "pg_catalog" => Some((
            Severity::Warning,
            format!(
                "type {}.{name} comes from an extension or is user-defined: it is not in DRS's list of supported field types; the target needs the same type",
                c.type_schema
            ),
        )),
        _ => Some((
            Severity::Blocker,
            format!("type {name} is not in DRS's list of supported PostgreSQL field types"),
        )),
    }
}

/// The type findings of a PostgreSQL database: one finding per severity, listing the columns.
pub fn pg_type_findings(cols: &[PgColumn]) -> Vec<Finding> {
    let mut blockers = Vec::new();
    let mut warnings = Vec::new();
    for c in cols {
        if let Some((sev, why)) = pg_column_risk(c) {
            let line = format!("{} {} ({why})", c.column, c.declared);
            match sev {
                Severity::Blocker => blockers.push(line),
                Severity::Warning => warnings.push(line),
            }
        }
    }
    let mut out = Vec::new();
    if !blockers.is_empty() {
        out.push(Finding {
            severity: Severity::Blocker,
            rule: "type/unsupported".into(),
            detail: format!("{} column(s): {}", blockers.len(), blockers.join("; ")),
            fix: Some("change the column to a supported type (ALTER TABLE ... ALTER COLUMN ... TYPE ...), or leave the table out of the migration and move it by hand".into()),
        });
    }
    if !warnings.is_empty() {
        out.push(Finding {
            severity: Severity::Warning,
            rule: "type/risky".into(),
            detail: format!("{} column(s): {}", warnings.len(), warnings.join("; ")),
            fix: Some("create the extension/type on the target first and check a test migration carries the values".into()),
        });
    }
    out
}

/// Unlogged tables: their changes are not in the WAL, so CDC never sees them. Source: DRS check
/// item "Whether the Source Database Contains Unlogged Tables"
/// (https://support.huaweicloud.com/intl/en-us/trouble-drs/drs_11_0112.html).
pub fn pg_unlogged(tables: &[String]) -> Option<Finding> {
    let first = tables.first()?;
    Some(Finding {
        severity: Severity::Blocker,
        rule: "table/unlogged".into(),
        detail: format!(
            "{} unlogged table(s) (their changes never reach the target during CDC): {}",
            tables.len(),
            tables.join(", ")
        ),
        fix: Some(format!(
            "ALTER TABLE {} SET LOGGED; (repeat for each table listed)",
            crate::validate::catalog::quote_dotted(crate::inventory::Engine::Postgres, first)
        )),
    })
}

/// A MySQL / MariaDB column as the probe reads it from information_schema.columns.
#[derive(Clone, Debug, PartialEq)]
pub struct MyColumn {
    /// `table.column`
    pub column: String,
    /// DATA_TYPE, lower case.
    pub data_type: String,
    /// COLUMN_TYPE as declared.
    pub column_type: String,
    /// EXTRA (`INVISIBLE`, `auto_increment`, `VIRTUAL GENERATED`...).
    pub extra: String,
}

/// Types only MariaDB has (its data-type plugins); RDS for MySQL cannot create them. Source:
/// MariaDB knowledge base, "INET4", "INET6", "UUID Data Type" (MariaDB 10.5, 10.10, 10.7);
/// MySQL 8.0 reference manual, chapter 13 "Data Types" has none of them.
const MARIADB_ONLY: &[&str] = &["inet4", "inet6", "uuid", "vector"];

/// Types DRS's value comparison skips. Source: the DRS FAQ "Which of the following data types are
/// not supported by value comparison": "MySQL TINYBLOB…LONGBLOB and all TEXT types" are not
/// compared.
const MY_UNCOMPARED: &[&str] = &[
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
];

/// The column findings of a MySQL / MariaDB database: one finding per rule, listing the columns.
pub fn my_column_findings(cols: &[MyColumn]) -> Vec<Finding> {
    type Rule = (
        Severity,
        &'static str,
        fn(&MyColumn) -> bool,
        &'static str,
        &'static str,
    );
    let rules: [Rule; 3] = [
        (
            Severity::Blocker,
            "type/unsupported",
            |c| MARIADB_ONLY.contains(&c.data_type.as_str()),
            "column(s) of a MariaDB-only type that RDS for MySQL cannot create",
            "convert them first (INET6/INET4 -> VARBINARY(16)/INT UNSIGNED with INET6_ATON(), UUID -> CHAR(36) or BINARY(16)): ALTER TABLE ... MODIFY ...",
        ),
        // DRS: "Full and incremental migration do not support invisible columns" (MySQL 8.0.23+,
        // MariaDB 10.3+). Source: DRS user guide, MySQL migration, supported migration objects
        // (https://support.huaweicloud.com/realtimemig-drs/drs_04_0094.html).
        (
            Severity::Blocker,
            "column/invisible",
            |c| c.extra.to_ascii_uppercase().contains("INVISIBLE"),
            "invisible column(s), which DRS's full and incremental migration do not support",
            "make them visible: ALTER TABLE ... MODIFY <column> <type> VISIBLE; (MariaDB: redefine the column without INVISIBLE)",
        ),
        (
            Severity::Warning,
            "type/not_compared_by_drs",
            |c| MY_UNCOMPARED.contains(&c.data_type.as_str()),
            "TEXT/BLOB column(s) that DRS's value comparison skips",
            "rely on wavedeck validate's checksums for these columns (they are hashed), not on DRS's comparison report",
        ),
    ];
    rules
        .into_iter()
        .filter_map(|(severity, rule, applies, what, fix)| {
            let hit: Vec<String> = cols
                .iter()
                .filter(|c| applies(c))
                .map(|c| format!("{} {}", c.column, c.column_type))
                .collect();
            (!hit.is_empty()).then(|| Finding {
                severity,
                rule: rule.into(),
                detail: format!("{} {what}: {}", hit.len(), hit.join(", ")),
                fix: Some(fix.into()),
            })
        })
        .collect()
}

/// Functional (expression) indexes, which DRS does not migrate from MySQL 8.0. Source: DRS user
/// guide, MySQL migration, supported migration objects (drs_04_0094): "tables with function
/// indexes are not supported". `indexes` are `table.index` names.
pub fn my_functional_indexes(indexes: &[String]) -> Option<Finding> {
    if indexes.is_empty() {
        return None;
    }
    Some(Finding {
        severity: Severity::Blocker,
        rule: "index/functional".into(),
        detail: format!(
            "{} functional index(es) (DRS cannot migrate their tables): {}",
            indexes.len(),
            indexes.join(", ")
        ),
        fix: Some("drop them before the migration and create them again on the target after cutover (ALTER TABLE ... DROP INDEX ...)".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(typname: &str, category: char, schema: &str) -> PgColumn {
        PgColumn {
            column: "public.t.c".into(),
            declared: typname.into(),
            typname: typname.into(),
            category,
            type_schema: schema.into(),
        }
    }

    #[test]
    fn pg_types_in_drs_list_pass() {
        for (t, cat) in [
            ("int4", 'N'),
            ("numeric", 'N'),
            ("money", 'N'),
            ("text", 'S'),
            ("timestamptz", 'D'),
            ("interval", 'T'),
            ("bool", 'B'),
            ("inet", 'I'),
            ("point", 'G'),
            ("varbit", 'V'),
            ("int4range", 'R'),
            ("bytea", 'U'),
            ("jsonb", 'U'),
            ("uuid", 'U'),
            ("tsvector", 'U'),
            ("xml", 'U'),
        ] {
            assert_eq!(pg_column_risk(&pg(t, cat, "pg_catalog")), None, "{t}");
        }
    }

    #[test]
    fn pg_types_outside_drs_list_block_or_warn() {
        let (sev, why) = pg_column_risk(&pg("pg_lsn", 'U', "pg_catalog")).unwrap();
        assert_eq!(sev, Severity::Blocker);
        assert!(why.contains("pg_lsn"), "{why}");
        assert_eq!(
            pg_column_risk(&pg("txid_snapshot", 'U', "pg_catalog"))
                .unwrap()
                .0,
            Severity::Blocker
        );
        assert_eq!(
            pg_column_risk(&pg("geometry", 'U', "public")).unwrap().0,
            Severity::Warning
        );
        assert_eq!(
            pg_column_risk(&pg("regclass", 'N', "pg_catalog"))
                .unwrap()
                .0,
            Severity::Warning
        );
        assert_eq!(
            pg_column_risk(&pg("anyelement", 'P', "pg_catalog"))
                .unwrap()
                .0,
            Severity::Blocker
        );
    }

    #[test]
    fn pg_findings_group_columns_by_severity() {
        let mut a = pg("pg_lsn", 'U', "pg_catalog");
        a.column = "public.t.lsn".into();
        let mut b = pg("hstore", 'U', "public");
        b.column = "public.t.h".into();
        let f = pg_type_findings(&[a, b, pg("int4", 'N', "pg_catalog")]);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].severity, Severity::Blocker);
        assert!(f[0].detail.starts_with("1 column(s): public.t.lsn pg_lsn"));
        assert_eq!(f[1].severity, Severity::Warning);
        assert!(f[1].detail.contains("public.t.h"));
        assert!(pg_type_findings(&[pg("int4", 'N', "pg_catalog")]).is_empty());
    }

    #[test]
    fn unlogged_tables_block_with_the_statement() {
        assert!(pg_unlogged(&[]).is_none());
        let f = pg_unlogged(&["public.cache".into()]).unwrap();
        assert_eq!(f.severity, Severity::Blocker);
        assert_eq!(
            f.fix.as_deref(),
            Some("ALTER TABLE \"public\".\"cache\" SET LOGGED; (repeat for each table listed)")
        );
    }

    fn my(col: &str, data_type: &str, extra: &str) -> MyColumn {
        MyColumn {
            column: col.into(),
            data_type: data_type.into(),
            column_type: data_type.into(),
            extra: extra.into(),
        }
    }

    #[test]
    fn mysql_columns() {
        let f = my_column_findings(&[
            my("t.id", "int", "auto_increment"),
            my("t.addr", "inet6", ""),
            my("t.secret", "int", "INVISIBLE"),
            my("t.note", "text", ""),
        ]);
        let rules: Vec<(&str, Severity)> =
            f.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
        assert_eq!(
            rules,
            vec![
                ("type/unsupported", Severity::Blocker),
                ("column/invisible", Severity::Blocker),
                ("type/not_compared_by_drs", Severity::Warning)
            ]
        );
        assert!(f[0].detail.contains("t.addr inet6"));
        assert!(f[1].detail.contains("t.secret"));
        assert!(my_column_findings(&[my("t.id", "bigint", "")]).is_empty());
    }

    #[test]
    fn functional_indexes_block() {
        assert!(my_functional_indexes(&[]).is_none());
        let f = my_functional_indexes(&["t.by_lower".into()]).unwrap();
        assert_eq!(f.severity, Severity::Blocker);
        assert!(f.detail.contains("t.by_lower"));
    }

    #[test]
    fn checks_map_to_findings() {
        assert!(from_check(&CheckResult::pass("a", "ok")).is_none());
        let f = from_check(&CheckResult::fail("source/wal_level", "replica", "set it")).unwrap();
        assert_eq!(
            (f.severity, f.rule.as_str(), f.fix.as_deref()),
            (Severity::Blocker, "source/wal_level", Some("set it"))
        );
        let w = from_check(&CheckResult::warn("source/gtid", "off", "on")).unwrap();
        assert_eq!(w.severity, Severity::Warning);
    }
}
