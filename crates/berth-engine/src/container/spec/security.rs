//! `SecurityOpt`: seccomp, no-new-privileges, and the SELinux and AppArmor
//! options this host has no use for.

use berth_runtime::spec::Seccomp;
use bollard_stubs::models::HostConfig;

use crate::error::{Error, Result};

/// `SecurityOpt`, as dockerd's `parseSecurityOpt` reads it.
#[derive(Debug, Default, PartialEq)]
pub(in crate::container) struct Security {
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn writable_cgroups() -> Error {
    Error::invalid("SecurityOpt writable-cgroups is not supported by berth yet")
}

/// `label=...` and `apparmor=...` are accepted and have no effect: this
/// host has neither SELinux nor AppArmor, where dockerd ignores them too.
pub(in crate::container) fn security_opts(hc: &HostConfig) -> Result<Security> {
    let mut out = Security::default();
    for opt in hc.security_opt.iter().flatten() {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            "disable" => continue,
            // Newer dockerd's switch for a writable /sys/fs/cgroup: not
            // built, so refused rather than dropped.
            "writable-cgroups" => return Err(writable_cgroups()),
            _ => {}
        }
        let split = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((key, value)) = split else {
            return Err(Error::invalid(format!("invalid --security-opt 1: {opt:?}")));
        };
        let invalid = || Error::invalid(format!("invalid --security-opt 2: {opt:?}"));
        match key {
            "label" | "apparmor" => {}
            "seccomp" => {
                out.seccomp = match value {
                    "" | "builtin" => Seccomp::Default,
                    "unconfined" => Seccomp::Unconfined,
                    json => Seccomp::Custom(json.to_string()),
                }
            }
            "no-new-privileges" => out.no_new_privileges = parse_bool(value).ok_or_else(invalid)?,
            "writable-cgroups" => return Err(writable_cgroups()),
            _ => return Err(invalid()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(opts: &[&str]) -> Result<Security> {
        security_opts(&HostConfig {
            security_opt: Some(opts.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        })
    }

    #[test]
    fn security_options_like_dockerd() {
        let s = sec(&["no-new-privileges", "label=disable", "apparmor=unconfined"]).unwrap();
        assert_eq!(
            s,
            Security {
                no_new_privileges: true,
                seccomp: Seccomp::Default
            }
        );
        assert!(!sec(&["no-new-privileges:false"]).unwrap().no_new_privileges);
        assert!(sec(&["no-new-privileges=true"]).unwrap().no_new_privileges);
        assert_eq!(
            sec(&["seccomp=unconfined"]).unwrap().seccomp,
            Seccomp::Unconfined
        );
        assert_eq!(
            sec(&["seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}"])
                .unwrap()
                .seccomp,
            Seccomp::Custom("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}".into())
        );
        assert_eq!(
            sec(&["bogus"]).unwrap_err().to_string(),
            "invalid --security-opt 1: \"bogus\""
        );
        assert_eq!(
            sec(&["foo=bar"]).unwrap_err().to_string(),
            "invalid --security-opt 2: \"foo=bar\""
        );
        assert_eq!(
            sec(&["no-new-privileges=maybe"]).unwrap_err().to_string(),
            "invalid --security-opt 2: \"no-new-privileges=maybe\""
        );
    }
}
