//! A scripted job kind for tests of the scheduler and runner on paused time: each attempt
//! takes a set time and then succeeds or fails, as scripted; every call is recorded. It cannot be
//! named in a job file.

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
    pub(crate) steps: Mutex<VecDeque<Step>>,
    /// Used once the scripted steps run out.
    pub(crate) default: Step,
    pub(crate) calls: Mutex<Vec<Call>>,
    pub(crate) origin: tokio::time::Instant,
    /// A figure each attempt reports, taken in turn (the last one repeats).
    pub(crate) metric: Mutex<Option<(String, VecDeque<f64>)>>,
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

    pub(crate) fn next_metric(&self) -> Vec<super::action::Metric> {
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
        v.map(|v| vec![super::action::Metric::new(name.clone(), v)])
            .unwrap_or_default()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}
