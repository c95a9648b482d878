//! End to end through the built binary: `check`, `next`, `trigger`, `history`, exit codes, and
//! the daemon itself: READY, graceful shutdown, and exactly-once across `kill -9` and restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        std::fs::write(
            dir.path().join("clawcron.yaml"),
            "timezone: Europe/Paris\nshutdown_grace: 1s\nkill_grace: 1s\n",
        )
        .unwrap();
        Env { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn job(&self, name: &str, yaml: &str) -> &Self {
        std::fs::write(self.path().join("jobs").join(format!("{name}.yaml")), yaml).unwrap();
        self
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clawcron"));
        c.current_dir(self.path())
            .args(["--state-dir", "state"])
            .args(args)
            .env_remove("CLAWCRON_STATE_DIR")
            .env("NO_COLOR", "1");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Starts the daemon and waits for its READY line.
    fn daemon(&self) -> Child {
        let mut child = self
            .cmd(&["run"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("no READY line");
        let nanos: i64 = line["READY ".len()..].trim().parse().unwrap();
        assert!(nanos > 1_700_000_000_000_000_000);
        child
    }

    fn history(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["history", "--limit", "100000", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn check_reports_every_bad_file_and_exits_1() {
    let env = Env::new();
    env.job("good", "every: 5m\nrun: { shell: \"true\" }\n")
        .job(
            "bad-tz",
            "every: 5m\ntimezone: Mars/Olympus\nrun: { shell: \"true\" }\n",
        )
        .job(
            "bad-key",
            "every: 5m\novrlap: skip\nrun: { shell: \"true\" }\n",
        );
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        text(&out.stderr),
        "error: jobs/bad-key.yaml:2:1: unknown key `ovrlap`
  |
2 | ovrlap: skip
  | ^^^^^^
  = expected one of: description, enabled, schedule, every, at_start, timezone, missed, overlap, timeout, retry, run, metrics, locks, alerts, notify, regression, language, maintenance, after, runs_on, retry_on_node_loss
  = help: did you mean `overlap`?

error: jobs/bad-tz.yaml:2:11: `timezone`: unknown time zone `Mars/Olympus`
  |
2 | timezone: Mars/Olympus
  |           ^^^^^^^^^^^^
  = expected an IANA time zone name such as Europe/Paris or America/New_York
2 errors in 2 files; 1 valid job
"
    );
    std::fs::remove_file(env.path().join("jobs/bad-tz.yaml")).unwrap();
    std::fs::remove_file(env.path().join("jobs/bad-key.yaml")).unwrap();
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "ok: 1 job valid in jobs\n");
}

#[test]
fn shipped_config_checks() {
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .arg("check")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok: 5 jobs valid in jobs\n");
}

#[test]
fn next_shows_local_and_utc_with_dst_marks() {
    let env = Env::new();
    env.job(
        "restart",
        "schedule: \"30 2 * * *\"\nrun: { command: [\"true\"] }\n",
    );
    let out = env.run(&["next", "restart", "-n", "3", "--from", "2026-03-28 00:00"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "restart: cron \"30 2 * * *\" (Europe/Paris) in Europe/Paris
  2026-03-28 02:30:00 CET (+01:00)  2026-03-28T01:30:00Z
  2026-03-29 03:00:00 CEST (+02:00)  2026-03-29T01:00:00Z  * DST gap: 02:30:00 does not exist, runs at the end of the gap
  2026-03-30 02:30:00 CEST (+02:00)  2026-03-30T00:30:00Z
"
    );
    let out = env.run(&[
        "next",
        "restart",
        "-n",
        "2",
        "--from",
        "2026-10-24T12:00:00Z",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"local": "2026-10-25T02:30:00+02:00", "utc": "2026-10-25T00:30:00Z", "dst": "DST repeat: first pass"},
            {"local": "2026-10-26T02:30:00+01:00", "utc": "2026-10-26T01:30:00Z", "dst": null},
        ])
    );
    // Samoa skipped 30 December 2011: the job goes on, its slot that day at the end of the gap.
    env.job(
        "apia",
        "schedule: \"0 12 * * *\"\ntimezone: Pacific/Apia\nrun: { command: [\"true\"] }\n",
    );
    let out = env.run(&[
        "next",
        "apia",
        "-n",
        "3",
        "--from",
        "2011-12-29T23:59:59-10:00",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        "apia: cron \"0 12 * * *\" (Pacific/Apia) in Pacific/Apia
  2011-12-31 00:00:00 +14 (+14:00)  2011-12-30T10:00:00Z  * date skipped: the zone went past 2011-12-30; its 12:00:00 runs at the end of the gap
  2011-12-31 12:00:00 +14 (+14:00)  2011-12-30T22:00:00Z
  2012-01-01 12:00:00 +14 (+14:00)  2011-12-31T22:00:00Z
"
    );
    let out = env.run(&["next", "apia", "-n", "100000000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("100000000 is not in 1..=10000"),
        "{}",
        text(&out.stderr)
    );
    let out = env.run(&["next", "restrat"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: no job `restrat` in jobs\n  = help: did you mean `restart`?\n"
    );
}

#[test]
fn trigger_and_history() {
    let env = Env::new();
    env.job("hello", "every: 1h\nrun: { shell: \"echo hello from $CLAWCRON_JOB\" }\n")
        .job("broken", "every: 1h\nretry: { attempts: 2, backoff: 100ms, jitter: false }\nrun: { shell: \"echo nope; exit 7\" }\n");
    let out = env.run(&["trigger", "hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("hello: run 1 succeeded after "),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("hello from hello"),
        "output is logged live"
    );
    let out = env.run(&["trigger", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("broken: run 2 failed after"));
    assert!(
        text(&out.stdout).ends_with("(2 attempts): exited with status 7\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        text(&out.stderr).lines().last().unwrap(),
        "error: job `broken` failed"
    );

    let h = env.history();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["job"], "broken");
    assert_eq!(h[0]["status"], "failed");
    assert_eq!(h[0]["attempts"], 2);
    assert_eq!(h[0]["exit_code"], 7);
    assert_eq!(h[0]["output_tail"], "nope\n");
    assert_eq!(h[0]["trigger"], "manual");
    assert_eq!(h[1]["status"], "succeeded");
    let out = env.run(&["history", "hello"]);
    let table = text(&out.stdout);
    assert!(table.lines().nth(1).unwrap().contains(" hello "));
    assert_eq!(table.lines().count(), 2);
}

#[test]
fn daemon_stops_gracefully_and_kills_what_outlives_the_grace() {
    let env = Env::new();
    env.job(
        "sleeper",
        "schedule: \"* * * * * *\"\nrun: { shell: \"sleep 30\" }\n",
    );
    let mut d = env.daemon();
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    let st = terminate(&mut d);
    assert!(st.success());
    // 1 s of grace, then SIGTERM to the job's group (sleep dies at once).
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );
    let h = env.history();
    assert!(!h.is_empty());
    assert!(h.iter().all(|r| r["status"] != "running"), "{h:#?}");
    assert!(h.iter().any(|r| {
        r["status"] == "interrupted"
            && r["error"]
                .as_str()
                .unwrap()
                .starts_with("interrupted by daemon shutdown")
    }));
}

#[test]
fn second_daemon_on_the_same_state_dir_is_refused() {
    let env = Env::new();
    env.job("idle", "schedule: \"@yearly\"\nrun: { shell: \"true\" }\n");
    let mut d = env.daemon();
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!(
            "another clawcron daemon (pid {}) is running on the state directory",
            d.id()
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(terminate(&mut d).success());
}

#[test]
fn exactly_once_across_kill_9_and_restart() {
    let env = Env::new();
    let log: PathBuf = env.path().join("ran.log");
    env.job("tick", &format!("schedule: \"* * * * * *\"\noverlap: allow\nrun: {{ shell: \"echo $CLAWCRON_SLOT >> {}; sleep 0.8\" }}\n", log.display()));
    for _round in 0..3 {
        let mut d = env.daemon();
        // Kill 0.3 s into a second, two seconds on: a run that started on the second is going.
        std::thread::sleep(Duration::from_secs(2));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        std::thread::sleep(Duration::from_nanos(u64::from(
            (1_300_000_000 - nanos) % 1_000_000_000,
        )));
        d.kill().unwrap(); // SIGKILL: no chance to clean up
        d.wait().unwrap();
    }
    let mut d = env.daemon();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(terminate(&mut d).success());

    let rows = env.history();
    let mut slots: Vec<i64> = rows.iter().map(|r| r["slot"].as_i64().unwrap()).collect();
    slots.sort();
    let n = slots.len();
    slots.dedup();
    assert_eq!(slots.len(), n, "a slot has two rows");
    let span = (slots[n - 1] - slots[0] + 1) as usize;
    assert_eq!(
        n, span,
        "a slot between the first and the last has no row: {slots:?}"
    );
    assert!(
        rows.iter().all(|r| r["status"] != "running"),
        "a row was left running"
    );
    // Slots killed mid-run became `interrupted`; the ones that passed while no daemon ran are skipped.
    assert!(
        rows.iter().any(|r| r["status"] == "interrupted"),
        "{rows:#?}"
    );
    for r in rows.iter().filter(|r| r["status"] == "skipped") {
        assert_eq!(r["reason"], "missed: daemon not running");
    }
    // And what actually ran: each slot at most once, and every claimed slot did run.
    let ran = std::fs::read_to_string(&log).unwrap();
    let mut ran: Vec<&str> = ran.lines().collect();
    let total = ran.len();
    ran.sort();
    ran.dedup();
    assert_eq!(ran.len(), total, "a slot ran twice");
    // A kill -9 between claiming a slot and starting its process leaves a claimed slot that did
    // not run (recorded as interrupted, not re-run): at most one per kill.
    let claimed = rows.iter().filter(|r| r["status"] != "skipped").count();
    assert!(
        total <= claimed && claimed - total <= 3,
        "ran {total}, claimed {claimed}"
    );
}

#[test]
fn install_writes_a_valid_launchd_plist_and_systemd_unit() {
    let env = Env::new();
    let home = tempfile::tempdir().unwrap();
    let install = |target: &str, dry: bool| {
        let mut c = env.cmd(&["install", "--target", target]);
        if dry {
            c.arg("--dry-run");
        }
        c.env("HOME", home.path()).output().unwrap()
    };
    // A dry run writes nothing and says what it would do.
    let out = install("launchd", true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let plist = home
        .path()
        .join("Library/LaunchAgents/com.clawcron.agent.plist");
    // The test binary is in cargo's build folder: the service runs a copy at a stable path.
    let bin = home.path().join(".local/bin/clawcron");
    assert!(
        shown.starts_with(&format!(
            "would make {}\nwould copy {} to {}\nwould write {}:\n<?xml",
            home.path().join("Library/Logs/clawcron").display(),
            std::fs::canonicalize(env!("CARGO_BIN_EXE_clawcron"))
                .unwrap()
                .display(),
            bin.display(),
            plist.display()
        )),
        "{shown}"
    );
    assert!(
        shown.contains("would run: launchctl bootstrap gui/"),
        "{shown}"
    );
    assert!(!plist.exists());
    // The plist written from the dry run's text parses with plistlib, with the expected keys and types.
    let body = shown
        .split_once(":\n")
        .unwrap()
        .1
        .split("\nwould run")
        .next()
        .unwrap();
    let file = env.path().join("agent.plist");
    std::fs::write(&file, body).unwrap();
    let script = "import plistlib,sys\nd=plistlib.load(open(sys.argv[1],'rb'))\nprint(d['Label'], d['RunAtLoad'], d['KeepAlive'], d['ProcessType'], d['ExitTimeOut'], type(d['ExitTimeOut']).__name__, d['ProgramArguments'], d['WorkingDirectory'] == sys.argv[2], 'docker' in d['EnvironmentVariables']['PATH'].lower(), d['StandardErrorPath'].endswith('clawcron.err.log'))";
    let cwd = std::fs::canonicalize(env.path()).unwrap();
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&file)
        .arg(&cwd)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "com.clawcron.agent True {{'SuccessfulExit': False}} Standard 60 int ['{}', '--config', '{}', '--state-dir', '{}', '--log-file', '{}', 'run'] True True True\n",
            bin.display(),
            cwd.join("clawcron.yaml").display(),
            cwd.join("state").display(),
            home.path()
                .join("Library/Logs/clawcron/clawcron.log")
                .display()
        )
    );
    // The systemd unit, written for real (systemctl is not run: --dry-run prints the commands).
    let out = install("systemd", true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("ExecStart=") && shown.contains("TimeoutStopSec=60"),
        "{shown}"
    );
    assert!(
        shown.contains("would run: systemctl --user enable --now clawcron.service"),
        "{shown}"
    );
    let unit = shown
        .split_once(":\n")
        .unwrap()
        .1
        .split("\nwould run")
        .next()
        .unwrap();
    let unit_file = env.path().join("clawcron.service");
    std::fs::write(&unit_file, unit).unwrap();
    // verify checks that ExecStart exists: put the binary where the install would copy it.
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_clawcron"), &bin).unwrap();
    if common::require("systemd-analyze", "systemd") {
        let o = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit_file)
            .output()
            .unwrap();
        assert!(
            o.status.success() && text(&o.stderr).trim().is_empty(),
            "systemd-analyze verify: {}",
            text(&o.stderr)
        );
    }
    let out = env
        .cmd(&["uninstall", "--target", "systemd", "--dry-run"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("would remove")
            && text(&out.stdout)
                .contains("would run: systemctl --user disable --now clawcron.service"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn install_carries_env_vars_into_0600_files_and_warns_about_the_others() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    std::fs::write(
        env.path().join("clawcron.yaml"),
        "timezone: Europe/Paris\nnotifiers:\n  hook:\n    webhook: { url: \"http://127.0.0.1:9/h\", secret_env: HOOK_SECRET }\n",
    )
    .unwrap();
    env.job(
        "gw",
        "every: 5m\nrun:\n  docker.stats: { container: \"${OPENCLAW_CONTAINER:-openclaw-gateway}\" }\n",
    );
    let home = tempfile::tempdir().unwrap();
    let install = |args: &[&str]| {
        env.cmd(&[&["install"], args].concat())
            .env("HOME", home.path())
            .env("OPENCLAW_CONTAINER", "my-gateway")
            .env("HOOK_SECRET", "hmac-secret-value")
            .env("GW_NOTE", "a \"quoted\" $value")
            .output()
            .unwrap()
    };
    let bin = home.path().join(".local/bin/clawcron");
    // Dry run: the stable binary path and the carried variable are shown; nothing is written.
    let out = install(&[
        "--target",
        "launchd",
        "--dry-run",
        "--env",
        "OPENCLAW_CONTAINER",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains(&format!(
            "    <string>{}</string>\n    <string>--config</string>",
            bin.display()
        )),
        "{shown}"
    );
    assert!(
        shown.contains(
            "    <key>OPENCLAW_CONTAINER</key>\n    <string>my-gateway</string>\n  </dict>"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("(mode 0600: it holds the values given with --env):"),
        "{shown}"
    );
    assert_eq!(
        text(&out.stderr),
        "warning: `HOOK_SECRET` (notifiers.hook: secret_env) is set in this shell, but the service will not have it: sends through it will fail; add `--env HOOK_SECRET` or use the `*_file` key beside it\n\
         note: the service file will hold the values of OPENCLAW_CONTAINER (made 0600: readable by you only)\n"
    );
    assert!(!bin.exists() && !home.path().join("Library").exists());
    // Without --env, the shell's value of ${OPENCLAW_CONTAINER} is said to be lost.
    let out = install(&["--target", "launchd", "--dry-run"]);
    assert!(
        text(&out.stderr).contains("warning: `${OPENCLAW_CONTAINER}` (jobs/gw.yaml) is `my-gateway` in this shell, but the service will not have it and will use the default `openclaw-gateway`: add `--env OPENCLAW_CONTAINER` to keep `my-gateway`\n"),
        "{}",
        text(&out.stderr)
    );
    // `--env PATH` replaces the plist's PATH (one key, not two) and is no secret.
    let out = install(&["--target", "launchd", "--dry-run", "--env", "PATH"]);
    let shown = text(&out.stdout);
    assert_eq!(shown.matches("<key>PATH</key>").count(), 1, "{shown}");
    assert!(
        shown.contains(&format!(
            "<key>PATH</key>\n    <string>{}</string>\n  </dict>",
            std::env::var("PATH").unwrap()
        )),
        "{shown}"
    );
    assert!(!shown.contains("mode 0600"), "{shown}");
    // A variable that is not set cannot be carried.
    let out = install(&[
        "--target",
        "launchd",
        "--dry-run",
        "--env",
        "NOT_SET_ANYWHERE",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("`--env NOT_SET_ANYWHERE`: NOT_SET_ANYWHERE is not set in this shell"),
        "{}",
        text(&out.stderr)
    );
    // Real installs (the service manager is not started): files 0600, the binary copied.
    let out = install(&[
        "--target",
        "systemd",
        "--no-start",
        "--env",
        "HOOK_SECRET",
        "--env",
        "GW_NOTE",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("not run (--no-start): systemctl --user enable --now clawcron.service"),
        "{}",
        text(&out.stdout)
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let env_file = home.path().join(".config/clawcron/service.env");
    assert_eq!(mode(&env_file), 0o600);
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "# Written by `clawcron install --env`: the values the service is given.\nHOOK_SECRET=\"hmac-secret-value\"\nGW_NOTE=\"a \\\"quoted\\\" \\$value\"\n"
    );
    let unit =
        std::fs::read_to_string(home.path().join(".config/systemd/user/clawcron.service")).unwrap();
    assert!(
        unit.contains(&format!("\nEnvironmentFile={}\n", env_file.display()))
            && unit.contains(&format!("\nExecStart={} --config ", bin.display())),
        "{unit}"
    );
    assert_eq!(mode(&bin), 0o755);
    let version = Command::new(&bin).arg("--help").output().unwrap();
    assert!(version.status.success(), "the copied binary runs");
    if common::require("systemd-analyze", "systemd") {
        let o = Command::new("systemd-analyze")
            .arg("verify")
            .arg(home.path().join(".config/systemd/user/clawcron.service"))
            .output()
            .unwrap();
        assert!(
            o.status.success() && text(&o.stderr).trim().is_empty(),
            "systemd-analyze verify: {}",
            text(&o.stderr)
        );
    }
    let out = install(&["--target", "launchd", "--no-start", "--env", "HOOK_SECRET"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plist = home
        .path()
        .join("Library/LaunchAgents/com.clawcron.agent.plist");
    assert_eq!(mode(&plist), 0o600);
    let o = Command::new("python3")
        .args(["-c", "import plistlib,sys\nd=plistlib.load(open(sys.argv[1],'rb'))\nprint(d['EnvironmentVariables']['HOOK_SECRET'], d['ProgramArguments'][0])"])
        .arg(&plist)
        .output()
        .unwrap();
    assert_eq!(
        text(&o.stdout),
        format!("hmac-secret-value {}\n", bin.display())
    );
    // Uninstall removes the environment file with the unit.
    let out = env
        .cmd(&["uninstall", "--target", "systemd", "--dry-run"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains(&format!("would remove {}", env_file.display())),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn log_file_takes_every_line_and_stderr_none() {
    let env = Env::new();
    env.job("tick", "every: 1s\nrun: { shell: \"echo tick-line\" }\n");
    let logs = env.path().join("logs");
    let mut child = env
        .cmd(&[
            "--log-file",
            logs.join("clawcron.log").to_str().unwrap(),
            "run",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let file = || {
        std::fs::read_dir(&logs)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect::<String>()
    };
    common::wait_for(
        "a run's output in the log file",
        Duration::from_secs(20),
        || file().contains("tick-line"),
    );
    let names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with("clawcron.log."),
        "rotated by date: {names:?}"
    );
    assert_eq!(terminate(&mut child).code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(err, "", "nothing on stderr once the log file is open");
    assert!(file().contains("SIGTERM: shutting down"), "{}", file());
}

#[test]
fn alerts_fire_once_and_resolve_with_duration_and_peak() {
    let env = Env::new();
    let value = env.path().join("cpu.txt");
    env.job(
        "probe",
        &format!(
            "every: 5m\nrun: {{ shell: \"echo cpu=$(cat {})\" }}\nmetrics:\n  - regex: 'cpu=(?P<cpu_percent>[0-9.]+)'\nalerts:\n  - {{ name: cpu-high, when: \"cpu_percent > 90\", for: \"2 of 3\" }}\n",
            value.display()
        ),
    );
    for v in ["50", "95", "97", "99", "40", "30"] {
        std::fs::write(&value, v).unwrap();
        assert!(env.run(&["trigger", "probe"]).status.success());
    }
    let out = env.run(&["alerts", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["alerts"][0]["phase"], "ok");
    let events: Vec<(String, f64)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [("fired".to_string(), 97.0), ("resolved".to_string(), 30.0)],
        "no notice for the third breach, none for the first good sample"
    );
    let resolved = v["events"][0]["detail"].as_str().unwrap();
    assert!(
        resolved.starts_with("cpu_percent > 90 for 2 of 3; lasted ")
            && resolved.ends_with("; peak 99 %"),
        "{resolved}"
    );
}

#[test]
fn baseline_pins_the_before_and_report_compares_after_with_it() {
    let env = Env::new();
    let value = env.path().join("tps");
    env.job(
        "bench",
        &format!(
            "schedule: \"30 3 * * *\"\nrun: {{ shell: \"echo tokens_per_s=$(cat {})\" }}\nmetrics:\n  - regex: 'tokens_per_s=(?P<tokens_per_s>[0-9.]+)'\n",
            value.display()
        ),
    );
    env.job(
        "weekly",
        "schedule: \"0 8 * * 1\"\nrun: { report: { period: this-week, sources: { tokens_per_s: bench/tokens_per_s }, evidence: { ollama_url: \"http://127.0.0.1:9\" } } }\n",
    );
    let out = env.run(&["baseline", "bench", "--set"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no successful run with figures to pin yet"),
        "{}",
        text(&out.stderr)
    );
    for v in ["40", "44"] {
        std::fs::write(&value, v).unwrap();
        assert!(env.run(&["trigger", "bench"]).status.success());
    }
    // The median of the last two runs is pinned: 42.
    let out = env.run(&[
        "baseline",
        "bench",
        "--set",
        "--runs",
        "2",
        "--label",
        "before tuning",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with("pinned as the baseline of bench:\n  tokens_per_s"),
        "{shown}"
    );
    assert!(
        shown.contains("42.000") && shown.ends_with("(before tuning)\n"),
        "{shown}"
    );
    // After tuning: 63 tokens/s, +50 % against the pin.
    std::fs::write(&value, "63").unwrap();
    assert!(env.run(&["trigger", "bench"]).status.success());
    let out = env.run(&["report", "weekly", "--out", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = text(&out.stdout);
    assert!(
        md.contains("| Ollama tokens/s | 44.0 | 63.0 | no data | no data | 42.0 | +4.8 % |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| bench | tokens_per_s | 3 | 40.00 | 44.00 | 63.00 | 63.00 | no data | +4.8 % |"
        ),
        "{md}"
    );
    // Without --out, both files land in reports/.
    let out = env.run(&["report", "weekly", "--period", "2026-W47"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(env.path().join("reports/weekly-2026-W47.md").exists());
    assert!(env.path().join("reports/weekly-2026-W47.html").exists());
    let out = env.run(&["report", "bench"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: `bench` is a shell job, not a report\n"
    );
}

#[test]
fn import_crontab_writes_one_valid_job_per_line_and_reports_bad_lines() {
    let env = Env::new();
    let crontab = env.path().join("crontab.txt");
    std::fs::write(
        &crontab,
        "# OpenClaw monitoring (the guide's crontab)
MAILTO=me@example.org
OPENCLAW_HOME=/Users/me/openclaw

# threshold check every 5 minutes
*/5 * * * * /Users/me/openclaw/check-thresholds.sh >> /tmp/openclaw-alerts.log 2>&1
# nightly restart
0 3 * * * docker restart openclaw-gateway
@reboot /Users/me/openclaw/preload-models.sh
0 8 * * mon-fri mail -s disk me%The disk is full%Check \\%use
*/15 9-17 * * 1-5 /opt/bin/report --date=$(date +\\%F)
@daily /opt/bin/cleanup
61 * * * * /bin/true
not a crontab line
",
    )
    .unwrap();
    // A dry run writes nothing.
    let out = env.run(&["import", "crontab", crontab.to_str().unwrap(), "--dry-run"]);
    assert!(
        text(&out.stdout).contains("would write jobs/restart-openclaw-gateway.yaml (line 8):"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_dir(env.path().join("jobs")).unwrap().count(),
        0
    );
    let out = env.run(&["import", "crontab", crontab.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad lines make it a negative answer"
    );
    assert_eq!(
        text(&out.stderr),
        "line 13: skipped: `61 * * * *`: invalid cron expression `61 * * * *`: the minute field `61` is not valid (allowed: 0-59)
line 14: skipped: expected five schedule fields and a command
error: `clawcron import crontab` skipped 2 line(s)
"
    );
    let stdout = text(&out.stdout);
    for wrote in [
        "wrote jobs/check-thresholds.yaml (line 6)",
        "wrote jobs/restart-openclaw-gateway.yaml (line 8)",
        "wrote jobs/preload-models.yaml (line 9)",
        "wrote jobs/mail.yaml (line 10)",
        "wrote jobs/report.yaml (line 11)",
        "wrote jobs/cleanup.yaml (line 12)",
    ] {
        assert!(stdout.contains(wrote), "{wrote} not in {stdout}");
    }
    assert!(
        stdout.contains("note: line 2: MAILTO=me@example.org: cron mailed each job's output"),
        "{stdout}"
    );
    let job = |id: &str| {
        std::fs::read_to_string(env.path().join("jobs").join(format!("{id}.yaml"))).unwrap()
    };
    assert_eq!(
        job("restart-openclaw-gateway"),
        "description: \"nightly restart\"\nschedule: \"0 3 * * *\"\n# cron never catches up: a slot missed while the machine slept is skipped\nmissed: { policy: skip }\nrun:\n  docker.restart: { container: \"openclaw-gateway\" }\n"
    );
    let check = job("check-thresholds");
    assert!(
        check.contains(
            "description: \"threshold check every 5 minutes\"\nschedule: \"*/5 * * * *\""
        ),
        "{check}"
    );
    assert!(check.contains("  shell: \"/Users/me/openclaw/check-thresholds.sh\"\n  env:\n    OPENCLAW_HOME: \"/Users/me/openclaw\"\n"), "{check}");
    assert!(job("preload-models").contains("at_start: true"));
    let mail = job("mail");
    assert!(mail.contains("schedule: \"0 8 * * mon-fri\""), "{mail}");
    assert!(
        mail.contains(
            r#"shell: "printf '%s\\n' 'The disk is full' 'Check %use' | mail -s disk me""#
        ),
        "{mail}"
    );
    assert!(job("report").contains("shell: \"/opt/bin/report --date=$(date +%F)\""));
    assert!(job("cleanup").contains("schedule: \"@daily\""));
    // Every file it wrote is a valid job.
    let out = env.run(&["check"]);
    assert_eq!(
        text(&out.stdout),
        "ok: 6 jobs valid in jobs\n",
        "{}",
        text(&out.stderr)
    );
    // A second import of the same crontab writes nothing: each job is already there.
    let before = job("restart-openclaw-gateway");
    let out = env.run(&["import", "crontab", crontab.to_str().unwrap()]);
    let again = text(&out.stdout);
    assert!(
        again.contains("unchanged: line 8 is already jobs/restart-openclaw-gateway.yaml"),
        "{again}"
    );
    assert!(!again.contains("wrote "), "{again}");
    assert_eq!(job("restart-openclaw-gateway"), before);
    assert_eq!(
        std::fs::read_dir(env.path().join("jobs")).unwrap().count(),
        6,
        "no job written twice"
    );
    // A changed line is a new job beside the old one, never an overwrite.
    let changed = std::fs::read_to_string(&crontab)
        .unwrap()
        .replace("0 3 * * *", "30 3 * * *");
    std::fs::write(&crontab, changed).unwrap();
    let out = env.run(&["import", "crontab", crontab.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains("wrote jobs/restart-openclaw-gateway-2.yaml (line 8)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(job("restart-openclaw-gateway"), before);
}

#[test]
fn trigger_shows_a_spinner_with_elapsed_time_on_a_terminal_and_plain_lines_otherwise() {
    let env = Env::new();
    env.job(
        "slow",
        "schedule: \"@yearly\"\nrun: { shell: \"echo one; sleep 1.5; echo two\" }\n",
    );
    // Not a terminal: plain lines, no spinner.
    let out = env.run(&["trigger", "slow"]);
    assert!(out.status.success());
    let plain = text(&out.stderr);
    assert!(
        plain.contains(" one ") && plain.contains(" two "),
        "{plain}"
    );
    assert!(!plain.contains("[00:00:0"), "{plain}");
    // A terminal: a pseudo-terminal from util-linux's `script`.
    let cmd = format!(
        "{} --state-dir state trigger slow",
        env!("CARGO_BIN_EXE_clawcron")
    );
    if common::require_probe(
        "script",
        &["script", "-qec", "true", "/dev/null"],
        "util-linux",
    ) {
        let o = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(env.path())
            .output()
            .unwrap();
        let tty = text(&o.stdout);
        assert!(tty.contains("[00:00:01] slow: sh -c"), "{tty}");
        assert!(tty.contains(" one ") && tty.contains(" two "), "{tty}");
        assert!(tty.contains("slow: run 2 succeeded"), "{tty}");
    }
}
