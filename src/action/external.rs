//! `external`: a job that runs elsewhere (a backup on another machine, a script a vendor's tool
//! starts) and reports by pinging clawcron: a dead-man's switch, as healthchecks.io does.
//!
//! The attempt is started by the scheduler at its slot like any job's, and waits for that
//! slot's pings in `Pings`, the in-process registry that the `/ping` handlers feed (see
//! `receive`): `start` records when the job started (so the duration is measured); success,
//! `fail` or an exit code ends the attempt with that status and the ping's body as its output,
//! so `metrics:`, alerts and notices happen in the runner's after-run stage as for any job.
//! The runner gives the attempt the deadline slot + `grace` (the job's `timeout` does not
//! apply) and no global permit. At the deadline the slot is `failed` with the reason
//! `missed` (no ping at all) or `started but never finished`, and notified as any failure.
//!
//! A ping that finds no attempt waiting goes to the ledger: the latest slot at or before it
//! that ran (not skipped) and has no success yet is updated in place (`Store::mark_late`):
//! a success turns it `succeeded` with the reason `late: ping 3m after the slot`; it never adds
//! a row. A slot whose daemon stopped while it waited is `interrupted`, and a later ping turns
//! it late in the same way. A ping before the job's first slot is refused.

use super::{AttemptCtx, AttemptResult, AttemptStatus, OutputTail};
use crate::model::{ExternalSpec, Extract, Metric, RunStatus};
use crate::store::Store;
use crate::util::duration;
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What a ping says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingKind {
    /// `/ping/{job}/{key}/start`: the job started.
    Start,
    /// `/ping/{job}/{key}`: it succeeded.
    Success,
    /// `/ping/{job}/{key}/fail`: it failed.
    Fail,
    /// `/ping/{job}/{key}/{code}`: it exited with this code (0 = success).
    Exit(i32),
}

impl PingKind {
    /// The last segment of a ping's path (`start`, `fail` or an exit code).
    pub fn parse(what: &str) -> Option<PingKind> {
        match what {
            "start" => Some(PingKind::Start),
            "fail" => Some(PingKind::Fail),
            code => code
                .parse::<u8>()
                .ok()
                .map(|c| PingKind::Exit(i32::from(c))),
        }
    }

    fn succeeded(self) -> bool {
        matches!(self, PingKind::Success | PingKind::Exit(0))
    }
}

/// One ping: what it says, its body (the job's output), when it came (Unix ms).
#[derive(Debug, Clone)]
pub struct Ping {
    pub kind: PingKind,
    pub body: String,
    pub at_ms: i64,
}

/// The attempts waiting for pings, by job: at most one per job (the latest slot's).
#[derive(Clone, Default)]
pub struct Pings {
    waiting: Arc<Mutex<HashMap<String, Waiter>>>,
}

struct Waiter {
    slot: i64,
    run_id: i64,
    tx: mpsc::UnboundedSender<Ping>,
}

/// A registration; dropping it takes it out of the registry (unless a newer slot replaced it).
struct Waiting {
    pings: Pings,
    job: String,
    run_id: i64,
    rx: mpsc::UnboundedReceiver<Ping>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut map = self.pings.lock();
        if map.get(&self.job).is_some_and(|w| w.run_id == self.run_id) {
            map.remove(&self.job);
        }
    }
}

impl Pings {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiter>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the attempt of `job`'s `slot` (run `run_id`) as the one its pings go to.
    fn wait(&self, job: &str, slot: i64, run_id: i64) -> Waiting {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut map = self.lock();
        // Only the same or a newer slot takes over. An older one (a catch-up, a backfill, a
        // lost run retried) must not drop the newer slot's waiter: that slot would end
        // "missed" at once and its on-time ping be called late. The older one keeps no
        // sender: it sees the end of its channel and ends missed, as it should.
        if map.get(job).is_none_or(|w| w.slot <= slot) {
            map.insert(job.to_string(), Waiter { slot, run_id, tx });
        }
        drop(map);
        Waiting {
            pings: self.clone(),
            job: job.to_string(),
            run_id,
            rx,
        }
    }

