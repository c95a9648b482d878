//! What is remembered: the runs ledger and per-job cursors in SQLite (WAL, append-only
//! migrations). A slot's row is inserted before its work starts and the insert is unique on
//! (job, slot), so a slot runs at most once even with two daemons on one state directory; the
//! cursor says up to where every slot has its row, so none is forgotten across a crash.

pub mod migrations;
mod outbox;
mod pings;
mod quiet;
mod report;
pub use outbox::{Item as OutboxItem, NOTICE_TTL_MS};
pub use pings::LateRow;
pub use report::{Baseline, Gap, HEARTBEAT_MS, NoticeRow};
pub mod cluster;
pub mod copy;
pub mod db;
pub mod health;
mod writer;

use crate::model::{Notice, RunOutcome, RunRecord, RunStatus, State};
use db::{Backend, Conn, DbError, Row, args};
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("ledger: {0}")]
    Sql(#[from] DbError),
    #[error(
        "the ledger {path} was migrated by a newer clawcron (schema version {found}; this binary knows up to {known}): run that newer version, or restore a backup made before its migration (clawcron.db.backup-v*)"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("cannot back up the ledger {path} before migrating it: {source}")]
    Backup {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the ledger's clock has not reached the due slots yet ({wait_ms} ms to go): this node's clock runs ahead"
    )]
    TooEarly { wait_ms: i64 },
    #[error("another clawcron daemon (pid {pid}) is running on the state directory {dir}")]
    Locked { dir: PathBuf, pid: String },
    #[error("state directory lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How a slot is to be recorded.
#[derive(Debug, Clone)]
pub enum SlotDecision {
    /// Claim the slot for a run (status `running`); refused if the slot already has a row.
    Run { reason: Option<String> },
    /// Record the slot as skipped, with why.
    Skip { reason: String },
}

/// A row that is one of the job's own runs: a remediation is recorded under the job it answers
/// (so `history` shows it), but it is the fix's run, not the job's, so it never counts in the
/// job's figures (recovery, baselines, last success, the report's counts).
pub(crate) const OWN_RUN: &str = "trigger != 'remediation'";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(DbError::Sqlite(e))
    }
}

/// A text column stored from an enum's `as_str`, read back as the enum.
pub(crate) fn status_at<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>) -> Result<T, DbError> {
    let s: String = r.get(i)?;
    parse(&s).ok_or(DbError::Column {
        index: i,
        want: "a known status",
        found: s,
    })
}

/// A `RunRow` from the columns `id, job, trigger, slot, status, reason, started_at, finished_at,
/// attempts, exit_code, duration_ms, error, output_tail, boot_id, cause, node`, in that order.
pub(crate) fn run_row(r: &Row) -> Result<RunRow, DbError> {
    Ok(RunRow {
        id: r.get(0)?,
        job: r.get(1)?,
        trigger: r.get(2)?,
        slot: r.get(3)?,
        status: status_at(r, 4, RunStatus::parse)?,
        reason: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
        attempts: r.get(8)?,
        exit_code: r.get(9)?,
        duration_ms: r.get(10)?,
        error: r.get(11)?,
        output_tail: r.get(12)?,
        boot_id: r.get(13)?,
        cause: r.get(14)?,
        node: r.get(15)?,
    })
}

/// One row of the ledger, as `history` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub trigger: String,
    pub slot: i64,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub attempts: i64,
    pub exit_code: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub output_tail: Option<String>,
    pub boot_id: Option<String>,
    /// What caused the run (a remediation's alert, a chained run's upstream run).
    pub cause: Option<String>,
    /// In a cluster: the node that ran it.
    pub node: Option<String>,
}

/// A run a previous daemon left `running` (it crashed or was killed).
#[derive(Debug, Clone)]
pub struct Interrupted {
    pub id: i64,
    pub job: String,
    pub slot: i64,
    pub pid: Option<i64>,
    /// The boot the run was started in: its process group id means nothing after a reboot.
    pub boot_id: Option<String>,
}

/// The ledger. Cheap to clone; calls are short (one transaction each).
#[derive(Clone)]
pub struct Store {
    db: Backend,
    writer: Arc<writer::Writer>,
    health: Arc<health::WriteHealth>,
    /// The open daemon session (id, when its `alive_at` was last written), if any.
    session: Arc<Mutex<Option<(i64, i64)>>>,
    /// Notified whenever a notice is queued, so that the dispatcher sends it at once.
    outbox_wake: Arc<tokio::sync::Notify>,
    /// This process as a node of a cluster (its rows carry its name and a lease).
    node: Arc<std::sync::RwLock<Option<cluster::NodeId>>>,
    /// In a cluster: the maintenance windows and pauses when slots were last claimed (the
    /// claim's statement reads them too, so that the runs it starts are admitted on them
    /// without another round trip).
    claimed_quiet: Arc<Mutex<Option<SeenQuiet>>>,
}

/// What a claim of slots read of the ledger's pauses and open maintenance windows, and when.
#[derive(Debug, Clone)]
pub struct SeenQuiet {
    pub at: std::time::Instant,
    pub windows: Vec<crate::model::Window>,
    pub pauses: Vec<crate::model::Pause>,
}

/// Holds the state directory's daemon lock for as long as it lives.
pub struct DaemonLock {
    _file: std::fs::File,
}

