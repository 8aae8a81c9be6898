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

/// `--device HOST[:CONTAINER[:PERMISSIONS]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    /// Some of `rwm`.
    pub cgroup_permissions: String,
}

fn device_type(meta: &fs::Metadata) -> Option<LinuxDeviceType> {
    let ft = meta.file_type();
    if ft.is_char_device() {
        Some(LinuxDeviceType::C)
    } else if ft.is_block_device() {
        Some(LinuxDeviceType::B)
    } else {
        None
    }
}

/// The device node at `host` (not followed), as `path` in the container.
fn device_at(host: &Path, path: &str) -> Result<Option<LinuxDevice>> {
    let meta = fs::symlink_metadata(host).map_err(|e| Error::io(host, e))?;
    let Some(typ) = device_type(&meta) else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    LinuxDeviceBuilder::default()
        .path(PathBuf::from(path))
        .typ(typ)
        .major(nix::sys::stat::major(rdev) as i64)
        .minor(nix::sys::stat::minor(rdev) as i64)
        .file_mode(meta.mode() & 0o7777)
        .uid(meta.uid())
        .gid(meta.gid())
        .build()
        .map(Some)
        .map_err(|e| Error::invalid(format!("device {}: {e}", host.display())))
}

fn allow(dev: &LinuxDevice, access: &str) -> Result<LinuxDeviceCgroup> {
    LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(dev.typ())
        .major(dev.major())
        .minor(dev.minor())
        .access(access)
        .build()
        .map_err(|e| Error::invalid(format!("device rule: {e}")))
}

/// Docker's `DevicesFromPath`: the node at the host path (a symlink is
/// resolved first), or every node under it if it is a directory, each with
/// a cgroup rule allowing `permissions`.
pub fn devices_from_path(m: &DeviceMapping) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>)> {
    let host = Path::new(&m.path_on_host);
    let resolved = match fs::symlink_metadata(host) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf())
        }
        _ => host.to_path_buf(),
    };
    let fail = |why: String| {
        Error::invalid(format!(
            "error gathering device information while adding custom device {:?}: {why}",
            m.path_on_host
        ))
    };
    let found = match device_at(&resolved, &m.path_in_container) {
        Ok(Some(dev)) => vec![dev],
        Ok(None) if resolved.is_dir() => {
            let mut devs = Vec::new();
            walk(&resolved, &mut devs)?;
            let prefix = resolved.to_string_lossy().into_owned();
            for d in devs.iter_mut() {
                let p = d
                    .path()
                    .to_string_lossy()
                    .replacen(&prefix, &m.path_in_container, 1);
                d.set_path(PathBuf::from(p));
            }
            devs
        }
        Ok(None) => Vec::new(),
        Err(Error::Io { source, .. }) => return Err(fail(go_error(&source))),
        Err(e) => return Err(e),
    };
    if found.is_empty() {
        return Err(fail("not a device node".into()));
    }
    let rules = found
        .iter()
        .map(|d| allow(d, &m.cgroup_permissions))
        .collect::<Result<Vec<_>>>()?;
    Ok((found, rules))
}

/// An OS error as Go prints it (`no such file or directory`).
fn go_error(e: &std::io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    let desc = nix::errno::Errno::from_raw(n).desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => desc.to_string(),
    }
}

/// `--device-cgroup-rule 'c 1:3 rwm'` (`*` for any major or minor).
pub fn cgroup_rule(rule: &str) -> Result<LinuxDeviceCgroup> {
    let bad = || Error::invalid(format!("invalid device cgroup rule format: '{rule}'"));
    let parts: Vec<&str> = rule.split(' ').collect();
    let [typ, numbers, access] = parts.as_slice() else {
        return Err(bad());
    };
    let typ = match *typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<i64> {
        if n == "*" {
            return Ok(-1);
        }
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        n.parse().map_err(|_| bad())
    };
    let (major, minor) = (number(major)?, number(minor)?);
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .major(major)
        .minor(minor)
        .access(access.to_string())
        .build()
        .map_err(|e| Error::invalid(format!("device rule: {e}")))
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
        if device_type(&meta).is_none() {
            continue;
        }
        if let Some(dev) = device_at(&path, &path.to_string_lossy())? {
            out.push(dev);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_mapping_and_rules() {
        let m = DeviceMapping {
            path_on_host: "/dev/null".into(),
            path_in_container: "/dev/mynull".into(),
            cgroup_permissions: "rw".into(),
        };
        let (devs, rules) = devices_from_path(&m).unwrap();
        assert_eq!(devs.len(), 1);
        assert_eq!(devs[0].path(), Path::new("/dev/mynull"));
        assert_eq!((devs[0].major(), devs[0].minor()), (1, 3));
        assert_eq!(rules[0].access().as_deref(), Some("rw"));
        let m = DeviceMapping {
            path_on_host: "/etc/hostname".into(),
            ..m
        };
        assert_eq!(
            devices_from_path(&m).unwrap_err().to_string(),
            "error gathering device information while adding custom device \"/etc/hostname\": not a device node"
        );
        let m = DeviceMapping {
            path_on_host: "/nonexistent".into(),
            ..m
        };
        assert_eq!(
            devices_from_path(&m).unwrap_err().to_string(),
            "error gathering device information while adding custom device \"/nonexistent\": no such file or directory"
        );
        // A directory maps every node under it.
        let m = DeviceMapping {
            path_on_host: "/dev/pts".into(),
            path_in_container: "/dev/mypts".into(),
            cgroup_permissions: "rwm".into(),
        };
        let (devs, rules) = devices_from_path(&m).unwrap();
        assert!(devs
            .iter()
            .any(|d| d.path() == Path::new("/dev/mypts/ptmx")));
        assert_eq!(devs.len(), rules.len());
        let r = cgroup_rule("c 1:* rwm").unwrap();
        assert_eq!((r.major(), r.minor()), (Some(1), Some(-1)));
        for bad in ["c 1:3", "x 1:3 rwm", "c 1:3 rwx", "c a:3 r", "c 1:3  r"] {
            assert_eq!(
                cgroup_rule(bad).unwrap_err().to_string(),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
    }

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
