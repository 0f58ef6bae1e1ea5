//! What each side holds: tables with columns, keys and indexes, plus views, sequences,
//! functions, procedures and triggers; and the pure comparison of two such inventories.

use super::connect::Pool;
use super::decode::{MyKind, PgKind};
use crate::inventory::Engine;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The declared type as the engine prints it (`numeric(12,2)`, `varchar(20)`).
    pub data_type: String,
    /// Engine type name used to pick the decoder (`int4`, `decimal`...).
    pub type_key: String,
    /// For MySQL: the full COLUMN_TYPE (`int(10) unsigned`).
    pub column_type: String,
    pub nullable: bool,
    /// MySQL: the column's character set (None for non-text columns and on PostgreSQL, where
    /// the encoding belongs to the database).
    #[serde(default)]
    pub charset: Option<String>,
    /// The column's collation (PostgreSQL: `default` means the database's; None for types
    /// without one).
    #[serde(default)]
    pub collation: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// PostgreSQL schema; empty for MySQL (the database is the schema).
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub indexes: Vec<Index>,
    /// MySQL storage engine.
    pub engine: Option<String>,
    /// MySQL: the table's default collation (PostgreSQL tables have none).
    #[serde(default)]
    pub collation: Option<String>,
}

impl Table {
    /// `schema.table` for PostgreSQL, `table` for MySQL.
    pub fn display(&self) -> String {
        if self.schema.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.schema, self.name)
        }
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The database's default character set (PostgreSQL: its encoding).
    #[serde(default)]
    pub charset: Option<String>,
    /// The database's default collation (PostgreSQL: datcollate; MySQL: the schema default).
    #[serde(default)]
    pub collation: Option<String>,
    pub tables: Vec<Table>,
    pub views: Vec<String>,
    pub sequences: Vec<String>,
    pub functions: Vec<String>,
    pub procedures: Vec<String>,
    pub triggers: Vec<String>,
}

impl Catalog {
    pub fn table(&self, display: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.display() == display)
    }
    /// "12 tables, 3 views, 0 sequences, 4 functions, 0 procedures, 1 triggers"
    pub fn inventory_line(&self) -> String {
        format!(
            "{} tables, {} views, {} sequences, {} functions, {} procedures, {} triggers",
            self.tables.len(),
            self.views.len(),
            self.sequences.len(),
            self.functions.len(),
            self.procedures.len(),
            self.triggers.len()
        )
    }
}

