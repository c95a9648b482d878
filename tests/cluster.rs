//! Several nodes, one ledger: three real daemons against a real PostgreSQL (started here by
//! initdb and pg_ctl). Every slot has one row and one execution, counted by the side effects
//! the runs leave, through a node's SIGKILL, a SIGSTOP past its lease, a restart of PostgreSQL
//! and a node whose clock runs 30 s ahead; notices go once, a lock is never held on two nodes
//! at once, `runs_on` is kept; a run lost with its node is interrupted by another and retried
//! only when its job says so; a job whose file differs on one node runs with the newest text;
//! a silence that ends is told once, by one node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pg::{PASSWORD, Postgres};
use common::{cli_value, received, spawn_daemon, standin};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A cluster's shared parts: the ledger's database and a folder the runs write their side
/// effects into.
struct Cluster {
    pg: Postgres,
    db: String,
    url: String,
    root: tempfile::TempDir,
    extra: String,
    /// Every node started: killed when the test ends, even by a failed assertion.
    started: std::sync::Mutex<Vec<u32>>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for pid in self.started.lock().unwrap().iter() {
            // Still one of ours (a pid can be reused): a process working in this cluster's folder.
            let ours = std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|d| d.starts_with(self.root.path()));
            if ours {
                // SAFETY: kill(2) of a node this test started and that still runs.
                unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
            }
        }
    }
}

impl Cluster {
    fn new(extra_global: &str) -> Option<Cluster> {
        let pg = Postgres::start()?;
        let db = "ledger".to_string();
        let url = pg.database(&db);
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("pgpass"), format!("{PASSWORD}\n")).unwrap();
        Some(Cluster {
            pg,
            db,
            url,
            root,
            extra: extra_global.to_string(),
            started: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// A node's folder: its clawcron.yaml (the shared ledger, its name and tags), its jobs.
    fn node(&self, name: &str, tags: &[&str], jobs: &[(&str, String)]) -> PathBuf {
        self.node_api(name, tags, jobs, false)
    }

    /// As `node`, with its status API and dashboard on a free port of 127.0.0.1 if `api`.
    fn node_api(&self, name: &str, tags: &[&str], jobs: &[(&str, String)], api: bool) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(dir.join("jobs")).unwrap();
        std::fs::write(
            dir.join("clawcron.yaml"),
            format!(
                "timezone: UTC\nshutdown_grace: 2s\napi: {}\n{}\
                 ledger: {{ url: \"{}\", password_file: {}, pool: 4 }}\n\
                 node: {{ name: {name}, tags: [{}], heartbeat: 1s, lease: 4s }}\n",
                if api {
                    "{ listen: \"127.0.0.1:0\" }"
                } else {
                    "{ enabled: false }"
                },
                self.extra,
                self.url,
                self.path("pgpass").display(),
                tags.join(", ")
            ),
        )
        .unwrap();
        for (job, text) in jobs {
            std::fs::write(dir.join("jobs").join(format!("{job}.yaml")), text).unwrap();
        }
        dir
    }

    fn start(&self, dir: &Path, offset_ms: i64) -> Child {
        self.start_api(dir, offset_ms).0
    }

    /// Starts the node; returns it and its API's address, if it has one.
    fn start_api(&self, dir: &Path, offset_ms: i64) -> (Child, Option<String>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("daemon.log"))
            .unwrap();
        let offset = offset_ms.to_string();
        let (child, api) = spawn_daemon(
            dir,
            &[
                ("CLAWCRON_TEST_CLOCK_OFFSET_MS", &offset),
                ("RUST_LOG", "info"),
            ],
            Stdio::from(log),
        );
        self.started.lock().unwrap().push(child.id());
        (child, api)
    }

    fn sql(&self, query: &str) -> Vec<Vec<String>> {
        self.pg
            .psql(&self.db, query)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('|').map(str::to_string).collect())
            .collect()
    }
}

