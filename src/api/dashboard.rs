//! `GET /`: the dashboard, rendered on the server from `templates/dashboard.html.j2` (in French
//! from `dashboard.fr.html.j2`; no JavaScript; it refreshes itself every 30 s): a banner when a
//! job file has errors or the ledger cannot be written, jobs with their next slot and last
//! outcome, alert states, recent runs with their output tail, the latest reports (served by
//! `GET /reports/{job}/{file}`), and sparklines of the last 24 hours, the figures that alert
//! rules and regressions name first, with their units; constant figures are left out.
//! `GET /reports/{job}/{file}` serves a report job's rendered files.

use super::{Api, job_infos, jobs_of};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

const SHIPPED: &str = include_str!("../../templates/dashboard.html.j2");
const SHIPPED_FR: &str = include_str!("../../templates/dashboard.fr.html.j2");

/// At most this many sparklines.
const SPARKS: usize = 16;

/// A small inline SVG polyline of `points`, with its last value.
pub fn sparkline(points: &[(i64, f64)]) -> String {
    let (w, h) = (160.0, 32.0);
    if points.len() < 2 {
        return String::new();
    }
    let (x0, x1) = (points[0].0 as f64, points[points.len() - 1].0 as f64);
    let lo = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span_x = (x1 - x0).max(1.0);
    let span_y = (hi - lo).max(1e-9);
    let pts: Vec<String> = points
        .iter()
        .map(|(t, v)| {
            format!(
                "{:.1},{:.1}",
                (*t as f64 - x0) / span_x * w,
                h - 2.0 - (v - lo) / span_y * (h - 4.0)
            )
        })
        .collect();
    format!(
        "<svg class=\"spark\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"min {lo:.2}, max {hi:.2}\"><polyline fill=\"none\" stroke=\"#1f4e79\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        pts.join(" ")
    )
}

pub async fn page(State(api): State<Arc<Api>>, headers: axum::http::HeaderMap) -> Response {
    // The forms (pause, resume, silence) carry the session's CSRF token.
    let csrf = super::session_of(&api, &headers);
    let Some(views) = jobs_of(&api).await else {
        return super::no_answer();
    };
    let jobs = job_infos(&api, &views);
    let now = chrono::Utc::now().timestamp_millis();
    let runs = api.store.history(None, 20).unwrap_or_default();
    let alerts = api.store.alerts().unwrap_or_default();
    let lang = api.templates.lang;
    // The latest reports of the report jobs, as links to this server.
    let mut reports = Vec::new();
    for v in &views {
        if let crate::model::ActionSpec::Report(r) = &v.spec.action {
            reports.extend(
                report_files(&r.out_dir)
                    .into_iter()
                    .take(3)
                    .map(|(at, name)| {
                        serde_json::json!({
                            "job": v.id, "name": name, "at_ms": at,
                            "url": format!("/reports/{}/{}", v.id, name),
                        })
                    }),
            );
        }
    }
    // The figures the rules and regressions name come first; constant ones are left out.
    let named = |job: &str, name: &str| {
        views.iter().filter(|v| v.id == job).any(|v| {
            v.spec
                .alerts
                .iter()
                .any(|r| crate::model::metric_matches(name, &r.metric))
                || v.spec
                    .regression
                    .as_ref()
                    .is_some_and(|g| g.metrics.iter().any(|(m, _)| m == name))
        })
    };
    let mut candidates: Vec<(bool, String, String)> = api
        .store
        .metric_keys()
        .unwrap_or_default()
        .into_iter()
        .map(|(job, name)| (!named(&job, &name), job, name))
        .collect();
    candidates.sort();
    let mut sparks = Vec::new();
    for (_, job, name) in candidates {
        if sparks.len() == SPARKS {
            break;
        }
        let pts = api
            .store
            .series(&job, &name, now - 86_400_000, now + 1)
            .unwrap_or_default();
        let Some(last) = pts.last().map(|p| p.1) else {
            continue;
        };
        if pts.iter().all(|p| p.1 == last) && pts.len() > 1 || pts.len() == 1 && !named(&job, &name)
        {
            continue;
        }
        let pts = crate::report::stats::downsample(&pts, 120);
        sparks.push(serde_json::json!({
            "job": job, "name": name, "last": crate::i18n::figure(&name, last, lang),
            "svg": sparkline(&pts),
        }));
    }
    // Figures in the alerts with their units.
    let metric_of = |job: &str, rule: &str| {
        views
            .iter()
            .find(|v| v.id == job)
            .and_then(|v| v.spec.alerts.iter().find(|r| r.name == rule))
            .map(|r| r.metric.clone())
            .unwrap_or_default()
    };
    let silences = api.store.active_silences(now).unwrap_or_default();
    let alerts: Vec<serde_json::Value> = alerts
        .iter()
        .map(|a| {
            // The silence that covers it shows with it.
            let silenced = silences
                .iter()
                .find(|s| s.job == a.job && s.rule.as_ref().is_none_or(|r| *r == a.rule));
            serde_json::json!({
                "job": a.job, "rule": a.rule, "phase": a.phase.as_str(), "since": a.since,
                "peak": a.peak.map(|p| crate::i18n::figure(&metric_of(&a.job, &a.rule), p, lang)),
                "silenced": silenced,
            })
        })
        .collect();
    // The health of the house: job files with errors, a ledger that cannot be written.
    let errors = api
        .reload
        .lock()
        .map(|r| r.errors.clone())
        .unwrap_or_default();
    let fault = api.store.health().fault();
    // In a cluster: the nodes on the shared ledger, and what each has going or disagrees on.
    let nodes = match api.store.node() {
        Some(me) => api.store.nodes(2 * me.lease_ms).unwrap_or_default(),
        None => Vec::new(),
    };
    let ctx = serde_json::json!({
        "nodes": nodes,
        "jobs": jobs, "runs": runs, "alerts": alerts, "reports": reports, "sparklines": sparks,
        "now_ms": now, "boot_id": api.boot_id, "lang": lang.code(), "csrf": csrf,
        "silences": silences,
        "health": { "errors": errors, "ledger": fault.map(|f| serde_json::json!({
            "since_ms": f.since_ms, "error": f.error, "failures": f.failures })) },
    });
    let shipped = match lang {
        crate::i18n::Lang::En => SHIPPED,
        crate::i18n::Lang::Fr => SHIPPED_FR,
    };
    render_page(&api.templates, shipped, ctx).await
}

