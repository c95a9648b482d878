//! When a job was asked to fire: a cron expression in a time zone, an interval, or at start.
//! Plain data; the arithmetic of slots is in `schedule`.

use chrono_tz::Tz;

/// A validated cron expression in a time zone. Only the text is kept, plus one precomputed
/// answer: a parsed croner table carries a ~5 KB year bitfield (50 MB at 10,000 jobs) and takes
/// ~25 us to build, so the parse done at load time also records the first slot after the load
/// instant (`hint`), which the scheduler's first question reuses; later questions re-parse.
#[derive(Clone, PartialEq, Eq)]
pub struct CronSchedule {
    pub(crate) expr: Box<str>,
    pub(crate) tz: Tz,
    /// For any `t` in `[hint.0, hint.1)`, the next slot after `t` is `hint.1`.
    pub(crate) hint: (i64, i64),
}

// Without the hint: two loads of the same expression compare (and print) the same.
impl std::fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expr", &self.expr)
            .field("tz", &self.tz)
            .finish()
    }
}

/// What makes a job fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Cron(CronSchedule),
    /// Slots at whole multiples of this many seconds since the Unix epoch.
    Every(u64),
    /// Once when the daemon starts, at most once per boot.
    AtStart,
    /// No schedule of its own: the job runs only when chained (`after:`), or by hand.
    Chained,
}
