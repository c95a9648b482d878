//! Time, injectable. The scheduler asks a `Clock` for the wall time and to sleep until a wall
//! instant; it also reads two monotonic clocks to tell a machine that slept (monotonic stood
//! still, boot time went on) from a clock that was set.
//!
//! `SystemClock` on Linux arms a timerfd on CLOCK_REALTIME at the absolute instant with
//! TFD_TIMER_CANCEL_ON_SET: it fires at the wall instant even after a suspend, wakes at once on a
//! clock change, and costs no wake-up while idle. Elsewhere it sleeps on tokio's (monotonic)
//! timer, capped at `MAX_SLEEP`, and re-checks the wall clock. `TestClock` runs on tokio's paused
//! time, with wall-clock jumps and simulated sleeps.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// The longest single sleep where the OS cannot wake us on a wall-clock instant.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);

pub type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time.
    fn now(&self) -> DateTime<Utc>;
    /// A monotonic reading that stands still while the machine sleeps.
    fn mono(&self) -> Duration;
    /// A monotonic reading that includes time asleep, where the OS has one.
    fn boot(&self) -> Option<Duration>;
    /// Returns once the wall clock reaches `deadline` (whole seconds since the epoch), or earlier
    /// (capped sleep, clock change); `None` sleeps until something changes. Callers re-check.
    fn sleep_until(&self, deadline: Option<i64>) -> SleepFuture<'_>;
    /// As `sleep_until`, to the microsecond (a cluster node's slot moved by its offset to the
    /// ledger's clock, its heartbeat). By default: to the whole second before it, then the rest
    /// (when short) on tokio's timer, rounded up to its millisecond.
    fn sleep_until_us(&self, deadline_us: Option<i64>) -> SleepFuture<'_> {
        Box::pin(async move {
            let Some(at_us) = deadline_us else {
                return self.sleep_until(None).await;
            };
            self.sleep_until(Some(at_us.div_euclid(1_000_000))).await;
            let left = at_us - self.now().timestamp_micros();
            if (1..=1_000_000).contains(&left) {
                tokio::time::sleep(Duration::from_micros(left as u64)).await;
            }
        })
    }
    /// How late after a wake-up (from a machine sleep or clock change) a due slot may be noticed.
    /// Slots within this of "now" were not necessarily missed: a timerfd fires at once on wake
    /// (1 s), a capped sleep only when its cap runs out (`MAX_SLEEP`).
    fn wake_slack(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// A jump of the wall clock relative to the monotonic clock, seen between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discontinuity {
    /// The machine was asleep for about this long.
    Asleep(Duration),
    /// The wall clock was set forward (positive) or back (negative), by this many milliseconds.
    ClockSet(i64),
}

impl Discontinuity {
    /// Why a slot it passed over was missed, as the ledger says it.
    pub fn reason(&self) -> &'static str {
        match self {
            Discontinuity::Asleep(_) => "missed: machine asleep",
            Discontinuity::ClockSet(_) => "missed: clock jumped forward",
        }
    }

    /// Why a slot it made late (but not missed) ran late.
    pub fn cause(&self) -> &'static str {
        match self {
            Discontinuity::Asleep(_) => "machine asleep",
            Discontinuity::ClockSet(_) => "clock jumped forward",
        }
    }
}

/// Compares successive clock readings to notice sleeps and clock changes.
#[derive(Debug, Clone, Copy)]
pub struct ClockWatch {
    wall_ms: i64,
    mono: Duration,
    boot: Option<Duration>,
}

/// Differences under this are scheduling noise, not a jump.
const JUMP_THRESHOLD_MS: i64 = 1000;

impl ClockWatch {
    pub fn new(clock: &dyn Clock) -> Self {
        ClockWatch {
            wall_ms: clock.now().timestamp_millis(),
            mono: clock.mono(),
            boot: clock.boot(),
        }
    }

