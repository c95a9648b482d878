//! How one run proceeds, for every kind of run: a scheduled slot, a caught-up slot, `at_start`,
//! a manual run (API or CLI) and a remediation all pass the same pipeline:
//!
//! 1. **admission**: the job's overlap policy, its named locks, a global permit (`--force`
//!    bypasses these on purpose, and the run's reason says so);
//! 2. **attempts**: each with a timeout, retried with exponential backoff and jitter;
//! 3. **the after-run stage**, in this order: record (counters, log) → regressions → alerts →
//!    notices, all written with the outcome in one ledger transaction (the dispatcher is woken
//!    when it commits) → remediation of the rules that fired, each a run of its own → the jobs
//!    chained after this one (`after:`), each a run of its own (trigger `after`, once per
//!    cause), through this same pipeline.
//!
//! Which runs cause chained runs: every run of the job's own action (schedule, `at_start`,
//! manual, backfill, and a chained run itself); not a remediation, whose action is the fix, not
//! the job. A backfill (`Runner::backfill`) is a past slot run again with its original slot.
//!
//! A failed run is data (an outcome), never an error that stops the daemon.

use crate::action::{AttemptCtx, AttemptResult, AttemptStatus, OutputSink};
use crate::clock::Clock;
use crate::model::{
    ActionSpec, AlertEvent, JobSpec, Notice, Overlap, Retention, RetryPolicy, RunOutcome,
    RunRecord, RunStatus, RunTrigger, State, Transition,
};
use crate::store::{Store, StoreError};
use crate::util::duration;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, warn};

/// Per-job run bookkeeping for the overlap policy, shared by every trigger of the job.
pub struct JobState {
    /// Runs admitted and not finished (running or waiting).
    active: AtomicUsize,
    /// A run is waiting behind the running one (`overlap: queue`).
    queued: AtomicBool,
    /// Serializes the runs of a job whose overlap is not `allow` (FIFO).
    serial: Semaphore,
    /// The run going now, for "held by" answers.
    current: Mutex<Option<i64>>,
}

impl Default for JobState {
    fn default() -> Self {
        JobState {
            active: AtomicUsize::new(0),
            queued: AtomicBool::new(false),
            serial: Semaphore::new(1),
            current: Mutex::new(None),
        }
    }
}

/// Whether a new run may go ahead under the job's overlap policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Start now (or as soon as a global permit is free).
    Go,
    /// Wait for the running one, then start.
    Queued,
    /// Run later, strictly one after another (missed-slot policy `all`).
    Serial,
    /// `--force`: start now, past overlap, locks and the global limit.
    Forced,
}

impl JobState {
    pub fn admit(&self, overlap: Overlap) -> Result<Admission, String> {
        let active = self.active.load(Ordering::SeqCst);
        let admission = match overlap {
            Overlap::Allow => Admission::Go,
            Overlap::Skip if active > 0 => {
                return Err(format!(
                    "overlap: the previous run is still running{}",
                    self.running_now()
                ));
            }
            Overlap::Skip => Admission::Go,
            Overlap::Queue if active == 0 => Admission::Go,
            Overlap::Queue if self.queued.swap(true, Ordering::SeqCst) => {
                return Err("overlap: a run is already waiting".into());
            }
            Overlap::Queue => Admission::Queued,
        };
        self.active.fetch_add(1, Ordering::SeqCst);
        Ok(admission)
    }

    /// Admits a catch-up run that must wait for every earlier one (policy `all`).
    pub fn admit_serial(&self) -> Admission {
        self.active.fetch_add(1, Ordering::SeqCst);
        Admission::Serial
    }

    /// Admits a forced run (`--force`): it starts now, whatever runs.
    pub fn admit_forced(&self) -> Admission {
        self.active.fetch_add(1, Ordering::SeqCst);
        Admission::Forced
    }

    /// Undoes an admission whose run will not happen (its slot was already claimed).
    pub fn withdraw(&self, admission: Admission) {
        if admission == Admission::Queued {
            self.queued.store(false, Ordering::SeqCst);
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    fn running_now(&self) -> String {
        match *self.current.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(id) => format!(" (run {id})"),
            None => String::new(),
        }
    }
}

/// A named lock (`locks: [gpu]`): one permit, and who holds it.
struct NamedLock {
    permit: Arc<Semaphore>,
    holder: Mutex<Option<(Arc<str>, i64)>>,
}

/// A held named lock; dropping it releases the lock and forgets its holder.
struct HeldLock {
    lock: Arc<NamedLock>,
    _permit: OwnedSemaphorePermit,
    /// In a cluster: the lock's ledger row, held under this fence, released with it.
    ledger: Option<(Store, String, i64)>,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if let Some((store, name, fence)) = self.ledger.take()
            && let Err(e) = store.release_lock(&name, fence)
        {
            // Its lease ends it anyway (the heartbeat stops renewing it with the run).
            warn!("cannot release lock {name} in the ledger: {e}");
        }
        *self.lock.holder.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl NamedLock {
    fn new() -> Self {
        NamedLock {
            permit: Arc::new(Semaphore::new(1)),
            holder: Mutex::new(None),
        }
    }

    fn held(self: &Arc<Self>, permit: OwnedSemaphorePermit, job: &str, run_id: i64) -> HeldLock {
        *self.holder.lock().unwrap_or_else(|p| p.into_inner()) = Some((job.into(), run_id));
        HeldLock {
            lock: self.clone(),
            _permit: permit,
            ledger: None,
        }
    }

    /// "lock busy: gpu (held by nightly-benchmark run 41)".
    fn busy(&self, name: &str) -> String {
        match &*self.holder.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((job, run)) => format!("lock busy: {name} (held by {job} run {run})"),
            None => format!("lock busy: {name}"),
        }
    }
}

/// Runs jobs. Cheap to clone. Every run is a tracked task; `shutdown` waits for them.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    permits: Semaphore,
    tracker: TaskTracker,
    /// No new runs or attempts start once this is cancelled.
    stop: CancellationToken,
    /// Running attempts are killed once this is cancelled.
    kill: CancellationToken,
    kill_grace: Duration,
    log_limit: AtomicU64,
    retention: Retention,
    finished: AtomicU64,
    /// Named locks, made on first use.
    locks: Mutex<HashMap<String, Arc<NamedLock>>>,
    /// The jobs to run after each job's runs (`after:`), by upstream job id.
    chained: Mutex<HashMap<Arc<str>, Vec<Arc<JobSpec>>>>,
    /// Each job's overlap bookkeeping, shared by all its triggers (schedule, manual, ...).
    states: Mutex<HashMap<Arc<str>, Arc<JobState>>>,
    /// Alert states by (job, rule): read from the ledger on first use, then kept here so that
    /// a sample never steps a state whose last change is still on its way to the ledger.
    alerts: Mutex<HashMap<(Arc<str>, String), State>>,
    /// Variables every run gets besides its own (`CLAWCRON_BIN`, `CLAWCRON_STATE_DIR`).
    base_env: Vec<(String, String)>,
    boot_id: String,
    /// Counters for `/metrics`.
    stats: Arc<crate::telemetry::RunStats>,
    /// Pauses, silences and maintenance windows.
    quiet: std::sync::RwLock<Arc<crate::quiet::Quiet>>,
    /// The `external` attempts waiting for their pings (fed by the `/ping` handlers).
    pings: crate::action::external::Pings,
    /// In a cluster (see `set_leased`): each going run's token, by run id.
    leased_on: AtomicBool,
    leased: Mutex<HashMap<i64, CancellationToken>>,
}

