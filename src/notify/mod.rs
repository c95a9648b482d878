//! Who is told: notification channels declared in `clawcron.yaml` and referenced by jobs
//! (`notify: {on: [failure, recovery, alert], to: [ops-hook]}`). Every notice is written to the
//! outbox in SQLite first, with an idempotency key, then delivered by the dispatcher with
//! retries and backoff until it is sent, refused for good, or expires (24 h); a restart resumes
//! what was pending. Nothing is sent for an attempt that will be retried: only a run's outcome
//! (and alert transitions) make notices.

pub mod email;
pub mod text;
pub mod webhook;

use crate::model::{Channel, Event, JobSpec, RunOutcome, RunStatus};
use crate::model::{Delivery, Notice};
use crate::store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Channel {
    /// One delivery attempt of `payload` under the idempotency `key`; `retry_at` says when to
    /// try again if it should be.
    /// The notice is written for its reader first: in the language of the job, else of the
    /// channel `name`, else of `clawcron.yaml`.
    pub async fn send(
        &self,
        name: &str,
        key: &str,
        payload: &serde_json::Value,
        templates: &crate::template::Templates,
        timeout: Duration,
        retry_at: i64,
    ) -> Delivery {
        let (payload, templates) = localized(name, payload, templates);
        match self {
            Channel::Webhook(spec) => webhook::send(spec, key, &payload, timeout, retry_at).await,
            Channel::Email(spec) => {
                email::send(spec, key, &payload, &templates, timeout, retry_at).await
            }
        }
    }
}

/// `payload` written for the readers of channel `name`, and the templates in their language.
pub fn localized(
    name: &str,
    payload: &serde_json::Value,
    templates: &crate::template::Templates,
) -> (serde_json::Value, crate::template::Templates) {
    let lang = text::lang_of(
        payload,
        templates.channel_langs.get(name).copied(),
        templates.lang,
    );
    let reader = text::Reader {
        lang,
        tz: text::tz_of(payload, templates.timezone),
        dashboard: templates.dashboard.as_deref(),
    };
    (text::localize(payload, reader), templates.in_lang(lang))
}

/// The event kind recorded (in `alert_events`, rule [`FAILURES`]) when a job's failure streak
/// is told, reminded, or ends.
pub const FAILURES: &str = crate::model::FAILURES_RULE;

/// The fields every v2 notice carries: the data it is written from at send time
/// (see `text::localize`).
fn base(job: &JobSpec, event: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("v".into(), serde_json::json!(2));
    m.insert("event".into(), serde_json::json!(event));
    m.insert("job".into(), serde_json::json!(&*job.id));
    // The job's own zone (a cron's); otherwise the reader's, known at send time.
    if let Some(tz) = job.trigger.tz() {
        m.insert("tz".into(), serde_json::json!(tz.name()));
    }
    if let Some(l) = job.notify.lang {
        m.insert("lang".into(), serde_json::json!(l.code()));
    }
    // English until the channel's reader is known: what `clawcron notifications` shows.
    m.insert(
        "title".into(),
        serde_json::json!(format!("clawcron: {} {event}", job.id)),
    );
    m
}

/// What a finished run's failure streak deserves: the notices, and the events that record what
/// was told (so that the next run knows when the streak was last told).
pub struct RunNotices {
    pub notices: Vec<Notice>,
    pub events: Vec<crate::model::AlertEvent>,
}

