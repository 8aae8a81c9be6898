//! OCI `config.json` generation: a container's settings in, the exact spec
//! dockerd 20.10 would hand to runc out (see
//! `shared/reference/oci-config-samples/`).

mod caps;
mod devices;
mod mounts;
mod seccomp;
mod user;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxNamespace,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder,
    LinuxThrottleDevice, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, Mount, MountBuilder,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Spec,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cgroups::{self, CgroupVersion};
use crate::error::{Error, Result};
use mounts::MountEntry;

pub use caps::{all_capabilities, effective_caps, DEFAULT_CAPS};
pub use devices::{cgroup_rule, devices_from_path, host_devices, DeviceMapping};
pub use seccomp::{custom_profile, default_profile};
pub use user::{resolve_user, resolve_user_with_groups, ResolvedUser};

/// The OCI version dockerd 20.10 writes.
pub const OCI_VERSION: &str = "1.0.2-dev";
/// `PATH` docker gives a container whose image sets none.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// `/dev/shm` size when `shm_size` is 0 (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// Docker's masked paths.
pub const DEFAULT_MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Docker's read-only paths.
pub const DEFAULT_READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Mount propagation of a bind mount (`-v SRC:DST:rshared`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// Docker's default.
    #[default]
    Rprivate,
    Private,
    Rshared,
    Shared,
    Rslave,
    Slave,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Rprivate => "rprivate",
            Propagation::Private => "private",
            Propagation::Rshared => "rshared",
            Propagation::Shared => "shared",
            Propagation::Rslave => "rslave",
            Propagation::Slave => "slave",
        }
    }
}

/// A bind mount (`-v /host:/ctr[:ro]`, `--mount type=bind`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path.
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    pub readonly: bool,
    pub propagation: Propagation,
    /// `bind-nonrecursive`: submounts of the source are left out.
    #[serde(default)]
    pub non_recursive: bool,
}

/// `--blkio-weight-device` (value: weight) or `--device-read-bps` and
/// friends (value: rate), by the device's host path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioDevice {
    pub path: String,
    pub value: u64,
}

/// `--ulimit name=soft:hard` (`nofile`, `nproc`, ...; -1 is unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The container's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetNs {
    /// A new, empty namespace made by runc (bridge setup comes later, or
    /// `--network none`).
    #[default]
    New,
    /// The host's namespace (`--network host`): no network namespace entry.
    Host,
    /// A namespace prepared for this container (e.g. a bind-mounted netns
    /// file); it is the container's own, so docker's network sysctls apply.
    Path(PathBuf),
    /// Another container's namespace (`--network container:X`,
    /// `/proc/<pid>/ns/net`); shared, so no sysctls are set in it.
    Container(PathBuf),
}

impl NetNs {
    /// The container has a namespace of its own (docker's
    /// `NetworkMode.IsPrivate()`).
    pub fn is_private(&self) -> bool {
        matches!(self, NetNs::New | NetNs::Path(_))
    }
}

/// IPC, PID or UTS namespace mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NsMode {
    /// A new namespace (docker's default).
    #[default]
    Private,
    /// The host's namespace (`--ipc host`, `--pid host`, `--uts host`).
    Host,
    /// Join the namespace at this path (`container:X` modes).
    Path(PathBuf),
}

/// What the container gets at `/dev/shm` (with a private or joined IPC
/// namespace; `--ipc host` always binds the host's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shm {
    /// Its own tmpfs of `shm_size` bytes (`private`, `shareable`).
    #[default]
    Tmpfs,
    /// Nothing (`--ipc none`).
    None,
    /// Another container's `/dev/shm`, bound (`--ipc container:X`).
    Bind(PathBuf),
}

/// `--cgroupns`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupnsMode {
    /// Docker's default: private on cgroup v2, host on v1 (detected when
    /// the spec is generated).
    #[default]
    Default,
    Private,
    Host,
}

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Seccomp {
    /// Docker's default profile.
    #[default]
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// A profile in docker's JSON format (the file's content).
    Custom(String),
}

