//! Wires it all: loads the config (bad job files are logged, the rest run), takes the state
//! directory's lock, recovers runs a crashed daemon left `running`, starts the scheduler,
//! prints the schedule table and `READY <unix-nanos>`, and shuts down gracefully on
//! SIGTERM/SIGINT (stop scheduling, let runs finish within the grace, then kill them).

use crate::clock::{Clock, SystemClock};
use crate::config::{self, Loaded};
use crate::error::Error;
use crate::runner::Runner;
use crate::scheduler::Scheduler;
use crate::store::{LedgerTarget, Store};
use crate::util::boot_id;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Runs the daemon until `shutdown` completes (the binary passes SIGTERM/SIGINT; a test passes
/// its own future), then stops gracefully.
pub async fn run(
    loaded: Loaded,
    state_dir: &Path,
    sources: config::Sources,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    for d in &loaded.errors {
        error!("invalid config, skipped: {d}");
    }
    let start_errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    if !loaded.global_ok {
        return Err(Error::ConfigInvalid {
            diagnostics: loaded.errors,
            valid: loaded.jobs.len(),
        });
    }
    let local = local_clock();
    let now = local.now();
    let g = &loaded.global;
    let target = ledger_target(g)?;
    let cluster = matches!(target, LedgerTarget::Postgres(_));
    let (_lock, store) = open_ledger(
        state_dir,
        &target,
        cluster.then_some(&g.node),
        now.timestamp_millis(),
    )?;
    // In a cluster, the node joins before it looks at any slot: its clock follows the
    // ledger's, and its roster says which jobs it may claim.
    let node = if cluster {
        let jobs: Vec<Arc<crate::model::JobSpec>> = loaded
            .jobs
            .iter()
            .filter(|j| j.enabled)
            .cloned()
            .map(Arc::new)
            .collect();
        Some(crate::cluster::Node::join(
            &store,
            g.node.clone(),
            local.clone(),
            &jobs,
        )?)
    } else {
        None
    };
    let clock: Arc<dyn Clock> = match &node {
        Some(n) => n.clock.clone(),
        None => local,
    };
    // From here on, time is the ledger's in a cluster.
    let now = clock.now();
    if let Some(w) = crate::util::time::tz_env_problem() {
        warn!("{w}");
    }
    if let Some(w) = config::permission_warning(&sources.config_path(), g) {
        warn!("{w}");
    }
    let mut templates = loaded.templates();
    let cutoff = now.timestamp_millis() - g.retention.max_age.as_millis() as i64;
    if let Err(e) = store.apply_retention(g.retention.max_runs_per_job, cutoff) {
        warn!("ledger retention failed: {e}");
    }
    let runner = build_runner(
        &store,
        clock.clone(),
        g,
        state_dir,
        cluster.then_some(g.node.name.as_str()),
    );
    runner.set_leased(cluster);
    let store_for_notices = store.clone();
    // Notices claimed by a process that died (a killed daemon) go now, not when their lease ends.
    // This runs before the dispatcher starts, so no claim is this process's yet: one with our
    // own pid is a predecessor's (a container's daemon gets the same pid at each start), and a
    // zombie (killed, not yet waited for by its parent) holds nothing.
    let me = i64::from(std::process::id());
    match store.release_dead_claims(|pid| {
        pid != me && u32::try_from(pid).is_ok_and(crate::action::procs::running)
    }) {
        Ok(0) => {}
        Ok(n) => info!("released {n} notice claim(s) of a process that is gone"),
        Err(e) => warn!("cannot release stale notice claims: {e}"),
    }
    // The daemon's own session: its downtime shows in reports.
    let boot = boot_id();
    let (session, downtime) = open_session(&store, &boot, now.timestamp_millis());
    let jobs_dir = loaded.jobs_dir.clone();
    // The parts whose loops say when they are at work: `/healthz` names one stuck.
    let parts = crate::pulse::Parts::default();
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(16);
    let mut scheduler = Scheduler::new(
        loaded.jobs,
        clock.clone(),
        store.clone(),
        runner.clone(),
        boot.clone(),
    )
    .with_control(control_rx)
    .with_beat(parts.part("scheduler"));
    if let Some(n) = &node {
        scheduler = scheduler.with_roster(n.roster.clone());
    }
    scheduler.start()?;
    if let Some(gap) = downtime {
        report_downtime(&store, g, &gap, scheduler.last_catch_up());
    }
    let stop = CancellationToken::new();
    let budget = descriptor_budget(g);
    let reaper = tokio::spawn(crate::action::procs::reaper(stop.clone()));
    let heartbeat_ping = g
        .heartbeat
        .clone()
        .map(|(url, every)| tokio::spawn(ping(url, every, stop.clone())));
    // What the start found wrong shows on the dashboard until a reload says otherwise.
    let reload_status = Arc::new(std::sync::Mutex::new(crate::reload::ReloadStatus {
        at_ms: Some(now.timestamp_millis()),
        summary: None,
        errors: start_errors,
    }));
    let api = match g.api_listen {
        Some(listen) => {
            start_api(
                listen,
                state_dir,
                crate::api::Api {
                    control: control_tx.clone(),
                    store: store.clone(),
                    runner: runner.clone(),
                    reload: reload_status.clone(),
                    token: String::new(),
                    token_everywhere: !listen.ip().is_loopback(),
                    public_reads: g.api_public_reads && listen.ip().is_loopback(),
                    listen,
                    sessions: Default::default(),
                    boot_id: boot.clone(),
                    timezone: g.timezone,
                    templates: templates.clone(),
                    started_ms: now.timestamp_millis(),
                    job_metrics: Default::default(),
                    parts: parts.clone(),
                },
                crate::api::edge::Limits::with_conns(budget.per_listener),
                stop.clone(),
            )
            .await
        }
        None => None,
    };
    let ping_listener = match g.ping_listen {
        Some(listen) => {
            start_pings(
                listen,
                state_dir,
                crate::api::PingDesk {
                    store: store.clone(),
                    pings: runner.pings(),
                    control: control_tx.clone(),
                },
                crate::api::edge::Limits::with_conns(budget.per_listener),
                stop.clone(),
            )
            .await
        }
        None => None,
    };
    let control_socket = match crate::control::bind(state_dir) {
        Ok(listener) => Some(tokio::spawn(crate::control::serve(
            listener,
            control_tx.clone(),
            runner.clone(),
            stop.clone(),
        ))),
        Err(e) => {
            warn!(
                "cannot open the control socket {} (`clawcron trigger` will refuse to run beside this daemon): {e}",
                crate::control::socket_path(state_dir).display()
            );
            None
        }
    };
    // Watching before READY: a file changed right after READY is seen.
    let watching = crate::reload::start_watching(&sources, &jobs_dir);
    // A reload that keeps a file's last good version because of an error tells `daemon_notify`.
    let kept_store = store.clone();
    let kept_channels = g.daemon_notify.clone();
    let on_kept: crate::reload::OnKept = Arc::new(move |errors: &[String]| {
        let now = chrono::Utc::now().timestamp_millis();
        let payload = serde_json::json!({
            "v": 2, "event": "daemon.reload", "title": "clawcron: a job file has errors",
            "text": format!("a reload kept the last good version of what has errors: {}", errors.join("; ")),
            "job": null, "errors": errors, "at_ms": now,
        });
        notify_daemon(
            &kept_store,
            &kept_channels,
            &format!("reload:{now}"),
            &payload,
            now,
        );
    });
    let reloader = tokio::spawn(crate::reload::run(
        watching,
        sources,
        control_tx.clone(),
        reload_status.clone(),
        on_kept,
        stop.clone(),
        parts.part("reloader"),
    ));
    print_table(&scheduler, g.timezone, api.as_ref().map(|a| a.0));

    let loop_task = tokio::spawn(scheduler.run(stop.clone()));
    let silence_hint = node.as_ref().map(|n| n.silence_hint());
    let node_task = node.map(|n| tokio::spawn(n.run(runner.clone(), stop.clone())));
    let heartbeat = session.map(|_| {
        tokio::spawn(heartbeat(
            store.clone(),
            stop.clone(),
            parts.part("session heartbeat"),
        ))
    });
    // The ledger's file is watched through the state directory's events: removed or replaced,
    // it is found at once, even by an idle daemon (and at each write and `/healthz` anyway).
    let _ledger_file_watch = watch_ledger_file(state_dir, &store);
    let ledger_watch = tokio::spawn(watch_ledger(
        store.clone(),
        LedgerGoneTell {
            channels: g.daemon_notify.clone(),
            notifiers: g.notifiers.clone(),
            templates: templates.clone(),
            timeout: g.notify_timeout,
        },
        stop.clone(),
        parts.part("ledger watch"),
    ));
    let silences = tokio::spawn(watch_silences(
        store.clone(),
        runner.clone(),
        control_tx.clone(),
        stop.clone(),
        silence_hint,
        parts.part("silences"),
    ));
    // Notices link to the dashboard where it really listens (a port 0 in the file is chosen now).
    templates.dashboard = api
        .as_ref()
        .map(|(addr, _)| crate::model::dashboard_url_at(*addr));
    let notices = tokio::spawn(crate::notify::dispatch(
        store_for_notices,
        Arc::new(g.notifiers.clone()),
        Arc::new(templates),
        stop.clone(),
        g.notify_timeout,
        g.notify_retry,
        parts.part("notices"),
    ));
    shutdown.await;
    stop.cancel();
    Services {
        scheduler: loop_task,
        notices,
        heartbeat,
        node: node_task,
        reloader,
        ledger_watch,
        silences,
        heartbeat_ping,
        reaper,
        control_socket,
        api: api.map(|(_, task)| task),
        pings: ping_listener,
    }
    .stop(&runner, g.shutdown_grace, state_dir)
    .await;
    if let Some(id) = session
        && let Err(e) = store.end_session(id, chrono::Utc::now().timestamp_millis())
    {
        warn!("cannot record the daemon's stop: {e}");
    }
    info!("stopped");
    Ok(())
}

/// The daemon's tasks, stopped in order by `stop`.
struct Services {
    scheduler: tokio::task::JoinHandle<()>,
    notices: tokio::task::JoinHandle<()>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    /// In a cluster: the node's heartbeat (it records the node's stop when it ends).
    node: Option<tokio::task::JoinHandle<()>>,
    reloader: tokio::task::JoinHandle<()>,
    ledger_watch: tokio::task::JoinHandle<()>,
    silences: tokio::task::JoinHandle<()>,
    heartbeat_ping: Option<tokio::task::JoinHandle<()>>,
    reaper: tokio::task::JoinHandle<()>,
    control_socket: Option<tokio::task::JoinHandle<()>>,
    api: Option<tokio::task::JoinHandle<()>>,
    pings: Option<tokio::task::JoinHandle<()>>,
}

impl Services {
    /// After `stop` was cancelled: the scheduler stops first (no new runs), running jobs get
    /// `grace`, then the rest end; pending notices stay in the outbox for the next start.
    async fn stop(self, runner: &Runner, grace: std::time::Duration, state_dir: &Path) {
        if let Err(e) = self.scheduler.await {
            error!("the scheduler loop failed: {e}");
        }
        info!(
            running = runner.running(),
            "no new runs start; waiting up to {} for running jobs",
            crate::util::duration::format(grace)
        );
        runner.shutdown(grace).await;
        if let Err(e) = self.notices.await {
            error!("the notification dispatcher failed: {e}");
        }
        for task in [
            self.heartbeat,
            self.node,
            Some(self.reloader),
            Some(self.ledger_watch),
            Some(self.silences),
            self.heartbeat_ping,
            Some(self.reaper),
        ]
        .into_iter()
        .flatten()
        {
            let _ = task.await;
        }
        if let Some(task) = self.control_socket {
            let _ = task.await;
            let _ = std::fs::remove_file(crate::control::socket_path(state_dir));
        }
        if let Some(task) = self.api {
            let _ = task.await;
            let _ = std::fs::remove_file(state_dir.join("api.addr"));
        }
        if let Some(task) = self.pings {
            let _ = task.await;
            let _ = std::fs::remove_file(state_dir.join("ping.addr"));
        }
    }
}

/// The system clock; in tests, `CLAWCRON_TEST_CLOCK_OFFSET_MS` moves it (a machine whose clock
/// runs ahead or behind), to show that a cluster node schedules on the ledger's clock.
fn local_clock() -> Arc<dyn Clock> {
    let system: Arc<dyn Clock> = Arc::new(SystemClock::default());
    match std::env::var("CLAWCRON_TEST_CLOCK_OFFSET_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        Some(ms) if ms != 0 => {
            warn!("test clock offset: this daemon's clock runs {ms} ms off the system's");
            Arc::new(crate::clock::OffsetClock::new(system, ms))
        }
        _ => system,
    }
}

