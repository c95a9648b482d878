//! The command line: clap subcommands, each mapped to the library, and the exit code.

use crate::config::{self, Diagnostic, Loaded, Sources};

use crate::error::{self, Error};
use crate::model::Trigger;
use crate::model::{JobSpec, LogFormat};
use crate::schedule;
use crate::store::{self, Store};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "clawcron",
    version,
    about = "A job scheduler for a self-hosted AI stack"
)]
pub struct Cli {
    /// Global config file [default: ./clawcron.yaml, if present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of job files [default: the config's jobs_dir, else ./jobs]
    #[arg(long, global = true, value_name = "DIR")]
    pub jobs: Option<PathBuf>,
    /// State directory (ledger, lock) [default: the config's state_dir, else the user's state dir]
    #[arg(long, global = true, value_name = "DIR", env = "CLAWCRON_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log format
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: schedule every valid job until SIGTERM/SIGINT
    Run,
    /// Validate the config and every job file; report all errors
    Check,
    /// List the jobs with their schedule and next run
    List,
    /// Show a job's upcoming slots, local and UTC, with DST shifts marked
    Next {
        job: String,
        /// How many slots
        #[arg(short = 'n', default_value_t = 5)]
        count: usize,
        /// Start from this time (RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` in the job's time zone)
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run a job now, once, through the same runner and ledger
    Trigger { job: String },
    /// Show a job's recorded figures (latency, tokens/s, memory...) and a summary of each
    Metrics {
        job: String,
        /// How far back, e.g. 7d or 12h
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Show every alert rule's state and the recent firing/resolved events
    Alerts {
        /// How far back to list events
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Send a test message through a notification channel now and print the receiver's answer
    NotifyTest { channel: String },
    /// Show the notification outbox: what was sent, what is pending, what failed and why
    Notifications {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Render a report job's report now: both files into its reports folder, or one to --out
    Report {
        job: String,
        /// `last-week`, `this-week` or an ISO week such as 2026-W47 [default: the job's]
        #[arg(long)]
        period: Option<String>,
        /// Write only this file (`.html` for HTML, else Markdown), or `-` for Markdown on stdout
        #[arg(long, value_name = "FILE|-")]
        out: Option<String>,
    },
    /// Show a job's pinned baseline, or pin its current figures as the "before" of a tuning session
    Baseline {
        job: String,
        /// Pin the figures of the latest successful run (or the median of the last --runs)
        #[arg(long)]
        set: bool,
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// A note kept with the pin, e.g. "before OLLAMA_NUM_PARALLEL=1"
        #[arg(long)]
        label: Option<String>,
    },
    /// Install the service that starts the daemon at login (launchd on macOS, systemd on Linux)
    Install {
        /// Print what would be written and run, and do nothing
        #[arg(long)]
        dry_run: bool,
        /// launchd or systemd [default: this OS's]
        #[arg(long, value_enum)]
        target: Option<crate::install::Target>,
    },
    /// Stop and remove the installed service
    Uninstall {
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum)]
        target: Option<crate::install::Target>,
    },
    /// Check what the jobs need (config, state dir, Docker, Ollama, SMTP, webhooks, time zone, service)
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Move in from elsewhere: `clawcron import crontab [FILE|-]`
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Show the running daemon's jobs (next slot, last outcome) from its status API
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Show recorded runs, newest first
    History {
        job: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportWhat {
    /// One job file per crontab line (default: the output of `crontab -l`), never overwriting
    Crontab {
        /// A crontab file, or `-` for standard input
        file: Option<String>,
        /// Print the job files instead of writing them
        #[arg(long)]
        dry_run: bool,
    },
}

/// Parses the arguments, runs the command and returns the process's exit code.
pub fn main() -> ExitCode {
    // A panic's message goes through the same redaction as every log line.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "clawcron panicked (a bug): {}",
            crate::redact::scrub(&info.to_string())
        );
    }));
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error::report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Error> {
    let sources = Sources {
        config: cli.config.clone(),
        jobs_dir: cli.jobs.clone(),
    };
    let loaded = config::load(&sources);
    let mut log = loaded.global.log.clone();
    if let Some(f) = cli.log_format {
        log.format = f;
    }
    if !matches!(cli.command, Command::Run) {
        log.file = None;
    }
    let _guard = crate::logging::init(&log);
    let state_dir = cli
        .state_dir
        .clone()
        .or_else(|| loaded.global.state_dir.clone())
        .unwrap_or_else(store::default_state_dir);
    match cli.command {
        Command::Run => runtime()?.block_on(crate::daemon::run(loaded, &state_dir, sources)),
        Command::Check => check(&loaded),
        Command::List => list(&loaded),
        Command::Next {
            job,
            count,
            from,
            json,
        } => next(&loaded, &job, count, from.as_deref(), json),
        Command::Trigger { job } => trigger(&loaded, &job, &state_dir),
        Command::NotifyTest { channel } => notify_test(&loaded, &channel),
        Command::Status { json } => status(json, &state_dir),
        Command::Doctor { json } => doctor(&loaded, &sources.config_path(), json, &state_dir),
        Command::Import {
            what: ImportWhat::Crontab { file, dry_run },
        } => import_crontab(&loaded, file.as_deref(), dry_run),
        Command::Install { dry_run, target } => {
            install(&loaded, &cli.config, dry_run, target, false)
        }
        Command::Uninstall { dry_run, target } => {
            install(&loaded, &cli.config, dry_run, target, true)
        }
        Command::Report { job, period, out } => {
            report(&loaded, &job, period.as_deref(), out.as_deref(), &state_dir)
        }
        Command::Baseline {
            job,
            set,
            runs,
            label,
        } => baseline(&loaded, &job, set, runs, label.as_deref(), &state_dir),
        Command::Notifications { limit, json } => notifications(&loaded, limit, json, &state_dir),
        Command::Alerts { since, json } => alerts(&loaded, &since, json, &state_dir),
        Command::Metrics { job, since, json } => metrics(&loaded, &job, &since, json, &state_dir),
        Command::History { job, limit, json } => {
            history(&loaded, job.as_deref(), limit, json, &state_dir)
        }
    }
}

/// One thread: the scheduler's work is small and latency-bound; one thread means no
/// cross-thread wake-ups while idle.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "cannot start the async runtime".into(),
            source,
        })
}

