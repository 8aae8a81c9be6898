//! The container's user mounts: `Binds` (`-v /host:/ctr[:mode]`) and
//! `Mounts` (`--mount type=bind|tmpfs,...`), parsed and validated with the
//! rules and messages of dockerd's Linux mount parser, in one list that both
//! the OCI spec and inspect's `.Mounts` are made from.
//!
//! Named and anonymous volumes, `npipe` and `cluster` mounts are refused
//! until berth has volumes.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use berth_runtime::spec::Propagation;
use bollard_stubs::models::{
    HostConfig, Mount, MountBindOptionsPropagationEnum as P, MountPoint, MountPointTypeEnum,
    MountTmpfsOptions, MountTypeEnum,
};

use crate::error::{Error, Result};

/// One user mount, after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum UserMount {
    Bind {
        source: PathBuf,
        destination: String,
        /// The `-v` mode as given (`ro,rshared`); empty for `--mount`.
        mode: String,
        rw: bool,
        propagation: Propagation,
        non_recursive: bool,
        /// `-v` creates a missing source directory; `--mount` refuses it
        /// unless asked (`CreateMountpoint`).
        create_source: bool,
    },
    Tmpfs {
        destination: String,
        /// Mount data for the runtime (`size=64m,mode=1777`).
        data: String,
        rw: bool,
    },
}

impl UserMount {
    pub fn destination(&self) -> &str {
        match self {
            UserMount::Bind { destination, .. } | UserMount::Tmpfs { destination, .. } => {
                destination
            }
        }
    }

    /// The entry of inspect's `.Mounts`, as dockerd writes it.
    fn inspect(&self) -> MountPoint {
        match self {
            UserMount::Bind {
                source,
                destination,
                mode,
                rw,
                propagation,
                ..
            } => MountPoint {
                typ: Some(MountPointTypeEnum::BIND),
                source: Some(source.display().to_string()),
                destination: Some(destination.clone()),
                mode: Some(mode.clone()),
                rw: Some(*rw),
                propagation: Some(propagation.as_str().to_string()),
                ..Default::default()
            },
            UserMount::Tmpfs {
                destination, rw, ..
            } => MountPoint {
                typ: Some(MountPointTypeEnum::TMPFS),
                source: Some(String::new()),
                destination: Some(destination.clone()),
                mode: Some(String::new()),
                rw: Some(*rw),
                propagation: Some(String::new()),
                ..Default::default()
            },
        }
    }
}

/// Go's `path.Clean` for an absolute path.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().unwrap_or_default()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

fn propagation_of(p: P) -> Option<Propagation> {
    Some(match p {
        P::EMPTY => return None,
        P::PRIVATE => Propagation::Private,
        P::RPRIVATE => Propagation::Rprivate,
        P::SHARED => Propagation::Shared,
        P::RSHARED => Propagation::Rshared,
        P::SLAVE => Propagation::Slave,
        P::RSLAVE => Propagation::Rslave,
    })
}

fn propagation_named(s: &str) -> Option<Propagation> {
    Some(match s {
        "private" => Propagation::Private,
        "rprivate" => Propagation::Rprivate,
        "shared" => Propagation::Shared,
        "rshared" => Propagation::Rshared,
        "slave" => Propagation::Slave,
        "rslave" => Propagation::Rslave,
        _ => return None,
    })
}

/// dockerd's `linuxValidMountMode`: at most one of each kind of option.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let mut counts = [0u8; 5];
    for o in mode.split(',') {
        let kind = match o {
            "ro" | "rw" => 0,
            "z" | "Z" => 1,
            _ if propagation_named(o).is_some() => 2,
            "nocopy" => 3,
            "consistent" | "cached" | "delegated" => 4,
            _ => return false,
        };
        counts[kind] += 1;
    }
    counts.iter().all(|c| *c <= 1)
}

