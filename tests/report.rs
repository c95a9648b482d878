//! The weekly report from a seeded ledger: a known week (runs, failures, missed slots, alerts, a
//! regression, figures, notices, a downtime) and the week before it, rendered with the shipped
//! templates; the Markdown's figures are asserted exactly, the HTML is rendered by headless
//! Chromium to a PNG (kept in target/report-artifacts), a broken template gives file:line, a
//! missing figure reads "no data", and an empty week renders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::TimeZone;
use clawcron::model::Metric;
use clawcron::model::{Delivery, Notice};
use clawcron::model::{Evidence, Lang, PeriodSpec, ReportSpec, Sources};
use clawcron::model::{RunOutcome, RunStatus};
use clawcron::report::advice::{DockerFacts, LoadedModel, Observed};
use clawcron::store::Store;

const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Monday 2026-11-16 00:00 in Paris (2026-W47), in Unix ms.
fn week47() -> i64 {
    TZ.with_ymd_and_hms(2026, 11, 16, 0, 0, 0)
        .unwrap()
        .timestamp_millis()
}

fn spec(dir: &std::path::Path, lang: Lang) -> ReportSpec {
    ReportSpec {
        title: "OpenClaw weekly report".into(),
        template: "weekly-report".into(),
        lang,
        period: PeriodSpec::parse("2026-W47").unwrap(),
        out_dir: dir.join("reports"),
        templates_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/templates").into(),
        timezone: TZ,
        send_to: vec![],
        sources: Sources::default(),
        evidence: Evidence {
            min_docker_memory_gib: 8,
            ..Evidence::default()
        },
        checks: vec![],
    }
}

/// A run of `job` at `slot_ms` taking `took_ms`, with these figures.
fn run(
    store: &Store,
    job: &str,
    slot_ms: i64,
    took_ms: i64,
    ok: bool,
    metrics: &[(&str, f64)],
    boot: &str,
) {
    let id = store
        .start_run(job, "schedule", slot_ms / 1000, boot, slot_ms)
        .unwrap();
    store.finish_later(
        id,
        RunOutcome {
            status: if ok {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            },
            reason: None,
            attempts: 1,
            started_at_ms: slot_ms,
            finished_at_ms: slot_ms + took_ms,
            exit_code: Some(if ok { 0 } else { 1 }),
            error: (!ok).then(|| "exited with status 1".to_string()),
            output_tail: String::new(),
            metrics: metrics.iter().map(|(n, v)| Metric::new(*n, *v)).collect(),
        },
    );
    store.flush();
}

