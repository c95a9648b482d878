//! The status API and dashboard (axum, 127.0.0.1:8787 by default):
//! - `GET /healthz`: the scheduler loop answers within a second (alive and not stuck) and the
//!   ledger can be written (503 with `ledger_fault` while it cannot, e.g. a full disk);
//! - `GET /api/jobs`, `GET /api/runs?job=&limit=`, `GET /api/alerts`, `GET /api/status`;
//! - `POST /api/jobs/{id}/trigger` (needs the token: `Authorization: Bearer <token>`);
//! - `GET /metrics`: Prometheus text format;
//! - `GET /`: the dashboard, server-rendered, refreshing itself.
//!
//! The token is made at first start in `<state dir>/api-token` (mode 0600). Bound to anything
//! but loopback, every endpoint needs it.

mod dashboard;

use crate::scheduler::{Control, JobView};
use crate::store::Store;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the handlers share.
pub struct Api {
    pub control: mpsc::Sender<Control>,
    pub store: Store,
    pub runner: crate::runner::Runner,
    pub reload: Arc<Mutex<crate::reload::ReloadStatus>>,
    pub token: String,
    /// Every endpoint needs the token (the API is bound beyond loopback).
    pub token_everywhere: bool,
    pub boot_id: String,
    pub timezone: chrono_tz::Tz,
    pub templates: crate::template::Templates,
    pub started_ms: i64,
}

/// Reads the API token, making it (random, mode 0600) on first start.
pub fn token(state_dir: &std::path::Path) -> std::io::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let path = state_dir.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok(t.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(token.as_bytes())?;
    Ok(token)
}

fn authorized(api: &Api, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant time: compare every byte.
    given.len() == api.token.len()
        && given
            .bytes()
            .zip(api.token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "a token is needed: Authorization: Bearer <the contents of <state dir>/api-token>\n",
    )
        .into_response()
}

/// 503: the scheduler loop did not answer in time.
pub(crate) fn no_answer() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the scheduler did not answer\n",
    )
        .into_response()
}

/// Every answer leaves scrubbed of the registered secrets, with the same rules as the log: a
/// job's summary, a run's error and output, an alert's detail.
async fn scrub_body(res: Response) -> Response {
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "answer too large\n").into_response(),
    };
    let text = String::from_utf8_lossy(&bytes);
    match crate::redact::scrub(&text) {
        std::borrow::Cow::Borrowed(_) => Response::from_parts(parts, axum::body::Body::from(bytes)),
        std::borrow::Cow::Owned(clean) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(clean))
        }
    }
}

async fn jobs_of(api: &Api) -> Option<Vec<JobView>> {
    let (tx, rx) = oneshot::channel();
    api.control.send(Control::Jobs(tx)).await.ok()?;
    tokio::time::timeout(Duration::from_secs(2), rx)
        .await
        .ok()?
        .ok()
}

/// Binds and serves until `stop`; returns the bound address.
pub async fn serve(
    api: Arc<Api>,
    listen: SocketAddr,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let gate = api.clone();
    let app = Router::new()
        .route("/", get(dashboard::page))
        .route("/healthz", get(healthz))
        .route("/api/jobs", get(jobs))
        .route("/api/runs", get(runs))
        .route("/api/alerts", get(alerts))
        .route("/api/status", get(status))
        .route("/api/jobs/{id}/trigger", post(trigger))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::map_response(scrub_body))
        .layer(axum::middleware::from_fn(
            move |headers: HeaderMap, req: axum::extract::Request, next: axum::middleware::Next| {
                let gate = gate.clone();
                async move {
                    if gate.token_everywhere && !authorized(&gate, &headers) {
                        return unauthorized();
                    }
                    next.run(req).await
                }
            },
        ))
        .with_state(api);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    Ok((addr, task))
}

