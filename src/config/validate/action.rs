//! What a job runs: one function per job kind.

use super::*;
use serde::Deserialize;
use std::collections::BTreeMap;

pub(super) const KINDS: &[&str] = &[
    "command",
    "shell",
    "http",
    "docker.restart",
    "docker.exec",
    "docker.stats",
    "host.stats",
    "ollama.preload",
    "ollama.unload",
    "ollama.bench",
    "ollama.status",
    "monitor",
    "report",
    "external",
];

pub(super) fn action(
    c: &mut Checker<'_>,
    run: &S<RawRun>,
    global_docker_host: &Option<String>,
) -> Option<ActionSpec> {
    let r = &run.value;
    let kinds = [
        r.command.is_some(),
        r.shell.is_some(),
        r.http.is_some(),
        r.docker_restart.is_some(),
        r.docker_exec.is_some(),
        r.docker_stats.is_some(),
        r.host_stats.is_some(),
        r.ollama_preload.is_some(),
        r.ollama_unload.is_some(),
        r.ollama_bench.is_some(),
        r.ollama_status.is_some(),
        r.monitor.is_some(),
        r.report.is_some(),
        r.external.is_some(),
    ]
    .into_iter()
    .filter(|k| *k)
    .count();
    if kinds != 1 {
        let d = c.error(
            run,
            "run",
            if kinds == 0 {
                "no job kind given"
            } else {
                "more than one job kind given"
            },
        );
        d.expected = Some(format!("exactly one of: {}", KINDS.join(", ")));
        return None;
    }
    let native = r.http.is_some()
        || r.docker_restart.is_some()
        || r.docker_exec.is_some()
        || r.docker_stats.is_some()
        || r.host_stats.is_some()
        || r.ollama_preload.is_some()
        || r.ollama_unload.is_some()
        || r.ollama_bench.is_some()
        || r.ollama_status.is_some()
        || r.monitor.is_some()
        || r.report.is_some()
        || r.external.is_some();
    if native && (r.env.is_some() || r.workdir.is_some() || r.leftovers.is_some()) {
        c.error(
            run,
            "run",
            "`env`, `workdir` and `leftovers` belong to `command` and `shell` jobs",
        );
        return None;
    }
    if let Some(rep) = &r.report {
        return report_kind(c, rep, global_docker_host);
    }
    if let Some(e) = &r.external {
        return external(c, e);
    }
    if let Some(m) = &r.monitor {
        return monitor(c, m, global_docker_host);
    }
    if let Some(d) = &r.docker_restart {
        return docker_restart(c, d, global_docker_host);
    }
    if let Some(d) = &r.docker_exec {
        return docker_exec(c, d, global_docker_host);
    }
    if let Some(d) = &r.docker_stats {
        return docker_stats(c, d, global_docker_host);
    }
    if let Some(h) = &r.host_stats {
        return host_stats(c, h);
    }
    if let Some(o) = &r.ollama_preload {
        return ollama_preload(c, o);
    }
    if let Some(o) = &r.ollama_unload {
        return ollama_unload(c, o);
    }
    if let Some(b) = &r.ollama_bench {
        return ollama_bench(c, b);
    }
    if let Some(st) = &r.ollama_status {
        return ollama_status(c, st);
    }
    if let Some(h) = &r.http {
        return http_kind(c, h);
    }
    let mut env = Vec::new();
    if let Some(vars) = &r.env {
        for (name, value) in &vars.value {
            if name.is_empty()
                || name.starts_with(|ch: char| ch.is_ascii_digit())
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            {
                c.error(
                    value,
                    &format!("run.env.{name}"),
                    format!("`{name}` is not a valid environment variable name"),
                );
                continue;
            }
            if let Some(v) = c.interp(value, &format!("run.env.{name}")) {
                env.push((name.clone(), v));
            }
        }
    }
    let workdir = r.workdir.as_ref().and_then(|w| {
        let expanded = c.interp(w, "run.workdir")?;
        let mut dir = expand_home(&expanded);
        if dir.is_relative() {
            dir = c.path.parent().unwrap_or(Path::new(".")).join(dir);
        }
        if !dir.is_dir() {
            c.error(
                w,
                "run.workdir",
                format!("`{}` is not a directory", dir.display()),
            );
            return None;
        }
        Some(dir)
    });
    let program = if let Some(argv) = &r.command {
        if argv.value.is_empty() || argv.value[0].value.trim().is_empty() {
            let d = c.error(argv, "run.command", "the command is empty");
            d.expected = Some("a list: program first, then its arguments, e.g. [docker, restart, openclaw-gateway]".into());
            return None;
        }
        let mut args = Vec::with_capacity(argv.value.len());
        for a in &argv.value {
            args.push(c.interp(a, "run.command")?);
        }
        Program::Argv(args)
    } else {
        let shell = r.shell.as_ref()?;
        if shell.value.trim().is_empty() {
            c.error(shell, "run.shell", "the shell command is empty");
            return None;
        }
        // Not expanded here: the shell expands `${VAR}` itself, with the job's environment.
        Program::Shell(shell.value.clone())
    };
    let keep_leftovers = c.choice(&r.leftovers, "run.leftovers", &["stop", "keep"]) == Some(1);
    Some(ActionSpec::Command(CommandSpec {
        program,
        env,
        workdir,
        keep_leftovers,
    }))
}

