//! What is not to be run or told now: a paused job, a silence (one-off, or recurring quiet
//! hours from `clawcron.yaml`), and the maintenance window a job's run opens over the jobs it
//! disturbs. Plain data; the judging is in `quiet`, the keeping in `store`.

use std::time::Duration;

/// `maintenance: { quiets: [gateway-health], grace: 2m }`: while a run of this job goes, and for
/// `grace` after, the named jobs' breaching samples do not count and their failures and alert
/// transitions are recorded, not told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceSpec {
    pub quiets: Vec<String>,
    pub grace: Duration,
}

/// The grace of a remediation's own window (a `docker.restart` quiets its job meanwhile).
pub const REMEDIATION_GRACE: Duration = Duration::from_secs(120);

/// A paused job: its slots are recorded `skipped: paused (reason)`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pause {
    pub job: String,
    pub reason: String,
    pub by: String,
    pub at_ms: i64,
}

/// A one-off silence of a job's notices (one rule's, or all of them), until `ends_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Silence {
    pub id: i64,
    pub job: String,
    pub rule: Option<String>,
    pub reason: String,
    pub by: String,
    pub created_at_ms: i64,
    pub ends_at_ms: i64,
}

/// Recurring quiet hours (`silences:` in `clawcron.yaml`), as Alertmanager's
/// `mute_time_intervals`: the jobs (all when empty) and rules (all when empty) it covers, on
/// which weekdays (all when empty) and at which local times (all day when empty; a range may
/// cross midnight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    pub jobs: Vec<String>,
    pub rules: Vec<String>,
    pub days: Vec<chrono::Weekday>,
    /// Minutes since local midnight, `[start, end)`.
    pub times: Vec<(u32, u32)>,
    pub reason: String,
}

/// A maintenance window: opened by run `run_id` of `by_job` over `quiets`; `ends_at_ms` is set
/// when that run ends (its end plus the grace).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    pub id: i64,
    pub by_job: String,
    pub run_id: i64,
    pub quiets: Vec<String>,
    pub started_at_ms: i64,
    pub ends_at_ms: Option<i64>,
}
