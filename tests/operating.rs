//! Operating it day to day, through the real daemon and a webhook receiver: maintenance that
//! quiets what it causes, silences (one-off and recurring) and pause.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, hook: u16, extra: &str) {
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("clawcron.yaml"),
        format!(
            "timezone: UTC\nshutdown_grace: 1s\nnotify_retry: 1s\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{hook}/h\" }} }}\n{extra}"
        ),
    )
    .unwrap();
}

/// `clawcron --state-dir state ARGS` in `dir`.
fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir)
        .args(["--state-dir", "state"])
        .args(args)
        .output()
        .unwrap()
}

/// A scratch folder with a webhook receiver `hook` and `extra` settings: (folder, the
/// receiver's log, the receiver).
fn scene(extra: &str) -> (tempfile::TempDir, std::path::PathBuf, Server) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hook.jsonl");
    let hook = standin("webhook", &["--log", log.to_str().unwrap()]);
    config(dir.path(), hook.port, extra);
    (dir, log, hook)
}

fn events(log: &Path) -> Vec<serde_json::Value> {
    received(log)
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

/// A health job that fails and reports `ready_up=0` while DOWN or STILL exists in `dir`.
fn health(dir: &Path) {
    std::fs::write(
        dir.join("jobs/health.yaml"),
        format!(
            "schedule: \"* * * * * *\"\noverlap: skip\nrun: {{ shell: \"if [ -e {d}/DOWN ] || [ -e {d}/STILL ]; then echo ready_up=0; exit 1; else echo ready_up=1; fi\" }}\nmetrics: [ {{ regex: 'ready_up=(?P<ready_up>[0-9])' }} ]\nalerts: [ {{ name: not-ready, when: \"ready_up < 1\", for: \"2 of 3\" }} ]\nnotify: {{ on: [alert, failure, recovery], to: [hook] }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
}

/// A restart job at start: the gateway is down for 2 s (DOWN), with `leave` left behind.
fn restart(dir: &Path, leave: &str) {
    std::fs::write(
        dir.join("jobs/restart.yaml"),
        format!(
            "at_start: true\nrun: {{ shell: \"touch {d}/DOWN {leave}; sleep 2; rm {d}/DOWN\" }}\nmaintenance: {{ quiets: [health], grace: 2s }}\n",
            d = dir.display()
        ),
    )
    .unwrap();
}

#[test]
fn a_restart_during_which_the_health_check_fails_notifies_nothing() {
    let (dir, log, _hook) = scene("");
    let p = dir.path();
    health(p);
    restart(p, "");
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    // The restart (2 s), its grace (2 s), then healthy samples.
    std::thread::sleep(Duration::from_secs(7));
    stop_daemon(d);
    assert_eq!(
        events(&log),
        Vec::<serde_json::Value>::new(),
        "nothing told"
    );
    let rows = cli_value(p, &["history", "health", "--limit", "100", "--json"]);
    let rows = rows.as_array().unwrap();
    let quiet: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|x| x.contains("quiet: maintenance by restart run 1"))
        })
        .collect();
    assert!(quiet.len() >= 2, "the quieted runs say why: {rows:#?}");
    assert!(
        quiet.iter().any(|r| r["status"] == "failed"),
        "failures inside the window: {rows:#?}"
    );
    // Recorded, not sent.
    let outbox = cli_value(p, &["notifications", "--json"]);
    let outbox = outbox.as_array().unwrap();
    assert!(!outbox.is_empty(), "the failure notice is recorded");
    assert!(
        outbox.iter().all(|n| n["status"] == "silenced"
            && n["last_error"]
                .as_str()
                .unwrap()
                .starts_with("quiet: maintenance by restart run 1")),
        "{outbox:#?}"
    );
    // The rule never fired: the window's samples did not count.
    let alerts = cli_value(p, &["alerts", "--json"]);
    assert!(
        alerts["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["rule"] != "not-ready"),
        "{alerts}"
    );
}

#[test]
fn a_rule_still_firing_after_the_grace_notifies_once() {
    let (dir, log, _hook) = scene("");
    let p = dir.path();
    health(p);
    // The restart leaves the gateway down (STILL): after the grace, it is told.
    restart(p, &format!("{}/STILL", p.display()));
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    wait_for("the fired notice", Duration::from_secs(20), || {
        events(&log).iter().any(|e| e["event"] == "alert.fired")
    });
    std::thread::sleep(Duration::from_secs(2));
    stop_daemon(d);
    let got = events(&log);
    let kinds: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "alert.fired").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "failure").count(),
        1,
        "the streak, told once after the window: {kinds:?}"
    );
    // Told on samples after the window only: it fired after the restart's end plus its grace.
    let fired = got.iter().find(|e| e["event"] == "alert.fired").unwrap();
    let restart = &cli_value(p, &["history", "restart", "--json"])[0];
    let window_end = restart["finished_at_ms"]
        .as_i64()
        .or_else(|| restart["finished_at"].as_i64())
        .expect("the restart's end")
        + 2_000;
    assert!(
        fired["at_ms"].as_i64().unwrap() >= window_end,
        "{fired} vs {restart}"
    );
}

