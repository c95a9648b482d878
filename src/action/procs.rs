//! What a run leaves behind: processes still alive when its main process has exited (`sleep
//! 20 &`), or that escaped its process group (`setsid`), are found and stopped, as systemd's
//! control-group kill does, unless the job keeps them (`leftovers: keep`).
//!
//! On Linux the daemon is a child subreaper (`PR_SET_CHILD_SUBREAPER`): an orphan of any run is
//! re-parented to the daemon, not to init. It is told apart from tokio's own children (the runs'
//! main processes, registered here as they are spawned) and attributed to its run by the
//! `CLAWCRON_RUN_ID` it inherited. Adopted orphans are reaped by pid, never with `wait(-1)`,
//! so tokio keeps the exit status of each of its children. Elsewhere (macOS) only the run's
//! process group can be found: a process that leaves it with `setsid` is out of reach.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Held (shared) while a child is spawned and registered, (exclusive) while orphans are reaped:
/// a child that exits before it is registered is never reaped here.
static SPAWNING: RwLock<()> = RwLock::new(());
/// Pids tokio owns (the runs' main processes), from spawn until tokio has reaped them.
static OURS: Mutex<Option<HashSet<u32>>> = Mutex::new(None);
/// Adopted orphans seen and not yet reaped.
static ADOPTED: Mutex<Option<HashSet<u32>>> = Mutex::new(None);
static SUBREAPER: AtomicBool = AtomicBool::new(false);
/// Counts `pid` (a child this module did not spawn: the warden) as tokio's own, so it is never
/// taken for an adopted orphan.
pub fn own(pid: u32) {
    if let Ok(mut g) = OURS.lock() {
        g.get_or_insert_with(HashSet::new).insert(pid);
    }
}

/// Undoes `own`.
pub fn disown(pid: u32) {
    if let Ok(mut g) = OURS.lock()
        && let Some(set) = g.as_mut()
    {
        set.remove(&pid);
    }
}

/// Makes this process a child subreaper (Linux); returns whether it is one.
pub fn become_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only sets a flag of this process.
        let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
        SUBREAPER.store(ok, Ordering::SeqCst);
        ok
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// A registered main process: unregistered when dropped (after tokio reaped it and its group
/// was swept), and forgotten by the warden if one watches the runs.
pub struct Registered {
    pid: u32,
    warded: bool,
}

impl Drop for Registered {
    fn drop(&mut self) {
        disown(self.pid);
        if self.warded {
            super::warden::unward(self.pid as i32);
        }
    }
}

/// Spawns `cmd` (the leader of its own process group) and registers its pid as tokio's, and
/// its group with the warden if one runs (a cluster node: see `warden`).
pub fn spawn(
    cmd: &mut tokio::process::Command,
) -> std::io::Result<(tokio::process::Child, Option<Registered>)> {
    let _guard = SPAWNING.read().unwrap_or_else(|p| p.into_inner());
    let child = cmd.spawn()?;
    let reg = child.id().map(|pid| {
        own(pid);
        let warded = super::warden::ward(pid as i32);
        Registered { pid, warded }
    });
    Ok((child, reg))
}

/// What a run left behind, and what became of it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Leftovers {
    pub found: usize,
    pub remaining: usize,
}

impl Leftovers {
    /// The ledger's words ("left 1 process behind; stopped"), if anything was left.
    pub fn describe(&self, kept: bool) -> Option<String> {
        if self.found == 0 {
            return None;
        }
        let n = match self.found {
            1 => "1 process".to_string(),
            n => format!("{n} processes"),
        };
        Some(match (kept, self.remaining) {
            (true, _) => format!("left {n} behind; kept (leftovers: keep)"),
            (false, 0) => format!("left {n} behind; stopped"),
            (false, r) => format!("left {n} behind; {r} could not be stopped"),
        })
    }
}