    /// What happened since the previous call (or `new`).
    pub fn check(&mut self, clock: &dyn Clock) -> Option<Discontinuity> {
        let now = ClockWatch::new(clock);
        let wall_d = now.wall_ms - self.wall_ms;
        let mono_d = now.mono.saturating_sub(self.mono).as_millis() as i64;
        let boot_d = match (now.boot, self.boot) {
            (Some(a), Some(b)) => Some(a.saturating_sub(b).as_millis() as i64),
            _ => None,
        };
        *self = now;
        let drift = wall_d - mono_d;
        if drift.abs() <= JUMP_THRESHOLD_MS {
            return None;
        }
        match boot_d {
            Some(b) if b - mono_d > JUMP_THRESHOLD_MS => Some(Discontinuity::Asleep(
                Duration::from_millis((b - mono_d) as u64),
            )),
            Some(_) => Some(Discontinuity::ClockSet(drift)),
            // Without a boot clock a forward gap is most likely a sleep (laptops, Macs).
            None if drift > 0 => Some(Discontinuity::Asleep(Duration::from_millis(drift as u64))),
            None => Some(Discontinuity::ClockSet(drift)),
        }
    }
}

/// The real clock.
pub struct SystemClock {
    origin: std::time::Instant,
    #[cfg(target_os = "linux")]
    timer: std::sync::OnceLock<Option<timerfd::WallTimer>>,
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock {
            origin: std::time::Instant::now(),
            #[cfg(target_os = "linux")]
            timer: std::sync::OnceLock::new(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn mono(&self) -> Duration {
        #[cfg(target_os = "linux")]
        {
            timerfd::clock(libc::CLOCK_MONOTONIC)
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.origin.elapsed()
        }
    }

    fn boot(&self) -> Option<Duration> {
        #[cfg(target_os = "linux")]
        {
            Some(timerfd::clock(libc::CLOCK_BOOTTIME))
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    fn wake_slack(&self) -> Duration {
        #[cfg(target_os = "linux")]
        if matches!(self.timer.get(), Some(Some(_))) {
            return Duration::from_secs(1);
        }
        MAX_SLEEP
    }

    fn sleep_until(&self, deadline: Option<i64>) -> SleepFuture<'_> {
        self.sleep_until_us(deadline.map(|d| d.saturating_mul(1_000_000)))
    }

    fn sleep_until_us(&self, deadline_us: Option<i64>) -> SleepFuture<'_> {
        Box::pin(async move {
            #[cfg(target_os = "linux")]
            {
                // Created on first use, inside the runtime (it registers with the reactor).
                if let Some(timer) = self.timer.get_or_init(|| timerfd::WallTimer::new().ok())
                    && timer.sleep_until_us(deadline_us).await.is_ok()
                {
                    return;
                }
            }
            let _ = &self.origin;
            capped_sleep(
                Utc::now(),
                deadline_us.map(|us| (us + 999).div_euclid(1000)),
            )
            .await;
        })
    }
}

/// Another clock moved by an offset: a cluster node's clock set to the ledger's (the offset
/// is measured at each heartbeat, to the microsecond), or, in tests, a machine whose clock runs
/// ahead.
pub struct OffsetClock {
    inner: Arc<dyn Clock>,
    offset_us: AtomicI64,
}

impl OffsetClock {
    pub fn new(inner: Arc<dyn Clock>, offset_ms: i64) -> Self {
        OffsetClock {
            inner,
            offset_us: AtomicI64::new(offset_ms.saturating_mul(1000)),
        }
    }

    pub fn set_offset_us(&self, us: i64) {
        self.offset_us.store(us, Ordering::SeqCst);
    }

    pub fn offset_us(&self) -> i64 {
        self.offset_us.load(Ordering::SeqCst)
    }

    /// The offset, rounded to the millisecond (for people).
    pub fn offset_ms(&self) -> i64 {
        (self.offset_us() as f64 / 1000.0).round() as i64
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now() + chrono::Duration::microseconds(self.offset_us())
    }

    fn mono(&self) -> Duration {
        self.inner.mono()
    }

    fn boot(&self) -> Option<Duration> {
        self.inner.boot()
    }

    fn wake_slack(&self) -> Duration {
        self.inner.wake_slack()
    }

    fn sleep_until(&self, deadline: Option<i64>) -> SleepFuture<'_> {
        self.sleep_until_us(deadline.map(|d| d.saturating_mul(1_000_000)))
    }

    /// The same instant on the inner clock, to the microsecond.
    fn sleep_until_us(&self, deadline_us: Option<i64>) -> SleepFuture<'_> {
        let offset = self.offset_us();
        self.inner
            .sleep_until_us(deadline_us.map(|us| us.saturating_sub(offset)))
    }
}

