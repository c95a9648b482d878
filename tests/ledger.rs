//! The ledger's calls give the same answers on SQLite and on a real PostgreSQL: one scripted
//! session of every kind of write and read, run on both, its transcripts compared line by line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clawcron::model::{
    AlertEvent, Delivery, Metric, Notice, RunOutcome, RunRecord, RunStatus, Silence, State,
};
use clawcron::store::db::PgTarget;
use clawcron::store::{LateRow, SlotDecision, Store};
use common::pg::{PASSWORD, Postgres};

fn outcome(status: RunStatus, at: i64, metrics: &[(&str, f64)]) -> RunOutcome {
    RunOutcome {
        status,
        reason: None,
        attempts: 1,
        started_at_ms: at,
        finished_at_ms: at + 250,
        exit_code: Some(if status == RunStatus::Succeeded { 0 } else { 1 }),
        error: (status != RunStatus::Succeeded).then(|| "exit 1".to_string()),
        output_tail: format!("out at {at}"),
        metrics: metrics.iter().map(|(n, v)| Metric::new(*n, *v)).collect(),
    }
}

fn notice(key: &str, job: &str, at: i64) -> Notice {
    Notice {
        key: key.into(),
        channel: "hook".into(),
        payload: serde_json::json!({ "event": key, "job": job }),
        at_ms: at,
        quiet: None,
    }
}

