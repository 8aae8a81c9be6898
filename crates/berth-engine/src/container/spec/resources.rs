//! Resource limits beyond memory and CPU (block I/O, realtime, swappiness,
//! kernel TCP memory, the OOM-kill switch) as dockerd 20.10 passes them on,
//! and the container's cgroup (`CgroupParent`).

use std::path::Path;

use berth_runtime::cgroups::{self, Support};
use berth_runtime::spec::BlkioDevice;
use bollard_stubs::models::HostConfig;

use super::super::record::ContainerRecord;
use super::super::ContainerService;
use crate::error::{Error, Result};

/// The resource limits of a container that reach the runtime: those the
/// host cannot apply dropped, as dockerd drops them at create.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Resources {
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<BlkioDevice>,
    pub blkio_read_bps: Vec<BlkioDevice>,
    pub blkio_write_bps: Vec<BlkioDevice>,
    pub blkio_read_iops: Vec<BlkioDevice>,
    pub blkio_write_iops: Vec<BlkioDevice>,
    pub memory_swappiness: Option<i64>,
    pub kernel_memory_tcp: Option<i64>,
    pub cpu_realtime_period: Option<i64>,
    pub cpu_realtime_runtime: Option<i64>,
    pub oom_kill_disable: bool,
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

/// The limits this module passes on, after dockerd's
/// `verifyPlatformContainerResources` (the create checks' own
/// `check_resources`: what `support` cannot apply is discarded with
/// dockerd's warning, out-of-range values are errors). Create ran the same
/// checks; start runs them again for records made before they existed.
pub(super) fn resources(hc: &HostConfig, support: &Support) -> Result<(Resources, Vec<String>)> {
    let mut hc = hc.clone();
    let warnings = super::super::validate::check_resources(&mut hc, support, false)?;
    let r = Resources {
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
        memory_swappiness: hc.memory_swappiness,
        kernel_memory_tcp: hc.kernel_memory_tcp.filter(|k| *k != 0),
        cpu_realtime_period: hc.cpu_realtime_period.filter(|p| *p != 0),
        cpu_realtime_runtime: hc.cpu_realtime_runtime.filter(|p| *p != 0),
        oom_kill_disable: hc.oom_kill_disable.unwrap_or(false),
    };
    // dockerd 20.10 fails these at start with a 500 of its own words.
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
    Ok((r, warnings))
}

pub(super) fn host_support() -> &'static Support {
    Support::host()
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
    pub(in crate::container) fn cgroup_of(
        &self,
        rec: &ContainerRecord,
    ) -> Option<Box<dyn cgroups::CgroupManager>> {
        cgroups::open(&cgroups_path(&self.config, rec)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            registry: Default::default(),
            network: Default::default(),
        };
        let rec = |parent: &str| {
            let mut r: ContainerRecord = serde_json::from_value(serde_json::json!({
                "id": "abc", "name": "n", "created": "", "image": "i", "image_id": "i",
                "path": "sh", "args": [], "config": {}, "host_config": {},
                "state": serde_json::to_value(crate::container::record::State::default()).unwrap(),
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
}
