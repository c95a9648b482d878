//! How one run proceeds: overlap and concurrency permits, attempts with a timeout each,
//! retries with exponential backoff and jitter, and the outcome written to the ledger.
//! A failed run is data (an outcome), never an error that stops the daemon.

use crate::action::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::clock::Clock;
use crate::model::{JobSpec, Overlap, Retention};
use crate::model::{RunOutcome, RunStatus};
use crate::store::Store;
use crate::util::duration;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, warn};

/// Per-job run bookkeeping for the overlap policy.
pub struct JobState {
    /// Runs admitted and not finished (running or waiting).
    active: AtomicUsize,
    /// A run is waiting behind the running one (`overlap: queue`).
    queued: AtomicBool,
    /// Serializes the runs of a job whose overlap is not `allow` (FIFO).
    serial: Semaphore,
}

impl Default for JobState {
    fn default() -> Self {
        JobState {
            active: AtomicUsize::new(0),
            queued: AtomicBool::new(false),
            serial: Semaphore::new(1),
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
}

impl JobState {
    pub fn admit(&self, overlap: Overlap) -> Result<Admission, &'static str> {
        let active = self.active.load(Ordering::SeqCst);
        let admission = match overlap {
            Overlap::Allow => Admission::Go,
            Overlap::Skip if active > 0 => {
                return Err("overlap: the previous run is still running");
            }
            Overlap::Skip => Admission::Go,
            Overlap::Queue if active == 0 => Admission::Go,
            Overlap::Queue if self.queued.swap(true, Ordering::SeqCst) => {
                return Err("overlap: a run is already waiting");
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
    retention: Retention,
    finished: AtomicU64,
    /// Woken when notices are queued, so the dispatcher sends them at once.
    wake_notifier: Arc<tokio::sync::Notify>,
    /// Named locks (`locks: [gpu]`), one permit each, made on first use.
    locks: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
    /// Variables every run gets besides its own (`CLAWCRON_BIN`, `CLAWCRON_STATE_DIR`).
    base_env: Vec<(String, String)>,
    /// Counters for `/metrics`.
    stats: Arc<crate::telemetry::RunStats>,
}

/// Run retention after this many finished runs (and at start).
const RETENTION_EVERY: u64 = 64;

/// The job's previous outcome, needed only for recovery notices: read only for jobs that notify.
fn previous_outcome(store: &Store, job: &JobSpec, run_id: i64) -> Option<(String, i64)> {
    if job.notify.to.is_empty() {
        return None;
    }
    store.previous_outcome(&job.id, run_id).ok().flatten()
}

/// Feeds a run's metrics to the job's alert rules, logs what changed and queues the notices.
/// Returns how many notices were queued, and the rules that fired with a remediation to run
/// (with the value that fired them).
fn evaluate_alerts<'j>(
    store: &Store,
    job: &'j JobSpec,
    outcome: &RunOutcome,
) -> (usize, Vec<(&'j crate::model::Rule, f64)>) {
    let mut queued = 0;
    let mut remediate = Vec::new();
    for rule in &job.alerts {
        let Some(m) = outcome
            .metrics
            .iter()
            .rev()
            .find(|m| crate::model::metric_matches(&m.name, &rule.metric))
        else {
            continue;
        };
        let at = outcome.finished_at_ms;
        let t = store.observe_alert(&job.id, rule, at, |s| s.observe(rule, m.value, at));
        store.health().observe("an alert sample", &t);
        if let Ok(Some(tr)) = &t {
            queued += crate::notify::on_alert(
                store,
                job,
                rule,
                tr.kind(),
                tr.value(),
                &tr.detail(rule),
                at,
            );
        }
        match t {
            Ok(Some(crate::model::Transition::Fired { value, samples })) => {
                if rule.remediate.is_some() {
                    remediate.push((rule, value));
                }
                warn!(
                    job = &*job.id,
                    alert = rule.name,
                    value,
                    "ALERT firing: {} (samples {samples:?})",
                    rule.describe()
                );
            }
            Ok(Some(crate::model::Transition::Repeat {
                value,
                firing_for,
                peak,
            })) => {
                warn!(
                    job = &*job.id,
                    alert = rule.name,
                    value,
                    peak,
                    "ALERT still firing after {}: {}",
                    duration::format(firing_for),
                    rule.describe()
                );
            }
            Ok(Some(crate::model::Transition::Resolved {
                value,
                lasted,
                peak,
            })) => {
                info!(
                    job = &*job.id,
                    alert = rule.name,
                    value,
                    peak,
                    "alert resolved after {}: {}",
                    duration::format(lasted),
                    rule.describe()
                );
            }
            Ok(None) => {}
            Err(e) => warn!(
                job = &*job.id,
                alert = rule.name,
                "cannot update the alert's state: {e}"
            ),
        }
    }
    (queued, remediate)
}

/// Compares a successful run's figures with their baselines: each regression is recorded (as an
/// alert event `regression`), noted in the run's reason, and notified. Returns notices queued.
fn check_regressions(store: &Store, job: &JobSpec, run_id: i64, outcome: &mut RunOutcome) -> usize {
    let Some(spec) = &job.regression else {
        return 0;
    };
    if outcome.status != RunStatus::Succeeded {
        return 0;
    }
    let found =
        match crate::monitor::regression::check(store, &job.id, run_id, spec, &outcome.metrics) {
            Ok(f) => f,
            Err(e) => {
                warn!(job = &*job.id, "cannot compare with the baseline: {e}");
                return 0;
            }
        };
    let mut queued = 0;
    for r in &found {
        warn!(
            job = &*job.id,
            run_id,
            metric = r.metric,
            "REGRESSION: {}",
            r.detail
        );
        let at = outcome.finished_at_ms;
        if let Err(e) = store.record_alert_event(
            &job.id,
            &format!("regression:{}", r.metric),
            "regression",
            r.value,
            &r.detail,
            at,
        ) {
            warn!(job = &*job.id, "cannot record the regression: {e}");
        }
        queued += crate::notify::on_regression(store, job, run_id, r, at);
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
    queued
}

/// What a run found when its turn came.
enum Turn<'a> {
    /// Go ahead, holding these until the run ends.
    Go {
        _serial: Option<tokio::sync::SemaphorePermit<'a>>,
        _locks: Vec<tokio::sync::OwnedSemaphorePermit>,
        _permit: tokio::sync::SemaphorePermit<'a>,
        waited_for_locks: Option<String>,
    },
    /// A named lock was held by another job: skipped (with why).
    LockBusy(String),
    Shutdown,
}

/// One run to carry out.
pub struct Ticket {
    pub run_id: i64,
    pub slot: i64,
    pub trigger: &'static str,
    pub admission: Admission,
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
                finished: AtomicU64::new(0),
                locks: std::sync::Mutex::new(std::collections::HashMap::new()),
                wake_notifier: Arc::new(tokio::sync::Notify::new()),
                base_env,
                stats: Arc::default(),
            }),
        }
    }

