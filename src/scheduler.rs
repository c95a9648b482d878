//! Is it due: the timer loop. Keeps each job's next slot in a min-heap, sleeps until the
//! earliest (on the wall clock), records every due slot in the ledger (run or skipped, with a
//! reason) and hands runs to the runner. Missed slots (daemon down, machine asleep, clock set
//! forward, daemon stalled) go through the job's missed policy. The next slot is always computed
//! from the previous slot, never from "now".

use crate::clock::{Clock, ClockWatch, Discontinuity};
use crate::model::RunTrigger;
use crate::model::Trigger;
use crate::model::{JobSpec, Missed, Overlap};
use crate::runner::{Admission, JobState, Runner, Ticket};
use crate::schedule::Window;
use crate::store::{SlotDecision, Store, StoreError};
use crate::util::duration;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// A slot the scheduler reaches later than this after its instant, with no sleep or clock
/// change to explain it, counts as missed ("daemon stalled") instead of merely late.
pub const LATE_GRACE: Duration = Duration::from_secs(60);

/// A timer wake-up at least this long after the instant the loop slept towards, with the wall
/// and monotonic clocks agreeing, means the daemon did not run meanwhile: it was stopped
/// (SIGSTOP, a debugger), swapped out, its VM paused, or launchd throttled it.
const STALL_NOTICE_MS: i64 = 1000;

/// While the ledger cannot be written, due slots are tried again this often.
const LEDGER_RETRY: Duration = Duration::from_secs(1);

/// At most this many missed slots of one job are listed (and recorded) in one catch-up; the
/// rest are counted in the log.
pub const MAX_CATCH_UP_SLOTS: usize = 100_000;

/// Jobs claimed and started together before the loop yields (see `run`).
const DISPATCH_CHUNK: usize = 32;

struct Entry {
    spec: Arc<JobSpec>,
    state: Arc<JobState>,
    next: Option<i64>,
    /// Removed by a reload: no longer scheduled (its running runs finish).
    removed: bool,
}

/// Requests to a running scheduler loop, answered between wake-ups.
pub enum Control {
    /// Answered at once: the loop is alive and not stuck.
    Ping(tokio::sync::oneshot::Sender<()>),
    /// Each scheduled job with its next slot (Unix seconds) and how many runs it has going.
    Jobs(tokio::sync::oneshot::Sender<Vec<JobView>>),
    /// Applies a new set of job specs: added jobs start, removed jobs stop being scheduled,
    /// changed jobs use their new spec from their next slot; running runs are never touched.
    /// Jobs named in `keep` (their file failed validation) keep their current spec.
    Reload {
        jobs: Vec<JobSpec>,
        keep: Vec<String>,
        reply: tokio::sync::oneshot::Sender<ReloadSummary>,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    #[serde(skip)]
    pub spec: Arc<JobSpec>,
    pub id: String,
    pub next: Option<i64>,
    pub running: usize,
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadSummary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub kept: Vec<String>,
    pub unchanged: usize,
}

/// Whether a batch of due slots was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    Yes,
    /// The ledger could not be written: tried again in a second.
    LedgerFailed,
    /// In a cluster: the ledger's clock is this many ms short of the batch's last slot.
    TooEarly(i64),
}

/// Why a batch of slots is being looked at.
#[derive(Debug, Clone, Copy)]
enum Context {
    /// At daemon start: slots before `start` passed while it was not running.
    Startup { start: i64 },
    /// A timer wake-up, after a sleep or clock change if one was seen; `stalled` when the
    /// wake-up came late with no such change to explain it (see `STALL_NOTICE_MS`).
    Wake {
        jump: Option<Discontinuity>,
        stalled: bool,
    },
    /// Trying again slots that could not be recorded because the ledger could not be written.
    LedgerRetry,
}

