//! The outbox's rows: enqueue (idempotent), pick what is due, record each attempt.

use crate::store::{Store, StoreError};
use rusqlite::params;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Item {
    pub id: i64,
    pub key: String,
    pub channel: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub answer: Option<String>,
}

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        id: r.get(0)?,
        key: r.get(1)?,
        channel: r.get(2)?,
        payload: r.get(3)?,
        status: r.get(4)?,
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
    /// Queues a notice; a second one with the same key is ignored. Returns whether it was new.
    pub fn enqueue_notice(
        &self,
        key: &str,
        channel: &str,
        payload: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = self.with_conn(|c| {
            c.execute(
                "INSERT INTO outbox (key, channel, payload, status, next_at, expires_at, created_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?4) ON CONFLICT (key) DO NOTHING",
                params![key, channel, crate::redact::scrub(payload), now_ms, now_ms + ttl_ms],
            )
        })?;
        Ok(n == 1)
    }

    /// Pending notices due at `now_ms`, oldest first; expired ones are marked so on the way.
    pub fn due_notices(&self, now_ms: i64, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.with_conn(|c| {
            c.execute(
                "UPDATE outbox SET status = 'expired', last_error = coalesce(last_error, 'not delivered') || ' (expired)'
                 WHERE status = 'pending' AND expires_at <= ?1",
                [now_ms],
            )?;
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now_ms, limit as i64], item)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// When the next pending notice is due, if any.
    pub fn next_notice_at(&self) -> Result<Option<i64>, StoreError> {
        self.with_conn(|c| {
            c.query_row(
                "SELECT min(next_at) FROM outbox WHERE status = 'pending'",
                [],
                |r| r.get(0),
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
                "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2, answer = ?3 WHERE id = ?1",
                params![id, now_ms, scrub(answer)],
            ),
            Delivery::Retry { error, at } => c.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                params![id, at, scrub(error)],
            ),
            Delivery::Failed { error } => c.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, scrub(error)],
            ),
        })?;
        Ok(())
    }

    /// The newest notices, for `clawcron notifications`.
    pub fn notices(&self, limit: usize) -> Result<Vec<Item>, StoreError> {
        self.with_conn(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"
            ))?;
            let rows = stmt
                .query_map([limit as i64], item)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent { answer: String },
    Retry { error: String, at: i64 },
    Failed { error: String },
}
