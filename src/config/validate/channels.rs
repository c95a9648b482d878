//! Notification channels: the email channel (webhooks are checked with the global file).

use super::*;

/// The notification channels, and the channels told about the daemon itself.
pub(super) fn notifiers(c: &mut Checker<'_>, raw: &RawGlobal, g: &mut GlobalConfig) {
    for (name, n) in raw.notifiers.iter().flat_map(|m| m.value.iter()) {
        let key = format!("notifiers.{name}");
        match (&n.value.webhook, &n.value.email) {
            (Some(w), None) => {
                let w = &w.value;
                let Some(url) = c.interp(&w.url, &format!("{key}.webhook.url")) else {
                    continue;
                };
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    c.error(
                        &w.url,
                        &format!("{key}.webhook.url"),
                        format!("`{url}` is not an http:// or https:// URL"),
                    );
                    continue;
                }
                let format = match c.choice(
                    &w.format,
                    &format!("{key}.webhook.format"),
                    crate::model::Format::NAMES,
                ) {
                    Some(1) => crate::model::Format::Slack,
                    Some(2) => crate::model::Format::Discord,
                    Some(3) => crate::model::Format::Ntfy,
                    _ => crate::model::Format::Generic,
                };
                let mut headers = Vec::new();
                for (k, v) in w.headers.iter().flat_map(|h| h.value.iter()) {
                    if let Some(v) = c.interp(v, &format!("{key}.webhook.headers.{k}")) {
                        headers.push((k.clone(), v));
                    }
                }
                let secret = match (&w.secret_env, &w.secret_file) {
                    (Some(v), None) => Some(crate::model::Password::Env(v.value.clone())),
                    (None, Some(f)) => {
                        let Some(f) = c.interp(f, &format!("{key}.webhook.secret_file")) else {
                            continue;
                        };
                        Some(crate::model::Password::File(expand_home(&f)))
                    }
                    (None, None) => None,
                    (Some(v), Some(_)) => {
                        c.error(
                            v,
                            &format!("{key}.webhook.secret_env"),
                            "give `secret_env` or `secret_file`, not both",
                        );
                        continue;
                    }
                };
                g.notifiers.insert(
                    name.clone(),
                    crate::model::Channel::Webhook(crate::model::WebhookSpec {
                        url,
                        format,
                        headers,
                        secret,
                    }),
                );
            }
            (None, Some(e)) => {
                if let Some(spec) = email_channel(c, &key, &e.value) {
                    g.notifiers
                        .insert(name.clone(), crate::model::Channel::Email(spec));
                }
            }
            _ => {
                let d = c.error(n, &key, "a notifier is exactly one of `webhook` or `email`");
                d.expected = Some(
                    "`webhook: { url: ..., format: generic|slack|discord|ntfy }` or `email: { smtp: {...}, from: ..., to: [...] }`".into(),
                );
            }
        }
    }
    for to in raw.daemon_notify.iter().flat_map(|d| d.value.iter()) {
        if g.notifiers.contains_key(&to.value) {
            g.daemon_notify.push(to.value.clone());
        } else {
            c.error(
                to,
                "daemon_notify",
                format!("no notifier `{}` declared under `notifiers:`", to.value),
            );
        }
    }
}

pub(super) fn email_channel(
    c: &mut Checker<'_>,
    key: &str,
    e: &crate::config::raw::RawEmail,
) -> Option<crate::model::EmailSpec> {
    use crate::model::{EmailSpec, Password, Tls};
    use crate::util::host::is_loopback;
    let smtp = &e.smtp.value;
    let k = format!("{key}.email.smtp");
    let host = c.interp(&smtp.host, &format!("{k}.host"))?;
    if let Some(p) = &smtp.password {
        let d = c.error(
            p,
            &format!("{k}.password"),
            "a password never goes in the YAML",
        );
        d.expected = Some("`password_env: VAR` or `password_file: PATH`".into());
        return None;
    }
    let tls = match c.choice(&smtp.tls, &format!("{k}.tls"), Tls::NAMES) {
        Some(0) => Tls::None,
        Some(1) => Tls::StartTls,
        Some(_) => Tls::Implicit,
        None if smtp.port.as_ref().is_some_and(|p| p.value == 465) => Tls::Implicit,
        None if is_loopback(&host) => Tls::None,
        None => Tls::StartTls,
    };
    if tls == Tls::None && !is_loopback(&host) {
        let s = smtp.tls.as_ref().unwrap_or(&smtp.host);
        let d = c.error(
            s,
            &format!("{k}.tls"),
            format!("`tls: none` sends mail (and any password) in clear; it is allowed only for a server on this machine, not `{host}`"),
        );
        d.expected = Some("`tls: starttls` (port 587) or `tls: implicit` (port 465)".into());
        return None;
    }
    let port = smtp.port.as_ref().map_or(
        match tls {
            Tls::None => 25,
            Tls::StartTls => 587,
            Tls::Implicit => 465,
        },
        |p| p.value,
    );
    let username = smtp
        .username
        .as_ref()
        .and_then(|u| c.interp(u, &format!("{k}.username")));
    let password = match (&smtp.password_env, &smtp.password_file) {
        (Some(v), None) => Some(Password::Env(v.value.clone())),
        (None, Some(f)) => c
            .interp(f, &format!("{k}.password_file"))
            .map(|f| Password::File(expand_home(&f))),
        (None, None) => None,
        (Some(v), Some(_)) => {
            c.error(
                v,
                &format!("{k}.password_env"),
                "give `password_env` or `password_file`, not both",
            );
            return None;
        }
    };
    if password.is_some() && username.is_none() {
        c.error(
            &e.smtp,
            &format!("{k}.username"),
            "a password is given but no `username`",
        );
        return None;
    }
    let ca_file = smtp
        .ca_file
        .as_ref()
        .and_then(|f| c.interp(f, &format!("{k}.ca_file")))
        .map(|f| expand_home(&f));
    let mut address = |s: &S<String>, what: &str| -> Option<String> {
        let v = c.interp(s, what)?;
        if v.parse::<lettre::message::Mailbox>().is_err() {
            let d = c.error(s, what, format!("`{v}` is not an email address"));
            d.expected = Some("`name@example.org` or `Name <name@example.org>`".into());
            return None;
        }
        Some(v)
    };
    let from = address(&e.from, &format!("{key}.email.from"))?;
    let to: Vec<String> =
        e.to.value
            .iter()
            .filter_map(|t| address(t, &format!("{key}.email.to")))
            .collect();
    let cc: Vec<String> =
        e.cc.iter()
            .flat_map(|v| v.value.iter())
            .filter_map(|t| address(t, &format!("{key}.email.cc")))
            .collect();
    if to.is_empty() {
        c.error(
            &e.to,
            &format!("{key}.email.to"),
            "needs at least one address",
        );
        return None;
    }
    let templates = e
        .templates
        .as_ref()
        .map_or_else(|| "email".to_string(), |t| t.value.clone());
    Some(EmailSpec {
        host,
        port,
        tls,
        username,
        password,
        ca_file,
        from,
        to,
        cc,
        templates,
    })
}
