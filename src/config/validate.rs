//! Raw config -> typed specs. Each check reports where the value is, what it is, and what was
//! expected; all problems of a file are collected, not just the first.

use super::diag::{Diagnostic, Pos, did_you_mean};
use super::raw::{RawExtract, RawGlobal, RawHttp, RawJob, RawOllamaModels, RawRun, S};
use super::{interp, parse_timezone};
use crate::model::ActionSpec;
use crate::model::BenchSpec;
use crate::model::ExecSpec;
use crate::model::Extract;
use crate::model::PreloadSpec;
use crate::model::RestartSpec;
use crate::model::StatsSpec as DockerStatsSpec;
use crate::model::StatusSpec;
use crate::model::Target;
use crate::model::UnloadSpec;
use crate::model::*;
use crate::model::{CommandSpec, Program};
use crate::model::{CronSchedule, Trigger};
use crate::model::{Expect, HttpSpec};
use crate::util::duration;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Collects diagnostics for one file.
pub(super) struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    errors: Vec<Diagnostic>,
    /// What `run` stands for in keys: `run`, or `run.monitor.probes.NAME` inside a monitor.
    run_key: String,
    /// For job files: the global config and the job's time zone.
    global: Option<&'a GlobalConfig>,
    tz: chrono_tz::Tz,
}

impl<'a> Checker<'a> {
    fn pos<T>(s: &S<T>) -> Pos {
        let l = s.referenced;
        Pos {
            line: l.line().max(1),
            col: l.column().max(1),
            len: l.span().len().max(1),
        }
    }

