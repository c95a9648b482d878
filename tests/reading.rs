//! What the user reads, end to end through the real daemon: alert emails over real SMTP
//! (aiosmtpd) and webhooks, in French, with the threshold and its unit, the local time, the
//! output tail, what clawcron did and the advice; one incident's notices in order; one notice
//! per failing streak; accents intact in mail headers and ntfy's Title.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// The dashboard in French: a banner for a job file with errors (located), the figures that
/// rules name first with their units (constant ones left out), reports linked and served over
/// HTTP; screenshots of the dashboard and of the report kept as artifacts.
#[test]
fn the_french_dashboard_links_reports_over_http_and_shows_what_matters() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        "timezone: Europe/Paris\nlanguage: fr\nshutdown_grace: 1s\napi: { listen: \"127.0.0.1:0\" }\n",
    )
    .unwrap();
    // Twenty figures that sort before the one a rule names, and one that never changes.
    let many: String = (1..=20)
        .map(|i| format!("echo a{i:02}_count=$(( $(date +%s) % 97 ));"))
        .collect();
    let extract: String = (1..=20)
        .map(|i| format!("  - {{ regex: 'a{i:02}_count=(?P<a{i:02}_count>[0-9]+)' }}\n"))
        .collect();
    std::fs::write(
        p.join("jobs/aaa.yaml"),
        format!("schedule: \"* * * * * *\"\nrun: {{ shell: \"{many} echo constant_count=5\" }}\nmetrics:\n{extract}  - {{ regex: 'constant_count=(?P<constant_count>[0-9]+)' }}\n"),
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/zz-bench.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"echo tokens_per_s=5$(( $(date +%s) % 9 )).5\" }\nmetrics: [ { regex: 'tokens_per_s=(?P<tokens_per_s>[0-9.]+)' } ]\nalerts: [ { name: slow, when: \"tokens_per_s < 10\" } ]\n",
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/weekly.yaml"),
        "at_start: true\nrun:\n  report:\n    period: this-week\n    out_dir: reports\n",
    )
    .unwrap();
    // A job file with an error.
    std::fs::write(
        p.join("jobs/broken.yaml"),
        "schedule: \"* * * * * *\"\nrun: { shell: \"true\" }\ntimeout: soon\n",
    )
    .unwrap();
    let (d, addr) = spawn_daemon(p, &[], std::process::Stdio::null());
    let addr = addr.unwrap();
    let token = std::fs::read_to_string(p.join("state/api-token")).unwrap();
    wait_for(
        "the report and a few samples",
        Duration::from_secs(20),
        || {
            std::fs::read_dir(p.join("reports"))
                .map(|d| d.count() >= 2)
                .unwrap_or(false)
                && cli_value(p, &["history", "zz-bench", "--json"])
                    .as_array()
                    .is_some_and(|a| a.len() >= 3)
        },
    );
    let (code, page) = http(&addr, "GET", "/", Some(&token));
    assert_eq!(code, 200, "{page}");
    // The banner names the file, the line and the key.
    assert!(page.contains("id=\"config-errors\""), "{page}");
    assert!(page.contains("broken.yaml:3:"), "{page}");
    assert!(page.contains("timeout"), "{page}");
    // Sparklines: the rule's figure first, with its unit; the constant one left out.
    let first_spark = page.split("class=\"spark-card\"").nth(1).unwrap_or("");
    assert!(
        first_spark.starts_with("><div>zz-bench tokens_per_s : <strong>5"),
        "{first_spark}"
    );
    assert!(
        first_spark.contains(" tokens&#x2f;s</strong>"),
        "{first_spark}"
    );
    assert!(page.contains("aaa a01_count"), "the others follow: {page}");
    let sparks = page
        .split("<h2>Mesures, dernières 24 heures</h2>")
        .nth(1)
        .and_then(|s| s.split("<h2>").next())
        .unwrap();
    assert!(!sparks.contains("constant_count"), "{sparks}");
    // Reports: links to this server, and the file served.
    let page = page.replace("&#x2f;", "/");
    let href = page
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|h| h.starts_with("/reports/weekly/") && h.ends_with(".html"))
        .unwrap_or_else(|| panic!("no report link in {page}"))
        .to_string();
    assert!(!page.contains("file://"), "{page}");
    let (code, report) = http(&addr, "GET", &href, Some(&token));
    assert_eq!(code, 200);
    assert!(report.contains("<html lang=\"fr\">"), "{report}");
    assert!(report.contains("Rapport hebdomadaire OpenClaw"), "{report}");
    let (code, _) = http(
        &addr,
        "GET",
        "/reports/weekly/..%2Fclawcron.yaml",
        Some(&token),
    );
    assert_eq!(code, 404, "only the report's own files");
    // A link in the report folder, named like a report, is not served (nor listed).
    std::os::unix::fs::symlink("/etc/passwd", p.join("reports/leak.html")).unwrap();
    let (code, body) = http(&addr, "GET", "/reports/weekly/leak.html", Some(&token));
    assert_eq!(code, 404, "a link was served: {body}");
    assert!(!body.contains("root:"), "{body}");
    let (_, page) = http(&addr, "GET", "/", Some(&token));
    assert!(!page.contains("leak.html"), "a link was listed");
    let (code, _) = http(&addr, "GET", &href, None);
    assert_eq!(
        code, 401,
        "reports need the token or the session like every read"
    );

    if let Some(bin) = chromium() {
        let art = artifacts();
        std::fs::create_dir_all(&art).unwrap();
        for (next, name, check) in [
            ("/", "dashboard.fr.png", true),
            (href.as_str(), "weekly-report.fr.served.png", false),
        ] {
            // A browser gets in through a one-time link (its session cookie), then to `next`.
            let (code, once) = http(&addr, "POST", "/api/session/once", Some(&token));
            assert_eq!(code, 200, "{once}");
            let once: serde_json::Value = serde_json::from_str(&once).unwrap();
            let url = format!(
                "http://{addr}{}&next={next}",
                once["path"].as_str().unwrap()
            );
            let args = |extra: &[&str]| {
                let mut a = vec![
                    "--headless".to_string(),
                    "--no-sandbox".into(),
                    "--disable-gpu".into(),
                    "--hide-scrollbars".into(),
                ];
                a.extend(extra.iter().map(|s| s.to_string()));
                a
            };
            if check {
                let dom = std::process::Command::new(bin)
                    .args(args(&["--dump-dom", &url]))
                    .output()
                    .unwrap();
                let dom = String::from_utf8_lossy(&dom.stdout);
                assert!(dom.contains("<html lang=\"fr\">"), "{dom}");
                assert!(
                    dom.contains("Un fichier de tâche contient des erreurs"),
                    "{dom}"
                );
                let seen = visible(&dom);
                assert_eq!(english_words(&seen), Vec::<&str>::new(), "{seen}");
            }
            // Each one-time link is spent once: a fresh one for the screenshot.
            let (_, once) = http(&addr, "POST", "/api/session/once", Some(&token));
            let once: serde_json::Value = serde_json::from_str(&once).unwrap();
            let url = format!(
                "http://{addr}{}&next={next}",
                once["path"].as_str().unwrap()
            );
            let png = art.join(name);
            let shot = std::process::Command::new(bin)
                .args(args(&[
                    "--window-size=1100,1600",
                    &format!("--screenshot={}", png.display()),
                    &url,
                ]))
                .output()
                .unwrap();
            assert!(shot.status.success(), "{shot:?}");
            assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
        }
    }
    stop_daemon(d);
}

