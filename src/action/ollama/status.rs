//! `ollama.status`: which models are loaded and how much of each sits in GPU memory (`/api/ps`),
//! and which are available (`/api/tags`).

use super::{Client, cancellable, finish};
use crate::action::{AttemptCtx, AttemptResult};
use crate::model::Metric;
use crate::model::StatusSpec;

pub async fn run(spec: &StatusSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    cancellable(ctx, async {
        let mut lines = Vec::new();
        let mut metrics = Vec::new();
        let client = match Client::new(&spec.url, ctx.deadline) {
            Ok(c) => c,
            Err(e) => return finish(ctx, lines, metrics, Some(e)),
        };
        let ps = match client.get("/api/ps").await {
            Ok(v) => v,
            Err(e) => return finish(ctx, lines, metrics, Some(e)),
        };
        let tags = match client.get("/api/tags").await {
            Ok(v) => v,
            Err(e) => return finish(ctx, lines, metrics, Some(e)),
        };
        let empty = Vec::new();
        let loaded = ps
            .get("models")
            .and_then(|m| m.as_array())
            .unwrap_or(&empty);
        let mut total = 0.0;
        let mut vram = 0.0;
        for m in loaded {
            let name = m.get("name").and_then(|n| n.as_str()).unwrap_or("?");
            let size = m
                .get("size")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0);
            let in_gpu = m
                .get("size_vram")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(0.0);
            let share = if size > 0.0 {
                in_gpu / size * 100.0
            } else {
                0.0
            };
            let until = m.get("expires_at").and_then(|e| e.as_str()).unwrap_or("?");
            lines.push(format!(
                "loaded {name}: {:.2} GB, {share:.0}% in GPU memory, until {until}",
                size / 1e9
            ));
            metrics.push(Metric::new(format!("gpu_percent.{name}"), share));
            total += size;
            vram += in_gpu;
        }
        let available = tags
            .get("models")
            .and_then(|m| m.as_array())
            .map_or(0, Vec::len);
        lines.push(format!("{} loaded, {available} available", loaded.len()));
        metrics.push(Metric::new("models_loaded", loaded.len() as f64));
        metrics.push(Metric::new("models_available", available as f64));
        metrics.push(Metric::new("loaded_bytes", total));
        metrics.push(Metric::new("vram_bytes", vram));
        finish(ctx, lines, metrics, None)
    })
    .await
}
