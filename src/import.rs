//! `clawcron import crontab [FILE|-]`: one job file per crontab line, keeping the schedule, the
//! command (as a shell string), the environment lines and the comment above a line as its
//! description. The guide's lines are recognised: `docker restart NAME` becomes a
//! `docker.restart` job; a command appending its output to a log file loses the redirection, since
//! the ledger keeps the output now. `@reboot` becomes `at_start`. `%` follows crontab's rule (the
//! first unescaped `%` ends the command, the rest is its standard input, `\%` is a `%`). A bad line
//! is reported with its line number and skipped; an existing job file is never overwritten.
//! A system crontab (`/etc/crontab`, `/etc/cron.d/*`, `--system`, or a line whose sixth field
//! names a user of this machine) has a user between the schedule and the command: it is taken
//! out of the command, and a note says when it is not the user clawcron runs as.

use crate::model::CronSchedule;
use std::collections::BTreeMap;

/// A job file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub id: String,
    pub line: usize,
    pub yaml: String,
}

/// What an import found.
#[derive(Debug, Default)]
pub struct Import {
    pub jobs: Vec<Imported>,
    /// Lines that could not be imported: (line number, why).
    pub errors: Vec<(usize, String)>,
    /// Things to do by hand (MAILTO, SHELL).
    pub notes: Vec<String>,
}

/// `bytes` as text, line by line: a line that is not UTF-8 is left empty in the text (so line
/// numbers hold) and named in the second list, with the offending byte and its column.
pub fn utf8_lines(bytes: &[u8]) -> (String, Vec<(usize, String)>) {
    let mut text = String::with_capacity(bytes.len());
    let mut bad = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(l) => text.push_str(l),
            Err(e) => {
                let at = e.valid_up_to();
                bad.push((
                    i + 1,
                    format!(
                        "not UTF-8 text (byte 0x{:02x} at column {}): fix the line and import again",
                        line[at],
                        String::from_utf8_lossy(&line[..at]).chars().count() + 1
                    ),
                ));
            }
        }
    }
    (text, bad)
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A job id from a command: the script's or program's name, or `restart-NAME`.
fn id_for(command: &str) -> String {
    let first = command.split_whitespace().next().unwrap_or("job");
    let base = first.rsplit('/').next().unwrap_or(first);
    let base = base.split('.').next().unwrap_or(base);
    let id: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_matches('-').to_string();
    if id.is_empty() { "job".into() } else { id }
}

/// Splits crontab's `%`: (command, standard input lines).
fn split_percent(cmd: &str) -> (String, Option<Vec<String>>) {
    let mut out = String::new();
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => {
                // The rest is standard input: each further unescaped `%` is a new line.
                let mut lines = Vec::new();
                let mut line = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' if chars.peek() == Some(&'%') => {
                            chars.next();
                            line.push('%');
                        }
                        '%' => lines.push(std::mem::take(&mut line)),
                        c => line.push(c),
                    }
                }
                lines.push(line);
                return (out.trim().to_string(), Some(lines));
            }
            c => out.push(c),
        }
    }
    (out.trim().to_string(), None)
}

/// `cmd >> /var/log/x.log 2>&1` without the redirection (the ledger keeps the output).
fn strip_log_redirect(cmd: &str) -> Option<String> {
    let re = regex::Regex::new(
        r"^(?P<cmd>.+?)\s*(?:>>|1>>)\s*(?P<file>\S+\.log|\S+/log/\S+)(?:\s+2>&1)?\s*$",
    )
    .ok()?;
    let c = re.captures(cmd)?;
    Some(c.name("cmd")?.as_str().trim().to_string())
}

/// Whether a crontab has a user field (system crontabs do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A user's crontab (`crontab -l`): schedule, then command.
    User,
    /// `/etc/crontab`, `/etc/cron.d/*`: schedule, user, command.
    System,
    /// A system crontab when every schedule line's sixth field names a user of this machine
    /// (`mail` and `backup` are Debian users and commands too: one line is not enough).
    Detect,
}

/// Whether `name` is a user of this machine.
fn is_user(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: getpwnam reads the user database; we only test the pointer.
    !unsafe { libc::getpwnam(c.as_ptr()) }.is_null()
}

