//! Sizes and durations the way docker's `go-units` package prints and
//! parses them, for the daemon (status strings, log sizes) and the CLI
//! (tables, flags) alike. No dependencies.

use std::time::Duration;

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Go's `fmt.Sprintf("%.*g", precision, v)` for finite, non-negative values.
pub fn go_fmt_g(v: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if v == 0.0 {
        return "0".to_string();
    }
    // Scientific form first: it tells us the exponent after rounding.
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_fraction_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn scale(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// `units.HumanSizeWithPrecision`: decimal units, e.g. `4.26MB`.
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (v, unit) = scale(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{}", go_fmt_g(v, precision), unit)
}

/// `units.HumanSize`: decimal units with 4 significant digits.
pub fn human_size(size: f64) -> String {
    human_size_with_precision(size, 4)
}

/// `units.BytesSize`: binary units with 4 significant digits, e.g. `23.54GiB`.
pub fn bytes_size(size: f64) -> String {
    let (v, unit) = scale(size, 1024.0, &BINARY_UNITS);
    format!("{}{}", go_fmt_g(v, 4), unit)
}

/// `units.HumanDuration`: "Less than a second", "About a minute", "3 weeks", ...
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

/// `units.RAMInBytes`: binary units, `64m`, `1.5g`, `512KiB`, `1024` (bytes).
/// Errors carry go-units' messages (`invalid suffix: 'x'`, `invalid size: 'x'`).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    parse_size(s, 1024.0)
}

/// `units.FromHumanSize`: decimal units, `1k` = 1000 (what dockerd uses for
/// the json-file `max-size`).
pub fn from_human_size(s: &str) -> Result<i64, String> {
    parse_size(s, 1000.0)
}

/// go-units' parseSize: a number, an optional space, and a suffix of a unit
/// letter with an optional `b` or `ib`.
fn parse_size(s: &str, base: f64) -> Result<i64, String> {
    let sep = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(|| format!("invalid size: '{s}'"))?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..sep + 1], &s[sep + 1..])
    };
    let size: f64 = num
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing \"{num}\": invalid syntax"))?;
    if size < 0.0 {
        return Err(format!("invalid size: '{s}'"));
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    let bad = || format!("invalid suffix: '{sfx}'");
    if sfx.len() > 3 {
        return Err(bad());
    }
    let lower = sfx.to_ascii_lowercase();
    let b = lower.as_bytes();
    if b[0] == b'b' {
        return if b.len() > 1 {
            Err(bad())
        } else {
            Ok(size as i64)
        };
    }
    let mul: f64 = match b[0] {
        b'k' => base,
        b'm' => base.powi(2),
        b'g' => base.powi(3),
        b't' => base.powi(4),
        b'p' => base.powi(5),
        _ => return Err(bad()),
    };
    if (b.len() == 2 && b[1] != b'b') || (b.len() == 3 && &lower[1..] != "ib") {
        return Err(bad());
    }
    Ok((size * mul) as i64)
}