fn signal(child: &Child, sig: i32) {
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn stop(mut child: Child) {
    signal(&child, libc::SIGTERM);
    child.wait().unwrap();
}

fn kill(mut child: Child) {
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
}

fn sleep_s(s: f64) {
    std::thread::sleep(Duration::from_secs_f64(s));
}

fn slot_of(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn alive(pid: i32) -> bool {
    // A zombie (dead, not yet reaped by whoever adopted it) is not running.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// A cluster whose nodes have one notifier, `hook`: a webhook receiver that logs what it gets.
fn hooked_cluster() -> Option<(Cluster, tempfile::NamedTempFile, common::Server)> {
    let hook_log = tempfile::NamedTempFile::new().unwrap();
    let hook = standin(
        "webhook",
        &[
            "--log",
            hook_log.path().to_str().unwrap(),
            "--statuses",
            "200",
        ],
    );
    let c = Cluster::new(&format!(
        "notify_retry: 300ms\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/hook\" }} }}\n",
        hook.port
    ))?;
    Some((c, hook_log, hook))
}

#[test]
fn three_nodes_run_each_slot_once_through_kills_stops_a_database_restart_and_a_skewed_clock() {
    let Some((c, hook_log, _hook)) = hooked_cluster() else {
        return;
    };
    let effects = c.path("effects.log");
    let locks = c.path("locks.log");
    let jobs = vec![
        (
            "tick",
            format!(
                "every: 1s\nrun: {{ shell: \"echo \\\"$CLAWCRON_SLOT $CLAWCRON_NODE\\\" >> {}\" }}\n",
                effects.display()
            ),
        ),
        (
            "gpu-a",
            format!(
                "every: 1s\nruns_on: [gpu]\nlocks: [gpu]\nrun: {{ shell: \"echo \\\"S $(date +%s%N) $CLAWCRON_RUN_ID $CLAWCRON_NODE\\\" >> {0}; sleep 0.3; echo \\\"E $(date +%s%N) $CLAWCRON_RUN_ID\\\" >> {0}\" }}\n",
                locks.display()
            ),
        ),
        (
            "gpu-b",
            format!(
                "every: 1s\nruns_on: [gpu]\nlocks: [gpu]\nrun: {{ shell: \"echo \\\"S $(date +%s%N) $CLAWCRON_RUN_ID $CLAWCRON_NODE\\\" >> {0}; sleep 0.3; echo \\\"E $(date +%s%N) $CLAWCRON_RUN_ID\\\" >> {0}\" }}\n",
                locks.display()
            ),
        ),
        (
            "flaky",
            "every: 1s\nrun: { shell: \"test $(( $(date +%s) % 6 )) -lt 3\" }\nnotify: { on: [failure, recovery], to: [hook], failures: every }\n".to_string(),
        ),
    ];
    let n1 = c.node("n1", &["gpu"], &jobs);
    let n2 = c.node("n2", &["gpu"], &jobs);
    let n3 = c.node("n3", &[], &jobs);
    let skew = 30_000;
    let started = Instant::now();
    let mut a = Some(c.start(&n1, 0));
    let b = c.start(&n2, 0);
    let mut d = Some(c.start(&n3, skew));
    let at = |s: f64| {
        let left = s - started.elapsed().as_secs_f64();
        if left > 0.0 {
            sleep_s(left);
        }
    };
    // A node is killed, and comes back.
    at(15.0);
    kill(a.take().unwrap());
    at(25.0);
    a = Some(c.start(&n1, 0));
    // A node is frozen for longer than its lease (4 s), then thaws.
    at(35.0);
    signal(&b, libc::SIGSTOP);
    at(42.0);
    signal(&b, libc::SIGCONT);
    // The database restarts.
    at(55.0);
    c.pg.stop_server();
    sleep_s(3.0);
    c.pg.start_server();
    // The node whose clock runs ahead is killed and restarted.
    at(75.0);
    kill(d.take().unwrap());
    at(80.0);
    d = Some(c.start(&n3, skew));
    at(125.0);
    for n in [a.take(), Some(b), d.take()].into_iter().flatten() {
        stop(n);
    }

    // Every slot of the per-second job has exactly one row, from the first to the last.
    let rows = c.sql(
        "SELECT slot, status, coalesce(node, ''), coalesce(claimed_at, -1) FROM runs
         WHERE job = 'tick' AND trigger = 'schedule' ORDER BY slot",
    );
    let slots: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(slots.len() >= 110, "{} slots in two minutes", slots.len());
    for w in slots.windows(2) {
        assert_eq!(w[1], w[0] + 1, "the slots after {} have no row", w[0]);
    }
    // ... and at most one execution, counted by what the runs left behind; every run that
    // succeeded left exactly one.
    let mut done: HashMap<i64, usize> = HashMap::new();
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for l in lines(&effects) {
        let (slot, node) = l.split_once(' ').unwrap();
        *done.entry(slot_of(slot)).or_default() += 1;
        *by_node.entry(node.to_string()).or_default() += 1;
    }
    for (slot, n) in &done {
        assert_eq!(*n, 1, "slot {slot} ran {n} times");
    }
    let mut interrupted = 0;
    for r in &rows {
        let slot: i64 = r[0].parse().unwrap();
        match r[1].as_str() {
            "succeeded" => assert_eq!(
                done.get(&slot),
                Some(&1),
                "slot {slot} succeeded without its effect"
            ),
            "interrupted" => interrupted += 1,
            "skipped" | "failed" => assert!(!done.contains_key(&slot) || r[1] == "failed"),
            other => panic!("slot {slot} left {other}"),
        }
        // Claimed on the ledger's clock, never before the slot, by any node (n3's clock runs
        // 30 s ahead of the others').
        let claimed: i64 = r[3].parse().unwrap();
        assert!(
            claimed >= slot * 1000,
            "slot {slot} claimed at {claimed} ms, early"
        );
    }
    eprintln!(
        "tick: {} slots, runs per node {by_node:?}, {interrupted} interrupted",
        slots.len()
    );
    for n in ["n1", "n2", "n3"] {
        assert!(
            by_node.get(n).is_some_and(|c| *c > 0),
            "{n} ran nothing: {by_node:?}"
        );
    }

    // A lock is never held on two nodes at once: the runs' own intervals never overlap.
    let mut starts: HashMap<String, (u128, String)> = HashMap::new();
    let mut spans: Vec<(u128, u128, String)> = Vec::new();
    for l in lines(&locks) {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f[0] {
            "S" => {
                starts.insert(f[2].to_string(), (f[1].parse().unwrap(), f[3].to_string()));
            }
            "E" => {
                if let Some((s, node)) = starts.remove(f[2]) {
                    spans.push((s, f[1].parse().unwrap(), node));
                }
            }
            _ => unreachable!(),
        }
    }
    spans.sort();
    assert!(spans.len() > 20, "{} runs held the lock", spans.len());
    for w in spans.windows(2) {
        assert!(
            w[1].0 >= w[0].1,
            "lock held twice: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    let lock_nodes: HashSet<&str> = spans.iter().map(|s| s.2.as_str()).collect();
    assert!(!lock_nodes.contains("n3"), "a runs_on [gpu] job ran on n3");
    // `runs_on: [gpu]`: no row of a gpu job was ever claimed by the node without the tag.
    let wrong = c.sql("SELECT count(*) FROM runs WHERE job LIKE 'gpu-%' AND node = 'n3'");
    assert_eq!(wrong[0][0], "0");

    // Each notice went out once (one node per notice), and every one that was sent arrived.
    let got = received(hook_log.path());
    let mut keys: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *keys
            .entry(
                r["headers"]["x-clawcron-delivery"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
            .or_default() += 1;
    }
    let twice: Vec<_> = keys.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "notices delivered twice: {twice:?}");
    let sent: HashSet<String> = c
        .sql("SELECT key FROM outbox WHERE status = 'sent'")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(sent.len() > 5, "{} notices sent", sent.len());
    for k in &sent {
        assert!(
            keys.contains_key(k),
            "notice {k} marked sent but never received"
        );
    }
}

/// The next instant, a few seconds from now, as a 6-field cron schedule (UTC).
fn cron_in(secs: i64) -> (i64, String) {
    let at = chrono::Utc::now().timestamp() + secs;
    let t = chrono::DateTime::from_timestamp(at, 0).unwrap();
    use chrono::Timelike;
    (
        at,
        format!("{} {} {} * * *", t.second(), t.minute(), t.hour()),
    )
}

#[test]
fn a_run_lost_with_its_node_dies_with_it_is_interrupted_by_another_and_retried_only_if_asked() {
    let Some(c) = Cluster::new("") else { return };
    let f = c.path("long.log");
    // The run's process starts a child of its own (same process group): both die with the node.
    let script = c.path("long.py");
    std::fs::write(
        &script,
        format!(
            "import os, subprocess, time\n\
             log = {0:?}\n\
             child = subprocess.Popen(['sleep', '60'])\n\
             open(log, 'a').write('start %s %s\\n' % (os.environ['CLAWCRON_JOB'], os.environ['CLAWCRON_NODE']))\n\
             open(log, 'a').write('child %s %d\\n' % (os.environ['CLAWCRON_JOB'], child.pid))\n\
             time.sleep(60)\n\
             open(log, 'a').write('end\\n')\n",
            f.display().to_string()
        ),
    )
    .unwrap();
    let (slot, cron) = cron_in(6);
    let job = |retry: bool| {
        format!(
            "schedule: \"{cron}\"\nretry_on_node_loss: {retry}\nrun: {{ command: [python3, {}] }}\n",
            script.display()
        )
    };
    let jobs = vec![("retried", job(true)), ("plain", job(false))];
    let n1 = c.node("n1", &[], &jobs);
    let n2 = c.node("n2", &[], &jobs);
    let a = c.start(&n1, 0);
    // n1 alone claims the slot; n2 joins once both runs go.
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids = loop {
        let rows = c.sql(&format!(
            "SELECT job, coalesce(pid, 0), node FROM runs WHERE slot = {slot} AND status = 'running' AND pid IS NOT NULL"
        ));
        if rows.len() == 2 {
            assert!(rows.iter().all(|r| r[2] == "n1"));
            break rows
                .iter()
                .map(|r| r[1].parse::<i32>().unwrap())
                .collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "the runs did not start: {rows:?}"
        );
        sleep_s(0.2);
    };
    let b = c.start(&n2, 0);
    sleep_s(10.0 - ((chrono::Utc::now().timestamp() - slot) as f64).min(9.0));
    let killed = Instant::now();
    kill(a);
    // The runs' processes die with their node.
    sleep_s(0.5);
    let children: Vec<i32> = lines(&f)
        .iter()
        .filter_map(|l| l.strip_prefix("child ")?.split(' ').nth(1)?.parse().ok())
        .collect();
    assert_eq!(children.len(), 2, "{:?}", lines(&f));
    for pid in pids.iter().chain(&children) {
        assert!(!alive(*pid), "run process {pid} outlived its node");
    }
    // Another node marks them interrupted within the lease (4 s) plus 5 s.
    let within = Duration::from_secs(4 + 5);
    loop {
        let rows = c.sql(&format!(
            "SELECT job, status, reason FROM runs WHERE slot = {slot} AND trigger = 'schedule' ORDER BY job"
        ));
        if rows.iter().all(|r| r[1] == "interrupted") {
            assert_eq!(rows.len(), 2);
            assert!(
                rows.iter()
                    .all(|r| r[2].contains("node n1 lost") && r[2].contains("n2")),
                "{rows:?}"
            );
            eprintln!("interrupted {:?} after the kill", killed.elapsed());
            break;
        }
        assert!(
            killed.elapsed() < within,
            "not interrupted within {within:?}: {rows:?}"
        );
        sleep_s(0.2);
    }
    // `retry_on_node_loss: true`: retried once, on the surviving node; without it, not.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if lines(&f).iter().any(|l| l == "start retried n2") {
            break;
        }
        assert!(Instant::now() < deadline, "no retry: {:?}", lines(&f));
        sleep_s(0.2);
    }
    sleep_s(2.0);
    let retries = c.sql(&format!(
        "SELECT job, node, cause FROM runs WHERE slot = {slot} AND trigger = 'retry'"
    ));
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0][0], "retried");
    assert_eq!(retries[0][1], "n2");
    stop(b);
    let log = lines(&f);
    assert_eq!(
        log.iter().filter(|l| l.starts_with("start plain")).count(),
        1,
        "{log:?}"
    );
    assert!(
        !log.iter().any(|l| l == "end"),
        "a run outlived its node: {log:?}"
    );
}

#[test]
fn a_job_whose_file_differs_on_one_node_runs_only_with_the_newest_text_and_the_divergence_shows() {
    let Some(c) = Cluster::new("") else { return };
    let f = c.path("versions.log");
    let job = |v: &str| {
        format!(
            "every: 1s\nrun: {{ shell: \"echo \\\"{v} $CLAWCRON_NODE $(date +%s)\\\" >> {}\" }}\n",
            f.display()
        )
    };
    let weekly = format!(
        "schedule: \"0 8 * * 1\"\nrun: {{ report: {{ template: weekly-report, period: this-week, out_dir: {} }} }}\n",
        c.path("reports").display()
    );
    let n1 = c.node_api(
        "n1",
        &[],
        &[("versioned", job("v1")), ("weekly", weekly.clone())],
        true,
    );
    let (a, api) = c.start_api(&n1, 0);
    let api = api.expect("n1's API address");
    sleep_s(4.0);
    // A newer text arrives on n2 (a deploy that reached one machine first).
    let n2 = c.node("n2", &[], &[("versioned", job("v2")), ("weekly", weekly)]);
    let b = c.start(&n2, 0);
    let joined = chrono::Utc::now().timestamp();
    sleep_s(8.0);
    let nodes = common::cli_value(&n1, &["nodes", "--json"]);
    // The dashboard shows the nodes, and which one has a job file that is not the newest.
    let token = std::fs::read_to_string(n1.join("state/api-token")).unwrap();
    let (status, page) = common::http(&api, "GET", "/", Some(token.trim()));
    assert_eq!(status, 200, "{page}");
    let table = &page[page
        .find("<table id=\"nodes\">")
        .unwrap_or_else(|| panic!("{page}"))..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(
        table.contains("<td>n1</td>") && table.contains("<td>n2</td>"),
        "{table}"
    );
    assert!(table.contains("class=\"bad\">versioned</td>"), "{table}");
    stop(a);
    stop(b);
    let log = lines(&f);
    assert!(
        log.iter().any(|l| l.starts_with("v1 n1")),
        "v1 ran before: {log:?}"
    );
    let after: Vec<_> = log
        .iter()
        .filter(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap() > joined + 2)
        .collect();
    assert!(after.len() >= 4, "{log:?}");
    assert!(
        after.iter().all(|l| l.starts_with("v2 n2")),
        "only the newest text runs: {after:?}"
    );
    let n1_row = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "n1")
        .unwrap_or_else(|| panic!("{nodes}"));
    assert_eq!(
        n1_row["diverged"],
        serde_json::json!(["versioned"]),
        "{nodes}"
    );
    let n1_log = std::fs::read_to_string(n1.join("daemon.log")).unwrap();
    assert!(
        n1_log.contains("not claiming this job's slots on this node"),
        "{n1_log}"
    );
    // The report reads every node's runs from the shared ledger and says which node ran them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(&n2)
        .args([
            "--state-dir",
            "state",
            "report",
            "weekly",
            "--period",
            "this-week",
            "--out",
            "-",
        ])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = md
        .lines()
        .find(|l| l.starts_with("- versioned: "))
        .unwrap_or_else(|| panic!("no runs per node in the report:\n{md}"));
    assert!(line.contains("n1 ") && line.contains("n2 "), "{line}");
    assert!(md.contains("Runs per node"), "{md}");
}

#[test]
fn check_warns_about_a_local_job_without_runs_on_and_a_password_never_goes_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    let yaml = |ledger: &str| {
        std::fs::write(
            dir.path().join("clawcron.yaml"),
            format!("timezone: UTC\nledger: {ledger}\nnode: {{ name: studio, tags: [gpu] }}\n"),
        )
        .unwrap();
    };
    let jobs = [
        ("local", "every: 1m\nrun: { shell: \"true\" }\n"),
        (
            "ollama",
            "every: 1m\nrun: { http: { url: \"http://127.0.0.1:11434/api/tags\" } }\n",
        ),
        (
            "remote",
            "every: 1m\nrun: { http: { url: \"https://status.example.org/health\" } }\n",
        ),
        (
            "pinned",
            "every: 1m\nruns_on: [studio]\nrun: { shell: \"true\" }\n",
        ),
    ];
    for (name, text) in jobs {
        std::fs::write(dir.path().join(format!("jobs/{name}.yaml")), text).unwrap();
    }
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .arg("check")
            .output()
            .unwrap()
    };
    yaml("{ url: \"postgres://clawcron@db.lan:5432/clawcron\", password_env: PGPW }");
    let out = check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let warned: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warned.len(), 2, "{err}");
    assert!(
        warned[0].contains(
            "jobs/local.yaml: its target is a command run on this machine, but it has no `runs_on`"
        ),
        "{err}"
    );
    assert!(warned[1].contains("jobs/ollama.yaml: its target is a URL of this machine (http://127.0.0.1:11434/api/tags)"), "{err}");
    // On one machine (no `ledger:`), nothing to say.
    yaml("null");
    let err = String::from_utf8_lossy(&check().stderr).to_string();
    assert!(!err.contains("warning"), "{err}");
    // A password in the URL, or in the file, is refused with where it is.
    yaml("{ url: \"postgres://clawcron:hunter22@db.lan/clawcron\" }");
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("clawcron.yaml:2:16: `ledger.url`: the URL holds a password; a password never goes in the YAML"),
        "{err}"
    );
    assert!(
        !err.contains("hunter22") && err.contains("clawcron:********@db.lan"),
        "{err}"
    );
    yaml("{ url: \"postgres://clawcron@db.lan/clawcron\", password: hunter22 }");
    let err = String::from_utf8_lossy(&check().stderr).to_string();
    assert!(
        err.contains("`ledger.password`: a password never goes in the YAML"),
        "{err}"
    );
    assert!(!err.contains("hunter22"), "{err}");
}

