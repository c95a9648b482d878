//! The ledger's side of several nodes on one ledger (PostgreSQL): which node a run is on and
//! until when its lease holds, nodes' heartbeats, the newest text of each job, runs taken over
//! from a lost node, and named locks as rows with a lease and a fence. Every decision is one
//! statement on the ledger's clock (`clock_timestamp()`), never a node's.

use super::db::{DbError, Dialect, Stmt, args};
use super::{Store, StoreError};
use std::collections::HashMap;

/// The ledger's clock in Unix milliseconds, as an SQL expression.
pub(crate) fn now_sql(d: Dialect) -> &'static str {
    match d {
        // floor, not CAST's rounding: the ledger's "now" is never half a millisecond ahead.
        Dialect::Postgres => "CAST(floor(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)",
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// This process as a node of a cluster: the rows it claims carry its name and a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId {
    pub name: String,
    /// How long a claimed run's lease lasts without renewal.
    pub lease_ms: i64,
}

/// What a node says at each heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Beat<'a> {
    pub name: &'a str,
    pub tags: &'a [String],
    pub pid: u32,
    /// (job, hash of its file's text), when they changed since the last beat (or at the first).
    pub texts: Option<&'a [(String, String)]>,
    /// The runs going on this node.
    pub running: &'a [i64],
    /// The jobs whose text here is not the newest (from the last beat's answer).
    pub diverged: &'a [String],
    /// The ledger's clock minus this node's (from the last beat).
    pub offset_ms: i64,
    pub lease_ms: i64,
    /// A node whose last beat is older than this is not live.
    pub live_ms: i64,
}

/// What the ledger answers a heartbeat.
#[derive(Debug, Clone, Default)]
pub struct BeatAnswer {
    /// The ledger's clock at the beat (Unix ms).
    pub now_ms: i64,
    /// The ledger's clock (Unix µs) as the statement ends, its last row made (only its commit
    /// and the answer's way back follow: the tightest bound of a node's offset).
    pub now_us: i64,
    /// The runs of this node whose lease was renewed (a run going here that is not among them
    /// was taken over: it is to be stopped).
    pub renewed: Vec<i64>,
    /// Each job's newest text (its hash) among the live nodes.
    pub newest: HashMap<String, String>,
    /// The runs of other nodes whose lease had ended, now `interrupted` by this beat.
    pub lost: Vec<LostRun>,
    /// When the first silence whose end is not yet told ends (it may have ended already): a
    /// silence added or ended anywhere in the cluster is seen at the next beat.
    pub silence_end: Option<i64>,
}

/// A run whose node was lost (its lease ended), now marked `interrupted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRun {
    pub id: i64,
    pub job: String,
    pub slot: i64,
    pub node: Option<String>,
    pub trigger: String,
}

/// A node as `clawcron nodes` and the dashboard show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeRow {
    pub name: String,
    pub tags: Vec<String>,
    pub pid: i64,
    pub started_at: i64,
    pub beat_at: i64,
    pub stopped_at: Option<i64>,
    pub offset_ms: i64,
    pub running: Vec<i64>,
    pub diverged: Vec<String>,
    /// Whether its last beat is recent (within the live window the caller gave).
    pub live: bool,
}

impl Store {
    /// Makes this store's claims those of node `node` (cluster mode).
    pub fn join_cluster(&self, node: NodeId) {
        *self.node.write().unwrap_or_else(|p| p.into_inner()) = Some(node);
    }

