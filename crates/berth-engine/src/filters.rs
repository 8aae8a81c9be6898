//! Docker's `filters`, once the wire has decoded them (berth-api): which
//! names an endpoint knows, and how values match labels, names and times.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl From<BTreeMap<String, Vec<String>>> for Filters {
    fn from(map: BTreeMap<String, Vec<String>>) -> Filters {
        Filters(map)
    }
}

impl Filters {
    /// Filters as the wire decoded them (in tests, from their JSON form).
    #[cfg(test)]
    pub fn parse(raw: Option<&str>) -> Result<Filters> {
        berth_api::filters::decode(raw)
            .map(Filters::from)
            .map_err(|e| Error::invalid(e.message))
    }

    pub fn get(&self, key: &str) -> Vec<String> {
        self.0.get(key).cloned().unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|v| v.is_empty())
    }

    /// Rejects filter names this endpoint does not know, as docker does.
    pub fn validate(&self, allowed: &[&str]) -> Result<()> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::invalid(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// docker's `label` and `label!` filters against an object's labels:
    /// every `label` (`key` or `key=value`) present, no `label!` one.
    pub fn labels_match(&self, label: impl Fn(&str) -> Option<String>) -> bool {
        let holds = |f: &str| match f.split_once('=') {
            Some((k, v)) => label(k).as_deref() == Some(v),
            None => label(f).is_some(),
        };
        self.get("label").iter().all(|f| holds(f)) && !self.get("label!").iter().any(|f| holds(f))
    }

    /// docker's `until` filter (a timestamp or a duration before now) as
    /// unix seconds: objects created after it are kept.
    pub fn until(&self) -> Result<Option<i64>> {
        let Some(v) = self.get("until").into_iter().next() else {
            return Ok(None);
        };
        let now = chrono::Utc::now().timestamp();
        if let Ok(secs) = v.parse::<f64>() {
            return Ok(Some(secs as i64));
        }
        if let Ok(nanos) = berth_units::parse_go_duration(&v) {
            return Ok(Some(now - (nanos / 1_000_000_000) as i64));
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&v) {
            return Ok(Some(t.timestamp()));
        }
        Err(Error::invalid(format!(
            "failed to parse value {v} of filter until"
        )))
    }

    /// docker's boolean filters (`dangling`): `true`/`1` or `false`/`0`;
    /// anything else, or both at once, is a 400 naming the values.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        let Some(values) = self.0.get(key) else {
            return Ok(default);
        };
        if values.is_empty() {
            return Err(Error::invalid(format!("invalid filter '{key}'")));
        }
        let has = |v: &str| values.iter().any(|x| x == v);
        let (t, f) = (has("true") || has("1"), has("false") || has("0"));
        if t == f {
            let mut sorted = values.clone();
            sorted.sort();
            return Err(Error::invalid(format!(
                "invalid filter '{key}=[{}]'",
                sorted.join(" ")
            )));
        }
        Ok(t)
    }

    /// docker's regexp filters (`name` of `ps`): a value matches when it
    /// equals `text` or, as a regexp, matches anywhere in it. A value that
    /// is not a valid regexp matches only exactly, as in dockerd.
    pub fn matches_pattern(&self, key: &str, text: &str) -> bool {
        let values = self.get(key);
        values.is_empty()
            || values
                .iter()
                .any(|v| v == text || regex::Regex::new(v).is_ok_and(|re| re.is_match(text)))
    }

    /// docker's prefix filters (`container`, `network`, ... of events): a
    /// value matches when `text` starts with it.
    pub fn matches_prefix(&self, key: &str, text: &str) -> bool {
        let values = self.get(key);
        values.is_empty() || values.iter().any(|v| text.starts_with(v.as_str()))
    }

    /// docker's exact filters: a value matches when it equals `text`.
    pub fn matches_exact(&self, key: &str, text: &str) -> bool {
        let values = self.get(key);
        values.is_empty() || values.iter().any(|v| v == text)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        self.0
            .entry(key.to_string())
            .or_default()
            .push(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let f = Filters::parse(Some(
            r#"{"name":{"web":true,"db":true},"status":{"running":true}}"#,
        ))
        .unwrap();
        assert_eq!(f.get("name"), vec!["db", "web"]);
        assert_eq!(f.get("status"), vec!["running"]);
        let f = Filters::parse(Some(r#"{"label":["a=b"]}"#)).unwrap();
        assert_eq!(f.get("label"), vec!["a=b"]);
        assert!(Filters::parse(None).unwrap().is_empty());
    }

    #[test]
    fn labels_and_until() {
        let f = Filters::parse(Some(
            r#"{"label":{"a":true,"b=1":true},"label!":{"c":true}}"#,
        ))
        .unwrap();
        let labels = |m: &'static [(&'static str, &'static str)]| {
            move |k: &str| m.iter().find(|(x, _)| *x == k).map(|(_, v)| v.to_string())
        };
        assert!(f.labels_match(labels(&[("a", "x"), ("b", "1")])));
        assert!(!f.labels_match(labels(&[("a", "x"), ("b", "2")])));
        assert!(!f.labels_match(labels(&[("a", "x"), ("b", "1"), ("c", "")])));
        let f = Filters::parse(Some(r#"{"until":{"1000":true}}"#)).unwrap();
        assert_eq!(f.until().unwrap(), Some(1000));
        let f = Filters::parse(Some(r#"{"until":{"10m":true}}"#)).unwrap();
        let t = f.until().unwrap().unwrap();
        assert!((chrono::Utc::now().timestamp() - 600 - t).abs() < 5);
        let f = Filters::parse(Some(r#"{"until":{"soon":true}}"#)).unwrap();
        assert!(f.until().is_err());
    }

    #[test]
    fn booleans_like_dockerd() {
        let f = |raw: &str| Filters::parse(Some(raw)).unwrap();
        assert!(f(r#"{"dangling":{"true":true}}"#)
            .bool_or("dangling", false)
            .unwrap());
        assert!(!f(r#"{"dangling":{"0":true}}"#)
            .bool_or("dangling", true)
            .unwrap());
        assert!(f("{}").bool_or("dangling", true).unwrap());
        let e = f(r#"{"dangling":{"maybe":true}}"#)
            .bool_or("dangling", false)
            .unwrap_err();
        assert_eq!(e.message, "invalid filter 'dangling=[maybe]'");
        let e = f(r#"{"dangling":{}}"#)
            .bool_or("dangling", true)
            .unwrap_err();
        assert_eq!(e.message, "invalid filter 'dangling'");
        assert!(f(r#"{"dangling":{"true":true,"false":true}}"#)
            .bool_or("dangling", false)
            .is_err());
    }

    #[test]
    fn patterns_prefixes_and_exact_values() {
        let f = Filters::parse(Some(r#"{"name":{"^web$":true}}"#)).unwrap();
        assert!(f.matches_pattern("name", "web"));
        assert!(!f.matches_pattern("name", "web2"));
        let f = Filters::parse(Some(r#"{"name":{"eb":true}}"#)).unwrap();
        assert!(
            f.matches_pattern("name", "web2"),
            "unanchored, like Go's MatchString"
        );
        let f = Filters::parse(Some(r#"{"name":{"a(":true}}"#)).unwrap();
        assert!(f.matches_pattern("name", "a("));
        assert!(!f.matches_pattern("name", "xa(y"));
        assert!(Filters::default().matches_pattern("name", "x"));
        let f = Filters::parse(Some(r#"{"network":{"br":true}}"#)).unwrap();
        assert!(f.matches_prefix("network", "bridge"));
        assert!(!f.matches_prefix("network", "host"));
        assert!(!f.matches_exact("network", "bridge"));
        assert!(f.matches_exact("scope", "local"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Filters::parse(Some("{nope")).is_err());
        assert!(Filters::parse(Some("[1]")).is_err());
        assert!(Filters::parse(Some(r#"{"a":1}"#)).is_err());
        let f = Filters::parse(Some(r#"{"bogus":{"x":true}}"#)).unwrap();
        assert!(f.validate(&["name"]).is_err());
    }
}