/// One `Binds` entry (`SRC:DST[:MODE]`), like dockerd's `ParseMountRaw`.
fn parse_bind(raw: &str) -> Result<UserMount> {
    let invalid_spec = || Error::invalid(format!("invalid volume specification: '{raw}'"));
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    if parts[0].is_empty() {
        return Err(invalid_spec());
    }
    let (source, target, mode) = match parts.as_slice() {
        [_] => {
            return Err(Error::invalid(format!(
                "HostConfig.Binds: anonymous volumes are not supported by berth yet: '{raw}'"
            )))
        }
        [s, t] if !valid_mode(t) => (*s, *t, ""),
        [s, t, m] => (*s, *t, *m),
        _ => return Err(invalid_spec()),
    };
    if !valid_mode(mode) {
        return Err(Error::invalid(format!("invalid mode: {mode}")));
    }
    if !source.starts_with('/') {
        return Err(Error::invalid(format!(
            "HostConfig.Binds: named volumes are not supported by berth yet: '{raw}'"
        )));
    }
    let wrap = |msg: String| Error::invalid(format!("{}: {msg}", invalid_spec()));
    if !target.starts_with('/') {
        return Err(wrap(format!(
            "invalid mount config for type \"bind\": invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    if clean(target) == "/" {
        return Err(wrap(
            "invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
                .into(),
        ));
    }
    let opts: Vec<&str> = mode.split(',').collect();
    Ok(UserMount::Bind {
        source: PathBuf::from(clean(source)),
        destination: clean(target),
        mode: mode.to_string(),
        rw: !opts.contains(&"ro"),
        propagation: opts
            .iter()
            .find_map(|o| propagation_named(o))
            .unwrap_or_default(),
        non_recursive: false,
        create_source: true,
    })
}

fn config_error(typ: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid mount config for type \"{typ}\": {msg}"))
}

/// dockerd's `ConvertTmpfsOptions`: size with the largest exact unit, mode
/// in octal, and only `exec`/`noexec` as free options.
fn tmpfs_data(opts: Option<&MountTmpfsOptions>, read_only: bool) -> Result<String> {
    let mut raw: Vec<String> = Vec::new();
    if read_only {
        raw.push("ro".into());
    }
    if let Some(mode) = opts.and_then(|o| o.mode).filter(|m| *m != 0) {
        raw.push(format!("mode={mode:o}"));
    }
    if let Some(size) = opts.and_then(|o| o.size_bytes).filter(|s| *s != 0) {
        let (n, unit) = [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)]
            .into_iter()
            .find(|(_, d)| size % d == 0)
            .map(|(u, d)| (size / d, u))
            .unwrap_or((size, ""));
        raw.push(format!("size={n}{unit}"));
    }
    for opt in opts.and_then(|o| o.options.as_ref()).into_iter().flatten() {
        if opt.is_empty() || opt.len() > 2 {
            return Err(config_error("tmpfs", "invalid option array length"));
        }
        if !matches!(opt[0].as_str(), "exec" | "noexec") {
            return Err(config_error("tmpfs", format!("invalid option: {}", opt[0])));
        }
        raw.push(opt.join("="));
    }
    Ok(raw.join(","))
}

