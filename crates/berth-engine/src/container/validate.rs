//! Create-time checks of a container's settings: dockerd's checks, in
//! dockerd's order and with its messages, then berth's own refusals of
//! features it does not have yet.
//!
//! Every field of a create request is either honored, refused here with a
//! 400 that names it, or (where the host's cgroups cannot apply a limit)
//! dropped with dockerd's warning, which the client prints. Nothing is
//! dropped silently; docs/api-coverage.md lists each field's fate.

use bollard_stubs::models::{
    ContainerConfig, HostConfig, HostConfigCgroupnsModeEnum, NetworkingConfig,
    RestartPolicyNameEnum,
};

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use berth_runtime::cgroups::Support as SysInfo;

const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// dockerd's default `/dev/shm` size (64 MiB).
const DEFAULT_SHM_SIZE: i64 = 64 << 20;
/// HOST_NAME_MAX.
const MAX_HOSTNAME: usize = 64;
/// The runtimes a client may name; all of them mean runc here.
pub const RUNTIMES: &[&str] = &["runc", "io.containerd.runc.v2"];

/// Checks a create request and normalises it as dockerd does (a
/// `MemorySwappiness` of -1 and a `PidsLimit` <= 0 mean "unset"); returns
/// dockerd's warnings for settings the host cannot apply.
pub fn check_create(
    config: &mut ContainerConfig,
    hc: &mut HostConfig,
    net: &NetworkingConfig,
    si: &SysInfo,
) -> Result<Vec<String>> {
    check_network_mode(config, hc)?;
    check_qos(hc)?;
    check_realtime(hc, si)?;
    if hc.pids_limit.is_some_and(|p| p <= 0) {
        hc.pids_limit = None;
    }
    check_config(config)?;
    check_host_config(hc)?;
    let warnings = check_resources(hc, si, false)?;
    check_platform(config, hc)?;
    check_networking_config(net)?;
    refuse_unsupported(config, hc, net)?;
    super::spec::security_opts(hc)?;
    adapt(hc, si);
    Ok(warnings)
}

/// dockerd's `adaptContainerSettings`: the defaults it records, so inspect
/// reads the same and the runtime gets the same limits (swap twice the
/// memory when only memory is given).
fn adapt(hc: &mut HostConfig, si: &SysInfo) {
    let memory = hc.memory.unwrap_or(0);
    if memory > 0 && hc.memory_swap.unwrap_or(0) == 0 {
        hc.memory_swap = Some(memory * 2);
    }
    if hc.shm_size.unwrap_or(0) == 0 {
        hc.shm_size = Some(DEFAULT_SHM_SIZE);
    }
    if hc.ipc_mode.as_deref().unwrap_or("").is_empty() {
        hc.ipc_mode = Some("private".into());
    }
    if hc
        .cgroupns_mode
        .is_none_or(|m| m == HostConfigCgroupnsModeEnum::EMPTY)
    {
        let host = !si.v2;
        hc.cgroupns_mode = Some(if host {
            HostConfigCgroupnsModeEnum::HOST
        } else {
            HostConfigCgroupnsModeEnum::PRIVATE
        });
    }
    hc.oom_kill_disable.get_or_insert(false);
}

fn has<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

fn set(s: &Option<String>) -> bool {
    s.as_ref().is_some_and(|s| !s.is_empty())
}

/// `container:<id>` network mode (docker's `NetworkMode.IsContainer`).
fn is_container_mode(mode: &str) -> bool {
    mode.split_once(':').is_some_and(|(m, _)| m == "container")
}

/// runconfig's network-mode conflicts.
fn check_network_mode(c: &ContainerConfig, hc: &HostConfig) -> Result<()> {
    let mode = hc.network_mode.as_deref().unwrap_or("");
    let mut parts = mode.split(':');
    if parts.next() == Some("container") && parts.next().is_none_or(str::is_empty) {
        return Err(Error::invalid(
            "Invalid network mode: invalid container format container:<name|id>",
        ));
    }
    let container = is_container_mode(mode);
    let conflict = |what: &str| Err(Error::invalid(format!("conflicting options: {what}")));
    if container && set(&c.hostname) {
        return conflict("hostname and the network mode");
    }
    if container && has(&hc.links) {
        return conflict("container type network can't be used with links. This would result in undefined behavior");
    }
    if container && has(&hc.dns) {
        return conflict("dns and the network mode");
    }
    if container && has(&hc.extra_hosts) {
        return conflict("custom host-to-IP mapping and the network mode");
    }
    if (container || mode == "host") && set(&c.mac_address) {
        return conflict("mac-address and the network mode");
    }
    let publishes = hc.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
        || hc.publish_all_ports.unwrap_or(false);
    if container && publishes {
        return conflict("port publishing and the container type network mode");
    }
    if container && c.exposed_ports.as_ref().is_some_and(|p| !p.is_empty()) {
        return conflict("port exposing and the container type network mode");
    }
    if hc.uts_mode.as_deref() == Some("host") && set(&c.hostname) {
        return conflict("hostname and the UTS mode");
    }
    if mode == "host" && has(&hc.links) {
        return conflict("host type networking can't be used with links. This would result in undefined behavior");
    }
    Ok(())
}