/// A rule's new state for the ledger: (job, rule, state, when).
type AlertStateRow = (String, String, State, i64);

/// How often a run waiting for a lock another node holds asks the ledger again.
const LEDGER_LOCK_POLL: Duration = Duration::from_millis(200);

/// Run retention after this many finished runs (and at start).
const RETENTION_EVERY: u64 = 64;

/// One run to carry out: its ledger row (already inserted), its slot and trigger, its admission.
pub struct Ticket {
    pub run_id: i64,
    pub slot: i64,
    pub trigger: RunTrigger,
    pub admission: Admission,
    /// Watched: each output line is sent here as it comes.
    pub watch: Option<OutputSink>,
    /// Cancels this run alone (Ctrl-C of a watching `clawcron trigger`).
    pub cancel: Option<CancellationToken>,
    /// Variables for this run only (a remediation's `CLAWCRON_ALERT`).
    pub env: Vec<(String, String)>,
}

impl Ticket {
    pub fn new(run_id: i64, slot: i64, trigger: RunTrigger, admission: Admission) -> Self {
        Ticket {
            run_id,
            slot,
            trigger,
            admission,
            watch: None,
            cancel: None,
            env: Vec::new(),
        }
    }
}

/// How a manual run is asked for.
#[derive(Default)]
pub struct Manual {
    /// Past admission (overlap, locks, the global limit) and a disabled job, on purpose.
    pub force: bool,
    pub watch: Option<OutputSink>,
    pub cancel: Option<CancellationToken>,
    /// Told the run's id as soon as its row exists (or it was refused).
    pub started: Option<tokio::sync::oneshot::Sender<i64>>,
}

/// What a turn of admission found.
enum Turn<'a> {
    /// Go ahead, holding these until the run ends.
    Go {
        _serial: Option<tokio::sync::SemaphorePermit<'a>>,
        _locks: Vec<HeldLock>,
        _permit: Option<tokio::sync::SemaphorePermit<'a>>,
        note: Option<String>,
    },
    /// A named lock was held by another run: skipped (with why).
    LockBusy(String),
    /// The job is paused: skipped (with its reason).
    Paused(String),
    Shutdown,
}

