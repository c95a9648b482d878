//! The ledger's writer thread: per-run updates (a run's pid, its outcome) are handed over a
//! channel and committed in batches, one transaction per batch, so that a burst of a thousand
//! runs finishing does not put a thousand commits on the scheduler's thread. A slot's *claim* is
//! never deferred: it is written before the run starts. The cost: a crash in the few milliseconds
//! between a run's end and its batch's commit leaves the row `running`, which the next start
//! turns into `interrupted`.

use super::{Connection, StoreError, finish_on, set_pid_on};
use crate::runner::RunOutcome;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

pub enum Write {
    Pid(i64, u32),
    Finish(i64, Box<RunOutcome>),
}

pub struct Writer {
    conn: Arc<Mutex<Connection>>,
    tx: Mutex<Option<Sender<Write>>>,
    /// Writes sent and not yet committed, with a condition to wait on for zero.
    outstanding: Arc<(Mutex<usize>, Condvar)>,
}

/// At most this many writes in one transaction.
const BATCH: usize = 512;

/// How long the writer waits after a first write before committing what has come.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

impl Writer {
    pub fn new(conn: Arc<Mutex<Connection>>) -> Self {
        Writer {
            conn,
            tx: Mutex::new(None),
            outstanding: Arc::new((Mutex::new(0), Condvar::new())),
        }
    }

    pub fn send(&self, write: Write) {
        let Ok(mut guard) = self.tx.lock() else {
            return;
        };
        if let Ok(mut n) = self.outstanding.0.lock() {
            *n += 1;
        }
        let tx = guard.get_or_insert_with(|| {
            // Started on first use; it ends when the Store (and with it the sender) is dropped.
            let (tx, rx) = channel();
            let conn = self.conn.clone();
            let outstanding = self.outstanding.clone();
            std::thread::Builder::new()
                .name("clawcron-ledger".into())
                .spawn(move || run(conn, rx, outstanding))
                .map(|_| tx)
                .unwrap_or_else(|e| {
                    tracing::error!("cannot start the ledger writer thread: {e}");
                    channel().0
                })
        });
        if let Err(std::sync::mpsc::SendError(w)) = tx.send(write) {
            // The thread is gone (it could not start): write here instead.
            let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            apply(&conn, &w);
            done(&self.outstanding, 1);
        }
    }

    /// Blocks until every write sent so far is committed.
    pub fn flush(&self) {
        let (lock, cvar) = &*self.outstanding;
        let Ok(mut n) = lock.lock() else { return };
        while *n > 0 {
            n = match cvar.wait(n) {
                Ok(n) => n,
                Err(_) => return,
            };
        }
    }
}

fn done(outstanding: &(Mutex<usize>, Condvar), k: usize) {
    if let Ok(mut n) = outstanding.0.lock() {
        *n = n.saturating_sub(k);
        if *n == 0 {
            outstanding.1.notify_all();
        }
    }
}

fn apply(conn: &Connection, w: &Write) {
    let result: Result<(), StoreError> = match w {
        Write::Pid(id, pid) => set_pid_on(conn, *id, *pid),
        Write::Finish(id, outcome) => finish_on(conn, *id, outcome),
    };
    if let Err(e) = result {
        let id = match w {
            Write::Pid(id, _) | Write::Finish(id, _) => *id,
        };
        tracing::warn!(
            run_id = id,
            "cannot record the run in the ledger (it stays `running`, then `interrupted`): {e}"
        );
    }
}

fn run(
    conn: Arc<Mutex<Connection>>,
    rx: Receiver<Write>,
    outstanding: Arc<(Mutex<usize>, Condvar)>,
) {
    while let Ok(first) = rx.recv() {
        // Let a burst accumulate: one wake-up and one commit per window instead of one per run.
        std::thread::sleep(BATCH_WINDOW);
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let in_tx = conn.execute_batch("BEGIN").is_ok();
            for w in &batch {
                apply(&conn, w);
            }
            if in_tx && let Err(e) = conn.execute_batch("COMMIT") {
                // Retry each write on its own, so one bad write cannot lose the batch's outcomes.
                tracing::warn!(
                    "ledger commit of {} writes failed ({e}); retrying them one by one",
                    batch.len()
                );
                let _ = conn.execute_batch("ROLLBACK");
                for w in &batch {
                    apply(&conn, w);
                }
            }
        }
        done(&outstanding, batch.len());
    }
}