pub(super) fn http(c: &mut Checker<'_>, h: &S<RawHttp>) -> Option<HttpSpec> {
    let h = &h.value;
    let url = c.interp(&h.url, "run.http.url")?;
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || reqwest::Url::parse(&url).is_err()
    {
        let d = c.error(
            &h.url,
            "run.http.url",
            format!("`{url}` is not an http:// or https:// URL"),
        );
        d.expected = Some("a URL such as http://127.0.0.1:18789/readyz".into());
        return None;
    }
    let method = match &h.method {
        Some(m) => {
            let i = c.choice(
                &h.method,
                "run.http.method",
                &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            )?;
            let _ = m;
            ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"][i].to_string()
        }
        None => "GET".to_string(),
    };
    let mut headers = Vec::new();
    if let Some(hs) = &h.headers {
        for (name, value) in &hs.value {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                c.error(
                    value,
                    &format!("run.http.headers.{name}"),
                    format!("`{name}` is not a valid header name"),
                );
                continue;
            }
            headers.push((
                name.clone(),
                c.interp(value, &format!("run.http.headers.{name}"))?,
            ));
        }
    }
    let timeout = c.duration(&h.timeout, "run.http.timeout");
    let mut expect = Expect::default();
    if let Some(e) = &h.expect {
        let e = &e.value;
        if let Some(codes) = &e.status {
            for code in &codes.value {
                if !(100..=599).contains(&code.value) {
                    c.error(
                        code,
                        "run.http.expect.status",
                        format!("{} is not an HTTP status", code.value),
                    );
                }
            }
            expect.status = Some(codes.value.iter().map(|s| s.value).collect());
        }
        expect.content_type = e.content_type.as_ref().map(|t| t.value.clone());
        if let Some(re) = &e.body_regex {
            match regex::Regex::new(&re.value) {
                Ok(r) => expect.body_regex = Some(r),
                Err(err) => {
                    c.error(
                        re,
                        "run.http.expect.body_regex",
                        format!("invalid regex: {}", first_line(&err.to_string())),
                    );
                }
            }
        }
        if let Some(j) = &e.json {
            if !j.value.pointer.value.starts_with('/') {
                let d = c.error(
                    &j.value.pointer,
                    "run.http.expect.json.pointer",
                    format!("`{}` is not a JSON pointer", j.value.pointer.value),
                );
                d.expected = Some("a pointer such as /ready or /models/0/name".into());
            }
            expect.json = Some((j.value.pointer.value.clone(), j.value.equals.value.clone()));
        }
    }
    Some(HttpSpec {
        method,
        url,
        headers,
        bearer_env: h.bearer_env.as_ref().map(|b| b.value.clone()),
        body: h.body.as_ref().map(|b| b.value.clone()),
        timeout,
        expect,
    })
}

