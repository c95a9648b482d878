//! Recommendations from rules over the recorded data, each citing the figure behind it (after
//! the guide's troubleshooting table), and the guide's hand-ticked checklist ticked from evidence
//! instead: the Docker engine's memory and the container's limit (Engine API), Ollama's loaded
//! models and their share in GPU memory (`/api/ps`), whether the preload job succeeded this boot,
//! and the checks the job file declares. A line says what was observed, or "not observed".

use super::context::{Context, fmt_num, fmt_pct};
use crate::model::{Lang, ReportSpec};
use crate::store::{Store, StoreError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// memory | gpu | parallelism | memory-creep
    pub id: String,
    pub title: String,
    /// The figure behind it.
    pub evidence: String,
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckLine {
    pub item: String,
    /// `None`: not observed.
    pub ok: Option<bool>,
    pub observed: String,
}

/// A model Ollama has loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    pub name: String,
    pub size: f64,
    pub size_vram: f64,
}

/// What the Docker engine says.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerFacts {
    pub engine_memory: f64,
    /// 0: no limit.
    pub container_limit: Option<f64>,
    pub oom_killed: Option<bool>,
    /// Why the container could not be inspected, if it could not.
    pub container_error: Option<String>,
}

/// The evidence gathered before rendering (each part may be unavailable, with why).
#[derive(Debug, Clone)]
pub struct Observed {
    pub docker: Result<DockerFacts, String>,
    pub ollama: Result<Vec<LoadedModel>, String>,
    /// Declared checks: (name, passed, what was seen).
    pub checks: Vec<(String, bool, String)>,
    pub boot_id: String,
}

impl Observed {
    /// Nothing observed (tests, or a report rendered without the machine).
    pub fn nothing(why: &str) -> Observed {
        Observed {
            docker: Err(why.to_string()),
            ollama: Err(why.to_string()),
            checks: Vec::new(),
            boot_id: String::new(),
        }
    }
}

fn gib(bytes: f64) -> f64 {
    bytes / (1u64 << 30) as f64
}

fn t(lang: Lang, en: &str, fr: &str) -> String {
    match lang {
        Lang::En => en.to_string(),
        Lang::Fr => fr.to_string(),
    }
}

