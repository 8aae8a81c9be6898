//! One fake behind every backend trait: containers and images are names in
//! maps, every call is recorded, and what a test does not set up answers
//! as the engine would for something missing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_api::models::{ContainerInspectResponse, ContainerSummary, ContainerTopResponse};
use berth_api::models::{ExecInspectResponse, HistoryResponseItem, ImageSummary, SystemInfo};
use berth_engine::backend::{
    Backends, BoxFuture, ContainersBackend, EventsBackend, ExecBackend, ImagesBackend, LayerLoaded,
    NetworksBackend, ProgressLine, SystemBackend, VolumesBackend,
};
use berth_engine::container::{
    Attach, AttachOptions, CommitOptions, CreateRequest, ExecSession, ExecSpec, ListOptions,
    LogChunk, LogOptions, Stats, Status, TarStream, UpdateRequest, WaitCondition,
};
use berth_engine::disk_usage::DfSections;
use berth_engine::events::Event;
use berth_engine::filters::Filters;
use berth_engine::prune::{ContainersPruned, ImagesPruned};
use berth_engine::{Error, Result};
use berth_image::{Change, CopyInOptions, PathStat};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

#[derive(Default)]
pub struct Fake {
    /// Container name -> its state.
    pub containers: Mutex<HashMap<String, Status>>,
    /// Container name -> the exit code `wait` answers.
    pub exit_codes: Mutex<HashMap<String, i64>>,
    /// Container name -> what its log holds (stdout, stderr chunks).
    pub logs: Mutex<HashMap<String, Vec<LogChunk>>>,
    /// Exec id -> what it was created with.
    pub execs: Mutex<HashMap<String, ExecSpec>>,
    /// Image name -> its inspect answer.
    pub images: Mutex<HashMap<String, Value>>,
    pub events: Vec<Event>,
    pub info: SystemInfo,
    /// Read with `calls()`.
    pub recorded: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a test did not ask the fake to do.
fn unfaked(what: &str) -> Error {
    Error::not_implemented(format!("the fake does not do {what}"))
}

impl Fake {
    pub fn with_container(self, name: &str, status: Status) -> Fake {
        lock(&self.containers).insert(name.to_string(), status);
        self
    }

    pub fn with_image(self, name: &str, id: &str) -> Fake {
        lock(&self.images).insert(name.to_string(), json!({ "Id": id }));
        self
    }

    pub fn state(self: &Arc<Self>) -> Backends {
        Backends {
            containers: self.clone(),
            exec: self.clone(),
            images: self.clone(),
            networks: self.clone(),
            system: self.clone(),
            events: self.clone(),
            volumes: self.clone(),
        }
    }

    /// Every backend call so far, as `method arg,arg`.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.recorded).clone()
    }

    fn record(&self, call: String) {
        lock(&self.recorded).push(call);
    }

    fn container(&self, name: &str) -> Result<Status> {
        lock(&self.containers)
            .get(name)
            .copied()
            .ok_or_else(|| Error::not_found(format!("No such container: {name}")))
    }

    fn image(&self, name: &str) -> Result<Value> {
        lock(&self.images)
            .get(name)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such image: {name}")))
    }
}

