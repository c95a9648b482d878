//! `report` and `baseline`.

use super::*;

pub(super) fn report(
    loaded: &Loaded,
    id: &str,
    period: Option<&str>,
    out: Option<&str>,
    lang: Option<crate::i18n::Lang>,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let job = find_job(loaded, id)?;
    let crate::model::ActionSpec::Report(spec) = &job.action else {
        return Err(Error::Usage(format!(
            "`{id}` is a {} job, not a report",
            job.action.kind()
        )));
    };
    let mut spec = (**spec).clone();
    if let Some(p) = period {
        spec.period = crate::model::PeriodSpec::parse(p).map_err(Error::Usage)?;
    }
    if let Some(l) = lang {
        spec.set_lang(l);
    }
    let store = open_store(loaded, state_dir)?;
    let now = Utc::now().timestamp_millis();
    let period = spec.period.resolve(now, spec.timezone);
    let ctx = crate::action::AttemptCtx::new(
        id,
        0,
        tokio_util::sync::CancellationToken::new(),
        loaded.global.kill_grace,
    )
    .env(crate::daemon::job_env(state_dir));
    let observed = runtime()?.block_on(crate::action::report::observe(
        &spec,
        crate::util::boot_id(),
        std::time::Duration::from_secs(20),
        &ctx,
    ));
    let r = crate::report::render(
        &spec,
        &store,
        &period,
        now,
        &observed,
        &crate::template::Bounds::report(),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let io = |context: String| move |source| Error::Io { context, source };
    match out {
        Some("-") => print!("{}", r.markdown),
        Some(file) => {
            let text = if file.ends_with(".html") || file.ends_with(".htm") {
                &r.html
            } else {
                &r.markdown
            };
            std::fs::write(file, text).map_err(io(format!("cannot write {file}")))?;
            eprintln!("{}\nwrote {file}", r.summary);
        }
        None => {
            let (md, html) = crate::report::write(&spec, id, &r, &|| true)
                .map_err(io(format!("cannot write into {}", spec.out_dir.display())))?;
            out!(
                "{}\nwrote {}\nwrote {}",
                r.summary,
                md.display(),
                html.display()
            );
        }
    }
    Ok(())
}

pub(super) fn baseline(
    loaded: &Loaded,
    id: &str,
    set: bool,
    runs: usize,
    label: Option<&str>,
    state_dir: &std::path::Path,
) -> Result<(), Error> {
    let store = open_store(loaded, state_dir)?;
    let tz = loaded
        .job(id)
        .map_or(loaded.global.timezone, |j| job_tz(loaded, j));
    if set {
        let recent = store.recent_successful_metrics(id, i64::MAX, runs.max(1))?;
        if recent.is_empty() {
            if loaded.job(id).is_none() {
                find_job(loaded, id)?;
            }
            return Err(Error::Usage(format!(
                "`{id}` has no successful run with figures to pin yet: run it first (clawcron trigger {id})"
            )));
        }
        let mut by_name: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
        for (name, v) in recent {
            by_name.entry(name).or_default().push(v);
        }
        let values: Vec<(String, f64)> = by_name
            .into_iter()
            .filter_map(|(n, v)| crate::util::stats::median(&v).map(|m| (n, m)))
            .collect();
        store.pin_baseline(id, &values, label, Utc::now().timestamp_millis())?;
        out!("pinned as the baseline of {id}:");
    }
    let pinned: Vec<_> = store
        .baselines()?
        .into_iter()
        .filter(|b| b.job == id)
        .collect();
    if pinned.is_empty() && loaded.job(id).is_none() {
        find_job(loaded, id)?;
    }
    if pinned.is_empty() {
        out!("{id}: no baseline pinned (the regression check uses the median of recent runs)");
    }
    for b in pinned {
        out!(
            "  {:<32} {:>14.3}  pinned {}{}",
            b.metric,
            b.value,
            local_ms(b.pinned_at, tz),
            b.label.map(|l| format!(" ({l})")).unwrap_or_default()
        );
    }
    Ok(())
}
