//! The Docker job kinds against the real engine, with a locally built test image
//! (tests/docker/build-image.sh): a real restart with wait and probe, exec with output, exit
//! codes and a timeout that kills the process inside, stats of a busy container, and the
//! failure modes (missing container, stopped container, unreachable engine). Each test makes
//! uniquely named containers and removes them. Without an engine these tests fail with what to
//! install, unless scripts/test found it cannot be had here (then they say NOT CHECKED).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

const IMAGE: &str = "clawcron-test:2";

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI")
}

/// Whether the engine is usable; builds the test image on first use.
fn engine() -> bool {
    static READY: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let r = READY.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        match info {
            Ok(o) if o.status.success() => {}
            Ok(o) => return Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => return Err(format!("no docker CLI: {e}")),
        }
        let build = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/docker/build-image.sh"
        ))
        .arg(IMAGE)
        .output()
        .map_err(|e| e.to_string())?;
        if build.status.success() {
            Ok(())
        } else {
            Err(format!(
                "cannot build {IMAGE}: {}",
                String::from_utf8_lossy(&build.stderr)
            ))
        }
    });
    match r {
        Ok(()) => true,
        Err(why) => common::part_missing(
            "docker",
            "docker.io and start dockerd (the test image needs Debian's busybox-static)",
            why,
        ),
    }
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

static N: AtomicU32 = AtomicU32::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "clawcron-test-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Starts a container of the test image; `args` go before the image name, `cmd` after it.
fn container(prefix: &str, args: &[&str], cmd: &[&str]) -> Container {
    let name = unique(prefix);
    let out = docker(&[&["run", "-d", "--name", &name], args, &[IMAGE], cmd].concat());
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Container(name)
}

fn inspect(name: &str, format: &str) -> String {
    String::from_utf8_lossy(&docker(&["inspect", "-f", format, name]).stdout)
        .trim()
        .to_string()
}

#[test]
fn restart_for_real_with_wait_and_probe() {
    if !engine() {
        return;
    }
    // A fixed host port: a restart gives an ephemeral published port a new number.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let publish = format!("127.0.0.1:{port}:8080");
    let c = container(
        "restart",
        &[
            "-p",
            &publish,
            "--health-cmd",
            "wget -q -O /dev/null http://127.0.0.1:8080/cgi-bin/readyz || exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "30",
        ],
        &[],
    );
    let started = inspect(&c.0, "{{.State.StartedAt}}");
    let env = Env::new();
    let (row, m) = env.trigger(
        "gateway-restart",
        &format!(
            "schedule: \"0 3 * * *\"\ntimeout: 90s\nrun:\n  docker.restart:\n    container: {}\n    stop_timeout: 2s\n    wait: 60s\n    probe:\n      url: http://127.0.0.1:{port}/cgi-bin/readyz\n      expect: {{ content_type: application/json, json: {{ pointer: /ready, equals: true }} }}\n",
            c.0
        ),
    );
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_ne!(
        inspect(&c.0, "{{.State.StartedAt}}"),
        started,
        "the container's start time changed"
    );
    for step in ["restart_ms", "healthy_ms", "probe_ms", "total_ms"] {
        assert!(m.contains_key(step), "{step} missing from {m:?}");
    }
    let tail = row["output_tail"].as_str().unwrap();
    assert!(
        tail.contains("restarted container")
            && tail.contains("is running and healthy after")
            && tail.contains("probe passed after"),
        "{tail}"
    );
}

#[test]
fn exec_output_metrics_exit_codes_and_timeout_kill() {
    if !engine() {
        return;
    }
    let c = container("exec", &[], &[]);
    let env = Env::new();
    let (row, m) = env.trigger(
        "bench",
        &format!("every: 1h\nrun:\n  docker.exec: {{ container: {}, command: [openclaw-bench] }}\nmetrics:\n  - regex: 'p50_ms=(?P<p50_ms>[0-9.]+) p95_ms=(?P<p95_ms>[0-9.]+) throughput_rps=(?P<rps>[0-9.]+)'\n", c.0),
    );
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(
        row["output_tail"],
        "warming up\nbenchmark: requests=100 p50_ms=12.5 p95_ms=31.0 throughput_rps=80.2\n"
    );
    assert_eq!((m["p50_ms"], m["p95_ms"], m["rps"]), (12.5, 31.0, 80.2));

    let (row, _) = env.trigger("fails", &format!("every: 1h\nrun:\n  docker.exec: {{ container: {}, command: [sh, -c, \"echo bad >&2; exit 3\"] }}\n", c.0));
    assert_eq!(
        (
            row["status"].as_str(),
            row["exit_code"].as_i64(),
            row["output_tail"].as_str()
        ),
        (Some("failed"), Some(3), Some("bad\n"))
    );

    let (row, _) = env.trigger("slow", &format!("every: 1h\ntimeout: 1s\nrun:\n  docker.exec: {{ container: {}, command: [sleep, \"300\"] }}\n", c.0));
    assert_eq!(row["status"], "timed_out", "{row}");
    let ps = String::from_utf8_lossy(&docker(&["exec", &c.0, "ps"]).stdout).to_string();
    assert!(
        !ps.contains("sleep 300"),
        "the exec'd process survived the timeout:\n{ps}"
    );
}

