//! Running the scripted test kind (see `crate::model::scripted`).

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::scripted::{Call, Script};

impl Script {
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
