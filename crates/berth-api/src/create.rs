//! The `POST /containers/create` body, decoded as leniently as dockerd's Go
//! types decode it and no more.
//!
//! Go's `encoding/json` differs from serde where clients rely on it:
//! - `Cmd`, `Entrypoint`, `Shell`, `CapAdd` and `CapDrop` are docker's
//!   `StrSlice`: a plain string means a one-element list;
//! - `null` inside a `[]string` or as a `map[string]string` value decodes
//!   to the empty string (Go leaves the zero value), where serde refuses it.
//!
//! The body is read into a JSON value, those spots are rewritten, and only
//! then is it turned into the bollard models. Enum-like strings whose bad
//! values dockerd reports with a message of its own are checked here first,
//! so the client sees dockerd's words instead of a decoder's.

use crate::Error;
use bollard_stubs::models::{ContainerConfig, HostConfig, NetworkingConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Fields of docker's `StrSlice` type, by object (`""` is the top level).
const STR_SLICES: &[(&str, &str)] = &[
    ("", "Cmd"),
    ("", "Entrypoint"),
    ("", "Shell"),
    ("HostConfig", "CapAdd"),
    ("HostConfig", "CapDrop"),
];

/// `[]string` fields, where Go turns a `null` element into "".
const STRING_LISTS: &[(&str, &str)] = &[
    ("", "Cmd"),
    ("", "Entrypoint"),
    ("", "Shell"),
    ("", "Env"),
    ("", "OnBuild"),
    ("Healthcheck", "Test"),
    ("HostConfig", "Binds"),
    ("HostConfig", "CapAdd"),
    ("HostConfig", "CapDrop"),
    ("HostConfig", "Dns"),
    ("HostConfig", "DnsOptions"),
    ("HostConfig", "DnsSearch"),
    ("HostConfig", "ExtraHosts"),
    ("HostConfig", "GroupAdd"),
    ("HostConfig", "Links"),
    ("HostConfig", "SecurityOpt"),
    ("HostConfig", "VolumesFrom"),
    ("HostConfig", "DeviceCgroupRules"),
    ("HostConfig", "MaskedPaths"),
    ("HostConfig", "ReadonlyPaths"),
];

/// `map[string]string` fields, where Go turns a `null` value into "".
const STRING_MAPS: &[(&str, &str)] = &[
    ("", "Labels"),
    ("HostConfig", "Sysctls"),
    ("HostConfig", "StorageOpt"),
    ("HostConfig", "Tmpfs"),
    ("HostConfig", "Annotations"),
    ("LogConfig", "Config"),
];

/// The create body: the container config with HostConfig and
/// NetworkingConfig beside its fields. The CLI builds and sends it; the
/// daemon reads it with [`decode`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(
        rename = "HostConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub host_config: Option<HostConfig>,
    #[serde(
        rename = "NetworkingConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub networking_config: Option<NetworkingConfig>,
}

/// Decodes a create body the way dockerd's decoder would accept it.
pub fn decode(data: &[u8]) -> Result<CreateBody, Error> {
    // Like Go's json.Decoder, read one value and leave whatever follows.
    let mut v: Value = serde_json::Deserializer::from_slice(data)
        .into_iter::<Value>()
        .next()
        .unwrap_or(Ok(Value::Null))
        .map_err(|e| Error::invalid(format!("invalid JSON: {e}")))?;
    if v.is_null() {
        // `null` decodes into Go's zero wrapper: no Config at all.
        return Err(Error::invalid(
            "Config cannot be empty in order to create a container",
        ));
    }
    if !v.is_object() {
        return Err(Error::invalid(
            "invalid JSON: the create body must be an object",
        ));
    }
    normalize(&mut v);
    refuse_early(&v)?;
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
}