/// Every kind of ledger call, in a fixed order; what each returned, one line each.
fn session(s: &Store) -> Vec<String> {
    let mut t: Vec<String> = Vec::new();
    let mut say = |what: &str, v: String| t.push(format!("{what}: {v}"));
    let b = "boot-1";

    // Slots: a claim, a second claim of the same slot (refused), a skip, cursors.
    let claims = s
        .record_slots(
            &[
                ("health", 60, SlotDecision::Run { reason: None }),
                (
                    "health",
                    120,
                    SlotDecision::Skip {
                        reason: "missed".into(),
                    },
                ),
            ],
            &[("health", 120, "every 1m".into())],
            b,
            60_000,
        )
        .unwrap();
    assert!(claims[0].is_some() && claims[1].is_none());
    let again = s
        .record_slots(
            &[("health", 60, SlotDecision::Run { reason: None })],
            &[("health", 60, "every 1m".into())],
            b,
            60_001,
        )
        .unwrap();
    assert_eq!(again, vec![None], "a slot is claimed once");
    say("claims", format!("{claims:?} {again:?}"));
    let mut cursors: Vec<_> = s.cursors().unwrap().into_iter().collect();
    cursors.sort();
    assert_eq!(cursors[0].1.0, 120, "a cursor never moves back");
    say("cursors", format!("{cursors:?}"));
    s.reset_cursors(&[("bench", 0, "0 3 * * *".into())])
        .unwrap();

    // Runs of every trigger, their outcomes (through the writer thread), figures.
    let first = claims[0].unwrap();
    s.set_pid_later(first, 4242);
    s.finish_later(
        first,
        outcome(
            RunStatus::Succeeded,
            60_000,
            &[("total_ms", 120.5), ("up", 1.0)],
        ),
    );
    let manual = s.start_run("health", "manual", 170, b, 170_000).unwrap();
    s.finish_later(manual, outcome(RunStatus::Failed, 170_000, &[]));
    let fix = s
        .start_run_caused("health", "remediation", 171, b, 171_000, "alert latency")
        .unwrap();
    s.finish_later(fix, outcome(RunStatus::Succeeded, 171_000, &[]));
    let skipped = s
        .record_skipped_run("preload", "at_start", 0, b, "done this boot")
        .unwrap();
    let chained = s
        .start_run_once("report", "after", 180, b, 180_000, "run 1")
        .unwrap();
    let chained_again = s
        .start_run_once("report", "after", 180, b, 180_000, "run 1")
        .unwrap();
    assert!(chained.is_some() && chained_again.is_none());
    let refused = s
        .record_skipped_once("report", "after", 181, b, "busy", Some("run 2"))
        .unwrap();
    let refused_again = s
        .record_skipped_once("report", "after", 181, b, "busy", Some("run 2"))
        .unwrap();
    assert!(refused.is_some() && refused_again.is_none());
    let backfill_done = s.start_backfill("health", 60, b, 200_000).unwrap();
    assert_eq!(
        backfill_done, None,
        "a slot that succeeded is not backfilled"
    );
    let backfill = s.start_backfill("health", 120, b, 200_000).unwrap();
    assert!(backfill.is_some());
    assert_eq!(s.start_backfill("health", 120, b, 200_001).unwrap(), None);
    s.finish_later(
        backfill.unwrap(),
        outcome(RunStatus::Succeeded, 200_000, &[("total_ms", 99.0)]),
    );
    assert_eq!(s.flush(), 0);
    assert!(first < manual && manual < fix && fix < skipped);
    say(
        "slot rows",
        format!("{:?}", s.slot_rows("health", 0, 1_000).unwrap()),
    );
    say(
        "at_start done",
        format!("{}", s.at_start_done("preload", b).unwrap()),
    );
    say("history", format!("{:?}", s.history(None, 50).unwrap()));
    say(
        "history of health",
        format!("{:?}", s.history(Some("health"), 2).unwrap()),
    );

    // The after-run stage's record: alert state, events and notices in one transaction.
    let next = s.start_run("health", "schedule", 240, b, 240_000).unwrap();
    let state = State {
        since: Some(240_000),
        peak: Some(7.5),
        ..State::default()
    };
    s.record(
        next,
        RunRecord {
            outcome: outcome(RunStatus::Failed, 240_000, &[("total_ms", 7_500.0)]),
            alert_states: vec![("health".into(), "latency".into(), state, 240_250)],
            events: vec![AlertEvent {
                job: "health".into(),
                rule: "failures".into(),
                kind: "failing".into(),
                value: 1.0,
                detail: "it failed".into(),
                at: 240_250,
            }],
            notices: vec![notice("fired", "health", 240_250)],
        },
    );
    s.record_events(
        &[AlertEvent {
            job: "health".into(),
            rule: "latency".into(),
            kind: "remediated".into(),
            value: 7.5,
            detail: "restarted".into(),
            at: 240_300,
        }],
        &[
            notice("remediated", "health", 240_300),
            notice("other", "bench", 240_200),
        ],
    )
    .unwrap();
    s.record_alert_event("health", "latency", "escalated", 2.0, "again", 240_400)
        .unwrap();
    say(
        "alert state",
        format!("{:?}", s.alert_state("health", "latency").unwrap()),
    );
    say("alerts", format!("{:?}", s.alerts().unwrap()));
    say(
        "count events",
        format!(
            "{}",
            s.count_alert_events("health", "latency", &["remediated", "escalated"], 0)
                .unwrap()
        ),
    );
    say("events", format!("{:?}", s.alert_events(0).unwrap()));
    let later = s.start_run("health", "schedule", 300, b, 300_000).unwrap();
    say(
        "previous outcome",
        format!("{:?}", s.previous_outcome("health", later).unwrap()),
    );
    say(
        "failures told",
        format!("{:?}", s.failures_told("health", 0).unwrap()),
    );

    // Figures.
    let (rows, top) = s.metrics_after(0).unwrap();
    assert_eq!(rows.len() as i64, top);
    let (newer, _) = s.metrics_after(top - 1).unwrap();
    assert_eq!(newer.len(), 1);
    say("metrics after", format!("{rows:?} {top}"));
    say("metrics", format!("{:?}", s.metrics("health", 0).unwrap()));
    say("metric keys", format!("{:?}", s.metric_keys().unwrap()));
    say(
        "series",
        format!(
            "{:?}",
            s.series("health", "total_ms", 0, 1_000_000).unwrap()
        ),
    );
    say(
        "recent",
        format!(
            "{:?}",
            s.recent_successful_metrics("health", later, 5).unwrap()
        ),
    );
    say(
        "latest",
        format!("{:?}", s.latest_metrics("health").unwrap()),
    );
    s.pin_baseline(
        "health",
        &[("total_ms".into(), 120.5)],
        Some("before"),
        400_000,
    )
    .unwrap();
    s.pin_baseline("health", &[("total_ms".into(), 110.0)], None, 500_000)
        .unwrap();
    say("baselines", format!("{:?}", s.baselines().unwrap()));
    say(
        "runs between",
        format!("{:?}", s.runs_between(0, 1_000_000).unwrap()),
    );
    say(
        "last success",
        format!("{:?}", s.last_success_by_job().unwrap()),
    );

    // The outbox: lanes, leases, deliveries.
    say("pending", format!("{}", s.pending_notices().unwrap()));
    let claimed = s.claim_notices(250_000, 10, 30_000).unwrap();
    let keys: Vec<_> = claimed.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["other", "fired"], "one lane's head at a time");
    assert!(s.claim_notices(250_000, 10, 30_000).unwrap().is_empty());
    s.record_delivery(
        claimed[1].id,
        &Delivery::Retry {
            error: "503".into(),
            at: 260_000,
        },
        250_100,
    )
    .unwrap();
    s.record_delivery(
        claimed[0].id,
        &Delivery::Sent {
            answer: "200".into(),
        },
        250_100,
    )
    .unwrap();
    say("next notice", format!("{:?}", s.next_notice_at().unwrap()));
    let retried = s.claim_notices(260_000, 10, 30_000).unwrap();
    say("retried", format!("{retried:?}"));
    say(
        "released",
        format!("{}", s.release_dead_claims(|_| false).unwrap()),
    );
    s.record_delivery(
        retried[0].id,
        &Delivery::Failed {
            error: "400".into(),
        },
        260_100,
    )
    .unwrap();
    say("notices", format!("{:?}", s.notices(10).unwrap()));
    say(
        "notices between",
        format!("{:?}", s.notices_between(0, 1_000_000).unwrap()),
    );

    // Sessions and downtime.
    let one = s.start_session(b, 1_000_000).unwrap();
    s.session_alive(1_060_000).unwrap();
    s.end_session(one, 1_100_000).unwrap();
    let _two = s.start_session("boot-2", 2_000_000).unwrap();
    say(
        "downtime",
        format!("{:?}", s.downtime(0, 3_000_000).unwrap()),
    );
    say("first start", format!("{:?}", s.first_start_ms().unwrap()));

    // Pauses, silences, maintenance windows.
    s.pause("bench", "tuning", "me", 10).unwrap();
    s.pause("bench", "still tuning", "you", 20).unwrap();
    say("pauses", format!("{:?}", s.pauses().unwrap()));
    say("resume", format!("{:?}", s.resume("bench").unwrap()));
    say("resume again", format!("{:?}", s.resume("bench").unwrap()));
    let silence = Silence {
        id: 0,
        job: "health".into(),
        rule: Some("latency".into()),
        reason: "upgrade".into(),
        by: "me".into(),
        created_at_ms: 100,
        ends_at_ms: 5_000,
    };
    let sid = s.add_silence(&silence).unwrap();
    let _all = s
        .add_silence(&Silence {
            rule: None,
            ends_at_ms: 9_000,
            ..silence.clone()
        })
        .unwrap();
    say("active", format!("{:?}", s.active_silences(1_000).unwrap()));
    say(
        "next end",
        format!("{:?}", s.next_silence_end(1_000).unwrap()),
    );
    say("end", format!("{:?}", s.end_silence(sid, 2_000).unwrap()));
    say(
        "to tell",
        format!("{:?}", s.silences_to_tell(2_000).unwrap()),
    );
    // Telling a silence's end is claimed: once, by one process of all the nodes.
    assert!(s.silence_told(sid).unwrap());
    assert!(!s.silence_told(sid).unwrap());
    say(
        "to tell after",
        format!("{:?}", s.silences_to_tell(10_000).unwrap()),
    );
    let w = s
        .open_window("restart", 9, &["health".into()], 3_000)
        .unwrap();
    say(
        "windows",
        format!("{:?}", s.open_windows(3_500, None).unwrap()),
    );
    s.close_window(w, 4_000).unwrap();
    s.open_window("restart", 10, &["health".into()], 5_000)
        .unwrap();
    say(
        "stale windows",
        format!("{:?}", s.open_windows(6_000, Some(120_000)).unwrap()),
    );

    // External jobs: ping keys, a late ping.
    s.set_ping_key("backup", "abc", 1).unwrap();
    s.set_ping_key("backup", "def", 2).unwrap();
    say(
        "ping key",
        format!(
            "{:?} {:?} {:?}",
            s.ping_key_hash("backup").unwrap(),
            s.ping_key_made("backup").unwrap(),
            s.ping_key_hash("none").unwrap()
        ),
    );
    let open = s
        .open_window("restart", 11, &["backup".into()], 590_000)
        .unwrap();
    s.pause("gpu-bench", "tuning", "me", 590_000).unwrap();
    let slot = s
        .record_slots(
            &[("backup", 600, SlotDecision::Run { reason: None })],
            &[],
            b,
            600_000,
        )
        .unwrap()[0]
        .unwrap();
    // On PostgreSQL (a cluster's ledger) the claim reads the open maintenance windows and the
    // pauses in the same statement, so the run it starts is admitted on them without another
    // round trip.
    let seen = s.claimed_quiet();
    if s.pg_pool().is_ok() {
        let seen = seen.expect("the claim read the windows and pauses");
        let paused: Vec<String> = s.pauses().unwrap().into_iter().map(|p| p.job).collect();
        assert_eq!(paused, vec!["gpu-bench".to_string()]);
        assert_eq!(
            seen.pauses
                .iter()
                .map(|p| p.job.clone())
                .collect::<Vec<_>>(),
            paused
        );
        let seen = seen.windows;
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(
            (seen[0].id, seen[0].run_id, seen[0].ends_at_ms),
            (open, 11, None)
        );
        assert_eq!(seen[0].quiets, vec!["backup".to_string()]);
    } else {
        assert!(seen.is_none());
    }
    s.close_window(open, 600_500).unwrap();
    s.resume("gpu-bench").unwrap();
    s.finish_later(slot, outcome(RunStatus::Failed, 600_000, &[]));
    s.flush();
    let (id, at, status) = s.latest_slot_run("backup", 700).unwrap().unwrap();
    assert_eq!(id, slot);
    say("latest slot", format!("{at} {status:?}"));
    let late = s
        .mark_late(
            slot,
            &LateRow {
                status: RunStatus::Succeeded,
                reason: "pinged late",
                error: None,
                exit_code: Some(0),
                output: "ok",
                at_ms: 650_000,
                metrics: &[Metric::new("bytes", 1024.0)],
            },
        )
        .unwrap();
    assert!(late);
    say(
        "after late",
        format!("{:?}", s.history(Some("backup"), 5).unwrap()),
    );

    // Crash recovery and retention.
    let left = s.start_run("bench", "manual", 900, b, 900_000).unwrap();
    let interrupted = s.recover_interrupted(950_000).unwrap();
    assert!(interrupted.iter().any(|i| i.id == left));
    say("interrupted", format!("{interrupted:?}"));
    say(
        "retention",
        format!("{}", s.apply_retention(3, 100_000).unwrap()),
    );
    say(
        "after retention",
        format!("{:?}", s.history(None, 100).unwrap()),
    );
    t
}

