//! Docker's `filters` query parameter: the client sends
//! `{"name":{"value":true}}`; the daemon also reads the older
//! `{"name":["value"]}` form some clients still send.

use std::collections::BTreeMap;

use crate::Error;

/// Filter names and their values, as decoded.
pub type FilterMap = BTreeMap<String, Vec<String>>;

/// `name=value` pairs as the `filters` value (URL-encoded by the caller).
pub fn encode(pairs: &[(String, String)]) -> String {
    let mut map: BTreeMap<&str, BTreeMap<&str, bool>> = BTreeMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().insert(v, true);
    }
    serde_json::to_string(&map).unwrap_or_default()
}

/// Reads a `filters` value; absent or blank means no filters. Values set to
/// `false` in the map form are not filters at all.
pub fn decode(raw: Option<&str>) -> Result<FilterMap, Error> {
    let raw = match raw.map(str::trim) {
        None | Some("") => return Ok(FilterMap::new()),
        Some(r) => r,
    };
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| Error::invalid(format!("invalid filter: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| Error::invalid("invalid filter: expected a JSON object"))?;
    let mut out = FilterMap::new();
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn encodes_like_the_docker_client() {
        let f = pairs(&[("status", "running"), ("name", "xx"), ("status", "exited")]);
        assert_eq!(
            encode(&f),
            r#"{"name":{"xx":true},"status":{"exited":true,"running":true}}"#
        );
        assert_eq!(encode(&[]), "{}");
    }

    #[test]
    fn decodes_both_forms_and_round_trips() {
        let f = decode(Some(r#"{"label":{"a=b":true,"c":false},"name":["x"]}"#)).unwrap();
        assert_eq!(f["label"], vec!["a=b"]);
        assert_eq!(f["name"], vec!["x"]);
        assert!(decode(None).unwrap().is_empty());
        assert!(decode(Some("  ")).unwrap().is_empty());
        let sent = pairs(&[("label", "a=1"), ("label", "b")]);
        assert_eq!(
            decode(Some(&encode(&sent))).unwrap()["label"],
            vec!["a=1", "b"]
        );
    }

    #[test]
    fn refuses_what_is_not_a_filter() {
        assert_eq!(
            decode(Some("[1]")).unwrap_err().message,
            "invalid filter: expected a JSON object"
        );
        assert!(decode(Some("{nope")).is_err());
        assert_eq!(
            decode(Some(r#"{"a":1}"#)).unwrap_err().message,
            "invalid filter 'a'"
        );
    }
}
