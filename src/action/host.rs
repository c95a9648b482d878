//! `host.stats`: one sample of this machine's CPU use (two readings of the CPU counters,
//! `sample` apart), memory, swap and load averages, recorded as metrics.
//!
//! Memory is what cannot be taken back without swapping: on Linux `MemTotal - MemAvailable`
//! (page cache and reclaimable slabs excluded); on macOS what Activity Monitor calls "Memory
//! Used", app memory + wired + compressed, not "used" with the file cache counted, since on a
//! Mac with unified memory that cache is where Ollama's models were just read from. Linux reads
//! `/proc`; macOS asks the kernel (`host_statistics`, `host_statistics64`, `sysctl`).

use super::{AttemptCtx, AttemptResult, AttemptStatus};
use crate::model::{HostStatsSpec, Metric};

/// The CPU counters: time spent busy and in all, in the platform's ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    pub busy: u64,
    pub total: u64,
}

/// CPU use between two readings, 0 to 100 for the whole machine (100 = every CPU busy).
pub fn cpu_percent(before: CpuTicks, after: CpuTicks) -> f64 {
    let total = after.total.saturating_sub(before.total);
    let busy = after.busy.saturating_sub(before.busy);
    if total == 0 {
        0.0
    } else {
        (busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0)
    }
}

/// Memory and swap, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Memory {
    pub total: f64,
    pub available: f64,
    pub swap_total: f64,
    pub swap_used: f64,
}

impl Memory {
    pub fn used(&self) -> f64 {
        (self.total - self.available).max(0.0)
    }

    pub fn percent(&self) -> f64 {
        if self.total > 0.0 {
            self.used() / self.total * 100.0
        } else {
            0.0
        }
    }
}

/// One sample.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub cpu_percent: f64,
    pub cpus: f64,
    pub memory: Memory,
    pub load: [f64; 3],
}

impl Sample {
    pub fn metrics(&self) -> Vec<Metric> {
        let m = &self.memory;
        vec![
            Metric::new("cpu_percent", self.cpu_percent),
            Metric::new("cpus", self.cpus),
            Metric::new("mem_total_bytes", m.total),
            Metric::new("mem_available_bytes", m.available),
            Metric::new("mem_used_bytes", m.used()),
            Metric::new("mem_percent", m.percent()),
            Metric::new("swap_total_bytes", m.swap_total),
            Metric::new("swap_used_bytes", m.swap_used),
            Metric::new("load1", self.load[0]),
            Metric::new("load5", self.load[1]),
            Metric::new("load15", self.load[2]),
        ]
    }

    fn line(&self) -> String {
        let gib = |b: f64| b / 1024.0 / 1024.0 / 1024.0;
        let m = &self.memory;
        format!(
            "host: CPU {:.1}% of {} CPUs  memory {:.2} / {:.2} GiB ({:.1}%)  swap {:.2} / {:.2} GiB  load {:.2} {:.2} {:.2}",
            self.cpu_percent,
            self.cpus,
            gib(m.used()),
            gib(m.total),
            m.percent(),
            gib(m.swap_used),
            gib(m.swap_total),
            self.load[0],
            self.load[1],
            self.load[2]
        )
    }
}

/// The first line of `/proc/stat` (`cpu  user nice system idle iowait irq softirq steal ...`):
/// idle and iowait are not busy; guest time is already counted in user time.
pub fn parse_proc_stat(text: &str) -> Option<CpuTicks> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some(CpuTicks {
        busy: total - idle,
        total,
    })
}

/// `/proc/meminfo` (values in kB).
pub fn parse_meminfo(text: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<f64> {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let kb: f64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kb * 1024.0)
        })
    };
    let total = field("MemTotal")?;
    // Kernels before 3.14 have no MemAvailable: free + buffers + cache is the old estimate.
    let available = field("MemAvailable").or_else(|| {
        Some(field("MemFree")? + field("Buffers").unwrap_or(0.0) + field("Cached").unwrap_or(0.0))
    })?;
    let swap_total = field("SwapTotal").unwrap_or(0.0);
    let swap_free = field("SwapFree").unwrap_or(swap_total);
    Some(Memory {
        total,
        available: available.min(total),
        swap_total,
        swap_used: (swap_total - swap_free).max(0.0),
    })
}