pub(super) fn ollama_url(
    c: &mut Checker<'_>,
    url: &Option<S<String>>,
    key: &str,
) -> Option<String> {
    let Some(u) = url else {
        return Some(crate::model::DEFAULT_URL.to_string());
    };
    let v = c.interp(u, key)?;
    if !(v.starts_with("http://") || v.starts_with("https://")) || reqwest::Url::parse(&v).is_err()
    {
        let d = c.error(u, key, format!("`{v}` is not an http:// or https:// URL"));
        d.expected = Some(format!(
            "Ollama's address, e.g. {}",
            crate::model::DEFAULT_URL
        ));
        return None;
    }
    Some(v)
}

pub(super) fn ollama_models(
    c: &mut Checker<'_>,
    o: &S<RawOllamaModels>,
    key: &str,
    preload: bool,
) -> Option<OllamaModels> {
    let v = &o.value;
    let url = ollama_url(c, &v.url, &format!("{key}.url"))?;
    let list = |l: &Option<S<Vec<S<String>>>>| {
        l.as_ref()
            .map(|l| l.value.iter().map(|m| m.value.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let (models, embed_models) = (list(&v.models), list(&v.embed_models));
    if models.is_empty() && embed_models.is_empty() {
        let d = c.error(o, key, "no model given");
        d.expected =
            Some("`models: [llama3.2:3b]` and/or `embed_models: [nomic-embed-text]`".into());
        return None;
    }
    if !preload {
        for (k, val) in [("keep_alive", &v.keep_alive), ("wait", &v.wait)] {
            if let Some(s) = val {
                c.error(
                    s,
                    &format!("{key}.{k}"),
                    format!("`{k}` is for `ollama.preload`"),
                );
            }
        }
    }
    // Ollama reads Go durations ("24h", "90s"), not "3d": send whole seconds. -1 keeps forever.
    let keep_alive = match &v.keep_alive {
        Some(k) if k.value.trim() == "-1" => "-1".to_string(),
        Some(_) => format!(
            "{}s",
            c.duration(&v.keep_alive, &format!("{key}.keep_alive"))?
                .as_secs()
        ),
        None => "86400s".to_string(),
    };
    let wait = c
        .duration(&v.wait, &format!("{key}.wait"))
        .unwrap_or(Duration::from_secs(120));
    Some((url, models, embed_models, keep_alive, wait))
}

pub(super) fn docker_target<T>(
    c: &mut Checker<'_>,
    at: &S<T>,
    container: &Option<S<String>>,
    service: &Option<S<String>>,
    key: &str,
) -> Option<Target> {
    match (container, service) {
        (Some(n), None) => Some(Target::Name(c.interp(n, &format!("{key}.container"))?)),
        (None, Some(s)) => Some(Target::ComposeService(
            c.interp(s, &format!("{key}.service"))?,
        )),
        _ => {
            let d = c.error(
                at,
                key,
                "name the container: `container: NAME` or `service: COMPOSE_SERVICE`, one of them",
            );
            d.expected = Some("e.g. `container: openclaw-gateway`".into());
            None
        }
    }
}

pub(super) fn docker_host(
    c: &mut Checker<'_>,
    host: &Option<S<String>>,
    key: &str,
    global: &Option<String>,
) -> Option<String> {
    match host {
        Some(h) => c.interp(h, key),
        None => global.clone(),
    }
}

/// `run.report`.
fn report_kind(
    c: &mut Checker<'_>,
    rep: &S<RawReport>,
    global_docker_host: &Option<String>,
) -> Option<ActionSpec> {
    if c.run_key != "run" {
        c.error(rep, "run.report", "only a job's own `run` can be a report");
        return None;
    }
    report(c, rep, global_docker_host).map(|r| ActionSpec::Report(Box::new(r)))
}

/// `run.monitor`.
fn monitor(
    c: &mut Checker<'_>,
    m: &S<RawMonitor>,
    global_docker_host: &Option<String>,
) -> Option<ActionSpec> {
    if c.run_key != "run" {
        c.error(
            m,
            "run.monitor",
            "only a job's own `run` can be a monitor, not a probe or a remediation",
        );
        return None;
    }
    if m.value.probes.value.is_empty() {
        let d = c.error(&m.value.probes, "run.monitor.probes", "no probes given");
        d.expected = Some(
            "probes by name, e.g. `probes: { stats: { docker.stats: { container: openclaw-gateway } } }`"
                .into(),
        );
        return None;
    }
    let mut probes = Vec::new();
    let mut ok = true;
    for (name, probe) in &m.value.probes.value {
        if name.is_empty()
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            c.error(
                probe,
                "run.monitor.probes",
                format!("`{name}` is not a probe name (letters, digits, `_` and `-`)"),
            );
            ok = false;
            continue;
        }
        c.run_key = format!("run.monitor.probes.{name}");
        let a = action(c, probe, global_docker_host);
        c.run_key = "run".into();
        match a {
            Some(a) => probes.push(crate::model::Probe {
                name: name.clone(),
                action: a,
            }),
            None => ok = false,
        }
    }
    ok.then_some(ActionSpec::Monitor(crate::model::MonitorSpec { probes }))
}

/// `run.docker.restart`.
fn docker_restart(
    c: &mut Checker<'_>,
    d: &S<RawDockerRestart>,
    global_docker_host: &Option<String>,
) -> Option<ActionSpec> {
    let v = &d.value;
    let target = docker_target(c, d, &v.container, &v.service, "run.docker.restart")?;
    let stop_timeout = c
        .duration(&v.stop_timeout, "run.docker.restart.stop_timeout")
        .unwrap_or(Duration::from_secs(10));
    let wait = c.duration(&v.wait, "run.docker.restart.wait");
    let probe = match &v.probe {
        Some(p) => Some(http(c, p)?),
        None => None,
    };
    if probe.is_some() && wait.is_none() {
        let d = c.error(
            v.probe.as_ref()?,
            "run.docker.restart.probe",
            "a probe needs `wait`, the bound within which it must pass",
        );
        d.expected = Some("e.g. `wait: 60s` beside `probe:`".into());
        return None;
    }
    let host = docker_host(c, &v.host, "run.docker.restart.host", global_docker_host);
    Some(ActionSpec::DockerRestart(RestartSpec {
        host,
        target,
        stop_timeout,
        wait,
        probe,
    }))
}

/// `run.docker.exec`.
fn docker_exec(
    c: &mut Checker<'_>,
    d: &S<RawDockerExec>,
    global_docker_host: &Option<String>,
) -> Option<ActionSpec> {
    let v = &d.value;
    let target = docker_target(c, d, &v.container, &v.service, "run.docker.exec")?;
    if v.command.value.is_empty() {
        c.error(
            &v.command,
            "run.docker.exec.command",
            "the command is empty",
        );
        return None;
    }
    let mut command = Vec::new();
    for a in &v.command.value {
        command.push(c.interp(a, "run.docker.exec.command")?);
    }
    let mut env = Vec::new();
    for (k, val) in v.env.iter().flat_map(|e| e.value.iter()) {
        env.push((
            k.clone(),
            c.interp(val, &format!("run.docker.exec.env.{k}"))?,
        ));
    }
    let host = docker_host(c, &v.host, "run.docker.exec.host", global_docker_host);
    Some(ActionSpec::DockerExec(ExecSpec {
        host,
        target,
        command,
        env,
        user: v.user.as_ref().map(|u| u.value.clone()),
        workdir: v.workdir.as_ref().map(|w| w.value.clone()),
    }))
}

/// `run.docker.stats`.
fn docker_stats(
    c: &mut Checker<'_>,
    d: &S<RawDockerStats>,
    global_docker_host: &Option<String>,
) -> Option<ActionSpec> {
    let v = &d.value;
    let target = docker_target(c, d, &v.container, &v.service, "run.docker.stats")?;
    let host = docker_host(c, &v.host, "run.docker.stats.host", global_docker_host);
    Some(ActionSpec::DockerStats(DockerStatsSpec { host, target }))
}

/// `run.host.stats`.
fn host_stats(c: &mut Checker<'_>, h: &S<RawHostStats>) -> Option<ActionSpec> {
    let key = "run.host.stats.sample";
    let sample = match &h.value.sample {
        None => Duration::from_secs(1),
        Some(s) => {
            let d = c.duration(&h.value.sample, key)?;
            if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&d) {
                let e = c.error(s, key, format!("`{}` is out of range", s.value));
                e.expected = Some("from 100ms to 60s".into());
                return None;
            }
            d
        }
    };
    Some(ActionSpec::HostStats(crate::model::HostStatsSpec {
        sample,
    }))
}

/// `run.external`: the grace after each slot (default 1h, at least 1s).
fn external(c: &mut Checker<'_>, e: &S<RawExternal>) -> Option<ActionSpec> {
    let key = "run.external.grace";
    let grace = match &e.value.grace {
        None => Duration::from_secs(3600),
        Some(s) => {
            let d = c.duration(&e.value.grace, key)?;
            if d < Duration::from_secs(1) {
                let err = c.error(s, key, format!("`{}` is too short", s.value));
                err.expected = Some("at least 1s (e.g. `30m`)".into());
                return None;
            }
            d
        }
    };
    Some(ActionSpec::External(crate::model::ExternalSpec { grace }))
}

/// `run.ollama.preload`.
fn ollama_preload(c: &mut Checker<'_>, o: &S<RawOllamaModels>) -> Option<ActionSpec> {
    ollama_models(c, o, "run.ollama.preload", true).map(
        |(url, models, embed_models, keep_alive, wait)| {
            ActionSpec::OllamaPreload(PreloadSpec {
                url,
                models,
                embed_models,
                keep_alive,
                wait,
            })
        },
    )
}

/// `run.ollama.unload`.
fn ollama_unload(c: &mut Checker<'_>, o: &S<RawOllamaModels>) -> Option<ActionSpec> {
    ollama_models(c, o, "run.ollama.unload", false).map(|(url, models, embed_models, _, _)| {
        ActionSpec::OllamaUnload(UnloadSpec {
            url,
            models,
            embed_models,
        })
    })
}

/// `run.ollama.bench`.
fn ollama_bench(c: &mut Checker<'_>, b: &S<RawOllamaBench>) -> Option<ActionSpec> {
    let b = &b.value;
    let url = ollama_url(c, &b.url, "run.ollama.bench.url")?;
    let rounds = b.rounds.as_ref().map_or(3, |r| r.value);
    if !(1..=20).contains(&rounds) {
        if let Some(r) = &b.rounds {
            let d = c.error(
                r,
                "run.ollama.bench.rounds",
                format!("{rounds} rounds is out of range"),
            );
            d.expected = Some("1 to 20".into());
        }
        return None;
    }
    Some(ActionSpec::OllamaBench(BenchSpec {
        url,
        model: b.model.value.clone(),
        prompt: b.prompt.as_ref().map_or_else(
            || crate::model::DEFAULT_PROMPT.to_string(),
            |p| p.value.clone(),
        ),
        rounds,
        num_predict: b
            .num_predict
            .as_ref()
            .map_or(64, |n| n.value.clamp(1, 4096)),
    }))
}

/// `run.ollama.status`.
fn ollama_status(c: &mut Checker<'_>, st: &S<RawOllamaStatus>) -> Option<ActionSpec> {
    let url = ollama_url(c, &st.value.url, "run.ollama.status.url")?;
    Some(ActionSpec::OllamaStatus(StatusSpec { url }))
}

/// `run.http`.
fn http_kind(c: &mut Checker<'_>, h: &S<RawHttp>) -> Option<ActionSpec> {
    http(c, h).map(ActionSpec::Http)
}

// The raw YAML shape of `run:` and of each job kind, beside their validation.

/// `run:` holds exactly one job kind key, plus the options that kind takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub command: Option<S<Vec<S<String>>>>,
    pub shell: Option<S<String>>,
    pub env: Option<S<BTreeMap<String, S<String>>>>,
    pub workdir: Option<S<String>>,
    /// `stop` (default) or `keep`: what becomes of processes the run leaves behind.
    pub leftovers: Option<S<String>>,
    pub http: Option<S<RawHttp>>,
    #[serde(rename = "docker.restart")]
    pub docker_restart: Option<S<RawDockerRestart>>,
    #[serde(rename = "docker.exec")]
    pub docker_exec: Option<S<RawDockerExec>>,
    #[serde(rename = "docker.stats")]
    pub docker_stats: Option<S<RawDockerStats>>,
    #[serde(rename = "host.stats")]
    pub host_stats: Option<S<RawHostStats>>,
    #[serde(rename = "ollama.preload")]
    pub ollama_preload: Option<S<RawOllamaModels>>,
    #[serde(rename = "ollama.unload")]
    pub ollama_unload: Option<S<RawOllamaModels>>,
    #[serde(rename = "ollama.bench")]
    pub ollama_bench: Option<S<RawOllamaBench>>,
    #[serde(rename = "ollama.status")]
    pub ollama_status: Option<S<RawOllamaStatus>>,
    pub monitor: Option<S<RawMonitor>>,
    pub report: Option<S<RawReport>>,
    /// A job that runs elsewhere and pings clawcron (see `action::external`).
    pub external: Option<S<RawExternal>>,
}