/// The ledger `global` names: PostgreSQL (`ledger:`, its password read now), else SQLite.
pub fn ledger_target(global: &crate::model::GlobalConfig) -> Result<LedgerTarget, Error> {
    let Some(spec) = &global.ledger else {
        return Ok(LedgerTarget::Sqlite);
    };
    let password = spec
        .password
        .as_ref()
        .map(|p| crate::config::secrets::read(p, "the ledger's password"))
        .transpose()
        .map_err(Error::Usage)?;
    Ok(LedgerTarget::Postgres(crate::store::db::PgTarget {
        url: spec.url.clone(),
        password,
        pool_size: spec.pool,
    }))
}

/// Takes the state directory's lock, opens the ledger, and turns the runs a crashed daemon left
/// `running` into `interrupted` (saying whether their process group still lives).
fn open_ledger(
    state_dir: &Path,
    target: &LedgerTarget,
    node: Option<&crate::model::NodeSpec>,
    now_ms: i64,
) -> Result<(crate::store::DaemonLock, Store), Error> {
    let lock = Store::lock_daemon(state_dir)?;
    let store = Store::open_target(state_dir, target)?;
    // In a cluster only this node's runs are this node's to recover.
    if let Some(n) = node {
        store.join_cluster(crate::store::cluster::NodeId {
            name: n.name.clone(),
            lease_ms: n.lease.as_millis() as i64,
        });
    }
    let boot = boot_id();
    for r in store.recover_interrupted(now_ms)? {
        // A process group id is this boot's only: after a reboot it may name anything.
        let group = r
            .pid
            .filter(|_| boot != "unknown-boot" && r.boot_id.as_deref() == Some(boot.as_str()))
            .and_then(|pid| i32::try_from(pid).ok())
            .filter(|&pid| pid > 1);
        let stopped = group.filter(|&pgid| stop_leftover_group(pgid));
        warn!(
            job = r.job,
            run_id = r.id,
            slot = %crate::util::to_utc(r.slot).to_rfc3339(),
            "run interrupted by a previous daemon's crash{}",
            match stopped {
                Some(g) => format!("; its process group {g} was still alive: stopped"),
                None => String::new(),
            }
        );
        if let Some(g) = stopped
            && let Err(e) = store.note_interrupted(
                r.id,
                &format!("its process group {g} was still alive at the next start: stopped"),
            )
        {
            warn!(
                run_id = r.id,
                "cannot record the stop of its leftovers: {e}"
            );
        }
    }
    Ok((lock, store))
}

