//! `clawcron backfill JOB --from T --to T [--dry-run]`: the window's failed, missed and paused
//! slots run again, through the running daemon when there is one (its control socket), else in
//! this process holding the state directory's lock, as `trigger` does.

use super::*;
use crate::backfill::{Report, Window};
use crate::control::{Answer, Request};

pub(super) fn backfill(
    loaded: &Loaded,
    id: &str,
    from: &str,
    to: &str,
    dry_run: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?.clone();
    let tz = job_tz(loaded, &job);
    let from = crate::backfill::parse_instant(from, tz, false)
        .map_err(|e| Error::Usage(format!("--from: {e}")))?;
    let to = crate::backfill::parse_instant(to, tz, true)
        .map_err(|e| Error::Usage(format!("--to: {e}")))?;
    let window = Window { from, to, dry_run };
    let rt = runtime()?;
    let socket = crate::control::socket_path(state_dir);
    let report = match rt.block_on(tokio::net::UnixStream::connect(&socket)) {
        Ok(stream) => {
            eprintln!("backfill: `{id}` in the daemon on {}", state_dir.display());
            rt.block_on(through_daemon(stream, id, window))?
        }
        Err(connect) => {
            let _lock = match Store::lock_daemon(state_dir) {
                Ok(lock) => lock,
                Err(crate::store::StoreError::Locked { pid, .. }) => {
                    return Err(Error::Usage(format!(
                        "a clawcron process (pid {pid}) holds the state directory {} but its control socket {} does not answer ({connect}); not running beside it",
                        state_dir.display(),
                        socket.display()
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            eprintln!(
                "backfill: no daemon runs on {}; running `{id}` in this process",
                state_dir.display()
            );
            rt.block_on(async {
                let (store, runner) = super::trigger::local_runner(loaded, state_dir)?;
                let r = crate::backfill::run(&runner, &store, &job, window).await;
                super::trigger::finish_local(loaded, store, &runner).await;
                r.map_err(|e| Error::Usage(e.to_string()))
            })?
        }
    };
    print_report(id, tz, &report)
}

fn print_report(id: &str, tz: Tz, r: &Report) -> Result<(), Error> {
    let at = |s: i64| {
        crate::util::to_utc(s)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    };
    for run in &r.runs {
        match (&run.run_id, &run.status) {
            (Some(run_id), Some(status)) => out!(
                "{id}: slot {} ({}): run {run_id} {status}{}",
                at(run.slot),
                run.why,
                run.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            _ if r.dry_run => out!("{id}: slot {} would run ({})", at(run.slot), run.why),
            _ => out!(
                "{id}: slot {} ({}): not run: {}",
                at(run.slot),
                run.why,
                run.detail.as_deref().unwrap_or("taken")
            ),
        }
    }
    out!(
        "{id}: {} slot{} in the window: {} {}, {} already succeeded, {} left as they are, {} not judged (no row: pruned, or before the job)",
        r.slots,
        if r.slots == 1 { "" } else { "s" },
        r.runs.len(),
        if r.dry_run { "would run" } else { "backfilled" },
        r.done,
        r.left,
        r.not_judged
    );
    if r.any_failed() {
        return Err(Error::RunFailed {
            job: id.to_string(),
            status: "failed (a backfilled slot)".into(),
        });
    }
    Ok(())
}

async fn through_daemon(
    stream: tokio::net::UnixStream,
    id: &str,
    window: Window,
) -> Result<Report, Error> {
    let (mut lines, _write) = super::trigger::send(
        stream,
        &Request {
            trigger: id.to_string(),
            force: false,
            backfill: Some(window),
            // Not started by a daemon that takes it later than this (stopped meanwhile).
            deadline_ms: Some(
                chrono::Utc::now().timestamp_millis()
                    + crate::control::TAKE_WITHIN.as_millis() as i64,
            ),
            changed: None,
        },
    )
    .await?;
    loop {
        let Some(line) = lines
            .next_line()
            .await
            .map_err(super::trigger::socket_io("cannot read the daemon's answer"))?
        else {
            return Err(Error::Usage(
                "the daemon closed the control socket before the backfill ended".into(),
            ));
        };
        match serde_json::from_str::<Answer>(&line) {
            Ok(Answer::Backfilled(r)) => return Ok(r),
            Ok(Answer::Error(e)) => return Err(Error::Usage(e)),
            Ok(_) => continue,
            Err(e) => {
                return Err(Error::Usage(format!(
                    "the daemon answered something this clawcron does not read ({e}): {line}"
                )));
            }
        }
    }
}
