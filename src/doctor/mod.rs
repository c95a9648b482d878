//! `clawcron doctor`: a checklist of what the jobs need, each line ✓ or ✗ with the fix: the
//! config, the state directory, Docker and the containers the jobs name, Ollama and the models
//! they name, each email channel's SMTP login (no mail sent), each webhook's reachability, the time
//! zone, and the service install; each channel's and check's secret (the variable set, the file
//! readable); on macOS whether the Mac sleeps through the night's slots and whether a path the
//! daemon reads is in a folder macOS's privacy protection keeps from a LaunchAgent (`mac`).
//! A line is ✓, ✗ (a problem: doctor exits 1) or ! (a warning: worth knowing, not a failure).

pub mod mac;

use crate::config::Loaded;
use crate::model::ActionSpec;
use crate::model::Channel;
use crate::model::Target as DockerTarget;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// One line of the checklist.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Line {
    pub ok: bool,
    /// Ok, but worth saying (a Mac that sleeps through the night's slots).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warn: bool,
    pub what: String,
    /// What to do when it is not ok.
    pub fix: Option<String>,
}

fn ok(what: impl Into<String>) -> Line {
    Line {
        ok: true,
        warn: false,
        what: what.into(),
        fix: None,
    }
}

fn bad(what: impl Into<String>, fix: impl Into<String>) -> Line {
    Line {
        ok: false,
        warn: false,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

fn warn(what: impl Into<String>, fix: impl Into<String>) -> Line {
    Line {
        ok: true,
        warn: true,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

/// Every action of every job, probes, checks and remediations included.
fn actions(loaded: &Loaded) -> Vec<&ActionSpec> {
    loaded.actions().into_iter().map(|(_, a)| a).collect()
}

/// Runs every check (each bounded by `timeout`).
pub async fn check(
    loaded: &Loaded,
    config_path: &Path,
    state_dir: &Path,
    home_dir: Option<&Path>,
    timeout: Duration,
) -> Vec<Line> {
    let mut lines = Vec::new();
    lines.push(if loaded.errors.is_empty() {
        ok(format!(
            "config valid: {} job(s) in {}",
            loaded.jobs.len(),
            loaded.jobs_dir.display()
        ))
    } else {
        bad(
            format!("config: {} file(s) with errors", loaded.errors.len()),
            "run `clawcron check` and fix what it shows",
        )
    });
    if let Some(w) = crate::config::permission_warning(config_path, &loaded.global) {
        lines.push(bad(
            w,
            "chmod 600 clawcron.yaml, or move the secrets into environment variables (${VAR})",
        ));
    }
    lines.extend(state_dir_lines(state_dir));
    lines.extend(docker_lines(loaded, timeout).await);
    lines.extend(ollama_lines(loaded, timeout).await);
    lines.extend(secret_lines(loaded));
    lines.extend(channel_lines(loaded, timeout).await);
    lines.extend(timezone_lines(loaded));
    lines.extend(service_lines(home_dir));
    if cfg!(target_os = "macos") {
        if let Some(home) = home_dir {
            lines.extend(privacy_lines(loaded, config_path, state_dir, home));
        }
        lines.extend(sleep_lines(loaded));
    }
    lines
}

/// The secret of each channel and of each `http` check with `bearer_env`: a variable that is
/// not set (a LaunchAgent does not get your shell's) or a file that cannot be read fails here,
/// before a notice or a run does.
fn secret_lines(loaded: &Loaded) -> Vec<Line> {
    use crate::model::Password;
    let mut lines = Vec::new();
    let fix = |p: &Password| match p {
        Password::Env(v) => format!(
            "set {v} where the daemon runs: `clawcron install --env {v}` gives the service its current value; or use the `*_file` key instead"
        ),
        Password::File(f) => format!(
            "make {} readable by this user (chmod 600, owned by you), holding the secret",
            f.display()
        ),
    };
    for (name, channel) in &loaded.global.notifiers {
        let (secret, what) = match channel {
            Channel::Email(e) => (e.password.as_ref(), "the SMTP password"),
            Channel::Webhook(w) => (w.secret.as_ref(), "the signing secret"),
        };
        let Some(secret) = secret else { continue };
        lines.push(match crate::config::secrets::read(secret, what) {
            Ok(_) => ok(format!("notifier `{name}`: {what} is there")),
            Err(e) => bad(format!("notifier `{name}`: {e}"), fix(secret)),
        });
    }
    let mut seen = BTreeSet::new();
    for (job, a) in loaded.actions() {
        let http = match a {
            ActionSpec::Http(h) => Some(h),
            ActionSpec::DockerRestart(r) => r.probe.as_ref(),
            _ => None,
        };
        if let Some(var) = http.and_then(|h| h.bearer_env.as_ref())
            && seen.insert((job.id.clone(), var.clone()))
        {
            let p = Password::Env(var.clone());
            if let Err(e) = crate::config::secrets::read(&p, "the bearer token") {
                lines.push(bad(format!("job `{}`: {e}", job.id), fix(&p)));
            }
        }
    }
    lines
}

/// macOS: the paths the daemon reads or writes that live where a LaunchAgent without Full
/// Disk Access is silently refused.
pub fn privacy_lines(
    loaded: &Loaded,
    config_path: &Path,
    state_dir: &Path,
    home: &Path,
) -> Vec<Line> {
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().map_or(p.to_path_buf(), |d| d.join(p))
        }
    };
    let mut paths = vec![
        ("clawcron.yaml".to_string(), absolute(config_path)),
        ("the jobs folder".to_string(), absolute(&loaded.jobs_dir)),
        ("the state directory".to_string(), absolute(state_dir)),
        (
            "the templates folder".to_string(),
            absolute(&loaded.templates_dir),
        ),
    ];
    for j in &loaded.jobs {
        paths.push((format!("job file {}", j.id), absolute(&j.path)));
        if let ActionSpec::Report(r) = &j.action {
            paths.push((
                format!("job {}'s reports folder", j.id),
                absolute(&r.out_dir),
            ));
        }
    }
    let problems = mac::privacy_problems(&paths, home);
    if problems.is_empty() {
        return vec![ok(
            "no file the daemon reads is in Documents, Desktop, Downloads or iCloud Drive",
        )];
    }
    problems
        .into_iter()
        .map(|(what, path, folder)| {
            bad(
                format!(
                    "{what} is in {folder} ({}): macOS keeps {folder} from a LaunchAgent without Full Disk Access, and the daemon fails without a word",
                    path.display()
                ),
                "move the clawcron folder out of it (e.g. to ~/clawcron) and run `clawcron install` again from there; or grant the clawcron binary Full Disk Access (System Settings > Privacy & Security)",
            )
        })
        .collect()
}

/// The night's slots (00:00-07:00 machine time) of the enabled cron jobs in the next week,
/// the earliest per job.
fn night_slots(loaded: &Loaded) -> Vec<(String, chrono::NaiveTime)> {
    use chrono::{Local, TimeZone, Timelike};
    let now = chrono::Utc::now().timestamp();
    let mut out = Vec::new();
    for j in loaded.jobs.iter().filter(|j| j.enabled) {
        if !matches!(j.trigger, crate::model::Trigger::Cron(_)) {
            continue;
        }
        let mut t = now;
        let mut first: Option<chrono::NaiveTime> = None;
        for _ in 0..64 {
            let Some(next) = j.trigger.next_after(t) else {
                break;
            };
            if next > now + 7 * 86_400 {
                break;
            }
            t = next;
            if let Some(local) = Local.timestamp_opt(next, 0).single()
                && local.hour() < 7
            {
                let time = local.time();
                first = Some(first.map_or(time, |f| f.min(time)));
            }
        }
        if let Some(f) = first {
            out.push((j.id.to_string(), f));
        }
    }
    out
}

/// macOS: whether the Mac sleeps through the night's slots (`pmset -g`, `pmset -g sched`).
fn sleep_lines(loaded: &Loaded) -> Vec<Line> {
    let night = night_slots(loaded);
    if night.is_empty() {
        return Vec::new();
    }
    let pmset = |args: &[&str]| {
        std::process::Command::new("pmset")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let Some(settings) = pmset(&["-g"]) else {
        return vec![warn(
            "cannot run `pmset -g`: whether this Mac sleeps through the night's jobs is unknown",
            "run `pmset -g` and `pmset -g sched` yourself",
        )];
    };
    let sched = pmset(&["-g", "sched"]).unwrap_or_default();
    match mac::sleep_advice(
        mac::parse_sleep_minutes(&settings),
        &mac::parse_sched(&sched),
        &night,
    ) {
        Some((what, fix)) => vec![warn(what, fix)],
        None => vec![ok("the Mac is awake (or woken) for the night's jobs")],
    }
}

/// Below this much free space on the state directory's disk, doctor warns.
const LOW_DISK: u64 = 100_000_000;

/// Bytes free for an unprivileged user on the filesystem holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `st` a valid out-parameter for the call.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// The state directory.
fn state_dir_lines(state_dir: &Path) -> Vec<Line> {
    let mut lines = Vec::new();
    let probe = state_dir.join(".doctor-probe");
    let writable = std::fs::create_dir_all(state_dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    lines.push(match writable {
        Ok(()) => ok(format!("state directory writable: {}", state_dir.display())),
        Err(e) => bad(
            format!("state directory {}: {e}", state_dir.display()),
            "give `--state-dir` (or `state_dir:` in clawcron.yaml) a folder you can write to",
        ),
    });
    if let Some(free) = free_bytes(state_dir) {
        let mb = free / 1_000_000;
        lines.push(if free < LOW_DISK {
            bad(
                format!("state directory's disk: only {mb} MB free"),
                "free some space: once it is full no slot starts until there is room again (README, \"The ledger\")",
            )
        } else {
            ok(format!("state directory's disk: {mb} MB free"))
        });
    }

    lines
}

/// Docker and the containers the jobs name.
async fn docker_lines(loaded: &Loaded, timeout: Duration) -> Vec<Line> {
    let mut lines = Vec::new();
    let acts = actions(loaded);
    let mut containers: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    for a in &acts {
        let t = match a {
            ActionSpec::DockerRestart(r) => Some((&r.host, &r.target)),
            ActionSpec::DockerExec(e) => Some((&e.host, &e.target)),
            ActionSpec::DockerStats(s) => Some((&s.host, &s.target)),
            _ => None,
        };
        if let Some((host, DockerTarget::Name(n))) = t {
            containers.insert((
                host.clone().or_else(|| loaded.global.docker_host.clone()),
                n.clone(),
            ));
        }
    }
    if !containers.is_empty() {
        let hosts: BTreeSet<Option<String>> = containers.iter().map(|(h, _)| h.clone()).collect();
        for host in hosts {
            match crate::action::docker::connect(host.as_deref()) {
                Err(e) => lines.push(bad(format!("Docker: {e}"), "start Docker (Docker Desktop on macOS) or set DOCKER_HOST / `docker: {host}` in clawcron.yaml")),
                Ok((docker, addr)) => match tokio::time::timeout(timeout, docker.ping()).await {
                    Ok(Ok(_)) => {
                        lines.push(ok(format!("Docker reachable at {addr}")));
                        for (_, name) in containers.iter().filter(|(h, _)| *h == host) {
                            let found = tokio::time::timeout(
                                timeout,
                                docker.inspect_container(name, None::<bollard::query_parameters::InspectContainerOptions>),
                            )
                            .await;
                            lines.push(match found {
                                Ok(Ok(c)) => ok(format!(
                                    "container `{name}` found ({})",
                                    c.state.and_then(|s| s.status).map_or("state unknown".into(), |s| s.to_string())
                                )),
                                Ok(Err(e)) => bad(
                                    crate::action::docker::describe(&e, &DockerTarget::Name(name.clone()), &addr),
                                    "start it (docker compose up -d) or set the job's container (e.g. OPENCLAW_CONTAINER) to the right name: `docker ps` lists them",
                                ),
                                Err(_) => bad(format!("container `{name}`: Docker did not answer in time"), "check Docker"),
                            });
                        }
                    }
                    Ok(Err(e)) => lines.push(bad(format!("Docker at {addr}: {e}"), "start Docker, or check the socket's permissions (the docker group)")),
                    Err(_) => lines.push(bad(format!("Docker at {addr}: no answer in time"), "restart Docker")),
                },
            }
        }
    }

    lines
}

/// Ollama and the models the jobs name.
async fn ollama_lines(loaded: &Loaded, timeout: Duration) -> Vec<Line> {
    let mut lines = Vec::new();
    let acts = actions(loaded);
    let mut ollama: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for a in &acts {
        match a {
            ActionSpec::OllamaPreload(p) => ollama
                .entry(p.url.clone())
                .or_default()
                .extend(p.models.iter().chain(&p.embed_models).cloned()),
            ActionSpec::OllamaUnload(p) => {
                ollama.entry(p.url.clone()).or_default();
            }
            ActionSpec::OllamaBench(b) => {
                ollama
                    .entry(b.url.clone())
                    .or_default()
                    .insert(b.model.clone());
            }
            ActionSpec::OllamaStatus(s) => {
                ollama.entry(s.url.clone()).or_default();
            }
            _ => {}
        }
    }
    for (url, models) in ollama {
        let client =
            crate::action::ollama::Client::new(&url, Some(tokio::time::Instant::now() + timeout));
        let tags = match client {
            Ok(c) => c.get("/api/tags").await.map_err(|e| e.message),
            Err(e) => Err(e.message),
        };
        match tags {
            Err(e) => lines.push(bad(
                format!("Ollama at {url}: {e}"),
                "start Ollama (`ollama serve`, or the Ollama app)",
            )),
            Ok(t) => {
                let have: BTreeSet<String> = t
                    .get("models")
                    .and_then(|m| m.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.get("name").and_then(|n| n.as_str()).map(str::to_string))
                    .collect();
                lines.push(ok(format!(
                    "Ollama reachable at {url} ({} model(s))",
                    have.len()
                )));
                for m in models {
                    let present = have.contains(&m)
                        || (!m.contains(':') && have.contains(&format!("{m}:latest")));
                    lines.push(if present {
                        ok(format!("model `{m}` present"))
                    } else {
                        // `llama3.2:8b` when `llama3.2:3b` is there: a tag that does not exist.
                        let base = m.split(':').next().unwrap_or(&m);
                        let others: Vec<&str> = have
                            .iter()
                            .filter(|h| h.split(':').next() == Some(base))
                            .map(String::as_str)
                            .collect();
                        let used_by: Vec<&str> = jobs_naming(loaded, &url, &m);
                        let what = format!(
                            "model `{m}` not available in Ollama at {url} (named by {}){}",
                            used_by.join(", "),
                            if others.is_empty() {
                                String::new()
                            } else {
                                format!("; it has {}", others.join(", "))
                            }
                        );
                        bad(
                            what,
                            format!(
                                "ollama pull {m} (if that tag exists: `ollama show {base}` or ollama.com/library/{base} lists the real ones), or name a model it has in the job"
                            ),
                        )
                    });
                }
            }
        }
    }

    lines
}

/// The jobs whose Ollama actions at `url` name `model`.
fn jobs_naming<'a>(loaded: &'a Loaded, url: &str, model: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for (job, a) in loaded.actions() {
        let named = match a {
            ActionSpec::OllamaPreload(p) => {
                p.url == url && p.models.iter().chain(&p.embed_models).any(|m| m == model)
            }
            ActionSpec::OllamaBench(b) => b.url == url && b.model == model,
            _ => false,
        };
        if named && !out.contains(&&*job.id) {
            out.push(&job.id);
        }
    }
    out
}

/// Notification channels: SMTP login (no mail sent), webhook reachable.
async fn channel_lines(loaded: &Loaded, timeout: Duration) -> Vec<Line> {
    let mut lines = Vec::new();
    for (name, channel) in &loaded.global.notifiers {
        match channel {
            // Without its password the login cannot be tried: `secret_lines` said why.
            Channel::Email(e)
                if e
                    .password
                    .as_ref()
                    .is_some_and(|p| crate::config::secrets::password(p).is_err()) => {}
            Channel::Email(e) => {
                lines.push(match crate::notify::email::test_login(e, timeout).await {
                    Ok(what) => ok(format!("email `{name}`: {what}")),
                    Err(why) => bad(format!("email `{name}`: {why}"), "check smtp host, port, tls and the password variable or file; `clawcron notify-test` sends a real message"),
                })
            }
            Channel::Webhook(w) => {
                let reach = reqwest::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| e.to_string());
                let answer = match reach {
                    Ok(c) => c.head(&w.url).send().await.map(|r| r.status().as_u16()).map_err(|e| {
                        crate::util::chain(&e.without_url())
                    }),
                    Err(e) => Err(e),
                };
                lines.push(match answer {
                    Ok(code) => ok(format!("webhook `{name}` reachable (HTTP {code} to a HEAD)")),
                    Err(e) => bad(format!("webhook `{name}`: {e}"), "check the URL and the network; `clawcron notify-test` sends a real message"),
                });
            }
        }
    }

    lines
}

/// The time zone.
fn timezone_lines(loaded: &Loaded) -> Vec<Line> {
    let mut lines = Vec::new();
    let tz = loaded.global.timezone;
    let system = std::env::var("TZ").ok().or_else(|| {
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            p.to_str()
                .and_then(|s| s.split("zoneinfo/").nth(1))
                .map(str::to_string)
        })
    });
    lines.push(match system {
        Some(_) => ok(format!("time zone {}", tz.name())),
        None if tz.name() != "UTC" => ok(format!("time zone {} (from clawcron.yaml)", tz.name())),
        None => bad(
            "time zone unknown: the machine's could not be read, UTC is used",
            "set `timezone: Europe/Paris` (your zone) in clawcron.yaml",
        ),
    });

    lines
}

