//! Mount namespaces for reaching a container's files from the daemon
//! (`docker cp`, `docker export`): join a running container's namespace, or
//! make a private one with a stopped container's binds over its rootfs.
//!
//! Threat model: the rootfs is the container's, so any path in it may be a
//! symlink aimed at the host. Bind targets are resolved inside the rootfs
//! (`openat2` with `RESOLVE_IN_ROOT`, no magic links) and mounted on through
//! the resolved descriptor, never by a path the kernel walks again, so a
//! symlink cannot carry a mount out of the rootfs.
//!
//! Both calls change only the calling thread's view (its filesystem
//! attributes are unshared first), and for good: run them on a thread of
//! its own that is never reused, and the daemon's other threads keep the
//! host's mounts. A private namespace and its mounts vanish with the thread.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::spec::BindMount;

/// The mount namespace of the process `pid`, to [`enter`] later.
pub fn open(pid: i64) -> Result<OwnedFd> {
    let path = format!("/proc/{pid}/ns/mnt");
    nix::fcntl::open(
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(path, e.into()))
}

/// Moves the calling thread into the mount namespace `ns`.
pub fn enter(ns: &OwnedFd) -> Result<()> {
    unshare(CloneFlags::CLONE_FS)
        .and_then(|()| setns(ns, CloneFlags::CLONE_NEWNS))
        .map_err(failed("enter the container's mount namespace"))
}

/// Gives the calling thread a private mount namespace with `binds` mounted
/// over the rootfs at `root`, shallowest first. A target missing from the
/// rootfs is skipped: the runtime creates mount points only when it starts
/// the container.
pub fn private_with_binds(root: &Path, binds: &[BindMount]) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(failed("unshare the mount namespace"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(failed("make mounts private"))?;
    let rootfd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(failed("open the rootfs"))?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut sorted: Vec<&BindMount> = binds.iter().collect();
    sorted.sort_by_key(|b| b.destination.matches('/').count());
    for b in sorted {
        let Ok(target) = openat2(rootfd.as_fd(), b.destination.as_str(), how) else {
            continue;
        };
        let at = format!("/proc/thread-self/fd/{}", target.as_raw_fd());
        mount(
            Some(&b.source),
            at.as_str(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(failed(&format!("mount {}", b.destination)))?;
        if b.readonly {
            // The new mount, not the one under it: open the target again.
            let over = openat2(rootfd.as_fd(), b.destination.as_str(), how)
                .map_err(failed(&format!("open {}", b.destination)))?;
            let at = format!("/proc/thread-self/fd/{}", over.as_raw_fd());
            mount(
                None::<&str>,
                at.as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(failed(&format!("remount {} read-only", b.destination)))?;
        }
    }
    Ok(())
}

fn failed(what: &str) -> impl FnOnce(nix::Error) -> Error {
    let what = what.to_string();
    move |source| Error::MountNamespace { what, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn binds_land_inside_the_rootfs_and_vanish_with_the_thread() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipping: needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (root, host, src) = (
            t.path().join("root"),
            t.path().join("host"),
            t.path().join("src"),
        );
        for d in [&root.join("data"), &host, &src] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(src.join("marker"), "x").unwrap();
        // Absolute, aimed at the host: followed on the host it would land
        // in `host`; inside the rootfs it names nothing.
        std::os::unix::fs::symlink(&host, root.join("evil")).unwrap();
        let bind = |destination: &str, readonly| BindMount {
            source: src.clone(),
            destination: destination.into(),
            readonly,
            ..Default::default()
        };
        let binds = vec![bind("/evil", false), bind("/data", true)];
        let (root2, host2) = (root.clone(), host.clone());
        let seen = std::thread::spawn(move || {
            private_with_binds(&root2, &binds).unwrap();
            (
                root2.join("data/marker").exists(),
                fs::write(root2.join("data/new"), "y").is_err(),
                host2.join("marker").exists(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(seen, (true, true, false));
        assert!(!root.join("data/marker").exists());
        assert!(!src.join("new").exists());
    }
}
