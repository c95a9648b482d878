//! `monitor`: several probes sampled together on the job's schedule, so that one job holds the
//! rules over all of them (CPU and memory from `docker.stats`, latency from `http`, a command's
//! extracted figure, Ollama's status). The probes run concurrently under the job's timeout.
//!
//! Each probe's figures are recorded as `<probe>.<metric>` (e.g. `stats.cpu_percent`), with
//! `<probe>.up` (1 when the probe succeeded, 0 when not; a probe that measures `up` itself, as
//! `docker.stats` does for a stopped container, gives its own); a rule may name a figure in full or by
//! its own name when that is unambiguous (`cpu_percent`). The run fails when a probe fails, and
//! its error names the probes that did.

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::{Metric, MonitorSpec};

/// Samples every probe; see the module's documentation for what is recorded.
pub async fn run(spec: &MonitorSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let runs = spec.probes.iter().map(|p| async move {
        let probe_ctx = ctx.part(ctx.deadline);
        (p, Box::pin(p.action.run(&probe_ctx)).await)
    });
    let results = futures_util::future::join_all(runs).await;
    let mut status = AttemptStatus::Succeeded;
    let mut errors = Vec::new();
    let mut tail = super::OutputTail::default();
    let mut metrics = Vec::new();
    for (p, r) in results {
        let up = r.status == AttemptStatus::Succeeded;
        // A probe that measures `up` itself (docker.stats: is the container running) says it.
        let own_up = r.metrics.iter().any(|m| m.name == "up");
        metrics.extend(
            r.metrics
                .into_iter()
                .map(|m| Metric::new(format!("{}.{}", p.name, m.name), m.value)),
        );
        if !own_up {
            metrics.push(Metric::new(
                format!("{}.up", p.name),
                f64::from(u8::from(up)),
            ));
        }
        if !up {
            errors.push(format!(
                "probe {}: {}",
                p.name,
                r.error.as_deref().unwrap_or("failed")
            ));
            // The worst status wins: interrupted, then timed out, then failed.
            status = match (status, r.status) {
                (AttemptStatus::Interrupted, _) | (_, AttemptStatus::Interrupted) => {
                    AttemptStatus::Interrupted
                }
                (AttemptStatus::TimedOut, _) | (_, AttemptStatus::TimedOut) => {
                    AttemptStatus::TimedOut
                }
                _ => AttemptStatus::Failed,
            };
        }
        for line in r.output_tail.lines() {
            tail.push(format!("[{}] {line}", p.name));
        }
    }
    AttemptResult {
        status,
        exit_code: None,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        output_tail: tail.text(),
        metrics,
    }
}
