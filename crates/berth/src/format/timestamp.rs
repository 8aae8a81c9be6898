//! `--since`/`--until` values, converted like docker's `timetypes.GetTimestamp`:
//! a Go duration (relative to now), an RFC 3339 date or time (local time when
//! no zone is given), or a unix timestamp passed through unchanged.

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, Offset, TimeZone};

use super::units::parse_go_duration;

/// Converts `value` to the `seconds[.nanoseconds]` string the API expects.
pub fn get_timestamp(value: &str, now: DateTime<Local>) -> Result<String, String> {
    if value != "0" {
        if let Ok(nanos) = parse_go_duration(value) {
            let t = now.timestamp_nanos_opt().unwrap_or(0) as i128 - nanos;
            return Ok(t.div_euclid(1_000_000_000).to_string());
        }
    }
    let has_zone = value.contains(['z', 'Z', '+']) || value.matches('-').count() == 3;
    let parsed = if has_zone {
        parse_with_zone(value)
    } else {
        parse_local(value, now.offset().fix())
    };
    match parsed {
        Some(t) => Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        )),
        None if value.contains('-') => Err(format!("parsing time \"{value}\": invalid format")),
        None if is_unix_timestamp(value) => Ok(value.to_string()),
        None => Err(format!(
            "failed to parse value as time or duration: \"{value}\""
        )),
    }
}

fn parse_local(value: &str, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let naive = if value.contains('T') {
        let fmt = match value.matches(':').count() {
            0 => "%Y-%m-%dT%H",
            1 => "%Y-%m-%dT%H:%M",
            _ => "%Y-%m-%dT%H:%M:%S%.f",
        };
        parse_naive(value, fmt)?
    } else {
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
    };
    offset.from_local_datetime(&naive).single()
}

fn parse_naive(value: &str, fmt: &str) -> Option<NaiveDateTime> {
    // chrono needs hours and minutes; pad the short Go layouts.
    match fmt {
        "%Y-%m-%dT%H" => {
            NaiveDateTime::parse_from_str(&format!("{value}:00"), "%Y-%m-%dT%H:%M").ok()
        }
        _ => NaiveDateTime::parse_from_str(value, fmt).ok(),
    }
}

fn parse_with_zone(value: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t);
    }
    // date with zone: 2006-01-02Z07:00
    let (date, zone) = if let Some(d) = value.strip_suffix(['Z', 'z']) {
        (d, FixedOffset::east_opt(0)?)
    } else {
        let idx = value.rfind(['+', '-'])?;
        let (d, z) = value.split_at(idx);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':')?;
        let secs = sign * (h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60);
        (d, FixedOffset::east_opt(secs)?)
    };
    let naive = if date.contains('T') {
        let fmt = match date.matches(':').count() {
            0 => "%Y-%m-%dT%H",
            1 => "%Y-%m-%dT%H:%M",
            _ => "%Y-%m-%dT%H:%M:%S%.f",
        };
        parse_naive(date, fmt)?
    } else {
        NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
    };
    zone.from_local_datetime(&naive).single()
}

fn is_unix_timestamp(value: &str) -> bool {
    let (secs, nanos) = value.split_once('.').unwrap_or((value, "0"));
    secs.parse::<i64>().is_ok() && nanos.parse::<i64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Local.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn durations_are_relative_to_now() {
        assert_eq!(get_timestamp("10m", now()).unwrap(), "1699999400");
        assert_eq!(get_timestamp("1h", now()).unwrap(), "1699996400");
    }

    #[test]
    fn rfc3339_with_zone() {
        assert_eq!(
            get_timestamp("2023-11-14T22:13:20Z", now()).unwrap(),
            "1700000000.000000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14T23:13:20.5+01:00", now()).unwrap(),
            "1700000000.500000000"
        );
        assert_eq!(
            get_timestamp("2023-11-14Z", now()).unwrap(),
            "1699920000.000000000"
        );
    }

    #[test]
    fn unix_timestamps_pass_through() {
        assert_eq!(get_timestamp("1700000000", now()).unwrap(), "1700000000");
        assert_eq!(
            get_timestamp("1700000000.5", now()).unwrap(),
            "1700000000.5"
        );
        assert_eq!(get_timestamp("0", now()).unwrap(), "0");
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(
            get_timestamp("yesterday", now()).unwrap_err(),
            "failed to parse value as time or duration: \"yesterday\""
        );
        assert!(get_timestamp("2023-13-45", now()).is_err());
    }
}
