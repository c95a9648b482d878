//! The global file: `clawcron.yaml`.

use super::*;
use crate::config::raw::{RawLedger, RawNode};

/// A checker for `clawcron.yaml` (no job around it).
fn checker<'a>(path: &'a Path, text: &'a str) -> Checker<'a> {
    Checker {
        path,
        text,
        errors: Vec::new(),
        run_key: "run".into(),
        global: None,
        tz: chrono_tz::UTC,
        lang: None,
    }
}

pub fn global(path: &Path, text: &str, raw: RawGlobal) -> Result<GlobalConfig, Vec<Diagnostic>> {
    let mut c = checker(path, text);
    let mut g = GlobalConfig::default();
    if let Some(tz) = c.timezone(&raw.timezone, "timezone") {
        g.timezone = tz;
    }
    (g.state_dir, g.jobs_dir) = places(&mut c, &raw.state_dir, &raw.jobs_dir);
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
    for q in raw.silences.iter().flat_map(|s| s.value.iter()) {
        if let Some(h) = quiet_hours(&mut c, &q.value) {
            g.quiet_hours.push(h);
        }
    }
    notifiers(&mut c, &raw, &mut g);
    if let Some(l) = &raw.ledger {
        g.ledger = ledger(&mut c, l);
    }
    if let Some(n) = &raw.node {
        node(&mut c, &n.value, &mut g.node);
    }
    c.finish(Some(g))
}

/// `state_dir` and `jobs_dir`: `${VAR}` expanded, `~/` made the home folder.
fn places(
    c: &mut Checker<'_>,
    state_dir: &Option<S<String>>,
    jobs_dir: &Option<S<String>>,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut place = |s: &Option<S<String>>, key: &str| {
        s.as_ref()
            .and_then(|s| c.interp(s, key))
            .map(|s| expand_home(&s))
    };
    (place(state_dir, "state_dir"), place(jobs_dir, "jobs_dir"))
}

/// `state_dir`, `jobs_dir` and `ledger` alone (see `RawEssentials`), validated as `global` does.
pub fn essentials(
    path: &Path,
    text: &str,
    raw: crate::config::raw::RawEssentials,
) -> Result<GlobalConfig, Vec<Diagnostic>> {
    let mut c = checker(path, text);
    let mut g = GlobalConfig::default();
    (g.state_dir, g.jobs_dir) = places(&mut c, &raw.state_dir, &raw.jobs_dir);
    if let Some(l) = &raw.ledger {
        g.ledger = ledger(&mut c, l);
    }
    c.finish(Some(g))
}

/// `ledger:`: a PostgreSQL URL without a password, the password from a variable or a file.
fn ledger(c: &mut Checker<'_>, l: &S<RawLedger>) -> Option<crate::model::LedgerSpec> {
    use crate::model::Password;
    let raw = &l.value;
    if let Some(p) = &raw.password {
        let d = c.error(p, "ledger.password", "a password never goes in the YAML");
        d.expected = Some("`password_env: VAR` or `password_file: PATH`".into());
        mask(d, &p.value);
        return None;
    }
    let url = c.interp(&raw.url, "ledger.url")?;
    let parsed = url.parse::<tokio_postgres::Config>();
    let expected = "`postgres://USER@HOST:PORT/DATABASE` (the password from `password_env` or `password_file`)";
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) || parsed.is_err() {
        let d = c.error(
            &raw.url,
            "ledger.url",
            format!("`{url}` is not a PostgreSQL URL"),
        );
        d.expected = Some(expected.into());
        return None;
    }
    if let Some(password) = parsed
        .ok()
        .and_then(|p| p.get_password().map(<[u8]>::to_vec))
    {
        let d = c.error(
            &raw.url,
            "ledger.url",
            "the URL holds a password; a password never goes in the YAML",
        );
        d.expected = Some(expected.into());
        mask(d, &String::from_utf8_lossy(&password));
        return None;
    }
    let password = match (&raw.password_env, &raw.password_file) {
        (Some(v), None) => Some(Password::Env(v.value.clone())),
        (None, Some(f)) => c
            .interp(f, "ledger.password_file")
            .map(|f| Password::File(expand_home(&f))),
        (None, None) => None,
        (Some(v), Some(_)) => {
            c.error(
                v,
                "ledger.password_env",
                "give `password_env` or `password_file`, not both",
            );
            return None;
        }
    };
    let pool = match &raw.pool {
        Some(p) if p.value == 0 || p.value > 64 => {
            c.error(p, "ledger.pool", "must be from 1 to 64 connections");
            return None;
        }
        Some(p) => p.value as usize,
        None => 8,
    };
    Some(crate::model::LedgerSpec {
        url,
        password,
        pool,
    })
}

