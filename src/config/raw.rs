//! The shape of the YAML files, exactly as written (unknown keys rejected). These types never
//! leave `config/`: `validate` turns them into the typed specs the rest of the crate uses. The
//! shapes of `run:` and of the job kinds are in `validate/action.rs`, beside their checks.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

pub type S<T> = Spanned<T>;

// `run:` and each job kind's shape live beside their validation.
pub use super::validate::action::RawRun;

/// The keys of `clawcron.yaml` a command needs to find the ledger and the jobs, read alone (the
/// others are skipped, whatever they hold): a read-only command goes on when only another key
/// has an error.
#[derive(Debug, Default, Deserialize)]
pub struct RawEssentials {
    pub state_dir: Option<S<String>>,
    pub jobs_dir: Option<S<String>>,
    pub ledger: Option<S<RawLedger>>,
}

/// `clawcron.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGlobal {
    pub timezone: Option<S<String>>,
    pub state_dir: Option<S<String>>,
    pub jobs_dir: Option<S<String>>,
    pub templates_dir: Option<S<String>>,
    pub max_concurrent_runs: Option<S<u32>>,
    pub shutdown_grace: Option<S<String>>,
    pub kill_grace: Option<S<String>>,
    pub retention: Option<RawRetention>,
    pub log: Option<RawLog>,
    pub docker: Option<RawDockerGlobal>,
    pub notifiers: Option<S<BTreeMap<String, S<RawNotifier>>>>,
    /// First pause before a failed notification is retried (doubling, at most 30 min).
    pub notify_retry: Option<S<String>>,
    /// How long one delivery attempt may take (default 15 s).
    pub notify_timeout: Option<S<String>>,
    /// The status API and dashboard: `{listen: "127.0.0.1:8787", enabled: true}`.
    pub api: Option<S<RawApi>>,
    /// A listener for `external` jobs' pings from other machines (`0.0.0.0:8788`): it serves
    /// `/ping` only.
    pub ping_listen: Option<S<String>>,
    /// Channels told about the daemon itself (its downtime, on start).
    pub daemon_notify: Option<S<Vec<S<String>>>>,
    /// A URL pinged every `every` (healthchecks.io style), so that an outside service notices
    /// if clawcron itself dies.
    pub heartbeat: Option<S<RawHeartbeat>>,
    /// `en` (the default) or `fr`: notices, the dashboard and reports.
    pub language: Option<S<String>>,
    /// Recurring quiet hours: `[{jobs: [nightly-benchmark], when: {days: [sat, sun]}}]`.
    pub silences: Option<S<Vec<S<RawQuietHours>>>>,
    /// Where the ledger lives: SQLite in the state directory (the default) or PostgreSQL.
    pub ledger: Option<S<RawLedger>>,
    /// This machine as a node of a cluster (a PostgreSQL ledger shared by several nodes).
    pub node: Option<S<RawNode>>,
}

/// `ledger: { url: postgres://clawcron@db:5432/clawcron, password_env: PGPASSWORD }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    pub url: S<String>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    /// Refused with a clear error: a password never goes in the YAML.
    pub password: Option<S<String>>,
    pub pool: Option<S<u32>>,
}

