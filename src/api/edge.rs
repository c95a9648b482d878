//! The accept loop both listeners share (the status API and `ping_listen`), on hyper itself:
//! `axum::serve` sets no timer, so a header-read timeout never fires there, and it takes every
//! connection it is offered. Here each connection is bounded:
//! - its request head must arrive within `header_read` (an idle keep-alive connection too);
//! - each request, body and handler, must be answered within `request`;
//! - a connection lives at most `lifetime`, then is closed gracefully;
//! - at most `max_conns` connections at once, and `max_per_peer` from one address: past
//!   either, a new connection is closed at once, before it costs more than its accept.
//!
//! The caps come from the process's open-file limit (`Budget::from_limit`): descriptors are
//! kept in reserve for runs (their pipes) and the daemon's own files, so no network peer can
//! starve them.

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// What one listener lets a connection take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub request: Duration,
    pub lifetime: Duration,
    pub max_conns: usize,
    pub max_per_peer: usize,
}

impl Limits {
    /// The defaults for a listener allowed `max_conns` connections.
    pub fn with_conns(max_conns: usize) -> Self {
        let max_conns = max_conns.max(2);
        Limits {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            lifetime: Duration::from_secs(120),
            max_conns,
            max_per_peer: (max_conns / 4).clamp(2, 32),
        }
    }
}

/// How the process's descriptors are shared out: what the network may hold, the rest kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft limit of open files the daemon runs with.
    pub open_files: u64,
    /// Kept for runs and the daemon's own files (ledger, log, watcher, sockets).
    pub reserved: u64,
    /// Connections each network listener may hold at once.
    pub per_listener: usize,
}

impl Budget {
    /// Descriptors for the daemon's own files, whatever it runs.
    const BASE: u64 = 64;
    /// Descriptors for one run: its output pipes, spawn-time copies, a child's pidfd, an
    /// HTTP or Docker connection.
    const PER_RUN: u64 = 8;
    /// No listener holds more than this, however high the limit.
    const MAX_PER_LISTENER: usize = 1024;

    /// `open_files` shared between `listeners` network listeners, with room kept for
    /// `max_runs` runs at once.
    pub fn from_limit(open_files: u64, max_runs: usize, listeners: usize) -> Budget {
        let reserved = Self::BASE + Self::PER_RUN * max_runs as u64;
        let spare = open_files.saturating_sub(reserved) as usize;
        Budget {
            open_files,
            reserved,
            per_listener: (spare / listeners.max(1)).clamp(2, Self::MAX_PER_LISTENER),
        }
    }
}

/// One connection held: whose, whether a request of it is being answered, and how to end it.
#[derive(Debug)]
struct Entry {
    peer: IpAddr,
    busy: Arc<AtomicBool>,
    evict: CancellationToken,
}

/// The connections a listener holds now, oldest first, and how many each peer address holds.
#[derive(Debug, Default)]
struct Held {
    conns: BTreeMap<u64, Entry>,
    by_peer: HashMap<IpAddr, usize>,
    next: u64,
    refused: u64,
    evicted: u64,
}

