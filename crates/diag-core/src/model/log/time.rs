//! Instants with the offset the log wrote them in: parsed from the unified header
//! (`2022/02/07 12:00:00.000 +08:00`), RFC 3339 (`2022-02-07T12:00:00+08:00`) and relative
//! spans (`-4h`), printed back as RFC 3339 with the original offset.

use std::cmp::Ordering;
use std::fmt;

/// An instant (milliseconds since the Unix epoch) and the UTC offset it was written with.
/// Ordered and compared by the instant alone.
#[derive(Debug, Clone, Copy)]
pub struct LogTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_ms: i64,
    /// The writer's offset from UTC, in seconds.
    pub offset_s: i32,
}

impl PartialEq for LogTime {
    fn eq(&self, other: &LogTime) -> bool {
        self.unix_ms == other.unix_ms
    }
}
impl Eq for LogTime {}
impl PartialOrd for LogTime {
    fn partial_cmp(&self, other: &LogTime) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for LogTime {
    fn cmp(&self, other: &LogTime) -> Ordering {
        self.unix_ms.cmp(&other.unix_ms)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

impl LogTime {
    /// From civil fields, validated; `ms` is the millisecond of the second.
    #[allow(clippy::too_many_arguments)]
    pub fn from_civil(
        y: i64,
        mo: u32,
        d: u32,
        h: u32,
        mi: u32,
        s: u32,
        ms: u32,
        offset_s: i32,
    ) -> Option<LogTime> {
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)
            - i64::from(offset_s);
        Some(LogTime {
            unix_ms: secs * 1000 + i64::from(ms),
            offset_s,
        })
    }

    /// `+08:00`, `-07:00`, `Z`, `+0800`.
    fn offset(b: &[u8]) -> Option<i32> {
        if b == b"Z" || b == b"z" {
            return Some(0);
        }
        let sign = match b.first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let rest = &b[1..];
        let (h, m) = match rest.len() {
            5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
            4 => (digits(&rest[..2])?, digits(&rest[2..])?),
            2 => (digits(rest)?, 0),
            _ => return None,
        };
        if h > 23 || m > 59 {
            return None;
        }
        Some(sign * (h as i32 * 3600 + m as i32 * 60))
    }

    /// `yyyy?MM?dd?HH:mm:ss[.fff…]` where `?` is any single separator; returns the fields
    /// and the rest of the text.
    fn civil_prefix(b: &[u8]) -> Option<([u32; 7], i64, &[u8])> {
        if b.len() < 19 || b[13] != b':' || b[16] != b':' {
            return None;
        }
        let y = digits(&b[0..4])?;
        let mo = digits(&b[5..7])?;
        let d = digits(&b[8..10])?;
        let h = digits(&b[11..13])?;
        let mi = digits(&b[14..16])?;
        let s = digits(&b[17..19])?;
        let mut rest = &b[19..];
        let mut ms = 0;
        if rest.first() == Some(&b'.') || rest.first() == Some(&b',') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            let frac = &rest[1..1 + n];
            let mut v = 0u32;
            for i in 0..3 {
                v = v * 10 + frac.get(i).map(|c| u32::from(c - b'0')).unwrap_or(0);
            }
            ms = v;
            rest = &rest[1 + n..];
        }
        Some(([mo, d, h, mi, s, ms, 0], i64::from(y), rest))
    }

    /// The unified header time, `2022/02/07 12:00:00.000 +08:00` (exactly what sits between
    /// the first brackets).
    pub fn parse_unified(text: &str) -> Option<LogTime> {
        let b = text.as_bytes();
        if b.len() < 5 || b[4] != b'/' {
            return None;
        }
        let (f, y, rest) = LogTime::civil_prefix(b)?;
        let offset = match rest {
            [] => return None,
            [b' ', tz @ ..] => LogTime::offset(tz)?,
            _ => return None,
        };
        LogTime::from_civil(y, f[0], f[1], f[2], f[3], f[4], f[5], offset)
    }

    /// A time without zone (`2019/01/01 12:00:00.000`, legacy logs) read at `offset_s`.
    pub fn parse_naive(text: &str, offset_s: i32) -> Option<LogTime> {
        let (f, y, rest) = LogTime::civil_prefix(text.as_bytes())?;
        if !rest.is_empty() {
            return None;
        }
        LogTime::from_civil(y, f[0], f[1], f[2], f[3], f[4], f[5], offset_s)
    }

    /// RFC 3339 (`2022-02-07T12:00:00+08:00`, `2022-02-07 12:00:00.5Z`), or the unified form.
    ///
    /// ```
    /// use diag_core::model::log::LogTime;
    /// let a = LogTime::parse_rfc3339("2022-02-07T12:00:00+08:00").unwrap();
    /// let b = LogTime::parse_rfc3339("2022-02-07T04:00:00Z").unwrap();
    /// assert_eq!(a, b);
    /// assert_eq!(a.to_string(), "2022-02-07T12:00:00.000+08:00");
    /// ```
    pub fn parse_rfc3339(text: &str) -> Option<LogTime> {
        let text = text.trim();
        let b = text.as_bytes();
        if b.len() >= 5 && b[4] == b'/' {
            return LogTime::parse_unified(text);
        }
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let (f, y, rest) = LogTime::civil_prefix(b)?;
        let offset = LogTime::offset(rest)?;
        LogTime::from_civil(y, f[0], f[1], f[2], f[3], f[4], f[5], offset)
    }

    /// This instant moved by `ms` milliseconds, same offset.
    pub fn plus_ms(self, ms: i64) -> LogTime {
        LogTime {
            unix_ms: self.unix_ms + ms,
            offset_s: self.offset_s,
        }
    }
}

impl fmt::Display for LogTime {
    /// RFC 3339 with milliseconds and the original offset: `2022-02-07T12:00:00.000+08:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_ms + i64::from(self.offset_s) * 1000;
        let days = local.div_euclid(86_400_000);
        let in_day = local.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, mi, s, ms) = (
            in_day / 3_600_000,
            in_day / 60_000 % 60,
            in_day / 1000 % 60,
            in_day % 1000,
        );
        let sign = if self.offset_s < 0 { '-' } else { '+' };
        let off = self.offset_s.unsigned_abs();
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}{sign}{:02}:{:02}",
            off / 3600,
            off / 60 % 60
        )
    }
}

