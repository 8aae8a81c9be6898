//! `-v/--volume`, `--mount`, `--tmpfs` and `--device` values.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::create_body::{
    DeviceMapping, Mount, MountBindOptions, MountTmpfsOptions, MountTypeEnum, MountVolumeOptions,
    MountVolumeOptionsDriverConfig,
};
use crate::format::units::ram_in_bytes;

/// Binds (`src:dst[:mode]`) and anonymous volumes (`/dst`) from `-v` values.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Volumes {
    pub binds: Vec<String>,
    pub anonymous: Vec<String>,
}

/// Sorts `-v` values into binds and anonymous volumes. A relative host path
/// starting with `.` is made absolute against `cwd`.
pub fn split_volumes(specs: &[String], cwd: &Path) -> Result<Volumes, String> {
    let mut out = Volumes::default();
    for spec in specs {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "invalid spec: {spec}: empty section between colons"
            ));
        }
        match parts.as_slice() {
            [_] => {
                if !out.anonymous.contains(spec) {
                    out.anonymous.push(spec.clone());
                }
            }
            [src, rest @ ..] if rest.len() <= 2 => {
                let src = if !src.starts_with('/') && src.starts_with('.') {
                    absolute(cwd, src)
                } else {
                    src.to_string()
                };
                out.binds.push(format!("{src}:{}", rest.join(":")));
            }
            _ => return Err(format!("invalid spec: {spec}: too many colons")),
        }
    }
    Ok(out)
}

