//! The `command` job kind: an argv list (no shell) or a shell string, with env and working
//! directory, run in its own process group so that a timeout or shutdown can end the whole
//! tree: SIGTERM to the group, SIGKILL after a grace. What the run leaves behind when its main
//! process exits is stopped the same way (see `procs`), unless the job keeps it.

use super::output::{OutputTail, pump};
use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::{CommandSpec, Program};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;
use tokio::time::Instant;

/// How long output readers may lag behind the process's exit (a background grandchild can
/// hold the pipe open forever; its output is then cut off, not waited for).
const READER_LINGER: Duration = Duration::from_secs(2);

const RECORD_PID_AFTER: Duration = Duration::from_secs(1);

pub async fn run(spec: &CommandSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let (mut cmd, name) = match &spec.program {
        Program::Argv(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            (c, argv[0].clone())
        }
        Program::Shell(s) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(s);
            (c, "/bin/sh".to_string())
        }
    };
    cmd.envs(ctx.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &spec.workdir {
        cmd.current_dir(dir);
    }
    // stdout and stderr share one pipe: their lines stay in the order they were written, and a
    // burst of runs holds one descriptor per child instead of two.
    let output = match OutputPipe::new() {
        Ok(p) => p,
        Err(e) => return AttemptResult::failed(format!("cannot create an output pipe: {e}")),
    };
    cmd.stdin(dev_null())
        .stdout(output.stdout)
        .stderr(output.stderr);
    let spawned = super::procs::spawn(&mut cmd);
    // Our copies of the write end must go now, or the reader never sees end-of-file.
    drop(cmd);
    let (mut child, _registered) = match spawned {
        Ok(c) => c,
        Err(e) => return AttemptResult::failed(format!("cannot start `{name}`: {e}")),
    };
    let Some(pid) = child.id() else {
        return AttemptResult::failed(format!("`{name}` exited before it could be tracked"));
    };
    let pgid = pid as i32;
    let tail = Arc::new(Mutex::new(OutputTail::default()));
    let job: Arc<str> = Arc::from(ctx.job);
    let reader = tokio::spawn(pump(
        output.reader,
        "output",
        job,
        ctx.run_id,
        tail.clone(),
        ctx.output.clone(),
        ctx.log_limit,
    ));

    let deadline = ctx.deadline;
    let timed_out = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    // The pid is recorded (for crash reports) once the process has lived a second: a burst of
    // short jobs then costs no extra ledger writes.
    let waited = async {
        tokio::select! {
            w = child.wait() => return w,
            () = tokio::time::sleep(RECORD_PID_AFTER) => (ctx.on_spawn)(pid),
        }
        child.wait().await
    };
    let (status, error, exit_code) = tokio::select! {
        waited = waited => match waited {
            Ok(st) => match st.code() {
                Some(0) => (AttemptStatus::Succeeded, None, Some(0)),
                Some(code) => (AttemptStatus::Failed, Some(format!("exited with status {code}")), Some(code)),
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    let sig = st.signal().unwrap_or(0);
                    (AttemptStatus::Failed, Some(format!("killed by signal {sig}")), None)
                }
            },
            Err(e) => (AttemptStatus::Failed, Some(format!("waiting for the process failed: {e}")), None),
        },
        () = timed_out => {
            terminate_group(pgid, &mut child, ctx.kill_grace).await;
            (AttemptStatus::TimedOut, Some("timed out; process group terminated".to_string()), None)
        }
        () = ctx.cancel.cancelled() => {
            terminate_group(pgid, &mut child, ctx.kill_grace).await;
            (AttemptStatus::Interrupted, Some("interrupted by daemon shutdown; process group terminated".to_string()), None)
        }
    };
    // Whatever the run left behind (`sleep 20 &`, a `setsid` grandchild) is stopped now, or
    // kept and recorded.
    let left = super::procs::sweep(pgid, ctx.run_id, spec.keep_leftovers, ctx.kill_grace).await;
    if let Some(words) = left.describe(spec.keep_leftovers) {
        tracing::info!(job = ctx.job, run_id = ctx.run_id, "{words}");
        ctx.note(words);
    }
    let mut reader = reader;
    if tokio::time::timeout(READER_LINGER, &mut reader)
        .await
        .is_err()
    {
        reader.abort();
    }
    let output_tail = tail.lock().map(|t| t.text()).unwrap_or_default();
    AttemptResult {
        status,
        exit_code,
        error,
        output_tail,
        metrics: Vec::new(),
    }
}

/// One pipe for a child's stdout and stderr: our read end (async) and two write ends for it.
struct OutputPipe {
    reader: tokio::net::unix::pipe::Receiver,
    stdout: Stdio,
    stderr: Stdio,
}

impl OutputPipe {
    fn new() -> std::io::Result<Self> {
        use std::os::fd::{FromRawFd, OwnedFd};
        let mut fds = [0i32; 2];
        // SAFETY: pipe2/pipe fill two descriptors that we then own; close-on-exec keeps them out
        // of other children (macOS has no pipe2, so it sets the flag right after).
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for fd in fds {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        // SAFETY: both descriptors are fresh and owned by nothing else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(read)?;
        let stderr = write.try_clone()?;
        Ok(OutputPipe {
            reader,
            stdout: Stdio::from(write),
            stderr: Stdio::from(stderr),
        })
    }
}

/// Jobs get /dev/null as stdin, duplicated from one descriptor opened once.
fn dev_null() -> Stdio {
    static NULL: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    match NULL
        .get_or_init(|| std::fs::File::open("/dev/null").ok())
        .as_ref()
        .and_then(|f| f.try_clone().ok())
    {
        Some(f) => Stdio::from(f),
        None => Stdio::null(),
    }
}

fn group_alive(pgid: i32) -> bool {
    super::procs::group_alive(pgid)
}

fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: sending a signal to a process group we created (setpgid at spawn) has no memory
    // effects in this process; failure (group gone) is fine.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// SIGTERM to the group, wait up to `grace` for the leader and every member to go, then
/// SIGKILL whatever is left, and reap the leader.
async fn terminate_group(pgid: i32, child: &mut tokio::process::Child, grace: Duration) {
    signal_group(pgid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    let _ = tokio::time::timeout_at(deadline, child.wait()).await;
    while group_alive(pgid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if group_alive(pgid) {
        signal_group(pgid, libc::SIGKILL);
    }
    // Bounded: a process stuck in uninterruptible sleep must not hold up a shutdown forever
    // (tokio reaps it later if it ever exits).
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            pgid,
            "a killed process did not exit within 5 s (uninterruptible sleep?)"
        );
    }
}
