//! Golden values for the DST rule (cronie's, as croner implements it): a fixed-time slot in a
//! skipped hour runs at the first instant after the gap; in a repeated hour it runs once, on the
//! first pass; interval patterns have no slots in a gap and run on both passes of a repeat.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use clawcron::model::{CronSchedule, Trigger};
use clawcron::schedule::{DstMark, dst_mark};

fn ts(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

fn utc(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The slots of `expr` in `tz` strictly after `from`, up to and including `until`.
fn slots(expr: &str, tz: &str, from: &str, until: &str) -> Vec<String> {
    let trigger = Trigger::Cron(CronSchedule::parse(expr, tz.parse().unwrap()).unwrap());
    let w = trigger.slots_between(ts(from), ts(until), 1000);
    assert!(!w.truncated);
    w.slots.into_iter().map(utc).collect()
}

#[test]
fn paris_spring_forward_2026_03_29() {
    // 02:00 CET jumps to 03:00 CEST at 01:00Z: local 02:00-02:59 does not exist.
    assert_eq!(
        slots(
            "0 30 2 * * *",
            "Europe/Paris",
            "2026-03-27T12:00:00Z",
            "2026-03-30T12:00:00Z"
        ),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z"
        ],
        "02:30 runs at 03:00 CEST (the end of the gap) on the night it does not exist"
    );
    assert_eq!(
        slots(
            "0 0 3 * * *",
            "Europe/Paris",
            "2026-03-27T12:00:00Z",
            "2026-03-30T12:00:00Z"
        ),
        [
            "2026-03-28T02:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T01:00:00Z"
        ]
    );
    assert_eq!(
        slots(
            "0 */30 * * * *",
            "Europe/Paris",
            "2026-03-28T22:59:59Z",
            "2026-03-29T01:30:00Z"
        ),
        [
            "2026-03-28T23:00:00Z", // 00:00 CET
            "2026-03-28T23:30:00Z", // 00:30 CET
            "2026-03-29T00:00:00Z", // 01:00 CET
            "2026-03-29T00:30:00Z", // 01:30 CET
            "2026-03-29T01:00:00Z", // 03:00 CEST: no slot inside the gap
            "2026-03-29T01:30:00Z", // 03:30 CEST
        ]
    );
}

#[test]
fn paris_fall_back_2026_10_25() {
    // 03:00 CEST goes back to 02:00 CET at 01:00Z: local 02:00-02:59 happens twice.
    assert_eq!(
        slots(
            "0 30 2 * * *",
            "Europe/Paris",
            "2026-10-23T12:00:00Z",
            "2026-10-26T12:00:00Z"
        ),
        [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z"
        ],
        "02:30 runs once, on the first pass (CEST)"
    );
    assert_eq!(
        slots(
            "0 0 3 * * *",
            "Europe/Paris",
            "2026-10-23T12:00:00Z",
            "2026-10-26T12:00:00Z"
        ),
        [
            "2026-10-24T01:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-26T02:00:00Z"
        ]
    );
    assert_eq!(
        slots(
            "0 */30 * * * *",
            "Europe/Paris",
            "2026-10-24T22:59:59Z",
            "2026-10-25T02:00:00Z"
        ),
        [
            "2026-10-24T23:00:00Z", // 01:00 CEST
            "2026-10-24T23:30:00Z", // 01:30 CEST
            "2026-10-25T00:00:00Z", // 02:00 CEST, first pass
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:00:00Z", // 02:00 CET, second pass
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-25T02:00:00Z", // 03:00 CET
        ],
        "an interval pattern runs four times between 02:00 and 03:00 local on the repeated night"
    );
}

#[test]
fn new_york_2026() {
    // 2026-03-08 02:00 EST -> 03:00 EDT at 07:00Z; 2026-11-01 02:00 EDT -> 01:00 EST at 06:00Z.
    assert_eq!(
        slots(
            "0 30 2 * * *",
            "America/New_York",
            "2026-03-07T00:00:00Z",
            "2026-03-09T12:00:00Z"
        ),
        [
            "2026-03-07T07:30:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:30:00Z"
        ]
    );
    assert_eq!(
        slots(
            "0 30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            "2026-11-02T12:00:00Z"
        ),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"],
        "01:30 runs once, at 01:30 EDT"
    );
    assert_eq!(
        slots(
            "0 0,30 1 * * *",
            "America/New_York",
            "2026-11-01T04:00:00Z",
            "2026-11-01T07:00:00Z"
        ),
        [
            "2026-11-01T05:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z"
        ],
        "a list in the minute field is an interval pattern: both passes"
    );
}

#[test]
fn sydney_2026() {
    // 2026-04-05 03:00 AEDT -> 02:00 AEST at 16:00Z (04-04); 2026-10-04 02:00 AEST -> 03:00 AEDT at 16:00Z (10-03).
    assert_eq!(
        slots(
            "0 30 2 * * *",
            "Australia/Sydney",
            "2026-04-03T12:00:00Z",
            "2026-04-05T18:00:00Z"
        ),
        [
            "2026-04-03T15:30:00Z",
            "2026-04-04T15:30:00Z",
            "2026-04-05T16:30:00Z"
        ]
    );
    assert_eq!(
        slots(
            "0 30 2 * * *",
            "Australia/Sydney",
            "2026-10-02T12:00:00Z",
            "2026-10-04T18:00:00Z"
        ),
        [
            "2026-10-02T16:30:00Z",
            "2026-10-03T16:00:00Z",
            "2026-10-04T15:30:00Z"
        ]
    );
}

#[test]
fn next_marks_shifted_and_repeated_slots() {
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let fixed = CronSchedule::parse("0 30 2 * * *", paris).unwrap();
    let gap_slot = ts("2026-03-29T01:00:00Z");
    assert!(matches!(
        dst_mark(&fixed, gap_slot),
        Some(DstMark::ShiftedFromGap(_))
    ));
    assert_eq!(dst_mark(&fixed, ts("2026-03-30T00:30:00Z")), None);
    assert_eq!(
        dst_mark(&fixed, ts("2026-10-25T00:30:00Z")),
        Some(DstMark::RepeatedFirstPass)
    );
    let every = CronSchedule::parse("0 */30 * * * *", paris).unwrap();
    assert_eq!(
        dst_mark(&every, ts("2026-10-25T01:30:00Z")),
        Some(DstMark::RepeatedSecondPass)
    );
}

#[test]
fn every_is_anchored_at_the_epoch_and_ignores_dst() {
    let t = Trigger::Every(300);
    assert_eq!(
        t.next_after(ts("2026-03-29T00:58:20Z")),
        Some(ts("2026-03-29T01:00:00Z"))
    );
    let w = t.slots_between(ts("2026-10-25T00:00:00Z"), ts("2026-10-25T02:00:00Z"), 100);
    assert_eq!(w.next, Some(ts("2026-10-25T02:05:00Z")));
    assert_eq!(
        w.slots.len(),
        24,
        "two hours of 5-minute slots across the fall-back, no double, no gap"
    );
}

#[test]
fn aliases_l_w_and_hash() {
    let utc: chrono_tz::Tz = "UTC".parse().unwrap();
    let t = |e: &str| Trigger::Cron(CronSchedule::parse(e, utc).unwrap());
    assert_eq!(
        utc_next(&t("@hourly"), "2026-01-01T00:10:00Z"),
        "2026-01-01T01:00:00Z"
    );
    assert_eq!(
        utc_next(&t("@daily"), "2026-01-01T00:10:00Z"),
        "2026-01-02T00:00:00Z"
    );
    assert_eq!(
        utc_next(&t("0 0 L * *"), "2026-02-01T00:00:00Z"),
        "2026-02-28T00:00:00Z"
    );
    assert_eq!(
        utc_next(&t("0 0 15W * *"), "2026-08-01T00:00:00Z"),
        "2026-08-14T00:00:00Z"
    ); // the 15th is a Saturday
    assert_eq!(
        utc_next(&t("0 0 * * 1#2"), "2026-11-01T00:00:00Z"),
        "2026-11-09T00:00:00Z"
    ); // second Monday
    assert_eq!(
        utc_next(&t("0 0 * * 5L"), "2026-11-01T00:00:00Z"),
        "2026-11-27T00:00:00Z"
    ); // last Friday
}

fn utc_next(t: &Trigger, from: &str) -> String {
    utc(t.next_after(ts(from)).unwrap())
}

#[test]
fn the_load_time_hint_never_changes_an_answer() {
    // The same expression parsed at two load instants gives the same slots from anywhere.
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    for expr in ["0 30 2 * * *", "*/7 * * * *", "0 0 L * *", "0 8 * * 1"] {
        let a =
            Trigger::Cron(CronSchedule::parse_at(expr, paris, ts("2026-03-29T00:59:00Z")).unwrap());
        let b = Trigger::Cron(CronSchedule::parse_at(expr, paris, 0).unwrap());
        for from in [
            "2026-03-29T00:59:00Z",
            "2026-03-29T00:59:59Z",
            "2026-03-28T00:00:00Z",
            "2027-01-01T00:00:00Z",
        ] {
            assert_eq!(
                a.next_after(ts(from)),
                b.next_after(ts(from)),
                "{expr} from {from}"
            );
            assert_eq!(
                a.slots_between(ts(from), ts(from) + 86_400, 10_000),
                b.slots_between(ts(from), ts(from) + 86_400, 10_000)
            );
        }
    }
}

#[test]
fn rejects_bad_expressions() {
    let utc: chrono_tz::Tz = "UTC".parse().unwrap();
    assert!(CronSchedule::parse("61 * * * *", utc).is_err());
    assert!(CronSchedule::parse("* * *", utc).is_err());
    assert_eq!(
        CronSchedule::parse("0 0 30 2 *", utc).unwrap_err(),
        "cron expression `0 0 30 2 *` never fires"
    );
}

/// The documented rule, computed independently of croner: the local day's `h:m` exists once →
/// that instant; twice (fold) → the first; not at all (gap) → the first local minute that exists
/// after it (the end of the gap).
fn expected_daily(tz: chrono_tz::Tz, day: chrono::NaiveDate, h: u32, m: u32) -> i64 {
    use chrono::TimeZone;
    let mut local = day.and_hms_opt(h, m, 0).unwrap();
    loop {
        match tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => return t.timestamp(),
            chrono::LocalResult::Ambiguous(first, _) => return first.timestamp(),
            chrono::LocalResult::None => local += chrono::Duration::minutes(1),
        }
    }
}