fn invalid(loaded: &Loaded, diagnostics: Vec<Diagnostic>) -> Error {
    Error::ConfigInvalid {
        diagnostics,
        valid: loaded.jobs.len(),
    }
}

fn check(loaded: &Loaded) -> Result<(), Error> {
    if !loaded.errors.is_empty() {
        return Err(invalid(loaded, loaded.errors.clone()));
    }
    println!(
        "ok: {} job{} valid in {}",
        loaded.jobs.len(),
        if loaded.jobs.len() == 1 { "" } else { "s" },
        loaded.jobs_dir.display()
    );
    Ok(())
}

fn find_job<'a>(loaded: &'a Loaded, id: &str) -> Result<&'a JobSpec, Error> {
    loaded.job(id).ok_or_else(|| {
        let bad_file = loaded
            .errors
            .iter()
            .find(|d| d.path.file_stem().and_then(|s| s.to_str()) == Some(id));
        let help = match bad_file {
            Some(d) => Some(format!(
                "{} has errors: run `clawcron check`",
                d.path.display()
            )),
            None => config::diag::did_you_mean(id, loaded.jobs.iter().map(|j| &*j.id)),
        };
        Error::UnknownJob {
            id: id.to_string(),
            dir: loaded.jobs_dir.display().to_string(),
            help,
        }
    })
}

fn job_tz(loaded: &Loaded, job: &JobSpec) -> Tz {
    job.trigger.tz().unwrap_or(loaded.global.timezone)
}