/// A transcript without row ids: PostgreSQL's sequences skip the numbers of inserts that lost
/// to a conflict (a slot claimed twice), SQLite's do not; what the rows say must be the same.
fn without_ids(t: &[String]) -> Vec<String> {
    let ids = regex::Regex::new(r"\b(id|run_id|row): \d+").unwrap();
    let some = regex::Regex::new(r"Some\(\d+\)").unwrap();
    t.iter()
        .map(|l| {
            some.replace_all(&ids.replace_all(l, "$1: _"), "Some(_)")
                .into_owned()
        })
        .collect()
}

#[test]
fn the_ledger_answers_alike_on_sqlite_and_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(dir.path()).unwrap();
    let lite = without_ids(&session(&sqlite));

    let Some(pg) = Postgres::start() else { return };
    let target = PgTarget {
        url: pg.url(),
        password: Some(PASSWORD.into()),
        pool_size: 4,
    };
    let store = Store::open_postgres(&target).unwrap();
    let post = without_ids(&session(&store));
    for (a, b) in lite.iter().zip(&post) {
        assert_eq!(a, b, "SQLite and PostgreSQL differ");
    }
    assert_eq!(lite.len(), post.len());

    // Opening it again (another node) migrates nothing twice.
    drop(store);
    let again = Store::open_postgres(&target).unwrap();
    assert_eq!(again.history(Some("health"), 1).unwrap().len(), 1);
    assert_eq!(
        pg.psql("postgres", "SELECT version FROM clawcron_schema"),
        clawcron::store::migrations::MIGRATIONS.len().to_string()
    );
}

