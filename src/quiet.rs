//! What is not to be run or told now, for the runner's admission and its after-run stage:
//! - a **paused** job's automatic slots are recorded `skipped: paused (reason)`;
//! - a **silence** (one-off, from `clawcron silence` or the API; or recurring quiet hours from
//!   `clawcron.yaml`) records the notices it covers, with why, and sends none;
//! - a **maintenance window**, opened by a run of a job with `maintenance: {quiets: [...]}` (or
//!   a `docker.restart` remediation, over its own job) for the run and its grace: the quieted
//!   jobs' breaching samples do not count toward a rule, and their failures and alert
//!   transitions are recorded, not told. A resolved notice is always told: its incident was told
//!   before the window (nothing fires inside one).
//!
//! Pauses and silences live in the ledger (they survive restarts and hold for every process on
//! it); the runner reads pauses at most once a second, silences whenever it has notices to
//! queue. Windows are kept in memory by the runner that opens them, and in the ledger for a
//! restart.

use crate::model::{Pause, QuietHours, Window};
use crate::store::Store;
use chrono::{Datelike, Timelike};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How stale the runner's copy of the pauses may be (a pause from the CLI holds within this).
const PAUSES_FRESH: Duration = Duration::from_secs(1);

pub struct Quiet {
    store: Store,
    hours: Vec<QuietHours>,
    tz: chrono_tz::Tz,
    pauses: Mutex<(Option<Instant>, HashMap<String, Pause>)>,
    windows: Mutex<Vec<Window>>,
    /// In a cluster: when the windows were last read from the ledger (another node's
    /// maintenance run opens windows too).
    windows_read: Mutex<Option<Instant>>,
    /// Woken when silences change (the API in this process, or the command line through the
    /// control socket): the daemon's silence watcher reads them then, and polls nothing.
    pub silences: tokio::sync::Notify,
}

impl Quiet {
    /// Reads the open windows (closing those a crashed daemon left open, at `now + grace`).
    pub fn new(store: Store, hours: Vec<QuietHours>, tz: chrono_tz::Tz, now_ms: i64) -> Quiet {
        let stale = crate::model::REMEDIATION_GRACE.as_millis() as i64;
        let windows = store.open_windows(now_ms, Some(stale)).unwrap_or_else(|e| {
            tracing::warn!("cannot read the maintenance windows: {e}");
            Vec::new()
        });
        Quiet {
            store,
            hours,
            tz,
            pauses: Mutex::new((None, HashMap::new())),
            windows: Mutex::new(windows),
            windows_read: Mutex::new(Some(Instant::now())),
            silences: tokio::sync::Notify::new(),
        }
    }

    /// Silences were added or ended: the watcher reads them again now.
    pub fn silences_changed(&self) {
        self.silences.notify_one();
    }

    /// Nothing quiet (tests, a CLI run without a daemon reads the ledger's pauses still).
    pub fn none(store: Store) -> Quiet {
        Quiet::new(store, Vec::new(), chrono_tz::UTC, 0)
    }

    /// The job's pause, if it is paused.
    pub fn paused(&self, job: &str) -> Option<Pause> {
        let mut p = self.pauses.lock().unwrap_or_else(|e| e.into_inner());
        // In a cluster, the claim of the slot being started read them: no other round trip.
        if let Some(seen) = self.store.claimed_quiet()
            && p.0.is_none_or(|at| seen.at > at)
        {
            p.1 = by_job(seen.pauses);
            p.0 = Some(seen.at);
        }
        if p.0.is_none_or(|at| at.elapsed() >= PAUSES_FRESH) {
            match self.store.pauses() {
                Ok(list) => p.1 = by_job(list),
                Err(e) => tracing::warn!("cannot read the paused jobs: {e}"),
            }
            p.0 = Some(Instant::now());
        }
        p.1.get(job).cloned()
    }