/// `/proc/loadavg` (`0.52 0.58 0.59 1/467 12345`).
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut f = text.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([f.next()??, f.next()??, f.next()??])
}

/// macOS's "Memory Used" (Activity Monitor) from the VM counters, in pages: app memory
/// (anonymous pages, less the purgeable ones the system may drop) + wired + compressed.
pub fn mac_memory_used(
    page: u64,
    internal: u64,
    purgeable: u64,
    wired: u64,
    compressed: u64,
) -> f64 {
    (internal.saturating_sub(purgeable) + wired + compressed) as f64 * page as f64
}

fn cpus() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

#[cfg(not(target_os = "macos"))]
mod platform {
    use super::*;

    fn read(path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
    }

    pub fn cpu() -> Result<CpuTicks, String> {
        parse_proc_stat(&read("/proc/stat")?)
            .ok_or_else(|| "/proc/stat has no `cpu` line this can read".to_string())
    }

    pub fn memory() -> Result<Memory, String> {
        parse_meminfo(&read("/proc/meminfo")?)
            .ok_or_else(|| "/proc/meminfo has no MemTotal this can read".to_string())
    }

    pub fn load() -> Result<[f64; 3], String> {
        parse_loadavg(&read("/proc/loadavg")?)
            .ok_or_else(|| "/proc/loadavg cannot be read as three numbers".to_string())
    }
}

#[cfg(target_os = "macos")]
mod platform {
    // mach_host_self is deprecated in libc in favour of the mach2 crate; it is the same call.
    #![allow(deprecated)]
    use super::*;

