//! Job output: read line by line from a pipe, logged with the job's fields, and a bounded tail
//! kept for the ledger. No read is unbounded: long lines are cut.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line kept whole; the rest of a longer line is dropped with a marker.
const MAX_LINE: usize = 4096;
const TAIL_LINES: usize = 50;
const TAIL_BYTES: usize = 8192;

/// What a log line adds to the output line it carries (timestamp, level, `job`, `run_id`,
/// `stream`), counted against `log.output_per_run` so that the figure is the log's size.
const LOG_LINE_FIELDS: u64 = 80;

/// The last lines of a run's output (stdout and stderr interleaved as they came).
#[derive(Debug, Default)]
pub struct OutputTail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl OutputTail {
    pub fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.lines.len() > TAIL_LINES || (self.bytes > TAIL_BYTES && self.lines.len() > 1) {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len() + 1;
            }
        }
    }

    pub fn text(&self) -> String {
        let mut s = String::with_capacity(self.bytes);
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// Reads `pipe` to its end, logging each line and keeping the tail.
pub async fn pump<R: AsyncRead + Unpin>(
    mut pipe: R,
    stream: &'static str,
    job: Arc<str>,
    run_id: i64,
    tail: Arc<Mutex<OutputTail>>,
    sink: Option<super::OutputSink>,
    log_limit: u64,
) {
    // What went to the daemon log, and what was left out of it once over `log_limit`.
    let mut logged: u64 = 0;
    let (mut left_lines, mut left_bytes): (u64, u64) = (0, 0);
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut truncated = false;
    // A long line is kept a secret's length past the cut, redacted, and only then cut: no part
    // of a secret that straddles the cut is left.
    let keep = MAX_LINE + crate::redact::longest();
    let mut emit = |line: &mut Vec<u8>, truncated: &mut bool| {
        let raw = String::from_utf8_lossy(line);
        let mut text = crate::redact::scrub(&raw).into_owned();
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            *truncated = true;
        }
        if text.ends_with('\r') {
            text.pop();
        }
        if *truncated {
            text.push_str(" […]");
        }
        let size = text.len() as u64 + 1 + LOG_LINE_FIELDS + job.len() as u64;
        if logged + size <= log_limit {
            logged += size;
            tracing::info!(target: "clawcron::output", job = &*job, run_id, stream, "{text}");
        } else {
            left_lines += 1;
            left_bytes += text.len() as u64 + 1;
        }
        if let Some(sink) = &sink {
            let _ = sink.send(crate::redact::scrub(&text).into_owned());
        }
        if let Ok(mut t) = tail.lock() {
            t.push(text);
        }
        line.clear();
        *truncated = false;
    };
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                emit(&mut line, &mut truncated);
            } else if line.len() < keep {
                line.push(b);
            } else {
                truncated = true;
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line, &mut truncated);
    }
    if left_lines > 0 {
        tracing::warn!(
            target: "clawcron::output",
            job = &*job,
            run_id,
            stream,
            "{left_lines} more line(s) of output ({}) not logged: over the log's {} per run (log.output_per_run); the ledger keeps the tail",
            crate::util::size::format(left_bytes),
            crate::util::size::format(log_limit)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_bounded_by_lines_and_bytes() {
        let mut t = OutputTail::default();
        for i in 0..200 {
            t.push(format!("line {i}"));
        }
        assert_eq!(t.text().lines().count(), TAIL_LINES);
        assert!(t.text().ends_with("line 199\n"));
        let mut t = OutputTail::default();
        for _ in 0..10 {
            t.push("x".repeat(4000));
        }
        assert!(t.text().len() <= TAIL_BYTES);
    }
}
