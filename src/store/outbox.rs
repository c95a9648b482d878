//! The outbox's rows: enqueue (idempotent), claim what is due, record each attempt. A notice is
//! claimed before it is sent (a lease a little longer than a send may take), so that two
//! processes on one ledger (a daemon and a `clawcron trigger` run without one) never send the
//! same notice twice.

use super::db::{Conn, DbError, Row, args};
use super::{Store, StoreError};
use crate::model::{Delivery, Notice, NoticeStatus};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Item {
    pub id: i64,
    pub key: String,
    pub channel: String,
    pub payload: String,
    pub status: NoticeStatus,
    pub attempts: i64,
    pub next_at: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub answer: Option<String>,
}

fn item(r: &Row) -> Result<Item, DbError> {
    Ok(Item {
        id: r.get(0)?,
        key: r.get(1)?,
        channel: r.get(2)?,
        payload: r.get(3)?,
        status: super::status_at(r, 4, NoticeStatus::parse)?,
        attempts: r.get(5)?,
        next_at: r.get(6)?,
        expires_at: r.get(7)?,
        created_at: r.get(8)?,
        sent_at: r.get(9)?,
        last_error: r.get(10)?,
        answer: r.get(11)?,
    })
}

const COLUMNS: &str = "id, key, channel, payload, status, attempts, next_at, expires_at, created_at, sent_at, last_error, answer";

impl Store {
    /// Queues notices in one transaction; one with a key already queued is ignored. Returns how
    /// many were new, and wakes the dispatcher if any.
    pub fn enqueue_notices(&self, notices: &[Notice]) -> Result<usize, StoreError> {
        if notices.is_empty() {
            return Ok(0);
        }
        let n = self.in_tx(|c| enqueue_on(c, notices))?;
        if n > 0 {
            self.outbox_wake.notify_one();
        }
        Ok(n)
    }

    /// Claims up to `limit` pending notices due at `now_ms`, oldest first, for `lease_ms`: no
    /// other process picks them until the lease ends or their delivery is recorded. A notice
    /// waits for the older pending notices of its lane (its job) to the same channel: one job's
    /// notices arrive in order. Expired notices are marked so on the way.
    pub fn claim_notices(
        &self,
        now_ms: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<Item>, StoreError> {
        // In a cluster, leases are judged on the ledger's clock (a node whose clock runs ahead
        // must not see another node's claim as ended), and two nodes claiming at once each
        // skip the rows the other has locked: one node per notice.
        let cluster = self.node().is_some();
        let skip_locked = match self.dialect() {
            super::db::Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            super::db::Dialect::Sqlite => "",
        };
        let clock = super::cluster::now_sql(self.dialect());
        self.with_conn(|c| {
            let now_ms: i64 = if cluster {
                c.value(&format!("SELECT {clock}"), args![])?
            } else {
                now_ms
            };
            c.execute(
                "UPDATE outbox SET status = 'expired', last_error = coalesce(last_error, 'not delivered') || ' (expired)'
                 WHERE status = 'pending' AND expires_at <= ?1",
                args![now_ms],
            )?;
            let mut rows = c.query_map(&format!(
                "UPDATE outbox SET claimed_until = ?3, claimed_by = ?4
                 WHERE id IN (SELECT id FROM outbox o WHERE status = 'pending' AND next_at <= ?1
                              AND coalesce(claimed_until, 0) <= ?1
                              -- in order within a lane: only its oldest pending notice
                              AND (lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e
                                   WHERE e.status = 'pending' AND e.channel = o.channel
                                   AND e.lane = o.lane AND e.id < o.id))
                              ORDER BY next_at, id LIMIT ?2 {skip_locked})
                   AND status = 'pending' AND coalesce(claimed_until, 0) <= ?1
                 RETURNING {COLUMNS}"
                ),
                args![now_ms, limit as i64, now_ms + lease_ms, std::process::id()],
                item,
            )?;
            rows.sort_by_key(|r| (r.next_at, r.id));
            Ok(rows)
        })
    }

