//! `ollama.bench`: a fixed prompt, several rounds, non-streaming (for Ollama's own timings:
//! tokens/s = eval_count / eval_duration, prompt tokens/s, load time) and streaming (for the
//! time to the first token as a client sees it). The median of the rounds is kept as metrics.

use super::{CallError, Client, cancellable, finish, median};
use crate::action::{AttemptCtx, AttemptResult};
use crate::model::BenchSpec;
use crate::model::Metric;
use futures_util::StreamExt;
use tokio::time::Instant;

pub async fn run(spec: &BenchSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    cancellable(ctx, async {
        let mut lines = Vec::new();
        let client = match Client::new(&spec.url, ctx.deadline) {
            Ok(c) => c,
            Err(e) => return finish(ctx, lines, Vec::new(), Some(e)),
        };
        let (mut tps, mut ptps, mut load, mut ttft, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 1..=spec.rounds {
            let body = serde_json::json!({"model": spec.model, "prompt": spec.prompt, "stream": false,
                                          "options": {"num_predict": spec.num_predict, "temperature": 0}});
            let r = match client.post("/api/generate", &body).await {
                Ok(r) => r,
                Err(e) => return finish(ctx, lines, Vec::new(), Some(e)),
            };
            let f = |k: &str| r.get(k).and_then(serde_json::Value::as_f64);
            let (Some(eval_count), Some(eval_ns)) = (f("eval_count"), f("eval_duration")) else {
                let e = CallError { message: "the answer has no eval_count/eval_duration".into(), unreachable: false, timed_out: false };
                return finish(ctx, lines, Vec::new(), Some(e));
            };
            let t = if eval_ns > 0.0 { eval_count / eval_ns * 1e9 } else { 0.0 };
            tps.push(t);
            if let (Some(c), Some(ns)) = (f("prompt_eval_count"), f("prompt_eval_duration"))
                && ns > 0.0 {
                    ptps.push(c / ns * 1e9);
                }
            load.push(f("load_duration").unwrap_or(0.0) / 1e6);
            total.push(f("total_duration").unwrap_or(0.0) / 1e6);
            let first = match first_token(&client, spec).await {
                Ok(ms) => ms,
                Err(e) => return finish(ctx, lines, Vec::new(), Some(e)),
            };
            ttft.push(first);
            lines.push(format!("round {round}: {t:.1} tokens/s, first token after {first:.0} ms"));
        }
        let mut metrics = Vec::new();
        for (name, v) in [("tokens_per_s", tps), ("prompt_tokens_per_s", ptps), ("load_ms", load), ("ttft_ms", ttft), ("total_ms", total)] {
            if let Some(m) = median(v) {
                metrics.push(Metric::new(name, m));
            }
        }
        let get = |n: &str| metrics.iter().find(|m| m.name == n).map_or(0.0, |m| m.value);
        lines.push(format!(
            "{}: median of {} rounds: {:.1} tokens/s, prompt {:.1} tokens/s, first token {:.0} ms",
            spec.model,
            spec.rounds,
            get("tokens_per_s"),
            get("prompt_tokens_per_s"),
            get("ttft_ms")
        ));
        finish(ctx, lines, metrics, None)
    })
    .await
}

/// Time from sending a streaming request to the first chunk carrying text.
async fn first_token(client: &Client, spec: &BenchSpec) -> Result<f64, CallError> {
    let body = serde_json::json!({"model": spec.model, "prompt": spec.prompt, "stream": true,
                                  "options": {"num_predict": spec.num_predict, "temperature": 0}});
    let start = Instant::now();
    let resp = client.post_stream("/api/generate", &body).await?;
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut first = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| CallError::from_reqwest(&e))?;
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
                return Err(CallError {
                    message: err.to_string(),
                    unreachable: false,
                    timed_out: false,
                });
            }
            if first.is_none()
                && v.get("response")
                    .and_then(|r| r.as_str())
                    .is_some_and(|r| !r.is_empty())
            {
                first = Some(start.elapsed().as_secs_f64() * 1e3);
            }
            if v.get("done").and_then(serde_json::Value::as_bool) == Some(true) {
                return first.ok_or(CallError {
                    message: "the stream ended without a token".into(),
                    unreachable: false,
                    timed_out: false,
                });
            }
        }
        if buf.len() > 1024 * 1024 {
            return Err(CallError {
                message: "a streamed line is longer than 1 MiB".into(),
                unreachable: false,
                timed_out: false,
            });
        }
    }
    first.ok_or(CallError {
        message: "the stream ended without a token".into(),
        unreachable: false,
        timed_out: false,
    })
}
