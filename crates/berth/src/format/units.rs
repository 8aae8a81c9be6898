//! Parsers for CLI flags in docker's formats; sizes and durations come from
//! `berth-units` (go-units).

use std::time::Duration;

pub use berth_units::{
    bytes_size, human_duration, human_size, human_size_with_precision, ram_in_bytes,
};

/// "X ago" for a unix timestamp, as docker's `CreatedSince`/`RunningFor`.
pub fn since_unix(created: i64, now: i64) -> String {
    let d = Duration::from_secs(now.saturating_sub(created).max(0) as u64);
    format!("{} ago", human_duration(d))
}

/// `opts.MemSwapBytes`: like [`ram_in_bytes`] but `-1` means unlimited.
pub fn mem_swap_bytes(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    ram_in_bytes(s)
}

/// `opts.NanoCPUs`: a decimal number of CPUs to billionths of a CPU.
pub fn parse_nano_cpus(s: &str) -> Result<i64, String> {
    let bad = || format!("failed to parse {s} as a rational number");
    let t = s.trim();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    if frac_trimmed.len() > 9 {
        return Err("value is too precise".to_string());
    }
    let int: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| bad())?
    };
    let frac: i64 = if frac_trimmed.is_empty() {
        0
    } else {
        format!("{frac_trimmed:0<9}").parse().map_err(|_| bad())?
    };
    let nanos = int
        .checked_mul(1_000_000_000)
        .and_then(|v| v.checked_add(frac))
        .ok_or_else(bad)?;
    Ok(if neg { -nanos } else { nanos })
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
    fn since_and_swap() {
        assert_eq!(since_unix(100, 105), "5 seconds ago");
        assert_eq!(mem_swap_bytes("-1"), Ok(-1));
        assert_eq!(mem_swap_bytes("1k"), Ok(1024));
    }

    #[test]
    fn nano_cpus() {
        assert_eq!(parse_nano_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_nano_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_nano_cpus("1.000000001"), Ok(1_000_000_001));
        assert_eq!(parse_nano_cpus(".25"), Ok(250_000_000));
        assert_eq!(
            parse_nano_cpus("0.0000000001"),
            Err("value is too precise".to_string())
        );
        assert_eq!(
            parse_nano_cpus("abc"),
            Err("failed to parse abc as a rational number".to_string())
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
