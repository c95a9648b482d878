//! What the ledger remembers: `status`, `history`, `metrics`, `alerts`, `notifications`.

use super::*;

/// The running daemon's API (`http://ADDR`) and its token, from the state directory.
fn daemon_api(state_dir: &std::path::Path) -> Result<(String, String), Error> {
    let addr = std::fs::read_to_string(state_dir.join("api.addr")).map_err(|_| {
        Error::Usage(format!(
            "no running daemon with its status API on the state directory {} (is `clawcron run` running, with `api` enabled?)",
            state_dir.display()
        ))
    })?;
    let token = std::fs::read_to_string(state_dir.join("api-token")).unwrap_or_default();
    Ok((format!("http://{}", addr.trim()), token.trim().to_string()))
}

/// `clawcron open`: asks the daemon for a one-time link (with the token) and gives it to the
/// browser, which then holds a session cookie instead of the token.
pub(super) fn open(print: bool, state_dir: &std::path::Path) -> Result<(), Error> {
    let (base, token) = daemon_api(state_dir)?;
    let answer: serde_json::Value = runtime()?.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{base}/api/session/once"))
            .bearer_auth(&token)
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| {
                Error::Usage(format!(
                    "the daemon's API at {base} refused a link: {}",
                    crate::util::chain(&e)
                ))
            })?;
        resp.json()
            .await
            .map_err(|e| Error::Usage(format!("{base}: {e}")))
    })?;
    let url = format!("{base}{}", answer["path"].as_str().unwrap_or("/"));
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if !print
        && std::process::Command::new(opener)
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    {
        out!("opened the dashboard (the link works once, within a minute)");
        return Ok(());
    }
    out!("{url}");
    out!("(works once, within a minute; it gives this browser a session cookie)");
    Ok(())
}

