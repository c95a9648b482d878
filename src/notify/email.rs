//! The email channel: SMTP with lettre, over STARTTLS, implicit TLS, or plain (loopback only),
//! with optional AUTH whose password comes from the environment or a file, never from the YAML.
//! The subject, a plain-text part and an HTML part are rendered from `templates/email.*.j2`
//! (the shipped copies when the files are absent). The Message-ID is derived from the notice's
//! idempotency key, so a receiver can drop a duplicate if a crash fell between the server's
//! acceptance and the ledger's record of it.
//!
//! A 4xx answer, a refused connection or a timeout is retried; a 5xx answer is not.

use crate::model::Delivery;
use crate::model::{EmailSpec, Tls};
use crate::template::Templates;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls as LettreTls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::Digest;
use std::time::Duration;

const SUBJECT: &str = include_str!("../../templates/email.subject.j2");
const TEXT: &str = include_str!("../../templates/email.txt.j2");
const HTML: &str = include_str!("../../templates/email.html.j2");
const SUBJECT_FR: &str = include_str!("../../templates/email.fr.subject.j2");
const TEXT_FR: &str = include_str!("../../templates/email.fr.txt.j2");
const HTML_FR: &str = include_str!("../../templates/email.fr.html.j2");

/// The shipped template `suffix` (`txt.j2`) in `lang`.
fn shipped(suffix: &str, lang: crate::i18n::Lang) -> &'static str {
    use crate::i18n::Lang;
    match (suffix, lang) {
        ("subject.j2", Lang::En) => SUBJECT,
        ("subject.j2", Lang::Fr) => SUBJECT_FR,
        ("txt.j2", Lang::En) => TEXT,
        ("txt.j2", Lang::Fr) => TEXT_FR,
        ("html.j2", Lang::En) => HTML,
        _ => HTML_FR,
    }
}

/// The rendered message parts: (subject, text, html). A user's template with an error gives
/// way to the shipped one (logged); one that passed a bound (fuel, size, time) fails the send:
/// it is the template that needs mending, and the failure is recorded with the notice.
pub fn render(
    spec: &EmailSpec,
    templates: &Templates,
    payload: &serde_json::Value,
) -> Result<(String, String, String), String> {
    let p = &spec.templates;
    let lang = templates.lang;
    // The user's template for the language, else the shipped one for the language; a custom
    // prefix without a file for the language uses its own file.
    let part = |suffix: &str| -> Result<String, String> {
        let base = format!("{p}.{suffix}");
        let name = crate::template::Templates::localized_name(&base, lang);
        let shipped = (p == "email").then(|| shipped(suffix, lang));
        let name = if shipped.is_none() && !templates.dir().join(&name).exists() {
            base
        } else {
            name
        };
        match templates.render(&name, shipped, payload) {
            Ok(t) => Ok(t),
            Err(e) if e.exceeded.is_some() => Err(format!("email template {e}")),
            Err(e) => {
                tracing::warn!("email template: {e}; using the shipped template");
                Ok(templates
                    .render_str(
                        &format!("{name} (shipped)"),
                        &name,
                        shipped.unwrap_or(""),
                        payload,
                    )
                    .unwrap_or_default())
            }
        }
    };
    let subject = part("subject.j2")?;
    let subject = subject
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("clawcron");
    let text = part("txt.j2")?;
    let html = part("html.j2")?;
    Ok((subject.trim().to_string(), text, html))
}

/// `X-Clawcron-Delivery: <idempotency key>`.
#[derive(Clone)]
struct DeliveryKey(String);

