//! Paused jobs, silences and maintenance windows, kept in the ledger so that they survive
//! restarts (and hold for every process on one ledger).

use super::db::{DbError, Row, args};
use super::{Store, StoreError};
use crate::model::{Pause, Silence, Window};

fn silence(r: &Row) -> Result<Silence, DbError> {
    Ok(Silence {
        id: r.get(0)?,
        job: r.get(1)?,
        rule: r.get(2)?,
        reason: r.get(3)?,
        by: r.get(4)?,
        created_at_ms: r.get(5)?,
        ends_at_ms: r.get(6)?,
    })
}

const SILENCE: &str = "id, job, rule, reason, by, created_at, ends_at";

fn window(r: &Row) -> Result<Window, DbError> {
    let quiets: String = r.get(3)?;
    Ok(Window {
        id: r.get(0)?,
        by_job: r.get(1)?,
        run_id: r.get(2)?,
        quiets: serde_json::from_str(&quiets).unwrap_or_default(),
        started_at_ms: r.get(4)?,
        ends_at_ms: r.get(5)?,
    })
}

/// The windows a claim's statement read, as PostgreSQL's `json_agg` of
/// `[id, by_job, run_id, quiets, started_at, ends_at]` arrays.
pub(super) fn windows_from_json(text: &str) -> Option<Vec<Window>> {
    type Tuple = (i64, String, i64, String, i64, Option<i64>);
    let list = serde_json::from_str::<Vec<Tuple>>(text).ok()?;
    let windows = list
        .into_iter()
        .map(
            |(id, by_job, run_id, quiets, started_at_ms, ends_at_ms)| Window {
                id,
                by_job,
                run_id,
                quiets: serde_json::from_str(&quiets).unwrap_or_default(),
                started_at_ms,
                ends_at_ms,
            },
        )
        .collect();
    Some(windows)
}

/// The pauses a claim's statement read, as `json_agg` of `[job, reason, by, at]` arrays.
pub(super) fn pauses_from_json(text: &str) -> Option<Vec<Pause>> {
    let list = serde_json::from_str::<Vec<(String, String, String, i64)>>(text).ok()?;
    Some(
        list.into_iter()
            .map(|(job, reason, by, at_ms)| Pause {
                job,
                reason,
                by,
                at_ms,
            })
            .collect(),
    )
}

fn pause(r: &Row) -> Result<Pause, DbError> {
    Ok(Pause {
        job: r.get(0)?,
        reason: r.get(1)?,
        by: r.get(2)?,
        at_ms: r.get(3)?,
    })
}

impl Store {
    /// Pauses `job` (again: the new reason replaces the old).
    pub fn pause(&self, job: &str, reason: &str, by: &str, at_ms: i64) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO pauses (job, reason, by, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job) DO UPDATE SET reason = excluded.reason, by = excluded.by, at = excluded.at",
                args![job, reason, by, at_ms],
            )
        })?;
        Ok(())
    }

    /// Resumes `job`; returns the pause it ended, if it was paused.
    pub fn resume(&self, job: &str) -> Result<Option<Pause>, StoreError> {
        self.with_conn(|c| {
            c.query_opt(
                "DELETE FROM pauses WHERE job = ?1 RETURNING job, reason, by, at",
                args![job],
            )?
            .as_ref()
            .map(pause)
            .transpose()
        })
    }

    pub fn pauses(&self) -> Result<Vec<Pause>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT job, reason, by, at FROM pauses ORDER BY job",
                args![],
                pause,
            )
        })
    }

    /// Adds a silence; returns its id.
    pub fn add_silence(&self, s: &Silence) -> Result<i64, StoreError> {
        self.with_conn(|c| {
            c.value(
                "INSERT INTO silences (job, rule, reason, by, created_at, ends_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                args![s.job, s.rule, s.reason, s.by, s.created_at_ms, s.ends_at_ms],
            )
        })
    }

    /// Ends silence `id` now (its end is told as any silence's). Returns it, if it was active.
    pub fn end_silence(&self, id: i64, now_ms: i64) -> Result<Option<Silence>, StoreError> {
        self.with_conn(|c| {
            c.query_opt(
                &format!(
                    "UPDATE silences SET ends_at = ?2 WHERE id = ?1 AND ends_at > ?2 RETURNING {SILENCE}"
                ),
                args![id, now_ms],
            )?
            .as_ref()
            .map(silence)
            .transpose()
        })
    }

    /// Silences still active at `now_ms`.
    pub fn active_silences(&self, now_ms: i64) -> Result<Vec<Silence>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                &format!("SELECT {SILENCE} FROM silences WHERE ends_at > ?1 ORDER BY ends_at, id"),
                args![now_ms],
                silence,
            )
        })
    }

    /// Silences that ended by `now_ms` and whose end was not told yet.
    pub fn silences_to_tell(&self, now_ms: i64) -> Result<Vec<Silence>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                &format!(
                    "SELECT {SILENCE} FROM silences WHERE ends_at <= ?1 AND told = 0 ORDER BY ends_at, id"
                ),
                args![now_ms],
                silence,
            )
        })
    }

    /// Claims the telling of silence `id`'s end: true for the one process (of all the nodes
    /// of a cluster) that is to tell it.
    pub fn silence_told(&self, id: i64) -> Result<bool, StoreError> {
        let n = self.with_conn(|c| {
            c.execute(
                "UPDATE silences SET told = 1 WHERE id = ?1 AND told = 0",
                args![id],
            )
        })?;
        Ok(n == 1)
    }

    /// When the next active silence ends, if any.
    pub fn next_silence_end(&self, now_ms: i64) -> Result<Option<i64>, StoreError> {
        self.with_conn(|c| {
            c.value(
                "SELECT min(ends_at) FROM silences WHERE told = 0 AND ends_at > ?1",
                args![now_ms],
            )
        })
    }

    /// Opens a maintenance window of run `run_id` of `by_job` over `quiets`; returns its id.
    pub fn open_window(
        &self,
        by_job: &str,
        run_id: i64,
        quiets: &[String],
        started_ms: i64,
    ) -> Result<i64, StoreError> {
        let quiets = serde_json::to_string(quiets).unwrap_or_else(|_| "[]".into());
        self.with_conn(|c| {
            c.value(
                "INSERT INTO maintenance (by_job, run_id, quiets, started_at) VALUES (?1, ?2, ?3, ?4)
                 RETURNING id",
                args![by_job, run_id, quiets, started_ms],
            )
        })
    }

    /// Sets the end of window `id` (its run's end plus the grace).
    pub fn close_window(&self, id: i64, ends_ms: i64) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE maintenance SET ends_at = ?2 WHERE id = ?1",
                args![id, ends_ms],
            )
        })?;
        Ok(())
    }

    /// Windows open at `now_ms` (running, or in their grace). A window a crashed daemon left
    /// open is closed at `now_ms + grace_ms` first.
    pub fn open_windows(
        &self,
        now_ms: i64,
        stale_grace_ms: Option<i64>,
    ) -> Result<Vec<Window>, StoreError> {
        self.with_conn(|c| {
            if let Some(g) = stale_grace_ms {
                c.execute(
                    "UPDATE maintenance SET ends_at = ?1 WHERE ends_at IS NULL",
                    args![now_ms + g],
                )?;
            }
            c.query_map(
                "SELECT id, by_job, run_id, quiets, started_at, ends_at FROM maintenance
                 WHERE ends_at IS NULL OR ends_at > ?1 ORDER BY id",
                args![now_ms],
                window,
            )
        })
    }
}