/// Stops what is left of a crashed daemon's run in process group `pgid` (SIGKILL to the
/// group); true if the group was alive.
fn stop_leftover_group(pgid: i32) -> bool {
    // SAFETY: signal 0 only probes whether the group exists; SIGKILL ends the group of a run
    // the ledger says this boot's previous daemon started and never saw end.
    unsafe {
        if libc::kill(-pgid, 0) != 0 {
            return false;
        }
        libc::kill(-pgid, libc::SIGKILL);
    }
    true
}

/// Records this daemon's session; returns its id and the downtime that ended with it, if any.
fn open_session(
    store: &Store,
    boot: &str,
    now_ms: i64,
) -> (Option<i64>, Option<crate::store::Gap>) {
    let session = store.start_session(boot, now_ms).ok();
    let downtime = session.and_then(|_| {
        store
            .downtime(0, now_ms + 1)
            .ok()
            .and_then(|g| g.last().cloned())
            .filter(|g| g.to_ms >= now_ms - 1)
    });
    (session, downtime)
}

/// Refreshes the session's `alive_at`, only when nothing else did for `HEARTBEAT_MS` (see there).
async fn heartbeat(store: Store, stop: CancellationToken, beat: crate::pulse::Beat) {
    let every = crate::store::HEARTBEAT_MS;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let last = store.last_beat_ms().unwrap_or(now);
        let wait = (last + every - now).clamp(1000, every) as u64;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
        }
        let _working = beat.working();
        let now = chrono::Utc::now().timestamp_millis();
        if now - store.last_beat_ms().unwrap_or(now) >= every - 1000 {
            let r = store.session_alive(now);
            store.health().observe("the daemon's heartbeat", &r);
        }
    }
}