    /// This process's node, in cluster mode.
    pub fn node(&self) -> Option<NodeId> {
        self.node.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The ledger's clock (Unix ms).
    pub fn ledger_now_ms(&self) -> Result<i64, StoreError> {
        let d = self.dialect();
        self.with_conn(|c| c.value(&format!("SELECT {}", now_sql(d)), args![]))
    }

    /// One heartbeat, in one statement (one round trip, atomic): the node's row upserted, the
    /// leases of its runs and locks renewed, the runs of other nodes whose lease ended marked
    /// `interrupted` (returned as `lost`), each job's newest text among live nodes read. The
    /// node's job texts are written before it in the same transaction, only when they changed.
    /// PostgreSQL only (a cluster's ledger is); awaited on the ledger's thread (see
    /// `db::PgPool::batch`), or through `PgPool::wait`.
    pub async fn beat(&self, b: &Beat<'_>) -> Result<BeatAnswer, StoreError> {
        let pool = self.pg_pool()?;
        let now = now_sql(Dialect::Postgres);
        let tags = serde_json::to_string(b.tags).unwrap_or_else(|_| "[]".into());
        let running = serde_json::to_string(b.running).unwrap_or_else(|_| "[]".into());
        let diverged = serde_json::to_string(b.diverged).unwrap_or_else(|_| "[]".into());
        let mut stmts = Vec::new();
        if let Some(texts) = b.texts {
            stmts.push(Stmt::new(
                "DELETE FROM job_texts WHERE node = ?1",
                args![b.name],
            ));
            for (job, hash) in texts {
                stmts.push(Stmt::new(
                    "INSERT INTO job_texts (node, job, hash) VALUES (?1, ?2, ?3)",
                    args![b.name, job, hash],
                ));
                stmts.push(Stmt::new(
                    format!(
                        "INSERT INTO job_hashes (job, hash, first_seen) VALUES (?1, ?2, {now})
                         ON CONFLICT (job, hash) DO NOTHING"
                    ),
                    args![job, hash],
                ));
            }
        }
        stmts.push(Stmt::new(
            format!(
                "WITH clock AS (SELECT {now} AS now),
                 node AS (
                     INSERT INTO nodes (name, tags, pid, started_at, beat_at, offset_ms, running, diverged)
                     SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT), now, now,
                            CAST(?4 AS BIGINT), CAST(?5 AS TEXT), CAST(?6 AS TEXT) FROM clock
                     ON CONFLICT (name) DO UPDATE SET tags = excluded.tags, pid = excluded.pid,
                         started_at = CASE WHEN nodes.pid = excluded.pid AND nodes.stopped_at IS NULL
                                           THEN nodes.started_at ELSE excluded.started_at END,
                         beat_at = excluded.beat_at, stopped_at = NULL, offset_ms = excluded.offset_ms,
                         running = excluded.running, diverged = excluded.diverged
                     RETURNING 1),
                 renewed AS (
                     UPDATE runs SET lease_until = (SELECT now FROM clock) + CAST(?7 AS BIGINT)
                     WHERE node = ?1 AND status = 'running' RETURNING id),
                 held AS (
                     UPDATE locks SET lease_until = (SELECT now FROM clock) + CAST(?7 AS BIGINT)
                     WHERE node = ?1 RETURNING 1),
                 lost AS (
                     UPDATE runs SET status = 'interrupted', finished_at = (SELECT now FROM clock),
                         lease_until = NULL,
                         reason = 'node ' || coalesce(node, '?') || ' lost: its lease ended without renewal (taken over by ' || ?1 || ')'
                     WHERE status = 'running' AND lease_until IS NOT NULL
                       AND lease_until < (SELECT now FROM clock) AND node <> ?1
                     RETURNING id, job, slot, node, trigger),
                 newest AS (
                     SELECT DISTINCT ON (t.job) t.job, t.hash FROM job_texts t
                       JOIN nodes n ON n.name = t.node
                       JOIN job_hashes h ON h.job = t.job AND h.hash = t.hash
                     WHERE n.stopped_at IS NULL AND n.beat_at >= (SELECT now FROM clock) - CAST(?8 AS BIGINT)
                     ORDER BY t.job, h.first_seen DESC, t.hash),
                 silence AS (SELECT min(ends_at) AS t FROM silences WHERE told = 0)
                 SELECT 'now', CAST(NULL AS TEXT), now, CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT)
                   FROM clock WHERE (SELECT count(*) FROM node) + (SELECT count(*) FROM held) >= 0
                 UNION ALL SELECT 'renewed', NULL, id, NULL, NULL, NULL FROM renewed
                 UNION ALL SELECT 'lost', job, id, slot, node, trigger FROM lost
                 UNION ALL SELECT 'newest', job, NULL, NULL, hash, NULL FROM newest
                 UNION ALL SELECT 'silence', NULL, t, NULL, NULL, NULL FROM silence
                 UNION ALL SELECT 'end', NULL, NULL,
                     CAST(floor(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000) AS BIGINT), NULL, NULL"
            ),
            args![
                b.name,
                tags,
                b.pid,
                b.offset_ms,
                running,
                diverged,
                b.lease_ms,
                b.live_ms
            ],
        ));
        let mut rows = pool.batch(&stmts).await.map_err(StoreError::Sql)?;
        let mut answer = BeatAnswer::default();
        for r in rows.pop().unwrap_or_default() {
            let kind: String = r.get(0)?;
            match kind.as_str() {
                "now" => answer.now_ms = r.get(2)?,
                "end" => answer.now_us = r.get(3)?,
                "renewed" => answer.renewed.push(r.get(2)?),
                "silence" => answer.silence_end = r.get(2)?,
                "lost" => answer.lost.push(LostRun {
                    id: r.get(2)?,
                    job: r.get(1)?,
                    slot: r.get(3)?,
                    node: r.get(4)?,
                    trigger: r.get(5)?,
                }),
                _ => {
                    answer.newest.insert(r.get(1)?, r.get(4)?);
                }
            }
        }
        Ok(answer)
    }

    /// Records that node `name` stopped cleanly.
    pub fn leave_cluster(&self, name: &str) -> Result<(), StoreError> {
        let now = now_sql(self.dialect());
        self.with_conn(|c| {
            c.execute(
                &format!("UPDATE nodes SET stopped_at = {now}, running = '[]' WHERE name = ?1"),
                args![name],
            )
        })?;
        Ok(())
    }

    /// Every node that ever beat into the ledger; `live` if its last beat is within `live_ms`.
    pub fn nodes(&self, live_ms: i64) -> Result<Vec<NodeRow>, StoreError> {
        let now = now_sql(self.dialect());
        self.with_conn(|c| {
            c.query_map(
                &format!(
                    "SELECT name, tags, pid, started_at, beat_at, stopped_at, offset_ms, running, diverged,
                            CASE WHEN stopped_at IS NULL AND beat_at >= {now} - ?1 THEN 1 ELSE 0 END
                     FROM nodes ORDER BY name"
                ),
                args![live_ms],
                |r| {
                    let list = |i: usize| -> Result<String, DbError> { r.get(i) };
                    Ok(NodeRow {
                        name: r.get(0)?,
                        tags: serde_json::from_str(&list(1)?).unwrap_or_default(),
                        pid: r.get(2)?,
                        started_at: r.get(3)?,
                        beat_at: r.get(4)?,
                        stopped_at: r.get(5)?,
                        offset_ms: r.get(6)?,
                        running: serde_json::from_str(&list(7)?).unwrap_or_default(),
                        diverged: serde_json::from_str(&list(8)?).unwrap_or_default(),
                        live: r.get(9)?,
                    })
                },
            )
        })
    }

    /// Claims the retry of a run lost with its node (trigger `retry`, the lost run's slot),
    /// once per lost run: `None` if another node claimed it.
    pub fn start_retry(
        &self,
        job: &str,
        slot: i64,
        cause: &str,
        boot_id: &str,
        now_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let (node, lease) = self.node_lease();
        let now = now_sql(self.dialect());
        let pid = i64::from(std::process::id());
        self.with_conn(|c| {
            c.value_opt(
                &format!(
                    "INSERT INTO runs (job, trigger, slot, status, boot_id, daemon_pid, started_at, cause,
                                       node, lease_until, claimed_at)
                     VALUES (?1, 'retry', ?2, 'running', ?3, ?4, ?5, ?6, ?7, {now} + ?8, {now})
                     ON CONFLICT DO NOTHING RETURNING id"
                ),
                args![job, slot, boot_id, pid, now_ms, cause, node, lease],
            )
        })
    }

    /// Takes the named lock `name` for run `run_id` of this node, in one statement: free, or
    /// held under a lease that ended. Returns its fence (a new number each time it changes
    /// hands), or `None` if another run holds it.
    pub fn acquire_lock(&self, name: &str, run_id: i64) -> Result<Option<i64>, StoreError> {
        let (node, lease) = self.node_lease();
        let now = now_sql(self.dialect());
        self.with_conn(|c| {
            c.value_opt(
                &format!(
                    "INSERT INTO locks (name, node, run_id, fence, lease_until)
                     VALUES (?1, ?2, ?3, 1, {now} + ?4)
                     ON CONFLICT (name) DO UPDATE SET node = excluded.node, run_id = excluded.run_id,
                         fence = locks.fence + 1, lease_until = excluded.lease_until
                     WHERE locks.lease_until < {now}
                     RETURNING fence"
                ),
                args![name, node, run_id, lease],
            )
        })
    }

    /// Releases lock `name` if this fence still holds it.
    pub fn release_lock(&self, name: &str, fence: i64) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute(
                "DELETE FROM locks WHERE name = ?1 AND fence = ?2",
                args![name, fence],
            )
        })?;
        Ok(())
    }

    /// The node name and lease of this store's claims (both `None` outside a cluster).
    pub(super) fn node_lease(&self) -> (Option<String>, Option<i64>) {
        match self.node() {
            Some(n) => (Some(n.name), Some(n.lease_ms)),
            None => (None, None),
        }
    }
}