/// `cwd/rel`, cleaned of `.` and `..` like Go's `filepath.Abs`.
fn absolute(cwd: &Path, rel: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let joined = cwd.join(rel);
    for comp in joined.components() {
        match comp {
            std::path::Component::Normal(c) => parts.push(c.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// `--tmpfs /path[:options]` into the `Tmpfs` map.
pub fn tmpfs_map(specs: &[String]) -> BTreeMap<String, String> {
    specs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect()
}

fn parse_bool_opt(key: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None => Ok(true),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" => Ok(true),
            "0" | "false" => Ok(false),
            _ => Err(format!("invalid value for {key}: {v}")),
        },
    }
}

/// Parses one `--mount` value (`type=bind,source=/a,target=/b,readonly`).
/// An option group (`bind-*`, `volume-*`, `tmpfs-*`) is sent once any of
/// its keys is given, as docker does.
pub fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut m = Mount::default();
    let mut kind = "volume".to_string();
    let mut bind: Option<MountBindOptions> = None;
    let mut volume: Option<MountVolumeOptions> = None;
    let mut tmpfs: Option<MountTmpfsOptions> = None;
    let mut driver: Option<MountVolumeOptionsDriverConfig> = None;
    for field in value.split(',') {
        let (key, val) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| -> Result<String, String> {
            v.map(str::to_string)
                .ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"))
        };
        match key.as_str() {
            "type" => kind = need(val)?.to_ascii_lowercase(),
            "source" | "src" => m.source = Some(need(val)?),
            "target" | "dst" | "destination" => m.target = Some(need(val)?),
            "readonly" | "ro" => m.read_only = Some(parse_bool_opt(&key, val)?),
            "consistency" => m.consistency = Some(need(val)?),
            "bind-propagation" => {
                let mode = need(val)?.to_ascii_lowercase();
                let parsed = mode.parse().map_err(|_| {
                    format!(
                        "invalid mount config for type \"bind\": invalid propagation mode: {mode}"
                    )
                })?;
                bind.get_or_insert_with(MountBindOptions::default)
                    .propagation = Some(parsed);
            }
            "bind-nonrecursive" => {
                bind.get_or_insert_with(MountBindOptions::default)
                    .non_recursive = Some(parse_bool_opt(&key, val)?)
            }
            "bind-create-mountpoint" => {
                bind.get_or_insert_with(MountBindOptions::default)
                    .create_mountpoint = Some(parse_bool_opt(&key, val)?)
            }
            "volume-nocopy" | "volume-subpath" | "volume-label" | "volume-driver"
            | "volume-opt" => {
                let volume = volume.get_or_insert_with(MountVolumeOptions::default);
                match key.as_str() {
                    "volume-nocopy" => volume.no_copy = Some(parse_bool_opt(&key, val)?),
                    "volume-subpath" => volume.subpath = Some(need(val)?),
                    "volume-label" => {
                        let v = need(val)?;
                        let (k, lv) = v.split_once('=').unwrap_or((v.as_str(), ""));
                        volume
                            .labels
                            .get_or_insert_with(HashMap::new)
                            .insert(k.to_string(), lv.to_string());
                    }
                    "volume-driver" => {
                        driver.get_or_insert_with(Default::default).name = Some(need(val)?)
                    }
                    _ => {
                        let v = need(val)?;
                        let (k, ov) = v
                            .split_once('=')
                            .ok_or_else(|| format!("invalid value for volume-opt: {v}"))?;
                        driver
                            .get_or_insert_with(Default::default)
                            .options
                            .get_or_insert_with(HashMap::new)
                            .insert(k.to_string(), ov.to_string());
                    }
                }
            }
            "tmpfs-size" => {
                let v = need(val)?;
                tmpfs.get_or_insert_with(Default::default).size_bytes =
                    Some(ram_in_bytes(&v).map_err(|e| format!("invalid value for {key}: {e}"))?);
            }
            "tmpfs-mode" => {
                let v = need(val)?;
                tmpfs.get_or_insert_with(Default::default).mode = Some(
                    i64::from_str_radix(&v, 8)
                        .map_err(|_| format!("invalid value for {key}: {v}"))?,
                );
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.target.as_deref().unwrap_or("").is_empty() {
        return Err("target is required".to_string());
    }
    // The models know the types of API 1.47; `image` came later.
    m.typ = Some(
        kind.parse::<MountTypeEnum>()
            .ok()
            .filter(|t| *t != MountTypeEnum::EMPTY)
            .ok_or_else(|| format!("invalid mount type: {kind}"))?,
    );
    if driver.is_some() {
        volume
            .get_or_insert_with(MountVolumeOptions::default)
            .driver_config = driver;
    }
    for (given, group, owner) in [
        (bind.is_some(), "bind", MountTypeEnum::BIND),
        (volume.is_some(), "volume", MountTypeEnum::VOLUME),
        (tmpfs.is_some(), "tmpfs", MountTypeEnum::TMPFS),
    ] {
        if given && m.typ != Some(owner) {
            return Err(format!(
                "cannot mix '{group}-*' options with mount type '{kind}'"
            ));
        }
    }
    m.bind_options = bind;
    m.volume_options = volume;
    m.tmpfs_options = tmpfs;
    if m.typ == Some(MountTypeEnum::BIND) && m.source.as_deref().unwrap_or("").is_empty() {
        return Err("source is required when specifying bind mounts".to_string());
    }
    Ok(m)
}

/// `--device /dev/x[:/dev/y][:rwm]`.
pub fn parse_device(spec: &str) -> Result<DeviceMapping, String> {
    let valid_mode = |m: &str| {
        !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c)) && {
            let mut seen = String::new();
            m.chars().all(|c| {
                let fresh = !seen.contains(c);
                seen.push(c);
                fresh
            })
        }
    };
    let parts: Vec<&str> = spec.splitn(4, ':').collect();
    let (src, mut dst, mut perms) = (parts[0], "", "rwm");
    match parts.len() {
        1 => {}
        2 => {
            if valid_mode(parts[1]) {
                perms = parts[1];
            } else {
                dst = parts[1];
            }
        }
        3 => {
            dst = parts[1];
            if !valid_mode(parts[2]) {
                return Err(format!("bad mode specified: {}", parts[2]));
            }
            perms = parts[2];
        }
        _ => return Err(format!("bad format for path: {spec}")),
    }
    if src.is_empty() {
        return Err(format!("bad format for path: {spec}"));
    }
    if dst.is_empty() {
        dst = src;
    }
    if !dst.starts_with('/') {
        return Err(format!("{dst} is not an absolute path"));
    }
    Ok(DeviceMapping {
        path_on_host: Some(src.to_string()),
        path_in_container: Some(dst.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_api::models::MountBindOptionsPropagationEnum;

    #[test]
    fn volume_specs() {
        let specs: Vec<String> = ["/srv/hostdir:/data:ro", "vol1:/v", "/anon", "./rel:/r"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v = split_volumes(&specs, Path::new("/home/u")).unwrap();
        assert_eq!(
            v.binds,
            vec!["/srv/hostdir:/data:ro", "vol1:/v", "/home/u/rel:/r"]
        );
        assert_eq!(v.anonymous, vec!["/anon"]);
        assert!(split_volumes(&["a::b".to_string()], Path::new("/")).is_err());
        assert!(split_volumes(&["a:b:c:d".to_string()], Path::new("/")).is_err());
    }

    #[test]
    fn tmpfs() {
        let m = tmpfs_map(&["/t:size=1m".to_string(), "/u".to_string()]);
        assert_eq!(m["/t"], "size=1m");
        assert_eq!(m["/u"], "");
    }

    #[test]
    fn mounts() {
        let m = parse_mount("type=volume,source=vol1,target=/data").unwrap();
        assert_eq!(m.typ, Some(MountTypeEnum::VOLUME));
        assert_eq!(m.source.as_deref(), Some("vol1"));
        let m = parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            m.tmpfs_options,
            Some(MountTmpfsOptions {
                size_bytes: Some(1 << 20),
                mode: Some(0o1770),
                options: None
            })
        );
        let m = parse_mount("type=bind,src=/a,dst=/b,readonly,bind-propagation=rshared").unwrap();
        assert_eq!(m.read_only, Some(true));
        assert_eq!(
            m.bind_options.unwrap().propagation,
            Some(MountBindOptionsPropagationEnum::RSHARED)
        );
        assert_eq!(
            parse_mount("type=bind,src=/a").unwrap_err(),
            "target is required"
        );
        assert!(parse_mount("type=volume,target=/a,tmpfs-size=1m").is_err());
        assert_eq!(
            parse_mount("type=bind,src=/a,dst=/b,bind-propagation=bogus").unwrap_err(),
            "invalid mount config for type \"bind\": invalid propagation mode: bogus"
        );
        assert_eq!(
            parse_mount("type=image,src=a,dst=/b").unwrap_err(),
            "invalid mount type: image"
        );
        let m = parse_mount("type=volume,target=/v,volume-driver=local,volume-opt=o=1").unwrap();
        let driver = m.volume_options.unwrap().driver_config.unwrap();
        assert_eq!(driver.name.as_deref(), Some("local"));
        assert_eq!(driver.options.unwrap()["o"], "1");
        let json =
            serde_json::to_string(&parse_mount("type=tmpfs,target=/scratch").unwrap()).unwrap();
        assert_eq!(json, r#"{"Target":"/scratch","Type":"tmpfs"}"#);
    }

    #[test]
    fn devices() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("rwm"));
        let d = parse_device("/dev/sda:/dev/xvda:r").unwrap();
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/xvda"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("r"));
        let d = parse_device("/dev/sda:rw").unwrap();
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/sda"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("rw"));
        assert!(parse_device("/dev/sda:/x:q").is_err());
    }
}
