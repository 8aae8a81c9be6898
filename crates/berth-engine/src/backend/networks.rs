//! `/networks` (moby's network router backend).

use async_trait::async_trait;
use bollard_stubs::models::{EndpointSettings, NetworkCreateRequest};

pub use crate::network::api::Network;

use super::Area;
use crate::error::Result;
use crate::filters::Filters;

#[async_trait]
pub trait NetworksBackend: Send + Sync {
    fn list(&self, filters: &Filters) -> Result<Vec<Network>>;
    fn inspect(&self, name: &str, scope: Option<&str>) -> Result<Network>;
    async fn create(&self, req: NetworkCreateRequest) -> Result<String>;
    async fn remove(&self, name: &str) -> Result<()>;
    async fn prune(&self, filters: &Filters) -> Result<Vec<String>>;
    async fn connect(&self, network: &str, container: &str, cfg: EndpointSettings) -> Result<()>;
    async fn disconnect(&self, network: &str, container: &str, force: bool) -> Result<()>;
}

#[async_trait]
impl NetworksBackend for Area {
    fn list(&self, filters: &Filters) -> Result<Vec<Network>> {
        let used = self.0.containers.networks_in_use();
        self.0.networks.list(filters, &|id: &str| used.contains(id))
    }

    fn inspect(&self, name: &str, scope: Option<&str>) -> Result<Network> {
        self.0.networks.inspect(name, scope)
    }

    async fn create(&self, req: NetworkCreateRequest) -> Result<String> {
        self.0.networks.create(req).await
    }

    async fn remove(&self, name: &str) -> Result<()> {
        self.0.networks.remove(name).await
    }

    async fn prune(&self, filters: &Filters) -> Result<Vec<String>> {
        self.0.networks.prune(filters).await
    }

    async fn connect(&self, network: &str, container: &str, cfg: EndpointSettings) -> Result<()> {
        self.0
            .containers
            .network_connect(network, container, cfg)
            .await
    }

    async fn disconnect(&self, network: &str, container: &str, force: bool) -> Result<()> {
        self.0
            .containers
            .network_disconnect(network, container, force)
            .await
    }
}
