//! The log drivers (`--log-driver`, `--log-opt`): json-file and none,
//! checked at create the way dockerd checks them (dockerd checks some only
//! at start), and turned into what the shim is told to do.

use bollard_stubs::models::HostConfig;

use crate::error::{Error, Result};

/// The options dockerd's json-file accepts. `tag` it accepts and never
/// uses; the attribute options berth does not write (yet) are refused.
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
/// Extra attributes json-file would add to every entry (`logs --details`).
const NOT_WRITTEN: &[&str] = &["labels", "labels-regex", "env", "env-regex"];

/// Log rotation of a container: bytes per file (0 = never rotate) and files kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub max_size: u64,
    pub max_files: u32,
}

impl Default for Rotation {
    fn default() -> Rotation {
        Rotation {
            max_size: 0,
            max_files: 1,
        }
    }
}

/// Where a container's output goes besides attached clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDriver {
    JsonFile(Rotation),
    /// Nowhere: no log file, and `docker logs` cannot read anything.
    None,
}

impl LogDriver {
    /// The driver of a stored container; checked at create, so a record
    /// that no longer passes (an older daemon's) falls back to json-file.
    pub fn of(hc: &HostConfig) -> LogDriver {
        log_driver(hc).unwrap_or(LogDriver::JsonFile(Rotation::default()))
    }
}

/// dockerd's answer to `docker logs` under a driver that keeps nothing.
pub fn reading_unsupported() -> Error {
    Error::not_implemented("configured logging driver does not support reading")
}

/// Validates the container's log configuration.
pub fn log_driver(hc: &HostConfig) -> Result<LogDriver> {
    let Some(log) = hc.log_config.as_ref() else {
        return Ok(LogDriver::JsonFile(Rotation::default()));
    };
    let opts = log.config.clone().unwrap_or_default();
    match log.typ.as_deref().unwrap_or("") {
        "" | "json-file" => json_file(&opts).map(LogDriver::JsonFile),
        // dockerd takes any options here and drops them; the docker CLI
        // refuses them with this message, and so does berth.
        "none" if !opts.is_empty() => Err(Error::invalid("invalid logging opts for driver none")),
        "none" => Ok(LogDriver::None),
        // Drivers dockerd ships that berth has not built: named as such.
        d @ ("local" | "syslog" | "journald" | "gelf" | "fluentd" | "awslogs" | "splunk"
        | "etwlogs" | "gcplogs" | "logentries") => Err(Error::invalid(format!(
            "HostConfig.LogConfig: the {d} log driver is not supported by berth yet"
        ))),
        other => Err(Error::invalid(format!(
            "failed to create logger: logger: no log driver named '{other}' is registered"
        ))),
    }
}

fn json_file(cfg: &std::collections::HashMap<String, String>) -> Result<Rotation> {
    let mut out = Rotation::default();
    if let Some(key) = cfg.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Error::invalid(format!(
            "unknown log opt '{key}' for json-file log driver"
        )));
    }
    let mut max_size = None;
    if let Some(size) = cfg.get("max-size") {
        let n = berth_units::from_human_size(size).map_err(Error::invalid)?;
        if n <= 0 {
            return Err(Error::invalid("max-size must be a positive number"));
        }
        max_size = Some(n as u64);
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
    if let Some(v) = cfg.get("compress") {
        let compress = parse_go_bool(v).ok_or_else(|| {
            Error::invalid(format!(
                "strconv.ParseBool: parsing \"{v}\": invalid syntax"
            ))
        })?;
        if compress && (out.max_files == 1 || max_size.is_none()) {
            return Err(Error::invalid(
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ));
        }
        if compress {
            return Err(Error::invalid(
                "log opt 'compress' for json-file log driver is not supported",
            ));
        }
    }
    if let Some(key) = NOT_WRITTEN.iter().find(|k| cfg.contains_key(**k)) {
        return Err(Error::invalid(format!(
            "log opt '{key}' for json-file log driver is not supported"
        )));
    }
    out.max_size = max_size.unwrap_or(0);
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
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

    fn rotation(h: &HostConfig) -> Result<Rotation> {
        match log_driver(h)? {
            LogDriver::JsonFile(r) => Ok(r),
            LogDriver::None => panic!("not json-file"),
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
        let err = |h: HostConfig| log_driver(&h).unwrap_err().message;
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
        assert!(err(hc("syslog", &[])).contains("the syslog log driver is not supported"));
        assert!(err(hc("local", &[])).contains("the local log driver is not supported"));
        assert!(err(hc("bogus", &[])).contains("no log driver named 'bogus'"));
        assert_eq!(
            err(hc("json-file", &[("max-size", "-1")])),
            "invalid size: '-1'"
        );
        assert_eq!(
            err(hc("json-file", &[("compress", "yes")])),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            err(hc("json-file", &[("compress", "true"), ("max-file", "3")])),
            "compress cannot be true when max-file is less than 2 or max-size is not set"
        );
        assert!(err(hc(
            "json-file",
            &[("compress", "true"), ("max-file", "3"), ("max-size", "1m")]
        ))
        .contains("'compress'"));
        assert!(err(hc("json-file", &[("labels", "a")])).contains("'labels'"));
        assert_eq!(
            err(hc("none", &[("max-size", "1m")])),
            "invalid logging opts for driver none"
        );
    }

    #[test]
    fn none_and_accepted_options() {
        assert_eq!(log_driver(&hc("none", &[])).unwrap(), LogDriver::None);
        let r = rotation(&hc(
            "json-file",
            &[("compress", "false"), ("tag", "{{.Name}}")],
        ))
        .unwrap();
        assert_eq!(r, Rotation::default());
    }
}
