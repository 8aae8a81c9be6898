//! Seccomp: docker's default profile and docker-format custom profiles.
//!
//! `seccomp_default.json` is the `linux.seccomp` object dockerd 20.10 wrote
//! for a container with the default capabilities on x86_64. Docker renders
//! its profile per container: a few rules depend on the capabilities (e.g.
//! `mount` is allowed with `CAP_SYS_ADMIN`, `chroot` only with
//! `CAP_SYS_CHROOT`). [`default_profile`] re-applies those rules so that
//! `--cap-add`/`--cap-drop` get what docker gives them; with the default
//! capabilities it returns the embedded object unchanged.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSyscall,
    LinuxSyscallBuilder,
};
use serde::Deserialize;

use crate::error::{Error, Result};

const DEFAULT_PROFILE: &str = include_str!("../seccomp_default.json");

/// Syscalls docker allows only with a capability, in its profile's order:
/// these come before the `clone`/`clone3` rules (dropped with
/// `CAP_SYS_ADMIN`), `reboot` and `chroot`; [`CAP_RULES_AFTER_CHROOT`] after.
const CAP_RULES: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
];

const CAP_RULES_AFTER_CHROOT: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Go's `runtime.GOARCH` and libseccomp's name of the machine we run on.
fn native_arch() -> (&'static str, &'static str) {
    if cfg!(target_arch = "x86_64") {
        ("amd64", "SCMP_ARCH_X86_64")
    } else if cfg!(target_arch = "aarch64") {
        ("arm64", "SCMP_ARCH_AARCH64")
    } else if cfg!(target_arch = "x86") {
        ("386", "SCMP_ARCH_X86")
    } else if cfg!(target_arch = "arm") {
        ("arm", "SCMP_ARCH_ARM")
    } else if cfg!(target_arch = "s390x") {
        ("s390x", "SCMP_ARCH_S390X")
    } else if cfg!(target_arch = "powerpc64") {
        ("ppc64le", "SCMP_ARCH_PPC64LE")
    } else if cfg!(target_arch = "riscv64") {
        ("riscv64", "SCMP_ARCH_RISCV64")
    } else {
        ("", "SCMP_ARCH_NATIVE")
    }
}

/// The native architecture and the ones it can also run (docker's archMap).
fn native_arches() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

fn allow(names: &[&str]) -> Result<LinuxSyscall> {
    LinuxSyscallBuilder::default()
        .names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .action(LinuxSeccompAction::ScmpActAllow)
        .build()
        .map_err(|e| Error::invalid(format!("seccomp rule: {e}")))
}

fn is_single(s: &LinuxSyscall, name: &str) -> bool {
    s.names().len() == 1 && s.names()[0] == name
}

/// Docker's default profile for a container with capabilities `caps`
/// (canonical `CAP_*` names; the bounding set).
pub fn default_profile(caps: &[&str]) -> Result<LinuxSeccomp> {
    let mut profile: LinuxSeccomp = serde_json::from_str(DEFAULT_PROFILE)
        .map_err(|e| Error::invalid(format!("embedded seccomp profile: {e}")))?;
    let all = profile.syscalls().clone().unwrap_or_default();
    let mut clone_masked = None;
    let mut clone3 = None;
    let mut chroot = None;
    let mut out = Vec::with_capacity(all.len() + 4);
    for s in all {
        if is_single(&s, "clone") && s.args().is_some() {
            clone_masked = Some(s);
        } else if is_single(&s, "clone3") {
            clone3 = Some(s);
        } else if is_single(&s, "chroot") {
            chroot = Some(s);
        } else {
            out.push(s);
        }
    }
    let has = |c: &str| caps.contains(&c);
    for (cap, names) in CAP_RULES {
        if has(cap) {
            out.push(allow(names)?);
        }
    }
    if !has("CAP_SYS_ADMIN") {
        out.extend(clone_masked);
        out.extend(clone3);
    }
    if has("CAP_SYS_BOOT") {
        out.push(allow(&["reboot"])?);
    }
    if has("CAP_SYS_CHROOT") {
        out.push(match chroot {
            Some(c) => c,
            None => allow(&["chroot"])?,
        });
    }
    for (cap, names) in CAP_RULES_AFTER_CHROOT {
        if has(cap) {
            out.push(allow(names)?);
        }
    }
    profile.set_syscalls(Some(out));
    if !cfg!(target_arch = "x86_64") {
        profile.set_architectures(Some(native_arches()));
    } else if !x32_abi_enabled() {
        without_x32(&mut profile);
    }
    Ok(profile)
}

/// Whether the kernel runs x32 syscalls. Debian's kernels build the ABI in
/// but leave it off (`syscall.x32=n`), so such a syscall fails before it
/// reaches a filter.
pub(crate) fn x32_abi_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| {
        const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;
        // SAFETY: getpid through the x32 entry point; no arguments, no effects.
        unsafe { libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid) >= 0 }
    })
}

