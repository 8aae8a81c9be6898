//! `GET /containers/{id}/stats`: docker's stats JSON from the container's
//! cgroup (v1 or v2, through berth-runtime's `CgroupManager`).
//!
//! docker's one-shot answer sleeps a second to fill `precpu_stats`. berth
//! keeps the previous sample of each container instead and answers at
//! once: `precpu_stats` is that sample, or, on the first call, the
//! container's start (no CPU used, the system's counter as it was then), so
//! the first CPU % is the average since the start rather than a made-up 0.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use berth_runtime::cgroups::{CgroupStats, CpuStats};
use serde::Serialize;

use super::{Container, ContainerService};
use crate::error::Result;
use crate::locks::IgnorePoison;
use crate::timefmt;

/// A kept sample is replaced once the new one is at least this much newer,
/// so two calls in quick succession still see a meaningful interval.
const MIN_INTERVAL: Duration = Duration::from_millis(500);
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// What the daemon keeps between calls.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    read: SystemTime,
    cpu: CpuStats,
    system_cpu: u64,
    online_cpus: u32,
}

#[derive(Debug, Serialize)]
pub struct Stats {
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsJson,
    pub blkio_stats: BlkioJson,
    pub num_procs: u32,
    pub storage_stats: BTreeMap<String, u64>,
    pub cpu_stats: CpuJson,
    pub precpu_stats: CpuJson,
    pub memory_stats: MemoryJson,
    pub name: String,
    pub id: String,
    /// Per interface of the container's namespace, lo left out; absent
    /// for a container without one of its own (`none`, `host`), as docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<BTreeMap<String, NetJson>>,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct NetJson {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// `/proc/<pid>/net/dev`: the counters of the namespace `pid` is in.
fn parse_net_dev(text: &str) -> BTreeMap<String, NetJson> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name == "lo" {
            continue;
        }
        let n: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if n.len() < 12 {
            continue;
        }
        out.insert(
            name.to_string(),
            NetJson {
                rx_bytes: n[0],
                rx_packets: n[1],
                rx_errors: n[2],
                rx_dropped: n[3],
                tx_bytes: n[8],
                tx_packets: n[9],
                tx_errors: n[10],
                tx_dropped: n[11],
            },
        );
    }
    out
}