/// Which ledger to open: SQLite in the state directory (the default), or PostgreSQL.
#[derive(Debug, Clone, Default)]
pub enum LedgerTarget {
    #[default]
    Sqlite,
    Postgres(db::PgTarget),
}

impl Store {
    /// Opens the ledger `target` names: SQLite in `dir`, or a PostgreSQL ledger.
    pub fn open_target(dir: &Path, target: &LedgerTarget) -> Result<Store, StoreError> {
        match target {
            LedgerTarget::Sqlite => Self::open(dir),
            LedgerTarget::Postgres(t) => Self::open_postgres(t),
        }
    }

    /// Opens (creating) `dir/clawcron.db`: directory 0700, database 0600, WAL.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        create_private_dir(dir)?;
        let path = dir.join("clawcron.db");
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Self::prepare(&conn).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Self::migrate(&conn, Some(&path))?;
        let file = db::FileIdentity::of(&path).ok().map(Arc::new);
        Ok(Self::init(Backend::Sqlite(
            Arc::new(Mutex::new(conn)),
            file,
        )))
    }

    /// A private in-memory ledger, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::prepare(&conn)?;
        Self::migrate(&conn, None)?;
        Ok(Self::init(Backend::Sqlite(
            Arc::new(Mutex::new(conn)),
            None,
        )))
    }

    /// Opens a PostgreSQL ledger, bringing its schema up to this binary's version (one node
    /// at a time: the migration holds a transaction-scoped advisory lock).
    pub fn open_postgres(target: &db::PgTarget) -> Result<Store, StoreError> {
        let pool = db::PgPool::connect(target)?;
        let display = pool.display.clone();
        let db = Backend::Postgres(Arc::new(pool));
        db.tx(|c| {
            c.execute("SELECT pg_advisory_xact_lock(72622026)", args![])?;
            c.batch(
                "CREATE TABLE IF NOT EXISTS clawcron_schema (version BIGINT NOT NULL);
                 INSERT INTO clawcron_schema (version)
                     SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM clawcron_schema);",
            )?;
            let version: i64 = c.value("SELECT version FROM clawcron_schema", args![])?;
            let known = migrations::MIGRATIONS.len();
            if version > known as i64 {
                return Err(StoreError::TooNew {
                    path: PathBuf::from(&display),
                    found: version,
                    known,
                });
            }
            for sql in migrations::MIGRATIONS.iter().skip(version as usize) {
                c.batch(&db::pg_schema(sql))?;
            }
            c.execute(
                "UPDATE clawcron_schema SET version = ?1",
                args![known as i64],
            )?;
            Ok(())
        })?;
        Ok(Self::init(db))
    }

    /// Which SQL the ledger speaks.
    pub fn dialect(&self) -> db::Dialect {
        self.db.dialect()
    }

    fn prepare(conn: &Connection) -> Result<(), rusqlite::Error> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // NORMAL in WAL mode: a commit survives a process crash; only an OS crash or power cut
        // can lose the last transactions, never corrupt the database.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    /// Brings the schema up to this binary's version. A ledger from a newer binary is refused
    /// (its rows mean things this one does not know); an existing ledger is first copied to
    /// `clawcron.db.backup-v<version>-<when>` beside it (`VACUUM INTO`), named in the log.
    fn migrate(conn: &Connection, path: Option<&Path>) -> Result<(), StoreError> {
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = migrations::MIGRATIONS.len();
        if version > known as i64 {
            return Err(StoreError::TooNew {
                path: path.map(Path::to_path_buf).unwrap_or_default(),
                found: version,
                known,
            });
        }
        if let Some(path) = path
            && version > 0
            && version < known as i64
        {
            let backup = path.with_file_name(format!(
                "clawcron.db.backup-v{version}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            ));
            conn.execute("VACUUM INTO ?1", params![backup.to_string_lossy()])
                .map_err(|source| StoreError::Backup {
                    path: path.to_path_buf(),
                    source,
                })?;
            tracing::info!(
                "ledger schema {version} -> {known}: backed up first to {}",
                backup.display()
            );
        }
        for (i, sql) in migrations::MIGRATIONS
            .iter()
            .enumerate()
            .skip(version as usize)
        {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn init(db: Backend) -> Store {
        let health = Arc::new(health::WriteHealth::default());
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        Store {
            writer: Arc::new(writer::Writer::new(
                db.clone(),
                health.clone(),
                outbox_wake.clone(),
            )),
            db,
            health,
            session: Arc::new(Mutex::new(None)),
            outbox_wake,
            node: Arc::default(),
            claimed_quiet: Arc::default(),
        }
    }

    /// The pauses and windows read by the last claim of slots (a cluster's), and when.
    pub fn claimed_quiet(&self) -> Option<SeenQuiet> {
        self.claimed_quiet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// This process changed the pauses: what the last claim read of them is stale.
    pub fn forget_claimed_quiet(&self) {
        *self.claimed_quiet.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether the ledger can be written (see `health`).
    pub fn health(&self) -> &health::WriteHealth {
        &self.health
    }

    /// The PostgreSQL ledger's pool: a cluster's ledger.
    pub fn pg_pool(&self) -> Result<Arc<db::PgPool>, StoreError> {
        match &self.db {
            db::Backend::Postgres(p) => Ok(p.clone()),
            db::Backend::Sqlite(..) => Err(StoreError::Sql(db::DbError::Pool(
                "a cluster needs a PostgreSQL ledger (`ledger:` in clawcron.yaml)".into(),
            ))),
        }
    }

    /// The SQLite ledger's file as opened (see `db::FileIdentity`); `None` for PostgreSQL and
    /// in memory.
    pub fn file(&self) -> Option<Arc<db::FileIdentity>> {
        match &self.db {
            db::Backend::Sqlite(_, file) => file.clone(),
            db::Backend::Postgres(_) => None,
        }
    }

    /// Why the ledger's file is gone (replaced or removed), looked at now; `None` while it is
    /// the file opened.
    pub fn file_gone(&self) -> Option<String> {
        let file = self.file()?;
        file.check().err().map(|e| e.to_string())
    }

    /// Runs `f` on a connection, each statement committed on its own.
    pub(crate) fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        Ok(self.db.run(f)?)
    }

    /// Runs `f` in one transaction.
    pub(crate) fn in_tx<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.tx(f)
    }

    /// Takes the daemon lock on `dir` (one daemon per state directory).
    pub fn lock_daemon(dir: &Path) -> Result<DaemonLock, StoreError> {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsRawFd;
        create_private_dir(dir)?;
        let path = dir.join("daemon.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| StoreError::Lock {
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock on a file descriptor we own; no memory is shared with the kernel.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                pid: pid.trim().to_string(),
            });
        }
        let _ = file.set_len(0);
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let _ = write!(file, "{}", std::process::id());
        Ok(DaemonLock { _file: file })
    }

    /// Marks runs left `running` by a dead daemon as `interrupted` and returns them. In a
    /// cluster, only this node's runs: the others' are theirs (or their leases' to end).
    pub fn recover_interrupted(&self, now_ms: i64) -> Result<Vec<Interrupted>, StoreError> {
        let (node, _) = self.node_lease();
        self.in_tx(|c| {
            let rows = c.query_map(
                "SELECT id, job, slot, pid, boot_id FROM runs WHERE status = 'running'
                   AND (CAST(?1 AS TEXT) IS NULL OR node = ?1)",
                args![node],
                |r| {
                    Ok(Interrupted {
                        id: r.get(0)?,
                        job: r.get(1)?,
                        slot: r.get(2)?,
                        pid: r.get(3)?,
                        boot_id: r.get(4)?,
                    })
                },
            )?;
            c.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?1, lease_until = NULL,
                     reason = 'the daemon stopped while it ran (crash or kill)'
                 WHERE status = 'running' AND (CAST(?2 AS TEXT) IS NULL OR node = ?2)",
                args![now_ms, node],
            )?;
            Ok(rows)
        })
    }

    /// Adds `note` to the reason of interrupted run `id` (what was found of it at start).
    pub fn note_interrupted(&self, id: i64, note: &str) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE runs SET reason = reason || '; ' || ?2 WHERE id = ?1 AND status = 'interrupted'",
                args![id, note],
            )
            .map(|_| ())
        })
    }

    /// Every job's cursor (all its slots up to this instant have a row) and the schedule it
    /// was counted under.
    pub fn cursors(&self) -> Result<HashMap<String, (i64, Option<String>)>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT job, accounted_until, schedule FROM cursors",
                args![],
                |r| Ok((r.get::<String>(0)?, (r.get::<i64>(1)?, r.get(2)?))),
            )
            .map(|v| v.into_iter().collect())
        })
    }

    /// Sets cursors outright (new jobs, changed schedules, disabled jobs): `(job, instant, schedule)`.
    pub fn reset_cursors(&self, rows: &[(&str, i64, String)]) -> Result<(), StoreError> {
        self.in_tx(|c| {
            for (job, at, schedule) in rows {
                c.execute(
                    "INSERT INTO cursors (job, accounted_until, schedule) VALUES (?1, ?2, ?3)
                     ON CONFLICT (job) DO UPDATE SET accounted_until = excluded.accounted_until, schedule = excluded.schedule",
                    args![job, at, schedule],
                )?;
            }
            Ok(())
        })
    }

    /// Records a batch of slot decisions and moves cursors, in one transaction. Returns, for
    /// each decision, the run id if it is a `Run` whose claim succeeded.
    pub fn record_slots(
        &self,
        decisions: &[(&str, i64, SlotDecision)],
        cursors: &[(&str, i64, String)],
        boot_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let r = self.record_slots_once(decisions, cursors, boot_id, now_ms);
        // Not yet due on the ledger's clock is no fault of the ledger.
        if !matches!(r, Err(StoreError::TooEarly { .. })) {
            self.health.observe("due slots", &r);
        }
        r
    }

    fn record_slots_once(
        &self,
        decisions: &[(&str, i64, SlotDecision)],
        cursors: &[(&str, i64, String)],
        boot_id: &str,
        now_ms: i64,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        // The session's heartbeat rides along (see `report::HEARTBEAT_MS`).
        let beat = *self.session.lock().unwrap_or_else(|p| p.into_inner());
        let beat = match beat {
            Some((id, at)) if now_ms - at >= report::BEAT_MIN_MS => Some(id),
            _ => None,
        };
        if self.dialect() == db::Dialect::Postgres {
            let out = self.record_slots_pg(decisions, cursors, boot_id, now_ms, beat)?;
            if beat.is_some() {
                self.beat_recorded(now_ms);
            }
            return Ok(out);
        }
        // SQLite: one machine (a cluster's ledger is PostgreSQL, see `record_slots_pg`), so a
        // claim needs no node, lease or clock gate.
        let pid = i64::from(std::process::id());
        let out = self.in_tx(|c| {
            let mut out = Vec::with_capacity(decisions.len());
            for (job, slot, decision) in decisions {
                let (status, reason, started) = match decision {
                    SlotDecision::Run { reason } => ("running", reason.as_deref(), Some(now_ms)),
                    SlotDecision::Skip { reason } => ("skipped", Some(reason.as_str()), None),
                };
                let id: Option<i64> = c.value_opt(
                    "INSERT INTO runs (job, trigger, slot, status, reason, boot_id, daemon_pid, started_at)
                     VALUES (?1, 'schedule', ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT DO NOTHING RETURNING id",
                    args![job, slot, status, reason, boot_id, pid, started],
                )?;
                out.push(match decision {
                    SlotDecision::Run { .. } => id,
                    SlotDecision::Skip { .. } => None,
                });
            }
            for (job, until, schedule) in cursors {
                c.execute(
                    "INSERT INTO cursors (job, accounted_until, schedule) VALUES (?1, ?2, ?3)
                     ON CONFLICT (job) DO UPDATE SET accounted_until = GREATEST(cursors.accounted_until, excluded.accounted_until),
                         schedule = excluded.schedule",
                    args![job, until, schedule],
                )?;
            }
            if let Some(id) = beat {
                report::beat_on(c, id, now_ms)?;
            }
            Ok(out)
        })?;
        if beat.is_some() {
            self.beat_recorded(now_ms);
        }
        Ok(out)
    }

    /// `record_slots` on PostgreSQL: the whole batch in one statement, one round trip. Each
    /// slot's row is inserted with `ON CONFLICT DO NOTHING RETURNING id` (the first node's
    /// insert wins), gated on the database's clock, and the cursors move in the same statement,
    /// so a batch is claimed whole or not at all.
    fn record_slots_pg(
        &self,
        decisions: &[(&str, i64, SlotDecision)],
        cursors: &[(&str, i64, String)],
        boot_id: &str,
        now_ms: i64,
        beat: Option<i64>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let (node, lease) = self.node_lease();
        let gate = node.is_some();
        let latest = decisions
            .iter()
            .map(|d| d.1)
            .max()
            .unwrap_or(i64::MIN / 1000);
        let rows: Vec<serde_json::Value> = decisions
            .iter()
            .map(|(job, slot, d)| match d {
                SlotDecision::Run { reason } => serde_json::json!({
                    "job": job, "slot": slot, "status": "running", "reason": reason, "started": now_ms,
                }),
                SlotDecision::Skip { reason } => serde_json::json!({
                    "job": job, "slot": slot, "status": "skipped", "reason": reason, "started": null,
                }),
            })
            .collect();
        let curs: Vec<serde_json::Value> = cursors
            .iter()
            .map(|(job, until, schedule)| {
                serde_json::json!({ "job": job, "until": until, "schedule": schedule })
            })
            .collect();
        let now = cluster::now_sql(db::Dialect::Postgres);
        let pid = i64::from(std::process::id());
        let answer = self.with_conn(|c| {
            if let Some(id) = beat {
                report::beat_on(c, id, now_ms)?;
            }
            c.query(
                &format!(
                    "WITH gate AS (
                         SELECT now, CAST(?1 AS BIGINT) = 0 OR CAST(?2 AS BIGINT) * 1000 <= now AS ok
                         FROM (SELECT {now} AS now) AS clock),
                     ins AS (
                         INSERT INTO runs (job, trigger, slot, status, reason, boot_id, daemon_pid,
                                           started_at, node, lease_until, claimed_at)
                         SELECT d.job, 'schedule', d.slot, d.status, d.reason, CAST(?4 AS TEXT),
                                CAST(?5 AS BIGINT), d.started, CAST(?6 AS TEXT),
                                CASE WHEN d.status = 'running' AND CAST(?7 AS BIGINT) IS NOT NULL
                                     THEN gate.now + CAST(?7 AS BIGINT) END,
                                CASE WHEN CAST(?6 AS TEXT) IS NOT NULL THEN gate.now END
                         FROM json_to_recordset(CAST(?3 AS json))
                                  AS d(job text, slot bigint, status text, reason text, started bigint),
                              gate
                         WHERE gate.ok
                         ON CONFLICT DO NOTHING RETURNING id, job, slot),
                     cur AS (
                         INSERT INTO cursors (job, accounted_until, schedule)
                         SELECT c.job, c.until, c.schedule
                         FROM json_to_recordset(CAST(?8 AS json)) AS c(job text, until bigint, schedule text),
                              gate
                         WHERE gate.ok
                         ON CONFLICT (job) DO UPDATE SET
                             accounted_until = GREATEST(cursors.accounted_until, excluded.accounted_until),
                             schedule = excluded.schedule
                         RETURNING 1)
                     SELECT 'gate', CAST(NULL AS TEXT), CAST(NULL AS BIGINT), now, CAST(ok AS INT)
                       FROM gate WHERE (SELECT count(*) FROM cur) >= 0
                     UNION ALL SELECT 'claim', job, slot, id, NULL FROM ins
                     UNION ALL SELECT 'windows', CAST(coalesce((
                         SELECT json_agg(json_build_array(m.id, m.by_job, m.run_id, m.quiets,
                                                          m.started_at, m.ends_at) ORDER BY m.id)
                         FROM maintenance m, gate
                         WHERE m.ends_at IS NULL OR m.ends_at > gate.now), '[]') AS TEXT), NULL, NULL, NULL
                     UNION ALL SELECT 'pauses', CAST(coalesce((
                         SELECT json_agg(json_build_array(p.job, p.reason, p.by, p.at) ORDER BY p.job)
                         FROM pauses p), '[]') AS TEXT), NULL, NULL, NULL"
                ),
                args![
                    i64::from(gate),
                    latest,
                    serde_json::Value::Array(rows).to_string(),
                    boot_id,
                    pid,
                    node,
                    lease,
                    serde_json::Value::Array(curs).to_string()
                ],
            )
        })?;
        let mut claimed: HashMap<(String, i64), i64> = HashMap::new();
        let (mut windows, mut pauses) = (None, None);
        for r in &answer {
            let kind: String = r.get(0)?;
            if kind == "windows" {
                windows = quiet::windows_from_json(&r.get::<String>(1)?);
            } else if kind == "pauses" {
                pauses = quiet::pauses_from_json(&r.get::<String>(1)?);
            } else if kind == "gate" {
                let ok: bool = r.get(4)?;
                let ledger_ms: i64 = r.get(3)?;
                if !ok {
                    return Err(StoreError::TooEarly {
                        wait_ms: latest * 1000 - ledger_ms,
                    });
                }
            } else {
                claimed.insert((r.get(1)?, r.get(2)?), r.get(3)?);
            }
        }
        // Unreadable (never expected): they are read again when needed.
        if let (Some(windows), Some(pauses)) = (windows, pauses) {
            *self.claimed_quiet.lock().unwrap_or_else(|p| p.into_inner()) = Some(SeenQuiet {
                at: std::time::Instant::now(),
                windows,
                pauses,
            });
        }
        Ok(decisions
            .iter()
            .map(|(job, slot, d)| match d {
                SlotDecision::Run { .. } => claimed.get(&(job.to_string(), *slot)).copied(),
                SlotDecision::Skip { .. } => None,
            })
            .collect())
    }

    /// Starts a run that is not a schedule slot (`manual`, `at_start`); returns its id.
    pub fn start_run(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        self.insert_run(job, trigger, slot, boot_id, now_ms, None)
    }

    /// Starts a run caused by something else (a remediation: its alert and the run that fired
    /// it); returns its id.
    pub fn start_run_caused(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        now_ms: i64,
        cause: &str,
    ) -> Result<i64, StoreError> {
        self.insert_run(job, trigger, slot, boot_id, now_ms, Some(cause))
    }

    fn insert_run(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        now_ms: i64,
        cause: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.insert_running(job, trigger, slot, boot_id, now_ms, cause, false)
            .map(|id| id.unwrap_or_default())
    }

    /// Inserts a `running` row; with `once`, nothing when a unique index already holds one
    /// (`None`).
    #[allow(clippy::too_many_arguments)]
    fn insert_running(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        now_ms: i64,
        cause: Option<&str>,
        once: bool,
    ) -> Result<Option<i64>, StoreError> {
        let sql = if once {
            "INSERT INTO runs (job, trigger, slot, status, boot_id, daemon_pid, started_at, cause)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING RETURNING id"
        } else {
            "INSERT INTO runs (job, trigger, slot, status, boot_id, daemon_pid, started_at, cause)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7) RETURNING id"
        };
        let pid = i64::from(std::process::id());
        self.with_conn(|c| c.value_opt(sql, args![job, trigger, slot, boot_id, pid, now_ms, cause]))
    }

    /// Records a non-slot run that was skipped (e.g. `at_start` already done this boot).
    pub fn record_skipped_run(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        reason: &str,
    ) -> Result<i64, StoreError> {
        self.with_conn(|c| {
            c.value(
                "INSERT INTO runs (job, trigger, slot, status, reason, boot_id) VALUES (?1, ?2, ?3, 'skipped', ?4, ?5) RETURNING id",
                args![job, trigger, slot, reason, boot_id],
            )
        })
    }

    /// Starts a chained run (`after`), once per cause: `None` if this cause already has its run
    /// (the unique index on (job, cause) for `after` rows holds it, across restarts).
    pub fn start_run_once(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        now_ms: i64,
        cause: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.insert_running(job, trigger, slot, boot_id, now_ms, Some(cause), true)
    }

    /// Records a caused run that admission refused (a chained run's busy lock), once per cause
    /// like `start_run_once`; `None` if this cause already has its row.
    pub fn record_skipped_once(
        &self,
        job: &str,
        trigger: &str,
        slot: i64,
        boot_id: &str,
        reason: &str,
        cause: Option<&str>,
    ) -> Result<Option<i64>, StoreError> {
        self.with_conn(|c| {
            c.value_opt(
                "INSERT INTO runs (job, trigger, slot, status, reason, boot_id, cause)
                 VALUES (?1, ?2, ?3, 'skipped', ?4, ?5, ?6) ON CONFLICT DO NOTHING RETURNING id",
                args![job, trigger, slot, reason, boot_id, cause],
            )
        })
    }

    /// Claims a past slot for a backfill run, in one statement: only if no row of the slot
    /// (scheduled or backfilled) succeeded or is running. `None`: the slot is done or taken.
    pub fn start_backfill(
        &self,
        job: &str,
        slot: i64,
        boot_id: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let pid = i64::from(std::process::id());
        let (node, lease) = self.node_lease();
        let now = cluster::now_sql(self.dialect());
        self.with_conn(|c| {
            c.value_opt(
                &format!("INSERT INTO runs (job, trigger, slot, status, boot_id, daemon_pid, started_at, node, lease_until)
                 SELECT CAST(?1 AS TEXT), 'backfill', CAST(?2 AS BIGINT), 'running', CAST(?3 AS TEXT),
                        CAST(?4 AS BIGINT), CAST(?5 AS BIGINT), CAST(?6 AS TEXT),
                        CASE WHEN CAST(?7 AS BIGINT) IS NULL THEN NULL ELSE {now} + CAST(?7 AS BIGINT) END
                 WHERE NOT EXISTS (
                     SELECT 1 FROM runs WHERE job = ?1 AND slot = ?2
                         AND trigger IN ('schedule', 'backfill') AND status IN ('running', 'succeeded'))
                 ON CONFLICT DO NOTHING RETURNING id"),
                args![job, slot, boot_id, pid, now_ms, node, lease],
            )
        })
    }

    /// The rows of `job`'s slots in `[from, to]` (scheduled and backfilled, not manual runs),
    /// oldest slot first: (slot, status, reason).
    pub fn slot_rows(
        &self,
        job: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT slot, status, reason FROM runs
                 WHERE job = ?1 AND slot BETWEEN ?2 AND ?3 AND trigger IN ('schedule', 'backfill')
                 ORDER BY slot, id",
                args![job, from, to],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        })
    }

    /// Whether `job` already has an `at_start` run (other than skipped) in this boot.
    pub fn at_start_done(&self, job: &str, boot_id: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = self.with_conn(|c| {
            c.value_opt(
                "SELECT id FROM runs WHERE job = ?1 AND trigger = 'at_start' AND boot_id = ?2 AND status != 'skipped' LIMIT 1",
                args![job, boot_id],
            )
        })?;
        Ok(found.is_some())
    }

    /// Records a run's process id, from the ledger's writer thread (see `writer`).
    pub fn set_pid_later(&self, run_id: i64, pid: u32) {
        self.writer.send(writer::Write::Pid(run_id, pid));
    }

    /// Records a run's outcome from the writer thread, batched with others; `flush` waits for it.
    pub fn finish_later(&self, run_id: i64, outcome: RunOutcome) {
        self.record_later(run_id, RunRecord::of(outcome));
    }

    /// Records what a run's after-run stage produced (its outcome, alert states, alert events
    /// and notices) in one transaction, from the writer thread. If the ledger cannot be written
    /// (a full disk), the record is kept whole and tried again every second.
    pub fn record_later(&self, run_id: i64, record: RunRecord) {
        self.writer
            .send(writer::Write::Finish(run_id, Box::new(record)));
    }

    /// As `record_later`, but committed now when the record carries more than the outcome
    /// (alert states, events, notices), so that the next sample, a remediation's budget and the
    /// order of events read what it wrote. A plain outcome (a burst of a thousand `true` runs)
    /// still goes through the writer thread. If the ledger cannot be written now, the record is
    /// handed to the writer thread, which keeps it and tries again.
    pub fn record(&self, run_id: i64, record: RunRecord) {
        if record.alert_states.is_empty() && record.events.is_empty() && record.notices.is_empty() {
            return self.record_later(run_id, record);
        }
        let r = self.in_tx(|c| record_on(c, run_id, &record));
        self.health.observe("a run's outcome", &r);
        match r {
            Ok(()) if !record.notices.is_empty() => self.outbox_wake.notify_one(),
            Ok(()) => {}
            Err(_) => self.record_later(run_id, record),
        }
    }

    /// Waits until every write handed to the writer thread is committed, or failed and waits
    /// for a retry (the ledger cannot be written); returns how many wait.
    pub fn flush(&self) -> usize {
        self.writer.flush()
    }
}

