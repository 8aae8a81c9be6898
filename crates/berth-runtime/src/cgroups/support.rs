//! Which resource limits this host's cgroups can apply: dockerd's
//! `sysinfo`, from the files the controllers offer. dockerd discards (with a
//! warning) a limit the host cannot apply rather than fail the start.

use std::fs;
use std::path::Path;

use super::{detect, CgroupVersion};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    pub blkio_read_bps: bool,
    pub blkio_write_bps: bool,
    pub blkio_read_iops: bool,
    pub blkio_write_iops: bool,
    pub memory_swappiness: bool,
    pub kernel_memory: bool,
    pub kernel_memory_tcp: bool,
    pub cpu_realtime: bool,
    pub oom_kill_disable: bool,
}

impl Support {
    /// Everything supported; for spec tests, which must not depend on the host.
    pub fn all() -> Support {
        Support {
            blkio_weight: true,
            blkio_weight_device: true,
            blkio_read_bps: true,
            blkio_write_bps: true,
            blkio_read_iops: true,
            blkio_write_iops: true,
            memory_swappiness: true,
            kernel_memory: true,
            kernel_memory_tcp: true,
            cpu_realtime: true,
            oom_kill_disable: true,
        }
    }
}

/// Reads what the cgroup tree at `root` (normally `/sys/fs/cgroup`) offers.
pub fn detect_support(root: &Path) -> Support {
    let has = |p: &str| root.join(p).exists();
    match detect(root) {
        CgroupVersion::V1 => Support {
            blkio_weight: has("blkio/blkio.weight") || has("blkio/blkio.bfq.weight"),
            blkio_weight_device: has("blkio/blkio.weight_device")
                || has("blkio/blkio.bfq.weight_device"),
            blkio_read_bps: has("blkio/blkio.throttle.read_bps_device"),
            blkio_write_bps: has("blkio/blkio.throttle.write_bps_device"),
            blkio_read_iops: has("blkio/blkio.throttle.read_iops_device"),
            blkio_write_iops: has("blkio/blkio.throttle.write_iops_device"),
            memory_swappiness: has("memory/memory.swappiness"),
            kernel_memory: has("memory/memory.kmem.limit_in_bytes"),
            kernel_memory_tcp: has("memory/memory.kmem.tcp.limit_in_bytes"),
            cpu_realtime: has("cpu/cpu.rt_period_us"),
            oom_kill_disable: has("memory/memory.oom_control"),
        },
        CgroupVersion::V2 => {
            // v2 has no swappiness, kernel memory, realtime or OOM-kill
            // switch; io limits come with the io controller.
            let io = fs::read_to_string(root.join("cgroup.controllers"))
                .map(|c| c.split_whitespace().any(|x| x == "io"))
                .unwrap_or(false);
            Support {
                blkio_weight: io,
                blkio_weight_device: io,
                blkio_read_bps: io,
                blkio_write_bps: io,
                blkio_read_iops: io,
                blkio_write_iops: io,
                ..Default::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_files_decide() {
        let root = tempfile::tempdir().unwrap();
        for f in [
            "blkio/blkio.throttle.read_bps_device",
            "memory/memory.swappiness",
            "cpu/cpu.rt_period_us",
        ] {
            let p = root.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "").unwrap();
        }
        let s = detect_support(root.path());
        assert!(s.blkio_read_bps && s.memory_swappiness && s.cpu_realtime);
        assert!(!s.blkio_weight && !s.blkio_write_bps && !s.kernel_memory);
    }

    #[test]
    fn v2_io_controller() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "cpu io memory\n").unwrap();
        let s = detect_support(root.path());
        assert!(s.blkio_weight && s.blkio_write_iops);
        assert!(!s.memory_swappiness && !s.oom_kill_disable);
    }
}
