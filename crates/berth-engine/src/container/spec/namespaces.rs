//! PID, IPC, UTS and cgroup namespaces: the host's, a new one, or another
//! container's (`container:NAME`), and the `/dev/shm` that goes with IPC.

use std::path::PathBuf;

use berth_runtime::spec::{self as rtspec, CgroupnsMode, NsMode, Shm};
use bollard_stubs::models::HostConfig;

use super::super::record::ContainerPaths;
use super::super::ContainerService;
use crate::error::{Error, Result};

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

fn cgroupns_mode(hc: &HostConfig) -> CgroupnsMode {
    use bollard_stubs::models::HostConfigCgroupnsModeEnum as M;
    match hc.cgroupns_mode {
        None | Some(M::EMPTY) => CgroupnsMode::Default,
        Some(M::PRIVATE) => CgroupnsMode::Private,
        Some(M::HOST) => CgroupnsMode::Host,
    }
}

/// The host directory of an `--ipc shareable` container's `/dev/shm` tmpfs.
fn shm_dir(paths: &ContainerPaths) -> PathBuf {
    paths.bundle.join("shm")
}

/// Unmounts a shareable `/dev/shm`, when the container stops.
pub(in crate::container) fn release_shm(paths: &ContainerPaths) {
    if let Err(e) = berth_runtime::shm::unmount(&shm_dir(paths)) {
        tracing::warn!("unmounting shm: {e}");
    }
}

/// The namespaces and `/dev/shm` of a container.
pub(super) struct Namespaces {
    pub pid: NsMode,
    pub ipc: NsMode,
    pub shm: Shm,
    pub uts: NsMode,
    pub cgroupns: CgroupnsMode,
}

impl ContainerService {
    /// dockerd's create-time step for `--pid`/`--ipc container:NAME`: the
    /// container must exist (else "No such container", 404) and the mode is
    /// recorded with its full id, so a later rename changes nothing. Whether
    /// it runs is checked at start.
    pub(in crate::container) fn resolve_container_modes(&self, hc: &mut HostConfig) -> Result<()> {
        for mode in [&mut hc.pid_mode, &mut hc.ipc_mode, &mut hc.network_mode] {
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
        if rec.state.status == super::super::record::Status::Restarting {
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

    pub(super) fn namespaces(&self, hc: &HostConfig, paths: &ContainerPaths) -> Result<Namespaces> {
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
                berth_runtime::shm::mount_shareable(&dir, size)?;
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
            cgroupns: cgroupns_mode(hc),
        })
    }
}
