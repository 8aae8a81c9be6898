//! dockerd's check that a bind with shared or slave propagation comes from
//! a mount that can propagate at all (`ensureShared`, `ensureSharedOrSlave`):
//! the source's mount point, from `/proc/self/mountinfo`, must be shared
//! (or a slave, for `slave`/`rslave`).

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};
use crate::mountinfo::{parse, MountLine};
use crate::spec::Propagation;

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
    check_in(
        &crate::mountinfo::read()?,
        &real.to_string_lossy(),
        propagation,
    )
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
