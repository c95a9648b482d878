//! Nothing at the edges holds up the scheduler: a heavy email template, a stuck report and
//! hundreds of slow clients on both network listeners at once, under launchd's open-files limit
//! (256, soft and hard), while a one-second job runs. Real binary, real sockets, real files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A template that would run for hours unbounded: 10^10 empty loop steps.
const HEAVY: &str =
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n";

/// Starts `clawcron run` in `dir` with RLIMIT_NOFILE lowered to `files`, soft and hard (so
/// raising the soft limit cannot hide a starvation); returns it with its API address, its ping
/// listener's address, and its log (read on a thread).
fn daemon_limited(
    dir: &Path,
    files: u64,
) -> (Child, String, String, std::sync::mpsc::Receiver<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawcron"));
    cmd.current_dir(dir)
        .args(["--state-dir", "state", "run"])
        .env_remove("CLAWCRON_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; it runs in the child before exec.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: files,
                rlim_max: files,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut d = cmd.spawn().unwrap();
    let mut api = None;
    for l in BufReader::new(d.stdout.take().unwrap()).lines() {
        let l = l.unwrap();
        if let Some(a) = l.strip_prefix("API http://") {
            api = Some(a.trim_end_matches('/').to_string());
        }
        if l.starts_with("READY ") {
            break;
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut err = d.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    let ping = std::fs::read_to_string(dir.join("state/ping.addr")).unwrap();
    (d, api.expect("the API's address"), ping, rx)
}

/// `GET /healthz` from 127.0.0.1 with a 1 s bound on the whole exchange: (status, took).
fn healthz(api: &str) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let answer = (|| -> std::io::Result<u16> {
        let mut s =
            std::net::TcpStream::connect_timeout(&api.parse().unwrap(), Duration::from_secs(1))?;
        s.set_read_timeout(Some(Duration::from_secs(1)))?;
        write!(
            s,
            "GET /healthz HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)?;
        raw.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no status line: {raw:?}")))
    })();
    (answer.ok(), started.elapsed())
}

#[test]
fn a_heavy_template_a_stuck_report_and_slow_clients_hold_up_no_slot() {
    let env = common::Env::new();
    let p = env.dir.path();
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { listen: \"127.0.0.1:0\", public_reads: true }\nping_listen: \"127.0.0.1:0\"\nshutdown_grace: 2s\nnotify_timeout: 2s\nnotify_retry: 1h\nnotifiers:\n  mail:\n    email:\n      smtp: { host: 127.0.0.1, port: 9, tls: none }\n      from: a@example.org\n      to: [b@example.org]\n",
    )
    .unwrap();
    std::fs::create_dir(p.join("templates")).unwrap();
    for f in ["email.txt.j2", "stuck.md.j2", "stuck.html.j2"] {
        std::fs::write(p.join("templates").join(f), HEAVY).unwrap();
    }
    env.write_job(
        "tick",
        "schedule: \"* * * * * *\"\nrun: { shell: \"true\" }\n",
    );
    env.write_job(
        "failing",
        "schedule: \"*/2 * * * * *\"\noverlap: skip\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [mail] }\n",
    );
    env.write_job(
        "stuck",
        "schedule: \"*/5 * * * * *\"\noverlap: skip\ntimeout: 2s\nrun:\n  report:\n    template: stuck\n    period: last-week\n    out_dir: reports\n",
    );
    let (d, api, ping, log) = daemon_limited(p, 256);
    let mut attack = Command::new("python3")
        .arg(format!(
            "{}/tests/standins/slowclients.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([
            "--target", &api, "--target", &ping, "--count", "300", "--every", "2", "--for", "40",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the slow clients");
    let mut attack_out = BufReader::new(attack.stdout.take().unwrap()).lines();
    let opened = attack_out.next().unwrap().unwrap();
    assert!(opened.starts_with("OPENED "), "{opened}");
    // Under attack for 15 s: /healthz from 127.0.0.1 answers within its 1 s bound each time.
    let until = Instant::now() + Duration::from_secs(15);
    let mut probes = Vec::new();
    while Instant::now() < until {
        probes.push(healthz(&api));
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut open = String::new();
    for l in attack_out.by_ref().take(3) {
        open = l.unwrap();
    }
    drop(attack.stdin.take());
    let _ = attack.kill();
    let _ = attack.wait();
    common::stop_daemon(d);
    let logs = log.recv().unwrap();
    let late: Vec<_> = probes.iter().filter(|(s, _)| *s != Some(200)).collect();
    assert!(
        late.is_empty(),
        "/healthz missed its bound: {late:?} of {} probes\n{logs}",
        probes.len()
    );
    // The 1 s job: every slot once, each a success (none failed for want of a descriptor).
    let rows: Vec<serde_json::Value> = env
        .history()
        .into_iter()
        .filter(|r| r["job"] == "tick")
        .collect();
    let (first, last) = common::assert_each_slot_once(&rows);
    assert!(
        last - first >= 14,
        "{} slots from {first} to {last}",
        rows.len()
    );
    let bad: Vec<_> = rows.iter().filter(|r| r["status"] != "succeeded").collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(!logs.contains("Too many open files"), "{logs}");
    // The network peers were capped: most of the 300 were refused at once.
    let held: usize = open
        .trim_start_matches("OPEN ")
        .parse()
        .unwrap_or(usize::MAX);
    assert!(held <= 64, "the listeners held {held} slow connections");
    // The stuck report timed out, stopped, and wrote nothing.
    let stuck: Vec<serde_json::Value> = env
        .history()
        .into_iter()
        .filter(|r| r["job"] == "stuck" && r["status"] != "running")
        .collect();
    assert!(!stuck.is_empty());
    assert!(
        stuck.iter().all(|r| r["status"] == "timed_out"),
        "{stuck:?}"
    );
    assert!(
        std::fs::read_dir(p.join("reports")).map_or(0, |d| d.count()) == 0,
        "a report was written past its timeout"
    );
    // The heavy email template: a recorded, clear failure, not the shipped template's mail.
    let outbox = common::cli_value(p, &["notifications", "--json"]);
    let text = outbox.to_string();
    assert!(
        text.contains("ran out of fuel") || text.contains("were not rendered within 2s"),
        "{outbox}"
    );
}

/// Peak resident memory of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// A `trigger` client that does not read: the run ends and is recorded on time, the daemon
/// keeps at most its bounded queue for the client, and the client is told what was dropped.
#[test]
fn a_trigger_client_that_does_not_read_holds_up_nothing() {
    let env = common::Env::new();
    let p = env.dir.path();
    std::fs::write(p.join("clawcron.yaml"), "shutdown_grace: 2s\n").unwrap();
    // 100 MB of output, 2.4 million lines.
    env.write_job(
        "loud",
        "schedule: \"0 3 1 1 *\"\nrun: { shell: \"yes 0123456789012345678901234567890123456789 | head -c 100000000\" }\n",
    );
    let (d, _) = common::spawn_daemon(p, &[], Stdio::null());
    let before = peak_rss(d.id());
    let mut client =
        std::os::unix::net::UnixStream::connect(p.join("state/clawcron.sock")).unwrap();
    client.write_all(b"{\"trigger\": \"loud\"}\n").unwrap();
    let asked = Instant::now();
    // The client reads nothing while the run goes on; the run's end is recorded meanwhile.
    common::wait_for("the run to be recorded", Duration::from_secs(60), || {
        env.history()
            .iter()
            .any(|r| r["job"] == "loud" && r["status"] == "succeeded")
    });
    let took = asked.elapsed();
    let peak = peak_rss(d.id());
    // Now the client reads: what was dropped is said, and the outcome comes last.
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answers = Vec::new();
    for line in BufReader::new(&client).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let end = v.get("outcome").is_some();
        answers.push(v);
        if end {
            break;
        }
    }
    common::stop_daemon(d);
    let dropped: u64 = answers.iter().filter_map(|a| a["dropped"].as_u64()).sum();
    let lines = answers.iter().filter(|a| a.get("line").is_some()).count();
    assert!(dropped > 1_000_000, "dropped {dropped}, sent {lines} lines");
    assert!(lines <= 1000 + 200_000, "{lines} lines sent");
    let last = answers.last().unwrap();
    assert_eq!(last["outcome"]["status"], "succeeded", "{last}");
    assert!(
        peak < before + 64 * 1024 * 1024,
        "the daemon grew from {before} to {peak} bytes while its client did not read"
    );
    eprintln!(
        "recorded after {took:?}; peak {peak} bytes (from {before}); {dropped} lines dropped"
    );
}

/// A daemon (no API) whose one job `name`, due next year, runs `shell`.
fn daemon_with(name: &str, shell: &str) -> (common::Env, Child) {
    let env = common::Env::new();
    std::fs::write(
        env.dir.path().join("clawcron.yaml"),
        "shutdown_grace: 1s\napi: { enabled: false }\n",
    )
    .unwrap();
    env.write_job(
        name,
        &format!("schedule: \"0 3 1 1 *\"\nrun: {{ shell: \"{shell}\" }}\n"),
    );
    let (d, _) = common::spawn_daemon(env.dir.path(), &[], Stdio::null());
    (env, d)
}

/// Ctrl-C on `trigger` cancels the run in the daemon, which runs on: the row says its client
/// cancelled it, not that the daemon shut down.
#[test]
fn ctrl_c_on_trigger_is_recorded_as_the_clients_cancel() {
    let (env, d) = daemon_with("long", "sleep 30");
    let p = env.dir.path();
    let mut trigger = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(p)
        .args(["--state-dir", "state", "trigger", "long"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for("the run to start", Duration::from_secs(10), || {
        env.history()
            .iter()
            .any(|r| r["job"] == "long" && r["status"] == "running")
    });
    unsafe { libc::kill(trigger.id() as i32, libc::SIGINT) };
    trigger.wait().unwrap();
    common::wait_for("the run to end", Duration::from_secs(10), || {
        env.history()
            .iter()
            .any(|r| r["job"] == "long" && r["status"] != "running")
    });
    let row = env
        .history()
        .into_iter()
        .find(|r| r["job"] == "long")
        .unwrap();
    common::stop_daemon(d);
    assert_eq!(row["status"], "interrupted", "{row}");
    let error = row["error"].as_str().unwrap_or("");
    assert!(
        error.starts_with("cancelled by its client (Ctrl-C on `clawcron trigger`"),
        "{row}"
    );
    assert!(!error.contains("daemon shutdown"), "{row}");
}

/// `trigger` against a stopped daemon (SIGSTOP) gives up within its bound and says so; the
/// request carried a deadline, so the resumed daemon does not run it.
#[test]
fn trigger_against_a_stopped_daemon_gives_up_and_the_request_is_not_run_later() {
    let (env, d) = daemon_with("once", "echo ran");
    let p = env.dir.path();
    unsafe { libc::kill(d.id() as i32, libc::SIGSTOP) };
    let asked = Instant::now();
    let mut trigger = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(p)
        .args(["--state-dir", "state", "trigger", "once"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded here too: a trigger that waits for ever must fail this test, not hang it.
    while trigger.try_wait().unwrap().is_none() && asked.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = trigger.kill();
    let out = trigger.wait_with_output().unwrap();
    let took = asked.elapsed();
    unsafe { libc::kill(d.id() as i32, libc::SIGCONT) };
    std::thread::sleep(Duration::from_secs(2));
    let rows: Vec<serde_json::Value> = env
        .history()
        .into_iter()
        .filter(|r| r["job"] == "once")
        .collect();
    common::stop_daemon(d);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        stderr.contains(
            "the daemon did not take the request within 10s (stopped, or stuck?): not run"
        ),
        "{stderr}"
    );
    assert!(rows.is_empty(), "the stale request ran: {rows:?}");
}

/// The ledger deleted under a running daemon (`rm state/clawcron.db*`): found at once through
/// the state directory's events, told directly to `daemon_notify` (the outbox was in that
/// file), `/healthz` fails, and nothing more runs or is written.
#[test]
fn a_ledger_removed_under_the_daemon_is_noticed_told_and_nothing_more_runs() {
    let env = common::Env::new();
    let p = env.dir.path();
    let hook_log = p.join("hook.log");
    let hook = common::standin("webhook", &["--log", hook_log.to_str().unwrap()]);
    std::fs::write(
        p.join("clawcron.yaml"),
        format!(
            "api: {{ listen: \"127.0.0.1:0\", public_reads: true }}\nshutdown_grace: 2s\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/h\" }} }}\ndaemon_notify: [hook]\n",
            hook.port
        ),
    )
    .unwrap();
    let marker = p.join("ran.txt");
    env.write_job(
        "tick",
        &format!(
            "schedule: \"* * * * * *\"\nrun: {{ shell: \"echo x >> {}\" }}\n",
            marker.display()
        ),
    );
    let (d, api) = common::spawn_daemon(p, &[], Stdio::null());
    let api = api.unwrap();
    common::wait_for("a run", Duration::from_secs(10), || {
        std::fs::read_to_string(&marker).is_ok_and(|s| s.lines().count() >= 2)
    });
    for f in std::fs::read_dir(p.join("state")).unwrap() {
        let f = f.unwrap().path();
        if f.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("clawcron.db")
        {
            std::fs::remove_file(f).unwrap();
        }
    }
    common::wait_for("the notice", Duration::from_secs(10), || {
        common::received(&hook_log).iter().any(|r| {
            r["body"]
                .as_str()
                .unwrap_or("")
                .contains("daemon.ledger_gone")
        })
    });
    let runs_then = std::fs::read_to_string(&marker).unwrap().lines().count();
    let (status, took) = healthz(&api);
    std::thread::sleep(Duration::from_secs(3));
    let runs_after = std::fs::read_to_string(&marker).unwrap().lines().count();
    let (_, body) = common::http(&api, "GET", "/healthz", None);
    common::stop_daemon(d);
    assert_eq!(
        status,
        Some(503),
        "healthz after the ledger went ({took:?}): {body}"
    );
    assert!(
        body.contains("was removed under the running daemon"),
        "{body}"
    );
    assert!(
        runs_after <= runs_then + 1,
        "{runs_then} runs, then {runs_after}"
    );
    assert!(
        !p.join("state/clawcron.db").exists(),
        "a new ledger was written"
    );
}

/// Context switches of every thread of process `pid` so far (voluntary and not).
fn switches(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .flat_map(|s| {
            s.lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// An idle daemon (one job, due next year) wakes for nothing: no poll of the ledger, no timer
/// but the next slot's. A silence added from the command line reaches it through the control
/// socket instead.
#[test]
fn an_idle_daemon_wakes_for_nothing() {
    let (env, d) = daemon_with("yearly", "true");
    std::thread::sleep(Duration::from_secs(2));
    let before = switches(d.id());
    std::thread::sleep(Duration::from_secs(15));
    let idle = switches(d.id()) - before;
    // The command line's silence is told to the daemon (it wakes for that, and only that).
    let out = env.clawcron(
        &["silence", "yearly", "--for", "1h", "--reason", "test"],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::stop_daemon(d);
    assert_eq!(
        idle, 0,
        "the idle daemon switched context {idle} times in 15 s"
    );
}
