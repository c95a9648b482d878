//! The top-level error: every way a command can fail, its exit code (0 ok, 1 a negative answer
//! such as an invalid config or a failed run, 2 could not do it), printed in exactly one place.

use crate::config::Diagnostic;
use crate::store::StoreError;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Config files with errors; `valid` jobs were fine.
    #[error("{}", render_diagnostics(.diagnostics, *.valid))]
    ConfigInvalid {
        diagnostics: Vec<Diagnostic>,
        valid: usize,
    },
    #[error("job `{job}` {status}")]
    RunFailed { job: String, status: String },
    /// A command that ran and gave a negative answer (`doctor` found problems).
    #[error("`clawcron {command}` {status}")]
    CommandFailed { command: String, status: String },
    #[error("no job `{id}` in {dir}{}", .help.as_deref().map(|h| format!("\n  = help: {h}")).unwrap_or_default())]
    UnknownJob {
        id: String,
        dir: String,
        help: Option<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::ConfigInvalid { .. } | Error::RunFailed { .. } | Error::CommandFailed { .. } => {
                1
            }
            Error::UnknownJob { .. } | Error::Store(_) | Error::Usage(_) | Error::Io { .. } => 2,
        }
    }
}

fn render_diagnostics(diagnostics: &[Diagnostic], valid: usize) -> String {
    struct Out<'a>(&'a [Diagnostic], usize);
    impl fmt::Display for Out<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, d) in self.0.iter().enumerate() {
                if i > 0 {
                    write!(f, "\nerror: ")?;
                }
                writeln!(f, "{d}")?;
            }
            let files: std::collections::BTreeSet<_> = self.0.iter().map(|d| &d.path).collect();
            let n = self.0.len();
            write!(
                f,
                "{n} error{} in {} file{}; {} valid job{}",
                if n == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" },
                self.1,
                if self.1 == 1 { "" } else { "s" }
            )
        }
    }
    Out(diagnostics, valid).to_string()
}

/// The one place errors are printed.
pub fn report(err: &Error) {
    eprintln!("error: {err}");
}
