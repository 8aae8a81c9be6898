//! `/proc/self/mountinfo`: the mounts the kernel has, for the propagation
//! check and for finding mounts that a crashed daemon left behind.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One line of mountinfo: mount point and optional fields.
pub(crate) struct MountLine {
    pub mount_point: String,
    pub optional: Vec<String>,
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

pub(crate) fn parse(mountinfo: &str) -> Vec<MountLine> {
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

pub(crate) fn read() -> Result<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("/proc/self/mountinfo", e))
}

fn under_in(mountinfo: &str, prefix: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = parse(mountinfo)
        .into_iter()
        .map(|l| PathBuf::from(l.mount_point))
        .filter(|p| p.starts_with(prefix) && p != prefix)
        .collect();
    // Deepest first, so each can be unmounted in order; once each.
    out.sort_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

/// Every mount point strictly below `prefix`, deepest first.
pub fn mount_points_under(prefix: &Path) -> Result<Vec<PathBuf>> {
    Ok(under_in(&read()?, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_under_a_prefix_deepest_first() {
        let info = "\
22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:40 / /var/lib/berth/image/rw/abc/merged rw - overlay overlay rw
31 22 0:41 / /var/lib/berth rw - tmpfs tmpfs rw
32 30 0:42 / /var/lib/berth/image/rw/abc/merged/dev rw - tmpfs tmpfs rw
33 22 0:43 / /var/lib/berthx/y rw - tmpfs tmpfs rw
34 22 0:44 / /var/lib/berth/a\\040b rw - tmpfs tmpfs rw
";
        let got = under_in(info, Path::new("/var/lib/berth"));
        let want: Vec<PathBuf> = [
            "/var/lib/berth/image/rw/abc/merged/dev",
            "/var/lib/berth/image/rw/abc/merged",
            "/var/lib/berth/a b",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(got, want);
    }
}
