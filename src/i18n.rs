//! What the user reads, in their language: one catalogue of words and sentences (used by the
//! Rust code and, through `t()`, by the templates), and the formats of numbers, durations, dates
//! and figures with their units. English is the default; `language: fr` in `clawcron.yaml`, a
//! channel or a job chooses French.
//!
//! A figure's unit comes from its name, as jobs record them: `*_ms` is a duration, `*_percent`
//! a percent (a CPU percent may exceed 100: one core is 100 %), `*_bytes` a size, `*_per_s` a
//! rate, `up` and `ready` a yes/no.

use chrono::{Datelike, Timelike};
use chrono_tz::Tz;

/// A language clawcron writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const NAMES: &[&str] = &["en", "fr"];
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    pub fn parse(s: &str) -> Option<Lang> {
        Self::ALL.into_iter().find(|l| l.code() == s)
    }

    pub fn code(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }
}

/// The catalogue: `(key, English, French)`. A sentence with `{name}` placeholders is filled by
/// [`tf`]. Keys are stable; templates call `t("key")`.
const CATALOGUE: &[(&str, &str, &str)] = &[
    // Events and states.
    ("fired", "alert", "alerte"),
    ("repeat", "still alerting", "toujours en alerte"),
    ("resolved", "back to normal", "revenu à la normale"),
    (
        "remediated",
        "fixed automatically",
        "corrigé automatiquement",
    ),
    (
        "remediation-failed",
        "automatic fix failed",
        "échec de la correction automatique",
    ),
    ("escalated", "needs a human", "à traiter par une personne"),
    ("failure", "failing", "en échec"),
    ("failure.repeat", "still failing", "toujours en échec"),
    ("recovery", "working again", "fonctionne de nouveau"),
    ("success", "ran fine", "a réussi"),
    ("missed", "slots missed", "exécutions manquées"),
    ("regression", "got worse", "s'est dégradé"),
    ("test", "test notice", "notification de test"),
    // Run statuses.
    ("status.succeeded", "succeeded", "réussi"),
    ("status.failed", "failed", "échoué"),
    ("status.timed_out", "timed out", "délai dépassé"),
    ("status.interrupted", "interrupted", "interrompu"),
    ("status.skipped", "skipped", "ignoré"),
    ("status.running", "running", "en cours"),
    ("status.late", "late", "en retard"),
    ("status.missed", "missed", "manqué"),
    ("status.firing", "alerting", "en alerte"),
    ("status.pending", "watching", "en observation"),
    ("status.ok", "ok", "normal"),
    // Labels of notices.
    ("job", "Job", "Tâche"),
    ("run", "Run", "Exécution"),
    ("status", "Status", "État"),
    ("started", "Started", "Début"),
    ("finished", "Finished", "Fin"),
    ("error", "Error", "Erreur"),
    ("alert", "Alert", "Alerte"),
    ("rule", "Rule", "Règle"),
    ("since", "Since", "Depuis"),
    ("now", "Now", "Maintenant"),
    ("threshold", "Threshold", "Seuil"),
    ("last_samples", "Last samples", "Dernières mesures"),
    ("peak", "Peak", "Pic"),
    ("duration", "Duration", "Durée"),
    ("done", "Done by clawcron", "Fait par clawcron"),
    ("next", "What to do", "Que faire"),
    ("reminders", "Reminders", "Rappels"),
    ("advice", "Advice", "Conseil"),
    ("dashboard", "Dashboard", "Tableau de bord"),
    ("report", "Report", "Rapport"),
    ("figures", "Figures", "Mesures"),
    ("output", "Output (last lines)", "Sortie (dernières lignes)"),
    ("attempts", "attempts", "tentatives"),
    ("attempt", "attempt", "tentative"),
    ("baseline", "Baseline", "Référence"),
    ("change", "Change", "Évolution"),
    (
        "other_figures",
        "Other figures of the run",
        "Autres mesures de l'exécution",
    ),
    ("missed_slots", "Missed", "Manquées"),
    ("no_data", "no data", "pas de données"),
    ("yes", "yes", "oui"),
    ("no", "no", "non"),
    ("cores", "about {n} cores", "environ {n} cœurs"),
    ("core", "about 1 core", "environ 1 cœur"),
    // Titles of notices, by event.
    (
        "title.alert.fired",
        "{job}: {rule} alert",
        "{job} : alerte {rule}",
    ),
    (
        "title.alert.repeat",
        "{job}: {rule} still alerting",
        "{job} : {rule} toujours en alerte",
    ),
    (
        "title.alert.resolved",
        "{job}: {rule} back to normal",
        "{job} : {rule} revenu à la normale",
    ),
    (
        "title.alert.remediated",
        "{job}: {rule} fixed automatically",
        "{job} : {rule} corrigé automatiquement",
    ),
    (
        "title.alert.remediation-failed",
        "{job}: {rule} automatic fix failed",
        "{job} : {rule} échec de la correction automatique",
    ),
    (
        "title.alert.escalated",
        "{job}: {rule} needs a human",
        "{job} : {rule} à traiter par une personne",
    ),
    ("title.failure", "{job} is failing", "{job} est en échec"),
    (
        "title.failure.repeat",
        "{job} is still failing",
        "{job} est toujours en échec",
    ),
    (
        "title.recovery",
        "{job} works again",
        "{job} fonctionne de nouveau",
    ),
    ("title.success", "{job} ran fine", "{job} a réussi"),
    (
        "title.missed",
        "{job}: slots missed",
        "{job} : exécutions manquées",
    ),
    (
        "title.regression",
        "{job}: a figure got worse",
        "{job} : une mesure s'est dégradée",
    ),
    ("title.test", "test notice", "notification de test"),
    // Charts.
    ("chart.measured", "measured", "mesuré"),
    ("chart.baseline", "baseline (before)", "référence (avant)"),
    ("chart.threshold", "threshold", "seuil"),
    (
        "chart.one",
        "{title}: one sample, {value} on {at}",
        "{title} : une seule mesure, {value} le {at}",
    ),
    // Sentences.
    (
        "s.fired",
        "{job}: {metric} is {value}, over the threshold of {threshold} ({window})",
        "{job} : {metric} vaut {value}, au-delà du seuil de {threshold} ({window})",
    ),
    (
        "s.fired.below",
        "{job}: {metric} is {value}, under the threshold of {threshold} ({window})",
        "{job} : {metric} vaut {value}, en dessous du seuil de {threshold} ({window})",
    ),
    (
        "s.window",
        "{n} of the last {m} samples",
        "{n} des {m} dernières mesures",
    ),
    ("s.window1", "one sample", "une mesure"),
    (
        "s.repeat",
        "{job}: {metric} has been past {threshold} for {lasted} (now {value}, peak {peak})",
        "{job} : {metric} dépasse {threshold} depuis {lasted} (maintenant {value}, pic {peak})",
    ),
    (
        "s.resolved",
        "{job}: {metric} is back to normal ({value}); the alert lasted {lasted}, peak {peak}",
        "{job} : {metric} est revenu à la normale ({value}) ; l'alerte a duré {lasted}, pic {peak}",
    ),
    (
        "s.remediated",
        "{job}: {action}: done (remediation {n} of {max} per {per})",
        "{job} : {action} : fait (correction {n} sur {max} par {per})",
    ),
    (
        "s.remediation-failed",
        "{job}: {action} failed: {error} (remediation {n} of {max} per {per})",
        "{job} : échec de {action} : {error} (correction {n} sur {max} par {per})",
    ),
    (
        "s.escalated",
        "{job}: the automatic fix ({action}) ran {used} times in the last {per}, its limit: it will not run again until then; someone has to look",
        "{job} : la correction automatique ({action}) a déjà tourné {used} fois dans la dernière période de {per}, sa limite : elle ne sera pas relancée d'ici là ; quelqu'un doit regarder",
    ),
    (
        "s.will_remediate",
        "clawcron runs {action} now (at most {max} per {per}); a notice follows with the result.",
        "clawcron lance {action} maintenant (au plus {max} par {per}) ; une notification suivra avec le résultat.",
    ),
    (
        "s.no_remediation",
        "Nothing was done automatically.",
        "Rien n'a été fait automatiquement.",
    ),
    (
        "s.failure",
        "{job} failed: {error}",
        "{job} a échoué : {error}",
    ),
    (
        "s.failure.repeat",
        "{job} is still failing: {count} failed runs since {since} ({lasted})",
        "{job} échoue toujours : {count} exécutions en échec depuis le {since} ({lasted})",
    ),
    (
        "s.failure.quiet",
        "Next reminder in {repeat} at the earliest if it keeps failing; one notice when it works again.",
        "Prochain rappel dans {repeat} au plus tôt si l'échec continue ; une notification quand cela refonctionnera.",
    ),
    (
        "s.recovery",
        "{job} works again after {lasted} of failures ({count} failed runs)",
        "{job} fonctionne de nouveau après {lasted} d'échecs ({count} exécutions en échec)",
    ),
    ("s.success", "{job} ran fine", "{job} a réussi"),
    (
        "s.missed",
        "{job}: {n} slots missed ({reason}) from {first} to {last}: {ran} ran late, {skipped} not run",
        "{job} : {n} exécutions manquées ({reason}) du {first} au {last} : {ran} lancées en retard, {skipped} non lancées",
    ),
    (
        "s.regression",
        "{job}: {metric} is {value}, {change} against the baseline {baseline}",
        "{job} : {metric} vaut {value}, {change} par rapport à la référence {baseline}",
    ),
    (
        "s.regression.recent",
        "{job}: {metric} is {value}, {change} against the median of its last {runs} runs ({baseline})",
        "{job} : {metric} vaut {value}, {change} par rapport à la médiane de ses {runs} dernières exécutions ({baseline})",
    ),
    (
        "s.downtime.clean",
        "clawcron was stopped for {lasted}, from {since}; {ran} missed slots ran late, {skipped} were not run",
        "clawcron a été arrêté pendant {lasted}, à partir du {since} ; {ran} exécutions manquées ont été lancées en retard, {skipped} ne l'ont pas été",
    ),
    (
        "s.downtime.crash",
        "clawcron was down for {lasted}, from {since}, without a clean stop (crash, kill or power loss); {ran} missed slots ran late, {skipped} were not run",
        "clawcron a été arrêté pendant {lasted}, à partir du {since}, sans arrêt propre (plantage, kill ou coupure) ; {ran} exécutions manquées ont été lancées en retard, {skipped} ne l'ont pas été",
    ),
    (
        "s.ledger",
        "the ledger could not be written for {lasted}, from {since} ({failures} failed writes: {error}); it can be again",
        "le registre n'a pas pu être écrit pendant {lasted}, à partir du {since} ({failures} écritures en échec : {error}) ; il peut l'être de nouveau",
    ),
    (
        "s.reload_kept",
        "A job file has errors: the last good version of each keeps running until it is fixed.",
        "Un fichier de tâche contient des erreurs : la dernière bonne version de chacun continue de tourner jusqu'à sa correction.",
    ),
    (
        "title.daemon.downtime",
        "back after a downtime",
        "de retour après un arrêt",
    ),
    (
        "title.daemon.ledger",
        "the ledger can be written again",
        "le registre peut de nouveau être écrit",
    ),
    (
        "title.daemon.ledger_gone",
        "the ledger file is gone",
        "le fichier du registre a disparu",
    ),
    (
        "s.ledger_gone.removed",
        "The ledger file {file} was removed under the running daemon: it writes nothing more and runs no job until it is restarted. Restore the file from a backup and restart it, or restart it to begin a new, empty ledger (the history is lost).",
        "Le fichier du registre {file} a été supprimé sous le démon en marche : il n'écrit plus rien et ne lance plus aucune tâche jusqu'à son redémarrage. Restaurez le fichier depuis une sauvegarde puis redémarrez-le, ou redémarrez-le pour commencer un registre neuf et vide (l'historique est perdu).",
    ),
    (
        "s.ledger_gone.replaced",
        "The ledger file {file} was replaced by another file under the running daemon: it writes nothing more and runs no job until it is restarted. Restart it to use the file now in place, or restore the one you want first.",
        "Le fichier du registre {file} a été remplacé par un autre sous le démon en marche : il n'écrit plus rien et ne lance plus aucune tâche jusqu'à son redémarrage. Redémarrez-le pour utiliser le fichier en place, ou restaurez d'abord celui que vous voulez.",
    ),
    (
        "title.daemon.reload",
        "a job file has errors",
        "un fichier de tâche contient des erreurs",
    ),
    (
        "s.look",
        "Look at the dashboard: {url}",
        "Voir le tableau de bord : {url}",
    ),
    (
        "s.test",
        "clawcron test notice for channel {channel}: if you read this, it works.",
        "Notification de test de clawcron pour le canal {channel} : si vous lisez ceci, tout fonctionne.",
    ),
];

