//! Scheduler and runner semantics on tokio's paused time with an injected wall clock: missed
//! slots after a simulated sleep, clock jumps (and a randomized property test of 480 jumps by
//! minutes and hours, forward and back, against a model of the documented rule), overlap,
//! retries with backoff, timeouts, graceful shutdown, exactly-once with two schedulers on one
//! ledger, `at_start` once per boot. Each test covers hours of schedule in milliseconds.
//! Assertions are on ledger rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use clawcron::clock::{Clock, TestClock};
use clawcron::model::ActionSpec;
use clawcron::model::scripted::{Script, Step};
use clawcron::model::{CronSchedule, Trigger};
use clawcron::model::{JobSpec, Missed, MissedPolicy, Overlap, Retention, RetryPolicy};
use clawcron::runner::Runner;
use clawcron::scheduler::Scheduler;
use clawcron::store::{RunRow, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn hhmm(slot: i64) -> String {
    DateTime::<Utc>::from_timestamp(slot, 0)
        .unwrap()
        .format("%H:%M:%S")
        .to_string()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ok(takes: u64) -> Step {
    Step {
        takes: secs(takes),
        succeeds: true,
    }
}

fn fail(takes: u64) -> Step {
    Step {
        takes: secs(takes),
        succeeds: false,
    }
}

fn cron(expr: &str) -> Trigger {
    Trigger::Cron(CronSchedule::parse(expr, chrono_tz::UTC).unwrap())
}

struct JobBuilder(JobSpec);

fn job(id: &str, trigger: Trigger, script: &Arc<Script>) -> JobBuilder {
    JobBuilder(JobSpec {
        id: Arc::from(id),
        path: format!("{id}.yaml").into(),
        description: String::new(),
        enabled: true,
        trigger,
        missed: MissedPolicy::default(),
        overlap: Overlap::Skip,
        timeout: None,
        retry: RetryPolicy {
            attempts: 1,
            backoff: secs(10),
            max_backoff: secs(60),
            jitter: false,
        },
        action: ActionSpec::Scripted(script.clone()),
        extract: Vec::new(),
        locks: Vec::new(),
        alerts: Vec::new(),
        notify: Default::default(),
        regression: None,
        maintenance: None,
        after: None,
        placement: Default::default(),
    })
}

impl JobBuilder {
    fn missed(mut self, policy: Missed, max_lateness: Duration) -> Self {
        self.0.missed = MissedPolicy {
            policy,
            max_lateness,
        };
        self
    }
    fn overlap(mut self, o: Overlap) -> Self {
        self.0.overlap = o;
        self
    }
    fn timeout(mut self, d: Duration) -> Self {
        self.0.timeout = Some(d);
        self
    }
    fn locks(mut self, locks: &[&str]) -> Self {
        self.0.locks = locks.iter().map(|l| l.to_string()).collect();
        self
    }
    fn retry(mut self, attempts: u32, backoff: u64, max_backoff: u64, jitter: bool) -> Self {
        self.0.retry = RetryPolicy {
            attempts,
            backoff: secs(backoff),
            max_backoff: secs(max_backoff),
            jitter,
        };
        self
    }
}

struct Daemon {
    clock: Arc<TestClock>,
    store: Store,
    runner: Runner,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start_with(jobs: Vec<JobBuilder>, clock: Arc<TestClock>, store: Store, boot: &str) -> Daemon {
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let runner = Runner::new(
        store.clone(),
        dyn_clock.clone(),
        16,
        secs(5),
        // Enough for the longest test (days of minutely slots): none of it is trimmed.
        Retention {
            max_runs_per_job: 100_000,
            ..Retention::default()
        },
    );
    let mut s = Scheduler::new(
        jobs.into_iter().map(|j| j.0).collect(),
        dyn_clock,
        store.clone(),
        runner.clone(),
        boot.into(),
    );
    s.start().unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(s.run(stop.clone()));
    Daemon {
        clock,
        store,
        runner,
        stop,
        task,
    }
}

fn start(jobs: Vec<JobBuilder>, at: &str) -> Daemon {
    start_with(
        jobs,
        TestClock::new(t(at)),
        Store::open_in_memory().unwrap(),
        "boot-1",
    )
}

impl Daemon {
    async fn stop(self, grace: Duration) -> Store {
        self.stop.cancel();
        self.task.await.unwrap();
        self.runner.shutdown(grace).await;
        self.store
    }
}

/// Rows of one job, oldest slot first.
fn rows(store: &Store, job: &str) -> Vec<RunRow> {
    let mut r = store.history(Some(job), 100_000).unwrap();
    r.reverse();
    r
}

fn summary(store: &Store, job: &str) -> Vec<String> {
    rows(store, job)
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                hhmm(r.slot),
                r.status,
                r.reason.clone().unwrap_or_default()
            )
            .trim_end()
            .to_string()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn missed_policies_after_a_six_hour_sleep() {
    let s = Arc::new(Script::new(ok(10), []));
    let d = start(
        vec![
            job("restart", cron("0 3 * * *"), &s).missed(Missed::Latest, secs(2 * 3600)),
            job("report", cron("0 6 * * *"), &s).missed(Missed::Latest, secs(3 * 86400)),
            job("hourly-latest", cron("0 * * * *"), &s).missed(Missed::Latest, secs(2 * 3600)),
            job("hourly-all", cron("0 * * * *"), &s).missed(Missed::All, secs(9000)),
            job("hourly-skip", cron("0 * * * *"), &s).missed(Missed::Skip, secs(3600)),
        ],
        "2026-06-01T00:00:00Z",
    );
    // Awake until 01:00:30 (the 01:00 slots run on time), then asleep until 07:00:30.
    tokio::time::sleep(secs(3630)).await;
    d.clock.sleep_machine(secs(6 * 3600));
    tokio::time::sleep(secs(120)).await;
    assert_eq!(d.clock.now(), t("2026-06-01T07:02:30Z"));
    let store = d.stop(secs(30)).await;

    assert_eq!(
        summary(&store, "restart"),
        ["03:00:00 skipped missed: machine asleep; later than max_lateness 2h"]
    );
    assert_eq!(
        summary(&store, "report"),
        ["06:00:00 succeeded missed: machine asleep; run late by policy latest"]
    );
    assert_eq!(
        summary(&store, "hourly-latest"),
        [
            "01:00:00 succeeded",
            "02:00:00 skipped missed: machine asleep; later than max_lateness 2h",
            "03:00:00 skipped missed: machine asleep; later than max_lateness 2h",
            "04:00:00 skipped missed: machine asleep; later than max_lateness 2h",
            "05:00:00 skipped missed: machine asleep; later than max_lateness 2h",
            "06:00:00 skipped missed: machine asleep; a newer missed slot runs instead",
            "07:00:00 succeeded missed: machine asleep; run late by policy latest",
        ]
    );
    assert_eq!(
        summary(&store, "hourly-all"),
        [
            "01:00:00 succeeded",
            "02:00:00 skipped missed: machine asleep; later than max_lateness 2h30m",
            "03:00:00 skipped missed: machine asleep; later than max_lateness 2h30m",
            "04:00:00 skipped missed: machine asleep; later than max_lateness 2h30m",
            "05:00:00 succeeded missed: machine asleep; run late by policy all",
            "06:00:00 succeeded missed: machine asleep; run late by policy all",
            "07:00:00 succeeded missed: machine asleep; run late by policy all",
        ]
    );
    assert_eq!(summary(&store, "hourly-skip")[1..].len(), 6);
    assert!(
        summary(&store, "hourly-skip")[1..]
            .iter()
            .all(|r| r.ends_with("skipped missed: machine asleep"))
    );
    // `all` runs its catch-up slots one at a time, oldest first.
    let all: Vec<RunRow> = rows(&store, "hourly-all")
        .into_iter()
        .filter(|r| r.status.as_str() == "succeeded")
        .skip(1)
        .collect();
    for w in all.windows(2) {
        assert!(
            w[1].started_at.unwrap() >= w[0].finished_at.unwrap(),
            "catch-up runs overlapped"
        );
        assert!(w[1].slot > w[0].slot);
    }
}

#[tokio::test(start_paused = true)]
async fn clock_jumps_forward_and_back() {
    let s = Arc::new(Script::new(ok(1), []));
    let d = start(
        vec![job("minutely", Trigger::Every(60), &s).missed(Missed::Latest, secs(3600))],
        "2026-06-01T00:00:00Z",
    );
    tokio::time::sleep(secs(150)).await; // 00:02:30: slots 00:01, 00:02 ran
    d.clock.jump(10 * 60 * 1000); // set forward to 00:12:30
    tokio::time::sleep(secs(60)).await; // 00:13:30
    d.clock.jump(-20 * 60 * 1000); // set back to 23:53:30 the day before
    tokio::time::sleep(secs(20 * 60)).await; // 00:13:30 again
    tokio::time::sleep(secs(60)).await; // 00:14:30
    let store = d.stop(secs(30)).await;
    let r = summary(&store, "minutely");
    assert_eq!(r[0], "00:01:00 succeeded");
    assert_eq!(r[1], "00:02:00 succeeded");
    assert_eq!(
        r[2],
        "00:03:00 skipped missed: clock jumped forward; a newer missed slot runs instead"
    );
    assert_eq!(
        r[11],
        "00:12:00 succeeded missed: clock jumped forward; run late by policy latest"
    );
    assert_eq!(r[12], "00:13:00 succeeded");
    // After the clock went back 20 minutes, no slot ran twice: the next one was 00:14.
    assert_eq!(r[13], "00:14:00 succeeded");
    assert_eq!(r.len(), 14);
}

#[tokio::test(start_paused = true)]
async fn overlap_skip_queue_allow() {
    let skip = Arc::new(Script::new(ok(23), []));
    let queue = Arc::new(Script::new(ok(23), []));
    let allow = Arc::new(Script::new(ok(23), []));
    let d = start(
        vec![
            job("skip", Trigger::Every(10), &skip).overlap(Overlap::Skip),
            job("queue", Trigger::Every(10), &queue).overlap(Overlap::Queue),
            job("allow", Trigger::Every(10), &allow).overlap(Overlap::Allow),
        ],
        "2026-06-01T00:00:01Z",
    );
    tokio::time::sleep(secs(58)).await; // slots 00:00:10 .. 00:00:50
    let store = d.stop(secs(300)).await;
    assert_eq!(
        summary(&store, "skip"),
        [
            "00:00:10 succeeded",
            "00:00:20 skipped overlap: the previous run is still running (run 1)",
            "00:00:30 skipped overlap: the previous run is still running (run 1)",
            "00:00:40 succeeded",
            "00:00:50 skipped overlap: the previous run is still running (run 10)",
        ]
    );
    assert_eq!(
        summary(&store, "queue"),
        [
            "00:00:10 succeeded",
            "00:00:20 succeeded",
            "00:00:30 skipped overlap: a run is already waiting",
            "00:00:40 succeeded",
            "00:00:50 skipped overlap: a run is already waiting",
        ]
    );
    let starts: Vec<u64> = queue.calls().iter().map(|c| c.started.as_secs()).collect();
    assert_eq!(
        starts,
        [9, 32, 55],
        "queued runs start as soon as the previous one ends"
    );
    assert_eq!(
        summary(&store, "allow")
            .iter()
            .filter(|r| r.ends_with("succeeded"))
            .count(),
        5
    );
    let allow_starts: Vec<u64> = allow.calls().iter().map(|c| c.started.as_secs()).collect();
    assert_eq!(allow_starts, [9, 19, 29, 39, 49]);
}

#[tokio::test(start_paused = true)]
async fn retries_with_exponential_backoff_and_cap() {
    let s = Arc::new(Script::new(ok(1), [fail(1), fail(1), fail(1)]));
    let d = start(
        vec![job("flaky", cron("0 0 * * * *"), &s).retry(4, 10, 15, false)],
        "2026-06-01T00:59:00Z",
    );
    tokio::time::sleep(secs(200)).await;
    let store = d.stop(secs(30)).await;
    let starts: Vec<u64> = s.calls().iter().map(|c| c.started.as_secs()).collect();
    // Attempt 1 at 60 s (fails at 61); then 10 s, 20 s capped to 15 s, 15 s.
    assert_eq!(starts, [60, 71, 87, 103]);
    let r = &rows(&store, "flaky")[0];
    assert_eq!((r.status.as_str(), r.attempts), ("succeeded", 4));

    // With jitter each pause is drawn from the upper half of the nominal one.
    let s = Arc::new(Script::new(fail(0), []));
    let d = start(
        vec![job("jittery", cron("0 0 * * * *"), &s).retry(5, 8, 60, true)],
        "2026-06-01T00:59:00Z",
    );
    tokio::time::sleep(secs(300)).await;
    let store = d.stop(secs(30)).await;
    let starts: Vec<f64> = s.calls().iter().map(|c| c.started.as_secs_f64()).collect();
    let pauses: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    for (pause, nominal) in pauses.iter().zip([8.0, 16.0, 32.0, 60.0]) {
        assert!(
            *pause >= nominal / 2.0 - 0.01 && *pause <= nominal + 0.01,
            "pause {pause} for nominal {nominal}"
        );
    }
    let r = &rows(&store, "jittery")[0];
    assert_eq!(
        (r.status.as_str(), r.attempts, r.error.as_deref()),
        ("failed", 5, Some("scripted failure"))
    );
}

#[tokio::test(start_paused = true)]
async fn timeout_applies_to_each_attempt() {
    let s = Arc::new(Script::new(ok(100), []));
    let d = start(
        vec![
            job("slow", cron("0 0 * * * *"), &s)
                .timeout(secs(5))
                .retry(2, 1, 1, false),
        ],
        "2026-06-01T00:59:00Z",
    );
    tokio::time::sleep(secs(120)).await;
    let store = d.stop(secs(30)).await;
    let starts: Vec<u64> = s.calls().iter().map(|c| c.started.as_secs()).collect();
    assert_eq!(starts, [60, 66]);
    let r = &rows(&store, "slow")[0];
    assert_eq!(
        (r.status.as_str(), r.attempts, r.duration_ms),
        ("timed_out", 2, Some(11_000))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_the_grace_then_interrupts() {
    let quick = Arc::new(Script::new(ok(3), []));
    let long = Arc::new(Script::new(ok(600), []));
    let retrying = Arc::new(Script::new(fail(1), []));
    let d = start(
        vec![
            job("quick", cron("0 0 * * * *"), &quick),
            job("long", cron("0 0 * * * *"), &long),
            job("retrying", cron("0 0 * * * *"), &retrying).retry(5, 30, 30, false),
        ],
        "2026-06-01T00:59:59Z",
    );
    tokio::time::sleep(secs(2)).await; // 01:00:01: all three started
    let before = tokio::time::Instant::now();
    let store = d.stop(secs(10)).await;
    assert_eq!(
        tokio::time::Instant::now() - before,
        secs(10),
        "waited the whole grace, no more"
    );
    assert_eq!(summary(&store, "quick"), ["01:00:00 succeeded"]);
    let long = &rows(&store, "long")[0];
    assert_eq!(
        (long.status.as_str(), long.error.as_deref()),
        ("interrupted", Some("interrupted"))
    );
    let r = &rows(&store, "retrying")[0];
    assert_eq!(
        (r.status.as_str(), r.attempts, r.reason.as_deref()),
        ("failed", 1, Some("no retry: the daemon is shutting down"))
    );
    assert!(
        store
            .history(None, 100)
            .unwrap()
            .iter()
            .all(|r| r.status.as_str() != "running")
    );
}

#[tokio::test(start_paused = true)]
async fn two_schedulers_on_one_ledger_run_each_slot_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::new(t("2026-06-01T00:00:00Z"));
    let a = Arc::new(Script::new(ok(0), []));
    let b = Arc::new(Script::new(ok(0), []));
    let da = start_with(
        vec![job("tick", Trigger::Every(1), &a)],
        clock.clone(),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    let db = start_with(
        vec![job("tick", Trigger::Every(1), &b)],
        clock.clone(),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(Duration::from_millis(30_500)).await;
    let store = da.stop(secs(5)).await;
    db.stop(secs(5)).await;
    let r = rows(&store, "tick");
    let slots: Vec<i64> = r.iter().map(|r| r.slot).collect();
    let expected: Vec<i64> = (1..=30)
        .map(|i| t("2026-06-01T00:00:00Z").timestamp() + i)
        .collect();
    assert_eq!(slots, expected, "every slot exactly once");
    assert!(r.iter().all(|r| r.status.as_str() == "succeeded"));
    assert_eq!(a.calls().len() + b.calls().len(), 30, "no slot ran twice");
}

#[tokio::test(start_paused = true)]
async fn restart_records_the_downtime_and_at_start_runs_once_per_boot() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Script::new(ok(1), []));
    let jobs = || {
        vec![
            job("minutely", Trigger::Every(60), &s),
            job("preload", Trigger::AtStart, &s),
        ]
    };
    let d = start_with(
        jobs(),
        TestClock::new(t("2026-06-01T00:00:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(secs(150)).await;
    d.stop(secs(5)).await;
    // The daemon was down from 00:02:30 to 00:10:00; same boot, then a new boot.
    let d = start_with(
        jobs(),
        TestClock::new(t("2026-06-01T00:10:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(secs(5)).await;
    d.stop(secs(5)).await;
    let d = start_with(
        jobs(),
        TestClock::new(t("2026-06-01T00:20:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-2",
    );
    tokio::time::sleep(secs(5)).await;
    let store = d.stop(secs(5)).await;
    let r = summary(&store, "minutely");
    assert_eq!(
        r[..3],
        [
            "00:01:00 succeeded",
            "00:02:00 succeeded",
            "00:03:00 skipped missed: daemon not running"
        ]
    );
    assert_eq!(r[8], "00:09:00 skipped missed: daemon not running");
    assert_eq!(
        r[9], "00:10:00 succeeded",
        "the slot at the start instant runs"
    );
    assert_eq!(r[10], "00:11:00 skipped missed: daemon not running");
    assert_eq!(
        r.len(),
        20,
        "00:01 to 00:20: every slot has exactly one row"
    );
    assert_eq!(
        summary(&store, "preload"),
        [
            "00:00:00 succeeded",
            "00:10:00 skipped at_start: already ran in this boot",
            "00:20:00 succeeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn dst_night_through_the_scheduler() {
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let s = Arc::new(Script::new(ok(1), []));
    let d = start(
        vec![job(
            "half-past-two",
            Trigger::Cron(CronSchedule::parse("0 30 2 * * *", paris).unwrap()),
            &s,
        )],
        "2026-03-28T00:00:00Z",
    );
    tokio::time::sleep(secs(3 * 86400)).await;
    let store = d.stop(secs(5)).await;
    let slots: Vec<String> = rows(&store, "half-past-two")
        .iter()
        .map(|r| {
            DateTime::<Utc>::from_timestamp(r.slot, 0)
                .unwrap()
                .to_rfc3339()
        })
        .collect();
    assert_eq!(
        slots,
        [
            "2026-03-28T01:30:00+00:00",
            "2026-03-29T01:00:00+00:00",
            "2026-03-30T00:30:00+00:00"
        ]
    );
    let envs: Vec<Option<String>> = s.calls().iter().map(|c| c.env_slot.clone()).collect();
    assert_eq!(
        envs[1].as_deref(),
        Some("2026-03-29T01:00:00+00:00"),
        "jobs are told their slot"
    );
}

#[tokio::test(start_paused = true)]
async fn named_locks_serialize_jobs_or_skip_them() {
    let preload = Arc::new(Script::new(ok(30), []));
    let bench = Arc::new(Script::new(ok(10), []));
    let other = Arc::new(Script::new(ok(10), []));
    let d = start(
        vec![
            job("preload", cron("0 0 3 * * *"), &preload).locks(&["gpu"]),
            // Waits for the lock (overlap queue), bounded by its 60 s timeout.
            job("bench", cron("5 0 3 * * *"), &bench)
                .locks(&["gpu"])
                .overlap(Overlap::Queue)
                .timeout(secs(60)),
            // Skips when the lock is taken (overlap skip, the default).
            job("other", cron("10 0 3 * * *"), &other).locks(&["gpu"]),
        ],
        "2026-06-01T02:59:00Z",
    );
    tokio::time::sleep(secs(180)).await;
    let store = d.stop(secs(30)).await;
    assert_eq!(summary(&store, "preload"), ["03:00:00 succeeded"]);
    assert_eq!(
        summary(&store, "bench"),
        ["03:00:05 succeeded waited 25s for lock gpu"]
    );
    assert_eq!(
        summary(&store, "other"),
        ["03:00:10 skipped lock busy: gpu (held by preload run 1)"]
    );
    assert_eq!(
        bench.calls()[0].started.as_secs(),
        90,
        "the benchmark started when the preload released the lock"
    );
}

#[tokio::test(start_paused = true)]
async fn a_changed_schedule_does_not_catch_up_on_slots_it_never_had() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Script::new(ok(1), []));
    let d = start_with(
        vec![job("j", Trigger::Every(60), &s)],
        TestClock::new(t("2026-06-01T00:00:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(secs(150)).await;
    d.stop(secs(5)).await;
    let d = start_with(
        vec![job("j", Trigger::Every(300), &s)],
        TestClock::new(t("2026-06-01T00:10:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(secs(400)).await;
    let store = d.stop(secs(5)).await;
    assert_eq!(
        summary(&store, "j"),
        [
            "00:01:00 succeeded",
            "00:02:00 succeeded",
            "00:15:00 succeeded"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_very_long_downtime_still_runs_the_newest_missed_slot() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Script::new(ok(0), []));
    let jobs = || vec![job("tick", Trigger::Every(1), &s).missed(Missed::Latest, secs(3600))];
    let d = start_with(
        jobs(),
        TestClock::new(t("2026-06-01T00:00:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    d.stop(secs(5)).await;
    // Down for 28 hours: 100,798 missed slots, more than are listed; the newest ones are.
    let d = start_with(
        jobs(),
        TestClock::new(t("2026-06-02T04:00:00Z")),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = d.stop(secs(5)).await;
    let rows = rows(&store, "tick");
    // The newest missed slot is listed; the slot at the start instant is due on time, so
    // `latest` runs that one instead.
    let at = |hms: &str| rows.iter().rev().find(|r| hhmm(r.slot) == hms).unwrap();
    assert_eq!(
        at("03:59:59").reason.as_deref(),
        Some("missed: daemon not running; a newer slot runs instead")
    );
    assert_eq!(at("04:00:00").status.as_str(), "succeeded");
    assert_eq!(at("04:00:00").reason, None);
    assert!(
        !rows
            .iter()
            .any(|r| r.status.as_str() == "succeeded" && r.reason.is_some()),
        "nothing ran late"
    );
}

#[tokio::test(start_paused = true)]
async fn a_catch_up_queues_one_missed_notice() {
    let s = Arc::new(Script::new(ok(1), []));
    let mut j = job("hourly", cron("0 * * * *"), &s).missed(Missed::Latest, secs(2 * 3600));
    j.0.notify = clawcron::model::NotifyPolicy {
        on: vec![clawcron::model::Event::Missed],
        to: vec!["hook".into()],
        ..Default::default()
    };
    let d = start(vec![j], "2026-06-01T00:00:00Z");
    tokio::time::sleep(secs(3630)).await;
    d.clock.sleep_machine(secs(6 * 3600));
    tokio::time::sleep(secs(120)).await;
    let store = d.stop(secs(30)).await;
    let notices = store.notices(10).unwrap();
    assert_eq!(
        notices.len(),
        1,
        "one notice for the whole catch-up: {notices:?}"
    );
    let p: serde_json::Value = serde_json::from_str(&notices[0].payload).unwrap();
    assert_eq!(p["event"], "missed");
    assert_eq!(
        p["text"],
        "hourly: 6 slots missed (missed: machine asleep) from 2026-06-01T02:00:00+00:00 to 2026-06-01T07:00:00+00:00: 1 run late, 5 skipped"
    );
}

/// The alert events of a store as `minute kind`, oldest first (minutes since `origin`).
fn alert_log(store: &Store, origin: &str) -> Vec<String> {
    let o = t(origin).timestamp_millis();
    let mut ev = store.alert_events(0).unwrap();
    ev.reverse();
    ev.iter()
        .map(|e| format!("{}m {}", (e.at - o) / 60_000, e.kind))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_monitor_fires_remediates_within_budget_escalates_repeats_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let origin = "2026-06-01T00:00:00Z";
    // Memory every 5 minutes: fires on 2 of 3, resolves after 2 good samples in a row.
    let samples = [
        50., 90., 90., // 15m fired -> restart #1
        50., 50., // 25m resolved
        90., 90., // 35m fired -> restart #2
        50., 50., // 45m resolved
        90., 90., // 55m fired -> budget spent: escalated
        50., 90., 50., 90., // flapping while firing: no notice
        90., // then high: repeats once 1 h after it fired (115m), not every sample
    ];
    let probe = Arc::new(Script::new(ok(1), []).with_metric("mem_percent", samples));
    let restart = Arc::new(Script::new(ok(5), []));
    let rule = |restart: &Arc<Script>| {
        let mut r = clawcron::model::Rule::parse(
            Some("memory-high"),
            "mem_percent > 85",
            Some("2 of 3"),
            secs(3600),
        )
        .unwrap();
        r.remediate = Some(Box::new(clawcron::model::Remediation {
            action: ActionSpec::Scripted(restart.clone()),
            max: 2,
            per: secs(3 * 3600),
            timeout: secs(60),
        }));
        r
    };
    let mut j = job("gateway", Trigger::Every(300), &probe);
    j.0.alerts = vec![rule(&restart)];
    j.0.notify = clawcron::model::NotifyPolicy {
        on: vec![clawcron::model::Event::Alert],
        to: vec!["hook".into()],
        ..Default::default()
    };
    let d = start_with(
        vec![j],
        TestClock::new(t(origin)),
        Store::open(dir.path()).unwrap(),
        "boot-1",
    );
    tokio::time::sleep(secs(120 * 60 + 30)).await;
    let store = d.stop(secs(30)).await;
    assert_eq!(
        alert_log(&store, origin),
        [
            "15m fired",
            "15m remediated",
            "25m resolved",
            "35m fired",
            "35m remediated",
            "45m resolved",
            "55m fired",
            "55m escalated",
            "115m repeat",
        ]
    );
    assert_eq!(restart.calls().len(), 2, "the budget allows two restarts");
    let kinds: Vec<String> = store
        .notices(100)
        .unwrap()
        .iter()
        .rev()
        .map(|n| {
            serde_json::from_str::<serde_json::Value>(&n.payload).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "alert.fired",
            "alert.remediated",
            "alert.resolved",
            "alert.fired",
            "alert.remediated",
            "alert.resolved",
            "alert.fired",
            "alert.escalated",
            "alert.repeat",
        ]
    );
    let escalated = store.alert_events(0).unwrap();
    assert!(
        escalated[1]
            .detail
            .starts_with("remediation budget spent: 2 of 2 in the last 3h"),
        "{}",
        escalated[1].detail
    );
    drop(store);

    // A restart: the alert is still firing (since 55m), and the budget still spent.
    let store = Store::open(dir.path()).unwrap();
    let a = store.alerts().unwrap();
    assert_eq!(
        (a[0].phase.as_str(), a[0].since),
        (
            "firing",
            Some(t(origin).timestamp_millis() + 55 * 60_000 + 1000)
        )
    );
    let probe = Arc::new(Script::new(ok(1), []).with_metric("mem_percent", [50., 50., 90., 90.]));
    let mut j = job("gateway", Trigger::Every(300), &probe);
    j.0.alerts = vec![rule(&restart)];
    let d = start_with(
        vec![j],
        TestClock::new(t("2026-06-01T02:01:00Z")),
        store,
        "boot-2",
    );
    tokio::time::sleep(secs(21 * 60)).await;
    let store = d.stop(secs(30)).await;
    let log = alert_log(&store, origin);
    assert_eq!(log[9..], ["130m resolved", "140m fired", "140m escalated"]);
    assert_eq!(restart.calls().len(), 2);
    let resolved = &store.alert_events(0).unwrap()[2];
    assert!(
        resolved.detail.contains("lasted 1 h 15 min; peak 90 %"),
        "{}",
        resolved.detail
    );
}

#[tokio::test(start_paused = true)]
async fn a_benchmark_below_80_percent_of_its_recent_median_is_a_regression() {
    use clawcron::model::{Against, Better, RegressionSpec};
    // Nightly tokens/s: steady at 50 (one odd 20 in the first nights, before any baseline),
    // then 45 (90 %: fine), then 30 (60 %: a regression).
    let bench = Arc::new(Script::new(ok(60), []).with_metric(
        "tokens_per_s",
        [20., 50., 50., 50., 50., 50., 50., 50., 45., 30., 50.],
    ));
    let mut j = job("nightly-benchmark", cron("30 3 * * *"), &bench);
    j.0.regression = Some(RegressionSpec {
        metrics: vec![("tokens_per_s".into(), Better::Higher)],
        runs: 7,
        threshold: 0.8,
        against: Against::Recent,
    });
    j.0.notify = clawcron::model::NotifyPolicy {
        on: vec![clawcron::model::Event::Regression],
        to: vec!["hook".into()],
        ..Default::default()
    };
    let d = start(vec![j], "2026-06-01T00:00:00Z");
    tokio::time::sleep(secs(11 * 86_400)).await;
    let store = d.stop(secs(30)).await;
    let runs = rows(&store, "nightly-benchmark");
    assert_eq!(runs.len(), 11);
    let flagged: Vec<(String, String)> = runs
        .iter()
        .filter_map(|r| r.reason.clone().map(|why| (hhmm(r.slot), why)))
        .collect();
    assert_eq!(
        flagged,
        [(
            "03:30:00".to_string(),
            "regression: tokens_per_s 30 is 60 % of the median of the last 7 runs (50); the limit is 80 %".to_string()
        )]
    );
    assert_eq!(
        runs[9].status.as_str(),
        "succeeded",
        "a regression is an outcome, not a failure"
    );
    assert!(runs[9].reason.is_some());
    let events = store.alert_events(0).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].rule.as_str(),
            events[0].kind.as_str(),
            events[0].value
        ),
        ("regression:tokens_per_s", "regression", 30.0)
    );
    let notices = store.notices(10).unwrap();
    assert_eq!(notices.len(), 1);
    let p: serde_json::Value = serde_json::from_str(&notices[0].payload).unwrap();
    assert_eq!(
        (p["event"].as_str(), p["regression"]["baseline"].as_f64()),
        (Some("regression"), Some(50.0))
    );
}

/// One job of the clock-jump property test, and the model of what its ledger must hold.
struct JumpJob {
    id: &'static str,
    trigger: fn() -> Trigger,
    period: i64,
    policy: Missed,
    max_late: i64,
    overlap: Overlap,
}

/// The documented rule, computed independently of the scheduler: slots after the cursor up to
/// the wall clock fire on time while time runs; after the clock is set forward, the slots it
/// jumped over follow the missed policy; after it is set back, nothing runs until the clock
/// passes the last slot accounted for again, and no slot runs twice.
struct JumpModel {
    wall: i64,
    cursor: Vec<i64>,
    rows: Vec<Vec<(i64, String)>>,
}

impl JumpModel {
    fn next_slot(after: i64, period: i64) -> i64 {
        (after.div_euclid(period) + 1) * period
    }

    fn advance(&mut self, jobs: &[JumpJob], secs: i64) {
        self.wall += secs;
        for (j, job) in jobs.iter().enumerate() {
            let mut s = Self::next_slot(self.cursor[j], job.period);
            while s <= self.wall {
                self.rows[j].push((s, "succeeded".into()));
                self.cursor[j] = s;
                s += job.period;
            }
        }
    }

    fn jump(&mut self, jobs: &[JumpJob], secs: i64) {
        self.wall += secs;
        if secs < 0 {
            return;
        }
        const WHY: &str = "missed: clock jumped forward";
        for (j, job) in jobs.iter().enumerate() {
            let mut missed = Vec::new();
            let mut s = Self::next_slot(self.cursor[j], job.period);
            while s <= self.wall {
                missed.push(s);
                self.cursor[j] = s;
                s += job.period;
            }
            let late_limit = clawcron::util::duration::format(secs_of(job.max_late));
            let n = missed.len();
            for (i, slot) in missed.into_iter().enumerate() {
                let in_time = self.wall - slot <= job.max_late;
                let row = match job.policy {
                    Missed::Skip => format!("skipped {WHY}"),
                    _ if !in_time => {
                        format!("skipped {WHY}; later than max_lateness {late_limit}")
                    }
                    Missed::All => format!("succeeded {WHY}; run late by policy all"),
                    Missed::Latest if i == n - 1 => {
                        format!("succeeded {WHY}; run late by policy latest")
                    }
                    Missed::Latest => format!("skipped {WHY}; a newer missed slot runs instead"),
                };
                self.rows[j].push((slot, row));
            }
        }
    }
}

fn secs_of(n: i64) -> Duration {
    Duration::from_secs(n as u64)
}

#[tokio::test(start_paused = true)]
async fn random_clock_jumps_by_minutes_and_hours_follow_the_documented_rule() {
    let jobs = [
        JumpJob {
            id: "minutely-latest",
            trigger: || Trigger::Every(60),
            period: 60,
            policy: Missed::Latest,
            max_late: 40,
            overlap: Overlap::Skip,
        },
        JumpJob {
            id: "minutely-skip",
            trigger: || Trigger::Every(60),
            period: 60,
            policy: Missed::Skip,
            max_late: 3600,
            overlap: Overlap::Skip,
        },
        JumpJob {
            id: "five-all",
            trigger: || Trigger::Every(300),
            period: 300,
            policy: Missed::All,
            max_late: 2 * 3600,
            overlap: Overlap::Allow,
        },
        JumpJob {
            id: "hourly-cron-latest",
            trigger: || cron("0 0 * * * *"),
            period: 3600,
            policy: Missed::Latest,
            max_late: 30 * 60,
            overlap: Overlap::Skip,
        },
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut jumps = (0, 0, 0, 0); // forward minutes, forward hours, back minutes, back hours
    let mut compared = 0;
    for case in 0..40 {
        // A start a few seconds past a minute, so that no slot is within the wake-up slack of a
        // jump's landing, and slots' lateness varies from case to case.
        let offset = 2 + rand(57) as i64;
        let start = t("2026-06-01T00:00:00Z").timestamp() + offset;
        let script = Arc::new(Script::new(ok(1), []));
        let clock = TestClock::new(DateTime::from_timestamp(start, 0).unwrap());
        let d = start_with(
            jobs.iter()
                .map(|j| {
                    job(j.id, (j.trigger)(), &script)
                        .missed(j.policy, secs_of(j.max_late))
                        .overlap(j.overlap)
                })
                .collect(),
            clock,
            Store::open_in_memory().unwrap(),
            "boot-1",
        );
        let mut model = JumpModel {
            wall: start,
            cursor: vec![start; jobs.len()],
            rows: vec![Vec::new(); jobs.len()],
        };
        let mut steps = Vec::new();
        for _ in 0..12 {
            let minutes = 2 + rand(58) as i64;
            let hours = 1 + rand(6) as i64;
            let (what, by) = match rand(5) {
                0 => ("run", 60 * (1 + rand(30) as i64)),
                1 => {
                    jumps.0 += 1;
                    ("jump", 60 * minutes)
                }
                2 => {
                    jumps.1 += 1;
                    ("jump", 3600 * hours)
                }
                3 => {
                    jumps.2 += 1;
                    ("jump", -60 * minutes)
                }
                _ => {
                    jumps.3 += 1;
                    ("jump", -3600 * hours)
                }
            };
            steps.push(format!("{what} {by:+}s"));
            if what == "jump" {
                d.clock.jump(by * 1000);
                model.jump(&jobs, by);
            }
            // Time runs on after each step (a minute at least), so the catch-up runs end.
            let run = if what == "run" { by } else { 60 };
            tokio::time::sleep(secs_of(run)).await;
            model.advance(&jobs, run);
        }
        assert_eq!(d.clock.now().timestamp(), model.wall);
        let store = d.stop(secs(30)).await;
        for (j, job) in jobs.iter().enumerate() {
            let mut got: Vec<(i64, String)> = rows(&store, job.id)
                .iter()
                .map(|r| {
                    (
                        r.slot,
                        format!("{} {}", r.status, r.reason.clone().unwrap_or_default())
                            .trim_end()
                            .to_string(),
                    )
                })
                .collect();
            got.sort();
            compared += got.len();
            assert_eq!(
                got, model.rows[j],
                "case {case}, job {}, start offset {offset}s, steps {steps:?}",
                job.id
            );
        }
    }
    // The cases cover each kind of jump many times.
    eprintln!(
        "jumps (fwd min, fwd h, back min, back h): {jumps:?}; ledger rows compared: {compared}"
    );
    assert!(
        jumps.0 >= 40 && jumps.1 >= 40 && jumps.2 >= 40 && jumps.3 >= 40,
        "{jumps:?}"
    );
    assert!(compared > 10_000, "{compared} rows");
}

/// A stall (SIGSTOP, a debugger, a paused VM, launchd throttling a background agent): tokio time
/// moves on in one jump while the loop does not run, so the wall and monotonic clocks agree and
/// only the lateness tells. Each slot that came due is handled as any late slot: within 60 s it
/// runs late (one at a time, behind the job's own catch-up), beyond that the missed policy
/// decides; none is skipped for "overlap" while no run of its job was running.
#[tokio::test(start_paused = true)]
async fn a_stalled_daemon_catches_up_by_the_missed_policy_and_never_claims_an_overlap() {
    let s = Arc::new(Script::new(ok(0), []));
    let d = start(
        vec![
            job("all", Trigger::Every(5), &s).missed(Missed::All, secs(3600)),
            job("latest", Trigger::Every(5), &s).missed(Missed::Latest, secs(3600)),
            job("skip", Trigger::Every(5), &s).missed(Missed::Skip, secs(3600)),
            job("queue", Trigger::Every(5), &s)
                .missed(Missed::All, secs(3600))
                .overlap(Overlap::Queue),
        ],
        "2026-06-01T12:00:00Z",
    );
    tokio::time::sleep(Duration::from_millis(32_500)).await; // 12:00:32.5
    tokio::time::advance(secs(20)).await; // stalled until 12:00:52.5
    tokio::time::sleep(secs(30)).await; // 12:01:22.5
    tokio::time::advance(secs(90)).await; // stalled until 12:02:52.5
    tokio::time::sleep(secs(20)).await; // 12:03:12.5
    let store = d.stop(secs(30)).await;
    let stall_end = |slot: i64| {
        let s = hhmm(slot);
        if ("12:00:35".."12:00:52").contains(&s.as_str()) {
            Some(t("2026-06-01T12:00:52Z").timestamp())
        } else if ("12:01:25".."12:02:52").contains(&s.as_str()) {
            Some(t("2026-06-01T12:02:52Z").timestamp())
        } else {
            None
        }
    };
    for id in ["all", "latest", "skip", "queue"] {
        let r = rows(&store, id);
        // One row per slot, 12:00:05 to 12:03:10, no gap and no double.
        let slots: Vec<i64> = r.iter().map(|r| r.slot).collect();
        let want: Vec<i64> = (1..=38)
            .map(|k| t("2026-06-01T12:00:00Z").timestamp() + 5 * k)
            .collect();
        assert_eq!(slots, want, "{id}: {:?}", summary(&store, id));
        let mut ran_beyond = 0;
        for row in &r {
            let reason = row.reason.clone().unwrap_or_default();
            let line = format!("{id} {} {} {reason}", hhmm(row.slot), row.status);
            assert!(!reason.contains("overlap"), "untrue overlap: {line}");
            match stall_end(row.slot) {
                None => assert_eq!(line, format!("{id} {} succeeded ", hhmm(row.slot))),
                Some(end) if end - row.slot <= 60 => assert_eq!(
                    line,
                    format!(
                        "{id} {} succeeded daemon stalled; run {} s late",
                        hhmm(row.slot),
                        end - row.slot
                    )
                ),
                Some(_) => {
                    let expect = match id {
                        "all" | "queue" => {
                            ran_beyond += 1;
                            "succeeded missed: daemon stalled; run late by policy all"
                        }
                        "latest" => "skipped missed: daemon stalled; a newer slot runs instead",
                        _ => "skipped missed: daemon stalled",
                    };
                    assert_eq!(line, format!("{id} {} {expect}", hhmm(row.slot)));
                }
            }
        }
        // Beyond 60 s late: 12:01:25 to 12:01:50 (62 to 87 s late).
        let expect_beyond = if id == "all" || id == "queue" { 6 } else { 0 };
        assert_eq!(ran_beyond, expect_beyond, "{id}");
        // What ran late after a stall ran one at a time, oldest first.
        let late: Vec<&RunRow> = r.iter().filter(|r| stall_end(r.slot).is_some()).collect();
        for w in late.windows(2) {
            if let (Some(a), Some(b)) = (w[0].finished_at, w[1].started_at) {
                assert!(b >= a, "{id}: catch-up runs overlapped");
            }
        }
    }
}
