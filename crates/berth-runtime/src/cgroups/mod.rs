//! Reading and removing a container's cgroup (the one runc created from
//! `linux.cgroupsPath`), on cgroup v1 or v2 behind one trait.
//!
//! The mount root (`/sys/fs/cgroup`) is a parameter so that tests run on a
//! fake tree.

mod support;
mod v1;
mod v2;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use support::{detect_support, Support};
pub use v1::V1Manager;
pub use v2::V2Manager;

/// Where the cgroup filesystems are mounted.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// v2 (unified) if `root/cgroup.controllers` exists, else v1 (also for a
/// hybrid host, where runc uses the v1 hierarchies).
pub fn detect(root: &Path) -> CgroupVersion {
    if root.join("cgroup.controllers").exists() {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}

/// CPU usage in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    pub usage_total: u64,
    pub usage_user: u64,
    pub usage_system: u64,
    /// Per CPU (v1 `cpuacct.usage_percpu`); empty on v2.
    pub per_cpu: Vec<u64>,
    pub throttling_periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

/// Memory in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    pub usage: u64,
    /// v1 `memory.max_usage_in_bytes`, v2 `memory.peak` (if the kernel has it).
    pub max_usage: Option<u64>,
    /// `None`: unlimited.
    pub limit: Option<u64>,
    /// v1 `memory.failcnt`.
    pub failcnt: Option<u64>,
    /// Page cache (v1 `cache`, v2 `file`).
    pub cache: u64,
    /// v1 `total_inactive_file`, v2 `inactive_file` (docker subtracts it
    /// from usage).
    pub inactive_file: u64,
    /// The whole `memory.stat`.
    pub stats: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    pub current: u64,
    /// `None`: unlimited.
    pub limit: Option<u64>,
}

/// One line of `io_service_bytes` (`op`: Read, Write, Sync, Async, Discard,
/// Total on v1; Read, Write on v2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    pub io_service_bytes: Vec<BlkioEntry>,
}

/// What `docker stats` needs from a container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
}

/// One container's cgroup. Implementations for v1 and v2; callers never
/// branch on the version.
pub trait CgroupManager: Send + Sync {
    /// The `cgroupsPath` this manager looks at.
    fn path(&self) -> &str;
    /// Every pid in the cgroup and its descendants (empty if it is gone).
    fn procs(&self) -> Result<Vec<i32>>;
    /// Whether the kernel's OOM killer killed a process in it.
    fn oom_killed(&self) -> Result<bool>;
    /// The file whose `oom_kill N` line [`oom_killed`](Self::oom_killed)
    /// reads, for a process that checks it without this crate (the shim).
    fn oom_events_file(&self) -> PathBuf;
    /// Removes the cgroup (and any child cgroups) in every hierarchy; fine
    /// if it does not exist.
    fn remove(&self) -> Result<()>;
    fn stats(&self) -> Result<CgroupStats>;
}

/// The manager for `cgroups_path` under the cgroup mount `root`.
pub fn manager(root: &Path, cgroups_path: &str) -> Result<Box<dyn CgroupManager>> {
    let rel = validate_path(cgroups_path)?;
    Ok(match detect(root) {
        CgroupVersion::V1 => Box::new(V1Manager::new(root, cgroups_path, rel)),
        CgroupVersion::V2 => Box::new(V2Manager::new(root, cgroups_path, rel)),
    })
}

/// [`manager`] at `/sys/fs/cgroup`.
pub fn open(cgroups_path: &str) -> Result<Box<dyn CgroupManager>> {
    manager(Path::new(DEFAULT_ROOT), cgroups_path)
}

/// The names of the child cgroups of `parent` (a cgroupsPath such as
/// `/berth`) under the mount `root`, in any hierarchy: the containers' cgroups,
/// for finding the ones no container owns any more.
pub fn children(root: &Path, parent: &str) -> Result<BTreeSet<String>> {
    let rel = validate_path(parent)?;
    let dirs: Vec<PathBuf> = match detect(root) {
        CgroupVersion::V2 => vec![root.join(&rel)],
        CgroupVersion::V1 => {
            let hierarchies = match fs::read_dir(root) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
                Err(e) => return Err(Error::io(root, e)),
            };
            // Symlinked hierarchies (`cpu` -> `cpu,cpuacct`) are seen once.
            hierarchies
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path().join(&rel))
                .collect()
        }
    };
    let mut names = BTreeSet::new();
    for dir in dirs {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        names.extend(
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    Ok(names)
}

/// `cgroups_path` as a relative path; absolute, with no `..` or `.`.
fn validate_path(cgroups_path: &str) -> Result<PathBuf> {
    if !cgroups_path.starts_with('/') {
        return Err(Error::CgroupPath(cgroups_path.to_string()));
    }
    let mut rel = PathBuf::new();
    for c in cgroups_path.split('/').filter(|c| !c.is_empty()) {
        if c == "." || c == ".." || c.contains('\0') {
            return Err(Error::CgroupPath(cgroups_path.to_string()));
        }
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        return Err(Error::CgroupPath(cgroups_path.to_string()));
    }
    Ok(rel)
}

/// Reads a cgroup file; `Ok(None)` if it does not exist.
fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // ENODEV: the cgroup was removed while we read it.
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A single number (or `max`, as `None`).
fn read_u64(path: &Path) -> Result<Option<u64>> {
    let Some(s) = read_opt(path)? else {
        return Ok(None);
    };
    let s = s.trim();
    if s == "max" {
        return Ok(None);
    }
    s.parse::<u64>().map(Some).map_err(|_| {
        Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {s:?}")),
        )
    })
}

/// `key value` lines (`memory.stat`, `cpu.stat`, `memory.events`).
fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Pids of `dir`'s `cgroup.procs` and of every child cgroup's.
fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let Some(text) = read_opt(&dir.join("cgroup.procs"))? else {
        return Ok(());
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            procs_recursive(&e.path(), out)?;
        }
    }
    Ok(())
}

/// rmdir of `dir` after its child cgroups, retrying while the kernel still
/// reports it busy (exiting tasks). Absent is fine.
fn remove_tree(dir: &Path) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&e.path())?;
        }
    }
    let mut delay = std::time::Duration::from_millis(10);
    for attempt in 0..6 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 5 => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
