//! The webhook channel: a POST of the notice, as the documented generic JSON or shaped for Slack,
//! Discord or ntfy, with optional custom headers and an HMAC-SHA256 signature of the body
//! (`X-Clawcron-Signature: sha256=<hex>`) so the receiver can check it came from us.
//! 2xx is delivered; 5xx, 429, timeouts and refused connections are retried; other 4xx are not.

use crate::model::Delivery;
use crate::model::{Format, WebhookSpec};
use hmac::{Hmac, Mac};
use std::time::Duration;

/// What is sent: (body, content type, extra headers).
pub fn shape(
    spec: &WebhookSpec,
    payload: &serde_json::Value,
) -> (Vec<u8>, &'static str, Vec<(String, String)>) {
    let text = payload
        .get("text")
        .and_then(|t| t.as_str())
        .unwrap_or("clawcron")
        .to_string();
    match spec.format {
        Format::Generic => (
            serde_json::to_vec(payload).unwrap_or_default(),
            "application/json",
            Vec::new(),
        ),
        Format::Slack => (
            serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap_or_default(),
            "application/json",
            Vec::new(),
        ),
        Format::Discord => (
            serde_json::to_vec(&serde_json::json!({ "content": text })).unwrap_or_default(),
            "application/json",
            Vec::new(),
        ),
        Format::Ntfy => {
            let title = payload
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or("clawcron")
                .to_string();
            let bad = matches!(
                payload.get("event").and_then(|e| e.as_str()),
                Some(
                    "failure"
                        | "failure.repeat"
                        | "alert.fired"
                        | "alert.repeat"
                        | "alert.escalated"
                        | "alert.remediation-failed"
                        | "missed"
                )
            );
            let headers = vec![
                // Accents arrive intact: non-ASCII in a header is RFC 2047-encoded.
                ("Title".to_string(), super::text::encode_header(&title)),
                (
                    "Priority".to_string(),
                    if bad { "high" } else { "default" }.to_string(),
                ),
                (
                    "Tags".to_string(),
                    if bad { "warning" } else { "white_check_mark" }.to_string(),
                ),
            ];
            (text.into_bytes(), "text/plain; charset=utf-8", headers)
        }
    }
}

/// The signature header value for `body` with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // An HMAC takes a key of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One delivery attempt; `retry_at` says when to try again if it should be retried.
pub async fn send(
    spec: &WebhookSpec,
    key: &str,
    payload: &serde_json::Value,
    timeout: Duration,
    retry_at: i64,
) -> Delivery {
    let (body, ctype, extra) = shape(spec, payload);
    // A redirect to another origin is not followed: the custom headers and the signature
    // would go with it. No `Referer` either (the hook's path and query often are its token).
    let client = match reqwest::Client::builder()
        .timeout(timeout)
        .referer(false)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().map(reqwest::Url::origin);
            if first.is_some_and(|o| o != attempt.url().origin()) {
                attempt.stop()
            } else if attempt.previous().len() > 5 {
                attempt.error("more than 5 redirects")
            } else {
                attempt.follow()
            }
        }))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Delivery::Retry {
                error: crate::util::chain(&e),
                at: retry_at,
            };
        }
    };
    let mut req = client
        .post(&spec.url)
        .header("Content-Type", ctype)
        .header("X-Clawcron-Delivery", key);
    for (k, v) in spec.headers.iter().chain(extra.iter()) {
        req = req.header(k, v);
    }
    // Read at each send, so that a changed or fixed secret needs no restart.
    if let Some(s) = &spec.secret {
        match crate::config::secrets::read(s, "the signing secret") {
            Ok(secret) => {
                req = req.header("X-Clawcron-Signature", signature(secret.as_bytes(), &body))
            }
            Err(error) => {
                return Delivery::Retry {
                    error,
                    at: retry_at,
                };
            }
        }
    }
    match req.body(body).send().await {
        Ok(mut resp) => {
            let status = resp.status();
            // The answer is only shown: read at most 4 KB of it, never the whole of a big body.
            let mut head = Vec::new();
            while head.len() < 4096 {
                match resp.chunk().await {
                    Ok(Some(c)) => head.extend_from_slice(&c[..c.len().min(4096 - head.len())]),
                    _ => break,
                }
            }
            // Redacted before it is cut, so that no part of a secret survives the cut.
            let text: String = crate::redact::scrub(&String::from_utf8_lossy(&head))
                .chars()
                .take(300)
                .collect();
            let answer = format!("{} {}", status.as_u16(), text.trim());
            if status.is_redirection() {
                return Delivery::Failed {
                    error: format!(
                        "{answer}: a redirect to another origin is not followed (its headers and signature would go with it); give the hook's final URL"
                    ),
                };
            }
            if status.is_success() {
                Delivery::Sent { answer }
            } else if status.is_server_error() || status.as_u16() == 429 {
                Delivery::Retry {
                    error: answer,
                    at: retry_at,
                }
            } else {
                Delivery::Failed { error: answer }
            }
        }
        Err(e) => Delivery::Retry {
            // Without the URL: a webhook URL often holds a token (ntfy topic, Slack hook).
            error: if e.is_timeout() {
                "no answer in time".into()
            } else {
                crate::util::chain(&e.without_url())
            },
            at: retry_at,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn presets_shape_the_body() {
        let p = serde_json::json!({"event": "failure", "text": "job x failed", "title": "clawcron: x failed"});
        let spec = |format| WebhookSpec {
            url: String::new(),
            format,
            headers: vec![],
            secret: None,
        };
        assert_eq!(
            shape(&spec(Format::Slack), &p).0,
            br#"{"text":"job x failed"}"#
        );
        assert_eq!(
            shape(&spec(Format::Discord), &p).0,
            br#"{"content":"job x failed"}"#
        );
        let (body, ctype, headers) = shape(&spec(Format::Ntfy), &p);
        assert_eq!(
            (body.as_slice(), ctype),
            (b"job x failed".as_slice(), "text/plain; charset=utf-8")
        );
        assert!(headers.contains(&("Priority".to_string(), "high".to_string())));
    }
}