/// The user this process runs as.
fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage, read at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Parses a crontab; `existing` says whether a job id is taken already.
pub fn crontab(
    text: &str,
    tz: chrono_tz::Tz,
    existing: &dyn Fn(&str) -> bool,
    format: Format,
) -> Import {
    let me = current_user();
    let format = match format {
        Format::Detect => {
            let mut sixth = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .filter_map(|l| schedule_and_command(l).ok())
                .map(|(_, cmd)| cmd.split_whitespace().next().unwrap_or("").to_string())
                .peekable();
            if sixth.peek().is_some() && sixth.all(|u| is_user(&u)) {
                Format::System
            } else {
                Format::User
            }
        }
        f => f,
    };
    let mut out = Import::default();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut job_tz = tz;
    let mut comment: Vec<String> = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let docker = regex::Regex::new(r"^(?:\S*/)?docker\s+restart\s+(?:(?:-t|--time)[ =]?(\d+)\s+)?([A-Za-z0-9][A-Za-z0-9_.-]*)\s*$").ok();
    let env_re = regex::Regex::new(r#"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$"#).ok();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            comment.clear();
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            comment.push(c.trim().to_string());
            continue;
        }
        if let Some(caps) = env_re.as_ref().and_then(|r| r.captures(line)) {
            let (k, v) = (
                caps[1].to_string(),
                caps[2].trim().trim_matches(['"', '\'']).to_string(),
            );
            match k.as_str() {
                "MAILTO" if !v.is_empty() => out.notes.push(format!(
                    "line {n}: MAILTO={v}: cron mailed each job's output; in clawcron declare an email channel in clawcron.yaml (notifiers: {{mail: {{email: {{..., to: [{v}]}}}}}}) and add `notify: {{on: [failure], to: [mail]}}` to the jobs"
                )),
                "MAILTO" => {}
                "SHELL" => out.notes.push(format!("line {n}: SHELL={v}: clawcron runs `shell:` jobs with /bin/sh; use `command: [{v}, -c, ...]` where it matters")),
                "CRON_TZ" | "TZ" => match crate::config::parse_timezone(&v) {
                    Ok(t) => job_tz = t,
                    Err((msg, _)) => out.errors.push((n, msg)),
                },
                _ => {
                    env.insert(k, v);
                }
            }
            comment.clear();
            continue;
        }
        // The schedule (`None`: @reboot) and the command.
        let (schedule, command) = match schedule_and_command(line) {
            Ok(sc) => sc,
            Err(e) => {
                out.errors.push((n, e));
                continue;
            }
        };
        let mut command = command.trim();
        // A system crontab's user field.
        let user = command.split_whitespace().next().unwrap_or("");
        let has_user = match format {
            Format::User => false,
            Format::System => true,
            // `mail` and `backup` are users on Debian, and commands too: a name that is a
            // program on PATH is taken as the command.
            Format::Detect => false,
        };
        if has_user {
            if user.is_empty() {
                out.errors.push((n, "no user and no command".into()));
                continue;
            }
            if user != me {
                out.notes.push(format!(
                    "line {n}: ran as user `{user}`; clawcron runs it as `{me}` (run the daemon as `{user}`, or prefix the command with sudo -u {user})"
                ));
            }
            command = command[user.len()..].trim();
        }
        if command.is_empty() {
            out.errors.push((n, "no command".into()));
            continue;
        }
        if let Some(s) = &schedule
            && let Err(e) = CronSchedule::parse(s, job_tz)
        {
            out.errors.push((n, format!("`{s}`: {e}")));
            continue;
        }
        // Credentials in the command (`curl -u user:pw`, `https://user:pw@host`) become a
        // variable the service is given (`install --env`), in the command and description.
        let (command, line) = without_secrets(command, line, n, &env, &mut out.notes);
        let (cmd, stdin) = split_percent(&command);
        let mut yaml = String::new();
        let description = if comment.is_empty() {
            format!("imported from crontab line {n}: {}", line)
        } else {
            comment.join(" ")
        };
        yaml.push_str(&format!("description: {}\n", quote(&description)));
        match &schedule {
            Some(s) => yaml.push_str(&format!("schedule: {}\n", quote(s))),
            None => yaml.push_str(
                "at_start: true               # @reboot: once per boot (at login with launchd)\n",
            ),
        }
        if job_tz != tz {
            yaml.push_str(&format!("timezone: {}\n", job_tz.name()));
        }
        yaml.push_str("# cron never catches up: a slot missed while the machine slept is skipped\nmissed: { policy: skip }\n");
        let (id, run) = run_yaml(&cmd, stdin.as_deref(), &env, docker.as_ref());
        yaml.push_str(&run);
        let mut unique = id.clone();
        let mut k = 2;
        while existing(&unique) || taken.contains(&unique) {
            unique = format!("{id}-{k}");
            k += 1;
        }
        taken.push(unique.clone());
        out.jobs.push(Imported {
            id: unique,
            line: n,
            yaml,
        });
        comment.clear();
    }
    out
}

