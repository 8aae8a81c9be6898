//! Capabilities: docker's default set, `--cap-add`/`--cap-drop` (with or
//! without the `CAP_` prefix, any case, `ALL`), `--privileged`.

use crate::error::{Error, Result};

/// Every capability docker knows, by kernel number.
const ALL: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default capabilities, in docker's order.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Kernel number of a canonical `CAP_*` name.
pub(crate) fn number_of_name(name: &str) -> usize {
    ALL.iter().position(|n| *n == name).unwrap_or(usize::MAX)
}

/// All capabilities the running kernel supports (docker's `ALL`).
pub fn all_capabilities() -> Vec<&'static str> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(ALL.len() - 1);
    ALL.iter().take(last + 1).copied().collect()
}

/// Upper-cases and prefixes `CAP_`; `ALL` stays `ALL`. Unknown names are
/// docker's `unknown capability: "CAP_FOO"` error.
fn normalize(list: &[String]) -> Result<Vec<&'static str>> {
    let mut out = Vec::with_capacity(list.len());
    for c in list {
        let up = c.trim().to_ascii_uppercase();
        if up == "ALL" {
            out.push("ALL");
            continue;
        }
        let name = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        match ALL.iter().find(|n| **n == name) {
            Some(n) => out.push(*n),
            None => return Err(Error::invalid(format!("unknown capability: {name:?}"))),
        }
    }
    Ok(out)
}

/// Docker's `TweakCapabilities`: the final list, in docker's order.
pub fn effective_caps(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
) -> Result<Vec<&'static str>> {
    if privileged {
        return Ok(all_capabilities());
    }
    let add = normalize(cap_add)?;
    let drop = normalize(cap_drop)?;
    let mut caps: Vec<&'static str> = if add.contains(&"ALL") {
        all_capabilities()
            .into_iter()
            .filter(|c| !drop.contains(c))
            .collect()
    } else if drop.contains(&"ALL") {
        add
    } else {
        let mut v: Vec<&'static str> = DEFAULT_CAPS
            .iter()
            .copied()
            .filter(|c| !drop.contains(c))
            .collect();
        v.extend(add);
        v
    };
    // Docker keeps duplicates (harmless); the OCI sets cannot hold them.
    let mut seen = Vec::with_capacity(caps.len());
    caps.retain(|c| {
        let fresh = !seen.contains(c);
        seen.push(*c);
        fresh
    });
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults() {
        assert_eq!(effective_caps(&[], &[], false).unwrap(), DEFAULT_CAPS);
    }

    #[test]
    fn add_drop_with_and_without_prefix() {
        let caps = effective_caps(
            &s(&["net_admin", "CAP_SYS_TIME"]),
            &s(&["CHOWN", "cap_kill"]),
            false,
        )
        .unwrap();
        assert!(caps.contains(&"CAP_NET_ADMIN") && caps.contains(&"CAP_SYS_TIME"));
        assert!(!caps.contains(&"CAP_CHOWN") && !caps.contains(&"CAP_KILL"));
        assert_eq!(caps.len(), DEFAULT_CAPS.len());
        // Adding a default one does not duplicate it.
        let caps = effective_caps(&s(&["CHOWN"]), &[], false).unwrap();
        assert_eq!(caps, DEFAULT_CAPS);
    }

    #[test]
    fn all() {
        let every = all_capabilities();
        assert_eq!(effective_caps(&s(&["ALL"]), &[], false).unwrap(), every);
        let caps = effective_caps(&s(&["all"]), &s(&["SYS_ADMIN"]), false).unwrap();
        assert_eq!(caps.len(), every.len() - 1);
        assert_eq!(
            effective_caps(&s(&["NET_ADMIN"]), &s(&["ALL"]), false).unwrap(),
            vec!["CAP_NET_ADMIN"]
        );
        assert!(effective_caps(&[], &s(&["ALL"]), false).unwrap().is_empty());
        assert_eq!(effective_caps(&[], &s(&["ALL"]), true).unwrap(), every);
    }

    #[test]
    fn unknown() {
        let e = effective_caps(&s(&["NET_FOO"]), &[], false).unwrap_err();
        assert_eq!(e.to_string(), "unknown capability: \"CAP_NET_FOO\"");
    }
}
