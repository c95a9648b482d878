//! Templates users edit: Jinja syntax (minijinja), read from the `templates/` folder, with the
//! shipped copy compiled in as the fallback when the file is absent. Errors name the template's
//! file and line.

use crate::i18n::{self, Lang};
use chrono_tz::Tz;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// No template is read past this size.
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// A template file and its shipped text.
#[derive(Debug, Clone, Copy)]
pub struct Shipped {
    pub name: &'static str,
    pub text: &'static str,
}

/// What one render may take, bounded three ways at once: fuel for the instructions and the data
/// a template makes; a cap on the bytes it writes (fuel is counted, memory is what runs out);
/// and a stop flag, set from outside when the job's or the channel's time is up, which the
/// render checks at each write, each item of `range` and each call of our functions (a
/// blocking render cannot be cancelled from outside).
#[derive(Debug, Clone)]
pub struct Bounds {
    pub fuel: u64,
    pub max_output: usize,
    pub stop: Arc<AtomicBool>,
}

impl Bounds {
    /// A notice (an email's subject, text and HTML parts, each).
    pub fn notice() -> Self {
        Bounds::new(20_000_000, 2 << 20)
    }

    /// A report (each of its formats): a year of history fits with room to spare.
    pub fn report() -> Self {
        Bounds::new(1_000_000_000, 64 << 20)
    }

    /// A dashboard page.
    pub fn page() -> Self {
        Bounds::new(100_000_000, 16 << 20)
    }

    pub fn new(fuel: u64, max_output: usize) -> Self {
        Bounds {
            fuel,
            max_output,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Tells a render under way to stop at its next check.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::notice()
    }
}

/// Which bound a render passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Fuel,
    Output,
    Time,
}

/// Collects a render's output, failing past `max` bytes or once the stop flag is set.
struct CappedWriter<'a> {
    out: Vec<u8>,
    max: usize,
    stop: &'a AtomicBool,
    over: Option<Exceeded>,
}

impl std::io::Write for CappedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            self.over = Some(Exceeded::Time);
            return Err(std::io::Error::other("stopped"));
        }
        if self.out.len() + buf.len() > self.max {
            self.over = Some(Exceeded::Output);
            return Err(std::io::Error::other("output too large"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `range` as minijinja's (at most 100,000 items), whose iteration stops when `stop` is set.
fn stoppable_range(
    stop: Arc<AtomicBool>,
) -> impl Fn(i64, Option<i64>, Option<i64>) -> Result<minijinja::Value, minijinja::Error>
+ Send
+ Sync
+ 'static {
    move |lower, upper, step| {
        let (from, to) = match upper {
            Some(u) => (lower, u),
            None => (0, lower),
        };
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "cannot create range with step of 0",
            ));
        }
        let len = if step > 0 {
            (to - from).max(0).div_euclid(step) + i64::from((to - from).max(0) % step != 0)
        } else {
            (from - to).max(0).div_euclid(-step) + i64::from((from - to).max(0) % -step != 0)
        };
        if len > 100_000 {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "range has too many elements",
            ));
        }
        let stop = stop.clone();
        Ok(minijinja::Value::make_iterable(move || {
            let stop = stop.clone();
            let mut i = 0;
            let mut ended = false;
            std::iter::from_fn(move || {
                if ended || i >= len {
                    return None;
                }
                if stop.load(Ordering::Relaxed) {
                    ended = true;
                    return Some(minijinja::Value::from(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        "stopped",
                    )));
                }
                i += 1;
                Some(minijinja::Value::from(from + (i - 1) * step))
            })
        }))
    }
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
    /// What each render may take (see `Bounds`); its stop flag is shared by the clones.
    pub bounds: Bounds,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub what: String,
    /// Which bound the render passed, if that is why it failed (the shipped template is then
    /// not used in its place: the user's template is what needs mending).
    pub exceeded: Option<Exceeded>,
}

impl TemplateError {
    fn new(file: impl Into<String>, line: usize, what: impl Into<String>) -> Self {
        TemplateError {
            file: file.into(),
            line,
            what: what.into(),
            exceeded: None,
        }
    }
}

impl Templates {
    pub fn new(dir: impl Into<PathBuf>, timezone: Tz) -> Self {
        Templates {
            dir: dir.into(),
            timezone,
            lang: Lang::En,
            channel_langs: std::collections::HashMap::new(),
            dashboard: None,
            bounds: Bounds::default(),
        }
    }

