//! `clawcron backfill`, end to end through the real binary: a job that fails until a flag file
//! exists leaves failed slots; a backfill runs exactly those, each once, with its original slot
//! in `CLAWCRON_SLOT`, through the daemon or in process; a dry run lists and runs nothing;
//! slots without a row are counted as not judged; a named lock held elsewhere makes the
//! backfilled runs wait, as admission says.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn rows(dir: &Path, job: &str) -> Vec<serde_json::Value> {
    cli_value(dir, &["history", job, "--limit", "10000", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn slots_where(
    rows: &[serde_json::Value],
    f: impl Fn(&serde_json::Value) -> bool,
) -> BTreeSet<i64> {
    rows.iter()
        .filter(|r| f(r))
        .map(|r| r["slot"].as_i64().unwrap())
        .collect()
}

fn rfc3339(slot: i64) -> String {
    chrono::DateTime::from_timestamp(slot, 0)
        .unwrap()
        .to_rfc3339()
}

/// A job every second that fails until `flag` exists, printing its slot.
fn failing_job(flag: &Path, extra: &str) -> String {
    format!(
        "every: 1s\n{extra}run: {{ shell: \"echo slot=$CLAWCRON_SLOT; test -f {}\" }}\n",
        flag.display()
    )
}

/// Runs the daemon until `job` has at least `failures` failed slots and then one succeeded
/// slot (the flag is created in between); returns the daemon and the window [first, last].
fn seed(dir: &Path, job: &str, flag: &Path, failures: usize) -> (std::process::Child, i64, i64) {
    let (d, _) = spawn_daemon(dir, &[], Stdio::null());
    wait_for("failed slots", Duration::from_secs(30), || {
        rows(dir, job)
            .iter()
            .filter(|r| r["status"] == "failed")
            .count()
            >= failures
    });
    std::fs::write(flag, "").unwrap();
    wait_for("a succeeded slot", Duration::from_secs(30), || {
        rows(dir, job).iter().any(|r| r["status"] == "succeeded")
    });
    let all = rows(dir, job);
    let first = all
        .iter()
        .map(|r| r["slot"].as_i64().unwrap())
        .min()
        .unwrap();
    let last = all
        .iter()
        .filter(|r| r["status"] == "succeeded")
        .map(|r| r["slot"].as_i64().unwrap())
        .min()
        .unwrap();
    (d, first, last)
}

#[test]
fn backfill_runs_only_the_failed_slots_once_with_their_own_slot() {
    let env = Env::new();
    let p = env.dir.path();
    let flag = p.join("flag");
    env.write_job("bench", &failing_job(&flag, "overlap: allow\n"));
    let (d, first, last) = seed(p, "bench", &flag, 3);
    let before = rows(p, "bench");
    let failed = slots_where(&before, |r| {
        r["status"] == "failed" && (first..=last).contains(&r["slot"].as_i64().unwrap())
    });
    assert!(failed.len() >= 3, "{before:?}");
    let (from, to) = (rfc3339(first), rfc3339(last));

    // Dry run, with 10 seconds before the job's first row: those are not judged.
    let early = rfc3339(first - 10);
    let out = env.clawcron(
        &[
            "backfill",
            "bench",
            "--from",
            &early,
            "--to",
            &to,
            "--dry-run",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let would: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("would run (failed)"))
        .collect();
    assert_eq!(would.len(), failed.len(), "{stdout}");
    assert!(stdout.contains("10 not judged (no row"), "{stdout}");
    assert!(
        rows(p, "bench").iter().all(|r| r["trigger"] != "backfill"),
        "a dry run runs nothing"
    );

    // Through the running daemon, twice at once: each slot still runs once (the claim and
    // the "not already succeeded or running" check are one statement).
    let backfill = || {
        let dir = p.to_path_buf();
        let (from, to) = (from.clone(), to.clone());
        std::thread::spawn(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
                .current_dir(&dir)
                .args([
                    "--state-dir",
                    "state",
                    "backfill",
                    "bench",
                    "--from",
                    &from,
                    "--to",
                    &to,
                ])
                .env_remove("CLAWCRON_STATE_DIR")
                .output()
                .unwrap()
        })
    };
    let (one, two) = (backfill(), backfill());
    let mut ran = 0;
    for out in [one.join().unwrap(), two.join().unwrap()] {
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(
            stderr.contains("backfill: `bench` in the daemon"),
            "{stderr}"
        );
        ran += stdout
            .lines()
            .filter(|l| l.contains("(failed): run ") && l.ends_with(" succeeded"))
            .count();
    }
    assert_eq!(ran, failed.len());
    stop_daemon(d);

    let after = rows(p, "bench");
    let backfilled: Vec<&serde_json::Value> = after
        .iter()
        .filter(|r| r["trigger"] == "backfill")
        .collect();
    assert_eq!(
        backfilled
            .iter()
            .map(|r| r["slot"].as_i64().unwrap())
            .collect::<BTreeSet<_>>(),
        failed,
        "only the failed slots were backfilled"
    );
    assert_eq!(backfilled.len(), failed.len(), "each once");
    for r in &backfilled {
        assert_eq!(r["status"], "succeeded", "{r}");
        let slot = r["slot"].as_i64().unwrap();
        assert!(
            r["output_tail"]
                .as_str()
                .unwrap()
                .contains(&format!("slot={}", rfc3339(slot))),
            "CLAWCRON_SLOT is the original slot: {r}"
        );
    }

    // A second backfill of the same window, in process this time: nothing runs.
    let out = env.clawcron(&["backfill", "bench", "--from", &from, "--to", &to], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("running `bench` in this process"),
        "{stderr}"
    );
    assert!(stdout.contains(": 0 backfilled,"), "{stdout}");
    assert_eq!(rows(p, "bench").len(), after.len(), "no new row");
}

#[test]
fn backfilled_runs_wait_for_a_named_lock_held_by_another_job() {
    let env = Env::new();
    let p = env.dir.path();
    let flag = p.join("flag");
    // `overlap: allow`: a run whose lock is held waits for it (with `skip` it would be refused
    // and recorded as skipped, "lock busy").
    env.write_job(
        "gpubench",
        &failing_job(&flag, "overlap: allow\nlocks: [gpu]\n"),
    );
    env.write_job(
        "holder",
        "schedule: \"0 0 1 1 *\"\nlocks: [gpu]\nrun: { shell: \"sleep 3\" }\n",
    );
    let (d, first, last) = seed(p, "gpubench", &flag, 2);
    let failed = slots_where(&rows(p, "gpubench"), |r| {
        r["status"] == "failed" && (first..=last).contains(&r["slot"].as_i64().unwrap())
    });
    let dir = p.to_path_buf();
    let holder = std::thread::spawn(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(&dir)
            .args(["--state-dir", "state", "trigger", "holder"])
            .env_remove("CLAWCRON_STATE_DIR")
            .output()
            .unwrap()
    });
    wait_for("the holder to hold gpu", Duration::from_secs(10), || {
        rows(p, "holder").iter().any(|r| r["status"] == "running")
    });
    let out = env.clawcron(
        &[
            "backfill",
            "gpubench",
            "--from",
            &rfc3339(first),
            "--to",
            &rfc3339(last),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(holder.join().unwrap().status.success());
    stop_daemon(d);

    let held = rows(p, "holder");
    let holder_end = held[0]["finished_at"].as_i64().unwrap();
    let backfilled: Vec<serde_json::Value> = rows(p, "gpubench")
        .into_iter()
        .filter(|r| r["trigger"] == "backfill")
        .collect();
    assert_eq!(backfilled.len(), failed.len(), "{backfilled:?}");
    // The first backfilled run waited for the holder's lock, and started once it was free.
    let first_run = backfilled.iter().min_by_key(|r| r["id"].as_i64()).unwrap();
    assert!(
        first_run["reason"]
            .as_str()
            .unwrap_or("")
            .contains("for lock gpu"),
        "{first_run}"
    );
    for r in &backfilled {
        assert_eq!(r["status"], "succeeded", "{r}");
        assert!(r["started_at"].as_i64().unwrap() <= r["finished_at"].as_i64().unwrap());
        assert!(
            r["finished_at"].as_i64().unwrap() >= holder_end,
            "a backfilled run ended before the lock's holder: {r}"
        );
    }
}

#[test]
fn backfill_over_the_api_needs_the_token_and_pruned_slots_are_not_judged() {
    let env = Env::new();
    let p = env.dir.path();
    let flag = p.join("flag");
    // Any free port: another daemon may have the default one.
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { listen: \"127.0.0.1:0\" }\n",
    )
    .unwrap();
    env.write_job("bench", &failing_job(&flag, "overlap: allow\n"));
    let (d, first, last) = seed(p, "bench", &flag, 2);
    let (d2, addr) = {
        stop_daemon(d);
        spawn_daemon(p, &[], Stdio::null())
    };
    let addr = addr.expect("the API's address");
    let token = std::fs::read_to_string(p.join("state/api-token")).unwrap();
    let path = format!(
        "/api/jobs/bench/backfill?from={first}&to={last}&dry_run=true",
        first = rfc3339(first).replace('+', "%2B"),
        last = rfc3339(last).replace('+', "%2B"),
    );
    let (status, body) = http(&addr, "POST", &path, None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = http(&addr, "POST", &path, Some(token.trim()));
    assert_eq!(status, 200, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["dry_run"], true);
    assert!(report["runs"].as_array().unwrap().len() >= 2, "{report}");
    assert!(
        report["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["why"] == "failed" && r["run_id"].is_null())
    );
    stop_daemon(d2);
    assert!(rows(p, "bench").iter().all(|r| r["trigger"] != "backfill"));

    // Retention prunes the window's rows (one row kept per job, at the daemon's start): those
    // slots are not judged, and nothing runs.
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { enabled: false }\nretention: { max_runs_per_job: 1 }\n",
    )
    .unwrap();
    let (d3, _) = spawn_daemon(p, &[], Stdio::null());
    stop_daemon(d3);
    let window = (last - first + 1) as usize;
    let kept = slots_where(&rows(p, "bench"), |r| {
        (first..=last).contains(&r["slot"].as_i64().unwrap())
    });
    // The newest row is kept: at most the window's succeeded last slot.
    assert!(
        kept.len() <= 1 && kept.iter().all(|s| *s == last),
        "{kept:?}"
    );
    let out = env.clawcron(
        &[
            "backfill",
            "bench",
            "--from",
            &rfc3339(first),
            "--to",
            &rfc3339(last),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "bench: {window} slots in the window: 0 backfilled, {} already succeeded, 0 left as they are, {} not judged (no row: pruned, or before the job)",
            kept.len(),
            window - kept.len()
        )),
        "{stdout}"
    );
    assert!(rows(p, "bench").iter().all(|r| r["trigger"] != "backfill"));
}

#[test]
fn a_backfilled_report_covers_the_week_of_its_slot_not_this_week() {
    use chrono::Datelike;
    let env = Env::new();
    let p = env.dir.path();
    std::fs::write(p.join("clawcron.yaml"), "timezone: UTC\n").unwrap();
    env.write_job(
        "weekly",
        "schedule: \"0 8 * * 1\"\nrun: { report: { period: this-week, evidence: { ollama_url: \"http://127.0.0.1:9\" } } }\n",
    );
    // A slot three weeks ago, missed while the daemon was down (as the scheduler records it).
    let now = chrono::Utc::now();
    let monday =
        now.date_naive().week(chrono::Weekday::Mon).first_day() - chrono::Duration::weeks(3);
    let slot = monday.and_hms_opt(8, 0, 0).unwrap().and_utc().timestamp();
    // The ledger, migrated, with that slot's row.
    std::fs::create_dir_all(p.join("state")).unwrap();
    clawcron::store::Store::open(&p.join("state")).unwrap();
    rusqlite::Connection::open(p.join("state/clawcron.db"))
        .unwrap()
        .execute(
            "INSERT INTO runs (job, trigger, slot, status, reason) VALUES ('weekly', 'schedule', ?1, 'skipped', 'missed: daemon not running')",
            [slot],
        )
        .unwrap();
    let day = monday.format("%Y-%m-%d").to_string();
    let out = env.clawcron(&["backfill", "weekly", "--from", &day, "--to", &day], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(missed: daemon not running): run "),
        "{stdout}"
    );
    let week = monday.iso_week();
    let label = format!("{}-W{:02}", week.year(), week.week());
    assert!(
        p.join(format!("reports/weekly-{label}.md")).exists(),
        "the report of {label}: {:?}",
        std::fs::read_dir(p.join("reports"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    let this = now.iso_week();
    assert!(
        !p.join(format!(
            "reports/weekly-{}-W{:02}.md",
            this.year(),
            this.week()
        ))
        .exists(),
        "not this week's"
    );
}
