//! What was asked: `clawcron.yaml` and the job files in `jobs/`, read, parsed into raw types
//! (`raw`), then validated into typed specs (`spec`). Every problem becomes a `Diagnostic`
//! naming file, line, column and key; a bad job file never stops the others from loading.

pub mod diag;

mod interp;
pub use interp::references as env_references;
mod raw;
pub mod secrets;

mod validate;

pub use crate::model::spec::*;
pub use diag::Diagnostic;

use chrono_tz::Tz;
use diag::{Pos, did_you_mean, key_path_at};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Files larger than this are refused before any parsing (a job file is a few hundred bytes).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where the configuration comes from (command-line flags win over the global file).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config`; when absent, `./clawcron.yaml` is read if it exists.
    pub config: Option<PathBuf>,
    /// `--jobs`; when absent, the global file's `jobs_dir`, else `./jobs`.
    pub jobs_dir: Option<PathBuf>,
}

/// The global config file read when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "clawcron.yaml";

impl Sources {
    /// The global config file: `--config`, else `./clawcron.yaml`.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }
}

/// Everything loaded: the global config, the valid jobs, and the errors of the invalid files.
#[derive(Debug)]
pub struct Loaded {
    pub global: GlobalConfig,
    /// False when `clawcron.yaml` itself had errors (then `global` holds defaults).
    pub global_ok: bool,
    pub jobs_dir: PathBuf,
    /// The global file's `templates_dir`, else `templates/` beside it.
    pub templates_dir: PathBuf,
    pub jobs: Vec<JobSpec>,
    pub errors: Vec<Diagnostic>,
}

/// A warning when `clawcron.yaml` can be read by other users and holds something secret in
/// itself (a webhook URL, a credential header, a heartbeat URL).
pub fn permission_warning(path: &Path, global: &GlobalConfig) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o044 == 0 {
        return None;
    }
    let mut held = Vec::new();
    for (name, ch) in &global.notifiers {
        if let crate::model::Channel::Webhook(w) = ch {
            held.push(format!("the URL of webhook `{name}`"));
            if w.headers.iter().any(|(k, _)| {
                crate::redact::secret_name(k)
                    || ["authorization", "cookie"].contains(&k.to_ascii_lowercase().as_str())
            }) {
                held.push(format!("a credential header of webhook `{name}`"));
            }
        }
    }
    if global.heartbeat.is_some() {
        held.push("the heartbeat URL".into());
    }
    (!held.is_empty()).then(|| {
        format!(
            "{} is readable by other users (mode {:o}) and holds {}: run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            held.join(", "),
            path.display()
        )
    })
}

impl Loaded {
    /// The templates, in the global language, with the channels' own languages and the
    /// dashboard's address for the links in notices.
    pub fn templates(&self) -> crate::template::Templates {
        let mut t =
            crate::template::Templates::new(self.templates_dir.clone(), self.global.timezone)
                .in_lang(self.global.lang);
        t.channel_langs = self.global.channel_langs.clone();
        t.dashboard = self.global.dashboard_url();
        t
    }

    pub fn job(&self, id: &str) -> Option<&JobSpec> {
        self.jobs.iter().find(|j| &*j.id == id)
    }

    /// Every action of every job, with its job: monitors' probes, remediations, reports'
    /// checks and `docker.restart` probes included.
    pub fn actions(&self) -> Vec<(&JobSpec, &crate::model::ActionSpec)> {
        use crate::model::ActionSpec;
        fn walk<'a>(a: &'a ActionSpec, out: &mut Vec<&'a ActionSpec>) {
            out.push(a);
            match a {
                ActionSpec::Monitor(m) => m.probes.iter().for_each(|p| walk(&p.action, out)),
                ActionSpec::Report(r) => r.checks.iter().for_each(|c| walk(&c.action, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for j in &self.jobs {
            let mut acts = Vec::new();
            walk(&j.action, &mut acts);
            for r in j.alerts.iter().filter_map(|r| r.remediate.as_ref()) {
                walk(&r.action, &mut acts);
            }
            out.extend(acts.into_iter().map(|a| (j, a)));
        }
        out
    }
}

/// Loads the global config and every job file.
pub fn load(sources: &Sources) -> Loaded {
    let (global, mut errors, base) = load_global(sources.config.as_deref());
    let global_ok = errors.is_empty();
    let jobs_dir = sources
        .jobs_dir
        .clone()
        .or_else(|| global.jobs_dir.as_ref().map(|d| base.join(d)))
        .unwrap_or_else(|| PathBuf::from("jobs"));
    let (jobs, job_errors) = load_jobs(&jobs_dir, &global);
    errors.extend(job_errors);
    let templates_dir = global
        .templates_dir
        .clone()
        .unwrap_or_else(|| base.join("templates"));
    Loaded {
        global,
        global_ok,
        jobs_dir,
        templates_dir,
        jobs,
        errors,
    }
}

/// The global config, its errors, and the folder relative paths in it are resolved against.
pub fn load_global(path: Option<&Path>) -> (GlobalConfig, Vec<Diagnostic>, PathBuf) {
    let (path, required) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |mut g: GlobalConfig| {
        g.templates_dir =
            Some(base.join(g.templates_dir.take().unwrap_or_else(|| "templates".into())));
        g.base_dir = base.clone();
        g
    };
    if !required && !path.exists() {
        crate::redact::register_env();
        return (resolve(GlobalConfig::default()), Vec::new(), base);
    }
    let result = read_text(&path)
        .map_err(|e| (None, e))
        .and_then(|text| global_all(&path, &text));
    match result {
        Ok(global) => {
            secrets::register_global(&global);
            (resolve(global), Vec::new(), base)
        }
        // What the other keys say still decides how the job files are judged (their channels),
        // but nothing runs on a global config with errors (see `Loaded::global_ok`).
        Err((partial, errors)) => (
            resolve(partial.map(|g| *g).unwrap_or_default()),
            errors,
            base,
        ),
    }
}

/// Parses and validates `clawcron.yaml`, finding every error a parse stops at: the top-level
/// key of each one is set aside (its lines blanked, so line numbers hold) and the rest parsed
/// again. Returns the config, or its errors with what the rest of the file said.
fn global_all(
    path: &Path,
    text: &str,
) -> Result<GlobalConfig, (Option<Box<GlobalConfig>>, Vec<Diagnostic>)> {
    let mut errors = Vec::new();
    let mut rest = text.to_string();
    for _ in 0..32 {
        match parse_yaml::<raw::RawGlobal>(path, &rest, &[]) {
            Ok(raw) => {
                return match validate::global(path, text, raw) {
                    Ok(g) if errors.is_empty() => Ok(g),
                    Ok(g) => Err((Some(Box::new(g)), errors)),
                    Err(more) => {
                        errors.extend(more);
                        Err((None, errors))
                    }
                };
            }
            Err(found) => {
                let block = found
                    .first()
                    .and_then(|d| d.pos)
                    .and_then(|p| top_level_block(&rest, p.line));
                errors.extend(found);
                let Some((from, to)) = block else {
                    return Err((None, errors));
                };
                rest = rest
                    .lines()
                    .enumerate()
                    .map(|(i, l)| if (from..to).contains(&i) { "" } else { l })
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
    }
    Err((None, errors))
}

/// `state_dir`, `jobs_dir` and `ledger` of `clawcron.yaml` read alone, as `load_global` reads
/// them, for a read-only command when the file has errors
/// elsewhere; `Err` when one of those three has an error itself (or the file cannot be parsed).
pub fn load_essentials(path: &Path) -> Result<GlobalConfig, Vec<Diagnostic>> {
    let text = read_text(path)?;
    let raw: raw::RawEssentials = parse_yaml(path, &text, &[])?;
    let mut g = validate::essentials(path, &text, raw)?;
    g.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(g)
}

/// Every `*.yaml` / `*.yml` file in `dir`, sorted by name; the id of a job is its file stem.
pub fn load_jobs(dir: &Path, global: &GlobalConfig) -> (Vec<JobSpec>, Vec<Diagnostic>) {
    let mut jobs = Vec::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(Diagnostic::new(
                dir,
                format!("cannot read the jobs directory: {e}"),
            ));
            return (jobs, errors);
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_job_name(p))
        .collect();
    paths.sort();
    // A job-named entry that is not a readable regular file is an error, never a silent drop
    // (a reload then keeps the job's last good version).
    paths.retain(|p| match not_a_job_file(p) {
        None => true,
        Some(why) => {
            errors.push(Diagnostic::new(p, why));
            false
        }
    });
    let mut seen: std::collections::HashMap<String, PathBuf> = std::collections::HashMap::new();
    let mut unique = Vec::with_capacity(paths.len());
    for path in paths {
        let id = job_id(&path);
        if let Some(first) = seen.get(&id) {
            errors.push(Diagnostic::new(
                &path,
                format!("job id `{id}` is already defined by {}", first.display()),
            ));
            continue;
        }
        seen.insert(id, path.clone());
        unique.push(path);
    }
    for result in load_files_in_parallel(&unique, global) {
        match result {
            Ok(job) => jobs.push(job),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    validate::job::chains(&mut jobs, &mut errors);
    (jobs, errors)
}

/// Loads many job files on every core (most of the cost is parsing cron expressions: croner
/// builds a 5,000-year table per parse), keeping their order. Threads end with the load.
fn load_files_in_parallel(
    paths: &[PathBuf],
    global: &GlobalConfig,
) -> Vec<Result<JobSpec, Vec<Diagnostic>>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || paths.len() < 64 {
        return paths.iter().map(|p| load_job_file(p, global)).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|p| load_job_file(p, global))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(paths.chunks(chunk))
            .flat_map(|(h, part)| {
                // A panic in a loader thread is a bug; report its files instead of losing them.
                h.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|p| {
                            Err(vec![Diagnostic::new(
                                p,
                                "internal error while loading this file",
                            )])
                        })
                        .collect()
                })
            })
            .collect()
    })
}

/// A `*.yaml` / `*.yml` name, not hidden (editors' `.swp` files and the like are not jobs).
fn is_job_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext_ok = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    ext_ok && !name.starts_with('.')
}

/// Why a job-named entry cannot be read as a job file, if it cannot.
fn not_a_job_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        // A link to something that is not a job file (`/etc/passwd`) is never read, so its
        // contents never reach an error message, the log or the API.
        Ok(m) if m.is_file() && !links_to_a_job_name(path) => {
            let target = std::fs::canonicalize(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            Some(format!(
                "is a symbolic link to {target}, which is not a job file (*.yaml, *.yml): not read"
            ))
        }
        Ok(m) if m.is_file() => None,
        Ok(m) if m.is_dir() => Some("is a directory, not a job file".into()),
        Ok(_) => Some("is not a regular file (a socket, a pipe or a device)".into()),
        // Gone since it was listed: nothing to load, nothing to say.
        Err(_) if std::fs::symlink_metadata(path).is_err() => None,
        Err(e) if std::fs::symlink_metadata(path).is_ok_and(|l| l.file_type().is_symlink()) => {
            let target = std::fs::read_link(path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            Some(if e.raw_os_error() == Some(libc::ELOOP) {
                format!("is a symbolic link that loops (-> {target})")
            } else {
                format!("is a symbolic link whose target {target} cannot be read: {e}")
            })
        }
        Err(e) => Some(format!("cannot be read: {e}")),
    }
}

/// Whether `path`, followed through its links, ends at a `*.yaml` / `*.yml` name.
fn links_to_a_job_name(path: &Path) -> bool {
    !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        || std::fs::canonicalize(path).is_ok_and(|t| is_job_name(&t))
}

fn job_id(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

/// Loads and validates one job file.
pub fn load_job_file(path: &Path, global: &GlobalConfig) -> Result<JobSpec, Vec<Diagnostic>> {
    let text = read_text(path)?;
    load_job_text(path, &text, global)
}

/// Parses and validates a job file's text (`path` names it in errors and gives its id).
pub fn load_job_text(
    path: &Path,
    text: &str,
    global: &GlobalConfig,
) -> Result<JobSpec, Vec<Diagnostic>> {
    let raw: raw::RawJob = parse_yaml(path, text, raw::JOB_KEYS)?;
    let job = validate::job(path, text, &job_id(path), raw, global)?;
    secrets::register_job(&job);
    Ok(job)
}

/// Reads a file as UTF-8 text, refusing large files before reading them whole.
fn read_text(path: &Path) -> Result<String, Vec<Diagnostic>> {
    use crate::util::files::ReadError;
    // Opened without blocking and only if regular: a FIFO put in place of `clawcron.yaml`
    // would otherwise hang the reloader for good.
    let bytes = crate::util::files::read_regular(path, MAX_FILE_BYTES).map_err(|e| {
        let what = match e {
            ReadError::TooLarge { size, .. } => format!(
                "the file is {size} bytes, more than the {MAX_FILE_BYTES}-byte limit for a config file"
            ),
            ReadError::NotRegular(kind) => format!("is {kind}, not a regular file: not read"),
            ReadError::Io(e) => format!("cannot read the file: {e}"),
        };
        vec![Diagnostic::new(path, what)]
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&good[line_start..]).chars().count() as u64 + 1;
        let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
        vec![
            Diagnostic::new(
                path,
                format!("invalid UTF-8 (byte 0x{:02x})", e.as_bytes()[good.len()]),
            )
            .at(&lossy, Pos { line, col, len: 1 })
            .expected("UTF-8 text"),
        ]
    })
}

/// Limits that stop a "billion laughs" document or absurd nesting long before they cost anything.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 100_000,
            max_aliases: 100,
            max_anchors: 100,
            max_depth: 32,
            max_nodes: 50_000,
            max_documents: 1,
            max_total_scalar_bytes: 1024 * 1024,
        },
    }
}

fn parse_yaml<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    top_keys: &[&str],
) -> Result<T, Vec<Diagnostic>> {
    serde_saphyr::from_str_with_options(text, yaml_options())
        .map_err(|e| vec![yaml_diagnostic(path, text, &e, top_keys)])
}

fn yaml_diagnostic(
    path: &Path,
    text: &str,
    err: &serde_saphyr::Error,
    top_keys: &[&str],
) -> Diagnostic {
    use serde_saphyr::Error as E;
    let err = err.without_snippet();
    let pos = err.location().map(|l| Pos {
        line: l.line().max(1),
        col: l.column().max(1),
        len: 1,
    });
    let at = |d: Diagnostic| match pos {
        Some(p) => d.at(text, p),
        None => d,
    };
    let key_here = pos.map(|p| key_path_at(text, p.line)).unwrap_or_default();
    match err {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let len = field.chars().count() as u64;
            let d = Diagnostic::new(path, format!("unknown key `{field}`"));
            let d = match pos {
                Some(p) => d.at(text, Pos { len, ..p }),
                None => d,
            };
            let parent = match key_here.strip_suffix(field.as_str()) {
                Some(p) => p.trim_end_matches('.').to_string(),
                None => parent_of(&key_here),
            };
            d.key(parent)
                .expected(format!("one of: {}", expected.join(", ")))
                .help(did_you_mean(field, expected.iter().copied()))
        }
        E::SerdeMissingField { field, .. } => {
            at(Diagnostic::new(path, format!("missing key `{field}`"))).key(parent_of(&key_here))
        }
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | E::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => at(Diagnostic::new(
            path,
            format!("wrong type: found {unexpected}"),
        ))
        .key(key_here)
        .expected(expected.clone()),
        E::InvalidScalar { ty, .. } => {
            let token = pos.map(|p| scalar_at(text, p)).unwrap_or_default();
            let expected = match *ty {
                "bool" => "true or false",
                t if t.starts_with('u') => "a whole number (0 or more)",
                t if t.starts_with('i') => "a whole number",
                t if t.starts_with('f') => "a number",
                other => other,
            };
            let d = Diagnostic::new(path, format!("`{token}` is not {expected}"));
            let d = match pos {
                Some(p) => d.at(
                    text,
                    Pos {
                        len: token.chars().count().max(1) as u64,
                        ..p
                    },
                ),
                None => d,
            };
            d.key(key_here).expected(expected)
        }
        E::DuplicateMappingKey { key, .. } => {
            let name = key.clone().unwrap_or_default();
            at(Diagnostic::new(path, format!("duplicate key `{name}`"))).key(key_here)
        }
        E::Budget { breach, .. } => {
            use serde_saphyr::budget::BudgetBreach as B;
            let what = match breach {
                B::Aliases { .. } => "more than 100 aliases (`*name`)".to_string(),
                B::Anchors { .. } => "more than 100 anchors (`&name`)".to_string(),
                B::Depth { .. } => "nesting deeper than 32 levels".to_string(),
                B::Events { .. } | B::Nodes { .. } => "too many YAML nodes".to_string(),
                B::Documents { .. } => "more than one YAML document".to_string(),
                B::ScalarBytes { .. } => "more than 1 MiB of text".to_string(),
                other => format!("{other:?}"),
            };
            at(Diagnostic::new(
                path,
                format!(
                    "the document has {what}; a job file needs far less (this guards against \"YAML bombs\")"
                ),
            ))
        }
        E::InvalidUtf8Input => Diagnostic::new(path, "invalid UTF-8").expected("UTF-8 text"),
        other => {
            let rendered = other.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            let message = match rendered.rfind(" at line ") {
                Some(i) => rendered[..i].to_string(),
                None => rendered,
            };
            // A value of the wrong shape: say which key, what shape, and show an example.
            let shape = if message.starts_with("expected mapping") {
                Some("a mapping (`key: value` pairs)")
            } else if message.starts_with("expected sequence") {
                Some("a list (`[a, b]` or `- a` lines)")
            } else {
                None
            };
            match shape {
                Some(shape) if !key_here.is_empty() => {
                    let d =
                        at(Diagnostic::new(path, "the wrong shape of value")).key(key_here.clone());
                    match shape_example(&key_here) {
                        Some(example) => d.expected(format!("{shape}, such as {example}")),
                        None => d.expected(shape),
                    }
                }
                _ => {
                    let d = at(Diagnostic::new(path, message));
                    if top_keys.is_empty() && key_here.is_empty() {
                        d
                    } else {
                        d.key(key_here)
                    }
                }
            }
        }
    }
}

/// An example of the right shape for a key of clawcron.yaml, for a wrong-shape error.
fn shape_example(key: &str) -> Option<&'static str> {
    Some(match key {
        "ledger" => {
            "`ledger: { url: \"postgres://clawcron@db.lan/clawcron\", password_env: PGPASSWORD }`"
        }
        "node" => "`node: { name: studio, tags: [gpu] }`",
        "notifiers" => {
            "`notifiers: { ops-email: { email: { smtp: { host: smtp.example.org }, from: a@example.org, to: [b@example.org] } } }`"
        }
        "daemon_notify" => {
            "`daemon_notify: [ops-email]` (the names of channels under `notifiers:`)"
        }
        "retention" => "`retention: { max_runs_per_job: 1000, max_age: 90d }`",
        "log" => "`log: { format: human, level: info }`",
        "api" => "`api: { listen: \"127.0.0.1:8787\" }`",
        "heartbeat" => "`heartbeat: { url: \"https://hc-ping.com/UUID\", every: 5m }`",
        "silences" => "`silences: [{ jobs: [nightly-benchmark], when: { days: [sat, sun] } }]`",
        "docker" => "`docker: { host: \"unix:///var/run/docker.sock\" }`",
        _ => return None,
    })
}

