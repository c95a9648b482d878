//! The `http` job kind, end to end through the binary, against a stand-in that reproduces the
//! observed OpenClaw gateway answers (tests/standins/gateway.py): 2026.9.6's JSON /readyz, and
//! 2026.1.30's web-UI HTML on every path, which a status-only check wrongly accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Env, standin};

fn gateway(version: &str, extra: &[&str]) -> common::Server {
    standin("gateway", &[&["--version", version], extra].concat())
}

fn readyz_job(port: u16, path: &str) -> String {
    format!(
        "every: 5m\ntimeout: 10s\nrun:\n  http:\n    url: http://127.0.0.1:{port}{path}\n    expect:\n      content_type: application/json\n      json: {{ pointer: /ready, equals: true }}\n"
    )
}

#[test]
fn readiness_of_a_current_gateway() {
    let gw = gateway("2026.9.6", &[]);
    let env = Env::new();
    let (out, row, m) = env.trigger_with("health", &readyz_job(gw.port, "/readyz"), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(row["status"], "succeeded");
    let tail = row["output_tail"].as_str().unwrap();
    assert!(
        tail.starts_with(&format!(
            "GET http://127.0.0.1:{}/readyz -> 200 application/json in ",
            gw.port
        )),
        "{tail}"
    );
    assert!(
        m.contains_key("total_ms") && m.contains_key("connect_ms"),
        "{m:?}"
    );
    assert_eq!(m["status"], 200.0);
}

#[test]
fn an_old_gateway_answers_html_everywhere() {
    let gw = gateway("2026.1.30", &[]);
    let env = Env::new();
    // The trap: a status-only check of the guide's URL passes on a gateway with no health endpoint.
    let (out, row, _) = env.trigger_with(
        "naive",
        &format!(
            "every: 5m\nrun:\n  http: {{ url: \"http://127.0.0.1:{}/api/health\" }}\n",
            gw.port
        ),
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(row["status"], "succeeded");
    // The shipped check requires JSON with ready: true, and so fails honestly.
    let (out, row, _) = env.trigger_with("health", &readyz_job(gw.port, "/readyz"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        row["error"],
        "content type text/html, expected application/json"
    );
}

#[test]
fn not_ready_missing_paths_refused_connections_and_hangs() {
    let gw = gateway("2026.9.6", &["--ready-after", "3600"]);
    let env = Env::new();
    let (_, row, _) = env.trigger_with("starting", &readyz_job(gw.port, "/readyz"), &[]);
    assert_eq!(row["status"], "failed");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .starts_with("status 503, expected 2xx (body: \"{\\\"ready\\\": false"),
        "{}",
        row["error"]
    );
    let (_, row, _) = env.trigger_with("guide", &readyz_job(gw.port, "/api/health"), &[]);
    assert_eq!(
        row["error"],
        "status 404, expected 2xx (body: \"Not Found\")"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, row, _) = env.trigger_with("down", &readyz_job(closed, "/readyz"), &[]);
    assert_eq!(row["status"], "failed");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{}",
        row["error"]
    );

    let (_, row, _) = env.trigger_with(
        "hung",
        &format!("every: 5m\ntimeout: 1s\nrun:\n  http: {{ url: \"http://127.0.0.1:{}/__test/hang\" }}\n", gw.port),
        &[],
    );
    assert_eq!(row["status"], "timed_out");
    assert_eq!(row["error"], "no answer before the job's timeout");
    assert!(row["duration_ms"].as_i64().unwrap() < 3000);
}

#[test]
fn bearer_token_from_the_environment() {
    let gw = gateway("2026.1.30", &["--token", "s3cret"]);
    let env = Env::new();
    let job = format!(
        "every: 5m\nrun:\n  http:\n    method: POST\n    url: http://127.0.0.1:{}/tools/invoke\n    bearer_env: GATEWAY_TOKEN\n    body: '{{\"tool\":\"sessions_list\",\"args\":{{}}}}'\n    headers: {{ Content-Type: application/json }}\n    expect: {{ json: {{ pointer: /ok, equals: true }} }}\n",
        gw.port
    );
    let (_, row, _) = env.trigger_with("invoke", &job, &[("GATEWAY_TOKEN", "s3cret")]);
    assert_eq!(row["status"], "succeeded", "{row}");
    let (_, row, _) = env.trigger_with("invoke", &job, &[("GATEWAY_TOKEN", "wrong")]);
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .starts_with("status 401, expected 2xx"),
        "{row}"
    );
    assert!(
        !row.to_string().contains("wrong"),
        "the token never reaches the ledger"
    );
    let (_, row, _) = env.trigger_with("invoke", &job, &[]);
    assert_eq!(
        row["error"],
        "environment variable `GATEWAY_TOKEN` (the bearer token) is not set"
    );
}

/// A 307 to another origin: an `http` job follows it without its custom headers and bearer
/// token and sends no `Referer`; a webhook does not follow it at all, and says why.
#[test]
fn a_redirect_to_another_origin_carries_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (far_log, near_log) = (dir.path().join("far.log"), dir.path().join("near.log"));
    let far = common::standin("webhook", &["--log", far_log.to_str().unwrap()]);
    let to = format!("http://localhost:{}/landing?from=redirect", far.port);
    let near = common::standin(
        "webhook",
        &["--log", near_log.to_str().unwrap(), "--redirect", &to],
    );
    let env = Env::new();
    let job = format!(
        "every: 5m\nrun:\n  http:\n    url: http://127.0.0.1:{}/secret/path?token=abc\n    bearer_env: GATEWAY_TOKEN\n    headers: {{ X-Api-Token: t0ps3cret, Private-Token: p4ss }}\n",
        near.port
    );
    let (_, row, _) = env.trigger_with("probe", &job, &[("GATEWAY_TOKEN", "s3cret")]);
    assert_eq!(row["status"], "succeeded", "{row}");
    let near_seen = common::received(&near_log);
    assert_eq!(
        near_seen[0]["headers"]["x-api-token"], "t0ps3cret",
        "the first origin has them"
    );
    let far_seen = common::received(&far_log);
    assert_eq!(far_seen.len(), 1, "{far_seen:?}");
    let h = far_seen[0]["headers"].as_object().unwrap();
    for secret in ["x-api-token", "private-token", "authorization", "referer"] {
        assert!(
            !h.contains_key(secret),
            "{secret} went to the other origin: {h:?}"
        );
    }

    // The webhook: not followed.
    std::fs::write(
        env.dir.path().join("clawcron.yaml"),
        format!(
            "notifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/hook/s3cretpath\", headers: {{ X-Api-Token: t0ps3cret }} }} }}\n",
            near.port
        ),
    )
    .unwrap();
    let out = env.clawcron(&["notify-test", "hook"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("a redirect to another origin is not followed"),
        "{stdout}{stderr}"
    );
    assert_eq!(
        common::received(&far_log).len(),
        1,
        "the webhook reached the other origin"
    );
}
