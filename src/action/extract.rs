//! Numbers from a run's output, as metrics: a regex whose named groups become metrics (the last
//! match counts), or a JSON pointer into the last line of output that parses as JSON.

use crate::model::{Extract, Metric};

impl Eq for Extract {}

/// Applies every extraction to `output`; figures that are missing or not numbers are left out.
pub fn apply(extracts: &[Extract], output: &str) -> Vec<Metric> {
    let mut out = Vec::new();
    for e in extracts {
        match e {
            Extract::Regex(re) => {
                if let Some(caps) = re.captures_iter(output).last() {
                    for name in re.capture_names().flatten() {
                        if let Some(v) = caps
                            .name(name)
                            .and_then(|m| m.as_str().trim().parse::<f64>().ok())
                        {
                            out.push(Metric::new(name, v));
                        }
                    }
                }
            }
            Extract::Json { pointer, name } => {
                let doc = serde_json::from_str::<serde_json::Value>(output.trim())
                    .ok()
                    .or_else(|| {
                        output.lines().rev().find_map(|l| {
                            serde_json::from_str::<serde_json::Value>(l.trim())
                                .ok()
                                .filter(|v| v.is_object() || v.is_array())
                        })
                    });
                let value = doc
                    .as_ref()
                    .and_then(|d| d.pointer(pointer))
                    .and_then(|v| match v {
                        serde_json::Value::Number(n) => n.as_f64(),
                        serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
                        serde_json::Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    });
                if let Some(v) = value {
                    out.push(Metric::new(name.clone(), v));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_groups_and_json_pointers() {
        let out = "warming up\ntokens_per_s=12.5 ttft_ms=300\ntokens_per_s=41.25 ttft_ms=210\n{\"eval_count\": 64, \"ok\": true}\n";
        let ex = vec![
            Extract::Regex(
                regex::Regex::new(
                    r"tokens_per_s=(?P<tokens_per_s>[0-9.]+) ttft_ms=(?P<ttft_ms>\d+)",
                )
                .unwrap(),
            ),
            Extract::Json {
                pointer: "/eval_count".into(),
                name: "eval_count".into(),
            },
            Extract::Json {
                pointer: "/ok".into(),
                name: "ok".into(),
            },
            Extract::Json {
                pointer: "/missing".into(),
                name: "missing".into(),
            },
        ];
        assert_eq!(
            apply(&ex, out),
            vec![
                Metric::new("tokens_per_s", 41.25),
                Metric::new("ttft_ms", 210.0),
                Metric::new("eval_count", 64.0),
                Metric::new("ok", 1.0)
            ]
        );
    }
}
