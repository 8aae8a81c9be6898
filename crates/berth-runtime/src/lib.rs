//! berth-runtime: what berth hands to the OCI runtime and how it drives it.
//!
//! - [`spec`]: a container's settings -> the OCI `config.json` dockerd would
//!   write (docker's defaults, capabilities, mounts, seccomp, resources), and
//!   `--user` resolution inside the image's rootfs.
//! - [`runtime`]: the [`runtime::OciRuntime`] trait, the runc driver and a
//!   recording test double.
//! - [`propagation`]: whether a bind's source can be shared or a slave.
//! - [`shm`]: the host-side `/dev/shm` tmpfs of an `--ipc shareable`
//!   container.
//! - [`cgroups`]: a container's cgroup on v1 or v2 (pids, OOM kills, stats,
//!   removal) behind [`cgroups::CgroupManager`].
//! - [`mountinfo`]: the kernel's mount table, read.
//! - [`mountns`]: into a container's mount namespace, or a private one with
//!   its binds, to reach its files from the daemon.

pub mod cgroups;
mod error;
mod fsutil;
pub mod mountinfo;
pub mod mountns;
pub mod propagation;
pub mod runtime;
pub mod shm;
pub mod spec;

pub use error::{Error, Result};
