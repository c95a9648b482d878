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
            out!("{} {}", if l.ok { "✓" } else { "✗" }, l.what);
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
    let text = match file {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(io("cannot read standard input".into()))?;
            s
        }
        Some(f) => std::fs::read_to_string(f).map_err(io(format!("cannot read {f}")))?,
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
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
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
    let found = crate::import::crontab(&text, loaded.global.timezone, &exists, format);
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
}

pub(super) fn install(
    loaded: &Loaded,
    paths: &Paths,
    dry_run: bool,
    target: Option<crate::install::Target>,
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
        let bin = std::env::current_exe().map_err(io("cannot find clawcron's own path"))?;
        let g = &loaded.global;
        let setup = Setup {
            bin: std::fs::canonicalize(&bin).unwrap_or(bin),
            home,
            config,
            jobs: paths.jobs.as_deref().map(absolute),
            state_dir: paths.state_dir.as_deref().map(absolute),
            home_dir,
            uid,
            stop_within: g.shutdown_grace + g.kill_grace,
            path_env: match target {
                // Docker Desktop's and Homebrew's binaries, for jobs that call docker or ollama.
                Target::Launchd => "/usr/local/bin:/opt/homebrew/bin:/Applications/Docker.app/Contents/Resources/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
                Target::Systemd => std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
            },
        };
        crate::install::install(target, &setup)
    };
    crate::install::apply(&plan, dry_run).map_err(Error::Usage)
}