/// Writes a run's outcome, only while its row is still `running`: a row another node took
/// over (its lease ended) is `interrupted`, and this late write is refused (the fence). Returns
/// whether it was written.
fn finish_on(c: &mut dyn Conn, run_id: i64, outcome: &RunOutcome) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE runs SET status = ?2,
             reason = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN reason WHEN reason IS NULL THEN ?3
                           ELSE reason || '; ' || ?3 END,
             started_at = ?4, finished_at = ?5,
             attempts = ?6, exit_code = ?7, duration_ms = ?8, error = ?9, output_tail = ?10,
             lease_until = NULL
         WHERE id = ?1 AND status = 'running'",
        args![
            run_id,
            outcome.status.as_str(),
            outcome.reason,
            outcome.started_at_ms,
            outcome.finished_at_ms,
            outcome.attempts,
            outcome.exit_code,
            outcome.finished_at_ms - outcome.started_at_ms,
            outcome.error,
            outcome.output_tail,
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    metrics_on(c, run_id, &outcome.metrics, outcome.finished_at_ms)?;
    Ok(true)
}

/// Records a run's figures (the finite ones) at `at_ms`, under the run's job.
fn metrics_on(
    c: &mut dyn Conn,
    run_id: i64,
    metrics: &[crate::model::Metric],
    at_ms: i64,
) -> Result<(), StoreError> {
    for m in metrics.iter().filter(|m| m.value.is_finite()) {
        c.execute(
            "INSERT INTO metrics (run_id, job, name, value, at) SELECT ?1, job, ?2, ?3, ?4 FROM runs WHERE id = ?1",
            args![run_id, m.name, m.value, at_ms],
        )?;
    }
    Ok(())
}