#[test]
fn a_silence_stops_repeats_and_its_end_tells_what_still_fires_once() {
    let (dir, log, _hook) = scene("");
    let p = dir.path();
    std::fs::write(
        p.join("jobs/hot.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"echo cpu_percent=97\" }\nmetrics: [ { regex: 'cpu_percent=(?P<cpu_percent>[0-9]+)' } ]\nalerts: [ { name: cpu-high, when: \"cpu_percent > 90\", repeat: 2s } ]\nnotify: { on: [alert], to: [hook] }\n",
    )
    .unwrap();
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    wait_for("the fired notice", Duration::from_secs(10), || {
        events(&log).iter().any(|e| e["event"] == "alert.fired")
    });
    let out = cli(
        p,
        &[
            "silence",
            "hot",
            "--rule",
            "cpu-high",
            "--for",
            "5s",
            "--reason",
            "known load",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let silenced_at = std::time::Instant::now();
    let before = events(&log).len();
    std::thread::sleep(Duration::from_millis(4500));
    assert_eq!(events(&log).len(), before, "no repeat while silenced");
    let listed = cli_value(p, &["silences", "--json"]);
    assert_eq!(listed["silences"][0]["reason"], "known load", "{listed}");
    // The silence shows where the alert does.
    let alerts = cli(p, &["alerts"]);
    let alerts = String::from_utf8_lossy(&alerts.stdout);
    assert!(
        alerts.lines().any(|l| l.starts_with("hot ")
            && l.contains("(silenced until ")
            && l.ends_with(": known load)")),
        "{alerts}"
    );
    wait_for("the silence's end", Duration::from_secs(15), || {
        events(&log).iter().any(|e| {
            e["alert"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("when silence 1 ended"))
        })
    });
    assert!(silenced_at.elapsed() >= Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    stop_daemon(d);
    let got = events(&log);
    assert_eq!(
        got.iter()
            .filter(|e| e["alert"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("when silence 1 ended")))
            .count(),
        1,
        "told once"
    );
    // The repeats inside the silence are recorded, not sent.
    let outbox = cli_value(p, &["notifications", "--json"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["status"] == "silenced"
                && n["last_error"]
                    .as_str()
                    .unwrap()
                    .starts_with("silenced: known load (silence 1")),
        "{outbox:#?}"
    );
}

#[test]
fn quiet_hours_from_the_config_hold() {
    // Today (UTC) and tomorrow: the notices of `nightly` are recorded, not sent, whatever the
    // hour the test runs at (the weekday logic itself is unit-tested on a weekend).
    use chrono::Datelike;
    let day = |d: chrono::Weekday| {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d.num_days_from_monday() as usize]
    };
    let today = chrono::Utc::now().weekday();
    let (dir, log, _hook) = scene(&format!(
        "silences: [ {{ jobs: [nightly], when: {{ days: [{}, {}] }}, reason: \"weekend\" }} ]\n",
        day(today),
        day(today.succ())
    ));
    let p = dir.path();
    std::fs::write(
        p.join("jobs/nightly.yaml"),
        "at_start: true\nrun: { shell: \"exit 2\" }\nnotify: { on: [failure], to: [hook] }\n",
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/other.yaml"),
        "at_start: true\nrun: { shell: \"exit 2\" }\nnotify: { on: [failure], to: [hook] }\n",
    )
    .unwrap();
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    wait_for("the other job's notice", Duration::from_secs(10), || {
        !events(&log).is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    stop_daemon(d);
    let got = events(&log);
    assert!(got.iter().all(|e| e["job"] == "other"), "{got:#?}");
    let outbox = cli_value(p, &["notifications", "--json"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["status"] == "silenced" && n["last_error"] == "silenced: weekend"),
        "{outbox:#?}"
    );
}

#[test]
fn pause_and_resume_survive_a_restart_and_paused_slots_are_skipped() {
    let (dir, _log, _hook) = scene("");
    let p = dir.path();
    std::fs::write(
        p.join("jobs/tick.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    std::thread::sleep(Duration::from_secs(2));
    let out = cli(p, &["pause", "tick", "--reason", "fixing the model name"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(3));
    stop_daemon(d);
    // Paused across a restart.
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    std::thread::sleep(Duration::from_secs(2));
    let listed = cli_value(p, &["silences", "--json"]);
    assert_eq!(
        listed["pauses"][0]["reason"], "fixing the model name",
        "{listed}"
    );
    assert!(
        listed["pauses"][0]["by"]
            .as_str()
            .is_some_and(|b| !b.is_empty())
    );
    let rows = cli_value(p, &["history", "tick", "--limit", "100", "--json"]);
    let paused_rows = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "skipped" && r["reason"] == "paused (fixing the model name)")
        .count();
    assert!(paused_rows >= 3, "{rows:#?}");
    let out = cli(p, &["resume", "tick"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_secs(3));
    stop_daemon(d);
    let rows = cli_value(p, &["history", "tick", "--limit", "1000", "--json"]);
    let rows = rows.as_array().unwrap();
    // Running again, and nothing paused was re-run: one row per slot.
    assert_eq!(rows[0]["status"], "succeeded", "{rows:#?}");
    let mut slots: Vec<i64> = rows
        .iter()
        .filter(|r| r["trigger"] == "schedule")
        .map(|r| r["slot"].as_i64().unwrap())
        .collect();
    let n = slots.len();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), n, "a slot ran twice");
}

/// One HTTP request with `headers` and a form `body`: (status, head, body).
fn raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head.to_string(),
        body.to_string(),
    )
}

/// The dashboard's actions: pause, resume and silence are POSTs that need the token, or the
/// session cookie with its CSRF token; the page shows who paused a job, when and why.
#[test]
fn dashboard_actions_need_the_token_or_the_cookie_and_its_csrf_token() {
    let (dir, _log, _hook) = scene("api: { listen: \"127.0.0.1:0\" }\n");
    let p = dir.path();
    std::fs::write(
        p.join("jobs/tick.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"echo cpu_percent=97\" }\nmetrics: [ { regex: 'cpu_percent=(?P<cpu_percent>[0-9]+)' } ]\nalerts: [ { name: cpu-high, when: \"cpu_percent > 90\" } ]\n",
    )
    .unwrap();
    let (d, addr) = spawn_daemon(p, &[], std::process::Stdio::null());
    let addr = addr.unwrap();
    let token = std::fs::read_to_string(p.join("state/api-token")).unwrap();
    // Without credentials: refused, nothing paused.
    let (code, _) = http(&addr, "POST", "/api/jobs/tick/pause?reason=x", None);
    assert_eq!(code, 401);
    // A browser session: the page's forms carry the CSRF token.
    let (_, once) = http(&addr, "POST", "/api/session/once", Some(&token));
    let once: serde_json::Value = serde_json::from_str(&once).unwrap();
    let (code, head, _) = raw(&addr, "GET", once["path"].as_str().unwrap(), &[], "");
    assert_eq!(code, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (code, _, page) = raw(&addr, "GET", "/", &[format!("Cookie: {cookie}")], "");
    assert_eq!(code, 200);
    let csrf = page
        .split("csrf=")
        .nth(1)
        .and_then(|s| s.split(['"', '&']).next())
        .expect("the forms carry the CSRF token")
        .to_string();
    // The cookie alone (what a cross-site form sends) is refused.
    let (code, _, _) = raw(
        &addr,
        "POST",
        "/api/jobs/tick/pause",
        &[format!("Cookie: {cookie}")],
        "reason=cross-site",
    );
    assert_eq!(code, 403);
    // The dashboard's own form: paused, and back to the dashboard.
    let (code, head, _) = raw(
        &addr,
        "POST",
        &format!("/api/jobs/tick/pause?csrf={csrf}"),
        &[format!("Cookie: {cookie}"), "Accept: text/html".into()],
        &format!("csrf={csrf}&reason=new+model"),
    );
    assert_eq!(code, 303, "{head}");
    let (_, _, page) = raw(&addr, "GET", "/", &[format!("Cookie: {cookie}")], "");
    assert!(page.contains("paused by api on "), "{page}");
    assert!(page.contains(": new model</span>"), "{page}");
    let jobs = http_json(&addr, "/api/jobs", Some(&token));
    assert_eq!(jobs[0]["paused"]["reason"], "new model", "{jobs}");
    // A silence from the page's button, then listed; resume with the token.
    let (code, head, _) = raw(
        &addr,
        "POST",
        &format!("/api/silences?job=tick&rule=cpu-high&for=2h&csrf={csrf}"),
        &[format!("Cookie: {cookie}"), "Accept: text/html".into()],
        "",
    );
    assert_eq!(code, 303, "{head}");
    let listed = http_json(&addr, "/api/silences", Some(&token));
    assert_eq!(listed["silences"][0]["rule"], "cpu-high", "{listed}");
    assert_eq!(listed["pauses"][0]["job"], "tick", "{listed}");
    // The paused slots, from the dashboard's backfill form, as a dry run: listed, not run.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (code, _, body) = raw(
        &addr,
        "POST",
        &format!("/api/jobs/tick/backfill?csrf={csrf}"),
        &[format!("Cookie: {cookie}")],
        &format!("csrf={csrf}&from={today}&to={today}&dry_run=1"),
    );
    assert_eq!(code, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["dry_run"], true, "{report}");
    assert!(report["slots"].as_u64().unwrap() > 0, "{report}");
    let (code, body) = http(&addr, "POST", "/api/jobs/tick/resume", Some(&token));
    assert_eq!(code, 200, "{body}");
    let (code, body) = http(&addr, "POST", "/api/silences/1/end", Some(&token));
    assert_eq!(code, 200, "{body}");
    stop_daemon(d);
    let listed = cli_value(p, &["silences", "--json"]);
    assert_eq!(listed["pauses"], serde_json::json!([]), "{listed}");
    assert_eq!(listed["silences"], serde_json::json!([]), "{listed}");
}

/// A paused job does not run when chained either: its `after` row is a skipped row.
#[test]
fn a_paused_job_is_not_run_by_its_chain() {
    let (dir, _log, _hook) = scene("");
    let p = dir.path();
    std::fs::write(
        p.join("jobs/up.yaml"),
        "at_start: true\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/down.yaml"),
        "after: { job: up }\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let out = cli(p, &["pause", "down", "--reason", "not tonight"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    wait_for("the chained row", Duration::from_secs(10), || {
        cli_value(p, &["history", "down", "--json"])
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    stop_daemon(d);
    let rows = cli_value(p, &["history", "down", "--json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["trigger"], "after");
    assert_eq!(rows[0]["status"], "skipped");
    assert_eq!(rows[0]["reason"], "paused (not tonight)");
}
