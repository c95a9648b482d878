//! Notifications end to end through the daemon: failure and recovery notices written to the
//! outbox and delivered to a webhook receiver on 127.0.0.1, signed (HMAC verified here), retried
//! after a 5xx, delivered once each, and not retried after a 4xx.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::received;

use common::standin;
use hmac::{Hmac, Mac};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn run_daemon(dir: &std::path::Path, secs: f64, between: impl FnOnce()) {
    let (d, _) = common::spawn_daemon(dir, &[("HOOK_SECRET", "s3cret")], Stdio::null());
    std::thread::sleep(Duration::from_secs_f64(secs / 2.0));
    between();
    std::thread::sleep(Duration::from_secs_f64(secs / 2.0));
    common::stop_daemon(d);
}

fn setup(statuses: &str) -> (tempfile::TempDir, common::Server, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let hook = standin(
        "webhook",
        &["--log", log.to_str().unwrap(), "--statuses", statuses],
    );
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotify_retry: 300ms\nnotifiers:\n  hook:\n    webhook: {{ url: \"http://127.0.0.1:{}/hook\", format: generic, secret_env: HOOK_SECRET }}\n",
            hook.port
        ),
    )
    .unwrap();
    (dir, hook, log)
}

#[test]
fn failure_then_recovery_signed_retried_and_delivered_once() {
    let (dir, _hook, log) = setup("500,200");
    let ok = dir.path().join("ok");
    std::fs::write(
        dir.path().join("jobs/flaky.yaml"),
        format!("schedule: \"* * * * * *\"\nrun: {{ shell: \"test -f {}\" }}\nnotify: {{ on: [failure, recovery], to: [hook] }}\n", ok.display()),
    )
    .unwrap();
    run_daemon(dir.path(), 5.0, || std::fs::write(&ok, "").unwrap());
    let got = received(&log);
    assert!(!got.is_empty());
    // The first delivery met a 500 and was retried with the same key.
    assert_eq!(got[0]["status"], 500);
    assert_eq!(
        got[1]["headers"]["x-clawcron-delivery"],
        got[0]["headers"]["x-clawcron-delivery"]
    );
    for r in &got {
        let body = r["body"].as_str().unwrap();
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(b"s3cret").unwrap();
        mac.update(body.as_bytes());
        assert_eq!(
            r["headers"]["x-clawcron-signature"],
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
    }
    let delivered: Vec<&serde_json::Value> = got.iter().filter(|r| r["status"] == 200).collect();
    let mut keys: Vec<&str> = delivered
        .iter()
        .map(|r| r["headers"]["x-clawcron-delivery"].as_str().unwrap())
        .collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "each notice delivered once");
    let events: Vec<String> = delivered
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r["body"].as_str().unwrap()).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        events.iter().filter(|e| *e == "failure").count() >= 1,
        "{events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| *e == "recovery").count(),
        1,
        "{events:?}"
    );
    let recovery = delivered
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r["body"].as_str().unwrap()).unwrap())
        .find(|b| b["event"] == "recovery")
        .unwrap();
    assert!(
        recovery["text"]
            .as_str()
            .unwrap()
            .contains("flaky works again after "),
        "{recovery}"
    );
    assert_eq!(recovery["job"], "flaky");
}

#[test]
fn a_4xx_is_not_retried() {
    let (dir, _hook, log) = setup("404");
    std::fs::write(
        dir.path().join("jobs/fails.yaml"),
        "schedule: \"@yearly\"\nrun: { shell: \"exit 1\" }\nnotify: { to: [hook] }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "trigger", "fails"])
        .env("HOOK_SECRET", "s3cret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The trigger, with no daemon running, delivered its notice itself: refused, not retried.
    assert_eq!(received(&log).len(), 1, "one attempt");
    run_daemon(dir.path(), 2.0, || {});
    assert_eq!(received(&log).len(), 1, "one attempt, no retry");
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "notifications", "--json"])
        .output()
        .unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0]["status"].as_str(), items[0]["attempts"].as_i64()),
        (Some("failed"), Some(1))
    );
    assert_eq!(items[0]["last_error"], "404 nope");
}

#[test]
fn an_unreachable_receiver_is_retried_and_its_url_never_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!("shutdown_grace: 1s\nnotify_retry: 200ms\nnotifiers:\n  hook:\n    webhook: {{ url: \"http://127.0.0.1:{closed}/topic-SECRET-TOKEN\" }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/fails.yaml"),
        "schedule: \"@yearly\"\nrun: { shell: \"exit 1\" }\nnotify: { to: [hook] }\n",
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "trigger", "fails"])
        .output()
        .unwrap();
    run_daemon(dir.path(), 2.0, || {});
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "notifications", "--json"])
        .output()
        .unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        items[0]["status"], "pending",
        "still to be retried: {items:?}"
    );
    assert!(items[0]["attempts"].as_i64().unwrap() >= 2, "{items:?}");
    assert!(
        !items[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("SECRET-TOKEN"),
        "{items:?}"
    );
}

