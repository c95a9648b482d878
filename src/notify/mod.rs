//! Who is told: notification channels declared in `clawcron.yaml` and referenced by jobs
//! (`notify: {on: [failure, recovery, alert], to: [ops-hook]}`). Every notice is written to the
//! outbox in SQLite first, with an idempotency key, then delivered by the dispatcher with
//! retries and backoff until it is sent, refused for good, or expires (24 h); a restart resumes
//! what was pending. Nothing is sent for an attempt that will be retried: only a run's outcome
//! (and alert transitions) make notices.

pub mod email;
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
    pub async fn send(
        &self,
        key: &str,
        payload: &serde_json::Value,
        templates: &crate::template::Templates,
        timeout: Duration,
        retry_at: i64,
    ) -> Delivery {
        match self {
            Channel::Webhook(spec) => webhook::send(spec, key, payload, timeout, retry_at).await,
            Channel::Email(spec) => {
                email::send(spec, key, payload, templates, timeout, retry_at).await
            }
        }
    }
}

fn text_of(job: &JobSpec, event: &str, outcome: &RunOutcome, extra: &str) -> (String, String) {
    let title = format!("clawcron: {} {event}", job.id);
    let mut text = format!("{} {event}: {}", job.id, outcome.status.as_str());
    if let Some(e) = &outcome.error {
        text.push_str(&format!(" ({e})"));
    }
    text.push_str(extra);
    (title, text)
}

/// Queues the notices a finished run deserves. `previous` is the job's previous outcome status
/// and since when it has been failing (Unix ms), if it was.
pub fn for_run(
    job: &JobSpec,
    run_id: i64,
    outcome: &RunOutcome,
    previous: Option<(RunStatus, i64)>,
) -> Vec<Notice> {
    let failed = matches!(outcome.status, RunStatus::Failed | RunStatus::TimedOut);
    let was_failing = previous.as_ref().filter(|(s, _)| s.is_failure());
    let mut events: Vec<(&str, String)> = Vec::new();
    if failed && job.notify.on.contains(&Event::Failure) {
        events.push(("failure", String::new()));
    }
    if outcome.status == RunStatus::Succeeded {
        if let Some((_, since)) = was_failing
            && job.notify.on.contains(&Event::Recovery)
        {
            let failing_for = Duration::from_millis((outcome.finished_at_ms - since).max(0) as u64);
            events.push((
                "recovery",
                format!(
                    "; it had been failing for {}",
                    crate::util::duration::format(failing_for)
                ),
            ));
        }
        if job.notify.on.contains(&Event::Success) {
            events.push(("success", String::new()));
        }
    }
    let mut out = Vec::new();
    for (event, extra) in events {
        let (title, text) = text_of(job, event, outcome, &extra);
        let metrics: serde_json::Map<String, serde_json::Value> = outcome
            .metrics
            .iter()
            .map(|m| (m.name.clone(), serde_json::json!(m.value)))
            .collect();
        let payload = serde_json::json!({
            "event": event, "title": title, "text": text, "job": &*job.id, "run_id": run_id,
            "status": outcome.status.as_str(), "started_at_ms": outcome.started_at_ms, "finished_at_ms": outcome.finished_at_ms,
            "attempts": outcome.attempts, "error": outcome.error, "output_tail": outcome.output_tail, "metrics": metrics,
        });
        out.extend(to_channels(
            &job.notify.to,
            &format!("run:{run_id}:{event}"),
            &payload,
            outcome.finished_at_ms,
        ));
    }
    out
}

/// Queues the notices of an alert transition.
pub fn for_alert(
    job: &JobSpec,
    rule: &crate::model::Rule,
    kind: &str,
    value: f64,
    detail: &str,
    at: i64,
) -> Vec<Notice> {
    if !job.notify.on.contains(&Event::Alert) {
        return Vec::new();
    }
    let title = format!("clawcron: {} {} {kind}", job.id, rule.name);
    let text = format!(
        "{} alert {} {kind}: value {value}; {detail}",
        job.id, rule.name
    );
    let payload = serde_json::json!({
        "event": format!("alert.{kind}"), "title": title, "text": text, "job": &*job.id,
        "alert": { "name": rule.name, "rule": rule.describe(), "state": kind, "value": value, "detail": detail }, "at_ms": at,
    });
    to_channels(
        &job.notify.to,
        &format!("alert:{}:{}:{kind}:{at}", job.id, rule.name),
        &payload,
        at,
    )
}

/// Queues the notice of a regression found in run `run_id`.
pub fn for_regression(job: &JobSpec, run_id: i64, r: &crate::model::Found, at: i64) -> Vec<Notice> {
    if !job.notify.on.contains(&Event::Regression) {
        return Vec::new();
    }
    let text = format!("{} regression: {}", job.id, r.detail);
    let payload = serde_json::json!({
        "event": "regression", "title": format!("clawcron: {} regression", job.id), "text": text,
        "job": &*job.id, "run_id": run_id,
        "regression": { "metric": r.metric, "value": r.value, "baseline": r.baseline, "ratio": r.ratio, "detail": r.detail },
        "at_ms": at,
    });
    to_channels(
        &job.notify.to,
        &format!("regression:{run_id}:{}", r.metric),
        &payload,
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
    let payload = serde_json::json!({
        "event": "missed", "title": format!("clawcron: {} missed slots", job.id), "text": text, "job": &*job.id,
        "missed": { "reason": reason, "first_slot": slot(first), "last_slot": slot(last), "ran_late": ran, "skipped": skipped },
    });
    queue(
        store,
        &to_channels(
            &job.notify.to,
            &format!("missed:{}:{first}-{last}", job.id),
            &payload,
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
) {
    let wake = store.outbox_wake();
    let lease_ms = lease_ms(send_timeout);
    let mut sends: tokio::task::JoinSet<i64> = tokio::task::JoinSet::new();
    // Notices being sent: not picked again until their send is over.
    let mut inflight: std::collections::HashSet<i64> = std::collections::HashSet::new();
    loop {
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
                .send(&item.key, &payload, &templates, send_timeout, retry_at)
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