/// The catalogue's text for `key` in `lang`; the key itself if it is not in the catalogue.
pub fn t(lang: Lang, key: &str) -> &str {
    CATALOGUE
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, en, fr)| match lang {
            Lang::En => en,
            Lang::Fr => fr,
        })
}

/// Whether the catalogue has `key`.
pub fn has(key: &str) -> bool {
    CATALOGUE.iter().any(|(k, _, _)| *k == key)
}

/// The catalogue's sentence `key` with its `{name}` placeholders filled.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    fill(t(lang, key), args)
}

/// `text` with each `{name}` replaced by its value.
pub fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A number with `digits` decimals and thousands grouped: `1,234.5` / `1 234,5`.
pub fn num(v: f64, digits: usize, lang: Lang) -> String {
    if !v.is_finite() {
        return t(lang, "no_data").to_string();
    }
    let s = format!("{:.*}", digits, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let (sep, dec) = match lang {
        Lang::En => (",", "."),
        Lang::Fr => ("\u{202f}", ","),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push_str(sep);
        }
        grouped.push(ch);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c != '0' && c != '.') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}{dec}{frac}")
    }
}

/// A number with at most `digits` decimals, trailing zeros dropped: `5`, `85`, `0.25`.
pub fn num_trim(v: f64, digits: usize, lang: Lang) -> String {
    let s = num(v, digits, lang);
    let dec = if lang == Lang::Fr { ',' } else { '.' };
    if s.contains(dec) {
        s.trim_end_matches('0').trim_end_matches(dec).to_string()
    } else {
        s
    }
}

