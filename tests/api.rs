//! The status API, metrics and dashboard against a live daemon over HTTP: health, jobs, runs,
//! alerts, a token-checked trigger (token file 0600), `/metrics` validated by `promtool check
//! metrics`, `clawcron status`, every endpoint token-checked when bound beyond loopback, and the
//! dashboard loaded in headless Chromium (rows checked, screenshot kept).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{daemon_with_api as daemon, http, http_json as json, stop_daemon as stop};

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn setup(listen: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!("timezone: UTC\nshutdown_grace: 2s\napi: {{ listen: \"{listen}\" }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/ok.yaml"),
        "description: succeeds every second\nschedule: \"* * * * * *\"\nrun: { shell: \"echo load=$(date +%S)\" }\nmetrics: [ { regex: 'load=(?P<load>[0-9]+)' } ]\nalerts: [ { name: load-high, when: \"load > 1000\" } ]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/nightly.yaml"),
        "schedule: \"0 3 * * *\"\nrun: { shell: \"exit 3\" }\n",
    )
    .unwrap();
    dir
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    common::wait_for(what, Duration::from_secs(20), done);
}

#[test]
fn the_api_answers_checks_its_token_and_serves_valid_metrics() {
    let dir = setup("127.0.0.1:0");
    // Only ever run by hand: its figures reach /metrics all the same.
    std::fs::write(
        dir.path().join("jobs/host.yaml"),
        "schedule: \"0 3 * * *\"\nrun: { host.stats: { sample: 100ms } }\n",
    )
    .unwrap();
    let (d, addr) = daemon(dir.path());
    let token_file = dir.path().join("state/api-token");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = std::fs::read_to_string(&token_file).unwrap();
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        (mode("state"), mode("state/clawcron.db")),
        (0o700, 0o600),
        "state dir and ledger private"
    );

    let health = json(&addr, "/healthz", None);
    assert_eq!(health["ok"], true, "{health}");
    wait_for("a few runs", || {
        json(&addr, "/api/runs?job=ok&limit=5", Some(&token))
            .as_array()
            .unwrap()
            .len()
            >= 3
    });
    let jobs = json(&addr, "/api/jobs", Some(&token));
    let ok = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "ok")
        .unwrap();
    assert_eq!(
        (ok["kind"].as_str(), ok["description"].as_str()),
        (Some("shell"), Some("succeeds every second"))
    );
    assert!(ok["next"].as_str().unwrap().starts_with("20"), "{ok}");
    assert_eq!(ok["last"]["status"], "succeeded", "{ok}");
    let nightly = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "nightly")
        .unwrap();
    assert!(
        nightly["next"]
            .as_str()
            .unwrap()
            .ends_with("T03:00:00+00:00"),
        "{nightly}"
    );
    assert!(nightly["last"].is_null());
    assert_eq!(
        json(&addr, "/api/runs?job=ok&limit=2", Some(&token))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let alerts = json(&addr, "/api/alerts", Some(&token));
    assert_eq!(alerts["alerts"][0]["rule"], "load-high", "{alerts}");
    assert_eq!(alerts["alerts"][0]["phase"], "ok");

    // Trigger: the token is required, then a manual run happens.
    assert_eq!(
        http(&addr, "POST", "/api/jobs/nightly/trigger", None).0,
        401
    );
    assert_eq!(
        http(&addr, "POST", "/api/jobs/nightly/trigger", Some("wrong")).0,
        401
    );
    assert_eq!(
        http(&addr, "POST", "/api/jobs/nope/trigger", Some(&token)).0,
        404
    );
    let (code, body) = http(&addr, "POST", "/api/jobs/nightly/trigger", Some(&token));
    assert_eq!(code, 202, "{body}");
    wait_for("the triggered run", || {
        json(&addr, "/api/runs?job=nightly", Some(&token))
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["trigger"] == "manual" && r["status"] == "failed")
    });

    // The jobs' own figures, latest per job and metric, from runs of any trigger.
    let recorded = |job: &str| -> Vec<serde_json::Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .args(["--state-dir", "state", "metrics", job, "--json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let scrape = || http(&addr, "GET", "/metrics", Some(&token)).1;
    let sample = |metrics: &str, job: &str, metric: &str| -> Option<f64> {
        let key = format!("clawcron_job_metric{{job=\"{job}\",metric=\"{metric}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&key))
            .map(|v| v.parse().unwrap())
    };
    let before = scrape();
    assert!(
        sample(&before, "host", "cpu_percent").is_none(),
        "no run yet"
    );
    for round in 1..=2 {
        let (code, body) = http(&addr, "POST", "/api/jobs/host/trigger", Some(&token));
        assert_eq!(code, 202, "{body}");
        wait_for("the host run", || {
            json(&addr, "/api/runs?job=host", Some(&token))
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] == "succeeded")
                .count()
                == round
        });
        let rows = recorded("host");
        let last_run = rows
            .iter()
            .map(|r| r["run_id"].as_i64().unwrap())
            .max()
            .unwrap();
        let metrics = scrape();
        for name in [
            "cpu_percent",
            "mem_percent",
            "mem_total_bytes",
            "load1",
            "swap_used_bytes",
        ] {
            let want = rows
                .iter()
                .find(|r| r["run_id"] == last_run && r["name"] == name)
                .unwrap()["value"]
                .as_f64()
                .unwrap();
            // serde_json (without float_roundtrip) may read the last digit off by one ulp.
            let got = sample(&metrics, "host", name).unwrap_or(f64::NAN);
            assert!(
                (got - want).abs() <= want.abs() * 1e-12,
                "{name} of run {last_run}: {got} != {want}\n{metrics}"
            );
        }
    }
    let metrics = scrape();
    assert!(
        metrics
            .contains("# HELP clawcron_job_metric The latest value of each figure a job measured")
            && metrics.contains("# TYPE clawcron_job_metric gauge\n"),
        "{metrics}"
    );
    assert!(sample(&metrics, "ok", "load").is_some(), "{metrics}");
    assert_eq!(
        metrics
            .matches("clawcron_job_metric{job=\"host\",metric=\"cpu_percent\"}")
            .count(),
        1,
        "one series per job and metric"
    );

    // Metrics: valid for promtool (where it can be installed; CI installs it).
    let (code, metrics) = http(&addr, "GET", "/metrics", Some(&token));
    assert_eq!(code, 200);
    for needle in [
        "clawcron_runs_total{job=\"ok\",outcome=\"succeeded\"}",
        "clawcron_runs_total{job=\"nightly\",outcome=\"failed\"} 1",
        "clawcron_run_duration_seconds_bucket{job=\"ok\",le=\"+Inf\"}",
        "clawcron_fire_lateness_seconds_count{job=\"ok\"}",
        "clawcron_alerts_firing{job=\"ok\"} 0",
        "clawcron_outbox_pending 0",
        "clawcron_last_success_timestamp_seconds{job=\"ok\"}",
    ] {
        assert!(metrics.contains(needle), "{needle} not in\n{metrics}");
    }
    if common::require("promtool", "prometheus") {
        let mut p = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin
            .take()
            .unwrap()
            .write_all(metrics.as_bytes())
            .unwrap();
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // `clawcron status` reads the API.
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("clawcron 0."), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok ") && l.contains("succeeded")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("nightly ") && l.contains("failed")),
        "{text}"
    );

    // The dashboard, in headless Chromium where it is installed.
    let (code, page) = http(&addr, "GET", "/", Some(&token));
    assert_eq!(code, 200);
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    assert!(!page.contains("<script"), "no JavaScript");
    if let Some(bin) = common::chromium() {
        // A browser gets in through a one-time link, which sets its session cookie.
        let (code, once) = http(&addr, "POST", "/api/session/once", Some(&token));
        assert_eq!(code, 200, "{once}");
        let once: serde_json::Value = serde_json::from_str(&once).unwrap();
        let url = format!("http://{addr}{}", once["path"].as_str().unwrap());
        let dom = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--dump-dom",
                &url,
            ])
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&dom.stdout);
        assert!(dom.contains("<td>ok</td><td>shell</td>"), "{dom}");
        assert!(dom.contains("<td>nightly</td><td>shell</td>"), "{dom}");
        assert!(
            dom.contains("class=\"spark\""),
            "a sparkline of the load figure"
        );
        let art = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-artifacts");
        std::fs::create_dir_all(&art).unwrap();
        let png = art.join("dashboard.png");
        let shot = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1100,1400",
                &format!("--screenshot={}", png.display()),
                &url,
            ])
            .output()
            .unwrap();
        assert!(shot.status.success());
        assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    }
    stop(d);
    assert!(
        !dir.path().join("state/api.addr").exists(),
        "removed at a clean stop"
    );
}

#[test]
fn beyond_loopback_every_endpoint_needs_the_token() {
    let dir = setup("0.0.0.0:0");
    let (d, addr) = daemon(dir.path());
    let port = addr.rsplit(':').next().unwrap();
    let local = format!("127.0.0.1:{port}");
    let token = std::fs::read_to_string(dir.path().join("state/api-token")).unwrap();
    for path in [
        "/",
        "/healthz",
        "/api/jobs",
        "/api/runs",
        "/api/alerts",
        "/metrics",
    ] {
        assert_eq!(http(&local, "GET", path, None).0, 401, "{path}");
        assert_eq!(http(&local, "GET", path, Some(&token)).0, 200, "{path}");
    }
    stop(d);
}
