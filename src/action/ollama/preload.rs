//! `ollama.preload`: load models into memory with a keep-alive, waiting for the server first
//! (at login it may still be starting). Text models are loaded with an empty `/api/generate`,
//! embedding models with an empty `/api/embed`, as Ollama's API documents.

use super::{Client, cancellable, finish};
use crate::action::{AttemptCtx, AttemptResult};
use crate::model::Metric;
use crate::model::PreloadSpec;
use std::time::Duration;
use tokio::time::Instant;

pub async fn run(spec: &PreloadSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    cancellable(ctx, async {
        let mut lines = Vec::new();
        let mut metrics = Vec::new();
        let client = match Client::new(&spec.url, ctx.deadline) {
            Ok(c) => c,
            Err(e) => return finish(ctx, lines, metrics, Some(e)),
        };
        match client.wait_until_up(spec.wait).await {
            Ok(waited) => {
                if waited > Duration::from_millis(100) {
                    lines.push(format!("Ollama answered after {:.1} s", waited.as_secs_f64()));
                }
                metrics.push(Metric::new("wait_ms", waited.as_secs_f64() * 1e3));
            }
            Err(e) => return finish(ctx, lines, metrics, Some(e)),
        }
        let all = spec.models.iter().map(|m| (m, false)).chain(spec.embed_models.iter().map(|m| (m, true)));
        let mut loaded = 0.0;
        for (model, embed) in all {
            let start = Instant::now();
            let result = if embed {
                client.post("/api/embed", &serde_json::json!({"model": model, "input": "", "keep_alive": spec.keep_alive})).await
            } else {
                client.post("/api/generate", &serde_json::json!({"model": model, "keep_alive": spec.keep_alive})).await
            };
            let ms = start.elapsed().as_secs_f64() * 1e3;
            match result {
                Ok(_) => {
                    lines.push(format!("loaded {model} (keep_alive {}) in {ms:.0} ms", spec.keep_alive));
                    metrics.push(Metric::new(format!("load_ms.{model}"), ms));
                    loaded += 1.0;
                }
                Err(mut e) => {
                    e.message = format!("{model}: {}", e.message);
                    metrics.push(Metric::new("models_loaded", loaded));
                    return finish(ctx, lines, metrics, Some(e));
                }
            }
        }
        metrics.push(Metric::new("models_loaded", loaded));
        finish(ctx, lines, metrics, None)
    })
    .await
}
