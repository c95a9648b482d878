//! A node's runs die with their daemon. A lost node (SIGKILL, a crash, a kernel OOM kill) must
//! leave no job running: its slots are taken over by other nodes, and a process it left
//! behind would run the job's side effects a second time.
//!
//! The warden is a small process (this binary, `clawcron __warden`) started once per daemon, in
//! its own process group, so a terminal's Ctrl-C or a service manager's signal to the daemon's
//! group does not reach it. The daemon holds the write end of a pipe to the warden's standard
//! input and tells it, one line each, the process group of every run it starts (`+PGID`) and of
//! every run that is over (`-PGID`). When the daemon dies, however it dies, the kernel closes
//! that pipe; the warden reads end-of-file and sends SIGKILL to every group still registered,
//! then exits. The pipe is close-on-exec, so no run holds it open.
//!
//! Why not a parent-death signal: it needs a `pre_exec` hook, which makes the standard library
//! fork instead of `posix_spawn` (a burst of a thousand runs was a third slower), it fires when
//! the *thread* that forked ends, it reaches only the main process (not its group), and it is
//! Linux's. The pipe's end-of-file is the same event on Linux and macOS (where it plays the part
//! of a kqueue watch of the daemon's pid, without the pid's reuse), so one code path serves
//! both.
//!
//! Limits: a run started in the microseconds between its spawn and its `+PGID` line, when the
//! daemon dies exactly then, is not registered; a process that left its run's group (`setsid`)
//! is out of the warden's reach (on Linux, while the daemon lives, it is still found and stopped
//! at the end of its run: see `procs`).

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::sync::Mutex;

/// The hidden argument that makes this binary a warden.
pub const ARG: &str = "__warden";

struct Link {
    child: std::process::Child,
    tell: std::process::ChildStdin,
}

struct Warden {
    link: Option<Link>,
    /// The groups registered now: replayed to a new warden if the old one is gone.
    groups: HashSet<i32>,
}

static WARDEN: Mutex<Option<Warden>> = Mutex::new(None);

/// Starts the warden (a cluster node): from now on, every run registered with `ward` dies with
/// this process. Returns the warden's pid.
pub fn start() -> std::io::Result<u32> {
    let link = spawn()?;
    let pid = link.child.id();
    let mut g = WARDEN.lock().unwrap_or_else(|p| p.into_inner());
    *g = Some(Warden {
        link: Some(link),
        groups: HashSet::new(),
    });
    Ok(pid)
}

fn spawn() -> std::io::Result<Link> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .arg(ARG)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    let tell = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("the warden has no standard input"))?;
    crate::action::procs::own(child.id());
    Ok(Link { child, tell })
}

/// Registers process group `pgid` (a run's): it is killed if the daemon dies before `unward`.
/// Returns false when no warden was started (one machine).
pub fn ward(pgid: i32) -> bool {
    tell(pgid, true)
}

/// The run of group `pgid` is over: the warden forgets it.
pub fn unward(pgid: i32) {
    tell(pgid, false);
}

/// Tells the warden; false if there is none.
fn tell(pgid: i32, add: bool) -> bool {
    let mut g = WARDEN.lock().unwrap_or_else(|p| p.into_inner());
    let Some(w) = g.as_mut() else {
        return false;
    };
    if add {
        w.groups.insert(pgid);
    } else {
        w.groups.remove(&pgid);
    }
    let line = format!("{}{pgid}\n", if add { '+' } else { '-' });
    if let Some(link) = w.link.as_mut()
        && link.tell.write_all(line.as_bytes()).is_ok()
    {
        return true;
    }
    // The warden is gone (killed by hand?): a new one learns every live group.
    if let Some(mut old) = w.link.take() {
        let _ = old.child.try_wait();
        crate::action::procs::disown(old.child.id());
    }
    match spawn() {
        Ok(mut link) => {
            let all: String = w.groups.iter().map(|g| format!("+{g}\n")).collect();
            if link.tell.write_all(all.as_bytes()).is_ok() {
                tracing::warn!(
                    pid = link.child.id(),
                    "the warden (which stops this node's runs if the daemon dies) was gone; started a new one"
                );
                w.link = Some(link);
            }
        }
        Err(e) => tracing::warn!(
            "the warden is gone and cannot be restarted ({e}): if this daemon dies now, its runs go on"
        ),
    }
    true
}

/// The warden's life: reads `+PGID`/`-PGID` lines until end-of-file (the daemon is gone), then
/// kills every group still registered.
pub fn serve() -> std::process::ExitCode {
    // Only end-of-file ends a warden: signals meant for the daemon (a terminal's, a `pkill`'s)
    // do not. SIGKILL still does.
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: setting a signal's disposition to "ignore" touches no memory of ours.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let mut groups = HashSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let (add, n) = match line.split_at_checked(1) {
            Some(("+", n)) => (true, n),
            Some(("-", n)) => (false, n),
            _ => continue,
        };
        let Ok(pgid) = n.parse::<i32>() else { continue };
        if pgid <= 1 {
            continue;
        }
        if add {
            groups.insert(pgid);
        } else {
            groups.remove(&pgid);
        }
    }
    for pgid in groups {
        // SAFETY: kill(2) of a process group the daemon registered as a run's; a group that is
        // gone gives ESRCH, which is fine.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    std::process::ExitCode::SUCCESS
}
