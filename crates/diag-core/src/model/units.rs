//! Human-readable sizes and durations as TiDB components print them.
//!
//! Sizes follow diag's reading: `K`, `KB` and `KiB` all mean 1024 bytes (likewise M, G, T, P),
//! and a bare number is bytes. Durations accept Go's form (`1h0m0s`, `1.5s`, `300µs`) and the
//! Prometheus form (`1d2h3m`, `1w`); `0` alone is zero.

use std::time::Duration;

/// Why a size or duration text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {what}: {reason}")]
pub struct UnitError {
    /// The text that was read.
    pub text: String,
    /// `size` or `duration`.
    pub what: &'static str,
    /// What went wrong, in a few words.
    pub reason: String,
}

fn unit_error(text: &str, what: &'static str, reason: impl Into<String>) -> UnitError {
    UnitError {
        text: text.to_string(),
        what,
        reason: reason.into(),
    }
}

/// Parses a size such as `8GiB`, `10MiB`, `512KB`, `1.5GB` or `1024` into bytes.
///
/// ```
/// use diag_core::model::units::parse_size;
/// assert_eq!(parse_size("8GiB").unwrap(), 8 << 30);
/// assert_eq!(parse_size("512KB").unwrap(), 512 * 1024);
/// assert_eq!(parse_size("1.5GB").unwrap(), 3 << 29);
/// assert_eq!(parse_size("1024").unwrap(), 1024);
/// ```
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(unit_error(text, "size", "empty"));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(unit_error(
            text,
            "size",
            "expected a number before the unit",
        ));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| unit_error(text, "size", "malformed number"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        "p" | "pb" | "pib" => 50,
        other => {
            return Err(unit_error(
                text,
                "size",
                format!(
                    "unknown unit `{other}` (expected B, KB/KiB, MB/MiB, GB/GiB, TB/TiB or PB/PiB)"
                ),
            ));
        }
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(unit_error(text, "size", "too large"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a duration such as `1h0m0s`, `10ms`, `1d2h3m`, `1.5s` or `0`.
///
/// ```
/// use std::time::Duration;
/// use diag_core::model::units::parse_duration;
/// assert_eq!(parse_duration("1h0m0s").unwrap(), Duration::from_secs(3600));
/// assert_eq!(parse_duration("10ms").unwrap(), Duration::from_millis(10));
/// assert_eq!(parse_duration("1d2h3m").unwrap(), Duration::from_secs(93_780));
/// assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(unit_error(text, "duration", "empty"));
    }
    let mut rest = s;
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(unit_error(text, "duration", "expected a number"));
        }
        let value: f64 = rest[..number_len]
            .parse()
            .map_err(|_| unit_error(text, "duration", "malformed number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per_unit: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            "y" => 31_536_000e9,
            "" => {
                return Err(unit_error(
                    text,
                    "duration",
                    "missing unit (expected ns, us, ms, s, m, h, d, w or y)",
                ));
            }
            other => {
                return Err(unit_error(
                    text,
                    "duration",
                    format!("unknown unit `{other}` (expected ns, us, ms, s, m, h, d, w or y)"),
                ));
            }
        };
        total_nanos += value * nanos_per_unit;
    }
    if !total_nanos.is_finite() || total_nanos > u64::MAX as f64 {
        return Err(unit_error(text, "duration", "too large"));
    }
    Ok(Duration::from_nanos(total_nanos.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units_for_both_spellings() {
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("10MB"), Ok(10 << 20));
        assert_eq!(parse_size("10m"), Ok(10 << 20));
        assert_eq!(parse_size("32GiB"), Ok(32 << 30));
        assert_eq!(parse_size("0KiB"), Ok(0));
        assert_eq!(parse_size(" 64KB "), Ok(64 << 10));
        assert_eq!(parse_size("2TB"), Ok(2 << 40));
    }

    #[test]
    fn bad_sizes_say_why() {
        let err = parse_size("5 min").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "`5 min` is not a size: unknown unit `min` (expected B, KB/KiB, MB/MiB, GB/GiB, TB/TiB or PB/PiB)"
            )
        );
        assert!(parse_size("").is_err());
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("1.2.3MB").is_err());
    }

    #[test]
    fn durations_in_go_and_prometheus_forms() {
        assert_eq!(parse_duration("30m0s"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("300µs"), Ok(Duration::from_micros(300)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("5 min").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
    }
}