#[test]
fn stats_of_a_busy_container() {
    if !engine() {
        return;
    }
    let busy = container(
        "busy",
        &["--memory", "64m"],
        &["sh", "-c", "while :; do :; done"],
    );
    let env = Env::new();
    let (row, m) = env.trigger(
        "stats",
        &format!(
            "every: 5m\nrun:\n  docker.stats: {{ container: {} }}\n",
            busy.0
        ),
    );
    assert_eq!(row["status"], "succeeded", "{row}");
    assert!(
        m["cpu_percent"] > 50.0,
        "a busy loop uses most of a CPU: {m:?}"
    );
    assert_eq!(m["mem_limit_bytes"], 64.0 * 1024.0 * 1024.0);
    assert!(m["mem_percent"] > 0.0 && m["mem_percent"] < 100.0, "{m:?}");
    assert!(
        row["output_tail"].as_str().unwrap().contains("CPU "),
        "{row}"
    );
}

#[test]
fn missing_stopped_and_unreachable() {
    if !engine() {
        return;
    }
    let env = Env::new();
    let ghost = unique("ghost");
    let (row, _) = env.trigger(
        "missing",
        &format!("every: 5m\nrun:\n  docker.stats: {{ container: {ghost} }}\n"),
    );
    assert_eq!(row["error"], format!("container `{ghost}` not found"));

    let stopped = Container(unique("stopped"));
    assert!(
        docker(&["create", "--name", &stopped.0, IMAGE])
            .status
            .success()
    );
    let (row, _) = env.trigger(
        "stopped-exec",
        &format!(
            "every: 5m\nrun:\n  docker.exec: {{ container: {}, command: [\"true\"] }}\n",
            stopped.0
        ),
    );
    assert_eq!(
        row["error"],
        format!("container `{}` is not running", stopped.0)
    );
    let (row, _) = env.trigger(
        "stopped-stats",
        &format!(
            "every: 5m\nrun:\n  docker.stats: {{ container: {} }}\n",
            stopped.0
        ),
    );
    assert_eq!(
        row["error"],
        format!(
            "container `{}` is not running (no CPU statistics)",
            stopped.0
        )
    );

    let (row, _) = env.trigger("no-engine", "every: 5m\nrun:\n  docker.stats: { container: x, host: \"unix:///nonexistent/docker.sock\" }\n");
    assert_eq!(row["status"], "failed");
    assert!(
        row["error"].as_str().unwrap().starts_with(
            "Docker is not reachable at unix:///nonexistent/docker.sock: is the engine running?"
        ),
        "{row}"
    );
}

#[test]
fn the_shipped_gateway_restart_job_restarts_for_real() {
    if !engine() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let publish = format!("127.0.0.1:{port}:8080");
    let c = container(
        "gateway",
        &[
            "-p",
            &publish,
            "--health-cmd",
            "wget -q -O /dev/null http://127.0.0.1:8080/readyz/ || exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "30",
        ],
        &[],
    );
    let started = inspect(&c.0, "{{.State.StartedAt}}");
    let state = tempfile::tempdir().unwrap();
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(repo)
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "trigger",
            "gateway-restart",
        ])
        .env("OPENCLAW_CONTAINER", &c.0)
        .env("OPENCLAW_PORT", &port)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        inspect(&c.0, "{{.State.StartedAt}}"),
        started,
        "the container's start time changed"
    );
    let m = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(repo)
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "metrics",
            "gateway-restart",
            "--json",
        ])
        .output()
        .unwrap();
    let names: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&m.stdout)
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["healthy_ms", "probe_ms", "restart_ms", "total_ms"],
        "each step's timing is recorded"
    );
}