/// Ten years of DST transitions in seven zones (a 30-minute shift in Lord Howe, three southern
/// hemisphere zones, one whose transitions fall at midnight): every fixed-time daily slot fires
/// exactly once per local day, at the instant the documented rule gives.
#[test]
fn ten_years_of_daily_slots_in_seven_zones_follow_the_dst_rule() {
    use chrono::TimeZone;
    let zones = [
        "Europe/Paris",
        "America/New_York",
        "Australia/Lord_Howe",
        "Australia/Sydney",
        "America/Santiago",
        "Pacific/Auckland",
        "Europe/London",
    ];
    // Times inside gaps and folds somewhere in these zones, and ordinary ones.
    let times = [(2, 30), (2, 15), (1, 30), (0, 0), (3, 0), (23, 45)];
    let (start, end) = (
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2036, 1, 1).unwrap(),
    );
    let mut shifted = 0;
    for zone in zones {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        for (h, m) in times {
            let expr = format!("{m} {h} * * *");
            let t = Trigger::Cron(CronSchedule::parse(&expr, tz).unwrap());
            let from = tz
                .from_local_datetime(&start.and_hms_opt(0, 0, 0).unwrap())
                .earliest()
                .unwrap()
                .timestamp()
                - 1;
            let until = tz
                .from_local_datetime(&end.and_hms_opt(0, 0, 0).unwrap())
                .earliest()
                .unwrap()
                .timestamp()
                - 1;
            let got = t.slots_between(from, until, 10_000).slots;
            let mut want = Vec::new();
            let mut day = start;
            while day < end {
                want.push(expected_daily(tz, day, h, m));
                day = day.succ_opt().unwrap();
            }
            shifted += want
                .iter()
                .zip(&want)
                .filter(|(w, _)| {
                    let l = crate_local(**w, tz);
                    (l.0, l.1) != (h, m)
                })
                .count();
            assert_eq!(got.len(), want.len(), "{zone} {expr}: one slot per day");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w, "{zone} {expr}: got {} want {}", utc(*g), utc(*w));
            }
        }
    }
    assert!(
        shifted > 100,
        "the rule was exercised: {shifted} shifted slots"
    );
}