impl Runner {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        max_concurrent: usize,
        kill_grace: Duration,
        retention: Retention,
    ) -> Self {
        Self::with_env(
            store,
            clock,
            max_concurrent,
            kill_grace,
            retention,
            Vec::new(),
        )
    }

    pub fn with_env(
        store: Store,
        clock: Arc<dyn Clock>,
        max_concurrent: usize,
        kill_grace: Duration,
        retention: Retention,
        base_env: Vec<(String, String)>,
    ) -> Self {
        let store_q = store.clone();
        Runner {
            inner: Arc::new(Inner {
                store,
                clock,
                permits: Semaphore::new(max_concurrent.max(1)),
                tracker: TaskTracker::new(),
                stop: CancellationToken::new(),
                kill: CancellationToken::new(),
                kill_grace,
                retention,
                log_limit: AtomicU64::new(u64::MAX),
                finished: AtomicU64::new(0),
                locks: Mutex::new(HashMap::new()),
                chained: Mutex::new(HashMap::new()),
                states: Mutex::new(HashMap::new()),
                alerts: Mutex::new(HashMap::new()),
                base_env,
                boot_id: crate::util::boot_id(),
                stats: Arc::default(),
                quiet: std::sync::RwLock::new(Arc::new(crate::quiet::Quiet::none(store_q))),
                pings: Default::default(),
                leased_on: AtomicBool::new(false),
                leased: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Pauses, silences (and quiet hours) and maintenance windows, as the daemon sets them up.
    pub fn set_quiet(&self, quiet: Arc<crate::quiet::Quiet>) {
        *self.inner.quiet.write().unwrap_or_else(|p| p.into_inner()) = quiet;
    }

    pub fn quiet(&self) -> Arc<crate::quiet::Quiet> {
        self.inner.quiet()
    }

    /// At most this many bytes of one run's output go to the daemon log (`log.output_per_run`).
    pub fn set_log_limit(&self, bytes: u64) {
        self.inner.log_limit.store(bytes, Ordering::Relaxed);
    }

    /// Where `external` jobs' attempts wait for their pings (for the `/ping` handlers).
    pub fn pings(&self) -> crate::action::external::Pings {
        self.inner.pings.clone()
    }

    /// The ledger the runner writes.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The run counters and histograms (for `/metrics`).
    pub fn stats(&self) -> Arc<crate::telemetry::RunStats> {
        self.inner.stats.clone()
    }

    /// The overlap bookkeeping of job `id`, the same for every trigger of it.
    pub fn state_of(&self, id: &Arc<str>) -> Arc<JobState> {
        self.inner.state_of(id)
    }

    /// The jobs that run after others (`after:`): the enabled ones the scheduler has, given
    /// again at each reload. Jobs without `after` are ignored.
    pub fn set_chained<'a>(&self, jobs: impl IntoIterator<Item = &'a Arc<JobSpec>>) {
        let mut map: HashMap<Arc<str>, Vec<Arc<JobSpec>>> = HashMap::new();
        for job in jobs {
            if let Some(after) = job.after.as_ref().filter(|_| job.enabled) {
                map.entry(after.job.clone()).or_default().push(job.clone());
            }
        }
        *self.inner.chained.lock().unwrap_or_else(|p| p.into_inner()) = map;
    }

    /// Runs a past slot of `job` again (trigger `backfill`, its original slot), through the
    /// same admission and after-run stage as every run; returns when it has ended. `None`: the
    /// slot already succeeded or is running (the claim and that check are one statement). A
    /// run that admission refuses is a skipped row, returned as such.
    pub async fn backfill(
        &self,
        job: &JobSpec,
        slot: i64,
    ) -> Result<Option<(i64, RunOutcome)>, StoreError> {
        let (store, boot) = (&self.inner.store, &self.inner.boot_id);
        self.rerun(job, slot, RunTrigger::Backfill, |now_ms| {
            store.start_backfill(&job.id, slot, boot, now_ms)
        })
        .await
    }

    /// Runs again, on this node, a run lost with its node (trigger `retry`, the lost run's
    /// slot), once per lost run: `None` if another node claimed the retry.
    pub async fn retry_lost(
        &self,
        job: &JobSpec,
        slot: i64,
        cause: &str,
    ) -> Result<Option<(i64, RunOutcome)>, StoreError> {
        let (store, boot) = (&self.inner.store, &self.inner.boot_id);
        self.rerun(job, slot, RunTrigger::Retry, |now_ms| {
            store.start_retry(&job.id, slot, cause, boot, now_ms)
        })
        .await
    }

    /// A run of a past slot whose row `claim` inserts (or refuses: `None`).
    async fn rerun(
        &self,
        job: &JobSpec,
        slot: i64,
        trigger: RunTrigger,
        claim: impl FnOnce(i64) -> Result<Option<i64>, StoreError>,
    ) -> Result<Option<(i64, RunOutcome)>, StoreError> {
        let inner = &self.inner;
        let state = self.state_of(&job.id);
        let now = inner.clock.now();
        let admission = match state.admit(job.overlap) {
            Ok(a) => a,
            Err(reason) => {
                let run_id = inner.store.record_skipped_run(
                    &job.id,
                    trigger.as_str(),
                    slot,
                    &inner.boot_id,
                    &reason,
                )?;
                info!(
                    job = &*job.id,
                    run_id,
                    "{} run skipped: {reason}",
                    trigger.as_str()
                );
                return Ok(Some((run_id, inner.not_run(RunStatus::Skipped, reason))));
            }
        };
        let run_id = match claim(now.timestamp_millis()) {
            Ok(Some(id)) => id,
            Ok(None) => {
                state.withdraw(admission);
                return Ok(None);
            }
            Err(e) => {
                state.withdraw(admission);
                return Err(e);
            }
        };
        let ticket = Ticket::new(run_id, slot, trigger, admission);
        let inner = self.inner.clone();
        let job = Arc::new(job.clone());
        let outcome = self
            .inner
            .tracker
            .track_future(async move { inner.run(&job, &state, ticket).await })
            .await;
        Ok(Some((run_id, outcome)))
    }

    /// In a cluster: every run gets a token of its own, so that one whose lease was lost
    /// (taken over by another node, or the ledger unreachable past its lease) can be stopped.
    pub fn set_leased(&self, on: bool) {
        self.inner.leased_on.store(on, Ordering::SeqCst);
    }

    /// The runs going on this node (in a cluster).
    pub fn leased_runs(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .inner
            .leased
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Stops run `run_id` (its process group), whose lease this node lost; returns whether
    /// it was going here.
    pub fn stop_leased(&self, run_id: i64, why: &str) -> bool {
        let token = self
            .inner
            .leased
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&run_id)
            .cloned();
        match token {
            Some(t) => {
                warn!(run_id, "stopping the run: {why}");
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Starts a run whose row the caller inserted (a slot, `at_start`), in a tracked task.
    pub fn spawn(&self, job: Arc<JobSpec>, state: Arc<JobState>, ticket: Ticket) {
        let inner = self.inner.clone();
        self.inner.tracker.spawn(async move {
            inner.run(&job, &state, ticket).await;
        });
    }

    /// Runs `job` now, as its own ledger row (`trigger = manual`), through the same admission
    /// and after-run stage as a scheduled run; returns when it has ended. A run that admission
    /// refuses (overlap, a busy lock) is recorded as skipped with why, and returned as such.
    pub async fn run_now(
        &self,
        job: &JobSpec,
        manual: Manual,
    ) -> Result<(i64, RunOutcome), StoreError> {
        let inner = &self.inner;
        let state = self.state_of(&job.id);
        let now = inner.clock.now();
        // An `external` job runs elsewhere: its slots wait for its pings; by hand there is
        // nothing to run, and a failure would tell of a run that never was.
        if matches!(job.action, ActionSpec::External(_)) {
            let reason = "an `external` job runs elsewhere: its slots wait for its pings (`clawcron ping-url`), it is not run from here".to_string();
            let run_id = inner.store.record_skipped_run(
                &job.id,
                RunTrigger::Manual.as_str(),
                now.timestamp(),
                &inner.boot_id,
                &reason,
            )?;
            if let Some(tx) = manual.started {
                let _ = tx.send(run_id);
            }
            return Ok((run_id, inner.not_run(RunStatus::Skipped, reason)));
        }
        let admission = if manual.force {
            state.admit_forced()
        } else {
            match state.admit(job.overlap) {
                Ok(a) => a,
                Err(reason) => {
                    let run_id = inner.store.record_skipped_run(
                        &job.id,
                        RunTrigger::Manual.as_str(),
                        now.timestamp(),
                        &inner.boot_id,
                        &reason,
                    )?;
                    info!(job = &*job.id, run_id, "manual run skipped: {reason}");
                    if let Some(tx) = manual.started {
                        let _ = tx.send(run_id);
                    }
                    return Ok((run_id, inner.not_run(RunStatus::Skipped, reason)));
                }
            }
        };
        let run_id = match inner.store.start_run(
            &job.id,
            RunTrigger::Manual.as_str(),
            now.timestamp(),
            &inner.boot_id,
            now.timestamp_millis(),
        ) {
            Ok(id) => id,
            Err(e) => {
                state.withdraw(admission);
                return Err(e);
            }
        };
        if let Some(tx) = manual.started {
            let _ = tx.send(run_id);
        }
        let mut ticket = Ticket::new(run_id, now.timestamp(), RunTrigger::Manual, admission);
        ticket.watch = manual.watch;
        ticket.cancel = manual.cancel;
        let inner = self.inner.clone();
        let job = Arc::new(job.clone());
        // Tracked, so that `shutdown` (Ctrl-C, SIGTERM) waits for it and can stop it.
        let outcome = self
            .inner
            .tracker
            .track_future(async move { inner.run(&job, &state, ticket).await })
            .await;
        Ok((run_id, outcome))
    }

    /// Stops starting runs, lets running ones finish within `grace`, then kills them and
    /// waits until every run has recorded its outcome.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stop.cancel();
        self.inner.tracker.close();
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                running = self.inner.tracker.len(),
                "shutdown grace of {} over: terminating running jobs",
                duration::format(grace)
            );
            self.inner.kill.cancel();
            self.inner.tracker.wait().await;
        }
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || store.flush()).await {
            Ok(0) => {}
            Ok(n) => warn!(
                "{n} run outcome(s) could not be written to the ledger (it cannot be written); those runs will show as `interrupted`"
            ),
            Err(_) => warn!("could not wait for the ledger writer"),
        }
    }

    /// Spawns `task` on the runner's tracker, so that shutdown waits for it (an API trigger).
    pub fn track<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.inner.tracker.spawn(task);
    }

    pub fn running(&self) -> usize {
        self.inner.tracker.len()
    }
}