/// The runner as every process that runs jobs has it, the daemon and a `trigger` or `backfill`
/// run in its own process alike: the jobs' environment (`node` in a cluster), the output limit,
/// the quiet judge, the subreaper of runs' orphans, and the warden (runs die with the process
/// that started them, however it dies: see `action::warden`).
pub fn build_runner(
    store: &Store,
    clock: Arc<dyn Clock>,
    g: &crate::model::GlobalConfig,
    state_dir: &Path,
    node: Option<&str>,
) -> Runner {
    let now = clock.now();
    let mut env = job_env(state_dir);
    if let Some(name) = node {
        env.push(("CLAWCRON_NODE".to_string(), name.to_string()));
    }
    let runner = Runner::with_env(
        store.clone(),
        clock,
        g.max_concurrent_runs,
        g.kill_grace,
        g.retention.clone(),
        env,
    );
    runner.set_log_limit(g.log.output_per_run);
    match crate::action::warden::start() {
        Ok(pid) => info!(pid, "warden started: runs die with this process"),
        Err(e) => warn!("cannot start the warden ({e}): if this process dies, its runs go on"),
    }
    runner.set_quiet(Arc::new(crate::quiet::Quiet::new(
        store.clone(),
        g.quiet_hours.clone(),
        g.timezone,
        now.timestamp_millis(),
    )));
    // Orphans of runs come to this process, not to init, so that none outlives its run.
    if !crate::action::procs::become_subreaper() && cfg!(target_os = "linux") {
        warn!("cannot become a child subreaper: a run's `setsid` descendants may outlive it");
    }
    runner
}