pub fn quote_ident(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

pub fn quote_table(engine: Engine, t: &Table) -> String {
    if t.schema.is_empty() {
        quote_ident(engine, &t.name)
    } else {
        format!(
            "{}.{}",
            quote_ident(engine, &t.schema),
            quote_ident(engine, &t.name)
        )
    }
}

/// Quote `schema.table` / `table` as given in runbook rules.
pub fn quote_dotted(engine: Engine, name: &str) -> String {
    name.split('.')
        .map(|p| quote_ident(engine, p))
        .collect::<Vec<_>>()
        .join(".")
}

/// Schemas of user objects, as a PostgreSQL WHERE clause over `pg_namespace n`.
pub(crate) const PG_SYSTEM: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

/// Read the catalog of the database the pool points at (MySQL: `database`).
pub async fn load(
    pool: &Pool,
    database: &str,
    exclude_schemas: &[String],
) -> Result<Catalog, sqlx::Error> {
    match pool {
        Pool::Pg(p) => load_pg(p, exclude_schemas).await,
        Pool::My(p) => load_my(p, database).await,
    }
}

async fn load_pg(p: &sqlx::PgPool, exclude: &[String]) -> Result<Catalog, sqlx::Error> {
    let excluded = |s: &str| exclude.iter().any(|e| e == s);
    let cols = sqlx::query(&format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                t.typname::text, NOT a.attnotnull, co.collname::text \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped AND {PG_SYSTEM} \
         ORDER BY 1, 2, a.attnum"
    ))
    .fetch_all(p)
    .await?;
    let mut tables: BTreeMap<(String, String), Table> = BTreeMap::new();
    for r in cols {
        let schema: String = r.try_get(0)?;
        if excluded(&schema) {
            continue;
        }
        let name: String = r.try_get(1)?;
        let t = tables
            .entry((schema.clone(), name.clone()))
            .or_insert_with(|| Table {
                schema,
                name,
                columns: vec![],
                primary_key: vec![],
                indexes: vec![],
                engine: None,
                collation: None,
            });
        let typname: String = r.try_get(4)?;
        t.columns.push(Column {
            name: r.try_get(2)?,
            data_type: r.try_get(3)?,
            column_type: typname.clone(),
            type_key: typname,
            nullable: r.try_get(5)?,
            charset: None,
            collation: r.try_get(6)?,
        });
    }
    let idx = sqlx::query(&format!(
        "SELECT n.nspname::text, c.relname::text, i.relname::text, x.indisprimary, x.indisunique, \
                ARRAY(SELECT COALESCE(a.attname::text, '(expression)') FROM unnest(x.indkey) WITH ORDINALITY k(attnum, ord) \
                      LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.ord) \
         FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {PG_SYSTEM} ORDER BY 1, 2, 3"
    ))
    .fetch_all(p)
    .await?;
    for r in idx {
        let key = (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?);
        if let Some(t) = tables.get_mut(&key) {
            let columns: Vec<String> = r.try_get(5)?;
            let primary: bool = r.try_get(3)?;
            if primary {
                t.primary_key = columns.clone();
            }
            t.indexes.push(Index {
                name: r.try_get(2)?,
                columns,
                unique: r.try_get(4)?,
            });
        }
    }
    let names = |sql: String| async move {
        let rows = sqlx::query(&sql).fetch_all(p).await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()
    };
    let keep = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|n| !excluded(n.split('.').next().unwrap_or_default()))
            .collect()
    };
    let db = sqlx::query(
        "SELECT pg_encoding_to_char(encoding)::text, datcollate::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(p)
    .await?;
    Ok(Catalog {
        charset: db.try_get(0)?,
        collation: db.try_get(1)?,
        tables: tables.into_values().collect(),
        views: keep(names(format!("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {PG_SYSTEM} ORDER BY 1")).await?),
        sequences: keep(names(format!("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {PG_SYSTEM} ORDER BY 1")).await?),
        functions: keep(names(format!("SELECT n.nspname || '.' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'a', 'w') AND {PG_SYSTEM} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') ORDER BY 1")).await?),
        procedures: keep(names(format!("SELECT n.nspname || '.' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind = 'p' AND {PG_SYSTEM} ORDER BY 1")).await?),
        triggers: keep(names(format!("SELECT n.nspname || '.' || c.relname || '.' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND {PG_SYSTEM} ORDER BY 1")).await?),
    })
}

/// information_schema columns come back as VARBINARY on some MySQL versions; read bytes.
pub(crate) fn my_str(r: &sqlx::mysql::MySqlRow, i: usize) -> Result<String, sqlx::Error> {
    let v: Option<&[u8]> = r.try_get_unchecked(i)?;
    Ok(v.map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default())
}

pub(crate) fn my_opt_str(
    r: &sqlx::mysql::MySqlRow,
    i: usize,
) -> Result<Option<String>, sqlx::Error> {
    let v: Option<&[u8]> = r.try_get_unchecked(i)?;
    Ok(v.map(|b| String::from_utf8_lossy(b).into_owned()))
}

