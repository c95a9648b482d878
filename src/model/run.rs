//! A run as the ledger remembers it: how it ended and what it measured.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Skipped,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Skipped => "skipped",
        }
    }
}

/// The result of a whole run (all its attempts).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub reason: Option<String>,
    pub attempts: u32,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub output_tail: String,
    pub metrics: Vec<super::action::Metric>,
}

impl RunOutcome {
    pub fn duration(&self) -> Duration {
        Duration::from_millis((self.finished_at_ms - self.started_at_ms).max(0) as u64)
    }
}

/// What started a run. Stored as text (`as_str`) in the ledger's `trigger` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// A schedule slot, on time or caught up after a miss (its reason says which).
    Schedule,
    /// Once when the daemon starts.
    AtStart,
    /// `clawcron trigger` or `POST /api/jobs/{id}/trigger`.
    Manual,
    /// An alert rule's remediation.
    Remediation,
}

impl RunTrigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunTrigger::Schedule => "schedule",
            RunTrigger::AtStart => "at_start",
            RunTrigger::Manual => "manual",
            RunTrigger::Remediation => "remediation",
        }
    }
}

/// An alert event to record: a transition, a remediation, an escalation or a regression.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlertEvent {
    pub job: String,
    pub rule: String,
    pub kind: String,
    pub value: f64,
    pub detail: String,
    pub at: i64,
}

/// Everything the after-run stage of one run writes: the outcome, the alert states it changed,
/// the alert events and the notices, committed in one transaction so that a crash between them
/// loses no notice.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub outcome: RunOutcome,
    /// (job, rule, new state, when).
    pub alert_states: Vec<(String, String, super::alert::State, i64)>,
    pub events: Vec<NewAlertEvent>,
    pub notices: Vec<super::notice::Notice>,
}

impl RunRecord {
    pub fn of(outcome: RunOutcome) -> Self {
        RunRecord {
            outcome,
            alert_states: Vec::new(),
            events: Vec::new(),
            notices: Vec::new(),
        }
    }
}
