//! `/volumes` (moby's volume router backend). The engine knows which
//! containers name a volume; the volume service does the rest. Volume
//! work touches the disk, so it runs off the async threads.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

pub use crate::volume::{CreateVolume, Volume, VolumeList, VolumesPruned};

use super::Area;
use crate::error::Result;
use crate::filters::Filters;
use crate::Engine;

#[async_trait]
pub trait VolumesBackend: Send + Sync {
    async fn list(&self, filters: Filters) -> Result<VolumeList>;
    async fn inspect(&self, name: &str) -> Result<Volume>;
    async fn create(&self, req: CreateVolume) -> Result<Volume>;
    async fn remove(&self, name: &str, force: bool) -> Result<()>;
    async fn prune(&self, filters: Filters) -> Result<VolumesPruned>;
}

impl Engine {
    /// Volume name -> the containers that name it.
    pub fn volume_users(&self) -> BTreeMap<String, Vec<String>> {
        let recs: Vec<_> = self.containers.all().iter().map(|c| c.snapshot()).collect();
        crate::volume::users::by_volume(recs.iter().map(|r| (r.id.as_str(), &r.host_config)))
    }
}

async fn blocking<T: Send + 'static>(
    engine: &Arc<Engine>,
    f: impl FnOnce(&Engine) -> Result<T> + Send + 'static,
) -> Result<T> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || f(&engine)).await?
}

#[async_trait]
impl VolumesBackend for Area {
    async fn list(&self, filters: Filters) -> Result<VolumeList> {
        blocking(&self.0, move |e| {
            let users = e.volume_users();
            e.volumes.list(&filters, &|n: &str| users.contains_key(n))
        })
        .await
    }

    async fn inspect(&self, name: &str) -> Result<Volume> {
        self.0.volumes.inspect(name)
    }

    async fn create(&self, req: CreateVolume) -> Result<Volume> {
        blocking(&self.0, move |e| e.volumes.create(req)).await
    }

    async fn remove(&self, name: &str, force: bool) -> Result<()> {
        let name = name.to_string();
        blocking(&self.0, move |e| {
            let users = e.volume_users().remove(&name).unwrap_or_default();
            e.volumes.remove(&name, force, &users)
        })
        .await
    }

    async fn prune(&self, filters: Filters) -> Result<VolumesPruned> {
        blocking(&self.0, move |e| {
            let users = e.volume_users();
            e.volumes.prune(&filters, &|n: &str| users.contains_key(n))
        })
        .await
    }
}
