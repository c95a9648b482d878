//! Secrets belong to the loaded configuration: every load and every reload registers the
//! secrets it resolved (tokens, credentials in URLs, secret-bearing headers and environment
//! values, SMTP passwords), so that they are redacted wherever text leaves the process.

use crate::model::{ActionSpec, Channel, GlobalConfig, HttpSpec, JobSpec, Password, Program};
use crate::redact;

/// Registers the secrets of the global file (its channels) and of the environment.
pub fn register_global(global: &GlobalConfig) {
    redact::register_env();
    for channel in global.notifiers.values() {
        register_channel(channel);
    }
}

/// Registers the secrets a job holds: its action's, and its remediations'.
pub fn register_job(job: &JobSpec) {
    register_action(&job.action);
    for fix in job.alerts.iter().filter_map(|r| r.remediate.as_ref()) {
        register_action(&fix.action);
    }
}

fn register_http(h: &HttpSpec) {
    redact::register_url(&h.url, false);
    for (k, v) in &h.headers {
        redact::register_header(k, v);
    }
    if let Some(var) = &h.bearer_env
        && let Ok(v) = std::env::var(var)
    {
        redact::register(&v);
    }
}

fn register_action(action: &ActionSpec) {
    match action {
        ActionSpec::Http(h) => register_http(h),
        ActionSpec::DockerRestart(r) => {
            if let Some(p) = &r.probe {
                register_http(p)
            }
        }
        ActionSpec::Command(c) => {
            for (k, v) in &c.env {
                if redact::secret_name(k) {
                    redact::register(v);
                }
            }
            match &c.program {
                Program::Argv(argv) => register_args(argv),
                Program::Shell(s) => {
                    register_args(&s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                }
            }
        }
        ActionSpec::DockerExec(e) => register_args(&e.command),
        ActionSpec::Monitor(m) => m.probes.iter().for_each(|p| register_action(&p.action)),
        ActionSpec::Report(r) => r.checks.iter().for_each(|c| register_action(&c.action)),
        _ => {}
    }
}

/// Secrets in a command line: the value after a flag named like a secret (`--token X`,
/// `--password=X`), a header given as an argument (`-H "Authorization: Bearer X"`), and the
/// credentials of a URL (`https://user:X@host`, `?api_key=X`).
fn register_args(argv: &[String]) {
    let flag_name = |a: &str| a.trim_start_matches('-').to_string();
    for (i, arg) in argv.iter().enumerate() {
        let arg = arg.trim_matches(|c| c == '"' || c == '\'');
        if arg.contains("://") {
            redact::register_url(arg, false);
        }
        if let Some((name, value)) = arg.split_once(':')
            && !value.starts_with("//")
            && !name.contains(' ')
        {
            redact::register_header(name.trim(), value.trim());
        }
        if arg.starts_with('-') {
            match arg.split_once('=') {
                Some((flag, value)) if redact::secret_name(&flag_name(flag)) => {
                    redact::register(value)
                }
                Some(_) => {}
                None if redact::secret_name(&flag_name(arg)) => {
                    if let Some(next) = argv.get(i + 1) {
                        redact::register(next);
                    }
                }
                None => {}
            }
        }
    }
}

fn register_channel(channel: &Channel) {
    match channel {
        Channel::Webhook(w) => {
            redact::register_url(&w.url, true);
            for (k, v) in &w.headers {
                redact::register_header(k, v);
            }
            if let Some(s) = &w.secret {
                let _ = read(s, "the webhook's signing secret");
            }
        }
        Channel::Email(e) => {
            if let Some(p) = &e.password {
                let _ = password(p);
            }
        }
    }
}

/// Reads the password from where the config says it is.
pub fn password(p: &Password) -> Result<String, String> {
    read(p, "the SMTP password")
}

/// Reads a secret (`what` names it in the error) from where the config says it is, now: a
/// variable, or a file (trailing newline dropped). An empty one is an error too. Each value
/// read is registered for redaction.
pub fn read(p: &Password, what: &str) -> Result<String, String> {
    let value = match p {
        Password::Env(var) => std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("environment variable `{var}` ({what}) is not set"))?,
        Password::File(path) => {
            // Opened without blocking, and only a regular file: a FIFO would hang the read.
            let bytes = crate::util::files::read_regular(path, 64 * 1024).map_err(|e| {
                let why = match e {
                    crate::util::files::ReadError::Io(e) => e.to_string(),
                    e => e.to_string(),
                };
                format!("cannot read {what} from {}: {why}", path.display())
            })?;
            let v = String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            if v.is_empty() {
                return Err(format!("{what} file {} is empty", path.display()));
            }
            v
        }
    };
    crate::redact::register(&value);
    Ok(value)
}
