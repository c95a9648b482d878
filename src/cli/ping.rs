//! `clawcron ping-url JOB [--rotate]`: an `external` job's ping URL and a curl line, with its
//! key made (or remade) and stored hashed in the ledger.

use super::open_store;
use super::{Error, Loaded, find_job, out};
use crate::action::external;
use crate::model::ActionSpec;
use std::net::SocketAddr;
use std::path::Path;

pub fn ping_url(loaded: &Loaded, id: &str, rotate: bool, state_dir: &Path) -> Result<(), Error> {
    let job = find_job(loaded, id)?;
    if !matches!(job.action, ActionSpec::External(_)) {
        return Err(Error::Usage(format!(
            "`{id}` is a `{}` job: only `external` jobs (`run: {{ external: {{ grace: 30m }} }}`) are pinged",
            job.action.kind()
        )));
    }
    let store = open_store(loaded, state_dir)?;
    if let Some(made) = store.ping_key_made(id)?
        && !rotate
    {
        return Err(Error::Usage(format!(
            "`{id}` has a ping key since {}; it is stored hashed, so it cannot be shown again: `clawcron ping-url {id} --rotate` makes a new one (the old one stops working)",
            super::local_ms(made, loaded.global.timezone)
        )));
    }
    let key = external::new_key();
    store.set_ping_key(
        id,
        &external::hash_key(&key),
        chrono::Utc::now().timestamp_millis(),
    )?;
    let (addr, reachable) = where_pings_go(loaded, state_dir);
    let url = format!("http://{}/ping/{id}/{key}", host_port(addr));
    out!("url: {url}");
    out!("curl: curl -fsS -m 10 --retry 3 --data-binary @- {url}");
    out!(
        "crontab: <schedule> /path/to/the-job 2>&1 | curl -fsS -m 10 --retry 3 --data-binary @- {url}"
    );
    out!("  ({url}/start first measures the duration; /fail or /<exit code> reports a failure)");
    if rotate {
        out!("the old key of `{id}` no longer works");
    }
    if !reachable {
        out!(
            "note: `ping_listen` is not set in clawcron.yaml: this URL is the status API's, which only this machine reaches"
        );
    }
    Ok(())
}

/// Where the daemon takes pings: the running daemon's ping listener (`ping.addr`), else
/// `ping_listen`, else the status API on loopback; and whether other machines reach it.
fn where_pings_go(loaded: &Loaded, state_dir: &Path) -> (SocketAddr, bool) {
    let running = |file: &str| {
        std::fs::read_to_string(state_dir.join(file))
            .ok()
            .and_then(|s| s.trim().parse::<SocketAddr>().ok())
    };
    let g = &loaded.global;
    if let Some(a) = running("ping.addr").or(g.ping_listen) {
        return (a, true);
    }
    let api = running("api.addr")
        .or(g.api_listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8787)));
    (api, false)
}

/// `host:port` as another machine would write it: a wildcard address becomes this machine's
/// name.
fn host_port(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        return format!("{}:{}", hostname(), addr.port());
    }
    addr.to_string()
}

fn hostname() -> String {
    let name = crate::util::host::full_host_name();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}