#[test]
fn notify_test_sends_now_and_prints_the_answer() {
    let (dir, _hook, log) = setup("200");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .args(args)
            .env("HOOK_SECRET", "s3cret")
            .output()
            .unwrap()
    };
    let out = run(&["notify-test", "hook"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hook: delivered: 200 ok\n"
    );
    let got = received(&log);
    assert_eq!(got.len(), 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(got[0]["body"].as_str().unwrap()).unwrap()["event"],
        "test"
    );
    let out = run(&["notify-test", "hoook"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no notifier `hoook` in clawcron.yaml\n  = help: did you mean `hook`?\n"
    );
}

/// A receiver for one preset: (server, its log).
fn receiver(
    dir: &std::path::Path,
    name: &str,
    args: &[&str],
) -> (common::Server, std::path::PathBuf) {
    let log = dir.join(format!("{name}.jsonl"));
    let server = standin(
        "webhook",
        &[&["--log", log.to_str().unwrap()], args].concat(),
    );
    (server, log)
}

#[test]
fn each_preset_shapes_its_payload_and_custom_headers_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let (generic, generic_log) = receiver(dir.path(), "generic", &[]);
    let (slack, slack_log) = receiver(dir.path(), "slack", &[]);
    let (discord, discord_log) = receiver(dir.path(), "discord", &[]);
    let (ntfy, ntfy_log) = receiver(dir.path(), "ntfy", &[]);
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotifiers:
  generic: {{ webhook: {{ url: \"http://127.0.0.1:{}/g\", headers: {{ X-Team: ops }} }} }}
  slack: {{ webhook: {{ url: \"http://127.0.0.1:{}/services/T1/B2/xyz\", format: slack }} }}
  discord: {{ webhook: {{ url: \"http://127.0.0.1:{}/api/webhooks/1/abc\", format: discord }} }}
  ntfy: {{ webhook: {{ url: \"http://127.0.0.1:{}/clawcron-alerts\", format: ntfy }} }}
",
            generic.port, slack.port, discord.port, ntfy.port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/backup.yaml"),
        "at_start: true\nrun: { shell: \"echo used=97; exit 2\" }\nmetrics: [ { regex: 'used=(?P<disk_percent>[0-9]+)' } ]\nnotify: { on: [failure], to: [generic, slack, discord, ntfy] }\n",
    )
    .unwrap();
    run_daemon(dir.path(), 3.0, || {});
    let one = |log: &std::path::Path| {
        let got = received(log);
        assert_eq!(got.len(), 1, "{got:?}");
        got.into_iter().next().unwrap()
    };
    // The text is written for its reader: the sentence, then a line per fact.
    let text = "backup failed: exited with status 2";

    // Generic: the documented JSON payload, and the custom header.
    let g = one(&generic_log);
    assert_eq!(g["headers"]["content-type"], "application/json");
    assert_eq!(g["headers"]["x-team"], "ops");
    let body: serde_json::Value = serde_json::from_str(g["body"].as_str().unwrap()).unwrap();
    for key in [
        "event",
        "title",
        "text",
        "job",
        "run_id",
        "status",
        "started_at_ms",
        "finished_at_ms",
        "attempts",
        "error",
        "output_tail",
        "metrics",
    ] {
        assert!(body.get(key).is_some(), "no `{key}` in {body}");
    }
    assert_eq!(
        (&body["event"], &body["job"], &body["status"]),
        (&"failure".into(), &"backup".into(), &"failed".into())
    );
    let full = body["text"].as_str().unwrap();
    assert!(full.starts_with(text), "{full}");
    assert!(full.contains("\nFigures: disk_percent = 97 %"), "{full}");
    assert!(full.contains("\nOutput (last lines): used=97"), "{full}");
    assert_eq!(body["sentence"], text);
    let text = full;
    assert_eq!(body["metrics"]["disk_percent"], 97.0);
    assert_eq!(body["output_tail"], "used=97\n");

    // Slack: {"text": ...}; Discord: {"content": ...}.
    let s = one(&slack_log);
    assert_eq!(s["path"], "/services/T1/B2/xyz");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(s["body"].as_str().unwrap()).unwrap(),
        serde_json::json!({ "text": text })
    );
    let d = one(&discord_log);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(d["body"].as_str().unwrap()).unwrap(),
        serde_json::json!({ "content": text })
    );
    // ntfy: the text as the body, the title, priority and tags as headers.
    let n = one(&ntfy_log);
    assert_eq!(n["path"], "/clawcron-alerts");
    assert_eq!(n["body"], text);
    assert_eq!(n["headers"]["title"], "backup is failing");
    assert_eq!(n["headers"]["priority"], "high");
    assert_eq!(n["headers"]["tags"], "warning");
}

#[test]
fn a_timeout_and_a_429_are_retried_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    // The first answer comes after 3 s, past the 1 s send timeout; then 429; then 200.
    let (hook, log) = receiver(
        dir.path(),
        "hook",
        &["--delay-first", "3", "--statuses", "200,429,200"],
    );
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotify_retry: 200ms\nnotify_timeout: 1s\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/h\" }} }}\n",
            hook.port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/fails.yaml"),
        "at_start: true\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [hook] }\n",
    )
    .unwrap();
    run_daemon(dir.path(), 8.0, || {});
    let got = received(&log);
    assert_eq!(got.len(), 3, "timed out, 429, delivered: {got:?}");
    let keys: Vec<&str> = got
        .iter()
        .map(|r| r["headers"]["x-clawcron-delivery"].as_str().unwrap())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "notifications", "--json"])
        .output()
        .unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0]["status"].as_str(), items[0]["attempts"].as_i64()),
        (Some("sent"), Some(3))
    );
    assert_eq!(items[0]["answer"], "200 ok");
}

#[test]
fn secrets_never_reach_logs_ledger_or_notices() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, log) = receiver(dir.path(), "hook", &[]);
    let token = "tok-3f9a1c77e2";
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/hook\", headers: {{ Authorization: \"Bearer hdr-secret-991\" }} }} }}\n",
            hook.port
        ),
    )
    .unwrap();
    // A script that prints its token and fails with it in its output: the classic leak.
    std::fs::write(
        dir.path().join("jobs/leaky.yaml"),
        "at_start: true\nrun: { shell: \"echo using $API_TOKEN and hdr-secret-991; exit 1\" }\nnotify: { on: [failure], to: [hook] }\n",
    )
    .unwrap();
    let mut d = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "--log-format", "json", "run"])
        .env("API_TOKEN", token)
        .env("RUST_LOG", "debug")
        .env_remove("CLAWCRON_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(d.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.unwrap().starts_with("READY ")));
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    let out = d.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("using [redacted] and [redacted]"), "{logs}");
    let cli = |args: &[&str]| {
        String::from_utf8_lossy(
            &Command::new(env!("CARGO_BIN_EXE_clawcron"))
                .current_dir(dir.path())
                .args(["--state-dir", "state"])
                .args(args)
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    let history = cli(&["history", "--json"]);
    let notices = cli(&["notifications", "--json"]);
    // The receiver is meant to get the Authorization header; the body must hold no secret.
    let received: String = received(&log)
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_string())
        .collect();
    assert!(
        history.contains("using [redacted] and [redacted]"),
        "{history}"
    );
    assert!(
        received.contains("using [redacted] and [redacted]"),
        "{received}"
    );
    for (what, text) in [
        ("logs", &*logs),
        ("ledger", &history),
        ("outbox", &notices),
        ("notice", &received),
    ] {
        assert!(
            !text.contains(token),
            "the token leaked into the {what}: {text}"
        );
        assert!(
            !text.contains("hdr-secret-991"),
            "the header leaked into the {what}: {text}"
        );
    }
}

#[test]
fn after_a_downtime_one_notice_says_how_long_and_what_became_of_the_missed_slots() {
    let dir = tempfile::tempdir().unwrap();
    let (hook, log) = receiver(dir.path(), "hook", &[]);
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{0}/hook\" }} }}\ndaemon_notify: [hook]\nheartbeat: {{ url: \"http://127.0.0.1:{0}/ping/abc123def456\", every: 10s }}\n",
            hook.port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/tick.yaml"),
        "schedule: \"* * * * * *\"\nmissed: { policy: latest, max_lateness: 1h }\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    run_daemon(dir.path(), 1.0, || {});
    // Down for about three seconds.
    std::thread::sleep(Duration::from_secs(3));
    run_daemon(dir.path(), 1.5, || {});
    let got = received(&log);
    let pings = got.iter().filter(|r| r["method"] == "GET").count();
    assert!(pings >= 2, "a heartbeat at each start: {got:?}");
    assert!(
        got.iter()
            .filter(|r| r["method"] == "GET")
            .all(|r| r["path"] == "/ping/abc123def456")
    );
    let notices: Vec<serde_json::Value> = got
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        notices.len(),
        1,
        "one notice, for the one downtime: {notices:?}"
    );
    let n = &notices[0];
    assert_eq!(n["event"], "daemon.downtime");
    let text = n["text"].as_str().unwrap();
    assert!(text.starts_with("clawcron was stopped for "), "{text}");
    assert!(
        !text.contains("without a clean stop"),
        "it stopped cleanly: {text}"
    );
    let (late, skipped) = (
        n["downtime"]["ran_late"].as_u64().unwrap(),
        n["downtime"]["skipped"].as_u64().unwrap(),
    );
    // Policy latest: one slot runs, the newest missed one late, or none of them when the slot
    // at the start instant is due on time with them.
    assert!(
        late <= 1,
        "policy latest: at most one missed slot runs late: {text}"
    );
    assert!(skipped >= 1, "{text}");
    assert!(
        text.starts_with(&format!("clawcron was stopped for {}", ""))
            && text.contains(&format!(
                "; {late} missed slots ran late, {skipped} were not run"
            )),
        "{text}"
    );
}

