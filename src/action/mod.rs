//! What a job does: one file per job kind, behind one enum. An action runs one attempt and
//! reports an `AttemptResult`; retries, timeouts per run and the ledger belong to the runner.

pub mod command;
pub mod docker;
pub mod external;
pub mod extract;
pub mod host;
pub mod http;
pub mod monitor;
pub mod ollama;
mod output;
pub mod procs;
pub mod report;
mod scripted;
pub mod warden;

pub use output::OutputTail;

use crate::model::{ActionSpec, Metric};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

impl ActionSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ActionSpec::Command(c) => c.kind(),
            ActionSpec::Http(_) => "http",
            ActionSpec::DockerRestart(_) => "docker.restart",
            ActionSpec::DockerExec(_) => "docker.exec",
            ActionSpec::DockerStats(_) => "docker.stats",
            ActionSpec::HostStats(_) => "host.stats",
            ActionSpec::OllamaPreload(_) => "ollama.preload",
            ActionSpec::OllamaUnload(_) => "ollama.unload",
            ActionSpec::OllamaBench(_) => "ollama.bench",
            ActionSpec::OllamaStatus(_) => "ollama.status",
            ActionSpec::Monitor(_) => "monitor",
            ActionSpec::Report(_) => "report",
            ActionSpec::External(_) => "external",
            ActionSpec::Scripted(_) => "scripted",
        }
    }

    pub fn summary(&self) -> String {
        match self {
            ActionSpec::Command(c) => c.summary(),
            ActionSpec::Http(h) => h.summary(),
            ActionSpec::DockerRestart(r) => format!("restart {}", r.target.describe()),
            ActionSpec::DockerExec(e) => {
                format!("exec in {}: {}", e.target.describe(), e.command.join(" "))
            }
            ActionSpec::DockerStats(s) => format!("stats of {}", s.target.describe()),
            ActionSpec::HostStats(_) => "CPU, memory, swap and load of this machine".into(),
            ActionSpec::OllamaPreload(p) => format!(
                "preload {} at {}",
                [p.models.clone(), p.embed_models.clone()]
                    .concat()
                    .join(", "),
                p.url
            ),
            ActionSpec::OllamaUnload(p) => format!(
                "unload {} at {}",
                [p.models.clone(), p.embed_models.clone()]
                    .concat()
                    .join(", "),
                p.url
            ),
            ActionSpec::OllamaBench(b) => format!("bench {} x{} at {}", b.model, b.rounds, b.url),
            ActionSpec::OllamaStatus(s) => format!("status of {}", s.url),
            ActionSpec::Monitor(m) => m.summary(),
            ActionSpec::Report(r) => format!(
                "report {} ({}) into {}",
                r.template,
                r.lang.code(),
                r.out_dir.display()
            ),
            ActionSpec::External(e) => format!(
                "wait for the pings of a job that runs elsewhere (grace {})",
                crate::util::duration::format(e.grace)
            ),
            ActionSpec::Scripted(_) => "scripted".into(),
        }
    }

    /// Runs one attempt.
    pub async fn run(&self, ctx: &AttemptCtx<'_>) -> AttemptResult {
        match self {
            ActionSpec::Command(c) => command::run(c, ctx).await,
            ActionSpec::Http(h) => http::run(h, ctx).await,
            ActionSpec::DockerRestart(r) => docker::restart::run(r, ctx).await,
            ActionSpec::DockerExec(e) => docker::exec::run(e, ctx).await,
            ActionSpec::DockerStats(s) => docker::stats::run(s, ctx).await,
            ActionSpec::HostStats(h) => host::run(h, ctx).await,
            ActionSpec::OllamaPreload(p) => ollama::preload::run(p, ctx).await,
            ActionSpec::OllamaUnload(u) => ollama::unload::run(u, ctx).await,
            ActionSpec::OllamaBench(b) => ollama::bench::run(b, ctx).await,
            ActionSpec::OllamaStatus(s) => ollama::status::run(s, ctx).await,
            ActionSpec::Monitor(m) => monitor::run(m, ctx).await,
            ActionSpec::Report(r) => report::run(r, ctx).await,
            ActionSpec::External(e) => external::run(e, ctx).await,
            ActionSpec::Scripted(s) => s.run(ctx).await,
        }
    }
}

