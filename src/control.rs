//! The daemon's control socket: `clawcron trigger` asks the running daemon to run a job, so that
//! one process owns runs, locks and notices. A Unix socket in the state directory, mode 0600:
//! only the state directory's owner can use it, and it works with the HTTP API turned off.
//!
//! The protocol is JSON lines. The client sends one request, `{"trigger": "<job>", "force":
//! false}`; the daemon answers `{"started": <run id>}`, then `{"line": "..."}` for each output
//! line as it comes, then `{"outcome": {...}}`, or `{"error": "..."}` at any point. A client
//! that shuts its sending half (Ctrl-C) cancels the run; the outcome still follows.
//!
//! Output goes to a slow client through a bounded queue (`Live`): at most 1,000 lines or 1 MiB.
//! Past that, lines are dropped and counted, and `{"dropped": n}` goes before the next line
//! sent. The run, and its record, never wait for a client: the stored output tail is the
//! runner's, whatever the client reads.
//!
//! A backfill (`clawcron backfill`) adds `"backfill": {"from": .., "to": .., "dry_run": ..}`
//! (Unix seconds) to the request; the daemon runs the window's slots one after another and
//! answers `{"backfilled": {...}}` (see `backfill::Report`) when the last has ended.

use crate::model::{JobSpec, RunOutcome};
use crate::runner::{Manual, Runner};
use crate::scheduler::Control;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The socket's file name in the state directory.
pub const SOCKET: &str = "clawcron.sock";

/// A request's longest line: a job id and a flag.
const MAX_REQUEST: u64 = 64 * 1024;

/// How long a client may take to send its request.
const REQUEST_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A client's queue of output lines, at most this many...
const QUEUE_LINES: usize = 1000;
/// ...and at most this many bytes.
const QUEUE_BYTES: usize = 1 << 20;
/// A line longer than this is cut (a job that prints no newline).
const LINE_BYTES: usize = 64 * 1024;
/// Clients answered at once; past that a client is told the daemon is busy (each holds a
/// descriptor, which runs need too).
const MAX_CLIENTS: usize = 64;
/// After the run ended, how long a client that does not read is waited for.
const FLUSH_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub trigger: String,
    #[serde(default)]
    pub force: bool,
    /// Backfill this window of the job instead of running it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<crate::backfill::Window>,
    /// Unix ms after which the request is not to be started: its client has stopped waiting
    /// (a daemon that was stopped, SIGSTOP, and resumed later does not run a stale request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<i64>,
    /// The command line changed the ledger's silences or pauses: read them again now (the
    /// daemon polls nothing for them). Answered `"noted"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<Changed>,
}

/// What the command line changed in the ledger.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Changed {
    Silences,
    Pauses,
}

/// Tells a daemon running on `state_dir`, if one answers within a second, that the command line
/// changed `what`; without a daemon there is nobody to tell.
pub fn tell_changed(state_dir: &Path, what: Changed) {
    use std::io::{BufRead, Write};
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(socket_path(state_dir)) else {
        return;
    };
    let _ = s.set_write_timeout(Some(std::time::Duration::from_secs(1)));
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(1)));
    let line = serde_json::json!({ "changed": what }).to_string();
    if writeln!(s, "{line}").is_ok() {
        let mut answer = String::new();
        let _ = std::io::BufReader::new(&s).read_line(&mut answer);
    }
}

/// How long a client waits for the daemon to take its request (its deadline).
pub const TAKE_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// How a run ended, as the socket reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ended {
    pub run_id: i64,
    pub status: String,
    pub reason: Option<String>,
    pub error: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
}

impl Ended {
    pub fn of(run_id: i64, o: &RunOutcome) -> Self {
        Ended {
            run_id,
            status: o.status.as_str().to_string(),
            reason: o.reason.clone(),
            error: o.error.clone(),
            attempts: o.attempts,
            duration_ms: o.duration().as_millis() as u64,
        }
    }
}

/// One line of the daemon's answer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Started(i64),
    Line(String),
    Outcome(Ended),
    Backfilled(crate::backfill::Report),
    Error(String),
    /// This many output lines were dropped because the client read too slowly.
    Dropped(u64),
    /// A `changed` request was taken.
    Noted,
}

/// What is waiting to go to one client: answers that are never dropped, and output lines that
/// are, past `QUEUE_LINES` or `QUEUE_BYTES`.
#[derive(Default)]
struct Queue {
    items: std::collections::VecDeque<Answer>,
    line_bytes: usize,
    lines: usize,
    dropped: u64,
    closed: bool,
}

/// The bounded queue between a run and its client (see the module's docs).
#[derive(Default)]
struct Live {
    queue: std::sync::Mutex<Queue>,
    ready: tokio::sync::Notify,
}