/// The recommendations the data supports, each with its figure.
pub fn recommend(
    spec: &ReportSpec,
    store: &Store,
    ctx: &Context,
    observed: &Observed,
) -> Result<Vec<Recommendation>, StoreError> {
    let lang = spec.lang;
    let s = &spec.sources;
    let metric = |pair: &(String, String)| ctx.metrics.get(&format!("{}/{}", pair.0, pair.1));
    let mut out = Vec::new();

    // Memory alerts or an out-of-memory kill: fewer models loaded at once.
    let mem_alert = ctx
        .alerts
        .iter()
        .find(|a| a.job == s.memory_alert.0 && a.rule == s.memory_alert.1)
        .filter(|a| a.fired > 0 || a.state == "firing");
    let oom = matches!(
        &observed.docker,
        Ok(DockerFacts {
            oom_killed: Some(true),
            ..
        })
    );
    if mem_alert.is_some() || oom {
        // The rule measures the gateway container's memory against its own limit: the cause
        // is the container's limit, or what grows inside it; Ollama runs on the host and loads
        // its models there, so its settings are not the lever here.
        let limit = match &observed.docker {
            Ok(d) => d.container_limit.filter(|l| *l > 0.0),
            Err(_) => None,
        };
        let mut ev = Vec::new();
        if let Some(a) = mem_alert {
            let peak = a
                .peak
                .map(|p| {
                    format!(
                        ", {} {}",
                        t(lang, "peak", "pic"),
                        crate::i18n::figure(&a.metric, p, lang)
                    )
                })
                .unwrap_or_default();
            let active = crate::i18n::duration_ms(a.firing_ms.max(0) as f64, lang);
            ev.push(match lang {
                Lang::En => format!(
                    "{} fired {} time(s), alerting {active} in all{peak}",
                    a.rule, a.fired
                ),
                Lang::Fr => format!(
                    "{} s'est déclenchée {} fois, en alerte {active} au total{peak}",
                    a.rule, a.fired
                ),
            });
        }
        if let Some(l) = limit {
            ev.push(match lang {
                Lang::En => format!(
                    "the container's memory limit is {}",
                    crate::i18n::bytes(l, lang)
                ),
                Lang::Fr => format!(
                    "la limite mémoire du conteneur est de {}",
                    crate::i18n::bytes(l, lang)
                ),
            });
        }
        if oom {
            ev.push(t(
                lang,
                "the container was killed for lack of memory (OOMKilled)",
                "le conteneur a été tué faute de mémoire (OOMKilled)",
            ));
        }
        let small = limit.is_some_and(|l| l < 2.0 * (1u64 << 30) as f64);
        out.push(Recommendation {
            id: "memory".into(),
            title: if small {
                t(lang, "Raise the gateway container's memory limit", "Augmenter la limite mémoire du conteneur de la passerelle")
            } else {
                t(lang, "Find what fills the gateway container's memory", "Chercher ce qui remplit la mémoire du conteneur de la passerelle")
            },
            evidence: ev.join(if lang == Lang::Fr { " ; " } else { "; " }),
            action: if small {
                t(
                    lang,
                    "Give it at least 2 GiB (docker update --memory 2g --memory-swap 2g openclaw-gateway, or mem_limit: 2g in its compose file), then watch memory-high for a week.",
                    "Donnez-lui au moins 2 Gio (docker update --memory 2g --memory-swap 2g openclaw-gateway, ou mem_limit: 2g dans son fichier compose), puis surveillez memory-high pendant une semaine.",
                )
            } else {
                t(
                    lang,
                    "Look at what grows in the gateway (docker stats, its sessions and caches); the nightly restart bounds it meanwhile.",
                    "Regardez ce qui grossit dans la passerelle (docker stats, ses sessions et caches) ; le redémarrage nocturne le borne en attendant.",
                )
            },
        });
    }

    // Low tokens/s against the pinned baseline or last week: is the GPU used?
    if let Some(m) = metric(&s.tokens_per_s)
        && let Some(this) = &m.this
    {
        let against = m
            .baseline
            .map(|b| (b, t(lang, "the baseline", "la référence")))
            .or_else(|| {
                m.previous
                    .as_ref()
                    .map(|p| (p.median, t(lang, "last week", "la semaine précédente")))
            });
        if let Some((before, what)) = against
            && before > 0.0
            && this.median < 0.8 * before
        {
            let gpu = match &observed.ollama {
                Ok(models) if !models.is_empty() => models
                    .iter()
                    .map(|m| {
                        format!(
                            "{} {} %",
                            m.name,
                            fmt_num(
                                if m.size > 0.0 {
                                    m.size_vram / m.size * 100.0
                                } else {
                                    0.0
                                },
                                0,
                                lang
                            )
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Ok(_) => t(lang, "no model loaded", "aucun modèle chargé"),
                Err(e) => format!("{}: {e}", t(lang, "not observed", "non observé")),
            };
            out.push(Recommendation {
                id: "gpu".into(),
                title: t(lang, "Check that the GPU is used", "Vérifier que le GPU est utilisé"),
                evidence: match lang {
                    Lang::En => format!("tokens/s median {} is {} of {what} ({}); in GPU memory (/api/ps): {gpu}", fmt_num(this.median, 1, lang), fmt_pct(this.median / before * 100.0 - 100.0, lang), fmt_num(before, 1, lang)),
                    Lang::Fr => format!("tokens/s médian {} soit {} par rapport à {what} ({}) ; en mémoire GPU (/api/ps) : {gpu}", fmt_num(this.median, 1, lang), fmt_pct(this.median / before * 100.0 - 100.0, lang), fmt_num(before, 1, lang)),
                },
                action: t(
                    lang,
                    "A model only partly in GPU memory runs on the CPU: free memory (fewer models, smaller context) or pick a smaller quantisation.",
                    "Un modèle partiellement en mémoire GPU tourne sur le CPU : libérez de la mémoire (moins de modèles, contexte plus court) ou choisissez une quantification plus petite.",
                ),
            });
        }
    }

    // Latency up against last week or the baseline: less parallelism.
    if let Some(m) = metric(&s.latency_ms)
        && let Some(this) = &m.this
    {
        let before = m.baseline.or_else(|| m.previous.as_ref().map(|p| p.p95));
        if let Some(before) = before
            && before > 0.0
            && this.p95 > 1.2 * before
        {
            out.push(Recommendation {
                id: "parallelism".into(),
                title: t(lang, "Lower the parallelism", "Réduire le parallélisme"),
                evidence: match lang {
                    Lang::En => format!("{} p95 {} ms against {} ms before ({})", m.name, fmt_num(this.p95, 0, lang), fmt_num(before, 0, lang), fmt_pct(this.p95 / before * 100.0 - 100.0, lang)),
                    Lang::Fr => format!("{} p95 {} ms contre {} ms avant ({})", m.name, fmt_num(this.p95, 0, lang), fmt_num(before, 0, lang), fmt_pct(this.p95 / before * 100.0 - 100.0, lang)),
                },
                action: t(
                    lang,
                    "Set OLLAMA_NUM_PARALLEL=1 (or lower it): each parallel request takes its own context memory and slows the others.",
                    "Réglez OLLAMA_NUM_PARALLEL=1 (ou plus bas) : chaque requête parallèle prend sa propre mémoire de contexte et ralentit les autres.",
                ),
            });
        }
    }

    // Container memory creeping up through the week: is the nightly restart doing its job?
    let (job, name) = &s.memory_percent;
    let series = store.series(
        job,
        name,
        ctx.report.period.start_ms,
        ctx.report.period.end_ms,
    )?;
    if let Some((first, last, days)) = daily_trend(&series, spec.timezone) {
        let per_day = (last - first) / days as f64;
        if days >= 2 && per_day > 2.0 {
            let restarts: Vec<&super::context::JobStats> =
                ctx.jobs.iter().filter(|j| j.id == s.restart_job).collect();
            let (ok, all) = restarts
                .first()
                .map_or((0, 0), |j| (j.counts.succeeded, j.counts.runs));
            let doing = all > 0 && ok == all;
            out.push(Recommendation {
                id: "memory-creep".into(),
                title: if doing {
                    t(lang, "Memory creeps up: the nightly restart is doing its job", "La mémoire monte : le redémarrage nocturne fait son travail")
                } else {
                    t(lang, "Memory creeps up and the nightly restart is not doing its job", "La mémoire monte et le redémarrage nocturne ne fait pas son travail")
                },
                evidence: match lang {
                    Lang::En => format!("{name} daily median from {} % to {} % over {days} days (+{} points a day); {} restarts succeeded of {all}", fmt_num(first, 1, lang), fmt_num(last, 1, lang), fmt_num(per_day, 1, lang), ok),
                    Lang::Fr => format!("{name} médiane quotidienne de {} % à {} % en {days} jours (+{} points par jour) ; {} redémarrages réussis sur {all}", fmt_num(first, 1, lang), fmt_num(last, 1, lang), fmt_num(per_day, 1, lang), ok),
                },
                action: if doing {
                    t(lang, "Keep the restart; if memory still nears the limit before 3 a.m., restart twice a day or find the leak.", "Gardez le redémarrage ; si la mémoire approche encore de la limite avant 3 h, redémarrez deux fois par jour ou cherchez la fuite.")
                } else {
                    t(lang, "Fix the gateway-restart job (see its failures in the ledger: clawcron history gateway-restart).", "Réparez la tâche gateway-restart (voir ses échecs : clawcron history gateway-restart).")
                },
            });
        }
    }
    Ok(out)
}

/// The first and last daily medians (local days) of a series and how many days apart they are.
fn daily_trend(series: &[(i64, f64)], tz: chrono_tz::Tz) -> Option<(f64, f64, i64)> {
    let mut days: std::collections::BTreeMap<chrono::NaiveDate, Vec<f64>> =
        std::collections::BTreeMap::new();
    for (at, v) in series {
        let d = crate::util::to_utc(at.div_euclid(1000))
            .with_timezone(&tz)
            .date_naive();
        days.entry(d).or_default().push(*v);
    }
    let first = days.iter().next()?;
    let last = days.iter().next_back()?;
    Some((
        crate::util::stats::median(first.1)?,
        crate::util::stats::median(last.1)?,
        (*last.0 - *first.0).num_days(),
    ))
}

/// The checklist, ticked from evidence.
pub fn checklist(
    spec: &ReportSpec,
    store: &Store,
    ctx: &Context,
    observed: &Observed,
) -> Result<Vec<CheckLine>, StoreError> {
    let lang = spec.lang;
    let not_observed = |why: &str| format!("{} ({why})", t(lang, "not observed", "non observé"));
    let mut out = Vec::new();
    // Docker's memory: the engine's, and the container's limit judged by what it did this week
    // (a limit that made the memory rule fire is not "raised", whatever the engine has).
    let mem_alert = ctx
        .alerts
        .iter()
        .find(|a| a.job == spec.sources.memory_alert.0 && a.rule == spec.sources.memory_alert.1);
    let item = t(lang, "Docker memory raised", "Mémoire Docker augmentée");
    out.push(match &observed.docker {
        Ok(d) => {
            let engine_ok =
                gib(d.engine_memory) + 0.05 >= f64::from(spec.evidence.min_docker_memory_gib);
            let limit = d.container_limit.filter(|l| *l > 0.0);
            let fired = mem_alert.map_or(0, |a| a.fired);
            let limit_text = match d.container_limit {
                Some(l) if l > 0.0 => crate::i18n::bytes(l, lang),
                Some(_) => t(lang, "none", "aucune"),
                None => match &d.container_error {
                    Some(e) => format!("{} ({e})", t(lang, "not observed", "non observée")),
                    None => t(lang, "not observed", "non observée"),
                },
            };
            let mut observed_text = match lang {
                Lang::En => format!(
                    "the engine has {} (at least {} GiB wanted); container limit {limit_text}",
                    crate::i18n::bytes(d.engine_memory, lang),
                    spec.evidence.min_docker_memory_gib
                ),
                Lang::Fr => format!(
                    "le moteur a {} (au moins {} Gio voulus) ; limite du conteneur {limit_text}",
                    crate::i18n::bytes(d.engine_memory, lang),
                    spec.evidence.min_docker_memory_gib
                ),
            };
            if limit.is_some() && fired > 0 {
                observed_text.push_str(&match lang {
                    Lang::En => {
                        format!("; that limit made memory-high fire {fired} time(s) this week")
                    }
                    Lang::Fr => format!(
                        " ; cette limite a déclenché memory-high {fired} fois cette semaine"
                    ),
                });
            }
            CheckLine {
                item,
                ok: Some(engine_ok && !(limit.is_some() && fired > 0)),
                observed: observed_text,
            }
        }
        Err(e) => CheckLine {
            item,
            ok: None,
            observed: not_observed(e),
        },
    });
    // The GPU.
    out.push(match &observed.ollama {
        Ok(models) if !models.is_empty() => {
            let shares: Vec<(String, f64)> = models
                .iter()
                .map(|m| {
                    (
                        m.name.clone(),
                        if m.size > 0.0 {
                            m.size_vram / m.size * 100.0
                        } else {
                            0.0
                        },
                    )
                })
                .collect();
            CheckLine {
                item: t(lang, "Models run on the GPU", "Modèles sur le GPU"),
                ok: Some(shares.iter().all(|(_, s)| *s >= 99.5)),
                observed: shares
                    .iter()
                    .map(|(n, s)| {
                        format!(
                            "{n}{} {} % {}",
                            if lang == Lang::Fr { " :" } else { ":" },
                            fmt_num(*s, 0, lang),
                            t(lang, "in GPU memory", "en mémoire GPU")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        }
        Ok(_) => CheckLine {
            item: t(lang, "Models run on the GPU", "Modèles sur le GPU"),
            ok: None,
            observed: not_observed(&t(lang, "no model loaded", "aucun modèle chargé")),
        },
        Err(e) => CheckLine {
            item: t(lang, "Models run on the GPU", "Modèles sur le GPU"),
            ok: None,
            observed: not_observed(e),
        },
    });
    // The preload, this boot.
    let preload = &spec.sources.preload_job;
    let runs = store.history(Some(preload), 50)?;
    let this_boot: Vec<&crate::store::RunRow> = runs
        .iter()
        .filter(|r| {
            !observed.boot_id.is_empty() && r.boot_id.as_deref() == Some(observed.boot_id.as_str())
        })
        .filter(|r| r.status != crate::model::RunStatus::Skipped)
        .collect();
    let item = t(
        lang,
        "Models preloaded this boot",
        "Modèles préchargés depuis le démarrage",
    );
    out.push(
        match this_boot
            .iter()
            .find(|r| r.status == crate::model::RunStatus::Succeeded)
        {
            Some(r) => CheckLine {
                item,
                ok: Some(true),
                observed: format!(
                    "{preload} {} {}",
                    t(lang, "succeeded at", "réussi le"),
                    fmt_time(r.finished_at, spec.timezone, lang)
                ),
            },
            None => match this_boot.first() {
                Some(r) => CheckLine {
                    item,
                    ok: Some(false),
                    observed: format!(
                        "{preload}: {} {}",
                        r.status,
                        r.error.clone().unwrap_or_default()
                    ),
                },
                None => CheckLine {
                    item,
                    ok: None,
                    observed: not_observed(&format!(
                        "{preload} {}",
                        t(
                            lang,
                            "has not run this boot",
                            "n'a pas tourné depuis le démarrage"
                        )
                    )),
                },
            },
        },
    );
    for (name, ok, seen) in &observed.checks {
        out.push(CheckLine {
            item: name.clone(),
            ok: Some(*ok),
            observed: if seen.is_empty() {
                t(lang, "(no output)", "(pas de sortie)")
            } else {
                seen.clone()
            },
        });
    }
    Ok(out)
}

fn fmt_time(ms: Option<i64>, tz: chrono_tz::Tz, lang: Lang) -> String {
    ms.map(|ms| crate::i18n::datetime_short(ms, tz, lang))
        .unwrap_or_default()
}