#[async_trait]
impl ContainersBackend for Fake {
    async fn create(&self, req: CreateRequest) -> Result<(String, Vec<String>)> {
        let name = req.name.unwrap_or_default();
        let image = req.config.image.unwrap_or_default();
        self.record(format!("create {name},{image}"));
        lock(&self.containers).insert(name, Status::Created);
        Ok(("c0ffee".into(), vec!["a warning".into()]))
    }
    async fn list(&self, opts: ListOptions) -> Result<Vec<ContainerSummary>> {
        self.record(format!("list all={},size={}", opts.all, opts.size));
        let mut names: Vec<String> = lock(&self.containers).keys().cloned().collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|n| ContainerSummary {
                names: Some(vec![format!("/{n}")]),
                ..Default::default()
            })
            .collect())
    }
    async fn inspect(&self, name: &str, size: bool) -> Result<ContainerInspectResponse> {
        self.record(format!("inspect {name},{size}"));
        self.container(name)?;
        Ok(ContainerInspectResponse {
            name: Some(format!("/{name}")),
            ..Default::default()
        })
    }
    fn status(&self, name: &str) -> Result<Status> {
        self.container(name)
    }
    async fn remove(&self, name: &str, force: bool) -> Result<()> {
        self.record(format!("remove {name},{force}"));
        lock(&self.containers)
            .remove(name)
            .map(drop)
            .ok_or_else(|| Error::not_found(format!("No such container: {name}")))
    }
    async fn start(&self, name: &str) -> Result<()> {
        self.record(format!("start {name}"));
        self.container(name).map(drop)
    }
    async fn stop(&self, name: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<()> {
        self.record(format!("stop {name},{timeout:?},{signal:?}"));
        self.container(name).map(drop)
    }
    async fn restart(&self, name: &str, _: Option<i64>, _: Option<&str>) -> Result<()> {
        self.container(name).map(drop)
    }
    async fn kill(&self, name: &str, signal: Option<&str>) -> Result<()> {
        self.record(format!("kill {name},{signal:?}"));
        self.container(name).map(drop)
    }
    async fn pause(&self, name: &str) -> Result<()> {
        self.container(name).map(drop)
    }
    async fn unpause(&self, name: &str) -> Result<()> {
        self.container(name).map(drop)
    }
    fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        self.record(format!("rename {name},{new_name}"));
        self.container(name).map(drop)
    }
    fn resize(&self, name: &str, height: i64, width: i64) -> Result<()> {
        self.record(format!("resize {name},{height},{width}"));
        self.container(name).map(drop)
    }
    async fn top(&self, name: &str, _: Option<&str>) -> Result<ContainerTopResponse> {
        self.container(name)?;
        Ok(ContainerTopResponse::default())
    }
    fn wait(&self, name: &str, condition: WaitCondition) -> Result<BoxFuture<i64>> {
        self.record(format!("wait {name},{condition:?}"));
        self.container(name)?;
        let code = lock(&self.exit_codes).get(name).copied().unwrap_or(0);
        Ok(Box::pin(async move { code }))
    }
    async fn logs(&self, name: &str, _: LogOptions) -> Result<(bool, mpsc::Receiver<LogChunk>)> {
        self.container(name)?;
        let chunks = lock(&self.logs).remove(name).unwrap_or_default();
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for c in chunks {
            let _ = tx.try_send(c);
        }
        Ok((false, rx))
    }
    fn stats(&self, name: &str) -> Result<Stats> {
        self.container(name)?;
        Err(unfaked("stats"))
    }
    async fn prune(&self, _: Filters) -> Result<ContainersPruned> {
        Err(unfaked("container prune"))
    }
    async fn changes(&self, name: &str) -> Result<Vec<Change>> {
        self.container(name)?;
        Err(unfaked("changes"))
    }
    async fn commit(&self, name: &str, _: CommitOptions) -> Result<String> {
        self.container(name)?;
        Err(unfaked("commit"))
    }
    async fn update(&self, name: &str, _: UpdateRequest) -> Result<()> {
        self.container(name).map(drop)
    }
    async fn attach(&self, name: &str, _: AttachOptions) -> Result<Attach> {
        self.container(name)?;
        Err(unfaked("attach"))
    }
    async fn archive_stat(&self, name: &str, _: &str) -> Result<PathStat> {
        self.container(name)?;
        Err(unfaked("archive"))
    }
    async fn archive_get(&self, name: &str, _: &str) -> Result<(PathStat, TarStream)> {
        self.container(name)?;
        Err(unfaked("archive"))
    }
    async fn archive_put(
        &self,
        name: &str,
        _: &str,
        _: Box<dyn Read + Send>,
        _: CopyInOptions,
    ) -> Result<()> {
        self.container(name)?;
        Err(unfaked("archive"))
    }
    async fn export(&self, name: &str) -> Result<TarStream> {
        self.container(name)?;
        Err(unfaked("export"))
    }
}

