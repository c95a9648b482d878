//! Moving in: a ledger copied whole into another (`clawcron ledger migrate --to postgres://...`),
//! table by table, in one transaction on the destination, which must be empty. Row ids are
//! kept (history, notices and alert events keep their numbers) and the destination's
//! sequences continue after them.

use super::db::{Conn, DbError, Dialect, Value, args};
use super::{Store, StoreError};

/// Each table of the schema, the columns copied, and the column it is read in order of (an id,
/// so that it is read in pages).
const TABLES: &[(&str, &[&str], Option<&str>)] = &[
    (
        "runs",
        &[
            "id",
            "job",
            "trigger",
            "slot",
            "status",
            "reason",
            "started_at",
            "finished_at",
            "attempts",
            "exit_code",
            "duration_ms",
            "error",
            "output_tail",
            "boot_id",
            "pid",
            "daemon_pid",
            "cause",
            "node",
            "lease_until",
            "claimed_at",
        ],
        Some("id"),
    ),
    ("cursors", &["job", "accounted_until", "schedule"], None),
    (
        "metrics",
        &["run_id", "job", "name", "value", "at"],
        Some("rowid"),
    ),
    ("alert_state", &["job", "rule", "state", "updated"], None),
    (
        "alert_events",
        &["id", "job", "rule", "kind", "value", "detail", "at"],
        Some("id"),
    ),
    (
        "outbox",
        &[
            "id",
            "key",
            "channel",
            "payload",
            "status",
            "attempts",
            "next_at",
            "expires_at",
            "created_at",
            "sent_at",
            "last_error",
            "answer",
            "claimed_until",
            "lane",
            "claimed_by",
        ],
        Some("id"),
    ),
    (
        "daemon_sessions",
        &[
            "id",
            "boot_id",
            "pid",
            "started_at",
            "alive_at",
            "stopped_at",
        ],
        Some("id"),
    ),
    (
        "baselines",
        &["job", "metric", "value", "pinned_at", "label"],
        None,
    ),
    ("pauses", &["job", "reason", "by", "at"], None),
    (
        "silences",
        &[
            "id",
            "job",
            "rule",
            "reason",
            "by",
            "created_at",
            "ends_at",
            "told",
        ],
        Some("id"),
    ),
    (
        "maintenance",
        &["id", "by_job", "run_id", "quiets", "started_at", "ends_at"],
        Some("id"),
    ),
    ("ping_keys", &["job", "hash", "created_at"], None),
    (
        "nodes",
        &[
            "name",
            "tags",
            "pid",
            "started_at",
            "beat_at",
            "stopped_at",
            "offset_ms",
            "running",
            "diverged",
        ],
        None,
    ),
    ("job_texts", &["node", "job", "hash"], None),
    ("job_hashes", &["job", "hash", "first_seen"], None),
    (
        "locks",
        &["name", "node", "run_id", "fence", "lease_until"],
        None,
    ),
];

/// The tables whose `id` is an identity: the destination's sequence continues after the copy.
const IDENTITIES: &[&str] = &[
    "runs",
    "alert_events",
    "outbox",
    "daemon_sessions",
    "silences",
    "maintenance",
];

/// Rows read from the source at a time.
const PAGE: i64 = 2000;

/// Rows written by one statement (PostgreSQL takes at most 65535 parameters).
const ROWS_PER_INSERT: usize = 200;

/// What a copy moved: rows per table, in the schema's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied(pub Vec<(&'static str, u64)>);

impl Copied {
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the destination ledger is not empty ({table} has {rows} rows): `ledger migrate` copies into an empty ledger only, never over another's history"
    )]
    NotEmpty { table: &'static str, rows: i64 },
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<DbError> for CopyError {
    fn from(e: DbError) -> Self {
        CopyError::Store(StoreError::Sql(e))
    }
}

impl Store {
    /// Copies every row of this ledger into `dest`, which must be empty, in one transaction on
    /// `dest`. `progress` is told each table's count as it is done.
    pub fn copy_into(
        &self,
        dest: &Store,
        mut progress: impl FnMut(&'static str, u64),
    ) -> Result<Copied, CopyError> {
        self.flush();
        let dialect = dest.dialect();
        dest.db.tx(|to| {
            for (table, _, _) in TABLES {
                let rows: i64 = to.value(&format!("SELECT count(*) FROM {table}"), args![])?;
                if rows > 0 {
                    return Err(CopyError::NotEmpty { table, rows });
                }
            }
            let mut copied = Copied::default();
            for (table, columns, order) in TABLES {
                let n = self
                    .db
                    .run(|from| copy_table(from, to, table, columns, *order, dialect))?;
                progress(table, n);
                copied.0.push((table, n));
            }
            if dialect == Dialect::Postgres {
                for table in IDENTITIES {
                    to.execute(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
                        ),
                        args![],
                    )?;
                }
            }
            Ok(copied)
        })
    }
}

fn copy_table(
    from: &mut dyn Conn,
    to: &mut dyn Conn,
    table: &str,
    columns: &[&str],
    order: Option<&str>,
    dialect: Dialect,
) -> Result<u64, DbError> {
    let list = columns.join(", ");
    let width = columns.len();
    let mut copied = 0u64;
    let mut after = i64::MIN;
    loop {
        // Paged by the ordering column (read with the row, last): never the whole table in memory.
        let rows = match order {
            Some(key) => from.query(
                &format!(
                    "SELECT {list}, {key} FROM {table} WHERE {key} > ?1 ORDER BY {key} LIMIT ?2"
                ),
                args![after, PAGE],
            )?,
            None => from.query(&format!("SELECT {list} FROM {table}"), args![])?,
        };
        if rows.is_empty() {
            break;
        }
        let values: Vec<Vec<Value>> = rows
            .iter()
            .map(|r| (0..width).map(|i| r.get::<Value>(i)).collect())
            .collect::<Result<_, _>>()?;
        if let Some(key) = order
            && let Some(last) = rows.last()
        {
            after = last.get(width).map_err(|_| DbError::Column {
                index: width,
                want: "an integer key",
                found: key.to_string(),
            })?;
        }
        // A copied identity is a value the destination did not generate; the metrics' rowid is
        // generated anew there, in the same order.
        let overriding = if dialect == Dialect::Postgres && columns.first() == Some(&"id") {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        for chunk in values.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO {table} ({list}){overriding} VALUES ");
            let mut params: Vec<&dyn super::db::ToValue> = Vec::with_capacity(chunk.len() * width);
            for (r, row) in chunk.iter().enumerate() {
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for (c, v) in row.iter().enumerate() {
                    if c > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("?{}", r * width + c + 1));
                    params.push(v);
                }
                sql.push(')');
            }
            to.execute(&sql, &params)?;
            copied += chunk.len() as u64;
        }
        if order.is_none() || (rows.len() as i64) < PAGE {
            break;
        }
    }
    Ok(copied)
}