fn list(loaded: &Loaded) -> Result<(), Error> {
    let now = Utc::now().timestamp();
    println!(
        "{:<24} {:<15} {:<36} {:<26} DESCRIPTION",
        "JOB", "KIND", "SCHEDULE", "NEXT"
    );
    for job in &loaded.jobs {
        let tz = job_tz(loaded, job);
        let next = if !job.enabled {
            "disabled".to_string()
        } else {
            match job.trigger.next_after(now) {
                Some(t) => crate::util::to_utc(t)
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string(),
                None => "at daemon start".into(),
            }
        };
        println!(
            "{:<24} {:<8} {:<36} {:<26} {}",
            job.id,
            job.action.kind(),
            job.trigger.describe(),
            next,
            job.description
        );
    }
    if !loaded.errors.is_empty() {
        return Err(invalid(loaded, loaded.errors.clone()));
    }
    Ok(())
}

fn parse_from(text: &str, tz: Tz) -> Result<i64, Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, fmt) {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.timestamp())
                .ok_or_else(|| Error::Usage(format!("`{text}` does not exist in {tz} (DST gap)")));
        }
    }
    Err(Error::Usage(format!(
        "cannot read `--from {text}`: expected RFC 3339 (2026-03-29T01:00:00Z) or `YYYY-MM-DD HH:MM[:SS]`"
    )))
}

fn next(
    loaded: &Loaded,
    id: &str,
    count: usize,
    from: Option<&str>,
    json: bool,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?;
    let tz = job_tz(loaded, job);
    let start = match from {
        Some(text) => parse_from(text, tz)? - 1,
        None => Utc::now().timestamp(),
    };
    let mut slots = Vec::new();
    let mut t = start;
    while slots.len() < count {
        let Some(n) = job.trigger.next_after(t) else {
            break;
        };
        slots.push(n);
        t = n;
    }
    let rows: Vec<(String, String, Option<String>)> = slots
        .iter()
        .map(|&s| {
            let utc = crate::util::to_utc(s);
            let mark = match &job.trigger {
                Trigger::Cron(c) => schedule::dst_mark(c, s).map(|m| m.describe()),
                _ => None,
            };
            (
                utc.with_timezone(&tz).to_rfc3339(),
                utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                mark,
            )
        })
        .collect();
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(
                |(local, utc, mark)| serde_json::json!({ "local": local, "utc": utc, "dst": mark }),
            )
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return Ok(());
    }
    if matches!(job.trigger, Trigger::AtStart) {
        println!("{id}: runs when the daemon starts (at most once per boot); no clock slots");
        return Ok(());
    }
    println!("{id}: {} in {tz}", job.trigger.describe());
    for (&s, (_, utc, mark)) in slots.iter().zip(&rows) {
        let local = crate::util::to_utc(s)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z (%:z)");
        match mark {
            Some(m) => println!("  {local}  {utc}  * {m}"),
            None => println!("  {local}  {utc}"),
        }
    }
    Ok(())
}

fn trigger(loaded: &Loaded, id: &str, state_dir: &std::path::Path) -> Result<(), Error> {
    let job = find_job(loaded, id)?.clone();
    let store = Store::open(state_dir)?;
    let rt = runtime()?;
    let g = &loaded.global;
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock::default());
    let runner = crate::runner::Runner::with_env(
        store,
        clock,
        1,
        g.kill_grace,
        g.retention.clone(),
        crate::daemon::job_env(state_dir),
    );
    // On a terminal: a spinner with the elapsed time under the run's live output.
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner()
            .with_message(format!("{id}: {}", job.action.summary()));
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        crate::logging::set_spinner(bar);
    }
    let result = rt.block_on(async {
        // Ctrl-C while a manual run is going: stop it like the daemon would, and record it.
        let boot = crate::util::boot_id();
        let run = runner.run_now(&job, "manual", &boot);
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => r,
            _ = tokio::signal::ctrl_c() => {
                let shutdown = runner.shutdown(std::time::Duration::ZERO);
                let (r, ()) = tokio::join!(run, shutdown);
                r
            }
        }
    });
    crate::logging::clear_spinner();
    let (run_id, outcome) = result?;
    let status = outcome.status.as_str();
    println!(
        "{id}: run {run_id} {status} after {} ({} attempt{}){}",
        crate::util::duration::format(outcome.duration()),
        outcome.attempts,
        if outcome.attempts == 1 { "" } else { "s" },
        outcome
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    if outcome.status != crate::model::RunStatus::Succeeded {
        return Err(Error::RunFailed {
            job: id.to_string(),
            status: status.replace('_', " "),
        });
    }
    Ok(())
}

