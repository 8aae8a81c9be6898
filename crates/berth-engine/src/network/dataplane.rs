//! The kernel side of networking behind one trait: namespaces, links,
//! the packet filter and the DNS servers. The engine's logic (addresses,
//! ports, records) runs over a fake in unit tests.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use berth_network::dns::{DnsServer, Names};
use berth_network::firewall::Ruleset;
use berth_network::link::{Netlink, VethSpec};
use berth_network::Result;
use ipnet::IpNet;

#[async_trait::async_trait]
pub trait Dataplane: Send + Sync + 'static {
    fn create_netns(&self, path: &Path) -> Result<()>;
    fn remove_netns(&self, path: &Path) -> Result<()>;
    async fn ensure_bridge(&self, name: &str, addrs: &[IpNet]) -> Result<()>;
    async fn delete_link(&self, name: &str) -> Result<()>;
    async fn add_veth(&self, spec: &VethSpec<'_>) -> Result<()>;
    fn apply_firewall(&self, rs: &Ruleset) -> Result<()>;
    fn remove_firewall(&self, table: &str) -> Result<()>;
    /// Serves DNS at 127.0.0.11:53 inside the namespace at `netns`.
    fn start_dns(
        &self,
        netns: &Path,
        names: Arc<dyn Names>,
        upstream: Vec<SocketAddr>,
    ) -> Result<Option<DnsServer>>;
}

/// The real thing: netlink, nft and sockets in namespaces.
pub struct Kernel {
    netlink: Netlink,
}

impl Kernel {
    /// Must run inside the tokio runtime (the netlink connection is a task).
    pub fn new() -> Result<Kernel> {
        Ok(Kernel {
            netlink: Netlink::new()?,
        })
    }
}

#[async_trait::async_trait]
impl Dataplane for Kernel {
    fn create_netns(&self, path: &Path) -> Result<()> {
        berth_network::netns::create(path)
    }

    fn remove_netns(&self, path: &Path) -> Result<()> {
        berth_network::netns::remove(path)
    }

    async fn ensure_bridge(&self, name: &str, addrs: &[IpNet]) -> Result<()> {
        self.netlink.ensure_bridge(name, addrs, None).await
    }

    async fn delete_link(&self, name: &str) -> Result<()> {
        self.netlink.delete_link(name).await
    }

    async fn add_veth(&self, spec: &VethSpec<'_>) -> Result<()> {
        self.netlink.add_veth(spec).await
    }

    fn apply_firewall(&self, rs: &Ruleset) -> Result<()> {
        berth_network::firewall::apply(rs)
    }

    fn remove_firewall(&self, table: &str) -> Result<()> {
        berth_network::firewall::remove(table)
    }

    fn start_dns(
        &self,
        netns: &Path,
        names: Arc<dyn Names>,
        upstream: Vec<SocketAddr>,
    ) -> Result<Option<DnsServer>> {
        let (udp, tcp) = berth_network::netns::run_in(netns, berth_network::dns::bind_resolver)??;
        DnsServer::start(udp, tcp, names, upstream).map(Some)
    }
}

/// Records what it was asked to do; unit tests read it.
#[cfg(test)]
#[derive(Default)]
pub struct Fake {
    pub calls: std::sync::Mutex<Vec<String>>,
    pub rulesets: std::sync::Mutex<Vec<Ruleset>>,
}

#[cfg(test)]
impl Fake {
    fn log(&self, s: String) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }
}

#[cfg(test)]
#[async_trait::async_trait]
impl Dataplane for Fake {
    fn create_netns(&self, path: &Path) -> Result<()> {
        self.log(format!("netns+ {}", path.display()));
        Ok(())
    }
    fn remove_netns(&self, path: &Path) -> Result<()> {
        self.log(format!("netns- {}", path.display()));
        Ok(())
    }
    async fn ensure_bridge(&self, name: &str, addrs: &[IpNet]) -> Result<()> {
        self.log(format!("bridge {name} {addrs:?}"));
        Ok(())
    }
    async fn delete_link(&self, name: &str) -> Result<()> {
        self.log(format!("link- {name}"));
        Ok(())
    }
    async fn add_veth(&self, spec: &VethSpec<'_>) -> Result<()> {
        self.log(format!(
            "veth {} {} {:?}",
            spec.bridge, spec.ifname, spec.addrs
        ));
        Ok(())
    }
    fn apply_firewall(&self, rs: &Ruleset) -> Result<()> {
        self.rulesets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(rs.clone());
        Ok(())
    }
    fn remove_firewall(&self, table: &str) -> Result<()> {
        self.log(format!("table- {table}"));
        Ok(())
    }
    fn start_dns(
        &self,
        netns: &Path,
        _names: Arc<dyn Names>,
        _upstream: Vec<SocketAddr>,
    ) -> Result<Option<DnsServer>> {
        self.log(format!("dns {}", netns.display()));
        Ok(None)
    }
}