/// A change in percent with its sign: `+12.3 %`, `-4,0 %`, `±0.0 %`.
pub fn change(v: f64, lang: Lang) -> String {
    let n = num(v.abs(), 1, lang);
    let sign = if v >= 0.05 {
        "+"
    } else if v <= -0.05 {
        "-"
    } else {
        "±"
    };
    format!("{sign}{n} %")
}

/// A duration in milliseconds as people read it: `850 ms`, `1.5 s`, `45 s`, `3 min 16 s`,
/// `2 h 05 min`, `3 d 4 h` (`3 j 4 h` in French).
pub fn duration_ms(ms: f64, lang: Lang) -> String {
    let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
    if ms < 1000.0 {
        format!("{} ms", num(ms, 0, lang))
    } else if ms < 10_000.0 {
        format!("{} s", num_trim(ms / 1000.0, 1, lang))
    } else if ms < 60_000.0 {
        format!("{} s", num(ms / 1000.0, 0, lang))
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0).round() as u64;
        if s.is_multiple_of(60) {
            format!("{} min", s / 60)
        } else {
            format!("{} min {} s", s / 60, s % 60)
        }
    } else if ms < 86_400_000.0 {
        let m = (ms / 60_000.0).round() as u64;
        if m.is_multiple_of(60) {
            format!("{} h", m / 60)
        } else {
            format!("{} h {:02} min", m / 60, m % 60)
        }
    } else {
        let h = (ms / 3_600_000.0).round() as u64;
        let d = if lang == Lang::Fr { "j" } else { "d" };
        if h.is_multiple_of(24) {
            format!("{} {d}", h / 24)
        } else {
            format!("{} {d} {} h", h / 24, h % 24)
        }
    }
}

