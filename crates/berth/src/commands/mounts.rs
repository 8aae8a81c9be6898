//! `-v/--volume`, `--mount`, `--tmpfs` and `--device` values.

use std::collections::BTreeMap;
use std::path::Path;

use super::create_body::{BindOptions, DeviceMapping, Mount, TmpfsOptions, VolumeOptions};
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
pub fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut m = Mount {
        kind: "volume".to_string(),
        ..Mount::default()
    };
    let mut bind = BindOptions::default();
    let mut volume = VolumeOptions::default();
    let mut tmpfs = TmpfsOptions::default();
    let mut driver_name = String::new();
    let mut driver_opts = BTreeMap::new();
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
            "type" => m.kind = need(val)?.to_ascii_lowercase(),
            "source" | "src" => m.source = need(val)?,
            "target" | "dst" | "destination" => m.target = need(val)?,
            "readonly" | "ro" => m.read_only = parse_bool_opt(&key, val)?,
            "consistency" => m.consistency = need(val)?,
            "bind-propagation" => bind.propagation = need(val)?.to_ascii_lowercase(),
            "bind-nonrecursive" => bind.non_recursive = parse_bool_opt(&key, val)?,
            "bind-create-mountpoint" => bind.create_mountpoint = parse_bool_opt(&key, val)?,
            "volume-nocopy" => volume.no_copy = parse_bool_opt(&key, val)?,
            "volume-subpath" => volume.subpath = need(val)?,
            "volume-label" => {
                let v = need(val)?;
                let (k, lv) = v.split_once('=').unwrap_or((v.as_str(), ""));
                volume.labels.insert(k.to_string(), lv.to_string());
            }
            "volume-driver" => driver_name = need(val)?,
            "volume-opt" => {
                let v = need(val)?;
                let (k, ov) = v
                    .split_once('=')
                    .ok_or_else(|| format!("invalid value for volume-opt: {v}"))?;
                driver_opts.insert(k.to_string(), ov.to_string());
            }
            "tmpfs-size" => {
                let v = need(val)?;
                tmpfs.size_bytes =
                    ram_in_bytes(&v).map_err(|e| format!("invalid value for {key}: {e}"))?;
            }
            "tmpfs-mode" => {
                let v = need(val)?;
                tmpfs.mode = u32::from_str_radix(&v, 8)
                    .map_err(|_| format!("invalid value for {key}: {v}"))?;
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if m.target.is_empty() {
        return Err("target is required".to_string());
    }
    if !matches!(
        m.kind.as_str(),
        "bind" | "volume" | "tmpfs" | "image" | "npipe" | "cluster"
    ) {
        return Err(format!("invalid mount type: {}", m.kind));
    }
    if !driver_name.is_empty() || !driver_opts.is_empty() {
        volume.driver_config = Some(super::create_body::DriverConfig {
            name: driver_name,
            options: driver_opts,
        });
    }
    if bind != BindOptions::default() {
        if m.kind != "bind" {
            return Err(format!(
                "cannot mix 'bind-*' options with mount type '{}'",
                m.kind
            ));
        }
        m.bind_options = Some(bind);
    }
    if volume != VolumeOptions::default() {
        if m.kind != "volume" {
            return Err(format!(
                "cannot mix 'volume-*' options with mount type '{}'",
                m.kind
            ));
        }
        m.volume_options = Some(volume);
    }
    if tmpfs != TmpfsOptions::default() {
        if m.kind != "tmpfs" {
            return Err(format!(
                "cannot mix 'tmpfs-*' options with mount type '{}'",
                m.kind
            ));
        }
        m.tmpfs_options = Some(tmpfs);
    }
    if m.kind == "bind" && m.source.is_empty() {
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
        path_on_host: src.to_string(),
        path_in_container: dst.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(m.kind, "volume");
        assert_eq!(m.source, "vol1");
        let m = parse_mount("type=tmpfs,target=/scratch,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            m.tmpfs_options,
            Some(TmpfsOptions {
                size_bytes: 1 << 20,
                mode: 0o1770
            })
        );
        let m = parse_mount("type=bind,src=/a,dst=/b,readonly,bind-propagation=rshared").unwrap();
        assert!(m.read_only);
        assert_eq!(m.bind_options.unwrap().propagation, "rshared");
        assert_eq!(
            parse_mount("type=bind,src=/a").unwrap_err(),
            "target is required"
        );
        assert!(parse_mount("type=volume,target=/a,tmpfs-size=1m").is_err());
        let json =
            serde_json::to_string(&parse_mount("type=tmpfs,target=/scratch").unwrap()).unwrap();
        assert_eq!(json, r#"{"Type":"tmpfs","Target":"/scratch"}"#);
    }

    #[test]
    fn devices() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(d.path_in_container, "/dev/fuse");
        assert_eq!(d.cgroup_permissions, "rwm");
        let d = parse_device("/dev/sda:/dev/xvda:r").unwrap();
        assert_eq!(d.path_in_container, "/dev/xvda");
        assert_eq!(d.cgroup_permissions, "r");
        let d = parse_device("/dev/sda:rw").unwrap();
        assert_eq!(d.path_in_container, "/dev/sda");
        assert_eq!(d.cgroup_permissions, "rw");
        assert!(parse_device("/dev/sda:/x:q").is_err());
    }
}