/// A reload that keeps a job file's last good version because of an error tells `daemon_notify`,
/// with the located error, in the reader's language.
#[test]
fn a_reload_that_keeps_a_last_good_version_tells_daemon_notify() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let log = p.join("hook.jsonl");
    let hook = standin("webhook", &["--log", log.to_str().unwrap()]);
    std::fs::create_dir_all(p.join("jobs")).unwrap();
    std::fs::write(
        p.join("clawcron.yaml"),
        format!(
            "language: fr\nshutdown_grace: 1s\nnotifiers:\n  hook: {{ webhook: {{ url: \"http://127.0.0.1:{}/h\" }} }}\ndaemon_notify: [hook]\n",
            hook.port
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("jobs/tick.yaml"),
        "every: 1h\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let (d, _) = spawn_daemon(p, &[], std::process::Stdio::null());
    std::fs::write(
        p.join("jobs/tick.yaml"),
        "every: 1h\nrun: { shell: \"true\" }\ntimeout: bientot\n",
    )
    .unwrap();
    wait_for("the reload notice", Duration::from_secs(20), || {
        received(&log).iter().any(|r| {
            r["body"]
                .as_str()
                .is_some_and(|b| b.contains("daemon.reload"))
        })
    });
    stop_daemon(d);
    let got = received(&log);
    let n: serde_json::Value = got
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(r["body"].as_str().unwrap()).unwrap())
        .find(|b| b["event"] == "daemon.reload")
        .unwrap();
    let text = n["text"].as_str().unwrap();
    assert!(
        text.starts_with("Un fichier de tâche contient des erreurs : la dernière bonne version"),
        "{text}"
    );
    assert!(text.contains("jobs/tick.yaml:3:"), "{text}");
    assert_eq!(n["title"], "un fichier de tâche contient des erreurs");
}

/// `report --lang` writes one render in another language than the job's.
#[test]
fn report_lang_overrides_the_language_for_one_render() {
    let env = Env::new();
    env.write_job(
        "weekly",
        "schedule: \"0 8 * * 1\"\nrun:\n  report:\n    lang: en\n    out_dir: reports\n",
    );
    let fr = env.clawcron(&["report", "weekly", "--lang", "fr", "--out", "-"], &[]);
    assert_eq!(
        fr.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fr.stderr)
    );
    let md = String::from_utf8_lossy(&fr.stdout);
    assert!(md.starts_with("# Rapport hebdomadaire OpenClaw : "), "{md}");
    assert!(md.contains("## Chiffres clés"), "{md}");
    let en = env.clawcron(&["report", "weekly", "--out", "-"], &[]);
    let md = String::from_utf8_lossy(&en.stdout);
    assert!(md.starts_with("# OpenClaw weekly report: "), "{md}");
}