pub struct Scheduler {
    /// Disabled jobs (id, schedule): their cursors follow "now", so that enabling one later does
    /// not count the disabled time as missed.
    disabled: Vec<Arc<JobSpec>>,
    clock: Arc<dyn Clock>,
    store: Store,
    runner: Runner,
    boot_id: String,
    entries: Vec<Entry>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    control: Option<tokio::sync::mpsc::Receiver<Control>>,
    /// The last catch-up: why slots were missed, how many ran late, how many were skipped.
    last_catch_up: Option<(&'static str, usize, usize)>,
    /// Clock readings taken at `start`, so that a jump between `start` and the loop's first
    /// turn is seen as one.
    watch: Option<ClockWatch>,
    /// In a cluster: which jobs this node may claim (see `cluster`).
    roster: Option<Arc<crate::cluster::Roster>>,
    /// Says when the loop is at work (see `pulse`).
    beat: crate::pulse::Beat,
}

struct Pending {
    idx: usize,
    slot: i64,
    decision: SlotDecision,
    admission: Option<Admission>,
}

impl Scheduler {
    pub fn new(
        jobs: Vec<JobSpec>,
        clock: Arc<dyn Clock>,
        store: Store,
        runner: Runner,
        boot_id: String,
    ) -> Self {
        let (enabled, disabled): (Vec<JobSpec>, Vec<JobSpec>) =
            jobs.into_iter().partition(|j| j.enabled);
        let disabled = disabled.into_iter().map(Arc::new).collect();
        let entries: Vec<Entry> = enabled
            .into_iter()
            .map(|spec| Entry {
                state: runner.state_of(&spec.id),
                spec: Arc::new(spec),
                next: None,
                removed: false,
            })
            .collect();
        runner.set_chained(entries.iter().map(|e| &e.spec));
        Scheduler {
            disabled,
            clock,
            store,
            runner,
            boot_id,
            entries,
            heap: BinaryHeap::new(),
            control: None,
            last_catch_up: None,
            watch: None,
            roster: None,
            beat: crate::pulse::Beat::default(),
        }
    }

    /// A slot whose row another wrote: normal in a cluster (another node won it, said at
    /// debug), a warning on one machine.
    fn log_slot_taken(&self, job: &str, slot: i64) {
        if self.roster.is_some() {
            tracing::debug!(job, slot, "slot claimed by another node");
        } else {
            warn!(
                job,
                slot,
                "slot already has a ledger row (another daemon on this state directory?); not run"
            );
        }
    }

    /// Tells `beat` when the loop is at work, so a stuck loop can be named (see `pulse`).
    pub fn with_beat(mut self, beat: crate::pulse::Beat) -> Self {
        self.beat = beat;
        self
    }

    /// In a cluster: claims only the jobs `roster` allows, and tells it the jobs after each
    /// reload.
    pub fn with_roster(mut self, roster: Arc<crate::cluster::Roster>) -> Self {
        roster.set_jobs(self.entries.iter().map(|e| &e.spec));
        self.roster = Some(roster);
        self
    }

    fn may_claim(&self, idx: usize) -> bool {
        self.roster
            .as_ref()
            .is_none_or(|r| r.may_claim(&self.entries[idx].spec.id))
    }

    /// The last catch-up (after `start`: the slots missed while the daemon was down).
    pub fn last_catch_up(&self) -> Option<(&'static str, usize, usize)> {
        self.last_catch_up
    }

    /// Lets the loop be asked things and told to reload (see `Control`).
    pub fn with_control(mut self, rx: tokio::sync::mpsc::Receiver<Control>) -> Self {
        self.control = Some(rx);
        self
    }

    /// Every job, the disabled ones included (their `enabled` is false and they have no next
    /// slot), so that each answer about a job says the same thing about it.
    fn views(&self) -> Vec<JobView> {
        self.entries
            .iter()
            .filter(|e| !e.removed)
            .map(|e| JobView {
                spec: e.spec.clone(),
                id: e.spec.id.to_string(),
                next: e.next,
                running: e.state.active(),
            })
            .chain(self.disabled.iter().map(|spec| JobView {
                spec: spec.clone(),
                id: spec.id.to_string(),
                next: None,
                running: self.runner.state_of(&spec.id).active(),
            }))
            .collect()
    }

