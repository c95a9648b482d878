//! What a notice says, in its reader's language. A notice is queued as data (the event, the
//! job, the figures, the times); at send time, each channel's copy is written in the language
//! the job, the channel or `clawcron.yaml` chooses (in that order) and in the job's time zone:
//! a `title`, a `text` (the sentence, then one line per fact) and `facts` (label and value pairs)
//! for the templates. A notice queued by an older clawcron (with its own `title` and `text`)
//! is sent as it was written.

use crate::i18n::{self, Lang};
use chrono_tz::Tz;
use serde_json::{Value, json};

/// Where the notice is read: its language, the time zone its times are shown in, and the
/// dashboard's address for the link.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    pub lang: Lang,
    pub tz: Tz,
    pub dashboard: Option<&'a str>,
}

fn s<'v>(p: &'v Value, k: &str) -> Option<&'v str> {
    p.get(k).and_then(Value::as_str)
}

fn f(p: &Value, k: &str) -> Option<f64> {
    p.get(k).and_then(Value::as_f64)
}

fn i(p: &Value, k: &str) -> Option<i64> {
    p.get(k).and_then(Value::as_i64)
}

/// The language a notice is written in: the job's, else the channel's, else the global one.
pub fn lang_of(payload: &Value, channel: Option<Lang>, global: Lang) -> Lang {
    s(payload, "lang")
        .and_then(Lang::parse)
        .or(channel)
        .unwrap_or(global)
}

/// The notice's time zone: the job's, else `fallback`.
pub fn tz_of(payload: &Value, fallback: Tz) -> Tz {
    s(payload, "tz")
        .and_then(|t| t.parse().ok())
        .unwrap_or(fallback)
}

/// The payload with `title`, `text`, `facts`, `lang` (and `dashboard_url`) written for
/// `reader`. Payloads without the data (an older clawcron's, a test) are returned as they are.
pub fn localize(payload: &Value, reader: Reader<'_>) -> Value {
    let mut out = payload.clone();
    if i(payload, "v").is_none_or(|v| v < 2) {
        return out;
    }
    let (title, sentence, facts) = write(payload, reader);
    let mut text = sentence.clone();
    // French puts a space before a colon.
    let colon = if reader.lang == Lang::Fr { " :" } else { ":" };
    for (label, value) in &facts {
        if value.contains('\n') {
            text.push_str(&format!("\n{label}{colon}\n{value}"));
        } else {
            text.push_str(&format!("\n{label}{colon} {value}"));
        }
    }
    if let Value::Object(m) = &mut out {
        m.insert("title".into(), json!(title));
        m.insert("text".into(), json!(text));
        m.insert("sentence".into(), json!(sentence));
        m.insert(
            "facts".into(),
            json!(facts.iter().map(|(l, v)| json!([l, v])).collect::<Vec<_>>()),
        );
        m.insert("lang".into(), json!(reader.lang.code()));
        if let Some(u) = reader.dashboard {
            m.insert("dashboard_url".into(), json!(u));
        }
    }
    out
}

type Facts = Vec<(String, String)>;