/// The known week (2026-W47) and the week before it.
fn seed(store: &Store) {
    let w = week47();
    let prev = w - 7 * DAY;
    // gateway-health, every 4 hours: 42 slots. This week 38 succeeded, 2 failed, 2 missed;
    // latency 1000 + 10 i ms over the 40 runs; memory 40 + 5 d % on day d.
    let mut i = 0;
    for k in 0..42 {
        let slot = w + k * 4 * HOUR;
        if k == 20 || k == 21 {
            store
                .record_skipped_run(
                    "gateway-health",
                    "schedule",
                    slot / 1000,
                    "boot-a",
                    "missed: machine asleep",
                )
                .unwrap();
            continue;
        }
        let day = (k * 4 * HOUR / DAY) as f64;
        run(
            store,
            "gateway-health",
            slot,
            100 + i,
            !(k == 5 || k == 30),
            &[
                ("ready.total_ms", 1000.0 + 10.0 * i as f64),
                ("stats.mem_percent", 40.0 + 5.0 * day),
            ],
            "boot-a",
        );
        i += 1;
    }
    for k in 0..42 {
        run(
            store,
            "gateway-health",
            prev + k * 4 * HOUR,
            100,
            true,
            &[("ready.total_ms", 1000.0), ("stats.mem_percent", 40.0)],
            "boot-a",
        );
    }
    // gateway-restart at 03:00: one failure this week.
    for d in 0..7 {
        run(
            store,
            "gateway-restart",
            w + d * DAY + 3 * HOUR,
            20_000,
            d != 4,
            &[],
            "boot-a",
        );
        run(
            store,
            "gateway-restart",
            prev + d * DAY + 3 * HOUR,
            20_000,
            true,
            &[],
            "boot-a",
        );
    }
    // nightly-benchmark at 03:30: tokens/s 40, 42, 41, 39, 43, 20, 41 (50 every night before).
    for (d, tps) in [40.0, 42.0, 41.0, 39.0, 43.0, 20.0, 41.0]
        .into_iter()
        .enumerate()
    {
        let d = d as i64;
        run(
            store,
            "nightly-benchmark",
            w + d * DAY + 3 * HOUR + HOUR / 2,
            60_000,
            true,
            &[("ollama.tokens_per_s", tps)],
            "boot-a",
        );
        run(
            store,
            "nightly-benchmark",
            prev + d * DAY + 3 * HOUR + HOUR / 2,
            60_000,
            true,
            &[("ollama.tokens_per_s", 50.0)],
            "boot-a",
        );
    }
    store
        .pin_baseline(
            "nightly-benchmark",
            &[("ollama.tokens_per_s".into(), 52.0)],
            Some("before tuning"),
            prev - DAY,
        )
        .unwrap();
    store
        .record_alert_event(
            "nightly-benchmark",
            "regression:ollama.tokens_per_s",
            "regression",
            20.0,
            "ollama.tokens_per_s 20 is 40 % of the median of the last 7 runs (50); the limit is 80 %",
            w + 5 * DAY + 3 * HOUR + HOUR / 2 + 60_000,
        )
        .unwrap();
    // memory-high fired with Thursday's 04:00 sample (55 %, run 19 ends at +119 ms) and
    // resolved 12 hours later.
    let fired = w + 3 * DAY + 4 * HOUR + 119;
    store
        .record_alert_event(
            "gateway-health",
            "memory-high",
            "fired",
            55.0,
            "stats.mem_percent > 50 for 2 of 3; samples [55, 55]",
            fired,
        )
        .unwrap();
    store
        .record_alert_event(
            "gateway-health",
            "memory-high",
            "remediated",
            55.0,
            "restart openclaw-gateway: done (remediation 1 of 2 per 1h)",
            fired,
        )
        .unwrap();
    store
        .record_alert_event(
            "gateway-health",
            "memory-high",
            "resolved",
            40.0,
            "stats.mem_percent > 50 for 2 of 3; lasted 12h; peak 55",
            fired + 12 * HOUR,
        )
        .unwrap();
    // Notices: three sent, one refused.
    for (n, ok) in [(1, true), (2, true), (3, true), (4, false)] {
        let at = w + n * DAY;
        store
            .enqueue_notices(&[Notice {
                key: format!("run:{n}:failure:hook"),
                channel: "hook".into(),
                payload: serde_json::json!({}),
                at_ms: at,
                quiet: None,
            }])
            .unwrap();
        let id = store.notices(1).unwrap()[0].id;
        let outcome = if ok {
            Delivery::Sent {
                answer: "200 ok".into(),
            }
        } else {
            Delivery::Failed {
                error: "404 nope".into(),
            }
        };
        store.record_delivery(id, &outcome, at + 1000).unwrap();
    }
    // The daemon: stopped Wednesday 12:00, started again at 14:30.
    let a = store.start_session("boot-a", prev - DAY).unwrap();
    store.end_session(a, w + 2 * DAY + 12 * HOUR).unwrap();
    store
        .start_session("boot-a", w + 2 * DAY + 14 * HOUR + 30 * 60_000)
        .unwrap();
    // Still running when the report is made.
    store.session_alive(w + 8 * DAY).unwrap();
    // The preload ran at start in this boot.
    run(
        store,
        "model-preload",
        w + 2 * DAY + 14 * HOUR + 30 * 60_000,
        9_000,
        true,
        &[],
        "boot-b",
    );
}

fn observed() -> Observed {
    Observed {
        docker: Ok(DockerFacts {
            engine_memory: 16.0 * (1u64 << 30) as f64,
            container_limit: Some(0.0),
            oom_killed: Some(false),
            container_error: None,
        }),
        ollama: Ok(vec![LoadedModel {
            name: "llama3.2:8b".into(),
            size: 6.0e9,
            size_vram: 4.5e9,
        }]),
        checks: vec![("OLLAMA_NUM_PARALLEL set".into(), true, "2".into())],
        boot_id: "boot-b".into(),
    }
}

fn render(store: &Store, spec: &ReportSpec) -> clawcron::report::Rendered {
    let period = spec.period.resolve(week47() + 10 * DAY, TZ);
    clawcron::report::render(
        spec,
        store,
        &period,
        week47() + 8 * DAY,
        &observed(),
        &clawcron::template::Bounds::report(),
    )
    .unwrap()
}

fn section<'a>(md: &'a str, title: &str) -> &'a str {
    let start = md
        .find(&format!("## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title} in\n{md}"));
    let rest = &md[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 4);
    rest[..end].trim_end()
}