/// The processes of run `run_id` still alive once its main process (leader of group `pgid`)
/// has exited: its group's members, and (Linux) the orphans it left that were adopted by the
/// daemon. Unless `keep`, they get SIGTERM, then SIGKILL after `grace`.
pub async fn sweep(pgid: i32, run_id: i64, keep: bool, grace: Duration) -> Leftovers {
    let first = members(pgid, run_id);
    let found = first.len();
    if SUBREAPER.load(Ordering::SeqCst) {
        strays_now_and_then();
    }
    if found == 0 || keep {
        if found > 0 {
            // Kept: the reaper waits for them.
            ORPHANS.notify_one();
        }
        return Leftovers {
            found,
            remaining: 0,
        };
    }
    // Rounds: killing a member can orphan a process it started in its own session. SIGTERM
    // every 200 ms until the grace ends, then SIGKILL until none is left or 5 s more passed:
    // the rounds are bounded by time, never by a count, so SIGKILL comes whatever the grace.
    let deadline = tokio::time::Instant::now() + grace;
    let give_up = deadline + Duration::from_secs(5);
    let mut left = first;
    while !left.is_empty() {
        let now = tokio::time::Instant::now();
        if now >= give_up {
            break;
        }
        let killing = now >= deadline;
        signal(
            pgid,
            &left,
            if killing {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            },
        );
        let round = now + Duration::from_millis(if killing { 50 } else { 200 });
        let until = if killing { round } else { round.min(deadline) };
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
            reap_adopted();
            if members(pgid, run_id).is_empty() {
                break;
            }
        }
        left = members(pgid, run_id);
    }
    reap_adopted();
    Leftovers {
        found,
        remaining: left.len(),
    }
}

fn signal(pgid: i32, pids: &[u32], sig: i32) {
    // SAFETY: kill(2) on our run's group and on processes found to be our run's; a process
    // that has gone meanwhile gives ESRCH, which is fine.
    unsafe {
        libc::kill(-pgid, sig);
        for &pid in pids.iter().filter(|&&p| p != 0) {
            // A setsid'd leftover leads a group of its own: end that group too.
            libc::kill(-(pid as i32), sig);
            libc::kill(pid as i32, sig);
        }
    }
}

/// Whether group `pgid` has a live member; on the way, reaps the members that exited and were
/// adopted by the daemon (a zombie keeps a group "alive" for kill(2)).
/// Whether process `pid` exists (it may be a zombie, or another user's: `EPERM` counts as alive).
pub fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether process `pid` exists and is not a zombie (a killed process its parent has not
/// waited for yet holds nothing: not a claim, not a lock).
pub fn running(pid: u32) -> bool {
    alive(pid) && !is_zombie(pid)
}

pub fn group_alive(pgid: i32) -> bool {
    // Any run id: only the group matters here.
    !members(pgid, -1).is_empty()
}

/// The live processes that belong to the run: members of its group and adopted orphans that
/// carry its run id. Adopted orphans of the run that have exited (zombies in its group, which
/// keep the group alive) are reaped on the way.
fn members(pgid: i32, run_id: i64) -> Vec<u32> {
    // SAFETY: signal 0 only checks that the group has a member (a zombie counts).
    let group_alive = unsafe { libc::kill(-pgid, 0) } == 0;
    let mut out = if group_alive {
        group_members(pgid)
    } else {
        Vec::new()
    };
    if SUBREAPER.load(Ordering::SeqCst) {
        let marker = format!("CLAWCRON_RUN_ID={run_id}");
        let mut reap = false;
        for pid in adopted() {
            let Some((state, group)) = stat_fields(pid) else {
                continue;
            };
            let zombie = state == 'Z' || state == 'X';
            if group != pgid && (zombie || run_id < 0 || !carries(pid, &marker)) {
                continue;
            }
            if let Ok(mut g) = ADOPTED.lock() {
                g.get_or_insert_with(HashSet::new).insert(pid);
            }
            reap |= zombie;
            if !zombie && !out.contains(&pid) {
                out.push(pid);
            }
        }
        if reap {
            reap_adopted();
        }
    }
    if group_alive && out.is_empty() && !cfg!(target_os = "linux") {
        // A member the platform cannot list (no /proc): counted, and signalled through the
        // group; 0 is never signalled on its own.
        out.push(0);
    }
    out
}

#[cfg(target_os = "linux")]
fn stat_fields(pid: u32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((state, pgrp))
}

#[cfg(not(target_os = "linux"))]
fn stat_fields(_pid: u32) -> Option<(char, i32)> {
    None
}

fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|(state, _)| state == 'Z' || state == 'X')
}

#[cfg(target_os = "linux")]
fn group_members(pgid: i32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|(state, g)| g == pgid && state != 'Z' && state != 'X')
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn group_members(_pgid: i32) -> Vec<u32> {
    Vec::new()
}

#[cfg(target_os = "linux")]
fn carries(pid: u32, marker: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == marker.as_bytes()))
}

#[cfg(not(target_os = "linux"))]
fn carries(_pid: u32, _marker: &str) -> bool {
    false
}