impl Header for DeliveryKey {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Clawcron-Delivery")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(DeliveryKey(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The Message-ID for a notice key: the same key always gives the same id.
pub fn message_id(key: &str, from: &str) -> String {
    let domain = from.rsplit_once('@').map_or("clawcron.local", |(_, d)| d);
    let digest = hex::encode(&sha2::Sha256::digest(key.as_bytes())[..16]);
    format!("<{digest}.clawcron@{}>", domain.trim_end_matches('>'))
}

fn mailbox(s: &str, what: &str) -> Result<Mailbox, String> {
    s.parse()
        .map_err(|e| format!("`{s}` is not a valid {what} address: {e}"))
}

fn build(
    spec: &EmailSpec,
    key: &str,
    templates: &Templates,
    payload: &serde_json::Value,
) -> Result<Message, String> {
    let (subject, text, html) = render(spec, templates, payload)?;
    let mut b = Message::builder()
        .from(mailbox(&spec.from, "from")?)
        .subject(subject)
        .message_id(Some(message_id(key, &spec.from)))
        .header(DeliveryKey(key.to_string()));
    for to in &spec.to {
        b = b.to(mailbox(to, "to")?);
    }
    for cc in &spec.cc {
        b = b.cc(mailbox(cc, "cc")?);
    }
    let body = match report_files(payload)? {
        // A report: its HTML as the body, its Markdown as the text part and as an attachment.
        Some((name, md, report_html)) => MultiPart::mixed()
            .multipart(MultiPart::alternative_plain_html(md.clone(), report_html))
            .singlepart(
                lettre::message::Attachment::new(name).body(
                    md,
                    lettre::message::header::ContentType::parse("text/markdown; charset=utf-8")
                        .map_err(|e| e.to_string())?,
                ),
            ),
        None => MultiPart::alternative_plain_html(text, html),
    };
    b.multipart(body)
        .map_err(|e| format!("cannot build the message: {e}"))
}

/// A report notice's files: (attachment name, Markdown, HTML).
fn report_files(payload: &serde_json::Value) -> Result<Option<(String, String, String)>, String> {
    let Some(r) = payload.get("report") else {
        return Ok(None);
    };
    let path = |k: &str| {
        r.get(k)
            .and_then(|p| p.as_str())
            .map(std::path::PathBuf::from)
    };
    let (Some(md), Some(html)) = (path("markdown_path"), path("html_path")) else {
        return Ok(None);
    };
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the report {}: {e}", p.display()))
    };
    let name = md.file_name().map_or_else(
        || "report.md".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Some((name, read(&md)?, read(&html)?)))
}