async fn load_my(p: &sqlx::MySqlPool, db: &str) -> Result<Catalog, sqlx::Error> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT CAST(table_name AS CHAR), CAST(IFNULL(engine, '') AS CHAR), CAST(table_collation AS CHAR) FROM information_schema.tables \
         WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .bind(db)
    .fetch_all(p)
    .await?;
    for r in &rows {
        let name = my_str(r, 0)?;
        tables.insert(
            name.clone(),
            Table {
                schema: String::new(),
                name,
                columns: vec![],
                primary_key: vec![],
                indexes: vec![],
                engine: Some(my_str(r, 1)?),
                collation: my_opt_str(r, 2)?,
            },
        );
    }
    let rows = sqlx::query(
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(data_type AS CHAR), \
                CAST(column_type AS CHAR), CAST(is_nullable AS CHAR), \
                CAST(character_set_name AS CHAR), CAST(collation_name AS CHAR) \
         FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, ordinal_position",
    )
    .bind(db)
    .fetch_all(p)
    .await?;
    for r in &rows {
        if let Some(t) = tables.get_mut(&my_str(r, 0)?) {
            let column_type = my_str(r, 3)?;
            t.columns.push(Column {
                name: my_str(r, 1)?,
                data_type: normalize_my_type(&column_type),
                type_key: my_str(r, 2)?.to_ascii_lowercase(),
                column_type,
                nullable: my_str(r, 4)? == "YES",
                charset: my_opt_str(r, 5)?,
                collation: my_opt_str(r, 6)?,
            });
        }
    }
    let rows = sqlx::query(
        "SELECT CAST(table_name AS CHAR), CAST(index_name AS CHAR), CAST(non_unique AS SIGNED), CAST(IFNULL(column_name, '(expression)') AS CHAR) \
         FROM information_schema.statistics WHERE table_schema = ? ORDER BY table_name, index_name, seq_in_index",
    )
    .bind(db)
    .fetch_all(p)
    .await?;
    for r in &rows {
        if let Some(t) = tables.get_mut(&my_str(r, 0)?) {
            let name = my_str(r, 1)?;
            let non_unique: i64 = r.try_get_unchecked(2)?;
            let col = my_str(r, 3)?;
            match t.indexes.iter_mut().find(|i| i.name == name) {
                Some(i) => i.columns.push(col),
                None => t.indexes.push(Index {
                    name,
                    columns: vec![col],
                    unique: non_unique == 0,
                }),
            }
        }
    }
    for t in tables.values_mut() {
        if let Some(pk) = t.indexes.iter().find(|i| i.name == "PRIMARY") {
            t.primary_key = pk.columns.clone();
        }
    }
    let names = |sql: &'static str| async move {
        let rows = sqlx::query(sql).bind(db).fetch_all(p).await?;
        rows.iter()
            .map(|r| my_str(r, 0))
            .collect::<Result<Vec<_>, _>>()
    };
    let db_row = sqlx::query(
        "SELECT CAST(default_character_set_name AS CHAR), CAST(default_collation_name AS CHAR) \
         FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(db)
    .fetch_optional(p)
    .await?;
    let (charset, collation) = match &db_row {
        Some(r) => (my_opt_str(r, 0)?, my_opt_str(r, 1)?),
        None => (None, None),
    };
    Ok(Catalog {
        charset,
        collation,
        tables: tables.into_values().collect(),
        views: names("SELECT CAST(table_name AS CHAR) FROM information_schema.views WHERE table_schema = ? ORDER BY 1").await?,
        sequences: names("SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ? AND table_type = 'SEQUENCE' ORDER BY 1").await?,
        functions: names("SELECT CAST(routine_name AS CHAR) FROM information_schema.routines WHERE routine_schema = ? AND routine_type = 'FUNCTION' ORDER BY 1").await?,
        procedures: names("SELECT CAST(routine_name AS CHAR) FROM information_schema.routines WHERE routine_schema = ? AND routine_type = 'PROCEDURE' ORDER BY 1").await?,
        triggers: names("SELECT CAST(trigger_name AS CHAR) FROM information_schema.triggers WHERE trigger_schema = ? ORDER BY 1").await?,
    })
}

/// Integer display widths (`int(11)`) differ between MySQL 5.7, 8.0 and MariaDB without
/// meaning anything; drop them so equal schemas compare equal.
pub fn normalize_my_type(column_type: &str) -> String {
    let t = column_type.to_ascii_lowercase();
    for int in ["tinyint", "smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = t.strip_prefix(int) {
            if let Some(after) = rest.strip_prefix('(') {
                if let Some((width, tail)) = after.split_once(')') {
                    // tinyint(1) is MySQL's boolean: keep it.
                    if width.bytes().all(|b| b.is_ascii_digit())
                        && !(int == "tinyint" && width == "1")
                    {
                        return format!("{int}{tail}");
                    }
                }
            }
            return t;
        }
    }
    t
}

