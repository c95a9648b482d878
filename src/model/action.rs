//! What each job kind was asked to do: its validated settings, one struct per kind behind
//! [`ActionSpec`]. Plain data; the behaviour is in `action`.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// Program and arguments, executed directly.
    Argv(Vec<String>),
    /// A string for `/bin/sh -c`.
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: Program,
    pub env: Vec<(String, String)>,
    pub workdir: Option<PathBuf>,
    /// `leftovers: keep`: processes the run leaves behind on purpose live on (recorded);
    /// by default they are stopped when the main process exits.
    pub keep_leftovers: bool,
}

impl CommandSpec {
    pub fn kind(&self) -> &'static str {
        match self.program {
            Program::Argv(_) => "command",
            Program::Shell(_) => "shell",
        }
    }

    pub fn summary(&self) -> String {
        match &self.program {
            Program::Argv(a) => a.join(" "),
            Program::Shell(s) => format!("sh -c {s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSpec {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The name of an environment variable holding a bearer token, read at run time.
    pub bearer_env: Option<String>,
    pub body: Option<String>,
    /// Per request; the job's timeout bounds it too.
    pub timeout: Option<Duration>,
    pub expect: Expect,
}

#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Accepted status codes; `None` is any 2xx.
    pub status: Option<Vec<u16>>,
    /// The media type the response must have (`application/json`), parameters ignored.
    pub content_type: Option<String>,
    pub body_regex: Option<regex::Regex>,
    /// A JSON pointer into the body and the value it must hold.
    pub json: Option<(String, serde_json::Value)>,
}

impl PartialEq for Expect {
    fn eq(&self, o: &Self) -> bool {
        self.status == o.status
            && self.content_type == o.content_type
            && self.body_regex.as_ref().map(regex::Regex::as_str)
                == o.body_regex.as_ref().map(regex::Regex::as_str)
            && self.json == o.json
    }
}

impl HttpSpec {
    pub fn summary(&self) -> String {
        format!("{} {}", self.method, self.url)
    }
}

/// Which container: by name (or id), or by Compose service label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name(String),
    ComposeService(String),
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Name(n) => format!("container `{n}`"),
            Target::ComposeService(s) => format!("compose service `{s}`"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    pub host: Option<String>,
    pub target: Target,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartSpec {
    pub host: Option<String>,
    pub target: Target,
    /// Docker's stop timeout: SIGTERM, then SIGKILL after this.
    pub stop_timeout: Duration,
    /// Wait until running (and healthy, with a healthcheck) within this bound.
    pub wait: Option<Duration>,
    /// Then this HTTP check must pass (retried until `wait` runs out).
    pub probe: Option<HttpSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSpec {
    pub host: Option<String>,
    pub target: Target,
}

/// `host.stats`: the machine's own CPU, memory (on macOS, memory pressure), swap and load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatsSpec {
    /// How long CPU use is measured over (two readings of the CPU counters).
    pub sample: Duration,
}

/// `external`: a job that runs elsewhere (another machine, a vendor's tool) and pings clawcron
/// at each slot: a dead-man's switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSpec {
    /// How long after its slot the job has to report before the slot is `missed`.
    pub grace: Duration,
}

/// Where Ollama listens unless a job says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:11434";

pub const DEFAULT_PROMPT: &str = "In three sentences, explain why the sky is blue.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchSpec {
    pub url: String,
    pub model: String,
    pub prompt: String,
    pub rounds: u32,
    pub num_predict: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreloadSpec {
    pub url: String,
    pub models: Vec<String>,
    pub embed_models: Vec<String>,
    pub keep_alive: String,
    /// How long to wait for the server to answer at all.
    pub wait: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSpec {
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadSpec {
    pub url: String,
    pub models: Vec<String>,
    pub embed_models: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub name: String,
    pub action: ActionSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSpec {
    pub probes: Vec<Probe>,
}

impl MonitorSpec {
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .probes
            .iter()
            .map(|p| format!("{}: {}", p.name, p.action.summary()))
            .collect();
        format!("monitor ({})", parts.join("; "))
    }
}

/// Whether the recorded figure `name` is what a rule calls `wanted`: the same, or a probe's
/// figure `<probe>.<wanted>`.
pub fn metric_matches(name: &str, wanted: &str) -> bool {
    name == wanted
        || name
            .strip_suffix(wanted)
            .is_some_and(|p| p.ends_with('.') && !p[..p.len() - 1].contains('.'))
}

#[derive(Debug, Clone)]
pub enum Extract {
    /// Every named group of the last match is a metric of that name.
    Regex(regex::Regex),
    /// The value at `pointer` in the last JSON line of output (or the whole output).
    Json { pointer: String, name: String },
}

impl PartialEq for Extract {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (Extract::Regex(a), Extract::Regex(b)) => a.as_str() == b.as_str(),
            (
                Extract::Json {
                    pointer: a,
                    name: n,
                },
                Extract::Json {
                    pointer: b,
                    name: m,
                },
            ) => a == b && n == m,
            _ => false,
        }
    }
}

/// A job kind and its validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    Command(CommandSpec),
    Http(HttpSpec),
    DockerRestart(RestartSpec),
    DockerExec(ExecSpec),
    DockerStats(StatsSpec),
    HostStats(HostStatsSpec),
    OllamaPreload(PreloadSpec),
    OllamaUnload(UnloadSpec),
    OllamaBench(BenchSpec),
    OllamaStatus(StatusSpec),
    Monitor(MonitorSpec),
    Report(Box<crate::model::ReportSpec>),
    External(ExternalSpec),
    /// Test support: a scripted action (not available in job files).
    #[doc(hidden)]
    Scripted(std::sync::Arc<super::scripted::Script>),
}