#[test]
fn a_known_week_renders_its_figures_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    seed(&store);
    let r = render(&store, &spec(dir.path(), Lang::En));
    let md = &r.markdown;
    std::fs::create_dir_all(artifacts()).unwrap();
    std::fs::write(artifacts().join("weekly-report.md"), md).unwrap();
    assert!(md.starts_with("# OpenClaw weekly report: 2026-W47\n\nMonday 16 November 2026 00:00 to Monday 23 November 2026 00:00 (Europe/Paris), compared with 2026-W46.\n"), "{md}");
    assert_eq!(
        r.summary,
        "2026-W47: 55 runs, 94.5 % succeeded, 3 failed, 2 missed; 1 alert(s) fired; tokens/s median 41.0 (-18.0 %)"
    );
    assert_eq!(
        section(md, "Headline figures"),
        "## Headline figures

| figure | this week (median) | p95 | last week (median) | change | baseline (before) | vs baseline |
|---|---:|---:|---:|---:|---:|---:|
| Ollama tokens/s | 41.0 | 43.0 | 50.0 | -18.0 % | 52.0 | -21.2 % |
| Gateway latency (ms) | 1,195 | 1,370 | 1,000 | +19.5 % | no data | no data |
| Container memory (%) | 55.0 | 70.0 | 40.0 | +37.5 % | no data | no data |"
    );
    assert_eq!(
        section(md, "Jobs"),
        "## Jobs

| job | runs | succeeded | failed | missed | skipped | median time | p95 time | last week: runs / failed |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| gateway-health | 40 | 38 | 2 | 2 | 2 | 120 ms | 137 ms | 42 / 0 |
| gateway-restart | 7 | 6 | 1 | 0 | 0 | 20 s | 20 s | 7 / 0 |
| model-preload | 1 | 1 | 0 | 0 | 0 | 9 s | 9 s | 0 / 0 |
| nightly-benchmark | 7 | 7 | 0 | 0 | 0 | 1 min | 1 min | 7 / 0 |

Skipped slots, by reason:

- gateway-health: 2 × missed: machine asleep"
    );
    assert_eq!(
        section(md, "Alerts"),
        "## Alerts

| job | alert | rule | fired | firing time | peak | remediations | now |
|---|---|---|---:|---:|---:|---:|---|
| gateway-health | memory-high | stats.mem_percent > 50 % (2 of the last 3 samples) | 1 | 12 h | 55 % | 1 | ok |"
    );
    // The guide's before/after: the latest figure against the pinned baseline, with its label.
    assert_eq!(
        section(md, "Before and after"),
        "## Before and after

| figure | baseline | pinned | baseline value | latest | change |
|---|---|---|---:|---:|---:|
| nightly-benchmark ollama.tokens_per_s | before tuning | Sunday 8 November 2026 00:00 | 52.0 tokens/s | 41.0 tokens/s (Sunday 22 November 2026 03:31) | -21.2 % (worse) |"
    );
    let figures = section(md, "All figures");
    for line in [
        "| gateway-health | ready.total_ms | 40 | 1,000.00 | 1,195.00 | 1,370.00 | 1,390.00 | +19.5 % | no data |",
        "| gateway-health | stats.mem_percent | 40 | 40.00 | 55.00 | 70.00 | 70.00 | +37.5 % | no data |",
        "| nightly-benchmark | ollama.tokens_per_s | 7 | 20.00 | 41.00 | 43.00 | 43.00 | -18.0 % | -21.2 % |",
    ] {
        assert!(figures.contains(line), "{line}\nnot in\n{figures}");
    }
    assert_eq!(
        section(md, "Regressions"),
        "## Regressions

- Saturday 21 November 2026 03:31: nightly-benchmark: ollama.tokens_per_s is 20.0 tokens/s, -60.0 % against the median of its last 7 runs (50.0 tokens/s)"
    );
    assert_eq!(
        section(md, "Notifications"),
        "## Notifications

3 sent, 1 failed, 0 expired, 0 pending.

- hook run:4:failure:hook: failed, 404 nope"
    );
    assert_eq!(
        section(md, "Daemon downtime"),
        "## Daemon downtime

Down 2 h 30 min in all since it ran:

- Wednesday 18 November 2026 12:00 to Wednesday 18 November 2026 14:30 (2 h 30 min)"
    );
    let recs = section(md, "Recommendations");
    // The rule is on the gateway container: its cause is not Ollama's (on the host).
    assert!(recs.contains("- **Find what fills the gateway container's memory.** memory-high fired 1 time(s), alerting 12 h in all, peak 55 %."), "{recs}");
    assert!(!recs.contains("OLLAMA_MAX_LOADED_MODELS"), "{recs}");
    assert!(recs.contains("- **Check that the GPU is used.** tokens/s median 41.0 is -21.2 % of the baseline (52.0); in GPU memory (/api/ps): llama3.2:8b 75 %."), "{recs}");
    assert!(recs.contains("- **Lower the parallelism.** ready.total_ms p95 1,370 ms against 1,000 ms before (+37.0 %)."), "{recs}");
    assert!(recs.contains("- **Memory creeps up and the nightly restart is not doing its job.** stats.mem_percent daily median from 40.0 % to 70.0 % over 6 days (+5.0 points a day); 6 restarts succeeded of 7."), "{recs}");
    assert_eq!(
        section(md, "Checklist"),
        "## Checklist

- [x] Docker memory raised: the engine has 16 GiB (at least 8 GiB wanted); container limit none
- [ ] Models run on the GPU: llama3.2:8b: 75 % in GPU memory
- [x] Models preloaded this boot: model-preload succeeded at Wednesday 18 November 2026 14:30
- [x] OLLAMA_NUM_PARALLEL set: 2"
    );
}