    /// The pauses changed (through this process): read them again at the next question.
    pub fn pauses_changed(&self) {
        self.store.forget_claimed_quiet();
        self.pauses.lock().unwrap_or_else(|e| e.into_inner()).0 = None;
    }

    /// Opens a window of `run_id` of `by_job` over `quiets` at `now_ms`; returns its id.
    pub fn open(&self, by_job: &str, run_id: i64, quiets: &[String], now_ms: i64) -> Option<i64> {
        match self.store.open_window(by_job, run_id, quiets, now_ms) {
            Ok(id) => {
                self.windows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Window {
                        id,
                        by_job: by_job.to_string(),
                        run_id,
                        quiets: quiets.to_vec(),
                        started_at_ms: now_ms,
                        ends_at_ms: None,
                    });
                Some(id)
            }
            Err(e) => {
                tracing::warn!(job = by_job, "cannot record the maintenance window: {e}");
                None
            }
        }
    }

    /// Window `id` ends at `ends_ms` (its run's end plus the grace).
    pub fn close(&self, id: i64, ends_ms: i64) {
        if let Err(e) = self.store.close_window(id, ends_ms) {
            tracing::warn!("cannot record the end of a maintenance window: {e}");
        }
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        for x in w.iter_mut().filter(|x| x.id == id) {
            x.ends_at_ms = Some(ends_ms);
        }
    }

    /// The maintenance window `job` is in at `at_ms`, as a reason: `quiet: maintenance by
    /// gateway-restart run 17`.
    pub fn maintenance(&self, job: &str, at_ms: i64) -> Option<String> {
        if self.store.node().is_some() {
            let mut read = self.windows_read.lock().unwrap_or_else(|e| e.into_inner());
            // The claim of the slot being started read them: no other round trip.
            if let Some(seen) = self.store.claimed_quiet()
                && read.is_none_or(|at| seen.at > at)
            {
                *self.windows.lock().unwrap_or_else(|e| e.into_inner()) = seen.windows;
                *read = Some(seen.at);
            }
            if read.is_none_or(|at| at.elapsed() >= PAUSES_FRESH) {
                match self.store.open_windows(at_ms, None) {
                    Ok(list) => *self.windows.lock().unwrap_or_else(|e| e.into_inner()) = list,
                    Err(e) => tracing::warn!("cannot read the maintenance windows: {e}"),
                }
                *read = Some(Instant::now());
            }
        }
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        // Windows over long ago are forgotten.
        w.retain(|x| x.ends_at_ms.is_none_or(|e| e + 3_600_000 > at_ms));
        w.iter()
            .find(|x| {
                x.quiets.iter().any(|q| q == job)
                    && x.started_at_ms <= at_ms
                    && x.ends_at_ms.is_none_or(|e| at_ms < e)
            })
            .map(|x| format!("quiet: maintenance by {} run {}", x.by_job, x.run_id))
    }

    /// What covers notices queued at `at_ms`: the active silences are read once for them all.
    pub fn at(&self, at_ms: i64) -> Judge<'_> {
        let silences = self.store.active_silences(at_ms).unwrap_or_else(|e| {
            tracing::warn!("cannot read the silences: {e}");
            Vec::new()
        });
        Judge {
            quiet: self,
            silences,
            at_ms,
        }
    }
}

/// The silences, quiet hours and windows at one instant, for the notices queued then.
pub struct Judge<'q> {
    quiet: &'q Quiet,
    silences: Vec<crate::model::Silence>,
    at_ms: i64,
}

impl Judge<'_> {
    /// Why a notice of `job` (for `rule`, if an alert's) is recorded and not sent: a silence,
    /// quiet hours, or (except a resolution) a maintenance window.
    pub fn why(&self, job: &str, rule: Option<&str>, event: &str) -> Option<String> {
        if let Some(s) = self
            .silences
            .iter()
            .find(|s| s.job == job && s.rule.as_deref().is_none_or(|r| Some(r) == rule))
        {
            return Some(format!(
                "silenced: {} (silence {}, by {})",
                s.reason, s.id, s.by
            ));
        }
        let q = self.quiet;
        if let Some(h) = q
            .hours
            .iter()
            .find(|h| in_hours(h, job, rule, self.at_ms, q.tz))
        {
            return Some(format!("silenced: {}", h.reason));
        }
        if event != "alert.resolved" {
            return q.maintenance(job, self.at_ms);
        }
        None
    }
}