/// Writes a run's whole record on `c` (inside the caller's transaction).
fn record_on(c: &mut dyn Conn, run_id: i64, r: &RunRecord) -> Result<(), StoreError> {
    if !finish_on(c, run_id, &r.outcome)? {
        // Not ours any more (taken over after its lease ended, or already ended): its alert
        // states, events and notices are void with it.
        tracing::warn!(
            run_id,
            "the run's outcome was refused: its row is no longer running here (taken over after its lease ended?)"
        );
        return Ok(());
    }
    for (job, rule, state, at) in &r.alert_states {
        let json = serde_json::to_string(state).unwrap_or_default();
        c.execute(
            "INSERT INTO alert_state (job, rule, state, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (job, rule) DO UPDATE SET state = excluded.state, updated = excluded.updated",
            args![job, rule, json, at],
        )?;
    }
    events_on(c, &r.events)?;
    outbox::enqueue_on(c, &r.notices)?;
    Ok(())
}

fn events_on(c: &mut dyn Conn, events: &[AlertEvent]) -> Result<(), StoreError> {
    for e in events {
        c.execute(
            "INSERT INTO alert_events (job, rule, kind, value, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            args![
                e.job,
                e.rule,
                e.kind,
                e.value,
                crate::redact::scrub(&e.detail).as_ref(),
                e.at
            ],
        )?;
    }
    Ok(())
}