#[test]
fn a_hung_smtp_server_delays_no_job_and_no_other_notice() {
    // A server that accepts SMTP connections and never says a word (no 220 greeting).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (fast, fast_log) = receiver(dir.path(), "fast", &[]);
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 1s\nnotify_timeout: 3s\nnotify_retry: 30s\nnotifiers:\n  mute:\n    email:\n      smtp: {{ host: 127.0.0.1, port: {port}, tls: none }}\n      from: a@example.org\n      to: [b@example.org]\n  fast: {{ webhook: {{ url: \"http://127.0.0.1:{}/f\" }} }}\n",
            fast.port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/first.yaml"),
        "at_start: true\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [mute, fast] }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/later.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [fast], failures: every }\n",
    )
    .unwrap();
    let ticks = dir.path().join("ticks");
    std::fs::write(
        dir.path().join("jobs/tick.yaml"),
        format!(
            "schedule: \"* * * * * *\"\nrun: {{ shell: \"date +%s.%N >> {}\" }}\n",
            ticks.display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    run_daemon(dir.path(), 4.0, || {});
    assert!(
        accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the email was attempted"
    );
    let got = received(&fast_log);
    let later = got
        .iter()
        .filter(|r| r["body"].as_str().unwrap().contains("\"job\":\"later\""))
        .count();
    assert!(
        got.iter()
            .any(|r| r["body"].as_str().unwrap().contains("\"job\":\"first\"")),
        "{got:?}"
    );
    assert!(
        later >= 2,
        "notices queued while the SMTP server hung were delivered: {later}"
    );
    // Jobs ran on time meanwhile: each tick within 100 ms of its second.
    let ticks = std::fs::read_to_string(&ticks).unwrap();
    let lateness: Vec<f64> = ticks
        .lines()
        .map(|l| l.parse::<f64>().unwrap().fract())
        .collect();
    assert!(lateness.len() >= 3, "{lateness:?}");
    assert!(lateness.iter().all(|&f| f < 0.1), "{lateness:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "and the daemon stopped without waiting it out"
    );
}

#[test]
fn a_hung_receiver_delays_no_other_notice_not_even_one_queued_while_it_hangs() {
    let dir = tempfile::tempdir().unwrap();
    // `slow` answers its first request after 20 s; the send timeout is 3 s.
    let (slow, _slow_log) = receiver(dir.path(), "slow", &["--delay-first", "20"]);
    let (fast, fast_log) = receiver(dir.path(), "fast", &[]);
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 1s\nnotify_timeout: 3s\nnotify_retry: 30s\nnotifiers:\n  slow: {{ webhook: {{ url: \"http://127.0.0.1:{}/s\" }} }}\n  fast: {{ webhook: {{ url: \"http://127.0.0.1:{}/f\" }} }}\n",
            slow.port, fast.port
        ),
    )
    .unwrap();
    // One notice to both at start; then, while `slow` hangs, a failure every second to `fast`.
    std::fs::write(
        dir.path().join("jobs/first.yaml"),
        "at_start: true\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [slow, fast] }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/later.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [fast], failures: every }\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    run_daemon(dir.path(), 4.0, || {});
    let got = received(&fast_log);
    let later = got
        .iter()
        .filter(|r| r["body"].as_str().unwrap().contains("\"job\":\"later\""))
        .count();
    assert!(
        got.iter()
            .any(|r| r["body"].as_str().unwrap().contains("\"job\":\"first\"")),
        "{got:?}"
    );
    assert!(
        later >= 2,
        "notices queued while `slow` hung were delivered: {later}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "and the daemon stopped without waiting it out"
    );
}