/// A duration as people read it.
pub fn duration(d: std::time::Duration, lang: Lang) -> String {
    duration_ms(d.as_millis() as f64, lang)
}

const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const DAYS_FR: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// A date and time in `tz`: `Monday 30 November 2026 07:14 (Europe/Paris)` /
/// `lundi 30 novembre 2026 07:14 (Europe/Paris)`.
pub fn datetime(ms: i64, tz: Tz, lang: Lang) -> String {
    format!("{} ({})", datetime_short(ms, tz, lang), tz.name())
}

/// As [`datetime`], without the zone's name.
pub fn datetime_short(ms: i64, tz: Tz, lang: Lang) -> String {
    let t = crate::util::to_utc(ms.div_euclid(1000)).with_timezone(&tz);
    let wd = t.weekday().num_days_from_monday() as usize;
    let mo = t.month0() as usize;
    let (days, months) = match lang {
        Lang::En => (DAYS_EN, MONTHS_EN),
        Lang::Fr => (DAYS_FR, MONTHS_FR),
    };
    format!(
        "{} {} {} {} {:02}:{:02}",
        days[wd],
        t.day(),
        months[mo],
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// A date alone: `30 November 2026` / `30 novembre 2026`.
pub fn date(ms: i64, tz: Tz, lang: Lang) -> String {
    let t = crate::util::to_utc(ms.div_euclid(1000)).with_timezone(&tz);
    let months = match lang {
        Lang::En => MONTHS_EN,
        Lang::Fr => MONTHS_FR,
    };
    format!("{} {} {}", t.day(), months[t.month0() as usize], t.year())
}

/// What a figure measures, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Percent,
    /// A CPU percent: 100 is one core.
    CpuPercent,
    Bytes,
    PerSecond,
    YesNo,
    Plain,
}

impl Unit {
    pub fn of(metric: &str) -> Unit {
        let last = metric.rsplit(['.', ':']).next().unwrap_or(metric);
        if last.ends_with("_ms") || last == "ms" {
            Unit::Ms
        } else if last.ends_with("percent") || last.ends_with("_pct") {
            if last.contains("cpu") {
                Unit::CpuPercent
            } else {
                Unit::Percent
            }
        } else if last.ends_with("bytes") {
            Unit::Bytes
        } else if last.ends_with("per_s") || last.ends_with("_per_second") {
            Unit::PerSecond
        } else if last == "up" || last == "ready" || last == "ok" {
            Unit::YesNo
        } else {
            Unit::Plain
        }
    }

    /// The unit as a chart's axis reads it.
    pub fn label(&self, metric: &str) -> String {
        match self {
            Unit::Ms => "ms".into(),
            Unit::Percent | Unit::CpuPercent => "%".into(),
            Unit::Bytes => "MiB".into(),
            Unit::PerSecond => per_second_unit(metric),
            Unit::YesNo | Unit::Plain => String::new(),
        }
    }
}

fn per_second_unit(metric: &str) -> String {
    let last = metric.rsplit(['.', ':']).next().unwrap_or(metric);
    match last.strip_suffix("_per_s") {
        Some(what) if !what.is_empty() => format!("{what}/s"),
        _ => "/s".into(),
    }
}

/// A size in bytes: `512 MiB`, `1.5 GiB` (`Mio`, `Gio` in French).
pub fn bytes(v: f64, lang: Lang) -> String {
    let units: [&str; 5] = match lang {
        Lang::En => ["B", "KiB", "MiB", "GiB", "TiB"],
        Lang::Fr => ["o", "Kio", "Mio", "Gio", "Tio"],
    };
    let mut v = v;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!(
        "{} {}",
        num_trim(v, if i == 0 { 0 } else { 1 }, lang),
        units[i]
    )
}

/// A figure with its unit, rounded as people read it: `6.0 s`, `92.3 %`, `196 % = about 2
/// cores`, `512 MiB`, `20.5 tokens/s`.
pub fn figure(metric: &str, v: f64, lang: Lang) -> String {
    if !v.is_finite() {
        return t(lang, "no_data").to_string();
    }
    match Unit::of(metric) {
        Unit::Ms if (1000.0..60_000.0).contains(&v) => format!("{} s", num(v / 1000.0, 1, lang)),
        Unit::Ms => duration_ms(v, lang),
        Unit::Percent => format!("{} %", num_trim(v, 1, lang)),
        Unit::CpuPercent => cpu_percent(v, lang),
        Unit::Bytes => bytes(v, lang),
        Unit::PerSecond => format!("{} {}", num(v, 1, lang), per_second_unit(metric)),
        Unit::YesNo if v == 0.0 || v == 1.0 => {
            t(lang, if v == 1.0 { "yes" } else { "no" }).to_string()
        }
        Unit::YesNo | Unit::Plain => num_trim(v, 2, lang),
    }
}

/// A threshold with its unit, as written: `5 s`, `85 %`, `90 %`.
pub fn threshold(metric: &str, v: f64, lang: Lang) -> String {
    match Unit::of(metric) {
        Unit::Ms if v >= 1000.0 => format!("{} s", num_trim(v / 1000.0, 3, lang)),
        Unit::Ms => format!("{} ms", num_trim(v, 1, lang)),
        Unit::Percent | Unit::CpuPercent => format!("{} %", num_trim(v, 1, lang)),
        Unit::Bytes => bytes(v, lang),
        Unit::PerSecond => format!("{} {}", num_trim(v, 2, lang), per_second_unit(metric)),
        Unit::YesNo | Unit::Plain => num_trim(v, 3, lang),
    }
}

/// A CPU percent: past 100 it says how many cores that is.
pub fn cpu_percent(v: f64, lang: Lang) -> String {
    let p = format!(
        "{} %",
        if v >= 100.0 {
            num(v, 0, lang)
        } else {
            num_trim(v, 1, lang)
        }
    );
    if v > 100.0 {
        let cores = v / 100.0;
        let n = num_trim(cores, if cores < 10.0 { 1 } else { 0 }, lang);
        let about = if n == "1" {
            t(lang, "core").to_string()
        } else {
            tf(lang, "cores", &[("n", &n)])
        };
        format!("{p} = {about}")
    } else {
        p
    }
}

/// The errors runs report most, in French: (English start, French start). The rest of an
/// error (a server's answer, a path) is kept as it came.
const ERRORS_FR: &[(&str, &str)] = &[
    (
        "timed out while rendering the report: the render was stopped and no report was written",
        "délai dépassé pendant le rendu du rapport : le rendu a été arrêté et aucun rapport n'a été écrit",
    ),
    (
        "cancelled by its client (Ctrl-C on `clawcron trigger`, or the client went away)",
        "annulée par son client (Ctrl-C sur `clawcron trigger`, ou le client est parti)",
    ),
    ("exited with status ", "terminé avec le code "),
    ("killed by signal ", "tué par le signal "),
    (
        "timed out; process group terminated",
        "délai dépassé ; groupe de processus arrêté",
    ),
    ("timed out", "délai dépassé"),
    ("connection refused", "connexion refusée"),
];

/// The reasons the ledger gives for a slot, in French: (English, French), replaced wherever they
/// appear in a reason.
const REASONS_FR: &[(&str, &str)] = &[
    ("missed: ", "manquée : "),
    ("machine asleep", "machine en veille"),
    ("daemon not running", "démon arrêté"),
    ("daemon stalled", "démon bloqué"),
    ("ledger not writable", "registre non inscriptible"),
    ("scheduler overloaded", "planificateur surchargé"),
    ("clock jumped forward", "l'horloge a sauté en avant"),
    ("clock jump", "saut d'horloge"),
    (
        "a newer slot runs instead",
        "une exécution plus récente a lieu à la place",
    ),
    (
        "overlap: the previous run is still running",
        "chevauchement : l'exécution précédente tourne encore",
    ),
    (
        "overlap: a run is already waiting",
        "chevauchement : une exécution attend déjà",
    ),
    ("lock busy: ", "verrou occupé : "),
    (
        "at_start: already ran in this boot",
        "at_start : déjà lancée depuis ce démarrage",
    ),
    ("forced: ", "forcée : "),
    ("quiet: maintenance by ", "en sourdine : maintenance par "),
    ("paused (", "en pause ("),
    ("silenced: ", "en sourdine : "),
    ("waited ", "attendu "),
    (" for lock ", " le verrou "),
    ("; run ", " ; lancée avec "),
    (" s late", " s de retard"),
    ("held by ", "tenu par "),
    (
        "the daemon stopped while it ran (crash or kill)",
        "le démon s'est arrêté pendant l'exécution (plantage ou kill)",
    ),
    ("; its process group ", " ; son groupe de processus "),
    (
        " was still alive at the next start: stopped",
        " vivait encore au démarrage suivant : arrêté",
    ),
    (" run ", " exécution "),
];

/// A slot's reason in the language (its known words; the rest as it came).
pub fn reason(r: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return r.to_string();
    }
    let mut out = r.to_string();
    for (en, fr) in REASONS_FR {
        out = out.replace(en, fr);
    }
    out
}

