use chrono::TimeZone;
use croner::parser::{CronParser, Seconds, Year};
use std::time::Instant;
fn main() {
    let p = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let n = 10000;
    let t = Instant::now();
    let mut crons = Vec::new();
    for i in 0..n {
        crons.push(
            p.parse(&format!(
                "0 {} {} {} {} *",
                i % 60,
                (i / 60) % 24,
                1 + i % 28,
                1 + (i / 28) % 12
            ))
            .unwrap(),
        );
    }
    println!("parse: {:?}/op", t.elapsed() / n);
    let from = chrono_tz::UTC.timestamp_opt(1_795_780_000, 0).unwrap();
    let t = Instant::now();
    for c in &crons {
        std::hint::black_box(c.find_next_occurrence(&from, false).unwrap());
    }
    println!("next (yearly-ish): {:?}/op", t.elapsed() / n);
    let c = p.parse("* * * * * *").unwrap();
    let t = Instant::now();
    for i in 0..n {
        let f = chrono_tz::UTC
            .timestamp_opt(1_795_780_000 + i as i64, 0)
            .unwrap();
        std::hint::black_box(c.find_next_occurrence(&f, false).unwrap());
    }
    println!("next (every sec): {:?}/op", t.elapsed() / n);
    let c = p.parse("0 3 * * *").unwrap();
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
    let t = Instant::now();
    for i in 0..n {
        let f = paris
            .timestamp_opt(1_795_780_000 + i as i64 * 7, 0)
            .unwrap();
        std::hint::black_box(c.find_next_occurrence(&f, false).unwrap());
    }
    println!("next (daily paris): {:?}/op", t.elapsed() / n);
    let t = Instant::now();
    for i in 0..n {
        let f = chrono_tz::UTC
            .timestamp_opt(1_795_780_000 + i as i64 * 7, 0)
            .unwrap();
        std::hint::black_box(c.find_next_occurrence(&f, false).unwrap());
    }
    println!("next (daily utc): {:?}/op", t.elapsed() / n);
}