/// A coarse family so a PostgreSQL type and a MySQL type can be compared across engines.
pub fn type_family(engine: Engine, c: &Column) -> &'static str {
    match engine {
        Engine::Postgres => match PgKind::from_typname(&c.type_key) {
            PgKind::Int2 | PgKind::Int4 | PgKind::Int8 => "integer",
            PgKind::Bool => "boolean",
            PgKind::Numeric => "decimal",
            PgKind::Float4 | PgKind::Float8 => "float",
            PgKind::Text | PgKind::Bpchar | PgKind::Uuid => "text",
            PgKind::Bytea => "binary",
            PgKind::Timestamp | PgKind::Timestamptz => "timestamp",
            PgKind::Date => "date",
            PgKind::Time => "time",
            PgKind::Json | PgKind::Jsonb => "json",
            PgKind::AsText => "other",
        },
        Engine::Mysql => {
            if c.column_type.to_ascii_lowercase().starts_with("tinyint(1)") {
                return "boolean";
            }
            match MyKind::from_types(&c.type_key, &c.column_type) {
                MyKind::Int | MyKind::UInt => "integer",
                MyKind::Decimal => "decimal",
                MyKind::Float | MyKind::Double => "float",
                MyKind::Text => "text",
                MyKind::Bytes => "binary",
                MyKind::DateTime => "timestamp",
                MyKind::Date => "date",
                MyKind::Time => "time",
                MyKind::Json => "json",
                MyKind::CastUnsigned => "integer",
                MyKind::AsText => "other",
            }
        }
    }
}

fn show_opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

/// "character set utf8mb3 (collation utf8mb3_general_ci) on source, ..." or None when equal.
fn collation_difference(s: &Column, t: &Column) -> Option<String> {
    if s.charset != t.charset {
        return Some(format!(
            "character set {} (collation {}) on source, {} (collation {}) on target",
            show_opt(&s.charset),
            show_opt(&s.collation),
            show_opt(&t.charset),
            show_opt(&t.collation)
        ));
    }
    (s.collation != t.collation).then(|| {
        format!(
            "collation {} on source, {} on target",
            show_opt(&s.collation),
            show_opt(&t.collation)
        )
    })
}

/// One way the target's schema differs from the source's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDifference {
    /// `database`, `table`, `column`, `primary_key`, `index`, `view`, `sequence`, `function`,
    /// `procedure`, `trigger`.
    pub object_kind: String,
    /// The object, e.g. `public.orders.amount` or `public.orders (index orders_customer_idx)`.
    pub object: String,
    pub detail: String,
    /// The table the object belongs to (`public.orders`), None for database-wide objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
}

fn diff(kind: &str, object: impl Into<String>, detail: impl Into<String>) -> SchemaDifference {
    SchemaDifference {
        object_kind: kind.into(),
        object: object.into(),
        detail: detail.into(),
        table: None,
    }
}

