//! Threshold rules over a job's figures, their state and its transitions, and regression
//! checks against a baseline. Plain data; the judging is in `monitor`.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Above,
    AtLeast,
    Below,
    AtMost,
}

impl Op {
    pub fn symbol(&self) -> &'static str {
        match self {
            Op::Above => ">",
            Op::AtLeast => ">=",
            Op::Below => "<",
            Op::AtMost => "<=",
        }
    }

    pub(crate) fn breaches(&self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Above => value > threshold,
            Op::AtLeast => value >= threshold,
            Op::Below => value < threshold,
            Op::AtMost => value <= threshold,
        }
    }

    /// Whether `a` is a worse value than `b` (for the peak).
    pub fn worse(&self, a: f64, b: f64) -> bool {
        match self {
            Op::Above | Op::AtLeast => a > b,
            Op::Below | Op::AtMost => a < b,
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub metric: String,
    pub op: Op,
    pub threshold: f64,
    /// Fires when `n` of the last `m` samples breach.
    pub n: usize,
    pub m: usize,
    pub repeat: Duration,
    /// What to do when it fires, within a budget.
    pub remediate: Option<Box<Remediation>>,
    /// `advice:`: a line for the notice saying what to do, per language (`en`, `fr`); a plain
    /// string is for every language.
    pub advice: Vec<(Option<crate::model::Lang>, String)>,
}

impl Rule {
    /// The rule's advice in `lang`: its own line for that language, else the one for every
    /// language, else English.
    pub fn advice_in(&self, lang: crate::model::Lang) -> Option<&str> {
        let pick = |l: Option<crate::model::Lang>| {
            self.advice
                .iter()
                .find(|(x, _)| *x == l)
                .map(|(_, s)| s.as_str())
        };
        pick(Some(lang))
            .or_else(|| pick(None))
            .or_else(|| pick(Some(crate::model::Lang::En)))
    }
}

/// An action run when a rule fires, at most `max` times per `per`; past that, an escalation
/// notice says the budget is spent instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Remediation {
    pub action: crate::model::ActionSpec,
    pub max: u32,
    pub per: Duration,
    pub timeout: Duration,
}

impl Rule {
    /// Parses `when: "cpu_percent > 90"` and `for: "3 of 5"`.
    pub fn parse(
        name: Option<&str>,
        when: &str,
        window: Option<&str>,
        repeat: Duration,
    ) -> Result<Rule, String> {
        let (metric, op, rest) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|sym| {
                when.split_once(sym)
                    .map(|(l, r)| (l.trim(), *sym, r.trim()))
            })
            .ok_or_else(|| format!("`{when}` is not a comparison"))?;
        if metric.is_empty()
            || !metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c))
        {
            return Err(format!("`{metric}` is not a metric name"));
        }
        let threshold: f64 = rest
            .parse()
            .map_err(|_| format!("`{rest}` is not a number"))?;
        let op = match op {
            ">" => Op::Above,
            ">=" => Op::AtLeast,
            "<" => Op::Below,
            _ => Op::AtMost,
        };
        let (n, m) = match window {
            None => (1, 1),
            Some(w) => {
                let (n, m) = w
                    .split_once(" of ")
                    .ok_or_else(|| format!("`{w}` is not `N of M`"))?;
                let n: usize = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{w}` is not `N of M`"))?;
                let m: usize = m
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{w}` is not `N of M`"))?;
                if n == 0 || n > m || m > 1000 {
                    return Err(format!(
                        "`{w}`: N must be between 1 and M, and M at most 1000"
                    ));
                }
                (n, m)
            }
        };
        Ok(Rule {
            name: name.map_or_else(
                || format!("{metric} {} {threshold}", op.symbol()),
                str::to_string,
            ),
            metric: metric.to_string(),
            op,
            threshold,
            n,
            m,
            repeat,
            remediate: None,
            advice: Vec::new(),
        })
    }

    pub fn describe(&self) -> String {
        let w = if self.m > 1 {
            format!(" for {} of {}", self.n, self.m)
        } else {
            String::new()
        };
        format!("{} {} {}{w}", self.metric, self.op.symbol(), self.threshold)
    }
}

/// Where a rule stands. Its serde form (`Ok`, `Pending`, `Firing`) is the stored state's;
/// `as_str` is what people and the API read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Ok,
    Pending,
    Firing,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Ok => "ok",
            Phase::Pending => "pending",
            Phase::Firing => "firing",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Serializes a phase as people read it (`firing`).
pub fn phase_as_str<S: serde::Serializer>(p: &Phase, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.as_str())
}

/// A rule's state, as persisted between samples and across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    /// The last M samples (value, breached), oldest first.
    pub window: VecDeque<(f64, bool)>,
    /// Firing since (Unix ms).
    pub since: Option<i64>,
    pub peak: Option<f64>,
    /// When the last firing or repeat notice went out (Unix ms).
    pub notified: Option<i64>,
    /// Consecutive good samples while firing.
    pub good_streak: usize,
}

impl Transition {
    /// `fired`, `repeat` or `resolved`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transition::Fired { .. } => "fired",
            Transition::Repeat { .. } => "repeat",
            Transition::Resolved { .. } => "resolved",
        }
    }

    /// The sample that made the transition.
    pub fn value(&self) -> f64 {
        match self {
            Transition::Fired { value, .. }
            | Transition::Repeat { value, .. }
            | Transition::Resolved { value, .. } => *value,
        }
    }

    /// One line for the event log (`clawcron alerts`), in English, each figure with its unit.
    pub fn detail(&self, rule: &Rule) -> String {
        use crate::i18n::{Lang, duration, figure};
        let fig = |v: f64| figure(&rule.metric, v, Lang::En);
        match self {
            Transition::Fired { samples, .. } => {
                let shown: Vec<String> = samples.iter().map(|v| fig(*v)).collect();
                format!("{}; samples [{}]", rule.describe(), shown.join(", "))
            }
            Transition::Repeat {
                firing_for, peak, ..
            } => format!(
                "{}; firing for {}; peak {}",
                rule.describe(),
                duration(*firing_for, Lang::En),
                fig(*peak)
            ),
            Transition::Resolved { lasted, peak, .. } => {
                format!(
                    "{}; lasted {}; peak {}",
                    rule.describe(),
                    duration(*lasted, Lang::En),
                    fig(*peak)
                )
            }
        }
    }
}

/// What a sample changed, i.e. what deserves a notice.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Fired {
        value: f64,
        samples: Vec<f64>,
    },
    Repeat {
        value: f64,
        firing_for: Duration,
        peak: f64,
    },
    Resolved {
        value: f64,
        lasted: Duration,
        peak: f64,
    },
}

impl Default for State {
    fn default() -> Self {
        State {
            phase: Phase::Ok,
            window: VecDeque::new(),
            since: None,
            peak: None,
            notified: None,
            good_streak: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// The median of the last `runs` successful runs.
    Recent,
    /// The pinned baseline, falling back to recent runs for figures without one.
    Pinned,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegressionSpec {
    /// Figure name (as recorded, e.g. `ollama.tokens_per_s`) and which way is better.
    pub metrics: Vec<(String, Better)>,
    pub runs: usize,
    /// A fraction, e.g. 0.8.
    pub threshold: f64,
    pub against: Against,
}

/// A regression found in a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Found {
    pub metric: String,
    pub value: f64,
    pub baseline: f64,
    /// value / baseline.
    pub ratio: f64,
    pub detail: String,
}
