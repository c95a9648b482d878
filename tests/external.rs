//! `external` jobs (a dead-man's switch), end to end: the real daemon, pings sent by `curl`
//! from the line `clawcron ping-url` prints, the ledger read through `clawcron history`, and a
//! webhook stand-in for the notice of a missed slot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, http, received, spawn_daemon, standin, stop_daemon, wait_for};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until `offset` seconds after the next multiple of `every` seconds; returns that slot.
fn next_slot(every: i64, offset: f64) -> i64 {
    let now = now_s();
    let slot = (now as i64 / every + 1) * every;
    std::thread::sleep(Duration::from_secs_f64(slot as f64 + offset - now));
    slot
}

/// `clawcron ping-url ARGS`: (the URL, the curl line), asserting it succeeded.
fn ping_url(env: &Env, args: &[&str]) -> (String, String) {
    let mut all = vec!["ping-url"];
    all.extend_from_slice(args);
    let out = env.clawcron(&all, &[]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {text}"))
            .to_string()
    };
    (line("url: "), line("curl: "))
}

/// Runs `printf BODY | CURL_LINE[SUFFIX]` through `sh`, as a crontab would, with curl's
/// `-w` printing the status; returns (HTTP status, curl's output).
fn curl(curl_line: &str, suffix: &str, body: &str) -> (u16, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf '%s' \"$BODY\" | {line}{suffix} -w '\\n%{{http_code}}'",
            line = curl_line.replace("-fsS ", "-sS ")
        ))
        .env("BODY", body)
        .stderr(Stdio::inherit())
        .output()
        .expect("curl (and sh) are needed");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (answer, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), answer.to_string())
}

/// Each slot has one row, and none is left running.
fn one_row_per_slot(rows: &[serde_json::Value]) {
    let mut slots: Vec<i64> = rows.iter().map(|r| r["slot"].as_i64().unwrap()).collect();
    assert!(!slots.is_empty());
    assert!(rows.iter().all(|r| r["status"] != "running"), "{rows:?}");
    slots.sort_unstable();
    let n = slots.len();
    slots.dedup();
    assert_eq!(slots.len(), n, "a slot with two rows: {rows:?}");
}

fn rows_of(env: &Env, job: &str) -> Vec<serde_json::Value> {
    env.history()
        .into_iter()
        .filter(|r| r["job"] == job)
        .collect()
}

fn row_at(env: &Env, job: &str, slot: i64) -> Vec<serde_json::Value> {
    rows_of(env, job)
        .into_iter()
        .filter(|r| r["slot"] == slot)
        .collect()
}

fn setup(extra_global: &str) -> Env {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("clawcron.yaml"),
        format!(
            "timezone: UTC\nshutdown_grace: 2s\napi: {{ listen: \"127.0.0.1:0\" }}\nping_listen: \"127.0.0.1:0\"\n{extra_global}"
        ),
    )
    .unwrap();
    env
}

