//! The `report` job kind's settings: which week, which language, which sources and evidence.
//! Plain data; rendering is in `report`.

use super::action::ActionSpec;
use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::path::PathBuf;

pub use crate::i18n::Lang;

/// Which week a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodSpec {
    LastWeek,
    ThisWeek,
    Week { year: i32, week: u32 },
}

impl PeriodSpec {
    /// `last-week`, `this-week` or `YYYY-Www`.
    pub fn parse(s: &str) -> Result<PeriodSpec, String> {
        match s {
            "last-week" => Ok(PeriodSpec::LastWeek),
            "this-week" => Ok(PeriodSpec::ThisWeek),
            _ => {
                let bad =
                    || format!("`{s}` is not last-week, this-week or an ISO week like 2026-W47");
                let (y, w) = s.split_once("-W").ok_or_else(bad)?;
                let year: i32 = y.parse().map_err(|_| bad())?;
                let week: u32 = w.parse().map_err(|_| bad())?;
                NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).ok_or_else(bad)?;
                Ok(PeriodSpec::Week { year, week })
            }
        }
    }

    /// The period this names at `now_ms`, in `tz`.
    pub fn resolve(&self, now_ms: i64, tz: Tz) -> Period {
        let today = crate::util::to_utc(now_ms.div_euclid(1000))
            .with_timezone(&tz)
            .date_naive();
        let this = today.iso_week();
        let monday = NaiveDate::from_isoywd_opt(this.year(), this.week(), chrono::Weekday::Mon)
            .unwrap_or(today);
        let start = match self {
            PeriodSpec::ThisWeek => monday,
            PeriodSpec::LastWeek => monday - chrono::Duration::days(7),
            PeriodSpec::Week { year, week } => {
                NaiveDate::from_isoywd_opt(*year, *week, chrono::Weekday::Mon).unwrap_or(monday)
            }
        };
        Period::week_of(start, tz)
    }
}

/// A half-open span `[start_ms, end_ms)` with its name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Period {
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Period {
    /// The ISO week that starts on `monday` (local midnight to local midnight, so a DST week is
    /// 167 or 169 hours long).
    pub fn week_of(monday: NaiveDate, tz: Tz) -> Period {
        let midnight = |d: NaiveDate| {
            let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&naive).earliest().map_or_else(
                || naive.and_utc().timestamp_millis(),
                |t| t.timestamp_millis(),
            )
        };
        let w = monday.iso_week();
        Period {
            label: format!("{}-W{:02}", w.year(), w.week()),
            start_ms: midnight(monday),
            end_ms: midnight(monday + chrono::Duration::days(7)),
        }
    }

    /// The week before this one.
    pub fn previous(&self, tz: Tz) -> Period {
        let start = crate::util::to_utc(self.start_ms.div_euclid(1000))
            .with_timezone(&tz)
            .date_naive();
        Period::week_of(start - chrono::Duration::days(7), tz)
    }
}

/// Which recorded figures the recommendations read: `job/metric` (or `job/alert` for alerts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub tokens_per_s: (String, String),
    pub latency_ms: (String, String),
    pub memory_percent: (String, String),
    pub memory_alert: (String, String),
    pub restart_job: String,
    pub preload_job: String,
}

impl Default for Sources {
    fn default() -> Self {
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        Sources {
            tokens_per_s: pair("nightly-benchmark", "ollama.tokens_per_s"),
            latency_ms: pair("gateway-health", "ready.total_ms"),
            memory_percent: pair("gateway-health", "stats.mem_percent"),
            memory_alert: pair("gateway-health", "memory-high"),
            restart_job: "gateway-restart".into(),
            preload_job: "model-preload".into(),
        }
    }
}

/// Where the checklist's evidence comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    /// The gateway's container (its memory limit, whether it was OOM-killed).
    pub container: Option<String>,
    pub docker_host: Option<String>,
    /// Ollama, for `/api/ps` (loaded models and their share in GPU memory).
    pub ollama_url: Option<String>,
    /// Docker's memory is "raised" when the engine has at least this much.
    pub min_docker_memory_gib: u32,
}

/// A checklist line the job file declares: a probe whose success ticks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub action: ActionSpec,
}

/// The `report` job kind's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    pub title: String,
    /// Template base name: `<template>[.fr].md.j2` and `.html.j2` in the templates folder.
    pub template: String,
    pub lang: Lang,
    pub period: PeriodSpec,
    pub out_dir: PathBuf,
    pub templates_dir: PathBuf,
    pub timezone: Tz,
    /// Channels the report is sent through.
    pub send_to: Vec<String>,
    pub sources: Sources,
    pub evidence: Evidence,
    pub checks: Vec<Check>,
}

impl ReportSpec {
    /// The default title in each language.
    pub fn default_title(lang: Lang) -> &'static str {
        match lang {
            Lang::En => "OpenClaw weekly report",
            Lang::Fr => "Rapport hebdomadaire OpenClaw",
        }
    }

    /// Writes it in `lang` (`report --lang`): a default title follows.
    pub fn set_lang(&mut self, lang: Lang) {
        if self.title == Self::default_title(self.lang) {
            self.title = Self::default_title(lang).to_string();
        }
        self.lang = lang;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_in_a_time_zone() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        // Wednesday 2026-11-25 12:00 UTC is in 2026-W48; last week is W47 (Mon 16 to Mon 23).
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .unwrap()
            .timestamp_millis();
        let p = PeriodSpec::LastWeek.resolve(now, tz);
        assert_eq!(p.label, "2026-W47");
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 11, 15, 23, 0, 0)
            .unwrap();
        assert_eq!(p.start_ms, start.timestamp_millis());
        assert_eq!(p.end_ms - p.start_ms, 7 * 86_400_000);
        assert_eq!(p.previous(tz).label, "2026-W46");
        // The week of the autumn DST change is 169 hours long.
        let dst = PeriodSpec::parse("2026-W43").unwrap().resolve(now, tz);
        assert_eq!(dst.end_ms - dst.start_ms, 169 * 3_600_000);
        assert!(PeriodSpec::parse("2026-W54").is_err());
        assert!(PeriodSpec::parse("yesterday").is_err());
    }
}