/// The command and the line with their credentials replaced by a variable (see
/// `hide_credentials`), and a note for each variable the service must be given.
fn without_secrets(
    command: &str,
    line: &str,
    n: usize,
    env: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> (String, String) {
    let var = format!(
        "{}_PASSWORD",
        id_for(command)
            .to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    let (command, hidden) = hide_credentials(command, &var);
    let (line, _) = hide_credentials(line, &var);
    if hidden {
        notes.push(format!(
            "line {n}: its password is not copied: set {var} where the daemon runs (`clawcron install --env {var}`)"
        ));
    }
    for k in env.keys().filter(|k| crate::redact::secret_name(k)) {
        notes.push(format!(
            "line {n}: {k}'s value is not copied: set {k} where the daemon runs (`clawcron install --env {k}`)"
        ));
    }
    (command, line)
}

/// `text` with the password of `-u user:pw`, `--user user:pw` and `scheme://user:pw@` replaced
/// by `${var}`; and whether one was.
fn hide_credentials(text: &str, var: &str) -> (String, bool) {
    static PATTERNS: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            r#"((?:^|\s)(?:-u|--user)(?:\s+|=)['"]?[^\s:'"]+:)([^\s'"]+)"#,
            r#"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'"]+:)([^\s@/'"]+)(@)"#,
        ]
        .iter()
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect()
    });
    let mut out = text.to_string();
    let mut hidden = false;
    for re in patterns {
        let replaced = re
            .replace_all(&out, |c: &regex::Captures<'_>| {
                hidden = true;
                format!("{}${{{var}}}{}", &c[1], c.get(3).map_or("", |m| m.as_str()))
            })
            .into_owned();
        out = replaced;
    }
    (out, hidden)
}