/// Everything that goes into a container's `config.json`. Plain data: the
/// engine fills it from the container record and the image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub id: String,
    /// The mounted rootfs (`root.path`).
    pub rootfs: PathBuf,
    /// Entrypoint + command, final.
    pub args: Vec<String>,
    /// The final environment, including `PATH` and `HOSTNAME` (see
    /// [`docker_env`]).
    pub env: Vec<String>,
    /// Absolute working directory; empty means `/`.
    pub cwd: String,
    pub user: ResolvedUser,
    pub hostname: String,
    /// NIS domain name (`--domainname`), set via the `kernel.domainname`
    /// sysctl like docker 20.10.
    pub domainname: String,
    pub tty: bool,
    /// Host files bind-mounted at `/etc/hosts`, `/etc/hostname` and
    /// `/etc/resolv.conf`; an empty path leaves that mount out.
    pub hosts_path: PathBuf,
    pub hostname_path: PathBuf,
    pub resolv_conf_path: PathBuf,
    pub readonly_rootfs: bool,
    /// `NET_ADMIN`, `CAP_NET_ADMIN`, `net_admin` or `ALL`.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub no_new_privileges: bool,
    /// Bytes; `None` or <= 0: unlimited.
    pub memory: Option<i64>,
    /// Memory + swap in bytes (docker's `--memory-swap`); only > 0 is set.
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// 0..=100.
    pub memory_swappiness: Option<i64>,
    /// `--cpus` x 1e9.
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; <= 0 means unlimited (-1 in the spec).
    pub pids_limit: Option<i64>,
    /// `--blkio-weight` (10..=1000, 0 = unset).
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<BlkioDevice>,
    pub blkio_read_bps: Vec<BlkioDevice>,
    pub blkio_write_bps: Vec<BlkioDevice>,
    pub blkio_read_iops: Vec<BlkioDevice>,
    pub blkio_write_iops: Vec<BlkioDevice>,
    /// `--cpu-rt-period` / `--cpu-rt-runtime` (µs).
    pub cpu_realtime_period: Option<i64>,
    pub cpu_realtime_runtime: Option<i64>,
    /// `KernelMemory` and `KernelMemoryTCP` in bytes (cgroup v1).
    pub kernel_memory: Option<i64>,
    pub kernel_memory_tcp: Option<i64>,
    pub oom_kill_disable: bool,
    /// -1000..=1000.
    pub oom_score_adj: i64,
    /// `/dev/shm` size in bytes; 0 => 64 MiB.
    pub shm_size: i64,
    /// `--tmpfs DEST:OPTIONS`: destination -> options string (may be empty).
    pub tmpfs: HashMap<String, String>,
    pub binds: Vec<BindMount>,
    pub sysctls: HashMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    pub network: NetNs,
    pub ipc: NsMode,
    pub shm: Shm,
    /// `--device`.
    pub devices: Vec<DeviceMapping>,
    /// `--device-cgroup-rule`.
    pub device_cgroup_rules: Vec<String>,
    pub pid: NsMode,
    pub uts: NsMode,
    pub cgroupns: CgroupnsMode,
    /// e.g. `/berth/<id>` (cgroupfs driver).
    pub cgroups_path: String,
    /// Overrides docker's masked paths (`HostConfig.MaskedPaths`).
    pub masked_paths: Option<Vec<String>>,
    /// Overrides docker's read-only paths (`HostConfig.ReadonlyPaths`).
    pub readonly_paths: Option<Vec<String>>,
    pub seccomp: Seccomp,
    /// `--init`: run [`init_path`](Self::init_path) as pid 1, bound
    /// read-only at [`INIT_IN_CONTAINER`], with the command after `--`. Only
    /// in a private pid namespace: elsewhere pid 1 already exists.
    pub init: bool,
    /// The host's init binary (docker-init, tini).
    pub init_path: PathBuf,
    /// `HostConfig.Annotations`: the spec's `annotations`, for the runtime.
    pub annotations: HashMap<String, String>,
}

