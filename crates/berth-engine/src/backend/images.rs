//! `/images/*` (moby's image router backend). Readers and writers are
//! blocking: the store runs on the blocking pool.

use std::io::{Read, Write};

use async_trait::async_trait;
use bollard_stubs::models::{HistoryResponseItem, ImageSummary};
use serde_json::Value;

use super::Area;
use crate::distribution::{AuthConfig, Progress};
use crate::error::Result;
use crate::filters::Filters;
use crate::prune::ImagesPruned;

/// A line of `docker load` progress.
pub type ProgressLine = Box<dyn FnMut(&str) + Send>;
/// A layer `docker load` unpacked: its short diff id and its size.
pub type LayerLoaded = Box<dyn FnMut(&str, u64) + Send>;

#[async_trait]
pub trait ImagesBackend: Send + Sync {
    /// `GET /images/json` rows; `shared_size` fills `SharedSize`.
    async fn list(
        &self,
        all: bool,
        shared_size: bool,
        filters: Filters,
    ) -> Result<Vec<ImageSummary>>;
    async fn inspect(&self, name: &str) -> Result<Value>;
    async fn history(&self, name: &str) -> Result<Vec<HistoryResponseItem>>;
    /// An empty `tag` keeps one given inside `repo`.
    async fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()>;
    /// docker's `Untagged`/`Deleted` items.
    async fn remove(&self, name: &str, force: bool) -> Result<Vec<Value>>;
    async fn prune(&self, filters: Filters) -> Result<ImagesPruned>;
    async fn load(
        &self,
        reader: Box<dyn Read + Send>,
        progress: ProgressLine,
        layer: LayerLoaded,
    ) -> Result<()>;
    /// The imported image's id.
    async fn import(
        &self,
        reader: Box<dyn Read + Send>,
        reference: Option<String>,
        changes: Vec<String>,
        message: String,
        platform: Option<berth_image::Platform>,
    ) -> Result<String>;
    /// Every name resolves (a 404 before a stream starts), and there is one.
    async fn check(&self, names: &[String]) -> Result<()>;
    async fn save(&self, names: Vec<String>, writer: Box<dyn Write + Send>) -> Result<()>;
    /// An image that is there but not for `platform` is a 404.
    fn platform_check(&self, name: &str, platform: &berth_image::Platform) -> Result<()>;
    /// Pulls `reference`; see [`crate::Engine::image_pull`].
    async fn pull(
        &self,
        reference: berth_reference::Reference,
        platform: Option<berth_image::Platform>,
        auth: Option<AuthConfig>,
        progress: Progress,
    ) -> Result<()>;
    /// Pushes `name` (`tag` when given); see [`crate::Engine::image_push`].
    async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
        progress: Progress,
    ) -> Result<()>;
    /// `POST /auth`.
    async fn login(&self, auth: AuthConfig) -> Result<Value>;
    /// `GET /distribution/{name}/json`.
    async fn distribution_inspect(&self, name: &str, auth: Option<AuthConfig>) -> Result<Value>;
}

#[async_trait]
impl ImagesBackend for Area {
    async fn list(
        &self,
        all: bool,
        shared_size: bool,
        filters: Filters,
    ) -> Result<Vec<ImageSummary>> {
        self.0.image_list(all, shared_size, filters).await
    }

    async fn inspect(&self, name: &str) -> Result<Value> {
        self.0.image_inspect(name).await
    }

    async fn history(&self, name: &str) -> Result<Vec<HistoryResponseItem>> {
        self.0.image_history(name).await
    }

    async fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        self.0.image_tag(name, repo, tag).await
    }

    async fn remove(&self, name: &str, force: bool) -> Result<Vec<Value>> {
        self.0.image_remove(name, force).await
    }

    async fn prune(&self, filters: Filters) -> Result<ImagesPruned> {
        self.0.image_prune(filters).await
    }

    async fn load(
        &self,
        reader: Box<dyn Read + Send>,
        progress: ProgressLine,
        layer: LayerLoaded,
    ) -> Result<()> {
        self.0.image_load(reader, progress, layer).await
    }

    async fn import(
        &self,
        reader: Box<dyn Read + Send>,
        reference: Option<String>,
        changes: Vec<String>,
        message: String,
        platform: Option<berth_image::Platform>,
    ) -> Result<String> {
        self.0
            .image_import(reader, reference, changes, message, platform)
            .await
    }

    async fn check(&self, names: &[String]) -> Result<()> {
        self.0.image_check(names).await
    }

    async fn save(&self, names: Vec<String>, writer: Box<dyn Write + Send>) -> Result<()> {
        self.0.image_save(names, writer).await
    }

    fn platform_check(&self, name: &str, platform: &berth_image::Platform) -> Result<()> {
        self.0.image_platform_check(name, platform)
    }

    async fn pull(
        &self,
        reference: berth_reference::Reference,
        platform: Option<berth_image::Platform>,
        auth: Option<AuthConfig>,
        progress: Progress,
    ) -> Result<()> {
        self.0.image_pull(reference, platform, auth, progress).await
    }

    async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
        progress: Progress,
    ) -> Result<()> {
        self.0.image_push(name, tag, auth, progress).await
    }

    async fn login(&self, auth: AuthConfig) -> Result<Value> {
        self.0.auth_login(auth).await
    }

    async fn distribution_inspect(&self, name: &str, auth: Option<AuthConfig>) -> Result<Value> {
        self.0.distribution_inspect(name, auth).await
    }
}
