//! Templates users edit: Jinja syntax (minijinja), read from the `templates/` folder, with the
//! shipped copy compiled in as the fallback when the file is absent. Errors name the template's
//! file and line.

use crate::i18n::{self, Lang};
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

/// Where the user's templates are, and how times are shown, in which language.
#[derive(Debug, Clone)]
pub struct Templates {
    pub dir: PathBuf,
    pub timezone: Tz,
    pub lang: Lang,
    /// Channels with their own language (notices only).
    pub channel_langs: std::collections::HashMap<String, Lang>,
    /// The dashboard's address, for links (`http://127.0.0.1:8787/`), when the API is on.
    pub dashboard: Option<String>,
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
            lang: Lang::En,
            channel_langs: std::collections::HashMap::new(),
            dashboard: None,
        }
    }

    /// The same templates, written in `lang`.
    pub fn in_lang(&self, lang: Lang) -> Templates {
        Templates {
            lang,
            ..self.clone()
        }
    }

    /// The file name of template `name` (`email.txt.j2`) in a language: `email.fr.txt.j2` for
    /// French, `name` itself for English.
    pub fn localized_name(name: &str, lang: Lang) -> String {
        match (lang, name.split_once('.')) {
            (Lang::En, _) | (_, None) => name.to_string(),
            (lang, Some((stem, rest))) => format!("{stem}.{}.{rest}", lang.code()),
        }
    }

    /// Renders template `name` in this language: the user's file for the language in the
    /// templates folder, else the shipped text for the language (`shipped(lang)`).
    pub fn render_localized(
        &self,
        name: &str,
        shipped: Option<&str>,
        ctx: &serde_json::Value,
    ) -> Result<String, TemplateError> {
        self.render(&Self::localized_name(name, self.lang), shipped, ctx)
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
        let lang = self.lang;
        // A date and time in the user's zone and language.
        env.add_filter("time", move |ms: i64| -> String {
            i18n::datetime(ms, tz, lang)
        });
        env.add_filter("duration_ms", move |ms: f64| -> String {
            i18n::duration_ms(ms, lang)
        });
        // `value | figure(metric)`: with the figure's unit.
        env.add_filter("figure", move |v: f64, metric: String| -> String {
            i18n::figure(&metric, v, lang)
        });
        env.add_filter("status", move |s: String| -> String {
            i18n::status(&s, lang)
        });
        // A run's error in the language (the common ones).
        env.add_filter("error", move |s: String| -> String {
            i18n::error(&s, lang)
        });
        // A slot's reason in the language (its known words).
        env.add_filter("reason", move |s: String| -> String {
            i18n::reason(&s, lang)
        });
        // The catalogue: `t("key")`, and `t("key", name=value, ...)` for a sentence.
        env.add_function(
            "t",
            move |key: String,
                  kwargs: minijinja::value::Kwargs|
                  -> Result<String, minijinja::Error> {
                let mut args = Vec::new();
                for k in kwargs.args() {
                    let v: minijinja::Value = kwargs.get(k)?;
                    args.push((k.to_string(), v.to_string()));
                }
                let args: Vec<(&str, &str)> =
                    args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                Ok(i18n::tf(lang, &key, &args))
            },
        );
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
            "<b>& Thursday 1 January 1970 00:00 (UTC)"
        );
    }
}
