//! The job commands: `check`, `list`, `next`.

use super::*;

pub(super) fn check(loaded: &Loaded) -> Result<(), Error> {
    if !loaded.errors.is_empty() {
        return Err(invalid(loaded, loaded.errors.clone()));
    }
    if loaded.global.ledger.is_some() {
        for w in crate::cluster::placement_warnings(&loaded.jobs) {
            eprintln!("warning: {w}");
        }
    }
    out!(
        "ok: {} job{} valid in {}",
        loaded.jobs.len(),
        if loaded.jobs.len() == 1 { "" } else { "s" },
        loaded.jobs_dir.display()
    );
    Ok(())
}

pub(super) fn list(loaded: &Loaded, state_dir: &std::path::Path) -> Result<(), Error> {
    let now = Utc::now().timestamp();
    // Paused jobs say so, with who, when and why (the ledger is read only if it exists).
    let pauses = match existing_store(loaded, state_dir) {
        Ok(Some(s)) => s.pauses().unwrap_or_default(),
        _ => Vec::new(),
    };
    out!(
        "{:<24} {:<15} {:<36} {:<26} DESCRIPTION",
        "JOB",
        "KIND",
        "SCHEDULE",
        "NEXT"
    );
    for job in &loaded.jobs {
        let tz = job_tz(loaded, job);
        let paused = pauses.iter().find(|p| p.job == *job.id);
        let next = if !job.enabled {
            "disabled".to_string()
        } else if let Some(p) = paused {
            format!(
                "paused by {} at {}: {}",
                p.by,
                local_ms(p.at_ms, tz),
                p.reason
            )
        } else {
            match job.trigger.next_after(now) {
                Some(t) => crate::util::to_utc(t)
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string(),
                None if matches!(job.trigger, Trigger::Chained) => "when chained".into(),
                None => "at daemon start".into(),
            }
        };
        out!(
            "{:<24} {:<8} {:<36} {:<26} {}",
            job.id,
            job.action.kind(),
            job.describe_trigger(),
            next,
            job.description
        );
    }
    if !loaded.errors.is_empty() {
        return Err(invalid(loaded, loaded.errors.clone()));
    }
    Ok(())
}

pub(super) fn parse_from(text: &str, tz: Tz) -> Result<i64, Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, fmt) {
            return tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.timestamp())
                .ok_or_else(|| Error::Usage(format!("`{text}` does not exist in {tz} (DST gap)")));
        }
    }
    Err(Error::Usage(format!(
        "cannot read `--from {text}`: expected RFC 3339 (2026-03-29T01:00:00Z) or `YYYY-MM-DD HH:MM[:SS]`"
    )))
}

pub(super) fn next(
    loaded: &Loaded,
    id: &str,
    count: usize,
    from: Option<&str>,
    json: bool,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?;
    let tz = job_tz(loaded, job);
    let start = match from {
        Some(text) => parse_from(text, tz)? - 1,
        None => Utc::now().timestamp(),
    };
    let mut slots = Vec::new();
    let mut t = start;
    while slots.len() < count {
        let Some(n) = job.trigger.next_after(t) else {
            break;
        };
        slots.push(n);
        t = n;
    }
    let rows: Vec<(String, String, Option<String>)> = slots
        .iter()
        .map(|&s| {
            let utc = crate::util::to_utc(s);
            let mark = match &job.trigger {
                Trigger::Cron(c) => schedule::dst_mark(c, s).map(|m| m.describe()),
                _ => None,
            };
            (
                utc.with_timezone(&tz).to_rfc3339(),
                utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                mark,
            )
        })
        .collect();
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(local, utc, mark)| {
                let mut item = serde_json::json!({ "local": local, "utc": utc, "dst": mark });
                if !job.enabled {
                    item["disabled"] = serde_json::json!(true);
                }
                item
            })
            .collect();
        out!("{}", serde_json::Value::Array(items));
        return Ok(());
    }
    if let (Trigger::Chained, Some(after)) = (&job.trigger, &job.after) {
        out!(
            "{id}: runs only when chained ({}); no clock slots",
            after.describe()
        );
        return Ok(());
    }
    if matches!(job.trigger, Trigger::AtStart) {
        out!(
            "{id}: runs when the daemon starts (at most once per boot); no clock slots{}",
            if job.enabled {
                ""
            } else {
                "; disabled (enabled: false)"
            }
        );
        return Ok(());
    }
    if job.enabled {
        out!("{id}: {} in {tz}", job.trigger.describe());
    } else {
        out!(
            "{id}: {} in {tz}; disabled (enabled: false in {}): none of these slots runs",
            job.trigger.describe(),
            job.path.display()
        );
    }
    for (&s, (_, utc, mark)) in slots.iter().zip(&rows) {
        let local = crate::util::to_utc(s)
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z (%:z)");
        match mark {
            Some(m) => out!("  {local}  {utc}  * {m}"),
            None => out!("  {local}  {utc}"),
        }
    }
    if slots.len() < count {
        out!(
            "  (no slot after {}: this schedule never fires again)",
            slots.last().map_or_else(
                || "the start".to_string(),
                |&s| crate::util::to_utc(s).to_rfc3339()
            )
        );
    }
    Ok(())
}
