//! What reports and baselines read from the ledger: runs, figures, alert events and notices of a
//! period; the daemon's own sessions (for its downtime); pinned baselines.

use super::db::{Conn, DbError, args};
use super::{OWN_RUN, RunRow, Store, StoreError};

/// One pinned "before" figure.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Baseline {
    pub job: String,
    pub metric: String,
    pub value: f64,
    pub pinned_at: i64,
    pub label: Option<String>,
}

/// A span of time the daemon was not running (between two sessions).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Gap {
    pub from_ms: i64,
    pub to_ms: i64,
    /// Whether the session before it ended with a clean shutdown (else it crashed or the
    /// machine stopped; its end is then its last heartbeat).
    pub clean: bool,
}

/// A notice of the outbox, as reports count them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NoticeRow {
    pub channel: String,
    pub key: String,
    pub status: crate::model::NoticeStatus,
    pub created_at: i64,
    pub last_error: Option<String>,
}

/// While the daemon runs, its session's `alive_at` is never older than this. It is refreshed in
/// the transactions that record due slots (which happen anyway, at most once a minute), and by a
/// timer only when nothing was recorded for this long: an idle daemon wakes once in 5 minutes,
/// not once a minute. The start of a crash's downtime is known to within it.
pub const HEARTBEAT_MS: i64 = 300_000;

/// Refreshes of `alive_at` made along with slot records are at most this frequent.
pub(super) const BEAT_MIN_MS: i64 = 60_000;

impl Store {
    /// Records the start of a daemon session; returns its id. This store then refreshes the
    /// session's `alive_at` (see `HEARTBEAT_MS`).
    pub fn start_session(&self, boot_id: &str, now_ms: i64) -> Result<i64, StoreError> {
        let id: i64 = self.with_conn(|c| {
            c.value(
                "INSERT INTO daemon_sessions (boot_id, pid, started_at, alive_at) VALUES (?1, ?2, ?3, ?3) RETURNING id",
                args![boot_id, std::process::id(), now_ms],
            )
        })?;
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some((id, now_ms));
        Ok(id)
    }

    /// Records that the daemon is alive now (the heartbeat timer).
    pub fn session_alive(&self, now_ms: i64) -> Result<(), StoreError> {
        let Some((id, _)) = *self.session.lock().unwrap_or_else(|p| p.into_inner()) else {
            return Ok(());
        };
        self.with_conn(|c| beat_on(c, id, now_ms))?;
        self.beat_recorded(now_ms);
        Ok(())
    }