    /// See `Control::Reload`.
    pub fn reload(&mut self, jobs: Vec<JobSpec>, keep: &[String]) -> ReloadSummary {
        let now_s = self.clock.now().timestamp();
        let mut summary = ReloadSummary::default();
        let (enabled, disabled): (Vec<JobSpec>, Vec<JobSpec>) =
            jobs.into_iter().partition(|j| j.enabled);
        let wanted: std::collections::HashSet<String> =
            enabled.iter().map(|j| j.id.to_string()).collect();
        let mut fresh_cursors: Vec<(String, String)> = Vec::new();
        for idx in 0..self.entries.len() {
            let e = &mut self.entries[idx];
            if e.removed || wanted.contains(&*e.spec.id) {
                continue;
            }
            if keep.iter().any(|k| k == &*e.spec.id) {
                summary.kept.push(e.spec.id.to_string());
                continue;
            }
            e.removed = true;
            e.next = None;
            summary.removed.push(e.spec.id.to_string());
        }
        for spec in enabled {
            let id = spec.id.to_string();
            let existing = self
                .entries
                .iter()
                .position(|e| !e.removed && *e.spec.id == *id);
            match existing {
                Some(idx) => {
                    let old = &self.entries[idx].spec;
                    if format!("{old:?}") == format!("{spec:?}") {
                        summary.unchanged += 1;
                        continue;
                    }
                    let new_trigger = spec.trigger.describe();
                    let trigger_changed = old.trigger.describe() != new_trigger;
                    self.entries[idx].spec = Arc::new(spec);
                    if trigger_changed {
                        // A new schedule counts from now (no catch-up on slots it never had).
                        let next = self.entries[idx].spec.trigger.next_after(now_s);
                        self.heap_push(idx, next);
                        fresh_cursors.push((id.clone(), new_trigger));
                    }
                    summary.changed.push(id);
                }
                None => {
                    let at_start = matches!(spec.trigger, Trigger::AtStart);
                    let trigger = spec.trigger.describe();
                    self.entries.push(Entry {
                        state: self.runner.state_of(&spec.id),
                        spec: Arc::new(spec),
                        next: None,
                        removed: false,
                    });
                    let idx = self.entries.len() - 1;
                    if at_start {
                        if let Err(e) = self.start_at_start(idx) {
                            warn!(job = id, "cannot start the added at_start job: {e}");
                        }
                    } else {
                        let next = self.entries[idx].spec.trigger.next_after(now_s);
                        self.heap_push(idx, next);
                        fresh_cursors.push((id.clone(), trigger));
                    }
                    summary.added.push(id);
                }
            }
        }
        self.disabled = disabled.into_iter().map(Arc::new).collect();
        self.runner
            .set_chained(self.entries.iter().filter(|e| !e.removed).map(|e| &e.spec));
        if let Some(r) = &self.roster {
            r.set_jobs(self.entries.iter().filter(|e| !e.removed).map(|e| &e.spec));
        }
        let mut reset: Vec<(&str, i64, String)> = fresh_cursors
            .iter()
            .map(|(id, t)| (id.as_str(), now_s, t.clone()))
            .collect();
        reset.extend(
            self.disabled
                .iter()
                .map(|j| (&*j.id, now_s, j.trigger.describe())),
        );
        if let Err(e) = self.store.reset_cursors(&reset) {
            warn!("cannot record the reloaded jobs' cursors: {e}");
        }
        summary
    }

    /// Catches up on slots missed since each job's cursor, starts `at_start` jobs and
    /// computes every job's next slot. Call once, before `run`.
    pub fn start(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let now_s = now.timestamp();
        self.watch = Some(ClockWatch::new(&*self.clock));
        let cursors = self.store.cursors()?;
        let mut due = Vec::new();
        let mut fresh = Vec::new();
        for idx in 0..self.entries.len() {
            let spec = self.entries[idx].spec.clone();
            match &spec.trigger {
                Trigger::AtStart => self.start_at_start(idx)?,
                trigger => match cursors.get(&*spec.id) {
                    // Counted under another schedule (or before schedules were recorded and
                    // never since): start afresh rather than "catch up" on foreign slots.
                    Some((_, Some(old))) if *old != trigger.describe() => {
                        info!(
                            job = &*spec.id,
                            "schedule changed ({old} -> {}); counting from now",
                            trigger.describe()
                        );
                        fresh.push(idx);
                    }
                    Some(&(cursor, _)) => {
                        let w = trigger.slots_between(cursor, now_s, MAX_CATCH_UP_SLOTS);
                        if w.slots.is_empty() {
                            self.heap_push(idx, w.next);
                        } else {
                            due.push((idx, w));
                        }
                    }
                    None => fresh.push(idx),
                },
            }
        }
        // Jobs never seen before start from now: their cursor is set so that a later downtime
        // is noticed even if they have not fired yet.
        let mut reset: Vec<(&str, i64, String)> = fresh
            .iter()
            .map(|&i| {
                (
                    &*self.entries[i].spec.id,
                    now_s,
                    self.entries[i].spec.trigger.describe(),
                )
            })
            .collect();
        reset.extend(
            self.disabled
                .iter()
                .map(|j| (&*j.id, now_s, j.trigger.describe())),
        );
        self.store.reset_cursors(&reset)?;
        for idx in fresh {
            let next = self.entries[idx].spec.trigger.next_after(now_s);
            self.heap_push(idx, next);
        }
        if self.handle_due(due, Context::Startup { start: now_s }, now_s) != Recorded::Yes {
            warn!("the start-up catch-up could not be recorded; it is retried in the loop");
        }
        Ok(())
    }