/// Drops SCMP_ARCH_X32 from docker's x86_64 architectures. On a kernel
/// without the x32 ABI it changes nothing a process can do (an x32 syscall
/// fails either way), but runc compiles the whole filter once per
/// architecture: a third of its seccomp setup, ~6 ms of every start here.
fn without_x32(profile: &mut LinuxSeccomp) {
    if let Some(arches) = profile.architectures().clone() {
        let kept: Vec<Arch> = arches
            .into_iter()
            .filter(|a| *a != Arch::ScmpArchX32)
            .collect();
        profile.set_architectures(Some(kept));
    }
}

/// A profile in docker's format (what `--security-opt seccomp=FILE` sends:
/// `defaultAction`, `architectures` or `archMap`, `syscalls` with `name` or
/// `names` and `includes`/`excludes` on caps, arches and minKernel). OCI
/// `linux.seccomp` JSON is a subset and is accepted too.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerProfile {
    default_action: LinuxSeccompAction,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    syscalls: Vec<DockerSyscall>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    flags: Vec<LinuxSeccompFilterFlag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerSyscall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

fn parse_arch(name: &str) -> Result<Arch> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| Error::invalid(format!("unknown seccomp architecture {name:?}")))
}

/// `major.minor` of a kernel release such as `6.1.0-18-amd64`.
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

fn running_kernel() -> Option<(u32, u32)> {
    let uts = nix::sys::utsname::uname().ok()?;
    kernel_version(&uts.release().to_string_lossy())
}

/// Converts a docker-format profile for a container with capabilities
/// `caps`, like docker's `LoadProfile`.
pub fn custom_profile(json: &str, caps: &[&str]) -> Result<LinuxSeccomp> {
    custom_profile_for(json, caps, running_kernel())
}

