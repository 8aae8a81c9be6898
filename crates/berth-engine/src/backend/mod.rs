//! One backend per API area, as the HTTP routes see the engine: the routes
//! decode a request, call one of these, and encode the answer. Each trait
//! is object safe so that berthd holds `Arc<dyn ...>` and its route tests
//! can put a fake in place of the engine.
//!
//! The engine implements each trait with a thin adapter that delegates to
//! its services; a subsystem that lives in its own crate (networks,
//! volumes, distribution, build) adds its trait here and its adapter where
//! the engine wires it in, and berthd gains one field in its state.

mod containers;
mod events;
mod exec;
mod images;
mod networks;
mod system;
mod volumes;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use containers::ContainersBackend;
pub use events::EventsBackend;
pub use exec::ExecBackend;
pub use images::{ImagesBackend, LayerLoaded, ProgressLine};
pub use networks::NetworksBackend;
pub use system::SystemBackend;
pub use volumes::VolumesBackend;

use crate::Engine;

/// A future the caller may keep past the request that made it.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Every API area's backend, as one engine provides them.
#[derive(Clone)]
pub struct Backends {
    pub containers: Arc<dyn ContainersBackend>,
    pub exec: Arc<dyn ExecBackend>,
    pub images: Arc<dyn ImagesBackend>,
    pub networks: Arc<dyn NetworksBackend>,
    pub system: Arc<dyn SystemBackend>,
    pub events: Arc<dyn EventsBackend>,
    pub volumes: Arc<dyn VolumesBackend>,
}

/// The engine seen through one area's trait. The engine's methods take
/// `self: &Arc<Engine>`, so the adapter holds the `Arc`.
struct Area(Arc<Engine>);

impl Engine {
    pub fn backends(self: &Arc<Self>) -> Backends {
        let area = || Arc::new(Area(self.clone()));
        Backends {
            containers: area(),
            exec: area(),
            images: area(),
            networks: area(),
            system: area(),
            events: area(),
            volumes: area(),
        }
    }
}
