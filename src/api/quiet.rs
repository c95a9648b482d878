//! `POST /api/jobs/{id}/pause?reason=`, `POST /api/jobs/{id}/resume`,
//! `GET|POST /api/silences` (`?job=&rule=&for=2h&reason=`), `POST /api/silences/{id}/end`: the
//! same pauses and silences as the CLI's, in the ledger. Changes need the token, or the
//! dashboard's cookie with its CSRF token; a form from the dashboard is sent back to it.

use super::Api;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

#[derive(Debug, serde::Deserialize)]
pub struct Why {
    reason: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct NewSilence {
    job: String,
    rule: Option<String>,
    #[serde(rename = "for")]
    lasts: String,
    reason: Option<String>,
}

/// A form posted from the dashboard goes back to it; a script gets the JSON.
fn answer(headers: &HeaderMap, code: StatusCode, body: serde_json::Value) -> Response {
    let from_page = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if from_page && code.is_success() {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    }
    (code, Json(body)).into_response()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn known(api: &Api, id: &str) -> Option<Arc<crate::model::JobSpec>> {
    super::jobs_of(api)
        .await?
        .into_iter()
        .find(|v| v.id == id)
        .map(|v| v.spec)
}

fn store_error(e: crate::store::StoreError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the ledger: {e}\n"),
    )
        .into_response()
}

/// `name`'s value in a form body (`application/x-www-form-urlencoded`), decoded.
pub(super) fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            let v = v.replace('+', " ");
            let b = v.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16)
                {
                    out.push(x);
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

pub async fn pause(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    Query(q): Query<Why>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if known(&api, &id).await.is_none() {
        return (StatusCode::NOT_FOUND, format!("no job `{id}`\n")).into_response();
    }
    // From the query, or from the dashboard's form.
    let reason = q
        .reason
        .or_else(|| form_value(&body, "reason"))
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "paused from the API".into());
    if let Err(e) = api.store.pause(&id, &reason, "api", now()) {
        return store_error(e);
    }
    api.runner.quiet().pauses_changed();
    answer(
        &headers,
        StatusCode::OK,
        serde_json::json!({ "job": id, "paused": true, "reason": reason }),
    )
}

pub async fn resume(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match api.store.resume(&id) {
        Ok(Some(p)) => {
            api.runner.quiet().pauses_changed();
            answer(
                &headers,
                StatusCode::OK,
                serde_json::json!({ "job": id, "resumed": true, "was": p }),
            )
        }
        Ok(None) => answer(
            &headers,
            StatusCode::CONFLICT,
            serde_json::json!({ "job": id, "resumed": false, "error": format!("{id} is not paused") }),
        ),
        Err(e) => store_error(e),
    }
}

pub async fn list(State(api): State<Arc<Api>>) -> Response {
    match (api.store.active_silences(now()), api.store.pauses()) {
        (Ok(s), Ok(p)) => Json(serde_json::json!({ "silences": s, "pauses": p })).into_response(),
        (Err(e), _) | (_, Err(e)) => store_error(e),
    }
}

pub async fn silence(
    State(api): State<Arc<Api>>,
    Query(q): Query<NewSilence>,
    headers: HeaderMap,
) -> Response {
    let Some(job) = known(&api, &q.job).await else {
        return (StatusCode::NOT_FOUND, format!("no job `{}`\n", q.job)).into_response();
    };
    let rule = q.rule.filter(|r| !r.is_empty());
    if let Some(r) = &rule
        && !job.alerts.iter().any(|a| &a.name == r)
    {
        return (
            StatusCode::NOT_FOUND,
            format!("{} has no alert rule `{r}`\n", q.job),
        )
            .into_response();
    }
    let lasts = match crate::util::duration::parse(&q.lasts) {
        Ok(d) => d,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("for: {e}\n")).into_response(),
    };
    let at = now();
    let s = crate::model::Silence {
        id: 0,
        job: q.job.clone(),
        rule,
        reason: q
            .reason
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| "silenced from the API".into()),
        by: "api".into(),
        created_at_ms: at,
        ends_at_ms: at + lasts.as_millis() as i64,
    };
    let added = api.store.add_silence(&s);
    api.runner.quiet().silences_changed();
    match added {
        Ok(id) => answer(
            &headers,
            StatusCode::CREATED,
            serde_json::json!({ "id": id, "silence": s }),
        ),
        Err(e) => store_error(e),
    }
}

pub async fn unsilence(
    State(api): State<Arc<Api>>,
    Path(sid): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let ended = api.store.end_silence(sid, now());
    api.runner.quiet().silences_changed();
    match ended {
        Ok(Some(s)) => answer(&headers, StatusCode::OK, serde_json::json!({ "ended": s })),
        Ok(None) => (StatusCode::NOT_FOUND, format!("no active silence {sid}\n")).into_response(),
        Err(e) => store_error(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_form_value_is_decoded() {
        assert_eq!(
            super::form_value("csrf=ab&reason=fixing+the+mod%C3%A8le%21", "reason").as_deref(),
            Some("fixing the modèle!")
        );
        assert_eq!(super::form_value("reason=x", "csrf"), None);
    }
}