fn set_pid_on(c: &mut dyn Conn, run_id: i64, pid: u32) -> Result<(), StoreError> {
    c.execute(
        "UPDATE runs SET pid = ?2 WHERE id = ?1",
        args![run_id, i64::from(pid)],
    )?;
    Ok(())
}

/// One recorded figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetricRow {
    pub run_id: i64,
    pub name: String,
    pub value: f64,
    /// Unix milliseconds.
    pub at: i64,
}

/// A rule's current phase, for `clawcron alerts`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertRow {
    pub job: String,
    pub rule: String,
    #[serde(serialize_with = "crate::model::phase_as_str")]
    pub phase: crate::model::Phase,
    pub since: Option<i64>,
    pub peak: Option<f64>,
    pub updated: i64,
}

pub use crate::model::AlertEvent;

/// A recorded figure with its row number (see [`Store::metrics_after`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSince {
    pub row: i64,
    pub job: String,
    pub name: String,
    pub value: f64,
    pub at: i64,
}

impl Store {
    /// A rule's saved state (the default, ok, if it has none).
    pub fn alert_state(&self, job: &str, rule: &str) -> Result<State, StoreError> {
        let saved: Option<String> = self.with_conn(|c| {
            c.value_opt(
                "SELECT state FROM alert_state WHERE job = ?1 AND rule = ?2",
                args![job, rule],
            )
        })?;
        Ok(saved
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    /// Records alert events and their notices in one transaction (a remediation's, an
    /// escalation's); wakes the dispatcher if a notice is new.
    pub fn record_events(
        &self,
        events: &[AlertEvent],
        notices: &[Notice],
    ) -> Result<(), StoreError> {
        let new = self.in_tx(|c| {
            events_on(c, events)?;
            outbox::enqueue_on(c, notices)
        })?;
        if new > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(())
    }

    /// The job's last finished outcome before run `run_id` (status) and, if that was a failure,
    /// since when it has been failing (Unix ms): what a recovery notice needs.
    pub fn previous_outcome(
        &self,
        job: &str,
        run_id: i64,
    ) -> Result<Option<(RunStatus, i64)>, StoreError> {
        self.with_conn(|c| {
            let last = c.query_opt(
                &format!("SELECT status FROM runs WHERE job = ?1 AND id < ?2 AND status IN ('succeeded', 'failed', 'timed_out')
                   AND {OWN_RUN} ORDER BY id DESC LIMIT 1"),
                args![job, run_id],
            )?;
            let Some(last) = last else { return Ok(None) };
            let status = status_at(&last, 0, RunStatus::parse)?;
            let since: Option<i64> = c.value(
                &format!("SELECT min(coalesce(started_at, slot * 1000)) FROM runs WHERE job = ?1 AND id < ?2 AND status IN ('failed', 'timed_out')
                   AND {OWN_RUN} AND id > coalesce((SELECT max(id) FROM runs WHERE job = ?1 AND id < ?2 AND status = 'succeeded' AND {OWN_RUN}), 0)"),
                args![job, run_id],
            )?;
            Ok(Some((status, since.unwrap_or(0))))
        })
    }

    /// A job's failure streak since `since_ms`: when it was last told (a `failing` or
    /// `failing-repeat` event, Unix ms) and how many of its runs failed since.
    pub fn failures_told(
        &self,
        job: &str,
        since_ms: i64,
    ) -> Result<(Option<i64>, i64), StoreError> {
        self.with_conn(|c| {
            let told: Option<i64> = c.value(
                "SELECT max(at) FROM alert_events WHERE job = ?1 AND rule = 'failures'
                   AND kind IN ('failing', 'failing-repeat') AND at >= ?2",
                args![job, since_ms],
            )?;
            let failed: i64 = c.value(
                &format!(
                    "SELECT count(*) FROM runs WHERE job = ?1 AND status IN ('failed', 'timed_out')
                   AND coalesce(started_at, slot * 1000) >= ?2 AND {OWN_RUN}"
                ),
                args![job, since_ms],
            )?;
            Ok((told, failed))
        })
    }

    /// Every rule's current phase.
    pub fn alerts(&self) -> Result<Vec<AlertRow>, StoreError> {
        let rows = self.with_conn(|c| {
            c.query_map(
                "SELECT job, rule, state, updated FROM alert_state ORDER BY job, rule",
                args![],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<i64>(3)?,
                    ))
                },
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|(job, rule, state, updated)| {
                let s: crate::model::State = serde_json::from_str(&state).unwrap_or_default();
                AlertRow {
                    job,
                    rule,
                    phase: s.phase,
                    since: s.since,
                    peak: s.peak,
                    updated,
                }
            })
            .collect())
    }

    /// Records an alert event that is not a state transition (a remediation, an escalation).
    pub fn record_alert_event(
        &self,
        job: &str,
        rule: &str,
        kind: &str,
        value: f64,
        detail: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO alert_events (job, rule, kind, value, detail, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![job, rule, kind, value, crate::redact::scrub(detail).as_ref(), at],
            )
        })?;
        Ok(())
    }

