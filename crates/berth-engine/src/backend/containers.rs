//! `/containers/*` and `/commit` (moby's container router backend).

use std::io::Read;

use async_trait::async_trait;
use berth_image::{Change, CopyInOptions, PathStat};
use bollard_stubs::models::{ContainerInspectResponse, ContainerSummary, ContainerTopResponse};
use tokio::sync::mpsc;

use super::{Area, BoxFuture};
use crate::container::{
    Attach, AttachOptions, CommitOptions, CreateRequest, ListOptions, LogChunk, LogOptions, Stats,
    Status, TarStream, UpdateRequest, WaitCondition,
};
use crate::error::Result;
use crate::filters::Filters;
use crate::prune::ContainersPruned;

#[async_trait]
pub trait ContainersBackend: Send + Sync {
    /// The new container's id and the warnings for the client.
    async fn create(&self, req: CreateRequest) -> Result<(String, Vec<String>)>;
    /// With `opts.size`, each row has its sizes filled in.
    async fn list(&self, opts: ListOptions) -> Result<Vec<ContainerSummary>>;
    async fn inspect(&self, name_or_id: &str, size: bool) -> Result<ContainerInspectResponse>;
    /// The container's state, or not found.
    fn status(&self, name_or_id: &str) -> Result<Status>;
    async fn remove(&self, name_or_id: &str, force: bool) -> Result<()>;
    async fn start(&self, name_or_id: &str) -> Result<()>;
    async fn stop(
        &self,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()>;
    async fn restart(
        &self,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()>;
    async fn kill(&self, name_or_id: &str, signal: Option<&str>) -> Result<()>;
    async fn pause(&self, name_or_id: &str) -> Result<()>;
    async fn unpause(&self, name_or_id: &str) -> Result<()>;
    fn rename(&self, name_or_id: &str, new_name: &str) -> Result<()>;
    fn resize(&self, name_or_id: &str, height: i64, width: i64) -> Result<()>;
    async fn top(&self, name_or_id: &str, ps_args: Option<&str>) -> Result<ContainerTopResponse>;
    /// Lookup errors come back at once; the future resolves with the exit
    /// code once `condition` holds.
    fn wait(&self, name_or_id: &str, condition: WaitCondition) -> Result<BoxFuture<i64>>;
    /// Whether the container has a TTY (raw stream), and its log chunks.
    async fn logs(
        &self,
        name_or_id: &str,
        opts: LogOptions,
    ) -> Result<(bool, mpsc::Receiver<LogChunk>)>;
    fn stats(&self, name_or_id: &str) -> Result<Stats>;
    async fn prune(&self, filters: Filters) -> Result<ContainersPruned>;
    async fn changes(&self, name_or_id: &str) -> Result<Vec<Change>>;
    /// The new image's id.
    async fn commit(&self, name_or_id: &str, opts: CommitOptions) -> Result<String>;
    async fn update(&self, name_or_id: &str, req: UpdateRequest) -> Result<()>;
    async fn attach(&self, name_or_id: &str, opts: AttachOptions) -> Result<Attach>;
    async fn archive_stat(&self, name_or_id: &str, path: &str) -> Result<PathStat>;
    async fn archive_get(&self, name_or_id: &str, path: &str) -> Result<(PathStat, TarStream)>;
    async fn archive_put(
        &self,
        name_or_id: &str,
        path: &str,
        body: Box<dyn Read + Send>,
        opts: CopyInOptions,
    ) -> Result<()>;
    async fn export(&self, name_or_id: &str) -> Result<TarStream>;
}

#[async_trait]
impl ContainersBackend for Area {
    async fn create(&self, req: CreateRequest) -> Result<(String, Vec<String>)> {
        self.0.containers.create(req).await
    }

    async fn list(&self, opts: ListOptions) -> Result<Vec<ContainerSummary>> {
        let mut list = self.0.containers.list(&opts)?;
        if opts.size {
            self.0.containers.fill_sizes(&mut list).await;
        }
        Ok(list)
    }

    async fn inspect(&self, name_or_id: &str, size: bool) -> Result<ContainerInspectResponse> {
        let mut info = self.0.containers.inspect(name_or_id)?;
        if size {
            self.0.containers.fill_inspect_size(&mut info).await?;
        }
        Ok(info)
    }

    fn status(&self, name_or_id: &str) -> Result<Status> {
        Ok(self.0.containers.get(name_or_id)?.status())
    }

    async fn remove(&self, name_or_id: &str, force: bool) -> Result<()> {
        self.0.containers.remove(name_or_id, force).await
    }

    async fn start(&self, name_or_id: &str) -> Result<()> {
        self.0.containers.start(name_or_id).await
    }

    async fn stop(
        &self,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        self.0.containers.stop(name_or_id, timeout, signal).await
    }

    async fn restart(
        &self,
        name_or_id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<()> {
        self.0.containers.restart(name_or_id, timeout, signal).await
    }

    async fn kill(&self, name_or_id: &str, signal: Option<&str>) -> Result<()> {
        self.0.containers.kill(name_or_id, signal).await
    }

    async fn pause(&self, name_or_id: &str) -> Result<()> {
        self.0.containers.pause(name_or_id).await
    }

    async fn unpause(&self, name_or_id: &str) -> Result<()> {
        self.0.containers.unpause(name_or_id).await
    }

    fn rename(&self, name_or_id: &str, new_name: &str) -> Result<()> {
        self.0.containers.rename(name_or_id, new_name)
    }

    fn resize(&self, name_or_id: &str, height: i64, width: i64) -> Result<()> {
        self.0.containers.resize(name_or_id, height, width)
    }

    async fn top(&self, name_or_id: &str, ps_args: Option<&str>) -> Result<ContainerTopResponse> {
        self.0.containers.top(name_or_id, ps_args).await
    }

    fn wait(&self, name_or_id: &str, condition: WaitCondition) -> Result<BoxFuture<i64>> {
        Ok(Box::pin(self.0.containers.wait(name_or_id, condition)?))
    }

    async fn logs(
        &self,
        name_or_id: &str,
        opts: LogOptions,
    ) -> Result<(bool, mpsc::Receiver<LogChunk>)> {
        self.0.containers.logs(name_or_id, opts).await
    }

    fn stats(&self, name_or_id: &str) -> Result<Stats> {
        self.0.containers.stats(name_or_id)
    }

    async fn prune(&self, filters: Filters) -> Result<ContainersPruned> {
        self.0.container_prune(filters).await
    }

    async fn changes(&self, name_or_id: &str) -> Result<Vec<Change>> {
        self.0.containers.changes(name_or_id).await
    }

    async fn commit(&self, name_or_id: &str, opts: CommitOptions) -> Result<String> {
        self.0.containers.commit(name_or_id, opts).await
    }

    async fn update(&self, name_or_id: &str, req: UpdateRequest) -> Result<()> {
        self.0.containers.update(name_or_id, req).await
    }

    async fn attach(&self, name_or_id: &str, opts: AttachOptions) -> Result<Attach> {
        self.0.containers.attach(name_or_id, opts).await
    }

    async fn archive_stat(&self, name_or_id: &str, path: &str) -> Result<PathStat> {
        self.0.containers.archive_stat(name_or_id, path).await
    }

    async fn archive_get(&self, name_or_id: &str, path: &str) -> Result<(PathStat, TarStream)> {
        self.0.containers.archive_get(name_or_id, path).await
    }

    async fn archive_put(
        &self,
        name_or_id: &str,
        path: &str,
        body: Box<dyn Read + Send>,
        opts: CopyInOptions,
    ) -> Result<()> {
        self.0
            .containers
            .archive_put(name_or_id, path, body, opts)
            .await
    }

    async fn export(&self, name_or_id: &str) -> Result<TarStream> {
        self.0.containers.export(name_or_id).await
    }
}