/// What every job is told about the daemon that runs it.
pub fn job_env(state_dir: &Path) -> Vec<(String, String)> {
    let mut env = vec![(
        "CLAWCRON_STATE_DIR".to_string(),
        state_dir.display().to_string(),
    )];
    if let Ok(exe) = std::env::current_exe() {
        env.push(("CLAWCRON_BIN".to_string(), exe.display().to_string()));
    }
    env
}

/// One log line and one notice (to `daemon_notify`) on start after a downtime: how long, and
/// what happened to the slots missed meanwhile.
fn report_downtime(
    store: &Store,
    g: &crate::model::GlobalConfig,
    gap: &crate::store::Gap,
    catch_up: Option<(&'static str, usize, usize)>,
) {
    let (lasted, since) = stretch(gap.from_ms, gap.to_ms);
    let how = if gap.clean {
        "stopped cleanly"
    } else {
        "did not stop cleanly (crash, kill or power loss)"
    };
    let slots = match catch_up {
        Some((_, ran, skipped)) => format!(
            "{} missed slot(s): {ran} run late, {skipped} skipped",
            ran + skipped
        ),
        None => "no slot was missed".to_string(),
    };
    let text = format!("clawcron was down for {lasted} since {since} (it {how}); {slots}");
    info!("{text}");
    let payload = serde_json::json!({
        "v": 2, "event": "daemon.downtime", "title": "clawcron: back after a downtime", "text": text,
        "job": null, "downtime": { "from_ms": gap.from_ms, "to_ms": gap.to_ms, "clean": gap.clean,
            "ran_late": catch_up.map_or(0, |c| c.1), "skipped": catch_up.map_or(0, |c| c.2) },
        "at_ms": gap.to_ms,
    });
    notify_daemon(
        store,
        &g.daemon_notify,
        &format!("downtime:{}", gap.to_ms),
        &payload,
        gap.to_ms,
    );
}

/// How long `[from_ms, to_ms]` lasted, to the second (milliseconds of a downtime are noise), and
/// its start as RFC 3339.
fn stretch(from_ms: i64, to_ms: i64) -> (String, String) {
    let lasted = crate::util::duration::format(std::time::Duration::from_secs(
        ((to_ms - from_ms).max(0) as u64 + 500) / 1000,
    ));
    (lasted, crate::util::to_utc(from_ms / 1000).to_rfc3339())
}

/// Queues a notice about the daemon itself to `channels` (the dispatcher is woken).
fn notify_daemon(
    store: &Store,
    channels: &[String],
    key: &str,
    payload: &serde_json::Value,
    at_ms: i64,
) {
    crate::notify::enqueue_to(store, channels, key, payload, at_ms);
}

/// Reports the end of each stretch during which the ledger could not be written (a full disk):
/// one log line and one notice to `daemon_notify`, queued in the outbox now that it can be.
async fn watch_ledger(
    store: Store,
    tell: LedgerGoneTell,
    stop: CancellationToken,
    beat: crate::pulse::Beat,
) {
    let channels = tell.channels.clone();
    let file = store.file();
    let mut told_gone = false;
    loop {
        let gone = async {
            match &file {
                Some(f) if !told_gone => f.found_gone.notified().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = store.health().changed.notified() => {}
            () = gone => {
                let _working = beat.working();
                told_gone = true;
                if let (Some(why), Some(f)) = (store.file_gone(), &file) {
                    tell.now(&why, f).await;
                }
                continue;
            }
        }
        let _working = beat.working();
        for f in store.health().take_ended() {
            let until = f.until_ms.unwrap_or(f.since_ms);
            let (lasted, since) = stretch(f.since_ms, until);
            let text = format!(
                "the ledger could not be written for {lasted} since {since} ({} failed write(s): {}); it can be again. Slots due meanwhile followed their missed-run policy (reason \"missed: ledger not writable\") and run outcomes held in memory were written",
                f.failures, f.error
            );
            info!("{text}");
            let payload = serde_json::json!({
                "v": 2, "event": "daemon.ledger", "title": "clawcron: the ledger can be written again",
                "text": text, "job": null,
                "ledger": { "from_ms": f.since_ms, "to_ms": until, "failures": f.failures, "error": f.error },
                "at_ms": until,
            });
            let key = format!("ledger:{}", f.since_ms);
            notify_daemon(&store, &channels, &key, &payload, until);
        }
    }
}

/// Whom to tell, and how, that the ledger's file is gone: sent directly, since the outbox
/// lived in that file.
struct LedgerGoneTell {
    channels: Vec<String>,
    notifiers: std::collections::HashMap<String, crate::model::Channel>,
    templates: crate::template::Templates,
    timeout: std::time::Duration,
}

impl LedgerGoneTell {
    async fn now(&self, why: &str, file: &crate::store::db::FileIdentity) {
        let text = format!(
            "{why}. The daemon runs no job until it is restarted: restore the file from a backup and restart it, or restart it to begin a new, empty ledger (the history is lost)."
        );
        error!("{text}");
        let now = chrono::Utc::now().timestamp_millis();
        let payload = serde_json::json!({
            "v": 2, "event": "daemon.ledger_gone", "title": "clawcron: the ledger file is gone",
            "text": text, "job": null, "at_ms": now,
            // Facts, not only text: each channel words it in its reader's language.
            "ledger_gone": { "file": file.path().display().to_string(), "replaced": file.replaced() },
        });
        for name in &self.channels {
            let Some(channel) = self.notifiers.get(name) else {
                continue;
            };
            let key = format!("ledger-gone:{now}:{name}");
            let sent = channel
                .send(name, &key, &payload, &self.templates, self.timeout, now)
                .await;
            info!(channel = name, "the ledger's loss told directly: {sent:?}");
        }
    }
}

/// Watches the state directory for the ledger's file being removed, renamed or replaced, and
/// looks at it then (see `store::db::FileIdentity`); `None` if it cannot watch (the checks at
/// each write and each `/healthz` remain).
fn watch_ledger_file(state_dir: &Path, store: &Store) -> Option<notify::RecommendedWatcher> {
    use notify::Watcher;
    store.file()?;
    let s = store.clone();
    let mut w = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        let structural = matches!(
            ev.kind,
            notify::EventKind::Remove(_)
                | notify::EventKind::Create(_)
                | notify::EventKind::Modify(notify::event::ModifyKind::Name(_))
        );
        let ledger = ev.paths.iter().any(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("clawcron.db"))
        });
        if structural && ledger {
            let _ = s.file_gone();
        }
    })
    .ok()?;
    w.watch(state_dir, notify::RecursiveMode::NonRecursive)
        .ok()?;
    Some(w)
}