/// `node: { name: studio, tags: [gpu, docker], heartbeat: 5s, lease: 30s }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: Option<S<String>>,
    pub tags: Option<S<Vec<S<String>>>>,
    pub heartbeat: Option<S<String>>,
    pub lease: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeartbeat {
    pub url: S<String>,
    pub every: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub listen: Option<S<String>>,
    pub enabled: Option<S<bool>>,
    pub public_reads: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifier {
    pub webhook: Option<S<RawWebhook>>,
    pub email: Option<S<RawEmail>>,
    /// This channel's language, over the global one.
    pub language: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    pub smtp: S<RawSmtp>,
    pub from: S<String>,
    pub to: S<Vec<S<String>>>,
    pub cc: Option<S<Vec<S<String>>>>,
    /// Template name prefix (default `email`).
    pub templates: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: S<String>,
    pub port: Option<S<u16>>,
    pub tls: Option<S<String>>,
    pub username: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub ca_file: Option<S<String>>,
    /// Rejected with a clear error: a password never lives in the YAML.
    pub password: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: S<String>,
    pub format: Option<S<String>>,
    pub headers: Option<S<BTreeMap<String, S<String>>>>,
    pub secret_env: Option<S<String>>,
    pub secret_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub on: Option<S<Vec<S<String>>>>,
    pub to: S<Vec<S<String>>>,
    /// While a job keeps failing, a reminder at most this often (default 4h).
    pub repeat: Option<S<String>>,
    /// `state` (default: once per failing streak, reminders, one recovery) or `every`.
    pub failures: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDockerGlobal {
    pub host: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub max_runs_per_job: Option<S<u32>>,
    pub max_age: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<S<String>>,
    pub file: Option<S<String>>,
    pub rotation: Option<S<String>>,
    pub level: Option<S<String>>,
    pub output_per_run: Option<S<String>>,
}

/// One file in `jobs/`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub description: Option<S<String>>,
    pub enabled: Option<S<bool>>,
    pub schedule: Option<S<String>>,
    pub every: Option<S<String>>,
    pub at_start: Option<S<bool>>,
    pub timezone: Option<S<String>>,
    pub missed: Option<S<RawMissed>>,
    pub overlap: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub retry: Option<S<RawRetry>>,
    pub run: Option<S<RawRun>>,
    pub metrics: Option<S<Vec<S<RawExtract>>>>,
    pub locks: Option<S<Vec<S<String>>>>,
    pub alerts: Option<S<Vec<S<RawAlert>>>>,
    pub notify: Option<S<RawNotify>>,
    pub regression: Option<S<RawRegression>>,
    /// This job's notices' language, over the channel's and the global one.
    pub language: Option<S<String>>,
    /// The jobs its runs disturb: `{ quiets: [gateway-health], grace: 2m }`.
    pub maintenance: Option<S<RawMaintenance>>,
    /// Run after another job's run ends: `{ job: gateway-restart, on: [success] }`.
    pub after: Option<S<RawAfter>>,
    /// In a cluster: the node tags (or node name) a node needs to run this job.
    pub runs_on: Option<S<Vec<S<String>>>>,
    /// In a cluster: a run whose node was lost is run again on another node.
    pub retry_on_node_loss: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub quiets: S<Vec<S<String>>>,
    pub grace: Option<S<String>>,
}

/// `silences:` in clawcron.yaml: recurring quiet hours.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuietHours {
    pub jobs: Option<S<Vec<S<String>>>>,
    pub rules: Option<S<Vec<S<String>>>>,
    pub when: S<RawWhen>,
    pub reason: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    /// `mon`..`sun`.
    pub days: Option<S<Vec<S<String>>>>,
    /// `"22:00-07:00"` (may cross midnight).
    pub times: Option<S<Vec<S<String>>>>,
}

/// `after: { job: gateway-restart, on: [success] }` (`on` defaults to `[success]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAfter {
    pub job: S<String>,
    pub on: Option<S<Vec<S<String>>>>,
}

/// `regression: { metrics: { ollama.tokens_per_s: higher }, runs: 7, threshold: 80%, against: recent }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegression {
    pub metrics: S<BTreeMap<String, S<String>>>,
    pub runs: Option<S<u32>>,
    pub threshold: Option<S<String>>,
    pub against: Option<S<String>>,
}

/// `alerts:` entries: `{when: "cpu_percent > 90", for: "3 of 5", repeat: 4h, name: cpu}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlert {
    pub name: Option<S<String>>,
    pub when: S<String>,
    #[serde(rename = "for")]
    pub window: Option<S<String>>,
    pub repeat: Option<S<String>>,
    pub remediate: Option<S<RawRemediate>>,
    /// What to do when it fires: a line, or one per language (`{en: ..., fr: ...}`).
    pub advice: Option<S<RawAdvice>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAdvice {
    One(String),
    PerLanguage(BTreeMap<String, String>),
}

/// `metrics:` entries: `{regex: '...(?P<name>...)'}` or `{json: /pointer, name: x}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExtract {
    pub regex: Option<S<String>>,
    pub json: Option<S<String>>,
    pub name: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMissed {
    pub policy: Option<S<String>>,
    pub max_lateness: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: Option<S<u32>>,
    pub backoff: Option<S<String>>,
    pub max_backoff: Option<S<String>>,
    pub jitter: Option<S<bool>>,
}

/// `remediate: { run: { <job kind> }, max: 2, per: 1h, timeout: 5m }` on an alert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemediate {
    pub run: S<RawRun>,
    pub max: Option<S<u32>>,
    pub per: Option<S<String>>,
    pub timeout: Option<S<String>>,
}

/// The keys a job file may hold, for "did you mean" (kept in step with `RawJob`).
pub const JOB_KEYS: &[&str] = &[
    "description",
    "enabled",
    "schedule",
    "every",
    "at_start",
    "timezone",
    "missed",
    "overlap",
    "timeout",
    "retry",
    "run",
    "metrics",
    "locks",
    "alerts",
    "notify",
    "regression",
    "language",
    "maintenance",
    "after",
    "runs_on",
    "retry_on_node_loss",
];