    /// The same templates, each render bounded by `bounds` (and stopped by its flag).
    pub fn with_bounds(&self, bounds: Bounds) -> Templates {
        Templates {
            bounds,
            ..self.clone()
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
            return Err(TemplateError::new(
                path.display().to_string(),
                0,
                format!("larger than the {MAX_TEMPLATE_BYTES}-byte limit for a template"),
            ));
        }
        use crate::util::files::ReadError;
        let (text, file) = match crate::util::files::read_regular(&path, MAX_TEMPLATE_BYTES) {
            Ok(t) => (
                String::from_utf8_lossy(&t).into_owned(),
                path.display().to_string(),
            ),
            Err(e) => match (shipped, e) {
                (Some(t), ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    (t.to_string(), format!("{name} (shipped)"))
                }
                (_, e) => {
                    return Err(TemplateError::new(
                        path.display().to_string(),
                        0,
                        format!("cannot read: {e}"),
                    ));
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
        let bounds = &self.bounds;
        env.add_function("range", stoppable_range(bounds.stop.clone()));
        env.set_fuel(Some(bounds.fuel));
        let fail = |e: minijinja::Error, over: Option<Exceeded>| {
            let over = over.or(match e.kind() {
                minijinja::ErrorKind::OutOfFuel => Some(Exceeded::Fuel),
                _ if bounds.stopped() => Some(Exceeded::Time),
                _ => None,
            });
            TemplateError {
                file: file.to_string(),
                line: e.line().unwrap_or(0),
                what: match over {
                    Some(Exceeded::Fuel) => format!(
                        "the template ran out of fuel (more than {} steps): it loops too much",
                        bounds.fuel
                    ),
                    Some(Exceeded::Output) => format!(
                        "the template wrote more than {} bytes: stopped",
                        bounds.max_output
                    ),
                    Some(Exceeded::Time) => "the template was stopped: its time was up".to_string(),
                    None => match e.detail() {
                        Some(d) => format!("{}: {d}", e.kind()),
                        None => e.kind().to_string(),
                    },
                },
                exceeded: over,
            }
        };
        env.add_template(name, text).map_err(|e| fail(e, None))?;
        let tmpl = env.get_template(name).map_err(|e| fail(e, None))?;
        let mut out = CappedWriter {
            out: Vec::new(),
            max: bounds.max_output,
            stop: &bounds.stop,
            over: None,
        };
        let rendered = tmpl.render_captured_to(
            minijinja::Value::from(minijinja::value::Serde(ctx)),
            &mut out,
        );
        match rendered {
            Ok(_) => Ok(String::from_utf8_lossy(&out.out).into_owned()),
            Err(e) => Err(fail(e, out.over)),
        }
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

    fn heavy(t: &Templates, text: &str) -> TemplateError {
        t.render_str("heavy.txt.j2", "heavy.txt.j2", text, &serde_json::json!({}))
            .unwrap_err()
    }

    #[test]
    fn a_render_is_bounded_by_fuel_by_output_size_and_by_its_stop_flag() {
        let t = Templates::new("/nonexistent", chrono_tz::UTC)
            .with_bounds(Bounds::new(1_000_000, 1 << 20));
        // Fuel: nested loops that write nothing.
        let e = heavy(
            &t,
            "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
        );
        assert_eq!(e.exceeded, Some(Exceeded::Fuel), "{e}");
        assert!(e.what.contains("ran out of fuel"), "{e}");
        // Output: one step that makes a large string is bounded by the writer (and by fuel).
        let big = Templates::new("/nonexistent", chrono_tz::UTC)
            .with_bounds(Bounds::new(u64::MAX / 128, 1 << 20));
        let e = heavy(
            &big,
            "{% for i in range(100) %}{{ 'x' * 100000 }}{% endfor %}",
        );
        assert_eq!(e.exceeded, Some(Exceeded::Output), "{e}");
        assert_eq!(
            e.what,
            "the template wrote more than 1048576 bytes: stopped"
        );
        // The stop flag: set from another thread while a long loop runs (fuel unbounded).
        let slow = Templates::new("/nonexistent", chrono_tz::UTC)
            .with_bounds(Bounds::new(u64::MAX / 128, 1 << 20));
        let flag = slow.bounds.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            flag.stop();
        });
        let started = std::time::Instant::now();
        let e = heavy(
            &slow,
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        );
        stopper.join().unwrap();
        assert_eq!(e.exceeded, Some(Exceeded::Time), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // A template within its bounds renders as before, `range` included.
        assert_eq!(
            t.render_str(
                "ok.txt.j2",
                "ok.txt.j2",
                "{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}|{{ range(3) | list | length }}",
                &serde_json::json!({})
            )
            .unwrap(),
            "135|3"
        );
    }
}
