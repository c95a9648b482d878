//! The crash suite: the daemon is killed with SIGKILL at random moments while jobs run and
//! notices are being delivered, and restarted, again and again; then it runs once more and stops
//! cleanly. Afterwards every slot of the every-second job has exactly one terminal row (none lost,
//! none doubled, none left `running`), no slot's command ran twice, and every notice of the outbox
//! reached the receiver once.
//!
//! `CRASH_ITERATIONS` sets how many kills (CI: 6; `scripts/crash-suite` runs 100).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli_value as cli;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn start(dir: &Path) -> Child {
    common::spawn_daemon(dir, &[], Stdio::null()).0
}

#[test]
fn kill_9_at_random_moments_loses_and_doubles_nothing() {
    let iterations: u64 = std::env::var("CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let log = p.join("hook.jsonl");
    let hook = common::standin("webhook", &["--log", log.to_str().unwrap()]);
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotify_retry: 200ms\napi: {{ enabled: false }}\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/h\" }} }}\n",
            hook.port
        ),
    )
    .unwrap();
    let ran = p.join("ran.log");
    // Every slot is owed a run, late ones included; each run leaves its slot in ran.log.
    std::fs::write(
        p.join("jobs/tick.yaml"),
        format!(
            "schedule: \"* * * * * *\"\nmissed: {{ policy: all, max_lateness: 1h }}\noverlap: allow\nrun: {{ shell: \"echo $CLAWCRON_SLOT >> {}; sleep 0.3\" }}\n",
            ran.display()
        ),
    )
    .unwrap();
    // A failing job that notifies, so that notices are being delivered when the kills come.
    std::fs::write(
        p.join("jobs/alarm.yaml"),
        "schedule: \"*/2 * * * * *\"\nmissed: { policy: skip }\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [hook], failures: every }\n",
    )
    .unwrap();
    // A fixed pseudo-random sequence: the same moments on every run of the suite.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..iterations {
        let mut d = start(p);
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(100 + (seed >> 33) % 1500));
        d.kill().unwrap(); // SIGKILL
        d.wait().unwrap();
    }
    // Once more, long enough to deliver what is pending, then a clean stop. The alarm goes
    // first (the daemon reloads without it), so that no new notice is queued in the instant
    // between the last look at the outbox and the stop.
    let mut d = start(p);
    std::fs::remove_file(p.join("jobs/alarm.yaml")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let pending = cli(p, &["notifications", "--limit", "100000", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["status"] == "pending")
            .count();
        if pending == 0 || Instant::now() > deadline {
            break;
        }
    }
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    d.wait().unwrap();

    let rows = cli(p, &["history", "tick", "--limit", "1000000", "--json"]);
    let rows = rows.as_array().unwrap();
    let (first, last) = common::assert_each_slot_once(rows);
    // No slot's command ran twice.
    let ran = std::fs::read_to_string(&ran).unwrap();
    let ran: Vec<&str> = ran.lines().collect();
    let unique: BTreeSet<&str> = ran.iter().copied().collect();
    assert_eq!(unique.len(), ran.len(), "a slot ran twice");
    // Every notice delivered, once.
    let outbox = cli(p, &["notifications", "--limit", "100000", "--json"]);
    let keys: BTreeSet<String> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_string())
        .collect();
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["status"] == "sent"),
        "{outbox}"
    );
    let got: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["headers"]["x-clawcron-delivery"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let delivered: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(
        delivered, keys,
        "every notice of the outbox reached the receiver"
    );
    assert_eq!(got.len(), delivered.len(), "a notice arrived twice");
    eprintln!(
        "crash suite: {iterations} kills, {} slots ({} ran), {} notices, all once",
        last - first + 1,
        ran.len(),
        keys.len()
    );
}