/// When a silence ends (by itself or by `unsilence`), what it covered and still fires is told
/// once: a reminder of each firing rule of its job (or of its one rule).
async fn watch_silences(
    store: Store,
    runner: Runner,
    control: tokio::sync::mpsc::Sender<crate::scheduler::Control>,
    stop: CancellationToken,
    mut hint: Option<tokio::sync::watch::Receiver<Option<i64>>>,
    beat: crate::pulse::Beat,
) {
    let quiet = runner.quiet();
    loop {
        let working = beat.working();
        let now = chrono::Utc::now().timestamp_millis();
        let ended = store.silences_to_tell(now).unwrap_or_else(|e| {
            warn!("cannot read the silences: {e}");
            Vec::new()
        });
        if !ended.is_empty() {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if control
                .send(crate::scheduler::Control::Jobs(tx))
                .await
                .is_err()
            {
                return;
            }
            let views = rx.await.unwrap_or_default();
            for s in &ended {
                // Claimed first: of a cluster's nodes, one tells it.
                match store.silence_told(s.id) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        warn!("cannot record a silence's end: {e}");
                        continue;
                    }
                }
                if let Some(v) = views.iter().find(|v| v.id == s.job) {
                    tell_still_firing(&store, &runner, &v.spec, s, now);
                }
            }
        }
        let next = store.next_silence_end(now).ok().flatten();
        let wait = match (&hint, next) {
            // One machine: until the next silence ends; a silence added or ended meanwhile
            // (the API, or the command line through the control socket) wakes it sooner.
            (None, Some(t)) => (t - now).clamp(0, 86_400_000),
            (None, None) => 86_400_000,
            // A cluster node: every beat reads when the next silence ends, so a silence added or
            // ended anywhere wakes this at the next beat, and nothing polls the ledger.
            (Some(_), Some(t)) => (t - now).clamp(0, 86_400_000),
            (Some(_), None) => 86_400_000,
        };
        drop(working);
        let hinted = async {
            match hint.as_mut() {
                Some(h) => h.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_millis(wait as u64 + 5)) => {}
            () = quiet.silences.notified() => {}
            // The node's heartbeat is gone (its task ended): back to the control socket's word.
            alive = hinted => if !alive { hint = None },
        }
    }
}

