//! The resource limits `run`/`create` and `update` share (docker declares
//! them twice; here they are declared once and flattened into both).

use clap::Args;

use crate::cli::parsers;

/// CPU, memory and pids limits.
#[derive(Debug, Clone, Default, Args)]
pub struct ResourceOpts {
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_parser = parsers::int64, default_value = "0")]
    pub cpu_period: i64,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_parser = parsers::int64, default_value = "0", allow_hyphen_values = true)]
    pub cpu_quota: i64,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_parser = parsers::int64, default_value = "0")]
    pub cpu_shares: i64,
    /// Number of CPUs
    #[arg(long = "cpus", value_parser = parsers::nano_cpus, default_value = "0")]
    pub cpus: i64,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", default_value = "")]
    pub cpuset_cpus: String,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", default_value = "")]
    pub cpuset_mems: String,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_parser = parsers::mem_bytes, default_value = "0")]
    pub memory: i64,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_parser = parsers::mem_bytes, default_value = "0")]
    pub memory_reservation: i64,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_parser = parsers::mem_swap, default_value = "0", allow_hyphen_values = true)]
    pub memory_swap: i64,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_parser = parsers::int64, default_value = "0", allow_hyphen_values = true)]
    pub pids_limit: i64,
}