    /// Hands `ping` to the attempt waiting for `job`, if its slot is at or before the ping;
    /// returns that attempt's (run id, slot), or gives the ping back.
    fn deliver(&self, job: &str, ping: Ping) -> Result<(i64, i64), Ping> {
        let map = self.lock();
        match map.get(job) {
            Some(w) if w.slot * 1000 <= ping.at_ms => match w.tx.send(ping) {
                Ok(()) => Ok((w.run_id, w.slot)),
                Err(e) => Err(e.0),
            },
            _ => Err(ping),
        }
    }
}

/// A new ping key: 32 random bytes, hex.
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// How a key is stored: its SHA-256, hex (the ledger never holds the key itself).
pub fn hash_key(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// Waits for the pings of the slot; see the module's documentation.
pub async fn run(spec: &ExternalSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let (Some(pings), Some(slot)) = (&ctx.pings, ctx.slot) else {
        return AttemptResult::failed(
            "an `external` job runs elsewhere: only its schedule's slots wait for its pings (`clawcron ping-url` shows where it pings)",
        );
    };
    let grace = duration::format(spec.grace);
    let mut waiting = pings.wait(ctx.job, slot, ctx.run_id);
    let mut started = false;
    loop {
        let deadline = async {
            match ctx.deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => {
                return AttemptResult {
                    status: AttemptStatus::Interrupted,
                    ..AttemptResult::failed(
                        "the daemon stopped while the slot waited for its ping (a later ping turns it late)",
                    )
                };
            }
            p = waiting.rx.recv() => {
                let Some(p) = p else {
                    ctx.note("missed".into());
                    return AttemptResult::failed(
                        "missed: a newer slot started waiting before this one was pinged",
                    );
                };
                if p.kind == PingKind::Start {
                    started = true;
                    ctx.mark_started(p.at_ms);
                    continue;
                }
                if !started {
                    // No start ping: no duration was measured.
                    ctx.mark_started(p.at_ms);
                }
                return ended(p);
            }
            () = deadline => {
                if started {
                    ctx.note("started but never finished".into());
                    return AttemptResult::failed(format!(
                        "started but never finished: no end ping within {grace} of the slot"
                    ));
                }
                ctx.note("missed".into());
                return AttemptResult::failed(format!("missed: no ping within {grace} of the slot"));
            }
        }
    }
}

/// The attempt's result from the ping that ends it.
fn ended(p: Ping) -> AttemptResult {
    let (status, error) = match p.kind {
        k if k.succeeded() => (AttemptStatus::Succeeded, None),
        PingKind::Exit(code) => (
            AttemptStatus::Failed,
            Some(format!("the job reported exit code {code}")),
        ),
        _ => (
            AttemptStatus::Failed,
            Some("the job reported a failure".to_string()),
        ),
    };
    AttemptResult {
        status,
        exit_code: match p.kind {
            PingKind::Exit(c) => Some(c),
            _ => None,
        },
        error,
        output_tail: tail(&p.body),
        metrics: Vec::new(),
    }
}

/// The last lines of a ping's body, as a run's output is kept.
fn tail(body: &str) -> String {
    let mut t = OutputTail::default();
    for line in body.lines() {
        t.push(line.to_string());
    }
    t.text()
}

/// What became of a ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Handed to the attempt waiting for its slot.
    Taken { run_id: i64, slot: i64 },
    /// No attempt waited: the slot's row was updated in place (a late ping).
    Late { run_id: i64, reason: String },
    /// The slot already has its success, or the ping changes nothing (a late `start`).
    Unchanged { run_id: i64 },
    /// The slot's run is not waiting for pings yet (it waits for its turn).
    NotWaiting,
    /// No slot of the job has come yet.
    NoSlotYet,
    /// No such job, or not this key: nothing is written.
    Refused,
}

