//! Docker job kinds, through the Engine API (bollard): `docker.restart`, `docker.exec`,
//! `docker.stats`, one file each. This file connects the way the docker CLI does and turns
//! engine errors into one clear line.

use crate::model::Target;
pub mod exec;
pub mod restart;
pub mod stats;

use bollard::Docker;
use std::path::PathBuf;

/// Connects as the docker CLI would: `host` (from the job or `clawcron.yaml`), else
/// `DOCKER_HOST`, else the local socket (on macOS Docker Desktop's, under the home folder,
/// before /var/run/docker.sock).
pub fn connect(host: Option<&str>) -> Result<(Docker, String), String> {
    let host = host
        .map(str::to_string)
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(default_socket);
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        Docker::connect_with_http(&format!("http://{addr}"), 120, bollard::API_DEFAULT_VERSION)
    } else if host.starts_with("http://") {
        Docker::connect_with_http(&host, 120, bollard::API_DEFAULT_VERSION)
    } else {
        return Err(format!(
            "unsupported Docker host `{host}` (use unix:///path or tcp://host:port)"
        ));
    };
    docker
        .map(|d| (d, host.clone()))
        .map_err(|e| format!("Docker is not reachable at {host}: is the engine running? ({e})"))
}

fn default_socket() -> String {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if cfg!(target_os = "macos")
        && let Some(home) = std::env::var_os("HOME")
    {
        candidates.push(PathBuf::from(home).join(".docker/run/docker.sock"));
    }
    candidates.push(PathBuf::from("/var/run/docker.sock"));
    let path = candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or(&candidates[candidates.len() - 1]);
    format!("unix://{}", path.display())
}

/// One line for an engine error, naming what was asked and what to do.
pub fn describe(e: &bollard::errors::Error, target: &Target, host: &str) -> String {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code: 404, ..
        } => format!("{} not found", target.describe()),
        E::DockerResponseServerError {
            status_code,
            message,
        } => format!("Docker refused ({status_code}): {message}"),
        _ => {
            let text = crate::util::chain(e);
            if text.contains("Permission denied") || text.contains("permission denied") {
                format!(
                    "permission denied on the Docker socket {host} (is this user in the `docker` group?)"
                )
            } else if text.contains("No such file")
                || text.contains("Connection refused")
                || text.contains("connection refused")
            {
                format!("Docker is not reachable at {host}: is the engine running? ({text})")
            } else {
                format!("Docker at {host}: {text}")
            }
        }
    }
}

/// The container's id, from its name or its Compose service label.
pub async fn resolve(docker: &Docker, target: &Target, host: &str) -> Result<String, String> {
    match target {
        Target::Name(n) => Ok(n.clone()),
        Target::ComposeService(service) => {
            let mut filters = std::collections::HashMap::new();
            filters.insert(
                "label".to_string(),
                vec![format!("com.docker.compose.service={service}")],
            );
            let opts = bollard::query_parameters::ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            };
            let list = docker
                .list_containers(Some(opts))
                .await
                .map_err(|e| describe(&e, target, host))?;
            list.into_iter()
                .find_map(|c| c.id)
                .ok_or_else(|| format!("{} not found (no container has the label com.docker.compose.service={service})", target.describe()))
        }
    }
}

/// Runs Docker work bounded by the attempt's deadline and the daemon's shutdown, and reports it:
/// output lines and metrics on success, the error line otherwise.
pub async fn bounded<T>(
    ctx: &crate::action::AttemptCtx<'_>,
    work: impl std::future::Future<Output = Result<T, String>>,
    report: impl FnOnce(T) -> (Vec<String>, Vec<crate::model::Metric>),
) -> crate::action::AttemptResult {
    use crate::action::{AttemptResult, AttemptStatus};
    let deadline = ctx.deadline;
    let timeout = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let (status, lines, metrics, error) = tokio::select! {
        r = work => match r {
            Ok(v) => {
                let (lines, metrics) = report(v);
                (AttemptStatus::Succeeded, lines, metrics, None)
            }
            Err(e) => (AttemptStatus::Failed, Vec::new(), Vec::new(), Some(e)),
        },
        () = timeout => (AttemptStatus::TimedOut, Vec::new(), Vec::new(), Some("Docker did not finish before the job's timeout".to_string())),
        () = ctx.cancel.cancelled() => (AttemptStatus::Interrupted, Vec::new(), Vec::new(), Some("interrupted by daemon shutdown".to_string())),
    };
    let mut tail = String::new();
    for l in lines.iter().chain(error.iter().map(|e| e as &String)) {
        tracing::info!(target: "clawcron::output", job = ctx.job, run_id = ctx.run_id, stream = "output", "{l}");
        tail.push_str(l);
        tail.push('\n');
    }
    AttemptResult {
        status,
        exit_code: None,
        error,
        output_tail: tail,
        metrics,
    }
}
