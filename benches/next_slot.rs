//! `cargo bench --bench next_slot`: the cost of computing a job's next slot (the scheduler does
//! this once per fire, re-parsing the stored expression) and of loading 10,000 expressions.

use clawcron::model::{CronSchedule, Trigger};
use std::hint::black_box;
use std::time::Instant;

fn bench(name: &str, iters: u32, mut f: impl FnMut(u32)) {
    for i in 0..iters / 10 {
        f(i); // warm-up
    }
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    let per = start.elapsed().as_nanos() as f64 / f64::from(iters);
    println!("{name:<58} {per:>10.0} ns/iter ({iters} iterations)");
}

fn main() {
    let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap_or(chrono_tz::UTC);
    let base = 1_795_780_000_i64; // 2026-11-27
    let cases: [(&str, &str, chrono_tz::Tz); 6] = [
        ("every second (6 fields)", "* * * * * *", chrono_tz::UTC),
        ("daily 03:00, Europe/Paris", "0 3 * * *", paris),
        ("every 5 minutes", "*/5 * * * *", chrono_tz::UTC),
        ("Monday 08:00, Europe/Paris", "0 8 * * 1", paris),
        (
            "last Friday of the month (5L)",
            "0 0 * * 5L",
            chrono_tz::UTC,
        ),
        (
            "once a year, ~6 months ahead (the scale test's shape)",
            "0 17 4 12 5 *",
            chrono_tz::UTC,
        ),
    ];
    for (name, expr, tz) in cases {
        // Parsed "long ago", so every call re-parses and searches (what a fire costs).
        let Ok(schedule) = CronSchedule::parse_at(expr, tz, 0) else {
            eprintln!("bad expression {expr}");
            continue;
        };
        let trigger = Trigger::Cron(schedule);
        bench(
            &format!("next_after (parse + search): {name}"),
            20_000,
            |i| {
                black_box(trigger.next_after(black_box(base + i64::from(i) * 7)));
            },
        );
    }
    let every = Trigger::Every(300);
    bench("next_after: every 5m (epoch-anchored)", 1_000_000, |i| {
        black_box(every.next_after(black_box(base + i64::from(i))));
    });
    let exprs: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "0 {} {} {} {} *",
                i % 60,
                (i / 60) % 24,
                1 + i % 28,
                1 + (i / 28) % 12
            )
        })
        .collect();
    let start = Instant::now();
    let mut n = 0;
    for e in &exprs {
        if let Ok(s) = CronSchedule::parse(e, chrono_tz::UTC) {
            n += usize::from(Trigger::Cron(s).next_after(base).is_some());
        }
    }
    println!(
        "{:<58} {:>10.1} ms ({n} jobs)",
        "parse + validate + first next_after, 10,000 expressions",
        start.elapsed().as_secs_f64() * 1e3
    );
}
