//! Figures over samples: median, percentiles (nearest rank), summaries, change, downsampling.

use crate::util::stats::{median, percentile};
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
    pub mean: f64,
    pub first: f64,
    pub last: f64,
}

/// A series' summary, `None` when it is empty.
pub fn summarize(series: &[(i64, f64)]) -> Option<Summary> {
    let values: Vec<f64> = series.iter().map(|(_, v)| *v).collect();
    let median = median(&values)?;
    let p95 = percentile(&values, 95.0)?;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(Summary {
        count: values.len(),
        min,
        median,
        p95,
        max,
        mean: values.iter().sum::<f64>() / values.len() as f64,
        first: values[0],
        last: values[values.len() - 1],
    })
}

/// The change from `before` to `now`, in percent of `before`.
pub fn change_pct(now: f64, before: f64) -> Option<f64> {
    (before != 0.0 && now.is_finite() && before.is_finite())
        .then(|| (now - before) / before.abs() * 100.0)
}

/// At most `max` points that keep the shape: the series cut into `max / 2` buckets, each kept as
/// its minimum and maximum in time order (so a spike survives).
pub fn downsample(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let buckets = max / 2;
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max);
    for chunk in points.chunks(size) {
        let (mut lo, mut hi) = (chunk[0], chunk[0]);
        for p in chunk {
            if p.1 < lo.1 {
                lo = *p;
            }
            if p.1 > hi.1 {
                hi = *p;
            }
        }
        if lo.0 <= hi.0 {
            out.push(lo);
            if hi != lo {
                out.push(hi);
            }
        } else {
            out.push(hi);
            out.push(lo);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_and_medians() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 95.0), Some(19.0));
        assert_eq!(percentile(&v, 100.0), Some(20.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(median(&v), Some(10.5));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(change_pct(80.0, 100.0), Some(-20.0));
        assert_eq!(change_pct(1.0, 0.0), None);
    }

    #[test]
    fn downsampling_keeps_spikes_and_bounds_the_size() {
        let mut pts: Vec<(i64, f64)> = (0..10_000).map(|i| (i, 1.0)).collect();
        pts[5_000].1 = 99.0;
        let d = downsample(&pts, 200);
        assert!(d.len() <= 200, "{}", d.len());
        assert!(d.contains(&(5_000, 99.0)));
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
