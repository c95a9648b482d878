//! External jobs' ping keys (hashed) and the in-place update of a slot pinged late.

use super::{Store, StoreError, status_at};
use crate::model::{Metric, RunStatus};
use rusqlite::{OptionalExtension, params};

/// What a late ping makes of its slot's row.
#[derive(Debug, Clone)]
pub struct LateRow<'a> {
    pub status: RunStatus,
    pub reason: &'a str,
    pub error: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub output: &'a str,
    /// When the ping came (Unix ms).
    pub at_ms: i64,
    pub metrics: &'a [Metric],
}

impl Store {
    /// Sets `job`'s ping key (its hash), replacing any older one.
    pub fn set_ping_key(&self, job: &str, hash: &str, now_ms: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO ping_keys (job, hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (job) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at",
            params![job, hash, now_ms],
        )?;
        Ok(())
    }

    /// The hash of `job`'s ping key, if it has one.
    pub fn ping_key_hash(&self, job: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT hash FROM ping_keys WHERE job = ?1", [job], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// When `job`'s ping key was made (Unix ms), if it has one.
    pub fn ping_key_made(&self, job: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT created_at FROM ping_keys WHERE job = ?1",
                [job],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The latest schedule slot of `job` at or before `at_s` that was not skipped: (run id,
    /// slot, status).
    pub fn latest_slot_run(
        &self,
        job: &str,
        at_s: i64,
    ) -> Result<Option<(i64, i64, RunStatus)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, slot, status FROM runs
                 WHERE job = ?1 AND trigger = 'schedule' AND slot <= ?2 AND status != 'skipped'
                 ORDER BY slot DESC LIMIT 1",
                params![job, at_s],
                |r| Ok((r.get(0)?, r.get(1)?, status_at(r, 2, RunStatus::parse)?)),
            )
            .optional()?)
    }

    /// Updates the row of a slot pinged late, in place, with its metrics; one UPDATE, guarded
    /// so that a row that succeeded (or still runs) is never touched. Returns whether it was.
    pub fn mark_late(&self, run_id: i64, late: &LateRow<'_>) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE runs SET status = ?2, reason = ?3, error = ?4, exit_code = ?5,
                 output_tail = ?6, finished_at = ?7, duration_ms = NULL
             WHERE id = ?1 AND status NOT IN ('succeeded', 'running')",
            params![
                run_id,
                late.status.as_str(),
                late.reason,
                late.error,
                late.exit_code,
                late.output,
                late.at_ms
            ],
        )?;
        if changed > 0 {
            let mut insert = tx.prepare_cached(
                "INSERT INTO metrics (run_id, job, name, value, at) SELECT ?1, job, ?2, ?3, ?4 FROM runs WHERE id = ?1",
            )?;
            for m in late.metrics.iter().filter(|m| m.value.is_finite()) {
                insert.execute(params![run_id, m.name, m.value, late.at_ms])?;
            }
        }
        tx.commit()?;
        Ok(changed > 0)
    }
}
