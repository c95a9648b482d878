//! Hot reload: the jobs folder and `clawcron.yaml` are watched (file events, debounced) and
//! re-read on SIGHUP too; the scheduler applies the difference atomically between two wake-ups
//! (see `scheduler::Control::Reload`). A job file that fails validation keeps its last good
//! version running; its errors are logged and kept for the status API. A global config with
//! errors changes nothing. Settings of the daemon itself (state_dir, max_concurrent_runs, log,
//! notifiers) take effect at the next start.

use crate::config::{self, Sources};
use crate::scheduler::{Control, ReloadSummary};
use notify::Watcher;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// How long files must stay quiet before a reload (an editor writes in several steps).
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// The last reload, for the status API.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReloadStatus {
    pub at_ms: Option<i64>,
    pub summary: Option<ReloadSummary>,
    /// The errors of the files that were not applied (file:line:col: ...).
    pub errors: Vec<String>,
}

/// Watches the files behind `sources`; returns the watcher (keep it alive) or why not.
fn watch(
    jobs_dir: &std::path::Path,
    config: PathBuf,
    wake: Arc<Notify>,
) -> Result<notify::RecommendedWatcher, notify::Error> {
    let config_name = config.file_name().map(|n| n.to_os_string());
    // Events may name paths absolute or as watched: compare with both.
    let jobs = jobs_dir.to_path_buf();
    let jobs_abs = std::fs::canonicalize(jobs_dir).unwrap_or_else(|_| jobs.clone());
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        if matches!(ev.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = ev.paths.iter().any(|p| {
            p.parent() == Some(jobs.as_path())
                || p.parent() == Some(jobs_abs.as_path())
                || p.file_name().map(|n| n.to_os_string()) == config_name
        });
        if relevant {
            wake.notify_one();
        }
    })?;
    w.watch(jobs_dir, notify::RecursiveMode::NonRecursive)?;
    let dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    w.watch(dir, notify::RecursiveMode::NonRecursive)?;
    Ok(w)
}

/// Reloads on file changes and SIGHUP until `stop`.
/// The watch on `jobs_dir` and the config file, started now (before READY, so that a change
/// right after it is seen); `run` takes it.
pub struct Watching {
    _watcher: Option<notify::RecommendedWatcher>,
    wake: Arc<Notify>,
    hup: Option<tokio::signal::unix::Signal>,
}

pub fn start_watching(sources: &Sources, jobs_dir: &std::path::Path) -> Watching {
    let wake = Arc::new(Notify::new());
    let watcher = match watch(jobs_dir, sources.config_path(), wake.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            warn!(
                "cannot watch {} for changes (reload with SIGHUP): {e}",
                jobs_dir.display()
            );
            None
        }
    };
    let hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!("no SIGHUP handler: {e}");
            None
        }
    };
    Watching {
        _watcher: watcher,
        wake,
        hup,
    }
}

/// Told the errors of a reload that kept last good versions (the daemon notifies them).
pub type OnKept = Arc<dyn Fn(&[String]) + Send + Sync>;

pub async fn run(
    watching: Watching,
    sources: Sources,
    control: mpsc::Sender<Control>,
    status: Arc<Mutex<ReloadStatus>>,
    on_kept: OnKept,
    stop: CancellationToken,
    beat: crate::pulse::Beat,
) {
    let wake = watching.wake.clone();
    let mut watching = watching;
    let mut hup = watching.hup.take();
    loop {
        let hangup = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            _ = hangup => info!("SIGHUP: reloading the configuration"),
            () = wake.notified() => {
                // Debounce: wait until the files are quiet.
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = wake.notified() => continue,
                        () = tokio::time::sleep(DEBOUNCE) => break,
                    }
                }
                info!("files changed: reloading the configuration");
            }
        }
        let _working = beat.working();
        let sources = sources.clone();
        let loaded = match tokio::task::spawn_blocking(move || config::load(&sources)).await {
            Ok(l) => l,
            Err(e) => {
                error!("the reload failed: {e}");
                continue;
            }
        };
        let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
        for d in &loaded.errors {
            error!("invalid config, not applied: {d}");
        }
        if !errors.is_empty() {
            on_kept(&errors);
        }
        let now = chrono::Utc::now().timestamp_millis();
        if !loaded.global_ok {
            warn!("clawcron.yaml has errors: nothing reloaded");
            if let Ok(mut s) = status.lock() {
                *s = ReloadStatus {
                    at_ms: Some(now),
                    summary: None,
                    errors,
                };
            }
            continue;
        }
        // A file with errors keeps its last good version: its job id is its file stem.
        let keep: Vec<String> = loaded
            .errors
            .iter()
            .filter_map(|d| d.path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        let (tx, rx) = oneshot::channel();
        let request = Control::Reload {
            jobs: loaded.jobs,
            keep,
            reply: tx,
        };
        if control.send(request).await.is_err() {
            return;
        }
        if let Ok(summary) = rx.await
            && let Ok(mut s) = status.lock()
        {
            *s = ReloadStatus {
                at_ms: Some(now),
                summary: Some(summary),
                errors,
            };
        }
    }
}
