//! A volume's record, beside its data: `<name>/volume.json`, written
//! temp -> fsync -> rename.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const RECORD: &str = "volume.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    /// Always `local`: the only driver.
    pub driver: String,
    /// `None` when the request had none (dockerd answers `null` then, and
    /// `{}` for an empty map).
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The request's `DriverOpts`, as given.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// RFC 3339, seconds, UTC (dockerd's `CreatedAt`).
    pub created_at: String,
}

impl VolumeRecord {
    pub fn label(&self, key: &str) -> Option<&String> {
        self.labels.as_ref().and_then(|l| l.get(key))
    }

    /// A volume with driver options (tmpfs, bind): not local data.
    pub fn has_options(&self) -> bool {
        self.options.as_ref().is_some_and(|o| !o.is_empty())
    }
}

pub fn load(dir: &Path) -> Result<Option<VolumeRecord>> {
    let path = dir.join(RECORD);
    match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::io(&path, std::io::Error::other(e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

pub fn save(dir: &Path, rec: &VolumeRecord) -> Result<()> {
    let tmp = dir.join(format!(".{RECORD}.tmp"));
    let io = |e| Error::io(&tmp, e);
    let bytes = serde_json::to_vec(rec).map_err(|e| io(std::io::Error::other(e)))?;
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, dir.join(RECORD)).map_err(io)?;
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(dir, e))
}
