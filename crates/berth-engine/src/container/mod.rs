//! ContainerService: every container operation of the Docker API, without HTTP.
//!
//! Each container is an `Arc<Container>`: its persisted record behind a short
//! std mutex, a tokio mutex that serialises lifecycle operations (start, stop,
//! remove), a watch channel that wakes waiters on exit and removal, and a
//! broadcast channel of live output fed by the connection to its shim.

mod archive;
mod commit;
mod create;
mod exec;
#[cfg(test)]
mod fakes;
mod health;
mod inspect;
mod lifecycle;
#[cfg(test)]
mod lifecycle_tests;
mod logopts;
mod logs;
mod mounts;
mod networking;
mod reconcile;
pub mod record;
mod restart;
mod seams;
mod shim;
mod shim_io;
mod spec;
mod stats;
mod stdio;
mod update;
pub mod validate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{broadcast, mpsc, watch};

use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::locks::{IgnorePoison, IgnorePoisonRw};
use crate::network::NetworkService;
use crate::Config;
use berth_image::ImageStore;
use berth_runtime::runtime::OciRuntime;
use seams::{KernelMounts, RootfsMounter, Shims};

pub use archive::TarStream;
pub use commit::CommitOptions;
pub use create::CreateRequest;
pub use exec::{console_size, Exec, ExecSession, ExecSpec, ExecStdin};
pub use inspect::ListOptions;
pub use lifecycle::WaitCondition;
pub use logs::{LogChunk, LogOptions};
pub use record::sync_dir;
pub use record::{ContainerPaths, ContainerRecord, Status};
pub use stats::Stats;
pub use stdio::{Attach, AttachOptions, Output};
pub use update::UpdateRequest;

/// What waiters watch: bumped on every exit, cleanup and removal.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Number of exits seen since the daemon started.
    pub exits: u64,
    /// Number of exits whose cleanup (unmount, runtime state) is done.
    pub cleaned: u64,
    pub exit_code: i64,
    pub removed: bool,
    /// A process runs: set by the start, cleared in the same step that
    /// counts its exit, so a waiter never sees the one without the other.
    pub live: bool,
}

/// Bytes for the container's stdin that arrived before its shim existed.
#[derive(Default)]
struct PendingStdin {
    data: Vec<u8>,
    close: bool,
}

pub struct Container {
    pub id: String,
    pub paths: ContainerPaths,
    record: Mutex<ContainerRecord>,
    op: Arc<tokio::sync::Mutex<()>>,
    progress: watch::Sender<Progress>,
    output: broadcast::Sender<Output>,
    /// Bumped after every output frame: the log file has grown.
    log_written: watch::Sender<u64>,
    /// Frames to the shim, when connected.
    shim: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    pending_stdin: Mutex<PendingStdin>,
    /// The previous stats sample, for `precpu_stats`.
    stats_sample: Mutex<Option<stats::Sample>>,
    restarter: restart::Restarter,
    /// The healthcheck's monitor task, while it probes.
    health_task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Container {
    fn new(record: ContainerRecord, paths: ContainerPaths) -> Container {
        let live = record.state.status.is_live();
        Container {
            id: record.id.clone(),
            paths,
            record: Mutex::new(record),
            op: Arc::new(tokio::sync::Mutex::new(())),
            progress: watch::channel(Progress {
                live,
                ..Progress::default()
            })
            .0,
            output: broadcast::channel(1024).0,
            log_written: watch::channel(0).0,
            shim: Mutex::new(None),
            pending_stdin: Mutex::new(PendingStdin::default()),
            stats_sample: Mutex::new(None),
            restarter: restart::Restarter::default(),
            health_task: Mutex::new(None),
        }
    }

    /// A copy of the record; cheap enough for every read path.
    pub fn snapshot(&self) -> ContainerRecord {
        self.record.locked().clone()
    }

    /// Changes the record; the change survives a daemon crash.
    fn update<T>(&self, f: impl FnOnce(&mut ContainerRecord) -> T) -> Result<T> {
        self.update_with(record::Sync::Cached, f)
    }

    /// Changes the record; the change survives a power cut too.
    fn update_durable<T>(&self, f: impl FnOnce(&mut ContainerRecord) -> T) -> Result<T> {
        self.update_with(record::Sync::Durable, f)
    }

    fn update_with<T>(
        &self,
        sync: record::Sync,
        f: impl FnOnce(&mut ContainerRecord) -> T,
    ) -> Result<T> {
        let mut rec = self.record.locked();
        let out = f(&mut rec);
        record::save(&self.paths, &rec, sync)?;
        Ok(out)
    }

    pub fn status(&self) -> Status {
        self.record.locked().state.status
    }

    fn send_to_shim(&self, frame: Vec<u8>) -> bool {
        let guard = self.shim.locked();
        match guard.as_ref() {
            Some(tx) => tx.send(frame).is_ok(),
            None => false,
        }
    }
}

pub struct ContainerService {
    config: Config,
    images: Arc<ImageStore>,
    runtime: Arc<dyn OciRuntime>,
    shims: Arc<dyn Shims>,
    mounter: Arc<dyn RootfsMounter>,
    net: Arc<NetworkService>,
    events: Arc<EventBus>,
    containers: RwLock<HashMap<String, Arc<Container>>>,
    /// name -> id; guarded separately so create and rename are atomic.
    names: Mutex<HashMap<String, String>>,
    execs: Mutex<HashMap<String, Arc<exec::Exec>>>,
    /// Off until restore is done: a container that exits before then is
    /// judged with the others by the policy pass at the end of restore.
    restarts_enabled: std::sync::atomic::AtomicBool,
}

impl ContainerService {
    pub fn new(
        config: Config,
        images: Arc<ImageStore>,
        runtime: Arc<dyn OciRuntime>,
        net: Arc<NetworkService>,
        events: Arc<EventBus>,
    ) -> Arc<ContainerService> {
        let shims = Arc::new(seams::ProcessShims {
            binary: config.shim.clone(),
        });
        Self::with_seams(
            config,
            images,
            runtime,
            shims,
            Arc::new(KernelMounts),
            net,
            events,
        )
    }

