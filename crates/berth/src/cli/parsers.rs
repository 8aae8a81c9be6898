//! Flag value parsers. Their error texts are the reasons docker prints after
//! `invalid argument "…" for "…" flag:`.

use crate::format::units;

/// Go's `strconv.ParseInt` error wording.
fn int_error(value: &str, e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind;
    match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
            format!("strconv.ParseInt: parsing \"{value}\": value out of range")
        }
        _ => format!("strconv.ParseInt: parsing \"{value}\": invalid syntax"),
    }
}

/// An `int`/`int64` flag.
pub fn int64(value: &str) -> Result<i64, String> {
    value.parse::<i64>().map_err(|e| int_error(value, &e))
}

/// A memory size flag (`64m`).
pub fn mem_bytes(value: &str) -> Result<i64, String> {
    units::ram_in_bytes(value)
}

/// `--memory-swap` (`-1` for unlimited).
pub fn mem_swap(value: &str) -> Result<i64, String> {
    units::mem_swap_bytes(value)
}

/// `--cpus` as nano CPUs.
pub fn nano_cpus(value: &str) -> Result<i64, String> {
    units::parse_nano_cpus(value)
}

/// A Go duration flag (`30s`) in nanoseconds.
pub fn duration(value: &str) -> Result<i64, String> {
    units::parse_go_duration(value).map(|n| n as i64)
}

/// Go's `strconv.ParseBool`, for `--flag=false` style values.
pub fn go_bool(value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing \"{value}\": invalid syntax"
        )),
    }
}

/// `-e`: `KEY=value`, or `KEY` (taken from the local environment if set).
pub fn env(value: &str) -> Result<String, String> {
    let (key, has_value) = match value.split_once('=') {
        Some((k, _)) => (k, true),
        None => (value, false),
    };
    if key.is_empty() {
        return Err(format!("invalid environment variable: {value}"));
    }
    if has_value {
        return Ok(value.to_string());
    }
    Ok(match std::env::var(key) {
        Ok(v) => format!("{key}={v}"),
        Err(_) => value.to_string(),
    })
}

/// `-l`: `key=value` or `key`.
pub fn label(value: &str) -> Result<String, String> {
    let key = value.split_once('=').map_or(value, |(k, _)| k);
    if key.trim().is_empty() {
        return Err(format!("invalid label '{value}': empty name"));
    }
    Ok(value.to_string())
}

/// `-a`: stdin, stdout or stderr (any case).
pub fn attach(value: &str) -> Result<String, String> {
    let lower = value.to_ascii_lowercase();
    if matches!(lower.as_str(), "stdin" | "stdout" | "stderr") {
        Ok(lower)
    } else {
        Err("valid streams are STDIN, STDOUT and STDERR".to_string())
    }
}

/// A `--ulimit name=soft[:hard]` value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ulimit {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Hard")]
    pub hard: i64,
    #[serde(rename = "Soft")]
    pub soft: i64,
}

const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// go-units' `ParseUlimit`.
pub fn ulimit(value: &str) -> Result<Ulimit, String> {
    let (name, limits) = value
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {value}"))?;
    if !ULIMIT_NAMES.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let parts: Vec<&str> = limits.split(':').collect();
    let (soft, hard) = match parts.as_slice() {
        [s] => {
            let s = int64(s)?;
            (s, s)
        }
        [s, h] => (int64(s)?, int64(h)?),
        _ => {
            return Err(format!(
                "too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`"
            ))
        }
    };
    if hard != -1 && soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        hard,
        soft,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(int64("50"), Ok(50));
        assert_eq!(
            int64("x"),
            Err("strconv.ParseInt: parsing \"x\": invalid syntax".to_string())
        );
        assert_eq!(
            int64("99999999999999999999"),
            Err(
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
                    .to_string()
            )
        );
    }

    #[test]
    fn envs_and_labels() {
        assert_eq!(env("A=1"), Ok("A=1".to_string()));
        assert_eq!(
            env("=x"),
            Err("invalid environment variable: =x".to_string())
        );
        assert_eq!(
            env("BERTH_TEST_SURELY_UNSET_VAR"),
            Ok("BERTH_TEST_SURELY_UNSET_VAR".to_string())
        );
        assert_eq!(
            env("PATH").unwrap(),
            format!("PATH={}", std::env::var("PATH").unwrap())
        );
        assert_eq!(label("a=b"), Ok("a=b".to_string()));
        assert_eq!(label("a"), Ok("a".to_string()));
        assert_eq!(
            label("=x"),
            Err("invalid label '=x': empty name".to_string())
        );
    }

    #[test]
    fn ulimits() {
        assert_eq!(
            ulimit("nofile=1024:2048"),
            Ok(Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            })
        );
        assert_eq!(
            ulimit("nproc=10"),
            Ok(Ulimit {
                name: "nproc".into(),
                soft: 10,
                hard: 10
            })
        );
        assert_eq!(ulimit("foo=1"), Err("invalid ulimit type: foo".to_string()));
        assert_eq!(
            ulimit("nofile"),
            Err("invalid ulimit argument: nofile".to_string())
        );
        assert!(ulimit("nofile=10:5").is_err());
        assert!(ulimit("nofile=1:2:3").is_err());
    }

    #[test]
    fn attach_streams() {
        assert_eq!(attach("STDIN"), Ok("stdin".to_string()));
        assert!(attach("foo").is_err());
    }
}
