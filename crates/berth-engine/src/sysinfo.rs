//! What the host's cgroups can limit, probed once: dockerd drops a resource
//! setting the kernel cannot apply (with a warning to the client) instead
//! of failing the container, and berth does the same with the same words.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysInfo {
    /// The unified hierarchy (cgroup v2).
    pub cgroup_v2: bool,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub memory_reservation: bool,
    pub memory_swappiness: bool,
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
    /// Online CPUs and memory nodes, as the root cpuset lists them.
    pub cpus: String,
    pub mems: String,
}

impl SysInfo {
    /// The host's, probed on first use.
    pub fn host() -> &'static SysInfo {
        static INFO: OnceLock<SysInfo> = OnceLock::new();
        INFO.get_or_init(|| SysInfo::probe(Path::new("/sys/fs/cgroup")))
    }

    pub fn probe(root: &Path) -> SysInfo {
        let controllers = fs::read_to_string(root.join("cgroup.controllers")).ok();
        match controllers {
            Some(c) => Self::probe_v2(root, &c),
            None => Self::probe_v1(root),
        }
    }

    fn probe_v1(root: &Path) -> SysInfo {
        let has = |ctrl: &str, file: &str| root.join(ctrl).join(file).exists();
        let read = |ctrl: &str, file: &str| {
            fs::read_to_string(root.join(ctrl).join(file))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        SysInfo {
            cgroup_v2: false,
            memory_limit: has("memory", "memory.limit_in_bytes"),
            swap_limit: has("memory", "memory.memsw.limit_in_bytes"),
            memory_reservation: has("memory", "memory.soft_limit_in_bytes"),
            memory_swappiness: has("memory", "memory.swappiness"),
            oom_kill_disable: has("memory", "memory.oom_control"),
            pids_limit: has("pids", "pids.max") || root.join("pids").is_dir(),
            cpu_shares: has("cpu", "cpu.shares"),
            cpu_cfs: has("cpu", "cpu.cfs_quota_us"),
            cpu_realtime: has("cpu", "cpu.rt_runtime_us"),
            cpuset: has("cpuset", "cpuset.cpus"),
            blkio_weight: has("blkio", "blkio.weight"),
            blkio_weight_device: has("blkio", "blkio.weight_device"),
            blkio_read_bps: has("blkio", "blkio.throttle.read_bps_device"),
            blkio_write_bps: has("blkio", "blkio.throttle.write_bps_device"),
            blkio_read_iops: has("blkio", "blkio.throttle.read_iops_device"),
            blkio_write_iops: has("blkio", "blkio.throttle.write_iops_device"),
            cpus: read("cpuset", "cpuset.cpus"),
            mems: read("cpuset", "cpuset.mems"),
        }
    }

    /// On v2 the root lists the controllers; the limit files live only in
    /// children, so a controller's presence is what counts (as in dockerd).
    fn probe_v2(root: &Path, controllers: &str) -> SysInfo {
        let on: BTreeSet<&str> = controllers.split_whitespace().collect();
        let read = |file: &str| {
            fs::read_to_string(root.join(file))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let io = on.contains("io");
        let memory = on.contains("memory");
        let mut cpus = read("cpuset.cpus.effective");
        if cpus.is_empty() {
            cpus = fs::read_to_string("/sys/devices/system/cpu/online")
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
        }
        SysInfo {
            cgroup_v2: true,
            memory_limit: memory,
            swap_limit: memory,
            memory_reservation: memory,
            memory_swappiness: false,
            oom_kill_disable: false,
            pids_limit: on.contains("pids"),
            cpu_shares: on.contains("cpu"),
            cpu_cfs: on.contains("cpu"),
            cpu_realtime: false,
            cpuset: on.contains("cpuset"),
            blkio_weight: io,
            blkio_weight_device: io,
            blkio_read_bps: io,
            blkio_write_bps: io,
            blkio_read_iops: io,
            blkio_write_iops: io,
            cpus,
            mems: read("cpuset.mems.effective"),
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn uint_lists_as_go_parses_them() {
        assert_eq!(parse_uint_list(""), Some(BTreeSet::new()));
        assert_eq!(parse_uint_list("0-2,4"), Some([0, 1, 2, 4].into()));
        assert_eq!(parse_uint_list("+1"), Some([1].into()));
        assert_eq!(parse_uint_list("2-1"), None);
        assert_eq!(parse_uint_list("a"), None);
        assert_eq!(parse_uint_list("1,"), None);
        assert_eq!(parse_uint_list("-1"), None);
    }

    #[test]
    fn probes_a_v1_tree() {
        let d = tempfile::tempdir().unwrap();
        for (ctrl, file) in [
            ("memory", "memory.limit_in_bytes"),
            ("cpu", "cpu.shares"),
            ("cpuset", "cpuset.cpus"),
        ] {
            fs::create_dir_all(d.path().join(ctrl)).unwrap();
            fs::write(d.path().join(ctrl).join(file), "0-3\n").unwrap();
        }
        let si = SysInfo::probe(d.path());
        assert!(si.memory_limit && si.cpu_shares && si.cpuset);
        assert!(!si.swap_limit && !si.cpu_realtime && !si.blkio_weight);
        assert_eq!(si.cpus, "0-3");
    }

    #[test]
    fn probes_a_v2_tree() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        fs::write(d.path().join("cpuset.cpus.effective"), "0-1\n").unwrap();
        let si = SysInfo::probe(d.path());
        assert!(si.memory_limit && si.swap_limit && si.cpu_cfs && si.blkio_weight);
        assert!(!si.memory_swappiness && !si.oom_kill_disable && !si.cpu_realtime);
        assert_eq!(si.cpus, "0-1");
    }
}
