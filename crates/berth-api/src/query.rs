//! Query strings both ways: the daemon reads values as dockerd does, the
//! client encodes them as Go's `url.Values` and the docker client do.

use std::collections::HashMap;

use crate::Error;

/// A request's decoded query parameters (the last value of a repeated key).
pub type Params = HashMap<String, String>;

/// `1`, `true`, `True`, `yes` are true; absent, empty, `0`, `false` are false.
pub fn flag(q: &Params, key: &str) -> bool {
    match q.get(key).map(|s| s.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) => !(v.is_empty() || v == "0" || v == "false" || v == "no"),
    }
}

pub fn flag_or(q: &Params, key: &str, default: bool) -> bool {
    if q.contains_key(key) {
        flag(q, key)
    } else {
        default
    }
}

pub fn int(q: &Params, key: &str) -> Result<Option<i64>, Error> {
    match q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(format!("invalid value for {key}: {v}"))),
    }
}

pub fn string<'a>(q: &'a Params, key: &str) -> Option<&'a str> {
    q.get(key).map(String::as_str).filter(|s| !s.is_empty())
}

/// Docker's `since`/`until` for logs and events: unix seconds with an
/// optional fraction (`1700000000.123456789`), as nanoseconds.
pub fn unix_nanos(q: &Params, key: &str) -> Result<Option<i64>, Error> {
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

/// URL query parameters as a client sends them; encoded sorted by key, like
/// Go's `url.Values.Encode`.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Query {
        Query::default()
    }

    /// Adds `key=value`.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Query {
        self.0.push((key.to_string(), value.into()));
        self
    }

    /// Adds `key=value` when `value` is not empty.
    pub fn set_nonempty(self, key: &str, value: &str) -> Query {
        if value.is_empty() {
            self
        } else {
            self.set(key, value)
        }
    }

    /// Adds `key=1` when `on`.
    pub fn flag(self, key: &str, on: bool) -> Query {
        if on {
            self.set(key, "1")
        } else {
            self
        }
    }

    /// `?a=1&b=2`, or an empty string without parameters.
    pub fn encode(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let mut pairs = self.0.clone();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        format!("?{}", ser.finish())
    }
}

/// Escapes a user-supplied name for use in a URL path, keeping `/`, `:` and
/// `@` (image references) readable.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'/'
                    | b':'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Params {
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

    #[test]
    fn encodes_sorted() {
        let q = Query::new()
            .set("stream", "1")
            .flag("stdout", true)
            .flag("stdin", false)
            .set("stderr", "1");
        assert_eq!(q.encode(), "?stderr=1&stdout=1&stream=1");
        assert_eq!(Query::new().encode(), "");
        let q = Query::new().set("filters", r#"{"label":{"a=1":true}}"#);
        assert_eq!(
            q.encode(),
            "?filters=%7B%22label%22%3A%7B%22a%3D1%22%3Atrue%7D%7D"
        );
    }

    #[test]
    fn path_segments() {
        assert_eq!(
            path_segment("127.0.0.1:5000/busybox:latest"),
            "127.0.0.1:5000/busybox:latest"
        );
        assert_eq!(path_segment("a b?#"), "a%20b%3F%23");
    }
}