    fn heap_push(&mut self, idx: usize, next: Option<i64>) {
        self.entries[idx].next = next;
        if let Some(t) = next {
            self.heap.push(Reverse((t, idx)));
        }
    }

    fn start_at_start(&self, idx: usize) -> Result<(), StoreError> {
        let e = &self.entries[idx];
        let now = self.clock.now();
        // In a cluster, an `at_start` job runs on the nodes it may run on (its `runs_on`), once
        // per boot of each: it is about the machine that starts (a model preload at login).
        if !self.may_claim(idx) {
            info!(
                job = &*e.spec.id,
                "at_start job not run on this node (its runs_on, or a newer text of its file elsewhere)"
            );
            return Ok(());
        }
        if self.store.at_start_done(&e.spec.id, &self.boot_id)? {
            self.store.record_skipped_run(
                &e.spec.id,
                RunTrigger::AtStart.as_str(),
                now.timestamp(),
                &self.boot_id,
                "at_start: already ran in this boot",
            )?;
            info!(
                job = &*e.spec.id,
                "at_start job already ran in this boot; skipped"
            );
            return Ok(());
        }
        let Ok(admission) = e.state.admit(e.spec.overlap) else {
            return Ok(());
        };
        let run_id = self.store.start_run(
            &e.spec.id,
            RunTrigger::AtStart.as_str(),
            now.timestamp(),
            &self.boot_id,
            now.timestamp_millis(),
        )?;
        self.runner.spawn(
            e.spec.clone(),
            e.state.clone(),
            Ticket::new(run_id, now.timestamp(), RunTrigger::AtStart, admission),
        );
        Ok(())
    }

    /// Each enabled job with its next slot (for the start-up table and `list`).
    pub fn upcoming(&self) -> Vec<(Arc<JobSpec>, Option<i64>)> {
        self.entries
            .iter()
            .map(|e| (e.spec.clone(), e.next))
            .collect()
    }