pub(super) fn status(json: bool, state_dir: &std::path::Path) -> Result<(), Error> {
    let (base, token) = daemon_api(state_dir)?;
    let get = |path: &str| {
        let url = format!("{base}{path}");
        let token = token.clone();
        async move {
            let resp = reqwest::Client::new()
                .get(&url)
                .bearer_auth(token)
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| {
                    Error::Usage(format!(
                        "the daemon's API at {url} did not answer: {}",
                        crate::util::chain(&e)
                    ))
                })?;
            resp.json::<serde_json::Value>()
                .await
                .map_err(|e| Error::Usage(format!("{url}: {e}")))
        }
    };
    let (jobs, st) = runtime()?
        .block_on(async { Ok::<_, Error>((get("/api/jobs").await?, get("/api/status").await?)) })?;
    if json {
        out!("{}", serde_json::json!({ "status": st, "jobs": jobs }));
        return Ok(());
    }
    out!(
        "clawcron {} pid {}, up since {}, {} run(s) going",
        st["version"].as_str().unwrap_or("?"),
        st["pid"],
        st["started_at"].as_str().unwrap_or("?"),
        st["running"]
    );
    let fault = &st["ledger_fault"];
    if !fault.is_null() {
        let since = fault["since_ms"]
            .as_i64()
            .map(|ms| crate::util::to_utc(ms / 1000).to_rfc3339())
            .unwrap_or_default();
        out!(
            "✗ the ledger cannot be written since {since} ({} failed writes): {}; no slot starts until it can",
            fault["failures"],
            fault["error"].as_str().unwrap_or("?")
        );
    }
    if let Some(errors) = st["reload"]["errors"].as_array().filter(|e| !e.is_empty()) {
        out!(
            "last reload left {} file(s) at their last good version:",
            errors.len()
        );
        for e in errors {
            out!(
                "  {}",
                e.as_str().unwrap_or("").lines().next().unwrap_or("")
            );
        }
    }
    out!("{:<24} {:<16} {:<27} LAST", "JOB", "KIND", "NEXT");
    for j in jobs.as_array().into_iter().flatten() {
        let last = &j["last"];
        let last = if last.is_null() {
            "-".to_string()
        } else {
            format!(
                "{} {}",
                last["status"].as_str().unwrap_or("?"),
                last["finished_at"].as_str().unwrap_or("")
            )
        };
        let paused = &j["paused"];
        let paused = if paused.is_null() {
            String::new()
        } else {
            format!(
                " (paused by {} at {}: {})",
                paused["by"].as_str().unwrap_or("?"),
                paused["at_ms"]
                    .as_i64()
                    .map(|ms| crate::util::to_utc(ms / 1000).to_rfc3339())
                    .unwrap_or_default(),
                paused["reason"].as_str().unwrap_or("")
            )
        };
        out!(
            "{:<24} {:<16} {:<27} {last}{}{paused}",
            j["id"].as_str().unwrap_or("?"),
            j["kind"].as_str().unwrap_or("?"),
            j["next"].as_str().unwrap_or("-"),
            if j["running"].as_u64().unwrap_or(0) > 0 {
                " (running)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

pub(super) fn notifications(
    loaded: &Loaded,
    limit: usize,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let items = match existing_store(loaded, state_dir)? {
        Some(store) => store.notices(limit)?,
        None => Vec::new(),
    };
    if json {
        out!(
            "{}",
            serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
        );
        return Ok(());
    }
    let tz = loaded.global.timezone;
    let when = |ms: i64| local_ms(ms, tz);
    out!(
        "{:<20} {:<14} {:<8} {:>3} {:<34} ANSWER / ERROR",
        "QUEUED",
        "CHANNEL",
        "STATUS",
        "TRY",
        "KEY"
    );
    for i in items {
        let detail = i.answer.or(i.last_error).unwrap_or_default();
        out!(
            "{:<20} {:<14} {:<8} {:>3} {:<34} {detail}",
            when(i.created_at),
            i.channel,
            i.status,
            i.attempts,
            i.key
        );
    }
    Ok(())
}

/// `clawcron nodes`: every node that beat into the ledger, live or not, with its tags, last
/// beat, clock offset, the runs it has going and the jobs whose file differs from the newest.
pub(super) fn nodes(loaded: &Loaded, json: bool, state_dir: &std::path::Path) -> Result<(), Error> {
    if loaded.global.ledger.is_none() {
        return Err(Error::Usage(
            "no cluster: `ledger:` in clawcron.yaml names no PostgreSQL ledger (one machine keeps its ledger in SQLite)".into(),
        ));
    }
    let store = open_store(loaded, state_dir)?;
    let nodes = store.nodes(crate::cluster::live_ms(&loaded.global.node))?;
    if json {
        out!("{}", serde_json::json!({ "nodes": nodes }));
        return Ok(());
    }
    let tz = loaded.global.timezone;
    out!(
        "{:<16} {:<5} {:<20} {:<25} {:>9} {:<12} DIVERGED",
        "NODE",
        "LIVE",
        "TAGS",
        "LAST BEAT",
        "OFFSET",
        "RUNNING"
    );
    for n in &nodes {
        let running = n
            .running
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        out!(
            "{:<16} {:<5} {:<20} {:<25} {:>7}ms {:<12} {}",
            n.name,
            if n.live { "yes" } else { "no" },
            n.tags.join(","),
            local_ms(n.beat_at, tz),
            n.offset_ms,
            if running.is_empty() {
                "-".into()
            } else {
                running
            },
            if n.diverged.is_empty() {
                "-".into()
            } else {
                n.diverged.join(",")
            }
        );
    }
    Ok(())
}

pub(super) fn alerts(
    loaded: &Loaded,
    since: &str,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let cutoff = since_ms(since)?;
    let (states, events) = match existing_store(loaded, state_dir)? {
        Some(store) => (store.alerts()?, store.alert_events(cutoff)?),
        None => (Vec::new(), Vec::new()),
    };
    if json {
        out!(
            "{}",
            serde_json::json!({ "alerts": states, "events": events })
        );
        return Ok(());
    }
    let tz = loaded.global.timezone;
    let when = |ms: i64| local_ms(ms, tz);
    out!(
        "{:<22} {:<28} {:<8} {:<25} PEAK",
        "JOB",
        "ALERT",
        "STATE",
        "SINCE"
    );
    // A figure with its unit, as the rule's metric gives it.
    let metric_of = |job: &str, rule: &str| {
        loaded
            .job(job)
            .and_then(|j| j.alerts.iter().find(|r| r.name == rule))
            .map(|r| r.metric.clone())
            .unwrap_or_default()
    };
    let fig = |job: &str, rule: &str, v: f64| {
        crate::i18n::figure(&metric_of(job, rule), v, crate::i18n::Lang::En)
    };
    let silences = match existing_store(loaded, state_dir)? {
        Some(store) => store.active_silences(chrono::Utc::now().timestamp_millis())?,
        None => Vec::new(),
    };
    for a in &states {
        let since = a.since.map(when).unwrap_or_default();
        let peak = a.peak.map(|p| fig(&a.job, &a.rule, p)).unwrap_or_default();
        // The silence that covers it shows with it.
        let silenced = silences
            .iter()
            .find(|s| s.job == a.job && s.rule.as_ref().is_none_or(|r| *r == a.rule))
            .map(|s| format!("  (silenced until {}: {})", when(s.ends_at_ms), s.reason))
            .unwrap_or_default();
        out!(
            "{:<22} {:<28} {:<8} {since:<25} {peak}{silenced}",
            a.job,
            a.rule,
            a.phase
        );
    }
    if !events.is_empty() {
        out!(
            "\n{:<25} {:<22} {:<28} {:<9} DETAIL",
            "AT",
            "JOB",
            "ALERT",
            "EVENT"
        );
    }
    for e in &events {
        // A failure streak's events carry no figure.
        let value = if e.rule == crate::notify::FAILURES {
            String::new()
        } else {
            format!("value {}; ", fig(&e.job, &e.rule, e.value))
        };
        out!(
            "{:<25} {:<22} {:<28} {:<9} {value}{}",
            when(e.at),
            e.job,
            e.rule,
            e.kind,
            e.detail
        );
    }
    Ok(())
}

pub(super) fn metrics(
    loaded: &Loaded,
    id: &str,
    since: &str,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let rows = match existing_store(loaded, state_dir)? {
        Some(store) => store.metrics(id, since_ms(since)?)?,
        None => Vec::new(),
    };
    if rows.is_empty() && loaded.job(id).is_none() {
        find_job(loaded, id)?;
    }
    if json {
        out!(
            "{}",
            serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
        );
        return Ok(());
    }
    let tz = loaded
        .job(id)
        .map_or(loaded.global.timezone, |j| job_tz(loaded, j));
    out!("{:<25} {:>6} {:<24} {:>14}", "AT", "RUN", "METRIC", "VALUE");
    for r in &rows {
        let at = local_ms(r.at, tz);
        out!("{at:<25} {:>6} {:<24} {:>14.3}", r.run_id, r.name, r.value);
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if !names.is_empty() {
        out!(
            "\n{:<24} {:>6} {:>12} {:>12} {:>12} {:>12}",
            "SUMMARY",
            "N",
            "MIN",
            "MEDIAN",
            "MAX",
            "LAST"
        );
    }
    for name in names {
        let values: Vec<f64> = rows
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.value)
            .collect();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let last = values[values.len() - 1];
        out!(
            "{name:<24} {:>6} {:>12.3} {median:>12.3} {:>12.3} {last:>12.3}",
            values.len(),
            sorted[0],
            sorted[sorted.len() - 1]
        );
    }
    Ok(())
}

pub(super) fn history(
    loaded: &Loaded,
    job: Option<&str>,
    limit: usize,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    // A job that is neither in jobs/ nor in the ledger is a mistake, as everywhere else.
    let unknown = |rows: &[crate::store::RunRow]| match job {
        Some(id) if rows.is_empty() && loaded.job(id).is_none() => find_job(loaded, id).map(|_| ()),
        _ => Ok(()),
    };
    let Some(store) = existing_store(loaded, state_dir)? else {
        unknown(&[])?;
        if json {
            out!("[]");
        } else {
            out!("no runs recorded yet ({})", no_ledger(state_dir));
        }
        return Ok(());
    };
    let rows = store.history(job, limit)?;
    unknown(&rows)?;
    let tz = loaded.global.timezone;
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                v["slot_utc"] = serde_json::Value::String(
                    crate::util::to_utc(r.slot).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
                v
            })
            .collect();
        out!("{}", serde_json::Value::Array(items));
        return Ok(());
    }
    out!(
        "{:>6} {:<22} {:<9} {:<25} {:<12} {:>3} {:>9}  DETAIL",
        "RUN",
        "JOB",
        "TRIGGER",
        "SLOT",
        "STATUS",
        "TRY",
        "DURATION"
    );
    for r in rows {
        let slot = crate::util::to_utc(r.slot)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z");
        let dur = r
            .duration_ms
            .map(|ms| {
                crate::util::duration::format(std::time::Duration::from_millis(ms.max(0) as u64))
            })
            .unwrap_or_default();
        let detail = [r.reason.as_deref(), r.error.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        out!(
            "{:>6} {:<22} {:<9} {:<25} {:<12} {:>3} {:>9}  {}",
            r.id,
            r.job,
            r.trigger,
            slot,
            r.status,
            r.attempts,
            dur,
            detail
        );
    }
    Ok(())
}

/// `clawcron ledger migrate --to postgres://...`: this state directory's SQLite ledger copied
/// whole into an empty PostgreSQL ledger (no daemon may run on it meanwhile).
pub(super) fn migrate(
    to: &str,
    password_env: Option<String>,
    password_file: Option<std::path::PathBuf>,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    use crate::model::Password;
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(Error::Usage(format!(
            "`{to}` is not a PostgreSQL URL: give `--to postgres://USER@HOST:PORT/DATABASE`"
        )));
    }
    let password = match (password_env, password_file) {
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "give `--password-env` or `--password-file`, not both".into(),
            ));
        }
        (Some(v), None) => Some(Password::Env(v)),
        (None, Some(f)) => Some(Password::File(f)),
        (None, None) => std::env::var("PGPASSWORD")
            .is_ok()
            .then(|| Password::Env("PGPASSWORD".into())),
    };
    let password = password
        .map(|p| crate::config::secrets::read(&p, "the ledger's password"))
        .transpose()
        .map_err(Error::Usage)?;
    if !state_dir.join("clawcron.db").exists() {
        return Err(Error::Usage(no_ledger(state_dir)));
    }
    // No daemon writes to the source while it is copied.
    let _lock = Store::lock_daemon(state_dir)?;
    let source = Store::open(state_dir)?;
    let dest = Store::open_postgres(&crate::store::db::PgTarget {
        url: to.to_string(),
        password,
        pool_size: 2,
    })?;
    let started = std::time::Instant::now();
    let copied = source
        .copy_into(&dest, |table, n| {
            if n > 0 {
                eprintln!("copied {n} row(s) of {table}");
            }
        })
        .map_err(|e| Error::Usage(e.to_string()))?;
    out!(
        "copied {} row(s) into the PostgreSQL ledger in {:.1} s; set `ledger: {{ url: \"{to}\", password_env: ... }}` in clawcron.yaml on each node",
        copied.total(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