fn check_qos(hc: &HostConfig) -> Result<()> {
    if hc.io_maximum_bandwidth.unwrap_or(0) != 0 {
        return Err(Error::invalid(
            "Invalid QoS settings: linux does not support configuration of maximum bandwidth",
        ));
    }
    if hc.io_maximum_iops.unwrap_or(0) != 0 {
        return Err(Error::invalid(
            "Invalid QoS settings: linux does not support configuration of maximum IOPs",
        ));
    }
    Ok(())
}

fn check_realtime(hc: &HostConfig, si: &SysInfo) -> Result<()> {
    let period = hc.cpu_realtime_period.unwrap_or(0);
    let runtime = hc.cpu_realtime_runtime.unwrap_or(0);
    if (period != 0 || runtime != 0) && !si.cpu_realtime {
        return Err(Error::invalid(
            "Your kernel does not support CPU real-time scheduler",
        ));
    }
    if period != 0 && runtime != 0 && runtime > period {
        return Err(Error::invalid(
            "cpu real-time runtime cannot be higher than cpu real-time period",
        ));
    }
    Ok(())
}

/// Go's `signal.ParseSignal`: any non-zero number, or a known name with or
/// without `SIG`, in any case.
pub fn valid_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<i64>() {
        return n != 0;
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    // berth's own parser trims and takes any RTMIN offset; Go's takes neither.
    if name.trim() == name && !name.starts_with("RT") && crate::signal::parse(name).is_some() {
        return true;
    }
    matches!(name, "CLD" | "RTMIN" | "RTMAX")
        || name
            .strip_prefix("RTMIN+")
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=15).contains(&n))
        || name
            .strip_prefix("RTMAX-")
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=14).contains(&n))
}

/// Go's `time.Duration` printed (`1ms`), for the healthcheck minimum.
const MIN_DURATION_NS: i64 = 1_000_000;

fn check_config(c: &mut ContainerConfig) -> Result<()> {
    if let Some(wd) = c.working_dir.as_deref().filter(|w| !w.is_empty()) {
        if !wd.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{wd}' is invalid, it needs to be an absolute path"
            )));
        }
    }
    if let Some(sig) = c.stop_signal.as_deref().filter(|s| !s.is_empty()) {
        if !valid_signal(sig) {
            return Err(Error::invalid(format!("Invalid signal: {sig}")));
        }
    }
    for env in c.env.iter().flatten() {
        if env.split('=').next().unwrap_or("").is_empty() {
            return Err(Error::invalid(format!(
                "invalid environment variable: {env}"
            )));
        }
    }
    if let Some(h) = &c.healthcheck {
        let short = |v: Option<i64>| v.is_some_and(|v| v != 0 && v < MIN_DURATION_NS);
        if short(h.interval) {
            return Err(Error::invalid(
                "Interval in Healthcheck cannot be less than 1ms",
            ));
        }
        if short(h.timeout) {
            return Err(Error::invalid(
                "Timeout in Healthcheck cannot be less than 1ms",
            ));
        }
        if h.retries.unwrap_or(0) < 0 {
            return Err(Error::invalid("Retries in Healthcheck cannot be negative"));
        }
        if short(h.start_period) {
            return Err(Error::invalid(
                "StartPeriod in Healthcheck cannot be less than 1ms",
            ));
        }
        if short(h.start_interval) {
            return Err(Error::invalid(
                "StartInterval in Healthcheck cannot be less than 1ms",
            ));
        }
    }
    Ok(())
}

/// Go's `net.ParseIP` (after trimming spaces, as `ValidateIPAddress` does).
fn valid_ip(s: &str) -> bool {
    s.trim().parse::<std::net::IpAddr>().is_ok()
}