    /// Releases the claims of processes that are gone (`alive(pid)` says which are not), so
    /// that a notice a killed process had claimed (and the notices of its lane behind it) go
    /// now rather than when the lease ends. Returns how many were released.
    pub fn release_dead_claims(&self, alive: impl Fn(i64) -> bool) -> Result<usize, StoreError> {
        // A pid names a process on one machine only: in a cluster a claim ends with its lease.
        if self.node().is_some() {
            return Ok(0);
        }
        let holders: Vec<i64> = self.with_conn(|c| {
            c.query_map(
                "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'pending'
                 AND claimed_until IS NOT NULL AND claimed_by IS NOT NULL",
                args![],
                |r| r.get(0),
            )
        })?;
        let mut n = 0;
        for pid in holders.into_iter().filter(|p| !alive(*p)) {
            n += self.with_conn(|c| {
                c.execute(
                    "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL
                     WHERE status = 'pending' AND claimed_by = ?1",
                    args![pid],
                )
            })?;
        }
        Ok(n)
    }

    /// The dispatcher's wake-up: notified whenever a notice is queued (by any path).
    pub fn outbox_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    /// When the next pending notice is due, if any.
    pub fn next_notice_at(&self) -> Result<Option<i64>, StoreError> {
        self.with_conn(|c| {
            c.value(
                "SELECT min(GREATEST(next_at, coalesce(claimed_until, 0))) FROM outbox o WHERE status = 'pending'
                   AND (lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox e
                        WHERE e.status = 'pending' AND e.channel = o.channel
                        AND e.lane = o.lane AND e.id < o.id))",
                args![],
            )
        })
    }

    /// Records one delivery attempt: sent, to retry at `retry_at`, or failed for good.
    pub fn record_delivery(
        &self,
        id: i64,
        outcome: &Delivery,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let scrub = |s: &str| crate::redact::scrub(s).into_owned();
        self.with_conn(|c| match outcome {
            Delivery::Sent { answer } => c.execute(
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, answer = ?3, claimed_until = NULL WHERE id = ?1",
                args![id, now_ms, scrub(answer)],
            ),
            Delivery::Retry { error, at } => c.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3, claimed_until = NULL WHERE id = ?1",
                args![id, at, scrub(error)],
            ),
            Delivery::Failed { error } => c.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2, claimed_until = NULL WHERE id = ?1",
                args![id, scrub(error)],
            ),
        })?;
        Ok(())
    }

    /// The newest notices, for `clawcron notifications`.
    pub fn notices(&self, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.with_conn(|c| {
            c.query_map(
                &format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"),
                args![limit as i64],
                item,
            )
        })
    }
}

/// How long a queued notice is retried before it expires.
pub const NOTICE_TTL_MS: i64 = 24 * 3600 * 1000;

