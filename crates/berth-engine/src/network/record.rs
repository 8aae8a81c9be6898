//! A network as berthd keeps it: one JSON file per network under
//! `<root>/network`, written temp -> fsync -> rename, so a created network
//! survives a crash or a power cut once `create` has answered.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::Result;

pub const BRIDGE: &str = "bridge";
pub const HOST: &str = "host";
pub const NONE: &str = "none";

/// One subnet of a network, with what dockerd derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub subnet: IpNet,
    pub range: Option<IpNet>,
    pub gateway: IpAddr,
    #[serde(default)]
    pub aux: HashMap<String, IpAddr>,
    /// What `inspect` shows: the user's fields only, as dockerd does for
    /// a network made with `--subnet` alone, or all for a picked subnet.
    pub shown_gateway: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: String,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub ipam_driver: String,
    #[serde(default)]
    pub ipam_options: HashMap<String, String>,
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub options: HashMap<String, String>,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    /// The bridge interface (empty for host and null).
    pub bridge: String,
    /// `bridge`, `host`, `none`: made by the daemon, never removed.
    pub builtin: bool,
}

impl NetworkRecord {
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// The default bridge: no DNS by name, legacy links.
    pub fn is_default_bridge(&self) -> bool {
        self.builtin && self.name == BRIDGE
    }

    pub fn bool_option(&self, key: &str, default: bool) -> bool {
        self.options
            .get(key)
            .map(|v| v == "true" || v == "1")
            .unwrap_or(default)
    }
}

pub fn dir(root: &Path) -> PathBuf {
    root.join("network")
}

pub fn load_all(root: &Path) -> Vec<NetworkRecord> {
    let Ok(entries) = fs::read_dir(dir(root)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<NetworkRecord>(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!("skipping network record {}: {e}", p.display()),
        }
    }
    out
}

pub fn save(root: &Path, rec: &NetworkRecord) -> Result<()> {
    let d = dir(root);
    fs::create_dir_all(&d)?;
    let tmp = d.join(format!(".{}.tmp", rec.id));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(rec)?)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, d.join(format!("{}.json", rec.id)))?;
    crate::container::sync_dir(&d)?;
    Ok(())
}

pub fn delete(root: &Path, id: &str) -> Result<()> {
    let d = dir(root);
    match fs::remove_file(d.join(format!("{id}.json"))) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    crate::container::sync_dir(&d)?;
    Ok(())
}
