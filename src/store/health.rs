//! Whether the ledger can be written. A full disk (or any write error) must not stop the daemon:
//! the scheduler keeps its due slots and retries them, the writer thread keeps run outcomes and
//! retries them, and this records the fault so that it is reported once when it starts, once a
//! minute while it lasts (in the log), at `/healthz`, `/api/status` and `/metrics`, and once when
//! it ends (a log line and a notice to `daemon_notify`, see `daemon::watch_ledger`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A stretch of time during which ledger writes failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteFault {
    /// When the first write failed (Unix milliseconds).
    pub since_ms: i64,
    /// When the fault ended (Unix milliseconds); `None` while it lasts.
    pub until_ms: Option<i64>,
    /// The first error, as SQLite gave it (e.g. "database or disk is full").
    pub error: String,
    /// How many writes failed.
    pub failures: u64,
}

#[derive(Default)]
pub struct WriteHealth {
    fault: Mutex<Option<WriteFault>>,
    /// Faults that ended and were not reported yet.
    ended: Mutex<Vec<WriteFault>>,
    errors_total: AtomicU64,
    /// Woken when a fault ends.
    pub changed: tokio::sync::Notify,
}

/// While a fault lasts, the log says so again every this many failures (about once a minute:
/// the scheduler retries every second).
const LOG_EVERY: u64 = 60;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl WriteHealth {
    /// Notes a failed write; logs the start of a fault, and every `LOG_EVERY` failures after.
    pub fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.errors_total.fetch_add(1, Ordering::Relaxed);
        let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
        match fault.as_mut() {
            None => {
                tracing::error!(
                    "the ledger cannot be written ({what}): {error}; nothing is lost: due slots wait, unclaimed, and run outcomes are kept in memory, both retried every second"
                );
                *fault = Some(WriteFault {
                    since_ms: now_ms(),
                    until_ms: None,
                    error: error.to_string(),
                    failures: 1,
                });
            }
            Some(f) => {
                f.failures += 1;
                if f.failures % LOG_EVERY == 0 {
                    let lasted = (now_ms() - f.since_ms).max(0) as u64 / 1000;
                    tracing::warn!(
                        "the ledger still cannot be written ({} failed writes in {}): {error}",
                        f.failures,
                        crate::util::duration::format(std::time::Duration::from_secs(lasted))
                    );
                }
            }
        }
    }

    /// Notes a successful write; ends a fault if one lasted.
    pub fn succeeded(&self) {
        let ended = {
            let mut fault = self.fault.lock().unwrap_or_else(|p| p.into_inner());
            fault.take()
        };
        if let Some(mut f) = ended {
            f.until_ms = Some(now_ms());
            self.ended.lock().unwrap_or_else(|p| p.into_inner()).push(f);
            self.changed.notify_one();
        }
    }

    /// Notes the result of a write.
    pub fn observe<T, E: std::fmt::Display>(&self, what: &str, r: &Result<T, E>) {
        match r {
            Ok(_) => self.succeeded(),
            Err(e) => self.failed(what, e),
        }
    }

    /// The fault going on, if any.
    pub fn fault(&self) -> Option<WriteFault> {
        self.fault.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Faults that ended since the last call.
    pub fn take_ended(&self) -> Vec<WriteFault> {
        std::mem::take(&mut *self.ended.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Failed writes since the start.
    pub fn errors_total(&self) -> u64 {
        self.errors_total.load(Ordering::Relaxed)
    }
}
