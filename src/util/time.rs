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
/// What is wrong with `TZ` in the environment, if it is set and names no zone clawcron knows
/// (it is then ignored in favour of /etc/localtime).
pub fn tz_env_problem() -> Option<String> {
    let tz = std::env::var("TZ").ok()?;
    let name = tz.trim_start_matches(':');
    if name.is_empty() || name.parse::<Tz>().is_ok() {
        return None;
    }
    Some(format!(
        "TZ=`{tz}` in the environment is not an IANA time zone (such as Europe/Paris): it is ignored, and times are in {}",
        zone_of_localtime().name()
    ))
}

fn zone_of_localtime() -> Tz {
    std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split_once("zoneinfo/")
                .and_then(|(_, name)| name.parse::<Tz>().ok())
        })
        .unwrap_or(Tz::UTC)
}

pub fn system_timezone() -> Tz {
    if let Ok(tz) = std::env::var("TZ")
        && let Ok(tz) = tz.trim_start_matches(':').parse::<Tz>()
    {
        return tz;
    }
    zone_of_localtime()
}
