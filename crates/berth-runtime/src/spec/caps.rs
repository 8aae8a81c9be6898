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

/// All capabilities the running kernel supports (docker's `ALL`) that
/// the daemon itself holds. docker asks for every capability the kernel
/// knows, so `--privileged` cannot start where its own bounding set lacks
/// one (a nested or restricted host); nothing can be granted beyond the
/// daemon's bounding set anyway, so berth asks only for what it can give.
pub fn all_capabilities() -> Vec<&'static str> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(ALL.len() - 1);
    let held = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| bounding_set(&s))
        .unwrap_or(u64::MAX);
    ALL.iter()
        .enumerate()
        .take(last + 1)
        .filter(|(bit, _)| *bit >= 64 || held & (1u64 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The `CapBnd:` mask of a `/proc/<pid>/status` text.
fn bounding_set(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
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
    fn privileged_is_bounded_by_the_daemon() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n";
        let mask = bounding_set(status).unwrap();
        assert_eq!(mask & (1 << 24), 0);
        assert_eq!(mask & (1 << 21), 1 << 21);
        assert_eq!(bounding_set("CapEff:\t1\n"), None);
        let own = bounding_set(&std::fs::read_to_string("/proc/self/status").unwrap()).unwrap();
        for name in all_capabilities() {
            assert_ne!(own & (1 << number_of_name(name)), 0, "{name}");
        }
    }

    #[test]
    fn unknown() {
        let e = effective_caps(&s(&["NET_FOO"]), &[], false).unwrap_err();
        assert_eq!(e.to_string(), "unknown capability: \"CAP_NET_FOO\"");
    }
}
