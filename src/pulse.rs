//! Which of the daemon's parts is stuck. Each part (a loop: the scheduler, the notices, the
//! reloader, ...) says when it goes to work and when it waits again; a part at work for longer
//! than a bound is stuck, and `/healthz` names it and since when. A part that waits, for a
//! second or for months, is not stuck: waiting is what parts do. Reading a part's state wakes
//! nothing, so an idle daemon stays idle however often it is asked.
//!
//! A leaf: plain atomics and names.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// One part's state: the instant (Unix ms) it went to work, 0 while it waits.
#[derive(Debug, Clone, Default)]
pub struct Beat(Arc<AtomicI64>);

/// A part at work; it waits again when this is dropped.
#[must_use = "the part is at work until this is dropped"]
pub struct Working<'a>(&'a Beat);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.0.store(0, Ordering::SeqCst);
    }
}

impl Beat {
    /// The part goes to work (until the guard is dropped).
    pub fn working(&self) -> Working<'_> {
        self.0.store(now_ms().max(1), Ordering::SeqCst);
        Working(self)
    }

    /// Since when the part has been at work, if it is.
    pub fn busy_since(&self) -> Option<i64> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            t => Some(t),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The daemon's parts, by name.
#[derive(Debug, Clone, Default)]
pub struct Parts(Arc<Mutex<Vec<(&'static str, Beat)>>>);

/// A part that has been at work too long.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stuck {
    pub part: &'static str,
    /// Unix ms.
    pub since_ms: i64,
}

impl Parts {
    /// Registers part `name` and returns its beat.
    pub fn part(&self, name: &'static str) -> Beat {
        let beat = Beat::default();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name, beat.clone()));
        beat
    }

    /// The parts at work since before `now_ms - bound_ms`.
    pub fn stuck(&self, now_ms: i64, bound_ms: i64) -> Vec<Stuck> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(|(part, b)| {
                let since_ms = b.busy_since()?;
                (now_ms - since_ms > bound_ms).then_some(Stuck { part, since_ms })
            })
            .collect()
    }

    /// The names of the parts registered.
    pub fn names(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(n, _)| *n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_at_work_past_the_bound_is_stuck_and_a_waiting_one_never_is() {
        let parts = Parts::default();
        let sleeper = parts.part("sleeper");
        let worker = parts.part("worker");
        assert_eq!(sleeper.busy_since(), None);
        let now = now_ms();
        assert!(
            parts.stuck(now + 86_400_000 * 90, 1000).is_empty(),
            "months of waiting"
        );
        let w = worker.working();
        let since = worker.busy_since().unwrap();
        assert!(parts.stuck(since + 500, 1000).is_empty());
        assert_eq!(
            parts.stuck(since + 1500, 1000),
            vec![Stuck {
                part: "worker",
                since_ms: since
            }]
        );
        drop(w);
        assert!(parts.stuck(since + 1500, 1000).is_empty());
        assert_eq!(parts.names(), vec!["sleeper", "worker"]);
    }
}