fn crate_local(t: i64, tz: chrono_tz::Tz) -> (u32, u32) {
    use chrono::Timelike;
    let l = chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .with_timezone(&tz);
    (l.hour(), l.minute())
}

/// Found by fuzzing (fuzz/artifacts: `timeout-55c4...`): an empty list item made croner search
/// for a next slot without end, hanging the loader. Refused now, at once.
#[test]
fn a_stray_comma_is_an_error_not_a_hang() {
    let started = std::time::Instant::now();
    for expr in [" , * ? * *", "1,,2 * * * *", "0 0 * * 1,", "0 ,5 * * * *"] {
        let e = CronSchedule::parse(expr, chrono_tz::Europe::Paris).unwrap_err();
        assert!(
            e.contains("has an empty list item (a stray comma)"),
            "{expr}: {e}"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // The fuzzer's input stays in the corpus.
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/corpus/schedule/stray-comma-hang"
    );
    assert!(std::path::Path::new(corpus).exists());
}

/// Instants (Unix seconds) where `tz`'s UTC offset changed between 1970 and 2037, with the
/// change in seconds: a daily scan, then a bisection to the second.
fn transitions(tz: chrono_tz::Tz) -> Vec<(i64, i64)> {
    use chrono::{Offset, TimeZone};
    let offset = |at: i64| {
        let utc = DateTime::from_timestamp(at, 0).unwrap().naive_utc();
        i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
    };
    let (start, end) = (ts("1970-01-01T00:00:00Z"), ts("2038-01-01T00:00:00Z"));
    let mut out = Vec::new();
    let mut at = start;
    let mut before = offset(at);
    while at < end {
        let after = offset(at + 86_400);
        if after != before {
            let (mut lo, mut hi) = (at, at + 86_400);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == before {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            out.push((hi, after - before));
        }
        at += 86_400;
        before = after;
    }
    out
}

/// Every IANA zone, 1970 to 2037, around each offset change (skipped dates among them: Samoa
/// went from 29 to 31 December 2011): a daily job at six times of day always has a next slot
/// within 48 hours, from starts two days before to two days after the change.
#[test]
fn a_daily_job_always_fires_again_within_48_hours_in_every_zone() {
    let times = [
        "0 0 * * *",
        "30 1 * * *",
        "30 2 * * *",
        "0 12 * * *",
        "30 23 * * *",
        "59 23 * * *",
    ];
    let mut seen = std::collections::HashSet::new();
    let (mut checked, mut skipped_dates) = (0usize, 0usize);
    for tz in chrono_tz::TZ_VARIANTS {
        let changes = transitions(tz);
        if changes.iter().any(|&(_, change)| change.abs() >= 20 * 3600) {
            skipped_dates += 1;
        }
        // Links (US/Eastern is America/New_York) share their history: check it once.
        if !seen.insert(format!("{changes:?}")) {
            continue;
        }
        let schedules: Vec<Trigger> = times
            .iter()
            .map(|e| Trigger::Cron(CronSchedule::parse_at(e, tz, 0).unwrap()))
            .collect();
        for &(at, change) in &changes {
            for start in (at - 2 * 86_400..=at + 2 * 86_400).step_by(12 * 3600 + 1) {
                for (s, expr) in schedules.iter().zip(times) {
                    let next = s.next_after(start);
                    assert!(
                        next.is_some_and(|n| n > start && n - start <= 48 * 3600),
                        "`{expr}` in {tz} from {}: next {:?} (change of {change} s at {})",
                        utc(start),
                        next.map(utc),
                        utc(at)
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(
        skipped_dates >= 7,
        "only {skipped_dates} zones that skipped a date"
    );
    assert!(checked > 100_000, "{checked}");
}
