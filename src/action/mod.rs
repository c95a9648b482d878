//! What a job does: one file per job kind, behind one enum. An action runs one attempt and
//! reports an `AttemptResult`; retries, timeouts per run and the ledger belong to the runner.

pub mod command;
pub mod docker;
pub mod extract;
pub mod http;
pub mod monitor;
pub mod ollama;
mod output;
pub mod report;
mod scripted;

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
            ActionSpec::OllamaPreload(_) => "ollama.preload",
            ActionSpec::OllamaUnload(_) => "ollama.unload",
            ActionSpec::OllamaBench(_) => "ollama.bench",
            ActionSpec::OllamaStatus(_) => "ollama.status",
            ActionSpec::Monitor(_) => "monitor",
            ActionSpec::Report(_) => "report",
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
            ActionSpec::OllamaPreload(p) => ollama::preload::run(p, ctx).await,
            ActionSpec::OllamaUnload(u) => ollama::unload::run(u, ctx).await,
            ActionSpec::OllamaBench(b) => ollama::bench::run(b, ctx).await,
            ActionSpec::OllamaStatus(s) => ollama::status::run(s, ctx).await,
            ActionSpec::Monitor(m) => monitor::run(m, ctx).await,
            ActionSpec::Report(r) => report::run(r, ctx).await,
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