/// The object a table entry refers to: the body itself, its HostConfig, its
/// Healthcheck, or HostConfig's LogConfig.
fn object_mut<'a>(
    body: &'a mut Value,
    parent: &str,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    match parent {
        "" => body.as_object_mut(),
        "LogConfig" => body
            .get_mut("HostConfig")?
            .get_mut("LogConfig")?
            .as_object_mut(),
        p => body.get_mut(p)?.as_object_mut(),
    }
}

fn normalize(body: &mut Value) {
    // Go compares the isolation case-insensitively; the model's enum does not.
    if let Some(iso) = body
        .get_mut("HostConfig")
        .and_then(|h| h.get_mut("Isolation"))
    {
        if iso
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("default"))
        {
            *iso = Value::String("default".into());
        }
    }
    for (parent, field) in STR_SLICES {
        if let Some(obj) = object_mut(body, parent) {
            if let Some(v) = obj.get_mut(*field) {
                if let Value::String(s) = v {
                    *v = Value::Array(vec![Value::String(std::mem::take(s))]);
                }
            }
        }
    }
    for (parent, field) in STRING_LISTS {
        if let Some(Value::Array(items)) = object_mut(body, parent).and_then(|o| o.get_mut(*field))
        {
            for item in items.iter_mut().filter(|i| i.is_null()) {
                *item = Value::String(String::new());
            }
        }
    }
    for (parent, field) in STRING_MAPS {
        if let Some(Value::Object(map)) = object_mut(body, parent).and_then(|o| o.get_mut(*field)) {
            for (_, item) in map.iter_mut().filter(|(_, i)| i.is_null()) {
                *item = Value::String(String::new());
            }
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Fields of older API versions that the v1.47 models no longer carry:
/// serde would drop them, so a request that sets one is refused instead.
const REMOVED: &[(&str, &str)] = &[("HostConfig", "KernelMemory")];

/// Refusals before decoding: removed fields, and enum-valued strings with
/// dockerd's own messages.
fn refuse_early(body: &Value) -> Result<(), Error> {
    for (parent, field) in REMOVED {
        let value = body.get(parent).and_then(|o| o.get(field));
        if value.is_some_and(|v| !(v.is_null() || v.as_i64() == Some(0))) {
            return Err(Error::invalid(format!(
                "{parent}.{field} is not supported (removed in API 1.42)"
            )));
        }
    }
    if let Some(iso) = str_at(body, &["HostConfig", "Isolation"]) {
        if !(iso.is_empty() || iso.eq_ignore_ascii_case("default")) {
            return Err(Error::invalid(format!(
                "Invalid isolation: \"{iso}\" - linux only supports 'default'"
            )));
        }
    }
    // Go decodes ConsoleSize into [2]uint: a negative size is a decode error.
    if let Some(Value::Array(size)) = body.get("HostConfig").and_then(|h| h.get("ConsoleSize")) {
        if size.iter().any(|n| n.as_i64().is_some_and(|n| n < 0)) {
            return Err(Error::invalid(
                "invalid JSON: HostConfig.ConsoleSize takes two unsigned integers",
            ));
        }
    }
    if let Some(mode) = str_at(body, &["HostConfig", "CgroupnsMode"]) {
        if !matches!(mode, "" | "private" | "host") {
            return Err(Error::invalid(format!(
                "invalid cgroup namespace mode: {mode}"
            )));
        }
    }
    if let Some(name) = str_at(body, &["HostConfig", "RestartPolicy", "Name"]) {
        if !matches!(name, "" | "no" | "always" | "unless-stopped" | "on-failure") {
            return Err(Error::invalid(format!("invalid restart policy '{name}'")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> Result<CreateBody, Error> {
        decode(s.as_bytes())
    }

    #[test]
    fn str_slices_take_a_plain_string() {
        let b = body(r#"{"Image":"busybox","Cmd":"true","Entrypoint":"/bin/sh","HostConfig":{"CapAdd":"NET_ADMIN"}}"#).unwrap();
        assert_eq!(b.config.cmd, Some(vec!["true".to_string()]));
        assert_eq!(b.config.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(
            b.host_config.unwrap().cap_add,
            Some(vec!["NET_ADMIN".to_string()])
        );
    }

    #[test]
    fn null_elements_become_empty_strings() {
        let b = body(r#"{"Image":"busybox","Cmd":[null],"Env":["A=1",null],"Labels":{"a":null},"HostConfig":{"Dns":[null],"LogConfig":{"Type":"json-file","Config":{"max-size":null}}}}"#).unwrap();
        assert_eq!(b.config.cmd, Some(vec![String::new()]));
        assert_eq!(b.config.env, Some(vec!["A=1".to_string(), String::new()]));
        assert_eq!(b.config.labels.unwrap()["a"], "");
        let hc = b.host_config.unwrap();
        assert_eq!(hc.dns, Some(vec![String::new()]));
        assert_eq!(hc.log_config.unwrap().config.unwrap()["max-size"], "");
    }

    #[test]
    fn a_plain_string_is_not_a_list_elsewhere() {
        // Env is []string in Go, not a StrSlice: dockerd refuses a string.
        assert!(body(r#"{"Image":"busybox","Env":"A=1"}"#).is_err());
    }

    #[test]
    fn networking_config_is_decoded() {
        let b = body(r#"{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"none":{}}}}"#)
            .unwrap();
        let eps = b.networking_config.unwrap().endpoints_config.unwrap();
        assert!(eps.contains_key("none"));
    }

    #[test]
    fn enum_strings_get_dockerds_messages() {
        let e = body(r#"{"Image":"b","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}"#)
            .unwrap_err();
        assert_eq!(e.message, "invalid restart policy 'sometimes'");
        let e = body(r#"{"Image":"b","HostConfig":{"CgroupnsMode":"shared"}}"#).unwrap_err();
        assert_eq!(e.message, "invalid cgroup namespace mode: shared");
        let e = body(r#"{"Image":"b","HostConfig":{"Isolation":"hyperv"}}"#).unwrap_err();
        assert!(e.message.starts_with("Invalid isolation"));
        assert!(body(r#"{"Image":"b","HostConfig":{"Isolation":"Default"}}"#).is_ok());
    }

    #[test]
    fn removed_fields_are_refused_not_dropped() {
        assert!(body(r#"{"Image":"b","HostConfig":{"KernelMemory":0}}"#).is_ok());
        let e = body(r#"{"Image":"b","HostConfig":{"KernelMemory":8388608}}"#).unwrap_err();
        assert!(e.message.starts_with("HostConfig.KernelMemory"));
    }

    #[test]
    fn null_and_non_objects() {
        assert!(body("null").is_err());
        assert!(body("[1]").is_err());
        assert!(body("{").is_err());
        assert!(body("").is_err());
    }

    #[test]
    fn one_value_is_read_and_the_rest_left() {
        let b = body(r#"{"Image":"busybox","Cmd":["true"]} trailing"#).unwrap();
        assert_eq!(b.config.image.as_deref(), Some("busybox"));
    }

    #[test]
    fn what_is_sent_is_what_is_decoded() {
        let sent = CreateBody {
            config: ContainerConfig {
                image: Some("busybox".into()),
                cmd: Some(vec!["true".into()]),
                ..ContainerConfig::default()
            },
            host_config: Some(HostConfig {
                auto_remove: Some(true),
                ..HostConfig::default()
            }),
            networking_config: None,
        };
        let data = serde_json::to_vec(&sent).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&data),
            r#"{"Cmd":["true"],"Image":"busybox","HostConfig":{"AutoRemove":true}}"#
        );
        assert_eq!(decode(&data).unwrap(), sent);
    }

    #[test]
    fn negative_console_size_is_refused() {
        assert!(body(r#"{"Image":"b","HostConfig":{"ConsoleSize":[-1,5]}}"#).is_err());
        assert!(body(r#"{"Image":"b","HostConfig":{"ConsoleSize":[0,0]}}"#).is_ok());
    }
}