/// One admitted connection; its place is given back when it is dropped.
struct Place {
    held: Arc<Mutex<Held>>,
    id: u64,
    busy: Arc<AtomicBool>,
    evict: CancellationToken,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut h = lock(&self.held);
        if let Some(e) = h.conns.remove(&self.id)
            && let Some(n) = h.by_peer.get_mut(&e.peer)
        {
            *n -= 1;
            if *n == 0 {
                h.by_peer.remove(&e.peer);
            }
        }
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    // Counters only: a panic elsewhere leaves them usable.
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// At most this many connections closed to make room may still hold their descriptor.
const EVICTING: usize = 8;

/// Why a connection was not taken as it came.
#[derive(Debug, PartialEq, Eq)]
enum Turned {
    /// Its address holds its share already: the n-th refusal.
    Refused(u64),
}

/// A place for a connection from `peer`. A peer at its share is refused. A full listener makes
/// room by ending its oldest connection that is not being answered (a client still sending
/// its request head, or idle between requests): slow clients from many addresses cannot keep
/// a quick one out. Refused only when every connection is being answered.
fn admit(held: &Arc<Mutex<Held>>, limits: &Limits, peer: IpAddr) -> Result<(Place, bool), Turned> {
    let mut h = lock(held);
    let from_peer = h.by_peer.get(&peer).copied().unwrap_or(0);
    let live = h.conns.values().filter(|e| !e.evict.is_cancelled()).count();
    let mut evicted = false;
    if from_peer >= limits.max_per_peer {
        h.refused += 1;
        return Err(Turned::Refused(h.refused));
    }
    // Connections closed to make room hold their descriptor until their task runs: at most
    // `EVICTING` of those at once, so a burst of connections cannot pile them up.
    if live >= limits.max_conns && h.conns.len() >= limits.max_conns + EVICTING {
        h.refused += 1;
        return Err(Turned::Refused(h.refused));
    }
    if live >= limits.max_conns {
        let victim = h
            .conns
            .values()
            .find(|e| !e.busy.load(Ordering::SeqCst) && !e.evict.is_cancelled());
        match victim {
            Some(e) => {
                e.evict.cancel();
                h.evicted += 1;
                evicted = true;
            }
            None => {
                h.refused += 1;
                return Err(Turned::Refused(h.refused));
            }
        }
    }
    let id = h.next;
    h.next += 1;
    let (busy, evict) = (Arc::new(AtomicBool::new(false)), CancellationToken::new());
    h.conns.insert(
        id,
        Entry {
            peer,
            busy: busy.clone(),
            evict: evict.clone(),
        },
    );
    *h.by_peer.entry(peer).or_default() += 1;
    Ok((
        Place {
            held: held.clone(),
            id,
            busy,
            evict,
        },
        evicted,
    ))
}

/// Serves `app` on `listener` until `stop`, each connection within `limits` (see the module).
/// `what` names the listener in the log.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    what: &'static str,
    stop: CancellationToken,
) {
    let held = Arc::new(Mutex::new(Held::default()));
    let conns = tokio_util::task::TaskTracker::new();
    let mut accept_failed = false;
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors (EMFILE) most likely: wait, and say so once.
                    if !accept_failed {
                        warn!("{what}: cannot accept a connection ({e}); trying again every 100 ms");
                    }
                    accept_failed = true;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        accept_failed = false;
        let place = match admit(&held, &limits, peer.ip()) {
            Ok((p, evicted)) => {
                if evicted {
                    // Let the closed connection's task run and give its descriptor back.
                    tokio::task::yield_now().await;
                    let n = lock(&held).evicted;
                    // Logged at the first and then every 1000th.
                    if n == 1 || n.is_multiple_of(1000) {
                        warn!(
                            "{what}: {} connections at most: the oldest one not being answered was closed to take one from {peer} ({n} closed so far)",
                            limits.max_conns
                        );
                    }
                }
                p
            }
            Err(Turned::Refused(n)) => {
                // Closed at once. Logged at the first and then every 1000th.
                if n == 1 || n.is_multiple_of(1000) {
                    warn!(
                        "{what}: connection from {peer} refused: {} from one address at most, or all {} being answered ({n} refused so far)",
                        limits.max_per_peer, limits.max_conns
                    );
                }
                drop(stream);
                continue;
            }
        };
        conns.spawn(connection(
            stream,
            peer,
            app.clone(),
            limits,
            place,
            stop.clone(),
        ));
    }
    conns.close();
    // Connections were told to finish (graceful): those that do not within 2 s are dropped.
    let _ = tokio::time::timeout(Duration::from_secs(2), conns.wait()).await;
}

