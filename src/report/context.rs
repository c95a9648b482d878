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
    /// The latest figures against their pinned baselines: the guide's before/after.
    pub before_after: Vec<BeforeAfter>,
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
    /// In a cluster: how many of its runs each node ran (empty on one machine).
    pub nodes: Vec<NodeCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeCount {
    pub node: String,
    pub runs: usize,
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
    /// The rule in the report's language, with its unit: `stats.mem_percent > 85 % (3 des 5
    /// dernières mesures)`.
    pub rule_text: String,
    /// The peak with its unit.
    pub peak_text: String,
    /// The rule's figure and threshold (for charts' threshold lines).
    pub metric: String,
    pub threshold: Option<f64>,
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
    /// A setting rather than a measure (a limit in bytes, an HTTP status): left out of the
    /// "all figures" table.
    pub noise: bool,
}

/// Whether a figure is a setting rather than a measure.
fn is_noise(name: &str) -> bool {
    let last = name.rsplit(['.', ':']).next().unwrap_or(name);
    last.contains("limit")
        || last == "status"
        || last.ends_with("status_code")
        || last == "http_status"
}

/// One figure's latest value against its pinned baseline.
#[derive(Debug, Clone, Serialize)]
pub struct BeforeAfter {
    pub job: String,
    pub metric: String,
    /// The label given with `baseline --set --label`.
    pub label: Option<String>,
    pub pinned_at_ms: i64,
    pub baseline: f64,
    pub latest: f64,
    pub latest_at_ms: i64,
    /// Latest against the baseline, in percent.
    pub change_pct: Option<f64>,
    /// The same, written: `+175.0 %`.
    pub change_text: String,
    /// Whether the change is for the better (`None`: the figure has no better direction).
    pub better: Option<bool>,
    pub baseline_text: String,
    pub latest_text: String,
}