    /// When `alive_at` was last written (Unix ms), if a session is open.
    pub fn last_beat_ms(&self) -> Option<i64> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(_, at)| at)
    }

    pub(super) fn beat_recorded(&self, now_ms: i64) {
        if let Some((_, at)) = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            *at = (*at).max(now_ms);
        }
    }

    pub fn end_session(&self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE daemon_sessions SET alive_at = ?2, stopped_at = ?2 WHERE id = ?1",
                args![id, now_ms],
            )
        })?;
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// The gaps between daemon sessions that overlap `[from, to)`, clipped to it.
    pub fn downtime(&self, from: i64, to: i64) -> Result<Vec<Gap>, StoreError> {
        let sessions = self.with_conn(|c| {
            c.query_map(
                "SELECT started_at, coalesce(stopped_at, alive_at), stopped_at IS NOT NULL
                 FROM daemon_sessions ORDER BY started_at, id",
                args![],
                |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<bool>(2)?)),
            )
        })?;
        let mut gaps = Vec::new();
        // Sessions of several nodes on one ledger overlap: the daemon was down only where none
        // ran. `covered`: the furthest end so far, and whether that session stopped cleanly.
        let mut covered: Option<(i64, bool)> = None;
        for &(start, end, clean) in &sessions {
            // A gap shorter than a heartbeat is not downtime (a crash's last beat may be up to
            // `HEARTBEAT_MS` old), except after a clean stop.
            if let Some((upto, was_clean)) = covered
                && start > upto
                && (was_clean || start - upto > HEARTBEAT_MS)
            {
                let (a, b) = (upto.max(from), start.min(to));
                if a < b {
                    gaps.push(Gap {
                        from_ms: a,
                        to_ms: b,
                        clean: was_clean,
                    });
                }
            }
            covered = match covered {
                Some((upto, c)) if upto >= end => Some((upto, c)),
                _ => Some((end, clean)),
            };
        }
        // After the last session, if it ended (stopped, or its beats stopped long ago): down
        // until `to`.
        if let Some((end, clean)) = covered
            && (clean || to - end > 2 * HEARTBEAT_MS)
            && end < to
        {
            let a = end.max(from);
            if a < to {
                gaps.push(Gap {
                    from_ms: a,
                    to_ms: to,
                    clean,
                });
            }
        }
        gaps.sort_by_key(|g| g.from_ms);
        Ok(gaps)
    }

    /// When the daemon first started on this ledger (Unix ms), if it ever did.
    pub fn first_start_ms(&self) -> Result<Option<i64>, StoreError> {
        self.with_conn(|c| c.value("SELECT min(started_at) FROM daemon_sessions", args![]))
    }

    /// Ledger rows whose slot is in `[from_ms, to_ms)`, oldest first.
    pub fn runs_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<RunRow>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                &format!(
                    "SELECT id, job, trigger, slot, status, reason, started_at, finished_at, attempts, exit_code,
                            duration_ms, error, NULL, boot_id, cause, node
                     FROM runs WHERE slot >= ?1 AND slot < ?2 AND {OWN_RUN} ORDER BY slot, id"
                ),
                args![from_ms.div_euclid(1000), to_ms.div_euclid(1000)],
                super::run_row,
            )
        })
    }

    /// Every (job, metric) the ledger holds, by index seeks (a few per pair, never a scan).
    pub fn metric_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        const NEXT_NAME: &str =
            "SELECT name FROM metrics WHERE job = ?1 AND name > ?2 ORDER BY name LIMIT 1";
        const NEXT_JOB: &str = "SELECT job FROM metrics WHERE job > ?1 ORDER BY job LIMIT 1";
        self.with_conn(|c| {
            let mut keys = Vec::new();
            let mut job: Option<String> = c.value_opt(NEXT_JOB, args![""])?;
            while let Some(j) = job {
                let mut last = String::new();
                while let Some(n) = c.value_opt::<String>(NEXT_NAME, args![j, last])? {
                    keys.push((j.clone(), n.clone()));
                    last = n;
                }
                job = c.value_opt(NEXT_JOB, args![j])?;
            }
            Ok(keys)
        })
    }

    /// A metric's samples in `[from, to)`, oldest first: (Unix ms, value).
    pub fn series(
        &self,
        job: &str,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT at, value FROM metrics WHERE job = ?1 AND name = ?2 AND at >= ?3 AND at < ?4 ORDER BY at",
                args![job, name, from, to],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// The figures of a job's last `n` successful runs: per metric, newest first.
    pub fn recent_successful_metrics(
        &self,
        job: &str,
        before_run: i64,
        n: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                &format!("SELECT m.name, m.value FROM metrics m
                 WHERE m.run_id IN (SELECT id FROM runs WHERE job = ?1 AND status = 'succeeded' AND id < ?2
                                    AND {OWN_RUN} ORDER BY id DESC LIMIT ?3)
                 ORDER BY m.run_id DESC"),
                args![job, before_run, n as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// The figures of a job's latest successful run.
    pub fn latest_metrics(&self, job: &str) -> Result<Vec<(String, f64)>, StoreError> {
        self.recent_successful_metrics(job, i64::MAX, 1)
    }

    /// Pins `values` as the job's baseline (replacing earlier pins of the same metrics).
    pub fn pin_baseline(
        &self,
        job: &str,
        values: &[(String, f64)],
        label: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.in_tx(|c| {
            for (metric, value) in values {
                c.execute(
                    "INSERT INTO baselines (job, metric, value, pinned_at, label) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (job, metric) DO UPDATE SET value = excluded.value,
                        pinned_at = excluded.pinned_at, label = excluded.label",
                    args![job, metric, value, now_ms, label],
                )?;
            }
            Ok(())
        })
    }

    pub fn baselines(&self) -> Result<Vec<Baseline>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT job, metric, value, pinned_at, label FROM baselines ORDER BY job, metric",
                args![],
                |r| {
                    Ok(Baseline {
                        job: r.get(0)?,
                        metric: r.get(1)?,
                        value: r.get(2)?,
                        pinned_at: r.get(3)?,
                        label: r.get(4)?,
                    })
                },
            )
        })
    }

    /// Notices created in `[from, to)`.
    pub fn notices_between(&self, from: i64, to: i64) -> Result<Vec<NoticeRow>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                "SELECT channel, key, status, created_at, last_error FROM outbox
                 WHERE created_at >= ?1 AND created_at < ?2 ORDER BY created_at, id",
                args![from, to],
                |r| {
                    Ok(NoticeRow {
                        channel: r.get(0)?,
                        key: r.get(1)?,
                        status: super::status_at(r, 2, crate::model::NoticeStatus::parse)?,
                        created_at: r.get(3)?,
                        last_error: r.get(4)?,
                    })
                },
            )
        })
    }
}

