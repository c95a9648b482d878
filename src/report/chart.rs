//! SVG line charts for reports, drawn with plotters' SVG backend: a time axis with dates, a value
//! axis with its unit, the series as a line with a marker at each point (and the baseline, when
//! pinned, as a dashed line named in the legend), so the chart reads without colour.

use plotters::prelude::*;

/// What a chart shows.
pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub points: &'a [(i64, f64)],
    pub baseline: Option<f64>,
    pub timezone: chrono_tz::Tz,
    pub no_data: &'a str,
}

const W: u32 = 720;
const H: u32 = 260;

/// The chart as an `<svg>` element (no XML prolog, ready to inline in HTML).
pub fn line_chart(spec: &ChartSpec<'_>) -> String {
    let mut svg = String::new();
    if draw(spec, &mut svg).is_err() || svg.is_empty() {
        svg.clear();
        let _ = draw_empty(spec, &mut svg);
    }
    format!(
        "<figure class=\"chart\" role=\"img\" aria-label=\"{}\">{svg}</figure>",
        escape(spec.title)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_empty(spec: &ChartSpec<'_>, out: &mut String) -> DrawResult {
    let root = SVGBackend::with_string(out, (W, 80)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        format!("{}: {}", spec.title, spec.no_data),
        (12, 30),
        ("sans-serif", 16).into_font().color(&BLACK),
    ))?;
    root.present()?;
    Ok(())
}

fn draw(spec: &ChartSpec<'_>, out: &mut String) -> DrawResult {
    let pts = spec.points;
    if pts.is_empty() {
        return Err("no data".into());
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0.max(pts[0].0 + 1));
    let mut lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if let Some(b) = spec.baseline {
        lo = lo.min(b);
        hi = hi.max(b);
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.05).max(1e-9);
    let (lo, hi) = (
        (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::MIN }),
        hi + pad,
    );
    let tz = spec.timezone;
    let span_days = (x1 - x0) as f64 / 86_400_000.0;
    let date = move |ms: &i64| {
        let t = crate::util::to_utc(ms.div_euclid(1000)).with_timezone(&tz);
        if span_days > 2.0 {
            t.format("%d/%m").to_string()
        } else {
            t.format("%d/%m %H:%M").to_string()
        }
    };
    let root = SVGBackend::with_string(out, (W, H)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(spec.title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, lo..hi)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&date)
        .y_label_formatter(&|v| format_axis(*v))
        .y_desc(spec.unit)
        .light_line_style(BLACK.mix(0.06))
        .draw()?;
    let ink = RGBColor(31, 78, 121);
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), ink.stroke_width(2)))?
        .label("measured")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], ink.stroke_width(2)));
    if pts.len() <= 120 {
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, ink.filled())))?;
    }
    if let Some(b) = spec.baseline {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, b), (x1, b)],
                6,
                4,
                BLACK.stroke_width(1),
            ))?
            .label("baseline (before)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .position(SeriesLabelPosition::LowerLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

fn format_axis(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_axes_labels_markers_and_a_dashed_baseline() {
        let pts: Vec<(i64, f64)> = (0..30)
            .map(|d| (1_790_000_000_000 + d * 86_400_000, 40.0 + d as f64))
            .collect();
        let svg = line_chart(&ChartSpec {
            title: "Ollama tokens/s",
            unit: "tokens/s",
            points: &pts,
            baseline: Some(50.0),
            timezone: chrono_tz::UTC,
            no_data: "no data",
        });
        assert!(svg.starts_with("<figure"), "{svg}");
        assert!(svg.contains("<svg") && svg.contains("Ollama tokens/s"));
        assert!(
            svg.matches("tokens/s").count() >= 2,
            "title and the value axis' unit"
        );
        assert!(svg.contains("<circle"), "markers");
        assert!(svg.contains("baseline (before)"));
        // 30 days from 2026-09-21: day/month labels on the time axis.
        assert!(
            svg.contains("/09\n") && svg.contains("/10\n"),
            "dates on the time axis"
        );
        let empty = line_chart(&ChartSpec {
            title: "Latency",
            unit: "ms",
            points: &[],
            baseline: None,
            timezone: chrono_tz::UTC,
            no_data: "no data",
        });
        assert!(empty.contains("Latency: no data"), "{empty}");
    }
}
