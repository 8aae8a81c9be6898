//! From a container record to an OCI bundle: the files docker bind-mounts
//! (hostname, hosts, resolv.conf) and the runtime's `config.json`.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_runtime::cgroups::{self, Support};
use berth_runtime::spec::{
    self as rtspec, BindMount, BlkioDevice, CgroupnsMode, ContainerSpec, NetNs, NsMode, Seccomp,
    Shm, Ulimit,
};
use bollard_stubs::models::{ContainerConfig, HostConfig};

use super::mounts::{self, UserMount};
use super::record::{ContainerPaths, ContainerRecord};
use super::{Container, ContainerService};
use crate::error::{Error, Result};

const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The host's resolv.conf without loopback resolvers (unreachable from a
/// container's own network namespace); docker's fallback when none remain.
fn resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let t = line.trim();
        if let Some(ns) = t.strip_prefix("nameserver") {
            let ns = ns.trim();
            if ns.starts_with("127.") || ns == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// The user's binds and tmpfs mounts (`Binds`, `Mounts`, `Tmpfs`) for the
/// runtime; `-v` (and `CreateMountpoint`) make a missing source directory.
fn user_mounts(hc: &HostConfig) -> Result<(Vec<BindMount>, HashMap<String, String>)> {
    let mut binds = Vec::new();
    let mut tmpfs = hc.tmpfs.clone().unwrap_or_default();
    for m in mounts::user_mounts(hc)? {
        match m {
            UserMount::Bind {
                source,
                destination,
                rw,
                propagation,
                non_recursive,
                create_source,
                ..
            } => {
                if create_source {
                    fs::create_dir_all(&source).ok();
                }
                berth_runtime::propagation::check_bind_source(&source, propagation)
                    .map_err(|e| Error::system(e.to_string()))?;
                binds.push(BindMount {
                    source,
                    destination,
                    readonly: !rw,
                    propagation,
                    non_recursive,
                });
            }
            UserMount::Tmpfs {
                destination, data, ..
            } => {
                tmpfs.insert(destination, data);
            }
        }
    }
    Ok((binds, tmpfs))
}

/// The container's binds, for `docker cp` into a stopped container.
pub(super) fn binds(rec: &ContainerRecord) -> Result<Vec<BindMount>> {
    user_mounts(&rec.host_config).map(|(binds, _)| binds)
}

/// `SecurityOpt`, as dockerd's `parseSecurityOpt` reads it.
#[derive(Debug, Default, PartialEq)]
struct Security {
    no_new_privileges: bool,
    seccomp: Seccomp,
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `label=...` and `apparmor=...` are accepted and have no effect: this
/// host has neither SELinux nor AppArmor, where dockerd ignores them too.
fn security_opts(hc: &HostConfig) -> Result<Security> {
    let mut out = Security::default();
    for opt in hc.security_opt.iter().flatten() {
        match opt.as_str() {
            "no-new-privileges" => {
                out.no_new_privileges = true;
                continue;
            }
            "disable" | "writable-cgroups" => continue,
            _ => {}
        }
        let split = if opt.contains('=') {
            opt.split_once('=')
        } else {
            opt.split_once(':')
        };
        let Some((key, value)) = split else {
            return Err(Error::system(format!("invalid --security-opt 1: {opt:?}")));
        };
        let invalid = || Error::system(format!("invalid --security-opt 2: {opt:?}"));
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
            "writable-cgroups" => {
                parse_bool(value).ok_or_else(invalid)?;
            }
            _ => return Err(invalid()),
        }
    }
    Ok(out)
}

/// The resource limits of a container that reach the runtime: those the
/// host cannot apply dropped, as dockerd drops them at create.
#[derive(Debug, Default, PartialEq)]
struct Resources {
    blkio_weight: u16,
    blkio_weight_device: Vec<BlkioDevice>,
    blkio_read_bps: Vec<BlkioDevice>,
    blkio_write_bps: Vec<BlkioDevice>,
    blkio_read_iops: Vec<BlkioDevice>,
    blkio_write_iops: Vec<BlkioDevice>,
    memory_swappiness: Option<i64>,
    kernel_memory_tcp: Option<i64>,
    cpu_realtime_period: Option<i64>,
    cpu_realtime_runtime: Option<i64>,
    oom_kill_disable: bool,
}

fn throttle(list: &Option<Vec<bollard_stubs::models::ThrottleDevice>>) -> Vec<BlkioDevice> {
    list.iter()
        .flatten()
        .map(|d| BlkioDevice {
            path: d.path.clone().unwrap_or_default(),
            value: d.rate.unwrap_or(0).max(0) as u64,
        })
        .collect()
}

/// dockerd's `verifyPlatformContainerResources` for the limits this module
/// passes on: what `support` cannot apply is discarded with dockerd's
/// warning; out-of-range values are errors.
fn resources(hc: &HostConfig, support: &Support) -> Result<(Resources, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut r = Resources {
        blkio_weight: hc.blkio_weight.unwrap_or(0),
        blkio_weight_device: hc
            .blkio_weight_device
            .iter()
            .flatten()
            .map(|d| BlkioDevice {
                path: d.path.clone().unwrap_or_default(),
                value: d.weight.unwrap_or(0) as u64,
            })
            .collect(),
        blkio_read_bps: throttle(&hc.blkio_device_read_bps),
        blkio_write_bps: throttle(&hc.blkio_device_write_bps),
        blkio_read_iops: throttle(&hc.blkio_device_read_iops),
        blkio_write_iops: throttle(&hc.blkio_device_write_iops),
        memory_swappiness: hc.memory_swappiness.filter(|s| *s != -1),
        kernel_memory_tcp: hc.kernel_memory_tcp.filter(|k| *k != 0),
        cpu_realtime_period: hc.cpu_realtime_period.filter(|p| *p != 0),
        cpu_realtime_runtime: hc.cpu_realtime_runtime.filter(|p| *p != 0),
        oom_kill_disable: hc.oom_kill_disable.unwrap_or(false),
    };
    if r.memory_swappiness.is_some() && !support.memory_swappiness {
        warnings.push("Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.".into());
        r.memory_swappiness = None;
    }
    if let Some(s) = r.memory_swappiness.filter(|s| !(0..=100).contains(s)) {
        return Err(Error::invalid(format!(
            "Invalid value: {s}, valid memory swappiness range is 0-100"
        )));
    }
    if r.oom_kill_disable && !support.oom_kill_disable {
        warnings
            .push("Your kernel does not support OomKillDisable. OomKillDisable discarded.".into());
        r.oom_kill_disable = false;
    }
    if r.oom_kill_disable && hc.memory.unwrap_or(0) == 0 {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    if r.kernel_memory_tcp.is_some() && !support.kernel_memory_tcp {
        warnings.push("Your kernel does not support kernel memory TCP limit or the cgroup is not mounted. Limitation discarded.".into());
        r.kernel_memory_tcp = None;
    }
    if (r.cpu_realtime_period.is_some() || r.cpu_realtime_runtime.is_some())
        && !support.cpu_realtime
    {
        return Err(Error::system(
            "kernel does not support CPU real-time scheduler",
        ));
    }
    if let (Some(p), Some(rt)) = (r.cpu_realtime_period, r.cpu_realtime_runtime) {
        if p < rt {
            return Err(Error::system(
                "cpu real-time runtime cannot be higher than cpu real-time period",
            ));
        }
    }
    if hc.cpu_percent.unwrap_or(0) > 0 {
        warnings.push("linux does not support CPU percent. Percent discarded.".into());
    }
    if r.blkio_weight > 0 && !support.blkio_weight {
        warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".into());
        r.blkio_weight = 0;
    }
    if r.blkio_weight > 0 && !(10..=1000).contains(&r.blkio_weight) {
        return Err(Error::invalid("Range of blkio weight is from 10 to 1000"));
    }
    if hc.io_maximum_bandwidth.unwrap_or(0) != 0 {
        return Err(Error::system(
            "Invalid QoS settings: linux does not support configuration of maximum bandwidth",
        ));
    }
    if hc.io_maximum_iops.unwrap_or(0) != 0 {
        return Err(Error::system(
            "Invalid QoS settings: linux does not support configuration of maximum IOPs",
        ));
    }
    for (list, ok, what) in [
        (&mut r.blkio_weight_device, support.blkio_weight_device, "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded."),
        (&mut r.blkio_read_bps, support.blkio_read_bps, "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded."),
        (&mut r.blkio_write_bps, support.blkio_write_bps, "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded."),
        (&mut r.blkio_read_iops, support.blkio_read_iops, "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded."),
        (&mut r.blkio_write_iops, support.blkio_write_iops, "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded."),
    ] {
        if !list.is_empty() && !ok {
            warnings.push(what.into());
            list.clear();
        }
    }
    Ok((r, warnings))
}

/// dockerd's create-time warnings for the resource limits this host
/// discards, for the create response's `Warnings`.
// The create handler's to call; start only logs them.
#[allow(dead_code)]
pub(super) fn resource_warnings(hc: &HostConfig) -> Vec<String> {
    resources(hc, &host_support())
        .map(|(_, w)| w)
        .unwrap_or_default()
}

fn host_support() -> Support {
    cgroups::detect_support(Path::new(cgroups::DEFAULT_ROOT))
}

/// What dockerd refuses at create among the fields this module honors
/// (namespace modes, mounts, ...). The create handler calls it; start calls
/// it again for records made before a check existed.
/// `config` is the request's, before the daemon's defaults (a hostname)
/// are filled in; start passes `None`.
pub(super) fn validate(hc: &HostConfig, config: Option<&ContainerConfig>) -> Result<()> {
    let hostname = config.and_then(|c| c.hostname.as_deref()).unwrap_or("");
    if hc.uts_mode.as_deref() == Some("host") && !hostname.is_empty() {
        return Err(Error::invalid(
            "conflicting options: hostname and the UTS mode",
        ));
    }
    validate_modes(hc)?;
    mounts::validate(hc)?;
    security_opts(hc)?;
    resources(hc, &host_support())?;
    Ok(())
}

/// dockerd 20.10's create-time check of the namespace modes: only a
/// `container:` without a name is refused; an unknown PID or UTS mode means
/// a private namespace, an unknown IPC mode fails at start.
pub(super) fn validate_modes(hc: &HostConfig) -> Result<()> {
    let pid = hc.pid_mode.as_deref().unwrap_or("");
    if pid.starts_with("container:") && container_ref(pid).is_none() {
        return Err(Error::invalid(format!("invalid PID mode: {pid}")));
    }
    Ok(())
}

/// `container:NAME` -> NAME (non-empty).
fn container_ref(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:").filter(|n| !n.is_empty())
}

fn cgroupns_mode(hc: &HostConfig) -> Result<CgroupnsMode> {
    use bollard_stubs::models::HostConfigCgroupnsModeEnum as M;
    Ok(match hc.cgroupns_mode {
        None | Some(M::EMPTY) => CgroupnsMode::Default,
        Some(M::PRIVATE) => CgroupnsMode::Private,
        Some(M::HOST) => CgroupnsMode::Host,
    })
}

/// `HostConfig.CgroupParent` (else the daemon's) joined with the id, kept
/// absolute and inside the hierarchy like dockerd's `filepath.Join`.
pub(super) fn cgroups_path(config: &crate::Config, rec: &ContainerRecord) -> String {
    match rec
        .host_config
        .cgroup_parent
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        Some(parent) => {
            let mut parts: Vec<&str> = Vec::new();
            for c in Path::new(parent).components() {
                match c {
                    std::path::Component::Normal(s) => parts.push(s.to_str().unwrap_or_default()),
                    std::path::Component::ParentDir => {
                        parts.pop();
                    }
                    _ => {}
                }
            }
            parts.push(&rec.id);
            format!("/{}", parts.join("/"))
        }
        None => config.cgroups_path(&rec.id),
    }
}

impl ContainerService {
    /// The container's cgroup, wherever its `CgroupParent` put it.
    pub(super) fn cgroup_of(
        &self,
        rec: &ContainerRecord,
    ) -> Option<Box<dyn cgroups::CgroupManager>> {
        cgroups::open(&cgroups_path(&self.config, rec)).ok()
    }
}

/// The host directory of an `--ipc shareable` container's `/dev/shm` tmpfs.
fn shm_dir(paths: &ContainerPaths) -> PathBuf {
    paths.bundle.join("shm")
}

/// Unmounts a shareable `/dev/shm`, when the container stops.
pub(super) fn release_shm(paths: &ContainerPaths) {
    if let Err(e) = berth_runtime::shm::unmount(&shm_dir(paths)) {
        tracing::warn!("unmounting shm: {e}");
    }
}

/// The namespaces and `/dev/shm` of a container.
struct Namespaces {
    pid: NsMode,
    ipc: NsMode,
    shm: Shm,
    uts: NsMode,
    cgroupns: CgroupnsMode,
}

impl ContainerService {
    /// dockerd's create-time step for `--pid`/`--ipc container:NAME`: the
    /// container must exist (else "No such container", 404) and the mode is
    /// recorded with its full id, so a later rename changes nothing. Whether
    /// it runs is checked at start.
    // The create handler's to call.
    #[allow(dead_code)]
    pub(super) fn resolve_container_modes(&self, hc: &mut HostConfig) -> Result<()> {
        for mode in [&mut hc.pid_mode, &mut hc.ipc_mode] {
            if let Some(name) = mode.as_deref().and_then(container_ref) {
                let id = self
                    .get(name)
                    .map_err(|e| Error::invalid(e.message.clone()))?
                    .id
                    .clone();
                *mode = Some(format!("container:{id}"));
            }
        }
        Ok(())
    }

    /// A running container whose namespace `name` joins (dockerd's
    /// `getPIDContainer`/`getIPCContainer` checks); returns its pid.
    fn donor_pid(&self, name: &str, what: &str) -> Result<i64> {
        let c = self.get(name).map_err(|e| match what {
            "PID" => Error::system(format!(
                "cannot join PID of a non running container: {name}: {e}"
            )),
            _ => Error::system(format!("can't join {what} of container {name}: {e}")),
        })?;
        let rec = c.snapshot();
        if rec.state.status == super::record::Status::Restarting {
            return Err(Error::system(format!(
                "Container {} is restarting, wait until the container is running",
                rec.id
            )));
        }
        if !rec.state.status.is_live() || rec.state.pid <= 0 {
            let msg = format!("container {} is not running", rec.id);
            return Err(Error::system(match what {
                "PID" => msg,
                _ => format!("can't join {what} of container {name}: {msg}"),
            }));
        }
        Ok(rec.state.pid)
    }

    fn namespaces(&self, hc: &HostConfig, paths: &ContainerPaths) -> Result<Namespaces> {
        validate_modes(hc)?;
        let ipc = hc.ipc_mode.as_deref().unwrap_or("");
        if !(matches!(ipc, "" | "host" | "private" | "shareable" | "none")
            || container_ref(ipc).is_some())
        {
            return Err(Error::system(format!("Invalid IPC mode: {ipc}")));
        }
        let pid_mode = hc.pid_mode.as_deref().unwrap_or("");
        let pid = match (pid_mode, container_ref(pid_mode)) {
            ("host", _) => NsMode::Host,
            (_, Some(name)) => {
                let p = self.donor_pid(name, "PID")?;
                NsMode::Path(format!("/proc/{p}/ns/pid").into())
            }
            _ => NsMode::Private,
        };
        let ipc_mode = hc.ipc_mode.as_deref().unwrap_or("");
        let (ipc, shm) = match (ipc_mode, container_ref(ipc_mode)) {
            ("host", _) => (NsMode::Host, Shm::Tmpfs),
            ("none", _) => (NsMode::Private, Shm::None),
            (_, Some(name)) => {
                let p = self.donor_pid(name, "IPC")?;
                let shm = self
                    .get(name)
                    .map(|c| shm_dir(&c.paths))
                    .ok()
                    .filter(|d| berth_runtime::shm::is_mounted(d))
                    .ok_or_else(|| {
                        Error::system(format!(
                            "can't join IPC of container {name}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                        ))
                    })?;
                (
                    NsMode::Path(format!("/proc/{p}/ns/ipc").into()),
                    Shm::Bind(shm),
                )
            }
            ("shareable", _) => {
                let size = hc
                    .shm_size
                    .filter(|n| *n > 0)
                    .unwrap_or(rtspec::DEFAULT_SHM_SIZE);
                let dir = shm_dir(paths);
                berth_runtime::shm::mount_shareable(&dir, size)
                    .map_err(|e| Error::system(e.to_string()))?;
                (NsMode::Private, Shm::Bind(dir))
            }
            _ => (NsMode::Private, Shm::Tmpfs),
        };
        let uts = match hc.uts_mode.as_deref() {
            Some("host") => NsMode::Host,
            _ => NsMode::Private,
        };
        Ok(Namespaces {
            pid,
            ipc,
            shm,
            uts,
            cgroupns: cgroupns_mode(hc)?,
        })
    }

    pub(super) async fn write_bundle(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<()> {
        let hostname = rec.config.hostname.clone().unwrap_or_default();
        fs::write(c.paths.hostname(), format!("{hostname}\n"))?;
        fs::write(c.paths.hosts(), HOSTS)?;
        fs::write(c.paths.resolv_conf(), resolv_conf())?;
        fs::create_dir_all(&c.paths.bundle)?;

        let hc = &rec.host_config;
        validate(hc, None)?;
        let mut env = rec.config.env.clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(
                0,
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            );
        }
        env.insert(1.min(env.len()), format!("HOSTNAME={hostname}"));
        if rec.tty() && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        let mut args = vec![rec.path.clone()];
        args.extend(rec.args.iter().cloned());
        let security = security_opts(hc)?;
        let network = match hc.network_mode.as_deref().unwrap_or("default") {
            "host" => NetNs::Host,
            _ => NetNs::New,
        };
        let ns = self.namespaces(hc, &c.paths)?;
        let (binds, tmpfs) = user_mounts(hc)?;
        let (res, warnings) = resources(hc, &host_support())?;
        for w in warnings {
            tracing::warn!(id = %crate::ids::short(&rec.id), "{w}");
        }
        let input = ContainerSpec {
            id: rec.id.clone(),
            rootfs: rootfs.to_path_buf(),
            args,
            env,
            cwd: rec
                .config
                .working_dir
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            user: Default::default(),
            hostname,
            domainname: rec.config.domainname.clone().unwrap_or_default(),
            tty: rec.tty(),
            hosts_path: c.paths.hosts(),
            hostname_path: c.paths.hostname(),
            resolv_conf_path: c.paths.resolv_conf(),
            readonly_rootfs: hc.readonly_rootfs.unwrap_or(false),
            cap_add: hc.cap_add.clone().unwrap_or_default(),
            cap_drop: hc.cap_drop.clone().unwrap_or_default(),
            privileged: hc.privileged.unwrap_or(false),
            no_new_privileges: security.no_new_privileges,
            seccomp: security.seccomp,
            masked_paths: hc.masked_paths.clone(),
            readonly_paths: hc.readonly_paths.clone(),
            memory: hc.memory.filter(|m| *m > 0),
            memory_swap: hc.memory_swap.filter(|m| *m != 0),
            memory_reservation: hc.memory_reservation.filter(|m| *m > 0),
            nano_cpus: hc.nano_cpus.filter(|n| *n > 0),
            cpu_shares: hc.cpu_shares.filter(|n| *n > 0),
            cpu_period: hc.cpu_period.filter(|n| *n > 0),
            cpu_quota: hc.cpu_quota.filter(|n| *n > 0),
            cpuset_cpus: hc.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            cpuset_mems: hc.cpuset_mems.clone().filter(|s| !s.is_empty()),
            pids_limit: hc.pids_limit.filter(|n| *n > 0),
            oom_kill_disable: res.oom_kill_disable,
            memory_swappiness: res.memory_swappiness,
            kernel_memory_tcp: res.kernel_memory_tcp,
            cpu_realtime_period: res.cpu_realtime_period,
            cpu_realtime_runtime: res.cpu_realtime_runtime,
            blkio_weight: res.blkio_weight,
            blkio_weight_device: res.blkio_weight_device,
            blkio_read_bps: res.blkio_read_bps,
            blkio_write_bps: res.blkio_write_bps,
            blkio_read_iops: res.blkio_read_iops,
            blkio_write_iops: res.blkio_write_iops,
            oom_score_adj: hc.oom_score_adj.unwrap_or(0),
            shm_size: hc.shm_size.filter(|n| *n > 0).unwrap_or(0),
            tmpfs,
            binds,
            sysctls: hc.sysctls.clone().unwrap_or_default(),
            ulimits: hc
                .ulimits
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|u| Ulimit {
                    name: u.name.unwrap_or_default(),
                    soft: u.soft.unwrap_or(0),
                    hard: u.hard.unwrap_or(0),
                })
                .collect(),
            network,
            devices: hc
                .devices
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|d| rtspec::DeviceMapping {
                    path_on_host: d.path_on_host.unwrap_or_default(),
                    path_in_container: d.path_in_container.unwrap_or_default(),
                    cgroup_permissions: d.cgroup_permissions.unwrap_or_default(),
                })
                .collect(),
            device_cgroup_rules: hc.device_cgroup_rules.clone().unwrap_or_default(),
            pid: ns.pid,
            ipc: ns.ipc,
            shm: ns.shm,
            uts: ns.uts,
            cgroupns: ns.cgroupns,
            cgroups_path: cgroups_path(&self.config, rec),
            init: hc.init.unwrap_or(false),
            init_path: self.config.init_path.clone().unwrap_or_default(),
            ..Default::default()
        };
        let user = rec.config.user.clone().unwrap_or_default();
        let group_add = hc.group_add.clone().unwrap_or_default();
        let bundle = c.paths.bundle.clone();
        let rootfs = rootfs.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut input = input;
            // dockerd fails a start whose spec cannot be made with a 500.
            input.user = rtspec::resolve_user_with_groups(&rootfs, &user, &group_add)
                .map_err(|e| Error::system(e.to_string()))?;
            let spec = rtspec::generate(&input).map_err(|e| Error::system(e.to_string()))?;
            rtspec::write_bundle(&bundle, &spec).map_err(|e| Error::system(e.to_string()))
        })
        .await?
    }
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
    fn resources_discard_what_the_host_cannot_apply() {
        let hc = HostConfig {
            blkio_weight: Some(300),
            memory_swappiness: Some(10),
            cpu_percent: Some(50),
            blkio_device_read_bps: Some(vec![bollard_stubs::models::ThrottleDevice {
                path: Some("/dev/vda".into()),
                rate: Some(1024),
            }]),
            ..Default::default()
        };
        let (r, w) = resources(&hc, &Support::all()).unwrap();
        assert_eq!((r.blkio_weight, r.memory_swappiness), (300, Some(10)));
        assert_eq!(r.blkio_read_bps.len(), 1);
        assert_eq!(
            w,
            ["linux does not support CPU percent. Percent discarded."]
        );
        let (r, w) = resources(&hc, &Support::default()).unwrap();
        assert_eq!(r, Resources::default());
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.contains(&"Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".to_string()));
        let bad = |hc: HostConfig| resources(&hc, &Support::all()).unwrap_err().to_string();
        assert_eq!(
            bad(HostConfig {
                blkio_weight: Some(5),
                ..Default::default()
            }),
            "Range of blkio weight is from 10 to 1000"
        );
        assert_eq!(
            bad(HostConfig {
                cpu_realtime_period: Some(1000),
                cpu_realtime_runtime: Some(2000),
                ..Default::default()
            }),
            "cpu real-time runtime cannot be higher than cpu real-time period"
        );
        assert_eq!(
            resources(
                &HostConfig {
                    cpu_realtime_runtime: Some(10),
                    ..Default::default()
                },
                &Support::default()
            )
            .unwrap_err()
            .to_string(),
            "kernel does not support CPU real-time scheduler"
        );
        // -1 means unset.
        let (r, _) = resources(
            &HostConfig {
                memory_swappiness: Some(-1),
                ..Default::default()
            },
            &Support::all(),
        )
        .unwrap();
        assert_eq!(r.memory_swappiness, None);
    }

    #[test]
    fn cgroup_parent_stays_in_the_hierarchy() {
        let config = crate::Config {
            root: "/r".into(),
            exec_root: "/e".into(),
            runtime: "runc".into(),
            shim: "shim".into(),
            cgroup_parent: "berth".into(),
            init_path: None,
        };
        let rec = |parent: &str| {
            let mut r: ContainerRecord = serde_json::from_value(serde_json::json!({
                "id": "abc", "name": "n", "created": "", "image": "i", "image_id": "i",
                "path": "sh", "args": [], "config": {}, "host_config": {},
                "state": serde_json::to_value(super::super::record::State::default()).unwrap(),
                "restart_count": 0
            }))
            .unwrap();
            r.host_config.cgroup_parent = Some(parent.to_string());
            r
        };
        assert_eq!(cgroups_path(&config, &rec("")), "/berth/abc");
        assert_eq!(cgroups_path(&config, &rec("/custom/")), "/custom/abc");
        assert_eq!(cgroups_path(&config, &rec("a/b")), "/a/b/abc");
        assert_eq!(cgroups_path(&config, &rec("../../x")), "/x/abc");
    }

    #[test]
    fn uts_host_conflicts_with_a_hostname() {
        let hc = HostConfig {
            uts_mode: Some("host".into()),
            ..Default::default()
        };
        let config = ContainerConfig {
            hostname: Some("h".into()),
            ..Default::default()
        };
        assert_eq!(
            validate(&hc, Some(&config)).unwrap_err().to_string(),
            "conflicting options: hostname and the UTS mode"
        );
        assert!(validate(&hc, None).is_ok());
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

    #[test]
    fn resolv_conf_drops_loopback_resolvers() {
        let r = resolv_conf();
        assert!(!r.lines().any(|l| l.trim().starts_with("nameserver 127.")));
        assert!(r.contains("nameserver"));
    }
}