/// What an attempt is given.
pub struct AttemptCtx<'a> {
    pub job: &'a str,
    pub run_id: i64,
    pub attempt: u32,
    /// When the attempt times out (`None`: no timeout).
    pub deadline: Option<Instant>,
    /// Cancelled when the attempt must stop now (daemon shutdown after its grace).
    pub cancel: CancellationToken,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Variables every job gets (`CLAWCRON_JOB`, `CLAWCRON_RUN_ID`, `CLAWCRON_SLOT`).
    pub env: Vec<(String, String)>,
    /// Called with the process id once a process is started (recorded for crash reports).
    pub on_spawn: &'a (dyn Fn(u32) + Send + Sync),
    /// The ledger, for kinds that read it (reports, baselines).
    pub store: Option<crate::store::Store>,
    /// Each output line as it comes, for a `clawcron trigger` that watches the run.
    pub output: Option<OutputSink>,
    /// Notices the attempt asks for (a report's delivery): the after-run stage writes them with
    /// the run's outcome.
    pub notices: std::sync::Arc<std::sync::Mutex<Vec<crate::model::Notice>>>,
    /// What the attempt has to say in the run's reason ("left 1 process behind; stopped").
    notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// At most this many bytes of the run's output go to the daemon log (the ledger keeps the
    /// tail whatever the size).
    pub log_limit: u64,
    /// The schedule slot this attempt is for (Unix s; `None` for a manual or `at_start` run).
    pub slot: Option<i64>,
    /// Where `external` attempts wait for their pings.
    pub pings: Option<external::Pings>,
    /// When the work really started (Unix ms), if the attempt knows better than the runner
    /// (an `external` job's `start` ping).
    started: std::sync::Arc<std::sync::Mutex<Option<i64>>>,
}

/// Where a watched run's output lines go as they come.
pub type OutputSink = tokio::sync::mpsc::UnboundedSender<String>;

fn no_spawn(_: u32) {}

impl<'a> AttemptCtx<'a> {
    /// The first attempt of run `run_id` of `job`: no deadline, no extra environment, no ledger,
    /// nobody watching. The builder methods below add what a caller has.
    pub fn new(job: &'a str, run_id: i64, cancel: CancellationToken, kill_grace: Duration) -> Self {
        AttemptCtx {
            job,
            run_id,
            attempt: 1,
            deadline: None,
            cancel,
            kill_grace,
            env: Vec::new(),
            on_spawn: &no_spawn,
            store: None,
            output: None,
            notices: Default::default(),
            notes: Default::default(),
            log_limit: u64::MAX,
            slot: None,
            pings: None,
            started: Default::default(),
        }
    }

    /// Says when the work really started (Unix ms): the run's start and duration use it.
    pub fn mark_started(&self, at_ms: i64) {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(at_ms);
    }

    /// When the work really started, if the attempt said (`mark_started`).
    pub fn take_started(&self) -> Option<i64> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub fn slot(mut self, slot: Option<i64>) -> Self {
        self.slot = slot;
        self
    }

    pub fn pings(mut self, pings: Option<external::Pings>) -> Self {
        self.pings = pings;
        self
    }

    /// Adds a line to the run's reason.
    pub fn note(&self, text: String) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(text);
    }

    /// The notes so far, joined ("a; b").
    pub fn take_notes(&self) -> Option<String> {
        let notes = std::mem::take(&mut *self.notes.lock().unwrap_or_else(|p| p.into_inner()));
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    pub fn log_limit(mut self, bytes: u64) -> Self {
        self.log_limit = bytes;
        self
    }

    /// Asks for notices to be written with the run's outcome.
    pub fn queue(&self, notices: Vec<crate::model::Notice>) {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(notices);
    }

    /// The notices asked for so far.
    pub fn take_notices(&self) -> Vec<crate::model::Notice> {
        std::mem::take(&mut *self.notices.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    pub fn deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    pub fn on_spawn(mut self, on_spawn: &'a (dyn Fn(u32) + Send + Sync)) -> Self {
        self.on_spawn = on_spawn;
        self
    }

    pub fn store(mut self, store: Option<crate::store::Store>) -> Self {
        self.store = store;
        self
    }

    pub fn output(mut self, output: Option<OutputSink>) -> Self {
        self.output = output;
        self
    }

    /// The context of a part of this attempt (a monitor's probe, a report's check): the same
    /// run, environment and cancellation, with its own deadline.
    pub fn part(&self, deadline: Option<Instant>) -> AttemptCtx<'a> {
        AttemptCtx {
            job: self.job,
            run_id: self.run_id,
            attempt: self.attempt,
            deadline,
            cancel: self.cancel.clone(),
            kill_grace: self.kill_grace,
            env: self.env.clone(),
            on_spawn: self.on_spawn,
            store: self.store.clone(),
            output: self.output.clone(),
            notices: self.notices.clone(),
            notes: self.notes.clone(),
            log_limit: self.log_limit,
            slot: self.slot,
            pings: self.pings.clone(),
            started: self.started.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptStatus {
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status: AttemptStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub output_tail: String,
    /// Figures the job kind measured (latency, tokens/s, memory...), stored with the run.
    pub metrics: Vec<Metric>,
}

impl AttemptResult {
    pub fn failed(error: impl Into<String>) -> Self {
        AttemptResult {
            status: AttemptStatus::Failed,
            exit_code: None,
            error: Some(error.into()),
            output_tail: String::new(),
            metrics: Vec::new(),
        }
    }
}
