//! The `/dev/shm` of an `--ipc shareable` container: a tmpfs mounted on the
//! host in a directory the daemon owns (not inside the rootfs, where runc's
//! `/dev` tmpfs would hide it), bound into the container and into every
//! container that joins its IPC namespace. The engine unmounts it when the
//! container stops.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};

/// Whether a filesystem other than its parent's is mounted on `dir`.
pub fn is_mounted(dir: &Path) -> bool {
    let (Ok(d), Some(Ok(p))) = (
        fs::symlink_metadata(dir),
        dir.parent().map(fs::symlink_metadata),
    ) else {
        return false;
    };
    d.is_dir() && d.dev() != p.dev()
}

/// Mounts a tmpfs of `size` bytes on `dir` (created if missing) unless one
/// is there already.
pub fn mount_shareable(dir: &Path, size: i64) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if is_mounted(dir) {
        return Ok(());
    }
    mount(
        Some("shm"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOEXEC | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,size={size}").as_str()),
    )
    .map_err(|e| Error::invalid(format!("mounting shm tmpfs: {e}")))
}

/// Detaches the tmpfs on `dir`, if any; containers that bound it keep it.
pub fn unmount(dir: &Path) -> Result<()> {
    match umount2(dir, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::io(dir, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_directory_is_not_mounted() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shm");
        assert!(!is_mounted(&dir));
        fs::create_dir(&dir).unwrap();
        assert!(!is_mounted(&dir));
        unmount(&dir).unwrap();
    }
}