    /// The run counters and histograms (for `/metrics`).
    pub fn stats(&self) -> Arc<crate::telemetry::RunStats> {
        self.inner.stats.clone()
    }

    /// Starts a run in a tracked task.
    pub fn spawn(&self, job: Arc<JobSpec>, state: Arc<JobState>, ticket: Ticket) {
        let inner = self.inner.clone();
        self.inner.tracker.spawn(async move {
            inner.run(&job, &state, ticket).await;
        });
    }

    /// Runs one job now, in this task, as its own ledger row (`trigger = manual`).
    pub async fn run_now(
        &self,
        job: &JobSpec,
        trigger: &'static str,
        boot_id: &str,
    ) -> Result<(i64, RunOutcome), crate::store::StoreError> {
        let now = self.inner.clock.now();
        let run_id = self.inner.store.start_run(
            &job.id,
            trigger,
            now.timestamp(),
            boot_id,
            now.timestamp_millis(),
        )?;
        // Tracked, so that `shutdown` (Ctrl-C during `clawcron trigger`) can stop it.
        let outcome = self
            .inner
            .tracker
            .track_future(self.inner.attempts(job, run_id, now.timestamp()))
            .await;
        self.inner.stats.finished(
            &job.id,
            outcome.status.as_str(),
            outcome.duration().as_secs_f64(),
        );
        let previous = previous_outcome(&self.inner.store, job, run_id);
        let mut outcome = outcome;
        check_regressions(&self.inner.store, job, run_id, &mut outcome);
        if let Err(e) = self.inner.store.finish(run_id, &outcome) {
            warn!(
                job = &*job.id,
                run_id, "the outcome is kept and written once the ledger can be: {e}"
            );
        }
        // Queued notices are delivered by the daemon (now, if it runs; else when it starts).
        let (_, fixes) = evaluate_alerts(&self.inner.store, job, &outcome);
        crate::notify::on_run(&self.inner.store, job, run_id, &outcome, previous);
        for (rule, value) in fixes {
            self.inner.remediate(job, rule, value, run_id).await;
        }
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

    /// The notification dispatcher's wake-up, notified whenever a notice is queued.
    pub fn notifier_wake(&self) -> Arc<tokio::sync::Notify> {
        self.inner.wake_notifier.clone()
    }

    pub fn running(&self) -> usize {
        self.inner.tracker.len()
    }
}

impl Inner {
    async fn run(&self, job: &JobSpec, state: &JobState, ticket: Ticket) {
        let now = self.clock.now().timestamp_millis();
        let not_run = |status: RunStatus, reason: String| RunOutcome {
            status,
            reason: Some(reason),
            attempts: 0,
            started_at_ms: now,
            finished_at_ms: self.clock.now().timestamp_millis(),
            exit_code: None,
            error: None,
            output_tail: String::new(),
            metrics: Vec::new(),
        };
        let outcome = match self.wait_turn(job, state, &ticket).await {
            Turn::Go {
                waited_for_locks, ..
            } => {
                info!(
                    job = &*job.id,
                    run_id = ticket.run_id,
                    trigger = ticket.trigger,
                    slot = %crate::util::to_utc(ticket.slot).to_rfc3339(),
                    "run started: {}",
                    job.action.summary()
                );
                if ticket.trigger == "schedule" {
                    let late_ms = self.clock.now().timestamp_millis() - ticket.slot * 1000;
                    self.stats.started_late(&job.id, late_ms as f64 / 1000.0);
                }
                let mut o = self.attempts(job, ticket.run_id, ticket.slot).await;
                if let Some(w) = waited_for_locks {
                    o.reason = Some(match o.reason {
                        Some(r) => format!("{w}; {r}"),
                        None => w,
                    });
                }
                o
            }
            Turn::LockBusy(reason) => not_run(RunStatus::Skipped, reason),
            Turn::Shutdown => not_run(
                RunStatus::Interrupted,
                "the daemon shut down before the run could start".into(),
            ),
        };
        state.active.fetch_sub(1, Ordering::SeqCst);
        info!(
            job = &*job.id,
            run_id = ticket.run_id,
            status = outcome.status.as_str(),
            attempts = outcome.attempts,
            duration_ms = outcome.duration().as_millis() as u64,
            "run finished{}",
            outcome
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        self.stats.finished(
            &job.id,
            outcome.status.as_str(),
            outcome.duration().as_secs_f64(),
        );
        let previous = previous_outcome(&self.store, job, ticket.run_id);
        let mut outcome = outcome;
        let (queued, fixes) = evaluate_alerts(&self.store, job, &outcome);
        let queued = queued
            + check_regressions(&self.store, job, ticket.run_id, &mut outcome)
            + crate::notify::on_run(&self.store, job, ticket.run_id, &outcome, previous);
        // A report queues its own notices.
        if queued > 0 || matches!(job.action, crate::model::ActionSpec::Report(_)) {
            self.wake_notifier.notify_one();
        }
        self.store.finish_later(ticket.run_id, outcome);
        if self.finished.fetch_add(1, Ordering::Relaxed) % RETENTION_EVERY == RETENTION_EVERY - 1 {
            self.retain();
        }
        for (rule, value) in fixes {
            self.remediate(job, rule, value, ticket.run_id).await;
        }
    }

    /// Runs a fired rule's remediation if its budget allows (`max` per `per`, counted in the
    /// ledger so that restarts do not reset it); otherwise records and notifies an escalation.
    async fn remediate(&self, job: &JobSpec, rule: &crate::model::Rule, value: f64, run_id: i64) {
        let Some(fix) = &rule.remediate else { return };
        let now = self.clock.now().timestamp_millis();
        let window_start = now - fix.per.as_millis() as i64;
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
            let mut env = self.base_env.clone();
            env.push(("CLAWCRON_JOB".to_string(), job.id.to_string()));
            env.push(("CLAWCRON_ALERT".to_string(), rule.name.clone()));
            let ctx = AttemptCtx {
                job: &job.id,
                run_id,
                attempt: 1,
                deadline: Some(tokio::time::Instant::now() + fix.timeout),
                cancel: self.kill.clone(),
                kill_grace: self.kill_grace,
                env,
                on_spawn: &|_| {},
                store: Some(self.store.clone()),
            };
            let span = tracing::info_span!("remediate", job = &*job.id, alert = rule.name);
            let r = fix.action.run(&ctx).instrument(span).await;
            let n = used + 1;
            if r.status == AttemptStatus::Succeeded {
                info!(
                    job = &*job.id,
                    alert = rule.name,
                    "remediation done: {what}"
                );
                (
                    "remediated",
                    format!(
                        "{what}: done (remediation {n} of {} per {})",
                        fix.max,
                        duration::format(fix.per)
                    ),
                )
            } else {
                let e = crate::redact::scrub(r.error.as_deref().unwrap_or("failed")).into_owned();
                warn!(
                    job = &*job.id,
                    alert = rule.name,
                    "remediation failed: {what}: {e}"
                );
                (
                    "remediation-failed",
                    format!(
                        "{what}: failed: {e} (remediation {n} of {} per {})",
                        fix.max,
                        duration::format(fix.per)
                    ),
                )
            }
        };
        let at = self.clock.now().timestamp_millis();
        if let Err(e) = self
            .store
            .record_alert_event(&job.id, &rule.name, kind, value, &detail, at)
        {
            warn!(
                job = &*job.id,
                alert = rule.name,
                "cannot record the remediation: {e}"
            );
        }
        if crate::notify::on_alert(&self.store, job, rule, kind, value, &detail, at) > 0 {
            self.wake_notifier.notify_one();
        }
    }

