//! The volume service: the local driver's volumes (berth-volume) with
//! dockerd's API around them: messages prefixed by the operation and the
//! name, anonymous volumes, events, and in-use checks from the containers
//! that name a volume.

mod api;
pub mod users;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use berth_volume::{VolumeRecord, VolumeRoot};
use serde::Serialize;

use crate::error::{Error, ErrorKind, Result};
use crate::events::EventBus;

pub use api::{CreateVolume, VolumeList, VolumesPruned};

/// The label dockerd puts on a volume it named itself.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// dockerd's `volume.Volume`, fields in Go's order; `Labels` and `Options`
/// are `null` when the volume was made without them, as in dockerd.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub mountpoint: String,
    pub name: String,
    pub options: Option<BTreeMap<String, String>>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_data: Option<UsageData>,
}

/// `/system/df`'s figures for one volume.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct UsageData {
    pub size: i64,
    pub ref_count: i64,
}

/// The crate's errors in the engine's kinds, with dockerd's
/// `<op> <name>: ` in front.
fn op_err(op: &str, name: &str, e: berth_volume::Error) -> Error {
    use berth_volume::Error as E;
    let kind = match &e {
        E::NotFound => ErrorKind::NotFound,
        E::Invalid(_) => ErrorKind::InvalidParameter,
        E::Busy => ErrorKind::Conflict,
        E::Io { .. } | E::Mount(_) => ErrorKind::System,
    };
    Error::new(kind, format!("{op} {name}: {e}"))
}

pub struct VolumeService {
    root: VolumeRoot,
    events: Arc<EventBus>,
    /// One prune at a time, as in dockerd.
    pruning: tokio::sync::Mutex<()>,
}

impl VolumeService {
    /// Opens `<root>/volumes`.
    pub fn open(root: PathBuf, events: Arc<EventBus>) -> Result<Arc<VolumeService>> {
        let dir = root.join("volumes");
        let root = VolumeRoot::open(dir.clone(), Box::new(berth_volume::Kernel))
            .map_err(|e| Error::system(format!("opening {}: {e}", dir.display())))?;
        Ok(Arc::new(VolumeService {
            root,
            events,
            pruning: tokio::sync::Mutex::new(()),
        }))
    }

    #[cfg(test)]
    pub(crate) fn with_root(root: VolumeRoot, events: Arc<EventBus>) -> VolumeService {
        VolumeService {
            root,
            events,
            pruning: tokio::sync::Mutex::new(()),
        }
    }

    fn view(&self, rec: VolumeRecord) -> Volume {
        Volume {
            mountpoint: self.root.data_path(&rec.name).display().to_string(),
            created_at: rec.created_at,
            driver: rec.driver,
            labels: rec.labels,
            name: rec.name,
            options: rec.options,
            scope: "local".into(),
            usage_data: None,
        }
    }

    fn event(&self, name: &str, action: &str) {
        let attrs = HashMap::from([("driver".to_string(), berth_volume::DRIVER.to_string())]);
        self.events.publish("volume", action, name, attrs);
    }

    /// `GET /volumes/{name}`.
    pub fn inspect(&self, name: &str) -> Result<Volume> {
        let rec = self.root.get(name).map_err(|e| op_err("get", name, e))?;
        Ok(self.view(rec))
    }

    /// Removes `name` unless a container uses it (`users`: their ids).
    /// `force` makes a missing volume no error, not a used one.
    pub fn remove(&self, name: &str, force: bool, users: &[String]) -> Result<()> {
        if let Err(e) = self.root.get(name) {
            if force && matches!(e, berth_volume::Error::NotFound) {
                return Ok(());
            }
            return Err(op_err("get", name, e));
        }
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        match self.root.remove(name) {
            Ok(()) => {}
            Err(berth_volume::Error::NotFound) if force => return Ok(()),
            Err(e) => return Err(op_err("remove", name, e)),
        }
        self.event(name, "destroy");
        Ok(())
    }

    /// The data directory of a volume (for sizes).
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.root.data_path(name)
    }
}

#[cfg(test)]
mod tests;