#[test]
fn pings_from_curl_record_one_row_per_slot_with_duration_output_and_metrics() {
    let env = setup("");
    env.write_job(
        "backup",
        "schedule: \"*/5 * * * * *\"\nrun: { external: { grace: 3s } }\nmetrics:\n  - regex: 'files=(?P<files>\\d+)'\n",
    );
    env.write_job(
        "yearly",
        "schedule: \"0 0 1 1 *\"\nrun: { external: { grace: 30m } }\n",
    );
    let (d, api) = spawn_daemon(env.dir.path(), &[], Stdio::null());
    let api = api.expect("the API address");
    let pings = std::fs::read_to_string(env.dir.path().join("state/ping.addr")).unwrap();
    let (url, line) = ping_url(&env, &["backup"]);
    assert!(
        url.starts_with(&format!("http://{pings}/ping/backup/")),
        "{url}"
    );
    assert_eq!(
        line,
        format!("curl -fsS -m 10 --retry 3 --data-binary @- {url}")
    );
    let key = url.rsplit('/').next().unwrap().to_string();

    // The key is stored hashed: the ledger's row is its SHA-256, not the key.
    let db = rusqlite::Connection::open(env.dir.path().join("state/clawcron.db")).unwrap();
    let stored: String = db
        .query_row("SELECT hash FROM ping_keys WHERE job = 'backup'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_ne!(stored, key);
    assert!(!stored.contains(&key));
    {
        use sha2::Digest;
        assert_eq!(stored, hex::encode(sha2::Sha256::digest(key.as_bytes())));
    }

    // A slot: start, then success with a body carrying a metric.
    let slot = next_slot(5, 0.3);
    let (code, answer) = curl(&line, "/start", "");
    assert_eq!(code, 200, "{answer}");
    std::thread::sleep(Duration::from_millis(700));
    let (code, answer) = curl(&line, "", "copied files=42\nall done\n");
    assert_eq!(code, 200, "{answer}");
    wait_for("the slot's success", Duration::from_secs(5), || {
        row_at(&env, "backup", slot)
            .first()
            .is_some_and(|r| r["status"] == "succeeded")
    });
    let row = row_at(&env, "backup", slot).remove(0);
    let took = row["duration_ms"].as_i64().unwrap();
    assert!((600..3000).contains(&took), "duration {took} ms: {row}");
    assert_eq!(row["reason"], serde_json::Value::Null, "{row}");
    assert!(
        row["output_tail"].as_str().unwrap().ends_with("all done\n"),
        "{row}"
    );
    let metrics = common::cli_value(env.dir.path(), &["metrics", "backup", "--json"]);
    assert!(
        metrics
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["run_id"] == row["id"] && m["name"] == "files" && m["value"] == 42.0),
        "{metrics}"
    );

    // A second ping for the same slot makes no second row and changes nothing.
    let (code, answer) = curl(&line, "", "again\n");
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("nothing changed"), "{answer}");
    let again = row_at(&env, "backup", slot);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["output_tail"], row["output_tail"]);

    // A wrong key is refused and writes nothing; so is a job that is not there.
    let wrong = line.replace(&key, &"0".repeat(64));
    let (code, _) = curl(&wrong, "", "");
    assert_eq!(code, 404);
    let (code, _) = curl(&line.replace("/backup/", "/nosuch/"), "", "");
    assert_eq!(code, 404);

    // A ping before the job's first slot is refused.
    let (_, yearly) = ping_url(&env, &["yearly"]);
    let (code, answer) = curl(&yearly, "", "");
    assert_eq!(code, 409, "{answer}");
    assert!(rows_of(&env, "yearly").is_empty());

    // Rotating: the old key stops working, the new one works.
    let (new_url, new_line) = ping_url(&env, &["backup", "--rotate"]);
    assert_ne!(new_url, url);
    let without = env.clawcron(&["ping-url", "backup"], &[]);
    assert_eq!(without.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("--rotate"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    let next = next_slot(5, 0.3);
    let (code, _) = curl(&line, "", "old key\n");
    assert_eq!(code, 404, "the old key still works");
    // The slot the wrong key pinged is not taken by it: the new key's ping is.
    let (code, answer) = curl(&new_line, "/0", "new key\n");
    assert_eq!(code, 200, "{answer}");
    wait_for("the next slot's success", Duration::from_secs(5), || {
        row_at(&env, "backup", next)
            .first()
            .is_some_and(|r| r["status"] == "succeeded")
    });
    let row = row_at(&env, "backup", next).remove(0);
    assert_eq!(row["output_tail"], "new key\n");
    assert_eq!(row["exit_code"], 0);
    // The status API on loopback takes pings too, with no token.
    let new_key = new_url.rsplit('/').next().unwrap();
    let (status, answer) = http(&api, "POST", &format!("/ping/backup/{new_key}/start"), None);
    assert_eq!(status, 200, "{answer}");
    // By hand there is nothing to run: a skipped manual row says why.
    let out = env.clawcron(&["trigger", "backup"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let manual: Vec<serde_json::Value> = rows_of(&env, "backup")
        .into_iter()
        .filter(|r| r["trigger"] == "manual")
        .collect();
    assert_eq!(manual.len(), 1, "{manual:?}");
    assert_eq!(manual[0]["status"], "skipped");
    assert!(
        manual[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("an `external` job runs elsewhere"),
        "{manual:?}"
    );

    // The ping listener serves /ping and nothing else; the API stays where it was.
    for path in ["/api/jobs", "/healthz", "/", "/metrics"] {
        let (status, _) = http(&pings, "GET", path, None);
        assert_eq!(status, 404, "{path} on the ping listener");
    }
    assert_eq!(http(&api, "GET", "/api/jobs", None).0, 401);
    stop_daemon(d);
    let scheduled: Vec<serde_json::Value> = rows_of(&env, "backup")
        .into_iter()
        .filter(|r| r["trigger"] == "schedule")
        .collect();
    one_row_per_slot(&scheduled);
}

#[test]
fn a_missing_ping_is_missed_and_notified_and_a_late_one_turns_the_row_late() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let hook = standin("webhook", &["--log", log.to_str().unwrap()]);
    let env = setup(&format!(
        "notifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/hook\" }} }}\n",
        hook.port
    ));
    env.write_job(
        "offsite",
        "schedule: \"*/10 * * * * *\"\nrun: { external: { grace: 2s } }\nnotify: { on: [failure], to: [hook] }\n",
    );
    let (d, _) = spawn_daemon(env.dir.path(), &[], Stdio::null());
    let (_, line) = ping_url(&env, &["offsite"]);

    // No ping: by the slot + grace + 1 s the slot is missed.
    let slot = next_slot(10, 0.0);
    wait_for("the missed slot", Duration::from_secs(4), || {
        row_at(&env, "offsite", slot)
            .first()
            .is_some_and(|r| r["status"] == "failed")
    });
    assert!(
        now_s() < slot as f64 + 3.0 + 0.5,
        "recorded missed too late"
    );
    let row = row_at(&env, "offsite", slot).remove(0);
    assert_eq!(row["reason"], "missed", "{row}");
    assert_eq!(
        row["error"], "missed: no ping within 2s of the slot",
        "{row}"
    );
    wait_for("the failure notice", Duration::from_secs(5), || {
        received(&log).iter().any(|r| {
            let notice: serde_json::Value =
                serde_json::from_str(r["body"].as_str().unwrap_or("")).unwrap_or_default();
            notice["event"] == "failure"
                && notice["job"] == "offsite"
                && notice.to_string().contains("missed: no ping within 2s")
        })
    });

    // A late ping turns that very row into a late success; no second row.
    std::thread::sleep(Duration::from_secs_f64(
        (slot as f64 + 4.0 - now_s()).max(0.0),
    ));
    let (code, answer) = curl(&line, "", "finally\n");
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("late"), "{answer}");
    let rows = row_at(&env, "offsite", slot);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "succeeded", "{:?}", rows[0]);
    let reason = rows[0]["reason"].as_str().unwrap();
    assert!(
        [
            "late: ping 4s after the slot",
            "late: ping 5s after the slot"
        ]
        .contains(&reason),
        "{reason}"
    );
    assert_eq!(rows[0]["output_tail"], "finally\n");
    assert_eq!(rows[0]["error"], serde_json::Value::Null);
    stop_daemon(d);
    one_row_per_slot(&rows_of(&env, "offsite"));
}

#[test]
fn an_external_job_with_a_timeout_retries_or_no_slots_is_a_located_error() {
    let env = setup("");
    env.write_job(
        "bad",
        "every: 1h\ntimeout: 5m\nrun: { external: { grace: 30m } }\n",
    );
    env.write_job("nogrid", "at_start: true\nrun: { external: {} }\n");
    env.write_job("short", "every: 1h\nrun: { external: { grace: 0s } }\n");
    env.write_job(
        "retried",
        "every: 1h\nretry: { attempts: 3 }\nrun: { external: {} }\n",
    );
    let out = env.clawcron(&["check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "error: jobs/bad.yaml:2:10: `timeout`: `timeout` does not apply to an `external` job: it runs elsewhere\n",
        "error: jobs/nogrid.yaml:2:6: `run.external`: an `external` job needs a `schedule` or `every`: its pings are expected per slot\n",
        "error: jobs/short.yaml:2:27: `run.external.grace`: `0s` is too short\n",
        "error: jobs/retried.yaml:2:8: `retry`: `retry` does not apply to an `external` job: it runs elsewhere\n",
        "4 errors in 4 files; 0 valid jobs",
    ] {
        assert!(err.contains(expected), "no `{expected}` in:\n{err}");
    }
}

#[test]
fn a_slot_waiting_when_the_daemon_stops_is_interrupted_and_a_later_ping_makes_it_late() {
    let env = setup("");
    env.write_job(
        "nas",
        "schedule: \"*/10 * * * * *\"\nrun: { external: { grace: 1m } }\n",
    );
    let (d, _) = spawn_daemon(env.dir.path(), &[], Stdio::null());
    let (_, line) = ping_url(&env, &["nas"]);
    let slot = next_slot(10, 0.5);
    wait_for("the slot's row", Duration::from_secs(3), || {
        !row_at(&env, "nas", slot).is_empty()
    });
    // Stopping does not wait for pings (the grace is a minute, the shutdown grace 2 s).
    let stopping = std::time::Instant::now();
    stop_daemon(d);
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    let row = row_at(&env, "nas", slot).remove(0);
    assert_eq!(row["status"], "interrupted", "{row}");

    let old = std::fs::read_to_string(env.dir.path().join("state/ping.addr"));
    assert!(old.is_err(), "ping.addr is removed at stop");
    let (d, _) = spawn_daemon(env.dir.path(), &[], Stdio::null());
    // The listener's port is chosen anew (port 0): the same key at the new address.
    let addr = std::fs::read_to_string(env.dir.path().join("state/ping.addr")).unwrap();
    let line = match line.split_once("http://") {
        Some((head, url)) => {
            let path = &url[url.find('/').unwrap()..];
            format!("{head}http://{addr}{path}")
        }
        None => panic!("no URL in {line}"),
    };
    let (code, answer) = curl(&line, "", "done at last\n");
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("late"), "{answer}");
    let rows = row_at(&env, "nas", slot);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], "succeeded", "{:?}", rows[0]);
    assert!(
        rows[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("late: ping "),
        "{:?}",
        rows[0]
    );
    assert_eq!(rows[0]["output_tail"], "done at last\n");
    stop_daemon(d);
}
