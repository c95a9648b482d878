//! The status API and dashboard (axum, 127.0.0.1:8787 by default):
//! - `GET /healthz`: the scheduler loop answers within a second (alive and not stuck) and the
//!   ledger can be written (503 with `ledger_fault` while it cannot, e.g. a full disk);
//! - `GET /api/jobs`, `GET /api/runs?job=&limit=`, `GET /api/alerts`, `GET /api/status`;
//! - `POST /api/jobs/{id}/trigger` (needs the token: `Authorization: Bearer <token>`);
//! - `POST /api/jobs/{id}/backfill?from=..&to=..&dry_run=true` (needs the token): the report
//!   of `clawcron backfill`, once the window's runs have ended;
//! - `GET /metrics`: Prometheus text format;
//! - `GET /`: the dashboard, server-rendered, refreshing itself;
//! - `POST /ping/{job}/{key}[/start|/fail|/{code}]`: an `external` job's pings (`ping`), which
//!   need the job's key and no token; `ping_listen` serves them alone on a listener of their
//!   own, for other machines.
//!
//! The token is made at first start in `<state dir>/api-token` (mode 0600; an existing file is
//! tightened to 0600, and one shorter than 32 characters is refused). Every endpoint but
//! `/healthz` needs it (`api.public_reads: true` opens the reads on loopback), as the bearer
//! header or as the session cookie that `clawcron open`'s one-time link sets; a state-changing
//! request with the cookie also needs its CSRF token (`X-CSRF-Token`). Bound to loopback, only
//! a loopback `Host` is answered (DNS rebinding); every answer forbids framing and sniffing,
//! and the dashboard runs no script (CSP). Bound beyond loopback, every endpoint needs the token.

mod dashboard;
pub mod edge;
mod ping;
mod quiet;

pub use ping::{PingDesk, serve_pings};

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
    /// `api.public_reads` on loopback: reads need no token.
    pub public_reads: bool,
    /// Where it listens (its address is an accepted `Host`).
    pub listen: SocketAddr,
    /// One-time links and the browser sessions they opened.
    pub sessions: Mutex<Sessions>,
    pub boot_id: String,
    pub timezone: chrono_tz::Tz,
    pub templates: crate::template::Templates,
    pub started_ms: i64,
    /// The latest figure per job and metric, for `/metrics` (read from the ledger, so runs of
    /// every trigger count, a `clawcron trigger` run in its own process included).
    pub job_metrics: Mutex<JobMetrics>,
    /// The daemon's parts, for `/healthz` to name one that is stuck.
    pub parts: crate::pulse::Parts,
}

/// The latest value of each (job, metric) recorded in the ledger, brought up to date at each
/// scrape by reading only the rows added since the last one.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// The last ledger row read.
    seen: i64,
    /// (job, metric) -> (value, when).
    latest: std::collections::BTreeMap<(String, String), (f64, i64)>,
}

impl JobMetrics {
    /// Reads what is new in the ledger. Row numbers only grow, unless the newest rows were
    /// deleted (retention) and reused: then everything is read again.
    pub fn refresh(&mut self, store: &Store) -> Result<(), crate::store::StoreError> {
        let (rows, top) = store.metrics_after(self.seen)?;
        if top < self.seen {
            *self = JobMetrics::default();
            return self.refresh(store);
        }
        for r in rows {
            self.seen = self.seen.max(r.row);
            let slot = self
                .latest
                .entry((r.job, r.name))
                .or_insert((r.value, r.at));
            if r.at >= slot.1 {
                *slot = (r.value, r.at);
            }
        }
        Ok(())
    }

    /// The `clawcron_job_metric` family in Prometheus text format.
    pub fn write(&self, out: &mut String) {
        use crate::telemetry::{esc, family, number};
        family(
            out,
            "clawcron_job_metric",
            "gauge",
            "The latest value of each figure a job measured (CPU and memory %, latency, tokens/s...), by job and metric, from runs of any trigger.",
        );
        for ((job, metric), (value, _)) in &self.latest {
            let _ = writeln!(
                out,
                "clawcron_job_metric{{job=\"{}\",metric=\"{}\"}} {}",
                esc(job),
                esc(metric),
                number(*value)
            );
        }
    }
}

/// A token shorter than this is refused (a guessable secret guards nothing).
pub const MIN_TOKEN_LEN: usize = 32;

/// One-time links (`clawcron open`) and the browser sessions they opened, in memory: a restart
/// of the daemon ends them.
#[derive(Default)]
pub struct Sessions {
    /// Nonce -> when it expires (ms).
    once: std::collections::HashMap<String, i64>,
    /// Session id -> its CSRF token.
    live: std::collections::HashMap<String, String>,
}

