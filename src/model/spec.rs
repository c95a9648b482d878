//! The validated configuration: what the daemon, scheduler and runner act on.

use crate::model::ActionSpec;
use crate::model::RunStatus;
use crate::model::Trigger;
use chrono_tz::Tz;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `clawcron.yaml`, validated, with defaults filled in.
#[derive(Debug, Clone)]
pub struct GlobalConfig {
    pub timezone: Tz,
    pub state_dir: Option<PathBuf>,
    pub jobs_dir: Option<PathBuf>,
    /// Resolved by the loader: `templates_dir`, else `templates/` beside clawcron.yaml.
    pub templates_dir: Option<PathBuf>,
    /// The folder relative paths in clawcron.yaml (and report folders) are resolved against.
    pub base_dir: PathBuf,
    pub max_concurrent_runs: usize,
    /// How long running jobs may take to finish after SIGTERM before they are killed.
    pub shutdown_grace: Duration,
    /// Between SIGTERM and SIGKILL of a job's process group (timeouts and shutdown).
    pub kill_grace: Duration,
    pub retention: Retention,
    pub log: LogConfig,
    /// The Docker engine for docker.* jobs (`unix:///...` or `tcp://...`); default as the CLI.
    pub docker_host: Option<String>,
    /// Notification channels by name.
    pub notifiers: std::collections::HashMap<String, crate::model::Channel>,
    pub notify_retry: Duration,
    pub notify_timeout: Duration,
    /// Where the status API listens (`None`: off).
    pub api_listen: Option<std::net::SocketAddr>,
    /// `api.public_reads`: reads on loopback need no token (opt-out, warned about).
    pub api_public_reads: bool,
    /// `ping_listen`: where `external` jobs' pings are taken from other machines (`/ping` only).
    pub ping_listen: Option<std::net::SocketAddr>,
    /// Channels told about the daemon's downtime.
    pub daemon_notify: Vec<String>,
    /// (URL, interval) pinged while the daemon runs.
    pub heartbeat: Option<(String, Duration)>,
    /// Recurring quiet hours (`silences:`).
    pub quiet_hours: Vec<crate::model::QuietHours>,
    /// `language:`: what notices, the dashboard and reports are written in (default English).
    pub lang: crate::model::Lang,
    /// A channel's own `language:`, over the global one.
    pub channel_langs: std::collections::HashMap<String, crate::model::Lang>,
    /// `ledger:`: a PostgreSQL ledger shared by several nodes (`None`: SQLite).
    pub ledger: Option<LedgerSpec>,
    /// `node:`: this machine's name and tags in a cluster.
    pub node: NodeSpec,
}

/// The dashboard's address for an API bound at `a` (an unspecified address is this machine's).
pub fn dashboard_url_at(a: std::net::SocketAddr) -> String {
    let host = if a.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        a.ip().to_string()
    };
    format!("http://{host}:{}/", a.port())
}

impl GlobalConfig {
    /// The dashboard's address as a browser on this machine opens it, when the API is on.
    pub fn dashboard_url(&self) -> Option<String> {
        self.api_listen.map(dashboard_url_at)
    }
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            timezone: crate::util::system_timezone(),
            state_dir: None,
            jobs_dir: None,
            templates_dir: None,
            base_dir: PathBuf::new(),
            max_concurrent_runs: 16,
            shutdown_grace: Duration::from_secs(30),
            kill_grace: Duration::from_secs(5),
            retention: Retention::default(),
            log: LogConfig::default(),
            docker_host: None,
            notifiers: std::collections::HashMap::new(),
            quiet_hours: Vec::new(),
            lang: crate::model::Lang::En,
            channel_langs: std::collections::HashMap::new(),
            ledger: None,
            node: NodeSpec::default(),
            notify_retry: Duration::from_secs(10),
            notify_timeout: Duration::from_secs(15),
            api_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8787))),
            api_public_reads: false,
            ping_listen: None,
            daemon_notify: Vec::new(),
            heartbeat: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Retention {
    pub max_runs_per_job: u32,
    pub max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_runs_per_job: 1000,
            max_age: Duration::from_secs(90 * 86_400),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Daily,
    Hourly,
    Never,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    pub file: Option<PathBuf>,
    pub rotation: Rotation,
    pub level: String,
    /// At most this many bytes of one run's output go to the daemon log.
    pub output_per_run: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            file: None,
            rotation: Rotation::Daily,
            level: "info".into(),
            output_per_run: 1_000_000,
        }
    }
}

/// One job, validated.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The file stem.
    pub id: Arc<str>,
    pub path: PathBuf,
    pub description: String,
    pub enabled: bool,
    pub trigger: Trigger,
    pub missed: MissedPolicy,
    pub overlap: Overlap,
    pub timeout: Option<Duration>,
    pub retry: RetryPolicy,
    pub action: ActionSpec,
    /// Figures to read from the run's output into metrics.
    pub extract: Vec<crate::model::Extract>,
    /// Named locks: jobs sharing one never run at the same time (sorted, no duplicates).
    pub locks: Vec<String>,
    /// Threshold rules over this job's metrics.
    pub alerts: Vec<crate::model::Rule>,
    /// Who is told about what.
    pub notify: crate::model::NotifyPolicy,
    /// Figures compared with their baseline after each successful run.
    pub regression: Option<crate::model::RegressionSpec>,
    /// The jobs its runs disturb, quieted meanwhile (`maintenance:`).
    pub maintenance: Option<crate::model::MaintenanceSpec>,
    /// Runs after another job's run ends (`after: { job: gateway-restart, on: [success] }`).
    pub after: Option<AfterSpec>,
    /// Which nodes of a cluster may run it.
    pub placement: Placement,
}

