//! Byte sizes as people write them: `512KB`, `1MB`, `2 GiB`, or a plain number of bytes.

/// What a size looks like, for error messages.
pub const EXPECTED: &str =
    "a size such as 512KB, 1MB or 2GB (KiB, MiB, GiB also), or a number of bytes";

pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("`{text}` is not a size"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => return Err(format!("`{other}` is not a unit of size")),
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes as u64)
}

/// `1.5 MB`, `812 B`.
pub fn format(bytes: u64) -> String {
    match bytes {
        u64::MAX => "no limit".into(),
        b if b >= 1_000_000_000 => format!("{:.1} GB", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} KB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse("1MB"), Ok(1_000_000));
        assert_eq!(parse("2 MiB"), Ok(2 << 20));
        assert_eq!(parse("512"), Ok(512));
        assert_eq!(parse("1.5kb"), Ok(1500));
        assert!(parse("lots").is_err());
        assert!(parse("3 parsecs").is_err());
        assert_eq!(format(1_500_000), "1.5 MB");
    }
}