fn write(p: &Value, r: Reader<'_>) -> (String, String, Facts) {
    let lang = r.lang;
    let job = s(p, "job").unwrap_or("clawcron");
    let event = s(p, "event").unwrap_or("");
    let when = |ms: i64| i18n::datetime(ms, r.tz, lang);
    let label = |k: &str| i18n::t(lang, k).to_string();
    let mut facts: Facts = Vec::new();
    let title_key = format!("title.{event}");
    let rule_name = p
        .get("alert")
        .and_then(|a| s(a, "name"))
        .unwrap_or_default();
    let title = match event {
        "report" => {
            let r = p.get("report").cloned().unwrap_or_default();
            let colon = if lang == Lang::Fr { " :" } else { ":" };
            format!(
                "{}{colon} {}",
                s(&r, "title").unwrap_or(""),
                s(&r, "period").unwrap_or("")
            )
        }
        _ => i18n::tf(lang, &title_key, &[("job", job), ("rule", rule_name)]),
    };
    let sentence = match event {
        e if e.starts_with("alert.") => alert(p, r, &mut facts),
        "failure" | "failure.repeat" | "recovery" | "success" => run(p, r, event, &mut facts),
        "regression" => regression(p, r, &mut facts),
        "missed" => {
            let m = p.get("missed").cloned().unwrap_or_default();
            let ran = i(&m, "ran_late").unwrap_or(0);
            let skipped = i(&m, "skipped").unwrap_or(0);
            i18n::tf(
                lang,
                "s.missed",
                &[
                    ("job", job),
                    ("n", &(ran + skipped).to_string()),
                    ("reason", s(&m, "reason").unwrap_or("")),
                    ("first", &when(i(&m, "first_ms").unwrap_or(0))),
                    ("last", &when(i(&m, "last_ms").unwrap_or(0))),
                    ("ran", &ran.to_string()),
                    ("skipped", &skipped.to_string()),
                ],
            )
        }
        "daemon.downtime" => {
            let d = p.get("downtime").cloned().unwrap_or_default();
            let (a, b) = (i(&d, "from_ms").unwrap_or(0), i(&d, "to_ms").unwrap_or(0));
            let clean = d.get("clean").and_then(Value::as_bool).unwrap_or(false);
            i18n::tf(
                lang,
                if clean {
                    "s.downtime.clean"
                } else {
                    "s.downtime.crash"
                },
                &[
                    ("lasted", &i18n::duration_ms((b - a).max(0) as f64, lang)),
                    ("since", &when(a)),
                    ("ran", &i(&d, "ran_late").unwrap_or(0).to_string()),
                    ("skipped", &i(&d, "skipped").unwrap_or(0).to_string()),
                ],
            )
        }
        "daemon.ledger" => {
            let d = p.get("ledger").cloned().unwrap_or_default();
            let (a, b) = (i(&d, "from_ms").unwrap_or(0), i(&d, "to_ms").unwrap_or(0));
            i18n::tf(
                lang,
                "s.ledger",
                &[
                    ("lasted", &i18n::duration_ms((b - a).max(0) as f64, lang)),
                    ("since", &when(a)),
                    ("failures", &i(&d, "failures").unwrap_or(0).to_string()),
                    ("error", s(&d, "error").unwrap_or("")),
                ],
            )
        }
        "daemon.ledger_gone" => {
            let d = p.get("ledger_gone").cloned().unwrap_or_default();
            let key = if d.get("replaced").and_then(Value::as_bool).unwrap_or(false) {
                "s.ledger_gone.replaced"
            } else {
                "s.ledger_gone.removed"
            };
            i18n::tf(lang, key, &[("file", s(&d, "file").unwrap_or(""))])
        }
        "daemon.reload" => {
            let errors: Vec<&str> = p
                .get("errors")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            facts.push((label("error"), errors.join("\n")));
            i18n::t(lang, "s.reload_kept").to_string()
        }
        "report" => {
            let rep = p.get("report").cloned().unwrap_or_default();
            let link = match (r.dashboard, s(&rep, "url_path")) {
                (Some(base), Some(path)) => format!("{base}{path}"),
                _ => s(&rep, "html_path").unwrap_or("").to_string(),
            };
            facts.push((label("report"), link));
            s(&rep, "summary").unwrap_or("").to_string()
        }
        "test" => i18n::tf(
            lang,
            "s.test",
            &[("channel", s(p, "channel").unwrap_or(""))],
        ),
        _ => s(p, "text").unwrap_or("").to_string(),
    };
    if let Some(tail) = s(p, "output_tail").filter(|t| !t.trim().is_empty()) {
        facts.push((label("output"), tail.trim_end().to_string()));
    }
    if let Some(u) = r.dashboard {
        facts.push((label("dashboard"), u.to_string()));
    }
    (title, sentence, facts)
}

