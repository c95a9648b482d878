//! Reports from the ledger: a period (an ISO week), a context built from what clawcron recorded
//! in it and in the period before (runs, missed slots, alerts, figures, baselines, notices, the
//! daemon's own downtime), recommendations from rules over that data, a checklist ticked from
//! evidence, rendered with minijinja templates to Markdown and to a self-contained HTML file
//! (inline CSS and SVG charts).

use crate::model::Period;
pub mod advice;
pub mod chart;
pub mod context;
pub mod stats;

use crate::model::{Lang, ReportSpec};
use crate::store::Store;
use crate::template::{TemplateError, Templates};
use std::path::PathBuf;

impl ReportSpec {
    pub fn templates(&self) -> Templates {
        Templates::new(self.templates_dir.clone(), self.timezone).in_lang(self.lang)
    }

    fn template_name(&self, ext: &str) -> String {
        match self.lang {
            Lang::En => format!("{}.{ext}.j2", self.template),
            lang => format!("{}.{}.{ext}.j2", self.template, lang.code()),
        }
    }

    /// The shipped template for `name`, when it is one of ours.
    fn shipped(name: &str) -> Option<&'static str> {
        Some(match name {
            "weekly-report.md.j2" => include_str!("../../templates/weekly-report.md.j2"),
            "weekly-report.html.j2" => include_str!("../../templates/weekly-report.html.j2"),
            "weekly-report.fr.md.j2" => include_str!("../../templates/weekly-report.fr.md.j2"),
            "weekly-report.fr.html.j2" => include_str!("../../templates/weekly-report.fr.html.j2"),
            _ => return None,
        })
    }
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub period: Period,
    pub title: String,
    pub markdown: String,
    pub html: String,
    /// One line for notices: the headline figures.
    pub summary: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Builds the context of `period` and renders both formats, each within `bounds` (see
/// `template::Bounds`: fuel, output size, and the stop flag of the run's timeout).
pub fn render(
    spec: &ReportSpec,
    store: &Store,
    period: &Period,
    now_ms: i64,
    evidence: &advice::Observed,
    bounds: &crate::template::Bounds,
) -> Result<Rendered, ReportError> {
    let ctx = context::build(spec, store, period, now_ms, evidence)?;
    let value = serde_json::to_value(&ctx).unwrap_or_default();
    let templates = spec.templates().with_bounds(bounds.clone());
    let env_setup = context::functions(spec, store, period);
    let render = |ext: &str| -> Result<String, TemplateError> {
        let name = spec.template_name(ext);
        templates.render_with(&name, ReportSpec::shipped(&name), &value, &env_setup)
    };
    Ok(Rendered {
        title: ctx.report.title.clone(),
        summary: ctx.summary.clone(),
        period: period.clone(),
        markdown: render("md")?,
        html: render("html")?,
    })
}

/// Writes `<out_dir>/<job>-<period>.md` and `.html` (each through a temporary file and a
/// rename, so a reader never sees half a report); returns their paths. `live` is asked before
/// each rename: a run whose time is up leaves no report (its temporary file is removed).
pub fn write(
    spec: &ReportSpec,
    job: &str,
    r: &Rendered,
    live: &dyn Fn() -> bool,
) -> std::io::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(&spec.out_dir)?;
    let suffix = match spec.lang {
        Lang::En => String::new(),
        l => format!(".{}", l.code()),
    };
    let base = format!("{job}-{}{suffix}", r.period.label);
    let put = |ext: &str, text: &str| -> std::io::Result<PathBuf> {
        let path = spec.out_dir.join(format!("{base}.{ext}"));
        let tmp = spec.out_dir.join(format!(".{base}.{ext}.tmp"));
        std::fs::write(&tmp, text)?;
        if !live() {
            let _ = std::fs::remove_file(&tmp);
            return Err(std::io::Error::other(
                "the run's time was up before the report was in place: not written",
            ));
        }
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    };
    Ok((put("md", &r.markdown)?, put("html", &r.html)?))
}