/// The service.
fn service_lines(home_dir: Option<&Path>) -> Vec<Line> {
    let mut lines = Vec::new();
    if let Some(home) = home_dir {
        let target = crate::install::Target::native();
        let path = crate::install::unit_path(target, home);
        lines.push(if path.exists() {
            let bin = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| crate::install::installed_bin(target, &t));
            match bin {
                Some(b) if !b.is_file() => bad(
                    format!(
                        "service installed ({}), but the binary it runs is not there: {}",
                        path.display(),
                        b.display()
                    ),
                    "clawcron install (from the folder holding clawcron.yaml): it copies the binary to a stable path",
                ),
                Some(b) if crate::install::in_build_folder(&b) => warn(
                    format!(
                        "service installed ({}), running a build output that the next `cargo build` or `cargo clean` replaces: {}",
                        path.display(),
                        b.display()
                    ),
                    "clawcron install again: it copies the binary to ~/.local/bin/clawcron and points the service there",
                ),
                Some(b) => ok(format!(
                    "service installed: {} (runs {})",
                    path.display(),
                    b.display()
                )),
                None => ok(format!("service installed: {}", path.display())),
            }
        } else {
            bad(
                format!("service not installed ({} missing)", path.display()),
                "clawcron install (from the folder holding clawcron.yaml)",
            )
        });
    }
    lines
}