fn transport(
    spec: &EmailSpec,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = match spec.tls {
        Tls::None => LettreTls::None,
        Tls::StartTls | Tls::Implicit => {
            let mut params = TlsParameters::builder(spec.host.clone());
            if let Some(ca) = &spec.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| format!("cannot read ca_file {}: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                params = params.add_root_certificate(cert);
            }
            let params = params
                .build_rustls()
                .map_err(|e| format!("TLS set-up: {e}"))?;
            if spec.tls == Tls::Implicit {
                LettreTls::Wrapper(params)
            } else {
                LettreTls::Required(params)
            }
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&spec.host)
        .port(spec.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(user) = &spec.username {
        let pass = match &spec.password {
            Some(p) => crate::config::secrets::password(p)?,
            None => String::new(),
        };
        b = b.credentials(Credentials::new(user.clone(), pass));
    }
    Ok(b.build())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    crate::redact::scrub(&s).into_owned()
}

/// Connects, says EHLO, upgrades to TLS and logs in as configured, then quits: no mail is sent.
pub async fn test_login(spec: &EmailSpec, timeout: Duration) -> Result<String, String> {
    let t = transport(spec, timeout)?;
    match tokio::time::timeout(timeout * 2, t.test_connection()).await {
        Err(_) => Err("no answer in time".into()),
        Ok(Err(e)) => Err(error_chain(&e)),
        Ok(Ok(false)) => Err("the server closed the connection".into()),
        Ok(Ok(true)) => Ok(format!(
            "{}:{} {}{}",
            spec.host,
            spec.port,
            match spec.tls {
                Tls::None => "plain",
                Tls::StartTls => "STARTTLS",
                Tls::Implicit => "TLS",
            },
            if spec.username.is_some() {
                ", login accepted"
            } else {
                ""
            }
        )),
    }
}

/// One delivery attempt.
pub async fn send(
    spec: &EmailSpec,
    key: &str,
    payload: &serde_json::Value,
    templates: &Templates,
    timeout: Duration,
    retry_at: i64,
) -> Delivery {
    let retry = |error: String| Delivery::Retry {
        error,
        at: retry_at,
    };
    // The templates are the user's: rendered off the runtime's thread, bounded, and stopped
    // when the channel's timeout passes.
    let bounds = crate::template::Bounds::notice();
    let flag = bounds.clone();
    let (spec2, key2, payload2) = (spec.clone(), key.to_string(), payload.clone());
    let templates2 = templates.with_bounds(bounds);
    let task = tokio::task::spawn_blocking(move || build(&spec2, &key2, &templates2, &payload2));
    let message = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(Ok(m))) => m,
        Ok(Ok(Err(e))) => return Delivery::Failed { error: e },
        Ok(Err(e)) => {
            return Delivery::Failed {
                error: format!("the email could not be rendered: {e}"),
            };
        }
        Err(_) => {
            flag.stop();
            return Delivery::Failed {
                error: format!(
                    "the email's templates were not rendered within {} (notify_timeout): stopped",
                    crate::util::duration::format(timeout)
                ),
            };
        }
    };
    let transport = match transport(spec, timeout) {
        Ok(t) => t,
        Err(e) => return retry(e),
    };
    // lettre's timeout is per command; this bounds the whole conversation.
    match tokio::time::timeout(timeout * 2, transport.send(message)).await {
        Err(_) => retry("no answer in time".into()),
        Ok(Ok(resp)) => Delivery::Sent {
            answer: format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            ),
        },
        Ok(Err(e)) if e.is_permanent() => Delivery::Failed {
            error: error_chain(&e),
        },
        Ok(Err(e)) => retry(error_chain(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::host::is_loopback;

    #[test]
    fn message_ids_are_stable_per_key() {
        let a = message_id("run:1:failure:ops", "clawcron@example.org");
        assert_eq!(a, message_id("run:1:failure:ops", "clawcron@example.org"));
        assert_ne!(a, message_id("run:2:failure:ops", "clawcron@example.org"));
        assert!(a.ends_with(".clawcron@example.org>"), "{a}");
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("[::1]"));
        assert!(!is_loopback("smtp.example.org") && !is_loopback("10.0.0.1"));
    }

    fn test_spec() -> EmailSpec {
        EmailSpec {
            host: "127.0.0.1".into(),
            port: 25,
            tls: Tls::None,
            username: None,
            password: None,
            ca_file: None,
            from: "a@b.c".into(),
            to: vec!["d@e.f".into()],
            cc: vec![],
            templates: "email".into(),
        }
    }

    #[test]
    fn a_users_template_wins_for_its_language_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("email.fr.subject.j2"), "MIENNE {{ title }}").unwrap();
        let spec = test_spec();
        let payload = serde_json::json!({ "v": 2, "event": "success", "job": "j", "run_id": 1 });
        let t = Templates::new(dir.path(), chrono_tz::UTC);
        let (fr, tfr) = crate::notify::localized("c", &payload, &t.in_lang(crate::i18n::Lang::Fr));
        assert_eq!(render(&spec, &tfr, &fr).unwrap().0, "MIENNE j a réussi");
        let (en, ten) = crate::notify::localized("c", &payload, &t);
        assert_eq!(render(&spec, &ten, &en).unwrap().0, "[clawcron] j ran fine");
    }

    #[test]
    fn shipped_templates_render_a_failure() {
        let spec = test_spec();
        let payload = serde_json::json!({
            "v": 2, "event": "failure", "title": "clawcron: backup failure", "text": "backup failure: failed (exit 3)",
            "job": "backup", "run_id": 7, "status": "failed", "started_at_ms": 0, "finished_at_ms": 61_000,
            "attempts": 2, "error": "exit 3 <stderr>", "output_tail": "disk full", "metrics": {"latency_ms": 12.4},
            "failing_since_ms": 0, "failures": 1, "repeat_ms": 14_400_000,
        });
        let mut templates = Templates::new("/nonexistent", chrono_tz::UTC);
        templates.dashboard = Some("http://127.0.0.1:8787/".into());
        let (en, t) = crate::notify::localized("ops", &payload, &templates);
        let (subject, text, html) = render(&spec, &t, &en).unwrap();
        assert_eq!(subject, "[clawcron] backup is failing");
        assert!(text.contains("backup failed: exit 3 <stderr>"), "{text}");
        assert!(
            text.contains("disk full") && text.contains("latency_ms = 12 ms"),
            "{text}"
        );
        assert!(
            text.contains("Thursday 1 January 1970 00:00 (UTC) (1 min 1 s)"),
            "{text}"
        );
        assert!(text.contains("Next reminder in 4 h"), "{text}");
        assert!(text.contains("http://127.0.0.1:8787/"), "{text}");
        assert!(html.contains("exit 3 &lt;stderr&gt;"), "{html}");
        assert!(html.contains("<pre>disk full</pre>"), "{html}");
        // The same notice for a French channel.
        templates
            .channel_langs
            .insert("ops".into(), crate::i18n::Lang::Fr);
        let (fr, t) = crate::notify::localized("ops", &payload, &templates);
        let (subject, text, _) = render(&spec, &t, &fr).unwrap();
        assert_eq!(subject, "[clawcron] backup est en échec");
        assert!(text.contains("backup a échoué : exit 3 <stderr>"), "{text}");
        assert!(
            text.contains("jeudi 1 janvier 1970 00:00 (UTC) (1 min 1 s)"),
            "{text}"
        );
        assert!(text.contains("clawcron, votre planificateur"), "{text}");
        assert!(html.contains("<pre>disk full</pre>"), "{html}");
    }
}
