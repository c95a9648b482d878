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

mod backfill;
mod jobs;
mod ledger;
mod ping;
mod quiet;
mod reports;
mod service;
mod trigger;

/// Prints a line to standard output, scrubbed of secrets; a closed pipe (`clawcron alerts |
/// head`) ends the command quietly instead of panicking.
macro_rules! out {
    () => {
        $crate::cli::emit("")
    };
    ($($arg:tt)*) => {
        $crate::cli::emit(&format!($($arg)*))
    };
}
pub(crate) use out;

/// See `out!`.
pub(crate) fn emit(text: &str) {
    use std::io::Write;
    let text = crate::redact::scrub(text);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Nowhere left to say it: standard output is gone for another reason.
        std::process::exit(2);
    }
}

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
    /// `run` logs to this file only (rotated per `log.rotation`), not to stderr [default: the
    /// config's `log.file`, with stderr too]. The LaunchAgent runs the daemon with it.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
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
        /// How many slots (at most 10000)
        #[arg(short = 'n', default_value_t = 5,
              value_parser = clap::value_parser!(u16).range(1..=10_000))]
        count: u16,
        /// Start from this time (RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` in the job's time zone)
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run a job now, once: through the running daemon if there is one, else in this process
    Trigger {
        job: String,
        /// Run past admission (overlap, locks, the concurrency limit) and a disabled job
        #[arg(long)]
        force: bool,
    },
    /// Run again the slots of a past window that failed, were missed or were paused (each with
    /// its original slot, once): through the running daemon if there is one, else here
    Backfill {
        job: String,
        /// The window's start (RFC 3339, or `YYYY-MM-DD[THH:MM]` in the job's time zone)
        #[arg(long)]
        from: String,
        /// The window's end, included (a bare date: to the end of that day)
        #[arg(long)]
        to: String,
        /// List what would run (slot, why) and run nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Show a job's recorded figures (latency, tokens/s, memory...) and a summary of each
    Metrics {
        job: String,
        /// How far back, e.g. 7d or 12h
        #[arg(long, default_value = "7d")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the nodes sharing this ledger (PostgreSQL): tags, last beat, runs, diverged jobs
    Nodes {
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
    /// Pause a job: its slots are recorded as skipped until `resume` (manual runs still run)
    Pause {
        job: String,
        #[arg(long)]
        reason: String,
    },
    /// Resume a paused job (the slots it skipped are not re-run)
    Resume { job: String },
    /// Record, not send, a job's notices (one rule's with --rule) for a while
    Silence {
        job: String,
        #[arg(long)]
        rule: Option<String>,
        /// How long, e.g. 2h
        #[arg(long = "for", value_name = "DURATION")]
        lasts: String,
        #[arg(long)]
        reason: String,
    },
    /// The active silences, the recurring quiet hours, and the paused jobs
    Silences {
        #[arg(long)]
        json: bool,
    },
    /// End a silence now
    Unsilence { id: i64 },
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
        /// Write it in this language for this render [default: the job's `lang`]
        #[arg(long, value_parser = ["en", "fr"])]
        lang: Option<String>,
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
        /// Give the service this variable's current value (repeatable): it is written into the
        /// plist or the unit's EnvironmentFile, each made 0600
        #[arg(long = "env", value_name = "VAR")]
        env: Vec<String>,
        /// Write the files and copy the binary, but do not load or enable the service (the
        /// launchctl / systemctl commands are printed instead)
        #[arg(long)]
        no_start: bool,
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
    /// The ledger itself: `clawcron ledger migrate --to postgres://USER@HOST:PORT/DB`
    Ledger {
        #[command(subcommand)]
        what: LedgerWhat,
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
    /// Open the dashboard in a browser through a one-time link (it sets a session cookie)
    Open {
        /// Print the link instead of starting a browser
        #[arg(long)]
        print: bool,
    },
    /// Print an `external` job's ping URL and a curl line for a crontab (makes its key)
    PingUrl {
        job: String,
        /// Make a new key; the old one stops working
        #[arg(long)]
        rotate: bool,
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
pub enum LedgerWhat {
    /// Copy this machine's SQLite ledger (history, alerts, baselines, notices) into an empty
    /// PostgreSQL ledger, for several nodes to share; refuses a ledger that is not empty
    Migrate {
        /// The PostgreSQL ledger: postgres://USER@HOST:PORT/DATABASE (no password in it)
        #[arg(long)]
        to: String,
        /// The variable that holds its password [default: PGPASSWORD, if set]
        #[arg(long)]
        password_env: Option<String>,
        /// A file that holds its password
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportWhat {
    /// One job file per crontab line (default: the output of `crontab -l`), never overwriting
    Crontab {
        /// A crontab file, or `-` for standard input
        file: Option<String>,
        /// Print the job files instead of writing them
        #[arg(long)]
        dry_run: bool,
        /// A system crontab: a user between the schedule and the command (assumed for
        /// /etc/crontab and /etc/cron.d/*)
        #[arg(long)]
        system: bool,
    },
}

/// Parses the arguments, runs the command and returns the process's exit code.
pub fn main() -> ExitCode {
    // The warden (a cluster node's runs die with it) reads no config and no arguments.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == crate::action::warden::ARG)
    {
        return crate::action::warden::serve();
    }
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

/// What a command does when `clawcron.yaml` has errors: it never goes on with the defaults in
/// their place (another state directory, another ledger, no locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnConfigErrors {
    /// It reports them (`check`, `doctor`).
    Report,
    /// It reads the ledger: on, with a warning, if `state_dir`, `jobs_dir` and `ledger` were
    /// read; else refused.
    Read,
    /// It acts: refused, naming the file, the line and the key or variable.
    Refuse,
}

impl Command {
    fn on_config_errors(&self) -> OnConfigErrors {
        match self {
            Command::Check | Command::Doctor { .. } => OnConfigErrors::Report,
            Command::History { .. }
            | Command::Status { .. }
            | Command::List
            | Command::Next { .. }
            | Command::Alerts { .. }
            | Command::Notifications { .. }
            | Command::Metrics { .. }
            | Command::Silences { .. }
            | Command::Nodes { .. } => OnConfigErrors::Read,
            _ => OnConfigErrors::Refuse,
        }
    }
}

/// Applies the rule of `OnConfigErrors` when `clawcron.yaml` has errors.
fn with_config_errors(
    mut loaded: config::Loaded,
    sources: &Sources,
    command: &Command,
) -> Result<config::Loaded, Error> {
    if loaded.global_ok {
        return Ok(loaded);
    }
    let path = sources.config_path();
    let global_errors: Vec<config::Diagnostic> = loaded
        .errors
        .iter()
        .filter(|d| d.path == path)
        .cloned()
        .collect();
    let refuse = |diagnostics: Vec<config::Diagnostic>| Error::ConfigInvalid {
        diagnostics,
        valid: 0,
    };
    match command.on_config_errors() {
        OnConfigErrors::Report => Ok(loaded),
        OnConfigErrors::Refuse => {
            eprintln!(
                "{} has errors: this command does not run on defaults in their place (another state directory, ledger or jobs folder)",
                path.display()
            );
            Err(refuse(global_errors))
        }
        OnConfigErrors::Read => match config::load_essentials(&path) {
            Ok(essentials) => {
                eprintln!(
                    "warning: {} has {} error(s) (`clawcron check` lists them); its state_dir, jobs_dir and ledger were read, so this reads on",
                    path.display(),
                    global_errors.len()
                );
                let jobs_dir = sources
                    .jobs_dir
                    .clone()
                    .or_else(|| {
                        essentials
                            .jobs_dir
                            .as_ref()
                            .map(|d| essentials.base_dir.join(d))
                    })
                    .unwrap_or_else(|| std::path::PathBuf::from("jobs"));
                loaded.global.state_dir = essentials.state_dir;
                loaded.global.ledger = essentials.ledger;
                if jobs_dir != loaded.jobs_dir {
                    let (jobs, _) = config::load_jobs(&jobs_dir, &loaded.global);
                    loaded.jobs = jobs;
                    loaded.jobs_dir = jobs_dir;
                }
                Ok(loaded)
            }
            Err(mut errors) => {
                eprintln!(
                    "{} has errors, and state_dir, jobs_dir or ledger is among them: this command does not read another ledger in its place",
                    path.display()
                );
                errors.retain(|e| !global_errors.iter().any(|g| g.to_string() == e.to_string()));
                Err(refuse(global_errors.into_iter().chain(errors).collect()))
            }
        },
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
    let file_only = cli.log_file.is_some();
    if let Some(f) = &cli.log_file {
        log.file = Some(f.clone());
    }
    if !matches!(cli.command, Command::Run) {
        log.file = None;
    }
    let _guard = crate::logging::init(&log, file_only);
    let loaded = with_config_errors(loaded, &sources, &cli.command)?;
    let state_dir = cli
        .state_dir
        .clone()
        .or_else(|| loaded.global.state_dir.clone())
        .unwrap_or_else(store::default_state_dir);
    // The paths this invocation was given, for `install` to keep.
    let paths = service::Paths {
        config: cli.config.clone(),
        jobs: cli.jobs.clone(),
        state_dir: cli.state_dir.clone(),
        log_file: cli.log_file.clone(),
        log_format: cli.log_format,
    };
    match cli.command {
        Command::Run => runtime()?.block_on(async {
            // Registered before READY, so that a signal right after it is not lost.
            let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
            let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
            let shutdown = async move {
                tokio::select! {
                    _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = sigint.recv() => tracing::info!("SIGINT: shutting down"),
                }
            };
            crate::daemon::run(loaded, &state_dir, sources, shutdown).await
        }),
        Command::Check => jobs::check(&loaded),
        Command::List => jobs::list(&loaded, &state_dir),
        Command::Next {
            job,
            count,
            from,
            json,
        } => jobs::next(&loaded, &job, usize::from(count), from.as_deref(), json),
        Command::Trigger { job, force } => trigger::trigger(&loaded, &job, force, &state_dir),
        Command::Backfill {
            job,
            from,
            to,
            dry_run,
        } => backfill::backfill(&loaded, &job, &from, &to, dry_run, &state_dir),
        Command::NotifyTest { channel } => service::notify_test(&loaded, &channel),
        Command::Status { json } => ledger::status(json, &state_dir),
        Command::Open { print } => ledger::open(print, &state_dir),
        Command::Doctor { json } => {
            service::doctor(&loaded, &sources.config_path(), json, &state_dir)
        }
        Command::Ledger {
            what:
                LedgerWhat::Migrate {
                    to,
                    password_env,
                    password_file,
                },
        } => ledger::migrate(&to, password_env, password_file, &state_dir),
        Command::Import {
            what:
                ImportWhat::Crontab {
                    file,
                    dry_run,
                    system,
                },
        } => service::import_crontab(&loaded, file.as_deref(), dry_run, system),
        Command::Install {
            dry_run,
            target,
            env,
            no_start,
        } => service::install(&loaded, &paths, dry_run, target, &env, !no_start, false),
        Command::Uninstall { dry_run, target } => {
            service::install(&loaded, &paths, dry_run, target, &[], true, true)
        }
        Command::Report {
            job,
            period,
            out,
            lang,
        } => reports::report(
            &loaded,
            &job,
            period.as_deref(),
            out.as_deref(),
            lang.as_deref().and_then(crate::i18n::Lang::parse),
            &state_dir,
        ),
        Command::Baseline {
            job,
            set,
            runs,
            label,
        } => reports::baseline(&loaded, &job, set, runs, label.as_deref(), &state_dir),
        Command::Pause { job, reason } => quiet::pause(&loaded, &job, &reason, &state_dir),
        Command::Resume { job } => quiet::resume(&loaded, &job, &state_dir),
        Command::Silence {
            job,
            rule,
            lasts,
            reason,
        } => quiet::silence(&loaded, &job, rule.as_deref(), &lasts, &reason, &state_dir),
        Command::Silences { json } => quiet::silences(&loaded, json, &state_dir),
        Command::Unsilence { id } => quiet::unsilence(&loaded, id, &state_dir),
        Command::Notifications { limit, json } => {
            ledger::notifications(&loaded, limit, json, &state_dir)
        }
        Command::Alerts { since, json } => ledger::alerts(&loaded, &since, json, &state_dir),
        Command::Nodes { json } => ledger::nodes(&loaded, json, &state_dir),
        Command::Metrics { job, since, json } => {
            ledger::metrics(&loaded, &job, &since, json, &state_dir)
        }
        Command::PingUrl { job, rotate } => ping::ping_url(&loaded, &job, rotate, &state_dir),
        Command::History { job, limit, json } => {
            ledger::history(&loaded, job.as_deref(), limit, json, &state_dir)
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

/// The ledger the loaded configuration names: its PostgreSQL ledger (`ledger:`), else SQLite in
/// `state_dir` (created if need be).
fn open_store(loaded: &Loaded, state_dir: &std::path::Path) -> Result<Store, Error> {
    let target = crate::daemon::ledger_target(&loaded.global)?;
    Ok(Store::open_target(state_dir, &target)?)
}

/// The ledger, if the state directory has one (commands that only read do not create it). A
/// directory or ledger that cannot be read, or a ledger that cannot be opened, is an error that
/// names it and says why; a missing one is `None`.
fn existing_store(loaded: &Loaded, state_dir: &std::path::Path) -> Result<Option<Store>, Error> {
    if loaded.global.ledger.is_some() {
        return open_store(loaded, state_dir).map(Some);
    }
    let dir = state_dir.display();
    match std::fs::metadata(state_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read the state directory {dir}: {e}"
            )));
        }
        Ok(m) if !m.is_dir() => {
            return Err(Error::Usage(format!(
                "the state directory {dir} is not a directory"
            )));
        }
        Ok(_) => {}
    }
    let db = state_dir.join("clawcron.db");
    match std::fs::metadata(&db) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read the ledger {}: {e}",
                db.display()
            )));
        }
        Ok(_) => {}
    }
    Store::open(state_dir).map(Some).map_err(|e| {
        let text = e.to_string();
        if text.contains("readonly") || text.contains("unable to open") {
            Error::Usage(format!(
                "cannot open the ledger in {dir}: {text}; the state directory must be writable by this user, even to read (SQLite keeps its write-ahead log beside the ledger)"
            ))
        } else {
            e.into()
        }
    })
}

/// Why there is no ledger to show: the state directory or its ledger does not exist.
fn no_ledger(state_dir: &std::path::Path) -> String {
    if state_dir.exists() {
        format!("{} has no ledger", state_dir.display())
    } else {
        format!(
            "the state directory {} does not exist; is --state-dir (or CLAWCRON_STATE_DIR, or state_dir in clawcron.yaml) the daemon's?",
            state_dir.display()
        )
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

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal, Error> {
    tokio::signal::unix::signal(kind).map_err(|source| Error::Io {
        context: "cannot install a signal handler".into(),
        source,
    })
}