/// nat.ParsePortRange: `80` or `8000-8080`, each a u16.
fn valid_port_range(s: &str) -> bool {
    let num = |p: &str| p.strip_prefix('+').unwrap_or(p).parse::<u16>().ok();
    match s.split_once('-') {
        None => num(s).is_some(),
        Some((lo, hi)) => {
            let hi = hi.split('-').next().unwrap_or("");
            matches!((num(lo), num(hi)), (Some(l), Some(h)) if h >= l)
        }
    }
}

/// nat.SplitProtoPort: the port part of `80/tcp`.
fn port_part(raw: &str) -> &str {
    if raw.is_empty() {
        return "";
    }
    let first = raw.split('/').next().unwrap_or("");
    first
}

fn check_port_bindings(hc: &HostConfig) -> Result<()> {
    for (port, bindings) in hc.port_bindings.iter().flatten() {
        let p = port_part(port);
        if !p.is_empty() && p.strip_prefix('+').unwrap_or(p).parse::<u16>().is_err() {
            return Err(Error::invalid(format!(
                "invalid port specification: \"{p}\""
            )));
        }
        for b in bindings.iter().flatten() {
            let host = b.host_port.as_deref().unwrap_or("");
            let hp = port_part(host);
            if !hp.is_empty() && !valid_port_range(hp) {
                return Err(Error::invalid(format!(
                    "invalid port specification: \"{host}\""
                )));
            }
        }
    }
    Ok(())
}

fn restart_name(hc: &HostConfig) -> &'static str {
    match hc.restart_policy.as_ref().and_then(|p| p.name) {
        None | Some(RestartPolicyNameEnum::EMPTY) => "",
        Some(RestartPolicyNameEnum::NO) => "no",
        Some(RestartPolicyNameEnum::ALWAYS) => "always",
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => "unless-stopped",
        Some(RestartPolicyNameEnum::ON_FAILURE) => "on-failure",
    }
}

/// dockerd's checks of a restart policy, on create and on update.
pub(super) fn check_restart_policy(hc: &HostConfig) -> Result<()> {
    let restart = restart_name(hc);
    let retries = hc
        .restart_policy
        .as_ref()
        .and_then(|p| p.maximum_retry_count)
        .unwrap_or(0);
    match restart {
        "always" | "unless-stopped" | "no" if retries != 0 => Err(Error::invalid(format!(
            "maximum retry count cannot be used with restart policy '{restart}'"
        ))),
        "on-failure" if retries < 0 => {
            Err(Error::invalid("maximum retry count cannot be negative"))
        }
        _ => Ok(()),
    }
}