#[test]
fn a_wrong_password_is_a_clear_error() {
    let Some(pg) = Postgres::start() else { return };
    let err = Store::open_postgres(&PgTarget {
        url: pg.url(),
        password: Some("nope".into()),
        pool_size: 1,
    })
    .err()
    .expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("password authentication failed"), "{msg}");
}

#[test]
fn ledger_migrate_copies_a_ledger_of_100k_runs_into_an_empty_postgresql_and_refuses_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let runs = 100_000i64;
    {
        let s = Store::open(&state).unwrap();
        // One scripted session of every kind (figures, alerts, notices, baselines, pauses...),
        // then slots by the thousand.
        session(&s);
        for chunk in 0..(runs / 1000) {
            let decisions: Vec<(&str, i64, SlotDecision)> = (0..1000)
                .map(|i| {
                    let slot = 10_000_000 + chunk * 1000 + i;
                    let d = if i % 10 == 0 {
                        SlotDecision::Skip {
                            reason: "missed: daemon not running".into(),
                        }
                    } else {
                        SlotDecision::Run { reason: None }
                    };
                    ("bulk", slot, d)
                })
                .collect();
            let ids = s.record_slots(&decisions, &[], "b", 1_000).unwrap();
            for id in ids.into_iter().flatten().step_by(7) {
                s.finish_later(id, outcome(RunStatus::Succeeded, 2_000, &[("x", 1.5)]));
            }
        }
        assert_eq!(s.flush(), 0);
    }
    let Some(pg) = Postgres::start() else { return };
    let url = pg.database("moved");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let migrate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .args(["--state-dir", "state", "ledger", "migrate", "--to", &url])
            .arg("--password-file")
            .arg(&pw)
            .output()
            .unwrap()
    };
    let started = std::time::Instant::now();
    let out = migrate();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "ledger migrate: {} in {took:?}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    // Every row of every table is there, with the same ids.
    let lite = rusqlite_counts(&state.join("clawcron.db"));
    for (table, n) in &lite {
        let got = pg.psql("moved", &format!("SELECT count(*) FROM {table}"));
        assert_eq!(&got, n, "{table}");
    }
    assert!(
        lite.iter()
            .any(|(t, n)| t == "runs" && n.parse::<i64>().unwrap() > runs)
    );
    let same = |sql: &str| {
        let a = pg.psql("moved", sql);
        let b = sqlite_value(&state.join("clawcron.db"), sql);
        assert_eq!(a, b, "{sql}");
    };
    same("SELECT sum(id) FROM runs");
    same("SELECT max(id) FROM outbox");
    same("SELECT count(*) FROM runs WHERE status = 'succeeded'");
    same("SELECT count(*) FROM metrics WHERE name = 'x'");
    // The PostgreSQL ledger goes on after the copied rows.
    let target = PgTarget {
        url: url.clone(),
        password: Some(PASSWORD.into()),
        pool_size: 1,
    };
    let store = Store::open_postgres(&target).unwrap();
    let next = store.start_run("bulk", "manual", 1, "b", 1).unwrap();
    let top: i64 = pg
        .psql(
            "moved",
            "SELECT max(id) FROM runs WHERE id <> (SELECT max(id) FROM runs)",
        )
        .parse()
        .unwrap();
    assert!(
        next > top,
        "a new run after the copied ones: {next} > {top}"
    );
    // A ledger that is not empty is refused, and left as it was.
    let again = migrate();
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");
}

fn rusqlite_counts(db: &std::path::Path) -> Vec<(String, String)> {
    [
        "runs",
        "cursors",
        "metrics",
        "alert_state",
        "alert_events",
        "outbox",
        "daemon_sessions",
        "baselines",
        "pauses",
        "silences",
        "maintenance",
        "ping_keys",
    ]
    .iter()
    .map(|t| {
        (
            t.to_string(),
            sqlite_value(db, &format!("SELECT count(*) FROM {t}")),
        )
    })
    .collect()
}

fn sqlite_value(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])")
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
