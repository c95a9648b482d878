//! External jobs' ping keys (hashed) and the in-place update of a slot pinged late.

use super::db::args;
use super::{Store, StoreError, status_at};
use crate::model::{Metric, RunStatus};

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
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO ping_keys (job, hash, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (job) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at",
                args![job, hash, now_ms],
            )
        })?;
        Ok(())
    }

    /// The hash of `job`'s ping key, if it has one.
    pub fn ping_key_hash(&self, job: &str) -> Result<Option<String>, StoreError> {
        self.with_conn(|c| c.value_opt("SELECT hash FROM ping_keys WHERE job = ?1", args![job]))
    }

    /// When `job`'s ping key was made (Unix ms), if it has one.
    pub fn ping_key_made(&self, job: &str) -> Result<Option<i64>, StoreError> {
        self.with_conn(|c| {
            c.value_opt(
                "SELECT created_at FROM ping_keys WHERE job = ?1",
                args![job],
            )
        })
    }

    /// The latest schedule slot of `job` at or before `at_s` that was not skipped: (run id,
    /// slot, status).
    pub fn latest_slot_run(
        &self,
        job: &str,
        at_s: i64,
    ) -> Result<Option<(i64, i64, RunStatus)>, StoreError> {
        self.with_conn(|c| {
            c.query_opt(
                "SELECT id, slot, status FROM runs
                 WHERE job = ?1 AND trigger = 'schedule' AND slot <= ?2 AND status != 'skipped'
                 ORDER BY slot DESC LIMIT 1",
                args![job, at_s],
            )?
            .map(|r| Ok((r.get(0)?, r.get(1)?, status_at(&r, 2, RunStatus::parse)?)))
            .transpose()
        })
    }

    /// Updates the row of a slot pinged late, in place, with its metrics; one UPDATE, guarded
    /// so that a row that succeeded (or still runs) is never touched. Returns whether it was.
    pub fn mark_late(&self, run_id: i64, late: &LateRow<'_>) -> Result<bool, StoreError> {
        let changed = self.in_tx(|c| {
            let changed = c.execute(
                "UPDATE runs SET status = ?2, reason = ?3, error = ?4, exit_code = ?5,
                     output_tail = ?6, finished_at = ?7, duration_ms = NULL
                 WHERE id = ?1 AND status NOT IN ('succeeded', 'running')",
                args![
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
                super::metrics_on(c, run_id, late.metrics, late.at_ms)?;
            }
            Ok(changed)
        })?;
        Ok(changed > 0)
    }
}