const SESSION_COOKIE: &str = "clawcron_session";
const ONCE_TTL_MS: i64 = 60_000;

fn random_hex() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// A new token: 43 characters drawn from the 62 letters and digits (256 bits), so that it
/// always passes `weakness` (a hex token has only 16 distinct characters to draw from).
fn random_token() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(43);
    while out.len() < 43 {
        // 248 = 4 x 62: no bias from the modulo.
        let b = rand::random::<u8>();
        if b < 248 {
            out.push(ALPHABET[usize::from(b % 62)] as char);
        }
    }
    out
}

/// Why a token is too weak to guard the API, if it is: fewer than `MIN_TOKEN_LEN`
/// characters, fewer than 16 distinct ones, or under 128 bits by a conservative estimate
/// (its length times the bits of the character classes it uses).
pub fn weakness(t: &str) -> Option<String> {
    let len = t.chars().count();
    let distinct = t.chars().collect::<std::collections::HashSet<_>>().len();
    let has = |is: fn(&char) -> bool| t.chars().any(|c| is(&c));
    let charset: u32 = [
        (has(char::is_ascii_lowercase), 26),
        (has(char::is_ascii_uppercase), 26),
        (has(char::is_ascii_digit), 10),
        (t.chars().any(|c| !c.is_ascii_alphanumeric()), 32),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .map(|(_, n)| n)
    .sum();
    let bits = len as f64 * f64::from(charset.max(1)).log2();
    if len < MIN_TOKEN_LEN {
        Some(format!(
            "it has {len} characters; at least {MIN_TOKEN_LEN} are needed"
        ))
    } else if distinct < 16 {
        Some(format!(
            "it has {distinct} distinct characters; at least 16 are needed"
        ))
    } else if bits < 128.0 {
        Some(format!(
            "it holds about {bits:.0} bits; at least 128 are needed"
        ))
    } else {
        None
    }
}

/// Reads the API token, making it (random, mode 0600) on first start. An existing file that
/// others may read is tightened to 0600; a weak token (see `weakness`) is an error.
pub fn token(state_dir: &std::path::Path) -> Result<String, String> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = state_dir.join("api-token");
    let shown = path.display();
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => {
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o600);
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| format!("{shown} is readable by others (mode {mode:o}) and cannot be made 0600: {e}"))?;
                tracing::warn!("{shown} was readable by others (mode {mode:o}): now 0600");
            }
            let t = t.trim();
            if let Some(why) = weakness(t) {
                return Err(format!(
                    "the token in {shown} is too weak: {why} (delete the file and a strong one is made at start, or write one from `openssl rand -base64 32`)"
                ));
            }
            return Ok(t.to_string());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    }
    let make = || -> std::io::Result<String> {
        let token = random_token();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        // `mode` applies to a new file only: one that was there (empty) is made 0600 too.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(token.as_bytes())?;
        Ok(token)
    };
    make().map_err(|e| format!("cannot make the API token {shown}: {e}"))
}

/// Constant time: compares every byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn authorized(api: &Api, headers: &HeaderMap) -> bool {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let given = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => "",
    };
    same(given, &api.token)
}

/// The browser session the cookie names, with its CSRF token.
fn session_of(api: &Api, headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get_all(header::COOKIE);
    let id = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())?;
    let sessions = api.sessions.lock().ok()?;
    sessions
        .live
        .iter()
        .find(|(k, _)| same(k, &id))
        .map(|(_, csrf)| csrf.clone())
}

/// Whether `host` (the `Host` header) names this machine's loopback or the bound address.
fn loopback_host(host: &str, listen: SocketAddr) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or("").to_string()
    };
    let bound = match listen.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]") || name == bound
}

/// The gate in front of every route: the `Host` (on loopback), then the token, the cookie or
/// the public reads; state changes with the cookie need its CSRF token.
async fn gate(
    api: Arc<Api>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = req.headers();
    if !api.token_everywhere {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !loopback_host(host, api.listen) {
            return (
                StatusCode::MISDIRECTED_REQUEST,
                "this API answers only to localhost, 127.0.0.1 and [::1]\n",
            )
                .into_response();
        }
    }
    let path = req.uri().path();
    let read = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    // A ping carries its job's key, which protects it (see `ping`).
    let open_path = path == "/login"
        || (path == "/healthz" && !api.token_everywhere)
        || path.starts_with("/ping/");
    let bearer = authorized(&api, headers);
    let session = if bearer {
        None
    } else {
        session_of(&api, headers)
    };
    let allowed = open_path
        || bearer
        || (read && (session.is_some() || api.public_reads))
        || (!read
            && session.as_ref().is_some_and(|csrf| {
                // The header (scripts), or `?csrf=` (the dashboard's forms, which cannot set one).
                headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .or_else(|| {
                        req.uri()
                            .query()
                            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("csrf=")))
                    })
                    .is_some_and(|given| same(given, csrf))
            }));
    if !allowed {
        if !read && session.is_some() {
            return (
                StatusCode::FORBIDDEN,
                "the X-CSRF-Token header is missing or wrong\n",
            )
                .into_response();
        }
        return unauthorized();
    }
    let mut res = next.run(req).await;
    if let Some(csrf) = session
        && let Ok(v) = axum::http::HeaderValue::from_str(&csrf)
    {
        res.headers_mut().insert("x-csrf-token", v);
    }
    res
}

