//! The `report` job kind.

use super::*;

pub(super) fn report(
    c: &mut Checker<'_>,
    rep: &S<super::action::RawReport>,
    global_docker_host: &Option<String>,
) -> Option<crate::model::ReportSpec> {
    use crate::model::{Lang, PeriodSpec, ReportSpec};
    let r = &rep.value;
    let default_global = GlobalConfig::default();
    let global = c.global.unwrap_or(&default_global);
    // Its own `lang`, else the job's `language`, else the global one.
    let lang = match c.choice(&r.lang, "run.report.lang", Lang::NAMES) {
        Some(i) => Lang::ALL[i],
        None => c.lang.unwrap_or(global.lang),
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
    let sources = sources(c, r);
    let evidence = evidence(c, r, global_docker_host);
    let checks = checks(c, r, global_docker_host);
    Some(ReportSpec {
        title: r.title.as_ref().map_or_else(
            || ReportSpec::default_title(lang).to_string(),
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

/// Which recorded figures the recommendations read (`job/metric`).
fn sources(c: &mut Checker<'_>, r: &super::action::RawReport) -> crate::model::Sources {
    let mut sources = crate::model::Sources::default();
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
    sources
}

/// Where the checklist's evidence comes from.
fn evidence(
    c: &mut Checker<'_>,
    r: &super::action::RawReport,
    global_docker_host: &Option<String>,
) -> crate::model::Evidence {
    let mut evidence = crate::model::Evidence {
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
    evidence
}

/// The checklist lines the job file declares, each a probe.
fn checks(
    c: &mut Checker<'_>,
    r: &super::action::RawReport,
    global_docker_host: &Option<String>,
) -> Vec<crate::model::Check> {
    let mut checks = Vec::new();
    for (i, ch) in r.checks.iter().flat_map(|s| s.value.iter()).enumerate() {
        c.run_key = format!("run.report.checks.{i}.run");
        let a = action(c, &ch.value.run, global_docker_host);
        c.run_key = "run".into();
        if let Some(action) = a {
            checks.push(crate::model::Check {
                name: ch.value.name.value.clone(),
                action,
            });
        }
    }
    checks
}
