//! Threshold alerts as state, not spam. A rule (`cpu_percent > 90 for 3 of 5`) watches one
//! metric of a job's runs. Its state is ok -> pending -> firing -> (resolved) -> ok:
//! - it fires when N of the last M samples breach, once, with the samples that made it fire;
//! - while firing it repeats only every `repeat` (default 4 h), never every sample;
//! - it resolves after N consecutive good samples (hysteresis: samples that flap around the
//!   threshold keep it firing instead of notifying again), with how long it lasted and the peak.
//!
//! This module is pure: time comes in with each sample. Persistence is the store's.

pub mod regression;

use crate::model::{Phase, Rule, State, Transition};
use std::time::Duration;

impl State {
    /// Takes one sample at `at` (Unix ms) and says what changed.
    pub fn observe(&mut self, rule: &Rule, value: f64, at: i64) -> Option<Transition> {
        let breach = rule.op.breaches(value, rule.threshold);
        self.window.push_back((value, breach));
        while self.window.len() > rule.m {
            self.window.pop_front();
        }
        let breaches = self.window.iter().filter(|(_, b)| *b).count();
        match self.phase {
            Phase::Ok | Phase::Pending => {
                if breaches >= rule.n {
                    self.phase = Phase::Firing;
                    self.since = Some(at);
                    self.notified = Some(at);
                    self.good_streak = 0;
                    let samples: Vec<f64> = self.window.iter().map(|(v, _)| *v).collect();
                    self.peak = samples
                        .iter()
                        .copied()
                        .filter(|v| rule.op.breaches(*v, rule.threshold))
                        .reduce(|a, b| if rule.op.worse(a, b) { a } else { b });
                    return Some(Transition::Fired { value, samples });
                }
                self.phase = if breaches > 0 {
                    Phase::Pending
                } else {
                    Phase::Ok
                };
                None
            }
            Phase::Firing => {
                if breach {
                    self.good_streak = 0;
                    if self.peak.is_none_or(|p| rule.op.worse(value, p)) {
                        self.peak = Some(value);
                    }
                    let since = self.since.unwrap_or(at);
                    let last = self.notified.unwrap_or(since);
                    if at - last >= rule.repeat.as_millis() as i64 {
                        self.notified = Some(at);
                        return Some(Transition::Repeat {
                            value,
                            firing_for: Duration::from_millis((at - since).max(0) as u64),
                            peak: self.peak.unwrap_or(value),
                        });
                    }
                    return None;
                }
                self.good_streak += 1;
                if self.good_streak < rule.n {
                    return None;
                }
                let lasted = Duration::from_millis((at - self.since.unwrap_or(at)).max(0) as u64);
                let peak = self.peak.unwrap_or(value);
                *self = State::default();
                Some(Transition::Resolved {
                    value,
                    lasted,
                    peak,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Op;

    fn rule(when: &str, window: &str) -> Rule {
        Rule::parse(None, when, Some(window), Duration::from_secs(4 * 3600)).unwrap()
    }

    const MIN5: i64 = 5 * 60 * 1000;

    /// Feeds samples 5 minutes apart and returns the transitions with their sample index.
    fn feed(rule: &Rule, state: &mut State, values: &[f64]) -> Vec<(usize, Transition)> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| state.observe(rule, *v, i as i64 * MIN5).map(|t| (i, t)))
            .collect()
    }

    #[test]
    fn parses_rules() {
        let r = rule("cpu_percent > 90", "3 of 5");
        assert_eq!(
            (r.metric.as_str(), r.op, r.threshold, r.n, r.m),
            ("cpu_percent", Op::Above, 90.0, 3, 5)
        );
        assert_eq!(r.describe(), "cpu_percent > 90 for 3 of 5");
        assert_eq!(
            Rule::parse(None, "tokens_per_s <= 10.5", None, Duration::ZERO)
                .unwrap()
                .op,
            Op::AtMost
        );
        assert_eq!(
            Rule::parse(None, "cpu high", None, Duration::ZERO).unwrap_err(),
            "`cpu high` is not a comparison"
        );
        assert_eq!(
            Rule::parse(None, "x > 1", Some("6 of 5"), Duration::ZERO).unwrap_err(),
            "`6 of 5`: N must be between 1 and M, and M at most 1000"
        );
    }

    #[test]
    fn n_of_m_fires_once_then_resolves_with_duration_and_peak() {
        let r = rule("cpu_percent > 90", "3 of 5");
        let mut s = State::default();
        let t = feed(
            &r,
            &mut s,
            &[
                50.0, 95.0, 40.0, 97.0, 93.0, 99.0, 96.0, 20.0, 30.0, 10.0, 50.0,
            ],
        );
        assert_eq!(
            t,
            vec![
                (
                    4,
                    Transition::Fired {
                        value: 93.0,
                        samples: vec![50.0, 95.0, 40.0, 97.0, 93.0]
                    }
                ),
                (
                    9,
                    Transition::Resolved {
                        value: 10.0,
                        lasted: Duration::from_secs(25 * 60),
                        peak: 99.0
                    }
                ),
            ]
        );
        assert_eq!(s.phase, Phase::Ok);
    }

    #[test]
    fn pending_never_notifies() {
        let r = rule("mem_percent > 85", "3 of 5");
        let mut s = State::default();
        assert!(feed(&r, &mut s, &[90.0, 10.0, 90.0, 10.0, 10.0, 10.0, 90.0]).is_empty());
        assert_eq!(s.phase, Phase::Pending);
    }

    #[test]
    fn flapping_does_not_notify_twice() {
        let r = rule("latency_ms > 5000", "2 of 3");
        let mut s = State::default();
        let t = feed(
            &r,
            &mut s,
            &[
                6000.0, 7000.0, 100.0, 6000.0, 100.0, 6500.0, 100.0, 6000.0, 100.0, 100.0,
            ],
        );
        let kinds: Vec<(usize, &str)> = t
            .iter()
            .map(|(i, t)| {
                (
                    *i,
                    match t {
                        Transition::Fired { .. } => "fired",
                        Transition::Repeat { .. } => "repeat",
                        Transition::Resolved { .. } => "resolved",
                    },
                )
            })
            .collect();
        assert_eq!(kinds, [(1, "fired"), (9, "resolved")]);
    }

    #[test]
    fn repeats_on_its_interval_not_every_sample() {
        let r = Rule::parse(None, "cpu_percent > 90", None, Duration::from_secs(3600)).unwrap();
        let mut s = State::default();
        let t = feed(&r, &mut s, &[95.0; 30]); // 2.5 hours of 5-minute samples
        let at: Vec<usize> = t.iter().map(|(i, _)| *i).collect();
        assert_eq!(at, [0, 12, 24], "fired, then repeated every hour");
        assert!(
            matches!(t[1].1, Transition::Repeat { firing_for, .. } if firing_for == Duration::from_secs(3600))
        );
    }

    #[test]
    fn state_survives_a_restart_as_json() {
        let r = rule("cpu_percent > 90", "3 of 5");
        let mut s = State::default();
        feed(&r, &mut s, &[95.0, 96.0]);
        let saved = serde_json::to_string(&s).unwrap();
        let mut back: State = serde_json::from_str(&saved).unwrap();
        assert_eq!(back, s);
        assert!(matches!(
            back.observe(&r, 97.0, 2 * MIN5),
            Some(Transition::Fired { .. })
        ));
    }
}
