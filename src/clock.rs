//! Time as a dependency. Everything time-dependent (signature freshness, deletion windows, rotation
//! schedules) asks a [`Clock`], so tests move time with a [`ManualClock`] instead of sleeping.

use std::{
    fmt,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new(start: SystemTime) -> Self {
        Self(Mutex::new(start))
    }

    /// Starts at the current wall-clock time, truncated to whole milliseconds as stored.
    pub fn starting_now() -> Self {
        Self::new(from_millis(to_millis(SystemTime::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock lock")
    }
}

pub const DAY: Duration = Duration::from_secs(86_400);

/// Milliseconds since the Unix epoch (negative before it), as stored.
pub fn to_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub fn from_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Seconds and nanoseconds since the epoch, for protobuf timestamps.
pub fn to_unix_parts(t: SystemTime) -> (i64, i32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos() as i32),
        Err(e) => {
            let d = e.duration();
            let (secs, nanos) = (d.as_secs() as i64, d.subsec_nanos() as i32);
            if nanos == 0 {
                (-secs, 0)
            } else {
                (-secs - 1, 1_000_000_000 - nanos)
            }
        }
    }
}

/// Formats `t` as the `x-vault-date` header wants it: `YYYYMMDDTHHMMSSZ` in UTC.
pub fn format_basic_iso8601(t: SystemTime) -> String {
    let secs = to_unix_parts(t).0;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats Unix seconds and nanoseconds as ISO 8601 in UTC to the millisecond, as AWS's XML
/// answers carry times: `2026-11-27T03:18:22.123Z`.
pub fn format_iso8601_millis(seconds: i64, nanos: i32) -> String {
    let (days, rem) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos.clamp(0, 999_999_999) / 1_000_000
    )
}

/// Parses `YYYYMMDDTHHMMSSZ`; anything else is `None`.
pub fn parse_basic_iso8601(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if !s.is_ascii() || b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
    Some(from_millis(secs.checked_mul(1000)?))
}

/// Parses an RFC 3339 time (`2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.5+02:00`) into Unix
/// seconds and nanoseconds; anything else is `None`.
pub fn parse_rfc3339_parts(text: &str) -> Option<(i64, i32)> {
    let text = text.trim();
    if !text.is_ascii() || text.len() < 20 {
        return None;
    }
    let (d, rest) = text.split_at(19);
    let b = d.as_bytes();
    if (b[4], b[7], b[13], b[16]) != (b'-', b'-', b':', b':') || !b"Tt ".contains(&b[10]) {
        return None;
    }
    // The basic form the request signatures use has the range checks.
    let basic = format!(
        "{}{}{}T{}{}{}Z",
        &d[0..4],
        &d[5..7],
        &d[8..10],
        &d[11..13],
        &d[14..16],
        &d[17..19]
    );
    let (mut seconds, _) = to_unix_parts(parse_basic_iso8601(&basic)?);
    let (nanos, zone) = match rest.strip_prefix('.') {
        Some(fraction) => {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let padded = format!("{:0<9}", &fraction[..digits.min(9)]);
            (padded.parse().ok()?, &fraction[digits..])
        }
        None => (0, rest),
    };
    match zone.as_bytes() {
        [b'Z' | b'z'] => {}
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let digit = |c: &u8| i64::from(c - b'0');
            let (hours, minutes) = (digit(h1) * 10 + digit(h2), digit(m1) * 10 + digit(m2));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            seconds -= if *sign == b'+' { offset } else { -offset };
        }
        _ => return None,
    }
    Some((seconds, nanos))
}

/// [`parse_rfc3339_parts`] as a `SystemTime`, to the millisecond (as times are stored).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let (seconds, nanos) = parse_rfc3339_parts(text)?;
    Some(from_millis(
        seconds.checked_mul(1000)? + i64::from(nanos / 1_000_000),
    ))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian, days since 1970-01-01).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_iso8601_round_trip() {
        // 2026-11-26T03:16:18Z, the date of auth.md's test vectors.
        let t = UNIX_EPOCH + Duration::from_secs(1_795_662_978);
        assert_eq!(format_basic_iso8601(t), "20261126T031618Z");
        assert_eq!(parse_basic_iso8601("20261126T031618Z"), Some(t));
        assert_eq!(format_basic_iso8601(UNIX_EPOCH), "19700101T000000Z");
        let leap = parse_basic_iso8601("20240229T235959Z").unwrap();
        assert_eq!(format_basic_iso8601(leap), "20240229T235959Z");
    }

    #[test]
    fn malformed_dates_are_refused() {
        for bad in [
            "",
            "20261126T031618",
            "2026-11-26T03:16:18Z",
            "20261326T031618Z",
            "20230229T000000Z",
            "20261126T241618Z",
            "2026112aT031618Z",
            "+0261126T031618Z",
            "202é126T031618Z",
            "2026112éT31618Z",
        ] {
            assert_eq!(parse_basic_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(UNIX_EPOCH);
        assert_eq!(clock.now(), UNIX_EPOCH);
        clock.advance(DAY);
        assert_eq!(clock.now(), UNIX_EPOCH + DAY);
    }

    #[test]
    fn millis_round_trip() {
        let t = from_millis(1_795_662_978_123);
        assert_eq!(to_millis(t), 1_795_662_978_123);
        assert_eq!(to_millis(from_millis(-5)), -5);
    }
}
