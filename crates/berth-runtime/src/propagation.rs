//! dockerd's check that a bind with shared or slave propagation comes from
//! a mount that can propagate at all (`ensureShared`, `ensureSharedOrSlave`):
//! the source's mount point, from `/proc/self/mountinfo`, must be shared
//! (or a slave, for `slave`/`rslave`).

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::spec::Propagation;

/// One line of mountinfo: mount point and optional fields.
struct MountLine {
    mount_point: String,
    optional: Vec<String>,
}

/// Undoes the kernel's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
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

fn parse(mountinfo: &str) -> Vec<MountLine> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let sep = fields.iter().position(|f| *f == "-")?;
            if sep < 6 {
                return None;
            }
            Some(MountLine {
                mount_point: unescape(fields[4]),
                optional: fields[6..sep].iter().map(|s| s.to_string()).collect(),
            })
        })
        .collect()
}

fn is_parent(mount_point: &str, path: &str) -> bool {
    mount_point == "/"
        || path == mount_point
        || path
            .strip_prefix(mount_point)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The mount point holding `path` and its optional fields: the longest
/// parent (the first of equals, like dockerd).
fn source_mount<'a>(lines: &'a [MountLine], path: &str) -> Option<&'a MountLine> {
    let mut best: Option<&MountLine> = None;
    for l in lines.iter().filter(|l| is_parent(&l.mount_point, path)) {
        if best.is_none_or(|b| l.mount_point.len() > b.mount_point.len()) {
            best = Some(l);
        }
    }
    best
}

fn check_in(mountinfo: &str, path: &str, propagation: Propagation) -> Result<()> {
    let (need_shared, word) = match propagation {
        Propagation::Shared | Propagation::Rshared => (true, "a shared"),
        Propagation::Slave | Propagation::Rslave => (false, "a shared or slave"),
        _ => return Ok(()),
    };
    let lines = parse(mountinfo);
    let m = source_mount(&lines, path)
        .ok_or_else(|| Error::invalid(format!("Can't find mount point of {path}")))?;
    let has = |p: &str| m.optional.iter().any(|o| o.starts_with(p));
    if has("shared:") || (!need_shared && has("master:")) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "path {path} is mounted on {} but it is not {word} mount",
        m.mount_point
    )))
}

/// Checks that a bind of `source` can have `propagation` (a no-op for the
/// private modes).
pub fn check_bind_source(source: &Path, propagation: Propagation) -> Result<()> {
    if !matches!(
        propagation,
        Propagation::Shared | Propagation::Rshared | Propagation::Slave | Propagation::Rslave
    ) {
        return Ok(());
    }
    let real = fs::canonicalize(source).map_err(|e| Error::io(source, e))?;
    let info = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
    check_in(&info, &real.to_string_lossy(), propagation)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
23 22 0:20 / /srv rw shared:5 - tmpfs tmpfs rw
24 23 0:21 / /srv/slave rw master:7 - tmpfs tmpfs rw
25 22 0:22 / /with\\040space rw shared:9 - tmpfs tmpfs rw
";

    #[test]
    fn shared_and_slave_sources() {
        assert!(check_in(INFO, "/srv/x", Propagation::Rshared).is_ok());
        assert!(check_in(INFO, "/srv/slave/x", Propagation::Rslave).is_ok());
        assert!(check_in(INFO, "/with space/a", Propagation::Shared).is_ok());
        assert_eq!(
            check_in(INFO, "/srv/slave/x", Propagation::Shared)
                .unwrap_err()
                .to_string(),
            "path /srv/slave/x is mounted on /srv/slave but it is not a shared mount"
        );
        assert_eq!(
            check_in(INFO, "/srvfoo", Propagation::Slave)
                .unwrap_err()
                .to_string(),
            "path /srvfoo is mounted on / but it is not a shared or slave mount"
        );
        assert!(check_in(INFO, "/anything", Propagation::Rprivate).is_ok());
    }
}
