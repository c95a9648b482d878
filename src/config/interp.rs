//! `${VAR}` in config values, so that secrets and per-machine paths stay out of the files.
//! `${VAR:-default}` gives a default; `$${` is a literal `${`.

/// Expands `${VAR}` references from `lookup`; the error names the variable that is not set.
#[cfg(test)]
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    expand_spans(text, lookup).map(|(out, _)| out)
}

/// A variable's value placed in an expanded text: its name and where its value sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub name: String,
    pub span: std::ops::Range<usize>,
}

/// As `expand`, also saying where each variable's value was placed (defaults are not listed).
pub fn expand_spans(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(String, Vec<Placed>), String> {
    let mut placed = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let end = body
                .find('}')
                .ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`${{{inner}}}` is not a variable name"));
            }
            match (lookup(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => {
                    placed.push(Placed {
                        name: name.to_string(),
                        span: out.len()..out.len() + v.len(),
                    });
                    out.push_str(&v);
                }
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(format!("environment variable `{name}` is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok((out, placed))
}

/// The `${VAR}` and `${VAR:-default}` references in `text` (`$${` skipped), in order; comment
/// lines (`#` first) are not read. For `install`, which warns about each one the service lacks.
pub fn references(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("$${") {
                rest = after;
            } else if let Some(body) = tail.strip_prefix("${") {
                let Some(end) = body.find('}') else { break };
                let inner = &body[..end];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d.to_string())),
                    None => (inner, None),
                };
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push((name.to_string(), default));
                }
                rest = &body[end + 1..];
            } else {
                rest = &tail[1..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_references_outside_comments() {
        assert_eq!(
            references("a: ${A}\n# b: ${B}\nc: \"$${C} ${D:-x:y} ${ E}\" # ${F}\n"),
            [
                ("A".to_string(), None),
                ("D".to_string(), Some("x:y".to_string())),
                ("F".to_string(), None)
            ]
        );
    }

    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn expands_defaults_and_escapes() {
        assert_eq!(expand("Bearer ${TOKEN}", env).unwrap(), "Bearer s3cret");
        assert_eq!(expand("${MISSING:-x}", env).unwrap(), "x");
        assert_eq!(expand("$${TOKEN} $5", env).unwrap(), "${TOKEN} $5");
        assert_eq!(
            expand("${MISSING}", env).unwrap_err(),
            "environment variable `MISSING` is not set"
        );
        assert!(expand("${TOKEN", env).is_err());
    }
}
