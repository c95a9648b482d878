//! Chains (`after:`), end to end through the real binary: a run of the upstream job causes one
//! run of each job chained after it whose `on` matches, with trigger `after` and its cause; a
//! daemon restart does not run them again; `list` shows the chain; a cycle and an unknown
//! upstream are located errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn rows(dir: &Path, job: &str) -> Vec<serde_json::Value> {
    cli_value(dir, &["history", job, "--limit", "1000", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_chained_job_runs_once_per_upstream_run_and_not_again_after_a_restart() {
    let env = Env::new();
    let p = env.dir.path();
    env.write_job(
        "gateway-restart",
        "schedule: \"0 0 1 1 *\"\nrun: { shell: \"echo restarted\" }\n",
    );
    env.write_job(
        "bench",
        "after: { job: gateway-restart }\nrun: { shell: \"echo measured\" }\n",
    );
    env.write_job(
        "on-failure",
        "after: { job: gateway-restart, on: [failure] }\nrun: { shell: \"echo told\" }\n",
    );
    let out = env.clawcron(&["check"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&env.clawcron(&["list"], &[]).stdout).to_string();
    let line = list.lines().find(|l| l.starts_with("bench ")).unwrap();
    assert!(line.contains("after gateway-restart (success)"), "{list}");
    let line = list.lines().find(|l| l.starts_with("on-failure ")).unwrap();
    assert!(line.contains("after gateway-restart (failure)"), "{list}");

    // Any free port: another daemon may have the default one.
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { listen: \"127.0.0.1:0\" }\n",
    )
    .unwrap();
    let (d, addr) = spawn_daemon(p, &[], Stdio::null());
    for _ in 0..2 {
        let out = env.clawcron(&["trigger", "gateway-restart"], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_for("two chained runs", Duration::from_secs(10), || {
        rows(p, "bench")
            .iter()
            .filter(|r| r["status"] == "succeeded")
            .count()
            == 2
    });
    // The dashboard's jobs show the chain too.
    let jobs = http_json(
        &addr.expect("the API's address"),
        "/api/jobs",
        Some(
            std::fs::read_to_string(p.join("state/api-token"))
                .unwrap()
                .trim(),
        ),
    );
    let bench = jobs
        .as_array()
        .or_else(|| jobs["jobs"].as_array())
        .unwrap()
        .iter()
        .find(|j| j["id"] == "bench")
        .unwrap()
        .clone();
    assert_eq!(
        bench["schedule"], "after gateway-restart (success)",
        "{bench}"
    );
    stop_daemon(d);

    let upstream: Vec<i64> = rows(p, "gateway-restart")
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(upstream.len(), 2);
    let mut causes: Vec<String> = rows(p, "bench")
        .iter()
        .map(|r| {
            assert_eq!(r["trigger"], "after", "{r}");
            r["cause"].as_str().unwrap().to_string()
        })
        .collect();
    causes.sort();
    let mut expected: Vec<String> = upstream
        .iter()
        .map(|id| format!("after gateway-restart run {id}"))
        .collect();
    expected.sort();
    assert_eq!(causes, expected);
    assert!(
        rows(p, "on-failure").is_empty(),
        "`on: [failure]` does not run after a success"
    );

    // A restart runs nothing again.
    let (d, _) = spawn_daemon(p, &[], Stdio::null());
    std::thread::sleep(Duration::from_secs(2));
    stop_daemon(d);
    assert_eq!(rows(p, "bench").len(), 2);
    assert!(rows(p, "on-failure").is_empty());
}

#[test]
fn a_failure_runs_the_jobs_chained_on_failure() {
    let env = Env::new();
    let p = env.dir.path();
    env.write_job(
        "up",
        "schedule: \"0 0 1 1 *\"\nrun: { shell: \"exit 3\" }\n",
    );
    env.write_job(
        "told",
        "after: { job: up, on: [failure] }\nrun: { shell: \"echo told\" }\n",
    );
    env.write_job(
        "measured",
        "after: { job: up }\nrun: { shell: \"echo m\" }\n",
    );
    // Without a daemon: the chain runs in this process too.
    let out = env.clawcron(&["trigger", "up"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let told = rows(p, "told");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["trigger"], "after");
    assert_eq!(told[0]["status"], "succeeded");
    let up = rows(p, "up")[0]["id"].as_i64().unwrap();
    assert_eq!(told[0]["cause"], format!("after up run {up}"));
    assert!(rows(p, "measured").is_empty());
}

#[test]
fn a_cycle_is_a_located_error_that_shows_the_cycle() {
    let env = Env::new();
    env.write_job(
        "a",
        "every: 1h\nafter:\n  job: b\nrun: { shell: \"true\" }\n",
    );
    env.write_job("b", "after: { job: a }\nrun: { shell: \"true\" }\n");
    env.write_job("self", "after: { job: self }\nrun: { shell: \"true\" }\n");
    env.write_job("typo", "after: { job: aa }\nrun: { shell: \"true\" }\n");
    let out = env.clawcron(&["check"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "error: jobs/a.yaml:3:8: `after.job`: `after` makes a cycle: a → b → a
  |
3 |   job: b
  |        ^
  = help: a job cannot run after itself, directly or through others: remove one `after`
"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("jobs/b.yaml:1:15: `after.job`: `after` makes a cycle: b → a → b"),
        "{stderr}"
    );
    assert!(
        stderr.contains("jobs/self.yaml:1:15: `after.job`: `after` makes a cycle: self → self"),
        "{stderr}"
    );
    assert!(
        stderr.contains("jobs/typo.yaml:1:15: `after.job`: no job `aa` to run after"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `a`?"), "{stderr}");
}
