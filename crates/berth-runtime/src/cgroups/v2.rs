//! cgroup v2: one unified tree, the container's cgroup at
//! `<root>/<cgroupsPath>`.

use std::path::{Path, PathBuf};

use super::{
    parse_flat_keyed, procs_recursive, read_opt, read_u64, remove_tree, BlkioEntry, BlkioStats,
    CgroupManager, CgroupStats, CpuStats, MemoryStats, PidsStats,
};
use crate::error::Result;

pub struct V2Manager {
    path: String,
    dir: PathBuf,
}

impl V2Manager {
    pub(crate) fn new(root: &Path, path: &str, rel: PathBuf) -> Self {
        V2Manager {
            path: path.to_string(),
            dir: root.join(rel),
        }
    }

    fn cpu(&self) -> Result<CpuStats> {
        let m = read_opt(&self.dir.join("cpu.stat"))?
            .map(|s| parse_flat_keyed(&s))
            .unwrap_or_default();
        let us = |k: &str| m.get(k).copied().unwrap_or(0).saturating_mul(1000);
        Ok(CpuStats {
            usage_total: us("usage_usec"),
            usage_user: us("user_usec"),
            usage_system: us("system_usec"),
            per_cpu: Vec::new(),
            throttling_periods: m.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: m.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: us("throttled_usec"),
        })
    }

    fn memory(&self) -> Result<MemoryStats> {
        let stats = read_opt(&self.dir.join("memory.stat"))?
            .map(|s| parse_flat_keyed(&s))
            .unwrap_or_default();
        Ok(MemoryStats {
            usage: read_u64(&self.dir.join("memory.current"))?.unwrap_or(0),
            max_usage: read_u64(&self.dir.join("memory.peak"))?,
            limit: read_u64(&self.dir.join("memory.max"))?,
            failcnt: None,
            cache: stats.get("file").copied().unwrap_or(0),
            inactive_file: stats.get("inactive_file").copied().unwrap_or(0),
            stats,
        })
    }

    fn pids(&self) -> Result<PidsStats> {
        Ok(PidsStats {
            current: read_u64(&self.dir.join("pids.current"))?.unwrap_or(0),
            limit: read_u64(&self.dir.join("pids.max"))?,
        })
    }

    fn blkio(&self) -> Result<BlkioStats> {
        let Some(s) = read_opt(&self.dir.join("io.stat"))? else {
            return Ok(BlkioStats::default());
        };
        Ok(BlkioStats {
            io_service_bytes: parse_io_stat(&s),
        })
    }
}

/// `8:0 rbytes=1 wbytes=2 rios=3 ...` -> Read/Write byte entries.
fn parse_io_stat(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((major, minor)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let op = match k {
                "rbytes" => "Read",
                "wbytes" => "Write",
                _ => continue,
            };
            if let Ok(value) = v.parse() {
                out.push(BlkioEntry {
                    major,
                    minor,
                    op: op.to_string(),
                    value,
                });
            }
        }
    }
    out
}

impl CgroupManager for V2Manager {
    fn path(&self) -> &str {
        &self.path
    }

    fn procs(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        procs_recursive(&self.dir, &mut out)?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn oom_events_file(&self) -> PathBuf {
        self.dir.join("memory.events")
    }

    fn oom_killed(&self) -> Result<bool> {
        let Some(s) = read_opt(&self.oom_events_file())? else {
            return Ok(false);
        };
        Ok(parse_flat_keyed(&s).get("oom_kill").copied().unwrap_or(0) > 0)
    }

    fn remove(&self) -> Result<()> {
        remove_tree(&self.dir)
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
