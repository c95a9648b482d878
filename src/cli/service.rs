//! Living with it: `install`, `uninstall`, `doctor`, `import crontab`, `notify-test`.

use super::*;

pub(super) fn notify_test(loaded: &Loaded, name: &str) -> Result<(), Error> {
    let Some(channel) = loaded.global.notifiers.get(name) else {
        let names: Vec<&str> = loaded.global.notifiers.keys().map(String::as_str).collect();
        let help = config::diag::did_you_mean(name, names.iter().copied());
        return Err(Error::Usage(format!(
            "no notifier `{name}` in clawcron.yaml{}",
            help.map(|h| format!("\n  = help: {h}")).unwrap_or_default()
        )));
    };
    let now = Utc::now();
    let payload = serde_json::json!({
        "v": 2, "event": "test", "title": "clawcron: test", "text": format!("clawcron test message from {}", now.to_rfc3339()),
        "job": null, "channel": name, "at_ms": now.timestamp_millis(),
    });
    let key = format!("test:{name}:{}", now.timestamp_millis());
    let outcome = runtime()?.block_on(async {
        channel
            .send(
                name,
                &key,
                &payload,
                &loaded.templates(),
                loaded.global.notify_timeout,
                0,
            )
            .await
    });
    match outcome {
        crate::model::Delivery::Sent { answer } => {
            out!("{name}: delivered: {answer}");
            Ok(())
        }
        crate::model::Delivery::Retry { error, .. } | crate::model::Delivery::Failed { error } => {
            out!("{name}: not delivered: {error}");
            Err(Error::CommandFailed {
                command: format!("notify-test {name}"),
                status: "failed".into(),
            })
        }
    }
}

pub(super) fn doctor(
    loaded: &Loaded,
    config_path: &std::path::Path,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let lines = runtime()?.block_on(crate::doctor::check(
        loaded,
        config_path,
        state_dir,
        home.as_deref(),
        std::time::Duration::from_secs(5),
    ));
    if json {
        out!("{}", serde_json::to_string(&lines).unwrap_or_default());
    } else {
        for l in &lines {
            let mark = match (l.ok, l.warn) {
                (false, _) => "✗",
                (true, true) => "!",
                (true, false) => "✓",
            };
            out!("{mark} {}", l.what);
            if let Some(fix) = &l.fix {
                out!("    fix: {fix}");
            }
        }
    }
    let bad = lines.iter().filter(|l| !l.ok).count();
    if bad == 0 {
        Ok(())
    } else {
        Err(Error::CommandFailed {
            command: "doctor".into(),
            status: format!("found {bad} problem(s)"),
        })
    }
}