    /// Waits for the job's turn (overlap) and a global permit; `None` if shutdown came first.
    /// Waits for the job's turn (overlap), its named locks and a global permit.
    async fn wait_turn<'a>(
        &'a self,
        job: &JobSpec,
        state: &'a JobState,
        ticket: &Ticket,
    ) -> Turn<'a> {
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
            let sem = self.lock(name);
            if let Ok(p) = sem.clone().try_acquire_owned() {
                locks.push(p);
                continue;
            }
            if job.overlap == Overlap::Skip {
                return Turn::LockBusy(format!("lock busy: {name}"));
            }
            let start = tokio::time::Instant::now();
            let bound = async {
                match job.timeout {
                    Some(t) => tokio::time::sleep(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                p = sem.acquire_owned() => match p {
                    Ok(p) => locks.push(p),
                    Err(_) => return Turn::Shutdown,
                },
                () = bound => return Turn::LockBusy(format!(
                    "lock busy: {name} (waited {}, the job's timeout)",
                    duration::format(start.elapsed())
                )),
                () = self.stop.cancelled() => return Turn::Shutdown,
            }
            waited.push(format!(
                "waited {} for lock {name}",
                duration::format(Duration::from_millis(start.elapsed().as_millis() as u64))
            ));
        }
        let permit = tokio::select! {
            biased;
            p = self.permits.acquire() => match p {
                Ok(p) => p,
                Err(_) => return Turn::Shutdown,
            },
            () = self.stop.cancelled() => return Turn::Shutdown,
        };
        Turn::Go {
            _serial: serial,
            _locks: locks,
            _permit: permit,
            waited_for_locks: (!waited.is_empty()).then(|| waited.join(", ")),
        }
    }

