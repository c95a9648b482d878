//! The seams between the parts, end to end through the built binary with a running daemon: a
//! manual run's notice mailed through a real SMTP server within seconds (over the API and over
//! `clawcron trigger`), and exactly once across a restart when SMTP is down; a manual run never
//! overlaps the holder of its lock; a hot-reloaded job's secrets reach no output; `trigger`
//! streams a slow job's output live through the daemon; `install` keeps every path option;
//! job entries that are not files, figures a job never records, disabled and unknown jobs, and
//! a closed pipe.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{header, http, http_json, mails, standin, stop_daemon, wait_for};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn clawcron(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir)
        .args(["--state-dir", "state"])
        .args(args)
        .env_remove("CLAWCRON_STATE_DIR")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn history(dir: &Path, job: &str) -> Vec<serde_json::Value> {
    serde_json::from_slice(&clawcron(dir, &["history", job, "--json"], &[]).stdout).unwrap()
}

/// A folder with `clawcron.yaml` (API on a free loopback port, plain SMTP on `smtp_port` when
/// given) and `jobs/`.
fn setup(smtp_port: Option<u16>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    let mail = smtp_port.map_or(String::new(), |port| {
        format!(
            "notifiers:\n  mail:\n    email:\n      smtp: {{ host: 127.0.0.1, port: {port}, tls: none }}\n      from: clawcron@example.org\n      to: [ops@example.org]\n"
        )
    });
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "timezone: UTC\nshutdown_grace: 2s\nnotify_retry: 200ms\napi: {{ listen: \"127.0.0.1:0\" }}\n{mail}"
        ),
    )
    .unwrap();
    dir
}

fn write_job(dir: &Path, name: &str, yaml: &str) {
    std::fs::write(dir.join("jobs").join(format!("{name}.yaml")), yaml).unwrap();
}

fn token(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("state/api-token")).unwrap()
}