/// Whether quiet hours `h` cover a notice of `job` (`rule`) at `at_ms` in `tz`.
pub fn in_hours(
    h: &QuietHours,
    job: &str,
    rule: Option<&str>,
    at_ms: i64,
    tz: chrono_tz::Tz,
) -> bool {
    if !h.jobs.is_empty() && !h.jobs.iter().any(|j| j == job) {
        return false;
    }
    if !h.rules.is_empty() && !rule.is_some_and(|r| h.rules.iter().any(|x| x == r)) {
        return false;
    }
    let t = crate::util::to_utc(at_ms.div_euclid(1000)).with_timezone(&tz);
    let minute = t.hour() * 60 + t.minute();
    let day = t.weekday();
    let yesterday = day.pred();
    if h.times.is_empty() {
        return h.days.is_empty() || h.days.contains(&day);
    }
    h.times.iter().any(|&(a, b)| {
        if a <= b {
            (h.days.is_empty() || h.days.contains(&day)) && minute >= a && minute < b
        } else {
            // Across midnight: the evening belongs to its day, the morning to the day before.
            (minute >= a && (h.days.is_empty() || h.days.contains(&day)))
                || (minute < b && (h.days.is_empty() || h.days.contains(&yesterday)))
        }
    })
}

/// Pauses by job.
fn by_job(pauses: Vec<Pause>) -> HashMap<String, Pause> {
    pauses.into_iter().map(|x| (x.job.clone(), x)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono::Weekday::{Sat, Sun};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn weekend_quiet_hours_hold_in_the_zone_and_across_midnight() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let weekend = QuietHours {
            jobs: vec!["nightly-benchmark".into()],
            rules: vec![],
            days: vec![Sat, Sun],
            times: vec![],
            reason: "weekend".into(),
        };
        // Saturday 5 and Sunday 6 December 2026; Monday 7.
        assert!(in_hours(
            &weekend,
            "nightly-benchmark",
            None,
            at(2026, 12, 5, 0, 1),
            tz
        ));
        assert!(in_hours(
            &weekend,
            "nightly-benchmark",
            Some("slow"),
            at(2026, 12, 6, 23, 59),
            tz
        ));
        assert!(!in_hours(
            &weekend,
            "nightly-benchmark",
            None,
            at(2026, 12, 7, 0, 0),
            tz
        ));
        assert!(!in_hours(
            &weekend,
            "gateway-health",
            None,
            at(2026, 12, 5, 12, 0),
            tz
        ));
        let nights = QuietHours {
            jobs: vec![],
            rules: vec!["latency-high".into()],
            days: vec![Sat],
            times: vec![(22 * 60, 7 * 60)],
            reason: "nights".into(),
        };
        // Saturday 23:00 and Sunday 06:59 are Saturday's night; Sunday 23:00 is not.
        assert!(in_hours(
            &nights,
            "x",
            Some("latency-high"),
            at(2026, 12, 5, 23, 0),
            tz
        ));
        assert!(in_hours(
            &nights,
            "x",
            Some("latency-high"),
            at(2026, 12, 6, 6, 59),
            tz
        ));
        assert!(!in_hours(
            &nights,
            "x",
            Some("latency-high"),
            at(2026, 12, 6, 23, 0),
            tz
        ));
        assert!(!in_hours(
            &nights,
            "x",
            Some("cpu-high"),
            at(2026, 12, 5, 23, 0),
            tz
        ));
        assert!(!in_hours(&nights, "x", None, at(2026, 12, 5, 23, 0), tz));
    }
}
