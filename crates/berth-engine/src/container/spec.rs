//! From a container record to an OCI bundle: the files docker bind-mounts
//! (hostname, hosts, resolv.conf) and the runtime's `config.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_runtime::spec::{self as rtspec, BindMount, ContainerSpec, NetNs, Propagation, Ulimit};

use super::record::ContainerRecord;
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

/// `-v /host:/ctr[:ro]` binds; named volumes arrive with the volumes issue.
pub(super) fn binds(rec: &ContainerRecord) -> Result<Vec<BindMount>> {
    let mut out = Vec::new();
    for b in rec.host_config.binds.clone().unwrap_or_default() {
        let parts: Vec<&str> = b.split(':').collect();
        let (src, dst, mode) = match parts.as_slice() {
            [s, d] => (*s, *d, ""),
            [s, d, m] => (*s, *d, *m),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid volume specification: '{b}'"
                )))
            }
        };
        if !src.starts_with('/') {
            return Err(Error::invalid(format!(
                "named volumes are not supported yet: '{b}'"
            )));
        }
        if !dst.starts_with('/') {
            return Err(Error::invalid(format!(
                "invalid volume specification: '{b}': mount path must be absolute"
            )));
        }
        fs::create_dir_all(src).ok();
        out.push(BindMount {
            source: PathBuf::from(src),
            destination: dst.to_string(),
            readonly: mode.split(',').any(|m| m == "ro"),
            propagation: propagation(mode),
        });
    }
    Ok(out)
}

/// The propagation option of a bind's mode (`ro,rshared`); docker's default
/// is rprivate.
fn propagation(mode: &str) -> Propagation {
    mode.split(',')
        .find_map(|m| match m {
            "private" => Some(Propagation::Private),
            "rprivate" => Some(Propagation::Rprivate),
            "shared" => Some(Propagation::Shared),
            "rshared" => Some(Propagation::Rshared),
            "slave" => Some(Propagation::Slave),
            "rslave" => Some(Propagation::Rslave),
            _ => None,
        })
        .unwrap_or_default()
}

impl ContainerService {
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
        let security = hc.security_opt.clone().unwrap_or_default();
        let network = match hc.network_mode.as_deref().unwrap_or("default") {
            "host" => NetNs::Host,
            _ => NetNs::New,
        };
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
            no_new_privileges: security
                .iter()
                .any(|s| s == "no-new-privileges" || s == "no-new-privileges:true"),
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
            oom_kill_disable: hc.oom_kill_disable.unwrap_or(false),
            oom_score_adj: hc.oom_score_adj.unwrap_or(0),
            shm_size: hc.shm_size.filter(|n| *n > 0).unwrap_or(0),
            tmpfs: hc.tmpfs.clone().unwrap_or_default(),
            binds: binds(rec)?,
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
            cgroups_path: self.config.cgroups_path(&rec.id),
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
            input.user = rtspec::resolve_user_with_groups(&rootfs, &user, &group_add)
                .map_err(|e| Error::invalid(e.to_string()))?;
            let spec = rtspec::generate(&input).map_err(|e| Error::invalid(e.to_string()))?;
            rtspec::write_bundle(&bundle, &spec).map_err(|e| Error::system(e.to_string()))
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_resolvers() {
        let r = resolv_conf();
        assert!(!r.lines().any(|l| l.trim().starts_with("nameserver 127.")));
        assert!(r.contains("nameserver"));
    }

    #[test]
    fn bind_mode_propagation() {
        assert_eq!(propagation(""), Propagation::Rprivate);
        assert_eq!(propagation("ro,rshared"), Propagation::Rshared);
        assert_eq!(propagation("z,slave"), Propagation::Slave);
    }
}
