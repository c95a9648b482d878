//! `/ping/{job}/{key}[/start|/fail|/{code}]`: the pings of `external` jobs (see
//! `action::external`), on the status API (loopback) and, with `ping_listen`, on a listener of
//! their own that serves nothing else. No token: the job's key protects them; a wrong key or
//! job is a 404 and writes nothing.

use crate::action::external::{self, Answer, Ping, PingKind, Pings};
use crate::model::ActionSpec;
use crate::scheduler::Control;
use crate::store::Store;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the ping handlers share.
pub struct PingDesk {
    pub store: Store,
    pub pings: Pings,
    pub control: mpsc::Sender<Control>,
}

/// The ping routes (GET or POST, as `curl` sends either), ready to merge into any router.
pub(super) fn routes<S: Clone + Send + Sync + 'static>(desk: Arc<PingDesk>) -> Router<S> {
    Router::new()
        .route("/ping/{job}/{key}", get(success).post(success))
        .route("/ping/{job}/{key}/{what}", get(other).post(other))
        .with_state(desk)
}

/// Binds the ping listener (`ping_listen`) and serves `/ping` alone until `stop`; returns the
/// bound address.
pub async fn serve_pings(
    desk: Arc<PingDesk>,
    listen: SocketAddr,
    limits: super::edge::Limits,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app: Router = routes(desk)
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "this listener serves /ping/{job}/{key} only\n",
            )
        })
        .layer(axum::middleware::map_response(super::scrub_body))
        .layer(axum::middleware::map_response(super::secure_headers));
    let task = tokio::spawn(super::edge::serve(
        listener,
        app,
        limits,
        "ping listener",
        stop,
    ));
    Ok((addr, task))
}

async fn success(
    State(desk): State<Arc<PingDesk>>,
    Path((job, key)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    take(&desk, &job, &key, PingKind::Success, &body).await
}

async fn other(
    State(desk): State<Arc<PingDesk>>,
    Path((job, key, what)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Response {
    match PingKind::parse(&what) {
        Some(kind) => take(&desk, &job, &key, kind, &body).await,
        None => (
            StatusCode::NOT_FOUND,
            "a ping ends in nothing, /start, /fail or an exit code (0-255)\n",
        )
            .into_response(),
    }
}

async fn take(desk: &PingDesk, job: &str, key: &str, kind: PingKind, body: &[u8]) -> Response {
    let refused = || {
        (
            StatusCode::NOT_FOUND,
            "no such external job, or not its key\n",
        )
            .into_response()
    };
    let Some(extract) = external_job(desk, job).await else {
        return refused();
    };
    let ping = Ping {
        kind,
        body: String::from_utf8_lossy(body).into_owned(),
        at_ms: chrono::Utc::now().timestamp_millis(),
    };
    match external::receive(&desk.pings, &desk.store, job, &extract, key, ping).await {
        Answer::Taken { run_id, .. } => {
            (StatusCode::OK, format!("ok: run {run_id}\n")).into_response()
        }
        Answer::Late { run_id, reason } => {
            (StatusCode::OK, format!("ok: run {run_id}, {reason}\n")).into_response()
        }
        Answer::Unchanged { run_id } => (
            StatusCode::OK,
            format!("ok: run {run_id} already has its outcome; nothing changed\n"),
        )
            .into_response(),
        Answer::NotWaiting => (
            StatusCode::CONFLICT,
            "the slot's run is not waiting for pings yet; try again\n",
        )
            .into_response(),
        Answer::NoSlotYet => (
            StatusCode::CONFLICT,
            "no slot of this job has come yet: a ping belongs to the latest slot at or before it\n",
        )
            .into_response(),
        Answer::Refused => refused(),
    }
}

/// The `metrics:` of `job` if the daemon schedules it and it is an `external` job.
async fn external_job(desk: &PingDesk, job: &str) -> Option<Vec<crate::model::Extract>> {
    let (tx, rx) = oneshot::channel();
    desk.control.send(Control::Jobs(tx)).await.ok()?;
    let jobs = tokio::time::timeout(Duration::from_secs(2), rx)
        .await
        .ok()?
        .ok()?;
    let view = jobs.into_iter().find(|v| v.id == job)?;
    matches!(view.spec.action, ActionSpec::External(_)).then(|| view.spec.extract.clone())
}