/// Headers every answer carries: no sniffing, no framing, and for pages no script at all.
async fn secure_headers(mut res: Response) -> Response {
    use axum::http::HeaderValue;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    res
}

/// `POST /api/session/once` (bearer only): a one-time link for a browser, valid a minute.
async fn session_once(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if !authorized(&api, &headers) {
        return unauthorized();
    }
    let nonce = random_hex();
    let now = chrono::Utc::now().timestamp_millis();
    if let Ok(mut s) = api.sessions.lock() {
        s.once.retain(|_, exp| *exp > now);
        s.once.insert(nonce.clone(), now + ONCE_TTL_MS);
    }
    Json(serde_json::json!({ "path": format!("/login?once={nonce}") })).into_response()
}

#[derive(serde::Deserialize)]
struct Once {
    once: String,
    /// Where to go once in: a path on this server (`/reports/...`); the dashboard otherwise.
    next: Option<String>,
}

/// `GET /login?once=...`: spends a one-time link; sets the session cookie (HttpOnly,
/// SameSite=Strict) and goes to the dashboard.
async fn login(State(api): State<Arc<Api>>, Query(q): Query<Once>) -> Response {
    let now = chrono::Utc::now().timestamp_millis();
    let id = random_hex();
    let ok = api.sessions.lock().is_ok_and(|mut s| {
        let valid = s.once.remove(&q.once).is_some_and(|exp| exp > now);
        if valid {
            s.live.insert(id.clone(), random_hex());
        }
        valid
    });
    if !ok {
        return (
            StatusCode::FORBIDDEN,
            "this link was used already or has expired: run `clawcron open` again\n",
        )
            .into_response();
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/"),
            ),
            (header::LOCATION, local_path(q.next.as_deref())),
        ],
    )
        .into_response()
}

/// `next` if it is a path on this server (not `//host` nor a URL), else `/`. A backslash or
/// any control character refuses it: browsers drop a tab or a newline, so `/\t/evil.com`
/// would be read as `//evil.com`.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.chars().any(|c| c == '\\' || c.is_control()) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
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

