//! The ledger's writer thread: per-run updates (a run's pid, its outcome) are handed over a
//! channel and committed in batches, one transaction per batch, so that a burst of a thousand
//! runs finishing does not put a thousand commits on the scheduler's thread. A slot's *claim* is
//! never deferred: it is written before the run starts. The cost: a crash in the few milliseconds
//! between a run's end and its batch's commit leaves the row `running`, which the next start
//! turns into `interrupted`. A write that fails (a full disk) is kept and tried again every
//! second until it is written, so an outcome is recorded once space returns.

use super::db::{Backend, Conn};
use super::health::WriteHealth;
use super::{StoreError, record_on, set_pid_on};
use crate::model::RunRecord;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub enum Write {
    Pid(i64, u32),
    Finish(i64, Box<RunRecord>),
}

/// Writes handed over and not yet committed, and how many of those failed and wait for a retry.
#[derive(Default)]
struct Counts {
    outstanding: usize,
    stuck: usize,
}

type Shared = Arc<(Mutex<Counts>, Condvar)>;

pub struct Writer {
    db: Backend,
    health: Arc<WriteHealth>,
    /// Notified after a commit that queued notices.
    wake: Arc<tokio::sync::Notify>,
    tx: Mutex<Option<Sender<Write>>>,
    counts: Shared,
}

/// At most this many writes in one transaction.
const BATCH: usize = 512;

/// How long the writer waits after a first write before committing what has come.
const BATCH_WINDOW: Duration = Duration::from_millis(5);

/// How often writes that failed (disk full, I/O error) are tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

impl Writer {
    pub fn new(db: Backend, health: Arc<WriteHealth>, wake: Arc<tokio::sync::Notify>) -> Self {
        Writer {
            db,
            health,
            wake,
            tx: Mutex::new(None),
            counts: Shared::default(),
        }
    }

    pub fn send(&self, write: Write) {
        let Ok(mut guard) = self.tx.lock() else {
            return;
        };
        if let Ok(mut c) = self.counts.0.lock() {
            c.outstanding += 1;
        }
        let tx = guard.get_or_insert_with(|| {
            // Started on first use; it ends when the Store (and with it the sender) is dropped.
            let (tx, rx) = channel();
            let db = self.db.clone();
            let counts = self.counts.clone();
            let health = self.health.clone();
            let wake = self.wake.clone();
            std::thread::Builder::new()
                .name("clawcron-ledger".into())
                .spawn(move || run(db, rx, counts, health, wake))
                .map(|_| tx)
                .unwrap_or_else(|e| {
                    tracing::error!("cannot start the ledger writer thread: {e}");
                    channel().0
                })
        });
        if let Err(std::sync::mpsc::SendError(w)) = tx.send(write) {
            // The thread is gone (it could not start): write here instead, once.
            let r = self.db.tx(|c| apply(c, &w));
            self.health.observe("a run's outcome", &r);
            match r {
                Ok(()) if has_notices(&w) => self.wake.notify_one(),
                Ok(()) => {}
                Err(e) => lost(&w, &e),
            }
            settle(&self.counts, 1, 0);
        }
    }

    /// Blocks until every write sent so far is committed, or has failed and waits for a retry
    /// (the ledger cannot be written). Returns how many wait for a retry.
    pub fn flush(&self) -> usize {
        let (lock, cvar) = &*self.counts;
        let Ok(mut c) = lock.lock() else { return 0 };
        while c.outstanding > c.stuck {
            c = match cvar.wait(c) {
                Ok(c) => c,
                Err(_) => return 0,
            };
        }
        c.stuck
    }
}

/// `committed` writes are done; `stuck` is how many wait for a retry now.
fn settle(counts: &(Mutex<Counts>, Condvar), committed: usize, stuck: usize) {
    if let Ok(mut c) = counts.0.lock() {
        c.outstanding = c.outstanding.saturating_sub(committed);
        c.stuck = stuck;
        if c.outstanding <= c.stuck {
            counts.1.notify_all();
        }
    }
}

fn run_id(w: &Write) -> i64 {
    match w {
        Write::Pid(id, _) | Write::Finish(id, _) => *id,
    }
}

fn lost(w: &Write, e: &StoreError) {
    tracing::warn!(
        run_id = run_id(w),
        "cannot record the run in the ledger (it stays `running`, then `interrupted`): {e}"
    );
}

fn apply(c: &mut dyn Conn, w: &Write) -> Result<(), StoreError> {
    match w {
        Write::Pid(id, pid) => set_pid_on(c, *id, *pid),
        Write::Finish(id, record) => record_on(c, *id, record),
    }
}

fn has_notices(w: &Write) -> bool {
    matches!(w, Write::Finish(_, r) if !r.notices.is_empty())
}

/// Commits `batch` in one transaction; if that fails, each write on its own. Returns the writes
/// that could not be written, in order.
fn commit(db: &Backend, batch: Vec<Write>, health: &WriteHealth) -> Vec<Write> {
    let whole = db.tx(|c| batch.iter().try_for_each(|w| apply(c, w)));
    if whole.is_ok() {
        health.succeeded();
        return Vec::new();
    }
    // One by one, so that one bad write cannot hold back the batch's other outcomes.
    let mut failed = Vec::new();
    for w in batch {
        let r = db.tx(|c| apply(c, &w));
        health.observe("a run's outcome", &r);
        if r.is_err() {
            failed.push(w);
        }
    }
    failed
}

fn run(
    db: Backend,
    rx: Receiver<Write>,
    counts: Shared,
    health: Arc<WriteHealth>,
    wake: Arc<tokio::sync::Notify>,
) {
    let mut stuck: Vec<Write> = Vec::new();
    loop {
        let first = if stuck.is_empty() {
            match rx.recv() {
                Ok(w) => Some(w),
                Err(_) => break,
            }
        } else {
            match rx.recv_timeout(RETRY_EVERY) {
                Ok(w) => Some(w),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        // Writes that failed before go first, in their order.
        let mut batch = std::mem::take(&mut stuck);
        if let Some(first) = first {
            // Let a burst accumulate: one wake-up and one commit per window instead of one per run.
            std::thread::sleep(BATCH_WINDOW);
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(w) => batch.push(w),
                    Err(_) => break,
                }
            }
        }
        let n = batch.len();
        let notices = batch.iter().filter(|w| has_notices(w)).count();
        stuck = commit(&db, batch, &health);
        if notices > stuck.iter().filter(|w| has_notices(w)).count() {
            wake.notify_one();
        }
        settle(&counts, n - stuck.len(), stuck.len());
    }
    // The Store is gone: what still cannot be written is lost here and shows as `interrupted`
    // at the next start.
    for w in &stuck {
        if let Err(e) = db.tx(|c| apply(c, w)) {
            lost(w, &e);
        }
    }
    settle(&counts, stuck.len(), 0);
}