fn custom_profile_for(
    json: &str,
    caps: &[&str],
    kernel: Option<(u32, u32)>,
) -> Result<LinuxSeccomp> {
    let p: DockerProfile = serde_json::from_str(json)
        .map_err(|e| Error::invalid(format!("Decoding seccomp profile failed: {e}")))?;
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        return Err(Error::invalid(
            "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
        ));
    }
    let (goarch, native) = native_arch();
    let mut arches = Vec::new();
    for a in &p.architectures {
        arches.push(parse_arch(a)?);
    }
    for m in &p.arch_map {
        if m.architecture == native {
            arches.push(parse_arch(&m.architecture)?);
            for s in &m.sub_architectures {
                arches.push(parse_arch(s)?);
            }
        }
    }

    let mut syscalls = Vec::new();
    for call in p.syscalls {
        if call.name.is_some() && !call.names.is_empty() {
            return Err(Error::invalid(
                "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'",
            ));
        }
        if !call.excludes.arches.is_empty() && call.excludes.arches.iter().any(|a| a == goarch) {
            continue;
        }
        if !call.excludes.caps.is_empty()
            && call
                .excludes
                .caps
                .iter()
                .any(|c| caps.contains(&c.as_str()))
        {
            continue;
        }
        if let Some(min) = &call.excludes.min_kernel {
            let min = kernel_version(min)
                .ok_or_else(|| Error::invalid(format!("invalid kernel version: {min}")))?;
            if kernel.is_some_and(|k| k >= min) {
                continue;
            }
        }
        if !call.includes.arches.is_empty() && !call.includes.arches.iter().any(|a| a == goarch) {
            continue;
        }
        if !call
            .includes
            .caps
            .iter()
            .all(|c| caps.contains(&c.as_str()))
        {
            continue;
        }
        if let Some(min) = &call.includes.min_kernel {
            let min = kernel_version(min)
                .ok_or_else(|| Error::invalid(format!("invalid kernel version: {min}")))?;
            if kernel.is_some_and(|k| k < min) {
                continue;
            }
        }
        let names = match call.name {
            Some(n) => vec![n],
            None => call.names,
        };
        let mut b = LinuxSyscallBuilder::default()
            .names(names)
            .action(call.action);
        if let Some(e) = call.errno_ret {
            b = b.errno_ret(e);
        }
        if let Some(a) = call.args {
            b = b.args(a);
        }
        syscalls.push(
            b.build()
                .map_err(|e| Error::invalid(format!("seccomp rule: {e}")))?,
        );
    }

    let mut out: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": p.default_action,
    }))
    .map_err(|e| Error::invalid(format!("seccomp profile: {e}")))?;
    out.set_default_errno_ret(p.default_errno_ret);
    out.set_architectures((!arches.is_empty()).then_some(arches));
    out.set_flags((!p.flags.is_empty()).then_some(p.flags));
    out.set_listener_path(p.listener_path.map(Into::into));
    out.set_listener_metadata(p.listener_metadata);
    out.set_syscalls((!syscalls.is_empty()).then_some(syscalls));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::caps::DEFAULT_CAPS;

    fn names(p: &LinuxSeccomp) -> Vec<Vec<String>> {
        p.syscalls()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|s| s.names().clone())
            .collect()
    }

    fn allows(p: &LinuxSeccomp, name: &str) -> bool {
        p.syscalls().clone().unwrap_or_default().iter().any(|s| {
            s.action() == LinuxSeccompAction::ScmpActAllow
                && s.args().is_none()
                && s.names().iter().any(|n| n == name)
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn default_caps_give_the_embedded_profile() {
        let mut p = default_profile(DEFAULT_CAPS).unwrap();
        let mut embedded: LinuxSeccomp = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        if !x32_abi_enabled() {
            without_x32(&mut embedded);
        }
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::to_value(&embedded).unwrap()
        );
        // Apart from x32, exactly docker's profile.
        p.set_architectures(embedded.architectures().clone());
        let docker: serde_json::Value = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        let mut ours = serde_json::to_value(&p).unwrap();
        ours["architectures"] = docker["architectures"].clone();
        assert_eq!(ours, docker);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_is_dropped_and_only_x32() {
        let mut p: LinuxSeccomp = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        without_x32(&mut p);
        assert_eq!(
            p.architectures().clone().unwrap(),
            vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86]
        );
    }

    #[test]
    fn sys_admin_allows_mount_and_unmasked_clone() {
        let mut caps = DEFAULT_CAPS.to_vec();
        caps.push("CAP_SYS_ADMIN");
        let p = default_profile(&caps).unwrap();
        assert!(allows(&p, "mount") && allows(&p, "clone") && allows(&p, "clone3"));
        // The masked clone and the clone3 ENOSYS rules are gone.
        assert!(!p
            .syscalls()
            .clone()
            .unwrap()
            .iter()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActErrno));
        let d = default_profile(DEFAULT_CAPS).unwrap();
        assert!(!allows(&d, "mount"));
    }

    #[test]
    fn dropping_sys_chroot_removes_chroot() {
        let caps: Vec<&str> = DEFAULT_CAPS
            .iter()
            .copied()
            .filter(|c| *c != "CAP_SYS_CHROOT")
            .collect();
        let p = default_profile(&caps).unwrap();
        assert!(!names(&p).iter().any(|n| n == &vec!["chroot".to_string()]));
        assert!(allows(&default_profile(DEFAULT_CAPS).unwrap(), "chroot"));
    }

    #[test]
    fn ptrace_family_with_sys_ptrace() {
        let p = default_profile(&["CAP_SYS_PTRACE", "CAP_SYS_TIME"]).unwrap();
        assert!(allows(&p, "process_vm_readv") && allows(&p, "clock_settime"));
        assert!(!allows(&p, "chroot"));
    }

    #[test]
    fn custom_docker_format() {
        let json = r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "archMap": [
                {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
            ],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"name": "mount", "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["new_thing"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
                {"names": ["old_thing"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "3.10"}},
                {"names": ["s390_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
            ]
        }"#;
        let p = custom_profile_for(json, DEFAULT_CAPS, Some((6, 1))).unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["defaultErrnoRet"], 1);
        let n = names(&p);
        assert_eq!(
            n,
            vec![
                vec!["read".to_string(), "write".to_string()],
                vec!["clone3".to_string()],
                vec!["old_thing".to_string()],
                vec!["personality".to_string()],
            ]
        );
        assert_eq!(v["syscalls"][1]["errnoRet"], 38);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                v["architectures"],
                serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
            );
        }
        let p = custom_profile_for(json, &["CAP_SYS_ADMIN"], Some((6, 1))).unwrap();
        assert_eq!(names(&p)[1], vec!["mount".to_string()]);
    }

    #[test]
    fn custom_errors() {
        assert!(custom_profile("{not json", DEFAULT_CAPS)
            .unwrap_err()
            .to_string()
            .starts_with("Decoding seccomp profile failed"));
        assert!(custom_profile(r#"{"syscalls": []}"#, DEFAULT_CAPS).is_err());
        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#;
        assert!(custom_profile(both, DEFAULT_CAPS).is_err());
        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#;
        assert!(custom_profile(both, DEFAULT_CAPS).is_err());
        let bad_arch = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_PDP11"]}"#;
        assert!(custom_profile(bad_arch, DEFAULT_CAPS).is_err());
    }

    #[test]
    fn oci_format_is_accepted() {
        let p = custom_profile(DEFAULT_PROFILE, DEFAULT_CAPS).unwrap();
        let embedded: serde_json::Value = serde_json::from_str(DEFAULT_PROFILE).unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap()["syscalls"],
            embedded["syscalls"]
        );
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(kernel_version("4.8"), Some((4, 8)));
        assert_eq!(kernel_version("5"), Some((5, 0)));
        assert_eq!(kernel_version("x"), None);
    }
}