impl Live {
    fn with<R>(&self, f: impl FnOnce(&mut Queue) -> R) -> R {
        // A poisoned lock only means a panic elsewhere while pushing: the queue is still whole.
        let mut q = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut q)
    }

    fn line(&self, mut text: String) {
        if text.len() > LINE_BYTES {
            let mut cut = LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [cut]");
        }
        self.with(|q| {
            if q.lines >= QUEUE_LINES || q.line_bytes + text.len() > QUEUE_BYTES {
                q.dropped += 1;
            } else {
                q.lines += 1;
                q.line_bytes += text.len();
                q.items.push_back(Answer::Line(text));
            }
        });
        self.ready.notify_one();
    }

    fn answer(&self, a: Answer) {
        self.with(|q| q.items.push_back(a));
        self.ready.notify_one();
    }

    fn close(&self) {
        self.with(|q| q.closed = true);
        self.ready.notify_one();
    }

    /// The next answer to send (`{"dropped": n}` first when lines were dropped); `None` once
    /// closed and empty.
    async fn next(&self) -> Option<Answer> {
        loop {
            let next = self.with(|q| {
                if q.dropped > 0 && !q.items.is_empty() {
                    return Some(Some(Answer::Dropped(std::mem::take(&mut q.dropped))));
                }
                match q.items.pop_front() {
                    Some(a) => {
                        if let Answer::Line(t) = &a {
                            q.lines -= 1;
                            q.line_bytes -= t.len();
                        }
                        Some(Some(a))
                    }
                    None if q.closed => Some(None),
                    None => None,
                }
            });
            match next {
                Some(a) => return a,
                None => self.ready.notified().await,
            }
        }
    }
}

/// Binds the socket (0600), replacing a stale one: the caller holds the state directory's lock,
/// so no other daemon uses it.
pub fn bind(state_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(state_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers requests until `stop`; each connection is a task on the runner's tracker.
pub async fn serve(
    listener: UnixListener,
    control: mpsc::Sender<Control>,
    runner: Runner,
    stop: CancellationToken,
) {
    let clients = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!("control socket: cannot accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = clients.clone().try_acquire_owned() else {
            let busy = format!(
                "{}\n",
                serde_json::to_string(&Answer::Error(format!(
                    "the daemon is answering {MAX_CLIENTS} clients already: try again"
                )))
                .unwrap_or_default()
            );
            // Best effort, never waited for: the socket's buffer takes one short line.
            let _ = stream.try_write(busy.as_bytes());
            continue;
        };
        let (control, runner2) = (control.clone(), runner.clone());
        runner.track(async move {
            let _permit = permit;
            if let Err(e) = answer(stream, control, runner2).await {
                warn!("control socket: {e}");
            }
        });
    }
}

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, a: &Answer) -> std::io::Result<()> {
    let mut line = serde_json::to_string(a).unwrap_or_default();
    line.push('\n');
    w.write_all(line.as_bytes()).await
}