fn artifacts() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-artifacts")
}

fn headless(bin: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_html_report_renders_in_headless_chromium_with_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    seed(&store);
    for lang in [Lang::En, Lang::Fr] {
        let spec = spec(dir.path(), lang);
        let r = render(&store, &spec);
        let (md, html) = clawcron::report::write(&spec, "weekly-report", &r, &|| true).unwrap();
        let suffix = if lang == Lang::Fr { ".fr" } else { "" };
        assert!(
            md.ends_with(format!("weekly-report-2026-W47{suffix}.md")),
            "{}",
            md.display()
        );
        assert!(html.ends_with(format!("weekly-report-2026-W47{suffix}.html")));
        let page = std::fs::read_to_string(&html).unwrap();
        // Self-contained: no external resource (the SVG namespace is a name, not a fetch).
        for fetch in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "<link",
            "<script",
            "@import",
        ] {
            assert!(!page.contains(fetch), "{fetch} in {page}");
        }
        assert_eq!(page.matches("<svg").count(), 3, "three charts");
        std::fs::write(
            artifacts().join(format!("weekly-report{suffix}.html")),
            &page,
        )
        .unwrap();
        if lang == Lang::Fr {
            assert!(
                page.contains("<h2>Chiffres clés</h2>") && page.contains("41,0"),
                "{page}"
            );
            assert!(
                r.markdown.contains(
                    "| Ollama tokens/s | 41,0 | 43,0 | 50,0 | -18,0 % | 52,0 | -21,2 % |"
                ),
                "{}",
                r.markdown
            );
            // The French report as its reader sees it.
            if let Some(bin) = common::chromium() {
                let png = artifacts().join("weekly-report.fr.png");
                let url = format!("file://{}", html.display());
                let shot = headless(
                    bin,
                    &[
                        &format!("--screenshot={}", png.display()),
                        "--window-size=1000,3600",
                        &url,
                    ],
                );
                assert!(shot.status.success());
                assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
            }
            continue;
        }
        let Some(bin) = common::chromium() else {
            continue;
        };
        let url = format!("file://{}", html.display());
        let dom = headless(bin, &["--dump-dom", &url]);
        let dom_text = String::from_utf8_lossy(&dom.stdout);
        assert!(
            dom.status.success(),
            "{}",
            String::from_utf8_lossy(&dom.stderr)
        );
        assert!(
            dom_text.contains("<td>gateway-health</td><td class=\"n\">40</td>"),
            "{dom_text}"
        );
        assert!(dom_text.contains("Ollama tokens/s, last 30 days"));
        let png = artifacts().join("weekly-report.png");
        let _ = std::fs::remove_file(&png);
        let shot = headless(
            bin,
            &[
                &format!("--screenshot={}", png.display()),
                "--window-size=1000,3200",
                &url,
            ],
        );
        assert!(
            shot.status.success(),
            "{}",
            String::from_utf8_lossy(&shot.stderr)
        );
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(
            bytes.len() > 50_000,
            "a page with tables and charts, not a blank one: {} bytes",
            bytes.len()
        );
    }
}

