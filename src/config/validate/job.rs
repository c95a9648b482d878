//! One job file: its schedule, policies, locks, notices, alerts and regressions.

use super::*;

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
        lang: None,
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
    c.lang = language(&mut c, &raw.language, "language");
    let trigger = trigger(&mut c, &raw, tz);
    let after = after(&mut c, &raw);

    let (missed, overlap, timeout, retry) = policies(&mut c, &raw);
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
    let locks = locks(&mut c, &raw);
    let notify = notify_policy(&mut c, &raw, global);
    let (alerts, whens) = alerts(&mut c, &raw, global);
    let regression = regression(&mut c, &raw);
    let maintenance = raw
        .maintenance
        .as_ref()
        .map(|m| crate::model::MaintenanceSpec {
            quiets: m
                .value
                .quiets
                .value
                .iter()
                .map(|q| q.value.clone())
                .collect(),
            grace: c
                .duration(&m.value.grace, "maintenance.grace")
                .unwrap_or(Duration::from_secs(120)),
        });
    let placement = placement(&mut c, &raw, text);
    check_figures(&mut c, action.as_ref(), &extract, &whens);
    if let Some(ActionSpec::External(_)) = &action {
        external_rules(&mut c, &raw, trigger.as_ref());
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
            maintenance,
            after,
            placement,
        }),
        _ => None,
    };
    c.finish(spec)
}

/// `runs_on` and `retry_on_node_loss`, and the hash of the file's text as written.
fn placement(c: &mut Checker<'_>, raw: &RawJob, text: &str) -> crate::model::Placement {
    use sha2::Digest;
    let mut runs_on = Vec::new();
    for t in raw.runs_on.iter().flat_map(|r| r.value.iter()) {
        if !t.value.is_empty()
            && t.value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            runs_on.push(t.value.clone());
        } else {
            let d = c.error(
                t,
                "runs_on",
                format!("`{}` is not a node tag or name", t.value),
            );
            d.expected = Some("letters, digits, `-`, `_` and `.`, e.g. `runs_on: [gpu]`".into());
        }
    }
    runs_on.sort();
    runs_on.dedup();
    crate::model::Placement {
        runs_on,
        retry_on_node_loss: raw.retry_on_node_loss.as_ref().is_some_and(|r| r.value),
        text_hash: hex::encode(sha2::Sha256::digest(text.as_bytes())),
    }
}

/// An `external` job waits for pings per slot: it needs slots, and its grace (not `timeout`)
/// says how long a slot waits.
fn external_rules(c: &mut Checker<'_>, raw: &RawJob, trigger: Option<&Trigger>) {
    if let Some(t) = &raw.timeout {
        let d = c.error(
            t,
            "timeout",
            "`timeout` does not apply to an `external` job: it runs elsewhere",
        );
        d.expected = Some(
            "`run: { external: { grace: 30m } }` says how long a slot waits for its ping".into(),
        );
    }
    if let Some(r) = &raw.retry {
        let d = c.error(
            r,
            "retry",
            "`retry` does not apply to an `external` job: it runs elsewhere",
        );
        d.expected = Some(
            "a failed slot is told through `notify`; the job's next ping starts afresh".into(),
        );
    }
    if matches!(trigger, Some(Trigger::AtStart))
        && let Some(run) = &raw.run
    {
        let d = c.error(
            run,
            "run.external",
            "an `external` job needs a `schedule` or `every`: its pings are expected per slot",
        );
        d.expected = Some("e.g. `schedule: \"0 2 * * *\"`".into());
    }
}

