//! `cargo bench --bench report_year`: the weekly report over a ledger holding a year of data.
//!
//! A ledger gets 525,600 one-minute samples (a year) for each of 10 metrics (5,256,000 rows, two
//! jobs), plus the runs retention keeps, alert events and notices; then a fresh process renders
//! the last full week's report (context, Markdown, HTML with its three charts over 30 days) and
//! reports its wall time and peak resident memory. The bound: < 1 s and < 200 MB.
//! The ledger is built once under target/bench-report-year (delete it to rebuild).

use clawcron::model::{Evidence, Lang, PeriodSpec, ReportSpec, Sources};
use clawcron::report::advice::Observed;
use clawcron::store::Store;
use std::path::{Path, PathBuf};
use std::time::Instant;

const MINUTE: i64 = 60_000;
const SAMPLES: i64 = 525_600;
/// 2026-11-23 00:00 UTC, a Monday: the year of data ends here.
const END: i64 = 1_795_392_000_000;

const METRICS: [(&str, &str); 10] = [
    ("gateway-health", "stats.cpu_percent"),
    ("gateway-health", "stats.mem_percent"),
    ("gateway-health", "stats.mem_used_bytes"),
    ("gateway-health", "stats.net_rx_bytes"),
    ("gateway-health", "ready.total_ms"),
    ("gateway-health", "ready.up"),
    ("nightly-benchmark", "ollama.tokens_per_s"),
    ("nightly-benchmark", "ollama.ttft_ms"),
    ("nightly-benchmark", "ollama.prompt_tokens_per_s"),
    ("nightly-benchmark", "gateway.total_ms"),
];

fn build(dir: &Path) {
    let started = Instant::now();
    let store = Store::open(dir).unwrap_or_else(|e| panic!("{e}"));
    drop(store);
    let mut conn =
        rusqlite::Connection::open(dir.join("clawcron.db")).unwrap_or_else(|e| panic!("{e}"));
    conn.pragma_update(None, "synchronous", "OFF").ok();
    let tx = conn.transaction().unwrap_or_else(|e| panic!("{e}"));
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO metrics (run_id, job, name, value, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        for (k, (job, name)) in METRICS.iter().enumerate() {
            for i in 0..SAMPLES {
                let at = END - (SAMPLES - i) * MINUTE;
                // A daily wave, a weekly drift and some noise, different per metric.
                let day = (i % 1440) as f64 / 1440.0 * std::f64::consts::TAU;
                let v =
                    50.0 + 20.0 * day.sin() + (k as f64) * 3.0 + ((i * 7919) % 97) as f64 / 10.0;
                ins.execute(rusqlite::params![i, job, name, v, at])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        // The runs retention keeps (1000 per job), and a week of alert events.
        let mut run = tx
            .prepare(
                "INSERT INTO runs (job, trigger, slot, status, started_at, finished_at, attempts, duration_ms, boot_id)
                 VALUES (?1, 'schedule', ?2, ?3, ?4, ?5, 1, ?6, 'b')",
            )
            .unwrap_or_else(|e| panic!("{e}"));
        for job in ["gateway-health", "nightly-benchmark", "gateway-restart"] {
            for i in 0..1000_i64 {
                let slot_ms = END - (1000 - i) * 10 * MINUTE;
                let status = if i % 50 == 0 { "failed" } else { "succeeded" };
                run.execute(rusqlite::params![
                    job,
                    slot_ms / 1000,
                    status,
                    slot_ms,
                    slot_ms + 900,
                    900
                ])
                .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let mut ev = tx
            .prepare("INSERT INTO alert_events (job, rule, kind, value, detail, at) VALUES ('gateway-health', 'cpu-high', ?1, 95, 'stats.cpu_percent > 90 for 3 of 5; samples [95]', ?2)")
            .unwrap_or_else(|e| panic!("{e}"));
        for d in 0..7_i64 {
            ev.execute(rusqlite::params![
                "fired",
                END - (7 - d) * 1440 * MINUTE + 600 * MINUTE
            ])
            .ok();
            ev.execute(rusqlite::params![
                "resolved",
                END - (7 - d) * 1440 * MINUTE + 660 * MINUTE
            ])
            .ok();
        }
    }
    tx.commit().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "built a ledger of {} metric rows in {:.1} s ({} MB on disk)",
        SAMPLES * METRICS.len() as i64,
        started.elapsed().as_secs_f64(),
        std::fs::metadata(dir.join("clawcron.db"))
            .map(|m| m.len() / 1_000_000)
            .unwrap_or(0)
    );
}

fn peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes into the struct we give it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    // Linux reports kilobytes, macOS bytes.
    if cfg!(target_os = "macos") {
        u.ru_maxrss as f64 / 1e6
    } else {
        u.ru_maxrss as f64 / 1024.0
    }
}

fn render(dir: &Path) {
    let rss_before = peak_rss_mb();
    let started = Instant::now();
    let store = Store::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let spec = ReportSpec {
        title: "OpenClaw weekly report".into(),
        template: "weekly-report".into(),
        lang: Lang::En,
        period: PeriodSpec::LastWeek,
        out_dir: dir.join("reports"),
        templates_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/templates").into(),
        timezone: chrono_tz::UTC,
        send_to: vec![],
        sources: Sources {
            latency_ms: ("gateway-health".into(), "ready.total_ms".into()),
            ..Sources::default()
        },
        evidence: Evidence::default(),
        checks: vec![],
    };
    let period = spec.period.resolve(END + 3_600_000, spec.timezone);
    let r = clawcron::report::render(
        &spec,
        &store,
        &period,
        END + 3_600_000,
        &Observed::nothing("bench"),
        &clawcron::template::Bounds::report(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let elapsed = started.elapsed();
    let (md, html) = clawcron::report::write(&spec, "weekly-report", &r, &|| true)
        .unwrap_or_else(|e| panic!("{e}"));
    let rss = peak_rss_mb();
    println!("{}", r.summary);
    println!(
        "rendered {} ({} KB Markdown, {} KB HTML with {} charts) from {} metric rows",
        period.label,
        r.markdown.len() / 1024,
        r.html.len() / 1024,
        r.html.matches("<svg").count(),
        SAMPLES * METRICS.len() as i64
    );
    println!(
        "report_year: render {:.3} s, peak RSS {:.1} MB (process start {:.1} MB)   bound: < 1 s, < 200 MB",
        elapsed.as_secs_f64(),
        rss,
        rss_before
    );
    println!("wrote {} and {}", md.display(), html.display());
    if elapsed.as_secs_f64() >= 1.0 || rss >= 200.0 {
        eprintln!("report_year: OVER THE BOUND");
        std::process::exit(1);
    }
}

fn main() {
    if let Some(dir) = std::env::var_os("CLAWCRON_BENCH_RENDER") {
        render(Path::new(&dir));
        return;
    }
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/bench-report-year"
    ));
    if !dir.join("clawcron.db").exists() {
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        build(&dir);
    }
    // Rendered in a fresh process, so its peak memory is the report's, not the build's.
    for _ in 0..3 {
        let status =
            std::process::Command::new(std::env::current_exe().unwrap_or_else(|e| panic!("{e}")))
                .env("CLAWCRON_BENCH_RENDER", &dir)
                .status()
                .unwrap_or_else(|e| panic!("{e}"));
        if !status.success() {
            std::process::exit(1);
        }
    }
}
