//! Hot reload under a running daemon: files are edited in its jobs folder and each case is
//! checked in the ledger. An added job starts, a removed job stops being scheduled, a changed job
//! uses its new spec from its next slot, a running run is never killed by a reload, a file that
//! fails validation keeps its last good version (and the error is logged), SIGHUP reloads too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn history(dir: &Path, job: &str) -> Vec<serde_json::Value> {
    common::cli_value(dir, &["history", job, "--limit", "1000", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    common::wait_for(what, Duration::from_secs(20), done);
}

fn write(dir: &Path, job: &str, yaml: &str) {
    // Written whole then renamed, as editors do.
    let tmp = dir.join(format!(".{job}.tmp"));
    std::fs::write(&tmp, yaml).unwrap();
    std::fs::rename(&tmp, dir.join("jobs").join(format!("{job}.yaml"))).unwrap();
}

fn every_second(marker: &Path, text: &str) -> String {
    format!(
        "schedule: \"* * * * * *\"\noverlap: skip\nrun: {{ shell: \"echo {text} >> {}\" }}\n",
        marker.display()
    )
}

fn start(dir: &Path) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut d = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir)
        .args(["--state-dir", "state", "run"])
        .env_remove("CLAWCRON_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(d.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().starts_with("READY ")));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut err = d.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    (d, rx)
}

#[test]
fn edits_under_a_running_daemon_apply_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(p.join("clawcron.yaml"), "shutdown_grace: 10s\n").unwrap();
    let (a, b, c) = (p.join("a.out"), p.join("b.out"), p.join("c.out"));
    write(p, "alpha", &every_second(&a, "v1"));
    write(p, "beta", &every_second(&b, "beta"));
    // A long run: it must survive the reload that changes its own file.
    write(
        p,
        "long",
        "schedule: \"* * * * * *\"\noverlap: skip\nrun: { shell: \"sleep 4; echo done\" }\n",
    );
    let (mut d, stderr) = start(p);
    wait_for("beta to run", || history(p, "beta").len() >= 2);
    wait_for("long to start", || {
        history(p, "long").iter().any(|r| r["status"] == "running")
    });
    let long_run = history(p, "long")
        .into_iter()
        .find(|r| r["status"] == "running")
        .unwrap()["id"]
        .clone();

    // Added, removed, changed, and the running job's file changed, all at once.
    write(p, "gamma", &every_second(&c, "gamma"));
    std::fs::remove_file(p.join("jobs/beta.yaml")).unwrap();
    write(p, "alpha", &every_second(&a, "v2"));
    write(
        p,
        "long",
        "schedule: \"0 0 1 1 *\"\nrun: { shell: \"echo yearly\" }\n",
    );
    wait_for("gamma to run", || !history(p, "gamma").is_empty());
    wait_for("alpha's new command", || {
        std::fs::read_to_string(&a)
            .unwrap_or_default()
            .contains("v2")
    });
    let beta_after = history(p, "beta").len();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        history(p, "beta").len(),
        beta_after,
        "beta is no longer scheduled"
    );
    assert!(
        !history(p, "beta").iter().any(|r| r["status"] == "running"),
        "and nothing of it is left running"
    );
    // Old and new never interleave: once v2 appears, v1 does not come back.
    let out = std::fs::read_to_string(&a).unwrap();
    let first_v2 = out.find("v2").unwrap();
    assert!(!out[first_v2..].contains("v1"), "{out}");
    // The run that was going when its file changed finished normally.
    wait_for("the long run to finish", || {
        history(p, "long")
            .iter()
            .any(|r| r["id"] == long_run && r["status"] != "running")
    });
    let r = history(p, "long")
        .into_iter()
        .find(|r| r["id"] == long_run)
        .unwrap();
    assert_eq!(r["status"], "succeeded", "a reload never kills a run: {r}");

    // A broken file keeps its last good version running.
    write(
        p,
        "gamma",
        "schedule: \"* * * * * *\"\nrun: { shel: oops }\n",
    );
    std::thread::sleep(Duration::from_secs(1));
    let n = history(p, "gamma").len();
    wait_for("gamma to go on", || history(p, "gamma").len() >= n + 2);

    // SIGHUP reloads too (here: nothing changed).
    unsafe { libc::kill(d.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    d.wait().unwrap();
    let logs = stderr.recv().unwrap();
    assert!(logs.contains("jobs reloaded"), "{logs}");
    assert!(logs.contains("invalid config, not applied"), "{logs}");
    assert!(logs.contains("gamma.yaml:2"), "{logs}");
    assert!(logs.contains("kept=[\"gamma\"]"), "{logs}");
    assert!(
        logs.contains("SIGHUP: reloading the configuration"),
        "{logs}"
    );
}

/// `clawcron.yaml` replaced by a FIFO is a located error, not a hang: the reloader goes on
/// (a later edit and a new job file are applied) and SIGTERM ends the daemon promptly.
#[test]
fn a_fifo_in_place_of_the_config_is_an_error_and_the_reloader_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(p.join("clawcron.yaml"), "shutdown_grace: 2s\n").unwrap();
    let (mut d, stderr) = start(p);
    let config = p.join("clawcron.yaml");
    std::fs::remove_file(&config).unwrap();
    let c = std::ffi::CString::new(config.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    unsafe { libc::kill(d.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(1500));
    // A regular file again, and a new job: both are applied by the next reload.
    std::fs::remove_file(&config).unwrap();
    std::fs::write(&config, "shutdown_grace: 2s\n").unwrap();
    let marker = p.join("late.out");
    write(p, "late", &every_second(&marker, "late"));
    wait_for("the job added after the FIFO to run", || {
        !history(p, "late").is_empty()
    });
    let asked = std::time::Instant::now();
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    d.wait().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(8),
        "SIGTERM took {:?}",
        asked.elapsed()
    );
    let logs = stderr.recv().unwrap();
    assert!(
        logs.contains("clawcron.yaml: is a named pipe (FIFO), not a regular file: not read"),
        "{logs}"
    );
}
