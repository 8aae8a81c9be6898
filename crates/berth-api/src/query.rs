//! Query-string values as docker reads them.

use std::collections::HashMap;

use berth_engine::Error;

pub type Query = HashMap<String, String>;

/// `1`, `true`, `True`, `yes` are true; absent, empty, `0`, `false` are false.
pub fn flag(q: &Query, key: &str) -> bool {
    match q.get(key).map(|s| s.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => !(v.is_empty() || v == "0" || v == "false" || v == "no"),
    }
}

pub fn flag_or(q: &Query, key: &str, default: bool) -> bool {
    if q.contains_key(key) {
        flag(q, key)
    } else {
        default
    }
}

pub fn int(q: &Query, key: &str) -> Result<Option<i64>, Error> {
    match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(format!("invalid value for {key}: {v}"))),
    }
}

pub fn string<'a>(q: &'a Query, key: &str) -> Option<&'a str> {
    q.get(key).map(String::as_str).filter(|s| !s.is_empty())
}

/// Docker's `since`/`until` for logs and events: unix seconds with an
/// optional fraction (`1700000000.123456789`), as nanoseconds.
pub fn unix_nanos(q: &Query, key: &str) -> Result<Option<i64>, Error> {
    let Some(v) = string(q, key) else {
        return Ok(None);
    };
    let bad = || Error::invalid(format!("invalid value for {key}: {v}"));
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        nanos = format!("{frac:0<9}").parse().map_err(|_| bad())?;
    }
    Ok(Some(secs * 1_000_000_000 + nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flags_and_numbers() {
        let q = q(&[
            ("all", "1"),
            ("x", "0"),
            ("t", "true"),
            ("n", "5"),
            ("bad", "z"),
            ("s", "10.5"),
        ]);
        assert!(flag(&q, "all"));
        assert!(!flag(&q, "x"));
        assert!(flag(&q, "t"));
        assert!(!flag(&q, "missing"));
        assert!(flag_or(&q, "missing", true));
        assert_eq!(int(&q, "n").unwrap(), Some(5));
        assert!(int(&q, "bad").is_err());
        assert_eq!(unix_nanos(&q, "s").unwrap(), Some(10_500_000_000));
        assert!(unix_nanos(&q, "bad").is_err());
    }
}