/// The line range of the top-level key whose block holds line `line` (1-based): its own line
/// and the indented or blank lines after it; `None` if the line is not in such a block.
fn top_level_block(text: &str, line: u64) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let at = (line as usize).checked_sub(1)?;
    let is_top =
        |l: &str| !l.is_empty() && !l.starts_with([' ', '\t', '#', '-']) && l.contains(':');
    let start = (0..=at.min(lines.len().saturating_sub(1)))
        .rev()
        .find(|&i| is_top(lines[i]))?;
    let end = (start + 1..lines.len())
        .find(|&i| is_top(lines[i]))
        .unwrap_or(lines.len());
    Some((start, end))
}

/// The plain scalar that starts at `pos` (up to a space, comma, bracket or comment).
fn scalar_at(text: &str, pos: Pos) -> String {
    text.lines()
        .nth(pos.line.saturating_sub(1) as usize)
        .unwrap_or_default()
        .chars()
        .skip(pos.col.saturating_sub(1) as usize)
        .take_while(|c| !matches!(c, ',' | ']' | '}' | '#'))
        .collect::<String>()
        .trim()
        .to_string()
}

fn parent_of(key: &str) -> String {
    key.rsplit_once('.')
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

/// Checks an IANA time zone name, suggesting the nearest known name.
pub fn parse_timezone(name: &str) -> Result<Tz, (String, Option<String>)> {
    if name.trim().is_empty() {
        return Err((
            "the time zone is empty".into(),
            Some("write an IANA name such as `Europe/Paris`, or leave the key out for the system's zone".into()),
        ));
    }
    name.parse::<Tz>().map_err(|_| {
        let lower = name.to_ascii_lowercase();
        let exact_case = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().to_ascii_lowercase() == lower)
            .map(|tz| format!("did you mean `{}`?", tz.name()));
        let help = exact_case
            .or_else(|| did_you_mean(name, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name())));
        (format!("unknown time zone `{name}`"), help)
    })
}