/// A container whose 64 MiB limit is what made memory-high fire: the checklist does not tick
/// "Docker memory raised", and the advice names the limit, not Ollama.
#[test]
fn a_small_container_limit_is_judged_as_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    seed(&store);
    let spec = spec(dir.path(), Lang::Fr);
    let period = spec.period.resolve(week47() + 10 * DAY, TZ);
    let mut seen = observed();
    seen.docker = Ok(DockerFacts {
        engine_memory: 16.0 * (1u64 << 30) as f64,
        container_limit: Some(64.0 * (1u64 << 20) as f64),
        oom_killed: Some(false),
        container_error: None,
    });
    let r = clawcron::report::render(
        &spec,
        &store,
        &period,
        week47() + 8 * DAY,
        &seen,
        &clawcron::template::Bounds::report(),
    )
    .unwrap();
    let md = &r.markdown;
    assert!(
        md.contains("- [ ] Mémoire Docker augmentée : le moteur a 16 Gio (au moins 8 Gio voulus) ; limite du conteneur 64 Mio ; cette limite a déclenché memory-high 1 fois cette semaine"),
        "{md}"
    );
    assert!(
        md.contains("- **Augmenter la limite mémoire du conteneur de la passerelle.** memory-high s'est déclenchée 1 fois, en alerte 12 h au total, pic 55 % ; la limite mémoire du conteneur est de 64 Mio."),
        "{md}"
    );
    assert!(!md.contains("OLLAMA_MAX_LOADED_MODELS"), "{md}");
    // No English left in the French report's own words.
    for word in [
        "for 3 of", "for 2 of", "measured", "active ", "firing", "samples]",
    ] {
        assert!(!r.html.contains(word), "`{word}` in the French report");
    }
}

/// The week of the first start says when it started and that nothing was recorded before.
#[test]
fn the_week_of_the_first_start_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // First start on Thursday 19 November 12:00, running since.
    store
        .start_session("boot-x", week47() + 3 * DAY + 12 * HOUR)
        .unwrap();
    store.session_alive(week47() + 8 * DAY).unwrap();
    let r = render(&store, &spec(dir.path(), Lang::En));
    assert!(
        r.markdown.contains("First start: Thursday 19 November 2026 12:00; nothing was recorded in the 3 d 12 h of the week before it.\nNo downtime since then."),
        "{}",
        r.markdown
    );
    let fr = render(&store, &spec(dir.path(), Lang::Fr));
    assert!(
        fr.markdown.contains("Premier démarrage : jeudi 19 novembre 2026 12:00 ; rien n'a été enregistré pendant les 3 j 12 h de la semaine qui l'ont précédé."),
        "{}",
        fr.markdown
    );
}

#[test]
fn an_empty_week_and_a_missing_figure_render_as_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let r = render(&store, &spec(dir.path(), Lang::En));
    assert!(
        r.markdown.contains(
            "| Ollama tokens/s | no data | no data | no data | no data | no data | no data |"
        ),
        "{}",
        r.markdown
    );
    assert!(r.markdown.contains("| no runs recorded this week |"));
    assert!(r.markdown.contains("No alert rule recorded anything."));
    // A week before the daemon ever started says so, not "ran the whole week".
    assert!(
        r.markdown
            .contains("The daemon had not started yet: nothing was recorded this week."),
        "{}",
        r.markdown
    );
    assert!(
        r.html.contains("Ollama tokens/s, last 30 days: no data"),
        "{}",
        r.html
    );
    assert_eq!(
        r.summary,
        "2026-W47: 0 runs, no data % succeeded, 0 failed, 0 missed; 0 alert(s) fired; tokens/s median no data"
    );
    let fr = render(&store, &spec(dir.path(), Lang::Fr));
    assert!(
        fr.markdown.contains("| Ollama tokens/s | pas de données |"),
        "{}",
        fr.markdown
    );
}

#[test]
fn a_broken_template_names_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir(&templates).unwrap();
    std::fs::write(
        templates.join("mine.md.j2"),
        "# {{ report.title }}\n\n{% for j in jobs %}\n{{ j.id }\n{% endfor %}\n",
    )
    .unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut s = spec(dir.path(), Lang::En);
    s.template = "mine".into();
    s.templates_dir = templates.clone();
    let period = s.period.resolve(week47(), TZ);
    let err = clawcron::report::render(
        &s,
        &store,
        &period,
        week47(),
        &observed(),
        &clawcron::template::Bounds::report(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}:4: syntax error",
            templates.join("mine.md.j2").display()
        )),
        "{text}"
    );
    // A call with a wrong argument is reported the same way.
    std::fs::write(
        templates.join("mine.md.j2"),
        "ok\n{{ chart(\"a/b\", dayz=3) }}\n",
    )
    .unwrap();
    let err = clawcron::report::render(
        &s,
        &store,
        &period,
        week47(),
        &observed(),
        &clawcron::template::Bounds::report(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("mine.md.j2:2:"), "{err}");
}
