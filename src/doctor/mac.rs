//! What a Mac does to a LaunchAgent that a terminal never shows: it sleeps through the night's
//! slots unless a wake is scheduled (`pmset`), and its privacy protection (TCC) silently denies
//! an agent without Full Disk Access the folders it guards. Pure functions of captured text and
//! paths, so that both are tested on any OS; only `doctor` runs `pmset`, and only on macOS.

use chrono::NaiveTime;
use std::path::{Path, PathBuf};

/// The folders of the home that macOS's privacy protection keeps from a LaunchAgent without
/// Full Disk Access (relative to the home), and what System Settings calls them.
const PROTECTED: &[(&str, &str)] = &[
    ("Documents", "Documents"),
    ("Desktop", "Desktop"),
    ("Downloads", "Downloads"),
    ("Library/Mobile Documents", "iCloud Drive"),
];

/// The protected folder `path` lives in (`Documents`, `iCloud Drive`...), if any.
pub fn protected_folder(path: &Path, home: &Path) -> Option<&'static str> {
    let rel = path.strip_prefix(home).ok()?;
    PROTECTED
        .iter()
        .find(|(dir, _)| rel.starts_with(dir))
        .map(|(_, name)| *name)
}

/// Each (what, path) that lives in a protected folder: `(what, path, folder)`.
pub fn privacy_problems<'a>(
    paths: &'a [(String, PathBuf)],
    home: &Path,
) -> Vec<(&'a str, &'a Path, &'static str)> {
    paths
        .iter()
        .filter_map(|(what, p)| {
            protected_folder(p, home).map(|folder| (what.as_str(), p.as_path(), folder))
        })
        .collect()
}

/// A repeating power event, from `pmset -g sched`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatingEvent {
    /// As pmset prints it: `wake`, `wakepoweron`, `poweron`, `sleep`, `shutdown`, `restart`.
    pub kind: String,
    pub time: NaiveTime,
    /// As pmset prints them: `every day`, `weekdays only`, `weekends only`, or day names.
    pub days: String,
}

impl RepeatingEvent {
    /// Whether it brings a sleeping Mac up.
    pub fn wakes(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "wake" | "wakepoweron" | "wakeorpoweron" | "poweron"
        )
    }

    pub fn every_day(&self) -> bool {
        self.days.trim() == "every day"
    }
}

/// The repeating events of `pmset -g sched` (one-time events are not a nightly guarantee and
/// are left out).
pub fn parse_sched(text: &str) -> Vec<RepeatingEvent> {
    let mut out = Vec::new();
    let mut in_repeating = false;
    for line in text.lines() {
        let t = line.trim();
        if t.ends_with("power events:") {
            in_repeating = t.starts_with("Repeating");
            continue;
        }
        if !in_repeating || t.is_empty() {
            continue;
        }
        // `wakepoweron at 2:55AM every day`
        let Some((kind, rest)) = t.split_once(" at ") else {
            continue;
        };
        let (clock, days) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Some(time) = parse_clock(clock) {
            out.push(RepeatingEvent {
                kind: kind.trim().to_string(),
                time,
                days: days.trim().to_string(),
            });
        }
    }
    out
}

/// `2:55AM`, `12:00PM` or `14:30` (pmset prints the first).
fn parse_clock(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    let (hm, pm) = if let Some(x) = s.strip_suffix("AM") {
        (x, Some(false))
    } else if let Some(x) = s.strip_suffix("PM") {
        (x, Some(true))
    } else {
        (s, None)
    };
    let mut parts = hm.split(':');
    let h: u32 = parts.next()?.trim().parse().ok()?;
    let m: u32 = parts.next()?.trim().parse().ok()?;
    let sec: u32 = parts.next().map_or(Some(0), |x| x.trim().parse().ok())?;
    let h = match pm {
        Some(false) if h == 12 => 0,
        Some(true) if h < 12 => h + 12,
        _ => h,
    };
    NaiveTime::from_hms_opt(h, m, sec)
}