    /// The loop: runs until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut watch = self
            .watch
            .take()
            .unwrap_or_else(|| ClockWatch::new(&*self.clock));
        let mut control = self.control.take();
        // Set while the ledger cannot be written: when to try the due slots again.
        let mut retry_at: Option<tokio::time::Instant> = None;
        let mut after_fault = false;
        let beat = self.beat.clone();
        loop {
            let deadline = self.heap.peek().map(|Reverse((t, _))| *t);
            let retrying = retry_at.is_some();
            let request = async {
                match control.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = async {
                    match retry_at {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => self.clock.sleep_until(deadline).await,
                    }
                } => { retry_at = None; }
                r = request => {
                    let _working = beat.working();
                    match r {
                        Some(Control::Ping(reply)) => { let _ = reply.send(()); }
                        Some(Control::Jobs(reply)) => { let _ = reply.send(self.views()); }
                        Some(Control::Reload { jobs, keep, reply }) => {
                            let summary = self.reload(jobs, &keep);
                            info!(
                                added = ?summary.added, removed = ?summary.removed,
                                changed = ?summary.changed, kept = ?summary.kept,
                                "jobs reloaded"
                            );
                            let _ = reply.send(summary);
                        }
                        None => control = None,
                    }
                    continue;
                }
            }
            let _working = beat.working();
            let jump = watch.check(&*self.clock);
            if let Some(j) = jump {
                info!("wall clock discontinuity: {j:?}; re-checking every job's slots");
            }
            let now = self.clock.now();
            let now_s = now.timestamp();
            let overslept = match deadline {
                Some(d) if !retrying && jump.is_none() => now.timestamp_millis() - d * 1000,
                _ => 0,
            };
            let stalled = overslept >= STALL_NOTICE_MS;
            if stalled {
                warn!(
                    "the daemon did not run for {:.1} s after a slot came due (stopped, paused or starved); catching up",
                    overslept as f64 / 1000.0
                );
            }
            let mut due = Vec::new();
            while let Some(&Reverse((t, idx))) = self.heap.peek() {
                if t > now_s {
                    break;
                }
                self.heap.pop();
                // Stale after a reload: the job was removed or rescheduled.
                let e = &self.entries[idx];
                if e.removed || e.next != Some(t) {
                    continue;
                }
                due.push((idx, t));
            }
            // A burst is claimed and started a chunk at a time, yielding in between: the first
            // jobs start at once, and the runtime reaps finished children (closing their pipes
            // and pidfds) between chunks, so each new child inherits a small descriptor table.
            let mut recorded = true;
            let mut early: Option<i64> = None;
            for chunk in due.chunks(DISPATCH_CHUNK) {
                let windows = chunk
                    .iter()
                    .map(|&(idx, t)| {
                        let mut w = self.entries[idx].spec.trigger.slots_between(
                            t,
                            now_s,
                            MAX_CATCH_UP_SLOTS,
                        );
                        w.slots.insert(0, t);
                        (idx, w)
                    })
                    .collect();
                let ctx = match jump {
                    None if after_fault => Context::LedgerRetry,
                    jump => Context::Wake { jump, stalled },
                };
                match self.handle_due(windows, ctx, now_s) {
                    Recorded::Yes => {}
                    Recorded::LedgerFailed => recorded = false,
                    Recorded::TooEarly(ms) => early = Some(early.unwrap_or(ms).max(ms)),
                }
                tokio::task::yield_now().await;
            }
            if !recorded {
                // The ledger failed (disk full?): try again in a second rather than spin; the
                // loop still answers pings and reloads meanwhile.
                retry_at = Some(tokio::time::Instant::now() + LEDGER_RETRY);
            } else if let Some(ms) = early {
                // The ledger's clock has not reached these slots: this node's runs ahead of it
                // (the heartbeat narrows the gap). They are claimed when it has.
                retry_at = Some(
                    tokio::time::Instant::now() + Duration::from_millis(ms.clamp(1, 60_000) as u64),
                );
            }
            if !due.is_empty() {
                after_fault = !recorded;
            }
        }
    }

