//! Instants as whole seconds since the Unix epoch, and the machine's time zone.

use chrono::{DateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Whole seconds since the epoch for a wall-clock instant, rounded down.
pub fn floor_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// An instant as a UTC date-time (whole seconds).
pub fn to_utc(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0)
        .single()
        .unwrap_or_default()
        .with_nanosecond(0)
        .unwrap_or_default()
}

/// The machine's time zone: `$TZ`, else the `/etc/localtime` link, else UTC.
pub fn system_timezone() -> Tz {
    if let Ok(tz) = std::env::var("TZ")
        && let Ok(tz) = tz.trim_start_matches(':').parse::<Tz>()
    {
        return tz;
    }
    std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split_once("zoneinfo/")
                .and_then(|(_, name)| name.parse::<Tz>().ok())
        })
        .unwrap_or(Tz::UTC)
}