fn notify_test(loaded: &Loaded, name: &str) -> Result<(), Error> {
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
        "event": "test", "title": "clawcron: test", "text": format!("clawcron test message from {}", now.to_rfc3339()),
        "job": null, "at_ms": now.timestamp_millis(),
    });
    let key = format!("test:{name}:{}", now.timestamp_millis());
    let outcome = runtime()?.block_on(async {
        channel
            .send(
                &key,
                &payload,
                &loaded.templates(),
                loaded.global.notify_timeout,
                0,
            )
            .await
    });
    match outcome {
        crate::notify::outbox::Delivery::Sent { answer } => {
            println!("{name}: delivered: {answer}");
            Ok(())
        }
        crate::notify::outbox::Delivery::Retry { error, .. }
        | crate::notify::outbox::Delivery::Failed { error } => {
            println!("{name}: not delivered: {error}");
            Err(Error::RunFailed {
                job: format!("notify-test {name}"),
                status: "failed".into(),
            })
        }
    }
}

fn doctor(
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
        println!("{}", serde_json::to_string(&lines).unwrap_or_default());
    } else {
        for l in &lines {
            println!("{} {}", if l.ok { "✓" } else { "✗" }, l.what);
            if let Some(fix) = &l.fix {
                println!("    fix: {fix}");
            }
        }
    }
    let bad = lines.iter().filter(|l| !l.ok).count();
    if bad == 0 {
        Ok(())
    } else {
        Err(Error::RunFailed {
            job: "doctor".into(),
            status: format!("found {bad} problem(s)"),
        })
    }
}