    /// The service over the given shims and mounts (fakes in unit tests).
    fn with_seams(
        config: Config,
        images: Arc<ImageStore>,
        runtime: Arc<dyn OciRuntime>,
        shims: Arc<dyn Shims>,
        mounter: Arc<dyn RootfsMounter>,
        net: Arc<NetworkService>,
        events: Arc<EventBus>,
    ) -> Arc<ContainerService> {
        Arc::new(ContainerService {
            config,
            images,
            runtime,
            shims,
            mounter,
            net,
            events,
            containers: RwLock::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            execs: Mutex::new(HashMap::new()),
            restarts_enabled: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn paths(&self, id: &str) -> ContainerPaths {
        ContainerPaths::new(&self.config.root, &self.config.exec_root, id)
    }

    fn insert(&self, c: Arc<Container>) {
        let name = c.snapshot().name;
        self.names.locked().insert(name, c.id.clone());
        self.containers.write_locked().insert(c.id.clone(), c);
    }

    fn forget(&self, c: &Container) {
        let name = c.snapshot().name;
        let mut names = self.names.locked();
        if names.get(&name) == Some(&c.id) {
            names.remove(&name);
        }
        drop(names);
        self.containers.write_locked().remove(&c.id);
        self.forget_execs(&c.id);
    }

    /// Finds a container by full id, name (with or without `/`) or unique id prefix.
    pub fn get(&self, name_or_id: &str) -> Result<Arc<Container>> {
        let key = name_or_id.trim_start_matches('/');
        if key.is_empty() {
            return Err(Error::no_such_container(name_or_id));
        }
        let map = self.containers.read_locked();
        if let Some(c) = map.get(key) {
            return Ok(c.clone());
        }
        if let Some(id) = self.names.locked().get(key) {
            if let Some(c) = map.get(id) {
                return Ok(c.clone());
            }
        }
        let mut found = map.values().filter(|c| c.id.starts_with(key));
        match (found.next(), found.next()) {
            (Some(c), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(Error::invalid(format!(
                "Multiple IDs found with provided prefix: {key}"
            ))),
            _ => Err(Error::no_such_container(name_or_id)),
        }
    }

    pub fn all(&self) -> Vec<Arc<Container>> {
        self.containers.read_locked().values().cloned().collect()
    }

    /// Whether any container (running or not) uses this image; for `rmi`.
    pub fn image_user(&self, image_id: &str) -> Option<String> {
        self.all()
            .into_iter()
            .find(|c| c.snapshot().image_id == image_id)
            .map(|c| c.id.clone())
    }

    fn event(&self, c: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs = c.labels();
        attrs.insert("image".into(), c.image.clone());
        attrs.insert("name".into(), c.name.clone());
        for (k, v) in extra {
            attrs.insert((*k).into(), v.clone());
        }
        self.events.publish("container", action, &c.id, attrs);
    }

    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<()> {
        let c = self.get(name_or_id)?;
        let new_name = new_name.trim_start_matches('/');
        if !crate::ids::valid_name(new_name) {
            return Err(Error::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let old = c.snapshot().name;
        if old == new_name {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        {
            let mut names = self.names.locked();
            if let Some(other) = names.get(new_name) {
                return Err(Error::conflict(format!(
                    "Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            names.remove(&old);
            names.insert(new_name.to_string(), c.id.clone());
        }
        c.update_durable(|r| r.name = new_name.to_string())?;
        // The embedded DNS answers to the new name from now on.
        self.net.rename(&c.id, new_name);
        berth_store::crash_point!("rename.recorded");
        let rec = c.snapshot();
        self.event(&rec, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    pub fn shim_path(&self) -> &PathBuf {
        &self.config.shim
    }
}
