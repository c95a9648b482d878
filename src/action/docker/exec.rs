//! `docker.exec`: run a command inside a running container, capture its output and exit code,
//! and on timeout stop the exec'd process itself (not just stop waiting): the command is started
//! through `sh -c 'echo $$; exec "$@"'`, so its pid in the container is known, and a second exec
//! sends it SIGTERM, then SIGKILL after the grace. The container therefore needs `/bin/sh`.

use super::{connect, describe, resolve};
use crate::action::{AttemptCtx, AttemptResult, AttemptStatus, OutputTail};
use crate::model::ExecSpec;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use std::time::Duration;

const MAX_LINE: usize = 4096;

pub async fn run(spec: &ExecSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let failed = |e: String| {
        tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "{e}");
        AttemptResult {
            status: AttemptStatus::Failed,
            exit_code: None,
            output_tail: format!("{e}\n"),
            error: Some(e),
            metrics: Vec::new(),
        }
    };
    let (docker, host) = match connect(spec.host.as_deref()) {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let id = match resolve(&docker, &spec.target, &host).await {
        Ok(id) => id,
        Err(e) => return failed(e),
    };
    match docker.inspect_container(&id, None).await {
        Ok(i) if i.state.as_ref().and_then(|s| s.running) == Some(true) => {}
        Ok(_) => return failed(format!("{} is not running", spec.target.describe())),
        Err(e) => return failed(describe(&e, &spec.target, &host)),
    }
    let mut cmd = vec![
        "/bin/sh".to_string(),
        "-c".to_string(),
        "echo \"clawcron-exec-pid $$\"; exec \"$@\"".to_string(),
        "sh".to_string(),
    ];
    cmd.extend(spec.command.iter().cloned());
    let opts = CreateExecOptions {
        cmd: Some(cmd),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        ..Default::default()
    };
    let exec = match docker.create_exec(&id, opts).await {
        Ok(e) => e.id,
        Err(e) => return failed(describe(&e, &spec.target, &host)),
    };
    let mut output = match docker.start_exec(&exec, None).await {
        Ok(StartExecResults::Attached { output, .. }) => output,
        Ok(StartExecResults::Detached) => return failed("the exec started detached".into()),
        Err(e) => return failed(describe(&e, &spec.target, &host)),
    };
    let mut tail = OutputTail::default();
    let mut pid: Option<String> = None;
    let mut partial: Vec<u8> = Vec::new();
    let deadline = ctx.deadline;
    let timeout = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(timeout);
    let emit = |line: &[u8], tail: &mut OutputTail, pid: &mut Option<String>| {
        let text = String::from_utf8_lossy(line)
            .trim_end_matches('\r')
            .to_string();
        if pid.is_none()
            && let Some(p) = text.strip_prefix("clawcron-exec-pid ")
        {
            *pid = Some(p.trim().to_string());
            return;
        }
        tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "{text}");
        tail.push(text);
    };
    let stopped: Option<(AttemptStatus, &str)> = loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(log)) => {
                    for &b in log.into_bytes().iter() {
                        if b == b'\n' {
                            emit(&partial, &mut tail, &mut pid);
                            partial.clear();
                        } else if partial.len() < MAX_LINE {
                            partial.push(b);
                        }
                    }
                }
                Some(Err(e)) => {
                    tail.push(format!("output stream error: {e}"));
                    break None;
                }
                None => break None,
            },
            () = &mut timeout => break Some((AttemptStatus::TimedOut, "timed out; the exec'd process was terminated")),
            () = ctx.cancel.cancelled() => break Some((AttemptStatus::Interrupted, "interrupted by daemon shutdown; the exec'd process was terminated")),
        }
    };
    if !partial.is_empty() {
        emit(&partial, &mut tail, &mut pid);
    }
    if let Some((status, why)) = stopped {
        if let Some(p) = &pid {
            kill_in_container(&docker, &id, p, ctx.kill_grace).await;
        }
        return AttemptResult {
            status,
            exit_code: None,
            error: Some(why.to_string()),
            output_tail: tail.text(),
            metrics: Vec::new(),
        };
    }
    let code = match docker.inspect_exec(&exec).await {
        Ok(i) => i.exit_code,
        Err(e) => return failed(describe(&e, &spec.target, &host)),
    };
    let (status, error) = match code {
        Some(0) => (AttemptStatus::Succeeded, None),
        Some(c) => (
            AttemptStatus::Failed,
            Some(format!("exited with status {c}")),
        ),
        None => (AttemptStatus::Failed, Some("no exit status".into())),
    };
    AttemptResult {
        status,
        exit_code: code.and_then(|c| i32::try_from(c).ok()),
        error,
        output_tail: tail.text(),
        metrics: Vec::new(),
    }
}

/// SIGTERM to the exec'd process inside the container, SIGKILL after the grace if it lives on.
async fn kill_in_container(docker: &bollard::Docker, id: &str, pid: &str, grace: Duration) {
    if !pid.chars().all(|c| c.is_ascii_digit()) {
        return;
    }
    let run = |script: String| async move {
        let opts = CreateExecOptions {
            cmd: Some(vec!["/bin/sh".to_string(), "-c".to_string(), script]),
            attach_stdout: Some(true),
            ..Default::default()
        };
        if let Ok(e) = docker.create_exec(id, opts).await
            && let Ok(StartExecResults::Attached { mut output, .. }) =
                docker.start_exec(&e.id, None).await
        {
            while output.next().await.is_some() {}
        }
    };
    run(format!("kill -TERM {pid} 2>/dev/null")).await;
    let until = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let alive = {
            let opts = CreateExecOptions {
                cmd: Some(vec![
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    format!("kill -0 {pid} 2>/dev/null && echo alive"),
                ]),
                attach_stdout: Some(true),
                ..Default::default()
            };
            match docker.create_exec(id, opts).await {
                Ok(e) => match docker.start_exec(&e.id, None).await {
                    Ok(StartExecResults::Attached { mut output, .. }) => {
                        let mut said = false;
                        while let Some(Ok(o)) = output.next().await {
                            said |= o.to_string().contains("alive");
                        }
                        said
                    }
                    _ => false,
                },
                Err(_) => false,
            }
        };
        if !alive {
            return;
        }
    }
    run(format!("kill -KILL {pid} 2>/dev/null")).await;
}
