//! Secrets never leave in clear: every value registered here (SMTP passwords, signing secrets,
//! webhook URLs that carry a token, authorisation headers, environment variables named like a
//! secret) is replaced by `[redacted]` in log lines, ledger rows (errors, output tails) and
//! notification payloads and errors.
//!
//! A value is also looked for as text that escaped it shows it: JSON and Rust string escapes
//! (`\"`, `\\`), HTML entities and URL percent-encoding, so that redacting after escaping
//! (an API answer, a quoted body snippet) leaves no hole. Which names mark a secret is decided
//! here alone (`SECRET_WORDS`, `SECRET_NAMES`, `SECRET_SUFFIXES`; SECURITY.md lists them).

use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shorter values are not redacted: they would blank out ordinary words and numbers.
const MIN_LEN: usize = 6;

pub const MARK: &str = "[redacted]";

/// A name holds a secret when it contains one of these (case-insensitive, `-` read as `_`, so
/// that the header `X-Api-Key` is the variable `X_API_KEY`).
pub const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "ACCESS_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "SIGNATURE",
];

/// ... or is one of these whole (short words that would match too much inside other names:
/// the query parameters `key`, `sig` and `sas` of signed URLs, `auth`, `pass`).
/// (Not `PWD`: that is the shell's working directory, and `OLDPWD` its last one.)
pub const SECRET_NAMES: &[&str] = &["KEY", "SIG", "SAS", "AUTH", "ACCESS_TOKEN", "PASS"];

/// ... or ends with one of these (`SMTP_PASS`, `DB_PWD`, `OPENAI_KEY`).
pub const SECRET_SUFFIXES: &[&str] = &["_PASS", "_PWD", "_KEY"];

/// The forms a value takes once escaped for JSON (and Rust's `{:?}`), HTML or a URL.
fn escaped_forms(value: &str) -> Vec<String> {
    let json = serde_json::to_string(value)
        .map(|q| q[1..q.len() - 1].to_string())
        .unwrap_or_default();
    let mut html = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            c => html.push(c),
        }
    }
    let html_hex = html.replace("&#39;", "&#x27;");
    let mut url = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    let debug = format!("{value:?}");
    let debug = debug[1..debug.len() - 1].to_string();
    [
        json,
        html,
        html_hex,
        url.clone(),
        url.to_ascii_lowercase(),
        debug,
    ]
    .into_iter()
    .filter(|v| v != value)
    .collect()
}

/// Registers a secret value (and the forms escaping gives it).
pub fn register(value: &str) {
    let value = value.trim();
    if value.len() < MIN_LEN {
        return;
    }
    let Ok(mut s) = SECRETS.write() else { return };
    if s.iter().any(|v| v == value) {
        return;
    }
    s.push(value.to_string());
    for form in escaped_forms(value) {
        if !s.contains(&form) {
            s.push(form);
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    s.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// The length of the longest registered form, in bytes (a text cut shorter than this after a
/// secret could keep part of one: cut after redacting, with this much to spare).
pub fn longest() -> usize {
    SECRETS
        .read()
        .map(|s| s.first().map_or(0, String::len))
        .unwrap_or(0)
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
            && (all || secret_name(k))
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
    SECRET_WORDS.iter().any(|s| n.contains(s))
        || SECRET_NAMES.contains(&n.as_str())
        || SECRET_SUFFIXES.iter().any(|s| n.ends_with(s))
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