#[derive(Debug, Default, Serialize)]
pub struct PidsJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct BlkioEntryJson {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioJson {
    pub io_service_bytes_recursive: Option<Vec<BlkioEntryJson>>,
    pub io_serviced_recursive: Option<Vec<BlkioEntryJson>>,
    pub io_queue_recursive: Option<Vec<BlkioEntryJson>>,
    pub io_service_time_recursive: Option<Vec<BlkioEntryJson>>,
    pub io_wait_time_recursive: Option<Vec<BlkioEntryJson>>,
    pub io_merged_recursive: Option<Vec<BlkioEntryJson>>,
    pub io_time_recursive: Option<Vec<BlkioEntryJson>>,
    pub sectors_recursive: Option<Vec<BlkioEntryJson>>,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsageJson {
    pub total_usage: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct ThrottlingJson {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuJson {
    pub cpu_usage: CpuUsageJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_cpu_usage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online_cpus: Option<u32>,
    pub throttling_data: ThrottlingJson,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_usage: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failcnt: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl CpuJson {
    fn from_sample(s: &Sample) -> CpuJson {
        CpuJson {
            cpu_usage: CpuUsageJson {
                total_usage: s.cpu.usage_total,
                percpu_usage: (!s.cpu.per_cpu.is_empty()).then(|| s.cpu.per_cpu.clone()),
                usage_in_kernelmode: s.cpu.usage_system,
                usage_in_usermode: s.cpu.usage_user,
            },
            system_cpu_usage: Some(s.system_cpu),
            online_cpus: Some(s.online_cpus),
            throttling_data: ThrottlingJson {
                periods: s.cpu.throttling_periods,
                throttled_periods: s.cpu.throttled_periods,
                throttled_time: s.cpu.throttled_time,
            },
        }
    }
}

/// The host's CPU time in nanoseconds, docker's `system_cpu_usage`: the
/// first seven fields of /proc/stat's `cpu` line, in USER_HZ ticks.
fn system_cpu_usage() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    parse_system_cpu(&stat, clock_ticks())
}

fn parse_system_cpu(stat: &str, hz: u64) -> u64 {
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks.saturating_mul(NANOS_PER_SEC) / hz.max(1)
}

fn clock_ticks() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

fn online_cpus() -> u32 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN) {
        Ok(Some(n)) if n > 0 => n as u32,
        _ => 1,
    }
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The sample a container had at its start: no CPU used yet.
fn start_sample(started_at: &str, now: &Sample) -> Option<Sample> {
    let started = timefmt::parse(started_at)?;
    let read = SystemTime::from(started);
    if read < SystemTime::UNIX_EPOCH {
        return None;
    }
    let elapsed = now.read.duration_since(read).ok()?;
    let host_elapsed = elapsed.as_nanos() as u64 * now.online_cpus as u64;
    Some(Sample {
        read,
        cpu: CpuStats::default(),
        system_cpu: now.system_cpu.saturating_sub(host_elapsed),
        online_cpus: now.online_cpus,
    })
}

impl ContainerService {
    /// One stats object for the container, from a fresh sample and the kept
    /// one. A container that is not running gets docker's empty stats.
    pub fn stats(&self, name_or_id: &str) -> Result<Stats> {
        let c = self.get(name_or_id)?;
        self.stats_of(&c)
    }

    pub(super) fn stats_of(&self, c: &Container) -> Result<Stats> {
        let rec = c.snapshot();
        let mut out = Stats {
            read: super::record::ZERO_TIME.into(),
            preread: super::record::ZERO_TIME.into(),
            pids_stats: PidsJson::default(),
            blkio_stats: BlkioJson::default(),
            num_procs: 0,
            storage_stats: BTreeMap::new(),
            cpu_stats: CpuJson::default(),
            precpu_stats: CpuJson::default(),
            memory_stats: MemoryJson::default(),
            name: format!("/{}", rec.name),
            id: rec.id.clone(),
            networks: None,
        };
        if !rec.state.status.is_live() {
            return Ok(out);
        }
        if rec.sandbox.is_some() && rec.state.pid > 0 {
            out.networks = std::fs::read_to_string(format!("/proc/{}/net/dev", rec.state.pid))
                .ok()
                .map(|t| parse_net_dev(&t));
        }
        let Some(cg) = self.cgroup_of(&rec) else {
            return Ok(out);
        };
        let CgroupStats {
            cpu,
            memory,
            pids,
            blkio,
        } = cg.stats()?;
        let now = Sample {
            read: SystemTime::now(),
            cpu,
            system_cpu: system_cpu_usage(),
            online_cpus: online_cpus(),
        };
        let previous = {
            let mut kept = c.stats_sample.locked();
            let previous = kept
                .clone()
                .or_else(|| start_sample(&rec.state.started_at, &now));
            let stale = kept.as_ref().is_none_or(|k| {
                now.read
                    .duration_since(k.read)
                    .is_ok_and(|d| d >= MIN_INTERVAL)
            });
            if stale {
                *kept = Some(now.clone());
            }
            previous
        };
        out.read = rfc3339(now.read);
        out.cpu_stats = CpuJson::from_sample(&now);
        if let Some(p) = &previous {
            out.preread = rfc3339(p.read);
            out.precpu_stats = CpuJson::from_sample(p);
        }
        out.pids_stats = PidsJson {
            current: Some(pids.current),
            limit: pids.limit,
        };
        out.blkio_stats.io_service_bytes_recursive = Some(
            blkio
                .io_service_bytes
                .into_iter()
                .map(|e| BlkioEntryJson {
                    major: e.major,
                    minor: e.minor,
                    op: e.op,
                    value: e.value,
                })
                .collect(),
        );
        let host = crate::system::mem_total();
        out.memory_stats = MemoryJson {
            usage: Some(memory.usage),
            max_usage: memory.max_usage,
            stats: Some(memory.stats),
            failcnt: memory.failcnt,
            limit: Some(memory.limit.map_or(host, |l| l.min(host.max(1)))),
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_counters_without_lo() {
        let t = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:     586       7    1    2    0     0          0         0       10       3    4    5    0     0       0          0\n";
        let m = parse_net_dev(t);
        assert_eq!(m.len(), 1);
        assert_eq!(
            m["eth0"],
            NetJson {
                rx_bytes: 586,
                rx_packets: 7,
                rx_errors: 1,
                rx_dropped: 2,
                tx_bytes: 10,
                tx_packets: 3,
                tx_errors: 4,
                tx_dropped: 5
            }
        );
    }

    #[test]
    fn system_cpu_from_proc_stat() {
        let stat = "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\n";
        // 100+2+30+400+5+6+7 ticks at 100 Hz.
        assert_eq!(parse_system_cpu(stat, 100), 550 * 10_000_000);
        assert_eq!(parse_system_cpu("intr 1\n", 100), 0);
    }

    #[test]
    fn first_precpu_is_the_start() {
        let now = Sample {
            read: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000),
            cpu: CpuStats::default(),
            system_cpu: 50 * NANOS_PER_SEC,
            online_cpus: 2,
        };
        let s = start_sample("1970-01-01T00:16:30Z", &now).unwrap();
        // 10 s ago on 2 CPUs: 20 s of host CPU time earlier.
        assert_eq!(s.system_cpu, 30 * NANOS_PER_SEC);
        assert_eq!(s.cpu.usage_total, 0);
        assert!(start_sample("0001-01-01T00:00:00Z", &now).is_none());
    }

    #[test]
    fn host_memory_is_known() {
        assert!(crate::system::mem_total() > 0);
    }
}