/// An alert's notice: what crossed which threshold, since when, the last samples, what was
/// done, what to do.
fn alert(p: &Value, r: Reader<'_>, facts: &mut Facts) -> String {
    let lang = r.lang;
    let label = |k: &str| i18n::t(lang, k).to_string();
    let job = s(p, "job").unwrap_or("");
    let a = p.get("alert").cloned().unwrap_or_default();
    let kind = s(&a, "state").unwrap_or("");
    let metric = s(&a, "metric").unwrap_or("");
    let fig = |v: f64| i18n::figure(metric, v, lang);
    let value = f(&a, "value").map(fig).unwrap_or_default();
    let threshold = f(&a, "threshold")
        .map(|t| i18n::threshold(metric, t, lang))
        .unwrap_or_default();
    let op = s(&a, "op").unwrap_or(">");
    let (n, m) = (i(&a, "n").unwrap_or(1), i(&a, "m").unwrap_or(1));
    let window = if m > 1 {
        i18n::tf(
            lang,
            "s.window",
            &[("n", &n.to_string()), ("m", &m.to_string())],
        )
    } else {
        i18n::t(lang, "s.window1").to_string()
    };
    let peak = f(&a, "peak").map(fig).unwrap_or_default();
    let since = i(&a, "since_ms");
    let lasted = i(&a, "lasted_ms").map(|ms| i18n::duration_ms(ms as f64, lang));
    let fix = a.get("remediation").cloned().unwrap_or_default();
    let action = s(&fix, "action").unwrap_or("").to_string();
    let max = i(&fix, "max").unwrap_or(0).to_string();
    let per = i(&fix, "per_ms")
        .map(|ms| i18n::duration_ms(ms as f64, lang))
        .unwrap_or_default();
    let samples = || {
        a.get("samples")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_f64)
                    .map(fig)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|v| !v.is_empty())
    };
    let below = matches!(op, "<" | "<=");
    let sentence = match kind {
        "fired" => i18n::tf(
            lang,
            if below { "s.fired.below" } else { "s.fired" },
            &[
                ("job", job),
                ("metric", metric),
                ("value", &value),
                ("threshold", &threshold),
                ("window", &window),
            ],
        ),
        "repeat" => i18n::tf(
            lang,
            "s.repeat",
            &[
                ("job", job),
                ("metric", metric),
                ("threshold", &threshold),
                ("lasted", lasted.as_deref().unwrap_or("")),
                ("value", &value),
                ("peak", &peak),
            ],
        ),
        "resolved" => i18n::tf(
            lang,
            "s.resolved",
            &[
                ("job", job),
                ("metric", metric),
                ("value", &value),
                ("lasted", lasted.as_deref().unwrap_or("")),
                ("peak", &peak),
            ],
        ),
        "remediated" | "remediation-failed" => i18n::tf(
            lang,
            &format!("s.{kind}"),
            &[
                ("job", job),
                ("action", &action),
                ("n", &i(&fix, "used").unwrap_or(0).to_string()),
                ("max", &max),
                ("per", &per),
                ("error", &i18n::error(s(&fix, "error").unwrap_or(""), lang)),
            ],
        ),
        "escalated" => i18n::tf(
            lang,
            "s.escalated",
            &[
                ("job", job),
                ("action", &action),
                ("used", &i(&fix, "used").unwrap_or(0).to_string()),
                ("per", &per),
            ],
        ),
        _ => s(&a, "detail").unwrap_or("").to_string(),
    };
    facts.push((label("rule"), s(&a, "name").unwrap_or("").to_string()));
    if matches!(kind, "fired" | "repeat") {
        facts.push((
            label("threshold"),
            format!("{value} {op} {threshold} ({window})"),
        ));
    }
    if let Some(since) = since {
        facts.push((label("since"), i18n::datetime(since, r.tz, lang)));
    }
    if let Some(l) = &lasted {
        facts.push((label("duration"), l.clone()));
    }
    if matches!(kind, "repeat" | "resolved") && !peak.is_empty() {
        facts.push((label("peak"), peak.clone()));
    }
    if matches!(kind, "fired" | "repeat")
        && let Some(v) = samples()
    {
        facts.push((label("last_samples"), v));
    }
    if kind == "fired" {
        facts.push((
            label("done"),
            if action.is_empty() {
                i18n::t(lang, "s.no_remediation").to_string()
            } else {
                i18n::tf(
                    lang,
                    "s.will_remediate",
                    &[("action", &action), ("max", &max), ("per", &per)],
                )
            },
        ));
    }
    if matches!(
        kind,
        "fired" | "repeat" | "escalated" | "remediation-failed"
    ) && let Some(advice) = advice_in(&a, lang)
    {
        facts.push((label("next"), advice));
    }
    sentence
}

/// The rule's advice in `lang` (each entry is `[lang or null, text]`).
fn advice_in(a: &Value, lang: Lang) -> Option<String> {
    let list = a.get("advice")?.as_array()?;
    let pick = |want: Option<&str>| {
        list.iter().find_map(|e| {
            let l = e.get(0).and_then(Value::as_str);
            (l == want).then(|| e.get(1).and_then(Value::as_str).map(str::to_string))?
        })
    };
    pick(Some(lang.code()))
        .or_else(|| pick(None))
        .or_else(|| pick(Some("en")))
}