/// The notices a finished run deserves. `previous` is the job's previous outcome status and
/// since when it has been failing (Unix ms), if it was. A job's failures are state: one notice
/// when it starts failing, a reminder at most every `notify.repeat` while it keeps failing, one
/// when it works again (`notify.failures: every` tells each failed run instead).
pub fn for_run(
    store: &Store,
    job: &JobSpec,
    run_id: i64,
    outcome: &RunOutcome,
    previous: Option<(RunStatus, i64)>,
) -> RunNotices {
    let mut told = RunNotices {
        notices: Vec::new(),
        events: Vec::new(),
    };
    let failed = matches!(outcome.status, RunStatus::Failed | RunStatus::TimedOut);
    let was_failing = previous
        .filter(|(s, _)| s.is_failure())
        .map(|(_, since)| since);
    let state = job.notify.failures == crate::model::Failures::State;
    let at = outcome.finished_at_ms;
    let since = was_failing.unwrap_or(outcome.started_at_ms);
    let streak = |store: &Store| {
        store.failures_told(&job.id, since).unwrap_or_else(|e| {
            tracing::warn!(job = &*job.id, "cannot read the failure streak: {e}");
            (None, 1)
        })
    };
    let mut events: Vec<(&str, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    let mut record = |kind: &str, detail: String| {
        told.events.push(crate::model::AlertEvent {
            job: job.id.to_string(),
            rule: FAILURES.into(),
            kind: kind.into(),
            value: 0.0,
            detail,
            at,
        })
    };
    if failed && job.notify.on.contains(&Event::Failure) {
        if !state {
            events.push(("failure", serde_json::Map::new()));
        } else {
            let (last_told, count) = if was_failing.is_some() {
                streak(store)
            } else {
                (None, 1)
            };
            let due = last_told.is_none_or(|t| at - t >= job.notify.repeat.as_millis() as i64);
            if due {
                let event = if last_told.is_some() {
                    "failure.repeat"
                } else {
                    "failure"
                };
                let mut extra = serde_json::Map::new();
                extra.insert("failing_since_ms".into(), serde_json::json!(since));
                extra.insert("failures".into(), serde_json::json!(count));
                extra.insert(
                    "repeat_ms".into(),
                    serde_json::json!(job.notify.repeat.as_millis() as i64),
                );
                record(
                    if last_told.is_some() {
                        "failing-repeat"
                    } else {
                        "failing"
                    },
                    format!(
                        "{count} failed run(s) since {}",
                        crate::util::to_utc(since / 1000).to_rfc3339()
                    ),
                );
                events.push((event, extra));
            }
        }
    }
    if outcome.status == RunStatus::Succeeded {
        // A streak never told (quieted by a silence or a maintenance window) ends untold too.
        let told_streak = |store: &Store| if state { streak(store) } else { (Some(0), 0) };
        if let Some(since) = was_failing
            && job.notify.on.contains(&Event::Recovery)
            && let (Some(_), count) = told_streak(store)
        {
            let mut extra = serde_json::Map::new();
            extra.insert("failing_since_ms".into(), serde_json::json!(since));
            extra.insert("failures".into(), serde_json::json!(count));
            if state {
                record(
                    "recovered",
                    format!(
                        "after {count} failed run(s) over {}",
                        crate::i18n::duration_ms((at - since).max(0) as f64, crate::i18n::Lang::En)
                    ),
                );
            }
            events.push(("recovery", extra));
        }
        if job.notify.on.contains(&Event::Success) {
            events.push(("success", serde_json::Map::new()));
        }
    }
    for (event, extra) in events {
        let metrics: serde_json::Map<String, serde_json::Value> = outcome
            .metrics
            .iter()
            .map(|m| (m.name.clone(), serde_json::json!(m.value)))
            .collect();
        let mut p = base(job, event);
        let mut text = format!("{} {event}: {}", job.id, outcome.status.as_str());
        if let Some(e) = &outcome.error {
            text.push_str(&format!(" ({e})"));
        }
        p.insert("text".into(), serde_json::json!(text));
        for (k, v) in [
            ("run_id", serde_json::json!(run_id)),
            ("status", serde_json::json!(outcome.status.as_str())),
            ("started_at_ms", serde_json::json!(outcome.started_at_ms)),
            ("finished_at_ms", serde_json::json!(outcome.finished_at_ms)),
            ("attempts", serde_json::json!(outcome.attempts)),
            ("error", serde_json::json!(outcome.error)),
            ("output_tail", serde_json::json!(outcome.output_tail)),
            ("metrics", serde_json::json!(metrics)),
        ] {
            p.insert(k.into(), v);
        }
        p.extend(extra);
        told.notices.extend(to_channels(
            &job.notify.to,
            &format!("run:{run_id}:{event}"),
            &serde_json::Value::Object(p),
            outcome.finished_at_ms,
        ));
    }
    told
}

/// An alert transition, as a notice is written from it.
#[derive(Debug, Clone, Default)]
pub struct AlertFacts {
    /// `fired`, `repeat`, `resolved`, `remediated`, `remediation-failed`, `escalated`.
    pub kind: String,
    pub value: f64,
    /// The English line of the event log.
    pub detail: String,
    pub at: i64,
    pub samples: Vec<f64>,
    pub since: Option<i64>,
    pub lasted_ms: Option<i64>,
    pub peak: Option<f64>,
    /// A remediation's run, its result, and how much of its budget is used (this one included).
    pub remediation_run: Option<i64>,
    pub used: Option<u32>,
    pub error: Option<String>,
    /// The run that tipped it (or the remediation's), and its output's last lines.
    pub run_id: Option<i64>,
    pub output_tail: Option<String>,
}

/// The notices of an alert transition.
pub fn for_alert(job: &JobSpec, rule: &crate::model::Rule, a: &AlertFacts) -> Vec<Notice> {
    if !job.notify.on.contains(&Event::Alert) {
        return Vec::new();
    }
    let kind = a.kind.as_str();
    let mut p = base(job, &format!("alert.{kind}"));
    p.insert(
        "title".into(),
        serde_json::json!(format!("clawcron: {} {} {kind}", job.id, rule.name)),
    );
    p.insert(
        "text".into(),
        serde_json::json!(format!(
            "{} alert {} {kind}: {}",
            job.id, rule.name, a.detail
        )),
    );
    let remediation = rule.remediate.as_ref().map(|fix| {
        serde_json::json!({
            "action": fix.action.summary(), "max": fix.max, "per_ms": fix.per.as_millis() as i64,
            "used": a.used, "run_id": a.remediation_run, "error": a.error,
        })
    });
    let op = rule.op.symbol();
    p.insert(
        "alert".into(),
        serde_json::json!({
            "name": rule.name, "rule": rule.describe(), "metric": rule.metric, "op": op,
            "threshold": rule.threshold, "n": rule.n, "m": rule.m, "state": kind,
            "value": a.value, "detail": a.detail, "samples": a.samples, "since_ms": a.since,
            "lasted_ms": a.lasted_ms, "peak": a.peak, "remediation": remediation,
            "advice": rule.advice.iter().map(|(l, s)| serde_json::json!([l.map(|l| l.code()), s])).collect::<Vec<_>>(),
        }),
    );
    p.insert("at_ms".into(), serde_json::json!(a.at));
    if let Some(r) = a.run_id {
        p.insert("run_id".into(), serde_json::json!(r));
    }
    if let Some(t) = &a.output_tail {
        p.insert("output_tail".into(), serde_json::json!(t));
    }
    to_channels(
        &job.notify.to,
        &format!("alert:{}:{}:{kind}:{}", job.id, rule.name, a.at),
        &serde_json::Value::Object(p),
        a.at,
    )
}

/// Queues the notice of a regression found in run `run_id`; `others` are the run's other
/// figures, `label` and `pinned_at` the pinned baseline's (when it is one).
pub fn for_regression(
    job: &JobSpec,
    run_id: i64,
    r: &crate::model::Found,
    others: &[(String, f64)],
    pinned: Option<(Option<String>, i64)>,
    at: i64,
) -> Vec<Notice> {
    if !job.notify.on.contains(&Event::Regression) {
        return Vec::new();
    }
    let mut p = base(job, "regression");
    p.insert(
        "text".into(),
        serde_json::json!(format!("{} regression: {}", job.id, r.detail)),
    );
    let others: serde_json::Map<String, serde_json::Value> = others
        .iter()
        .filter(|(k, _)| *k != r.metric)
        .map(|(k, v)| (k.clone(), serde_json::json!(v)))
        .collect();
    let (label, pinned_at) = pinned.map_or((None, None), |(l, t)| (l, Some(t)));
    p.insert(
        "regression".into(),
        serde_json::json!({
            "metric": r.metric, "value": r.value, "baseline": r.baseline, "ratio": r.ratio,
            "detail": r.detail, "label": label, "pinned_at_ms": pinned_at, "others": others,
        }),
    );
    p.insert("run_id".into(), serde_json::json!(run_id));
    p.insert("at_ms".into(), serde_json::json!(at));
    to_channels(
        &job.notify.to,
        &format!("regression:{run_id}:{}", r.metric),
        &serde_json::Value::Object(p),
        at,
    )
}

/// Queues one notice for a catch-up of `job`: how many slots were missed, why, how many ran late.
#[allow(clippy::too_many_arguments)]
pub fn on_missed(
    store: &Store,
    job: &JobSpec,
    reason: &str,
    first: i64,
    last: i64,
    ran: usize,
    skipped: usize,
    now_ms: i64,
) -> usize {
    if !job.notify.on.contains(&Event::Missed) {
        return 0;
    }
    let slot = |t: i64| crate::util::to_utc(t).to_rfc3339();
    let n = ran + skipped;
    let text = format!(
        "{}: {n} slot{} missed ({reason}) from {} to {}: {ran} run late, {skipped} skipped",
        job.id,
        if n == 1 { "" } else { "s" },
        slot(first),
        slot(last)
    );
    let mut p = base(job, "missed");
    p.insert("text".into(), serde_json::json!(text));
    p.insert(
        "missed".into(),
        serde_json::json!({ "reason": reason, "first_slot": slot(first), "last_slot": slot(last),
            "first_ms": first * 1000, "last_ms": last * 1000, "ran_late": ran, "skipped": skipped }),
    );
    queue(
        store,
        &to_channels(
            &job.notify.to,
            &format!("missed:{}:{first}-{last}", job.id),
            &serde_json::Value::Object(p),
            now_ms,
        ),
    )
}

/// `payload` as one notice per channel, keyed `<key>:<channel>`.
pub fn to_channels(
    channels: &[String],
    key: &str,
    payload: &serde_json::Value,
    at_ms: i64,
) -> Vec<Notice> {
    channels
        .iter()
        .map(|channel| Notice {
            key: format!("{key}:{channel}"),
            channel: channel.clone(),
            payload: payload.clone(),
            at_ms,
            quiet: None,
        })
        .collect()
}

/// Queues `payload` for each of `channels` now; returns how many notices were new.
pub fn enqueue_to(
    store: &Store,
    channels: &[String],
    key: &str,
    payload: &serde_json::Value,
    now_ms: i64,
) -> usize {
    queue(store, &to_channels(channels, key, payload, now_ms))
}

/// Queues notices in the outbox now (one transaction; the dispatcher is woken); returns how many
/// were new. A notice that cannot be queued is logged, never an error that climbs the stack.
pub fn queue(store: &Store, notices: &[Notice]) -> usize {
    let r = store.enqueue_notices(notices);
    store.health().observe("a notification", &r);
    r.unwrap_or_else(|e| {
        tracing::warn!("cannot queue {} notification(s): {e}", notices.len());
        0
    })
}

/// The pause before retry number `attempt` (0, 1, ...): `base` doubling, at most 30 min.
pub fn backoff(base: Duration, attempt: i64) -> Duration {
    base.saturating_mul(1 << attempt.clamp(0, 16) as u32)
        .min(Duration::from_secs(1800))
}

/// How long a claimed notice is not picked by another process: until its send is over or this
/// lease ends (a send is bounded by `send_timeout`).
fn lease_ms(send_timeout: Duration) -> i64 {
    2 * send_timeout.as_millis() as i64 + 5_000
}

/// Delivers the outbox until `stop`: each due notice is sent in its own task, bounded by a
/// timeout, and the loop never waits for a send: a hung receiver delays no other notice, not even
/// one queued while it hangs. Then it sleeps until the next due notice, a finished send, or a
/// `wake`.
pub async fn dispatch(
    store: Store,
    channels: Arc<HashMap<String, Channel>>,
    templates: Arc<crate::template::Templates>,
    stop: CancellationToken,
    send_timeout: Duration,
    retry_base: Duration,
    beat: crate::pulse::Beat,
) {
    let wake = store.outbox_wake();
    let lease_ms = lease_ms(send_timeout);
    let mut sends: tokio::task::JoinSet<i64> = tokio::task::JoinSet::new();
    // Notices being sent: not picked again until their send is over.
    let mut inflight: std::collections::HashSet<i64> = std::collections::HashSet::new();
    loop {
        let working = beat.working();
        let now = chrono::Utc::now().timestamp_millis();
        let due = store.claim_notices(now, 64, lease_ms).unwrap_or_else(|e| {
            tracing::warn!("cannot read the outbox: {e}");
            Vec::new()
        });
        let mut waiting_only_on_inflight = !due.is_empty();
        for item in due {
            if !inflight.insert(item.id) {
                continue;
            }
            waiting_only_on_inflight = false;
            let channels = channels.clone();
            let templates = templates.clone();
            let store = store.clone();
            sends.spawn(send_one(
                store,
                channels,
                templates,
                item,
                send_timeout,
                retry_base,
            ));
        }
        let next = store.next_notice_at().ok().flatten();
        // What is due is all being sent: wait for a send to end (or a wake, or a second).
        let next = if waiting_only_on_inflight {
            Some(now + 1000)
        } else {
            next
        };
        let sleep = async {
            match next {
                // Capped: the monotonic timer stops while the machine sleeps.
                Some(at) => {
                    tokio::time::sleep(Duration::from_millis(
                        (at - chrono::Utc::now().timestamp_millis()).clamp(0, 60_000) as u64,
                    ))
                    .await
                }
                None => std::future::pending().await,
            }
        };
        drop(working);
        tokio::select! {
            () = stop.cancelled() => {
                // Sends under way may finish (each is bounded by its timeout): one cut short
                // after the receiver took it would be sent again at the next start.
                let _ = tokio::time::timeout(send_timeout, async {
                    while sends.join_next().await.is_some() {}
                })
                .await;
                return;
            }
            () = wake.notified() => {}
            () = sleep => {}
            Some(done) = sends.join_next(), if !sends.is_empty() => {
                if let Ok(id) = done {
                    inflight.remove(&id);
                }
            }
        }
    }
}

/// Sends one claimed notice (bounded by `send_timeout`) and records how it went; returns its id.
async fn send_one(
    store: Store,
    channels: Arc<HashMap<String, Channel>>,
    templates: Arc<crate::template::Templates>,
    item: crate::store::OutboxItem,
    send_timeout: Duration,
    retry_base: Duration,
) -> i64 {
    let retry_at = chrono::Utc::now().timestamp_millis()
        + backoff(retry_base, item.attempts).as_millis() as i64;
    let outcome = match channels.get(&item.channel) {
        None => Delivery::Failed {
            error: format!("no channel `{}` in clawcron.yaml", item.channel),
        },
        Some(channel) => {
            let payload: serde_json::Value =
                serde_json::from_str(&item.payload).unwrap_or_default();
            channel
                .send(
                    &item.channel,
                    &item.key,
                    &payload,
                    &templates,
                    send_timeout,
                    retry_at,
                )
                .await
        }
    };
    match &outcome {
        Delivery::Sent { .. } => {
            tracing::info!(channel = item.channel, key = item.key, "notification sent")
        }
        Delivery::Retry { error, .. } => tracing::warn!(
            channel = item.channel,
            key = item.key,
            "notification not delivered, will retry: {error}"
        ),
        Delivery::Failed { error } => tracing::warn!(
            channel = item.channel,
            key = item.key,
            "notification refused, not retried: {error}"
        ),
    }
    if let Err(e) = store.record_delivery(item.id, &outcome, chrono::Utc::now().timestamp_millis())
    {
        tracing::warn!("cannot record a delivery: {e}");
    }
    item.id
}

/// Sends every notice due now, once, and returns when each send is over (each bounded by
/// `send_timeout`): a `clawcron trigger` run without a daemon delivers its own notices before it
/// exits. What is not delivered stays in the outbox for the daemon's next start.
pub async fn deliver_due(
    store: Store,
    channels: Arc<HashMap<String, Channel>>,
    templates: Arc<crate::template::Templates>,
    send_timeout: Duration,
    retry_base: Duration,
) -> usize {
    let lease_ms = lease_ms(send_timeout);
    let now = chrono::Utc::now().timestamp_millis();
    let due = store.claim_notices(now, 256, lease_ms).unwrap_or_else(|e| {
        tracing::warn!("cannot read the outbox: {e}");
        Vec::new()
    });
    let n = due.len();
    let mut sends = tokio::task::JoinSet::new();
    for item in due {
        sends.spawn(send_one(
            store.clone(),
            channels.clone(),
            templates.clone(),
            item,
            send_timeout,
            retry_base,
        ));
    }
    let _ = tokio::time::timeout(send_timeout + Duration::from_secs(1), async {
        while sends.join_next().await.is_some() {}
    })
    .await;
    n
}