/// Inserts notices on `conn` (inside the caller's transaction); returns how many were new.
pub(super) fn enqueue_on(c: &mut dyn Conn, notices: &[Notice]) -> Result<usize, StoreError> {
    let mut new = 0;
    for n in notices {
        new += c.execute(
            "INSERT INTO outbox (key, channel, payload, status, next_at, expires_at, created_at, lane, last_error)
             VALUES (?1, ?2, ?3, CASE WHEN CAST(?7 AS TEXT) IS NULL THEN 'pending' ELSE 'silenced' END, ?4, ?5, ?4, ?6, ?7)
             ON CONFLICT (key) DO NOTHING",
            args![
                n.key,
                n.channel,
                crate::redact::scrub(&n.payload.to_string()).as_ref(),
                n.at_ms,
                n.at_ms + NOTICE_TTL_MS,
                n.payload.get("job").and_then(|j| j.as_str()),
                n.quiet,
            ],
        )?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(key: &str) -> Notice {
        Notice {
            key: key.into(),
            channel: "hook".into(),
            payload: serde_json::json!({ "event": "failure" }),
            at_ms: 1_000,
            quiet: None,
        }
    }

    #[test]
    fn a_claimed_notice_is_not_picked_by_a_second_process_until_its_lease_ends() {
        let dir = tempfile::tempdir().unwrap();
        // Two handles on one ledger, as a daemon and a `clawcron trigger` have.
        let daemon = Store::open(dir.path()).unwrap();
        let cli = Store::open(dir.path()).unwrap();
        assert_eq!(
            daemon
                .enqueue_notices(&[notice("run:1:failure:hook"), notice("run:1:failure:hook")])
                .unwrap(),
            1,
            "a key is queued once"
        );
        let mine = daemon.claim_notices(2_000, 10, 30_000).unwrap();
        assert_eq!(mine.len(), 1);
        assert!(cli.claim_notices(2_000, 10, 30_000).unwrap().is_empty());
        assert!(cli.claim_notices(31_000, 10, 30_000).unwrap().is_empty());
        // Past the lease (its sender died mid-send), another process may try it.
        assert_eq!(cli.claim_notices(32_001, 10, 30_000).unwrap().len(), 1);
        // Once delivered it is never picked again.
        cli.record_delivery(
            mine[0].id,
            &Delivery::Sent {
                answer: "200".into(),
            },
            33_000,
        )
        .unwrap();
        assert!(
            daemon
                .claim_notices(99_000_000, 10, 30_000)
                .unwrap()
                .is_empty()
        );
        assert_eq!(daemon.notices(10).unwrap()[0].status, NoticeStatus::Sent);
    }

    #[test]
    fn queueing_a_notice_wakes_the_dispatcher() {
        let store = Store::open_in_memory().unwrap();
        let wake = store.outbox_wake();
        store.enqueue_notices(&[notice("k:hook")]).unwrap();
        // A permit is stored: the next wait returns at once.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_millis(100), wake.notified())
                .await
                .expect("woken")
        });
    }

    #[test]
    fn one_jobs_notices_to_a_channel_go_in_order_even_across_a_retry() {
        let store = Store::open_in_memory().unwrap();
        let of = |key: &str, job: &str, at: i64| Notice {
            key: key.into(),
            channel: "hook".into(),
            payload: serde_json::json!({ "event": key, "job": job }),
            at_ms: at,
            quiet: None,
        };
        store
            .enqueue_notices(&[
                of("fired", "health", 1_000),
                of("remediated", "health", 1_500),
                of("other", "bench", 1_200),
            ])
            .unwrap();
        let keys = |v: &[Item]| v.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
        // Only the head of each lane is claimable.
        let first = store.claim_notices(2_000, 10, 1).unwrap();
        assert_eq!(keys(&first), ["fired", "other"]);
        // `fired` is retried later: `remediated` still waits for it.
        store
            .record_delivery(
                first[1].id,
                &Delivery::Sent {
                    answer: "200".into(),
                },
                2_000,
            )
            .unwrap();
        store
            .record_delivery(
                first[0].id,
                &Delivery::Retry {
                    error: "503".into(),
                    at: 5_000,
                },
                2_000,
            )
            .unwrap();
        assert!(
            store
                .claim_notices(3_000, 10, 1)
                .unwrap()
                .iter()
                .all(|i| i.key != "remediated")
        );
        assert_eq!(
            store.next_notice_at().unwrap(),
            Some(5_000),
            "no busy wait on a blocked lane"
        );
        let again = store.claim_notices(5_000, 10, 1).unwrap();
        assert_eq!(keys(&again)[0], "fired");
        store
            .record_delivery(
                again[0].id,
                &Delivery::Sent {
                    answer: "200".into(),
                },
                5_000,
            )
            .unwrap();
        assert_eq!(
            keys(&store.claim_notices(5_001, 10, 1).unwrap()),
            ["remediated"]
        );
    }
}
