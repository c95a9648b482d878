//! The daemon's own figures for `/metrics`: runs by job and outcome, run durations and fire
//! lateness as histograms (counted since the daemon started, as Prometheus expects of counters),
//! and the Prometheus text format they are written in.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0,
];
const LATENESS_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 60.0];

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Cumulative counts per bucket upper bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (i, b) in bounds.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Inner {
    runs: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    lateness: BTreeMap<String, Histogram>,
}

/// Counters and histograms updated by the runner.
#[derive(Debug, Default)]
pub struct RunStats {
    inner: Mutex<Inner>,
}

impl RunStats {
    pub fn finished(&self, job: &str, outcome: &str, seconds: f64) {
        if let Ok(mut i) = self.inner.lock() {
            *i.runs
                .entry((job.to_string(), outcome.to_string()))
                .or_default() += 1;
            i.durations
                .entry(job.to_string())
                .or_default()
                .observe(DURATION_BUCKETS, seconds);
        }
    }

    /// How late a scheduled run started after its slot.
    pub fn started_late(&self, job: &str, seconds: f64) {
        if let Ok(mut i) = self.inner.lock() {
            i.lateness
                .entry(job.to_string())
                .or_default()
                .observe(LATENESS_BUCKETS, seconds.max(0.0));
        }
    }

    /// Writes the counters and histograms in Prometheus text format.
    pub fn write(&self, out: &mut String) {
        let Ok(i) = self.inner.lock() else { return };
        family(
            out,
            "clawcron_runs_total",
            "counter",
            "Runs finished since the daemon started, by job and outcome.",
        );
        for ((job, outcome), n) in &i.runs {
            let _ = writeln!(
                out,
                "clawcron_runs_total{{job=\"{}\",outcome=\"{}\"}} {n}",
                esc(job),
                esc(outcome)
            );
        }
        histogram(
            out,
            "clawcron_run_duration_seconds",
            "How long runs took, by job.",
            DURATION_BUCKETS,
            &i.durations,
        );
        histogram(
            out,
            "clawcron_fire_lateness_seconds",
            "How long after its slot a scheduled run started, by job.",
            LATENESS_BUCKETS,
            &i.lateness,
        );
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A sample value in the text format (`NaN`, `+Inf`, `-Inf` as Prometheus spells them).
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// A label value escaped for the text format.
pub fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds: &[f64],
    by_job: &BTreeMap<String, Histogram>,
) {
    family(out, name, "histogram", help);
    for (job, h) in by_job {
        let job = esc(job);
        for (b, c) in bounds.iter().zip(&h.counts) {
            let _ = writeln!(out, "{name}_bucket{{job=\"{job}\",le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{job=\"{job}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "{name}_sum{{job=\"{job}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{job=\"{job}\"}} {}", h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let s = RunStats::default();
        s.finished("a", "succeeded", 0.2);
        s.finished("a", "failed", 40.0);
        let mut out = String::new();
        s.write(&mut out);
        assert!(out.contains("clawcron_runs_total{job=\"a\",outcome=\"failed\"} 1\n"));
        assert!(
            out.contains("clawcron_run_duration_seconds_bucket{job=\"a\",le=\"0.5\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("clawcron_run_duration_seconds_bucket{job=\"a\",le=\"60\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("clawcron_run_duration_seconds_bucket{job=\"a\",le=\"+Inf\"} 2\n"));
        assert!(out.contains("clawcron_run_duration_seconds_count{job=\"a\"} 2\n"));
    }
}
