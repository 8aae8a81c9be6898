//! berth-engine: the daemon's core, with no HTTP in it. Services for
//! containers and images, the event bus, and the reconcile-on-start that
//! reattaches to the shims of containers that outlived a previous daemon.
//! The HTTP side sees them only through `backend`, one trait per API area.

pub mod backend;
pub mod check;
pub mod container;
pub mod disk_usage;
pub mod distribution;
pub mod error;
pub mod events;
pub mod filters;
pub mod ids;
pub mod image;
mod locks;
pub mod network;
pub mod prune;
pub mod signal;
pub mod system;
pub mod timefmt;
pub mod volume;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_image::ImageStore;
use berth_runtime::cgroups;
use berth_runtime::runtime::{OciRuntime, Runc};

pub use berth_store::failpoint;
pub use error::{Error, ErrorKind, Result};

/// Where things live and which binaries to use.
#[derive(Debug, Clone)]
pub struct Config {
    /// Persistent state (`--root`, default /var/lib/berth).
    pub root: PathBuf,
    /// Runtime state that dies with a reboot (`--exec-root`, default /run/berth).
    pub exec_root: PathBuf,
    /// The OCI runtime binary (runc).
    pub runtime: PathBuf,
    /// The berth-shim binary.
    pub shim: PathBuf,
    /// Parent of every container cgroup (`/<parent>/<id>`).
    pub cgroup_parent: String,
    /// The init binary `--init` binds into a container (`--init-path`);
    /// `None` when none was found, which fails only containers that ask.
    pub init_path: Option<PathBuf>,
    /// How registries are reached.
    pub registry: distribution::RegistryConfig,
    /// Bridges, addresses, DNS and the packet filter.
    pub network: network::NetConfig,
}

impl Config {
    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runc")
    }

    pub fn cgroups_path(&self, id: &str) -> String {
        format!("/{}/{id}", self.cgroup_parent.trim_matches('/'))
    }

    /// 1 or 2, for `info`.
    pub fn cgroup_version(&self) -> u8 {
        match cgroups::detect(Path::new(cgroups::DEFAULT_ROOT)) {
            cgroups::CgroupVersion::V1 => 1,
            cgroups::CgroupVersion::V2 => 2,
        }
    }

    /// The container's cgroup (as runc creates it from `cgroupsPath`).
    pub fn cgroup(&self, id: &str) -> Option<Box<dyn cgroups::CgroupManager>> {
        cgroups::open(&self.cgroups_path(id)).ok()
    }
}

pub struct Engine {
    pub config: Config,
    pub images: Arc<ImageStore>,
    pub containers: Arc<container::ContainerService>,
    pub networks: Arc<network::NetworkService>,
    pub volumes: Arc<volume::VolumeService>,
    pub events: Arc<events::EventBus>,
    pub started: std::time::Instant,
}

impl Engine {
    /// Opens the stores and reconciles containers left by a previous daemon.
    pub async fn open(config: Config) -> Result<Arc<Engine>> {
        for dir in [&config.root, &config.exec_root] {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::create_dir_all(config.root.join("containers"))?;
        let image_root = config.root.join("image");
        let images = tokio::task::spawn_blocking(move || ImageStore::open(&image_root)).await??;
        let images = Arc::new(images);
        let runtime: Arc<dyn OciRuntime> =
            Arc::new(Runc::new(config.runtime.clone(), config.runtime_root()));
        let events = Arc::new(events::EventBus::default());
        let plane: Arc<dyn network::Dataplane> = Arc::new(network::Kernel::new()?);
        let networks = network::NetworkService::open(
            config.network.clone(),
            config.root.clone(),
            config.exec_root.clone(),
            plane,
            events.clone(),
        )
        .await?;
        let volumes = volume::VolumeService::open(config.root.clone(), events.clone())?;
        let containers = container::ContainerService::new(
            config.clone(),
            images.clone(),
            runtime,
            networks.clone(),
            events.clone(),
        );
        containers.restore().await?;
        // Opening the stores (a new redb file above all) frees megabytes
        // that glibc would otherwise keep in the arena for good.
        // SAFETY: malloc_trim only returns free heap pages to the kernel.
        unsafe { libc::malloc_trim(0) };
        Ok(Arc::new(Engine {
            config,
            images,
            containers,
            networks,
            volumes,
            events,
            started: std::time::Instant::now(),
        }))
    }
}

/// The image store's errors in the engine's kinds.
impl From<berth_image::Error> for Error {
    fn from(e: berth_image::Error) -> Error {
        use berth_image::ErrorKind as K;
        let kind = match e.kind() {
            K::NotFound => ErrorKind::NotFound,
            K::Conflict => ErrorKind::Conflict,
            K::InvalidArgument => ErrorKind::InvalidParameter,
            K::Other => ErrorKind::System,
        };
        Error::new(kind, e.to_string())
    }
}

/// A runtime failure is the engine's failure (500) unless the caller knows
/// better, as exec does for a user missing from the image.
impl From<berth_runtime::Error> for Error {
    fn from(e: berth_runtime::Error) -> Error {
        Error::system(e.to_string())
    }
}
