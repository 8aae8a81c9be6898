//! Docker's `filters` query parameter: JSON `{"name":{"value":true}}`, or the
//! older `{"name":["value"]}` form some clients still send.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(raw: Option<&str>) -> Result<Filters> {
        let raw = match raw.map(str::trim) {
            None | Some("") => return Ok(Filters::default()),
            Some(r) => r,
        };
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| Error::invalid(format!("invalid filter: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| Error::invalid("invalid filter: expected a JSON object"))?;
        let mut out = BTreeMap::new();
        for (key, v) in obj {
            let values: Vec<String> = match v {
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, b)| b.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => return Err(Error::invalid(format!("invalid filter '{key}'"))),
            };
            out.insert(key.clone(), values);
        }
        Ok(Filters(out))
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
    fn rejects_bad_input() {
        assert!(Filters::parse(Some("{nope")).is_err());
        assert!(Filters::parse(Some("[1]")).is_err());
        assert!(Filters::parse(Some(r#"{"a":1}"#)).is_err());
        let f = Filters::parse(Some(r#"{"bogus":{"x":true}}"#)).unwrap();
        assert!(f.validate(&["name"]).is_err());
    }
}