    fn lock(&self, name: &str) -> Arc<Semaphore> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    async fn attempts(&self, job: &JobSpec, run_id: i64, slot: i64) -> RunOutcome {
        let started_at_ms = self.clock.now().timestamp_millis();
        let mut env = self.base_env.clone();
        env.extend([
            ("CLAWCRON_JOB".to_string(), job.id.to_string()),
            ("CLAWCRON_RUN_ID".to_string(), run_id.to_string()),
            (
                "CLAWCRON_SLOT".to_string(),
                crate::util::to_utc(slot).to_rfc3339(),
            ),
        ]);
        let store = self.store.clone();
        let on_spawn = move |pid: u32| store.set_pid_later(run_id, pid);
        let mut reason = None;
        let mut attempt = 0;
        let mut last: AttemptResult;
        loop {
            attempt += 1;
            let ctx = AttemptCtx {
                job: &job.id,
                run_id,
                attempt,
                deadline: job.timeout.map(|t| tokio::time::Instant::now() + t),
                cancel: self.kill.clone(),
                kill_grace: self.kill_grace,
                env: env.clone(),
                on_spawn: &on_spawn,
                store: Some(self.store.clone()),
            };
            let span = tracing::info_span!("run", job = &*job.id, run_id, attempt);
            last = job.action.run(&ctx).instrument(span).await;
            if matches!(
                last.status,
                AttemptStatus::Succeeded | AttemptStatus::Interrupted
            ) || attempt >= job.retry.attempts
            {
                break;
            }
            if self.stop.is_cancelled() {
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
            }
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
        RunOutcome {
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
        }
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
