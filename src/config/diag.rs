//! Config diagnostics: one error in one file, rendered as `path:line:col`, the source line,
//! a caret under the offending text, what was expected and the nearest valid key.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a config file, 1-based, with the length of the offending text in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: u64,
    pub col: u64,
    pub len: u64,
}

impl Pos {
    pub const START: Pos = Pos {
        line: 1,
        col: 1,
        len: 1,
    };
}

/// One user-facing config error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub pos: Option<Pos>,
    /// The dotted key the error is about (`retry.attempts`), when known.
    pub key: Option<String>,
    pub message: String,
    pub expected: Option<String>,
    pub help: Option<String>,
    /// The source line the position points at, kept so the diagnostic renders on its own.
    pub source_line: Option<String>,
}

impl Diagnostic {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            pos: None,
            key: None,
            message: message.into(),
            expected: None,
            help: None,
            source_line: None,
        }
    }

    /// Points the diagnostic at `pos` in `source`, keeping the line's text.
    pub fn at(mut self, source: &str, pos: Pos) -> Self {
        self.source_line = source
            .lines()
            .nth(pos.line.saturating_sub(1) as usize)
            .map(str::to_owned);
        self.pos = Some(pos);
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if !key.is_empty() {
            self.key = Some(key);
        }
        self
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(pos) = self.pos {
            write!(f, ":{}:{}", pos.line, pos.col)?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let (Some(pos), Some(line)) = (self.pos, &self.source_line) {
            let number = pos.line.to_string();
            let pad = " ".repeat(number.len());
            // Long lines are shown as a window around the column, so the caret stays in view.
            let col = pos.col.saturating_sub(1) as usize;
            let skip = col.saturating_sub(60);
            let prefix = if skip > 0 { "…" } else { "" };
            let shown: String = line.chars().skip(skip).take(120).collect();
            let caret_at = (col - skip + prefix.chars().count())
                .min(shown.chars().count() + prefix.chars().count());
            let room = (shown.chars().count() + prefix.chars().count())
                .saturating_sub(caret_at)
                .max(1);
            let caret_len = (pos.len.max(1) as usize).min(room);
            write!(
                f,
                "\n{pad} |\n{number} | {prefix}{shown}\n{pad} | {}{}",
                " ".repeat(caret_at),
                "^".repeat(caret_len)
            )?;
        }
        if let Some(expected) = &self.expected {
            write!(f, "\n  = expected {expected}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// The valid name closest to `given`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// The dotted key path of the mapping entry that the given line belongs to, found from
/// indentation (block-style YAML, which is what job files are written in).
pub fn key_path_at(source: &str, line: u64) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let Some(start) = (line as usize).checked_sub(1).filter(|i| *i < lines.len()) else {
        return String::new();
    };
    let mut path: Vec<String> = Vec::new();
    let mut limit = usize::MAX;
    for text in lines[..=start].iter().rev() {
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = text.len() - trimmed.len();
        if indent >= limit {
            continue;
        }
        let entry = trimmed.trim_start_matches("- ");
        if let Some((key, _)) = entry.split_once(':') {
            let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
            if !key.is_empty()
                && !key.contains(' ')
                && !key.starts_with('{')
                && !key.starts_with('[')
            {
                path.push(key.to_string());
            }
        }
        limit = indent;
        if indent == 0 {
            break;
        }
    }
    path.reverse();
    path.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_follows_indentation() {
        let src = "description: x\nretry:\n  attempts: many\n  backoff: 1s\nrun:\n  command: [a]\n";
        assert_eq!(key_path_at(src, 3), "retry.attempts");
        assert_eq!(key_path_at(src, 6), "run.command");
        assert_eq!(key_path_at(src, 1), "description");
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(
            did_you_mean("schedul", ["schedule", "timeout"]),
            Some("did you mean `schedule`?".into())
        );
        assert_eq!(did_you_mean("zzzzzz", ["schedule", "timeout"]), None);
    }
}