/// The delivery keys of the mail in `maildir`, sorted.
fn delivered(maildir: &Path) -> Vec<String> {
    let mut keys: Vec<String> = mails(maildir)
        .iter()
        .map(|m| header(m, "X-Clawcron-Delivery")[0].to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_failed_manual_run_is_mailed_within_seconds_over_the_api_and_over_clawcron_trigger() {
    let maildir_dir = tempfile::tempdir().unwrap();
    let maildir = maildir_dir.path().join("maildir");
    let smtp = standin("smtp", &["--maildir", maildir.to_str().unwrap()]);
    let dir = setup(Some(smtp.port));
    write_job(
        dir.path(),
        "broken",
        "schedule: \"@yearly\"\nrun: { shell: \"echo about to fail; exit 4\" }\nnotify: { on: [failure], to: [mail], failures: every }\n",
    );
    let (d, addr) = common::daemon_with_api(dir.path());
    let t = token(dir.path());

    let start = Instant::now();
    let (code, body) = http(&addr, "POST", "/api/jobs/broken/trigger", Some(&t));
    assert_eq!(code, 202, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    let first = run["run_id"].as_i64().unwrap();
    wait_for("the API run's mail", Duration::from_secs(10), || {
        delivered(&maildir) == [format!("run:{first}:failure:mail")]
    });
    assert!(start.elapsed() < Duration::from_secs(10));

    let start = Instant::now();
    let out = clawcron(dir.path(), &["trigger", "broken"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("trigger: running `broken` in the daemon on state\n"),
        "{}",
        text(&out.stderr)
    );
    let second = first + 1;
    assert!(
        text(&out.stdout).starts_with(&format!("broken: run {second} failed after ")),
        "{}",
        text(&out.stdout)
    );
    wait_for("the CLI run's mail", Duration::from_secs(10), || {
        delivered(&maildir).len() == 2
    });
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(
        delivered(&maildir),
        [
            format!("run:{first}:failure:mail"),
            format!("run:{second}:failure:mail")
        ]
    );
    stop_daemon(d);
    let rows = history(dir.path(), "broken");
    assert!(rows.iter().all(|r| r["trigger"] == "manual"), "{rows:?}");
}

#[test]
fn with_smtp_down_a_manual_runs_notice_waits_then_arrives_once_after_a_restart() {
    let maildir_dir = tempfile::tempdir().unwrap();
    let maildir = maildir_dir.path().join("maildir");
    // A free port, then the server stays down for now.
    let port = standin("smtp", &["--maildir", maildir.to_str().unwrap()]).port;
    let dir = setup(Some(port));
    write_job(
        dir.path(),
        "broken",
        "schedule: \"@yearly\"\nrun: { shell: \"exit 4\" }\nnotify: { on: [failure], to: [mail] }\n",
    );
    let (d, _) = common::daemon_with_api(dir.path());
    let out = clawcron(dir.path(), &["trigger", "broken"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    std::thread::sleep(Duration::from_secs(1));
    stop_daemon(d);
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&clawcron(dir.path(), &["notifications", "--json"], &[]).stdout)
            .unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["status"], "pending", "{items:?}");
    assert!(items[0]["attempts"].as_i64().unwrap() >= 1, "it was tried");

    let (d, _) = common::daemon_with_api(dir.path());
    let _smtp = standin(
        "smtp",
        &[
            "--maildir",
            maildir.to_str().unwrap(),
            "--port",
            &port.to_string(),
        ],
    );
    wait_for("the pending notice", Duration::from_secs(30), || {
        !delivered(&maildir).is_empty()
    });
    // Time for a duplicate to show up.
    std::thread::sleep(Duration::from_secs(2));
    stop_daemon(d);
    assert_eq!(delivered(&maildir), ["run:1:failure:mail"]);
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&clawcron(dir.path(), &["notifications", "--json"], &[]).stdout)
            .unwrap();
    assert_eq!(items[0]["status"], "sent", "{items:?}");
}

#[test]
fn a_manual_run_never_overlaps_the_holder_of_its_lock() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "holder",
        "schedule: \"@yearly\"\nlocks: [gpu]\nrun: { shell: \"sleep 2\" }\n",
    );
    write_job(
        dir.path(),
        "preload",
        "schedule: \"@yearly\"\nlocks: [gpu]\nrun: { shell: \"true\" }\n",
    );
    write_job(
        dir.path(),
        "waiter",
        "schedule: \"@yearly\"\noverlap: queue\nlocks: [gpu]\nrun: { shell: \"true\" }\n",
    );
    let (d, addr) = common::daemon_with_api(dir.path());
    let t = token(dir.path());
    let (code, body) = http(&addr, "POST", "/api/jobs/holder/trigger", Some(&t));
    assert_eq!(code, 202, "{body}");
    let holder: serde_json::Value = serde_json::from_str(&body).unwrap();
    let holder_run = holder["run_id"].as_i64().unwrap();

    // overlap: skip (the default) refuses at once, says who holds the lock, and records it.
    let out = clawcron(dir.path(), &["trigger", "preload"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        format!(
            "preload: run {} skipped: lock busy: gpu (held by holder run {holder_run})\n",
            holder_run + 1
        )
    );
    // Over the API too: 409, with the same reason.
    let (code, body) = http(&addr, "POST", "/api/jobs/preload/trigger", Some(&t));
    assert_eq!(code, 409, "{body}");
    assert!(
        body.contains("lock busy: gpu (held by holder run"),
        "{body}"
    );
    // overlap: queue waits for the lock, then runs after the holder ended.
    let out = clawcron(dir.path(), &["trigger", "waiter"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // --force runs past the lock, on purpose, and says so.
    let out = clawcron(dir.path(), &["trigger", "--force", "preload"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for("the holder's end", Duration::from_secs(10), || {
        history(dir.path(), "holder")[0]["status"] == "succeeded"
    });
    stop_daemon(d);

    let holder = &history(dir.path(), "holder")[0];
    let preload = history(dir.path(), "preload");
    assert_eq!(preload.len(), 3, "{preload:?}");
    let skipped: Vec<&serde_json::Value> = preload
        .iter()
        .filter(|r| r["status"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 2, "{preload:?}");
    assert!(skipped.iter().all(|r| {
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with("lock busy: gpu (held by holder run")
    }));
    assert!(skipped.iter().all(|r| r["trigger"] == "manual"));
    let forced = preload.iter().find(|r| r["status"] == "succeeded").unwrap();
    assert!(
        forced["reason"].as_str().unwrap().starts_with("forced:"),
        "{forced}"
    );
    let waiter = &history(dir.path(), "waiter")[0];
    assert_eq!(waiter["status"], "succeeded");
    assert!(
        waiter["reason"].as_str().unwrap().starts_with("waited "),
        "{waiter}"
    );
    assert!(
        waiter["started_at"].as_i64().unwrap() >= holder["finished_at"].as_i64().unwrap(),
        "the waiter started after the holder ended: {waiter} {holder}"
    );
}

#[test]
fn a_hot_reloaded_jobs_secrets_appear_in_no_output() {
    let hook_log_dir = tempfile::tempdir().unwrap();
    let hook_log = hook_log_dir.path().join("hook.jsonl");
    let hook = standin("webhook", &["--log", hook_log.to_str().unwrap()]);
    // What the http job asks (its own log, which sees the credentials it was sent, is not ours).
    let target = standin(
        "webhook",
        &[
            "--log",
            hook_log_dir.path().join("target.jsonl").to_str().unwrap(),
        ],
    );
    let dir = setup(None);
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "timezone: UTC\nshutdown_grace: 2s\nnotify_retry: 200ms\napi: {{ listen: \"127.0.0.1:0\" }}\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/hook\" }} }}\n",
            hook.port
        ),
    )
    .unwrap();
    // Variables named like nothing secret, so that only the job's use of them marks them.
    let secrets = [
        ("GW_QUERY_VALUE", "q-value-5be1c0f3"),
        ("GW_URL_PASS", "url-pass-7d2e9a41"),
        ("GW_HEADER_VALUE", "hdr-value-0c6f8b22"),
        ("GW_ARG_VALUE", "arg-value-93ad1e57"),
    ];
    let log_file = dir.path().join("daemon.log");
    let (d, addr) = common::spawn_daemon(
        dir.path(),
        &secrets,
        Stdio::from(std::fs::File::create(&log_file).unwrap()),
    );
    let addr = addr.unwrap();
    // Added while the daemon runs.
    write_job(
        dir.path(),
        "leaky-http",
        &format!(
            "schedule: \"@yearly\"\nrun:\n  http:\n    url: \"http://probe:${{GW_URL_PASS}}@127.0.0.1:{}/x?model=a&api_key=${{GW_QUERY_VALUE}}\"\n    headers: {{ X-Api-Key: \"${{GW_HEADER_VALUE}}\" }}\n    expect: {{ status: [201] }}\nnotify: {{ on: [failure], to: [hook] }}\n",
            target.port
        ),
    );
    write_job(
        dir.path(),
        "leaky-cmd",
        "schedule: \"@yearly\"\nrun: { command: [sh, -c, \"echo using $2; exit 1\", sh, \"--token\", \"${GW_ARG_VALUE}\"] }\nnotify: { on: [failure], to: [hook] }\n",
    );
    let t = token(dir.path());
    let reloaded = Instant::now();
    while http_json(&addr, "/api/jobs", Some(&t))
        .as_array()
        .unwrap()
        .len()
        != 2
    {
        assert!(
            reloaded.elapsed() < Duration::from_secs(10),
            "the reload: {} {}",
            http_json(&addr, "/api/status", Some(&t)),
            std::fs::read_to_string(&log_file).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for job in ["leaky-http", "leaky-cmd"] {
        let (code, body) = http(&addr, "POST", &format!("/api/jobs/{job}/trigger"), Some(&t));
        assert_eq!(code, 202, "{body}");
    }
    wait_for("both notices", Duration::from_secs(10), || {
        common::received(&hook_log).len() >= 2
    });
    let mut seen = vec![
        ("/api/jobs", http(&addr, "GET", "/api/jobs", Some(&t)).1),
        ("/api/runs", http(&addr, "GET", "/api/runs", Some(&t)).1),
        ("dashboard", http(&addr, "GET", "/", Some(&t)).1),
        (
            "status --json",
            text(&clawcron(dir.path(), &["status", "--json"], &[]).stdout),
        ),
    ];
    stop_daemon(d);
    seen.push((
        "history --json",
        text(&clawcron(dir.path(), &["history", "--json"], &secrets).stdout),
    ));
    seen.push((
        "notifications --json",
        text(&clawcron(dir.path(), &["notifications", "--json"], &secrets).stdout),
    ));
    seen.push((
        "notices received",
        std::fs::read_to_string(&hook_log).unwrap(),
    ));
    seen.push(("daemon log", std::fs::read_to_string(&log_file).unwrap()));
    // The ledger's files, byte for byte (the database and its write-ahead log).
    for f in ["clawcron.db", "clawcron.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("state").join(f)) {
            seen.push(("ledger", String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    // The runs happened, and what they did shows (redacted).
    let all: String = seen.iter().map(|(_, s)| s.as_str()).collect();
    assert!(all.contains("leaky-http") && all.contains("leaky-cmd"));
    assert!(all.contains("[redacted]"), "redaction is visible");
    for (what, body) in &seen {
        for (_, secret) in &secrets {
            assert!(!body.contains(secret), "{what} shows {secret}:\n{body}");
        }
    }
}

#[test]
fn trigger_through_the_daemon_shows_a_slow_jobs_first_line_before_it_ends() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "slow",
        "schedule: \"@yearly\"\nrun: { shell: \"echo first line; sleep 3; echo last line\" }\n",
    );
    let (d, _) = common::daemon_with_api(dir.path());
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "trigger", "slow"])
        .env_remove("CLAWCRON_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first_at = None;
    let mut lines = Vec::new();
    for l in stderr.lines() {
        let l = l.unwrap();
        if l.contains("first line") && first_at.is_none() {
            first_at = Some(start.elapsed());
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run still goes when its first line shows"
            );
        }
        lines.push(l);
    }
    let status = child.wait().unwrap();
    let elapsed = start.elapsed();
    stop_daemon(d);
    assert!(status.success(), "{lines:?}");
    assert_eq!(
        lines[0], "trigger: running `slow` in the daemon on state",
        "{lines:?}"
    );
    let first_at = first_at.expect("the first line was shown");
    assert!(
        first_at + Duration::from_secs(2) < elapsed,
        "first line at {first_at:?}, run ended at {elapsed:?}"
    );
    assert!(lines.iter().any(|l| l.contains("last line")), "{lines:?}");
}

#[test]
fn without_a_daemon_trigger_says_so_and_refuses_beside_a_daemon_it_cannot_reach() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "hello",
        "schedule: \"@yearly\"\nrun: { shell: \"echo hi\" }\n",
    );
    let out = clawcron(dir.path(), &["trigger", "hello"], &[]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr)
            .starts_with("trigger: no daemon runs on state; running `hello` in this process\n"),
        "{}",
        text(&out.stderr)
    );
    // A daemon that holds the state directory but whose socket is gone: refused, never beside it.
    let (d, _) = common::daemon_with_api(dir.path());
    std::fs::remove_file(dir.path().join("state/clawcron.sock")).unwrap();
    let out = clawcron(dir.path(), &["trigger", "hello"], &[]);
    stop_daemon(d);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: a clawcron process (pid "), "{err}");
    assert!(err.contains("not running beside it"), "{err}");
    assert_eq!(history(dir.path(), "hello").len(), 1, "nothing ran");
}

#[test]
fn install_keeps_every_path_option_in_the_plist_and_the_unit() {
    let dir = setup(None);
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("my-jobs")).unwrap();
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    for target in ["launchd", "systemd"] {
        let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .args([
                "--jobs",
                "my-jobs",
                "--state-dir",
                "my-state",
                "install",
                "--dry-run",
                "--target",
                target,
            ])
            .env("HOME", home.path())
            .env_remove("CLAWCRON_STATE_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let shown = text(&out.stdout);
        let jobs = cwd.join("my-jobs").display().to_string();
        let state = cwd.join("my-state").display().to_string();
        match target {
            "launchd" => {
                // Then the daemon's own log file (launchd cannot rotate its redirections).
                let log = home.path().join("Library/Logs/clawcron/clawcron.log");
                assert!(
                    shown.contains(&format!(
                        "    <string>--jobs</string>\n    <string>{jobs}</string>\n    <string>--state-dir</string>\n    <string>{state}</string>\n    <string>--log-file</string>\n    <string>{}</string>\n    <string>run</string>",
                        log.display()
                    )),
                    "{shown}"
                );
            }
            _ => assert!(
                shown.contains(&format!(" --jobs {jobs} --state-dir {state} run\n")),
                "{shown}"
            ),
        }
    }
    // CLAWCRON_STATE_DIR counts as --state-dir.
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["install", "--dry-run", "--target", "systemd"])
        .env("HOME", home.path())
        .env("CLAWCRON_STATE_DIR", "/var/lib/claw-state")
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains(" --state-dir /var/lib/claw-state run\n"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_job_entry_that_is_not_a_readable_file_is_an_error_and_a_reload_keeps_the_last_good_version() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "good",
        "schedule: \"@yearly\"\nrun: { shell: \"true\" }\n",
    );
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(jobs.join("folder.yaml")).unwrap();
    std::os::unix::fs::symlink("nowhere.yaml", jobs.join("dangling.yaml")).unwrap();
    std::os::unix::fs::symlink("loop.yaml", jobs.join("loop.yaml")).unwrap();
    let out = clawcron(dir.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: jobs/dangling.yaml: is a symbolic link whose target nowhere.yaml cannot be read: No such file or directory (os error 2)

error: jobs/folder.yaml: is a directory, not a job file

error: jobs/loop.yaml: is a symbolic link that loops (-> loop.yaml)
3 errors in 3 files; 1 valid job
"
    );
    for f in ["folder.yaml", "dangling.yaml", "loop.yaml"] {
        let p = jobs.join(f);
        if p.is_dir() {
            std::fs::remove_dir(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
    // While the daemon runs, a job file replaced by a folder keeps the job as it was.
    let (d, addr) = common::daemon_with_api(dir.path());
    let t = token(dir.path());
    std::fs::remove_file(jobs.join("good.yaml")).unwrap();
    std::fs::create_dir(jobs.join("good.yaml")).unwrap();
    wait_for("the reload", Duration::from_secs(10), || {
        let s = http_json(&addr, "/api/status", Some(&t));
        s["reload"]["errors"].as_array().is_some_and(|e| {
            e.iter()
                .any(|e| e.as_str().unwrap_or("").contains("is a directory"))
        })
    });
    let listed = http_json(&addr, "/api/jobs", Some(&t));
    stop_daemon(d);
    assert_eq!(listed[0]["id"], "good", "{listed}");
}

#[test]
fn an_alert_on_a_figure_the_job_never_records_is_an_error_with_did_you_mean() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "health",
        "every: 5m\nrun: { http: { url: \"http://127.0.0.1:18789/readyz\" } }\nalerts: [ { when: \"totl_ms > 5000\" } ]\n",
    );
    write_job(
        dir.path(),
        "gateway",
        "every: 5m\nrun:\n  monitor:\n    probes:\n      stats: { docker.stats: { container: openclaw-gateway } }\nalerts: [ { when: \"stats.dsk_percent > 90\" } ]\n",
    );
    let out = clawcron(dir.path(), &["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("jobs/health.yaml:3:19: `alerts.when`: `totl_ms` is not a figure this job records, so the rule could never fire"),
        "{err}"
    );
    assert!(err.contains("= help: did you mean `total_ms`?"), "{err}");
    assert!(
        err.contains("`stats.dsk_percent` is not a figure this job records"),
        "{err}"
    );
    assert!(
        err.contains("stats.mem_percent"),
        "the figures are listed: {err}"
    );
}

#[test]
fn disabled_jobs_are_refused_without_force_and_next_says_disabled() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "off",
        "enabled: false\nschedule: \"0 3 * * *\"\nrun: { shell: \"echo ran\" }\n",
    );
    let out = clawcron(dir.path(), &["trigger", "off"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: job `off` is disabled (enabled: false in "),
        "{}",
        text(&out.stderr)
    );
    let out = clawcron(dir.path(), &["next", "off", "-n", "1"], &[]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .contains("disabled (enabled: false in "),
        "{}",
        text(&out.stdout)
    );
    let (d, addr) = common::daemon_with_api(dir.path());
    let t = token(dir.path());
    let (code, body) = http(&addr, "POST", "/api/jobs/off/trigger", Some(&t));
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("is disabled"), "{body}");
    let jobs = http_json(&addr, "/api/jobs", Some(&t));
    assert_eq!(jobs[0]["enabled"], false, "{jobs}");
    // Through the daemon, and with --force, it runs.
    let out = clawcron(dir.path(), &["trigger", "off"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = clawcron(dir.path(), &["trigger", "--force", "off"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, body) = http(&addr, "POST", "/api/jobs/off/trigger?force=true", Some(&t));
    assert_eq!(code, 202, "{body}");
    stop_daemon(d);
    assert_eq!(history(dir.path(), "off").len(), 2);
}

#[test]
fn an_unknown_job_is_exit_2_everywhere() {
    let dir = setup(None);
    write_job(
        dir.path(),
        "known",
        "schedule: \"@yearly\"\nrun: { shell: \"true\" }\n",
    );
    assert!(
        clawcron(dir.path(), &["trigger", "known"], &[])
            .status
            .success()
    );
    for args in [
        &["history", "nope"][..],
        &["baseline", "nope"],
        &["metrics", "nope"],
        &["next", "nope"],
        &["trigger", "nope"],
        &["report", "nope"],
    ] {
        let out = clawcron(dir.path(), args, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).starts_with("error: no job `nope` in jobs"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = setup(None);
    write_job(dir.path(), "often", "every: 1s\nrun: { shell: \"true\" }\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "next", "often", "-n", "10000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe, as `| head -1` does.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("often: every 1s"), "{first}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "");
}
