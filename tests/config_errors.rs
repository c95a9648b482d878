//! Bad job files: each gives one exact, located error text; none panics; one bad file never
//! stops the others from loading.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clawcron::config;

use clawcron::model::GlobalConfig;
use std::path::Path;
use std::time::Instant;

fn global() -> GlobalConfig {
    GlobalConfig {
        timezone: "Europe/Paris".parse().unwrap(),
        ..GlobalConfig::default()
    }
}

/// Loads `content` as `<name>.yaml` and returns its errors, rendered, with the folder removed.
fn errors_of(name: &str, content: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, content).unwrap();
    let errs = config::load_job_file(&path, &global()).expect_err("the file must be rejected");
    errs.iter()
        .map(|d| {
            d.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn check(name: &str, content: &str, expected: &str) {
    assert_eq!(errors_of(name, content.as_bytes()), expected, "for {name}");
}

#[test]
fn bad_cron() {
    check(
        "bad-cron",
        "schedule: \"0 3 * * * * *\"\nrun:\n  command: [\"true\"]\n",
        "bad-cron.yaml:1:11: `schedule`: a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first); `0 3 * * * * *` has 7
  |
1 | schedule: \"0 3 * * * * *\"
  |           ^^^^^^^^^^^^^^^
  = expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly",
    );
    check(
        "bad-minute",
        "schedule: \"61 3 * * *\"\nrun:\n  command: [\"true\"]\n",
        "bad-minute.yaml:1:11: `schedule`: invalid cron expression `61 3 * * *`: the minute field `61` is not valid (allowed: 0-59)
  |
1 | schedule: \"61 3 * * *\"
  |           ^^^^^^^^^^^^
  = expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly",
    );
}

#[test]
fn unknown_key_suggests_the_nearest() {
    check(
        "unknown-key",
        "schedule: \"0 3 * * *\"\nretri: { attempts: 3 }\nrun:\n  command: [\"true\"]\n",
        "unknown-key.yaml:2:1: unknown key `retri`
  |
2 | retri: { attempts: 3 }
  | ^^^^^
  = expected one of: description, enabled, schedule, every, at_start, timezone, missed, overlap, timeout, retry, run, metrics, locks, alerts, notify, regression, language, maintenance, after, runs_on, retry_on_node_loss
  = help: did you mean `retry`?",
    );
    check(
        "nested-key",
        "schedule: \"0 3 * * *\"\nrun:\n  comand: [\"true\"]\n",
        "nested-key.yaml:3:3: `run`: unknown key `comand`
  |
3 |   comand: [\"true\"]
  |   ^^^^^^
  = expected one of: command, shell, env, workdir, leftovers, http, docker.restart, docker.exec, docker.stats, host.stats, ollama.preload, ollama.unload, ollama.bench, ollama.status, monitor, report, external
  = help: did you mean `command`?",
    );
}

#[test]
fn bad_timezone() {
    check(
        "bad-tz",
        "schedule: \"0 3 * * *\"\ntimezone: Europe/Pari\nrun:\n  command: [\"true\"]\n",
        "bad-tz.yaml:2:11: `timezone`: unknown time zone `Europe/Pari`
  |
2 | timezone: Europe/Pari
  |           ^^^^^^^^^^^
  = expected an IANA time zone name such as Europe/Paris or America/New_York
  = help: did you mean `Europe/Paris`?",
    );
}

#[test]
fn wrong_types() {
    check(
        "wrong-type",
        "schedule: \"0 3 * * *\"\nretry:\n  attempts: three\nrun:\n  command: [\"true\"]\n",
        "wrong-type.yaml:3:13: `retry.attempts`: `three` is not a whole number (0 or more)
  |
3 |   attempts: three
  |             ^^^^^
  = expected a whole number (0 or more)",
    );
    check(
        "bare-seconds",
        "schedule: \"0 3 * * *\"\ntimeout: 300\nrun:\n  command: [\"true\"]\n",
        "bare-seconds.yaml:2:10: `timeout`: `300` has no unit: expected a duration such as 30s, 5m, 2h, 1h30m or 3d
  |
2 | timeout: 300
  |          ^^^
  = expected a duration such as 30s, 5m, 2h, 1h30m or 3d",
    );
    check(
        "bad-policy",
        "schedule: \"0 3 * * *\"\nmissed: { policy: lastest }\nrun:\n  command: [\"true\"]\n",
        "bad-policy.yaml:2:19: `missed.policy`: `lastest` is not a valid value
  |
2 | missed: { policy: lastest }
  |                   ^^^^^^^
  = expected one of: skip, latest, all
  = help: did you mean `latest`?",
    );
}

#[test]
fn yaml_syntax_error() {
    check(
        "syntax",
        "schedule: \"0 3 * * *\"\nrun:\n  command: [true\n",
        "syntax.yaml:3:12: `run.command`: unclosed bracket '['
  |
3 |   command: [true
  |            ^",
    );
    check(
        "dup",
        "schedule: \"0 3 * * *\"\nschedule: \"0 4 * * *\"\nrun:\n  command: [\"true\"]\n",
        "dup.yaml:2:1: `schedule`: duplicate key `schedule`
  |
2 | schedule: \"0 4 * * *\"
  | ^",
    );
}

#[test]
fn structure_errors() {
    check(
        "no-run",
        "schedule: \"0 3 * * *\"\n",
        "no-run.yaml:1:1: missing key `run`
  |
1 | schedule: \"0 3 * * *\"
  | ^
  = expected a `run:` mapping with one job kind, e.g. `run: { command: [echo, hello] }`",
    );
    check(
        "two-schedules",
        "schedule: \"0 3 * * *\"\nevery: 5m\nrun:\n  command: [\"true\"]\n",
        "two-schedules.yaml:2:8: `every`: a job has one of `schedule`, `every` and `at_start`, not several
  |
2 | every: 5m
  |        ^^",
    );
    check(
        "unset-env",
        "every: 1m\nrun:\n  command: [\"true\"]\n  env: { TOKEN: \"${CLAWCRON_TEST_SURELY_UNSET}\" }\n",
        "unset-env.yaml:4:17: `run.env.TOKEN`: environment variable `CLAWCRON_TEST_SURELY_UNSET` is not set
  |
4 |   env: { TOKEN: \"${CLAWCRON_TEST_SURELY_UNSET}\" }
  |                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    );
}

#[test]
fn yaml_bombs_are_refused_fast() {
    // Billion laughs: nine levels of nine aliases each (9^9 "lol"s if expanded).
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        bomb.push_str(&format!(
            "{}: &{} [{}]\n",
            w[1],
            w[1],
            vec![format!("*{}", w[0]); 9].join(",")
        ));
    }
    let t = Instant::now();
    let text = errors_of("bomb", bomb.as_bytes());
    assert!(t.elapsed().as_millis() < 1000);
    assert!(text.starts_with("bomb.yaml:1:1: unknown key `a`"), "{text}");

    // The same shape where the schema accepts the aliases: stopped by the alias budget.
    let flood = format!(
        "schedule: \"0 3 * * *\"\nrun:\n  command: [&x lol{}]\n",
        ", *x".repeat(500)
    );
    let t = Instant::now();
    let text = errors_of("flood", flood.as_bytes());
    assert!(t.elapsed().as_millis() < 1000);
    assert_eq!(
        text.lines().next().unwrap(),
        "flood.yaml:3:421: the document has more than 100 aliases (`*name`); a job file needs far less (this guards against \"YAML bombs\")"
    );

    // 200 KB of `[`: refused at the depth limit at once (serde_yaml took 39 s here).
    let deep = format!("description: {}\n", "[".repeat(200_000));
    let t = Instant::now();
    let text = errors_of("deep", deep.as_bytes());
    assert!(t.elapsed().as_millis() < 1000, "took {:?}", t.elapsed());
    assert!(text.starts_with("deep.yaml:1:"), "{text}");
}

#[test]
fn ten_megabyte_file_is_refused_before_parsing() {
    let big = format!("description: \"{}\"\n", "x".repeat(10 * 1024 * 1024));
    assert_eq!(
        errors_of("huge", big.as_bytes()),
        "huge.yaml: the file is 10485776 bytes, more than the 1048576-byte limit for a config file"
    );
}

#[test]
fn invalid_utf8() {
    assert_eq!(
        errors_of(
            "utf8",
            b"description: caf\xc3\xa9 \xff\xfe\nschedule: \"0 3 * * *\"\n"
        ),
        "utf8.yaml:1:19: invalid UTF-8 (byte 0xff)
  |
1 | description: café \u{fffd}\u{fffd}
  |                   ^
  = expected UTF-8 text"
    );
}

#[test]
fn one_bad_file_never_stops_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("good.yaml"),
        "every: 5m\nrun: { shell: \"echo ok\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "every: 5 minutes\nrun: { shell: \"echo ok\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("also-good.yml"),
        "schedule: \"@daily\"\nrun: { command: [\"true\"] }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a job").unwrap();
    let (jobs, errors) = config::load_jobs(dir.path(), &global());
    let ids: Vec<&str> = jobs.iter().map(|j| &*j.id).collect();
    assert_eq!(ids, ["also-good", "good"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, dir.path().join("bad.yaml"));
    assert_eq!(errors[0].key.as_deref(), Some("every"));
}

#[test]
fn shipped_jobs_are_valid() {
    let (jobs, errors) = config::load_jobs(Path::new("jobs"), &global());
    assert!(errors.is_empty(), "{errors:#?}");
    let ids: Vec<&str> = jobs.iter().map(|j| &*j.id).collect();
    let kinds: Vec<&str> = jobs.iter().map(|j| j.action.kind()).collect();
    assert_eq!(
        kinds,
        [
            "monitor",
            "docker.restart",
            "ollama.preload",
            "monitor",
            "report"
        ]
    );
    assert_eq!(
        ids,
        [
            "gateway-health",
            "gateway-restart",
            "model-preload",
            "nightly-benchmark",
            "weekly-report"
        ]
    );
}

#[test]
fn monitor_probe_and_remediation_errors_name_their_key() {
    check(
        "probe",
        "every: 5m\nrun:\n  monitor:\n    probes:\n      ready: { http: { url: \"ftp://x\" } }\n",
        "probe.yaml:5:29: `run.monitor.probes.ready.http.url`: `ftp://x` is not an http:// or https:// URL
  |
5 |       ready: { http: { url: \"ftp://x\" } }
  |                             ^^^^^^^^^
  = expected a URL such as http://127.0.0.1:18789/readyz",
    );
    check(
        "nested",
        "every: 5m\nrun:\n  monitor:\n    probes:\n      inner: { monitor: { probes: {} } }\n",
        "nested.yaml:5:25: `run.monitor.probes.inner.monitor`: only a job's own `run` can be a monitor, not a probe or a remediation
  |
5 |       inner: { monitor: { probes: {} } }
  |                         ^",
    );
    check(
        "fix",
        "every: 5m\nrun: { shell: \"true\" }\nmetrics: [{ regex: 'x=(?P<x>[0-9]+)' }]\nalerts:\n  - when: \"x > 1\"\n    remediate: { run: { docker.restart: {} }, max: 0 }\n",
        "fix.yaml:6:41: `alerts.remediate.run.docker.restart`: name the container: `container: NAME` or `service: COMPOSE_SERVICE`, one of them
  |
6 |     remediate: { run: { docker.restart: {} }, max: 0 }
  |                                         ^
  = expected e.g. `container: openclaw-gateway`

fix.yaml:6:52: `alerts.remediate.max`: must be at least 1
  |
6 |     remediate: { run: { docker.restart: {} }, max: 0 }
  |                                                    ^",
    );
}

#[test]
fn a_webhook_takes_secret_env_or_secret_file_not_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clawcron.yaml");
    std::fs::write(
        &path,
        "notifiers:\n  hook:\n    webhook: { url: \"https://example.org/h\", secret_env: HOOK_SECRET, secret_file: ~/hook.secret }\n",
    )
    .unwrap();
    let (_, errs, _) = config::load_global(Some(&path));
    let text: Vec<String> = errs
        .iter()
        .map(|d| {
            d.to_string()
                .replace(&format!("{}/", dir.path().display()), "")
        })
        .collect();
    assert_eq!(
        text,
        ["clawcron.yaml:3:58: `notifiers.hook.webhook.secret_env`: give `secret_env` or `secret_file`, not both
  |
3 |     webhook: { url: \"https://example.org/h\", secret_env: HOOK_SECRET, secret_file: ~/hook.secret }
  |                                                          ^^^^^^^^^^^"]
    );
    // One of them is fine, and `~` in the file's path is the home folder.
    std::fs::write(
        &path,
        "notifiers:\n  hook:\n    webhook: { url: \"https://example.org/h\", secret_file: ~/hook.secret }\n",
    )
    .unwrap();
    let (g, errs, _) = config::load_global(Some(&path));
    assert!(errs.is_empty(), "{errs:?}");
    let Some(clawcron::model::Channel::Webhook(w)) = g.notifiers.get("hook") else {
        panic!("a webhook")
    };
    let home = std::env::var("HOME").unwrap();
    assert_eq!(
        w.secret,
        Some(clawcron::model::Password::File(
            Path::new(&home).join("hook.secret")
        ))
    );
}

/// With one `${VAR}` of clawcron.yaml unset (in a notifier's URL), no command falls back to the
/// defaults: `trigger` refuses, naming the file, the line and the variable (it runs nothing
/// beside the daemon, in another ledger); `history` warns and reads the configured ledger; with
/// the error in `state_dir` itself, `history` refuses too.
#[test]
fn a_config_with_errors_never_falls_back_to_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("jobs/hello.yaml"),
        "schedule: \"0 3 * * *\"\nrun: { shell: \"echo hello\" }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(p)
            .args(args)
            .env_remove("CLAWCRON_STATE_DIR")
            .env_remove("HOOK_PATH_UNSET")
            .output()
            .unwrap()
    };
    // A good config first: one run in the configured ledger.
    std::fs::write(p.join("clawcron.yaml"), "state_dir: mystate\n").unwrap();
    assert_eq!(run(&["trigger", "hello"]).status.code(), Some(0));
    std::fs::write(
        p.join("clawcron.yaml"),
        "state_dir: mystate\nnotifiers:\n  hook: { webhook: { url: \"https://hooks.example.org/${HOOK_PATH_UNSET}\" } }\n",
    )
    .unwrap();
    let out = run(&["trigger", "hello"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("clawcron.yaml:3:"), "{err}");
    assert!(err.contains("HOOK_PATH_UNSET"), "{err}");
    assert!(!err.contains("running `hello` in this process"), "{err}");
    let out = run(&["history", "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: clawcron.yaml has 1 error(s)"),
        "{err}"
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows.len(),
        1,
        "the configured ledger, with its one run: {rows:?}"
    );
    assert!(!p.join("state").exists() && !p.join(".local").exists());
    // The error in state_dir itself: nothing to read.
    std::fs::write(p.join("clawcron.yaml"), "state_dir: ${HOOK_PATH_UNSET}/s\n").unwrap();
    let out = run(&["history"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("state_dir, jobs_dir or ledger is among them"),
        "{err}"
    );
}

/// `check` reports every error of clawcron.yaml, not only the first; a value of the wrong shape
/// names its key and shows the right shape; one mistake gives one error (the jobs that name a
/// channel declared beside the mistake are not judged against an empty list of channels).
#[test]
fn every_error_of_the_global_file_once_each_with_its_key_and_shape() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        "ledger: \"postgres://u@h/db\"\nnotifiers:\n  mail: { email: { smtp: { host: h }, from: a@b.c, to: [d@e.f] } }\ndaemon_notify: { to: [mail] }\nmax_concurrent_runs: -1\n",
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/a.yaml"),
        "schedule: \"0 3 * * *\"\nrun: { shell: \"true\" }\nnotify: { on: [failure], to: [mail] }\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(p)
        .args(["check"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: clawcron.yaml:1:9: `ledger`: the wrong shape of value\n  |\n1 | ledger: \"postgres://u@h/db\"\n  |         ^\n  = expected a mapping (`key: value` pairs), such as `ledger: { url: \"postgres://clawcron@db.lan/clawcron\", password_env: PGPASSWORD }`"), "{err}");
    assert!(
        err.contains("error: clawcron.yaml:4:16: `daemon_notify`: the wrong shape of value"),
        "{err}"
    );
    assert!(
        err.contains(
            "= expected a list (`[a, b]` or `- a` lines), such as `daemon_notify: [ops-email]`"
        ),
        "{err}"
    );
    assert!(err.contains("error: clawcron.yaml:5:22: `max_concurrent_runs`: `-1` is not a whole number (0 or more)"), "{err}");
    assert_eq!(
        err.matches("error: ").count(),
        3,
        "one error per mistake: {err}"
    );
    assert!(!err.contains("no notifier"), "{err}");
}
