//! The `http` job kind: one request, judged by status (default 2xx) and optionally content type,
//! a body regex and a JSON pointer's value. Records `status`, `total_ms` and `connect_ms` (DNS,
//! TCP and TLS of the connection this request opened) as metrics. A health endpoint must be
//! checked by its body, not its status: an old OpenClaw gateway answers every path with 200 and
//! its web UI's HTML.

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::{Expect, HttpSpec, Metric};
use crate::util::chain;
use futures_util::StreamExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// Bodies are read up to this size; the rest is not read (never an unbounded read).
const MAX_BODY: usize = 1024 * 1024;

impl Eq for Expect {}

/// What a check found, before it is turned into an attempt result.
pub struct Checked {
    pub ok: bool,
    pub status: Option<u16>,
    pub total: Duration,
    pub connect: Option<Duration>,
    pub line: String,
    pub error: Option<String>,
}

pub async fn run(spec: &HttpSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let c = tokio::select! {
        c = check(spec, ctx.deadline) => c,
        () = ctx.cancel.cancelled() => {
            return AttemptResult { status: AttemptStatus::Interrupted, exit_code: None, error: Some("interrupted by daemon shutdown".into()), output_tail: String::new(), metrics: Vec::new() };
        }
    };
    tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "{}", c.line);
    let mut metrics = vec![Metric::new("total_ms", c.total.as_secs_f64() * 1e3)];
    if let Some(s) = c.status {
        metrics.push(Metric::new("status", f64::from(s)));
    }
    if let Some(d) = c.connect {
        metrics.push(Metric::new("connect_ms", d.as_secs_f64() * 1e3));
    }
    let timed_out = ctx.deadline.is_some_and(|d| Instant::now() >= d);
    let status = match (c.ok, timed_out) {
        (true, _) => AttemptStatus::Succeeded,
        (false, true) => AttemptStatus::TimedOut,
        (false, false) => AttemptStatus::Failed,
    };
    AttemptResult {
        status,
        exit_code: None,
        error: c.error,
        output_tail: format!("{}\n", c.line),
        metrics,
    }
}

/// Sends the request and follows up to 5 redirects, each within what is left of `limit`. The
/// custom headers and the bearer token go to the first origin only: once a redirect leaves it,
/// they are dropped for good (reqwest drops only `Authorization` and cookies).
async fn send_following(
    client: &reqwest::Client,
    spec: &HttpSpec,
    mut method: reqwest::Method,
    bearer: Option<&str>,
    limit: Option<Duration>,
) -> reqwest::Result<reqwest::Response> {
    let until = limit.map(|t| Instant::now() + t);
    let Ok(mut url) = reqwest::Url::parse(&spec.url) else {
        // reqwest says what is wrong with the URL.
        return client.request(method, spec.url.as_str()).send().await;
    };
    let first = url.origin();
    let mut body = spec.body.clone();
    let mut trusted = true;
    let mut hops = 0;
    loop {
        let mut req = client.request(method.clone(), url.clone());
        if trusted {
            for (k, v) in &spec.headers {
                req = req.header(k, v);
            }
            if let Some(token) = bearer {
                req = req.bearer_auth(token);
            }
        }
        if let Some(b) = &body {
            req = req.body(b.clone());
        }
        if let Some(u) = until {
            req = req.timeout(u.saturating_duration_since(Instant::now()));
        }
        let resp = req.send().await?;
        let next = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| resp.url().join(l).ok());
        let (Some(next), true) = (next, resp.status().is_redirection() && hops < 5) else {
            return Ok(resp);
        };
        hops += 1;
        match resp.status().as_u16() {
            307 | 308 => {}
            _ if method == reqwest::Method::HEAD => {}
            _ => {
                method = reqwest::Method::GET;
                body = None;
            }
        }
        trusted &= next.origin() == first;
        url = next;
    }
}

