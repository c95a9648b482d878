//! The global file: `clawcron.yaml`.

use super::*;

pub fn global(path: &Path, text: &str, raw: RawGlobal) -> Result<GlobalConfig, Vec<Diagnostic>> {
    let mut c = Checker {
        path,
        text,
        errors: Vec::new(),
        run_key: "run".into(),
        global: None,
        tz: chrono_tz::UTC,
        lang: None,
    };
    let mut g = GlobalConfig::default();
    if let Some(tz) = c.timezone(&raw.timezone, "timezone") {
        g.timezone = tz;
    }
    g.state_dir = raw
        .state_dir
        .as_ref()
        .and_then(|s| c.interp(s, "state_dir"))
        .map(|s| expand_home(&s));
    g.jobs_dir = raw
        .jobs_dir
        .as_ref()
        .and_then(|s| c.interp(s, "jobs_dir"))
        .map(|s| expand_home(&s));
    g.templates_dir = raw
        .templates_dir
        .as_ref()
        .and_then(|s| c.interp(s, "templates_dir"))
        .map(|s| expand_home(&s));
    if let Some(n) = &raw.max_concurrent_runs {
        if n.value == 0 {
            c.error(n, "max_concurrent_runs", "must be at least 1");
        } else {
            g.max_concurrent_runs = n.value as usize;
        }
    }
    if let Some(d) = c.duration(&raw.shutdown_grace, "shutdown_grace") {
        g.shutdown_grace = d;
    }
    if let Some(d) = c.duration(&raw.kill_grace, "kill_grace") {
        g.kill_grace = d;
    }
    if let Some(r) = &raw.retention {
        if let Some(n) = &r.max_runs_per_job {
            if n.value == 0 {
                c.error(n, "retention.max_runs_per_job", "must be at least 1");
            } else {
                g.retention.max_runs_per_job = n.value;
            }
        }
        if let Some(d) = c.duration(&r.max_age, "retention.max_age") {
            g.retention.max_age = d;
        }
    }
    if let Some(l) = &raw.log {
        match c.choice(&l.format, "log.format", &["human", "json"]) {
            Some(0) => g.log.format = LogFormat::Human,
            Some(_) => g.log.format = LogFormat::Json,
            None => {}
        }
        if let Some(i) = c.choice(&l.rotation, "log.rotation", &["daily", "hourly", "never"]) {
            g.log.rotation = [Rotation::Daily, Rotation::Hourly, Rotation::Never][i];
        }
        if let Some(i) = c.choice(
            &l.level,
            "log.level",
            &["error", "warn", "info", "debug", "trace"],
        ) {
            g.log.level = ["error", "warn", "info", "debug", "trace"][i].into();
        }
        if let Some(s) = &l.output_per_run {
            match crate::util::size::parse(&s.value) {
                Ok(n) => g.log.output_per_run = n,
                Err(msg) => {
                    let d = c.error(s, "log.output_per_run", msg);
                    d.expected = Some(crate::util::size::EXPECTED.into());
                }
            }
        }
        g.log.file = l
            .file
            .as_ref()
            .and_then(|s| c.interp(s, "log.file"))
            .map(|s| expand_home(&s));
    }
    if let Some(d) = &raw.docker {
        g.docker_host = d.host.as_ref().and_then(|h| c.interp(h, "docker.host"));
    }
    if let Some(d) = c.duration(&raw.notify_retry, "notify_retry") {
        g.notify_retry = d;
    }
    if let Some(d) = c.duration(&raw.notify_timeout, "notify_timeout") {
        g.notify_timeout = d;
    }
    if let Some(api) = &raw.api {
        g.api_public_reads = api.value.public_reads.as_ref().is_some_and(|p| p.value);
        if api.value.enabled.as_ref().is_some_and(|e| !e.value) {
            g.api_listen = None;
        } else if let Some(l) = &api.value.listen {
            match l.value.parse::<std::net::SocketAddr>() {
                Ok(a) => g.api_listen = Some(a),
                Err(_) => {
                    let d = c.error(
                        l,
                        "api.listen",
                        format!("`{}` is not an address and port", l.value),
                    );
                    d.expected = Some(
                        "e.g. `127.0.0.1:8787` (`0.0.0.0:8787` needs the token for every request)"
                            .into(),
                    );
                }
            }
        }
    }
    if let Some(l) = &raw.ping_listen {
        match l.value.parse::<std::net::SocketAddr>() {
            Ok(a) => g.ping_listen = Some(a),
            Err(_) => {
                let d = c.error(
                    l,
                    "ping_listen",
                    format!("`{}` is not an address and port", l.value),
                );
                d.expected =
                    Some("e.g. `0.0.0.0:8788` (it serves `external` jobs' pings only)".into());
            }
        }
    }
    if let Some(h) = &raw.heartbeat {
        let every = c
            .duration(&h.value.every, "heartbeat.every")
            .unwrap_or(Duration::from_secs(300));
        if let Some(url) = c.interp(&h.value.url, "heartbeat.url") {
            if url.starts_with("http://") || url.starts_with("https://") {
                g.heartbeat = Some((url, every.max(Duration::from_secs(10))));
            } else {
                c.error(
                    &h.value.url,
                    "heartbeat.url",
                    format!("`{url}` is not an http:// or https:// URL"),
                );
            }
        }
    }
    if let Some(l) = language(&mut c, &raw.language, "language") {
        g.lang = l;
    }
    for (name, n) in raw.notifiers.iter().flat_map(|m| m.value.iter()) {
        if let Some(l) = language(
            &mut c,
            &n.value.language,
            &format!("notifiers.{name}.language"),
        ) {
            g.channel_langs.insert(name.clone(), l);
        }
    }
    notifiers(&mut c, &raw, &mut g);
    c.finish(Some(g))
}