impl Inner {
    fn quiet(&self) -> Arc<crate::quiet::Quiet> {
        self.quiet.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn state_of(&self, id: &Arc<str>) -> Arc<JobState> {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.clone())
            .or_default()
            .clone()
    }

    fn not_run(&self, status: RunStatus, reason: String) -> RunOutcome {
        let now = self.clock.now().timestamp_millis();
        RunOutcome {
            status,
            reason: Some(reason),
            attempts: 0,
            started_at_ms: now,
            finished_at_ms: now,
            exit_code: None,
            error: None,
            output_tail: String::new(),
            metrics: Vec::new(),
        }
    }

    /// The pipeline of one admitted run: its turn, its attempts, its after-run stage.
    async fn run(&self, job: &JobSpec, state: &JobState, mut ticket: Ticket) -> RunOutcome {
        let run_id = ticket.run_id;
        if self.leased_on.load(Ordering::SeqCst) {
            let token = ticket
                .cancel
                .get_or_insert_with(CancellationToken::new)
                .clone();
            self.leased
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(run_id, token);
        }
        let outcome = self.run_leased(job, state, ticket).await;
        self.leased
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&run_id);
        outcome
    }

    async fn run_leased(&self, job: &JobSpec, state: &JobState, ticket: Ticket) -> RunOutcome {
        // Notices the action asked for (a report's delivery), written with the outcome.
        let mut notices = Vec::new();
        // A paused job's automatic runs (its slots, at_start, a chain) are recorded, not run;
        // manual runs and backfills are asked for on purpose.
        let paused = matches!(
            ticket.trigger,
            RunTrigger::Schedule | RunTrigger::AtStart | RunTrigger::After
        )
        .then(|| self.quiet().paused(&job.id))
        .flatten();
        let turn = match paused {
            Some(p) => Turn::Paused(format!("paused ({})", p.reason)),
            None => self.wait_turn(job, state, &ticket).await,
        };
        let outcome = match turn {
            Turn::Paused(reason) => self.not_run(RunStatus::Skipped, reason),
            Turn::Go { note, .. } => {
                info!(
                    job = &*job.id,
                    run_id = ticket.run_id,
                    trigger = ticket.trigger.as_str(),
                    slot = %crate::util::to_utc(ticket.slot).to_rfc3339(),
                    "run started: {}",
                    job.action.summary()
                );
                if ticket.trigger == RunTrigger::Schedule {
                    let late_ms = self.clock.now().timestamp_millis() - ticket.slot * 1000;
                    self.stats.started_late(&job.id, late_ms as f64 / 1000.0);
                }
                *state.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(ticket.run_id);
                // What this run disturbs is quiet while it goes and for its grace after.
                let window = self.open_window(job, &ticket);
                let (mut o, asked) = self.attempts(job, &ticket).await;
                if let Some((id, grace)) = window {
                    self.quiet()
                        .close(id, o.finished_at_ms + grace.as_millis() as i64);
                }
                notices = asked;
                *state.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
                if let Some(n) = note {
                    o.reason = Some(match o.reason {
                        Some(r) => format!("{n}; {r}"),
                        None => n,
                    });
                }
                o
            }
            Turn::LockBusy(reason) => self.not_run(RunStatus::Skipped, reason),
            Turn::Shutdown => self.not_run(
                RunStatus::Interrupted,
                "the daemon shut down before the run could start".into(),
            ),
        };
        state.active.fetch_sub(1, Ordering::SeqCst);
        let (outcome, fixes) = self.after_run(job, ticket.run_id, outcome, notices);
        for (rule, value) in fixes {
            Box::pin(self.remediate(job, rule, value, ticket.run_id)).await;
        }
        if ticket.trigger != RunTrigger::Remediation {
            Box::pin(self.chain(job, ticket.run_id, outcome.status)).await;
        }
        outcome
    }

    /// Opens the maintenance window of a run of a job with `maintenance:` (over the jobs it
    /// quiets), or of a `docker.restart` remediation (over its own job); returns its id and grace.
    fn open_window(&self, job: &JobSpec, ticket: &Ticket) -> Option<(i64, Duration)> {
        let (quiets, grace) = match (&job.maintenance, ticket.trigger, &job.action) {
            (Some(m), _, _) => (m.quiets.clone(), m.grace),
            (None, RunTrigger::Remediation, ActionSpec::DockerRestart(_)) => {
                (vec![job.id.to_string()], crate::model::REMEDIATION_GRACE)
            }
            _ => return None,
        };
        let now = self.clock.now().timestamp_millis();
        let id = self.quiet().open(&job.id, ticket.run_id, &quiets, now)?;
        info!(
            job = &*job.id,
            run_id = ticket.run_id,
            "maintenance: {} quiet until {} after this run",
            quiets.join(", "),
            duration::format(grace)
        );
        Some((id, grace))
    }

    /// Runs the jobs chained after `upstream` whose `on` matches how its run `run_id` ended,
    /// one after another, each once per cause (a second claim of a cause inserts nothing).
    async fn chain(&self, upstream: &JobSpec, run_id: i64, status: RunStatus) {
        let downstream: Vec<Arc<JobSpec>> = self
            .chained
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&upstream.id)
            .map(|jobs| {
                jobs.iter()
                    .filter(|d| d.after.as_ref().is_some_and(|a| a.fires_on(status)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for job in downstream {
            if self.stop.is_cancelled() {
                return;
            }
            let cause = format!("after {} run {run_id}", upstream.id);
            let state = self.state_of(&job.id);
            let now = self.clock.now();
            let trigger = RunTrigger::After.as_str();
            let admission = match state.admit(job.overlap) {
                Ok(a) => a,
                Err(reason) => {
                    info!(job = &*job.id, "chained run skipped ({cause}): {reason}");
                    let r = self.store.record_skipped_once(
                        &job.id,
                        trigger,
                        now.timestamp(),
                        &self.boot_id,
                        &reason,
                        Some(&cause),
                    );
                    if let Err(e) = r {
                        warn!(
                            job = &*job.id,
                            "cannot record the chained run ({cause}): {e}"
                        );
                    }
                    continue;
                }
            };
            let started = self.store.start_run_once(
                &job.id,
                trigger,
                now.timestamp(),
                &self.boot_id,
                now.timestamp_millis(),
                &cause,
            );
            let run_id = match started {
                Ok(Some(id)) => id,
                Ok(None) => {
                    state.withdraw(admission);
                    info!(job = &*job.id, "{cause}: already run");
                    continue;
                }
                Err(e) => {
                    state.withdraw(admission);
                    warn!(
                        job = &*job.id,
                        "cannot record the chained run ({cause}): {e}"
                    );
                    continue;
                }
            };
            info!(job = &*job.id, run_id, "chained: {cause}");
            let ticket = Ticket::new(run_id, now.timestamp(), RunTrigger::After, admission);
            Box::pin(self.run(&job, &state, ticket)).await;
        }
    }

    /// Record → regressions → alerts → notices, written with the outcome in one transaction.
    /// Returns the outcome (its reason may now name a regression) and the fired rules that have
    /// a remediation, with the value that fired them.
    fn after_run<'j>(
        &self,
        job: &'j JobSpec,
        run_id: i64,
        mut outcome: RunOutcome,
        asked: Vec<Notice>,
    ) -> (RunOutcome, Vec<(&'j crate::model::Rule, f64)>) {
        // Record: the log line and the counters.
        info!(
            job = &*job.id,
            run_id,
            status = outcome.status.as_str(),
            attempts = outcome.attempts,
            duration_ms = outcome.duration().as_millis() as u64,
            "run finished{}",
            outcome
                .error
                .as_deref()
                .or(outcome
                    .reason
                    .as_deref()
                    .filter(|_| outcome.status == RunStatus::Skipped))
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        self.stats.finished(
            &job.id,
            outcome.status.as_str(),
            outcome.duration().as_secs_f64(),
        );
        // Only needed for recovery notices: read only for jobs that notify.
        let previous = if job.notify.to.is_empty() {
            None
        } else {
            self.store.previous_outcome(&job.id, run_id).ok().flatten()
        };
        let mut events = Vec::new();
        let mut notices = Vec::new();
        self.regressions(job, run_id, &mut outcome, &mut events, &mut notices);
        let (alert_states, fixes) = self.alerts(job, run_id, &outcome, &mut events, &mut notices);
        let told = crate::notify::for_run(&self.store, job, run_id, &outcome, previous);
        notices.extend(told.notices);
        let mut streak = told.events;
        notices.extend(asked);
        self.quieten(job, &mut outcome, &mut events, &mut streak, &mut notices);
        events.extend(streak);
        self.store.record(
            run_id,
            RunRecord {
                outcome: outcome.clone(),
                alert_states,
                events,
                notices,
            },
        );
        if self.finished.fetch_add(1, Ordering::Relaxed) % RETENTION_EVERY == RETENTION_EVERY - 1 {
            self.retain();
        }
        (outcome, fixes)
    }

    /// Records, not sends, the notices a silence, quiet hours or a maintenance window covers
    /// (each says why); a quieted failure streak is not counted as told (so it is told when it
    /// goes on after the quiet), and a run inside a window says so in its reason.
    fn quieten(
        &self,
        job: &JobSpec,
        outcome: &mut RunOutcome,
        events: &mut [AlertEvent],
        streak: &mut [AlertEvent],
        notices: &mut [Notice],
    ) {
        let quiet = self.quiet();
        let at = outcome.finished_at_ms;
        if let Some(why) = quiet.maintenance(&job.id, at) {
            outcome.reason = Some(match outcome.reason.take() {
                Some(r) => format!("{r}; {why}"),
                None => why,
            });
        }
        if notices.is_empty() {
            return;
        }
        let judge = quiet.at(at);
        let mut quieted_failure = false;
        for n in notices.iter_mut().filter(|n| n.quiet.is_none()) {
            let event = n
                .payload
                .get("event")
                .and_then(|e| e.as_str())
                .unwrap_or("");
            let rule = n
                .payload
                .get("alert")
                .and_then(|a| a.get("name"))
                .and_then(|r| r.as_str());
            let of = n
                .payload
                .get("job")
                .and_then(|j| j.as_str())
                .unwrap_or(&job.id);
            n.quiet = judge.why(of, rule, event);
            if let Some(why) = &n.quiet {
                quieted_failure |= event.starts_with("failure");
                for e in events.iter_mut().filter(|e| Some(e.rule.as_str()) == rule) {
                    if !e.detail.contains(why.as_str()) {
                        e.detail = format!("{}; {why}", e.detail);
                    }
                }
            }
        }
        if quieted_failure {
            for e in streak.iter_mut().filter(|e| e.kind.starts_with("failing")) {
                e.kind = format!("{}-quiet", e.kind);
            }
        }
    }

    /// Compares a successful run's figures with their baselines: each regression becomes an
    /// alert event `regression`, a note in the run's reason, and a notice.
    fn regressions(
        &self,
        job: &JobSpec,
        run_id: i64,
        outcome: &mut RunOutcome,
        events: &mut Vec<AlertEvent>,
        notices: &mut Vec<Notice>,
    ) {
        let Some(spec) = &job.regression else {
            return;
        };
        if outcome.status != RunStatus::Succeeded {
            return;
        }
        let found = match crate::monitor::regression::check(
            &self.store,
            &job.id,
            run_id,
            spec,
            &outcome.metrics,
        ) {
            Ok(f) => f,
            Err(e) => {
                warn!(job = &*job.id, "cannot compare with the baseline: {e}");
                return;
            }
        };
        let at = outcome.finished_at_ms;
        let pins: Vec<crate::store::Baseline> = if found.is_empty() {
            Vec::new()
        } else {
            self.store
                .baselines()
                .unwrap_or_default()
                .into_iter()
                .filter(|b| b.job == *job.id)
                .collect()
        };
        for r in &found {
            warn!(
                job = &*job.id,
                run_id,
                metric = r.metric,
                "REGRESSION: {}",
                r.detail
            );
            events.push(AlertEvent {
                job: job.id.to_string(),
                rule: format!("regression:{}", r.metric),
                kind: "regression".into(),
                value: r.value,
                detail: r.detail.clone(),
                at,
            });
            // The pinned baseline it was compared with, if it was (its label, when pinned).
            let pinned = pins
                .iter()
                .find(|b| b.metric == r.metric && b.value == r.baseline)
                .map(|b| (b.label.clone(), b.pinned_at));
            let others: Vec<(String, f64)> = outcome
                .metrics
                .iter()
                .map(|m| (m.name.clone(), m.value))
                .collect();
            notices.extend(crate::notify::for_regression(
                job, run_id, r, &others, pinned, at,
            ));
        }
        if !found.is_empty() {
            let note = format!(
                "regression: {}",
                found
                    .iter()
                    .map(|r| r.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            outcome.reason = Some(match outcome.reason.take() {
                Some(r) => format!("{r}; {note}"),
                None => note,
            });
        }
    }

    /// Feeds a run's figures to the job's alert rules: the new states, the transitions as
    /// events and notices, and the rules that fired with a remediation.
    fn alerts<'j>(
        &self,
        job: &'j JobSpec,
        run_id: i64,
        outcome: &RunOutcome,
        events: &mut Vec<AlertEvent>,
        notices: &mut Vec<Notice>,
    ) -> (Vec<AlertStateRow>, Vec<(&'j crate::model::Rule, f64)>) {
        let mut states = Vec::new();
        let mut fixes = Vec::new();
        let at = outcome.finished_at_ms;
        // Inside a maintenance window a breaching sample does not count toward a rule.
        let in_window = if job.alerts.is_empty() {
            None
        } else {
            self.quiet().maintenance(&job.id, at)
        };
        for rule in &job.alerts {
            let Some(m) = outcome
                .metrics
                .iter()
                .rev()
                .find(|m| crate::model::metric_matches(&m.name, &rule.metric))
            else {
                continue;
            };
            if in_window.is_some() && rule.op.breaches(m.value, rule.threshold) {
                continue;
            }
            let mut cache = self.alerts.lock().unwrap_or_else(|p| p.into_inner());
            let key = (job.id.clone(), rule.name.clone());
            // In a cluster another node steps the same rule (it runs the job's other slots):
            // the state is read from the ledger each time (a changed state is committed at
            // once, see `Store::record`).
            if self.leased_on.load(Ordering::SeqCst) {
                cache.remove(&key);
            }
            let state = match cache.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    match self.store.alert_state(&job.id, &rule.name) {
                        Ok(s) => e.insert(s),
                        Err(err) => {
                            warn!(
                                job = &*job.id,
                                alert = rule.name,
                                "cannot read the alert's state: {err}"
                            );
                            continue;
                        }
                    }
                }
            };
            let before_since = state.since;
            let transition = state.observe(rule, m.value, at);
            states.push((job.id.to_string(), rule.name.clone(), state.clone(), at));
            let state_since = state.since.or(before_since);
            let state_window: Vec<f64> = state.window.iter().map(|(v, _)| *v).collect();
            drop(cache);
            let Some(t) = transition else { continue };
            log_transition(job, rule, &t);
            events.push(AlertEvent {
                job: job.id.to_string(),
                rule: rule.name.clone(),
                kind: t.kind().into(),
                value: t.value(),
                detail: t.detail(rule),
                at,
            });
            notices.extend(crate::notify::for_alert(
                job,
                rule,
                &crate::notify::AlertFacts {
                    kind: t.kind().into(),
                    value: t.value(),
                    detail: t.detail(rule),
                    at,
                    samples: match &t {
                        Transition::Fired { samples, .. } => samples.clone(),
                        _ => state_window,
                    },
                    since: state_since,
                    lasted_ms: match &t {
                        Transition::Repeat { firing_for, .. } => {
                            Some(firing_for.as_millis() as i64)
                        }
                        Transition::Resolved { lasted, .. } => Some(lasted.as_millis() as i64),
                        Transition::Fired { .. } => None,
                    },
                    peak: match &t {
                        Transition::Repeat { peak, .. } | Transition::Resolved { peak, .. } => {
                            Some(*peak)
                        }
                        Transition::Fired { .. } => None,
                    },
                    run_id: Some(run_id),
                    output_tail: Some(outcome.output_tail.clone()).filter(|t| !t.is_empty()),
                    ..Default::default()
                },
            ));
            if let Transition::Fired { value, .. } = t
                && rule.remediate.is_some()
            {
                fixes.push((rule, value));
            }
        }
        (states, fixes)
    }

    /// Runs a fired rule's remediation if its budget allows (`max` per `per`, counted in the
    /// ledger so that restarts do not reset it), as a run of its own (trigger `remediation`,
    /// its cause the alert and the run that fired it); otherwise records and notifies an
    /// escalation.
    async fn remediate(&self, job: &JobSpec, rule: &crate::model::Rule, value: f64, cause: i64) {
        let Some(fix) = &rule.remediate else { return };
        let now = self.clock.now();
        let window_start = now.timestamp_millis() - fix.per.as_millis() as i64;
        let used = self
            .store
            .count_alert_events(
                &job.id,
                &rule.name,
                &["remediated", "remediation-failed"],
                window_start,
            )
            .unwrap_or_else(|e| {
                warn!(
                    job = &*job.id,
                    alert = rule.name,
                    "cannot read the remediation budget: {e}"
                );
                fix.max
            });
        let what = fix.action.summary();
        let budget = |n: u32| {
            format!(
                "remediation {n} of {} per {}",
                fix.max,
                duration::format(fix.per)
            )
        };
        // The fired notice is in the outbox before anything of the remediation is: the notices
        // of one incident are sent in the order they happened.
        self.store.flush();
        let mut facts = crate::notify::AlertFacts {
            value,
            used: Some(used),
            ..Default::default()
        };
        let (kind, detail) = if used >= fix.max {
            warn!(
                job = &*job.id,
                alert = rule.name,
                "remediation budget spent ({used} in the last {}): not running {what}",
                duration::format(fix.per)
            );
            (
                "escalated",
                format!(
                    "remediation budget spent: {used} of {} in the last {}; {what} not run again, someone has to look",
                    fix.max,
                    duration::format(fix.per)
                ),
            )
        } else {
            info!(job = &*job.id, alert = rule.name, "remediating: {what}");
            let spec = remediation_spec(job, &fix.action, fix.timeout);
            let state = JobState::default();
            let admission = state.admit_serial();
            let started = self.store.start_run_caused(
                &job.id,
                RunTrigger::Remediation.as_str(),
                now.timestamp(),
                &self.boot_id,
                now.timestamp_millis(),
                &format!("alert {} fired by run {cause}", rule.name),
            );
            let run_id = match started {
                Ok(id) => id,
                Err(e) => {
                    warn!(
                        job = &*job.id,
                        alert = rule.name,
                        "cannot record the remediation run: {e}"
                    );
                    return;
                }
            };
            let mut ticket =
                Ticket::new(run_id, now.timestamp(), RunTrigger::Remediation, admission);
            ticket.env = vec![("CLAWCRON_ALERT".to_string(), rule.name.clone())];
            let span = tracing::info_span!("remediate", job = &*job.id, alert = rule.name);
            let r = Box::pin(self.run(&spec, &state, ticket))
                .instrument(span)
                .await;
            let n = used + 1;
            facts.used = Some(n);
            facts.remediation_run = Some(run_id);
            facts.run_id = Some(run_id);
            facts.output_tail = Some(r.output_tail.clone()).filter(|t| !t.is_empty());
            if r.status != RunStatus::Succeeded {
                facts.error = r.error.clone().or(r.reason.clone());
            }
            if r.status == RunStatus::Succeeded {
                info!(
                    job = &*job.id,
                    alert = rule.name,
                    run_id,
                    "remediation done: {what}"
                );
                (
                    "remediated",
                    format!("{what}: done (run {run_id}; {})", budget(n)),
                )
            } else {
                let e = r
                    .error
                    .or(r.reason)
                    .unwrap_or_else(|| r.status.as_str().to_string());
                warn!(
                    job = &*job.id,
                    alert = rule.name,
                    run_id,
                    "remediation failed: {what}: {e}"
                );
                (
                    "remediation-failed",
                    format!("{what}: failed: {e} (run {run_id}; {})", budget(n)),
                )
            }
        };
        let at = self.clock.now().timestamp_millis();
        let event = AlertEvent {
            job: job.id.to_string(),
            rule: rule.name.clone(),
            kind: kind.into(),
            value,
            detail: detail.clone(),
            at,
        };
        facts.kind = kind.into();
        facts.detail = detail.clone();
        facts.at = at;
        let notices = crate::notify::for_alert(job, rule, &facts);
        if let Err(e) = self.store.record_events(&[event], &notices) {
            warn!(
                job = &*job.id,
                alert = rule.name,
                "cannot record the remediation: {e}"
            );
        }
    }

    /// Waits for the job's turn (overlap), its named locks and a global permit.
    async fn wait_turn<'a>(
        &'a self,
        job: &JobSpec,
        state: &'a JobState,
        ticket: &Ticket,
    ) -> Turn<'a> {
        if ticket.admission == Admission::Forced {
            return Turn::Go {
                _serial: None,
                _locks: Vec::new(),
                _permit: None,
                note: Some("forced: started past overlap, locks and the concurrency limit".into()),
            };
        }
        let serial = if job.overlap == Overlap::Allow && ticket.admission == Admission::Go {
            None
        } else {
            tokio::select! {
                biased;
                p = state.serial.acquire() => match p {
                    Ok(p) => Some(p),
                    Err(_) => return Turn::Shutdown,
                },
                () = self.stop.cancelled() => return Turn::Shutdown,
            }
        };
        if ticket.admission == Admission::Queued {
            state.queued.store(false, Ordering::SeqCst);
        }
        // Locks in name order, so two jobs sharing two locks cannot deadlock.
        let mut locks = Vec::with_capacity(job.locks.len());
        let mut waited = Vec::new();
        for name in &job.locks {
            let lock = self.lock(name);
            if let Ok(p) = lock.permit.clone().try_acquire_owned() {
                locks.push(lock.held(p, &job.id, ticket.run_id));
                continue;
            }
            if job.overlap == Overlap::Skip {
                return Turn::LockBusy(lock.busy(name));
            }
            let start = tokio::time::Instant::now();
            let bound = async {
                match job.timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            let busy = lock.busy(name);
            tokio::select! {
                biased;
                p = lock.permit.clone().acquire_owned() => match p {
                    Ok(p) => locks.push(lock.held(p, &job.id, ticket.run_id)),
                    Err(_) => return Turn::Shutdown,
                },
                () = bound => return Turn::LockBusy(format!(
                    "{busy} (waited {}, the job's timeout)",
                    duration::format(start.elapsed())
                )),
                () = self.stop.cancelled() => return Turn::Shutdown,
            }
            waited.push(format!(
                "waited {} for lock {name}",
                duration::format(Duration::from_millis(start.elapsed().as_millis() as u64))
            ));
        }
        // In a cluster a lock is also a ledger row (with a lease and a fence), so that two
        // nodes never hold it at once.
        if self.leased_on.load(Ordering::SeqCst) {
            // `locks` holds one lock per name of `job.locks`, in that order.
            for (held, name) in locks.iter_mut().zip(&job.locks) {
                let start = tokio::time::Instant::now();
                loop {
                    match self.store.acquire_lock(name, ticket.run_id) {
                        Ok(Some(fence)) => {
                            held.ledger = Some((self.store.clone(), name.clone(), fence));
                            break;
                        }
                        Ok(None) if job.overlap == Overlap::Skip => {
                            return Turn::LockBusy(format!(
                                "lock busy: {name} (held on another node)"
                            ));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            warn!(job = &*job.id, "cannot take lock {name} in the ledger: {e}")
                        }
                    }
                    if job.timeout.is_some_and(|t| start.elapsed() >= t) {
                        return Turn::LockBusy(format!(
                            "lock busy: {name} (held on another node; waited {}, the job's timeout)",
                            duration::format(start.elapsed())
                        ));
                    }
                    tokio::select! {
                        () = tokio::time::sleep(LEDGER_LOCK_POLL) => {}
                        () = self.stop.cancelled() => return Turn::Shutdown,
                    }
                }
            }
        }
        // An `external` job only waits for pings: it takes no permit from the jobs that work.
        let permit = if matches!(job.action, ActionSpec::External(_)) {
            None
        } else {
            tokio::select! {
                biased;
                p = self.permits.acquire() => match p {
                    Ok(p) => Some(p),
                    Err(_) => return Turn::Shutdown,
                },
                () = self.stop.cancelled() => return Turn::Shutdown,
            }
        };
        Turn::Go {
            _serial: serial,
            _locks: locks,
            _permit: permit,
            note: (!waited.is_empty()).then(|| waited.join(", ")),
        }
    }

    fn lock(&self, name: &str) -> Arc<NamedLock> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(NamedLock::new()))
            .clone()
    }

    /// The attempts of a run; returns its outcome and the notices its last attempt asked for.
    async fn attempts(&self, job: &JobSpec, ticket: &Ticket) -> (RunOutcome, Vec<Notice>) {
        let run_id = ticket.run_id;
        let mut started_at_ms = self.clock.now().timestamp_millis();
        let mut env = self.base_env.clone();
        env.extend([
            ("CLAWCRON_JOB".to_string(), job.id.to_string()),
            ("CLAWCRON_RUN_ID".to_string(), run_id.to_string()),
            (
                "CLAWCRON_SLOT".to_string(),
                crate::util::to_utc(ticket.slot).to_rfc3339(),
            ),
        ]);
        env.extend(ticket.env.iter().cloned());
        let store = self.store.clone();
        let on_spawn = move |pid: u32| store.set_pid_later(run_id, pid);
        // A watched run can be cancelled alone; every run is killed at shutdown's end.
        let kill = match &ticket.cancel {
            Some(c) => {
                let kill = self.kill.child_token();
                let (k, c) = (kill.clone(), c.clone());
                self.tracker.spawn(async move {
                    tokio::select! {
                        () = c.cancelled() => k.cancel(),
                        () = k.cancelled() => {}
                    }
                });
                kill
            }
            None => self.kill.clone(),
        };
        // An `external` job waits until its slot + grace, whatever its `timeout`; it stops
        // waiting as soon as the daemon stops starting runs (a later ping turns it late).
        let external = match &job.action {
            ActionSpec::External(e) => Some(e.grace),
            _ => None,
        };
        let cancel = match external {
            Some(_) => self.stop.child_token(),
            None => kill.clone(),
        };
        let mut reason = None;
        let mut attempt = 0;
        let mut last: AttemptResult;
        let mut asked;
        loop {
            attempt += 1;
            let deadline = match external {
                Some(grace) => {
                    let left = ticket.slot * 1000 + grace.as_millis() as i64
                        - self.clock.now().timestamp_millis();
                    Some(tokio::time::Instant::now() + Duration::from_millis(left.max(0) as u64))
                }
                None => job.timeout.map(|t| tokio::time::Instant::now() + t),
            };
            let ctx = AttemptCtx::new(&job.id, run_id, cancel.clone(), self.kill_grace)
                .attempt(attempt)
                .deadline(deadline)
                .pings(Some(self.pings.clone()))
                .env(env.clone())
                .on_spawn(&on_spawn)
                .store(Some(self.store.clone()))
                .output(ticket.watch.clone())
                .slot(Some(ticket.slot))
                .log_limit(self.log_limit.load(Ordering::Relaxed));
            let span = tracing::info_span!("run", job = &*job.id, run_id, attempt);
            last = job.action.run(&ctx).instrument(span).await;
            asked = ctx.take_notices();
            if let Some(at) = ctx.take_started() {
                started_at_ms = at;
            }
            if let Some(n) = ctx.take_notes() {
                reason = Some(match reason.take() {
                    Some(r) => format!("{r}; {n}"),
                    None => n,
                });
            }
            if let Some(w) = &ticket.watch
                && !matches!(job.action, ActionSpec::Command(_))
            {
                // Kinds that do not stream their output show it when the attempt ends.
                for line in last.output_tail.lines() {
                    let _ = w.send(crate::redact::scrub(line).into_owned());
                }
            }
            if matches!(
                last.status,
                AttemptStatus::Succeeded | AttemptStatus::Interrupted
            ) || attempt >= job.retry.attempts
            {
                break;
            }
            if self.stop.is_cancelled() || kill.is_cancelled() {
                reason = Some("no retry: the daemon is shutting down".to_string());
                break;
            }
            let delay = job.retry.delay_before(attempt + 1, rand::random::<f64>());
            info!(
                job = &*job.id,
                run_id,
                attempt,
                "attempt failed ({}); retrying in {}",
                last.error.as_deref().unwrap_or("failed"),
                duration::format(delay)
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stop.cancelled() => {
                    reason = Some("no retry: the daemon is shutting down".to_string());
                    break;
                }
                () = kill.cancelled() => {
                    reason = Some("no retry: the run was cancelled".to_string());
                    break;
                }
            }
        }
        // Stopped by its client (Ctrl-C on `trigger`, or the client went away) while the daemon
        // runs on: say so, not "daemon shutdown".
        let by_client = ticket
            .cancel
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
            && !self.stop.is_cancelled();
        if by_client && last.status == AttemptStatus::Interrupted {
            last.error = Some(cancelled_by_client(last.error.take()));
        }
        if ticket.cancel.is_some() {
            // Ends the watcher task above.
            kill.cancel();
        }
        let status = match last.status {
            AttemptStatus::Succeeded => RunStatus::Succeeded,
            AttemptStatus::Failed => RunStatus::Failed,
            AttemptStatus::TimedOut => RunStatus::TimedOut,
            AttemptStatus::Interrupted => RunStatus::Interrupted,
        };
        let mut metrics = last.metrics;
        metrics.extend(crate::action::extract::apply(
            &job.extract,
            &last.output_tail,
        ));
        let outcome = RunOutcome {
            metrics,
            status,
            reason,
            attempts: attempt,
            started_at_ms,
            finished_at_ms: self.clock.now().timestamp_millis(),
            exit_code: last.exit_code,
            // Secrets never reach the ledger or a notice.
            error: last.error.map(|e| crate::redact::scrub(&e).into_owned()),
            output_tail: crate::redact::scrub(&last.output_tail).into_owned(),
        };
        (outcome, asked)
    }

    fn retain(&self) {
        let cutoff =
            self.clock.now().timestamp_millis() - self.retention.max_age.as_millis() as i64;
        if let Err(e) = self
            .store
            .apply_retention(self.retention.max_runs_per_job, cutoff)
        {
            warn!("ledger retention failed: {e}");
        }
    }
}

