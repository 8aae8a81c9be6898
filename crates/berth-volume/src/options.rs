//! The local driver's options (`type`, `device`, `o`) and what berth makes
//! of them: a tmpfs, or a bind of a host path (`o=bind`), mounted on the
//! volume's `_data` at first use. Other filesystem types (nfs, cifs, a
//! block device) and `size` quotas are refused by name.

use std::collections::BTreeMap;

use nix::mount::MsFlags;

use crate::error::{Error, Result};

/// What the kernel is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub source: String,
    pub fstype: String,
    pub flags: MsFlags,
    /// Filesystem data (`size=64m,mode=1777` for tmpfs).
    pub data: String,
}

impl MountSpec {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// mount(8) flag words, as moby's mount package reads them from `o`.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nodev", false, MsFlags::MS_NODEV),
    ("dev", true, MsFlags::MS_NODEV),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("atime", true, MsFlags::MS_NOATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
];

/// tmpfs's own options (passed on as data).
const TMPFS_DATA: &[&str] = &[
    "size",
    "nr_blocks",
    "nr_inodes",
    "mode",
    "uid",
    "gid",
    "mpol",
];

/// dockerd's checks of the option names and pairs, then berth's of what
/// it builds. `opts` are the request's `DriverOpts`.
pub fn validate(opts: &BTreeMap<String, String>) -> Result<()> {
    for key in opts.keys() {
        if !["type", "o", "device", "size"].contains(&key.as_str()) {
            return Err(Error::Invalid(format!("invalid option: {key:?}")));
        }
    }
    // dockerd: no quota support on this root (berth has none anywhere).
    if opts.contains_key("size") {
        return Err(Error::Invalid(
            "quota size requested but no quota support".into(),
        ));
    }
    for (opt, needs) in [
        ("device", &["type"][..]),
        ("type", &["device"][..]),
        ("o", &["device", "type"][..]),
    ] {
        if opts.contains_key(opt) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(Error::Invalid(format!(
                    "missing required option: {missing:?}"
                )));
            }
        }
    }
    spec(opts).map(|_| ())
}

/// The mount a volume with these options needs; `None` for a plain
/// directory.
pub fn spec(opts: &BTreeMap<String, String>) -> Result<Option<MountSpec>> {
    let (Some(fstype), Some(device)) = (opts.get("type"), opts.get("device")) else {
        return Ok(None);
    };
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for word in opts
        .get("o")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|w| !w.is_empty())
    {
        match FLAGS.iter().find(|(name, _, _)| *name == word) {
            Some((_, true, f)) => flags.remove(*f),
            Some((_, false, f)) => flags.insert(*f),
            None => data.push(word),
        }
    }
    let bind = flags.contains(MsFlags::MS_BIND);
    if bind {
        if !device.starts_with('/') {
            return Err(Error::Invalid(format!(
                "volume option device={device:?}: a bind needs an absolute host path"
            )));
        }
        if let Some(d) = data.first() {
            return Err(Error::Invalid(format!(
                "volume option o={d:?} is not supported by berth for a bind"
            )));
        }
    } else if fstype == "tmpfs" {
        if let Some(d) = data.iter().find(|d| {
            let key = d.split_once('=').map_or(**d, |(k, _)| k);
            !TMPFS_DATA.contains(&key)
        }) {
            return Err(Error::Invalid(format!(
                "volume option o={d:?} is not supported by berth for a tmpfs"
            )));
        }
    } else {
        return Err(Error::Invalid(format!(
            "volume option type={fstype:?} is not supported by berth (only tmpfs, or a bind with o=bind)"
        )));
    }
    Ok(Some(MountSpec {
        source: device.clone(),
        fstype: fstype.clone(),
        flags,
        data: data.join(","),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(kv: &[(&str, &str)]) -> String {
        validate(&opts(kv)).unwrap_err().to_string()
    }

    #[test]
    fn dockerd_checks() {
        validate(&opts(&[])).unwrap();
        assert_eq!(err(&[("foo", "x")]), "invalid option: \"foo\"");
        assert_eq!(
            err(&[("type", "tmpfs")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("device", "tmpfs")]),
            "missing required option: \"type\""
        );
        assert_eq!(
            err(&[("o", "size=1m")]),
            "missing required option: \"device\""
        );
        assert_eq!(
            err(&[("size", "10m")]),
            "quota size requested but no quota support"
        );
    }

    #[test]
    fn what_berth_builds() {
        let s = spec(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=1m,uid=1000,noexec"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(s.fstype, "tmpfs");
        assert_eq!(s.data, "size=1m,uid=1000");
        assert!(s.flags.contains(MsFlags::MS_NOEXEC) && !s.is_bind());
        let s = spec(&opts(&[
            ("type", "none"),
            ("device", "/srv/x"),
            ("o", "bind,ro"),
        ]))
        .unwrap()
        .unwrap();
        assert!(s.is_bind() && s.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(s.source, "/srv/x");
        let s = spec(&opts(&[
            ("type", "none"),
            ("device", "/x"),
            ("o", "ro,rw,rbind"),
        ]))
        .unwrap()
        .unwrap();
        assert!(s.flags.contains(MsFlags::MS_REC) && !s.flags.contains(MsFlags::MS_RDONLY));
        assert_eq!(spec(&opts(&[])).unwrap(), None);
    }

    #[test]
    fn refused_by_name() {
        assert!(
            err(&[("type", "nfs"), ("device", ":/x"), ("o", "addr=1.2.3.4")])
                .contains("type=\"nfs\" is not supported by berth")
        );
        assert!(err(&[("type", "ext4"), ("device", "/dev/sdb1")])
            .contains("type=\"ext4\" is not supported by berth"));
        assert!(err(&[("type", "none"), ("device", "rel"), ("o", "bind")])
            .contains("absolute host path"));
        assert!(
            err(&[("type", "none"), ("device", "/x"), ("o", "bind,size=1")])
                .contains("o=\"size=1\" is not supported by berth for a bind")
        );
        assert!(
            err(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "huge=always")])
                .contains("o=\"huge=always\" is not supported by berth for a tmpfs")
        );
    }
}
