//! `ollama.unload`: free models' memory now (`keep_alive: 0`), e.g. before a benchmark.

use super::{Client, cancellable, finish};
use crate::action::{AttemptCtx, AttemptResult};
use crate::model::Metric;
use crate::model::UnloadSpec;

pub async fn run(spec: &UnloadSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    cancellable(ctx, async {
        let mut lines = Vec::new();
        let client = match Client::new(&spec.url, ctx.deadline) {
            Ok(c) => c,
            Err(e) => return finish(ctx, lines, Vec::new(), Some(e)),
        };
        let mut n = 0.0;
        let all = spec
            .models
            .iter()
            .map(|m| (m, false))
            .chain(spec.embed_models.iter().map(|m| (m, true)));
        for (model, embed) in all {
            let (path, body) = if embed {
                (
                    "/api/embed",
                    serde_json::json!({"model": model, "input": "", "keep_alive": 0}),
                )
            } else {
                (
                    "/api/generate",
                    serde_json::json!({"model": model, "keep_alive": 0}),
                )
            };
            if let Err(mut e) = client.post(path, &body).await {
                e.message = format!("{model}: {}", e.message);
                return finish(ctx, lines, vec![Metric::new("models_unloaded", n)], Some(e));
            }
            lines.push(format!("unloaded {model}"));
            n += 1.0;
        }
        finish(ctx, lines, vec![Metric::new("models_unloaded", n)], None)
    })
    .await
}
