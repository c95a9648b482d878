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
    pub metrics: Vec<crate::model::Metric>,
}

impl RunOutcome {
    pub fn duration(&self) -> Duration {
        Duration::from_millis((self.finished_at_ms - self.started_at_ms).max(0) as u64)
    }
}