/// `external: { grace: 30m }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternal {
    pub grace: Option<S<String>>,
}

/// `run: { report: {...} }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub title: Option<S<String>>,
    pub template: Option<S<String>>,
    pub lang: Option<S<String>>,
    pub period: Option<S<String>>,
    pub out_dir: Option<S<String>>,
    pub send_to: Option<S<Vec<S<String>>>>,
    pub sources: Option<S<BTreeMap<String, S<String>>>>,
    pub evidence: Option<S<RawEvidence>>,
    pub checks: Option<S<Vec<S<RawCheck>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvidence {
    pub container: Option<S<String>>,
    pub docker_host: Option<S<String>>,
    pub ollama_url: Option<S<String>>,
    pub min_docker_memory_gib: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: S<String>,
    pub run: S<RawRun>,
}

/// `run: { monitor: { probes: { NAME: { <job kind> }, ... } } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMonitor {
    pub probes: S<BTreeMap<String, S<RawRun>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDockerRestart {
    pub container: Option<S<String>>,
    pub service: Option<S<String>>,
    pub host: Option<S<String>>,
    pub stop_timeout: Option<S<String>>,
    pub wait: Option<S<String>>,
    pub probe: Option<S<RawHttp>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDockerExec {
    pub container: Option<S<String>>,
    pub service: Option<S<String>>,
    pub host: Option<S<String>>,
    pub command: S<Vec<S<String>>>,
    pub env: Option<S<BTreeMap<String, S<String>>>>,
    pub user: Option<S<String>>,
    pub workdir: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDockerStats {
    pub container: Option<S<String>>,
    pub service: Option<S<String>>,
    pub host: Option<S<String>>,
}

/// `host.stats: {}` or `host.stats: { sample: 2s }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostStats {
    pub sample: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOllamaModels {
    pub url: Option<S<String>>,
    pub models: Option<S<Vec<S<String>>>>,
    pub embed_models: Option<S<Vec<S<String>>>>,
    /// Preload only.
    pub keep_alive: Option<S<String>>,
    /// Preload only: how long to wait for the server to answer.
    pub wait: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOllamaBench {
    pub url: Option<S<String>>,
    pub model: S<String>,
    pub prompt: Option<S<String>>,
    pub rounds: Option<S<u32>>,
    pub num_predict: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOllamaStatus {
    pub url: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub url: S<String>,
    pub method: Option<S<String>>,
    pub headers: Option<S<BTreeMap<String, S<String>>>>,
    pub bearer_env: Option<S<String>>,
    pub body: Option<S<String>>,
    pub timeout: Option<S<String>>,
    pub expect: Option<S<RawExpect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<S<Vec<S<u16>>>>,
    pub content_type: Option<S<String>>,
    pub body_regex: Option<S<String>>,
    pub json: Option<S<RawJsonExpect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJsonExpect {
    pub pointer: S<String>,
    pub equals: S<serde_json::Value>,
}