/// The system sleep timer of `pmset -g` ("Currently in use"), in minutes; 0 is never.
pub fn parse_sleep_minutes(text: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "sleep")
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// What doctor says about sleep: `None` when nothing needs saying (the Mac never sleeps, or a
/// daily wake comes before the first night slot); else the problem and its fix.
pub fn sleep_advice(
    sleep_minutes: Option<u32>,
    wakes: &[RepeatingEvent],
    night_slots: &[(String, NaiveTime)],
) -> Option<(String, String)> {
    let (first_job, first) = night_slots.iter().min_by_key(|(_, t)| *t)?;
    if sleep_minutes == Some(0) {
        return None;
    }
    let wake_before = wakes
        .iter()
        .filter(|w| w.wakes() && w.every_day() && w.time <= *first)
        .max_by_key(|w| w.time);
    if wake_before.is_some() {
        return None;
    }
    let at = *first - chrono::Duration::minutes(5);
    let sleeps = match sleep_minutes {
        Some(m) => format!("this Mac sleeps after {m} min idle"),
        None => "this Mac may sleep (pmset shows no sleep timer)".into(),
    };
    let jobs: Vec<String> = night_slots
        .iter()
        .map(|(j, t)| format!("{j} at {}", t.format("%H:%M")))
        .collect();
    let other = wakes
        .iter()
        .filter(|w| w.wakes())
        .map(|w| {
            format!(
                " (the wake scheduled is {} at {} {})",
                w.kind,
                w.time.format("%H:%M"),
                w.days
            )
        })
        .next()
        .unwrap_or_default();
    Some((
        format!(
            "{sleeps} and no daily wake comes before {first_job} at {}{other}: the night's jobs ({}) wait until it wakes, then follow their `missed` policy",
            first.format("%H:%M"),
            jobs.join(", ")
        ),
        format!(
            "schedule a daily wake (it needs sudo; your choice): sudo pmset repeat wakeorpoweron MTWRFSU {}",
            at.format("%H:%M:%S")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pmset -g` on a Mac mini (macOS Sonoma), as printed.
    const PMSET_G: &str = "System-wide power settings:
Currently in use:
 disksleep            10
 powernap             1
 womp                 1
 networkoversleep     0
 sleep                10 (sleep prevented by sharingd, powerd, bluetoothd)
 Sleep On Power Button 1
 ttyskeepawake        1
 tcpkeepalive         1
 autorestart          1
 standby              0
 displaysleep         10
";

    const PMSET_G_NEVER: &str = "System-wide power settings:
Currently in use:
 standby              0
 Sleep On Power Button 1
 hibernatefile        /var/vm/sleepimage
 powernap             1
 networkoversleep     0
 disksleep            0
 sleep                0
 hibernatemode        0
 ttyskeepawake        1
 displaysleep         15
 tcpkeepalive         1
 womp                 1
";

    /// `pmset -g sched` after `sudo pmset repeat wakeorpoweron MTWRFSU 02:55:00`, with a
    /// one-time wake an app asked for.
    const SCHED_DAILY: &str = "Repeating power events:
  wakepoweron at 2:55AM every day
Scheduled power events:
 [0]  wake at 12/03/2026 07:00:00 by 'com.apple.alarm.user-visible-com.apple.CalendarNotification'
";

    const SCHED_WEEKDAYS: &str = "Repeating power events:
  wakepoweron at 8:00AM weekdays only
  shutdown at 11:30PM every day
";

    const SCHED_NONE: &str = "";

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn parses_pmset_outputs() {
        assert_eq!(parse_sleep_minutes(PMSET_G), Some(10));
        assert_eq!(parse_sleep_minutes(PMSET_G_NEVER), Some(0));
        assert_eq!(parse_sleep_minutes(""), None);
        assert_eq!(
            parse_sched(SCHED_DAILY),
            [RepeatingEvent {
                kind: "wakepoweron".into(),
                time: t(2, 55),
                days: "every day".into()
            }]
        );
        let w = parse_sched(SCHED_WEEKDAYS);
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].time, w[0].wakes(), w[0].every_day()),
            (t(8, 0), true, false)
        );
        assert_eq!((w[1].time, w[1].wakes()), (t(23, 30), false));
        assert!(parse_sched(SCHED_NONE).is_empty());
        assert_eq!(parse_clock("12:05AM"), Some(t(0, 5)));
        assert_eq!(parse_clock("12:05PM"), Some(t(12, 5)));
    }

    #[test]
    fn advises_a_wake_before_the_first_night_slot() {
        let night = vec![
            ("nightly-benchmark".to_string(), t(3, 30)),
            ("gateway-restart".to_string(), t(3, 0)),
        ];
        let (what, fix) = sleep_advice(
            parse_sleep_minutes(PMSET_G),
            &parse_sched(SCHED_WEEKDAYS),
            &night,
        )
        .unwrap();
        assert_eq!(
            what,
            "this Mac sleeps after 10 min idle and no daily wake comes before gateway-restart at 03:00 (the wake scheduled is wakepoweron at 08:00 weekdays only): the night's jobs (nightly-benchmark at 03:30, gateway-restart at 03:00) wait until it wakes, then follow their `missed` policy"
        );
        assert_eq!(
            fix,
            "schedule a daily wake (it needs sudo; your choice): sudo pmset repeat wakeorpoweron MTWRFSU 02:55:00"
        );
        // A daily wake at 2:55, a Mac that never sleeps, or no night job: nothing to say.
        assert_eq!(
            sleep_advice(Some(10), &parse_sched(SCHED_DAILY), &night),
            None
        );
        assert_eq!(
            sleep_advice(parse_sleep_minutes(PMSET_G_NEVER), &[], &night),
            None
        );
        assert_eq!(sleep_advice(Some(10), &[], &[]), None);
    }

    #[test]
    fn finds_paths_in_protected_folders() {
        let home = Path::new("/Users/me");
        let paths = vec![
            (
                "job file".to_string(),
                PathBuf::from("/Users/me/Documents/clawcron/jobs/a.yaml"),
            ),
            (
                "state directory".to_string(),
                PathBuf::from("/Users/me/Library/Application Support/clawcron"),
            ),
            (
                "template".to_string(),
                PathBuf::from("/Users/me/Library/Mobile Documents/com~apple~CloudDocs/t.j2"),
            ),
            (
                "jobs folder".to_string(),
                PathBuf::from("/Users/me/Desktop/jobs"),
            ),
            (
                "config".to_string(),
                PathBuf::from("/Users/me/Documentsx/clawcron.yaml"),
            ),
        ];
        let found = privacy_problems(&paths, home);
        let names: Vec<(&str, &str)> = found.iter().map(|(w, _, f)| (*w, *f)).collect();
        assert_eq!(
            names,
            [
                ("job file", "Documents"),
                ("template", "iCloud Drive"),
                ("jobs folder", "Desktop")
            ]
        );
    }
}