/// `node:`: this machine's name, tags, heartbeat and run lease in a cluster.
fn node(c: &mut Checker<'_>, n: &RawNode, out: &mut crate::model::NodeSpec) {
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    };
    if let Some(name) = &n.name {
        match c.interp(name, "node.name") {
            Some(v) if word(&v) => out.name = v,
            Some(v) => {
                let d = c.error(name, "node.name", format!("`{v}` is not a node name"));
                d.expected = Some("letters, digits, `-`, `_` and `.`".into());
            }
            None => {}
        }
    }
    for t in n.tags.iter().flat_map(|t| t.value.iter()) {
        if word(&t.value) {
            out.tags.push(t.value.clone());
        } else {
            let d = c.error(t, "node.tags", format!("`{}` is not a tag", t.value));
            d.expected = Some("letters, digits, `-`, `_` and `.`".into());
        }
    }
    out.tags.sort();
    out.tags.dedup();
    if let Some(d) = c.duration(&n.heartbeat, "node.heartbeat") {
        out.heartbeat = d.max(Duration::from_millis(500));
    }
    if let Some(d) = c.duration(&n.lease, "node.lease") {
        out.lease = d;
    }
    if out.lease < out.heartbeat * 3 {
        let at = n.lease.as_ref().or(n.heartbeat.as_ref());
        if let Some(at) = at {
            let d = c.error(
                at,
                "node.lease",
                format!(
                    "the lease ({}) must last at least three heartbeats ({} each), so that one late beat does not lose a run",
                    duration::format(out.lease),
                    duration::format(out.heartbeat)
                ),
            );
            d.expected = Some("e.g. `heartbeat: 5s` and `lease: 30s`".into());
        }
    }
}

/// One `silences:` entry: recurring quiet hours.
fn quiet_hours(
    c: &mut Checker<'_>,
    q: &crate::config::raw::RawQuietHours,
) -> Option<crate::model::QuietHours> {
    const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let names = |v: &Option<S<Vec<S<String>>>>| -> Vec<String> {
        v.iter()
            .flat_map(|l| l.value.iter())
            .map(|s| s.value.clone())
            .collect()
    };
    let mut days = Vec::new();
    for d in q.when.value.days.iter().flat_map(|l| l.value.iter()) {
        let i = c.choice(
            &Some(S {
                value: d.value.clone(),
                referenced: d.referenced,
                defined: d.defined,
            }),
            "silences.when.days",
            DAYS,
        )?;
        days.push(chrono::Weekday::try_from(i as u8).unwrap_or(chrono::Weekday::Mon));
    }
    let mut times = Vec::new();
    for t in q.when.value.times.iter().flat_map(|l| l.value.iter()) {
        let parse = |hm: &str| -> Option<u32> {
            let (h, m) = hm.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
        };
        match t
            .value
            .split_once('-')
            .and_then(|(a, b)| Some((parse(a)?, parse(b)?)))
        {
            Some(r) => times.push(r),
            None => {
                let d = c.error(
                    t,
                    "silences.when.times",
                    format!("`{}` is not a time range", t.value),
                );
                d.expected = Some("a range of local times such as \"22:00-07:00\"".into());
            }
        }
    }
    Some(crate::model::QuietHours {
        jobs: names(&q.jobs),
        rules: names(&q.rules),
        days,
        times,
        reason: q
            .reason
            .as_ref()
            .map_or_else(|| "quiet hours".to_string(), |r| r.value.clone()),
    })
}

/// The excerpt under an error shows its line: with `secret` in it starred out (as many stars
/// as characters, so the caret still points right), and `secret` registered for redaction.
fn mask(d: &mut crate::config::diag::Diagnostic, secret: &str) {
    if secret.is_empty() {
        return;
    }
    if let Some(line) = d.source_line.as_mut() {
        *line = line.replace(secret, &"*".repeat(secret.chars().count()));
    }
    crate::redact::register(secret);
}
