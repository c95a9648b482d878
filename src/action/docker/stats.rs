//! `docker.stats`: one sample of a container's CPU% (from the two CPU snapshots the engine
//! returns, per online CPU, as `docker stats` computes it), memory used / limit / percent (page
//! cache excluded, as the CLI does), network and block I/O; recorded as metrics, with `up` (1).
//! A container that is stopped or missing fails the run and still records `up = 0`, so that a
//! rule (`stats.up < 1`) sees a gateway that is down as a sample, not as a gap.

use super::{connect, describe, resolve};
use crate::action::{AttemptCtx, AttemptResult};
use crate::model::Metric;
use crate::model::StatsSpec;
use bollard::models::ContainerStatsResponse;
use futures_util::StreamExt;

/// The figures `docker stats` shows, computed from one stats answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub cpu_percent: f64,
    pub mem_used: f64,
    pub mem_limit: f64,
    pub mem_percent: f64,
    pub net_rx: f64,
    pub net_tx: f64,
    pub block_read: f64,
    pub block_write: f64,
    pub pids: f64,
}

impl Sample {
    pub fn from_stats(s: &ContainerStatsResponse) -> Sample {
        let total = |c: &Option<bollard::models::ContainerCpuStats>| {
            c.as_ref()
                .and_then(|c| c.cpu_usage.as_ref())
                .and_then(|u| u.total_usage)
                .unwrap_or(0)
        };
        let system = |c: &Option<bollard::models::ContainerCpuStats>| {
            c.as_ref().and_then(|c| c.system_cpu_usage).unwrap_or(0)
        };
        let cpu_delta = total(&s.cpu_stats).saturating_sub(total(&s.precpu_stats)) as f64;
        let sys_delta = system(&s.cpu_stats).saturating_sub(system(&s.precpu_stats)) as f64;
        let online = s
            .cpu_stats
            .as_ref()
            .and_then(|c| {
                c.online_cpus.filter(|n| *n > 0).map(f64::from).or_else(|| {
                    c.cpu_usage
                        .as_ref()
                        .and_then(|u| u.percpu_usage.as_ref())
                        .map(|p| p.len() as f64)
                })
            })
            .unwrap_or(1.0);
        let cpu_percent = if cpu_delta > 0.0 && sys_delta > 0.0 {
            cpu_delta / sys_delta * online * 100.0
        } else {
            0.0
        };
        let mem = s.memory_stats.as_ref();
        let usage = mem.and_then(|m| m.usage).unwrap_or(0) as f64;
        // The CLI subtracts the page cache: `total_inactive_file` (cgroup v1) or `inactive_file` (v2).
        let cache = mem
            .and_then(|m| m.stats.as_ref())
            .and_then(|st| {
                st.get("total_inactive_file")
                    .or_else(|| st.get("inactive_file"))
                    .copied()
            })
            .map_or(0.0, |c| c as f64);
        let mem_used = if cache < usage { usage - cache } else { usage };
        let mem_limit = mem.and_then(|m| m.limit).unwrap_or(0) as f64;
        let mem_percent = if mem_limit > 0.0 {
            mem_used / mem_limit * 100.0
        } else {
            0.0
        };
        let (mut net_rx, mut net_tx) = (0.0, 0.0);
        for n in s.networks.iter().flat_map(|m| m.values()) {
            net_rx += n.rx_bytes.unwrap_or(0) as f64;
            net_tx += n.tx_bytes.unwrap_or(0) as f64;
        }
        let (mut block_read, mut block_write) = (0.0, 0.0);
        for e in s
            .blkio_stats
            .iter()
            .flat_map(|b| b.io_service_bytes_recursive.iter().flatten())
        {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => block_read += e.value.unwrap_or(0) as f64,
                Some("write") => block_write += e.value.unwrap_or(0) as f64,
                _ => {}
            }
        }
        let pids = s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0) as f64;
        Sample {
            cpu_percent,
            mem_used,
            mem_limit,
            mem_percent,
            net_rx,
            net_tx,
            block_read,
            block_write,
            pids,
        }
    }

    pub fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric::new("up", 1.0),
            Metric::new("cpu_percent", self.cpu_percent),
            Metric::new("mem_used_bytes", self.mem_used),
            Metric::new("mem_limit_bytes", self.mem_limit),
            Metric::new("mem_percent", self.mem_percent),
            Metric::new("net_rx_bytes", self.net_rx),
            Metric::new("net_tx_bytes", self.net_tx),
            Metric::new("block_read_bytes", self.block_read),
            Metric::new("block_write_bytes", self.block_write),
            Metric::new("pids", self.pids),
        ]
    }
}

fn mib(b: f64) -> String {
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / 1024.0 / 1024.0 / 1024.0)
    } else {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    }
}

pub async fn run(spec: &StatsSpec, ctx: &AttemptCtx<'_>) -> AttemptResult {
    // Set when the engine answered that the container is not running or not there (as opposed
    // to an engine that could not be asked).
    let down = std::sync::atomic::AtomicBool::new(false);
    let is_down = || down.store(true, std::sync::atomic::Ordering::Relaxed);
    let work = async {
        let (docker, host) = connect(spec.host.as_deref())?;
        let id = match resolve(&docker, &spec.target, &host).await {
            Ok(id) => id,
            Err(e) if e.contains(" not found") => {
                is_down();
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let opts = bollard::query_parameters::StatsOptions {
            stream: false,
            one_shot: false,
        };
        let mut stream = docker.stats(&id, Some(opts));
        let stats = match stream.next().await {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                if matches!(
                    e,
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }
                ) {
                    is_down();
                }
                return Err(describe(&e, &spec.target, &host));
            }
            None => {
                return Err(format!(
                    "Docker sent no stats for {}",
                    spec.target.describe()
                ));
            }
        };
        if stats
            .precpu_stats
            .as_ref()
            .and_then(|c| c.system_cpu_usage)
            .is_none()
            && stats
                .cpu_stats
                .as_ref()
                .and_then(|c| c.system_cpu_usage)
                .is_none()
        {
            is_down();
            return Err(format!(
                "{} is not running (no CPU statistics)",
                spec.target.describe()
            ));
        }
        Ok(Sample::from_stats(&stats))
    };
    let mut result = super::bounded(ctx, work, |sample: Sample| {
        let line = format!(
            "{}: CPU {:.2}%  memory {} / {} ({:.2}%)  net {} / {}  block {} / {}  pids {}",
            spec.target.describe(),
            sample.cpu_percent,
            mib(sample.mem_used),
            mib(sample.mem_limit),
            sample.mem_percent,
            mib(sample.net_rx),
            mib(sample.net_tx),
            mib(sample.block_read),
            mib(sample.block_write),
            sample.pids
        );
        (vec![line], sample.metrics())
    })
    .await;
    if result.status == crate::action::AttemptStatus::Failed
        && down.load(std::sync::atomic::Ordering::Relaxed)
    {
        result.metrics.push(Metric::new("up", 0.0));
    }
    result
}