fn import_crontab(loaded: &Loaded, file: Option<&str>, dry_run: bool) -> Result<(), Error> {
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
    let found = crate::import::crontab(&text, loaded.global.timezone, &exists);
    if !dry_run && !found.jobs.is_empty() {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    for job in &found.jobs {
        let path = dir.join(format!("{}.yaml", job.id));
        if dry_run {
            println!(
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
            Ok(()) => println!("wrote {} (line {})", path.display(), job.line),
            Err(e) => eprintln!("line {}: not written: {}: {e}", job.line, path.display()),
        }
    }
    for note in &found.notes {
        println!("note: {note}");
    }
    for (line, why) in &found.errors {
        eprintln!("line {line}: skipped: {why}");
    }
    if found.errors.is_empty() {
        Ok(())
    } else {
        Err(Error::RunFailed {
            job: "import crontab".into(),
            status: format!("skipped {} line(s)", found.errors.len()),
        })
    }
}

fn install(
    loaded: &Loaded,
    config: &Option<std::path::PathBuf>,
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
        let config = config
            .clone()
            .unwrap_or_else(|| cwd.join(crate::config::DEFAULT_CONFIG));
        let config = if config.is_absolute() {
            config
        } else {
            cwd.join(config)
        };
        let home = config
            .parent()
            .map_or(cwd.clone(), std::path::Path::to_path_buf);
        let bin = std::env::current_exe().map_err(io("cannot find clawcron's own path"))?;
        let g = &loaded.global;
        let setup = Setup {
            bin: std::fs::canonicalize(&bin).unwrap_or(bin),
            home,
            config,
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

fn status(json: bool, state_dir: &std::path::Path) -> Result<(), Error> {
    let addr = std::fs::read_to_string(state_dir.join("api.addr")).map_err(|_| {
        Error::Usage(format!(
            "no running daemon with its status API on the state directory {} (is `clawcron run` running, with `api` enabled?)",
            state_dir.display()
        ))
    })?;
    let token = std::fs::read_to_string(state_dir.join("api-token")).unwrap_or_default();
    let get = |path: &str| {
        let url = format!("http://{}{path}", addr.trim());
        let token = token.trim().to_string();
        async move {
            let resp = reqwest::Client::new()
                .get(&url)
                .bearer_auth(token)
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| {
                    Error::Usage(format!(
                        "the daemon's API at {url} did not answer: {}",
                        crate::util::chain(&e)
                    ))
                })?;
            resp.json::<serde_json::Value>()
                .await
                .map_err(|e| Error::Usage(format!("{url}: {e}")))
        }
    };
    let (jobs, st) = runtime()?
        .block_on(async { Ok::<_, Error>((get("/api/jobs").await?, get("/api/status").await?)) })?;
    if json {
        println!("{}", serde_json::json!({ "status": st, "jobs": jobs }));
        return Ok(());
    }
    println!(
        "clawcron {} pid {}, up since {}, {} run(s) going",
        st["version"].as_str().unwrap_or("?"),
        st["pid"],
        st["started_at"].as_str().unwrap_or("?"),
        st["running"]
    );
    let fault = &st["ledger_fault"];
    if !fault.is_null() {
        let since = fault["since_ms"]
            .as_i64()
            .map(|ms| crate::util::to_utc(ms / 1000).to_rfc3339())
            .unwrap_or_default();
        println!(
            "✗ the ledger cannot be written since {since} ({} failed writes): {}; no slot starts until it can",
            fault["failures"],
            fault["error"].as_str().unwrap_or("?")
        );
    }
    if let Some(errors) = st["reload"]["errors"].as_array().filter(|e| !e.is_empty()) {
        println!(
            "last reload left {} file(s) at their last good version:",
            errors.len()
        );
        for e in errors {
            println!(
                "  {}",
                e.as_str().unwrap_or("").lines().next().unwrap_or("")
            );
        }
    }
    println!("{:<24} {:<16} {:<27} LAST", "JOB", "KIND", "NEXT");
    for j in jobs.as_array().into_iter().flatten() {
        let last = &j["last"];
        let last = if last.is_null() {
            "-".to_string()
        } else {
            format!(
                "{} {}",
                last["status"].as_str().unwrap_or("?"),
                last["finished_at"].as_str().unwrap_or("")
            )
        };
        println!(
            "{:<24} {:<16} {:<27} {last}{}",
            j["id"].as_str().unwrap_or("?"),
            j["kind"].as_str().unwrap_or("?"),
            j["next"].as_str().unwrap_or("-"),
            if j["running"].as_u64().unwrap_or(0) > 0 {
                " (running)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

fn report(
    loaded: &Loaded,
    id: &str,
    period: Option<&str>,
    out: Option<&str>,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?;
    let crate::model::ActionSpec::Report(spec) = &job.action else {
        return Err(Error::Usage(format!(
            "`{id}` is a {} job, not a report",
            job.action.kind()
        )));
    };
    let mut spec = (**spec).clone();
    if let Some(p) = period {
        spec.period = crate::model::PeriodSpec::parse(p).map_err(Error::Usage)?;
    }
    let store = Store::open(state_dir)?;
    let now = Utc::now().timestamp_millis();
    let period = spec.period.resolve(now, spec.timezone);
    let on_spawn = |_| {};
    let ctx = crate::action::AttemptCtx {
        job: id,
        run_id: 0,
        attempt: 1,
        deadline: None,
        cancel: tokio_util::sync::CancellationToken::new(),
        kill_grace: loaded.global.kill_grace,
        env: crate::daemon::job_env(state_dir),
        on_spawn: &on_spawn,
        store: None,
    };
    let observed = runtime()?.block_on(crate::action::report::observe(
        &spec,
        crate::util::boot_id(),
        std::time::Duration::from_secs(20),
        &ctx,
    ));
    let r = crate::report::render(&spec, &store, &period, now, &observed)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let io = |context: String| move |source| Error::Io { context, source };
    match out {
        Some("-") => print!("{}", r.markdown),
        Some(file) => {
            let text = if file.ends_with(".html") || file.ends_with(".htm") {
                &r.html
            } else {
                &r.markdown
            };
            std::fs::write(file, text).map_err(io(format!("cannot write {file}")))?;
            eprintln!("{}\nwrote {file}", r.summary);
        }
        None => {
            let (md, html) = crate::report::write(&spec, id, &r)
                .map_err(io(format!("cannot write into {}", spec.out_dir.display())))?;
            println!(
                "{}\nwrote {}\nwrote {}",
                r.summary,
                md.display(),
                html.display()
            );
        }
    }
    Ok(())
}

fn baseline(
    loaded: &Loaded,
    id: &str,
    set: bool,
    runs: usize,
    label: Option<&str>,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let store = Store::open(state_dir)?;
    let tz = loaded
        .job(id)
        .map_or(loaded.global.timezone, |j| job_tz(loaded, j));
    if set {
        let recent = store.recent_successful_metrics(id, i64::MAX, runs.max(1))?;
        if recent.is_empty() {
            if loaded.job(id).is_none() {
                find_job(loaded, id)?;
            }
            return Err(Error::Usage(format!(
                "`{id}` has no successful run with figures to pin yet: run it first (clawcron trigger {id})"
            )));
        }
        let mut by_name: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for (name, v) in recent {
            by_name.entry(name).or_default().push(v);
        }
        let values: Vec<(String, f64)> = by_name
            .into_iter()
            .filter_map(|(n, v)| crate::util::stats::median(&v).map(|m| (n, m)))
            .collect();
        store.pin_baseline(id, &values, label, Utc::now().timestamp_millis())?;
        println!("pinned as the baseline of {id}:");
    }
    let pinned: Vec<_> = store
        .baselines()?
        .into_iter()
        .filter(|b| b.job == id)
        .collect();
    if pinned.is_empty() {
        println!("{id}: no baseline pinned (the regression check uses the median of recent runs)");
    }
    for b in pinned {
        println!(
            "  {:<32} {:>14.3}  pinned {}{}",
            b.metric,
            b.value,
            local_ms(b.pinned_at, tz),
            b.label.map(|l| format!(" ({l})")).unwrap_or_default()
        );
    }
    Ok(())
}

/// The ledger, if the state directory has one (commands that only read do not create it).
fn existing_store(state_dir: &std::path::Path) -> Result<Option<Store>, Error> {
    if state_dir.join("clawcron.db").exists() {
        Ok(Some(Store::open(state_dir)?))
    } else {
        Ok(None)
    }
}

/// Unix milliseconds as local time in `tz`.
fn local_ms(ms: i64, tz: Tz) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `--since 7d` as a cutoff in Unix milliseconds.
fn since_ms(since: &str) -> Result<i64, Error> {
    let window =
        crate::util::duration::parse(since).map_err(|e| Error::Usage(format!("--since: {e}")))?;
    Ok(Utc::now().timestamp_millis() - window.as_millis() as i64)
}

fn notifications(
    loaded: &Loaded,
    limit: usize,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let items = match existing_store(state_dir)? {
        Some(store) => store.notices(limit)?,
        None => Vec::new(),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
        );
        return Ok(());
    }
    let tz = loaded.global.timezone;
    let when = |ms: i64| local_ms(ms, tz);
    println!(
        "{:<20} {:<14} {:<8} {:>3} {:<34} ANSWER / ERROR",
        "QUEUED", "CHANNEL", "STATUS", "TRY", "KEY"
    );
    for i in items {
        let detail = i.answer.or(i.last_error).unwrap_or_default();
        println!(
            "{:<20} {:<14} {:<8} {:>3} {:<34} {detail}",
            when(i.created_at),
            i.channel,
            i.status,
            i.attempts,
            i.key
        );
    }
    Ok(())
}

fn alerts(
    loaded: &Loaded,
    since: &str,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let cutoff = since_ms(since)?;
    let (states, events) = match existing_store(state_dir)? {
        Some(store) => (store.alerts()?, store.alert_events(cutoff)?),
        None => (Vec::new(), Vec::new()),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "alerts": states, "events": events })
        );
        return Ok(());
    }
    let tz = loaded.global.timezone;
    let when = |ms: i64| local_ms(ms, tz);
    println!(
        "{:<22} {:<28} {:<8} {:<25} PEAK",
        "JOB", "ALERT", "STATE", "SINCE"
    );
    for a in &states {
        let since = a.since.map(when).unwrap_or_default();
        let peak = a.peak.map(|p| p.to_string()).unwrap_or_default();
        println!(
            "{:<22} {:<28} {:<8} {since:<25} {peak}",
            a.job, a.rule, a.phase
        );
    }
    if !events.is_empty() {
        println!(
            "\n{:<25} {:<22} {:<28} {:<9} DETAIL",
            "AT", "JOB", "ALERT", "EVENT"
        );
    }
    for e in &events {
        println!(
            "{:<25} {:<22} {:<28} {:<9} value {}; {}",
            when(e.at),
            e.job,
            e.rule,
            e.kind,
            e.value,
            e.detail
        );
    }
    Ok(())
}

fn metrics(
    loaded: &Loaded,
    id: &str,
    since: &str,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let rows = match existing_store(state_dir)? {
        Some(store) => store.metrics(id, since_ms(since)?)?,
        None => Vec::new(),
    };
    if rows.is_empty() && loaded.job(id).is_none() {
        find_job(loaded, id)?;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
        );
        return Ok(());
    }
    let tz = loaded
        .job(id)
        .map_or(loaded.global.timezone, |j| job_tz(loaded, j));
    println!("{:<25} {:>6} {:<24} {:>14}", "AT", "RUN", "METRIC", "VALUE");
    for r in &rows {
        let at = local_ms(r.at, tz);
        println!("{at:<25} {:>6} {:<24} {:>14.3}", r.run_id, r.name, r.value);
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if !names.is_empty() {
        println!(
            "\n{:<24} {:>6} {:>12} {:>12} {:>12} {:>12}",
            "SUMMARY", "N", "MIN", "MEDIAN", "MAX", "LAST"
        );
    }
    for name in names {
        let values: Vec<f64> = rows
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.value)
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let last = values[values.len() - 1];
        println!(
            "{name:<24} {:>6} {:>12.3} {median:>12.3} {:>12.3} {last:>12.3}",
            values.len(),
            sorted[0],
            sorted[sorted.len() - 1]
        );
    }
    Ok(())
}

fn history(
    loaded: &Loaded,
    job: Option<&str>,
    limit: usize,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    if !state_dir.join("clawcron.db").exists() {
        if json {
            println!("[]");
        } else {
            println!(
                "no runs recorded yet ({} has no ledger)",
                state_dir.display()
            );
        }
        return Ok(());
    }
    let store = Store::open(state_dir)?;
    let rows = store.history(job, limit)?;
    let tz = loaded.global.timezone;
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["slot_utc"] = serde_json::Value::String(
                    crate::util::to_utc(r.slot).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
                v
            })
            .collect();
        println!("{}", serde_json::Value::Array(items));
        return Ok(());
    }
    println!(
        "{:>6} {:<22} {:<9} {:<25} {:<12} {:>3} {:>9}  DETAIL",
        "RUN", "JOB", "TRIGGER", "SLOT", "STATUS", "TRY", "DURATION"
    );
    for r in rows {
        let slot = crate::util::to_utc(r.slot)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z");
        let dur = r
            .duration_ms
            .map(|ms| {
                crate::util::duration::format(std::time::Duration::from_millis(ms.max(0) as u64))
            })
            .unwrap_or_default();
        let detail = [r.reason.as_deref(), r.error.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "{:>6} {:<22} {:<9} {:<25} {:<12} {:>3} {:>9}  {}",
            r.id, r.job, r.trigger, slot, r.status, r.attempts, dur, detail
        );
    }
    Ok(())
}