/// Where docker binds its init binary in the container.
pub const INIT_IN_CONTAINER: &str = "/sbin/docker-init";

/// Docker's `CreateDaemonEnvironment`: `PATH`, `HOSTNAME`, `TERM=xterm` with
/// a tty, then the container's env (image env + `-e`) replacing or
/// appending; an entry without `=` unsets that variable.
pub fn docker_env(config_env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let mut env = vec![DEFAULT_PATH_ENV.to_string(), format!("HOSTNAME={hostname}")];
    if tty {
        env.push("TERM=xterm".to_string());
    }
    let key = |e: &str| {
        e.split_once('=')
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| e.to_string())
    };
    let defaults: HashMap<String, usize> =
        env.iter().enumerate().map(|(i, e)| (key(e), i)).collect();
    let mut removed = vec![false; env.len()];
    for value in config_env {
        match value.split_once('=') {
            None => {
                if let Some(&i) = defaults.get(value.as_str()) {
                    removed[i] = true;
                }
            }
            Some((k, _)) => match defaults.get(k) {
                Some(&i) => {
                    env[i] = value.clone();
                    removed[i] = false;
                }
                None => env.push(value.clone()),
            },
        }
    }
    env.into_iter()
        .enumerate()
        .filter(|(i, _)| !removed.get(*i).copied().unwrap_or(false))
        .map(|(_, e)| e)
        .collect()
}

