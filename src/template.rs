//! Templates users edit: Jinja syntax (minijinja), read from the `templates/` folder, with the
//! shipped copy compiled in as the fallback when the file is absent. Errors name the template's
//! file and line.

use chrono_tz::Tz;
use std::path::{Path, PathBuf};

/// No template is read past this size.
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// A template file and its shipped text.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    pub name: &'static str,
    pub text: &'static str,
}

/// Where the user's templates are, and how times are shown.
#[derive(Debug, Clone)]
pub struct Templates {
    pub dir: PathBuf,
    pub timezone: Tz,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub what: String,
}

impl Templates {
    pub fn new(dir: impl Into<PathBuf>, timezone: Tz) -> Self {
        Templates {
            dir: dir.into(),
            timezone,
        }
    }

    /// Renders `name` from the templates folder, or the shipped text if the file is absent.
    pub fn render(
        &self,
        name: &str,
        shipped: Option<&str>,
        ctx: &serde_json::Value,
    ) -> Result<String, TemplateError> {
        self.render_with(name, shipped, ctx, &|_| {})
    }

    /// As `render`, with functions and filters added by `setup`.
    pub fn render_with(
        &self,
        name: &str,
        shipped: Option<&str>,
        ctx: &serde_json::Value,
        setup: &dyn Fn(&mut minijinja::Environment<'_>),
    ) -> Result<String, TemplateError> {
        let path = self.dir.join(name);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_TEMPLATE_BYTES) {
            return Err(TemplateError {
                file: path.display().to_string(),
                line: 0,
                what: format!("larger than the {MAX_TEMPLATE_BYTES}-byte limit for a template"),
            });
        }
        let (text, file) = match std::fs::read_to_string(&path) {
            Ok(t) => (t, path.display().to_string()),
            Err(e) => match shipped {
                Some(t) if e.kind() == std::io::ErrorKind::NotFound => {
                    (t.to_string(), format!("{name} (shipped)"))
                }
                _ => {
                    return Err(TemplateError {
                        file: path.display().to_string(),
                        line: 0,
                        what: format!("cannot read: {e}"),
                    });
                }
            },
        };
        self.render_str_with(&file, name, &text, ctx, setup)
    }

    /// Renders `text`, reporting errors against `file`.
    pub fn render_str(
        &self,
        file: &str,
        name: &str,
        text: &str,
        ctx: &serde_json::Value,
    ) -> Result<String, TemplateError> {
        self.render_str_with(file, name, text, ctx, &|_| {})
    }

    fn render_str_with(
        &self,
        file: &str,
        name: &str,
        text: &str,
        ctx: &serde_json::Value,
        setup: &dyn Fn(&mut minijinja::Environment<'_>),
    ) -> Result<String, TemplateError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        let html = name.ends_with(".html.j2") || name.ends_with(".html");
        env.set_auto_escape_callback(move |_| {
            if html {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        let tz = self.timezone;
        env.add_filter("time", move |ms: i64| -> String {
            crate::util::to_utc(ms / 1000)
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        });
        env.add_filter("duration_ms", |ms: i64| -> String {
            crate::util::duration::format(std::time::Duration::from_millis(ms.max(0) as u64))
        });
        setup(&mut env);
        let fail = |e: minijinja::Error| TemplateError {
            file: file.to_string(),
            line: e.line().unwrap_or(0),
            what: match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            },
        };
        env.add_template(name, text).map_err(fail)?;
        let tmpl = env.get_template(name).map_err(fail)?;
        tmpl.render(minijinja::Value::from(minijinja::value::Serde(ctx)))
            .map_err(fail)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_error_names_file_and_line() {
        let t = Templates::new("/nonexistent", chrono_tz::UTC);
        let err = t
            .render(
                "x.txt.j2",
                Some("line one\n{{ job }\n"),
                &serde_json::json!({}),
            )
            .unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("x.txt.j2 (shipped)", 2));
        assert!(err.what.contains("syntax error"), "{}", err.what);
    }

    #[test]
    fn html_templates_escape_and_text_ones_do_not() {
        let t = Templates::new("/nonexistent", chrono_tz::UTC);
        let ctx = serde_json::json!({"e": "<b>&", "at": 0});
        assert_eq!(
            t.render("a.html.j2", Some("{{ e }}"), &ctx).unwrap(),
            "&lt;b&gt;&amp;"
        );
        assert_eq!(
            t.render("a.txt.j2", Some("{{ e }} {{ at | time }}"), &ctx)
                .unwrap(),
            "<b>& 1970-01-01 00:00:00 UTC"
        );
    }
}
