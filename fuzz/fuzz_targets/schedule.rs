//! The schedule parser and slot computation on arbitrary expressions, zones and instants.
#![no_main]
use libfuzzer_sys::fuzz_target;

const ZONES: [&str; 6] = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let zone: chrono_tz::Tz = ZONES[data[0] as usize % ZONES.len()].parse().unwrap_or(chrono_tz::UTC);
    // An instant between 1970 and about 2100.
    let t = i64::from_le_bytes(data[1..9].try_into().unwrap_or([0; 8])).rem_euclid(4_102_444_800);
    let Ok(expr) = std::str::from_utf8(&data[9..]) else { return };
    if let Ok(s) = clawcron::schedule::CronSchedule::parse(expr, zone) {
        let trigger = clawcron::schedule::Trigger::Cron(s);
        if let Some(next) = trigger.next_after(t) {
            assert!(next > t, "the next slot is after the instant");
        }
        let w = trigger.slots_between(t, t + 3 * 86_400, 1000);
        assert!(w.slots.windows(2).all(|p| p[0] < p[1]), "slots strictly increase");
        let _ = trigger.describe();
    }
});