async fn healthz(State(api): State<Arc<Api>>) -> Response {
    let (tx, rx) = oneshot::channel();
    let started = std::time::Instant::now();
    let ok = api.control.send(Control::Ping(tx)).await.is_ok()
        && matches!(
            tokio::time::timeout(Duration::from_secs(1), rx).await,
            Ok(Ok(()))
        );
    // A loop that answers is not enough: a ledger that cannot be written means no slot starts.
    let ledger = api.store.health().fault();
    let ok = ok && ledger.is_none();
    let body = serde_json::json!({
        "ok": ok,
        "scheduler_answer_ms": started.elapsed().as_secs_f64() * 1000.0,
        "ledger_fault": ledger,
    });
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// One job as the API shows it.
#[derive(Debug, serde::Serialize)]
pub struct JobInfo {
    pub id: String,
    pub description: String,
    pub kind: &'static str,
    /// What it does, in one line.
    pub summary: String,
    pub schedule: String,
    /// `false`: `enabled: false` in its file; it has no next slot and a trigger needs `force`.
    pub enabled: bool,
    pub next: Option<String>,
    pub running: usize,
    pub last: Option<LastRun>,
}

#[derive(Debug, serde::Serialize)]
pub struct LastRun {
    pub run_id: i64,
    pub status: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
}

fn rfc3339_s(s: i64, tz: chrono_tz::Tz) -> String {
    crate::util::to_utc(s).with_timezone(&tz).to_rfc3339()
}

pub(crate) fn job_infos(api: &Api, views: &[JobView]) -> Vec<JobInfo> {
    views
        .iter()
        .map(|v| {
            let last = api
                .store
                .history(Some(&v.id), 5)
                .ok()
                .and_then(|rows| rows.into_iter().find(|r| r.status.ran()))
                .map(|r| LastRun {
                    run_id: r.id,
                    status: r.status.as_str().to_string(),
                    finished_at: r.finished_at.map(|ms| rfc3339_s(ms / 1000, api.timezone)),
                    error: r.error,
                });
            JobInfo {
                id: v.id.clone(),
                description: v.spec.description.clone(),
                kind: v.spec.action.kind(),
                summary: v.spec.action.summary(),
                schedule: v.spec.trigger.describe(),
                enabled: v.spec.enabled,
                next: v.next.map(|s| rfc3339_s(s, api.timezone)),
                running: v.running,
                last,
            }
        })
        .collect()
}

async fn jobs(State(api): State<Arc<Api>>) -> Response {
    match jobs_of(&api).await {
        Some(v) => Json(job_infos(&api, &v)).into_response(),
        None => no_answer(),
    }
}

#[derive(Debug, serde::Deserialize)]
struct RunsQuery {
    job: Option<String>,
    limit: Option<usize>,
}

async fn runs(State(api): State<Arc<Api>>, Query(q): Query<RunsQuery>) -> Response {
    match api
        .store
        .history(q.job.as_deref(), q.limit.unwrap_or(50).min(1000))
    {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn alerts(State(api): State<Arc<Api>>) -> Response {
    let since = chrono::Utc::now().timestamp_millis() - 7 * 86_400_000;
    match (api.store.alerts(), api.store.alert_events(since)) {
        (Ok(states), Ok(events)) => {
            Json(serde_json::json!({ "alerts": states, "events": events })).into_response()
        }
        (Err(e), _) | (_, Err(e)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

async fn status(State(api): State<Arc<Api>>) -> Response {
    let reload = api.reload.lock().map(|r| r.clone()).unwrap_or_default();
    Json(serde_json::json!({
        "pid": std::process::id(),
        "boot_id": api.boot_id,
        "started_at": rfc3339_s(api.started_ms / 1000, api.timezone),
        "version": env!("CARGO_PKG_VERSION"),
        "running": api.runner.running(),
        "reload": reload,
        "ledger_fault": api.store.health().fault(),
    }))
    .into_response()
}

#[derive(serde::Deserialize, Default)]
struct TriggerQuery {
    /// Past admission (overlap, locks) and a disabled job, on purpose.
    #[serde(default)]
    force: bool,
}

/// Runs a job now, through the same admission as a scheduled run. Answers with the run's
/// outcome if it ends (or is refused) within a moment, else `202` with its run id.
async fn trigger(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(q): Query<TriggerQuery>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&api, &headers) {
        return unauthorized();
    }
    let Some(views) = jobs_of(&api).await else {
        return no_answer();
    };
    let Some(v) = views.into_iter().find(|v| v.id == id) else {
        return (StatusCode::NOT_FOUND, format!("no job `{id}`\n")).into_response();
    };
    if !v.spec.enabled && !q.force {
        return (
            StatusCode::CONFLICT,
            Json(serde_json::json!({
                "job": id, "accepted": false,
                "error": format!("job `{id}` is disabled (enabled: false); add ?force=true to run it anyway"),
            })),
        )
            .into_response();
    }
    let runner = api.runner.clone();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let spec = v.spec.clone();
    let force = q.force;
    api.runner.track(async move {
        let manual = crate::runner::Manual {
            force,
            started: Some(started_tx),
            ..Default::default()
        };
        let r = runner.run_now(&spec, manual).await;
        if let Err(e) = &r {
            tracing::warn!(
                job = &*spec.id,
                "the triggered run could not be recorded: {e}"
            );
        }
        let _ = done_tx.send(r);
    });
    let run_id = started_rx.await.ok();
    match tokio::time::timeout(std::time::Duration::from_millis(500), done_rx).await {
        // Refused by admission (overlap, a busy lock): recorded, and said.
        Ok(Ok(Ok((run_id, outcome)))) if outcome.status == crate::model::RunStatus::Skipped => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({
                "job": id, "accepted": false, "run_id": run_id, "status": "skipped",
                "reason": outcome.reason,
            })),
        )
            .into_response(),
        Ok(Ok(Ok((run_id, outcome)))) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "job": id, "accepted": true, "run_id": run_id, "status": outcome.status.as_str(),
                "reason": outcome.reason, "error": outcome.error,
            })),
        )
            .into_response(),
        Ok(Ok(Err(e))) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        _ => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "job": id, "accepted": true, "run_id": run_id })),
        )
            .into_response(),
    }
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    let mut out = String::new();
    api.runner.stats().write(&mut out);
    use crate::telemetry::{esc, family};
    if let Ok(states) = api.store.alerts() {
        family(
            &mut out,
            "clawcron_alerts_firing",
            "gauge",
            "Alert rules firing now, by job.",
        );
        let mut by_job: std::collections::BTreeMap<&str, u64> = Default::default();
        for s in &states {
            *by_job.entry(s.job.as_str()).or_default() +=
                u64::from(s.phase == crate::model::Phase::Firing);
        }
        for (job, n) in by_job {
            let _ = writeln!(out, "clawcron_alerts_firing{{job=\"{}\"}} {n}", esc(job));
        }
    }
    let health = api.store.health();
    family(
        &mut out,
        "clawcron_ledger_write_errors_total",
        "counter",
        "Ledger writes that failed (e.g. a full disk), since the start.",
    );
    let _ = writeln!(
        out,
        "clawcron_ledger_write_errors_total {}",
        health.errors_total()
    );
    family(
        &mut out,
        "clawcron_ledger_writable",
        "gauge",
        "1 if the last ledger write succeeded, 0 while writes fail.",
    );
    let _ = writeln!(
        out,
        "clawcron_ledger_writable {}",
        u8::from(health.fault().is_none())
    );
    if let Ok(pending) = api.store.pending_notices() {
        family(
            &mut out,
            "clawcron_outbox_pending",
            "gauge",
            "Notifications waiting to be delivered.",
        );
        let _ = writeln!(out, "clawcron_outbox_pending {pending}");
    }
    if let Ok(last) = api.store.last_success_by_job() {
        family(
            &mut out,
            "clawcron_last_success_timestamp_seconds",
            "gauge",
            "When each job last succeeded (Unix seconds).",
        );
        for (job, ms) in last {
            let _ = writeln!(
                out,
                "clawcron_last_success_timestamp_seconds{{job=\"{}\"}} {}",
                esc(&job),
                ms as f64 / 1000.0
            );
        }
    }
    family(
        &mut out,
        "clawcron_running_runs",
        "gauge",
        "Runs going now.",
    );
    let _ = writeln!(out, "clawcron_running_runs {}", api.runner.running());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
