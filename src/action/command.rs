//! The `command` job kind: an argv list (no shell) or a shell string, with env and working
//! directory, run in its own process group so that a timeout or shutdown can end the whole
//! tree: SIGTERM to the group, SIGKILL after a grace.

use super::output::{OutputTail, pump};
use super::{AttemptCtx, AttemptResult, AttemptStatus};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Program and arguments, executed directly.
    Argv(Vec<String>),
    /// A string for `/bin/sh -c`.
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: Program,
    pub env: Vec<(String, String)>,
    pub workdir: Option<PathBuf>,
}

impl CommandSpec {
    pub fn kind(&self) -> &'static str {
        match self.program {
            Program::Argv(_) => "command",
            Program::Shell(_) => "shell",
        }
    }

    pub fn summary(&self) -> String {
        match &self.program {
            Program::Argv(a) => a.join(" "),
            Program::Shell(s) => format!("sh -c {s:?}"),
        }
    }
}

/// How long output readers may lag behind the process's exit (a background grandchild can
/// hold the pipe open forever; its output is then cut off, not waited for).
const READER_LINGER: Duration = Duration::from_secs(2);

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
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &spec.workdir {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return AttemptResult::failed(format!("cannot start `{name}`: {e}")),
    };
    let Some(pid) = child.id() else {
        return AttemptResult::failed(format!("`{name}` exited before it could be tracked"));
    };
    (ctx.on_spawn)(pid);
    let pgid = pid as i32;
    let tail = Arc::new(Mutex::new(OutputTail::default()));
    let job: Arc<str> = Arc::from(ctx.job);
    let mut readers = Vec::with_capacity(2);
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(pump(
            out,
            "stdout",
            job.clone(),
            ctx.run_id,
            tail.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(pump(
            err,
            "stderr",
            job,
            ctx.run_id,
            tail.clone(),
        )));
    }

    let deadline = ctx.deadline;
    let timed_out = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let (status, error, exit_code) = tokio::select! {
        waited = child.wait() => match waited {
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
    let linger = Instant::now() + READER_LINGER;
    for mut r in readers {
        if tokio::time::timeout_at(linger, &mut r).await.is_err() {
            r.abort();
        }
    }
    let output_tail = tail.lock().map(|t| t.text()).unwrap_or_default();
    AttemptResult {
        status,
        exit_code,
        error,
        output_tail,
    }
}

fn group_alive(pgid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks for existence; a negative pid names the group.
    unsafe { libc::kill(-pgid, 0) == 0 }
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
    let _ = child.wait().await;
}