/// Binds and serves until `stop`, each connection within `limits`; returns the bound address.
pub async fn serve(
    api: Arc<Api>,
    listen: SocketAddr,
    limits: edge::Limits,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let guard = api.clone();
    let desk = Arc::new(PingDesk {
        store: api.store.clone(),
        pings: api.runner.pings(),
        control: api.control.clone(),
    });
    let app = Router::new()
        .merge(ping::routes(desk))
        .route("/", get(dashboard::page))
        .route("/reports/{job}/{file}", get(dashboard::report_file))
        .route("/healthz", get(healthz))
        .route("/api/jobs", get(jobs))
        .route("/api/runs", get(runs))
        .route("/api/alerts", get(alerts))
        .route("/api/status", get(status))
        .route("/api/jobs/{id}/trigger", post(trigger))
        .route("/api/jobs/{id}/pause", post(quiet::pause))
        .route("/api/jobs/{id}/resume", post(quiet::resume))
        .route("/api/silences", get(quiet::list).post(quiet::silence))
        .route("/api/silences/{sid}/end", post(quiet::unsilence))
        .route("/api/jobs/{id}/backfill", post(backfill))
        .route("/api/session/once", post(session_once))
        .route("/login", get(login))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::map_response(scrub_body))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                gate(guard.clone(), req, next)
            },
        ))
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(api);
    let task = tokio::spawn(edge::serve(listener, app, limits, "status API", stop));
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
    // A loop that answers is not enough: a ledger that cannot be written means no slot starts,
    // and a part at work for more than a second (a reload that hangs, say) is stuck.
    let ledger = api.store.health().fault();
    // Looked at on each call: a ledger file removed or replaced is a daemon that writes nothing.
    let ledger_gone = api.store.file_gone();
    let now = chrono::Utc::now().timestamp_millis();
    let stuck: Vec<String> = api
        .parts
        .stuck(now, 1000)
        .into_iter()
        .map(|s| {
            format!(
                "stuck: {} since {}",
                s.part,
                crate::util::to_utc(s.since_ms / 1000).to_rfc3339()
            )
        })
        .collect();
    let ok = ok && ledger.is_none() && ledger_gone.is_none() && stuck.is_empty();
    let body = serde_json::json!({
        "ok": ok,
        "scheduler_answer_ms": started.elapsed().as_secs_f64() * 1000.0,
        "ledger_fault": ledger,
        "ledger_gone": ledger_gone,
        "stuck": stuck,
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
    /// Who paused it, when and why, if it is paused.
    pub paused: Option<crate::model::Pause>,
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
    let pauses = api.store.pauses().unwrap_or_default();
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
                schedule: v.spec.describe_trigger(),
                enabled: v.spec.enabled,
                next: v.next.map(|s| rfc3339_s(s, api.timezone)),
                running: v.running,
                last,
                paused: pauses.iter().find(|p| p.job == v.id).cloned(),
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
) -> Response {
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

#[derive(serde::Deserialize)]
struct BackfillQuery {
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Backfills a window of a job's past slots (see `backfill`), as `clawcron backfill` does;
/// answers with the report once the last slot's run has ended (at once for a dry run).
async fn backfill(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(q): Query<BackfillQuery>,
    body: String,
) -> Response {
    let Some(views) = jobs_of(&api).await else {
        return no_answer();
    };
    let Some(v) = views.into_iter().find(|v| v.id == id) else {
        return (StatusCode::NOT_FOUND, format!("no job `{id}`\n")).into_response();
    };
    let tz = v.spec.trigger.tz().unwrap_or(api.timezone);
    // From the query, or from the dashboard's form.
    let field = |given: Option<String>, name: &str| {
        given
            .or_else(|| quiet::form_value(&body, name))
            .unwrap_or_default()
    };
    let (from, to) = (field(q.from, "from"), field(q.to, "to"));
    let dry_run = q.dry_run || quiet::form_value(&body, "dry_run").is_some();
    let window = match (
        crate::backfill::parse_instant(&from, tz, false),
        crate::backfill::parse_instant(&to, tz, true),
    ) {
        (Ok(from), Ok(to)) => crate::backfill::Window { from, to, dry_run },
        (Err(e), _) => return (StatusCode::BAD_REQUEST, format!("from: {e}\n")).into_response(),
        (_, Err(e)) => return (StatusCode::BAD_REQUEST, format!("to: {e}\n")).into_response(),
    };
    let (done_tx, done_rx) = oneshot::channel();
    let runner = api.runner.clone();
    let store = api.store.clone();
    api.runner.track(async move {
        let r = crate::backfill::run(&runner, &store, &v.spec, window).await;
        let _ = done_tx.send(r);
    });
    match done_rx.await {
        Ok(Ok(report)) => Json(report).into_response(),
        Ok(Err(e)) => (StatusCode::CONFLICT, format!("{e}\n")).into_response(),
        Err(_) => no_answer(),
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
    {
        let mut jm = api.job_metrics.lock().unwrap_or_else(|p| p.into_inner());
        match jm.refresh(&api.store) {
            Ok(()) => jm.write(&mut out),
            Err(e) => tracing::warn!("/metrics: cannot read the jobs' figures: {e}"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_is_a_local_path_without_control_characters_or_backslashes() {
        use super::local_path;
        assert_eq!(local_path(Some("/reports/x")), "/reports/x");
        for bad in [
            "/\t/evil.com",
            "//evil.com",
            "/\\evil.com",
            "/\u{7f}/x",
            "/\r\n/x",
            "https://evil.com",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
    }

    #[test]
    fn a_weak_token_is_refused_and_a_made_one_is_strong_and_private() {
        use super::{random_token, token, weakness};
        assert!(weakness(&"a".repeat(40)).unwrap().contains("1 distinct"));
        assert_eq!(weakness(&"0123456789abcdef".repeat(4)), None);
        assert!(weakness("short").unwrap().contains("5 characters"));
        for _ in 0..100 {
            let t = random_token();
            assert_eq!(weakness(&t), None, "{t}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("api-token");
        std::fs::write(&file, "a".repeat(40)).unwrap();
        assert!(token(dir.path()).unwrap_err().contains("too weak"));
        // A whitespace-only file, 0644: a new token, and the file is 0600.
        std::fs::write(&file, "  \n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let t = token(dir.path()).unwrap();
        assert_eq!(weakness(&t), None);
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