    /// How many events of `kinds` a job's rule had since `since_ms`.
    pub fn count_alert_events(
        &self,
        job: &str,
        rule: &str,
        kinds: &[&str],
        since_ms: i64,
    ) -> Result<u32, StoreError> {
        self.with_conn(|c| {
            let mut n = 0;
            for kind in kinds {
                n += c.value::<u32>(
                    "SELECT count(*) FROM alert_events WHERE job = ?1 AND rule = ?2 AND kind = ?3 AND at >= ?4",
                    args![job, rule, kind, since_ms],
                )?;
            }
            Ok(n)
        })
    }

    /// Transitions since `since_ms`, newest first.
    pub fn alert_events(&self, since_ms: i64) -> Result<Vec<AlertEvent>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT job, rule, kind, value, detail, at FROM alert_events WHERE at >= ?1 ORDER BY at DESC, id DESC",
                args![since_ms],
                |r| {
                    Ok(AlertEvent {
                        job: r.get(0)?,
                        rule: r.get(1)?,
                        kind: r.get(2)?,
                        value: r.get(3)?,
                        detail: r.get(4)?,
                        at: r.get(5)?,
                    })
                },
            )
        })
    }

    /// The figures recorded after row `after` (0: all), oldest first, as (row, job, name,
    /// value, at); and the highest row there is (for `/metrics`, which keeps the latest figure
    /// per job and name and reads only what is new at each scrape).
    pub fn metrics_after(&self, after: i64) -> Result<(Vec<MetricSince>, i64), StoreError> {
        self.with_conn(|c| {
            let top: i64 = c.value("SELECT coalesce(max(rowid), 0) FROM metrics", args![])?;
            let rows = c.query_map(
                "SELECT rowid, job, name, value, at FROM metrics WHERE rowid > ?1 ORDER BY rowid",
                args![after],
                |r| {
                    Ok(MetricSince {
                        row: r.get(0)?,
                        job: r.get(1)?,
                        name: r.get(2)?,
                        value: r.get(3)?,
                        at: r.get(4)?,
                    })
                },
            )?;
            Ok((rows, top))
        })
    }

    /// A job's figures since `since_ms`, oldest first.
    pub fn metrics(&self, job: &str, since_ms: i64) -> Result<Vec<MetricRow>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT run_id, name, value, at FROM metrics WHERE job = ?1 AND at >= ?2 ORDER BY at, run_id, name",
                args![job, since_ms],
                |r| {
                    Ok(MetricRow {
                        run_id: r.get(0)?,
                        name: r.get(1)?,
                        value: r.get(2)?,
                        at: r.get(3)?,
                    })
                },
            )
        })
    }

    /// The newest runs, newest first, of one job or all.
    pub fn history(&self, job: Option<&str>, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT id, job, trigger, slot, status, reason, started_at, finished_at, attempts, exit_code,
                        duration_ms, error, output_tail, boot_id, cause, node
                 FROM runs WHERE (CAST(?1 AS TEXT) IS NULL OR job = ?1) ORDER BY slot DESC, id DESC LIMIT ?2",
                args![job, limit as i64],
                run_row,
            )
        })
    }

    /// Deletes finished rows beyond `max_runs` per job or older than `max_age_ms`.
    pub fn apply_retention(&self, max_runs: u32, older_than_ms: i64) -> Result<usize, StoreError> {
        self.with_conn(|c| {
            let by_age = c.execute(
                "DELETE FROM runs WHERE status != 'running' AND coalesce(finished_at, slot * 1000) < ?1",
                args![older_than_ms],
            )?;
            let by_count = c.execute(
                "DELETE FROM runs WHERE id IN (
                     SELECT id FROM (
                         SELECT id, status, row_number() OVER (PARTITION BY job ORDER BY slot DESC, id DESC) AS n FROM runs
                     ) AS ranked WHERE n > ?1 AND status != 'running')",
                args![i64::from(max_runs)],
            )?;
            Ok(by_age + by_count)
        })
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// The default state directory: `$XDG_STATE_HOME/clawcron` or `~/.local/state/clawcron`
/// (Linux), `~/Library/Application Support/clawcron` (macOS).
pub fn default_state_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    if cfg!(target_os = "macos") {
        return home.join("Library/Application Support/clawcron");
    }
    match std::env::var_os("XDG_STATE_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x).join("clawcron"),
        _ => home.join(".local/state/clawcron"),
    }
}
