//! cgroup v1: one hierarchy per controller (or group of controllers), the
//! container's cgroup at `<root>/<hierarchy>/<cgroupsPath>` in each.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    parse_flat_keyed, procs_recursive, read_opt, read_u64, remove_tree, BlkioEntry, BlkioStats,
    CgroupManager, CgroupStats, CpuStats, MemoryStats, PidsStats,
};
use crate::error::{Error, Result};

/// v1 reports "no limit" as the largest page-aligned i64.
const UNLIMITED_THRESHOLD: u64 = 0x7FFF_FFFF_FFFF_F000;

pub struct V1Manager {
    root: PathBuf,
    path: String,
    rel: PathBuf,
}

impl V1Manager {
    pub(crate) fn new(root: &Path, path: &str, rel: PathBuf) -> Self {
        V1Manager {
            root: root.to_path_buf(),
            path: path.to_string(),
            rel,
        }
    }

    /// The container's directory in the hierarchy that has `controller`
    /// (`cpuacct` may be a symlink to `cpu,cpuacct`).
    fn dir(&self, controller: &str) -> PathBuf {
        self.root.join(controller).join(&self.rel)
    }

    /// The mount points of all hierarchies: real directories under root,
    /// symlinks (`cpu` -> `cpu,cpuacct`) skipped so each counts once.
    fn hierarchies(&self) -> Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut out: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .map(|e| e.path())
            .collect();
        out.sort();
        Ok(out)
    }

    fn cpu(&self) -> Result<CpuStats> {
        let acct = self.dir("cpuacct");
        let mut cpu = CpuStats {
            usage_total: read_u64(&acct.join("cpuacct.usage"))?.unwrap_or(0),
            ..Default::default()
        };
        if let Some(s) = read_opt(&acct.join("cpuacct.usage_percpu"))? {
            cpu.per_cpu = s
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
        }
        if let Some(s) = read_opt(&acct.join("cpuacct.stat"))? {
            // USER_HZ ticks.
            let hz = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
                Ok(Some(t)) if t > 0 => t as u64,
                _ => 100,
            };
            let m = parse_flat_keyed(&s);
            let ns = |ticks: u64| ticks.saturating_mul(1_000_000_000) / hz;
            cpu.usage_user = ns(m.get("user").copied().unwrap_or(0));
            cpu.usage_system = ns(m.get("system").copied().unwrap_or(0));
        }
        if let Some(s) = read_opt(&self.dir("cpu").join("cpu.stat"))? {
            let m = parse_flat_keyed(&s);
            cpu.throttling_periods = m.get("nr_periods").copied().unwrap_or(0);
            cpu.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
            cpu.throttled_time = m.get("throttled_time").copied().unwrap_or(0);
        }
        Ok(cpu)
    }

    fn memory(&self) -> Result<MemoryStats> {
        let dir = self.dir("memory");
        let stats = read_opt(&dir.join("memory.stat"))?
            .map(|s| parse_flat_keyed(&s))
            .unwrap_or_default();
        Ok(MemoryStats {
            usage: read_u64(&dir.join("memory.usage_in_bytes"))?.unwrap_or(0),
            max_usage: read_u64(&dir.join("memory.max_usage_in_bytes"))?,
            limit: read_u64(&dir.join("memory.limit_in_bytes"))?
                .filter(|l| *l < UNLIMITED_THRESHOLD),
            failcnt: read_u64(&dir.join("memory.failcnt"))?,
            cache: stats.get("cache").copied().unwrap_or(0),
            inactive_file: stats.get("total_inactive_file").copied().unwrap_or(0),
            stats,
        })
    }

    fn pids(&self) -> Result<PidsStats> {
        let dir = self.dir("pids");
        Ok(PidsStats {
            current: read_u64(&dir.join("pids.current"))?.unwrap_or(0),
            limit: read_u64(&dir.join("pids.max"))?,
        })
    }

    fn blkio(&self) -> Result<BlkioStats> {
        let dir = self.dir("blkio");
        // CFQ/BFQ accounting if the scheduler has it, else the throttle layer's.
        for file in [
            "blkio.io_service_bytes_recursive",
            "blkio.bfq.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes",
        ] {
            if let Some(s) = read_opt(&dir.join(file))? {
                let entries = parse_blkio(&s);
                if !entries.is_empty() {
                    return Ok(BlkioStats {
                        io_service_bytes: entries,
                    });
                }
            }
        }
        Ok(BlkioStats::default())
    }
}

/// `8:0 Read 4096` lines; the closing `Total N` line is skipped.
fn parse_blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let op = it.next()?;
            let value = it.next()?.parse().ok()?;
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value,
            })
        })
        .collect()
}

impl CgroupManager for V1Manager {
    fn path(&self) -> &str {
        &self.path
    }

    fn procs(&self) -> Result<Vec<i32>> {
        // Every process is in every hierarchy; the first one present answers.
        for c in [
            "pids", "memory", "cpu", "cpuacct", "freezer", "devices", "systemd",
        ] {
            let dir = self.dir(c);
            if dir.is_dir() {
                let mut out = Vec::new();
                procs_recursive(&dir, &mut out)?;
                out.sort_unstable();
                out.dedup();
                return Ok(out);
            }
        }
        Ok(Vec::new())
    }

    fn oom_events_file(&self) -> PathBuf {
        self.dir("memory").join("memory.oom_control")
    }

    fn oom_killed(&self) -> Result<bool> {
        let Some(s) = read_opt(&self.oom_events_file())? else {
            return Ok(false);
        };
        Ok(parse_flat_keyed(&s).get("oom_kill").copied().unwrap_or(0) > 0)
    }

    fn remove(&self) -> Result<()> {
        for h in self.hierarchies()? {
            remove_tree(&h.join(&self.rel))?;
        }
        Ok(())
    }

    fn stats(&self) -> Result<CgroupStats> {
        Ok(CgroupStats {
            cpu: self.cpu()?,
            memory: self.memory()?,
            pids: self.pids()?,
            blkio: self.blkio()?,
        })
    }
}
