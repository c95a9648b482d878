//! A run as the ledger remembers it: how it ended and what it measured.

use std::time::Duration;

/// How a run ended, as its ledger row says; `Running` only while it goes (a row's status, never
/// an outcome's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Skipped,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Interrupted,
        RunStatus::Skipped,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Skipped => "skipped",
        }
    }

    /// The status stored as `s`.
    pub fn parse(s: &str) -> Option<RunStatus> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// A failure a recovery notice would end (`failed` or `timed_out`).
    pub fn is_failure(&self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::TimedOut)
    }

    /// The run ran and ended (not skipped, not still running).
    pub fn ran(&self) -> bool {
        !matches!(self, RunStatus::Skipped | RunStatus::Running)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
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
    /// `clawcron backfill`: a past slot that failed, was missed or was paused, run again with
    /// its original slot.
    Backfill,
    /// A chain (`after:`): the end of another job's run caused it (its `cause` says which).
    After,
    /// In a cluster: a run lost with its node, run again on another (`retry_on_node_loss`).
    Retry,
}

impl RunTrigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunTrigger::Schedule => "schedule",
            RunTrigger::AtStart => "at_start",
            RunTrigger::Manual => "manual",
            RunTrigger::Remediation => "remediation",
            RunTrigger::Backfill => "backfill",
            RunTrigger::After => "after",
            RunTrigger::Retry => "retry",
        }
    }
}

/// An alert event: a transition, a remediation, an escalation or a regression.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertEvent {
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
    pub events: Vec<AlertEvent>,
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