/// Everything on the source must exist on the target with the same columns, types, keys and
/// indexes. Extra tables on the target are reported too (they usually mean a wrong mapping).
pub fn compare(
    src_engine: Engine,
    src: &Catalog,
    tgt_engine: Engine,
    tgt: &Catalog,
    exclude_tables: &[String],
) -> Vec<SchemaDifference> {
    let mut out = Vec::new();
    let same_engine = src_engine == tgt_engine;
    if same_engine {
        if src.charset != tgt.charset {
            out.push(diff(
                "database",
                "character set",
                format!(
                    "{} on source, {} on target",
                    show_opt(&src.charset),
                    show_opt(&tgt.charset)
                ),
            ));
        }
        if src.collation != tgt.collation {
            out.push(diff(
                "database",
                "collation",
                format!(
                    "{} on source, {} on target",
                    show_opt(&src.collation),
                    show_opt(&tgt.collation)
                ),
            ));
        }
    }
    let skip = |t: &Table| exclude_tables.iter().any(|e| *e == t.display());
    for s in src.tables.iter().filter(|t| !skip(t)) {
        let name = s.display();
        let first = out.len();
        let Some(t) = tgt.table(&name) else {
            out.push(SchemaDifference {
                table: Some(name.clone()),
                ..diff("table", &name, "missing on target")
            });
            continue;
        };
        for sc in &s.columns {
            let obj = format!("{name}.{}", sc.name);
            let Some(tc) = t.column(&sc.name) else {
                out.push(diff("column", obj, "missing on target"));
                continue;
            };
            let types_differ = if same_engine {
                sc.data_type != tc.data_type
            } else {
                type_family(src_engine, sc) != type_family(tgt_engine, tc)
            };
            if types_differ {
                out.push(diff(
                    "column",
                    &obj,
                    format!(
                        "type {} on source, {} on target",
                        sc.data_type, tc.data_type
                    ),
                ));
            }
            // Collation names mean nothing across engines; within one, a different collation
            // changes ordering, unique keys and comparisons even when every value is equal.
            if same_engine && !types_differ {
                if let Some(d) = collation_difference(sc, tc) {
                    out.push(diff("column", &obj, d));
                }
            }
            if sc.nullable != tc.nullable {
                let n = |b: bool| if b { "NULL" } else { "NOT NULL" };
                out.push(diff(
                    "column",
                    &obj,
                    format!("{} on source, {} on target", n(sc.nullable), n(tc.nullable)),
                ));
            }
        }
        for tc in &t.columns {
            if s.column(&tc.name).is_none() {
                out.push(diff(
                    "column",
                    format!("{name}.{}", tc.name),
                    "extra on target",
                ));
            }
        }
        if same_engine && s.collation != t.collation {
            out.push(diff(
                "table",
                &name,
                format!(
                    "default collation {} on source, {} on target",
                    show_opt(&s.collation),
                    show_opt(&t.collation)
                ),
            ));
        }
        if s.primary_key != t.primary_key {
            let show = |k: &Vec<String>| {
                if k.is_empty() {
                    "none".to_string()
                } else {
                    format!("({})", k.join(", "))
                }
            };
            out.push(diff(
                "primary_key",
                &name,
                format!(
                    "{} on source, {} on target",
                    show(&s.primary_key),
                    show(&t.primary_key)
                ),
            ));
        }
        // Indexes are matched by columns and uniqueness: names may differ legitimately
        // (MySQL names every PK `PRIMARY`), what matters is that the access path exists.
        let sig = |i: &Index| (i.columns.clone(), i.unique);
        let tgt_sigs: BTreeSet<_> = t.indexes.iter().map(sig).collect();
        let src_sigs: BTreeSet<_> = s.indexes.iter().map(sig).collect();
        for i in &s.indexes {
            if !tgt_sigs.contains(&sig(i)) {
                out.push(diff(
                    "index",
                    format!("{name} (index {})", i.name),
                    format!(
                        "{}index on ({}) missing on target",
                        if i.unique { "unique " } else { "" },
                        i.columns.join(", ")
                    ),
                ));
            }
        }
        for i in &t.indexes {
            if !src_sigs.contains(&sig(i)) {
                out.push(diff(
                    "index",
                    format!("{name} (index {})", i.name),
                    format!("index on ({}) extra on target", i.columns.join(", ")),
                ));
            }
        }
        for d in &mut out[first..] {
            d.table = Some(name.clone());
        }
    }
    for t in tgt.tables.iter().filter(|t| !skip(t)) {
        if src.table(&t.display()).is_none() {
            out.push(SchemaDifference {
                table: Some(t.display()),
                ..diff("table", t.display(), "extra on target (not on source)")
            });
        }
    }
    let objects: [(&str, &Vec<String>, &Vec<String>); 5] = [
        ("view", &src.views, &tgt.views),
        ("sequence", &src.sequences, &tgt.sequences),
        ("function", &src.functions, &tgt.functions),
        ("procedure", &src.procedures, &tgt.procedures),
        ("trigger", &src.triggers, &tgt.triggers),
    ];
    for (kind, s, t) in objects {
        for o in s {
            if !t.contains(o) {
                out.push(diff(kind, o, "missing on target"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, key: &str) -> Column {
        Column {
            name: name.into(),
            data_type: ty.into(),
            type_key: key.into(),
            column_type: key.into(),
            nullable: true,
            charset: None,
            collation: None,
        }
    }

    fn table() -> Table {
        Table {
            schema: "public".into(),
            name: "t".into(),
            columns: vec![col("id", "bigint", "int8"), col("v", "integer", "int4")],
            primary_key: vec!["id".into()],
            indexes: vec![
                Index {
                    name: "t_pkey".into(),
                    columns: vec!["id".into()],
                    unique: true,
                },
                Index {
                    name: "t_v".into(),
                    columns: vec!["v".into()],
                    unique: false,
                },
            ],
            engine: None,
            collation: None,
        }
    }

    #[test]
    fn equal_catalogs_have_no_differences() {
        let c = Catalog {
            tables: vec![table()],
            ..Default::default()
        };
        assert!(compare(Engine::Postgres, &c, Engine::Postgres, &c, &[]).is_empty());
    }

    #[test]
    fn type_change_and_missing_index_are_named() {
        let s = Catalog {
            tables: vec![table()],
            views: vec!["public.v".into()],
            ..Default::default()
        };
        let mut t2 = table();
        t2.columns[1] = col("v", "bigint", "int8");
        t2.indexes.pop();
        let t = Catalog {
            tables: vec![t2],
            ..Default::default()
        };
        let d = compare(Engine::Postgres, &s, Engine::Postgres, &t, &[]);
        assert!(
            d.iter().any(|x| x.object == "public.t.v"
                && x.detail.contains("integer on source, bigint on target")),
            "{d:?}"
        );
        assert!(
            d.iter().any(|x| x.object == "public.t (index t_v)"),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.object_kind == "view" && x.object == "public.v"),
            "{d:?}"
        );
    }

    #[test]
    fn collations_and_character_sets_are_named_per_column_table_and_database() {
        let mut st = table();
        st.schema = String::new();
        st.collation = Some("utf8mb4_general_ci".into());
        st.columns[1] = Column {
            charset: Some("utf8mb4".into()),
            collation: Some("utf8mb4_general_ci".into()),
            ..col("v", "varchar(20)", "varchar")
        };
        st.columns.push(Column {
            charset: Some("utf8mb4".into()),
            collation: Some("utf8mb4_general_ci".into()),
            ..col("w", "varchar(20)", "varchar")
        });
        let mut tt = st.clone();
        tt.collation = Some("utf8mb4_bin".into());
        tt.columns[1].collation = Some("utf8mb4_bin".into());
        tt.columns[2].charset = Some("latin1".into());
        tt.columns[2].collation = Some("latin1_swedish_ci".into());
        let s = Catalog {
            charset: Some("utf8mb4".into()),
            collation: Some("utf8mb4_general_ci".into()),
            tables: vec![st],
            ..Default::default()
        };
        let t = Catalog {
            charset: Some("utf8mb4".into()),
            collation: Some("utf8mb4_unicode_ci".into()),
            tables: vec![tt],
            ..Default::default()
        };
        let d = compare(Engine::Mysql, &s, Engine::Mysql, &t, &[]);
        let has = |obj: &str, detail: &str| {
            d.iter()
                .any(|x| x.object == obj && x.detail.contains(detail))
        };
        assert!(
            has(
                "t.v",
                "collation utf8mb4_general_ci on source, utf8mb4_bin on target"
            ),
            "{d:?}"
        );
        assert!(
            has("t.w", "character set utf8mb4 (collation utf8mb4_general_ci) on source, latin1 (collation latin1_swedish_ci) on target"),
            "{d:?}"
        );
        assert!(
            has(
                "t",
                "default collation utf8mb4_general_ci on source, utf8mb4_bin on target"
            ),
            "{d:?}"
        );
        assert!(
            has(
                "collation",
                "utf8mb4_general_ci on source, utf8mb4_unicode_ci on target"
            ),
            "{d:?}"
        );
        assert!(!d.iter().any(|x| x.object == "character set"), "{d:?}");
        assert!(
            !d.iter()
                .any(|x| x.detail.contains("character set utf8mb4 on source")),
            "{d:?}"
        );
        // Across engines collation names are not comparable: nothing is reported for them.
        let x = compare(Engine::Postgres, &s, Engine::Mysql, &t, &[]);
        assert!(!x.iter().any(|x| x.detail.contains("collation")), "{x:?}");
    }

    #[test]
    fn mysql_display_widths_are_ignored() {
        assert_eq!(normalize_my_type("int(11)"), "int");
        assert_eq!(normalize_my_type("bigint(20) unsigned"), "bigint unsigned");
        assert_eq!(normalize_my_type("tinyint(1)"), "tinyint(1)");
        assert_eq!(normalize_my_type("varchar(20)"), "varchar(20)");
    }
}
