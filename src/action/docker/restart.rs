//! `docker.restart`: restart a container with a chosen stop timeout, then optionally wait until
//! it runs (and, if it has a healthcheck, is healthy) within a bound, then optionally probe it
//! over HTTP until it really serves, because a health endpoint can be green before the service
//! is. Each step's timing is recorded.

use super::{bounded, connect, describe, resolve};
use crate::action::http::check;
use crate::action::{AttemptCtx, AttemptResult};
use crate::model::Metric;
use crate::model::RestartSpec;
use bollard::models::HealthStatusEnum;
use std::time::Duration;
use tokio::time::Instant;

struct Steps {
    lines: Vec<String>,
    metrics: Vec<Metric>,
}

pub async fn run(spec: &RestartSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    bounded(ctx, steps(spec), |s: Steps| (s.lines, s.metrics)).await
}

async fn steps(spec: &RestartSpec) -> Result<Steps, String> {
    let (docker, host) = connect(spec.host.as_deref())?;
    let id = resolve(&docker, &spec.target, &host).await?;
    let what = spec.target.describe();
    let mut lines = Vec::new();
    let mut metrics = Vec::new();
    let before = docker
        .inspect_container(&id, None)
        .await
        .map_err(|e| describe(&e, &spec.target, &host))?;
    let started_before = before
        .state
        .as_ref()
        .and_then(|s| s.started_at.clone())
        .unwrap_or_default();
    let has_healthcheck = before
        .config
        .as_ref()
        .and_then(|c| c.healthcheck.as_ref())
        .and_then(|h| h.test.as_ref())
        .is_some_and(|t| t.first().map(String::as_str) != Some("NONE"))
        || before
            .state
            .as_ref()
            .and_then(|s| s.health.as_ref())
            .is_some();
    let t0 = Instant::now();
    let secs = i32::try_from(spec.stop_timeout.as_secs()).unwrap_or(i32::MAX);
    let opts = bollard::query_parameters::RestartContainerOptions {
        t: Some(secs),
        signal: None,
    };
    docker
        .restart_container(&id, Some(opts))
        .await
        .map_err(|e| describe(&e, &spec.target, &host))?;
    let restart_ms = t0.elapsed().as_secs_f64() * 1e3;
    lines.push(format!(
        "restarted {what} (stop timeout {}s) in {restart_ms:.0} ms",
        spec.stop_timeout.as_secs()
    ));
    metrics.push(Metric::new("restart_ms", restart_ms));

    if let Some(wait) = spec.wait {
        let until = t0 + wait;
        loop {
            let now = docker
                .inspect_container(&id, None)
                .await
                .map_err(|e| describe(&e, &spec.target, &host))?;
            let state = now.state.unwrap_or_default();
            let running = state.running == Some(true);
            let health = state.health.and_then(|h| h.status);
            let healthy = !has_healthcheck || health == Some(HealthStatusEnum::HEALTHY);
            if running && healthy {
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                let started = state.started_at.unwrap_or_default();
                lines.push(format!(
                    "{what} is running{} after {ms:.0} ms (started {started}, was {started_before})",
                    if has_healthcheck { " and healthy" } else { "" }
                ));
                metrics.push(Metric::new(
                    if has_healthcheck {
                        "healthy_ms"
                    } else {
                        "running_ms"
                    },
                    ms,
                ));
                break;
            }
            if Instant::now() >= until {
                let h = health.map_or("none".to_string(), |h| h.to_string());
                return Err(format!(
                    "{what} not {} within {}s (running: {running}, health: {h})",
                    if has_healthcheck {
                        "healthy"
                    } else {
                        "running"
                    },
                    wait.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if let Some(probe) = &spec.probe {
            loop {
                let c = check(probe, Some(until)).await;
                if c.ok {
                    let ms = t0.elapsed().as_secs_f64() * 1e3;
                    lines.push(format!("probe passed after {ms:.0} ms: {}", c.line));
                    metrics.push(Metric::new("probe_ms", ms));
                    break;
                }
                if Instant::now() + Duration::from_millis(500) >= until {
                    return Err(format!(
                        "{what} restarted but the probe did not pass within {}s: {}",
                        wait.as_secs(),
                        c.error.unwrap_or(c.line)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    metrics.push(Metric::new("total_ms", t0.elapsed().as_secs_f64() * 1e3));
    Ok(Steps { lines, metrics })
}