/// One reminder per rule of `job` the ended silence covered that still fires.
fn tell_still_firing(
    store: &Store,
    runner: &Runner,
    job: &crate::model::JobSpec,
    s: &crate::model::Silence,
    now: i64,
) {
    let mut notices = Vec::new();
    let quiet = runner.quiet();
    let judge = quiet.at(now);
    for rule in job
        .alerts
        .iter()
        .filter(|r| s.rule.as_ref().is_none_or(|x| *x == r.name))
    {
        let Ok(state) = store.alert_state(&job.id, &rule.name) else {
            continue;
        };
        if state.phase != crate::model::Phase::Firing {
            continue;
        }
        let facts = crate::notify::AlertFacts {
            kind: "repeat".into(),
            value: state.window.back().map_or(f64::NAN, |w| w.0),
            detail: format!(
                "{}; still firing when silence {} ended",
                rule.describe(),
                s.id
            ),
            at: now,
            samples: state.window.iter().map(|w| w.0).collect(),
            since: state.since,
            lasted_ms: state.since.map(|t| now - t),
            peak: state.peak,
            ..Default::default()
        };
        for mut n in crate::notify::for_alert(job, rule, &facts) {
            n.quiet = judge.why(&job.id, Some(&rule.name), "alert.repeat");
            notices.push(n);
        }
    }
    if !notices.is_empty() {
        info!(
            job = s.job,
            silence = s.id,
            "silence ended: {} notice(s) of what still fires",
            notices.len()
        );
        crate::notify::queue(store, &notices);
    }
}

