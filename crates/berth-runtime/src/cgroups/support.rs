//! Which resource limits this host's cgroups can apply: dockerd's
//! `sysinfo`, from the files the controllers offer. dockerd discards (with a
//! warning) a limit the host cannot apply rather than fail the container;
//! berth does the same, with the same words.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use super::{detect, CgroupVersion, DEFAULT_ROOT};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Support {
    /// The unified hierarchy (cgroup v2).
    pub v2: bool,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub memory_reservation: bool,
    pub memory_swappiness: bool,
    pub kernel_memory: bool,
    pub kernel_memory_tcp: bool,
    pub oom_kill_disable: bool,
    pub pids_limit: bool,
    pub cpu_shares: bool,
    pub cpu_cfs: bool,
    pub cpu_realtime: bool,
    pub cpuset: bool,
    pub blkio_weight: bool,
    pub blkio_weight_device: bool,
    pub blkio_read_bps: bool,
    pub blkio_write_bps: bool,
    pub blkio_read_iops: bool,
    pub blkio_write_iops: bool,
    /// Online CPUs and memory nodes (`0-3`), as the root cpuset lists them.
    pub cpus: String,
    pub mems: String,
}

impl Support {
    /// Everything supported; for tests, which must not depend on the host.
    pub fn all() -> Support {
        Support {
            v2: false,
            memory_limit: true,
            swap_limit: true,
            memory_reservation: true,
            memory_swappiness: true,
            kernel_memory: true,
            kernel_memory_tcp: true,
            oom_kill_disable: true,
            pids_limit: true,
            cpu_shares: true,
            cpu_cfs: true,
            cpu_realtime: true,
            cpuset: true,
            blkio_weight: true,
            blkio_weight_device: true,
            blkio_read_bps: true,
            blkio_write_bps: true,
            blkio_read_iops: true,
            blkio_write_iops: true,
            cpus: "0-1".into(),
            mems: "0".into(),
        }
    }

    /// This host's, probed once: controllers do not come and go while the
    /// daemon runs.
    pub fn host() -> &'static Support {
        static HOST: OnceLock<Support> = OnceLock::new();
        HOST.get_or_init(|| detect_support(Path::new(DEFAULT_ROOT)))
    }
}

fn read_trimmed(p: &Path) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Reads what the cgroup tree at `root` (normally `/sys/fs/cgroup`) offers.
pub fn detect_support(root: &Path) -> Support {
    let has = |p: &str| root.join(p).exists();
    match detect(root) {
        CgroupVersion::V1 => Support {
            v2: false,
            memory_limit: has("memory/memory.limit_in_bytes"),
            swap_limit: has("memory/memory.memsw.limit_in_bytes"),
            memory_reservation: has("memory/memory.soft_limit_in_bytes"),
            memory_swappiness: has("memory/memory.swappiness"),
            kernel_memory: has("memory/memory.kmem.limit_in_bytes"),
            kernel_memory_tcp: has("memory/memory.kmem.tcp.limit_in_bytes"),
            oom_kill_disable: has("memory/memory.oom_control"),
            pids_limit: has("pids"),
            cpu_shares: has("cpu/cpu.shares"),
            cpu_cfs: has("cpu/cpu.cfs_quota_us"),
            cpu_realtime: has("cpu/cpu.rt_period_us"),
            cpuset: has("cpuset/cpuset.cpus"),
            blkio_weight: has("blkio/blkio.weight") || has("blkio/blkio.bfq.weight"),
            blkio_weight_device: has("blkio/blkio.weight_device")
                || has("blkio/blkio.bfq.weight_device"),
            blkio_read_bps: has("blkio/blkio.throttle.read_bps_device"),
            blkio_write_bps: has("blkio/blkio.throttle.write_bps_device"),
            blkio_read_iops: has("blkio/blkio.throttle.read_iops_device"),
            blkio_write_iops: has("blkio/blkio.throttle.write_iops_device"),
            cpus: read_trimmed(&root.join("cpuset/cpuset.cpus")),
            mems: read_trimmed(&root.join("cpuset/cpuset.mems")),
        },
        CgroupVersion::V2 => {
            // The root lists the controllers; the limit files exist only in
            // children, so a controller's presence is what counts. v2 has
            // no swappiness, kernel memory, realtime or OOM-kill switch.
            let controllers = read_trimmed(&root.join("cgroup.controllers"));
            let on = |c: &str| controllers.split_whitespace().any(|x| x == c);
            let (memory, io) = (on("memory"), on("io"));
            let mut cpus = read_trimmed(&root.join("cpuset.cpus.effective"));
            if cpus.is_empty() {
                cpus = read_trimmed(Path::new("/sys/devices/system/cpu/online"));
            }
            Support {
                v2: true,
                memory_limit: memory,
                swap_limit: memory && swap_accounted(root),
                memory_reservation: memory,
                pids_limit: on("pids"),
                cpu_shares: on("cpu"),
                cpu_cfs: on("cpu"),
                cpuset: on("cpuset"),
                blkio_weight: io,
                blkio_weight_device: io,
                blkio_read_bps: io,
                blkio_write_bps: io,
                blkio_read_iops: io,
                blkio_write_iops: io,
                cpus,
                mems: read_trimmed(&root.join("cpuset.mems.effective")),
                ..Default::default()
            }
        }
    }
}

