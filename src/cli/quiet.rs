//! `pause`, `resume`, `silence`, `silences`, `unsilence`: written to the ledger, so the running
//! daemon (and any process on the ledger) holds them within a second, and they survive restarts.

use super::*;

/// Who did it: the user's name.
fn who() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "cli".into())
}

pub(super) fn pause(
    loaded: &Loaded,
    id: &str,
    reason: &str,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    find_job(loaded, id)?;
    let store = open_store(loaded, state_dir)?;
    store.pause(id, reason, &who(), Utc::now().timestamp_millis())?;
    crate::control::tell_changed(state_dir, crate::control::Changed::Pauses);
    out!("{id}: paused ({reason}); its slots are recorded as skipped until `clawcron resume {id}`");
    Ok(())
}

pub(super) fn resume(loaded: &Loaded, id: &str, state_dir: &std::path::Path) -> Result<(), Error> {
    find_job(loaded, id)?;
    let store = open_store(loaded, state_dir)?;
    match store.resume(id)? {
        Some(p) => {
            crate::control::tell_changed(state_dir, crate::control::Changed::Pauses);
            out!(
                "{id}: resumed (paused by {} at {}: {}); the paused slots are not re-run (`clawcron backfill` can)",
                p.by,
                local_ms(p.at_ms, loaded.global.timezone),
                p.reason
            );
            Ok(())
        }
        None => Err(Error::Usage(format!("{id} is not paused"))),
    }
}

pub(super) fn silence(
    loaded: &Loaded,
    id: &str,
    rule: Option<&str>,
    lasts: &str,
    reason: &str,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?;
    if let Some(r) = rule
        && !job.alerts.iter().any(|a| a.name == r)
    {
        let help = config::diag::did_you_mean(r, job.alerts.iter().map(|a| a.name.as_str()));
        return Err(Error::Usage(format!(
            "{id} has no alert rule `{r}`{}",
            help.map(|h| format!("\n  = help: {h}")).unwrap_or_default()
        )));
    }
    let d = crate::util::duration::parse(lasts).map_err(|e| Error::Usage(format!("--for: {e}")))?;
    let now = Utc::now().timestamp_millis();
    let store = open_store(loaded, state_dir)?;
    let s = crate::model::Silence {
        id: 0,
        job: id.to_string(),
        rule: rule.map(str::to_string),
        reason: reason.to_string(),
        by: who(),
        created_at_ms: now,
        ends_at_ms: now + d.as_millis() as i64,
    };
    let n = store.add_silence(&s)?;
    crate::control::tell_changed(state_dir, crate::control::Changed::Silences);
    out!(
        "silence {n}: {id}{} silenced until {} ({reason}); what still fires then is told once",
        rule.map(|r| format!(" {r}")).unwrap_or_default(),
        local_ms(s.ends_at_ms, loaded.global.timezone)
    );
    Ok(())
}

pub(super) fn silences(
    loaded: &Loaded,
    json: bool,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let now = Utc::now().timestamp_millis();
    let (list, pauses) = match existing_store(loaded, state_dir)? {
        Some(s) => (s.active_silences(now)?, s.pauses()?),
        None => (Vec::new(), Vec::new()),
    };
    if json {
        out!(
            "{}",
            serde_json::json!({ "silences": list, "pauses": pauses })
        );
        return Ok(());
    }
    let tz = loaded.global.timezone;
    out!(
        "{:<5} {:<22} {:<18} {:<25} {:<10} REASON",
        "ID",
        "JOB",
        "RULE",
        "UNTIL",
        "BY"
    );
    for s in &list {
        out!(
            "{:<5} {:<22} {:<18} {:<25} {:<10} {}",
            s.id,
            s.job,
            s.rule.as_deref().unwrap_or("(all)"),
            local_ms(s.ends_at_ms, tz),
            s.by,
            s.reason
        );
    }
    for h in &loaded.global.quiet_hours {
        out!(
            "{:<5} {:<22} {:<18} {:<25} {:<10} {}",
            "-",
            if h.jobs.is_empty() {
                "(all)".to_string()
            } else {
                h.jobs.join(",")
            },
            if h.rules.is_empty() {
                "(all)".to_string()
            } else {
                h.rules.join(",")
            },
            "recurring (clawcron.yaml)",
            "-",
            h.reason
        );
    }
    for p in &pauses {
        out!(
            "paused: {} since {} by {}: {}",
            p.job,
            local_ms(p.at_ms, tz),
            p.by,
            p.reason
        );
    }
    Ok(())
}

pub(super) fn unsilence(
    loaded: &Loaded,
    id: i64,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let store = open_store(loaded, state_dir)?;
    match store.end_silence(id, Utc::now().timestamp_millis())? {
        Some(s) => {
            crate::control::tell_changed(state_dir, crate::control::Changed::Silences);
            out!(
                "silence {id} of {} ended; what still fires is told once (by the daemon)",
                s.job
            );
            let _ = loaded;
            Ok(())
        }
        None => Err(Error::Usage(format!(
            "no active silence {id} (`clawcron silences` lists them)"
        ))),
    }
}
