//! The json-file log driver's options (`--log-driver`, `--log-opt`), checked
//! at create the way dockerd checks them, and turned into the shim's rotation.

use bollard_stubs::models::HostConfig;

use crate::error::{Error, Result};

/// The options json-file accepts (dockerd's list); berth acts on the sizes.
const KNOWN: &[&str] = &[
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
];

/// Log rotation of a container: bytes per file (0 = never rotate) and files kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_size: u64,
    pub max_files: u32,
}

/// Validates the container's log configuration and returns its rotation.
pub fn rotation(hc: &HostConfig) -> Result<Rotation> {
    let mut out = Rotation {
        max_size: 0,
        max_files: 1,
    };
    let Some(log) = hc.log_config.as_ref() else {
        return Ok(out);
    };
    match log.typ.as_deref().unwrap_or("") {
        "" | "json-file" => {}
        other => {
            return Err(Error::invalid(format!(
                "failed to create logger: logger: no log driver named '{other}' is registered"
            )))
        }
    }
    let Some(cfg) = log.config.as_ref() else {
        return Ok(out);
    };
    if let Some(key) = cfg.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown log opt '{key}' for json-file log driver"
        )));
    }
    if let Some(size) = cfg.get("max-size") {
        let n = berth_units::from_human_size(size).map_err(Error::invalid)?;
        if n <= 0 {
            return Err(Error::invalid("max-size must be a positive number"));
        }
        out.max_size = n as u64;
    }
    if let Some(files) = cfg.get("max-file") {
        let n: i64 = files.parse().map_err(|_| {
            Error::invalid(format!("strconv.Atoi: parsing \"{files}\": invalid syntax"))
        })?;
        if n < 1 {
            return Err(Error::invalid("max-file cannot be less than 1"));
        }
        out.max_files = n.min(u32::MAX as i64) as u32;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::HostConfigLogConfig;
    use std::collections::HashMap;

    fn hc(typ: &str, opts: &[(&str, &str)]) -> HostConfig {
        HostConfig {
            log_config: Some(HostConfigLogConfig {
                typ: Some(typ.to_string()),
                config: Some(
                    opts.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<HashMap<_, _>>(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn sizes_are_decimal_like_dockerd() {
        let r = rotation(&hc("json-file", &[("max-size", "1k"), ("max-file", "3")])).unwrap();
        assert_eq!(
            r,
            Rotation {
                max_size: 1000,
                max_files: 3
            }
        );
        let r = rotation(&HostConfig::default()).unwrap();
        assert_eq!(
            r,
            Rotation {
                max_size: 0,
                max_files: 1
            }
        );
        assert_eq!(
            rotation(&hc("", &[("max-size", "10m")])).unwrap().max_size,
            10_000_000
        );
    }

    #[test]
    fn bad_options_are_refused() {
        let err = |h: HostConfig| rotation(&h).unwrap_err().message;
        assert_eq!(
            err(hc("json-file", &[("max-size", "lots")])),
            "invalid size: 'lots'"
        );
        assert_eq!(
            err(hc("json-file", &[("max-size", "0")])),
            "max-size must be a positive number"
        );
        assert_eq!(
            err(hc("json-file", &[("max-file", "0")])),
            "max-file cannot be less than 1"
        );
        assert!(err(hc("json-file", &[("max-file", "x")])).contains("invalid syntax"));
        assert_eq!(
            err(hc("json-file", &[("bogus", "1")])),
            "unknown log opt 'bogus' for json-file log driver"
        );
        assert!(err(hc("syslog", &[])).contains("no log driver named 'syslog'"));
    }
}