/// One `Mounts` entry, like dockerd's `ValidateMountConfig` and
/// `ParseMountSpec` (bind sources must exist when `check_source`).
fn parse_mount(m: &Mount, check_source: bool) -> Result<UserMount> {
    let typ = m.typ.unwrap_or(MountTypeEnum::EMPTY);
    let name = typ.as_ref();
    let err = |msg: &str| config_error(name, msg);
    if typ != MountTypeEnum::BIND && m.bind_options.is_some() {
        return Err(err("field BindOptions must not be specified"));
    }
    if typ != MountTypeEnum::VOLUME && m.volume_options.is_some() {
        return Err(err("field VolumeOptions must not be specified"));
    }
    if typ != MountTypeEnum::TMPFS && m.tmpfs_options.is_some() {
        return Err(err("field TmpfsOptions must not be specified"));
    }
    let target = m.target.as_deref().unwrap_or("");
    if target.is_empty() {
        return Err(err("field Target must not be empty"));
    }
    if target.starts_with('/') && clean(target) == "/" {
        return Err(err("invalid specification: destination can't be '/'"));
    }
    if !target.starts_with('/') {
        return Err(err(&format!(
            "invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    let source = m.source.as_deref().unwrap_or("");
    let rw = !m.read_only.unwrap_or(false);
    match typ {
        MountTypeEnum::BIND => {
            if source.is_empty() {
                return Err(err("field Source must not be empty"));
            }
            if !source.starts_with('/') {
                return Err(err(&format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            let bo = m.bind_options.clone().unwrap_or_default();
            let create = bo.create_mountpoint.unwrap_or(false);
            if check_source && !create && std::fs::symlink_metadata(source).is_err() {
                return Err(err(&format!("bind source path does not exist: {source}")));
            }
            Ok(UserMount::Bind {
                source: PathBuf::from(clean(source)),
                destination: clean(target),
                mode: String::new(),
                rw,
                propagation: bo.propagation.and_then(propagation_of).unwrap_or_default(),
                non_recursive: bo.non_recursive.unwrap_or(false),
                create_source: create,
            })
        }
        MountTypeEnum::TMPFS => {
            if !source.is_empty() {
                return Err(err("field Source must not be specified"));
            }
            Ok(UserMount::Tmpfs {
                destination: clean(target),
                data: tmpfs_data(m.tmpfs_options.as_ref(), !rw)?,
                rw,
            })
        }
        MountTypeEnum::VOLUME => Err(err(
            "HostConfig.Mounts of type volume are not supported by berth yet",
        )),
        MountTypeEnum::NPIPE | MountTypeEnum::CLUSTER | MountTypeEnum::EMPTY => {
            Err(err("mount type unknown"))
        }
    }
}

/// Every user mount of the container: `Binds` then `Mounts`, with dockerd's
/// duplicate checks (a bind over a `--tmpfs`, two mounts on one path).
pub(super) fn user_mounts(hc: &HostConfig) -> Result<Vec<UserMount>> {
    parse_all(hc, true)
}

/// inspect's `.Mounts` (what was accepted at create, sources or not).
pub(super) fn mount_points(hc: &HostConfig) -> Vec<MountPoint> {
    parse_all(hc, false)
        .unwrap_or_default()
        .iter()
        .map(UserMount::inspect)
        .collect()
}

fn parse_all(hc: &HostConfig, check_source: bool) -> Result<Vec<UserMount>> {
    let mut out: Vec<UserMount> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let tmpfs = hc.tmpfs.clone().unwrap_or_default();
    for raw in hc.binds.iter().flatten() {
        let m = parse_bind(raw)?;
        let dest = m.destination().to_string();
        if seen.contains(&dest) || tmpfs.keys().any(|t| clean(t) == dest) {
            return Err(Error::invalid(format!("Duplicate mount point: {dest}")));
        }
        seen.insert(dest);
        out.push(m);
    }
    for cfg in hc.mounts.iter().flatten() {
        let m = parse_mount(cfg, check_source)?;
        let dest = m.destination().to_string();
        if seen.contains(&dest) {
            return Err(Error::invalid(format!(
                "Duplicate mount point: {}",
                cfg.target.as_deref().unwrap_or("")
            )));
        }
        seen.insert(dest);
        out.push(m);
    }
    Ok(out)
}

/// The create-time check of `Binds` and `Mounts` (for the create handler).
pub(super) fn validate(hc: &HostConfig) -> Result<()> {
    user_mounts(hc).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_stubs::models::MountBindOptions;

    fn mount(typ: MountTypeEnum, source: &str, target: &str) -> Mount {
        Mount {
            typ: Some(typ),
            source: Some(source.into()).filter(|s: &String| !s.is_empty()),
            target: Some(target.into()),
            ..Default::default()
        }
    }

    fn err(m: Mount) -> String {
        parse_mount(&m, true).unwrap_err().to_string()
    }

    #[test]
    fn mount_config_errors_are_dockerds() {
        use MountTypeEnum::*;
        assert_eq!(
            err(mount(BIND, "/nonexistent-src", "/x")),
            "invalid mount config for type \"bind\": bind source path does not exist: /nonexistent-src"
        );
        assert_eq!(
            err(mount(BIND, "/tmp", "rel")),
            "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute"
        );
        assert_eq!(
            err(mount(BIND, "", "/x")),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            err(mount(BIND, "/tmp", "/")),
            "invalid mount config for type \"bind\": invalid specification: destination can't be '/'"
        );
        assert_eq!(
            err(mount(TMPFS, "/tmp", "/x")),
            "invalid mount config for type \"tmpfs\": field Source must not be specified"
        );
        let mut t = mount(TMPFS, "", "/x");
        t.bind_options = Some(MountBindOptions::default());
        assert_eq!(
            err(t),
            "invalid mount config for type \"tmpfs\": field BindOptions must not be specified"
        );
        assert_eq!(
            err(mount(VOLUME, "v", "/x")),
            "invalid mount config for type \"volume\": HostConfig.Mounts of type volume are not supported by berth yet"
        );
        assert_eq!(
            err(mount(NPIPE, "", "/x")),
            "invalid mount config for type \"npipe\": mount type unknown"
        );
        let mut t = mount(TMPFS, "", "/x");
        t.tmpfs_options = Some(MountTmpfsOptions {
            options: Some(vec![vec!["uid".into(), "1".into()]]),
            ..Default::default()
        });
        assert_eq!(
            err(t),
            "invalid mount config for type \"tmpfs\": invalid option: uid"
        );
    }

    #[test]
    fn tmpfs_options_convert_like_dockerd() {
        let o = MountTmpfsOptions {
            size_bytes: Some(64 << 20),
            mode: Some(0o1770),
            options: Some(vec![vec!["exec".into()]]),
        };
        assert_eq!(
            tmpfs_data(Some(&o), true).unwrap(),
            "ro,mode=1770,size=64m,exec"
        );
        let o = MountTmpfsOptions {
            size_bytes: Some(1000),
            ..Default::default()
        };
        assert_eq!(tmpfs_data(Some(&o), false).unwrap(), "size=1000");
        assert_eq!(tmpfs_data(None, false).unwrap(), "");
    }

    #[test]
    fn binds_parse_and_duplicates() {
        let m = parse_bind("/srv//a:/data/:ro,rshared").unwrap();
        assert_eq!(
            m.inspect(),
            MountPoint {
                typ: Some(MountPointTypeEnum::BIND),
                source: Some("/srv/a".into()),
                destination: Some("/data".into()),
                mode: Some("ro,rshared".into()),
                rw: Some(false),
                propagation: Some("rshared".into()),
                ..Default::default()
            }
        );
        assert_eq!(
            parse_bind("/a:/b:ro,rw").unwrap_err().to_string(),
            "invalid mode: ro,rw"
        );
        assert_eq!(
            parse_bind("vol:/b").unwrap_err().to_string(),
            "HostConfig.Binds: named volumes are not supported by berth yet: 'vol:/b'"
        );
        let hc = HostConfig {
            binds: Some(vec!["/tmp:/data".into()]),
            mounts: Some(vec![mount(MountTypeEnum::TMPFS, "", "/data")]),
            ..Default::default()
        };
        assert_eq!(
            validate(&hc).unwrap_err().to_string(),
            "Duplicate mount point: /data"
        );
        let hc = HostConfig {
            binds: Some(vec!["/tmp:/data".into()]),
            tmpfs: Some([("/data".to_string(), String::new())].into()),
            ..Default::default()
        };
        assert!(validate(&hc).is_err());
        let hc = HostConfig {
            mounts: Some(vec![
                mount(MountTypeEnum::TMPFS, "", "/a"),
                mount(MountTypeEnum::BIND, "/tmp", "/b"),
            ]),
            ..Default::default()
        };
        let ms = user_mounts(&hc).unwrap();
        assert_eq!(ms[0].inspect().typ, Some(MountPointTypeEnum::TMPFS));
        assert_eq!(ms[1].inspect().propagation.as_deref(), Some("rprivate"));
    }
}
