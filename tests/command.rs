//! The `command` job kind with real processes: exit codes, output capture, env and workdir,
//! and process-group termination on timeout (no orphan survives, SIGTERM-ignorers get SIGKILL).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clawcron::action::{AttemptCtx, AttemptResult, AttemptStatus};
use clawcron::model::ActionSpec;
use clawcron::model::{CommandSpec, Program};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

async fn run(
    program: Program,
    env: Vec<(&str, &str)>,
    workdir: Option<PathBuf>,
    timeout: Option<Duration>,
) -> AttemptResult {
    let spec = ActionSpec::Command(CommandSpec {
        keep_leftovers: false,
        program,
        env: env
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        workdir,
    });
    let ctx = AttemptCtx::new(
        "test",
        1,
        CancellationToken::new(),
        Duration::from_millis(500),
    )
    .deadline(timeout.map(|t| tokio::time::Instant::now() + t))
    .env(vec![("CLAWCRON_JOB".into(), "test".into())]);
    spec.run(&ctx).await
}

fn sh(s: &str) -> Program {
    Program::Shell(s.to_string())
}

/// Whether `pid` is a live process (a zombie waiting for its reaper counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[tokio::test]
async fn exit_codes_and_output() {
    let r = run(sh("echo out; echo err >&2; exit 3"), vec![], None, None).await;
    assert_eq!(r.status, AttemptStatus::Failed);
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(r.error.as_deref(), Some("exited with status 3"));
    let mut lines: Vec<&str> = r.output_tail.lines().collect();
    lines.sort();
    assert_eq!(lines, ["err", "out"]);

    let r = run(
        Program::Argv(vec![
            "printf".into(),
            "%s|%s".into(),
            "a b".into(),
            "$HOME".into(),
        ]),
        vec![],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, AttemptStatus::Succeeded);
    assert_eq!(
        r.output_tail, "a b|$HOME\n",
        "argv is passed as is, never through a shell"
    );
}

#[tokio::test]
async fn missing_program_is_a_failed_attempt() {
    let r = run(
        Program::Argv(vec!["/nonexistent/clawcron-test".into()]),
        vec![],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, AttemptStatus::Failed);
    assert_eq!(
        r.error.as_deref(),
        Some("cannot start `/nonexistent/clawcron-test`: No such file or directory (os error 2)")
    );
}

#[tokio::test]
async fn env_and_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        sh("echo \"$GREETING $CLAWCRON_JOB $(pwd)\""),
        vec![("GREETING", "hello")],
        Some(dir.path().to_path_buf()),
        None,
    )
    .await;
    let real = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(r.output_tail, format!("hello test {}\n", real.display()));
}

#[tokio::test]
async fn long_lines_are_cut_and_the_tail_is_bounded() {
    let r = run(
        sh("head -c 100000 /dev/zero | tr '\\0' x; echo; seq 1 500"),
        vec![],
        None,
        None,
    )
    .await;
    assert_eq!(r.status, AttemptStatus::Succeeded);
    assert!(r.output_tail.len() <= 8192);
    assert!(r.output_tail.ends_with("499\n500\n"));
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let script = format!("sleep 300 & echo $! > {}; sleep 300", pidfile.display());
    let started = Instant::now();
    let r = run(sh(&script), vec![], None, Some(Duration::from_millis(300))).await;
    assert_eq!(r.status, AttemptStatus::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The group got SIGTERM: the background `sleep` is gone too, not orphaned.
    let deadline = Instant::now() + Duration::from_secs(2);
    while alive(grandchild) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(grandchild),
        "the grandchild {grandchild} survived the timeout"
    );
}

#[tokio::test]
async fn sigterm_ignorers_get_sigkill_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // Both the shell and its child ignore SIGTERM.
    let script = format!(
        "trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' & echo $! > {}; wait; sleep 300",
        pidfile.display()
    );
    let started = Instant::now();
    let r = run(sh(&script), vec![], None, Some(Duration::from_millis(300))).await;
    let took = started.elapsed();
    assert_eq!(r.status, AttemptStatus::TimedOut);
    assert!(
        took >= Duration::from_millis(800),
        "SIGKILL came before the 500 ms grace: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!alive(child), "the SIGTERM-ignoring child {child} survived");
}
