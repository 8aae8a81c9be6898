//! From a container record to an OCI bundle: the files docker bind-mounts
//! (hostname, hosts, resolv.conf) and the runtime's `config.json`, with
//! the create fields that shape the container: namespaces, security
//! options and resource limits each in their module, user mounts in
//! `container::mounts`.

mod namespaces;
mod resources;
mod security;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_runtime::spec::{self as rtspec, BindMount, ContainerSpec, NetNs, Ulimit};
use bollard_stubs::models::{ContainerConfig, HostConfig};

use super::mounts::{self, UserMount};
use super::record::ContainerRecord;
use super::{Container, ContainerService};
use crate::error::{Error, Result};
use namespaces::validate_modes;
use resources::{cgroups_path, host_support, resources};
pub(super) use security::security_opts;

pub(super) use namespaces::release_shm;

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
                berth_runtime::propagation::check_bind_source(&source, propagation)?;
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
    resources(hc, host_support())?;
    Ok(())
}

/// A container's network namespace and the files docker mounts for it.
pub(super) struct Network {
    pub ns: NetNs,
    pub hostname: String,
    /// Empty paths leave the mount out.
    pub hostname_file: PathBuf,
    pub hosts: PathBuf,
    pub resolv_conf: PathBuf,
}

impl ContainerService {
    pub(super) async fn write_bundle(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        rootfs: &Path,
    ) -> Result<()> {
        let hc = &rec.host_config;
        validate(hc, None)?;
        let net = self.prepare_network(c, rec).await?;
        let hostname = net.hostname.clone();
        fs::create_dir_all(&c.paths.bundle)?;
        // An entry without `=` unsets the variable, as in dockerd; the
        // record keeps it as given (inspect shows it).
        let env = berth_runtime::spec::docker_env(
            rec.config.env.as_deref().unwrap_or_default(),
            &hostname,
            rec.tty(),
        );
        let mut args = vec![rec.path.clone()];
        args.extend(rec.args.iter().cloned());
        let security = security_opts(hc)?;
        let ns = self.namespaces(hc, &c.paths)?;
        let (binds, tmpfs) = user_mounts(hc)?;
        let (res, warnings) = resources(hc, host_support())?;
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
            hosts_path: net.hosts,
            hostname_path: net.hostname_file,
            resolv_conf_path: net.resolv_conf,
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
            network: net.ns,
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
            annotations: hc.annotations.clone().unwrap_or_default(),
            ..Default::default()
        };
        let user = rec.config.user.clone().unwrap_or_default();
        let group_add = hc.group_add.clone().unwrap_or_default();
        let bundle = c.paths.bundle.clone();
        let rootfs = rootfs.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut input = input;
            // dockerd fails a start whose spec cannot be made with a 500.
            input.user = rtspec::resolve_user_with_groups(&rootfs, &user, &group_add)?;
            let spec = rtspec::generate(&input)?;
            Ok(rtspec::write_bundle(&bundle, &spec)?)
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
