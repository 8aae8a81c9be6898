//! The kernel's side: mounting a volume's filesystem on its `_data`, and
//! asking whether something is mounted there. Behind a trait so that the
//! root's bookkeeping is tested without root.

use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::error::{Error, Result};
use crate::options::MountSpec;

pub trait Mounter: Send + Sync {
    fn mount(&self, spec: &MountSpec, target: &Path) -> Result<()>;
    fn unmount(&self, target: &Path) -> Result<()>;
    /// Mount points at `path` or below it.
    fn mounts_under(&self, path: &Path) -> Result<Vec<PathBuf>>;
}

/// The running kernel.
pub struct Kernel;

impl Mounter for Kernel {
    fn mount(&self, spec: &MountSpec, target: &Path) -> Result<()> {
        let fail = |e: nix::Error| Error::Mount(format!("failed to mount local volume: {e}"));
        let data = (!spec.data.is_empty()).then_some(spec.data.as_str());
        if spec.is_bind() {
            let bind = spec.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
            mount(
                Some(spec.source.as_str()),
                target,
                None::<&str>,
                bind,
                None::<&str>,
            )
            .map_err(fail)?;
            // A bind takes its other flags (ro, nosuid, ...) only on a remount.
            let rest = spec.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
            if !rest.is_empty() {
                let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | rest;
                if let Err(e) = mount(None::<&str>, target, None::<&str>, remount, None::<&str>) {
                    let _ = umount2(target, MntFlags::MNT_DETACH);
                    return Err(fail(e));
                }
            }
            return Ok(());
        }
        mount(
            Some(spec.source.as_str()),
            target,
            Some(spec.fstype.as_str()),
            spec.flags,
            data,
        )
        .map_err(fail)
    }

    fn unmount(&self, target: &Path) -> Result<()> {
        match umount2(target, MntFlags::empty()) {
            Ok(()) | Err(nix::Error::EINVAL) => Ok(()),
            Err(e) => Err(Error::Mount(format!(
                "unmounting {}: {e}",
                target.display()
            ))),
        }
    }

    fn mounts_under(&self, path: &Path) -> Result<Vec<PathBuf>> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
        Ok(parse_under(&text, path))
    }
}

/// Undoes the kernel's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1..i + 4)
                .is_some_and(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_under(mountinfo: &str, path: &Path) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .filter(|p| p.starts_with(path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    40 22 0:50 / /var/lib/berth/volumes/v\\040x/_data rw - tmpfs tmpfs rw\n\
                    41 22 0:51 / /var/lib/berth/volumes/vx rw - tmpfs tmpfs rw\n";
        assert_eq!(
            parse_under(text, Path::new("/var/lib/berth/volumes/v x")),
            vec![PathBuf::from("/var/lib/berth/volumes/v x/_data")]
        );
        assert!(parse_under(text, Path::new("/var/lib/berth/volumes/v")).is_empty());
    }
}
