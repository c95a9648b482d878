//! The email channel against a real SMTP server (aiosmtpd, tests/standins/smtp.py) on 127.0.0.1:
//! STARTTLS with a self-signed certificate made here, AUTH, implicit TLS, both MIME parts with the
//! rendered content, a refused login that is not retried and never shows the password, and a
//! server down across a daemon restart whose pending notices all arrive exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{certificate, header, mails, part, standin, stop_daemon as stop, wait_for};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "correct-horse-battery";

fn daemon(dir: &Path) -> Child {
    common::spawn_daemon(dir, &[("SMTP_PASSWORD", PASSWORD)], Stdio::null()).0
}

fn clawcron(dir: &Path, args: &[&str], password: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir)
        .args(["--state-dir", "state"])
        .args(args)
        .env("SMTP_PASSWORD", password)
        .env_remove("CLAWCRON_STATE_DIR")
        .output()
        .unwrap()
}

fn write_config(dir: &Path, smtp: &str) {
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("clawcron.yaml"),
        format!(
            "shutdown_grace: 2s\nnotify_retry: 100ms\nnotifiers:\n  mail:\n    email:\n      smtp: {smtp}\n      from: \"clawcron <clawcron@example.org>\"\n      to: [ops@example.org]\n      cc: [boss@example.org]\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_failure_arrives_over_starttls_with_auth_and_both_parts() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let maildir = dir.path().join("maildir");
    let server = standin(
        "smtp",
        &[
            "--maildir",
            maildir.to_str().unwrap(),
            "--auth",
            &format!("me:{PASSWORD}"),
            "--starttls",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    );
    write_config(
        dir.path(),
        &format!(
            "{{ host: 127.0.0.1, port: {}, tls: starttls, username: me, password_env: SMTP_PASSWORD, ca_file: {} }}",
            server.port,
            cert.display()
        ),
    );
    std::fs::write(
        dir.path().join("jobs/backup.yaml"),
        "description: Nightly backup\nat_start: true\nrun: { shell: \"echo 'disk <full>'; exit 3\" }\nnotify: { on: [failure], to: [mail] }\n",
    )
    .unwrap();
    let d = daemon(dir.path());
    wait_for("the email", Duration::from_secs(20), || {
        !mails(&maildir).is_empty()
    });
    stop(d);
    let got = mails(&maildir);
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(header(m, "Subject"), ["[clawcron] backup is failing"]);
    assert_eq!(header(m, "From"), ["clawcron <clawcron@example.org>"]);
    assert_eq!(header(m, "To"), ["ops@example.org"]);
    assert_eq!(header(m, "Cc"), ["boss@example.org"]);
    let key = header(m, "X-Clawcron-Delivery")[0];
    assert!(
        key.starts_with("run:") && key.ends_with(":failure:mail"),
        "{key}"
    );
    assert!(header(m, "Message-ID")[0].ends_with(".clawcron@example.org>"));
    assert_eq!(m["content_type"], "multipart/alternative");
    let text = part(m, "text/plain");
    assert!(
        text.contains("backup failed: exited with status 3"),
        "{text}"
    );
    assert!(text.contains("Status: failed"), "{text}");
    assert!(text.contains("disk <full>"), "{text}");
    let html = part(m, "text/html");
    assert!(html.contains("<pre>disk &lt;full&gt;</pre>"), "{html}");
    assert!(html.contains(">failed</td>"), "{html}");
    // The ledger of notices says it was sent, with the server's answer.
    let out = clawcron(dir.path(), &["notifications", "--json"], PASSWORD);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "sent");
    assert!(
        rows[0]["answer"].as_str().unwrap().starts_with("250"),
        "{}",
        rows[0]
    );
}

#[test]
fn notify_test_over_implicit_tls_prints_the_answer_and_a_bad_login_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let maildir = dir.path().join("maildir");
    let server = standin(
        "smtp",
        &[
            "--maildir",
            maildir.to_str().unwrap(),
            "--auth",
            &format!("me:{PASSWORD}"),
            "--implicit",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    );
    write_config(
        dir.path(),
        &format!(
            "{{ host: 127.0.0.1, port: {}, tls: implicit, username: me, password_env: SMTP_PASSWORD, ca_file: {} }}",
            server.port,
            cert.display()
        ),
    );
    let out = clawcron(dir.path(), &["notify-test", "mail"], PASSWORD);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("mail: delivered: 250"), "{stdout}");
    let got = mails(&maildir);
    assert_eq!(got.len(), 1);
    assert_eq!(header(&got[0], "Subject"), ["[clawcron] test notice"]);

    let wrong = "wrong-password-123";
    let out = clawcron(dir.path(), &["notify-test", "mail"], wrong);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("not delivered") && stdout.contains("535"),
        "{stdout}"
    );
    assert!(!stdout.contains(wrong), "{stdout}");
    assert_eq!(mails(&maildir).len(), 1);

    // Without the CA the self-signed certificate is refused, and nothing is sent.
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        std::fs::read_to_string(dir.path().join("clawcron.yaml"))
            .unwrap()
            .replace(&format!(", ca_file: {}", cert.display()), ""),
    )
    .unwrap();
    let out = clawcron(dir.path(), &["notify-test", "mail"], PASSWORD);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && stdout.contains("not delivered"),
        "{stdout}"
    );
    assert!(stdout.to_lowercase().contains("certificate"), "{stdout}");
}