/// Makes the request and judges the answer. Also used by `docker.restart`'s functional probe.
pub async fn check(spec: &HttpSpec, deadline: Option<Instant>) -> Checked {
    let started = Instant::now();
    let fail = |error: String, status: Option<u16>, connect: Option<Duration>| Checked {
        ok: false,
        status,
        total: started.elapsed(),
        connect,
        line: format!("{} -> {error}", spec.summary()),
        error: Some(error),
    };
    let timing = ConnectTiming::default();
    let client = match reqwest::Client::builder()
        .connector_layer(timing.clone())
        .pool_max_idle_per_host(0)
        // Redirects are followed here, by `send_following`: credentials and custom headers
        // stay on the first origin, and no `Referer` is ever sent.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return fail(
                format!("cannot build an HTTP client: {}", chain(&e)),
                None,
                None,
            );
        }
    };
    let method =
        reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let bearer = match &spec.bearer_env {
        Some(var) => match std::env::var(var) {
            Ok(token) if !token.is_empty() => Some(token),
            _ => {
                return fail(
                    format!("environment variable `{var}` (the bearer token) is not set"),
                    None,
                    None,
                );
            }
        },
        None => None,
    };
    let mut limit = spec.timeout;
    let mut by_job = false;
    if let Some(d) = deadline {
        let left = d.saturating_duration_since(Instant::now());
        by_job = limit.is_none_or(|t| left < t);
        limit = Some(limit.map_or(left, |t| t.min(left)));
    }
    let resp = match send_following(&client, spec, method, bearer.as_deref(), limit).await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_timeout() && by_job {
                "no answer before the job's timeout".to_string()
            } else if e.is_timeout() {
                format!(
                    "no answer within {}",
                    crate::util::duration::format(limit.unwrap_or_default())
                )
            } else {
                chain(&e)
            };
            return fail(why, None, timing.get());
        }
    };
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body: Vec<u8> = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                let room = MAX_BODY - body.len();
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Err(e) => {
                let why = if e.is_timeout() {
                    "the body did not arrive in time".to_string()
                } else {
                    chain(&e)
                };
                return fail(why, Some(status), timing.get());
            }
        }
    }
    let total = started.elapsed();
    let connect = timing.get();
    let text = String::from_utf8_lossy(&body);
    let verdict = judge(&spec.expect, status, &ctype, &text);
    let media = ctype.split(';').next().unwrap_or("").trim();
    let mut line = format!(
        "{} -> {status} {} in {:.1} ms",
        spec.summary(),
        if media.is_empty() {
            "(no content type)"
        } else {
            media
        },
        total.as_secs_f64() * 1e3
    );
    if let Some(c) = connect {
        line.push_str(&format!(" (connect {:.1} ms)", c.as_secs_f64() * 1e3));
    }
    match verdict {
        Ok(()) => Checked {
            ok: true,
            status: Some(status),
            total,
            connect,
            line,
            error: None,
        },
        Err(why) => {
            line.push_str(&format!(": {why}"));
            Checked {
                ok: false,
                status: Some(status),
                total,
                connect,
                line,
                error: Some(why),
            }
        }
    }
}

fn judge(expect: &Expect, status: u16, ctype: &str, body: &str) -> Result<(), String> {
    let status_ok = match &expect.status {
        Some(codes) => codes.contains(&status),
        None => (200..300).contains(&status),
    };
    if !status_ok {
        let wanted = match &expect.status {
            Some(c) => c
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            None => "2xx".into(),
        };
        return Err(format!(
            "status {status}, expected {wanted}{}",
            snippet(body)
        ));
    }
    if let Some(want) = &expect.content_type {
        let media = ctype.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(want) {
            let got = if media.is_empty() { "none" } else { media };
            return Err(format!("content type {got}, expected {want}"));
        }
    }
    if let Some(re) = &expect.body_regex
        && !re.is_match(body)
    {
        return Err(format!(
            "the body does not match /{}/{}",
            re.as_str(),
            snippet(body)
        ));
    }
    if let Some((pointer, want)) = &expect.json {
        let doc: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| format!("the body is not JSON ({e}){}", snippet(body)))?;
        match doc.pointer(pointer) {
            Some(v) if v == want => {}
            Some(v) => return Err(format!("{pointer} is {v}, expected {want}")),
            None => return Err(format!("{pointer} is missing{}", snippet(body))),
        }
    }
    Ok(())
}

/// The start of a body, for an error message.
fn snippet(body: &str) -> String {
    // Redacted before it is quoted (quoting escapes `"` and `\`) and before it is cut.
    let t: String = crate::redact::scrub(body.trim())
        .chars()
        .take(120)
        .collect();
    if t.is_empty() {
        String::new()
    } else {
        format!(" (body: {t:?})")
    }
}

/// A connector layer that records how long the connection (DNS, TCP, TLS) took.
#[derive(Clone, Default)]
struct ConnectTiming(Arc<Mutex<Option<Duration>>>);

impl ConnectTiming {
    fn get(&self) -> Option<Duration> {
        self.0.lock().ok().and_then(|g| *g)
    }
}

impl<S> tower_layer::Layer<S> for ConnectTiming {
    type Service = Timed<S>;
    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            timing: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Timed<S> {
    inner: S,
    timing: ConnectTiming,
}

impl<S, R> tower_service::Service<R> for Timed<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let start = std::time::Instant::now();
        let fut = self.inner.call(req);
        let timing = self.timing.clone();
        Box::pin(async move {
            let r = fut.await;
            if let Ok(mut g) = timing.0.lock() {
                *g = Some(start.elapsed());
            }
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging() {
        let json_ready = Expect {
            content_type: Some("application/json".into()),
            json: Some(("/ready".into(), serde_json::Value::Bool(true))),
            ..Expect::default()
        };
        assert_eq!(
            judge(
                &json_ready,
                200,
                "application/json; charset=utf-8",
                r#"{"ready":true}"#
            ),
            Ok(())
        );
        assert_eq!(
            judge(&json_ready, 200, "text/html", "<html>").unwrap_err(),
            "content type text/html, expected application/json"
        );
        assert_eq!(
            judge(&json_ready, 200, "application/json", r#"{"ready":false}"#).unwrap_err(),
            "/ready is false, expected true"
        );
        assert_eq!(
            judge(&Expect::default(), 404, "text/plain", "Not Found").unwrap_err(),
            "status 404, expected 2xx (body: \"Not Found\")"
        );
        let codes = Expect {
            status: Some(vec![503]),
            ..Expect::default()
        };
        assert_eq!(judge(&codes, 503, "", ""), Ok(()));
    }
}
