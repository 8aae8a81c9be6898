//! Query strings and path segments, encoded like Go's `url.Values` and the
//! docker client (names and image references keep their `/` and `:`).

/// URL query parameters; encoded sorted by key, like Go's `url.Values.Encode`.
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