/// Go's `time.ParseDuration` (`300ms`, `1.5h`, `2h45m`), as a signed count of
/// nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i128, String> {
    let err = || format!("time: invalid duration \"{s}\"");
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_end];
        if num.is_empty() || num == "." {
            return Err(err());
        }
        let value: f64 = num.parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mul: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{s}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{s}\""
                ))
            }
        };
        total += value * mul;
    }
    let nanos = total.round() as i128;
    Ok(if neg { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_like_go_units() {
        assert_eq!(human_size_with_precision(1982957.0, 3), "1.98MB");
        assert_eq!(human_size_with_precision(4_260_000.0, 3), "4.26MB");
        assert_eq!(human_size_with_precision(0.0, 3), "0B");
        assert_eq!(human_size_with_precision(6.0, 3), "6B");
        assert_eq!(human_size_with_precision(999.0, 3), "999B");
        assert_eq!(human_size_with_precision(1000.0, 3), "1kB");
        assert_eq!(human_size_with_precision(999_999.0, 3), "1e+03kB");
        assert_eq!(human_size_with_precision(123_456_789.0, 3), "123MB");
        assert_eq!(human_size_with_precision(12_345_678.0, 3), "12.3MB");
        assert_eq!(human_size(1_234_567.0), "1.235MB");
        assert_eq!(bytes_size(25_275_183_104.0), "23.54GiB");
        assert_eq!(bytes_size(1024.0), "1KiB");
    }

    #[test]
    fn go_g_format() {
        assert_eq!(go_fmt_g(1.5, 3), "1.5");
        assert_eq!(go_fmt_g(0.0001234, 3), "0.000123");
        assert_eq!(go_fmt_g(0.00001234, 3), "1.23e-05");
        assert_eq!(go_fmt_g(100.0, 3), "100");
    }

    #[test]
    fn human_durations_like_go_units() {
        let s = Duration::from_secs;
        let day = 24 * 3600;
        let week = 7 * day;
        let month = 30 * day;
        let year = 365 * day;
        assert_eq!(
            human_duration(Duration::from_millis(450)),
            "Less than a second"
        );
        assert_eq!(human_duration(s(1)), "1 second");
        assert_eq!(human_duration(s(47)), "47 seconds");
        assert_eq!(human_duration(s(60)), "About a minute");
        assert_eq!(human_duration(s(3 * 60)), "3 minutes");
        assert_eq!(human_duration(s(35 * 60 + 40)), "35 minutes");
        assert_eq!(human_duration(s(3600)), "About an hour");
        assert_eq!(human_duration(s(3600 + 29 * 60)), "About an hour");
        assert_eq!(human_duration(s(3600 + 31 * 60)), "2 hours");
        assert_eq!(human_duration(s(24 * 3600)), "24 hours");
        assert_eq!(human_duration(s(day + 12 * 3600)), "36 hours");
        assert_eq!(human_duration(s(2 * day)), "2 days");
        assert_eq!(human_duration(s(13 * day + 5 * 3600)), "13 days");
        assert_eq!(human_duration(s(2 * week)), "2 weeks");
        assert_eq!(human_duration(s(month)), "4 weeks");
        assert_eq!(human_duration(s(month + 2 * week)), "6 weeks");
        assert_eq!(human_duration(s(2 * month)), "2 months");
        assert_eq!(human_duration(s(24 * month)), "24 months");
        assert_eq!(human_duration(s(24 * month + 2 * week)), "2 years");
        assert_eq!(human_duration(s(3 * year + 2 * month)), "3 years");
    }

    #[test]
    fn ram_sizes() {
        assert_eq!(ram_in_bytes("64m"), Ok(67_108_864));
        assert_eq!(ram_in_bytes("32M"), Ok(33_554_432));
        assert_eq!(ram_in_bytes("1g"), Ok(1_073_741_824));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("512KiB"), Ok(524_288));
        assert_eq!(ram_in_bytes("10MB"), Ok(10_485_760));
        assert_eq!(ram_in_bytes("1024"), Ok(1024));
        assert_eq!(ram_in_bytes("100b"), Ok(100));
        assert_eq!(ram_in_bytes("12x"), Err("invalid suffix: 'x'".to_string()));
        assert_eq!(ram_in_bytes("1kx"), Err("invalid suffix: 'kx'".to_string()));
        assert_eq!(ram_in_bytes("m"), Err("invalid size: 'm'".to_string()));
        assert!(ram_in_bytes("-1").is_err());
    }

    #[test]
    fn human_sizes_parse_decimal() {
        assert_eq!(from_human_size("1k"), Ok(1000));
        assert_eq!(from_human_size("10MB"), Ok(10_000_000));
        assert_eq!(from_human_size("1.5g"), Ok(1_500_000_000));
        assert_eq!(from_human_size("42"), Ok(42));
        assert_eq!(
            from_human_size("1q"),
            Err("invalid suffix: 'q'".to_string())
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("10m"), Ok(600_000_000_000));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("abc").is_err());
        assert!(parse_go_duration("2023-01-01").is_err());
    }
}