/// A named figure measured by a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Metric {
            name: name.into(),
            value,
        }
    }
}

impl Extract {
    /// The figure names this extraction can record.
    pub fn names(&self) -> Vec<String> {
        match self {
            Extract::Regex(re) => re.capture_names().flatten().map(str::to_string).collect(),
            Extract::Json { name, .. } => vec![name.clone()],
        }
    }
}

impl ActionSpec {
    /// The figures a run of this kind can record, by name (a name ending in `*` stands for any
    /// suffix: `gpu_percent.*` per loaded model); `None` when they cannot be known before it
    /// runs. A job's `metrics:` extractions add theirs.
    pub fn figures(&self) -> Option<Vec<String>> {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Some(match self {
            ActionSpec::Command(_)
            | ActionSpec::DockerExec(_)
            | ActionSpec::Report(_)
            | ActionSpec::External(_) => Vec::new(),
            ActionSpec::Http(_) => names(&["total_ms", "status", "connect_ms"]),
            ActionSpec::DockerRestart(_) => names(&[
                "restart_ms",
                "healthy_ms",
                "running_ms",
                "probe_ms",
                "total_ms",
            ]),
            ActionSpec::HostStats(_) => names(&[
                "cpu_percent",
                "cpus",
                "mem_total_bytes",
                "mem_available_bytes",
                "mem_used_bytes",
                "mem_percent",
                "swap_total_bytes",
                "swap_used_bytes",
                "load1",
                "load5",
                "load15",
            ]),
            ActionSpec::DockerStats(_) => names(&[
                "up",
                "cpu_percent",
                "mem_used_bytes",
                "mem_limit_bytes",
                "mem_percent",
                "net_rx_bytes",
                "net_tx_bytes",
                "block_read_bytes",
                "block_write_bytes",
                "pids",
            ]),
            ActionSpec::OllamaPreload(p) => {
                let mut v = names(&["wait_ms", "models_loaded"]);
                v.extend(
                    p.models
                        .iter()
                        .chain(&p.embed_models)
                        .map(|m| format!("load_ms.{m}")),
                );
                v
            }
            ActionSpec::OllamaUnload(_) => names(&["models_unloaded"]),
            ActionSpec::OllamaBench(_) => names(&[
                "tokens_per_s",
                "prompt_tokens_per_s",
                "load_ms",
                "ttft_ms",
                "total_ms",
            ]),
            ActionSpec::OllamaStatus(_) => names(&[
                "models_loaded",
                "models_available",
                "loaded_bytes",
                "vram_bytes",
                "gpu_percent.*",
            ]),
            ActionSpec::Monitor(m) => {
                let mut v = Vec::new();
                for p in &m.probes {
                    v.extend(
                        p.action
                            .figures()?
                            .into_iter()
                            .map(|f| format!("{}.{f}", p.name)),
                    );
                    let up = format!("{}.up", p.name);
                    if !v.contains(&up) {
                        v.push(up);
                    }
                }
                v
            }
            ActionSpec::Scripted(_) => return None,
        })
    }
}

/// Whether a rule's `metric` names one of `figures` (in full, by its own name, or under a
/// `prefix.*` figure).
pub fn names_a_figure(figures: &[String], wanted: &str) -> bool {
    figures.iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => {
            wanted.starts_with(prefix) || metric_matches(wanted, prefix.trim_end_matches('.'))
        }
        None => metric_matches(f, wanted),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_a_figure_in_full_or_by_its_own_name() {
        assert!(metric_matches("stats.cpu_percent", "cpu_percent"));
        assert!(metric_matches("stats.cpu_percent", "stats.cpu_percent"));
        assert!(metric_matches("cpu_percent", "cpu_percent"));
        assert!(!metric_matches("stats.cpu_percent", "percent"));
        assert!(!metric_matches("xcpu_percent", "cpu_percent"));
    }
}