pub(super) fn import_crontab(
    loaded: &Loaded,
    file: Option<&str>,
    dry_run: bool,
    system: bool,
) -> Result<(), Error> {
    let io = |context: String| move |source| Error::Io { context, source };
    let bytes = match file {
        Some("-") => {
            let mut s = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut s)
                .map_err(io("cannot read standard input".into()))?;
            s
        }
        Some(f) => std::fs::read(f).map_err(io(format!("cannot read {f}")))?,
        None => {
            let out = std::process::Command::new("crontab")
                .arg("-l")
                .output()
                .map_err(io("cannot run `crontab -l`".into()))?;
            if !out.status.success() {
                return Err(Error::Usage(format!(
                    "`crontab -l` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            out.stdout
        }
    };
    // A line that is not UTF-8 is named and skipped; the others are imported.
    let (text, not_text) = crate::import::utf8_lines(&bytes);
    let dir = &loaded.jobs_dir;
    let exists = |id: &str| {
        dir.join(format!("{id}.yaml")).exists() || dir.join(format!("{id}.yml")).exists()
    };
    let format = match file {
        _ if system => crate::import::Format::System,
        Some(f) if f == "/etc/crontab" || f.starts_with("/etc/cron.d/") => {
            crate::import::Format::System
        }
        _ => crate::import::Format::Detect,
    };
    let mut found = crate::import::crontab(&text, loaded.global.timezone, &exists, format);
    found.errors.extend(not_text);
    found.errors.sort_by_key(|(line, _)| *line);
    // A line whose job is already there, word for word, is not imported twice.
    let existing: std::collections::HashMap<String, PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (t, p)))
        .collect();
    if !dry_run && !found.jobs.is_empty() {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    for job in &found.jobs {
        if let Some(same) = existing.get(&job.yaml) {
            out!("unchanged: line {} is already {}", job.line, same.display());
            continue;
        }
        let path = dir.join(format!("{}.yaml", job.id));
        if dry_run {
            out!(
                "would write {} (line {}):\n{}",
                path.display(),
                job.line,
                job.yaml
            );
            continue;
        }
        // create_new: an existing file is never overwritten, even one made meanwhile.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, job.yaml.as_bytes()));
        match written {
            Ok(()) => out!("wrote {} (line {})", path.display(), job.line),
            Err(e) => eprintln!("line {}: not written: {}: {e}", job.line, path.display()),
        }
    }
    for note in &found.notes {
        out!("note: {note}");
    }
    for (line, why) in &found.errors {
        eprintln!("line {line}: skipped: {why}");
    }
    if found.errors.is_empty() {
        Ok(())
    } else {
        Err(Error::CommandFailed {
            command: "import crontab".into(),
            status: format!("skipped {} line(s)", found.errors.len()),
        })
    }
}

/// The path options an invocation was given (`install` writes them into the service).
pub(super) struct Paths {
    pub config: Option<PathBuf>,
    pub jobs: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    /// `--log-file` and `--log-format`: kept for the service, whichever the target.
    pub log_file: Option<PathBuf>,
    pub log_format: Option<crate::model::LogFormat>,
}

/// Every variable the configuration reads from the environment: `${VAR}` in clawcron.yaml and
/// the job files, and the `*_env` secrets of channels and `http` checks.
fn env_refs(loaded: &Loaded, config: &std::path::Path) -> Vec<crate::install::EnvRef> {
    use crate::install::EnvRef;
    use crate::model::{ActionSpec, Channel, Password};
    let mut refs = Vec::new();
    let mut files = vec![config.to_path_buf()];
    let mut jobs: Vec<PathBuf> = std::fs::read_dir(&loaded.jobs_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    jobs.sort();
    files.extend(jobs);
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (name, default) in config::env_references(&text) {
            refs.push(EnvRef {
                name,
                default,
                secret: false,
                used_in: f.display().to_string(),
            });
        }
    }
    let secret = |name: &str, used_in: String| EnvRef {
        name: name.to_string(),
        default: None,
        secret: true,
        used_in,
    };
    for (name, channel) in &loaded.global.notifiers {
        let var = match channel {
            Channel::Email(e) => match &e.password {
                Some(Password::Env(v)) => Some((v, "password_env")),
                _ => None,
            },
            Channel::Webhook(w) => match &w.secret {
                Some(Password::Env(v)) => Some((v, "secret_env")),
                _ => None,
            },
        };
        if let Some((var, key)) = var {
            refs.push(secret(var, format!("notifiers.{name}: {key}")));
        }
    }
    for (job, action) in loaded.actions() {
        let http = match action {
            ActionSpec::Http(h) => Some(h),
            ActionSpec::DockerRestart(r) => r.probe.as_ref(),
            _ => None,
        };
        if let Some(var) = http.and_then(|h| h.bearer_env.as_ref()) {
            refs.push(secret(var, format!("job {}: bearer_env", job.id)));
        }
    }
    refs
}

pub(super) fn install(
    loaded: &Loaded,
    paths: &Paths,
    dry_run: bool,
    target: Option<crate::install::Target>,
    carry: &[String],
    start: bool,
    remove: bool,
) -> Result<(), Error> {
    use crate::install::{Setup, Target};
    let target = target.unwrap_or_else(Target::native);
    let io = |context: &str| {
        let context = context.to_string();
        move |source| Error::Io { context, source }
    };
    let home_dir = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .ok_or_else(|| Error::Usage("HOME is not set".into()))?;
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let plan = if remove {
        crate::install::uninstall(target, &home_dir, uid)
    } else {
        if !loaded.errors.is_empty() {
            return Err(invalid(loaded, loaded.errors.clone()));
        }
        let cwd = std::env::current_dir().map_err(io("cannot read the current folder"))?;
        let absolute = |p: &std::path::Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            }
        };
        let config = absolute(
            &paths
                .config
                .clone()
                .unwrap_or_else(|| cwd.join(crate::config::DEFAULT_CONFIG)),
        );
        let home = config
            .parent()
            .map_or(cwd.clone(), std::path::Path::to_path_buf);
        let exe = std::env::current_exe().map_err(io("cannot find clawcron's own path"))?;
        let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
        let (bin, copy_from) = crate::install::stable_bin(&exe, &home_dir);
        let mut env = Vec::new();
        for name in carry {
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(Error::Usage(format!(
                    "`--env {name}`: not a variable name (give the name, not NAME=value: its value is read from this shell)"
                )));
            }
            if env.iter().any(|(k, _)| k == name) {
                continue;
            }
            match std::env::var(name) {
                Ok(v) if v.contains('\n') && target == Target::Systemd => {
                    return Err(Error::Usage(format!(
                        "`--env {name}`: its value has a line break, which an EnvironmentFile line cannot hold; put it in a file and use the `*_file` key"
                    )));
                }
                Ok(v) if !v.is_empty() => env.push((name.clone(), v)),
                _ => {
                    return Err(Error::Usage(format!(
                        "`--env {name}`: {name} is not set in this shell, so there is no value to give the service"
                    )));
                }
            }
        }
        let path_carried = env
            .iter()
            .position(|(k, _)| k == "PATH")
            .map(|i| env.remove(i).1);
        let refs = env_refs(loaded, &config);
        for w in crate::install::env_warnings(&refs, carry, |n| std::env::var(n).ok()) {
            eprintln!("warning: {w}");
        }
        // A variable nothing reads is carried all the same, with a word (a job's script may
        // read it: clawcron cannot see inside scripts).
        for (name, _) in env
            .iter()
            .filter(|(k, _)| !refs.iter().any(|r| &r.name == k))
        {
            eprintln!(
                "warning: `--env {name}`: neither clawcron.yaml nor a job file names it; the service gets it anyway (a job's script may read it)"
            );
        }
        // What `--dry-run` prints holds no secret's value: the carried values named like
        // secrets, or named by a `*_env` key, are shown as [redacted].
        if dry_run {
            for (name, value) in &env {
                if crate::redact::secret_name(name)
                    || refs.iter().any(|r| r.secret && &r.name == name)
                {
                    crate::redact::register(value);
                }
            }
        }
        if !env.is_empty() {
            eprintln!(
                "note: the service file will hold the values of {} (made 0600: readable by you only)",
                env.iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let g = &loaded.global;
        // A `--log-file` given to `install` is kept for either target; else launchd gets the
        // config's file or the default one, and systemd its journal.
        let log_file = match paths.log_file.as_deref() {
            Some(f) => Some(absolute(f)),
            None => g
                .log
                .file
                .clone()
                .or_else(|| crate::install::default_log_file(target, &home_dir))
                .filter(|_| target == Target::Launchd),
        };
        let log_format = paths.log_format.map(|f| match f {
            crate::model::LogFormat::Human => "human",
            crate::model::LogFormat::Json => "json",
        });
        let setup = Setup {
            bin,
            copy_from,
            env,
            log_file,
            log_format,
            home,
            config,
            jobs: paths.jobs.as_deref().map(absolute),
            state_dir: paths.state_dir.as_deref().map(absolute),
            home_dir,
            uid,
            stop_within: g.shutdown_grace + g.kill_grace,
            path_env: match (path_carried, target) {
                // `--env PATH`: the service's PATH is this shell's (written once, not twice).
                (Some(p), _) => p,
                // Docker Desktop's and Homebrew's binaries, for jobs that call docker or ollama.
                (None, Target::Launchd) => "/usr/local/bin:/opt/homebrew/bin:/Applications/Docker.app/Contents/Resources/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
                (None, Target::Systemd) => std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
            },
        };
        crate::install::install(target, &setup)
    };
    let mut plan = plan;
    if dry_run {
        for w in &mut plan.write {
            w.text = crate::redact::scrub(&w.text).into_owned();
        }
    }
    crate::install::apply(&plan, dry_run, start).map_err(Error::Usage)
}