#[test]
fn a_silence_that_ends_is_told_once_in_the_cluster_at_the_next_beat() {
    let Some((c, hook_log, _hook)) = hooked_cluster() else {
        return;
    };
    // Both nodes run the job (its slots go to either) and both watch the silence.
    let job = "every: 1s\nrun: { shell: \"echo cpu_percent=97\" }\nmetrics: [ { regex: 'cpu_percent=(?P<cpu_percent>[0-9]+)' } ]\nalerts: [ { name: cpu-high, when: \"cpu_percent > 90\", repeat: 1h } ]\nnotify: { on: [alert], to: [hook] }\n".to_string();
    let jobs = vec![("hot", job)];
    let n1 = c.node("n1", &[], &jobs);
    let n2 = c.node("n2", &[], &jobs);
    let a = c.start(&n1, 0);
    let b = c.start(&n2, 0);
    let events = || -> Vec<serde_json::Value> {
        received(hook_log.path())
            .iter()
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
            .collect()
    };
    let told = |evs: &[serde_json::Value]| {
        evs.iter()
            .filter(|e| {
                e["alert"]["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("when silence 1 ended"))
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !events().iter().any(|e| e["event"] == "alert.fired") {
        assert!(Instant::now() < deadline, "no alert fired: {:?}", events());
        sleep_s(0.2);
    }
    // Silenced through one node's command line, into the shared ledger.
    cli_value(
        &n1,
        &[
            "silence",
            "hot",
            "--rule",
            "cpu-high",
            "--for",
            "4s",
            "--reason",
            "known load",
        ],
    );
    assert_eq!(c.sql("SELECT count(*) FROM silences")[0][0], "1");
    let silenced = Instant::now();
    // Its end is seen by a beat (1 s) and told by one node, once.
    let deadline = silenced + Duration::from_secs(4 + 1 + 3);
    while told(&events()) == 0 {
        assert!(
            Instant::now() < deadline,
            "the silence's end was not told: {:?}",
            events()
        );
        sleep_s(0.1);
    }
    eprintln!("told {:?} after the silence began", silenced.elapsed());
    sleep_s(3.0);
    stop(a);
    stop(b);
    assert_eq!(told(&events()), 1, "{:?}", events());
    assert_eq!(c.sql("SELECT told FROM silences")[0][0], "1");
}
