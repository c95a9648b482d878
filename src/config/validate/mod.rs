//! Raw config -> typed specs. Each check reports where the value is, what it is, and what was
//! expected; all problems of a file are collected, not just the first.

pub(crate) mod action;
mod channels;
mod global;
pub(crate) mod job;
mod report;

use action::action;
use channels::notifiers;
pub use global::{essentials, global};
pub use job::job;
use report::report;

use crate::config::diag::{Diagnostic, Pos, did_you_mean};
use crate::config::raw::{RawExtract, RawGlobal, RawJob, S};
use crate::config::{interp, parse_timezone};
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
    /// The job's own `language:`, the default of a report job's `lang`.
    lang: Option<crate::model::Lang>,
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
        match interp::expand_spans(&s.value, |name| std::env::var(name).ok()) {
            Ok((v, placed)) => {
                register_placed(key, &v, &placed);
                Some(v)
            }
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

/// Registers for redaction the values of the variables `placed` in `value` (of `key`) that are
/// secrets by where they sit: in a URL's path or query, in a header, or by their variable's
/// name. Other values (a folder, a container's name) are not secrets and are left alone.
fn register_placed(key: &str, value: &str, placed: &[interp::Placed]) {
    let header = key.contains(".headers.");
    // Where a URL's path starts, if `value` is one.
    let path_from = key.ends_with("url").then(|| {
        value.find("://").map(|i| {
            let host = i + 3;
            value[host..]
                .find(['/', '?', '#'])
                .map_or(value.len(), |j| host + j)
        })
    });
    for p in placed {
        let in_path = path_from.flatten().is_some_and(|from| p.span.end > from);
        if header || in_path || crate::redact::secret_name(&p.name) {
            crate::redact::register(&value[p.span.clone()]);
        }
    }
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
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

type OllamaModels = (String, Vec<String>, Vec<String>, String, Duration);

/// A `language:` key: `en` or `fr`.
pub(super) fn language(
    c: &mut Checker<'_>,
    v: &Option<S<String>>,
    key: &str,
) -> Option<crate::model::Lang> {
    c.choice(v, key, crate::model::Lang::NAMES)
        .map(|i| crate::model::Lang::ALL[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(key: &str, text: &str, vars: &[(&str, &str)]) -> String {
        let (v, p) = interp::expand_spans(text, |n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        register_placed(key, &v, &p);
        crate::redact::scrub(&v).into_owned()
    }

    #[test]
    fn a_value_is_a_secret_by_where_it_sits_or_by_its_name() {
        // In a URL's path or query: registered, and so scrubbed wherever it shows alone.
        placed(
            "notifiers.hook.webhook.url",
            "https://hooks.example.org/T0/${HOOK_PART}?k=${HOOK_Q}",
            &[("HOOK_PART", "b4dc0ffeecafe"), ("HOOK_Q", "qq7731xyzzy")],
        );
        assert_eq!(
            crate::redact::scrub("echo b4dc0ffeecafe qq7731xyzzy"),
            "echo [redacted] [redacted]"
        );
        // In a header, and by a secret's name.
        placed(
            "run.http.headers.X-Trace",
            "${TRACE_ID_HDR}",
            &[("TRACE_ID_HDR", "hdr9918273645")],
        );
        placed(
            "run.env.X",
            "${GATEWAY_TOKEN}",
            &[("GATEWAY_TOKEN", "tok5566778899")],
        );
        assert_eq!(
            crate::redact::scrub("hdr9918273645 tok5566778899"),
            "[redacted] [redacted]"
        );
        // A folder, a host and a container's name are not secrets.
        placed(
            "run.report.out_dir",
            "${REPORTS_HOME}/reports",
            &[("REPORTS_HOME", "/home/ops-team-folder")],
        );
        placed(
            "run.http.url",
            "http://${GW_HOST_NAME}:8080/health",
            &[("GW_HOST_NAME", "gateway-box-17")],
        );
        assert_eq!(
            crate::redact::scrub("/home/ops-team-folder gateway-box-17"),
            "/home/ops-team-folder gateway-box-17"
        );
        assert!(!crate::redact::secret_name("PWD") && !crate::redact::secret_name("OLDPWD"));
        assert!(crate::redact::secret_name("DB_PWD"));
    }
}