    fn error<T>(&mut self, s: &S<T>, key: &str, message: impl Into<String>) -> &mut Diagnostic {
        let key = match key.strip_prefix("run") {
            Some(rest) if self.run_key != "run" && (rest.is_empty() || rest.starts_with('.')) => {
                format!("{}{rest}", self.run_key)
            }
            _ => key.to_string(),
        };
        let d = Diagnostic::new(self.path, message)
            .at(self.text, Self::pos(s))
            .key(&key);
        self.errors.push(d);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn error_top(&mut self, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::new(self.path, message).at(self.text, Pos::START);
        self.errors.push(d);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn duration(&mut self, s: &Option<S<String>>, key: &str) -> Option<Duration> {
        let s = s.as_ref()?;
        match duration::parse(&s.value) {
            Ok(d) => Some(d),
            Err(msg) => {
                let d = self.error(s, key, msg);
                d.expected = Some(duration::EXPECTED.into());
                None
            }
        }
    }

    fn choice(&mut self, s: &Option<S<String>>, key: &str, names: &[&str]) -> Option<usize> {
        let s = s.as_ref()?;
        match names.iter().position(|n| *n == s.value) {
            Some(i) => Some(i),
            None => {
                let help = did_you_mean(&s.value, names.iter().copied());
                let d = self.error(s, key, format!("`{}` is not a valid value", s.value));
                d.expected = Some(format!("one of: {}", names.join(", ")));
                d.help = help;
                None
            }
        }
    }

    fn timezone(&mut self, s: &Option<S<String>>, key: &str) -> Option<chrono_tz::Tz> {
        let s = s.as_ref()?;
        match parse_timezone(&s.value) {
            Ok(tz) => Some(tz),
            Err((msg, help)) => {
                let d = self.error(s, key, msg);
                d.expected =
                    Some("an IANA time zone name such as Europe/Paris or America/New_York".into());
                d.help = help;
                None
            }
        }
    }

    fn interp(&mut self, s: &S<String>, key: &str) -> Option<String> {
        match interp::expand(&s.value, |name| std::env::var(name).ok()) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.error(s, key, msg);
                None
            }
        }
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, Vec<Diagnostic>> {
        match value {
            Some(v) if self.errors.is_empty() => Ok(v),
            _ => Err(self.errors),
        }
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

pub fn global(path: &Path, text: &str, raw: RawGlobal) -> Result<GlobalConfig, Vec<Diagnostic>> {
    let mut c = Checker {
        path,
        text,
        errors: Vec::new(),
        run_key: "run".into(),
        global: None,
        tz: chrono_tz::UTC,
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
    for (name, n) in raw.notifiers.iter().flat_map(|m| m.value.iter()) {
        let key = format!("notifiers.{name}");
        match (&n.value.webhook, &n.value.email) {
            (Some(w), None) => {
                let w = &w.value;
                let Some(url) = c.interp(&w.url, &format!("{key}.webhook.url")) else {
                    continue;
                };
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    c.error(
                        &w.url,
                        &format!("{key}.webhook.url"),
                        format!("`{url}` is not an http:// or https:// URL"),
                    );
                    continue;
                }
                let format = match c.choice(
                    &w.format,
                    &format!("{key}.webhook.format"),
                    crate::model::Format::NAMES,
                ) {
                    Some(1) => crate::model::Format::Slack,
                    Some(2) => crate::model::Format::Discord,
                    Some(3) => crate::model::Format::Ntfy,
                    _ => crate::model::Format::Generic,
                };
                let mut headers = Vec::new();
                for (k, v) in w.headers.iter().flat_map(|h| h.value.iter()) {
                    if let Some(v) = c.interp(v, &format!("{key}.webhook.headers.{k}")) {
                        headers.push((k.clone(), v));
                    }
                }
                let secret_env = w.secret_env.as_ref().map(|s| s.value.clone());
                g.notifiers.insert(
                    name.clone(),
                    crate::model::Channel::Webhook(crate::model::WebhookSpec {
                        url,
                        format,
                        headers,
                        secret_env,
                    }),
                );
            }
            (None, Some(e)) => {
                if let Some(spec) = email_channel(&mut c, &key, &e.value) {
                    g.notifiers
                        .insert(name.clone(), crate::model::Channel::Email(spec));
                }
            }
            _ => {
                let d = c.error(n, &key, "a notifier is exactly one of `webhook` or `email`");
                d.expected = Some(
                    "`webhook: { url: ..., format: generic|slack|discord|ntfy }` or `email: { smtp: {...}, from: ..., to: [...] }`".into(),
                );
            }
        }
    }
    for to in raw.daemon_notify.iter().flat_map(|d| d.value.iter()) {
        if g.notifiers.contains_key(&to.value) {
            g.daemon_notify.push(to.value.clone());
        } else {
            c.error(
                to,
                "daemon_notify",
                format!("no notifier `{}` declared under `notifiers:`", to.value),
            );
        }
    }
    c.finish(Some(g))
}

fn email_channel(
    c: &mut Checker<'_>,
    key: &str,
    e: &crate::config::raw::RawEmail,
) -> Option<crate::model::EmailSpec> {
    use crate::model::{EmailSpec, Password, Tls};
    use crate::util::host::is_loopback;
    let smtp = &e.smtp.value;
    let k = format!("{key}.email.smtp");
    let host = c.interp(&smtp.host, &format!("{k}.host"))?;
    if let Some(p) = &smtp.password {
        let d = c.error(
            p,
            &format!("{k}.password"),
            "a password never goes in the YAML",
        );
        d.expected = Some("`password_env: VAR` or `password_file: PATH`".into());
        return None;
    }
    let tls = match c.choice(&smtp.tls, &format!("{k}.tls"), Tls::NAMES) {
        Some(0) => Tls::None,
        Some(1) => Tls::StartTls,
        Some(_) => Tls::Implicit,
        None if smtp.port.as_ref().is_some_and(|p| p.value == 465) => Tls::Implicit,
        None if is_loopback(&host) => Tls::None,
        None => Tls::StartTls,
    };
    if tls == Tls::None && !is_loopback(&host) {
        let s = smtp.tls.as_ref().unwrap_or(&smtp.host);
        let d = c.error(
            s,
            &format!("{k}.tls"),
            format!("`tls: none` sends mail (and any password) in clear; it is allowed only for a server on this machine, not `{host}`"),
        );
        d.expected = Some("`tls: starttls` (port 587) or `tls: implicit` (port 465)".into());
        return None;
    }
    let port = smtp.port.as_ref().map_or(
        match tls {
            Tls::None => 25,
            Tls::StartTls => 587,
            Tls::Implicit => 465,
        },
        |p| p.value,
    );
    let username = smtp
        .username
        .as_ref()
        .and_then(|u| c.interp(u, &format!("{k}.username")));
    let password = match (&smtp.password_env, &smtp.password_file) {
        (Some(v), None) => Some(Password::Env(v.value.clone())),
        (None, Some(f)) => c
            .interp(f, &format!("{k}.password_file"))
            .map(|f| Password::File(expand_home(&f))),
        (None, None) => None,
        (Some(v), Some(_)) => {
            c.error(
                v,
                &format!("{k}.password_env"),
                "give `password_env` or `password_file`, not both",
            );
            return None;
        }
    };
    if password.is_some() && username.is_none() {
        c.error(
            &e.smtp,
            &format!("{k}.username"),
            "a password is given but no `username`",
        );
        return None;
    }
    let ca_file = smtp
        .ca_file
        .as_ref()
        .and_then(|f| c.interp(f, &format!("{k}.ca_file")))
        .map(|f| expand_home(&f));
    let mut address = |s: &S<String>, what: &str| -> Option<String> {
        let v = c.interp(s, what)?;
        if v.parse::<lettre::message::Mailbox>().is_err() {
            let d = c.error(s, what, format!("`{v}` is not an email address"));
            d.expected = Some("`name@example.org` or `Name <name@example.org>`".into());
            return None;
        }
        Some(v)
    };
    let from = address(&e.from, &format!("{key}.email.from"))?;
    let to: Vec<String> =
        e.to.value
            .iter()
            .filter_map(|t| address(t, &format!("{key}.email.to")))
            .collect();
    let cc: Vec<String> =
        e.cc.iter()
            .flat_map(|v| v.value.iter())
            .filter_map(|t| address(t, &format!("{key}.email.cc")))
            .collect();
    if to.is_empty() {
        c.error(
            &e.to,
            &format!("{key}.email.to"),
            "needs at least one address",
        );
        return None;
    }
    let templates = e
        .templates
        .as_ref()
        .map_or_else(|| "email".to_string(), |t| t.value.clone());
    Some(EmailSpec {
        host,
        port,
        tls,
        username,
        password,
        ca_file,
        from,
        to,
        cc,
        templates,
    })
}

pub fn job(
    path: &Path,
    text: &str,
    id: &str,
    raw: RawJob,
    global: &GlobalConfig,
) -> Result<JobSpec, Vec<Diagnostic>> {
    let mut c = Checker {
        path,
        text,
        errors: Vec::new(),
        run_key: "run".into(),
        global: Some(global),
        tz: global.timezone,
    };
    if id.is_empty()
        || !id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        c.error_top(format!(
            "`{id}` is not a valid job id (the file name): use letters, digits, `-`, `_` and `.`"
        ));
    }
    let tz = c
        .timezone(&raw.timezone, "timezone")
        .unwrap_or(global.timezone);
    c.tz = tz;
    let trigger = trigger(&mut c, &raw, tz);

    let mut missed = MissedPolicy::default();
    if let Some(m) = &raw.missed {
        if let Some(i) = c.choice(&m.value.policy, "missed.policy", Missed::NAMES) {
            missed.policy = [Missed::Skip, Missed::Latest, Missed::All][i];
        }
        if let Some(d) = c.duration(&m.value.max_lateness, "missed.max_lateness") {
            missed.max_lateness = d;
        }
    }
    let overlap = c
        .choice(&raw.overlap, "overlap", Overlap::NAMES)
        .map(|i| [Overlap::Skip, Overlap::Queue, Overlap::Allow][i])
        .unwrap_or(Overlap::Skip);
    let timeout = c.duration(&raw.timeout, "timeout");
    if let (Some(t), Some(s)) = (timeout, &raw.timeout)
        && t.is_zero()
    {
        c.error(s, "timeout", "must be longer than 0s");
    }
    let mut retry = RetryPolicy::default();
    if let Some(r) = &raw.retry {
        if let Some(a) = &r.value.attempts {
            if a.value == 0 || a.value > 100 {
                let d = c.error(
                    a,
                    "retry.attempts",
                    format!("{} attempts is out of range", a.value),
                );
                d.expected = Some("a number from 1 (no retry) to 100".into());
            } else {
                retry.attempts = a.value;
            }
        }
        if let Some(d) = c.duration(&r.value.backoff, "retry.backoff") {
            retry.backoff = d;
        }
        if let Some(d) = c.duration(&r.value.max_backoff, "retry.max_backoff") {
            retry.max_backoff = d;
        }
        if let Some(j) = &r.value.jitter {
            retry.jitter = j.value;
        }
        if retry.max_backoff < retry.backoff
            && let Some(s) = &r.value.max_backoff
        {
            c.error(s, "retry.max_backoff", "is shorter than `retry.backoff`");
        }
    }
    let action = match &raw.run {
        Some(run) => action(&mut c, run, &global.docker_host),
        None => {
            let d = c.error_top("missing key `run`");
            d.expected = Some(
                "a `run:` mapping with one job kind, e.g. `run: { command: [echo, hello] }`".into(),
            );
            None
        }
    };
    let extract = raw
        .metrics
        .as_ref()
        .map(|m| extracts(&mut c, m))
        .unwrap_or_default();
    let mut locks: Vec<String> = Vec::new();
    for l in raw.locks.iter().flat_map(|l| l.value.iter()) {
        if l.value.is_empty()
            || !l
                .value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            c.error(
                l,
                "locks",
                format!(
                    "`{}` is not a lock name (letters, digits, `-`, `_`, `.`)",
                    l.value
                ),
            );
        } else {
            locks.push(l.value.clone());
        }
    }
    locks.sort();
    locks.dedup();
    let mut notify = crate::model::NotifyPolicy::default();
    if let Some(n) = &raw.notify {
        let n = &n.value;
        notify.on = match &n.on {
            None => vec![
                crate::model::Event::Failure,
                crate::model::Event::Recovery,
                crate::model::Event::Alert,
                crate::model::Event::Regression,
            ],
            Some(list) => list
                .value
                .iter()
                .filter_map(|e| {
                    c.choice(
                        &Some(S {
                            value: e.value.clone(),
                            referenced: e.referenced,
                            defined: e.defined,
                        }),
                        "notify.on",
                        crate::model::Event::NAMES,
                    )
                })
                .map(|i| crate::model::Event::ALL[i])
                .collect(),
        };
        for to in &n.to.value {
            if global.notifiers.contains_key(&to.value) {
                notify.to.push(to.value.clone());
            } else {
                let names: Vec<&str> = global.notifiers.keys().map(String::as_str).collect();
                let help = did_you_mean(&to.value, names.iter().copied());
                let d = c.error(
                    to,
                    "notify.to",
                    format!("no notifier `{}` in clawcron.yaml", to.value),
                );
                d.expected = Some(if names.is_empty() {
                    "a channel declared under `notifiers:` in clawcron.yaml".to_string()
                } else {
                    format!("one of: {}", names.join(", "))
                });
                d.help = help;
            }
        }
    }
    let mut alerts = Vec::new();
    // Where each rule's `when` is, to say so if it names a figure the job never records.
    let mut whens = Vec::new();
    for a in raw.alerts.iter().flat_map(|a| a.value.iter()) {
        let a = &a.value;
        let repeat = c
            .duration(&a.repeat, "alerts.repeat")
            .unwrap_or(std::time::Duration::from_secs(4 * 3600));
        let remediate = match &a.remediate {
            None => None,
            Some(r) => {
                c.run_key = "alerts.remediate.run".into();
                let fix = self::action(&mut c, &r.value.run, &global.docker_host);
                c.run_key = "run".into();
                let per = c
                    .duration(&r.value.per, "alerts.remediate.per")
                    .unwrap_or(Duration::from_secs(3600));
                let timeout = c
                    .duration(&r.value.timeout, "alerts.remediate.timeout")
                    .unwrap_or(Duration::from_secs(300));
                let max = r.value.max.as_ref().map_or(2, |m| m.value);
                if let Some(m) = r.value.max.as_ref().filter(|m| m.value == 0) {
                    c.error(m, "alerts.remediate.max", "must be at least 1");
                }
                fix.map(|action| {
                    Box::new(crate::model::Remediation {
                        action,
                        max,
                        per,
                        timeout,
                    })
                })
            }
        };
        match crate::model::Rule::parse(
            a.name.as_ref().map(|n| n.value.as_str()),
            &a.when.value,
            a.window.as_ref().map(|w| w.value.as_str()),
            repeat,
        ) {
            Ok(r) if alerts.iter().any(|x: &crate::model::Rule| x.name == r.name) => {
                c.error(
                    &a.when,
                    "alerts",
                    format!("two alerts are named `{}`; give one a `name:`", r.name),
                );
            }
            Ok(mut r) => {
                r.remediate = remediate;
                whens.push((r.metric.clone(), &a.when));
                alerts.push(r)
            }
            Err(msg) => {
                let (at, key) = match (&a.window, msg.contains(" of ")) {
                    (Some(w), true) => (w, "alerts.for"),
                    _ => (&a.when, "alerts.when"),
                };
                let d = c.error(at, key, msg);
                d.expected = Some(
                    "`when: \"metric > number\"` (>, >=, <, <=) and optionally `for: \"3 of 5\"`"
                        .into(),
                );
            }
        }
    }
    let regression = raw.regression.as_ref().and_then(|r| {
        use crate::model::{Against, Better, RegressionSpec};
        let r = &r.value;
        let mut metrics = Vec::new();
        for (name, way) in &r.metrics.value {
            match c.choice(
                &Some(S {
                    value: way.value.clone(),
                    referenced: way.referenced,
                    defined: way.defined,
                }),
                &format!("regression.metrics.{name}"),
                &["higher", "lower"],
            ) {
                Some(0) => metrics.push((name.clone(), Better::Higher)),
                Some(_) => metrics.push((name.clone(), Better::Lower)),
                None => {}
            }
        }
        let threshold = match &r.threshold {
            None => 0.8,
            Some(t) => match t
                .value
                .trim()
                .strip_suffix('%')
                .map(str::trim)
                .unwrap_or(t.value.trim())
                .parse::<f64>()
            {
                Ok(v) if t.value.contains('%') && v > 0.0 && v < 100.0 => v / 100.0,
                Ok(v) if !t.value.contains('%') && v > 0.0 && v < 1.0 => v,
                _ => {
                    let d = c.error(
                        t,
                        "regression.threshold",
                        format!("`{}` is not a share below 100 %", t.value),
                    );
                    d.expected = Some("e.g. `80%` or `0.8`".into());
                    return None;
                }
            },
        };
        let against = match c.choice(&r.against, "regression.against", &["recent", "pinned"]) {
            Some(1) => Against::Pinned,
            _ => Against::Recent,
        };
        let runs = r.runs.as_ref().map_or(7, |n| n.value.max(1) as usize);
        Some(RegressionSpec {
            metrics,
            runs,
            threshold,
            against,
        })
    });
    if let Some(mut figures) = action.as_ref().and_then(ActionSpec::figures) {
        figures.extend(extract.iter().flat_map(Extract::names));
        for (metric, when) in &whens {
            if names_a_figure(&figures, metric) {
                continue;
            }
            let shown: Vec<&str> = figures.iter().map(String::as_str).collect();
            // "did you mean" among the figures in full and by their own names.
            let short: Vec<&str> = shown
                .iter()
                .map(|f| f.rsplit_once('.').map_or(*f, |(_, s)| s))
                .chain(shown.iter().copied())
                .collect();
            let help = did_you_mean(metric, short.iter().copied());
            let d = c.error(
                *when,
                "alerts.when",
                format!(
                    "`{metric}` is not a figure this job records, so the rule could never fire"
                ),
            );
            d.expected = Some(if shown.is_empty() {
                "a figure from the job's `metrics:` (this kind records none of its own)".into()
            } else {
                format!("one of: {}", shown.join(", "))
            });
            d.help = help;
        }
    }
    let spec = match (trigger, action) {
        (Some(trigger), Some(action)) => Some(JobSpec {
            id: Arc::from(id),
            path: path.to_path_buf(),
            description: raw.description.map(|d| d.value).unwrap_or_default(),
            enabled: raw.enabled.is_none_or(|e| e.value),
            trigger,
            missed,
            overlap,
            timeout,
            retry,
            action,
            extract,
            locks,
            alerts,
            notify,
            regression,
        }),
        _ => None,
    };
    c.finish(spec)
}

fn trigger(c: &mut Checker<'_>, raw: &RawJob, tz: chrono_tz::Tz) -> Option<Trigger> {
    let at_start = raw.at_start.as_ref().filter(|a| a.value);
    let given = usize::from(raw.schedule.is_some())
        + usize::from(raw.every.is_some())
        + usize::from(at_start.is_some());
    if given == 0 {
        let d = c.error_top("the job has no schedule");
        d.expected =
            Some("one of `schedule: \"0 3 * * *\"`, `every: 5m` or `at_start: true`".into());
        return None;
    }
    if given > 1 {
        let second = [
            raw.every.as_ref().map(|s| (s.referenced, "every")),
            at_start.map(|s| (s.referenced, "at_start")),
        ]
        .into_iter()
        .flatten()
        .last();
        let msg = "a job has one of `schedule`, `every` and `at_start`, not several";
        match second {
            Some((loc, key)) => {
                let pos = Pos {
                    line: loc.line(),
                    col: loc.column(),
                    len: loc.span().len().max(1),
                };
                c.errors
                    .push(Diagnostic::new(c.path, msg).at(c.text, pos).key(key));
            }
            None => {
                c.error_top(msg);
            }
        }
        return None;
    }
    if let Some(s) = &raw.schedule {
        return match CronSchedule::parse(&s.value, tz) {
            Ok(cron) => Some(Trigger::Cron(cron)),
            Err(msg) => {
                let d = c.error(s, "schedule", msg);
                d.expected = Some(
                    "5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly".into(),
                );
                None
            }
        };
    }
    if let Some(s) = &raw.every {
        let d = c.duration(&raw.every, "every")?;
        if d < Duration::from_secs(1) || d.subsec_millis() != 0 {
            let e = c.error(
                s,
                "every",
                format!(
                    "`{}` is not a whole number of seconds of at least 1s",
                    s.value
                ),
            );
            e.expected = Some("an interval such as 30s, 5m or 1h".into());
            return None;
        }
        return Some(Trigger::Every(d.as_secs()));
    }
    Some(Trigger::AtStart)
}

const KINDS: &[&str] = &[
    "command",
    "shell",
    "http",
    "docker.restart",
    "docker.exec",
    "docker.stats",
    "ollama.preload",
    "ollama.unload",
    "ollama.bench",
    "ollama.status",
    "monitor",
    "report",
];

fn action(
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
        r.ollama_preload.is_some(),
        r.ollama_unload.is_some(),
        r.ollama_bench.is_some(),
        r.ollama_status.is_some(),
        r.monitor.is_some(),
        r.report.is_some(),
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
        || r.ollama_preload.is_some()
        || r.ollama_unload.is_some()
        || r.ollama_bench.is_some()
        || r.ollama_status.is_some()
        || r.monitor.is_some()
        || r.report.is_some();
    if native && (r.env.is_some() || r.workdir.is_some()) {
        c.error(
            run,
            "run",
            "`env` and `workdir` belong to `command` and `shell` jobs",
        );
        return None;
    }
    if let Some(rep) = &r.report {
        if c.run_key != "run" {
            c.error(rep, "run.report", "only a job's own `run` can be a report");
            return None;
        }
        return report(c, rep, global_docker_host).map(|r| ActionSpec::Report(Box::new(r)));
    }
    if let Some(m) = &r.monitor {
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
        return ok.then_some(ActionSpec::Monitor(crate::model::MonitorSpec { probes }));
    }
    if let Some(d) = &r.docker_restart {
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
        return Some(ActionSpec::DockerRestart(RestartSpec {
            host,
            target,
            stop_timeout,
            wait,
            probe,
        }));
    }
    if let Some(d) = &r.docker_exec {
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
        return Some(ActionSpec::DockerExec(ExecSpec {
            host,
            target,
            command,
            env,
            user: v.user.as_ref().map(|u| u.value.clone()),
            workdir: v.workdir.as_ref().map(|w| w.value.clone()),
        }));
    }
    if let Some(d) = &r.docker_stats {
        let v = &d.value;
        let target = docker_target(c, d, &v.container, &v.service, "run.docker.stats")?;
        let host = docker_host(c, &v.host, "run.docker.stats.host", global_docker_host);
        return Some(ActionSpec::DockerStats(DockerStatsSpec { host, target }));
    }
    if let Some(o) = &r.ollama_preload {
        return ollama_models(c, o, "run.ollama.preload", true).map(
            |(url, models, embed_models, keep_alive, wait)| {
                ActionSpec::OllamaPreload(PreloadSpec {
                    url,
                    models,
                    embed_models,
                    keep_alive,
                    wait,
                })
            },
        );
    }
    if let Some(o) = &r.ollama_unload {
        return ollama_models(c, o, "run.ollama.unload", false).map(
            |(url, models, embed_models, _, _)| {
                ActionSpec::OllamaUnload(UnloadSpec {
                    url,
                    models,
                    embed_models,
                })
            },
        );
    }
    if let Some(b) = &r.ollama_bench {
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
        return Some(ActionSpec::OllamaBench(BenchSpec {
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
        }));
    }
    if let Some(st) = &r.ollama_status {
        let url = ollama_url(c, &st.value.url, "run.ollama.status.url")?;
        return Some(ActionSpec::OllamaStatus(StatusSpec { url }));
    }
    if let Some(h) = &r.http {
        if r.env.is_some() || r.workdir.is_some() {
            c.error(
                run,
                "run",
                "`env` and `workdir` belong to `command` and `shell` jobs, not `http`",
            );
            return None;
        }
        return http(c, h).map(ActionSpec::Http);
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
    Some(ActionSpec::Command(CommandSpec {
        program,
        env,
        workdir,
    }))
}

fn report(
    c: &mut Checker<'_>,
    rep: &S<crate::config::raw::RawReport>,
    global_docker_host: &Option<String>,
) -> Option<crate::model::ReportSpec> {
    use crate::model::{Check, Evidence, Lang, PeriodSpec, ReportSpec, Sources};
    let r = &rep.value;
    let default_global = GlobalConfig::default();
    let global = c.global.unwrap_or(&default_global);
    let lang = match c.choice(&r.lang, "run.report.lang", Lang::NAMES) {
        Some(1) => Lang::Fr,
        _ => Lang::En,
    };
    let period = match &r.period {
        None => PeriodSpec::LastWeek,
        Some(p) => match PeriodSpec::parse(&p.value) {
            Ok(p) => p,
            Err(msg) => {
                c.error(p, "run.report.period", msg);
                return None;
            }
        },
    };
    let template = r
        .template
        .as_ref()
        .map_or_else(|| "weekly-report".to_string(), |t| t.value.clone());
    if let Some(t) = r
        .template
        .as_ref()
        .filter(|t| t.value.contains('/') || t.value.contains(".."))
    {
        c.error(
            t,
            "run.report.template",
            "a template name, not a path (templates live in the templates folder)",
        );
        return None;
    }
    let out_dir = r
        .out_dir
        .as_ref()
        .and_then(|d| c.interp(d, "run.report.out_dir"))
        .map_or_else(
            || global.base_dir.join("reports"),
            |d| global.base_dir.join(expand_home(&d)),
        );
    let mut send_to = Vec::new();
    for to in r.send_to.iter().flat_map(|s| s.value.iter()) {
        if global.notifiers.contains_key(&to.value) || c.global.is_none() {
            send_to.push(to.value.clone());
        } else {
            let names: Vec<&str> = global.notifiers.keys().map(String::as_str).collect();
            let help = did_you_mean(&to.value, names.iter().copied());
            let d = c.error(
                to,
                "run.report.send_to",
                format!("no notifier `{}` in clawcron.yaml", to.value),
            );
            d.help = help;
        }
    }
    let mut sources = Sources::default();
    for (k, v) in r.sources.iter().flat_map(|s| s.value.iter()) {
        let key = format!("run.report.sources.{k}");
        let pair = || -> Option<(String, String)> {
            v.value
                .split_once('/')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        };
        let slot = match k.as_str() {
            "tokens_per_s" => Some(&mut sources.tokens_per_s),
            "latency_ms" => Some(&mut sources.latency_ms),
            "memory_percent" => Some(&mut sources.memory_percent),
            "memory_alert" => Some(&mut sources.memory_alert),
            "restart_job" => {
                sources.restart_job = v.value.clone();
                continue;
            }
            "preload_job" => {
                sources.preload_job = v.value.clone();
                continue;
            }
            _ => None,
        };
        match (slot, pair()) {
            (Some(slot), Some(p)) => *slot = p,
            (Some(_), None) => {
                let d = c.error(v, &key, format!("`{}` is not `job/metric`", v.value));
                d.expected = Some("e.g. `nightly-benchmark/ollama.tokens_per_s`".into());
            }
            (None, _) => {
                let d = c.error(v, "run.report.sources", format!("unknown source `{k}`"));
                d.expected = Some("tokens_per_s, latency_ms, memory_percent, memory_alert, restart_job, preload_job".into());
            }
        }
    }
    let mut evidence = Evidence {
        container: None,
        docker_host: global_docker_host.clone(),
        ollama_url: Some("http://127.0.0.1:11434".into()),
        min_docker_memory_gib: 8,
    };
    if let Some(e) = &r.evidence {
        let e = &e.value;
        evidence.container = e
            .container
            .as_ref()
            .and_then(|s| c.interp(s, "run.report.evidence.container"));
        if let Some(h) = e
            .docker_host
            .as_ref()
            .and_then(|s| c.interp(s, "run.report.evidence.docker_host"))
        {
            evidence.docker_host = Some(h);
        }
        if let Some(u) = e
            .ollama_url
            .as_ref()
            .and_then(|s| c.interp(s, "run.report.evidence.ollama_url"))
        {
            evidence.ollama_url = Some(u);
        }
        if let Some(m) = &e.min_docker_memory_gib {
            evidence.min_docker_memory_gib = m.value;
        }
    }
    let mut checks = Vec::new();
    for (i, ch) in r.checks.iter().flat_map(|s| s.value.iter()).enumerate() {
        c.run_key = format!("run.report.checks.{i}.run");
        let a = action(c, &ch.value.run, global_docker_host);
        c.run_key = "run".into();
        if let Some(action) = a {
            checks.push(Check {
                name: ch.value.name.value.clone(),
                action,
            });
        }
    }
    Some(ReportSpec {
        title: r.title.as_ref().map_or_else(
            || match lang {
                Lang::En => "OpenClaw weekly report".to_string(),
                Lang::Fr => "Rapport hebdomadaire OpenClaw".to_string(),
            },
            |t| t.value.clone(),
        ),
        template,
        lang,
        period,
        out_dir,
        templates_dir: global
            .templates_dir
            .clone()
            .unwrap_or_else(|| global.base_dir.join("templates")),
        timezone: c.tz,
        send_to,
        sources,
        evidence,
        checks,
    })
}

fn http(c: &mut Checker<'_>, h: &S<RawHttp>) -> Option<HttpSpec> {
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

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

pub(super) fn extracts(c: &mut Checker<'_>, list: &S<Vec<S<RawExtract>>>) -> Vec<Extract> {
    let mut out = Vec::new();
    for item in &list.value {
        let e = &item.value;
        match (&e.regex, &e.json) {
            (Some(re), None) => match regex::Regex::new(&re.value) {
                Ok(r) if r.capture_names().flatten().next().is_some() => {
                    out.push(Extract::Regex(r))
                }
                Ok(_) => {
                    let d = c.error(
                        re,
                        "metrics.regex",
                        "the regex has no named group, so it names no metric",
                    );
                    d.expected = Some(
                        "a named group per figure, e.g. tokens_per_s=(?P<tokens_per_s>[0-9.]+)"
                            .into(),
                    );
                }
                Err(err) => {
                    c.error(
                        re,
                        "metrics.regex",
                        format!("invalid regex: {}", first_line(&err.to_string())),
                    );
                }
            },
            (None, Some(ptr)) => {
                if !ptr.value.starts_with('/') {
                    let d = c.error(
                        ptr,
                        "metrics.json",
                        format!("`{}` is not a JSON pointer", ptr.value),
                    );
                    d.expected = Some("a pointer such as /eval_count".into());
                    continue;
                }
                let name = e.name.as_ref().map(|n| n.value.clone()).unwrap_or_else(|| {
                    ptr.value.rsplit('/').next().unwrap_or_default().to_string()
                });
                out.push(Extract::Json {
                    pointer: ptr.value.clone(),
                    name,
                });
            }
            _ => {
                let d = c.error(item, "metrics", "each entry takes either `regex` or `json`");
                d.expected = Some(
                    "`- regex: 'x=(?P<x>[0-9.]+)'` or `- json: /pointer` with an optional `name`"
                        .into(),
                );
            }
        }
    }
    out
}

fn ollama_url(c: &mut Checker<'_>, url: &Option<S<String>>, key: &str) -> Option<String> {
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

type OllamaModels = (String, Vec<String>, Vec<String>, String, Duration);

fn ollama_models(
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
            Some("`models: [llama3.2:8b]` and/or `embed_models: [nomic-embed-text]`".into());
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

fn docker_target<T>(
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

fn docker_host(
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
