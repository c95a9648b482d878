//! The Ollama job kinds against a stand-in that follows Ollama's documented API
//! (tests/standins/ollama.py): preload while the server is still starting, bench figures,
//! status, unload, and failures (missing model, 500s, refused connections).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, standin};
use std::process::{Command, Stdio};

fn ollama(extra: &[&str]) -> common::Server {
    standin("ollama", extra)
}

#[test]
fn preload_waits_for_a_starting_server_then_status_and_unload() {
    let o = ollama(&["--start-after", "1.5"]);
    let env = Env::new();
    let (row, m) = env.trigger(
        "preload",
        &format!("at_start: true\ntimeout: 30s\nrun:\n  ollama.preload:\n    url: http://127.0.0.1:{}\n    models: [\"llama3.2:3b\"]\n    embed_models: [nomic-embed-text]\n    keep_alive: 24h\n    wait: 20s\n", o.port),
    );
    assert_eq!(row["status"], "succeeded", "{row}");
    assert!(m["wait_ms"] >= 1000.0, "it waited for the server: {m:?}");
    assert_eq!(m["models_loaded"], 2.0);
    assert!(
        row["output_tail"]
            .as_str()
            .unwrap()
            .contains("loaded llama3.2:3b (keep_alive 86400s)"),
        "{row}"
    );

    let (row, m) = env.trigger(
        "status",
        &format!(
            "every: 5m\nrun:\n  ollama.status: {{ url: \"http://127.0.0.1:{}\" }}\n",
            o.port
        ),
    );
    assert_eq!(row["status"], "succeeded");
    assert_eq!(m["models_loaded"], 2.0);
    assert_eq!(m["models_available"], 2.0);
    assert_eq!(m["gpu_percent.llama3.2:3b"], 100.0);
    let tail = row["output_tail"].as_str().unwrap();
    let until = tail
        .lines()
        .next()
        .unwrap()
        .strip_prefix("loaded llama3.2:3b: 2.02 GB, 100% in GPU memory, until ")
        .expect(tail);
    let hours = (chrono::DateTime::parse_from_rfc3339(until)
        .unwrap()
        .timestamp()
        - chrono::Utc::now().timestamp()) as f64
        / 3600.0;
    assert!(
        (23.9..=24.0).contains(&hours),
        "keep_alive 24h reached Ollama: expires in {hours} h"
    );

    let (row, m) = env.trigger("unload", &format!("every: 5m\nrun:\n  ollama.unload: {{ url: \"http://127.0.0.1:{}\", models: [\"llama3.2:3b\"] }}\n", o.port));
    assert_eq!(
        (row["status"].as_str(), m["models_unloaded"]),
        (Some("succeeded"), 1.0)
    );
    let (_, m) = env.trigger(
        "status",
        &format!(
            "every: 5m\nrun:\n  ollama.status: {{ url: \"http://127.0.0.1:{}\" }}\n",
            o.port
        ),
    );
    assert_eq!(m["models_loaded"], 1.0);
}

#[test]
fn bench_records_tokens_per_second_and_first_token() {
    let o = ollama(&["--tokens-per-s", "50"]);
    let env = Env::new();
    let (row, m) = env.trigger(
        "bench",
        &format!("schedule: \"30 3 * * *\"\ntimeout: 60s\nrun:\n  ollama.bench: {{ url: \"http://127.0.0.1:{}\", model: \"llama3.2:3b\", rounds: 3, num_predict: 8 }}\n", o.port),
    );
    assert_eq!(row["status"], "succeeded", "{row}");
    // The stand-in reports eval_duration for exactly 50 tokens/s; prompt tokens take 2 ms each.
    assert!((m["tokens_per_s"] - 50.0).abs() < 0.01, "{m:?}");
    assert!((m["prompt_tokens_per_s"] - 500.0).abs() < 0.01, "{m:?}");
    assert!(m["ttft_ms"] >= 20.0 && m["ttft_ms"] < 2000.0, "{m:?}");
    assert!(
        row["output_tail"]
            .as_str()
            .unwrap()
            .contains("llama3.2:3b: median of 3 rounds: 50.0 tokens/s"),
        "{row}"
    );
}

#[test]
fn failures_are_clear() {
    let o = ollama(&[]);
    let env = Env::new();
    let (row, _) = env.trigger("missing", &format!("every: 5m\nrun:\n  ollama.preload: {{ url: \"http://127.0.0.1:{}\", models: [\"mistral:7b\"], wait: 1s }}\n", o.port));
    assert_eq!(row["status"], "failed");
    assert_eq!(
        row["error"],
        "mistral:7b: status 404: model \"mistral:7b\" not found, try pulling it first"
    );

    let flaky = ollama(&["--fail", "2"]);
    let (row, _) = env.trigger(
        "flaky",
        &format!("every: 5m\nretry: {{ attempts: 3, backoff: 100ms, jitter: false }}\nrun:\n  ollama.status: {{ url: \"http://127.0.0.1:{}\" }}\n", flaky.port),
    );
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_i64()),
        (Some("succeeded"), Some(3)),
        "{row}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (row, _) = env.trigger("down", &format!("every: 5m\nrun:\n  ollama.preload: {{ url: \"http://127.0.0.1:{closed}\", models: [\"llama3.2:3b\"], wait: 1s }}\n"));
    assert_eq!(row["status"], "failed");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .starts_with("Ollama did not answer within 1s: "),
        "{row}"
    );
}

#[test]
fn a_hung_server_never_delays_other_jobs() {
    let hung = ollama(&["--hang"]);
    let env = Env::new();
    let jobs = env.dir.path().join("jobs");
    std::fs::write(
        jobs.join("tick.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    std::fs::write(
        jobs.join("stuck.yaml"),
        format!("schedule: \"*/2 * * * * *\"\noverlap: allow\ntimeout: 1500ms\nrun:\n  ollama.status: {{ url: \"http://127.0.0.1:{}\" }}\n", hung.port),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_clawcron");
    let (daemon, _) = common::spawn_daemon(env.dir.path(), &[], Stdio::null());
    std::thread::sleep(std::time::Duration::from_millis(6500));
    common::stop_daemon(daemon);
    let out = Command::new(bin)
        .current_dir(env.dir.path())
        .args([
            "--state-dir",
            "state",
            "history",
            "--limit",
            "1000",
            "--json",
        ])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ticks: Vec<&serde_json::Value> = rows.iter().filter(|r| r["job"] == "tick").collect();
    let stuck: Vec<&serde_json::Value> = rows.iter().filter(|r| r["job"] == "stuck").collect();
    assert!(ticks.len() >= 5, "{rows:#?}");
    assert!(
        stuck.iter().any(|r| r["status"] == "timed_out"),
        "{stuck:#?}"
    );
    for t in &ticks {
        assert_eq!(t["status"], "succeeded");
        let late = t["started_at"].as_i64().unwrap() - t["slot"].as_i64().unwrap() * 1000;
        assert!(
            late < 250,
            "a tick started {late} ms late while Ollama hung"
        );
    }
}
