//! Regressions: a benchmark figure compared with its baseline after each successful run. The
//! baseline is the median of the job's last N successful runs (default 7), or the pinned one
//! (`clawcron baseline JOB --set`) with `against: pinned`. A figure where higher is better
//! regresses below `threshold` of it (default 80 %); one where lower is better, above
//! 1 / threshold of it (125 %).

use crate::model::{Against, Better, Found, RegressionSpec};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// Compares the figures of run `run_id` with their baselines.
pub fn check(
    store: &Store,
    job: &str,
    run_id: i64,
    spec: &RegressionSpec,
    figures: &[crate::model::Metric],
) -> Result<Vec<Found>, StoreError> {
    let recent = store.recent_successful_metrics(job, run_id, spec.runs)?;
    let mut by_name: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for (name, v) in &recent {
        by_name.entry(name.as_str()).or_default().push(*v);
    }
    let pinned = if spec.against == Against::Pinned {
        store.baselines()?
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for (name, better) in &spec.metrics {
        let Some(m) = figures.iter().rev().find(|m| &m.name == name) else {
            continue;
        };
        let pin = pinned
            .iter()
            .find(|b| b.job == job && &b.metric == name)
            .map(|b| (b.value, "the pinned baseline".to_string()));
        let base = pin.or_else(|| {
            let v = by_name.get(name.as_str())?;
            // Too few runs make no baseline: half the window at least.
            (v.len() * 2 >= spec.runs).then(|| {
                (
                    crate::util::stats::median(v).unwrap_or(f64::NAN),
                    format!("the median of the last {} runs", v.len()),
                )
            })
        });
        let Some((baseline, what)) = base.filter(|(b, _)| b.is_finite() && *b > 0.0) else {
            continue;
        };
        let ratio = m.value / baseline;
        let regressed = match better {
            Better::Higher => ratio < spec.threshold,
            Better::Lower => ratio > 1.0 / spec.threshold,
        };
        if regressed {
            let round = |v: f64| (v * 100.0).round() / 100.0;
            out.push(Found {
                metric: name.clone(),
                value: m.value,
                baseline,
                ratio,
                detail: format!(
                    "{name} {} is {:.0} % of {what} ({}); the limit is {}",
                    round(m.value),
                    ratio * 100.0,
                    round(baseline),
                    match better {
                        Better::Higher => format!("{:.0} %", spec.threshold * 100.0),
                        Better::Lower => format!("{:.0} %", 100.0 / spec.threshold),
                    }
                ),
            });
        }
    }
    Ok(out)
}
