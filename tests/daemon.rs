//! The daemon in-process: `daemon::run(.., shutdown)` takes its shutdown as a parameter, so a test
//! drives it without spawning a binary or sending a signal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clawcron::config::{self, Sources};
use std::time::Duration;

#[test]
fn the_daemon_runs_in_process_and_stops_when_its_shutdown_future_completes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("clawcron.yaml"),
        "timezone: UTC\nshutdown_grace: 2s\napi: { enabled: false }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/tick.yaml"),
        "every: 1s\nrun: { shell: \"true\" }\n",
    )
    .unwrap();
    let sources = Sources {
        config: Some(dir.path().join("clawcron.yaml")),
        jobs_dir: Some(dir.path().join("jobs")),
    };
    let loaded = config::load(&sources);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let state = dir.path().join("state");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = std::time::Instant::now();
    let result = rt.block_on(async {
        let daemon = clawcron::daemon::run(loaded, &state, sources, async {
            let _ = stopped.await;
        });
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(3500)).await;
            let _ = stop.send(());
        };
        let (r, ()) = tokio::join!(daemon, stopper);
        r
    });
    assert!(result.is_ok(), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "it stopped promptly after its shutdown: {:?}",
        started.elapsed()
    );
    assert!(
        !state.join("clawcron.sock").exists(),
        "the control socket is removed"
    );
    let store = clawcron::store::Store::open(&state).unwrap();
    let rows = store.history(Some("tick"), 100).unwrap();
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.status == clawcron::model::RunStatus::Succeeded),
        "every slot ran and none is left running: {rows:?}"
    );
}
