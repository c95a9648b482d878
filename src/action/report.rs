//! `report`: renders a report of the ledger (see `crate::report`) to Markdown and HTML files in
//! the reports folder, and hands a notice for each of the job's `send_to` channels to the run's
//! after-run stage (the email carries the HTML
//! as its body, the Markdown as its text part and as an attachment; a webhook gets the summary and
//! the file paths).

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::{Notice, ReportSpec};
use crate::report::advice::{DockerFacts, LoadedModel, Observed};

/// How long the evidence (Docker, Ollama, each declared check) may take.
const EVIDENCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

pub async fn run(spec: &ReportSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let Some(store) = ctx.store.clone() else {
        return AttemptResult::failed("a report needs the ledger");
    };
    let now = chrono::Utc::now().timestamp_millis();
    // The period of the run's slot, not of now: a backfilled report covers its own week.
    let period = spec
        .period
        .resolve(ctx.slot.map_or(now, |s| s * 1000), spec.timezone);
    let observed = tokio::select! {
        o = observe(spec, crate::util::boot_id(), EVIDENCE_TIMEOUT, ctx) => o,
        () = ctx.cancel.cancelled() => return AttemptResult {
            status: AttemptStatus::Interrupted,
            ..AttemptResult::failed("interrupted")
        },
    };
    // Rendering reads SQLite and formats text: off the runtime's threads, bounded (fuel and
    // output size), and told to stop when the attempt's time is up (a blocking task cannot be
    // cancelled from outside, so it checks the flag; its files are renamed only while live).
    let spec2 = spec.clone();
    let job = ctx.job.to_string();
    let bounds = crate::template::Bounds::report();
    let flag = bounds.clone();
    let task = tokio::task::spawn_blocking(move || {
        let mut r = crate::report::render(&spec2, &store, &period, now, &observed, &bounds)
            .map_err(|e| e.to_string())?;
        // A report leaves the process as files and notices: scrubbed as the log is.
        let scrub = |t: &str| crate::redact::scrub(t).into_owned();
        (r.markdown, r.html, r.summary) = (scrub(&r.markdown), scrub(&r.html), scrub(&r.summary));
        let paths = crate::report::write(&spec2, &job, &r, &|| !bounds.stopped()).map_err(|e| {
            format!(
                "cannot write the report into {}: {e}",
                spec2.out_dir.display()
            )
        })?;
        let notices = notices(&spec2, &job, &r, &paths, now);
        Ok::<_, String>((r, paths, notices))
    });
    let deadline = async {
        match ctx.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let rendered = tokio::select! {
        r = task => r,
        () = deadline => {
            flag.stop();
            return AttemptResult {
                status: AttemptStatus::TimedOut,
                ..AttemptResult::failed(
                    "timed out while rendering the report: the render was stopped and no report was written",
                )
            };
        }
        () = ctx.cancel.cancelled() => {
            flag.stop();
            return AttemptResult {
                status: AttemptStatus::Interrupted,
                ..AttemptResult::failed("interrupted")
            };
        }
    };
    match rendered {
        Ok(Ok((r, (md, html), notices))) => {
            let mut out = format!(
                "{}\nwrote {}\nwrote {}\n",
                r.summary,
                md.display(),
                html.display()
            );
            if !notices.is_empty() {
                out.push_str(&format!("queued for {}\n", spec.send_to.join(", ")));
                // Written with the run's outcome, in its after-run stage.
                ctx.queue(notices);
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

/// The report's notice for each of its channels.
fn notices(
    spec: &ReportSpec,
    job: &str,
    r: &crate::report::Rendered,
    (md, html): &(std::path::PathBuf, std::path::PathBuf),
    now: i64,
) -> Vec<Notice> {
    let file = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let payload = serde_json::json!({
        "v": 2, "lang": spec.lang.code(),
        "event": "report", "title": format!("clawcron: {} {}", r.title, r.period.label),
        "text": format!("{}\n{}", r.summary, html.display()), "job": job,
        "report": {
            "title": r.title, "period": r.period.label, "summary": r.summary,
            "markdown_path": md.display().to_string(), "html_path": html.display().to_string(),
            // Where the dashboard serves it.
            "url_path": format!("reports/{job}/{}", file(html)),
        },
        "at_ms": now,
    });
    let key = format!("report:{job}:{}:{now}", r.period.label);
    spec.send_to
        .iter()
        .map(|channel| Notice {
            key: format!("{key}:{channel}"),
            channel: channel.clone(),
            payload: payload.clone(),
            at_ms: now,
            quiet: None,
        })
        .collect()
}

/// Asks Docker, Ollama and the declared checks, each bounded by `timeout`.
pub async fn observe(
    spec: &ReportSpec,
    boot_id: String,
    timeout: std::time::Duration,
    ctx: &AttemptCtx<'_>,
) -> Observed {
    let ev = &spec.evidence;
    let docker = async {
        let (docker, host) = super::docker::connect(ev.docker_host.as_deref())?;
        let info = docker
            .info()
            .await
            .map_err(|e| format!("Docker at {host}: {e}"))?;
        let mut facts = DockerFacts {
            engine_memory: info.mem_total.unwrap_or(0) as f64,
            container_limit: None,
            oom_killed: None,
            container_error: None,
        };
        if let Some(name) = &ev.container {
            match docker
                .inspect_container(
                    name,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
            {
                Ok(c) => {
                    facts.container_limit = c.host_config.and_then(|h| h.memory).map(|m| m as f64);
                    facts.oom_killed = c.state.and_then(|s| s.oom_killed);
                }
                Err(e) => {
                    facts.container_error = Some(super::docker::describe(
                        &e,
                        &crate::model::Target::Name(name.clone()),
                        &host,
                    ))
                }
            }
        }
        Ok::<_, String>(facts)
    };
    let ollama = async {
        let url = ev
            .ollama_url
            .as_deref()
            .ok_or_else(|| "no ollama_url".to_string())?;
        let client = super::ollama::Client::new(url, Some(tokio::time::Instant::now() + timeout))
            .map_err(|e| e.message)?;
        let ps = client
            .get("/api/ps")
            .await
            .map_err(|e| format!("Ollama at {url}: {}", e.message))?;
        Ok::<_, String>(
            ps.get("models")
                .and_then(|m| m.as_array())
                .map(|a| {
                    a.iter()
                        .map(|m| LoadedModel {
                            name: m
                                .get("name")
                                .and_then(|n| n.as_str())
                                .unwrap_or("?")
                                .to_string(),
                            size: m
                                .get("size")
                                .and_then(serde_json::Value::as_f64)
                                .unwrap_or(0.0),
                            size_vram: m
                                .get("size_vram")
                                .and_then(serde_json::Value::as_f64)
                                .unwrap_or(0.0),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        )
    };
    let (docker, ollama) = tokio::join!(
        tokio::time::timeout(timeout, docker),
        tokio::time::timeout(timeout, ollama)
    );
    let late = || "no answer in time".to_string();
    let docker = docker.unwrap_or_else(|_| Err(late()));
    let ollama = ollama.unwrap_or_else(|_| Err(late()));
    let mut checks = Vec::new();
    for check in &spec.checks {
        let mut c = ctx.part(Some(tokio::time::Instant::now() + timeout));
        c.store = None;
        c.output = None;
        let r = Box::pin(check.action.run(&c)).await;
        let ok = r.status == AttemptStatus::Succeeded;
        let seen = r
            .output_tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::to_string)
            .or(r.error)
            .unwrap_or_default();
        checks.push((
            check.name.clone(),
            ok,
            crate::redact::scrub(seen.trim()).into_owned(),
        ));
    }
    Observed {
        docker,
        ollama,
        checks,
        boot_id,
    }
}