/// Takes a ping for `job` (an `external` job whose `metrics:` are `extract`) with `key`.
pub async fn receive(
    pings: &Pings,
    store: &Store,
    job: &str,
    extract: &[Extract],
    key: &str,
    ping: Ping,
) -> Answer {
    let expected = match store.ping_key_hash(job) {
        Ok(Some(h)) => h,
        Ok(None) => return Answer::Refused,
        Err(e) => {
            tracing::warn!(job, "cannot read the ping key: {e}");
            return Answer::Refused;
        }
    };
    if !same(&hash_key(key), &expected) {
        return Answer::Refused;
    }
    let ping = match pings.deliver(job, ping) {
        Ok((run_id, slot)) => return Answer::Taken { run_id, slot },
        Err(p) => p,
    };
    // An outcome on its way to the ledger is read as written.
    let flushed = store.clone();
    let _ = tokio::task::spawn_blocking(move || flushed.flush()).await;
    let row = match store.latest_slot_run(job, ping.at_ms.div_euclid(1000)) {
        Ok(Some(r)) => r,
        Ok(None) => return Answer::NoSlotYet,
        Err(e) => {
            tracing::warn!(job, "cannot read the job's slots: {e}");
            return Answer::NotWaiting;
        }
    };
    let (run_id, slot, status) = row;
    if status == RunStatus::Running {
        // Its row is in and its attempt is about to wait: a moment later it takes the ping.
        let mut ping = ping;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            match pings.deliver(job, ping) {
                Ok((run_id, slot)) => return Answer::Taken { run_id, slot },
                Err(p) => ping = p,
            }
        }
        return Answer::NotWaiting;
    }
    if status == RunStatus::Succeeded || ping.kind == PingKind::Start {
        return Answer::Unchanged { run_id };
    }
    // Whole seconds: "late: ping 3m12s after the slot".
    let late = duration::format(Duration::from_secs(
        ((ping.at_ms - slot * 1000).max(0) as u64 + 500) / 1000,
    ));
    let output = crate::redact::scrub(&tail(&ping.body)).into_owned();
    let metrics: Vec<Metric> = super::extract::apply(extract, &output);
    let (new_status, reason, error) = if ping.kind.succeeded() {
        (
            RunStatus::Succeeded,
            format!("late: ping {late} after the slot"),
            None,
        )
    } else {
        let what = match ping.kind {
            PingKind::Exit(c) => format!("exit code {c}"),
            _ => "a failure".to_string(),
        };
        (
            RunStatus::Failed,
            format!("late: ping {late} after the slot"),
            Some(format!("the job reported {what}")),
        )
    };
    let exit_code = match ping.kind {
        PingKind::Exit(c) => Some(c),
        _ => None,
    };
    let late_row = crate::store::LateRow {
        status: new_status,
        reason: &reason,
        error: error.as_deref(),
        exit_code,
        output: &output,
        at_ms: ping.at_ms,
        metrics: &metrics,
    };
    match store.mark_late(run_id, &late_row) {
        Ok(true) => {
            tracing::info!(job, run_id, "slot updated by a late ping: {reason}");
            Answer::Late { run_id, reason }
        }
        Ok(false) => Answer::Unchanged { run_id },
        Err(e) => {
            tracing::warn!(job, run_id, "cannot record the late ping: {e}");
            Answer::NotWaiting
        }
    }
}

/// Constant time: compares every byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ping_path_ends_in_start_fail_or_an_exit_code() {
        assert_eq!(PingKind::parse("start"), Some(PingKind::Start));
        assert_eq!(PingKind::parse("fail"), Some(PingKind::Fail));
        assert_eq!(PingKind::parse("0"), Some(PingKind::Exit(0)));
        assert_eq!(PingKind::parse("3"), Some(PingKind::Exit(3)));
        assert_eq!(PingKind::parse("300"), None);
        assert_eq!(PingKind::parse("api"), None);
        assert!(PingKind::Exit(0).succeeded());
        assert!(!PingKind::Exit(1).succeeded());
    }

    #[test]
    fn a_key_is_stored_as_its_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(new_key(), new_key());
        assert_eq!(new_key().len(), 64);
    }

    #[test]
    fn an_older_slot_that_starts_waiting_does_not_take_a_newer_slots_pings() {
        let pings = Pings::default();
        let newer = pings.wait("j", 200, 2);
        let mut older = pings.wait("j", 100, 1);
        // The older one is told at once that nothing will come for it.
        assert!(older.rx.try_recv().is_err() && older.rx.is_closed());
        let ping = Ping {
            kind: PingKind::Success,
            body: String::new(),
            at_ms: 204_000,
        };
        assert_eq!(pings.deliver("j", ping.clone()).ok(), Some((2, 200)));
        drop(older);
        assert_eq!(
            pings.deliver("j", ping).ok(),
            Some((2, 200)),
            "still the newer's"
        );
        drop(newer);
    }
}