/// How an action says it was stopped (each kind says it the same way).
const SHUTDOWN_WORDS: &str = "interrupted by daemon shutdown";
/// What the ledger says instead when the run's own client stopped it.
const CLIENT_WORDS: &str =
    "cancelled by its client (Ctrl-C on `clawcron trigger`, or the client went away)";

/// An interrupted attempt's error, said as its client's cancel rather than a shutdown.
fn cancelled_by_client(error: Option<String>) -> String {
    match error {
        Some(e) if e.starts_with(SHUTDOWN_WORDS) => {
            format!("{CLIENT_WORDS}{}", &e[SHUTDOWN_WORDS.len()..])
        }
        Some(e) => format!("{CLIENT_WORDS}: {e}"),
        None => CLIENT_WORDS.to_string(),
    }
}

/// A remediation as a job of its own: the fix's action, its timeout, one attempt, the job's
/// locks; no alerts, regressions or notices of its own (its alert event says how it went).
fn remediation_spec(job: &JobSpec, action: &ActionSpec, timeout: Duration) -> JobSpec {
    JobSpec {
        action: action.clone(),
        timeout: Some(timeout),
        retry: RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        },
        overlap: Overlap::Allow,
        extract: Vec::new(),
        alerts: Vec::new(),
        notify: Default::default(),
        regression: None,
        maintenance: None,
        ..job.clone()
    }
}

fn log_transition(job: &JobSpec, rule: &crate::model::Rule, t: &Transition) {
    match t {
        Transition::Fired { value, samples } => warn!(
            job = &*job.id,
            alert = rule.name,
            value,
            "ALERT firing: {} (samples {samples:?})",
            rule.describe()
        ),
        Transition::Repeat {
            value,
            firing_for,
            peak,
        } => warn!(
            job = &*job.id,
            alert = rule.name,
            value,
            peak,
            "ALERT still firing after {}: {}",
            duration::format(*firing_for),
            rule.describe()
        ),
        Transition::Resolved {
            value,
            lasted,
            peak,
        } => info!(
            job = &*job.id,
            alert = rule.name,
            value,
            peak,
            "alert resolved after {}: {}",
            duration::format(*lasted),
            rule.describe()
        ),
    }
}
