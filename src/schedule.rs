//! When a job fires: cron expressions (croner, in the job's time zone), `every` intervals anchored
//! at the Unix epoch, and `at_start`. Pure functions of time: "the next slot strictly after t".
//!
//! Instants are whole seconds since the Unix epoch (UTC). The DST rule is croner's (cronie's):
//! a fixed-time slot in a skipped hour runs at the first valid instant after the gap; in a
//! repeated hour it runs once, on the first pass; interval patterns run on both passes and have
//! no slots inside a gap. See `../shared/TIME.md` and the README.

use crate::model::{CronSchedule, Trigger};
use chrono::{DateTime, LocalResult, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl CronSchedule {
    /// Parses and checks `expr` (5 fields, or 6 with seconds first, or an `@daily`-style alias).
    pub fn parse(expr: &str, tz: Tz) -> Result<Self, String> {
        Self::parse_at(expr, tz, Utc::now().timestamp())
    }

    /// As `parse`, precomputing the first slot after `now`.
    pub fn parse_at(expr: &str, tz: Tz, now: i64) -> Result<Self, String> {
        let trimmed = expr.trim();
        if let Some(rest) = trimmed.strip_prefix("@every") {
            let d = rest.trim();
            return Err(format!(
                "`{trimmed}` is not a cron schedule: write `every: {}` instead of `schedule:`",
                if d.is_empty() { "5m" } else { d }
            ));
        }
        if trimmed == "@reboot" {
            return Err(
                "`@reboot` is not a cron schedule: write `at_start: true` instead of `schedule:` (once per boot; at login with launchd)".into(),
            );
        }
        let fields = expr.split_whitespace().count();
        if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first); `{expr}` has {fields}"
            ));
        }
        // croner takes `,` and `1,,2` as lists with empty items, which match nothing, and then
        // searches for a next slot without end (found by fuzzing): refuse them here.
        if !expr.trim_start().starts_with('@') {
            let names = if fields == 6 {
                &[
                    "second",
                    "minute",
                    "hour",
                    "day-of-month",
                    "month",
                    "day-of-week",
                ][..]
            } else {
                &["minute", "hour", "day-of-month", "month", "day-of-week"][..]
            };
            for (field, name) in expr.split_whitespace().zip(names) {
                if field.split(',').any(|item| item.is_empty()) {
                    return Err(format!(
                        "the {name} field `{field}` has an empty list item (a stray comma)"
                    ));
                }
                // `*/61` parses, but a step as long as the field fires once per turn of the
                // next field up (`*/61` minutes is hourly): refuse it rather than surprise.
                let size = match *name {
                    "second" | "minute" => 60,
                    "hour" => 24,
                    "day-of-month" => 31,
                    "month" => 12,
                    _ => 7,
                };
                for item in field.split(',') {
                    if let Some((_, step)) = item.split_once('/')
                        && let Ok(step) = step.parse::<u32>()
                        && step >= size
                    {
                        return Err(format!(
                            "the {name} field `{field}` steps by {step}, but the field has only {size} values: it would fire once per {}; use a smaller step, or a single value",
                            match *name {
                                "second" => "minute",
                                "minute" => "hour",
                                "hour" => "day",
                                "day-of-month" => "month",
                                "month" => "year",
                                _ => "week",
                            }
                        ));
                    }
                }
            }
        }
        let cron = parser()
            .parse(expr)
            .map_err(|e| explain_parse_error(expr, &e))?;
        // An expression such as `0 0 30 2 *` parses but never fires; say so now, not never.
        let next = next_with(&cron, tz, now)
            .ok_or_else(|| format!("cron expression `{expr}` never fires"))?;
        Ok(CronSchedule {
            expr: expr.trim().into(),
            tz,
            hint: (now, next),
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    fn cron(&self) -> Option<Arc<Cron>> {
        // Validated in `parse`, so this only fails if croner changes its mind; callers treat
        // `None` as "no further slot", which stops the job rather than the daemon.
        PARSED.get(&self.expr)
    }

    /// The next slot strictly after `t` (whole seconds).
    pub fn next_after(&self, t: i64) -> Option<i64> {
        if self.hint.0 <= t && t < self.hint.1 {
            return Some(self.hint.1);
        }
        next_with(&*self.cron()?, self.tz, t)
    }

    /// `(hour, minute, second)` when the pattern is fixed-time (each a single number).
    pub fn fixed_time(&self) -> Option<NaiveTime> {
        let cron = self.cron()?;
        if cron.determine_job_type() != croner::JobType::FixedTime {
            return None;
        }
        fixed_time_of(&cron)
    }
}

/// Parsed expressions shared by the jobs that use them (`*/5 * * * *` is common), bounded so
/// that 10,000 distinct yearly expressions do not keep 50 MB of year tables.
static PARSED: ParseCache = ParseCache::new();

struct ParseCache {
    map: Mutex<Option<HashMap<Box<str>, Arc<Cron>>>>,
}

impl ParseCache {
    const MAX: usize = 256;

    const fn new() -> Self {
        ParseCache {
            map: Mutex::new(None),
        }
    }

    fn get(&self, expr: &str) -> Option<Arc<Cron>> {
        if let Some(c) = self.map.lock().ok()?.as_ref().and_then(|m| m.get(expr)) {
            return Some(c.clone());
        }
        let cron = Arc::new(parser().parse(expr).ok()?);
        let mut guard = self.map.lock().ok()?;
        let map = guard.get_or_insert_with(HashMap::new);
        if map.len() >= Self::MAX {
            // Crude but bounded: start afresh; the jobs that fire often come back at once.
            map.clear();
        }
        map.insert(expr.into(), cron.clone());
        Some(cron)
    }
}

/// The next slot strictly after `t`. croner carries a fixed-time slot across a gap of at most
/// two hours; a zone that skipped a whole date (Pacific/Apia went from 29 to 31 December 2011)
/// makes it give up, so such a gap is crossed here, by the same rule: a fixed-time slot whose
/// wall time the gap skipped runs once, at the first instant after it; interval slots in it do
/// not exist; the job goes on from there.
fn next_with(cron: &Cron, tz: Tz, t: i64) -> Option<i64> {
    let mut from = tz.timestamp_opt(t, 0).single()?;
    let mut inclusive = false;
    // Each turn crosses one gap croner could not; zones have never skipped two in a row.
    for _ in 0..4 {
        if let Ok(next) = cron.find_next_occurrence(&from, inclusive) {
            return Some(next.timestamp());
        }
        let gap = long_gap_after(tz, from.timestamp())?;
        if cron.determine_job_type() == croner::JobType::FixedTime && gap.skips_a_slot_of(cron) {
            return Some(gap.end);
        }
        from = tz.timestamp_opt(gap.end, 0).single()?;
        inclusive = true;
    }
    None
}

/// A stretch of wall-clock time a zone skipped: local `from..until` did not exist, and `end` is
/// the first instant after it.
struct Gap {
    from: chrono::NaiveDateTime,
    until: chrono::NaiveDateTime,
    end: i64,
}

impl Gap {
    /// Whether a wall time the fixed-time `cron` schedules fell in the gap.
    fn skips_a_slot_of(&self, cron: &Cron) -> bool {
        let mut day = self.from.date();
        while day <= self.until.date() {
            if let Some(time) = fixed_time_of(cron) {
                let wall = day.and_time(time);
                if self.from <= wall
                    && wall < self.until
                    && cron
                        .is_time_matching(&Utc.from_utc_datetime(&wall))
                        .unwrap_or(false)
                {
                    return true;
                }
            }
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
        false
    }
}

/// The time of day of a fixed-time pattern.
fn fixed_time_of(cron: &Cron) -> Option<NaiveTime> {
    let one = |c: &croner::CronComponent| c.values().first().copied();
    NaiveTime::from_hms_opt(
        u32::from(one(&cron.pattern.hours)?),
        u32::from(one(&cron.pattern.minutes)?),
        u32::from(one(&cron.pattern.seconds)?),
    )
}

/// The first gap of more than two hours (longer than croner crosses) within 400 days after `t`.
fn long_gap_after(tz: Tz, t: i64) -> Option<Gap> {
    use chrono::Offset;
    let offset = |at: i64| -> Option<i64> {
        let utc = DateTime::from_timestamp(at, 0)?.naive_utc();
        Some(i64::from(
            tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
        ))
    };
    const HOUR: i64 = 3600;
    let mut at = t;
    let mut before = offset(at)?;
    while at < t + 400 * 24 * HOUR {
        let after = offset(at + HOUR)?;
        if after - before > 2 * HOUR {
            // The change lies in (at, at + 1 h]: find its instant.
            let (mut lo, mut hi) = (at, at + HOUR);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(mid)? == before {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            let wall =
                |at: i64, off: i64| DateTime::from_timestamp(at + off, 0).map(|d| d.naive_utc());
            return Some(Gap {
                from: wall(hi, before)?,
                until: wall(hi, after)?,
                end: hi,
            });
        }
        at += HOUR;
        before = after;
    }
    None
}

/// Names the field that makes `expr` invalid, found by parsing each field alone.
fn explain_parse_error(expr: &str, err: &croner::errors::CronError) -> String {
    const FIVE: [(&str, &str); 5] = [
        ("minute", "0-59"),
        ("hour", "0-23"),
        ("day-of-month", "1-31, L, W"),
        ("month", "1-12 or JAN-DEC"),
        ("day-of-week", "0-7 or SUN-SAT, L, #"),
    ];
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let names: Vec<(&str, &str)> = match fields.len() {
        5 => FIVE.to_vec(),
        6 => std::iter::once(("second", "0-59")).chain(FIVE).collect(),
        _ => return format!("invalid cron expression `{expr}`: {err}"),
    };
    for (i, field) in fields.iter().enumerate() {
        let mut probe = vec!["*"; fields.len()];
        probe[i] = field;
        if parser().parse(&probe.join(" ")).is_err() {
            let (name, range) = names[i];
            return format!(
                "invalid cron expression `{expr}`: the {name} field `{field}` is not valid (allowed: {range})"
            );
        }
    }
    format!("invalid cron expression `{expr}`: {err}")
}

impl Trigger {
    /// The next slot strictly after `t`, or `None` for `at_start` (and for a schedule that ends).
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match self {
            Trigger::Cron(c) => c.next_after(t),
            Trigger::Every(period) => {
                let p = i64::try_from(*period).ok().filter(|p| *p > 0)?;
                Some((t.div_euclid(p) + 1) * p)
            }
            Trigger::AtStart | Trigger::Chained => None,
        }
    }

    /// Slots in `(after, until]`, oldest first, at most `limit` of them (one parse of the
    /// expression, however many slots).
    pub fn slots_between(&self, after: i64, until: i64, limit: usize) -> Window {
        let parsed;
        let next: Box<dyn Fn(i64) -> Option<i64> + '_> = match self {
            Trigger::Cron(c) if !(c.hint.0 <= after && after < c.hint.1 && c.hint.1 > until) => {
                match c.cron() {
                    Some(cron) => {
                        parsed = cron;
                        Box::new(|t| next_with(&parsed, c.tz, t))
                    }
                    None => Box::new(|_| None),
                }
            }
            other => Box::new(move |t| other.next_after(t)),
        };
        let mut w = Window {
            slots: Vec::new(),
            next: None,
            truncated: false,
        };
        let mut t = after;
        while let Some(n) = next(t) {
            if n > until {
                w.next = Some(n);
                return w;
            }
            if w.slots.len() == limit {
                w.truncated = true;
                break;
            }
            w.slots.push(n);
            t = n;
        }
        if !w.truncated {
            return w;
        }
        // More than `limit` slots: keep the newest `limit`, found walking back from `until`;
        // those are the ones a `latest` or `all` policy may still run.
        w.slots = self.newest_slots(after, until, limit);
        w.next = next(until);
        w
    }

    /// The newest `limit` slots in `(after, until]`, oldest first.
    fn newest_slots(&self, after: i64, until: i64, limit: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(limit);
        match self {
            Trigger::Every(p) => {
                let p = i64::try_from(*p).unwrap_or(i64::MAX).max(1);
                let mut t = until.div_euclid(p) * p;
                while t > after && out.len() < limit {
                    out.push(t);
                    t -= p;
                }
            }
            Trigger::Cron(c) => {
                if let Some(cron) = c.cron() {
                    let mut from = c.tz.timestamp_opt(until, 0).single();
                    let mut inclusive = true;
                    while let Some(f) = from {
                        let Ok(prev) = cron.find_previous_occurrence(&f, inclusive) else {
                            break;
                        };
                        if prev.timestamp() <= after || out.len() == limit {
                            break;
                        }
                        out.push(prev.timestamp());
                        from = Some(prev);
                        inclusive = false;
                    }
                }
            }
            Trigger::AtStart | Trigger::Chained => {}
        }
        out.reverse();
        out
    }

    pub fn tz(&self) -> Option<Tz> {
        match self {
            Trigger::Cron(c) => Some(c.tz()),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Trigger::Cron(c) => format!("cron \"{}\" ({})", c.expr(), c.tz()),
            Trigger::Every(s) => format!(
                "every {}",
                crate::util::duration::format(Duration::from_secs(*s))
            ),
            Trigger::AtStart => "at start".into(),
            Trigger::Chained => "only when chained".into(),
        }
    }
}

impl crate::model::JobSpec {
    /// What makes the job run, as `list` and the dashboard show it: its schedule, its chain, or
    /// both (`every 1h; after gateway-restart (success)`).
    pub fn describe_trigger(&self) -> String {
        match (&self.trigger, &self.after) {
            (_, None) => self.trigger.describe(),
            (Trigger::Chained, Some(a)) => a.describe(),
            (t, Some(a)) => format!("{}; {}", t.describe(), a.describe()),
        }
    }
}

/// The slots in a time window, and the first slot after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub slots: Vec<i64>,
    /// The first slot after the window (unknown when `truncated`).
    pub next: Option<i64>,
    /// More than `limit` slots fell in the window; the rest were not listed.
    pub truncated: bool,
}