/// A span like `-4h`, `2h30m`, `90s`, `1d` (diag's relative `begin_time`), in milliseconds;
/// the sign is dropped.
///
/// ```
/// assert_eq!(diag_core::model::log::parse_span("-4h"), Some(4 * 3_600_000));
/// assert_eq!(diag_core::model::log::parse_span("1h30m"), Some(5_400_000));
/// assert_eq!(diag_core::model::log::parse_span("soon"), None);
/// ```
pub fn parse_span(text: &str) -> Option<i64> {
    let t = text.trim().trim_start_matches(['-', '+']);
    if t.is_empty() {
        return None;
    }
    let mut total = 0i64;
    let mut num = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            unit.push('s');
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        let scale = match unit.as_str() {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            _ => return None,
        };
        total += (n * scale) as i64;
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_times_round_trip_with_their_offset() {
        let t =
            LogTime::parse_unified("2022/02/07 12:00:00.123 +08:00").unwrap_or_else(|| panic!());
        assert_eq!(t.to_string(), "2022-02-07T12:00:00.123+08:00");
        let u =
            LogTime::parse_unified("2022/02/07 04:00:00.123 +00:00").unwrap_or_else(|| panic!());
        assert_eq!(t, u);
        let w =
            LogTime::parse_unified("2013/01/05 00:01:15.000 -07:00").unwrap_or_else(|| panic!());
        assert_eq!(w.to_string(), "2013-01-05T00:01:15.000-07:00");
        assert!(LogTime::parse_unified("2022/13/07 12:00:00.000 +08:00").is_none());
        assert!(LogTime::parse_unified("2022/02/07 12:00:00.000").is_none());
        assert!(LogTime::parse_unified("garbage").is_none());
        assert!(LogTime::parse_unified("").is_none());
    }

    #[test]
    fn rfc3339_forms() {
        let a = LogTime::parse_rfc3339("2022-01-24T07:33:57+08:00").unwrap_or_else(|| panic!());
        let b = LogTime::parse_rfc3339("2022-01-23T23:33:57.000Z").unwrap_or_else(|| panic!());
        assert_eq!(a, b);
        assert_eq!(a.unix_ms, 1_642_980_837_000);
        assert!(LogTime::parse_rfc3339("2022-01-24").is_none());
        assert!(LogTime::parse_rfc3339("-4h").is_none());
        let nano = LogTime::parse_rfc3339("2021-11-15T18:02:26.991204198+08:00")
            .unwrap_or_else(|| panic!());
        assert_eq!(nano.to_string(), "2021-11-15T18:02:26.991+08:00");
    }

    #[test]
    fn dates_before_1970_and_leap_days() {
        let t = LogTime::parse_rfc3339("1969-12-31T23:59:59Z").unwrap_or_else(|| panic!());
        assert_eq!(t.unix_ms, -1000);
        let leap = LogTime::parse_rfc3339("2024-02-29T00:00:00Z").unwrap_or_else(|| panic!());
        assert_eq!(leap.to_string(), "2024-02-29T00:00:00.000+00:00");
    }
}