/// Where a job may run when several nodes share one ledger (PostgreSQL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// `runs_on:`: a node runs the job only if it has every one of these tags (a node's name
    /// counts as one of its tags). Empty: any node.
    pub runs_on: Vec<String>,
    /// `retry_on_node_loss:`: a run whose node was lost (its lease expired) runs again, once,
    /// on another node. Off by default: the lost node's processes may still be running.
    pub retry_on_node_loss: bool,
    /// SHA-256 (hex) of the job file's text before `${VAR}` expansion: nodes whose text for
    /// the job differs from the newest do not claim its slots.
    pub text_hash: String,
}

impl Placement {
    /// Whether a node named `name` with `tags` may run the job.
    pub fn allows(&self, name: &str, tags: &[String]) -> bool {
        self.runs_on
            .iter()
            .all(|t| t == name || tags.iter().any(|have| have == t))
    }
}

/// `ledger:` in clawcron.yaml: a PostgreSQL ledger (none: SQLite in the state directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSpec {
    /// `postgres://user@host:port/db` (no password in it).
    pub url: String,
    pub password: Option<crate::model::Password>,
    /// Connections per node.
    pub pool: usize,
}

/// `node:` in clawcron.yaml: this machine as a node of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Default: the host name.
    pub name: String,
    pub tags: Vec<String>,
    /// How often the node beats into the ledger (and renews its runs' leases).
    pub heartbeat: Duration,
    /// How long a run's lease lasts without renewal before another node may take it over.
    pub lease: Duration,
}

impl Default for NodeSpec {
    fn default() -> Self {
        NodeSpec {
            name: crate::util::host_name(),
            tags: Vec::new(),
            heartbeat: Duration::from_secs(5),
            lease: Duration::from_secs(30),
        }
    }
}

/// `after: { job, on }`: run when a run of `job` ends with one of `on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterSpec {
    pub job: Arc<str>,
    /// Sorted, without duplicates; never empty (default `[success]`).
    pub on: Vec<AfterOn>,
    /// Where `after.job` is written (line, column, length), so that a check that needs every
    /// job (an unknown job, a cycle) can point at it after the files are validated one by one.
    pub at: (u64, u64, u64),
}

impl AfterSpec {
    /// Whether an upstream run that ended with `status` causes a run (a skipped or
    /// interrupted run never does: it did not end by itself).
    pub fn fires_on(&self, status: RunStatus) -> bool {
        self.on.iter().any(|on| match on {
            AfterOn::Success => status == RunStatus::Succeeded,
            AfterOn::Failure => status.is_failure(),
            AfterOn::Any => status == RunStatus::Succeeded || status.is_failure(),
        })
    }

    /// "after gateway-restart (success)".
    pub fn describe(&self) -> String {
        let on: Vec<&str> = self.on.iter().map(|o| o.as_str()).collect();
        format!("after {} ({})", self.job, on.join(", "))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AfterOn {
    Success,
    Failure,
    Any,
}

impl AfterOn {
    pub const NAMES: &[&str] = &["success", "failure", "any"];

    pub fn as_str(&self) -> &'static str {
        match self {
            AfterOn::Success => "success",
            AfterOn::Failure => "failure",
            AfterOn::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<AfterOn> {
        [AfterOn::Success, AfterOn::Failure, AfterOn::Any]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// What to do with slots that passed while the daemon was down, the machine asleep, or the
/// clock jumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissedPolicy {
    pub policy: Missed,
    pub max_lateness: Duration,
}

impl Default for MissedPolicy {
    fn default() -> Self {
        MissedPolicy {
            policy: Missed::Skip,
            max_lateness: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    Skip,
    Latest,
    All,
}

impl Missed {
    pub const NAMES: &[&str] = &["skip", "latest", "all"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// A slot that comes while the previous run is still going is skipped.
    Skip,
    /// At most one run waits for the running one; a third is skipped.
    Queue,
    /// Runs may overlap.
    Allow,
}

impl Overlap {
    pub const NAMES: &[&str] = &["skip", "queue", "allow"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(600),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `next_attempt` (2, 3, ...): `backoff * 2^(n-2)`, capped at
    /// `max_backoff`; with jitter, a uniform pick from the upper half of that, so that jobs that
    /// failed together do not retry together, yet never sooner than half the nominal pause.
    pub fn delay_before(&self, next_attempt: u32, random_unit: f64) -> Duration {
        let exp = next_attempt.saturating_sub(2).min(30);
        let nominal = self
            .backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        if self.jitter {
            nominal.mul_f64(0.5 + 0.5 * random_unit.clamp(0.0, 1.0))
        } else {
            nominal
        }
    }
}