/// Which way a figure is better, from its unit: rates up, durations and percents down.
pub fn higher_is_better(metric: &str) -> Option<bool> {
    use crate::i18n::Unit;
    match Unit::of(metric) {
        Unit::PerSecond => Some(true),
        Unit::Ms | Unit::Percent | Unit::CpuPercent => Some(false),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Regression {
    pub job: String,
    pub metric: String,
    pub value: f64,
    /// The English line of the event log.
    pub detail: String,
    /// The figure with its unit against the baseline it was compared with, in the language.
    pub text: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct NoticeStats {
    pub sent: usize,
    /// Recorded, not sent (a silence, quiet hours, a maintenance window).
    pub silenced: usize,
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

/// What the ledger knows of the daemon's presence in the period: when it first started, the
/// part of the period before that (nothing was recorded then), and each downtime after it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Downtime {
    /// Down time after the first start, in all.
    pub total_ms: i64,
    pub gaps: Vec<crate::store::Gap>,
    /// The daemon's first start on this ledger, ever.
    pub first_start_ms: Option<i64>,
    /// The daemon had not started yet by the period's end: nothing of it was recorded.
    pub not_started: bool,
    /// The first start is inside the period: the part before it, in ms (nothing recorded).
    pub before_first_start_ms: i64,
    /// It ran the whole period, with no downtime.
    pub whole_period: bool,
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
            nodes: {
                let mut by: BTreeMap<String, usize> = BTreeMap::new();
                for r in mine.iter().filter(|r| r.status.ran()) {
                    if let Some(n) = &r.node {
                        *by.entry(n.clone()).or_default() += 1;
                    }
                }
                by.into_iter()
                    .map(|(node, runs)| NodeCount { node, runs })
                    .collect()
            },
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
                noise: is_noise(&name),
                job,
                name,
                this,
                previous: before,
            },
        );
    }

    let (alerts, regressions) = alert_stats(store, period, now_ms, spec.lang)?;
    let lang = spec.lang;
    let mut before_after = Vec::new();
    for b in &baselines {
        let end = period.end_ms.min(now_ms.max(period.start_ms));
        let Some(&(at, latest)) = store
            .series(&b.job, &b.metric, end - 30 * DAY_MS, end + 1)?
            .last()
        else {
            continue;
        };
        let change = change_pct(latest, b.value);
        before_after.push(BeforeAfter {
            job: b.job.clone(),
            metric: b.metric.clone(),
            label: b.label.clone(),
            pinned_at_ms: b.pinned_at,
            baseline: b.value,
            latest,
            latest_at_ms: at,
            change_text: change.map_or_else(|| no_data(lang).to_string(), |c| fmt_pct(c, lang)),
            better: higher_is_better(&b.metric)
                .zip(change)
                .filter(|(_, c)| c.abs() >= 0.05)
                .map(|(up, c)| (c > 0.0) == up),
            change_pct: change,
            baseline_text: crate::i18n::figure(&b.metric, b.value, lang),
            latest_text: crate::i18n::figure(&b.metric, latest, lang),
        });
    }

    let mut notifications = NoticeStats::default();
    for n in store.notices_between(period.start_ms, period.end_ms)? {
        match n.status {
            NoticeStatus::Sent => notifications.sent += 1,
            NoticeStatus::Pending => notifications.pending += 1,
            NoticeStatus::Expired => notifications.expired += 1,
            NoticeStatus::Failed => notifications.failed += 1,
            NoticeStatus::Silenced => notifications.silenced += 1,
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
    let end = period.end_ms.min(now_ms);
    let first_start_ms = store.first_start_ms()?;
    let not_started = first_start_ms.is_none_or(|f| f >= end);
    let gaps = if not_started {
        Vec::new()
    } else {
        store.downtime(period.start_ms, end)?
    };
    let before_first_start_ms = match first_start_ms {
        Some(f) if !not_started && f > period.start_ms => f - period.start_ms,
        _ => 0,
    };
    let downtime = Downtime {
        total_ms: gaps.iter().map(|g| g.to_ms - g.from_ms).sum(),
        whole_period: !not_started && gaps.is_empty() && before_first_start_ms == 0,
        gaps,
        first_start_ms,
        not_started,
        before_first_start_ms,
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
        before_after,
        recommendations: Vec::new(),
        checklist: Vec::new(),
        summary: String::new(),
        totals,
    };
    ctx.recommendations = advice::recommend(spec, store, &ctx, observed)?;
    ctx.checklist = advice::checklist(spec, store, &ctx, observed)?;
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
    lang: Lang,
) -> Result<(Vec<AlertStats>, Vec<Regression>), StoreError> {
    let baselines = store.baselines()?;
    // Enough history to know whether a rule was already firing when the period began.
    let mut events = store.alert_events(period.start_ms - 90 * DAY_MS)?;
    events.reverse();
    let states = store.alerts()?;
    let mut keys: BTreeSet<(String, String)> = events
        .iter()
        .filter(|e| e.kind != "regression" && e.at >= period.start_ms && e.at < period.end_ms)
        .filter(|e| e.rule != crate::model::FAILURES_RULE)
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
        let parsed = parse_describe(&describe);
        let metric = parsed
            .as_ref()
            .map(|r| r.metric.clone())
            .unwrap_or_default();
        out.push(AlertStats {
            rule_text: parsed
                .as_ref()
                .map_or_else(|| describe.clone(), |r| rule_text(r, lang)),
            peak_text: peak
                .map(|p| crate::i18n::figure(&metric, p, lang))
                .unwrap_or_default(),
            threshold: parsed.as_ref().map(|r| r.threshold),
            metric,
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
        .map(|e| {
            let metric = e.rule.trim_start_matches("regression:").to_string();
            // What it was compared with: the pinned baseline, or the median of recent runs
            // (as its event line says).
            let pinned = baselines
                .iter()
                .find(|b| b.job == e.job && b.metric == metric)
                .filter(|_| e.detail.contains("the pinned baseline"));
            let recent = recent_baseline(&e.detail);
            let value = crate::i18n::figure(&metric, e.value, lang);
            let change = |b: f64| {
                change_pct(e.value, b)
                    .map_or_else(|| no_data(lang).to_string(), |c| fmt_pct(c, lang))
            };
            let text = match (pinned, recent) {
                (Some(b), _) => {
                    let label = b
                        .label
                        .as_ref()
                        .map(|l| format!("« {l} » "))
                        .unwrap_or_default();
                    crate::i18n::tf(
                        lang,
                        "s.regression",
                        &[
                            ("job", &e.job),
                            ("metric", &metric),
                            ("value", &value),
                            ("change", &change(b.value)),
                            (
                                "baseline",
                                &format!("{label}{}", crate::i18n::figure(&metric, b.value, lang)),
                            ),
                        ],
                    )
                }
                (None, Some((runs, b))) => crate::i18n::tf(
                    lang,
                    "s.regression.recent",
                    &[
                        ("job", &e.job),
                        ("metric", &metric),
                        ("value", &value),
                        ("change", &change(b)),
                        ("runs", &runs.to_string()),
                        ("baseline", &crate::i18n::figure(&metric, b, lang)),
                    ],
                ),
                (None, None) => format!("{} : {metric} = {value}", e.job),
            };
            Regression {
                job: e.job.clone(),
                metric,
                value: e.value,
                detail: e.detail.clone(),
                text,
                at_ms: e.at,
            }
        })
        .collect();
    Ok((out, regressions))
}

/// The thresholds of a job's alert rules on `metric`, from their events of the last 90 days.
fn thresholds_of(store: &Store, job: &str, metric: &str) -> Result<Vec<f64>, StoreError> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut out: Vec<f64> = Vec::new();
    for e in store.alert_events(now - 90 * DAY_MS)? {
        if e.job != job || e.rule == crate::model::FAILURES_RULE {
            continue;
        }
        let describe = e.detail.split(';').next().unwrap_or("").trim();
        if let Some(r) = parse_describe(describe)
            && crate::model::metric_matches(metric, &r.metric)
            && !out.contains(&r.threshold)
        {
            out.push(r.threshold);
        }
    }
    Ok(out)
}

/// "... of the median of the last 7 runs (50); ..." in a regression's event line: (7, 50).
fn recent_baseline(detail: &str) -> Option<(u32, f64)> {
    let rest = detail.split_once("the median of the last ")?.1;
    let (runs, rest) = rest.split_once(" runs (")?;
    let (value, _) = rest.split_once(')')?;
    Some((runs.parse().ok()?, value.parse().ok()?))
}

/// A rule from its event line's first part: `stats.mem_percent > 85 for 3 of 5`.
fn parse_describe(describe: &str) -> Option<crate::model::Rule> {
    let (when, window) = match describe.split_once(" for ") {
        Some((w, n)) => (w, Some(n)),
        None => (describe, None),
    };
    crate::model::Rule::parse(None, when, window, std::time::Duration::ZERO).ok()
}

/// A rule in `lang`, its threshold with its unit: `stats.mem_percent > 85 % (3 of the last 5
/// samples)`.
pub fn rule_text(r: &crate::model::Rule, lang: Lang) -> String {
    let window = if r.m > 1 {
        crate::i18n::tf(
            lang,
            "s.window",
            &[("n", &r.n.to_string()), ("m", &r.m.to_string())],
        )
    } else {
        crate::i18n::t(lang, "s.window1").to_string()
    };
    format!(
        "{} {} {} ({window})",
        r.metric,
        r.op.symbol(),
        crate::i18n::threshold(&r.metric, r.threshold, lang)
    )
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

/// A duration in milliseconds as people read it, in the report's language.
pub fn fmt_duration(ms: f64, lang: Lang) -> String {
    crate::i18n::duration_ms(ms, lang)
}

pub fn no_data(lang: Lang) -> &'static str {
    crate::i18n::t(lang, "no_data")
}

pub use crate::i18n::{change as fmt_pct, num as fmt_num};

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
                |ms| crate::i18n::datetime_short(ms, tz, lang),
            )
        });
        env.add_filter("dur", move |ms: Option<f64>| -> String {
            ms.map_or_else(|| no_data(lang).to_string(), |ms| fmt_duration(ms, lang))
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
                // The thresholds of the alert rules on this figure, as their events name them.
                let thresholds: Vec<f64> = thresholds_of(&store_c, &job, &metric).map_err(err)?;
                let svg = super::chart::line_chart(&super::chart::ChartSpec {
                    title: &title,
                    unit: &unit,
                    points: &stats::downsample(&pts, 400),
                    baseline,
                    thresholds: &thresholds,
                    timezone: tz,
                    no_data: no_data(lang),
                    lang,
                    metric: &metric,
                });
                Ok(minijinja::Value::from_safe_string(svg))
            },
        );
    }
}