/// The dashboard from its (user's) template: rendered off the runtime's thread, bounded, and
/// stopped when `PAGE_WITHIN` passes.
async fn render_page(
    templates: &crate::template::Templates,
    shipped: &'static str,
    ctx: serde_json::Value,
) -> Response {
    let templates = templates.with_bounds(crate::template::Bounds::page());
    let flag = templates.bounds.clone();
    let task = tokio::task::spawn_blocking(move || {
        templates.render_localized("dashboard.html.j2", Some(shipped), &ctx)
    });
    let rendered = match tokio::time::timeout(PAGE_WITHIN, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(crate::template::TemplateError {
            file: "dashboard.html.j2".into(),
            line: 0,
            what: format!("the render failed: {e}"),
            exceeded: None,
        }),
        Err(_) => {
            flag.stop();
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "dashboard template: not rendered within {}: stopped\n",
                    crate::util::duration::format(PAGE_WITHIN)
                ),
            )
                .into_response();
        }
    };
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("dashboard template: {e}\n"),
        )
            .into_response(),
    }
}

/// How long the dashboard page may take to render.
const PAGE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A report folder's rendered files, newest first: (modified, Unix ms; file name).
fn report_files(dir: &std::path::Path) -> Vec<(i64, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(i64, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !(name.ends_with(".html") || name.ends_with(".md")) {
                return None;
            }
            // `DirEntry::metadata` does not follow links: only regular files are listed.
            let meta = e.metadata().ok()?;
            if !meta.file_type().is_file() {
                return None;
            }
            let at = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis() as i64;
            Some((at, name))
        })
        .collect();
    files.sort_by(|a, b| b.cmp(a));
    files
}

/// `GET /reports/{job}/{file}`: a file the report job `job` wrote (a plain name in its folder,
/// `.html` or `.md`); anything else is 404.
pub async fn report_file(
    State(api): State<Arc<Api>>,
    axum::extract::Path((job, file)): axum::extract::Path<(String, String)>,
) -> Response {
    let Some(views) = jobs_of(&api).await else {
        return super::no_answer();
    };
    let Some(dir) = views
        .iter()
        .find(|v| v.id == job)
        .and_then(|v| match &v.spec.action {
            crate::model::ActionSpec::Report(r) => Some(r.out_dir.clone()),
            _ => None,
        })
    else {
        return (StatusCode::NOT_FOUND, "no such report job\n").into_response();
    };
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && !file.contains(['/', '\\'])
        && report_files(&dir).iter().any(|(_, n)| *n == file);
    if !plain {
        return (StatusCode::NOT_FOUND, "no such report\n").into_response();
    }
    // Opened without following a link (one made after the listing above included), only if
    // regular, at most 64 MiB, off the runtime's thread.
    let path = dir.join(&file);
    let read = tokio::task::spawn_blocking(move || {
        crate::util::files::read_regular_nofollow(&path, 64 << 20)
    })
    .await;
    match read {
        Ok(Ok(body)) => {
            let ctype = if file.ends_with(".html") {
                "text/html; charset=utf-8"
            } else {
                "text/markdown; charset=utf-8"
            };
            ([(axum::http::header::CONTENT_TYPE, ctype)], body).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::NOT_FOUND,
            format!("cannot read the report: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the report: {e}\n"),
        )
            .into_response(),
    }
}