#[test]
fn notices_queued_while_smtp_is_down_arrive_once_each_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    // Find a free port, then keep the server down for now.
    let port = standin("smtp", &["--maildir", maildir.to_str().unwrap()]).port;
    write_config(dir.path(), &format!("{{ host: 127.0.0.1, port: {port} }}"));
    std::fs::write(
        dir.path().join("jobs/flaky.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"exit 1\" }\nnotify: { on: [failure], to: [mail], failures: every }\n",
    )
    .unwrap();
    // First daemon: failures every second, every delivery refused (connection refused).
    let d = daemon(dir.path());
    std::thread::sleep(Duration::from_secs(3));
    stop(d);
    let rows = |pw| -> Vec<serde_json::Value> {
        serde_json::from_slice(&clawcron(dir.path(), &["notifications", "--json"], pw).stdout)
            .unwrap()
    };
    let pending = rows(PASSWORD);
    assert!(pending.len() >= 2, "{pending:?}");
    assert!(
        pending.iter().all(|r| r["status"] == "pending"),
        "{pending:?}"
    );
    assert!(pending.iter().any(|r| r["attempts"].as_i64().unwrap() >= 1));
    let mut keys: Vec<String> = pending
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();

    // Second daemon, with no job making new notices, starts while the server is still down.
    std::fs::remove_file(dir.path().join("jobs/flaky.yaml")).unwrap();
    let d = daemon(dir.path());
    std::thread::sleep(Duration::from_secs(1));
    let _server = standin(
        "smtp",
        &[
            "--maildir",
            maildir.to_str().unwrap(),
            "--port",
            &port.to_string(),
        ],
    );
    wait_for("every pending notice", Duration::from_secs(30), || {
        mails(&maildir).len() >= keys.len()
    });
    // Time for any duplicate to show up.
    std::thread::sleep(Duration::from_secs(2));
    stop(d);
    let got = mails(&maildir);
    let mut delivered: Vec<String> = got
        .iter()
        .map(|m| header(m, "X-Clawcron-Delivery")[0].to_string())
        .collect();
    delivered.sort();
    assert_eq!(delivered, keys, "each pending notice exactly once");
    let after = rows(PASSWORD);
    assert!(after.iter().all(|r| r["status"] == "sent"), "{after:?}");
}

#[test]
fn a_report_is_emailed_with_its_html_its_text_and_the_markdown_attached() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let server = standin("smtp", &["--maildir", maildir.to_str().unwrap()]);
    write_config(
        dir.path(),
        &format!("{{ host: 127.0.0.1, port: {} }}", server.port),
    );
    std::fs::write(
        dir.path().join("jobs/weekly-report.yaml"),
        "at_start: true\nrun:\n  report: { period: this-week, send_to: [mail], evidence: { ollama_url: \"http://127.0.0.1:9\" } }\n",
    )
    .unwrap();
    let d = daemon(dir.path());
    wait_for("the report email", Duration::from_secs(30), || {
        !mails(&maildir).is_empty()
    });
    stop(d);
    let got = mails(&maildir);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["content_type"], "multipart/mixed");
    let subject = header(m, "Subject")[0];
    assert!(
        subject.starts_with("[clawcron] OpenClaw weekly report: 20"),
        "{subject}"
    );
    let text = part(m, "text/plain");
    assert!(text.starts_with("# OpenClaw weekly report: 20"), "{text}");
    assert!(part(m, "text/html").contains("<h2>Headline figures</h2>"));
    let attachment = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == "text/markdown")
        .expect("the Markdown attached");
    let name = attachment["filename"].as_str().unwrap();
    assert!(
        name.starts_with("weekly-report-20") && name.ends_with(".md"),
        "{name}"
    );
    assert_eq!(attachment["content"].as_str().unwrap(), text);
    // The files are in reports/ beside clawcron.yaml, and the checklist says what it could not see.
    let written = std::fs::read_to_string(dir.path().join("reports").join(name)).unwrap();
    assert_eq!(written, text);
    assert!(
        text.contains("Models run on the GPU: not observed (Ollama at http://127.0.0.1:9"),
        "{text}"
    );
}

