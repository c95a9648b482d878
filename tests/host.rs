//! `host.stats` on this machine (Linux: /proc): the figures in their sane ranges and equal to
//! what the kernel says, a busy CPU seen as busy, the kind as a monitor probe feeding a rule,
//! and its config errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Env;

fn meminfo_kb(field: &str) -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn host_stats_figures_are_in_range_and_match_the_kernel() {
    let env = Env::new();
    // A busy thread during the sample: the machine's CPU is at least that thread's share busy.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spin = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };
    let (row, m) = env.trigger("host", "every: 5m\nrun:\n  host.stats: { sample: 500ms }\n");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spin.join().unwrap();
    assert_eq!(row["status"], "succeeded", "{row}");
    let ncpu = std::thread::available_parallelism().unwrap().get() as f64;
    assert_eq!(m["cpus"], ncpu);
    let cpu = m["cpu_percent"];
    assert!((0.0..=100.0).contains(&cpu), "{m:?}");
    assert!(
        cpu > 100.0 / ncpu * 0.5,
        "one busy thread of {ncpu} CPUs: {cpu}"
    );
    let total = m["mem_total_bytes"];
    assert_eq!(total, meminfo_kb("MemTotal") * 1024.0);
    let avail = m["mem_available_bytes"];
    assert!(avail > 0.0 && avail <= total, "{m:?}");
    assert_eq!(m["mem_used_bytes"], total - avail);
    assert!((m["mem_percent"] - (total - avail) / total * 100.0).abs() < 1e-9);
    assert!((0.0..=100.0).contains(&m["mem_percent"]));
    assert_eq!(m["swap_total_bytes"], meminfo_kb("SwapTotal") * 1024.0);
    assert!(m["swap_used_bytes"] >= 0.0 && m["swap_used_bytes"] <= m["swap_total_bytes"]);
    for l in ["load1", "load5", "load15"] {
        assert!(m[l] >= 0.0 && m[l] < 100.0 * ncpu, "{l}: {m:?}");
    }
    assert!(row["duration_ms"].as_i64().unwrap() >= 500, "{row}");
    let tail = row["output_tail"].as_str().unwrap();
    assert!(
        tail.starts_with("host: CPU ") && tail.contains(&format!(" of {ncpu} CPUs  memory ")),
        "{tail}"
    );
}

#[test]
fn host_stats_is_a_probe_whose_figures_feed_rules() {
    let env = Env::new();
    let job = "every: 5m\nrun:\n  monitor:\n    probes:\n      host: { host.stats: {} }\nalerts:\n  - { name: has-memory, when: \"host.mem_total_bytes > 0\", for: \"1 of 1\" }\n  - { name: never, when: \"mem_percent > 100\", for: \"1 of 1\" }\n";
    let (row, m) = env.trigger("mon", job);
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(m["host.up"], 1.0);
    assert!(
        m["host.mem_total_bytes"] > 0.0 && m["host.cpus"] >= 1.0,
        "{m:?}"
    );
    let out = env.clawcron(&["alerts", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let phase = |rule: &str| {
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule"] == rule)
            .map(|a| a["phase"].as_str().unwrap().to_string())
    };
    assert_eq!(phase("has-memory").as_deref(), Some("firing"), "{v}");
    assert_eq!(phase("never").as_deref(), Some("ok"), "{v}");
}

#[test]
fn host_stats_config_errors_are_located() {
    let env = Env::new();
    env.write_job("a", "every: 5m\nrun:\n  host.stats: { sample: 90s }\n");
    env.write_job("b", "every: 5m\nrun:\n  host.stats: { sample: soon }\n");
    let out = env.clawcron(&["check"], &[("NO_COLOR", "1")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "error: jobs/a.yaml:3:25: `run.host.stats.sample`: `90s` is out of range\n  |\n3 |   host.stats: { sample: 90s }\n  |                         ^^^\n  = expected from 100ms to 60s\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("error: jobs/b.yaml:3:25: `run.host.stats.sample`: "),
        "{err}"
    );
}