    /// Decides, records and dispatches every due slot of a batch (one ledger transaction).
    /// `now_s` is the instant the batch was collected at (not re-read per chunk, so that a long
    /// burst does not make its own later chunks look late). Returns false if the ledger could not
    /// record the batch; its jobs are then put back to be tried again.
    fn handle_due(&mut self, due: Vec<(usize, Window)>, ctx: Context, now_s: i64) -> Recorded {
        let now = self.clock.now();
        let mut restore: Vec<(usize, i64)> = Vec::with_capacity(due.len());
        let mut missed_notices: Vec<(usize, &'static str, i64, i64, usize, usize)> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut cursors: Vec<(usize, i64)> = Vec::with_capacity(due.len());
        let mut summary: Option<(&'static str, usize, usize)> = None;
        for (
            idx,
            Window {
                slots,
                next,
                truncated,
            },
        ) in due
        {
            let Some(&last) = slots.last() else { continue };
            if !self.may_claim(idx) {
                // Another node claims this job (its tags, or a newer text of its file): no row,
                // and the cursor stays, for the node that claims it.
                self.heap_push(idx, next);
                continue;
            }
            let mut after = last;
            let mut next = next;
            if truncated {
                warn!(
                    job = &*self.entries[idx].spec.id,
                    "more than {MAX_CATCH_UP_SLOTS} missed slots: the newest {MAX_CATCH_UP_SLOTS} are recorded, older ones are skipped unrecorded"
                );
                after = after.max(now_s);
                next = next.or_else(|| self.entries[idx].spec.trigger.next_after(after));
            }
            restore.push((idx, slots[0]));
            cursors.push((idx, after));
            self.heap_push(idx, next);
            let (missed, on_time) =
                classify(&slots, now_s, ctx, self.clock.wake_slack().as_secs() as i64);
            // A run of this job was going before this batch: only then can overlap refuse one
            // of its slots.
            let busy = self.entries[idx].state.active() > 0;
            let before = pending.len();
            if !missed.is_empty() {
                self.apply_missed_policy(idx, &missed, now_s, !on_time.is_empty(), &mut pending);
                let ran = pending[before..]
                    .iter()
                    .filter(|p| matches!(p.decision, SlotDecision::Run { .. }))
                    .count();
                let (first, last) = (missed[0].0, missed[missed.len() - 1].0);
                missed_notices.push((idx, missed[0].1, first, last, ran, missed.len() - ran));
                let s = summary.get_or_insert((missed[0].1, 0, 0));
                s.1 += ran;
                s.2 += missed.len() - ran;
            }
            let late = on_time.iter().filter(|(_, why)| why.is_some()).count();
            if matches!(ctx, Context::Wake { stalled: true, .. }) && late > 0 {
                let s = summary.get_or_insert(("daemon stalled", 0, 0));
                s.1 += late;
            }
            // Slots of this batch that run behind one of this batch's own runs wait for it, one
            // at a time (unless the job allows overlap): they are this job's catch-up, not an
            // overlap with a run that was going.
            let mut ours = pending[before..].iter().any(|p| p.admission.is_some());
            for (slot, late) in on_time {
                let e = &self.entries[idx];
                let admitted = if ours && !busy && e.spec.overlap != Overlap::Allow {
                    Ok(e.state.admit_serial())
                } else {
                    e.state.admit(e.spec.overlap)
                };
                ours |= admitted.is_ok();
                match admitted {
                    Ok(admission) => pending.push(Pending {
                        idx,
                        slot,
                        decision: SlotDecision::Run { reason: late },
                        admission: Some(admission),
                    }),
                    Err(reason) => pending.push(Pending {
                        idx,
                        slot,
                        decision: SlotDecision::Skip { reason },
                        admission: None,
                    }),
                }
            }
        }
        let decisions: Vec<(&str, i64, SlotDecision)> = pending
            .iter()
            .map(|p| (&*self.entries[p.idx].spec.id, p.slot, p.decision.clone()))
            .collect();
        let cursor_rows: Vec<(&str, i64, String)> = cursors
            .iter()
            .map(|&(i, t)| {
                (
                    &*self.entries[i].spec.id,
                    t,
                    self.entries[i].spec.trigger.describe(),
                )
            })
            .collect();
        let claimed = match self.store.record_slots(
            &decisions,
            &cursor_rows,
            &self.boot_id,
            now.timestamp_millis(),
        ) {
            Ok(c) => c,
            Err(e) => {
                // The ledger could not record the slots (or, in a cluster, its clock has not
                // reached them yet), so they cannot be claimed: running them would risk running
                // a slot twice after a restart.
                // Logged by the ledger's health (once at the start of the fault, then each minute).
                tracing::debug!(
                    "cannot record {} due slot(s) in the ledger, none started; retrying: {e}",
                    decisions.len()
                );
                for p in &pending {
                    if let Some(a) = p.admission {
                        self.entries[p.idx].state.withdraw(a);
                    }
                }
                // Unrecorded slots stay due: the cursor did not move, so they are tried again.
                for (idx, first) in restore {
                    self.heap.retain(|Reverse((_, i))| *i != idx);
                    self.heap_push(idx, Some(first));
                }
                return match e {
                    StoreError::TooEarly { wait_ms } => Recorded::TooEarly(wait_ms),
                    _ => Recorded::LedgerFailed,
                };
            }
        };
        // Only once recorded: a batch that failed is tried again and logged then.
        if let Some((reason, ran, skipped)) = summary {
            self.last_catch_up = Some((reason, ran, skipped));
            info!("catch-up ({reason}): {ran} run(s), {skipped} skipped");
        }
        for (p, run_id) in pending.into_iter().zip(claimed) {
            let e = &self.entries[p.idx];
            let Some(admission) = p.admission else {
                continue;
            };
            match run_id {
                Some(run_id) => self.runner.spawn(
                    e.spec.clone(),
                    e.state.clone(),
                    Ticket::new(run_id, p.slot, RunTrigger::Schedule, admission),
                ),
                None => {
                    e.state.withdraw(admission);
                    self.log_slot_taken(&e.spec.id, p.slot);
                }
            }
        }
        // Only once the slots are recorded: a notice about slots that have no row would lie.
        for (idx, reason, first, last, ran, skipped) in missed_notices {
            crate::notify::on_missed(
                &self.store,
                &self.entries[idx].spec,
                reason,
                first,
                last,
                ran,
                skipped,
                now.timestamp_millis(),
            );
        }
        Recorded::Yes
    }

    /// `newer_due`: a slot of the job that is not missed is due too (it runs, so `latest` runs
    /// none of the missed ones).
    fn apply_missed_policy(
        &self,
        idx: usize,
        missed: &[(i64, &'static str)],
        now_s: i64,
        newer_due: bool,
        out: &mut Vec<Pending>,
    ) {
        let e = &self.entries[idx];
        let policy = e.spec.missed;
        let max_late = policy.max_lateness.as_secs() as i64;
        let too_late = |reason: &str| {
            format!(
                "{reason}; later than max_lateness {}",
                duration::format(policy.max_lateness)
            )
        };
        let newest = missed.len() - 1;
        for (i, &(slot, reason)) in missed.iter().enumerate() {
            let in_time = now_s - slot <= max_late;
            let run = match policy.policy {
                Missed::Skip => false,
                Missed::Latest => i == newest && in_time && !newer_due,
                Missed::All => in_time,
            };
            let decision = if run {
                SlotDecision::Run {
                    reason: Some(format!(
                        "{reason}; run late by policy {}",
                        policy_name(policy.policy)
                    )),
                }
            } else if policy.policy != Missed::Skip && !in_time {
                SlotDecision::Skip {
                    reason: too_late(reason),
                }
            } else if policy.policy == Missed::Latest {
                let newer = if newer_due { "slot" } else { "missed slot" };
                SlotDecision::Skip {
                    reason: format!("{reason}; a newer {newer} runs instead"),
                }
            } else {
                SlotDecision::Skip {
                    reason: reason.to_string(),
                }
            };
            let admission = match (&decision, policy.policy) {
                (SlotDecision::Run { .. }, Missed::All) => Some(e.state.admit_serial()),
                (SlotDecision::Run { .. }, _) => match e.state.admit(e.spec.overlap) {
                    Ok(a) => Some(a),
                    Err(r) => {
                        out.push(Pending {
                            idx,
                            slot,
                            decision: SlotDecision::Skip {
                                reason: format!("{reason}; {r}"),
                            },
                            admission: None,
                        });
                        continue;
                    }
                },
                _ => None,
            };
            out.push(Pending {
                idx,
                slot,
                decision,
                admission,
            });
        }
    }
}

fn policy_name(m: Missed) -> &'static str {
    match m {
        Missed::Skip => "skip",
        Missed::Latest => "latest",
        Missed::All => "all",
    }
}

/// A slot that runs, with why it runs late when it does.
type LateSlot = (i64, Option<String>);

/// Splits due slots into missed ones (with why) and the ones that run, each with why it runs
/// late when it does (a second or more).
fn classify(
    slots: &[i64],
    now_s: i64,
    ctx: Context,
    wake_slack: i64,
) -> (Vec<(i64, &'static str)>, Vec<LateSlot>) {
    let stalled = matches!(ctx, Context::Wake { stalled: true, .. });
    let mut missed = Vec::new();
    let mut on_time = Vec::new();
    for &slot in slots {
        let late = now_s - slot;
        let reason = match ctx {
            Context::Startup { start } if slot < start => Some("missed: daemon not running"),
            Context::Wake { jump: Some(j), .. } if late >= wake_slack.max(1) => Some(j.reason()),
            Context::LedgerRetry if late >= 1 => Some("missed: ledger not writable"),
            _ if late > LATE_GRACE.as_secs() as i64 && stalled => Some("missed: daemon stalled"),
            _ if late > LATE_GRACE.as_secs() as i64 => Some("missed: scheduler overloaded"),
            _ => None,
        };
        if let Some(r) = reason {
            missed.push((slot, r));
            continue;
        }
        let cause = match ctx {
            _ if late < 1 => None,
            Context::Wake { jump: Some(j), .. } => Some(j.cause()),
            Context::Wake { stalled: true, .. } => Some("daemon stalled"),
            Context::LedgerRetry => Some("ledger not writable"),
            _ => Some("scheduler busy"),
        };
        on_time.push((slot, cause.map(|c| format!("{c}; run {late} s late"))));
    }
    (missed, on_time)
}
