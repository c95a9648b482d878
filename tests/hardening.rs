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
