//! Parsers for CLI flags in docker's formats; sizes and durations come from
//! `berth-units` (go-units).

use std::time::Duration;

pub use berth_units::{
    bytes_size, human_duration, human_size, human_size_with_precision, parse_go_duration,
    ram_in_bytes,
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
}