async fn answer(
    stream: UnixStream,
    control: mpsc::Sender<Control>,
    runner: Runner,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST)).lines();
    // A client that connects and says nothing is not waited for (nor is daemon shutdown).
    let first = match tokio::time::timeout(REQUEST_WITHIN, lines.next_line()).await {
        Ok(line) => line?,
        Err(_) => {
            return send(&mut write, &Answer::Error("no request within 5s".into())).await;
        }
    };
    let Some(first) = first else {
        return Ok(());
    };
    let request: Request = match serde_json::from_str(&first) {
        Ok(r) => r,
        Err(e) => {
            return send(&mut write, &Answer::Error(format!("bad request: {e}"))).await;
        }
    };
    if let Some(what) = request.changed {
        match what {
            Changed::Silences => runner.quiet().silences_changed(),
            Changed::Pauses => runner.quiet().pauses_changed(),
        }
        return send(&mut write, &Answer::Noted).await;
    }
    let spec = match find(&control, &request.trigger).await {
        Ok(s) => s,
        Err(e) => return send(&mut write, &Answer::Error(e)).await,
    };
    let now = chrono::Utc::now().timestamp_millis();
    if let Some(deadline) = request.deadline_ms.filter(|&d| now > d) {
        warn!(
            job = &*spec.id,
            "a request taken {} ms past its deadline (the daemon was stopped or busy): not run",
            now - deadline
        );
        let e = format!(
            "the request reached the daemon {} ms past its deadline: not run",
            now - deadline
        );
        return send(&mut write, &Answer::Error(e)).await;
    }
    if let Some(window) = request.backfill {
        info!(job = &*spec.id, "backfill asked over the control socket");
        let a = match crate::backfill::run(&runner, runner.store(), &spec, window).await {
            Ok(report) => Answer::Backfilled(report),
            Err(e) => Answer::Error(e.to_string()),
        };
        return send(&mut write, &a).await;
    }
    if !spec.enabled && !request.force {
        let e = format!(
            "job `{}` is disabled (enabled: false); `clawcron trigger --force` runs it anyway",
            spec.id
        );
        return send(&mut write, &Answer::Error(e)).await;
    }
    info!(
        job = &*spec.id,
        force = request.force,
        "manual run asked over the control socket"
    );
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let cancel = CancellationToken::new();
    let manual = Manual {
        force: request.force,
        watch: Some(lines_tx),
        cancel: Some(cancel.clone()),
        started: Some(started_tx),
    };
    let run = runner.run_now(&spec, manual);
    let live = Live::default();
    let reader = lines.into_inner();
    let driver = drive(run, started_rx, lines_rx, reader, &live, &cancel, &spec.id);
    // The writer alone waits for the client; the driver (and so the run) never does.
    let writer = async {
        while let Some(a) = live.next().await {
            if send(&mut write, &a).await.is_err() {
                cancel.cancel();
                return;
            }
        }
    };
    tokio::pin!(driver, writer);
    let mut flush_by = None;
    loop {
        let flush_deadline = async {
            match flush_by {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut driver, if flush_by.is_none() => {
                flush_by = Some(tokio::time::Instant::now() + FLUSH_WITHIN);
            }
            () = &mut writer => {
                if flush_by.is_none() {
                    // The client is gone: the run is cancelled; its end is still recorded.
                    driver.await;
                }
                return Ok(());
            }
            () = flush_deadline => {
                warn!(job = &*spec.id, "the trigger's client did not read its answer within {}s: closed", FLUSH_WITHIN.as_secs());
                return Ok(());
            }
        }
    }
}

/// Polls the run to its end, queueing its answers and output for the client without ever
/// waiting for it; cancels the run when the client stops (Ctrl-C shuts its sending half).
async fn drive<E: std::fmt::Display>(
    run: impl std::future::Future<Output = Result<(i64, RunOutcome), E>>,
    started_rx: tokio::sync::oneshot::Receiver<i64>,
    mut lines_rx: mpsc::UnboundedReceiver<String>,
    mut reader: impl tokio::io::AsyncRead + Unpin,
    live: &Live,
    cancel: &CancellationToken,
    job: &str,
) {
    tokio::pin!(run);
    let mut started_rx = Some(started_rx);
    let mut reading = true;
    let mut sink = [0u8; 64];
    loop {
        tokio::select! {
            biased;
            r = &mut run => {
                // Output sent before the end goes first.
                while let Ok(line) = lines_rx.try_recv() {
                    live.line(line);
                }
                live.answer(match r {
                    Ok((run_id, outcome)) => Answer::Outcome(Ended::of(run_id, &outcome)),
                    Err(e) => Answer::Error(format!("the run could not be recorded: {e}")),
                });
                live.close();
                return;
            }
            Some(id) = async {
                match started_rx.as_mut() {
                    Some(rx) => rx.await.ok(),
                    None => std::future::pending().await,
                }
            }, if started_rx.is_some() => {
                started_rx = None;
                live.answer(Answer::Started(id));
            }
            Some(line) = lines_rx.recv() => {
                // The run is polled in this same task and may have sent many lines since:
                // all of them go to the bounded queue now, so the channel never grows.
                live.line(line);
                while let Ok(line) = lines_rx.try_recv() {
                    live.line(line);
                }
            }
            n = tokio::io::AsyncReadExt::read(&mut reader, &mut sink), if reading => {
                // The client shut its sending half (Ctrl-C) or went away: cancel the run. Its
                // receiving half may still be open for the outcome.
                if matches!(n, Ok(0) | Err(_)) {
                    info!(job, "the trigger's client stopped: cancelling the run");
                    cancel.cancel();
                    reading = false;
                }
            }
        }
    }
}

/// The job's spec as the running scheduler has it (a disabled job included).
async fn find(control: &mpsc::Sender<Control>, id: &str) -> Result<Arc<JobSpec>, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    control
        .send(Control::Jobs(tx))
        .await
        .map_err(|_| "the scheduler is not running".to_string())?;
    let views = rx
        .await
        .map_err(|_| "the scheduler did not answer".to_string())?;
    match views.iter().find(|v| v.id == id) {
        Some(v) => Ok(v.spec.clone()),
        None => {
            let help = crate::config::diag::did_you_mean(id, views.iter().map(|v| v.id.as_str()));
            Err(format!(
                "the daemon has no job `{id}`{}",
                help.map(|h| format!("; {h}")).unwrap_or_default()
            ))
        }
    }
}