/// A crontab line's schedule (an `@word` or five fields; `None` for `@reboot`) and its command,
/// spacing kept.
fn schedule_and_command(line: &str) -> Result<(Option<String>, &str), String> {
    if let Some(rest) = line.strip_prefix('@') {
        let (word, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        return match word {
            "reboot" => Ok((None, cmd)),
            "yearly" | "annually" => Ok((Some("@yearly".to_string()), cmd)),
            "monthly" | "weekly" | "daily" | "hourly" => Ok((Some(format!("@{word}")), cmd)),
            "midnight" => Ok((Some("@daily".to_string()), cmd)),
            _ => Err(format!("`@{word}` is not a crontab schedule")),
        };
    }
    let fields: Vec<&str> = line
        .splitn(6, char::is_whitespace)
        .filter(|f| !f.is_empty())
        .collect();
    let mut parts = line.split_whitespace();
    let five: Vec<&str> = parts.by_ref().take(5).collect();
    if five.len() < 5 || fields.len() < 6 {
        return Err("expected five schedule fields and a command".into());
    }
    // The command is what follows the fifth field, spacing kept.
    let mut rest = line;
    for f in &five {
        rest = rest.trim_start()[f.len()..].trim_start();
    }
    Ok((Some(five.join(" ")), rest))
}

/// The job's id and its `run:` part: `docker restart NAME` becomes a `docker.restart` job, any
/// other command a `shell:` job (its log redirection dropped, `%` lines fed on stdin, the
/// crontab's environment as its `env`).
fn run_yaml(
    cmd: &str,
    stdin: Option<&[String]>,
    env: &BTreeMap<String, String>,
    docker: Option<&regex::Regex>,
) -> (String, String) {
    if let Some(c) = stdin
        .is_none()
        .then(|| docker.and_then(|d| d.captures(cmd)))
        .flatten()
    {
        let name = c[2].to_string();
        let timeout = c
            .get(1)
            .map(|t| format!(", stop_timeout: {}s", t.as_str()))
            .unwrap_or_default();
        return (
            format!("restart-{}", id_for(&name)),
            format!(
                "run:\n  docker.restart: {{ container: {}{timeout} }}\n",
                quote(&name)
            ),
        );
    }
    let (cmd, note) = match strip_log_redirect(cmd) {
        Some(c) => (
            c,
            "# its output, once appended to a log file, is kept in the ledger: clawcron history ID\n",
        ),
        None => (cmd.to_string(), ""),
    };
    let shell = match stdin {
        Some(lines) => format!(
            "printf '%s\\n' {} | {cmd}",
            lines
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "'\\''")))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        None => cmd.clone(),
    };
    let mut run = format!("{note}run:\n  shell: {}\n", quote(&shell));
    if !env.is_empty() {
        run.push_str("  env:\n");
        for (k, v) in env {
            // A secret's value stays out of the job file: a reference the service fills in.
            if crate::redact::secret_name(k) {
                run.push_str(&format!("    {k}: \"${{{k}}}\"\n"));
            } else {
                run.push_str(&format!("    {k}: {}\n", quote(v)));
            }
        }
    }
    (id_for(&cmd), run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_redirects() {
        assert_eq!(
            split_percent("mail -s hi me%line one%line\\%two"),
            (
                "mail -s hi me".into(),
                Some(vec!["line one".into(), "line%two".into()])
            )
        );
        assert_eq!(split_percent("date +\\%F"), ("date +%F".into(), None));
        assert_eq!(
            strip_log_redirect("/opt/check.sh >> /tmp/alerts.log 2>&1").as_deref(),
            Some("/opt/check.sh")
        );
        assert_eq!(strip_log_redirect("echo hi > /dev/null"), None);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_named_and_the_rest_is_imported() {
        let bytes = b"0 3 * * * /usr/local/bin/backup.sh\n# caf\xe9\n*/5 * * * * /bin/ch\xffeck\n0 4 * * * /usr/bin/true\n";
        let (text, bad) = utf8_lines(bytes);
        assert_eq!(
            bad,
            vec![
                (
                    2,
                    "not UTF-8 text (byte 0xe9 at column 6): fix the line and import again"
                        .to_string()
                ),
                (
                    3,
                    "not UTF-8 text (byte 0xff at column 20): fix the line and import again"
                        .to_string()
                ),
            ]
        );
        let found = crontab(&text, chrono_tz::UTC, &|_| false, Format::User);
        assert_eq!(
            found.jobs.iter().map(|j| j.line).collect::<Vec<_>>(),
            vec![1, 4]
        );
    }

    #[test]
    fn passwords_become_variables_the_service_is_given() {
        let text = "DB_PASSWORD=hunter22\nLANG=C\n0 3 * * * curl -fsS -u ops:s3cr3t https://x.example/backup\n0 4 * * * /usr/bin/fetch https://me:pw9@host.example/a\n";
        let found = crontab(text, chrono_tz::UTC, &|_| false, Format::User);
        let all: String = found.jobs.iter().map(|j| j.yaml.clone()).collect();
        for secret in ["hunter22", "s3cr3t", "pw9"] {
            assert!(!all.contains(secret), "{secret} copied: {all}");
        }
        assert!(
            all.contains("-u ops:${CURL_PASSWORD} https://x.example/backup"),
            "{all}"
        );
        assert!(
            all.contains("https://me:${FETCH_PASSWORD}@host.example/a"),
            "{all}"
        );
        assert!(all.contains("DB_PASSWORD: \"${DB_PASSWORD}\""), "{all}");
        assert!(all.contains("LANG: \"C\""), "{all}");
        let notes = found.notes.join("\n");
        assert!(
            notes.contains(
                "set CURL_PASSWORD where the daemon runs (`clawcron install --env CURL_PASSWORD`)"
            ),
            "{notes}"
        );
        assert!(
            notes.contains("DB_PASSWORD's value is not copied"),
            "{notes}"
        );
    }
}