/// How a slot relates to a DST transition, for `clawcron next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstMark {
    /// A fixed-time slot whose wall time did not exist; it runs at the first instant after the gap.
    ShiftedFromGap(NaiveTime),
    /// The zone skipped this whole date; its fixed-time slot runs at the first instant after it.
    DateSkipped(chrono::NaiveDate, NaiveTime),
    /// The slot's wall time happens twice that night; this is the first pass.
    RepeatedFirstPass,
    /// The slot's wall time happens twice that night; this is the second pass.
    RepeatedSecondPass,
}

impl DstMark {
    pub fn describe(&self) -> String {
        match self {
            DstMark::ShiftedFromGap(t) => format!(
                "DST gap: {} does not exist, runs at the end of the gap",
                t.format("%H:%M:%S")
            ),
            DstMark::DateSkipped(d, t) => format!(
                "date skipped: the zone went past {d}; its {} runs at the end of the gap",
                t.format("%H:%M:%S")
            ),
            DstMark::RepeatedFirstPass => "DST repeat: first pass".into(),
            DstMark::RepeatedSecondPass => "DST repeat: second pass".into(),
        }
    }
}

/// Marks a slot of `schedule` that a DST transition moved or doubled.
pub fn dst_mark(schedule: &CronSchedule, slot: i64) -> Option<DstMark> {
    let tz = schedule.tz();
    let local = tz.timestamp_opt(slot, 0).single()?;
    if let Some(fixed) = schedule.fixed_time()
        && local.time() != fixed
    {
        let before = tz.timestamp_opt(slot - 1, 0).single()?.date_naive();
        return Some(match before.succ_opt() {
            Some(skipped) if skipped < local.date_naive() => DstMark::DateSkipped(skipped, fixed),
            _ => DstMark::ShiftedFromGap(fixed),
        });
    }
    match tz.from_local_datetime(&local.naive_local()) {
        LocalResult::Ambiguous(first, _) if first.timestamp() == slot => {
            Some(DstMark::RepeatedFirstPass)
        }
        LocalResult::Ambiguous(..) => Some(DstMark::RepeatedSecondPass),
        _ => None,
    }
}
