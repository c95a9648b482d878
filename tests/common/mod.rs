//! Helpers shared by the end-to-end tests: a scratch job folder driven through the built binary,
//! and the stand-in servers in tests/standins.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod pg;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A stand-in server (tests/standins/NAME.py), killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tests/standins/<name>.py` on a free port and waits for its `PORT n` line.
pub fn standin(name: &str, args: &[&str]) -> Server {
    let mut child = Command::new("python3")
        .arg(format!(
            "{}/tests/standins/{name}.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the stand-in servers");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .expect("PORT line")
        .parse()
        .unwrap();
    Server { child, port }
}

/// A scratch folder with `jobs/` and a state directory, driven through the binary.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("jobs")).unwrap();
        Env { dir }
    }

    pub fn write_job(&self, name: &str, yaml: &str) {
        std::fs::write(
            self.dir.path().join("jobs").join(format!("{name}.yaml")),
            yaml,
        )
        .unwrap();
    }

    /// Runs `clawcron ARGS` in the folder, with these environment variables added.
    pub fn clawcron(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clawcron"));
        c.current_dir(self.dir.path())
            .args(["--state-dir", "state"])
            .args(args)
            .env_remove("CLAWCRON_STATE_DIR");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// Writes job `name` and triggers it; returns the trigger's output, its ledger row, and the
    /// metrics of that run by name.
    pub fn trigger_with(
        &self,
        name: &str,
        yaml: &str,
        env: &[(&str, &str)],
    ) -> (Output, serde_json::Value, HashMap<String, f64>) {
        self.write_job(name, yaml);
        let out = self.clawcron(&["trigger", name], env);
        assert!(
            out.status.code().is_some(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<serde_json::Value> = serde_json::from_slice(
            &self
                .clawcron(&["history", name, "--limit", "1", "--json"], &[])
                .stdout,
        )
        .unwrap();
        let row = rows.into_iter().next().expect("a ledger row");
        let run = row["id"].as_i64();
        let metrics: Vec<serde_json::Value> =
            serde_json::from_slice(&self.clawcron(&["metrics", name, "--json"], &[]).stdout)
                .unwrap();
        let m = metrics
            .iter()
            .filter(|m| m["run_id"].as_i64() == run)
            .map(|m| {
                (
                    m["name"].as_str().unwrap().to_string(),
                    m["value"].as_f64().unwrap(),
                )
            })
            .collect();
        (out, row, m)
    }

    pub fn trigger(&self, name: &str, yaml: &str) -> (serde_json::Value, HashMap<String, f64>) {
        let (_, row, m) = self.trigger_with(name, yaml, &[]);
        (row, m)
    }

    pub fn history(&self) -> Vec<serde_json::Value> {
        serde_json::from_slice(
            &self
                .clawcron(&["history", "--limit", "100000", "--json"], &[])
                .stdout,
        )
        .unwrap()
    }
}

// The SMTP test server's side: a certificate for it, and the mail it received.

/// A self-signed certificate for 127.0.0.1 and localhost: (cert, key).
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        // An end-entity certificate: webpki refuses a CA certificate as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make the test certificate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// The messages in a Maildir, parsed by Python's email package.
pub fn mails(maildir: &Path) -> Vec<serde_json::Value> {
    if !maildir.join("new").exists() {
        return Vec::new();
    }
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/standins/mailread.py"
        ))
        .arg(maildir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn header<'a>(mail: &'a serde_json::Value, name: &str) -> Vec<&'a str> {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap())
        .collect()
}

pub fn part<'a>(mail: &'a serde_json::Value, ctype: &str) -> &'a str {
    mail["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == ctype)
        .unwrap_or_else(|| panic!("no {ctype} part in {mail}"))["content"]
        .as_str()
        .unwrap()
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain HTTP/1.1 request: (status, body).
pub fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    // Chunked bodies: keep the chunks' data.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (status, body)
}

