//! `clawcron doctor` on what a LaunchAgent lacks: a channel's secret (a variable the service does
//! not have, a file it cannot read) fails it before a notice does; a model a job names that Ollama
//! does not have; a path in a folder macOS's privacy protection keeps from a LaunchAgent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{received, standin};
use std::path::Path;
use std::process::Command;

fn doctor(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clawcron"));
    c.current_dir(dir)
        .args(["--state-dir", "state", "doctor"])
        .env("HOME", dir)
        .env_remove("HOOK_SECRET")
        .env_remove("SMTP_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn doctor_fails_on_a_channel_whose_secret_is_missing_and_notify_test_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("hook.jsonl");
    let hook = standin("webhook", &["--log", log.to_str().unwrap()]);
    let secret_file = dir.path().join("hook.secret");
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        format!(
            "timezone: Europe/Paris\nnotifiers:\n  by-env:\n    webhook: {{ url: \"http://127.0.0.1:{p}/a\", secret_env: HOOK_SECRET }}\n  by-file:\n    webhook: {{ url: \"http://127.0.0.1:{p}/b\", secret_file: {} }}\n  mail:\n    email:\n      smtp: {{ host: 127.0.0.1, port: 9, tls: none, username: me, password_env: SMTP_PASSWORD }}\n      from: a@example.org\n      to: [b@example.org]\n",
            secret_file.display(),
            p = hook.port
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("clawcron.yaml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (code, text) = doctor(dir.path(), &[]);
    assert_eq!(code, Some(1), "{text}");
    for line in [
        "✗ notifier `by-env`: environment variable `HOOK_SECRET` (the signing secret) is not set\n    fix: set HOOK_SECRET where the daemon runs: `clawcron install --env HOOK_SECRET` gives the service its current value; or use the `*_file` key instead\n".to_string(),
        format!(
            "✗ notifier `by-file`: cannot read the signing secret from {}: No such file or directory (os error 2)\n    fix: make {} readable by this user",
            secret_file.display(),
            secret_file.display()
        ),
        "✗ notifier `mail`: environment variable `SMTP_PASSWORD` (the SMTP password) is not set\n".to_string(),
    ] {
        assert!(text.contains(&line), "{line}\nnot in\n{text}");
    }
    // Reachable, but not "ok" as a whole: the old "✓ webhook reachable" alone is not the verdict.
    assert!(text.contains("✓ webhook `by-env` reachable"), "{text}");
    // No SMTP login is tried without its password.
    assert!(!text.contains("email `mail`"), "{text}");

    // With the secrets there, those lines pass.
    std::fs::write(&secret_file, "file-secret-123\n").unwrap();
    let (_, text) = doctor(
        dir.path(),
        &[
            ("HOOK_SECRET", "env-secret-123"),
            ("SMTP_PASSWORD", "pw-123456"),
        ],
    );
    for line in [
        "✓ notifier `by-env`: the signing secret is there",
        "✓ notifier `by-file`: the signing secret is there",
        "✓ notifier `mail`: the SMTP password is there",
    ] {
        assert!(text.contains(line), "{line}\nnot in\n{text}");
    }
    assert!(!text.contains("secret-123"), "no secret printed: {text}");

    // The file is read at each send: notify-test signs with what it holds now.
    let notify = |secret: &str| {
        std::fs::write(&secret_file, secret).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
            .current_dir(dir.path())
            .args(["--state-dir", "state", "notify-test", "by-file"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let got = received(&log);
        let last = got.last().unwrap();
        let body = last["body"].as_str().unwrap().to_string();
        let sig = last["headers"]["x-clawcron-signature"]
            .as_str()
            .unwrap()
            .to_string();
        (body, sig)
    };
    for secret in ["first-secret-abc\n", "second-secret-def"] {
        let (body, sig) = notify(secret);
        let want = Command::new("python3")
            .args([
                "-c",
                "import hmac,hashlib,sys;print('sha256='+hmac.new(sys.argv[1].encode(),sys.argv[2].encode(),hashlib.sha256).hexdigest())",
                secret.trim_end(),
                &body,
            ])
            .output()
            .unwrap();
        assert_eq!(sig, String::from_utf8_lossy(&want.stdout).trim());
    }
    // An unreadable file: not delivered, with the reason.
    std::fs::remove_file(&secret_file).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "notify-test", "by-file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!(
            "by-file: not delivered: cannot read the signing secret from {}",
            secret_file.display()
        )),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn doctor_says_when_a_model_a_job_names_is_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let ollama = standin("ollama", &["--models", "llama3.2:3b,nomic-embed-text"]);
    let url = format!("http://127.0.0.1:{}", ollama.port);
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("jobs/bench.yaml"),
        format!("schedule: \"30 3 * * *\"\nrun:\n  monitor:\n    probes:\n      ollama: {{ ollama.bench: {{ url: \"{url}\", model: \"llama3.2:8b\" }} }}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/preload.yaml"),
        format!("at_start: true\nrun: {{ ollama.preload: {{ url: \"{url}\", models: [\"llama3.2:8b\", \"llama3.2:3b\"], embed_models: [nomic-embed-text] }} }}\n"),
    )
    .unwrap();
    let (code, text) = doctor(dir.path(), &[]);
    assert_eq!(code, Some(1), "{text}");
    for line in [
        format!("✓ Ollama reachable at {url} (2 model(s))"),
        "✓ model `llama3.2:3b` present".to_string(),
        "✓ model `nomic-embed-text` present".to_string(),
        format!(
            "✗ model `llama3.2:8b` not available in Ollama at {url} (named by bench, preload); it has llama3.2:3b\n    fix: ollama pull llama3.2:8b (if that tag exists: `ollama show llama3.2` or ollama.com/library/llama3.2 lists the real ones), or name a model it has in the job\n"
        ),
    ] {
        assert!(text.contains(&line), "{line}\nnot in\n{text}");
    }
}

/// The privacy check is a function of paths and the home: checked here on any OS, with HOME a
/// scratch folder (doctor itself runs it on macOS only).
#[test]
fn paths_in_privacy_protected_folders_are_flagged() {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("Documents/clawcron");
    std::fs::create_dir_all(project.join("jobs")).unwrap();
    std::fs::write(
        project.join("clawcron.yaml"),
        "timezone: UTC\njobs_dir: jobs\n",
    )
    .unwrap();
    std::fs::write(
        project.join("jobs/hello.yaml"),
        "every: 5m\nrun: { command: [echo, hi] }\n",
    )
    .unwrap();
    let config = project.join("clawcron.yaml");
    let loaded = clawcron::config::load(&clawcron::config::Sources {
        config: Some(config.clone()),
        jobs_dir: None,
    });
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let state = home.path().join("Library/Application Support/clawcron");
    let lines = clawcron::doctor::privacy_lines(&loaded, &config, &state, home.path());
    let whats: Vec<&str> = lines.iter().map(|l| l.what.as_str()).collect();
    assert!(lines.iter().all(|l| !l.ok), "{whats:?}");
    let expect = |what: &str, path: &Path| {
        format!(
            "{what} is in Documents ({}): macOS keeps Documents from a LaunchAgent without Full Disk Access, and the daemon fails without a word",
            path.display()
        )
    };
    assert_eq!(
        whats,
        [
            expect("clawcron.yaml", &config),
            expect("the jobs folder", &project.join("jobs")),
            expect("the templates folder", &project.join("templates")),
            expect("job file hello", &project.join("jobs/hello.yaml")),
        ]
    );
    // Out of the protected folders (the state directory in Application Support is fine).
    let elsewhere = home.path().join("clawcron");
    std::fs::create_dir_all(elsewhere.join("jobs")).unwrap();
    std::fs::write(
        elsewhere.join("clawcron.yaml"),
        "timezone: UTC\njobs_dir: jobs\n",
    )
    .unwrap();
    let config = elsewhere.join("clawcron.yaml");
    let loaded = clawcron::config::load(&clawcron::config::Sources {
        config: Some(config.clone()),
        jobs_dir: None,
    });
    let lines = clawcron::doctor::privacy_lines(&loaded, &config, &state, home.path());
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ok, "{}", lines[0].what);
    // iCloud Drive holds the state directory: flagged too.
    let icloud = home
        .path()
        .join("Library/Mobile Documents/com~apple~CloudDocs/clawcron-state");
    let lines = clawcron::doctor::privacy_lines(&loaded, &config, &icloud, home.path());
    assert_eq!(lines.len(), 1);
    assert!(
        !lines[0].ok
            && lines[0]
                .what
                .starts_with("the state directory is in iCloud Drive"),
        "{}",
        lines[0].what
    );
}

#[test]
fn doctor_checks_the_binary_the_installed_service_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(dir.path().join("clawcron.yaml"), "timezone: UTC\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clawcron"))
        .current_dir(dir.path())
        .args(["--state-dir", "state", "install", "--no-start"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The OS's own service manager, as doctor looks for it.
    let unit = if cfg!(target_os = "macos") {
        dir.path()
            .join("Library/LaunchAgents/com.clawcron.agent.plist")
    } else {
        dir.path().join(".config/systemd/user/clawcron.service")
    };
    let bin = dir.path().join(".local/bin/clawcron");
    let (_, text) = doctor(dir.path(), &[]);
    assert!(
        text.contains(&format!(
            "✓ service installed: {} (runs {})\n",
            unit.display(),
            bin.display()
        )),
        "{text}"
    );
    std::fs::remove_file(&bin).unwrap();
    let (code, text) = doctor(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert!(
        text.contains(&format!(
            "✗ service installed ({}), but the binary it runs is not there: {}\n    fix: clawcron install",
            unit.display(),
            bin.display()
        )),
        "{text}"
    );
}
