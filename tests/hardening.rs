//! What a hostile or unlucky user met, against the real binary: a daemon stopped with SIGSTOP
//! and continued, processes a run leaves behind, a web page reaching the local API, secrets on
//! every path out, a ledger from a newer version, and odd inputs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cli_value as cli;
use std::process::Stdio;
use std::time::Duration;

/// SIGSTOP for 7 s: the slots that came due while the daemon was stopped each run late, one at
/// a time, with the reason; none is skipped for an overlap that did not exist.
#[test]
fn a_daemon_stopped_and_continued_runs_each_slot_late_and_claims_no_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(p.join("clawcron.yaml"), "api: { enabled: false }\n").unwrap();
    std::fs::write(
        p.join("jobs/tick.yaml"),
        "every: 1s\nmissed: { policy: all, max_lateness: 1h }\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let (d, _) = common::spawn_daemon(p, &[], Stdio::null());
    let pid = d.id() as i32;
    // Stopped half-way between two slots: a SIGSTOP that lands between a slot's claim and its
    // start leaves that run to start at SIGCONT, and the caught-up slots then overlap it (a
    // true overlap, but not what this test is about).
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    std::thread::sleep(Duration::from_millis(2000 + (1500 - ms % 1000) % 1000));
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(7));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    std::thread::sleep(Duration::from_secs(3));
    common::stop_daemon(d);
    let rows = cli(p, &["history", "tick", "--limit", "1000", "--json"]);
    let rows = rows.as_array().unwrap();
    common::assert_each_slot_once(rows);
    let mut late = 0;
    for r in rows {
        let reason = r["reason"].as_str().unwrap_or_default();
        if reason.contains("overlap") {
            // Only true when the run it names was still going at the slot (a loaded machine
            // can make `true` take a second).
            let named: i64 = reason
                .rsplit("(run ")
                .next()
                .and_then(|n| n.trim_end_matches(')').parse().ok())
                .unwrap_or_else(|| panic!("an overlap names its run: {r}"));
            let other = rows.iter().find(|o| o["id"] == named).unwrap();
            assert!(
                other["finished_at"].as_i64().unwrap() > r["slot"].as_i64().unwrap() * 1000,
                "untrue overlap: {r} (named run {other})"
            );
            continue;
        }
        assert_eq!(r["status"], "succeeded", "{r}");
        if !reason.is_empty() {
            assert!(
                reason.starts_with("daemon stalled; run ") && reason.ends_with(" s late"),
                "{r}"
            );
            late += 1;
        }
    }
    // Slots 1 to 7 s late; the newest may have been reached within the second.
    assert!((5..=8).contains(&late), "{late} late runs: {rows:?}");
}