impl Store {
    /// How many notices wait to be delivered.
    pub fn pending_notices(&self) -> Result<i64, StoreError> {
        self.with_conn(|c| {
            c.value(
                "SELECT count(*) FROM outbox WHERE status = 'pending'",
                args![],
            )
        })
    }

    /// Each job's last success (Unix ms), from the runs retention keeps.
    pub fn last_success_by_job(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                &format!("SELECT job, max(finished_at) FROM runs WHERE status = 'succeeded' AND finished_at IS NOT NULL AND {OWN_RUN} GROUP BY job ORDER BY job"),
                args![],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }
}

/// Writes a session's `alive_at`.
pub(super) fn beat_on(c: &mut dyn Conn, id: i64, now_ms: i64) -> Result<usize, DbError> {
    c.execute(
        "UPDATE daemon_sessions SET alive_at = ?2 WHERE id = ?1",
        args![id, now_ms],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RunOutcome, RunStatus};

    fn ended(store: &Store, id: i64, status: RunStatus, at: i64) {
        store.finish_later(
            id,
            RunOutcome {
                status,
                reason: None,
                attempts: 1,
                started_at_ms: at,
                finished_at_ms: at + 1,
                exit_code: None,
                error: None,
                output_tail: String::new(),
                metrics: vec![crate::model::Metric::new("x", 1.0)]
                    .into_iter()
                    .filter(|_| status == RunStatus::Succeeded)
                    .collect(),
            },
        );
        store.flush();
    }

    #[test]
    fn downtime_is_when_no_node_ran_not_the_gap_after_one_nodes_session() {
        let store = Store::open_in_memory().unwrap();
        // Two nodes on one ledger: a long session and a short one inside it.
        let long = store.start_session("node-a", 0).unwrap();
        let short = store.start_session("node-b", 10_000).unwrap();
        store.end_session(short, 50_000).unwrap();
        store.end_session(long, 1_000_000).unwrap();
        store.start_session("node-a", 2_000_000).unwrap();
        assert_eq!(
            store.downtime(0, 2_100_000).unwrap(),
            vec![Gap {
                from_ms: 1_000_000,
                to_ms: 2_000_000,
                clean: true
            }]
        );
    }

    #[test]
    fn a_remediation_row_never_counts_as_one_of_its_jobs_own_runs() {
        let store = Store::open_in_memory().unwrap();
        let ok = store
            .start_run("health", "schedule", 1, "b", 1_000)
            .unwrap();
        ended(&store, ok, RunStatus::Succeeded, 1_000);
        let failed = store
            .start_run("health", "schedule", 2, "b", 2_000)
            .unwrap();
        ended(&store, failed, RunStatus::Failed, 2_000);
        let fix = store
            .start_run_caused(
                "health",
                "remediation",
                3,
                "b",
                3_000,
                "alert x fired by run 2",
            )
            .unwrap();
        ended(&store, fix, RunStatus::Succeeded, 3_000);
        let next = store
            .start_run("health", "schedule", 4, "b", 4_000)
            .unwrap();
        // Still failing since run 2: the remediation's success is not the job's recovery.
        assert_eq!(
            store.previous_outcome("health", next).unwrap(),
            Some((RunStatus::Failed, 2_000))
        );
        assert_eq!(
            store.last_success_by_job().unwrap(),
            vec![("health".to_string(), 1_001)]
        );
        assert_eq!(
            store.recent_successful_metrics("health", next, 1).unwrap(),
            vec![("x".to_string(), 1.0)],
            "the baseline window skips the remediation run"
        );
        let rows = store.runs_between(0, 10_000).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ok, failed, next]
        );
        // It is still in the job's history, with its cause.
        assert_eq!(store.history(Some("health"), 10).unwrap().len(), 4);
    }
}
