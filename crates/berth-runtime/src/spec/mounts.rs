//! Mounts: docker's defaults, user binds and tmpfs, the network files, in
//! docker's order and with docker's options.

use crate::error::{Error, Result};

/// One entry of `mounts` before it becomes an oci-spec `Mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    pub destination: String,
    pub typ: String,
    pub source: String,
    pub options: Vec<String>,
}

impl MountEntry {
    fn new(destination: &str, typ: &str, source: &str, options: &[&str]) -> Self {
        MountEntry {
            destination: destination.to_string(),
            typ: typ.to_string(),
            source: source.to_string(),
            options: options.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn clear_readonly(&mut self) {
        self.options.retain(|o| o != "ro");
    }
}

/// Docker's default mounts (`oci.DefaultLinuxSpec`), `/dev/shm` sized
/// `shm_size` bytes.
pub(crate) fn default_mounts(shm_size: i64) -> Vec<MountEntry> {
    let shm = format!("size={shm_size}");
    vec![
        MountEntry::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        MountEntry::new(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        MountEntry::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        MountEntry::new(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        // runc mounts cgroup2 for this entry on a cgroup v2 host.
        MountEntry::new(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        MountEntry::new(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        MountEntry::new(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm],
        ),
    ]
}

/// The mount flags `MergeTmpfsOptions` knows; options sharing a key override
/// each other (the last one given wins).
fn flag_key(option: &str) -> Option<&'static str> {
    Some(match option {
        "ro" | "rw" => "rdonly",
        "suid" | "nosuid" => "nosuid",
        "dev" | "nodev" => "nodev",
        "exec" | "noexec" => "noexec",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "remount" => "remount",
        "mand" | "nomand" => "mand",
        "atime" | "noatime" => "noatime",
        "diratime" | "nodiratime" => "nodiratime",
        "bind" => "bind",
        "rbind" => "rbind",
        "unbindable" | "runbindable" | "private" | "rprivate" | "shared" | "rshared" | "slave"
        | "rslave" => "propagation",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        _ => return None,
    })
}

const TMPFS_DATA: &[&str] = &[
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// `--tmpfs DEST:OPTS`: docker's base options plus the user's, deduplicated
/// with docker's `MergeTmpfsOptions` (later options win, order kept).
pub(crate) fn tmpfs_options(data: &str) -> Result<Vec<String>> {
    let mut options: Vec<&str> = vec!["noexec", "nosuid", "nodev", "rprivate"];
    if !data.is_empty() {
        options.extend(data.split(','));
    }
    let mut seen_flags: Vec<&str> = Vec::new();
    let mut seen_data: Vec<&str> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for option in options.into_iter().rev() {
        if option == "defaults" {
            continue;
        }
        if let Some(key) = flag_key(option) {
            if !seen_flags.contains(&key) {
                out.push(option.to_string());
                seen_flags.push(key);
            }
            continue;
        }
        let Some((key, _)) = option
            .split_once('=')
            .filter(|(k, _)| TMPFS_DATA.contains(k))
        else {
            let parts: Vec<&str> = option.splitn(2, '=').collect();
            let quoted: Vec<String> = parts.iter().map(|p| format!("{p:?}")).collect();
            return Err(Error::invalid(format!(
                "Invalid tmpfs option [{}]",
                quoted.join(" ")
            )));
        };
        if !seen_data.contains(&key) {
            out.push(option.to_string());
            seen_data.push(key);
        }
    }
    out.reverse();
    Ok(out)
}

/// Number of path components, docker's mount sort key (`/` is 0).
pub(crate) fn depth(dest: &str) -> usize {
    dest.split('/').filter(|c| !c.is_empty()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_merge() {
        assert_eq!(
            tmpfs_options("size=10m").unwrap(),
            ["noexec", "nosuid", "nodev", "rprivate", "size=10m"]
        );
        assert_eq!(
            tmpfs_options("").unwrap(),
            ["noexec", "nosuid", "nodev", "rprivate"]
        );
        // exec overrides noexec and keeps the user's position.
        assert_eq!(
            tmpfs_options("exec,mode=1777,size=1g,size=2g").unwrap(),
            [
                "nosuid",
                "nodev",
                "rprivate",
                "exec",
                "mode=1777",
                "size=2g"
            ]
        );
        assert_eq!(
            tmpfs_options("rshared,ro").unwrap(),
            ["noexec", "nosuid", "nodev", "rshared", "ro"]
        );
        assert_eq!(
            tmpfs_options("defaults").unwrap(),
            ["noexec", "nosuid", "nodev", "rprivate"]
        );
    }

    #[test]
    fn tmpfs_invalid() {
        assert_eq!(
            tmpfs_options("foo").unwrap_err().to_string(),
            r#"Invalid tmpfs option ["foo"]"#
        );
        assert_eq!(
            tmpfs_options("bar=1").unwrap_err().to_string(),
            r#"Invalid tmpfs option ["bar" "1"]"#
        );
    }

    #[test]
    fn depths() {
        assert_eq!(depth("/"), 0);
        assert_eq!(depth("/data"), 1);
        assert_eq!(depth("/etc/hosts"), 2);
        assert_eq!(depth("/a//b/"), 2);
    }
}
