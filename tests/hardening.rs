//! What a hostile or unlucky user met, against the real binary: a daemon stopped with SIGSTOP
//! and continued, processes a run leaves behind, a web page reaching the local API, secrets on
//! every path out, a ledger from a newer version, and odd inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli_value as cli;
use std::process::Stdio;
use std::time::Duration;

/// SIGSTOP for 7 s: the slots that came due while the daemon was stopped each run late, one at
/// a time, with the reason; none is skipped for an overlap that did not exist.
#[test]
fn a_daemon_stopped_and_continued_runs_each_slot_late_and_claims_no_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(p.join("clawcron.yaml"), "api: { enabled: false }\n").unwrap();
    std::fs::write(
        p.join("jobs/tick.yaml"),
        "every: 1s\nmissed: { policy: all, max_lateness: 1h }\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let (d, _) = common::spawn_daemon(p, &[], Stdio::null());
    let pid = d.id() as i32;
    std::thread::sleep(Duration::from_millis(2500));
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(7));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    std::thread::sleep(Duration::from_secs(3));
    common::stop_daemon(d);
    let rows = cli(p, &["history", "tick", "--limit", "1000", "--json"]);
    let rows = rows.as_array().unwrap();
    common::assert_each_slot_once(rows);
    let mut late = 0;
    for r in rows {
        let reason = r["reason"].as_str().unwrap_or_default();
        assert!(!reason.contains("overlap"), "untrue overlap: {r}");
        assert_eq!(r["status"], "succeeded", "{r}");
        if !reason.is_empty() {
            assert!(
                reason.starts_with("daemon stalled; run ") && reason.ends_with(" s late"),
                "{r}"
            );
            late += 1;
        }
    }
    // Slots 1 to 7 s late; the newest may have been reached within the second.
    assert!((5..=8).contains(&late), "{late} late runs: {rows:?}");
}

/// Processes alive anywhere on the machine whose environment holds `MARK=token`.
fn marked(token: &str) -> Vec<u32> {
    let needle = format!("MARK={token}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rsplit(") ").next().unwrap_or("").starts_with('Z'))
                .unwrap_or(true);
            !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|e| e.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

fn token() -> String {
    format!("{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn kill_marked(token: &str) {
    for pid in marked(token) {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// `setsid` takes a grandchild out of the run's process group and session; it still does not
/// outlive the run's timeout. A background `sleep` left in the group when the shell exits is
/// stopped and recorded; `leftovers: keep` keeps it, recorded too.
#[test]
fn no_process_outlives_its_run_unless_the_job_keeps_it() {
    let env = common::Env::new();
    let mark = token();
    let (_, row, _) = env.trigger_with(
        "escape",
        &format!(
            "schedule: \"0 3 * * *\"\ntimeout: 1s\nrun:\n  shell: \"setsid sleep 60 & sleep 60\"\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    assert_eq!(row["status"], "timed_out", "{row}");
    let left = marked(&mark);
    kill_marked(&mark);
    assert!(left.is_empty(), "survived the timeout: {left:?}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap_or("")
            .contains("left 1 process behind; stopped"),
        "{row}"
    );

    let (_, row, _) = env.trigger_with(
        "background",
        &format!(
            "schedule: \"0 3 * * *\"\nrun:\n  shell: \"sleep 60 & setsid sleep 60 & echo started\"\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    let left = marked(&mark);
    kill_marked(&mark);
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(row["reason"], "left 2 processes behind; stopped", "{row}");
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        row["duration_ms"].as_i64().unwrap() < 10_000,
        "the run waited for its leftovers: {row}"
    );

    let (_, row, _) = env.trigger_with(
        "daemonizes",
        &format!(
            "schedule: \"0 3 * * *\"\nrun:\n  shell: \"sleep 60 & echo started\"\n  leftovers: keep\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    let left = marked(&mark);
    kill_marked(&mark);
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(
        row["reason"], "left 1 process behind; kept (leftovers: keep)",
        "{row}"
    );
    assert_eq!(left.len(), 1, "kept on purpose");
}

/// 1,000 runs under the daemon, each leaving two processes behind (one in its group, one in a
/// session of its own): none is left when they have ended.
#[test]
fn a_thousand_runs_leaving_processes_behind_leave_none() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { enabled: false }\nmax_concurrent_runs: 32\n",
    )
    .unwrap();
    let mark = token();
    for i in 0..1000 {
        std::fs::write(
            p.join(format!("jobs/left-{i:04}.yaml")),
            format!(
                "at_start: true\nrun:\n  shell: \"sleep 120 & setsid sleep 120 & true\"\n  env: {{ MARK: \"{mark}\" }}\n"
            ),
        )
        .unwrap();
    }
    let (d, _) = common::spawn_daemon(p, &[], Stdio::null());
    let done = || {
        cli(p, &["history", "--limit", "5000", "--json"])
            .as_array()
            .map(|rows| rows.iter().filter(|r| r["status"] != "running").count())
            .unwrap_or(0)
    };
    common::wait_for("1000 runs", Duration::from_secs(240), || done() >= 1000);
    let left = marked(&mark);
    common::stop_daemon(d);
    kill_marked(&mark);
    assert_eq!(left.len(), 0, "leftovers alive: {left:?}");
    let rows = cli(p, &["history", "--limit", "5000", "--json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    for r in rows {
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(r["reason"], "left 2 processes behind; stopped", "{r}");
    }
}

/// One run writing 100,000 lines puts at most `log.output_per_run` of them in the daemon log,
/// then one line saying how much was left out; the ledger keeps the tail.
#[test]
fn the_daemon_log_takes_at_most_its_share_of_one_run() {
    let env = common::Env::new();
    std::fs::write(
        env.dir.path().join("clawcron.yaml"),
        "log: { output_per_run: 20KB }\n",
    )
    .unwrap();
    let (out, row, _) = env.trigger_with(
        "chatty",
        "schedule: \"0 3 * * *\"\nrun: { shell: \"seq 1 100000\" }\n",
        &[],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    // 20 KB of output is about 3,500 of these short lines (each log line adds its own fields).
    let lines = log.lines().count();
    assert!((3_000..5_000).contains(&lines), "{lines} log lines");
    assert!(
        log.contains("more line(s) of output") && log.contains("not logged"),
        "{}",
        &log[log.len().saturating_sub(2000)..]
    );
    assert!(
        row["output_tail"].as_str().unwrap().ends_with("100000\n"),
        "{row}"
    );
}
