//! Secrets never leave in clear: every value registered here (SMTP passwords, signing secrets,
//! webhook URLs that carry a token, authorisation headers, environment variables named like a
//! secret) is replaced by `[redacted]` in log lines, ledger rows (errors, output tails) and
//! notification payloads and errors.

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shorter values are not redacted: they would blank out ordinary words and numbers.
const MIN_LEN: usize = 6;

pub const MARK: &str = "[redacted]";

/// Registers a secret value.
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < MIN_LEN {
        return;
    }
    let Ok(mut s) = SECRETS.write() else { return };
    if !s.iter().any(|v| v == value) {
        s.push(value.to_string());
        // Longest first, so that a secret containing another is replaced whole.
        s.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// Registers the parts of a URL that may carry a token: userinfo and query values named like a
/// secret; for a webhook (`all`), also a long path and every query value, since a webhook URL is
/// usually a secret as a whole (Slack's /services/T../B../xxx, an ntfy topic).
pub fn register_url(url: &str, all: bool) {
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        register(userinfo);
        if let Some((_, pass)) = userinfo.split_once(':') {
            register(pass);
        }
    }
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    if all && path.len() > 12 {
        register(path.trim_matches('/'));
    }
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=')
            && (all
                || secret_name(k)
                || ["key", "sig", "signature", "auth", "access_token"]
                    .contains(&k.to_ascii_lowercase().as_str()))
        {
            register(v);
        }
    }
}

/// Registers a header's value if the header carries credentials (`Authorization: Bearer x`
/// registers `x` too, as it may be shown without its scheme).
pub fn register_header(name: &str, value: &str) {
    let lower = name.to_ascii_lowercase();
    if secret_name(name)
        || ["authorization", "proxy-authorization", "cookie"].contains(&lower.as_str())
    {
        register(value);
        if let Some((_, credential)) = value.trim().split_once(' ') {
            register(credential);
        }
    }
}

/// Whether an environment variable's name says it holds a secret.
pub fn secret_name(name: &str) -> bool {
    // Header names spell with hyphens what variables spell with underscores (`X-Api-Key`).
    let n = name.to_ascii_uppercase().replace('-', "_");
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "ACCESS_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// Registers the values of the process's environment variables named like secrets.
pub fn register_env() {
    for (k, v) in std::env::vars() {
        if secret_name(&k) {
            register(&v);
        }
    }
}

/// `text` with every registered secret replaced.
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let Ok(s) = SECRETS.read() else {
        return text.into();
    };
    if s.is_empty() || !s.iter().any(|v| text.contains(v.as_str())) {
        return text.into();
    }
    let mut out = text.to_string();
    for v in s.iter() {
        if out.contains(v.as_str()) {
            out = out.replace(v.as_str(), MARK);
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_and_url_tokens_are_scrubbed() {
        register("hunter2-very-secret");
        register("abc"); // too short: ignored
        register_url(
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX?token=qwerty123",
            true,
        );
        register_url(
            "http://127.0.0.1/api/v1/health/check?model=llama3&key=k3y-value",
            false,
        );
        assert_eq!(
            scrub("GET /api/v1/health/check?model=llama3&key=k3y-value"),
            "GET /api/v1/health/check?model=llama3&key=[redacted]"
        );
        let s = scrub(
            "login with hunter2-very-secret to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX?token=qwerty123 abc",
        );
        assert_eq!(
            s,
            "login with [redacted] to https://hooks.slack.com/[redacted]?token=[redacted] abc"
        );
        assert!(secret_name("SMTP_PASSWORD") && secret_name("ntfy_token") && !secret_name("PATH"));
    }
}
