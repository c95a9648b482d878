//! Backfill: the past slots of a window that failed, were missed or were paused, judged from
//! their ledger rows and run again, one after another, each with its original slot (trigger
//! `backfill`) through the runner's one pipeline. It does not decide admission (the runner
//! does) nor when slots are (the schedule does).

use crate::model::{JobSpec, RunStatus, Trigger};
use crate::runner::Runner;
use crate::store::{Store, StoreError};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A window holds at most this many slots (a minutely job over a week is 10,080).
pub const MAX_SLOTS: usize = 100_000;

/// A window of slots, Unix seconds, both ends included.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
    #[serde(default)]
    pub dry_run: bool,
}

/// What a backfill did (or, dry, would do), slot by slot.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    /// Slots of the schedule in the window.
    pub slots: usize,
    /// Slots that already succeeded (or run now): never run again.
    pub done: usize,
    /// Slots whose row says neither failed, missed nor paused (an overlap skip, an interrupted
    /// run): left as they are.
    pub left: usize,
    /// Slots with no row (pruned by retention, or before the job existed): not judged, not run.
    pub not_judged: usize,
    pub dry_run: bool,
    /// The slots that qualified, oldest first.
    pub runs: Vec<SlotRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SlotRun {
    pub slot: i64,
    /// Why it qualified: "failed", "timed out", the missed or paused reason.
    pub why: String,
    /// The backfill run's row (`None`: dry run, or the slot was taken meanwhile).
    pub run_id: Option<i64>,
    pub status: Option<String>,
    /// The run's error or reason.
    pub detail: Option<String>,
}

impl Report {
    /// Any backfilled run that did not succeed.
    pub fn any_failed(&self) -> bool {
        self.runs.iter().any(|r| {
            r.status
                .as_deref()
                .and_then(RunStatus::parse)
                .is_some_and(|s| s != RunStatus::Succeeded)
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("job `{0}` is disabled (enabled: false): enable it to backfill it")]
    Disabled(String),
    #[error("job `{0}` has no clock slots ({1}): there is nothing to backfill")]
    NoSlots(String, String),
    #[error("the window ends before it starts")]
    Empty,
    #[error("the window holds more than {MAX_SLOTS} slots: backfill a shorter one")]
    TooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a slot's rows make it qualify, `Ok(None)` if they do not, `Err(done)` if it is done.
fn judge(rows: &[(i64, String, Option<String>)]) -> Result<Option<String>, ()> {
    let mut why = None;
    for (_, status, reason) in rows {
        let reason = reason.as_deref().unwrap_or("");
        match RunStatus::parse(status) {
            Some(RunStatus::Succeeded | RunStatus::Running) => return Err(()),
            Some(RunStatus::Failed) => why = Some("failed".to_string()),
            Some(RunStatus::TimedOut) => why = Some("timed out".to_string()),
            Some(RunStatus::Skipped)
                if reason.starts_with("missed") || reason.starts_with("paused") =>
            {
                why = Some(reason.to_string())
            }
            _ => {}
        }
    }
    Ok(why)
}

/// Judges each slot of `window` from its rows.
pub fn plan(store: &Store, job: &JobSpec, window: Window) -> Result<Report, BackfillError> {
    if !job.enabled {
        return Err(BackfillError::Disabled(job.id.to_string()));
    }
    if matches!(job.trigger, Trigger::AtStart | Trigger::Chained) {
        return Err(BackfillError::NoSlots(
            job.id.to_string(),
            job.describe_trigger(),
        ));
    }
    if window.to < window.from {
        return Err(BackfillError::Empty);
    }
    let slots = job
        .trigger
        .slots_between(window.from - 1, window.to, MAX_SLOTS);
    if slots.truncated {
        return Err(BackfillError::TooLong);
    }
    // Outcomes still on their way to the ledger are in it before it is read.
    store.flush();
    let rows = store.slot_rows(&job.id, window.from, window.to)?;
    let mut report = Report {
        slots: slots.slots.len(),
        dry_run: window.dry_run,
        ..Report::default()
    };
    for slot in slots.slots {
        let mine: Vec<_> = rows.iter().filter(|r| r.0 == slot).cloned().collect();
        if mine.is_empty() {
            report.not_judged += 1;
            continue;
        }
        match judge(&mine) {
            Err(()) => report.done += 1,
            Ok(None) => report.left += 1,
            Ok(Some(why)) => report.runs.push(SlotRun {
                slot,
                why,
                run_id: None,
                status: None,
                detail: None,
            }),
        }
    }
    Ok(report)
}

/// Plans the window, then (unless dry) runs each qualifying slot in turn, waiting for each.
pub async fn run(
    runner: &Runner,
    store: &Store,
    job: &JobSpec,
    window: Window,
) -> Result<Report, BackfillError> {
    let mut report = plan(store, job, window)?;
    if window.dry_run {
        return Ok(report);
    }
    for slot in &mut report.runs {
        match runner.backfill(job, slot.slot).await? {
            Some((run_id, outcome)) => {
                slot.run_id = Some(run_id);
                slot.status = Some(outcome.status.as_str().to_string());
                slot.detail = outcome.error.or(outcome.reason);
            }
            None => slot.detail = Some("already done or running".into()),
        }
    }
    Ok(report)
}

/// An instant as `--from`/`--to` take it: RFC 3339, or `YYYY-MM-DD[THH:MM[:SS]]` (a space for
/// the `T` too) in `tz`. A bare date is the day's start, or with `end_of_day` its last second
/// (so `--to 2026-11-07` includes that day).
pub fn parse_instant(text: &str, tz: Tz, end_of_day: bool) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    let local = if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        if end_of_day {
            return local_to_utc(start + chrono::Duration::days(1), tz).map(|t| t - 1);
        }
        start
    } else {
        let t = text.replacen(' ', "T", 1);
        ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&t, f).ok())
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a time: use RFC 3339 (2026-11-01T03:00:00Z) or YYYY-MM-DD[THH:MM] in {tz}"
                )
            })?
    };
    local_to_utc(local, tz)
}

fn local_to_utc(t: NaiveDateTime, tz: Tz) -> Result<i64, String> {
    tz.from_local_datetime(&t)
        .earliest()
        .map(|t| t.timestamp())
        .ok_or_else(|| format!("{t} does not exist in {tz} (a DST gap)"))
}