pub(super) fn trigger(c: &mut Checker<'_>, raw: &RawJob, tz: chrono_tz::Tz) -> Option<Trigger> {
    let at_start = raw.at_start.as_ref().filter(|a| a.value);
    // `after` may come with a schedule or instead of one.
    let given = usize::from(raw.schedule.is_some())
        + usize::from(raw.every.is_some())
        + usize::from(at_start.is_some());
    if given == 0 && raw.after.is_some() {
        // It runs only when chained.
        return Some(Trigger::Chained);
    }
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

/// `after: { job, on }`. Whether `job` names a job, and whether chains make a cycle, need every
/// job: `chains` checks that once all files are validated.
fn after(c: &mut Checker<'_>, raw: &RawJob) -> Option<AfterSpec> {
    let a = raw.after.as_ref()?;
    let mut on = Vec::new();
    for o in a.value.on.iter().flat_map(|o| o.value.iter()) {
        match AfterOn::parse(&o.value) {
            Some(v) => on.push(v),
            None => {
                let help = did_you_mean(&o.value, AfterOn::NAMES.iter().copied());
                let d = c.error(o, "after.on", format!("`{}` is not a valid value", o.value));
                d.expected = Some(format!("a list of: {}", AfterOn::NAMES.join(", ")));
                d.help = help;
            }
        }
    }
    if let Some(list) = &a.value.on
        && list.value.is_empty()
    {
        let d = c.error(list, "after.on", "an empty list never runs the job");
        d.expected = Some(format!("a list of: {}", AfterOn::NAMES.join(", ")));
    }
    if a.value.on.is_none() {
        on.push(AfterOn::Success);
    }
    on.sort();
    on.dedup();
    let pos = Checker::pos(&a.value.job);
    Some(AfterSpec {
        job: Arc::from(a.value.job.value.as_str()),
        on,
        at: (pos.line, pos.col, pos.len),
    })
}

/// The checks of `after:` that need every job: it names a job (a valid one, or a file with
/// errors of its own), and chains make no cycle (`a → b → a`, or a job after itself). A job
/// that fails either is refused, with the error at its `after.job`.
pub(crate) fn chains(jobs: &mut Vec<JobSpec>, errors: &mut Vec<Diagnostic>) {
    let upstream: std::collections::HashMap<&str, &str> = jobs
        .iter()
        .filter_map(|j| j.after.as_ref().map(|a| (&*j.id, &*a.job)))
        .collect();
    let mut known: Vec<&str> = jobs.iter().map(|j| &*j.id).collect();
    let broken: Vec<String> = errors
        .iter()
        .filter_map(|d| {
            d.path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(String::from)
        })
        .collect();
    known.extend(broken.iter().map(String::as_str));
    let mut refused = Vec::new();
    for job in jobs.iter() {
        let Some(after) = &job.after else { continue };
        let (message, help) = if !known.contains(&&*after.job) {
            (
                format!("no job `{}` to run after", after.job),
                did_you_mean(&after.job, jobs.iter().map(|j| &*j.id)),
            )
        } else {
            // Each job has at most one upstream: follow it until it ends or comes back.
            let mut path = vec![&*job.id];
            let mut at = &*after.job;
            let mut cycle = false;
            while path.len() <= upstream.len() + 1 {
                path.push(at);
                if at == &*job.id {
                    cycle = true;
                    break;
                }
                match upstream.get(at) {
                    Some(next) => at = next,
                    None => break,
                }
            }
            if !cycle {
                continue;
            }
            (
                format!("`after` makes a cycle: {}", path.join(" → ")),
                Some(
                    "a job cannot run after itself, directly or through others: remove one `after`"
                        .into(),
                ),
            )
        };
        let text = std::fs::read_to_string(&job.path).unwrap_or_default();
        let (line, col, len) = after.at;
        refused.push(job.id.clone());
        errors.push(
            Diagnostic::new(&job.path, message)
                .at(&text, Pos { line, col, len })
                .key("after.job")
                .help(help),
        );
    }
    jobs.retain(|j| !refused.contains(&j.id));
}

/// What to do with missed slots, overlapping runs, a run that takes too long, a failed attempt.
fn policies(
    c: &mut Checker<'_>,
    raw: &RawJob,
) -> (MissedPolicy, Overlap, Option<Duration>, RetryPolicy) {
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
    (missed, overlap, timeout, retry)
}

/// Named locks, sorted, without duplicates.
fn locks(c: &mut Checker<'_>, raw: &RawJob) -> Vec<String> {
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
    locks
}

/// Who is told about what: each channel must exist in the global file.
fn notify_policy(c: &mut Checker<'_>, raw: &RawJob, global: &GlobalConfig) -> NotifyPolicy {
    let mut notify = crate::model::NotifyPolicy {
        lang: c.lang,
        ..Default::default()
    };
    if let Some(n) = &raw.notify {
        let n = &n.value;
        if let Some(d) = c.duration(&n.repeat, "notify.repeat") {
            notify.repeat = d;
        }
        if let Some(i) = c.choice(
            &n.failures,
            "notify.failures",
            crate::model::Failures::NAMES,
        ) {
            notify.failures = [crate::model::Failures::State, crate::model::Failures::Every][i];
        }
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
    notify
}

/// The alert rules, and where each rule's `when` is (to say so if its figure is never recorded).
fn alerts<'r>(
    c: &mut Checker<'_>,
    raw: &'r RawJob,
    global: &GlobalConfig,
) -> (Vec<Rule>, Vec<(String, &'r S<String>)>) {
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
                let fix = action(c, &r.value.run, &global.docker_host);
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
                r.advice = advice(c, &a.advice);
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
    (alerts, whens)
}

/// The regression check's figures, window, threshold and baseline.
fn regression(c: &mut Checker<'_>, raw: &RawJob) -> Option<RegressionSpec> {
    raw.regression.as_ref().and_then(|r| {
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
    })
}

/// An alert rule that names a figure its job never records could never fire: an error, with
/// "did you mean" among the job's figures.
fn check_figures(
    c: &mut Checker<'_>,
    action: Option<&ActionSpec>,
    extract: &[Extract],
    whens: &[(String, &S<String>)],
) {
    if let Some(mut figures) = action.and_then(ActionSpec::figures) {
        figures.extend(extract.iter().flat_map(Extract::names));
        for (metric, when) in whens {
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
}

/// `advice:` of an alert: one line, or one per language.
fn advice(
    c: &mut Checker<'_>,
    raw: &Option<S<crate::config::raw::RawAdvice>>,
) -> Vec<(Option<crate::model::Lang>, String)> {
    use crate::config::raw::RawAdvice;
    let Some(a) = raw else { return Vec::new() };
    match &a.value {
        RawAdvice::One(s) => vec![(None, s.trim().to_string())],
        RawAdvice::PerLanguage(m) => {
            let mut out = Vec::new();
            for (k, v) in m {
                match crate::model::Lang::parse(k) {
                    Some(l) => out.push((Some(l), v.trim().to_string())),
                    None => {
                        let d = c.error(
                            a,
                            "alerts.advice",
                            format!("`{k}` is not a language clawcron writes"),
                        );
                        d.expected = Some(format!(
                            "a line of text, or one per language: {}",
                            crate::model::Lang::NAMES.join(", ")
                        ));
                    }
                }
            }
            out
        }
    }
}