pub fn http_json(addr: &str, path: &str, token: Option<&str>) -> serde_json::Value {
    let (status, body) = http(addr, "GET", path, token);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub fn daemon_with_api(dir: &Path) -> (Child, String) {
    daemon_logging_to(dir, Stdio::null())
}

/// Starts `clawcron run` in `dir` (state in `dir/state`), its log to `stderr`; waits for READY
/// and returns the child and the API's address.
pub fn daemon_logging_to(dir: &Path, stderr: Stdio) -> (Child, String) {
    let (d, addr) = spawn_daemon(dir, &[], stderr);
    (d, addr.expect("the daemon printed its API address"))
}

/// Starts `clawcron run` in `dir` (state in `dir/state`) with `env` added, its log to `stderr`;
/// waits for READY and returns the child and the API's address if it printed one.
pub fn spawn_daemon(dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> (Child, Option<String>) {
    let mut d = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir)
        .args(["--state-dir", "state", "run"])
        .env_remove("CLAWCRON_STATE_DIR")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut addr = None;
    let mut ready = false;
    for l in BufReader::new(d.stdout.take().unwrap()).lines() {
        let l = l.unwrap();
        if let Some(a) = l.strip_prefix("API http://") {
            addr = Some(a.trim_end_matches('/').to_string());
        }
        if l.starts_with("READY ") {
            ready = true;
            break;
        }
    }
    assert!(ready, "the daemon printed READY");
    (d, addr)
}

/// Stops the daemon with SIGTERM and waits for it.
pub fn stop_daemon(mut d: Child) {
    unsafe { libc::kill(d.id() as i32, libc::SIGTERM) };
    d.wait().unwrap();
}

/// The requests a webhook stand-in logged (one JSON object per line).
pub fn received(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `clawcron --state-dir state ARGS` in `dir`, its standard output parsed as JSON (null if it is
/// not JSON).
pub fn cli_value(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir)
        .args(["--state-dir", "state"])
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

/// Checks one job's history (`history --json` rows): every schedule slot from the first to the
/// last has exactly one row, and no row is left `running`. Returns (first, last).
pub fn assert_each_slot_once(rows: &[serde_json::Value]) -> (i64, i64) {
    assert!(
        rows.iter().all(|r| r["status"] != "running"),
        "a row left running"
    );
    let mut by_slot: std::collections::BTreeMap<i64, usize> = Default::default();
    for r in rows.iter().filter(|r| r["trigger"] == "schedule") {
        *by_slot.entry(r["slot"].as_i64().unwrap()).or_default() += 1;
    }
    let (first, last) = (
        *by_slot.keys().next().expect("no schedule rows"),
        *by_slot.keys().next_back().unwrap(),
    );
    for slot in first..=last {
        let n = by_slot.get(&slot).copied().unwrap_or(0);
        assert_eq!(n, 1, "slot {slot}: {n} rows (first {first}, last {last})");
    }
    (first, last)
}

// A part a test needs that this machine lacks fails the test with what to install; it never
// passes without checking. Only a part that scripts/test-deps could not install here (no
// apt-get), listed by scripts/test in CLAWCRON_TEST_MISSING, is reported NOT CHECKED instead.

fn declared_missing(part: &str) -> bool {
    std::env::var("CLAWCRON_TEST_MISSING")
        .unwrap_or_default()
        .split_whitespace()
        .any(|p| p == part)
}

/// `part` is missing: panics with what to install, unless scripts/test declared it cannot be had
/// on this machine; then says so and returns false (the caller skips that check only).
#[track_caller]
pub fn part_missing(part: &str, install: &str, why: impl std::fmt::Display) -> bool {
    if declared_missing(part) {
        eprintln!("NOT CHECKED: {part}: {why} (install {install})");
        return false;
    }
    panic!("missing {part}: {why}: install {install} (scripts/test installs it on Debian)");
}

/// Whether `probe` (the part's command with harmless arguments) runs and succeeds; see
/// `part_missing` for when it does not.
#[track_caller]
pub fn require_probe(part: &str, probe: &[&str], install: &str) -> bool {
    match Command::new(probe[0]).args(&probe[1..]).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => part_missing(
            part,
            install,
            format!(
                "`{}` failed: {}",
                probe.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        ),
        Err(e) => part_missing(part, install, format!("cannot run `{}`: {e}", probe[0])),
    }
}

/// `tool --version` runs.
#[track_caller]
pub fn require(tool: &str, install: &str) -> bool {
    require_probe(tool, &[tool, "--version"], install)
}

/// Headless Chromium (Debian's `chromium`), for the pages and reports.
#[track_caller]
pub fn chromium() -> Option<&'static str> {
    for bin in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(bin);
        }
    }
    part_missing(
        "chromium",
        "chromium and fonts-dejavu-core",
        "no chromium, chromium-browser or google-chrome runs",
    );
    None
}