/// A run's notice: it fails, it still fails, it works again, it ran.
fn run(p: &Value, r: Reader<'_>, event: &str, facts: &mut Facts) -> String {
    let lang = r.lang;
    let label = |k: &str| i18n::t(lang, k).to_string();
    let job = s(p, "job").unwrap_or("");
    let status = s(p, "status").map(|st| i18n::status(st, lang));
    let error = s(p, "error")
        .map(|e| i18n::error(e, lang))
        .or_else(|| status.clone())
        .unwrap_or_default();
    let since = i(p, "failing_since_ms");
    let count = i(p, "failures").unwrap_or(1).to_string();
    let lasted = match (since, i(p, "finished_at_ms")) {
        (Some(a), Some(b)) => i18n::duration_ms((b - a).max(0) as f64, lang),
        _ => String::new(),
    };
    let since_text = since
        .map(|ms| i18n::datetime(ms, r.tz, lang))
        .unwrap_or_default();
    let sentence = match event {
        "failure" => i18n::tf(lang, "s.failure", &[("job", job), ("error", &error)]),
        "failure.repeat" => i18n::tf(
            lang,
            "s.failure.repeat",
            &[
                ("job", job),
                ("count", &count),
                ("since", &since_text),
                ("lasted", &lasted),
            ],
        ),
        "recovery" => i18n::tf(
            lang,
            "s.recovery",
            &[("job", job), ("lasted", &lasted), ("count", &count)],
        ),
        _ => i18n::tf(lang, "s.success", &[("job", job)]),
    };
    if let Some(run_id) = i(p, "run_id") {
        let attempts = i(p, "attempts").unwrap_or(1);
        let word = i18n::t(lang, if attempts == 1 { "attempt" } else { "attempts" });
        facts.push((label("run"), format!("#{run_id}, {attempts} {word}")));
    }
    if let Some(st) = status {
        facts.push((label("status"), st));
    }
    if let (Some(a), Some(b)) = (i(p, "started_at_ms"), i(p, "finished_at_ms")) {
        facts.push((
            label("started"),
            format!(
                "{} ({})",
                i18n::datetime(a, r.tz, lang),
                i18n::duration_ms((b - a).max(0) as f64, lang)
            ),
        ));
    }
    if matches!(event, "failure" | "failure.repeat") {
        if let Some(e) = s(p, "error") {
            facts.push((label("error"), i18n::error(e, lang)));
        }
        if event == "failure.repeat" || since.is_some_and(|s| Some(s) != i(p, "started_at_ms")) {
            facts.push((label("since"), since_text.clone()));
        }
        if let Some(rep) = i(p, "repeat_ms") {
            facts.push((
                label("reminders"),
                i18n::tf(
                    lang,
                    "s.failure.quiet",
                    &[("repeat", &i18n::duration_ms(rep as f64, lang))],
                ),
            ));
        }
    }
    if let Some(m) = p.get("metrics").and_then(Value::as_object)
        && !m.is_empty()
    {
        let v: Vec<String> = m
            .iter()
            .filter_map(|(k, v)| Some(format!("{k} = {}", i18n::figure(k, v.as_f64()?, lang))))
            .collect();
        facts.push((label("figures"), v.join("\n")));
    }
    sentence
}

/// A regression's notice: the figure, its value, the baseline (with its label), the other
/// figures of the run.
fn regression(p: &Value, r: Reader<'_>, facts: &mut Facts) -> String {
    let lang = r.lang;
    let label = |k: &str| i18n::t(lang, k).to_string();
    let job = s(p, "job").unwrap_or("");
    let g = p.get("regression").cloned().unwrap_or_default();
    let metric = s(&g, "metric").unwrap_or("");
    let value = f(&g, "value").unwrap_or(f64::NAN);
    let base = f(&g, "baseline").unwrap_or(f64::NAN);
    let mut baseline = i18n::figure(metric, base, lang);
    if let Some(l) = s(&g, "label") {
        baseline = format!("« {l} » {baseline}");
        if lang == Lang::En {
            baseline = baseline.replace("« ", "\"").replace(" »", "\"");
        }
    }
    if let Some(at) = i(&g, "pinned_at_ms") {
        baseline = format!("{baseline} ({})", i18n::date(at, r.tz, lang));
    }
    let sentence = i18n::tf(
        lang,
        "s.regression",
        &[
            ("job", job),
            ("metric", metric),
            ("value", &i18n::figure(metric, value, lang)),
            ("change", &i18n::change((value / base - 1.0) * 100.0, lang)),
            ("baseline", &baseline),
        ],
    );
    facts.push((label("baseline"), baseline));
    if let Some(m) = g.get("others").and_then(Value::as_object)
        && !m.is_empty()
    {
        let v: Vec<String> = m
            .iter()
            .filter_map(|(k, v)| Some(format!("{k} = {}", i18n::figure(k, v.as_f64()?, lang))))
            .collect();
        facts.push((label("other_figures"), v.join("\n")));
    }
    sentence
}

