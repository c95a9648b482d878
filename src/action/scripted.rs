//! A scripted job kind for tests of the scheduler and runner on paused time: each attempt
//! takes a set time and then succeeds or fails, as scripted; every call is recorded. It cannot be
//! named in a job file.

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub takes: Duration,
    pub succeeds: bool,
}

/// One recorded attempt: which run, which attempt, and when it started (tokio time since the
/// script was made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub run_id: i64,
    pub attempt: u32,
    pub started: Duration,
    pub env_slot: Option<String>,
}

#[derive(Debug)]
pub struct Script {
    steps: Mutex<VecDeque<Step>>,
    /// Used once the scripted steps run out.
    default: Step,
    calls: Mutex<Vec<Call>>,
    origin: tokio::time::Instant,
    /// A figure each attempt reports, taken in turn (the last one repeats).
    metric: Mutex<Option<(String, VecDeque<f64>)>>,
}

impl PartialEq for Script {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}
impl Eq for Script {}

impl Script {
    pub fn new(default: Step, steps: impl IntoIterator<Item = Step>) -> Self {
        Script {
            steps: Mutex::new(steps.into_iter().collect()),
            default,
            calls: Mutex::new(Vec::new()),
            origin: tokio::time::Instant::now(),
            metric: Mutex::new(None),
        }
    }

    /// Each attempt reports `name` with the next of `values` (the last one repeats).
    pub fn with_metric(self, name: &str, values: impl IntoIterator<Item = f64>) -> Self {
        if let Ok(mut m) = self.metric.lock() {
            *m = Some((name.to_string(), values.into_iter().collect()));
        }
        self
    }

    fn next_metric(&self) -> Vec<super::Metric> {
        let Ok(mut m) = self.metric.lock() else {
            return Vec::new();
        };
        let Some((name, values)) = m.as_mut() else {
            return Vec::new();
        };
        let v = if values.len() > 1 {
            values.pop_front()
        } else {
            values.front().copied()
        };
        v.map(|v| vec![super::Metric::new(name.clone(), v)])
            .unwrap_or_default()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub async fn run(&self, ctx: &AttemptCtx<'_>) -> AttemptResult {
        let step = self
            .steps
            .lock()
            .ok()
            .and_then(|mut s| s.pop_front())
            .unwrap_or(self.default);
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(Call {
                run_id: ctx.run_id,
                attempt: ctx.attempt,
                started: tokio::time::Instant::now() - self.origin,
                env_slot: ctx
                    .env
                    .iter()
                    .find(|(k, _)| k == "CLAWCRON_SLOT")
                    .map(|(_, v)| v.clone()),
            });
        }
        let deadline = ctx.deadline;
        let timeout = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let (status, error) = tokio::select! {
            () = tokio::time::sleep(step.takes) => if step.succeeds {
                (AttemptStatus::Succeeded, None)
            } else {
                (AttemptStatus::Failed, Some("scripted failure".to_string()))
            },
            () = timeout => (AttemptStatus::TimedOut, Some("timed out".to_string())),
            () = ctx.cancel.cancelled() => (AttemptStatus::Interrupted, Some("interrupted".to_string())),
        };
        AttemptResult {
            status,
            exit_code: None,
            error,
            output_tail: String::new(),
            metrics: self.next_metric(),
        }
    }
}