/// Lexically cleans an absolute container path (Go's `filepath.Clean`).
fn clean_dest(what: &str, dest: &str) -> Result<String> {
    if !dest.starts_with('/') {
        return Err(Error::invalid(format!(
            "invalid mount config for {what}: mount path must be absolute: {dest:?}"
        )));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(dest).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        return Err(Error::invalid(format!(
            "invalid mount config for {what}: destination can't be '/'"
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

fn build_err(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("building OCI spec: {e}"))
}

fn namespace(typ: LinuxNamespaceType, path: Option<&Path>) -> Result<LinuxNamespace> {
    let mut b = LinuxNamespaceBuilder::default().typ(typ);
    if let Some(p) = path {
        b = b.path(p.to_path_buf());
    }
    b.build().map_err(build_err)
}

fn rlimit(u: &Ulimit) -> Result<PosixRlimit> {
    let name = format!("RLIMIT_{}", u.name.trim().to_ascii_uppercase());
    let typ: PosixRlimitType = serde_json::from_value(serde_json::Value::String(name))
        .map_err(|_| Error::invalid(format!("invalid ulimit type: {}", u.name)))?;
    let limit = |v: i64| -> Result<u64> {
        match v {
            -1 => Ok(u64::MAX),
            v if v >= 0 => Ok(v as u64),
            v => Err(Error::invalid(format!(
                "invalid ulimit value for {}: {v}",
                u.name
            ))),
        }
    };
    let (soft, hard) = (limit(u.soft)?, limit(u.hard)?);
    if soft > hard {
        return Err(Error::invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft, u.hard
        )));
    }
    PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()
        .map_err(build_err)
}

/// The user's mounts before conversion, in docker's order.
enum UserMount {
    Bind {
        source: String,
        destination: String,
        readonly: bool,
        propagation: Propagation,
        non_recursive: bool,
    },
    Tmpfs {
        destination: String,
        data: String,
    },
}

impl UserMount {
    fn destination(&self) -> &str {
        match self {
            UserMount::Bind { destination, .. } | UserMount::Tmpfs { destination, .. } => {
                destination
            }
        }
    }
}

fn build_mounts(input: &ContainerSpec) -> Result<(Vec<MountEntry>, Option<String>)> {
    let shm = match input.shm_size {
        0 => DEFAULT_SHM_SIZE,
        n if n > 0 => n,
        n => return Err(Error::invalid(format!("invalid shm size {n}"))),
    };

    // Binds, the network files, the host's /dev/shm, tmpfs: docker's order
    // before its stable sort by depth.
    let mut ms: Vec<UserMount> = Vec::new();
    for b in &input.binds {
        if !b.source.is_absolute() {
            return Err(Error::invalid(format!(
                "invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                b.source.display()
            )));
        }
        ms.push(UserMount::Bind {
            source: b.source.to_string_lossy().into_owned(),
            destination: clean_dest("type \"bind\"", &b.destination)?,
            readonly: b.readonly,
            propagation: b.propagation,
            non_recursive: b.non_recursive,
        });
    }
    let has = |ms: &[UserMount], d: &str| ms.iter().any(|m| m.destination() == d);
    let net_rw = !input.readonly_rootfs;
    for (path, dest) in [
        (&input.resolv_conf_path, "/etc/resolv.conf"),
        (&input.hostname_path, "/etc/hostname"),
        (&input.hosts_path, "/etc/hosts"),
    ] {
        if !path.as_os_str().is_empty() && !has(&ms, dest) {
            ms.push(UserMount::Bind {
                source: path.to_string_lossy().into_owned(),
                destination: dest.to_string(),
                readonly: !net_rw,
                propagation: Propagation::Rprivate,
                non_recursive: false,
            });
        }
    }
    let mut tmpfs: Vec<(String, String)> = Vec::new();
    for (d, o) in &input.tmpfs {
        tmpfs.push((clean_dest("type \"tmpfs\"", d)?, o.clone()));
    }
    tmpfs.sort();
    let shm_bind = match (&input.ipc, &input.shm) {
        (NsMode::Host, _) => Some(PathBuf::from("/dev/shm")),
        (_, Shm::Bind(p)) => Some(p.clone()),
        _ => None,
    };
    if let Some(source) = shm_bind {
        if !has(&ms, "/dev/shm") && !tmpfs.iter().any(|(d, _)| d == "/dev/shm") {
            ms.push(UserMount::Bind {
                source: source.to_string_lossy().into_owned(),
                destination: "/dev/shm".into(),
                readonly: false,
                propagation: Propagation::Rprivate,
                non_recursive: false,
            });
        }
    }
    for (destination, data) in tmpfs {
        ms.push(UserMount::Tmpfs { destination, data });
    }
    ms.sort_by_key(|m| mounts::depth(m.destination()));

    let user_dests: Vec<String> = ms.iter().map(|m| m.destination().to_string()).collect();
    let mount_dev = user_dests.iter().any(|d| d == "/dev");
    let mut out: Vec<MountEntry> = mounts::default_mounts(shm)
        .into_iter()
        .filter(|m| {
            let replaced = user_dests.contains(&m.destination);
            let under_user_dev = mount_dev && m.destination.starts_with("/dev/");
            let no_shm = input.shm == Shm::None && m.destination == "/dev/shm";
            !replaced && !under_user_dev && !no_shm
        })
        .collect();
    if input.init
        && input.pid == NsMode::Private
        && !user_dests.iter().any(|d| d == INIT_IN_CONTAINER)
    {
        out.push(MountEntry {
            destination: INIT_IN_CONTAINER.into(),
            typ: "bind".into(),
            source: input.init_path.to_string_lossy().into_owned(),
            options: vec!["bind".into(), "ro".into()],
        });
    }

    let mut rootfs_propagation: Option<String> = None;
    for m in ms {
        match m {
            UserMount::Tmpfs { destination, data } => out.push(MountEntry {
                destination,
                typ: "tmpfs".into(),
                source: "tmpfs".into(),
                options: mounts::tmpfs_options(&data)?,
            }),
            UserMount::Bind {
                source,
                destination,
                readonly,
                propagation,
                non_recursive,
            } => {
                // Docker makes the root shared for a shared bind and rslave for
                // a slave one, so that propagation can happen at all.
                let root_shared =
                    matches!(rootfs_propagation.as_deref(), Some("shared" | "rshared"));
                match propagation {
                    Propagation::Shared | Propagation::Rshared if !root_shared => {
                        rootfs_propagation = Some("shared".into());
                    }
                    Propagation::Slave | Propagation::Rslave if rootfs_propagation.is_none() => {
                        rootfs_propagation = Some("rslave".into());
                    }
                    _ => {}
                }
                let bind = if non_recursive { "bind" } else { "rbind" };
                let mut options = vec![bind.to_string()];
                if readonly {
                    options.push("ro".into());
                }
                options.push(propagation.as_str().into());
                out.push(MountEntry {
                    destination,
                    typ: "bind".into(),
                    source,
                    options,
                });
            }
        }
    }

    if input.readonly_rootfs {
        for m in out.iter_mut() {
            if matches!(
                m.destination.as_str(),
                "/proc" | "/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/dev"
            ) {
                continue;
            }
            if !user_dests.contains(&m.destination) && !m.options.iter().any(|o| o == "ro") {
                m.options.push("ro".into());
            }
        }
    }
    if input.privileged {
        for m in out.iter_mut() {
            if m.destination == "/sys" || m.typ == "cgroup" {
                m.clear_readonly();
            }
        }
    }
    Ok((out, rootfs_propagation))
}

fn to_oci_mount(m: MountEntry) -> Result<Mount> {
    MountBuilder::default()
        .destination(PathBuf::from(m.destination))
        .typ(m.typ)
        .source(PathBuf::from(m.source))
        .options(m.options)
        .build()
        .map_err(build_err)
}

fn positive(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v > 0)
}

fn build_resources(input: &ContainerSpec) -> Result<oci_spec::runtime::LinuxResources> {
    let mut memory = LinuxMemoryBuilder::default().disable_oom_killer(input.oom_kill_disable);
    if let Some(v) = positive(input.memory) {
        memory = memory.limit(v);
    }
    if let Some(v) = positive(input.memory_reservation) {
        memory = memory.reservation(v);
    }
    if let Some(v) = positive(input.memory_swap) {
        memory = memory.swap(v);
    }
    if let Some(v) = input.kernel_memory.filter(|v| *v != 0) {
        memory = memory.kernel(v);
    }
    if let Some(v) = input.kernel_memory_tcp.filter(|v| *v != 0) {
        memory = memory.kernel_tcp(v);
    }
    if let Some(v) = input.memory_swappiness {
        if !(0..=100).contains(&v) {
            if v != -1 {
                return Err(Error::invalid(format!(
                    "Invalid value: {v}, valid memory swappiness range is 0-100"
                )));
            }
        } else {
            memory = memory.swappiness(v as u64);
        }
    }

    let shares = input.cpu_shares.unwrap_or(0);
    if shares < 0 {
        return Err(Error::invalid("shares: invalid argument"));
    }
    let mut cpu = LinuxCpuBuilder::default().shares(shares as u64);
    if let Some(c) = input.cpuset_cpus.as_deref().filter(|s| !s.is_empty()) {
        cpu = cpu.cpus(c.to_string());
    }
    if let Some(m) = input.cpuset_mems.as_deref().filter(|s| !s.is_empty()) {
        cpu = cpu.mems(m.to_string());
    }
    if let Some(n) = positive(input.nano_cpus) {
        if positive(input.cpu_period).is_some() {
            return Err(Error::invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        if positive(input.cpu_quota).is_some() {
            return Err(Error::invalid(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
            ));
        }
        let period: u64 = 100_000;
        let quota = (n as i128 * period as i128 / 1_000_000_000) as i64;
        cpu = cpu.period(period).quota(quota);
    }
    if let Some(p) = positive(input.cpu_period) {
        cpu = cpu.period(p as u64);
    }
    if let Some(q) = input.cpu_quota.filter(|q| *q != 0) {
        cpu = cpu.quota(q);
    }
    if let Some(p) = positive(input.cpu_realtime_period) {
        cpu = cpu.realtime_period(p as u64);
    }
    if let Some(r) = input.cpu_realtime_runtime.filter(|r| *r != 0) {
        cpu = cpu.realtime_runtime(r);
    }

    let devices = if input.privileged {
        devices::privileged_rules()?
    } else {
        let mut rules = devices::default_rules()?;
        for m in &input.devices {
            rules.extend(devices::devices_from_path(m)?.1);
        }
        for r in &input.device_cgroup_rules {
            rules.push(devices::cgroup_rule(r)?);
        }
        rules
    };
    let mut res = LinuxResourcesBuilder::default()
        .devices(devices)
        .memory(memory.build().map_err(build_err)?)
        .cpu(cpu.build().map_err(build_err)?)
        .block_io(block_io(input)?);
    if let Some(p) = input.pids_limit {
        let limit = if p <= 0 { -1 } else { p };
        res = res.pids(
            LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .map_err(build_err)?,
        );
    }
    res.build().map_err(build_err)
}

/// The `major:minor` of the block device at a host path, like dockerd's
/// `getBlkioWeightDevices` (a stat, symlinks followed).
fn block_device(path: &str) -> Result<(i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let rdev = meta.rdev();
    Ok((
        nix::sys::stat::major(rdev) as i64,
        nix::sys::stat::minor(rdev) as i64,
    ))
}

fn block_io(input: &ContainerSpec) -> Result<oci_spec::runtime::LinuxBlockIo> {
    let mut b = LinuxBlockIoBuilder::default().weight(input.blkio_weight);
    if !input.blkio_weight_device.is_empty() {
        let mut devs = Vec::new();
        for d in &input.blkio_weight_device {
            let (major, minor) = block_device(&d.path)?;
            let weight = u16::try_from(d.value).map_err(|_| {
                Error::invalid(format!("invalid weight for device {}: {}", d.path, d.value))
            })?;
            devs.push(
                LinuxWeightDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .weight(weight)
                    .build()
                    .map_err(build_err)?,
            );
        }
        b = b.weight_device(devs);
    }
    let throttle = |list: &[BlkioDevice]| -> Result<Vec<LinuxThrottleDevice>> {
        list.iter()
            .map(|d| {
                let (major, minor) = block_device(&d.path)?;
                LinuxThrottleDeviceBuilder::default()
                    .major(major)
                    .minor(minor)
                    .rate(d.value)
                    .build()
                    .map_err(build_err)
            })
            .collect()
    };
    if !input.blkio_read_bps.is_empty() {
        b = b.throttle_read_bps_device(throttle(&input.blkio_read_bps)?);
    }
    if !input.blkio_write_bps.is_empty() {
        b = b.throttle_write_bps_device(throttle(&input.blkio_write_bps)?);
    }
    if !input.blkio_read_iops.is_empty() {
        b = b.throttle_read_iops_device(throttle(&input.blkio_read_iops)?);
    }
    if !input.blkio_write_iops.is_empty() {
        b = b.throttle_write_iops_device(throttle(&input.blkio_write_iops)?);
    }
    b.build().map_err(build_err)
}

fn build_namespaces(input: &ContainerSpec) -> Result<Vec<LinuxNamespace>> {
    let mut ns = vec![namespace(LinuxNamespaceType::Mount, None)?];
    match &input.network {
        NetNs::New => ns.push(namespace(LinuxNamespaceType::Network, None)?),
        NetNs::Host => {}
        NetNs::Path(p) | NetNs::Container(p) => {
            ns.push(namespace(LinuxNamespaceType::Network, Some(p))?)
        }
    }
    for (mode, typ) in [
        (&input.uts, LinuxNamespaceType::Uts),
        (&input.pid, LinuxNamespaceType::Pid),
        (&input.ipc, LinuxNamespaceType::Ipc),
    ] {
        match mode {
            NsMode::Private => ns.push(namespace(typ, None)?),
            NsMode::Host => {}
            NsMode::Path(p) => ns.push(namespace(typ, Some(p))?),
        }
    }
    let private_cgroupns = match input.cgroupns {
        CgroupnsMode::Private => true,
        CgroupnsMode::Host => false,
        CgroupnsMode::Default => {
            cgroups::detect(Path::new(cgroups::DEFAULT_ROOT)) == CgroupVersion::V2
        }
    };
    if private_cgroupns {
        ns.push(namespace(LinuxNamespaceType::Cgroup, None)?);
    }
    Ok(ns)
}

/// Builds the OCI spec for `input`, like dockerd 20.10 (without its
/// libnetwork prestart hook).
pub fn generate(input: &ContainerSpec) -> Result<Spec> {
    if input.args.is_empty() || input.args[0].is_empty() {
        return Err(Error::invalid("No command specified"));
    }
    if input.rootfs.as_os_str().is_empty() {
        return Err(Error::invalid("no rootfs given"));
    }
    let cwd = if input.cwd.is_empty() {
        "/"
    } else {
        input.cwd.as_str()
    };
    if !cwd.starts_with('/') {
        return Err(Error::invalid(format!(
            "the working directory '{cwd}' is invalid, it needs to be an absolute path"
        )));
    }
    if !(-1000..=1000).contains(&input.oom_score_adj) {
        return Err(Error::invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            input.oom_score_adj
        )));
    }

    // Capabilities: bounding, effective and permitted for root; only
    // bounding for other users (docker drops the others like file
    // permissions would).
    let cap_names = caps::effective_caps(&input.cap_add, &input.cap_drop, input.privileged)?;
    let mut capabilities = json!({ "bounding": cap_names });
    if input.user.uid == 0 {
        capabilities["effective"] = json!(cap_names);
        capabilities["permitted"] = json!(cap_names);
    }

    let mut user = json!({ "uid": input.user.uid, "gid": input.user.gid });
    if !input.user.additional_gids.is_empty() {
        user["additionalGids"] = json!(input.user.additional_gids);
    }
    // oci-spec's builders start from opinionated defaults (an rlimit,
    // noNewPrivileges, default namespaces...): Process, Root, Linux and Spec
    // are built as JSON, where absent means absent.
    let with_init = input.init && input.pid == NsMode::Private;
    let args: Vec<String> = if with_init {
        if input.init_path.as_os_str().is_empty() {
            return Err(Error::invalid(
                "exec: \"docker-init\": executable file not found in $PATH",
            ));
        }
        [INIT_IN_CONTAINER.to_string(), "--".to_string()]
            .into_iter()
            .chain(input.args.iter().cloned())
            .collect()
    } else {
        input.args.clone()
    };
    let mut process = json!({
        "user": user,
        "args": args,
        "env": input.env,
        "cwd": cwd,
        "capabilities": capabilities,
        "oomScoreAdj": input.oom_score_adj,
    });
    if input.tty {
        process["terminal"] = json!(true);
    }
    if input.no_new_privileges {
        process["noNewPrivileges"] = json!(true);
    }
    if !input.ulimits.is_empty() {
        process["rlimits"] = to_value(
            &input
                .ulimits
                .iter()
                .map(rlimit)
                .collect::<Result<Vec<_>>>()?,
        )?;
    }

    let mut root = json!({ "path": input.rootfs });
    if input.readonly_rootfs {
        root["readonly"] = json!(true);
    }

    let (mounts, rootfs_propagation) = build_mounts(input)?;
    let mounts = mounts
        .into_iter()
        .map(to_oci_mount)
        .collect::<Result<Vec<_>>>()?;

    let mut sysctl: HashMap<String, String> = HashMap::new();
    if input.network.is_private() {
        sysctl.insert("net.ipv4.ip_unprivileged_port_start".into(), "0".into());
        sysctl.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
    }
    if !input.domainname.is_empty() && input.uts != NsMode::Host {
        sysctl.insert("kernel.domainname".into(), input.domainname.clone());
    }
    for (k, v) in &input.sysctls {
        sysctl.insert(k.clone(), v.clone());
    }

    let mut linux = json!({
        "resources": to_value(&build_resources(input)?)?,
        "namespaces": to_value(&build_namespaces(input)?)?,
    });
    if !sysctl.is_empty() {
        linux["sysctl"] = to_value(&sysctl)?;
    }
    if !input.cgroups_path.is_empty() {
        linux["cgroupsPath"] = json!(input.cgroups_path);
    }
    if !input.privileged {
        let masked = match &input.masked_paths {
            Some(v) => v.clone(),
            None => DEFAULT_MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
        };
        let readonly = match &input.readonly_paths {
            Some(v) => v.clone(),
            None => DEFAULT_READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        if !masked.is_empty() {
            linux["maskedPaths"] = json!(masked);
        }
        if !readonly.is_empty() {
            linux["readonlyPaths"] = json!(readonly);
        }
        match &input.seccomp {
            Seccomp::Unconfined => {}
            Seccomp::Custom(json) if json.trim() == "unconfined" => {}
            Seccomp::Default => {
                linux["seccomp"] = to_value(&seccomp::default_profile(&cap_names)?)?
            }
            Seccomp::Custom(json) => {
                linux["seccomp"] = to_value(&seccomp::custom_profile(json, &cap_names)?)?
            }
        }
    }
    let mut devs = Vec::new();
    if input.privileged {
        devs = devices::host_devices(Path::new("/dev"))?;
    }
    for m in &input.devices {
        // Privileged containers already have the host's node at its own path.
        if input.privileged && m.path_on_host == m.path_in_container {
            continue;
        }
        devs.extend(devices::devices_from_path(m)?.0);
    }
    if !devs.is_empty() {
        linux["devices"] = to_value(&devs)?;
    }
    if let Some(p) = rootfs_propagation {
        linux["rootfsPropagation"] = json!(p);
    }

    let mut spec = json!({
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": root,
        "mounts": to_value(&mounts)?,
        "linux": linux,
    });
    if input.uts != NsMode::Host && !input.hostname.is_empty() {
        spec["hostname"] = json!(input.hostname);
    }
    if !input.annotations.is_empty() {
        spec["annotations"] = json!(input.annotations);
    }
    serde_json::from_value(spec).map_err(build_err)
}

fn to_value<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(build_err)
}

/// The spec as JSON with the capability sets in kernel order (oci-spec
/// keeps them in hash sets), so that the same input gives the same file.
pub fn to_json(spec: &Spec) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(spec)
        .map_err(|e| Error::invalid(format!("encoding OCI spec: {e}")))?;
    if let Some(c) = v
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    {
        for set in c.values_mut() {
            if let Some(list) = set.as_array_mut() {
                list.sort_by_key(|x| caps::number_of_name(x.as_str().unwrap_or("")));
            }
        }
    }
    Ok(v)
}

/// Writes `dir/config.json` (temp file + rename; no fsync: a bundle is
/// regenerated from the container record if lost).
pub fn write_bundle(dir: &Path, spec: &Spec) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_vec(&to_json(spec)?)
        .map_err(|e| Error::invalid(format!("encoding OCI spec: {e}")))?;
    let tmp = dir.join(".config.json.tmp");
    let dst = dir.join("config.json");
    let mut f = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(&json).map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, &dst).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(&dst, e)
    })
}

#[cfg(test)]
mod tests;