#[async_trait]
impl ExecBackend for Fake {
    fn create_exec(&self, container: &str, spec: ExecSpec) -> Result<String> {
        self.record(format!("create_exec {container},{}", spec.cmd.join(" ")));
        self.container(container)?;
        let id = format!("exec{}", lock(&self.execs).len());
        lock(&self.execs).insert(id.clone(), spec);
        Ok(id)
    }
    fn inspect_exec(&self, id: &str) -> Result<ExecInspectResponse> {
        let spec = self.exec_spec(id)?;
        Ok(ExecInspectResponse {
            id: Some(id.to_string()),
            open_stdin: Some(spec.attach_stdin),
            ..Default::default()
        })
    }
    fn resize_exec(&self, id: &str, height: i64, width: i64) -> Result<()> {
        self.record(format!("resize_exec {id},{height},{width}"));
        self.exec_spec(id).map(drop)
    }
    fn exec_spec(&self, id: &str) -> Result<ExecSpec> {
        lock(&self.execs)
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }
    async fn start_exec(&self, id: &str, _: Option<(u16, u16)>) -> Result<ExecSession> {
        self.record(format!("start_exec {id}"));
        self.exec_spec(id)?;
        Err(Error::conflict(format!(
            "Container for exec {id} is not running"
        )))
    }
}

#[async_trait]
impl ImagesBackend for Fake {
    async fn list(&self, all: bool, shared_size: bool, _: Filters) -> Result<Vec<ImageSummary>> {
        self.record(format!("image_list {all},{shared_size}"));
        let mut names: Vec<String> = lock(&self.images).keys().cloned().collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|n| ImageSummary {
                repo_tags: vec![n],
                ..Default::default()
            })
            .collect())
    }
    async fn inspect(&self, name: &str) -> Result<Value> {
        self.record(format!("image_inspect {name}"));
        self.image(name)
    }
    async fn history(&self, name: &str) -> Result<Vec<HistoryResponseItem>> {
        self.image(name)?;
        Ok(Vec::new())
    }
    async fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        self.record(format!("tag {name},{repo},{tag}"));
        self.image(name).map(drop)
    }
    async fn remove(&self, name: &str, force: bool) -> Result<Vec<Value>> {
        self.record(format!("image_remove {name},{force}"));
        self.image(name)?;
        lock(&self.images).remove(name);
        Ok(vec![json!({"Untagged": name})])
    }
    async fn prune(&self, _: Filters) -> Result<ImagesPruned> {
        Ok(ImagesPruned::default())
    }
    async fn load(&self, _: Box<dyn Read + Send>, _: ProgressLine, _: LayerLoaded) -> Result<()> {
        Err(unfaked("load"))
    }
    async fn import(
        &self,
        _: Box<dyn Read + Send>,
        _: Option<String>,
        _: Vec<String>,
        _: String,
        _: Option<berth_image::Platform>,
    ) -> Result<String> {
        Err(unfaked("import"))
    }
    async fn check(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Err(Error::invalid("no images specified"));
        }
        names.iter().try_for_each(|n| self.image(n).map(drop))
    }
    async fn save(&self, _: Vec<String>, _: Box<dyn Write + Send>) -> Result<()> {
        Err(unfaked("save"))
    }
    fn platform_check(&self, name: &str, platform: &berth_image::Platform) -> Result<()> {
        self.record(format!("platform_check {name},{platform}"));
        Ok(())
    }

    /// `missing` fails before any message, `broken` after one.
    async fn pull(
        &self,
        reference: berth_image::reference::Reference,
        _: Option<berth_image::Platform>,
        auth: Option<berth_engine::distribution::AuthConfig>,
        progress: berth_engine::distribution::Progress,
    ) -> Result<()> {
        let user = auth.map(|a| a.username).unwrap_or_default();
        self.record(format!("pull {reference},{user}"));
        match reference.familiar_name().as_str() {
            "missing" => Err(Error::not_found("manifest unknown")),
            "broken" => {
                progress(serde_json::json!({"status": "Pulling from library/broken"}));
                Err(Error::system("connection reset"))
            }
            _ => {
                progress(serde_json::json!({"status": "Pulling from library/x"}));
                Ok(())
            }
        }
    }

    async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        _: Option<berth_engine::distribution::AuthConfig>,
        progress: berth_engine::distribution::Progress,
    ) -> Result<()> {
        self.record(format!("push {name},{}", tag.unwrap_or("")));
        if !lock(&self.images).contains_key(name) {
            return Err(Error::not_found(format!(
                "An image does not exist locally with the tag: {name}"
            )));
        }
        progress(serde_json::json!({"status": "The push refers to repository [x]"}));
        Ok(())
    }

    async fn login(
        &self,
        auth: berth_engine::distribution::AuthConfig,
    ) -> Result<serde_json::Value> {
        self.record(format!("login {},{}", auth.username, auth.server_address));
        Ok(serde_json::json!({"IdentityToken": "", "Status": "Login Succeeded"}))
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        _: Option<berth_engine::distribution::AuthConfig>,
    ) -> Result<serde_json::Value> {
        self.record(format!("distribution_inspect {name}"));
        Err(Error::not_found("manifest unknown"))
    }
}

