//! Who is told what: notification channels (webhook, email), the events a job asks to be told
//! about, and its policy. Plain data; sending is in `notify`.

use std::path::PathBuf;

/// A declared channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Webhook(WebhookSpec),
    Email(EmailSpec),
}

/// What a job asks to be told about, and whom to tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPolicy {
    pub on: Vec<Event>,
    pub to: Vec<String>,
    /// The job's own `language:` for its notices, over the channel's and the global one.
    pub lang: Option<crate::model::Lang>,
    /// A failing job is told once when it starts failing, then again at most this often while it
    /// keeps failing (`notify.repeat`, default 4 h), and once when it works again.
    pub repeat: std::time::Duration,
    /// `notify.failures`: `state` (the default, above) or `every` (one notice per failed run).
    pub failures: Failures,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        NotifyPolicy {
            on: Vec::new(),
            to: Vec::new(),
            lang: None,
            repeat: std::time::Duration::from_secs(4 * 3600),
            failures: Failures::State,
        }
    }
}

/// The rule name under which a job's failure streak is recorded in the alert events (`failing`,
/// `failing-repeat`, `recovered`).
pub const FAILURES_RULE: &str = "failures";

/// How a job's failures are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failures {
    /// As state: once when it starts failing, a reminder every `repeat`, once when it recovers.
    State,
    /// One notice per failed run.
    Every,
}

impl Failures {
    pub const NAMES: &[&str] = &["state", "every"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Failure,
    Recovery,
    Success,
    Alert,
    /// Slots were missed (daemon down, machine asleep, clock jump): one notice per catch-up.
    Missed,
    /// A figure fell below its baseline (see `regression:` in job files).
    Regression,
}

impl Event {
    pub const NAMES: &[&str] = &[
        "failure",
        "recovery",
        "success",
        "alert",
        "missed",
        "regression",
    ];
    pub const ALL: [Event; 6] = [
        Event::Failure,
        Event::Recovery,
        Event::Success,
        Event::Alert,
        Event::Missed,
        Event::Regression,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// No encryption: allowed only for a loopback server.
    None,
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

impl Tls {
    pub const NAMES: &[&str] = &["none", "starttls", "implicit"];
}

/// Where a secret (an SMTP password, a webhook's signing secret) is read from, at each use:
/// an environment variable (`*_env`) or a file (`*_file`, trailing newline dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Env(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSpec {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<Password>,
    /// Extra trusted root certificate (PEM), e.g. a self-signed relay's.
    pub ca_file: Option<PathBuf>,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Template name prefix: `<prefix>.subject.j2`, `<prefix>.txt.j2`, `<prefix>.html.j2`.
    pub templates: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Generic,
    Slack,
    Discord,
    Ntfy,
}

impl Format {
    pub const NAMES: &[&str] = &["generic", "slack", "discord", "ntfy"];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    pub url: String,
    pub format: Format,
    pub headers: Vec<(String, String)>,
    /// The HMAC secret: `secret_env` (a variable's name) or `secret_file`.
    pub secret: Option<Password>,
}

/// One notice for one channel, ready for the outbox. `key` (`<event key>:<channel>`) makes it
/// idempotent: a second notice with the same key is not queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub key: String,
    pub channel: String,
    pub payload: serde_json::Value,
    pub at_ms: i64,
    /// Why it is recorded and not sent (a silence, quiet hours, a maintenance window).
    pub quiet: Option<String>,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent { answer: String },
    Retry { error: String, at: i64 },
    Failed { error: String },
}

/// Where a notice stands in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeStatus {
    Pending,
    Sent,
    /// Refused for good (a 4xx, a 5xx from SMTP, no such channel).
    Failed,
    /// Not delivered within its time to live.
    Expired,
    /// Recorded, not sent: a silence, quiet hours or a maintenance window covered it.
    Silenced,
}

impl NoticeStatus {
    pub const ALL: [NoticeStatus; 5] = [
        NoticeStatus::Pending,
        NoticeStatus::Sent,
        NoticeStatus::Failed,
        NoticeStatus::Expired,
        NoticeStatus::Silenced,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            NoticeStatus::Pending => "pending",
            NoticeStatus::Sent => "sent",
            NoticeStatus::Failed => "failed",
            NoticeStatus::Expired => "expired",
            NoticeStatus::Silenced => "silenced",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeStatus> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for NoticeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}