/// Pings `url` every `every` until `stop`; logs only when it starts or stops answering.
async fn ping(url: String, every: std::time::Duration, stop: CancellationToken) {
    crate::redact::register_url(&url, true);
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn!("no heartbeat: {e}");
            return;
        }
    };
    let mut failing = false;
    loop {
        let answer = client.get(&url).send().await.map(|r| r.status());
        match answer {
            Ok(s) if s.is_success() => {
                if failing {
                    info!("heartbeat answered again");
                }
                failing = false;
            }
            other => {
                if !failing {
                    let why = match other {
                        Ok(s) => s.to_string(),
                        Err(e) => crate::util::chain(&e.without_url()),
                    };
                    warn!(
                        "heartbeat not answered ({why}); retrying every {}",
                        crate::util::duration::format(every)
                    );
                }
                failing = true;
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// Raises the open-files limit as far as allowed and shares it out (see `api::edge::Budget`):
/// what runs and the daemon keep, and what each network listener may hold.
fn descriptor_budget(g: &crate::model::GlobalConfig) -> crate::api::edge::Budget {
    let open_files = crate::api::edge::raise_open_files().unwrap_or_else(|e| {
        warn!("cannot read the open-files limit ({e}): assuming 256");
        256
    });
    let listeners = usize::from(g.api_listen.is_some()) + usize::from(g.ping_listen.is_some());
    let b = crate::api::edge::Budget::from_limit(open_files, g.max_concurrent_runs, listeners);
    let runs_need = b.reserved;
    if open_files < runs_need + 16 {
        warn!(
            "only {open_files} open files allowed (ulimit -n; launchd's default is 256): {runs_need} are kept for {} runs at once and the daemon, which leaves each network listener {} connection(s); raise the limit (launchd: SoftResourceLimits NumberOfFiles) or lower max_concurrent_runs",
            g.max_concurrent_runs, b.per_listener
        );
    } else {
        info!(
            open_files,
            reserved = b.reserved,
            per_listener = b.per_listener,
            "open files shared out: kept for runs and the daemon, the rest for network connections"
        );
    }
    b
}

/// Binds the status API; logs why not if it cannot (the daemon runs without it).
async fn start_api(
    listen: std::net::SocketAddr,
    state_dir: &Path,
    mut api: crate::api::Api,
    limits: crate::api::edge::Limits,
    stop: CancellationToken,
) -> Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    api.token = match crate::api::token(state_dir) {
        Ok(t) => t,
        Err(e) => {
            error!("status API off: {e}");
            return None;
        }
    };
    if api.public_reads {
        warn!(
            "api.public_reads: reads need no token; anything that reaches this machine's loopback (a container through host.docker.internal, an agent) can read the dashboard and /api"
        );
    }
    match crate::api::serve(Arc::new(api), listen, limits, stop).await {
        Ok((addr, task)) => {
            let _ = std::fs::write(state_dir.join("api.addr"), addr.to_string());
            if !addr.ip().is_loopback() {
                warn!(
                    "the status API listens on {addr}, beyond this machine: every request needs the token"
                );
            }
            Some((addr, task))
        }
        Err(e) => {
            warn!("status API off: cannot listen on {listen}: {e}");
            None
        }
    }
}

/// Binds the ping listener (`ping_listen`, `/ping` only) and writes its address to
/// `<state dir>/ping.addr` (what `clawcron ping-url` prints); logs why not if it cannot.
async fn start_pings(
    listen: std::net::SocketAddr,
    state_dir: &Path,
    desk: crate::api::PingDesk,
    limits: crate::api::edge::Limits,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    match crate::api::serve_pings(Arc::new(desk), listen, limits, stop).await {
        Ok((addr, task)) => {
            let _ = std::fs::write(state_dir.join("ping.addr"), addr.to_string());
            info!("external jobs' pings are taken on {addr} (/ping only)");
            Some(task)
        }
        Err(e) => {
            warn!("no ping listener: cannot listen on {listen}: {e}");
            None
        }
    }
}

fn print_table(scheduler: &Scheduler, tz: chrono_tz::Tz, api: Option<std::net::SocketAddr>) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let jobs = scheduler.upcoming();
    let _ = writeln!(out, "{:<24} {:<36} NEXT", "JOB", "SCHEDULE");
    for (spec, next) in &jobs {
        let tz = spec.trigger.tz().unwrap_or(tz);
        let next = match next {
            Some(t) => crate::util::to_utc(*t)
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<24} {:<36} {next}",
            spec.id,
            spec.describe_trigger()
        );
    }
    if let Some(addr) = api {
        let _ = writeln!(out, "API http://{addr}/");
    }
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let _ = writeln!(out, "READY {nanos}");
    let _ = out.flush();
    info!(jobs = jobs.len(), "scheduler ready");
}