/// The daemon's children that tokio does not own: orphans it adopted as subreaper. No lock
/// is taken: a child spawned meanwhile and not yet registered is a run's main process with its
/// own run id, which callers never act on (they look for one run's marker).
///
/// Linux hands an orphan to the subreaper's first live thread, the main thread, while runs are
/// spawned from the runtime's worker threads: so the main thread's list holds the adopted
/// orphans and (almost) nothing else, and reading it costs nothing in a burst of 1,000 running
/// children. `reap_strays` still reads every thread's list.
fn adopted() -> Vec<u32> {
    filter_ours(children_of_main_thread())
}

/// Every child of every thread that tokio does not own.
fn adopted_anywhere() -> Vec<u32> {
    filter_ours(children_of_self())
}

fn filter_ours(found: Vec<u32>) -> Vec<u32> {
    if found.is_empty() {
        return found;
    }
    let Ok(ours) = OURS.lock() else {
        return Vec::new();
    };
    found
        .into_iter()
        .filter(|p| !ours.as_ref().is_some_and(|o| o.contains(p)))
        .collect()
}

#[cfg(target_os = "linux")]
fn children_of_self() -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

#[cfg(not(target_os = "linux"))]
fn children_of_self() -> Vec<u32> {
    Vec::new()
}

#[cfg(target_os = "linux")]
fn children_of_main_thread() -> Vec<u32> {
    let pid = std::process::id();
    std::fs::read_to_string(format!("/proc/self/task/{pid}/children"))
        .map(|t| {
            t.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(not(target_os = "linux"))]
fn children_of_main_thread() -> Vec<u32> {
    Vec::new()
}

/// Reaps the adopted orphans seen so far that have exited (by pid: tokio's children are never
/// touched). Cheap: no /proc read. Returns how many were reaped.
pub fn reap_adopted() -> usize {
    let pids: Vec<u32> = match ADOPTED.lock() {
        Ok(g) => g
            .as_ref()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default(),
        Err(_) => return 0,
    };
    let mut reaped = Vec::new();
    for pid in pids {
        let mut status = 0;
        // SAFETY: waitpid on one pid that was adopted (never tokio's); WNOHANG never blocks.
        match unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) } {
            0 => {}
            _ => reaped.push(pid), // reaped now, or no longer our child
        }
    }
    if !reaped.is_empty()
        && let Ok(mut g) = ADOPTED.lock()
        && let Some(set) = g.as_mut()
    {
        for pid in &reaped {
            set.remove(pid);
        }
    }
    reaped.len()
}

/// Reaps any exited child tokio does not own, found by listing the daemon's children: orphans
/// no run claimed (one that cleared its environment). Holds the spawn lock exclusively, so a
/// child that exited before it was registered is never taken from tokio.
fn reap_strays() {
    let _guard = SPAWNING.write().unwrap_or_else(|p| p.into_inner());
    for pid in adopted_anywhere() {
        if is_zombie(pid) {
            let mut status = 0;
            // SAFETY: as in `reap_adopted`; the pid is our child and not tokio's.
            unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
        }
    }
}

/// How often, at most, the daemon's children are listed for strays.
const STRAY_SWEEP: Duration = Duration::from_secs(10);

/// Told when an adopted orphan is alive that the reaper must wait for (a kept leftover).
static ORPHANS: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Reaps the adopted orphans that live on (kept leftovers) as they exit, until `stop` (Linux,
/// as subreaper). It listens to SIGCHLD only while there are such orphans, so a burst of runs
/// wakes nothing here; strays are listed at most every 10 s, at the end of a run.
pub async fn reaper(stop: tokio_util::sync::CancellationToken) {
    if !SUBREAPER.load(Ordering::SeqCst) {
        return;
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = ORPHANS.notified() => {}
        }
        let Ok(mut sigchld) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())
        else {
            return;
        };
        // Those that exited before the stream existed.
        reap_adopted();
        while ADOPTED
            .lock()
            .is_ok_and(|g| g.as_ref().is_some_and(|s| !s.is_empty()))
        {
            tokio::select! {
                () = stop.cancelled() => return,
                s = sigchld.recv() => if s.is_none() { return },
            }
            reap_adopted();
        }
    }
}

/// When strays were last listed (ms since the Unix epoch).
static LAST_STRAYS_MS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Lists strays if the last listing is older than `STRAY_SWEEP`.
fn strays_now_and_then() {
    let now = chrono::Utc::now().timestamp_millis();
    let last = LAST_STRAYS_MS.load(Ordering::Relaxed);
    if now - last >= STRAY_SWEEP.as_millis() as i64
        && LAST_STRAYS_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        reap_strays();
    }
}