/// RFC 2047: a header value with non-ASCII text as `=?UTF-8?B?...?=` words (each at most 75
/// characters, split on character boundaries), ASCII text as it is.
pub fn encode_header(value: &str) -> String {
    use base64::Engine;
    if value.is_ascii() {
        return value.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for ch in value.chars() {
        // 45 bytes of UTF-8 are 60 characters of base64: 72 with the markers.
        if chunk.len() + ch.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(ch);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jobs_language_wins_then_the_channels_then_the_global_one() {
        let job_fr = json!({ "v": 2, "lang": "fr" });
        let none = json!({ "v": 2 });
        assert_eq!(lang_of(&job_fr, Some(Lang::En), Lang::En), Lang::Fr);
        assert_eq!(lang_of(&none, Some(Lang::Fr), Lang::En), Lang::Fr);
        assert_eq!(lang_of(&none, None, Lang::Fr), Lang::Fr);
        assert_eq!(lang_of(&none, None, Lang::En), Lang::En);
    }

    #[test]
    fn a_regression_names_the_figure_the_pinned_baseline_with_its_label_and_the_other_figures() {
        let p = json!({
            "v": 2, "event": "regression", "job": "nightly-benchmark", "run_id": 9,
            "regression": { "metric": "ollama.tokens_per_s", "value": 12.0, "baseline": 20.0,
                "ratio": 0.6, "label": "avant réglage", "pinned_at_ms": 1_796_019_240_000_i64,
                "others": { "ollama.ttft_ms": 850.0 } },
        });
        let r = Reader {
            lang: Lang::Fr,
            tz: "Europe/Paris".parse().unwrap(),
            dashboard: None,
        };
        let out = localize(&p, r);
        let text = out["text"].as_str().unwrap();
        assert!(
            text.starts_with("nightly-benchmark : ollama.tokens_per_s vaut 12,0 tokens/s, -40,0 % par rapport à la référence « avant réglage » 20,0 tokens/s (30 novembre 2026)"),
            "{text}"
        );
        assert!(text.contains("ollama.ttft_ms = 850 ms"), "{text}");
        assert_eq!(
            out["title"],
            "nightly-benchmark : une mesure s'est dégradée"
        );
    }

    #[test]
    fn a_notice_from_an_older_clawcron_is_sent_as_written() {
        let old = json!({ "event": "failure", "title": "clawcron: x failure", "text": "x failure: failed" });
        let r = Reader {
            lang: Lang::Fr,
            tz: chrono_tz::UTC,
            dashboard: Some("http://127.0.0.1:8787/"),
        };
        assert_eq!(localize(&old, r), old);
    }

    #[test]
    fn a_header_with_accents_is_encoded_and_decodes_back() {
        use base64::Engine;
        assert_eq!(encode_header("plain"), "plain");
        let e = encode_header(
            "gateway-health : alerte mémoire élevée, très élevée, vraiment très élevée",
        );
        assert!(e.is_ascii() && e.starts_with("=?UTF-8?B?"), "{e}");
        let back: String = e
            .split(' ')
            .map(|w| {
                let b64 = w.trim_start_matches("=?UTF-8?B?").trim_end_matches("?=");
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            back,
            "gateway-health : alerte mémoire élevée, très élevée, vraiment très élevée"
        );
        assert!(e.split(' ').all(|w| w.len() <= 75));
    }

    #[test]
    fn the_ledgers_loss_is_told_in_the_readers_language() {
        let p = json!({
            "v": 2, "event": "daemon.ledger_gone", "title": "x", "text": "x", "job": null,
            "at_ms": 0, "ledger_gone": { "file": "/s/clawcron.db", "replaced": false },
        });
        let fr = localize(
            &p,
            Reader {
                lang: Lang::Fr,
                tz: chrono_tz::UTC,
                dashboard: None,
            },
        );
        assert!(
            fr["sentence"].as_str().unwrap().starts_with(
                "Le fichier du registre /s/clawcron.db a été supprimé sous le démon en marche"
            ),
            "{fr}"
        );
        assert!(
            fr["title"]
                .as_str()
                .unwrap()
                .contains("le fichier du registre a disparu"),
            "{fr}"
        );
        assert_eq!(
            crate::i18n::error(
                "cancelled by its client (Ctrl-C on `clawcron trigger`, or the client went away)",
                Lang::Fr
            ),
            "annulée par son client (Ctrl-C sur `clawcron trigger`, ou le client est parti)"
        );
    }
}
