//! Ollama job kinds, over its documented HTTP API: `ollama.preload`, `ollama.unload`,
//! `ollama.bench`, `ollama.status`. One file per kind; this file holds the shared client.
//! No Ollama could be installed where this was written: the kinds are verified against a
//! stand-in that follows the documented API (tests/standins/ollama.py), not a live server.

pub mod bench;
pub mod preload;
pub mod status;
pub mod unload;

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::Metric;
use std::time::Duration;
use tokio::time::Instant;

/// Bodies are read up to this size.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// A failed call: the server's own `{"error": ...}` text when it gave one.
#[derive(Debug)]
pub struct CallError {
    pub message: String,
    /// The server did not answer at all (refused, reset, timed out): worth waiting for.
    pub unreachable: bool,
    pub timed_out: bool,
}

impl CallError {
    fn from_reqwest(e: &reqwest::Error) -> Self {
        CallError {
            message: if e.is_timeout() {
                "no answer in time".into()
            } else {
                crate::util::chain(e)
            },
            unreachable: e.is_connect() || e.is_timeout(),
            timed_out: e.is_timeout(),
        }
    }
}

/// A client bounded by the attempt's deadline.
pub struct Client {
    base: String,
    http: reqwest::Client,
    deadline: Option<Instant>,
}

impl Client {
    pub fn new(base: &str, deadline: Option<Instant>) -> Result<Self, CallError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CallError::from_reqwest(&e))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            http,
            deadline,
        })
    }

    fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// POSTs JSON and returns the JSON answer (an `{"error"}` body becomes the error message).
    pub async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, CallError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = self.left() {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(|e| CallError::from_reqwest(&e))?;
        read_json(resp).await
    }

    pub async fn get(&self, path: &str) -> Result<serde_json::Value, CallError> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = self.left() {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(|e| CallError::from_reqwest(&e))?;
        read_json(resp).await
    }

    /// POSTs and returns the response for streaming (NDJSON).
    pub async fn post_stream(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<reqwest::Response, CallError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = self.left() {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(|e| CallError::from_reqwest(&e))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(read_json(resp).await.err().unwrap_or(CallError {
                message: "unexpected answer".into(),
                unreachable: false,
                timed_out: false,
            }))
        }
    }

    /// Waits until the server answers (it may still be starting at login), retrying with backoff
    /// for at most `wait` (and never past the deadline).
    pub async fn wait_until_up(&self, wait: Duration) -> Result<Duration, CallError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            match self.get("/api/tags").await {
                Ok(_) => return Ok(start.elapsed()),
                Err(e) if e.unreachable || e.message.starts_with("status 5") => {
                    let left = wait
                        .saturating_sub(start.elapsed())
                        .min(self.left().unwrap_or(Duration::MAX));
                    if left.is_zero() {
                        return Err(CallError {
                            message: format!(
                                "Ollama did not answer within {}: {}",
                                crate::util::duration::format(wait),
                                e.message
                            ),
                            ..e
                        });
                    }
                    tokio::time::sleep(pause.min(left)).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

async fn read_json(resp: reqwest::Response) -> Result<serde_json::Value, CallError> {
    let status = resp.status();
    let mut body = Vec::new();
    let mut resp = resp;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c[..c.len().min(MAX_BODY.saturating_sub(body.len()))]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => return Err(CallError::from_reqwest(&e)),
        }
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status.is_success() {
        return parsed.ok_or_else(|| CallError {
            message: "the answer is not JSON".into(),
            unreachable: false,
            timed_out: false,
        });
    }
    let detail = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
    Err(CallError {
        message: format!("status {}: {detail}", status.as_u16()),
        unreachable: false,
        timed_out: false,
    })
}

/// Turns a kind's work into an attempt result: output lines, metrics, and the error if any.
pub fn finish(
    ctx: &AttemptCtx<'_>,
    lines: Vec<String>,
    metrics: Vec<Metric>,
    error: Option<CallError>,
) -> AttemptResult {
    for l in &lines {
        tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "{l}");
    }
    let mut tail: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let status = match &error {
        None => AttemptStatus::Succeeded,
        Some(e) if e.timed_out && ctx.deadline.is_some_and(|d| Instant::now() >= d) => {
            AttemptStatus::TimedOut
        }
        Some(_) => AttemptStatus::Failed,
    };
    if let Some(e) = &error {
        tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "error: {}", e.message);
        tail.push_str(&format!("error: {}\n", e.message));
    }
    AttemptResult {
        status,
        exit_code: None,
        error: error.map(|e| e.message),
        output_tail: tail,
        metrics,
    }
}

/// Runs a kind's future unless the daemon shuts down first.
pub async fn cancellable(
    ctx: &AttemptCtx<'_>,
    work: impl std::future::Future<Output = AttemptResult>,
) -> AttemptResult {
    tokio::select! {
        r = work => r,
        () = ctx.cancel.cancelled() => AttemptResult {
            status: AttemptStatus::Interrupted,
            exit_code: None,
            error: Some("interrupted by daemon shutdown".into()),
            output_tail: String::new(),
            metrics: Vec::new(),
        },
    }
}

/// The median of some figures (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}