#[test]
fn a_compose_service_label_finds_its_container() {
    if !engine() {
        return;
    }
    let service = unique("svc");
    let label = format!("com.docker.compose.service={service}");
    let _c = container("compose", &["--label", &label], &[]);
    let env = Env::new();
    let (row, m) = env.trigger(
        "by-service",
        &format!("every: 5m\nrun:\n  docker.stats: {{ service: {service} }}\n"),
    );
    assert_eq!(row["status"], "succeeded", "{row}");
    assert!(m.contains_key("cpu_percent"));
    let (row, _) = env.trigger(
        "no-service",
        "every: 5m\nrun:\n  docker.stats: { service: no-such-service }\n",
    );
    assert_eq!(
        row["error"],
        "compose service `no-such-service` not found (no container has the label com.docker.compose.service=no-such-service)"
    );
}

#[test]
fn a_socket_without_permission_says_so() {
    if !engine() {
        return;
    }
    let sock = "/var/run/docker.sock";
    let meta = match std::fs::metadata(sock) {
        Ok(m) => m,
        Err(e) => {
            common::part_missing(
                "docker-socket",
                "Debian's docker.io (its engine listens on /var/run/docker.sock)",
                format!("{sock}: {e}"),
            );
            return;
        }
    };
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o007 != 0 {
        common::part_missing(
            "docker-socket",
            "Debian's docker.io (its socket is mode 660, root:docker)",
            format!("{sock} is open to everyone, so no permission error can be provoked"),
        );
        return;
    }
    if !common::require_probe("setpriv", &["setpriv", "--version"], "util-linux") {
        return;
    }
    // As `nobody`, outside the docker group, the socket refuses the connection.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(dir.path().join("jobs/stats.yaml"), "every: 5m\nrun:\n  docker.stats: { container: x, host: \"unix:///var/run/docker.sock\" }\n").unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(
        dir.path().join("jobs"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            env!("CARGO_BIN_EXE_clawcron"),
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .args(["trigger", "stats"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout
            .trim_end()
            .split_once("(1 attempt): ")
            .map(|(_, e)| e),
        Some(
            "permission denied on the Docker socket unix:///var/run/docker.sock (is this user in the `docker` group?)"
        ),
        "{stdout}"
    );
}

/// The guide's threshold check, end to end: a monitor samples a container kept busy above the
/// CPU threshold, the alert fires once and arrives by email through a real SMTP server, and it
/// resolves (with how long it lasted) after the load stops.
#[test]
fn a_busy_container_fires_a_cpu_alert_by_email_and_resolves_when_the_load_stops() {
    if !engine() {
        return;
    }
    let busy = container(
        "cpu",
        &[],
        &[
            "sh",
            "-c",
            "while [ ! -f /tmp/stop ]; do :; done; exec sleep 3600",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let _smtp = common::standin("smtp", &["--maildir", maildir.to_str().unwrap()]);
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "shutdown_grace: 5s\nnotify_retry: 200ms\nnotifiers:\n  ops-email:\n    email:\n      smtp: {{ host: 127.0.0.1, port: {}, tls: none }}\n      from: clawcron@example.org\n      to: [me@example.org]\n",
            _smtp.port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/gateway-health.yaml"),
        format!(
            "every: 2s\noverlap: skip\ntimeout: 10s\nrun:\n  monitor:\n    probes:\n      stats: {{ docker.stats: {{ container: {} }} }}\nalerts:\n  - {{ name: cpu-high, when: \"cpu_percent > 50\", for: \"2 of 3\" }}\nnotify: {{ on: [alert], to: [ops-email] }}\n",
            busy.0
        ),
    )
    .unwrap();
    let mut d = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "run"])
        .env_remove("CLAWCRON_STATE_DIR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let subjects = || -> Vec<String> {
        common::mails(&maildir)
            .iter()
            .map(|m| common::header(m, "Subject")[0].to_string())
            .collect()
    };
    let timeout = std::time::Duration::from_secs(60);
    common::wait_for("the firing email", timeout, || !subjects().is_empty());
    // The load stops; the alert resolves after two good samples.
    let out = docker(&["exec", &busy.0, "sh", "-c", "echo > /tmp/stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::wait_for("the resolved email", timeout, || subjects().len() >= 2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    d.wait().unwrap();
    assert_eq!(
        subjects(),
        [
            "[clawcron] gateway-health: cpu-high alert",
            "[clawcron] gateway-health: cpu-high back to normal"
        ],
        "one email when it fires, one when it resolves, none for the samples between"
    );
    let mails = common::mails(&maildir);
    let fired = common::part(&mails[0], "text/plain");
    // What crossed which threshold, with its unit, the window and the samples.
    assert!(fired.contains("Rule: cpu-high"), "{fired}");
    assert!(
        fired.contains("gateway-health: cpu_percent is ")
            && fired.contains(", over the threshold of 50 % (2 of the last 3 samples)"),
        "{fired}"
    );
    assert!(fired.contains("\nThreshold: "), "{fired}");
    assert!(fired.contains("\nLast samples: "), "{fired}");
    assert!(
        fired.contains("\nDone by clawcron: Nothing was done automatically."),
        "{fired}"
    );
    let resolved = common::part(&mails[1], "text/plain");
    assert!(resolved.contains("is back to normal"), "{resolved}");
    assert!(resolved.contains("; the alert lasted "), "{resolved}");
    assert!(!resolved.contains("Threshold:"), "{resolved}");
    assert!(common::part(&mails[1], "text/html").contains("back to normal"));
}

#[test]
fn a_stopped_or_missing_container_is_an_up_0_sample_and_fires_the_shipped_gateway_down_rule() {
    if !engine() {
        return;
    }
    let env = Env::new();
    let stats = |name: &str, container: &str| {
        env.trigger(
            name,
            &format!("every: 5m\nrun:\n  docker.stats: {{ container: {container} }}\n"),
        )
    };
    // Running: up = 1 with the figures.
    let running = container("up", &[], &["sleep", "3600"]);
    let (row, m) = stats("running", &running.0);
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(m["up"], 1.0, "{m:?}");
    assert!(m.contains_key("cpu_percent"), "{m:?}");
    // Stopped (it ran, then `docker stop`): the run fails, and the sample up = 0 is kept.
    let out = docker(&["stop", "-t", "0", &running.0]);
    assert!(out.status.success());
    let (row, m) = stats("stopped", &running.0);
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(
        row["error"],
        format!(
            "container `{}` is not running (no CPU statistics)",
            running.0
        )
    );
    assert_eq!(m.get("up"), Some(&0.0), "{m:?}");
    assert!(!m.contains_key("cpu_percent"), "no made-up figures: {m:?}");
    // Missing: the same sample.
    let ghost = unique("gone");
    let (row, m) = stats("missing", &ghost);
    assert_eq!(row["error"], format!("container `{ghost}` not found"));
    assert_eq!(m.get("up"), Some(&0.0), "{m:?}");
    // An engine that cannot be asked is not a stopped container: no `up` from docker.stats.
    let (row, m) = env.trigger("no-engine", "every: 5m\nrun:\n  docker.stats: { container: x, host: \"unix:///nonexistent/docker.sock\" }\n");
    assert_eq!(row["status"], "failed");
    assert!(m.is_empty(), "{m:?}");

    // The shipped health monitor, pointed at the stopped container: `stats.up` is 0 (once,
    // from the probe itself), the host's figures are there, and gateway-down fires on the
    // second sample of three.
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/jobs/gateway-health.yaml"
    ))
    .unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let vars = [
        ("OPENCLAW_CONTAINER", running.0.as_str()),
        ("OPENCLAW_PORT", port.as_str()),
    ];
    let alerts = || -> Vec<serde_json::Value> {
        let out = env.clawcron(&["alerts", "--json"], &[]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["alerts"].as_array().unwrap().clone()
    };
    let phase = |rule: &str| {
        alerts()
            .iter()
            .find(|a| a["job"] == "gateway-health" && a["rule"] == rule)
            .map(|a| a["phase"].as_str().unwrap().to_string())
    };
    for round in 1..=2 {
        let (_, row, m) = env.trigger_with("gateway-health", &shipped, &vars);
        assert_eq!(row["status"], "failed", "{row}");
        assert_eq!(m["stats.up"], 0.0, "{m:?}");
        assert_eq!(m["ready.up"], 0.0, "{m:?}");
        assert_eq!(m["host.up"], 1.0, "{m:?}");
        assert!(m["host.mem_total_bytes"] > 0.0, "{m:?}");
        let runs: Vec<serde_json::Value> = serde_json::from_slice(
            &env.clawcron(&["metrics", "gateway-health", "--json"], &[])
                .stdout,
        )
        .unwrap();
        let ups = runs
            .iter()
            .filter(|r| r["name"] == "stats.up" && r["run_id"] == row["id"])
            .count();
        assert_eq!(ups, 1, "one stats.up per sample");
        let want = if round == 1 { "pending" } else { "firing" };
        assert_eq!(
            phase("gateway-down").as_deref(),
            Some(want),
            "round {round}: {:?}",
            alerts()
        );
    }
}