/// A run's error in the language (the common ones; others as they came).
pub fn error(e: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return e.to_string();
    }
    for (en, fr) in ERRORS_FR {
        if let Some(rest) = e.strip_prefix(en) {
            return format!("{fr}{rest}");
        }
    }
    e.to_string()
}

/// A run status in the language.
pub fn status(s: &str, lang: Lang) -> String {
    let key = format!("status.{s}");
    if has(&key) {
        t(lang, &key).to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_follow_the_language() {
        assert_eq!(num(1234567.891, 2, Lang::En), "1,234,567.89");
        assert_eq!(num(1234.5, 1, Lang::Fr), "1\u{202f}234,5");
        assert_eq!(num(-0.04, 1, Lang::En), "0.0");
        assert_eq!(duration_ms(1500.0, Lang::Fr), "1,5 s");
        assert_eq!(duration_ms(196_000.0, Lang::Fr), "3 min 16 s");
        assert_eq!(duration_ms(45_240.0, Lang::En), "45 s");
        assert_eq!(duration_ms(3_600_000.0 * 26.0, Lang::Fr), "1 j 2 h");
        assert_eq!(duration_ms(250.0, Lang::En), "250 ms");
        assert_eq!(change(-20.0, Lang::En), "-20.0 %");
        assert_eq!(change(175.0, Lang::Fr), "+175,0 %");
    }

    #[test]
    fn figures_carry_their_unit() {
        assert_eq!(figure("ready.total_ms", 6002.067312, Lang::Fr), "6,0 s");
        assert_eq!(threshold("ready.total_ms", 5000.0, Lang::Fr), "5 s");
        assert_eq!(figure("stats.mem_percent", 92.345, Lang::En), "92.3 %");
        assert_eq!(
            figure("stats.cpu_percent", 196.37670128712872, Lang::En),
            "196 % = about 2 cores"
        );
        assert_eq!(
            figure("stats.cpu_percent", 196.4, Lang::Fr),
            "196 % = environ 2 cœurs"
        );
        assert_eq!(figure("stats.cpu_percent", 42.0, Lang::Fr), "42 %");
        assert_eq!(
            figure("ollama.tokens_per_s", 20.0, Lang::En),
            "20.0 tokens/s"
        );
        assert_eq!(
            figure("stats.mem_bytes", 512.0 * 1048576.0, Lang::Fr),
            "512 Mio"
        );
        assert_eq!(figure("ready.up", 0.0, Lang::Fr), "non");
    }

    #[test]
    fn reasons_and_errors_in_french() {
        assert_eq!(
            reason("missed: daemon stalled; run 17 s late", Lang::Fr),
            "manquée : démon bloqué ; lancée avec 17 s de retard"
        );
        assert_eq!(
            reason(
                "lock busy: gpu (held by nightly-benchmark run 41)",
                Lang::Fr
            ),
            "verrou occupé : gpu (tenu par nightly-benchmark exécution 41)"
        );
        assert_eq!(
            reason("missed: machine asleep", Lang::En),
            "missed: machine asleep"
        );
        assert_eq!(
            error("exited with status 3", Lang::Fr),
            "terminé avec le code 3"
        );
    }

    #[test]
    fn dates_in_the_language_and_zone() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        // 2026-11-30 06:14 UTC is 07:14 in Paris, a Monday.
        let ms = 1_796_019_240_000;
        assert_eq!(
            datetime(ms, tz, Lang::Fr),
            "lundi 30 novembre 2026 07:14 (Europe/Paris)"
        );
        assert_eq!(
            datetime(ms, tz, Lang::En),
            "Monday 30 November 2026 07:14 (Europe/Paris)"
        );
    }

    #[test]
    fn every_sentence_has_the_same_placeholders_in_both_languages() {
        let names = |s: &str| {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                .collect();
            v.sort();
            v
        };
        for (k, en, fr) in CATALOGUE {
            assert_eq!(names(en), names(fr), "{k}");
        }
    }
}
