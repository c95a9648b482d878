//! `GET /`: the dashboard, rendered on the server from `templates/dashboard.html.j2` (no
//! JavaScript; it refreshes itself every 30 s): jobs with their next slot and last outcome,
//! alert states, recent runs with their output tail, the latest reports, and sparklines of the
//! figures of the last 24 hours.

use super::{Api, job_infos, jobs_of};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

const SHIPPED: &str = include_str!("../../templates/dashboard.html.j2");

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

pub async fn page(State(api): State<Arc<Api>>) -> Response {
    let Some(views) = jobs_of(&api).await else {
        return super::no_answer();
    };
    let jobs = job_infos(&api, &views);
    let now = chrono::Utc::now().timestamp_millis();
    let runs = api.store.history(None, 20).unwrap_or_default();
    let alerts = api.store.alerts().unwrap_or_default();
    // The latest reports of the report jobs.
    let mut reports = Vec::new();
    for v in &views {
        if let crate::model::ActionSpec::Report(r) = &v.spec.action
            && let Ok(dir) = std::fs::read_dir(&r.out_dir)
        {
            let mut files: Vec<(std::time::SystemTime, String)> = dir
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".html"))
                .filter_map(|e| {
                    Some((
                        e.metadata().ok()?.modified().ok()?,
                        e.path().display().to_string(),
                    ))
                })
                .collect();
            files.sort();
            reports.extend(files.into_iter().rev().take(3).map(|(_, p)| p));
        }
    }
    let mut sparks = Vec::new();
    for (job, name) in api
        .store
        .metric_keys()
        .unwrap_or_default()
        .into_iter()
        .take(16)
    {
        let pts = api
            .store
            .series(&job, &name, now - 86_400_000, now + 1)
            .unwrap_or_default();
        let Some(last) = pts.last().map(|p| p.1) else {
            continue;
        };
        let pts = crate::report::stats::downsample(&pts, 120);
        sparks.push(serde_json::json!({
            "job": job, "name": name, "last": (last * 100.0).round() / 100.0, "svg": sparkline(&pts),
        }));
    }
    let ctx = serde_json::json!({
        "jobs": jobs, "runs": runs, "alerts": alerts, "reports": reports, "sparklines": sparks,
        "now_ms": now, "boot_id": api.boot_id,
    });
    match api
        .templates
        .render("dashboard.html.j2", Some(SHIPPED), &ctx)
    {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("dashboard template: {e}\n"),
        )
            .into_response(),
    }
}