fn check_host_config(hc: &HostConfig) -> Result<()> {
    let restart = restart_name(hc);
    if hc.auto_remove.unwrap_or(false) && !matches!(restart, "" | "no") {
        return Err(Error::invalid(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    super::mounts::validate(hc)?;
    for host in hc.extra_hosts.iter().flatten() {
        match host.split_once(':') {
            Some((name, ip)) if !name.is_empty() => {
                if ip != "host-gateway" && !valid_ip(ip) {
                    return Err(Error::invalid(format!(
                        "invalid IP address in add-host: \"{ip}\""
                    )));
                }
            }
            _ => {
                return Err(Error::invalid(format!(
                    "bad format for add-host: \"{host}\""
                )))
            }
        }
    }
    check_port_bindings(hc)?;
    check_restart_policy(hc)?;
    if hc.annotations.iter().flatten().any(|(k, _)| k.is_empty()) {
        return Err(Error::invalid(
            "invalid Annotations: the empty string is not permitted as an annotation key",
        ));
    }
    let known = berth_runtime::spec::all_capabilities();
    for (what, list) in [("CapAdd", &hc.cap_add), ("CapDrop", &hc.cap_drop)] {
        for cap in list.iter().flatten() {
            let upper = cap.to_ascii_uppercase();
            if upper == "ALL" {
                continue;
            }
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            if !known.contains(&full.as_str()) {
                return Err(Error::invalid(format!(
                    "invalid {what}: unknown capability: \"{full}\""
                )));
            }
        }
    }
    Ok(())
}

/// dockerd's `verifyPlatformContainerResources`, shared with `update`:
/// errors for impossible values, warnings (and the setting dropped) where
/// the host's cgroups cannot apply it.
pub fn check_resources(hc: &mut HostConfig, si: &SysInfo, update: bool) -> Result<Vec<String>> {
    let mut w = Vec::new();
    let err = |m: &str| Err(Error::invalid(m.to_string()));
    if hc.memory_swappiness == Some(-1) {
        hc.memory_swappiness = None;
    }
    let memory = hc.memory.unwrap_or(0);
    if memory != 0 && memory < MIN_MEMORY {
        return err("Minimum memory limit allowed is 6MB");
    }
    if memory > 0 && !si.memory_limit {
        w.push("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        hc.memory = Some(0);
        hc.memory_swap = Some(-1);
    }
    let memory = hc.memory.unwrap_or(0);
    if memory > 0 && hc.memory_swap.unwrap_or(0) != -1 && !si.swap_limit {
        w.push("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.".into());
        hc.memory_swap = Some(-1);
    }
    let swap = hc.memory_swap.unwrap_or(0);
    if memory > 0 && swap > 0 && swap < memory {
        return err("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    if memory == 0 && swap > 0 && !update {
        return err(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        );
    }
    if hc.memory_swappiness.is_some() && !si.memory_swappiness {
        w.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
        hc.memory_swappiness = None;
    }
    if let Some(s) = hc.memory_swappiness {
        if !(0..=100).contains(&s) {
            return Err(Error::invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if hc.memory_reservation.unwrap_or(0) > 0 && !si.memory_reservation {
        w.push("Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.".into());
        hc.memory_reservation = Some(0);
    }
    let reservation = hc.memory_reservation.unwrap_or(0);
    if reservation > 0 && reservation < MIN_MEMORY {
        return err("Minimum memory reservation allowed is 6MB");
    }
    if memory > 0 && reservation > 0 && memory < reservation {
        return err(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        );
    }
    if hc.oom_kill_disable.is_some() && !si.oom_kill_disable {
        if hc.oom_kill_disable == Some(true) {
            w.push("Your kernel does not support OomKillDisable. OomKillDisable discarded.".into());
        }
        hc.oom_kill_disable = None;
    }
    if hc.oom_kill_disable == Some(true) && memory == 0 {
        w.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    if hc.kernel_memory_tcp.unwrap_or(0) > 0 && !si.kernel_memory_tcp {
        w.push("Your kernel does not support kernel memory TCP limit or the cgroup is not mounted. Limitation discarded.".into());
        hc.kernel_memory_tcp = Some(0);
    }
    if hc.pids_limit.is_some() && !si.pids_limit {
        if hc.pids_limit.unwrap_or(0) > 0 {
            w.push("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.".into());
        }
        hc.pids_limit = None;
    }

    let nano = hc.nano_cpus.unwrap_or(0);
    let period = hc.cpu_period.unwrap_or(0);
    let quota = hc.cpu_quota.unwrap_or(0);
    if nano > 0 && period > 0 {
        return err("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if nano > 0 && quota > 0 {
        return err("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    if nano > 0 && !si.cpu_cfs {
        return err("NanoCPUs can not be set, as your kernel does not support CPU CFS scheduler or the cgroup is not mounted");
    }
    let online = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    if nano < 0 || nano > online * 1_000_000_000 {
        return Err(Error::invalid(format!(
            "Range of CPUs is from 0.01 to {online}.00, as there are only {online} CPUs available"
        )));
    }
    if hc.cpu_shares.unwrap_or(0) > 0 && !si.cpu_shares {
        w.push("Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.".into());
        hc.cpu_shares = Some(0);
    }
    if (period != 0 || quota != 0) && !si.cpu_cfs {
        w.push(
            "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.".into(),
        );
        hc.cpu_period = Some(0);
        hc.cpu_quota = Some(0);
    }
    let period = hc.cpu_period.unwrap_or(0);
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return err(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    let quota = hc.cpu_quota.unwrap_or(0);
    if quota > 0 && quota < 1000 {
        return err("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    if hc.cpu_percent.unwrap_or(0) > 0 {
        w.push("linux does not support CPU percent. Percent discarded.".into());
        hc.cpu_percent = Some(0);
    }
    if hc.cpu_count.unwrap_or(0) > 0 {
        // dockerd drops it without a word; berth says so.
        w.push("linux does not support CPU count. Count discarded.".into());
        hc.cpu_count = Some(0);
    }

    let cpus = hc.cpuset_cpus.clone().unwrap_or_default();
    let mems = hc.cpuset_mems.clone().unwrap_or_default();
    if (!cpus.is_empty() || !mems.is_empty()) && !si.cpuset {
        w.push(
            "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."
                .into(),
        );
        hc.cpuset_cpus = Some(String::new());
        hc.cpuset_mems = Some(String::new());
    }
    for (what, asked, available) in [
        ("cpus", hc.cpuset_cpus.clone().unwrap_or_default(), &si.cpus),
        ("mems", hc.cpuset_mems.clone().unwrap_or_default(), &si.mems),
    ] {
        let Some(requested) = parse_uint_list(&asked) else {
            return Err(Error::invalid(format!(
                "Invalid value {asked} for cpuset {what}: invalid format: {asked}"
            )));
        };
        let online = parse_uint_list(available).unwrap_or_default();
        if !requested.iter().all(|n| online.contains(n)) {
            let noun = if what == "cpus" {
                "CPUs"
            } else {
                "memory nodes"
            };
            return Err(Error::invalid(format!(
                "Requested {noun} are not available - requested {asked}, available: {available}"
            )));
        }
    }

    if hc.blkio_weight.unwrap_or(0) > 0 && !si.blkio_weight {
        w.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
        hc.blkio_weight = Some(0);
    }
    let weight = hc.blkio_weight.unwrap_or(0);
    if weight > 0 && !(10..=1000).contains(&weight) {
        return err("Range of blkio weight is from 10 to 1000");
    }
    if has(&hc.blkio_weight_device) && !si.blkio_weight_device {
        w.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".into());
        hc.blkio_weight_device = Some(Vec::new());
    }
    let throttles = [
        (&mut hc.blkio_device_read_bps, si.blkio_read_bps, "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        (&mut hc.blkio_device_write_bps, si.blkio_write_bps, "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        (&mut hc.blkio_device_read_iops, si.blkio_read_iops, "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        (&mut hc.blkio_device_write_iops, si.blkio_write_iops, "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ];
    for (list, supported, warning) in throttles {
        if has(list) && !supported {
            w.push(warning.into());
            *list = Some(Vec::new());
        }
    }
    Ok(w)
}

/// A namespace mode (`host`, `container:<id>`, ...) dockerd accepts.
fn valid_ns_mode(mode: &str, extra: &[&str]) -> bool {
    match mode.split_once(':') {
        None => mode.is_empty() || mode == "host" || extra.contains(&mode),
        Some(("container", id)) => !id.is_empty() && !id.contains(':'),
        Some(_) => false,
    }
}

fn check_platform(c: &ContainerConfig, hc: &mut HostConfig) -> Result<()> {
    if let Some(h) = c.hostname.as_deref().filter(|h| h.len() > MAX_HOSTNAME) {
        return Err(Error::invalid(format!(
            "hostname \"{h}\" is too long (maximum {MAX_HOSTNAME} bytes)"
        )));
    }
    let ipc = hc.ipc_mode.as_deref().unwrap_or("");
    if !valid_ns_mode(ipc, &["none", "private", "shareable"]) {
        return Err(Error::invalid(format!("invalid IPC mode: {ipc}")));
    }
    let pid = hc.pid_mode.as_deref().unwrap_or("");
    if !valid_ns_mode(pid, &[]) {
        return Err(Error::invalid(format!("invalid PID mode: {pid}")));
    }
    if hc.shm_size.unwrap_or(0) < 0 {
        return Err(Error::invalid("SHM size can not be less than 0"));
    }
    let uts = hc.uts_mode.as_deref().unwrap_or("");
    if !(uts.is_empty() || uts.split(':').next() == Some("host")) {
        return Err(Error::invalid(format!("invalid UTS mode: {uts}")));
    }
    let oom = hc.oom_score_adj.unwrap_or(0);
    if !(-1000..=1000).contains(&oom) {
        return Err(Error::invalid(format!(
            "Invalid value {oom}, range for oom score adj is [-1000, 1000]"
        )));
    }
    match hc.runtime.as_deref().unwrap_or("") {
        "" => hc.runtime = Some("runc".into()),
        r if RUNTIMES.contains(&r) => {}
        r => return Err(Error::invalid(format!("Unknown runtime specified {r}"))),
    }
    for dest in hc.tmpfs.iter().flatten().map(|(d, _)| d) {
        if clean_path(dest) == "/" {
            return Err(Error::invalid(
                "invalid specification: destination can't be '/'",
            ));
        }
        if !dest.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid mount path: '{dest}' mount path must be absolute"
            )));
        }
    }
    Ok(())
}

/// Go's `path.Clean` for the root test: `/`, `//`, `/./..` are all `/`.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if p.starts_with('/') {
        format!("/{}", parts.join("/"))
    } else {
        parts.join("/")
    }
}

fn check_networking_config(net: &NetworkingConfig) -> Result<()> {
    let Some(eps) = net.endpoints_config.as_ref().filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    if eps.len() > 1 {
        let mut names: Vec<&str> = eps.keys().map(String::as_str).collect();
        names.sort_unstable();
        return Err(Error::invalid(format!(
            "Container cannot be connected to network endpoints: {}",
            names.join(", ")
        )));
    }
    for ep in eps.values() {
        if let Some(ipam) = &ep.ipam_config {
            if let Some(v4) = ipam.ipv4_address.as_deref().filter(|a| !a.is_empty()) {
                if v4.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(Error::invalid(format!("invalid IPv4 address: {v4}")));
                }
            }
            if let Some(v6) = ipam.ipv6_address.as_deref().filter(|a| !a.is_empty()) {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return Err(Error::invalid(format!("invalid IPv6 address: {v6}")));
                }
            }
        }
    }
    Ok(())
}

fn unsupported(field: &str, what: &str) -> Result<()> {
    Err(Error::invalid(format!(
        "{field} is not supported by berth yet ({what})"
    )))
}

/// Features of later issues: a valid value is refused with a 400 naming
/// the field, never accepted and ignored. The differential suite keeps
/// this list in step with tests/tests/differential.rs.
fn refuse_unsupported(c: &ContainerConfig, hc: &HostConfig, net: &NetworkingConfig) -> Result<()> {
    if c.volumes.as_ref().is_some_and(|v| !v.is_empty()) {
        return unsupported("Config.Volumes", "anonymous volumes");
    }
    if hc
        .volume_driver
        .as_deref()
        .is_some_and(|d| !d.is_empty() && d != "local")
    {
        return unsupported("HostConfig.VolumeDriver", "volume plugins");
    }
    if has(&hc.volumes_from) {
        return unsupported("HostConfig.VolumesFrom", "volumes");
    }
    if has(&hc.device_requests) {
        return unsupported("HostConfig.DeviceRequests", "GPU and other device drivers");
    }
    if set(&hc.cgroup) {
        return unsupported("HostConfig.Cgroup", "joining another container's cgroup");
    }
    if hc
        .userns_mode
        .as_deref()
        .is_some_and(|m| !(m.is_empty() || m == "host"))
    {
        return unsupported("HostConfig.UsernsMode", "user namespace remapping");
    }
    if hc.storage_opt.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(Error::invalid(
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ));
    }
    let mode = hc.network_mode.as_deref().unwrap_or("");
    for (name, ep) in net.endpoints_config.iter().flatten() {
        let same = name == mode
            || (matches!(mode, "" | "default" | "bridge")
                && matches!(name.as_str(), "default" | "bridge"));
        if same {
            continue;
        }
        // dockerd 20.10 takes an empty endpoint on a built-in network that
        // is not the container's mode, and connects the container to its
        // mode's network only; anything else would be a second network.
        let builtin = matches!(name.as_str(), "default" | "bridge" | "none" | "host");
        let empty = ep.ipam_config.is_none()
            && !has(&ep.links)
            && !has(&ep.aliases)
            && !set(&ep.mac_address)
            && ep.driver_opts.as_ref().is_none_or(|o| o.is_empty());
        if !(builtin && empty) {
            return unsupported(
                "NetworkingConfig.EndpointsConfig",
                "an endpoint on a network other than NetworkMode's; use network connect",
            );
        }
    }
    Ok(())
}

/// Go's `parsers.ParseUintList`: `0-2,4`. `None` for a malformed list.
pub fn parse_uint_list(val: &str) -> Option<BTreeSet<u64>> {
    let mut out = BTreeSet::new();
    if val.is_empty() {
        return Some(out);
    }
    // Go's Atoi takes a leading '+'; a '-' always means a range here.
    let num = |s: &str| s.strip_prefix('+').unwrap_or(s).parse::<u64>().ok();
    for part in val.split(',') {
        match part.split_once('-') {
            None => {
                out.insert(num(part)?);
            }
            Some((lo, hi)) => {
                let (lo, hi) = (num(lo)?, num(hi)?);
                if hi < lo {
                    return None;
                }
                // Bounded so a hostile `0-99999999999` cannot spin the daemon:
                // no host has this many CPUs, so the check fails either way.
                if hi - lo > 65_536 {
                    out.insert(hi);
                    continue;
                }
                out.extend(lo..=hi);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