/// One connection, within its limits; `place` is held until it ends.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    place: Place,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (busy, evict) = (place.busy.clone(), place.evict.clone());
    // Held until the connection ends, however it ends.
    let _place = place;
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut app = app.clone();
        let busy = busy.clone();
        async move {
            busy.store(true, Ordering::SeqCst);
            let req = req.map(axum::body::Body::new);
            let answer = tower_service::Service::call(&mut app, req);
            let res = match tokio::time::timeout(limits.request, answer).await {
                Ok(Ok(res)) => res,
                Ok(Err(never)) => match never {},
                Err(_) => (
                    StatusCode::REQUEST_TIMEOUT,
                    "the request was not answered in time\n",
                )
                    .into_response(),
            };
            busy.store(false, Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_buf_size(64 * 1024)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        r = conn.as_mut() => Some(r),
        // Closed to make room (see `admit`): nothing of it is being answered.
        () = evict.cancelled() => return,
        () = stop.cancelled() => None,
        () = tokio::time::sleep(limits.lifetime) => None,
    };
    if ended.is_none() {
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(1), conn.as_mut()).await;
    }
    if let Some(Err(e)) = ended {
        debug!("connection from {peer}: {e}");
    }
}

/// Raises the soft limit of open files to the hard limit (on macOS, to `OPEN_MAX`, which the
/// kernel enforces below an unlimited hard limit); returns the soft limit now in force.
pub fn raise_open_files() -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // macOS refuses a soft limit above OPEN_MAX (10240) even when the hard limit is unlimited.
    let ceiling = if cfg!(target_os = "macos") {
        lim.rlim_max.min(10240)
    } else {
        lim.rlim_max
    };
    if lim.rlim_cur < ceiling {
        let raised = libc::rlimit {
            rlim_cur: ceiling,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own; raising the soft limit up to the hard
        // limit needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(ceiling);
        }
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_gets_what_runs_and_the_daemon_leave() {
        // launchd's default of 256 with 16 runs: 192 kept, 32 a listener.
        let b = Budget::from_limit(256, 16, 2);
        assert_eq!((b.reserved, b.per_listener), (192, 32));
        assert_eq!(Limits::with_conns(b.per_listener).max_per_peer, 8);
        // A roomy limit is still capped.
        assert_eq!(Budget::from_limit(1 << 20, 16, 2).per_listener, 1024);
        // A tiny one keeps the listeners alive, barely.
        assert_eq!(Budget::from_limit(100, 16, 2).per_listener, 2);
    }

    #[test]
    fn a_peer_gets_its_share_and_a_full_listener_closes_its_oldest_idle_connection() {
        let held = Arc::new(Mutex::new(Held::default()));
        let limits = Limits {
            max_conns: 3,
            max_per_peer: 2,
            ..Limits::with_conns(3)
        };
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.1".parse().unwrap();
        let (p1, _) = admit(&held, &limits, a).unwrap();
        let (p2, _) = admit(&held, &limits, a).unwrap();
        assert_eq!(
            admit(&held, &limits, a).err(),
            Some(Turned::Refused(1)),
            "a third from one peer"
        );
        let (p3, _) = admit(&held, &limits, b).unwrap();
        // Full: the oldest connection not being answered makes room.
        p1.busy.store(true, Ordering::SeqCst);
        let c: IpAddr = "127.0.0.3".parse().unwrap();
        let (p4, evicted) = admit(&held, &limits, c).unwrap();
        assert!(evicted && !p1.evict.is_cancelled() && p2.evict.is_cancelled());
        drop(p2);
        // Every connection being answered: refused.
        p3.busy.store(true, Ordering::SeqCst);
        p4.busy.store(true, Ordering::SeqCst);
        assert_eq!(
            admit(&held, &limits, "127.0.0.4".parse().unwrap()).err(),
            Some(Turned::Refused(2))
        );
        drop(p1);
        assert!(
            admit(&held, &limits, b).is_ok(),
            "a place given back is taken again"
        );
    }
}
