//! `clawcron doctor`: a checklist of what the jobs need, each line ✓ or ✗ with the fix: the
//! config, the state directory, Docker and the containers the jobs name, Ollama and the models
//! they name, each email channel's SMTP login (no mail sent), each webhook's reachability, the time
//! zone, and the service install.

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
    pub what: String,
    /// What to do when it is not ok.
    pub fix: Option<String>,
}

fn ok(what: impl Into<String>) -> Line {
    Line {
        ok: true,
        what: what.into(),
        fix: None,
    }
}

fn bad(what: impl Into<String>, fix: impl Into<String>) -> Line {
    Line {
        ok: false,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

/// Every action of every job, probes and remediations included.
fn actions(loaded: &Loaded) -> Vec<&ActionSpec> {
    fn walk<'a>(a: &'a ActionSpec, out: &mut Vec<&'a ActionSpec>) {
        out.push(a);
        if let ActionSpec::Monitor(m) = a {
            for p in &m.probes {
                walk(&p.action, out);
            }
        }
    }
    let mut out = Vec::new();
    for j in &loaded.jobs {
        walk(&j.action, &mut out);
        for r in j.alerts.iter().filter_map(|r| r.remediate.as_ref()) {
            walk(&r.action, &mut out);
        }
    }
    out
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
    lines.extend(channel_lines(loaded, timeout).await);
    lines.extend(timezone_lines(loaded));
    lines.extend(service_lines(home_dir));
    lines
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
                        bad(
                            format!("model `{m}` not in Ollama"),
                            format!("ollama pull {m}"),
                        )
                    });
                }
            }
        }
    }

    lines
}

/// Notification channels: SMTP login (no mail sent), webhook reachable.
async fn channel_lines(loaded: &Loaded, timeout: Duration) -> Vec<Line> {
    let mut lines = Vec::new();
    for (name, channel) in &loaded.global.notifiers {
        match channel {
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
            ok(format!("service installed: {}", path.display()))
        } else {
            bad(
                format!("service not installed ({} missing)", path.display()),
                "clawcron install (from the folder holding clawcron.yaml)",
            )
        });
    }
    lines
}
