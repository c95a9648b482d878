//! `clawcron trigger`: through the running daemon when there is one (its control socket), so
//! that one process owns runs, locks and notices; else in this process, holding the state
//! directory's lock so that no daemon starts beside it, and delivering its own notices before it
//! exits. It says which of the two it did.

use super::*;
use crate::control::{Answer, Ended, Request};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub(super) fn trigger(
    loaded: &Loaded,
    id: &str,
    force: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?.clone();
    if !job.enabled && !force {
        return Err(Error::Usage(format!(
            "job `{id}` is disabled (enabled: false in {}); `clawcron trigger --force {id}` runs it anyway",
            job.path.display()
        )));
    }
    let rt = runtime()?;
    let socket = crate::control::socket_path(state_dir);
    let ended = match rt.block_on(tokio::net::UnixStream::connect(&socket)) {
        Ok(stream) => {
            eprintln!(
                "trigger: running `{id}` in the daemon on {}",
                state_dir.display()
            );
            spinner(&job);
            let r = rt.block_on(through_daemon(stream, id, force));
            crate::logging::clear_spinner();
            r?
        }
        Err(connect) => {
            // No daemon answers: run here, unless one holds the state directory anyway.
            let _lock = match Store::lock_daemon(state_dir) {
                Ok(lock) => lock,
                Err(crate::store::StoreError::Locked { pid, .. }) => {
                    return Err(Error::Usage(format!(
                        "a clawcron process (pid {pid}: a daemon, or a trigger run without one) holds the state directory {} but its control socket {} does not answer ({connect}); not running beside it",
                        state_dir.display(),
                        socket.display()
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            eprintln!(
                "trigger: no daemon runs on {}; running `{id}` in this process",
                state_dir.display()
            );
            spinner(&job);
            let r = rt.block_on(in_process(loaded, &job, force, state_dir));
            crate::logging::clear_spinner();
            r?
        }
    };
    print_outcome(id, &ended)
}

/// On a terminal: a spinner with the elapsed time under the run's live output.
fn spinner(job: &JobSpec) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner().with_message(format!(
            "{}: {}",
            job.id,
            job.action.summary()
        ));
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        crate::logging::set_spinner(bar);
    }
}

fn print_outcome(id: &str, e: &Ended) -> Result<(), Error> {
    let status = crate::model::RunStatus::parse(&e.status);
    if status == Some(crate::model::RunStatus::Skipped) {
        out!(
            "{id}: run {} skipped: {}",
            e.run_id,
            e.reason.as_deref().unwrap_or("not admitted")
        );
    } else {
        out!(
            "{id}: run {} {} after {} ({} attempt{}){}",
            e.run_id,
            e.status,
            crate::util::duration::format(std::time::Duration::from_millis(e.duration_ms)),
            e.attempts,
            if e.attempts == 1 { "" } else { "s" },
            e.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    if status != Some(crate::model::RunStatus::Succeeded) {
        return Err(Error::RunFailed {
            job: id.to_string(),
            status: e.status.replace('_', " "),
        });
    }
    Ok(())
}

/// An I/O error of the control socket, saying what was being done.
pub(super) fn socket_io(context: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Io {
        context: context.into(),
        source,
    }
}

/// The daemon's answer lines, and the sending half (shut to cancel).
pub(super) type Channel = (
    tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    tokio::net::unix::OwnedWriteHalf,
);

/// Sends `request` to the daemon's control socket, one JSON line.
pub(super) async fn send(
    stream: tokio::net::UnixStream,
    request: &Request,
) -> Result<Channel, Error> {
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request).unwrap_or_default();
    line.push('\n');
    write
        .write_all(line.as_bytes())
        .await
        .map_err(socket_io("cannot write to the daemon's control socket"))?;
    Ok((BufReader::new(read).lines(), write))
}

/// Asks the daemon to run `id`, shows its output lines as they come, and returns how it ended.
/// Ctrl-C shuts the sending half: the daemon cancels the run and still sends the outcome.
async fn through_daemon(
    stream: tokio::net::UnixStream,
    id: &str,
    force: bool,
) -> Result<Ended, Error> {
    let (mut lines, mut write) = send(
        stream,
        &Request {
            trigger: id.to_string(),
            force,
            backfill: None,
            deadline_ms: Some(
                chrono::Utc::now().timestamp_millis()
                    + crate::control::TAKE_WITHIN.as_millis() as i64,
            ),
            changed: None,
        },
    )
    .await?;
    let mut run_id = 0;
    let mut interrupted = false;
    // Until the daemon says the run started, the wait is bounded (a stopped daemon takes
    // nothing; the request's deadline keeps it from running when the daemon resumes).
    let taken_by = tokio::time::Instant::now() + crate::control::TAKE_WITHIN;
    loop {
        let not_taken = async {
            if run_id == 0 {
                tokio::time::sleep_until(taken_by).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let line = tokio::select! {
            l = lines.next_line() => l.map_err(socket_io("cannot read the daemon's answer"))?,
            () = not_taken => {
                return Err(Error::Usage(format!(
                    "the daemon did not take the request within {}s (stopped, or stuck?): not run, and it will not run later (the request carried that deadline)",
                    crate::control::TAKE_WITHIN.as_secs()
                )));
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                let _ = write.shutdown().await;
                continue;
            }
        };
        let Some(line) = line else {
            return Err(Error::Usage(
                "the daemon closed the control socket before the run ended".into(),
            ));
        };
        match serde_json::from_str::<Answer>(&line) {
            Ok(Answer::Started(id)) => run_id = id,
            Ok(Answer::Line(text)) => {
                tracing::info!(target: "clawcron::output", job = id, run_id, stream = "output", "{text}")
            }
            Ok(Answer::Dropped(n)) => tracing::warn!(
                job = id,
                run_id,
                "{n} output line(s) not shown: this terminal read them too slowly (`clawcron history` keeps the output's tail)"
            ),
            Ok(Answer::Outcome(e)) => return Ok(e),
            Ok(Answer::Error(e)) => return Err(Error::Usage(e)),
            Ok(Answer::Backfilled(_) | Answer::Noted) => {
                return Err(Error::Usage(
                    "the daemon answered a backfill to a trigger".into(),
                ));
            }
            Err(e) => {
                return Err(Error::Usage(format!(
                    "the daemon answered something this clawcron does not read ({e}): {line}"
                )));
            }
        }
    }
}

/// Runs the job here, through the same pipeline as the daemon's, then delivers the notices it
/// queued (each send bounded by the notify timeout).
async fn in_process(
    loaded: &Loaded,
    job: &JobSpec,
    force: bool,
    state_dir: &std::path::Path,
) -> Result<Ended, Error> {
    let (store, runner) = local_runner(loaded, state_dir)?;
    let cancel = tokio_util::sync::CancellationToken::new();
    let manual = crate::runner::Manual {
        force,
        cancel: Some(cancel.clone()),
        ..Default::default()
    };
    let run = runner.run_now(job, manual);
    tokio::pin!(run);
    // Ctrl-C while the run goes: stop it (recorded as cancelled by its client) and record it.
    let result = tokio::select! {
        r = &mut run => r,
        _ = tokio::signal::ctrl_c() => {
            cancel.cancel();
            run.await
        }
    };
    let (run_id, outcome) = result?;
    finish_local(loaded, store, &runner).await;
    Ok(Ended::of(run_id, &outcome))
}

/// A runner in this process, as the daemon's would be (no daemon runs: the caller holds the
/// state directory's lock), with the jobs that run after others.
pub(super) fn local_runner(
    loaded: &Loaded,
    state_dir: &std::path::Path,
) -> Result<(Store, crate::runner::Runner), Error> {
    let store = open_store(loaded, state_dir)?;
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock::default());
    // Wired as the daemon's runner is (one builder): warden, subreaper, quiet, environment.
    let runner = crate::daemon::build_runner(&store, clock, &loaded.global, state_dir, None);
    let jobs: Vec<std::sync::Arc<JobSpec>> = loaded
        .jobs
        .iter()
        .map(|j| std::sync::Arc::new(j.clone()))
        .collect();
    runner.set_chained(&jobs);
    Ok((store, runner))
}

/// Once a local run has ended: the outcome and its notices are in the ledger, then sent.
pub(super) async fn finish_local(loaded: &Loaded, store: Store, runner: &crate::runner::Runner) {
    let g = &loaded.global;
    runner.shutdown(std::time::Duration::ZERO).await;
    crate::notify::deliver_due(
        store,
        std::sync::Arc::new(g.notifiers.clone()),
        std::sync::Arc::new(loaded.templates()),
        g.notify_timeout,
        g.notify_retry,
    )
    .await;
}