#[async_trait]
impl SystemBackend for Fake {
    fn version(&self, api_version: &str, min_api_version: &str) -> Value {
        json!({"Version": "fake", "ApiVersion": api_version, "MinAPIVersion": min_api_version})
    }
    async fn info(&self) -> Result<SystemInfo> {
        Ok(self.info.clone())
    }
    async fn df(&self, want: DfSections) -> Result<Value> {
        Ok(json!({"Images": want.images, "Containers": want.containers}))
    }
}

impl EventsBackend for Fake {
    fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        (self.events.clone(), broadcast::channel(1).1)
    }
}

#[async_trait]
impl NetworksBackend for Fake {
    fn list(
        &self,
        _filters: &berth_engine::filters::Filters,
    ) -> Result<Vec<berth_engine::network::api::Network>> {
        self.record("network-list".into());
        Ok(Vec::new())
    }
    fn inspect(
        &self,
        name: &str,
        _scope: Option<&str>,
    ) -> Result<berth_engine::network::api::Network> {
        self.record(format!("network-inspect {name}"));
        Err(Error::not_found(format!("network {name} not found")))
    }
    async fn create(&self, req: berth_api::models::NetworkCreateRequest) -> Result<String> {
        self.record(format!("network-create {}", req.name));
        Ok("n0".into())
    }
    async fn remove(&self, name: &str) -> Result<()> {
        self.record(format!("network-remove {name}"));
        Ok(())
    }
    async fn prune(&self, _filters: &berth_engine::filters::Filters) -> Result<Vec<String>> {
        self.record("network-prune".into());
        Ok(Vec::new())
    }
    async fn connect(
        &self,
        network: &str,
        container: &str,
        _cfg: berth_api::models::EndpointSettings,
    ) -> Result<()> {
        self.record(format!("network-connect {network},{container}"));
        Ok(())
    }
    async fn disconnect(&self, network: &str, container: &str, force: bool) -> Result<()> {
        self.record(format!("network-disconnect {network},{container},{force}"));
        Ok(())
    }
}

#[async_trait]
impl VolumesBackend for Fake {
    async fn list(&self, filters: Filters) -> Result<berth_engine::volume::VolumeList> {
        self.record(format!("volume-list {}", filters.get("name").join(",")));
        Ok(berth_engine::volume::VolumeList {
            volumes: Vec::new(),
            warnings: None,
        })
    }
    async fn inspect(&self, name: &str) -> Result<berth_engine::volume::Volume> {
        self.record(format!("volume-inspect {name}"));
        Err(Error::not_found(format!("get {name}: no such volume")))
    }
    async fn create(
        &self,
        req: berth_engine::volume::CreateVolume,
    ) -> Result<berth_engine::volume::Volume> {
        let name = req.name.unwrap_or_default();
        self.record(format!("volume-create {name}"));
        Ok(berth_engine::volume::Volume {
            created_at: "2026-01-01T00:00:00Z".into(),
            driver: "local".into(),
            labels: None,
            mountpoint: format!("/v/{name}/_data"),
            name,
            options: None,
            scope: "local".into(),
            usage_data: None,
        })
    }
    async fn remove(&self, name: &str, force: bool) -> Result<()> {
        self.record(format!("volume-remove {name},{force}"));
        Ok(())
    }
    async fn prune(&self, filters: Filters) -> Result<berth_engine::volume::VolumesPruned> {
        self.record(format!("volume-prune all={}", filters.get("all").join(",")));
        Ok(berth_engine::volume::VolumesPruned::default())
    }
}