/// Whether the kernel limits swap per cgroup (`memory.swap.max`): not so
/// without swap accounting (`swapaccount=0`, `cgroup.memory=noswap`, a kernel
/// built without it). The file is in every child with the memory controller
/// and never in the root, so a child is asked; with none yet, the memory
/// controller's presence has to do.
fn swap_accounted(root: &Path) -> bool {
    let Ok(entries) = fs::read_dir(root) else {
        return true;
    };
    entries
        .flatten()
        .map(|e| e.path())
        .find(|dir| dir.join("memory.max").exists())
        .is_none_or(|dir| dir.join("memory.swap.max").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_files_decide() {
        let root = tempfile::tempdir().unwrap();
        for (f, content) in [
            ("blkio/blkio.throttle.read_bps_device", ""),
            ("memory/memory.swappiness", ""),
            ("memory/memory.limit_in_bytes", ""),
            ("cpu/cpu.rt_period_us", ""),
            ("cpuset/cpuset.cpus", "0-3\n"),
        ] {
            let p = root.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        let s = detect_support(root.path());
        assert!(s.blkio_read_bps && s.memory_swappiness && s.cpu_realtime && s.memory_limit);
        assert!(!s.blkio_weight && !s.blkio_write_bps && !s.kernel_memory && !s.swap_limit);
        assert!(!s.v2);
        assert_eq!(s.cpus, "0-3");
    }

    #[test]
    fn v2_controllers_decide() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "cpu io memory\n").unwrap();
        fs::write(root.path().join("cpuset.cpus.effective"), "0-1\n").unwrap();
        let s = detect_support(root.path());
        assert!(s.v2 && s.blkio_weight && s.blkio_write_iops && s.memory_limit && s.cpu_cfs);
        assert!(!s.memory_swappiness && !s.oom_kill_disable && !s.cpuset && !s.pids_limit);
        assert_eq!(s.cpus, "0-1");
    }

    #[test]
    fn v2_swap_limit_needs_swap_accounting() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "memory\n").unwrap();
        // No child yet: the memory controller decides.
        assert!(detect_support(root.path()).swap_limit);
        let child = root.path().join("system.slice");
        fs::create_dir(&child).unwrap();
        fs::write(child.join("memory.max"), "max\n").unwrap();
        let s = detect_support(root.path());
        assert!(s.memory_limit && !s.swap_limit);
        fs::write(child.join("memory.swap.max"), "max\n").unwrap();
        assert!(detect_support(root.path()).swap_limit);
    }
}
