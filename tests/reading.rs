//! What the user reads, end to end through the real daemon: alert emails over real SMTP
//! (aiosmtpd) and webhooks, in French, with the threshold and its unit, the local time, the
//! output tail, what clawcron did and the advice; one incident's notices in order; one notice
//! per failing streak; accents intact in mail headers and ntfy's Title.

mod common;

use base64::Engine;
use common::*;
use std::path::Path;
use std::time::Duration;

/// Words that must not appear in a French notice (as whole words, any case).
const ENGLISH: &[&str] = &[
    "fired",
    "resolved",
    "failed",
    "value",
    "samples",
    "lasted",
    "succeeded",
    "since",
];

fn english_words(text: &str) -> Vec<&'static str> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .collect();
    ENGLISH
        .iter()
        .copied()
        .filter(|w| words.iter().any(|x| x == w))
        .collect()
}

/// The visible text of an HTML part (tags dropped).
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// A header value with RFC 2047 `=?UTF-8?B?...?=` words decoded (ASCII text is sent as it is).
fn decode_2047(v: &str) -> String {
    if !v.starts_with("=?") {
        return v.to_string();
    }
    v.split(' ')
        .map(|w| {
            let b = w
                .strip_prefix("=?UTF-8?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap_or_else(|| panic!("not an encoded word: {w}"));
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap()
        })
        .collect()
}

fn setup(dir: &Path, smtp: u16, hook: u16) {
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(
        dir.join("clawcron.yaml"),
        format!(
            "timezone: Europe/Paris\nlanguage: fr\nshutdown_grace: 1s\nnotify_retry: 1s\napi: {{ listen: \"127.0.0.1:0\" }}\nnotifiers:\n  mail:\n    email:\n      smtp: {{ host: 127.0.0.1, port: {smtp}, tls: none }}\n      from: clawcron@example.org\n      to: [ops@example.org]\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{hook}/h\" }} }}\n  push: {{ webhook: {{ url: \"http://127.0.0.1:{hook}/n\", format: ntfy }} }}\n"
        ),
    )
    .unwrap();
    let counter = dir.join("counter");
    // Three slow samples (6.0 s), then fast ones: fires on the 2nd, resolves after two good.
    std::fs::write(
        dir.join("jobs/latency.yaml"),
        format!(
            r#"schedule: "* * * * * *"
overlap: skip
run: {{ shell: "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; if [ $n -le 3 ]; then echo 'passerelle lente total_ms=6002.067312'; else echo 'total_ms=120'; fi" }}
metrics: [ {{ regex: 'total_ms=(?P<total_ms>[0-9.]+)' }} ]
alerts:
  - name: latency-high
    when: "total_ms > 5000"
    for: "2 of 3"
    advice:
      en: "Look at the gateway's logs."
      fr: "Regardez les journaux de la passerelle : docker logs openclaw-gateway."
    remediate: {{ run: {{ shell: "echo redemarrage" }}, max: 2, per: 1h }}
notify: {{ on: [alert], to: [mail, hook, push] }}
"#,
            c = counter.display()
        ),
    )
    .unwrap();
    // Fails throughout: one notice for the streak.
    std::fs::write(
        dir.join("jobs/broken.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"exit 3\" }\nnotify: { on: [failure, recovery], to: [mail, hook] }\n",
    )
    .unwrap();
    // Fails throughout, reminded every 3 s.
    std::fs::write(
        dir.join("jobs/nagging.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"exit 4\" }\nnotify: { on: [failure], to: [hook], repeat: 3s }\n",
    )
    .unwrap();
}

#[test]
fn french_notices_answer_the_users_questions_in_order_and_once_per_streak() {
    if !require_probe(
        "aiosmtpd",
        &["python3", "-c", "import aiosmtpd"],
        "aiosmtpd (python3 -m pip install aiosmtpd==1.4.6)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let smtp = standin("smtp", &["--maildir", maildir.to_str().unwrap()]);
    let log = dir.path().join("hook.jsonl");
    let hook = standin("webhook", &["--log", log.to_str().unwrap()]);
    setup(dir.path(), smtp.port, hook.port);
    let (d, addr) = spawn_daemon(dir.path(), &[], std::process::Stdio::null());
    let addr = addr.expect("the API's address");
    let bodies = || -> Vec<(String, serde_json::Value, serde_json::Value)> {
        received(&log)
            .into_iter()
            .map(|r| {
                let path = r["path"].as_str().unwrap().to_string();
                let body = if path == "/h" {
                    serde_json::from_str(r["body"].as_str().unwrap()).unwrap()
                } else {
                    serde_json::Value::String(r["body"].as_str().unwrap().to_string())
                };
                (path, body, r["headers"].clone())
            })
            .collect()
    };
    wait_for("the resolved notices", Duration::from_secs(30), || {
        bodies()
            .iter()
            .filter(|(p, b, _)| p == "/h" && b["event"] == "alert.resolved")
            .count()
            == 1
            && mails(&maildir).len() >= 4
    });
    // A few more seconds of failures: still one notice for the streak, reminders every 3 s.
    std::thread::sleep(Duration::from_secs(4));
    stop_daemon(d);

    let got = bodies();
    let generic: Vec<&serde_json::Value> = got
        .iter()
        .filter(|(p, _, _)| p == "/h")
        .map(|(_, b, _)| b)
        .collect();
    // One incident, in the order it happened.
    let incident: Vec<&str> = generic
        .iter()
        .filter(|b| b["job"] == "latency")
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        incident,
        ["alert.fired", "alert.remediated", "alert.resolved"],
        "{generic:#?}"
    );
    let fired = generic
        .iter()
        .find(|b| b["event"] == "alert.fired")
        .unwrap();
    let text = fired["text"].as_str().unwrap();
    for want in [
        "latency : total_ms vaut 6,0 s, au-delà du seuil de 5 s (2 des 3 dernières mesures)",
        "Seuil : 6,0 s > 5 s",
        "(Europe/Paris)",
        "Dernières mesures : 6,0 s, 6,0 s",
        "clawcron lance sh -c \"echo redemarrage\" maintenant (au plus 2 par 1 h)",
        "Que faire : Regardez les journaux de la passerelle : docker logs openclaw-gateway.",
        "passerelle lente total_ms=6002.067312",
        &format!("Tableau de bord : http://{addr}/"),
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    let day = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    assert!(day.iter().any(|d| text.contains(d)), "{text}");
    let remediated = generic
        .iter()
        .find(|b| b["event"] == "alert.remediated")
        .unwrap();
    assert!(
        remediated["text"]
            .as_str()
            .unwrap()
            .contains("fait (correction 1 sur 2 par 1 h)"),
        "{remediated}"
    );
    let resolved = generic
        .iter()
        .find(|b| b["event"] == "alert.resolved")
        .unwrap();
    let rt = resolved["text"].as_str().unwrap();
    assert!(
        rt.starts_with("latency : total_ms est revenu à la normale (120 ms) ; l'alerte a duré "),
        "{rt}"
    );
    assert!(rt.contains(", pic 6,0 s"), "{rt}");
    assert!(
        !rt.contains("au-delà du seuil") && !rt.contains("Seuil"),
        "the resolved notice does not repeat the firing condition: {rt}"
    );

    // One notice for a failing streak; a reminder at most every `repeat`.
    let of = |job: &str, event: &str| {
        generic
            .iter()
            .filter(|b| b["job"] == job && b["event"] == event)
            .count()
    };
    assert_eq!(of("broken", "failure"), 1, "{generic:#?}");
    assert_eq!(of("broken", "failure.repeat"), 0);
    let broken = generic.iter().find(|b| b["job"] == "broken").unwrap();
    assert!(
        broken["text"]
            .as_str()
            .unwrap()
            .starts_with("broken a échoué : terminé avec le code 3"),
        "{broken}"
    );
    assert_eq!(of("nagging", "failure"), 1);
    let reminders: Vec<i64> = generic
        .iter()
        .filter(|b| b["job"] == "nagging" && b["event"] == "failure.repeat")
        .map(|b| b["finished_at_ms"].as_i64().unwrap())
        .collect();
    assert!(!reminders.is_empty(), "{generic:#?}");
    assert!(
        reminders.windows(2).all(|w| w[1] - w[0] >= 3000),
        "{reminders:?}"
    );
    let history = cli_value(dir.path(), &["history", "nagging", "--json"]);
    let failed_runs = history.as_array().unwrap().len();
    assert!(
        failed_runs >= 6 && 1 + reminders.len() < failed_runs,
        "{failed_runs} failed runs, {} notices",
        1 + reminders.len()
    );

    // ntfy: the accented title arrives intact (RFC 2047).
    let push_resolved = got
        .iter()
        .find(|(p, b, _)| p == "/n" && b.as_str().unwrap().contains("revenu à la normale"))
        .expect("the resolved notice over ntfy");
    let raw = push_resolved.2["title"].as_str().unwrap();
    assert!(raw.is_ascii() && raw.starts_with("=?UTF-8?B?"), "{raw}");
    assert_eq!(
        decode_2047(raw),
        "latency : latency-high revenu à la normale"
    );

    // The emails: French subjects (accents decoded from the header), text and HTML parts.
    let mail = mails(&maildir);
    let subjects: Vec<&str> = mail.iter().map(|m| header(m, "Subject")[0]).collect();
    for want in [
        "[clawcron] latency : alerte latency-high",
        "[clawcron] latency : latency-high corrigé automatiquement",
        "[clawcron] latency : latency-high revenu à la normale",
        "[clawcron] broken est en échec",
    ] {
        assert!(subjects.contains(&want), "{want}: {subjects:?}");
    }
    assert_eq!(
        subjects
            .iter()
            .filter(|s| **s == "[clawcron] broken est en échec")
            .count(),
        1
    );
    let alert_mail = mail
        .iter()
        .find(|m| header(m, "Subject")[0] == "[clawcron] latency : alerte latency-high")
        .unwrap();
    let text = part(alert_mail, "text/plain");
    for want in [
        "Seuil : 6,0 s > 5 s",
        "(Europe/Paris)",
        "Que faire : Regardez les journaux de la passerelle",
        "Sortie (dernières lignes) :\npasserelle lente total_ms=6002.067312",
        "Voir le tableau de bord : http://",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    std::fs::create_dir_all(artifacts()).unwrap();
    std::fs::write(artifacts().join("alert-email.fr.txt"), text).unwrap();

    // No English word in anything the French reader gets.
    for m in &mail {
        for t in [
            header(m, "Subject")[0].to_string(),
            part(m, "text/plain").to_string(),
            visible(part(m, "text/html")),
        ] {
            assert_eq!(english_words(&t), Vec::<&str>::new(), "{t}");
        }
    }
    for (path, b, h) in &got {
        let texts = if path == "/h" {
            vec![
                b["title"].as_str().unwrap().to_string(),
                b["text"].as_str().unwrap().to_string(),
            ]
        } else {
            vec![
                b.as_str().unwrap().to_string(),
                decode_2047(h["title"].as_str().unwrap()),
            ]
        };
        for t in texts {
            assert_eq!(english_words(&t), Vec::<&str>::new(), "{t}");
        }
    }
}

/// Where tests leave what a person should look at (screenshots, a sample email).
fn artifacts() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-artifacts")
}
