//! The documented context a report template gets (see README, "Reports"), built from the
//! ledger for the period and the period before it, and the functions and filters templates
//! may call.

use super::advice;
use super::stats::{self, Summary, change_pct, summarize};
use crate::model::{Lang, NoticeStatus, Period, Phase, ReportSpec, RunStatus};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub report: ReportInfo,
    pub jobs: Vec<JobStats>,
    pub alerts: Vec<AlertStats>,
    /// By `job/metric`.
    pub metrics: BTreeMap<String, MetricStats>,
    pub regressions: Vec<Regression>,
    pub notifications: NoticeStats,
    pub downtime: Downtime,
    pub recommendations: Vec<advice::Recommendation>,
    pub checklist: Vec<advice::CheckLine>,
    /// The headline, one line.
    pub summary: String,
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportInfo {
    pub title: String,
    pub lang: Lang,
    pub timezone: String,
    pub generated_at_ms: i64,
    pub period: Period,
    pub previous: Period,
    /// `job/metric` keys of the headline figures (the recommendations read the same).
    pub sources: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Runs that ran (succeeded, failed, timed out, interrupted).
    pub runs: usize,
    pub succeeded: usize,
    /// Failed or timed out.
    pub failed: usize,
    pub interrupted: usize,
    /// Slots recorded as skipped (missed, overlap, lock busy...).
    pub skipped: usize,
    /// Skipped slots that were missed (daemon down, machine asleep, clock jump).
    pub missed: usize,
    /// Missed slots that ran late under the job's policy.
    pub late: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStats {
    pub id: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub success_pct: Option<f64>,
    pub duration_median_ms: Option<f64>,
    pub duration_p95_ms: Option<f64>,
    pub skip_reasons: Vec<ReasonCount>,
    pub last_status: Option<String>,
    pub previous: Counts,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReasonCount {
    pub reason: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertStats {
    pub job: String,
    pub rule: String,
    /// The rule as written, e.g. `stats.mem_percent > 85 for 3 of 5`.
    pub describe: String,
    pub fired: usize,
    pub resolved: usize,
    pub remediated: usize,
    pub escalated: usize,
    /// Time spent firing within the period.
    pub firing_ms: i64,
    /// The worst sample while firing in the period.
    pub peak: Option<f64>,
    /// Now: ok, pending or firing.
    pub state: String,
    pub firing_since_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricStats {
    pub job: String,
    pub name: String,
    pub this: Option<Summary>,
    pub previous: Option<Summary>,
    /// Median against the previous period's median, in percent.
    pub change_pct: Option<f64>,
    pub baseline: Option<f64>,
    pub baseline_pinned_at_ms: Option<i64>,
    pub baseline_label: Option<String>,
    /// Median against the pinned baseline, in percent.
    pub vs_baseline_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub job: String,
    pub metric: String,
    pub value: f64,
    pub detail: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NoticeStats {
    pub sent: usize,
    pub failed: usize,
    pub pending: usize,
    pub expired: usize,
    pub failures: Vec<NoticeFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoticeFailure {
    pub channel: String,
    pub key: String,
    pub status: String,
    pub error: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Downtime {
    pub total_ms: i64,
    pub gaps: Vec<crate::store::Gap>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    #[serde(flatten)]
    pub counts: Counts,
    pub success_pct: Option<f64>,
    pub alerts_fired: usize,
}

const DAY_MS: i64 = 86_400_000;

fn counts(rows: &[&crate::store::RunRow]) -> Counts {
    let mut c = Counts::default();
    for r in rows {
        match r.status {
            RunStatus::Succeeded => c.succeeded += 1,
            RunStatus::Failed | RunStatus::TimedOut => c.failed += 1,
            RunStatus::Interrupted => c.interrupted += 1,
            RunStatus::Skipped => {
                c.skipped += 1;
                if r.reason.as_deref().is_some_and(|x| x.starts_with("missed")) {
                    c.missed += 1;
                }
            }
            RunStatus::Running => {}
        }
        if r.status.ran() {
            c.runs += 1;
            if r.reason.as_deref().is_some_and(|x| x.contains("run late")) {
                c.late += 1;
            }
        }
    }
    c
}

fn pct(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64 * 100.0)
}

/// Builds the context of `period` (and the one before it).
pub fn build(
    spec: &ReportSpec,
    store: &Store,
    period: &Period,
    now_ms: i64,
    observed: &advice::Observed,
) -> Result<Context, StoreError> {
    let tz = spec.timezone;
    let previous = period.previous(tz);
    let this_rows = store.runs_between(period.start_ms, period.end_ms)?;
    let prev_rows = store.runs_between(previous.start_ms, previous.end_ms)?;
    let ids: BTreeSet<&str> = this_rows
        .iter()
        .chain(prev_rows.iter())
        .map(|r| r.job.as_str())
        .collect();
    let mut jobs = Vec::new();
    for id in ids {
        let mine: Vec<&crate::store::RunRow> = this_rows.iter().filter(|r| r.job == id).collect();
        let before: Vec<&crate::store::RunRow> = prev_rows.iter().filter(|r| r.job == id).collect();
        let c = counts(&mine);
        let durations: Vec<f64> = mine
            .iter()
            .filter(|r| r.status != RunStatus::Skipped)
            .filter_map(|r| r.duration_ms.map(|d| d as f64))
            .collect();
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for r in mine.iter().filter(|r| r.status == RunStatus::Skipped) {
            *reasons
                .entry(r.reason.clone().unwrap_or_else(|| "skipped".into()))
                .or_default() += 1;
        }
        let mut skip_reasons: Vec<ReasonCount> = reasons
            .into_iter()
            .map(|(reason, count)| ReasonCount { reason, count })
            .collect();
        skip_reasons.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
        jobs.push(JobStats {
            id: id.to_string(),
            success_pct: pct(c.succeeded, c.runs),
            counts: c,
            duration_median_ms: crate::util::stats::median(&durations),
            duration_p95_ms: crate::util::stats::percentile(&durations, 95.0),
            skip_reasons,
            last_status: mine
                .iter()
                .rev()
                .find(|r| r.status != RunStatus::Skipped)
                .map(|r| r.status.as_str().to_string()),
            previous: counts(&before),
        });
    }

    // Figures, with the period before and the pinned baseline.
    let baselines = store.baselines()?;
    let mut metrics = BTreeMap::new();
    for (job, name) in store.metric_keys()? {
        let this = store.series(&job, &name, period.start_ms, period.end_ms)?;
        let before = store.series(&job, &name, previous.start_ms, previous.end_ms)?;
        if this.is_empty() && before.is_empty() {
            continue;
        }
        let (this, before) = (summarize(&this), summarize(&before));
        let base = baselines.iter().find(|b| b.job == job && b.metric == name);
        let median = this.as_ref().map(|s| s.median);
        metrics.insert(
            format!("{job}/{name}"),
            MetricStats {
                change_pct: median
                    .zip(before.as_ref().map(|s| s.median))
                    .and_then(|(a, b)| change_pct(a, b)),
                vs_baseline_pct: median
                    .zip(base.map(|b| b.value))
                    .and_then(|(a, b)| change_pct(a, b)),
                baseline: base.map(|b| b.value),
                baseline_pinned_at_ms: base.map(|b| b.pinned_at),
                baseline_label: base.and_then(|b| b.label.clone()),
                job,
                name,
                this,
                previous: before,
            },
        );
    }

    let (alerts, regressions) = alert_stats(store, period, now_ms)?;

    let mut notifications = NoticeStats::default();
    for n in store.notices_between(period.start_ms, period.end_ms)? {
        match n.status {
            NoticeStatus::Sent => notifications.sent += 1,
            NoticeStatus::Pending => notifications.pending += 1,
            NoticeStatus::Expired => notifications.expired += 1,
            NoticeStatus::Failed => notifications.failed += 1,
        }
        if matches!(n.status, NoticeStatus::Failed | NoticeStatus::Expired) {
            notifications.failures.push(NoticeFailure {
                channel: n.channel,
                key: n.key,
                status: n.status.as_str().to_string(),
                error: n.last_error.unwrap_or_default(),
            });
        }
    }
    let gaps = store.downtime(period.start_ms, period.end_ms.min(now_ms))?;
    let downtime = Downtime {
        total_ms: gaps.iter().map(|g| g.to_ms - g.from_ms).sum(),
        gaps,
    };

    let mut totals = Totals::default();
    for j in &jobs {
        let t = &mut totals.counts;
        t.runs += j.counts.runs;
        t.succeeded += j.counts.succeeded;
        t.failed += j.counts.failed;
        t.interrupted += j.counts.interrupted;
        t.skipped += j.counts.skipped;
        t.missed += j.counts.missed;
        t.late += j.counts.late;
    }
    totals.success_pct = pct(totals.counts.succeeded, totals.counts.runs);
    totals.alerts_fired = alerts.iter().map(|a| a.fired).sum();

    let mut ctx = Context {
        report: ReportInfo {
            title: spec.title.clone(),
            lang: spec.lang,
            timezone: tz.name().to_string(),
            generated_at_ms: now_ms,
            period: period.clone(),
            previous,
            sources: BTreeMap::from([
                (
                    "tokens_per_s",
                    format!(
                        "{}/{}",
                        spec.sources.tokens_per_s.0, spec.sources.tokens_per_s.1
                    ),
                ),
                (
                    "latency_ms",
                    format!(
                        "{}/{}",
                        spec.sources.latency_ms.0, spec.sources.latency_ms.1
                    ),
                ),
                (
                    "memory_percent",
                    format!(
                        "{}/{}",
                        spec.sources.memory_percent.0, spec.sources.memory_percent.1
                    ),
                ),
                (
                    "memory_alert",
                    format!(
                        "{}/{}",
                        spec.sources.memory_alert.0, spec.sources.memory_alert.1
                    ),
                ),
                ("restart_job", spec.sources.restart_job.clone()),
                ("preload_job", spec.sources.preload_job.clone()),
            ]),
        },
        jobs,
        alerts,
        metrics,
        regressions,
        notifications,
        downtime,
        recommendations: Vec::new(),
        checklist: Vec::new(),
        summary: String::new(),
        totals,
    };
    ctx.recommendations = advice::recommend(spec, store, &ctx, observed)?;
    ctx.checklist = advice::checklist(spec, store, observed)?;
    ctx.summary = summary(spec, &ctx);
    Ok(ctx)
}

fn summary(spec: &ReportSpec, ctx: &Context) -> String {
    let t = &ctx.totals;
    let rate = t.success_pct.map_or_else(
        || no_data(spec.lang).to_string(),
        |p| fmt_num(p, 1, spec.lang),
    );
    let tps = ctx.metrics.get(&format!(
        "{}/{}",
        spec.sources.tokens_per_s.0, spec.sources.tokens_per_s.1
    ));
    let tps = tps.and_then(|m| m.this.as_ref().map(|s| (s.median, m.change_pct)));
    let tps_text = |lang| match tps {
        Some((v, Some(c))) => format!("{} ({})", fmt_num(v, 1, lang), fmt_pct(c, lang)),
        Some((v, None)) => fmt_num(v, 1, lang),
        None => no_data(lang).to_string(),
    };
    match spec.lang {
        Lang::En => format!(
            "{}: {} runs, {rate} % succeeded, {} failed, {} missed; {} alert(s) fired; tokens/s median {}",
            ctx.report.period.label,
            t.counts.runs,
            t.counts.failed,
            t.counts.missed,
            t.alerts_fired,
            tps_text(Lang::En)
        ),
        Lang::Fr => format!(
            "{} : {} exécutions, {rate} % réussies, {} en échec, {} manquées ; {} alerte(s) ; tokens/s médian {}",
            ctx.report.period.label,
            t.counts.runs,
            t.counts.failed,
            t.counts.missed,
            t.alerts_fired,
            tps_text(Lang::Fr)
        ),
    }
}

/// Per rule: events, firing time and peak within the period; the rule's current state. Also the
/// regressions recorded in the period.
fn alert_stats(
    store: &Store,
    period: &Period,
    now_ms: i64,
) -> Result<(Vec<AlertStats>, Vec<Regression>), StoreError> {
    // Enough history to know whether a rule was already firing when the period began.
    let mut events = store.alert_events(period.start_ms - 90 * DAY_MS)?;
    events.reverse();
    let states = store.alerts()?;
    let mut keys: BTreeSet<(String, String)> = events
        .iter()
        .filter(|e| e.kind != "regression" && e.at >= period.start_ms && e.at < period.end_ms)
        .map(|e| (e.job.clone(), e.rule.clone()))
        .collect();
    keys.extend(states.iter().map(|s| (s.job.clone(), s.rule.clone())));
    let end = period.end_ms.min(now_ms.max(period.start_ms));
    let mut out = Vec::new();
    for (job, rule) in keys {
        let mine: Vec<&crate::store::AlertEvent> = events
            .iter()
            .filter(|e| e.job == job && e.rule == rule)
            .collect();
        let in_period =
            |e: &&&crate::store::AlertEvent| e.at >= period.start_ms && e.at < period.end_ms;
        let count = |kind: &str| {
            mine.iter()
                .filter(in_period)
                .filter(|e| e.kind == kind)
                .count()
        };
        // Firing intervals, clipped to the period.
        let mut intervals = Vec::new();
        let mut since: Option<i64> = None;
        for e in mine.iter().filter(|e| e.at < period.end_ms) {
            match e.kind.as_str() {
                "fired" => since = since.or(Some(e.at)),
                "resolved" => {
                    if let Some(s) = since.take() {
                        intervals.push((s, e.at));
                    }
                }
                _ => {}
            }
        }
        if let Some(s) = since {
            intervals.push((s, end));
        }
        let clipped: Vec<(i64, i64)> = intervals
            .iter()
            .map(|&(a, b)| (a.max(period.start_ms), b.min(end)))
            .filter(|(a, b)| a < b)
            .collect();
        let describe = mine
            .iter()
            .rev()
            .map(|e| e.detail.split(';').next().unwrap_or("").trim().to_string())
            .find(|d| !d.is_empty() && !d.starts_with("remediation"))
            .unwrap_or_default();
        let peak = peak_while_firing(store, &job, &describe, &clipped)?;
        let state = states.iter().find(|s| s.job == job && s.rule == rule);
        out.push(AlertStats {
            fired: count("fired"),
            resolved: count("resolved"),
            remediated: count("remediated") + count("remediation-failed"),
            escalated: count("escalated"),
            firing_ms: clipped.iter().map(|(a, b)| b - a).sum(),
            peak,
            state: state.map_or(Phase::Ok, |s| s.phase).as_str().to_string(),
            firing_since_ms: state
                .and_then(|s| s.since)
                .filter(|_| state.is_some_and(|s| s.phase == Phase::Firing)),
            describe,
            job,
            rule,
        });
    }
    let regressions = events
        .iter()
        .filter(|e| e.kind == "regression" && e.at >= period.start_ms && e.at < period.end_ms)
        .map(|e| Regression {
            job: e.job.clone(),
            metric: e.rule.trim_start_matches("regression:").to_string(),
            value: e.value,
            detail: e.detail.clone(),
            at_ms: e.at,
        })
        .collect();
    Ok((out, regressions))
}

/// The worst sample of the rule's metric within the firing intervals.
fn peak_while_firing(
    store: &Store,
    job: &str,
    describe: &str,
    intervals: &[(i64, i64)],
) -> Result<Option<f64>, StoreError> {
    let when = describe.split(" for ").next().unwrap_or(describe);
    let Ok(rule) = crate::model::Rule::parse(None, when, None, std::time::Duration::ZERO) else {
        return Ok(None);
    };
    let names: Vec<String> = store
        .metric_keys()?
        .into_iter()
        .filter(|(j, n)| j == job && crate::model::metric_matches(n, &rule.metric))
        .map(|(_, n)| n)
        .collect();
    let mut peak: Option<f64> = None;
    for name in &names {
        for &(a, b) in intervals {
            // Samples are stamped at the run's end: include the one that made it fire.
            for (_, v) in store.series(job, name, a, b + 1)? {
                peak = Some(match peak {
                    None => v,
                    Some(p) if rule.op.worse(v, p) => v,
                    Some(p) => p,
                });
            }
        }
    }
    Ok(peak)
}

/// `("job", Some("metric"))` or `("job/metric", None)`.
fn split_key(job: String, metric: Option<String>) -> Result<(String, String), minijinja::Error> {
    match metric {
        Some(m) => Ok((job, m)),
        None => job
            .split_once('/')
            .map(|(j, m)| (j.to_string(), m.to_string()))
            .ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!(
                        "`{job}` is not `job/metric` (or give the metric as a second argument)"
                    ),
                )
            }),
    }
}

/// One point per local day: the day's `p`-th percentile, stamped at local noon.
pub fn per_day(points: &[(i64, f64)], p: f64, tz: chrono_tz::Tz) -> Vec<(i64, f64)> {
    use chrono::TimeZone;
    let mut days: BTreeMap<chrono::NaiveDate, Vec<f64>> = BTreeMap::new();
    for (at, v) in points {
        let d = crate::util::to_utc(at.div_euclid(1000))
            .with_timezone(&tz)
            .date_naive();
        days.entry(d).or_default().push(*v);
    }
    days.into_iter()
        .filter_map(|(d, v)| {
            let noon = tz
                .from_local_datetime(&d.and_hms_opt(12, 0, 0)?)
                .earliest()?
                .timestamp_millis();
            Some((noon, crate::util::stats::percentile(&v, p)?))
        })
        .collect()
}

/// A duration in milliseconds as people read it: `850 ms`, `12.4 s`, `3 min 20 s`, `1 h 05 min`.
pub fn fmt_duration(ms: f64) -> String {
    let ms = ms.max(0.0);
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0).round() as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0).round() as u64;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

pub fn no_data(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "no data",
        Lang::Fr => "pas de données",
    }
}

/// A number with `digits` decimals and thousands grouped, in the language's style.
pub fn fmt_num(v: f64, digits: usize, lang: Lang) -> String {
    if !v.is_finite() {
        return no_data(lang).to_string();
    }
    let s = format!("{:.*}", digits, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let (sep, dec) = match lang {
        Lang::En => (",", "."),
        Lang::Fr => ("\u{202f}", ","),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(sep);
        }
        grouped.push(ch);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{dec}{frac}")
    }
}

/// A change in percent with its sign: `+12.3 %`, `-4.0 %`.
pub fn fmt_pct(v: f64, lang: Lang) -> String {
    let n = fmt_num(v.abs(), 1, lang);
    // What rounds to 0.0 has no sign.
    let sign = if v >= 0.05 {
        "+"
    } else if v <= -0.05 {
        "-"
    } else {
        "±"
    };
    format!("{sign}{n} %")
}

/// Functions and filters for report templates: `series(job, metric, days=30)`,
/// `chart(job, metric, days=30, title=, unit=)`, `percentile(values, p)`, and the filters
/// `num(digits=1)`, `pct`, `date`, `duration_ms`, `time`. A missing value renders as "no data".
pub fn functions<'a>(
    spec: &'a ReportSpec,
    store: &'a Store,
    period: &'a Period,
) -> impl Fn(&mut minijinja::Environment<'_>) + 'a {
    move |env| {
        let lang = spec.lang;
        env.add_filter(
            "num",
            move |v: Option<f64>, digits: Option<usize>| -> String {
                v.map_or_else(
                    || no_data(lang).to_string(),
                    |v| fmt_num(v, digits.unwrap_or(1), lang),
                )
            },
        );
        env.add_filter("pct", move |v: Option<f64>| -> String {
            v.map_or_else(|| no_data(lang).to_string(), |v| fmt_pct(v, lang))
        });
        let tz = spec.timezone;
        env.add_filter("date", move |ms: Option<i64>| -> String {
            ms.map_or_else(
                || no_data(lang).to_string(),
                |ms| {
                    crate::util::to_utc(ms.div_euclid(1000))
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                },
            )
        });
        env.add_filter("dur", move |ms: Option<f64>| -> String {
            ms.map_or_else(|| no_data(lang).to_string(), fmt_duration)
        });
        env.add_function("percentile", |values: Vec<f64>, p: f64| -> Option<f64> {
            crate::util::stats::percentile(&values, p)
        });
        let store_s = store.clone();
        let end = period.end_ms;
        env.add_function(
            "series",
            move |job: String,
                  metric: Option<String>,
                  days: Option<i64>|
                  -> Result<Vec<(i64, f64)>, minijinja::Error> {
                let (job, metric) = split_key(job, metric)?;
                let from = end - days.unwrap_or(30) * DAY_MS;
                let pts = store_s.series(&job, &metric, from, end).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                })?;
                Ok(stats::downsample(&pts, 500))
            },
        );
        let store_c = store.clone();
        env.add_function(
            "chart",
            move |job: String,
                  kwargs: minijinja::value::Kwargs|
                  -> Result<minijinja::Value, minijinja::Error> {
                let (job, metric) = split_key(job, kwargs.get::<Option<String>>("metric")?)?;
                let days: i64 = kwargs.get::<Option<i64>>("days")?.unwrap_or(30);
                let title: String = kwargs
                    .get::<Option<String>>("title")?
                    .unwrap_or_else(|| metric.clone());
                let unit: String = kwargs.get::<Option<String>>("unit")?.unwrap_or_default();
                let daily: Option<f64> = kwargs.get::<Option<f64>>("daily")?;
                kwargs.assert_all_used()?;
                let err = |e: StoreError| {
                    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
                };
                let mut pts = store_c
                    .series(&job, &metric, end - days * DAY_MS, end)
                    .map_err(err)?;
                if let Some(p) = daily {
                    pts = per_day(&pts, p, tz);
                }
                let baseline = store_c
                    .baselines()
                    .map_err(err)?
                    .into_iter()
                    .find(|b| b.job == job && b.metric == metric)
                    .map(|b| b.value);
                let svg = super::chart::line_chart(&super::chart::ChartSpec {
                    title: &title,
                    unit: &unit,
                    points: &stats::downsample(&pts, 400),
                    baseline,
                    timezone: tz,
                    no_data: no_data(lang),
                });
                Ok(minijinja::Value::from_safe_string(svg))
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_english_and_french() {
        assert_eq!(fmt_num(1234567.891, 2, Lang::En), "1,234,567.89");
        assert_eq!(fmt_num(1234.5, 1, Lang::Fr), "1\u{202f}234,5");
        assert_eq!(fmt_num(-0.04, 1, Lang::En), "0.0");
        assert_eq!(fmt_num(-12.0, 0, Lang::En), "-12");
        assert_eq!(fmt_pct(-20.0, Lang::En), "-20.0 %");
        assert_eq!(fmt_pct(-0.01, Lang::En), "±0.0 %");
        assert_eq!(fmt_pct(3.26, Lang::Fr), "+3,3 %");
    }
}
