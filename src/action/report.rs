//! `report`: renders a report of the ledger (see `crate::report`) to Markdown and HTML files in
//! the reports folder, and queues it for the job's `send_to` channels (the email carries the HTML
//! as its body, the Markdown as its text part and as an attachment; a webhook gets the summary and
//! the file paths).

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::ReportSpec;
use crate::report::advice::Observed;

/// How long the evidence (Docker, Ollama, each declared check) may take.
const EVIDENCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

pub async fn run(spec: &ReportSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let Some(store) = ctx.store.clone() else {
        return AttemptResult::failed("a report needs the ledger");
    };
    let now = chrono::Utc::now().timestamp_millis();
    let period = spec.period.resolve(now, spec.timezone);
    let observed = tokio::select! {
        o = Observed::collect(spec, crate::util::boot_id(), EVIDENCE_TIMEOUT, ctx) => o,
        () = ctx.cancel.cancelled() => return AttemptResult {
            status: AttemptStatus::Interrupted,
            ..AttemptResult::failed("interrupted")
        },
    };
    // Rendering reads SQLite and formats text: off the runtime's threads.
    let spec2 = spec.clone();
    let job = ctx.job.to_string();
    let rendered = tokio::task::spawn_blocking(move || {
        let r = crate::report::render(&spec2, &store, &period, now, &observed)
            .map_err(|e| e.to_string())?;
        let paths = crate::report::write(&spec2, &job, &r).map_err(|e| {
            format!(
                "cannot write the report into {}: {e}",
                spec2.out_dir.display()
            )
        })?;
        let queued = queue(&spec2, &store, &job, &r, &paths, now);
        Ok::<_, String>((r, paths, queued))
    })
    .await;
    match rendered {
        Ok(Ok((r, (md, html), queued))) => {
            let mut out = format!(
                "{}\nwrote {}\nwrote {}\n",
                r.summary,
                md.display(),
                html.display()
            );
            if queued > 0 {
                out.push_str(&format!("queued for {}\n", spec.send_to.join(", ")));
            }
            AttemptResult {
                status: AttemptStatus::Succeeded,
                exit_code: None,
                error: None,
                output_tail: out,
                metrics: Vec::new(),
            }
        }
        Ok(Err(e)) => AttemptResult::failed(e),
        Err(e) => AttemptResult::failed(format!("the report task failed: {e}")),
    }
}

/// Queues the report for its channels; returns how many notices are new.
fn queue(
    spec: &ReportSpec,
    store: &crate::store::Store,
    job: &str,
    r: &crate::report::Rendered,
    (md, html): &(std::path::PathBuf, std::path::PathBuf),
    now: i64,
) -> usize {
    let payload = serde_json::json!({
        "event": "report", "title": format!("clawcron: {} {}", r.title, r.period.label),
        "text": format!("{}\n{}", r.summary, html.display()), "job": job,
        "report": {
            "title": r.title, "period": r.period.label, "summary": r.summary,
            "markdown_path": md.display().to_string(), "html_path": html.display().to_string(),
        },
        "at_ms": now,
    });
    crate::notify::enqueue_to(
        store,
        &spec.send_to,
        &format!("report:{job}:{}:{now}", r.period.label),
        &payload,
        now,
    )
}
