//! Device nodes: docker's cgroup allow-list, and the host's devices that a
//! `--privileged` container gets (runc's `devices.HostDevices`).

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

use crate::error::{Error, Result};

fn rule(allow: bool, major: i64, minor: i64) -> Result<LinuxDeviceCgroup> {
    LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(LinuxDeviceType::C)
        .major(major)
        .minor(minor)
        .access("rwm")
        .build()
        .map_err(|e| Error::invalid(format!("device rule: {e}")))
}

/// Docker's default device cgroup rules: deny all, allow the standard
/// character devices, deny `/dev/fuse` (runc appends its own defaults).
pub(crate) fn default_rules() -> Result<Vec<LinuxDeviceCgroup>> {
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(|e| Error::invalid(format!("device rule: {e}")))?;
    Ok(vec![
        deny_all,
        rule(true, 1, 5)?,     // /dev/zero
        rule(true, 1, 3)?,     // /dev/null
        rule(true, 1, 9)?,     // /dev/urandom
        rule(true, 1, 8)?,     // /dev/random
        rule(true, 5, 0)?,     // /dev/tty
        rule(true, 5, 1)?,     // /dev/console
        rule(false, 10, 229)?, // /dev/fuse
    ])
}

/// `--privileged`: every device allowed.
pub(crate) fn privileged_rules() -> Result<Vec<LinuxDeviceCgroup>> {
    Ok(vec![LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .access("rwm")
        .build()
        .map_err(|e| {
            Error::invalid(format!("device rule: {e}"))
        })?])
}

/// The character and block devices under `dev` (normally `/dev`), skipping
/// what runc skips (`pts`, `shm`, `fd`, `mqueue`, LXC/udev dirs, `console`).
pub fn host_devices(dev: &Path) -> Result<Vec<LinuxDevice>> {
    let mut out = Vec::new();
    walk(dev, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<LinuxDevice>) -> Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Not following symlinks: the device itself is found under its real name.
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            if matches!(
                name,
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                continue;
            }
            walk(&path, out)?;
            continue;
        }
        if name == "console" {
            continue;
        }
        let typ = if ft.is_char_device() {
            LinuxDeviceType::C
        } else if ft.is_block_device() {
            LinuxDeviceType::B
        } else {
            continue;
        };
        let rdev = meta.rdev();
        let dev = LinuxDeviceBuilder::default()
            .path(path.clone())
            .typ(typ)
            .major(nix::sys::stat::major(rdev) as i64)
            .minor(nix::sys::stat::minor(rdev) as i64)
            .file_mode(meta.mode() & 0o7777)
            .uid(meta.uid())
            .gid(meta.gid())
            .build()
            .map_err(|e| Error::invalid(format!("device {}: {e}", path.display())))?;
        out.push(dev);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_devices_finds_null() {
        let devs = host_devices(Path::new("/dev")).unwrap();
        let null = devs
            .iter()
            .find(|d| d.path() == Path::new("/dev/null"))
            .expect("/dev/null");
        assert_eq!((null.major(), null.minor()), (1, 3));
        assert!(!devs.iter().any(|d| d.path().starts_with("/dev/pts")));
        assert!(host_devices(Path::new("/nonexistent-dev"))
            .unwrap()
            .is_empty());
    }
}
