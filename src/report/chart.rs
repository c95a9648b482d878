//! SVG line charts for reports, drawn with plotters' SVG backend: a time axis with dates, a value
//! axis with its unit, the series as a line with a marker at each point, the baseline (when
//! pinned) as a dashed line and each alert threshold as a dotted one, each named in the legend
//! with its own style, so the chart reads without colour. A figure with fewer than two samples
//! is said in a line, not drawn as a chart.

use plotters::prelude::*;

/// What a chart shows.
pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub points: &'a [(i64, f64)],
    pub baseline: Option<f64>,
    /// Alert thresholds, drawn as dotted lines.
    pub thresholds: &'a [f64],
    pub timezone: chrono_tz::Tz,
    pub no_data: &'a str,
    pub lang: crate::i18n::Lang,
    /// The figure's name, for the units of a single sample.
    pub metric: &'a str,
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
    let lang = spec.lang;
    let line = match spec.points {
        [(at, v)] => crate::i18n::tf(
            lang,
            "chart.one",
            &[
                ("title", spec.title),
                ("value", &crate::i18n::figure(spec.metric, *v, lang)),
                ("at", &crate::i18n::datetime_short(*at, spec.timezone, lang)),
            ],
        ),
        _ => format!(
            "{}{} {}",
            spec.title,
            if lang == crate::i18n::Lang::Fr {
                " :"
            } else {
                ":"
            },
            spec.no_data
        ),
    };
    let root = SVGBackend::with_string(out, (W, 80)).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        line,
        (12, 30),
        ("sans-serif", 16).into_font().color(&BLACK),
    ))?;
    root.present()?;
    Ok(())
}

fn draw(spec: &ChartSpec<'_>, out: &mut String) -> DrawResult {
    let pts = spec.points;
    if pts.len() < 2 {
        return Err("not enough data for a chart".into());
    }
    let lang = spec.lang;
    let word = |k: &str| crate::i18n::t(lang, k).to_string();
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0.max(pts[0].0 + 1));
    let mut lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let mut hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    for b in spec.baseline.iter().chain(spec.thresholds) {
        lo = lo.min(*b);
        hi = hi.max(*b);
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
    // Room for the value labels and the unit, so that neither is clipped.
    let mut chart = ChartBuilder::on(&root)
        .caption(spec.title, ("sans-serif", 16))
        .margin(10)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, lo..hi)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&date)
        .y_label_formatter(&|v| format_axis(*v, lang))
        .y_desc(spec.unit)
        .light_line_style(BLACK.mix(0.06))
        .draw()?;
    let ink = RGBColor(31, 78, 121);
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), ink.stroke_width(2)))?
        .label(word("chart.measured"))
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
            .label(word("chart.baseline"))
            // Dashed in the legend too.
            .legend(|(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (6, 0)], BLACK.stroke_width(1))
                    + PathElement::new(vec![(10, 0), (16, 0)], BLACK.stroke_width(1))
            });
    }
    let red = RGBColor(178, 34, 34);
    for t in spec.thresholds {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, *t), (x1, *t)],
                2,
                3,
                red.stroke_width(2),
            ))?
            .label(format!(
                "{} {}",
                word("chart.threshold"),
                crate::i18n::threshold(spec.metric, *t, lang)
            ))
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (2, 0)], red.stroke_width(2))
                    + PathElement::new(vec![(5, 0), (7, 0)], red.stroke_width(2))
                    + PathElement::new(vec![(10, 0), (12, 0)], red.stroke_width(2))
                    + PathElement::new(vec![(15, 0), (17, 0)], red.stroke_width(2))
            });
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

fn format_axis(v: f64, lang: crate::i18n::Lang) -> String {
    let digits = if v.abs() >= 100.0 || v == v.trunc() {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    crate::i18n::num(v, digits, lang)
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
            thresholds: &[30.0],
            timezone: chrono_tz::UTC,
            no_data: "no data",
            lang: crate::i18n::Lang::En,
            metric: "ollama.tokens_per_s",
        });
        assert!(svg.starts_with("<figure"), "{svg}");
        assert!(svg.contains("<svg") && svg.contains("Ollama tokens/s"));
        assert!(
            svg.matches("tokens/s").count() >= 2,
            "title and the value axis' unit"
        );
        assert!(svg.contains("<circle"), "markers");
        assert!(svg.contains("baseline (before)"));
        assert!(svg.contains("threshold 30 tokens/s"), "{svg}");
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
            thresholds: &[],
            timezone: chrono_tz::UTC,
            no_data: "no data",
            lang: crate::i18n::Lang::En,
            metric: "latency_ms",
        });
        assert!(empty.contains("Latency: no data"), "{empty}");
        // One sample is said, not drawn as a chart.
        let one = line_chart(&ChartSpec {
            title: "Latency",
            unit: "ms",
            points: &[(1_790_000_000_000, 6002.0)],
            baseline: None,
            thresholds: &[],
            timezone: chrono_tz::UTC,
            no_data: "no data",
            lang: crate::i18n::Lang::Fr,
            metric: "latency_ms",
        });
        assert!(
            one.contains("Latency : une seule mesure, 6,0 s le "),
            "{one}"
        );
        assert!(!one.contains("<circle"), "{one}");
    }
}