    fn sysctl<T: Copy>(name: &str) -> Result<T, String> {
        let cname = std::ffi::CString::new(name).map_err(|e| e.to_string())?;
        let mut value = std::mem::MaybeUninit::<T>::zeroed();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` has room for `len` bytes, the size the kernel is told.
        let rc = unsafe {
            libc::sysctlbyname(
                cname.as_ptr(),
                value.as_mut_ptr().cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        if rc != 0 || len != std::mem::size_of::<T>() {
            return Err(format!(
                "sysctl {name}: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: the kernel wrote all `len` bytes of it.
        Ok(unsafe { value.assume_init() })
    }

    pub fn cpu() -> Result<CpuTicks, String> {
        let mut info = libc::host_cpu_load_info {
            cpu_ticks: [0; libc::CPU_STATE_MAX as usize],
        };
        let mut count = libc::HOST_CPU_LOAD_INFO_COUNT;
        // SAFETY: `info` is the flavour's out-structure and `count` its size in integers.
        let rc = unsafe {
            libc::host_statistics(
                libc::mach_host_self(),
                libc::HOST_CPU_LOAD_INFO,
                (&mut info as *mut libc::host_cpu_load_info).cast(),
                &mut count,
            )
        };
        if rc != libc::KERN_SUCCESS {
            return Err(format!("host_statistics(HOST_CPU_LOAD_INFO) failed ({rc})"));
        }
        let t = info.cpu_ticks.map(u64::from);
        let total: u64 = t.iter().sum();
        Ok(CpuTicks {
            busy: total - t[libc::CPU_STATE_IDLE as usize],
            total,
        })
    }

    pub fn memory() -> Result<Memory, String> {
        let total: u64 = sysctl("hw.memsize")?;
        // SAFETY: a plain struct of integers, for the kernel to fill in.
        let mut vm: libc::vm_statistics64 = unsafe { std::mem::zeroed() };
        let mut count = libc::HOST_VM_INFO64_COUNT;
        // SAFETY: `vm` is the flavour's out-structure and `count` its size in integers.
        let rc = unsafe {
            libc::host_statistics64(
                libc::mach_host_self(),
                libc::HOST_VM_INFO64,
                (&mut vm as *mut libc::vm_statistics64).cast(),
                &mut count,
            )
        };
        if rc != libc::KERN_SUCCESS {
            return Err(format!("host_statistics64(HOST_VM_INFO64) failed ({rc})"));
        }
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        let used = mac_memory_used(
            page,
            u64::from(vm.internal_page_count),
            u64::from(vm.purgeable_count),
            u64::from(vm.wire_count),
            u64::from(vm.compressor_page_count),
        );
        let swap: libc::xsw_usage = sysctl("vm.swapusage")?;
        let total = total as f64;
        Ok(Memory {
            total,
            available: (total - used).max(0.0),
            swap_total: swap.xsu_total as f64,
            swap_used: swap.xsu_used as f64,
        })
    }

    pub fn load() -> Result<[f64; 3], String> {
        let mut l = [0.0f64; 3];
        // SAFETY: `l` has room for the 3 values asked for.
        let n = unsafe { libc::getloadavg(l.as_mut_ptr(), 3) };
        if n != 3 {
            return Err("getloadavg failed".into());
        }
        Ok(l)
    }
}

async fn sample(spec: &HostStatsSpec) -> Result<Sample, String> {
    let before = platform::cpu()?;
    tokio::time::sleep(spec.sample).await;
    let after = platform::cpu()?;
    Ok(Sample {
        cpu_percent: cpu_percent(before, after),
        cpus: cpus(),
        memory: platform::memory()?,
        load: platform::load()?,
    })
}

pub async fn run(spec: &HostStatsSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    let deadline = ctx.deadline;
    let timeout = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let (status, result) = tokio::select! {
        r = sample(spec) => match r {
            Ok(s) => (AttemptStatus::Succeeded, Ok(s)),
            Err(e) => (AttemptStatus::Failed, Err(e)),
        },
        () = timeout => (AttemptStatus::TimedOut, Err("the sample did not finish before the job's timeout".to_string())),
        () = ctx.cancel.cancelled() => (AttemptStatus::Interrupted, Err("interrupted by daemon shutdown".to_string())),
    };
    let (line, metrics, error) = match result {
        Ok(s) => (s.line(), s.metrics(), None),
        Err(e) => (e.clone(), Vec::new(), Some(e)),
    };
    tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "{line}");
    AttemptResult {
        status,
        exit_code: None,
        error,
        output_tail: format!("{line}\n"),
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured on a 2-core Linux machine.
    const STAT_1: &str = "cpu  4705 356 584 3699 23 23 0 0 0 0\ncpu0 2352 178 292 1849 11 11 0 0 0 0\nintr 1462898\n";
    const STAT_2: &str =
        "cpu  4805 356 634 3749 73 23 0 0 0 0\ncpu0 2402 178 317 1874 36 11 0 0 0 0\n";
    const MEMINFO: &str = "MemTotal:        8044064 kB\nMemFree:          412312 kB\nMemAvailable:    5123456 kB\nBuffers:          201212 kB\nCached:          4012344 kB\nSwapCached:            0 kB\nSwapTotal:       2097148 kB\nSwapFree:        1048572 kB\n";

    #[test]
    fn reads_proc() {
        let a = parse_proc_stat(STAT_1).unwrap();
        let b = parse_proc_stat(STAT_2).unwrap();
        assert_eq!(a.total, 4705 + 356 + 584 + 3699 + 23 + 23);
        // 250 ticks passed: 100 user + 50 system busy, 50 idle + 50 iowait.
        assert_eq!(cpu_percent(a, b), 60.0);
        assert_eq!(
            cpu_percent(b, a),
            0.0,
            "counters that went back give 0, not a panic"
        );
        let m = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(m.total, 8044064.0 * 1024.0);
        assert_eq!(m.available, 5123456.0 * 1024.0);
        assert_eq!(m.swap_used, (2097148.0 - 1048572.0) * 1024.0);
        assert!((m.percent() - 36.307).abs() < 0.01, "{}", m.percent());
        // Without MemAvailable (old kernels): free + buffers + cache.
        let old =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
                .unwrap();
        assert_eq!(old.available, 400.0 * 1024.0);
        assert_eq!(old.swap_used, 0.0);
        assert_eq!(
            parse_loadavg("0.52 0.58 0.59 1/467 12345\n"),
            Some([0.52, 0.58, 0.59])
        );
        assert_eq!(parse_meminfo("garbage"), None);
        assert_eq!(parse_proc_stat("cpu  x y"), None);
        assert_eq!(parse_loadavg("1.0"), None);
    }

    #[test]
    fn mac_memory_is_app_plus_wired_plus_compressed() {
        // 16 KiB pages: 600,000 anonymous pages of which 20,000 purgeable, 150,000 wired,
        // 100,000 compressed: (580,000 + 150,000 + 100,000) pages.
        let used = mac_memory_used(16384, 600_000, 20_000, 150_000, 100_000);
        assert_eq!(used, 830_000.0 * 16384.0);
    }
}
