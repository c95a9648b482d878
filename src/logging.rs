//! Logs: tracing with a human format (default) or JSON lines, to stderr and optionally to a
//! rotating file (or to the file only: `--log-file`, as the LaunchAgent runs it). Every line of a run carries `job` and `run_id`.

use crate::model::{LogConfig, LogFormat, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// A spinner being drawn on the terminal (`clawcron trigger`): log lines are printed above it.
static SPINNER: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Draws log lines above `bar` until `clear_spinner`.
pub fn set_spinner(bar: indicatif::ProgressBar) {
    if let Ok(mut s) = SPINNER.lock() {
        *s = Some(bar);
    }
}

pub fn clear_spinner() {
    if let Ok(mut s) = SPINNER.lock()
        && let Some(bar) = s.take()
    {
        bar.finish_and_clear();
    }
}

/// A writer that redacts registered secrets from each formatted log line.
struct Scrub<W>(W);

impl<W: std::io::Write> std::io::Write for Scrub<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = match std::str::from_utf8(buf) {
            Ok(s) => crate::redact::scrub(s).into_owned().into_bytes(),
            Err(_) => buf.to_vec(),
        };
        let bar = SPINNER.lock().ok().and_then(|s| s.clone());
        match bar {
            Some(bar) => bar.suspend(|| self.0.write_all(&text))?,
            None => self.0.write_all(&text)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Keeps the file writer alive; drop it at exit to flush.
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Installs the global subscriber. `RUST_LOG` overrides the configured level. With
/// `file_only`, a log file that opens takes every line and stderr none (a LaunchAgent's stderr
/// goes to a file launchd cannot rotate); one that does not open leaves the lines on stderr.
pub fn init(cfg: &LogConfig, file_only: bool) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    let (file_writer, guard) = match &cfg.file {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "clawcron.log".into());
            let rotation = match cfg.rotation {
                Rotation::Daily => tracing_appender::rolling::Rotation::DAILY,
                Rotation::Hourly => tracing_appender::rolling::Rotation::HOURLY,
                Rotation::Never => tracing_appender::rolling::Rotation::NEVER,
            };
            // The appender lists the folder to prune old files: it must exist first.
            let _ = std::fs::create_dir_all(dir);
            match tracing_appender::rolling::RollingFileAppender::builder()
                .rotation(rotation)
                .filename_prefix(name)
                .max_log_files(14)
                .build(dir)
            {
                Ok(appender) => {
                    let (w, g) = tracing_appender::non_blocking(appender);
                    (Some(w), Some(g))
                }
                Err(e) => {
                    eprintln!("warning: cannot open the log file {}: {e}", path.display());
                    (None, None)
                }
            }
        }
        None => (None, None),
    };
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && cfg.file.is_none());
    let stderr = || Scrub(std::io::stderr());
    let result = match (cfg.format, file_writer) {
        (LogFormat::Json, Some(w)) if file_only => builder
            .json()
            .with_writer(move || Scrub(w.clone()))
            .try_init(),
        (LogFormat::Human, Some(w)) if file_only => {
            builder.with_writer(move || Scrub(w.clone())).try_init()
        }
        (LogFormat::Json, Some(w)) => {
            let file = move || Scrub(w.clone());
            builder.json().with_writer(stderr.and(file)).try_init()
        }
        (LogFormat::Json, None) => builder.json().with_writer(stderr).try_init(),
        (LogFormat::Human, Some(w)) => {
            let file = move || Scrub(w.clone());
            builder.with_writer(stderr.and(file)).try_init()
        }
        (LogFormat::Human, None) => builder.with_writer(stderr).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    LogGuard { _file: guard }
}