/// Processes alive anywhere on the machine whose environment holds `MARK=token`.
fn marked(token: &str) -> Vec<u32> {
    let needle = format!("MARK={token}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rsplit(") ").next().unwrap_or("").starts_with('Z'))
                .unwrap_or(true);
            !zombie
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|e| e.split(|&b| b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}

fn token() -> String {
    format!("{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn kill_marked(token: &str) {
    for pid in marked(token) {
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// `setsid` takes a grandchild out of the run's process group and session; it still does not
/// outlive the run's timeout. A background `sleep` left in the group when the shell exits is
/// stopped and recorded; `leftovers: keep` keeps it, recorded too.
#[test]
fn no_process_outlives_its_run_unless_the_job_keeps_it() {
    let env = common::Env::new();
    let mark = token();
    let (_, row, _) = env.trigger_with(
        "escape",
        &format!(
            "schedule: \"0 3 * * *\"\ntimeout: 1s\nrun:\n  shell: \"setsid sleep 60 & sleep 60\"\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    assert_eq!(row["status"], "timed_out", "{row}");
    let left = marked(&mark);
    kill_marked(&mark);
    assert!(left.is_empty(), "survived the timeout: {left:?}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap_or("")
            .contains("left 1 process behind; stopped"),
        "{row}"
    );

    let (_, row, _) = env.trigger_with(
        "background",
        &format!(
            "schedule: \"0 3 * * *\"\nrun:\n  shell: \"sleep 60 & setsid sleep 60 & echo started\"\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    let left = marked(&mark);
    kill_marked(&mark);
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(row["reason"], "left 2 processes behind; stopped", "{row}");
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        row["duration_ms"].as_i64().unwrap() < 10_000,
        "the run waited for its leftovers: {row}"
    );

    let (_, row, _) = env.trigger_with(
        "daemonizes",
        &format!(
            "schedule: \"0 3 * * *\"\nrun:\n  shell: \"sleep 60 & echo started\"\n  leftovers: keep\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    let left = marked(&mark);
    kill_marked(&mark);
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(
        row["reason"], "left 1 process behind; kept (leftovers: keep)",
        "{row}"
    );
    assert_eq!(left.len(), 1, "kept on purpose");
}

/// 1,000 runs under the daemon, each leaving two processes behind (one in its group, one in a
/// session of its own): none is left when they have ended.
#[test]
fn a_thousand_runs_leaving_processes_behind_leave_none() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { enabled: false }\nmax_concurrent_runs: 32\n",
    )
    .unwrap();
    let mark = token();
    for i in 0..1000 {
        std::fs::write(
            p.join(format!("jobs/left-{i:04}.yaml")),
            format!(
                "at_start: true\nrun:\n  shell: \"sleep 120 & setsid sleep 120 & true\"\n  env: {{ MARK: \"{mark}\" }}\n"
            ),
        )
        .unwrap();
    }
    let (d, _) = common::spawn_daemon(p, &[], Stdio::null());
    let done = || {
        cli(p, &["history", "--limit", "5000", "--json"])
            .as_array()
            .map(|rows| rows.iter().filter(|r| r["status"] != "running").count())
            .unwrap_or(0)
    };
    common::wait_for("1000 runs", Duration::from_secs(240), || done() >= 1000);
    let left = marked(&mark);
    common::stop_daemon(d);
    kill_marked(&mark);
    assert_eq!(left.len(), 0, "leftovers alive: {left:?}");
    let rows = cli(p, &["history", "--limit", "5000", "--json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    for r in rows {
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!(r["reason"], "left 2 processes behind; stopped", "{r}");
    }
}

/// One run writing 100,000 lines puts at most `log.output_per_run` of them in the daemon log,
/// then one line saying how much was left out; the ledger keeps the tail.
#[test]
fn the_daemon_log_takes_at_most_its_share_of_one_run() {
    let env = common::Env::new();
    std::fs::write(
        env.dir.path().join("clawcron.yaml"),
        "log: { output_per_run: 20KB }\n",
    )
    .unwrap();
    let (out, row, _) = env.trigger_with(
        "chatty",
        "schedule: \"0 3 * * *\"\nrun: { shell: \"seq 1 100000\" }\n",
        &[],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    // The figure is the log's size: its lines' fields count too.
    assert!(
        (15_000..30_000).contains(&log.len()),
        "{} bytes of log, {} lines",
        log.len(),
        log.lines().count()
    );
    assert!(
        log.contains("more line(s) of output") && log.contains("not logged"),
        "{}",
        &log[log.len().saturating_sub(2000)..]
    );
    assert!(
        row["output_tail"].as_str().unwrap().ends_with("100000\n"),
        "{row}"
    );
}

/// A raw HTTP/1.1 request with these headers: (status, head, body).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut text = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        text.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(text.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

fn header_of<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A web page cannot read the local API: a rebound `Host` is refused, reads need the token (or
/// the session cookie of a one-time link), a change with the cookie needs its CSRF token, and
/// every answer forbids framing, sniffing and scripts. A job file that links to /etc/passwd is
/// never quoted.
#[test]
fn the_local_api_cannot_be_reached_from_a_web_page() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { listen: \"127.0.0.1:0\" }\n",
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/nightly.yaml"),
        "schedule: \"0 3 * * *\"\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let (d, addr) = common::daemon_with_api(p);
    let token = std::fs::read_to_string(p.join("state/api-token")).unwrap();
    let bearer = format!("Bearer {token}");

    // DNS rebinding: the page's own name as the Host.
    let (code, _, _) = request(
        &addr,
        "GET",
        "/api/jobs",
        &[
            ("Host", "attacker.example:8787"),
            ("Authorization", &bearer),
        ],
    );
    assert_eq!(code, 421);
    for host in ["localhost", "127.0.0.1", "[::1]:8787"] {
        let (code, _, _) = request(&addr, "GET", "/healthz", &[("Host", host)]);
        assert_eq!(code, 200, "{host}");
    }
    // Reads need the token; the scheme is case-insensitive.
    for path in ["/", "/api/jobs", "/api/runs", "/api/status", "/metrics"] {
        assert_eq!(request(&addr, "GET", path, &[]).0, 401, "{path}");
    }
    let lower = format!("bearer {token}");
    let (code, head, page) = request(&addr, "GET", "/", &[("Authorization", &lower)]);
    assert_eq!(code, 200);
    assert_eq!(header_of(&head, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header_of(&head, "x-frame-options"), Some("DENY"));
    let csp = header_of(&head, "content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(!page.contains("<script"), "the dashboard runs no script");
    // A job file that is a link to /etc/passwd (added while it runs) is named, never quoted.
    std::os::unix::fs::symlink("/etc/passwd", p.join("jobs/passwd.yaml")).unwrap();
    let status_now = || request(&addr, "GET", "/api/status", &[("Authorization", &bearer)]).2;
    common::wait_for("the reload", Duration::from_secs(10), || {
        status_now().contains("passwd.yaml")
    });
    let status = status_now();
    assert!(status.contains("passwd.yaml"), "{status}");
    assert!(status.contains("not a job file"), "{status}");
    assert!(!status.contains("root:"), "{status}");

    // The browser's way in: a one-time link sets an HttpOnly, SameSite=Strict cookie.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(p)
        .args(["--state-dir", "state", "open", "--print"])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    let link = printed.lines().next().unwrap();
    let path = &link[link.find("/login").expect(&printed)..];
    let (code, head, _) = request(&addr, "GET", path, &[]);
    assert_eq!(code, 303);
    let cookie = header_of(&head, "set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(request(&addr, "GET", path, &[]).0, 403, "a link works once");
    let session = cookie.split(';').next().unwrap();
    let (code, head, _) = request(&addr, "GET", "/api/jobs", &[("Cookie", session)]);
    assert_eq!(code, 200);
    let csrf = header_of(&head, "x-csrf-token").unwrap().to_string();
    // A change with the cookie alone (what a cross-site form would send) is refused.
    let trigger = "/api/jobs/nightly/trigger";
    assert_eq!(
        request(&addr, "POST", trigger, &[("Cookie", session)]).0,
        403
    );
    let (code, _, body) = request(
        &addr,
        "POST",
        trigger,
        &[("Cookie", session), ("X-CSRF-Token", &csrf)],
    );
    assert_eq!(code, 202, "{body}");
    common::stop_daemon(d);
}

/// A token file others may read is tightened to 0600; a short token is refused, saying why;
/// `api.public_reads` opens the reads (with a warning), never the changes.
#[test]
fn the_token_file_is_private_and_strong() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("jobs")).unwrap();
    std::fs::create_dir_all(p.join("state")).unwrap();
    std::fs::set_permissions(p.join("state"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        "api: { listen: \"127.0.0.1:0\", public_reads: true }\n",
    )
    .unwrap();
    let file = p.join("state/api-token");
    std::fs::write(&file, "short").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = p.join("daemon.log");
    let (d, addr) = common::spawn_daemon(p, &[], Stdio::from(std::fs::File::create(&log).unwrap()));
    common::stop_daemon(d);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(addr.is_none(), "a short token serves no API");
    assert!(
        text.contains("has 5 characters; at least 32 are needed"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // 40 times the same letter is refused too (1 distinct character); a real token is taken.
    std::fs::write(&file, "k".repeat(40)).unwrap();
    let (d, addr) = common::spawn_daemon(p, &[], Stdio::from(std::fs::File::create(&log).unwrap()));
    common::stop_daemon(d);
    assert!(addr.is_none(), "a weak token serves no API");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("it has 1 distinct characters; at least 16 are needed"),
        "a weak token is refused with why"
    );
    let strong = "Kx7pQ2mZ9vR4tY8wB3nL6hJ1cF5gD0sAe";
    std::fs::write(&file, strong).unwrap();
    let (d, addr) = common::spawn_daemon(p, &[], Stdio::from(std::fs::File::create(&log).unwrap()));
    let addr = addr.unwrap();
    assert_eq!(
        request(&addr, "GET", "/api/jobs", &[]).0,
        200,
        "public reads"
    );
    assert_eq!(
        request(&addr, "POST", "/api/jobs/x/trigger", &[]).0,
        401,
        "changes still need the token"
    );
    common::stop_daemon(d);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("api.public_reads: reads need no token"),
    );
}

/// A ledger written by an older clawcron is backed up (`VACUUM INTO`, named in the log) before
/// it is migrated; one migrated by a newer clawcron is refused with the versions, never used.
#[test]
fn the_ledger_across_versions() {
    let env = common::Env::new();
    let state = env.dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let db = state.join("clawcron.db");
    let known = clawcron::store::migrations::MIGRATIONS.len();
    {
        // The ledger as the version before the last migration left it, with one run.
        let conn = rusqlite::Connection::open(&db).unwrap();
        for sql in &clawcron::store::migrations::MIGRATIONS[..known - 1] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", (known - 1) as i64)
            .unwrap();
        conn.execute(
            "INSERT INTO runs (job, trigger, slot, status) VALUES ('old', 'manual', 1, 'succeeded')",
            [],
        )
        .unwrap();
    }
    let out = env.clawcron(&["history", "--json"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let backups: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("clawcron.db.backup-v{}-", known - 1)))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(log.contains(&backups[0]), "the log names the backup: {log}");
    let kept: i64 = rusqlite::Connection::open(state.join(&backups[0]))
        .unwrap()
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1, "the backup holds the old rows");

    // Now as if a newer binary had migrated it further.
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", (known + 2) as i64)
        .unwrap();
    for args in [&["history"][..], &["run"][..]] {
        let out = env.clawcron(args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "was migrated by a newer clawcron (schema version {}; this binary knows up to {known})",
                known + 2
            )),
            "{args:?}: {err}"
        );
    }
}

/// Odd inputs get useful words: a system crontab's user field, `@every` and `@reboot` in
/// `schedule`, a step longer than its field, an empty time zone, a `TZ` that names no zone, a
/// state directory that cannot be read.
#[test]
fn odd_inputs_get_useful_words() {
    let env = common::Env::new();
    let p = env.dir.path();
    // Debian's /etc/cron.d/e2scrub_all, and a line for another user.
    let crontab = p.join("e2scrub_all");
    std::fs::write(
        &crontab,
        "30 3 * * 0 root test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron\n@daily nobody /usr/local/bin/cleanup --old\n",
    )
    .unwrap();
    for args in [
        &[
            "import",
            "crontab",
            crontab.to_str().unwrap(),
            "--dry-run",
            "--system",
        ][..],
        &["import", "crontab", crontab.to_str().unwrap(), "--dry-run"][..],
    ] {
        let out = env.clawcron(args, &[]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains("jobs/test.yaml"),
            "named after the command: {text}"
        );
        assert!(text.contains("jobs/cleanup.yaml"), "{text}");
        assert!(
            text.contains("shell: \"test -e /run/systemd/system"),
            "the user is not part of the command: {text}"
        );
        assert!(!text.contains("shell: \"root"), "{text}");
        assert!(
            text.contains("shell: \"/usr/local/bin/cleanup --old\""),
            "{text}"
        );
        assert!(text.contains("ran as user `nobody`"), "{text}");
    }

    let check = |name: &str, yaml: &str| {
        std::fs::write(p.join(format!("jobs/{name}.yaml")), yaml).unwrap();
        let out = env.clawcron(&["check"], &[]);
        std::fs::remove_file(p.join(format!("jobs/{name}.yaml"))).unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let run = "run: { shell: \"true\" }\n";
    let e = check("every", &format!("schedule: \"@every 5m\"\n{run}"));
    assert!(
        e.contains("write `every: 5m` instead of `schedule:`"),
        "{e}"
    );
    let e = check("reboot", &format!("schedule: \"@reboot\"\n{run}"));
    assert!(e.contains("write `at_start: true`"), "{e}");
    let e = check("steps", &format!("schedule: \"*/61 * * * *\"\n{run}"));
    assert!(
        e.contains("steps by 61, but the field has only 60 values: it would fire once per hour"),
        "{e}"
    );
    let e = check(
        "nozone",
        &format!("schedule: \"0 3 * * *\"\ntimezone: \"\"\n{run}"),
    );
    assert!(e.contains("the time zone is empty"), "{e}");
    assert!(!e.contains("did you mean"), "{e}");

    // A TZ that names no zone is said at start, not silently replaced.
    std::fs::write(p.join("clawcron.yaml"), "api: { enabled: false }\n").unwrap();
    let log = p.join("daemon.log");
    let (d, _) = common::spawn_daemon(
        p,
        &[("TZ", "Mars/Olympus_Mons")],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    common::stop_daemon(d);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("TZ=`Mars/Olympus_Mons` in the environment is not an IANA time zone"),
        "{text}"
    );

    // A state directory that cannot be read or written is named, with the problem.
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(p)
        .args(["--state-dir", "nowhere", "history"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stdout)
            .contains("the state directory nowhere does not exist"),
        "{}",
        String::from_utf8_lossy(&missing.stdout)
    );
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let state = p.join("state");
    assert!(state.join("clawcron.db").exists());
    // Checkpointed and closed: only clawcron.db is left, as after a clean stop.
    for f in ["clawcron.db-wal", "clawcron.db-shm"] {
        let _ = std::fs::remove_file(state.join(f));
    }
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(
        state.join("clawcron.db"),
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"));
    cmd.current_dir(p).args(["--state-dir", "state", "history"]);
    // Root may write anywhere: read as nobody.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot open the ledger in state"), "{err}");
    assert!(err.contains("must be writable by this user"), "{err}");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// One secret with a quote and a backslash in it, and one that goes into URLs, fed through
/// every path out: a header, a URL password, signed-URL query values, an environment variable,
/// a command argument, a receiver's answer that echoes them (a quoted body snippet), output
/// echoed whole and cut at 4 KB, error text, a webhook and an email channel, `notify-test` and
/// a report's checklist. Neither appears in any output, raw or escaped.
#[test]
fn one_secret_through_every_path_appears_in_no_output() {
    const QUOTED: &str = "qu\"ote\\back-5ecret-e1d7";
    const URLISH: &str = "url-5ecret-93ab1e57c2";
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("jobs")).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let echo = common::standin(
        "webhook",
        &[
            "--log",
            logs.path().join("echo.jsonl").to_str().unwrap(),
            "--echo",
        ],
    );
    let hook_log = logs.path().join("hook.jsonl");
    let hook = common::standin("webhook", &["--log", hook_log.to_str().unwrap()]);
    let maildir = logs.path().join("maildir");
    let smtp = common::standin("smtp", &["--maildir", maildir.to_str().unwrap()]);
    std::fs::write(
        p.join("clawcron.yaml"),
        format!(
            "timezone: UTC\nshutdown_grace: 2s\nnotify_retry: 200ms\napi: {{ listen: \"127.0.0.1:0\" }}\ntemplates_dir: {}\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/hook\" }} }}\n  echo: {{ webhook: {{ url: \"http://127.0.0.1:{}/echo\", headers: {{ Authorization: \"Bearer ${{GW_TOKEN}}\" }} }} }}\n  mail:\n    email:\n      smtp: {{ host: 127.0.0.1, port: {}, tls: none }}\n      from: a@example.org\n      to: [b@example.org]\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
            hook.port,
            echo.port,
            smtp.port
        ),
    )
    .unwrap();
    let notify = "notify: { on: [failure], to: [hook, mail] }\n";
    std::fs::write(
        p.join("jobs/http-leak.yaml"),
        format!(
            "schedule: \"@yearly\"\nrun:\n  http:\n    url: \"http://probe:${{GW_URL_TOKEN}}@127.0.0.1:{}/x?X-Amz-Signature=${{GW_URL_TOKEN}}&sig=${{GW_URL_TOKEN}}&sas=${{GW_URL_TOKEN}}\"\n    headers: {{ Authorization: \"Bearer ${{GW_TOKEN}}\" }}\n    expect: {{ body_regex: \"never-there\" }}\n{notify}",
            echo.port
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/cmd-leak.yaml"),
        format!(
            "schedule: \"@yearly\"\nrun:\n  command: [sh, -c, \"printf 'arg=%s env=%s\\\\n' \\\"$2\\\" \\\"$MY_PASS\\\"; printf '%s\\\\n' \\\"$2\\\" >&2; head -c 4090 /dev/zero | tr '\\\\0' a; printf '%s\\\\n' \\\"$2\\\"; exit 3\", sh, --token, \"${{GW_TOKEN}}\"]\n  env: {{ MY_PASS: \"${{GW_URL_TOKEN}}\" }}\n{notify}"
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/report-leak.yaml"),
        "schedule: \"@yearly\"\nrun:\n  report:\n    template: weekly-report\n    out_dir: reports\n    checks:\n      - { name: token check, run: { shell: 'printf \"token is %s\\\\n\" \"$GW_TOKEN\"' } }\n",
    )
    .unwrap();
    let secrets = [("GW_TOKEN", QUOTED), ("GW_URL_TOKEN", URLISH)];
    let log_file = p.join("daemon.log");
    let (d, addr) = common::spawn_daemon(
        p,
        &secrets,
        Stdio::from(std::fs::File::create(&log_file).unwrap()),
    );
    let addr = addr.unwrap();
    let token = std::fs::read_to_string(p.join("state/api-token")).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(p)
            .args(["--state-dir", "state"])
            .args(args)
            .envs(secrets)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let mut seen: Vec<(&str, String)> = Vec::new();
    for job in ["http-leak", "cmd-leak", "report-leak"] {
        seen.push(("trigger", run(&["trigger", job])));
    }
    common::wait_for("the notices", Duration::from_secs(20), || {
        common::received(&hook_log).len() >= 2 && common::mails(&maildir).len() >= 2
    });
    seen.push(("notify-test", run(&["notify-test", "echo"])));
    for path in ["/api/runs", "/api/jobs", "/api/status", "/"] {
        let (_, _, body) = request(
            &addr,
            "GET",
            path,
            &[("Authorization", &format!("Bearer {token}"))],
        );
        seen.push(("api", body));
    }
    common::stop_daemon(d);
    seen.push(("history --json", run(&["history", "--json"])));
    seen.push(("history", run(&["history"])));
    seen.push(("notifications --json", run(&["notifications", "--json"])));
    seen.push((
        "webhook received",
        std::fs::read_to_string(&hook_log).unwrap(),
    ));
    seen.push((
        "mail received",
        serde_json::to_string(&common::mails(&maildir)).unwrap(),
    ));
    seen.push(("daemon log", std::fs::read_to_string(&log_file).unwrap()));
    for entry in std::fs::read_dir(p.join("reports")).unwrap().flatten() {
        seen.push(("report", std::fs::read_to_string(entry.path()).unwrap()));
    }
    for f in ["clawcron.db", "clawcron.db-wal"] {
        if let Ok(bytes) = std::fs::read(p.join("state").join(f)) {
            seen.push(("ledger", String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    let all: String = seen.iter().map(|(_, s)| s.as_str()).collect();
    assert!(all.contains("[redacted]"), "redaction is visible");
    assert!(all.contains("token check"), "the report ran");
    for (what, body) in &seen {
        for secret in [QUOTED, URLISH] {
            let json = serde_json::to_string(secret).unwrap();
            for form in [secret, &json[1..json.len() - 1], "5ecret"] {
                assert!(!body.contains(form), "{what} shows {form}:\n{body}");
            }
        }
    }
}

/// A `setsid` grandchild that ignores SIGTERM is killed when the grace ends, with the default
/// `kill_grace` (5 s): the sweep's rounds are bounded by time, so SIGKILL always comes.
#[test]
fn a_setsid_grandchild_that_ignores_sigterm_is_killed_after_the_default_grace() {
    let env = common::Env::new();
    let mark = token();
    let (_, row, _) = env.trigger_with(
        "stubborn",
        &format!(
            "schedule: \"0 3 * * *\"\ntimeout: 1s\nrun:\n  shell: \"setsid sh -c 'trap \\\"\\\" TERM; sleep 60' & sleep 60\"\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
        &[],
    );
    let left = marked(&mark);
    kill_marked(&mark);
    assert_eq!(row["status"], "timed_out", "{row}");
    assert!(left.is_empty(), "survived the sweep: {left:?}");
    assert!(
        row["reason"]
            .as_str()
            .unwrap_or("")
            .contains("left 1 process behind; stopped"),
        "{row}"
    );
}

/// The children of process `pid` (from /proc).
fn children_of(pid: u32) -> Vec<(u32, String)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let ppid: u32 = stat
                .rsplit(") ")
                .next()?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).ok()?;
            (ppid == pid).then(|| (p, String::from_utf8_lossy(&cmd).replace('\0', " ")))
        })
        .collect()
}

/// Starts the daemon with job `name`, which runs at start (once per boot and job) and leaves a
/// shell and two `sleep`s going; returns once they run.
fn start_with_long_run(dir: &std::path::Path, name: &str, mark: &str) -> std::process::Child {
    std::fs::write(
        dir.join(format!("jobs/{name}.yaml")),
        format!(
            "at_start: true\nrun:\n  shell: \"sleep 60 & sleep 60\"\n  env: {{ MARK: \"{mark}\" }}\n"
        ),
    )
    .unwrap();
    let (d, _) = common::spawn_daemon(dir, &[], std::process::Stdio::null());
    common::wait_for(
        "the run's processes",
        std::time::Duration::from_secs(10),
        || marked(mark).len() >= 2,
    );
    d
}

/// On one machine too, a run's processes die with their daemon (kill -9): the warden stops
/// their group. Were the warden killed as well, the next start stops the group the ledger
/// names (this boot's only) and says so in the run's row.
#[test]
fn a_runs_processes_die_with_a_killed_daemon_or_at_the_next_start() {
    let env = common::Env::new();
    let p = env.dir.path();
    std::fs::write(p.join("clawcron.yaml"), "shutdown_grace: 1s\n").unwrap();
    let mark = token();
    let mut d = start_with_long_run(p, "long", &mark);
    unsafe { libc::kill(d.id() as i32, libc::SIGKILL) };
    d.wait().unwrap();
    let gone = std::time::Instant::now();
    while !marked(&mark).is_empty() && gone.elapsed() < std::time::Duration::from_secs(3) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left = marked(&mark);
    kill_marked(&mark);
    assert!(left.is_empty(), "outlived the daemon: {left:?}");

    // The warden killed too: the restarted daemon stops the leftovers.
    let mark = token();
    std::fs::remove_file(p.join("jobs/long.yaml")).unwrap();
    let mut d = start_with_long_run(p, "left", &mark);
    let warden: Vec<u32> = children_of(d.id())
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("__warden"))
        .map(|(p, _)| p)
        .collect();
    assert_eq!(warden.len(), 1, "{:?}", children_of(d.id()));
    // A run's process group is recorded once it has run for a second.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    unsafe { libc::kill(warden[0] as i32, libc::SIGKILL) };
    unsafe { libc::kill(d.id() as i32, libc::SIGKILL) };
    d.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!marked(&mark).is_empty(), "the leftovers outlived both");
    std::fs::remove_file(p.join("jobs/left.yaml")).unwrap();
    let (d, _) = common::spawn_daemon(p, &[], std::process::Stdio::null());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left = marked(&mark);
    kill_marked(&mark);
    common::stop_daemon(d);
    assert!(left.is_empty(), "outlived the restart: {left:?}");
    let rows: Vec<serde_json::Value> = env
        .history()
        .into_iter()
        .filter(|r| r["job"] == "left")
        .collect();
    let last = rows.iter().max_by_key(|r| r["id"].as_i64()).unwrap();
    assert_eq!(last["status"], "interrupted", "{last}");
    assert!(
        last["reason"]
            .as_str()
            .unwrap_or("")
            .ends_with("was still alive at the next start: stopped"),
        "{last}"
    );
}

/// `install --dry-run --env SMTP_PASSWORD` shows the service file without the password's
/// value; `--env` of a variable nothing names is a warning, not a refusal.
#[test]
fn install_dry_run_shows_no_carried_secret_and_an_unused_variable_is_a_warning() {
    let env = common::Env::new();
    let home = env.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = env.clawcron(
        &[
            "install",
            "--dry-run",
            "--env",
            "SMTP_PASSWORD",
            "--env",
            "NOBODY_READS",
        ],
        &[
            ("HOME", home.to_str().unwrap()),
            ("SMTP_PASSWORD", "hunter2-correct-horse"),
            ("NOBODY_READS", "plain-value"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stdout.contains("hunter2-correct-horse"), "{stdout}");
    assert!(stdout.contains("SMTP_PASSWORD=\"[redacted]\""), "{stdout}");
    assert!(
        stderr.contains(
            "warning: `--env NOBODY_READS`: neither clawcron.yaml nor a job file names it"
        ),
        "{stderr}"
    );
}