#[test]
fn doctor_checks_smtp_login_webhook_ollama_models_and_says_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let maildir = dir.path().join("maildir");
    let smtp = standin(
        "smtp",
        &[
            "--maildir",
            maildir.to_str().unwrap(),
            "--auth",
            &format!("me:{PASSWORD}"),
            "--starttls",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    );
    let hook_log = dir.path().join("hook.jsonl");
    let hook = standin("webhook", &["--log", hook_log.to_str().unwrap()]);
    let ollama = standin("ollama", &["--models", "llama3.2:8b"]);
    std::fs::create_dir_all(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "timezone: Europe/Paris\nnotifiers:\n  mail:\n    email:\n      smtp: {{ host: 127.0.0.1, port: {}, tls: starttls, username: me, password_env: SMTP_PASSWORD, ca_file: {} }}\n      from: a@example.org\n      to: [b@example.org]\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/h\" }} }}\n",
            smtp.port,
            cert.display(),
            hook.port
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/bench.yaml"),
        format!("schedule: \"30 3 * * *\"\nrun: {{ ollama.bench: {{ url: \"http://127.0.0.1:{}\", model: \"llama3.2:8b\" }} }}\n", ollama.port),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/preload.yaml"),
        format!("at_start: true\nrun: {{ ollama.preload: {{ url: \"http://127.0.0.1:{}\", models: [\"qwen2.5:7b\"] }} }}\n", ollama.port),
    )
    .unwrap();
    // As most umasks leave it: readable by others.
    std::fs::set_permissions(
        dir.path().join("clawcron.yaml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let doctor = |password: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .args(["--state-dir", "state", "doctor"])
            .env("SMTP_PASSWORD", password)
            .env("HOME", dir.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = doctor(PASSWORD);
    assert_eq!(code, Some(1), "{text}");
    for line in [
        "✓ config valid: 2 job(s) in jobs".to_string(),
        "✓ state directory writable: state".to_string(),
        format!(
            "✓ Ollama reachable at http://127.0.0.1:{} (1 model(s))",
            ollama.port
        ),
        "✓ model `llama3.2:8b` present".to_string(),
        format!(
            "✗ model `qwen2.5:7b` not available in Ollama at http://127.0.0.1:{} (named by preload)\n    fix: ollama pull qwen2.5:7b",
            ollama.port
        ),
        format!(
            "✓ email `mail`: 127.0.0.1:{} STARTTLS, login accepted",
            smtp.port
        ),
        "✓ webhook `hook` reachable (HTTP".to_string(),
        "✓ time zone Europe/Paris".to_string(),
        "✗ service not installed".to_string(),
    ] {
        assert!(text.contains(&line), "{line}\nnot in\n{text}");
    }
    assert!(mails(&maildir).is_empty(), "the login check sends no mail");
    // clawcron.yaml holds a webhook URL and others can read it: flagged, with the fix.
    assert!(text.contains("is readable by other users (mode 644) and holds the URL of webhook `hook`: run `chmod 600"), "{text}");
    std::fs::set_permissions(
        dir.path().join("clawcron.yaml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (_, text) = doctor(PASSWORD);
    assert!(!text.contains("readable by other users"), "{text}");
    let (_, text) = doctor("wrong-password-456");
    assert!(
        text.contains("✗ email `mail`: ") && text.contains("535"),
        "{text}"
    );
    assert!(!text.contains("wrong-password-456"), "{text}");
}

/// A daemon killed (kill -9) while an SMTP send hangs, and not yet waited for by its parent (a
/// zombie): the restarted daemon releases the dead claim at once and the notice is sent, not
/// 35 s later when its lease ends.
#[test]
fn a_notice_claimed_by_a_killed_daemon_is_sent_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // An SMTP server that takes the connection and never says a word.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    write_config(
        p,
        &format!(
            "{{ host: 127.0.0.1, port: {}, tls: none }}",
            hang.local_addr().unwrap().port()
        ),
    );
    std::fs::write(
        p.join("jobs/backup.yaml"),
        "at_start: true\nrun: { shell: \"exit 3\" }\nnotify: { on: [failure], to: [mail] }\n",
    )
    .unwrap();
    let (mut d, _) = common::spawn_daemon(p, &[], std::process::Stdio::null());
    let (_conn, _) = hang.accept().unwrap();
    unsafe { libc::kill(d.id() as i32, libc::SIGKILL) };
    // Not waited for yet: the killed daemon is a zombie while the next one starts.
    let maildir = p.join("maildir");
    let server = standin("smtp", &["--maildir", maildir.to_str().unwrap()]);
    write_config(
        p,
        &format!("{{ host: 127.0.0.1, port: {}, tls: none }}", server.port),
    );
    let restarted = std::time::Instant::now();
    let (d2, _) = common::spawn_daemon(p, &[], std::process::Stdio::null());
    common::wait_for("the mail", std::time::Duration::from_secs(20), || {
        !common::mails(&maildir).is_empty()
    });
    let took = restarted.elapsed();
    common::stop_daemon(d2);
    d.wait().unwrap();
    assert!(
        took < std::time::Duration::from_secs(10),
        "the mail came {took:?} after the restart"
    );
}