async fn capped_sleep(now: DateTime<Utc>, deadline_ms: Option<i64>) {
    let wait = match deadline_ms {
        Some(d) => {
            let ms = d - now.timestamp_millis();
            if ms <= 0 {
                return;
            }
            Duration::from_millis(ms as u64).min(MAX_SLEEP)
        }
        None => MAX_SLEEP,
    };
    tokio::time::sleep(wait).await;
}

#[cfg(target_os = "linux")]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;
    use tokio::io::unix::AsyncFd;

    pub fn clock(id: libc::clockid_t) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec we own.
        unsafe { libc::clock_gettime(id, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    pub struct WallTimer {
        fd: AsyncFd<OwnedFd>,
    }

    /// Armed when there is no deadline, so that a clock change still wakes us (year 9999).
    const FAR_FUTURE: i64 = 253_402_300_799;

    impl WallTimer {
        pub fn new() -> io::Result<Self> {
            // SAFETY: plain syscall; the returned descriptor is owned by the OwnedFd below.
            let raw = unsafe {
                libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: `fd` is an open timerfd that the AsyncFd owns for its whole life.
            let fd =
                unsafe { AsyncFd::register(fd) }.map_err(|e| io::Error::other(e.to_string()))?;
            Ok(WallTimer { fd })
        }

        /// Until the wall clock reaches `deadline_us` (Unix µs), or it is set.
        pub async fn sleep_until_us(&self, deadline_us: Option<i64>) -> io::Result<()> {
            let us = deadline_us.unwrap_or(FAR_FUTURE * 1_000_000).max(1_000_000);
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: us.div_euclid(1_000_000) as libc::time_t,
                    tv_nsec: (us.rem_euclid(1_000_000) * 1000) as libc::c_long,
                },
            };
            let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
            // SAFETY: arms our own timerfd with a valid itimerspec.
            let rc = unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), flags, &spec, std::ptr::null_mut())
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            loop {
                let mut guard = self.fd.readable().await?;
                let mut expirations: u64 = 0;
                // SAFETY: reads 8 bytes into a u64 we own.
                let n = unsafe {
                    libc::read(
                        self.fd.as_raw_fd(),
                        (&mut expirations as *mut u64).cast(),
                        8,
                    )
                };
                if n == 8 {
                    return Ok(());
                }
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    // The wall clock was set: wake so the caller re-checks.
                    Some(libc::ECANCELED) => return Ok(()),
                    Some(libc::EAGAIN) => guard.clear_ready(),
                    _ => return Err(err),
                }
            }
        }
    }
}

/// A clock for tests on tokio's paused time: wall = start + elapsed tokio time + jumps.
pub struct TestClock {
    start_wall_ms: i64,
    start: tokio::time::Instant,
    offset_ms: AtomicI64,
    asleep_ms: AtomicI64,
    changed: tokio::sync::Notify,
}

impl TestClock {
    /// Must be created inside a tokio runtime (ideally with paused time).
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(TestClock {
            start_wall_ms: start.timestamp_millis(),
            start: tokio::time::Instant::now(),
            offset_ms: AtomicI64::new(0),
            asleep_ms: AtomicI64::new(0),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// The machine sleeps for `d`: wall and boot clocks move on, the monotonic clock does not.
    pub fn sleep_machine(&self, d: Duration) {
        self.offset_ms
            .fetch_add(d.as_millis() as i64, Ordering::SeqCst);
        self.asleep_ms
            .fetch_add(d.as_millis() as i64, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Someone sets the wall clock forward (positive) or back (negative).
    pub fn jump(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.changed.notify_waiters();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let ms = self.start_wall_ms
            + self.mono().as_millis() as i64
            + self.offset_ms.load(Ordering::SeqCst);
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    fn mono(&self) -> Duration {
        tokio::time::Instant::now() - self.start
    }

    fn boot(&self) -> Option<Duration> {
        Some(self.mono() + Duration::from_millis(self.asleep_ms.load(Ordering::SeqCst) as u64))
    }

    fn sleep_until(&self, deadline: Option<i64>) -> SleepFuture<'_> {
        Box::pin(async move {
            let changed = self.changed.notified();
            tokio::select! {
                () = capped_sleep(self.now(), deadline.map(|d| d.saturating_mul(1000))) => {}
                () = changed => {}
            }
        })
    }
}
