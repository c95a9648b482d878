//! Human durations in config files (`30s`, `5m`, `1h30m`, `3d`, `500ms`): parsing and printing.

use std::time::Duration;

/// What a duration value must look like, for error messages.
pub const EXPECTED: &str = "a duration such as 30s, 5m, 2h, 1h30m or 3d";

/// Parses `1h30m`-style text. Units: ms, s, m, h, d, w. A bare number is rejected so
/// that `timeout: 300` cannot silently mean seconds to one reader and minutes to another.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("expected {EXPECTED}, found an empty value"));
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected {EXPECTED}, found `{s}`"));
        }
        let value: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("expected {EXPECTED}, found `{s}`"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(format!("`{s}` has no unit: expected {EXPECTED}")),
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{s}`: expected {EXPECTED}"
                ));
            }
        };
        total = total.saturating_add(value.saturating_mul(millis));
    }
    // Ten years is far beyond any sensible timeout or lateness; it also keeps arithmetic safe.
    if total > 10 * 365 * 86_400_000 {
        return Err(format!("`{s}` is longer than ten years"));
    }
    Ok(Duration::from_millis(total as u64))
}

/// Prints a duration the way a user would write it (`1h30m`, `45s`, `250ms`).
pub fn format(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("3d").unwrap(), Duration::from_secs(259_200));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1w").unwrap(), Duration::from_secs(604_800));
    }

    #[test]
    fn rejects_bare_numbers_and_bad_units() {
        assert_eq!(
            parse("300").unwrap_err(),
            "`300` has no unit: expected a duration such as 30s, 5m, 2h, 1h30m or 3d"
        );
        assert_eq!(
            parse("5 minutes").unwrap_err(),
            "unknown unit ` minutes` in `5 minutes`: expected a duration such as 30s, 5m, 2h, 1h30m or 3d"
        );
        assert!(parse("h").is_err());
        assert!(parse("99999999999d").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1h30m", "45s", "250ms", "3d", "2h"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
