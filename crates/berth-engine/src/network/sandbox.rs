//! A running container's network: its namespace at
//! `<exec-root>/netns/<id>`, one veth endpoint per network, the host ports
//! it publishes and, on user networks, its DNS server.
//!
//! Attach plans under the state lock (addresses, ports), so two starts
//! never take the same; then it asks the kernel, and undoes the plan if
//! the kernel refuses. What it made is returned as a `SandboxRecord`, which
//! the container's record keeps: a restarted daemon rebuilds the sandbox
//! from it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

use berth_network::dns::DnsServer;
use berth_network::firewall::PortRule;
use berth_network::link::{self, VethSpec};
use bollard_stubs::models::{EndpointSettings, PortBinding};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::ports::{self, Published};
use super::{NetworkService, State};
use crate::error::{Error, Result};
use crate::locks::IgnorePoison;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network_name: String,
    pub endpoint_id: String,
    /// `eth0`, `eth1`, ... inside the namespace.
    pub ifname: String,
    /// The host side of the veth.
    pub host_ifname: String,
    pub mac: String,
    pub ipv4: Option<IpNet>,
    pub gateway4: Option<Ipv4Addr>,
    pub ipv6: Option<IpNet>,
    pub gateway6: Option<Ipv6Addr>,
    /// `--network-alias` names on this network.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Whether the network is the default bridge (no DNS by name).
    #[serde(default)]
    pub default_bridge: bool,
}

/// What the container's record keeps of its sandbox while it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// The namespace's path (`SandboxKey`).
    pub key: PathBuf,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<Published>,
    /// The container's own `--dns`: where its embedded DNS forwards.
    #[serde(default)]
    pub dns: Vec<String>,
}

impl SandboxRecord {
    /// Docker's `NetworkSettings.Ports` for a running container: each
    /// published port with its host bindings, each exposed one with null.
    pub fn port_map(&self, exposed: &[String]) -> HashMap<String, Option<Vec<PortBinding>>> {
        let mut map: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for key in exposed {
            let key = if key.contains('/') {
                key.clone()
            } else {
                format!("{key}/tcp")
            };
            map.entry(key).or_insert(None);
        }
        for p in &self.ports {
            map.entry(format!("{}/{}", p.container_port, p.proto))
                .or_insert(None)
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(p.shown_ip()),
                    host_port: Some(p.host_port.to_string()),
                });
        }
        map
    }

    /// The container's first IPv4 address (the one ports forward to).
    pub fn primary_ipv4(&self) -> Option<IpAddr> {
        self.endpoints
            .first()
            .and_then(|e| e.ipv4)
            .map(|n| n.addr())
    }
}

pub struct PortState {
    pub published: Published,
    pub rule: PortRule,
}

pub(crate) struct Sandbox {
    pub id: String,
    pub name: String,
    pub key: PathBuf,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<PortState>,
    pub dns: Option<DnsServer>,
    /// The container's own `--dns`.
    pub dns_servers: Vec<String>,
}

/// What a start asks for.
pub struct AttachRequest {
    pub id: String,
    pub name: String,
    /// Network name -> the user's endpoint settings; the first is the
    /// container's `NetworkMode`.
    pub networks: Vec<(String, EndpointSettings)>,
    pub port_bindings: HashMap<String, Option<Vec<PortBinding>>>,
    pub publish_all: bool,
    pub exposed: Vec<String>,
    /// `Config.MacAddress` (API < 1.44), for the first network.
    pub mac_address: Option<String>,
    /// `HostConfig.Dns`: on user networks, where the embedded DNS forwards.
    pub dns: Vec<String>,
}

#[derive(Debug)]
pub struct Attached {
    pub record: SandboxRecord,
    /// On a user network: DNS is served at 127.0.0.11.
    pub embedded_dns: bool,
}

fn parse_ip<T: std::str::FromStr>(s: Option<&String>, what: &str) -> Result<Option<T>> {
    match s.map(String::as_str).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| Error::invalid(format!("invalid {what} address: {v}"))),
    }
}

impl State {
    /// Gives back what the sandbox `id` held; returns it for the kernel side.
    fn release(&mut self, id: &str) -> Option<Sandbox> {
        let sb = self.sandboxes.remove(id)?;
        for ep in &sb.endpoints {
            self.release_addresses(ep);
        }
        self.ports.release_owner(id);
        Some(sb)
    }

    /// Gives an endpoint's addresses back to its network's pools.
    fn release_addresses(&mut self, ep: &Endpoint) {
        let Some(net) = self.nets.get_mut(&ep.network_id) else {
            return;
        };
        for ip in ep.ipv4.iter().chain(ep.ipv6.iter()) {
            for pool in &mut net.pools {
                if pool.contains(&ip.addr()) {
                    pool.release(ip.addr());
                }
            }
        }
    }

    /// One endpoint on network `name`, its addresses taken from the pools.
    fn plan_endpoint(
        &mut self,
        index: usize,
        name: &str,
        cfg: &EndpointSettings,
        mac: Option<&String>,
    ) -> Result<Endpoint> {
        let id = self.find_id(name)?;
        let net = self
            .nets
            .get_mut(&id)
            .ok_or_else(|| Error::not_found(format!("network {name} not found")))?;
        if !net.rec.is_bridge() {
            return Err(Error::invalid(format!(
                "container cannot be connected to network {} with driver {}",
                net.rec.name, net.rec.driver
            )));
        }
        let ipam = cfg.ipam_config.clone().unwrap_or_default();
        let want4: Option<Ipv4Addr> = parse_ip(ipam.ipv4_address.as_ref(), "IPv4")?;
        let want6: Option<Ipv6Addr> = parse_ip(ipam.ipv6_address.as_ref(), "IPv6")?;
        if (want4.is_some() || want6.is_some()) && net.rec.builtin {
            return Err(Error::invalid(
                "invalid endpoint settings:\nuser-specified IP address is supported on user-defined networks only",
            ));
        }
        let mut ipv4 = None;
        let mut gateway4 = None;
        if let Some(pool) = net.pool_for(true) {
            let ip = pool.request(want4.map(IpAddr::V4))?;
            ipv4 = IpNet::new(ip, pool.subnet().prefix_len()).ok();
            if let IpAddr::V4(g) = pool.gateway() {
                gateway4 = (!net.rec.internal).then_some(g);
            }
        }
        let mut ipv6 = None;
        let mut gateway6 = None;
        if net.rec.enable_ipv6 {
            if let Some(pool) = net.pool_for(false) {
                match pool.request(want6.map(IpAddr::V6)) {
                    Ok(ip) => {
                        ipv6 = IpNet::new(ip, pool.subnet().prefix_len()).ok();
                        if let IpAddr::V6(g) = pool.gateway() {
                            gateway6 = (!net.rec.internal).then_some(g);
                        }
                    }
                    Err(e) => {
                        if let (Some(v4), Some(p)) = (ipv4, net.pool_for(true)) {
                            p.release(v4.addr());
                        }
                        return Err(e.into());
                    }
                }
            }
        }
        let mac = match mac.filter(|m| !m.is_empty()) {
            Some(m) => {
                link::parse_mac(m)?;
                m.to_lowercase()
            }
            None => match ipv4 {
                Some(IpNet::V4(v4)) => format_mac(link::mac_for(v4.addr())),
                _ => format_mac(random_mac()),
            },
        };
        Ok(Endpoint {
            network_id: net.rec.id.clone(),
            network_name: net.rec.name.clone(),
            endpoint_id: crate::ids::new_id(),
            ifname: format!("eth{index}"),
            host_ifname: link::veth_name(),
            mac,
            ipv4,
            gateway4,
            ipv6,
            gateway6,
            aliases: cfg.aliases.clone().unwrap_or_default(),
            default_bridge: net.rec.is_default_bridge(),
        })
    }

    /// Host ports for the container's published ports, forwarded to `ip`.
    fn plan_ports(
        &mut self,
        owner: &str,
        req: &AttachRequest,
        ip: IpAddr,
        bridge: &str,
    ) -> Result<Vec<PortState>> {
        let mut wanted: Vec<(String, PortBinding)> = Vec::new();
        let mut keys: Vec<&String> = req.port_bindings.keys().collect();
        keys.sort();
        for key in keys {
            for b in req.port_bindings[key].iter().flatten() {
                wanted.push((key.clone(), b.clone()));
            }
        }
        if req.publish_all {
            let mut exposed = req.exposed.clone();
            exposed.sort();
            for key in exposed {
                let norm = if key.contains('/') {
                    key.clone()
                } else {
                    format!("{key}/tcp")
                };
                if !req.port_bindings.contains_key(&key) && !req.port_bindings.contains_key(&norm) {
                    wanted.push((norm, PortBinding::default()));
                }
            }
        }
        let (lo, hi) = ports::ephemeral_range();
        let mut out = Vec::new();
        for (key, b) in wanted {
            let (container_port, proto) = ports::parse_container_port(&key)?;
            let given: Option<IpAddr> = match b.host_ip.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(
                    s.parse()
                        .map_err(|_| Error::invalid(format!("invalid host IP: {s}")))?,
                ),
            };
            if given.is_some_and(|h| h.is_ipv4() != ip.is_ipv4()) {
                // A binding of the other family (`[::]:8080` for a v4-only
                // container) is skipped, as dockerd without its proxy does.
                continue;
            }
            let host_ip = given.filter(|h| !h.is_unspecified());
            let range = ports::parse_host_port(b.host_port.as_deref().unwrap_or(""))?;
            let mut published = Published {
                proto: proto.clone(),
                host_ip,
                host_port: 0,
                container_port,
            };
            match range {
                Some((a, z)) if a == z => {
                    published.host_port = a;
                    self.ports.take(owner, &published, true)?;
                }
                Some((a, z)) => {
                    self.ports.take_free(owner, &mut published, a, z)?;
                }
                None => {
                    self.ports.take_free(owner, &mut published, lo, hi)?;
                }
            }
            out.push(PortState {
                rule: rule_for(&published, ip, bridge),
                published,
            });
        }
        Ok(out)
    }
}

fn rule_for(p: &Published, ip: IpAddr, bridge: &str) -> PortRule {
    PortRule {
        proto: p.proto(),
        host_ip: p.host_ip,
        host_port: p.host_port,
        container_ip: ip,
        container_port: p.container_port,
        bridge: bridge.to_string(),
    }
}

pub fn format_mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn random_mac() -> [u8; 6] {
    let mut m: [u8; 6] = rand::random();
    // Locally administered, unicast.
    m[0] = (m[0] & 0xfe) | 0x02;
    m
}

impl NetworkService {
    /// Makes the container's namespace and endpoints and publishes its
    /// ports. On failure nothing it made remains.
    pub async fn attach(self: &Arc<Self>, req: AttachRequest) -> Result<Attached> {
        let key = self.netns_dir().join(&req.id);
        let planned = self.plan(&req, &key);
        let (endpoints, has_ports) = match planned {
            Ok(p) => p,
            Err(e) => {
                self.state.locked().release(&req.id);
                return Err(e);
            }
        };
        if let Err(e) = self.build(&key, &endpoints).await {
            self.detach(&req.id, None).await;
            return Err(e);
        }
        if has_ports {
            if let Err(e) = self.sync_firewall().await {
                self.detach(&req.id, None).await;
                return Err(e);
            }
        }
        let embedded_dns = endpoints.iter().any(|e| !e.default_bridge);
        if embedded_dns {
            self.serve_dns(&req.id, &key);
        }
        let st = self.state.locked();
        let sb = st
            .sandboxes
            .get(&req.id)
            .ok_or_else(|| Error::system("sandbox vanished during its start"))?;
        Ok(Attached {
            record: sandbox_record(sb),
            embedded_dns,
        })
    }

    fn plan(&self, req: &AttachRequest, key: &std::path::Path) -> Result<(Vec<Endpoint>, bool)> {
        let mut st = self.state.locked();
        if st.sandboxes.contains_key(&req.id) {
            return Err(Error::conflict(format!(
                "container {} already has a network sandbox",
                req.id
            )));
        }
        st.sandboxes.insert(
            req.id.clone(),
            Sandbox {
                id: req.id.clone(),
                name: req.name.clone(),
                key: key.to_path_buf(),
                endpoints: Vec::new(),
                ports: Vec::new(),
                dns: None,
                dns_servers: req.dns.clone(),
            },
        );
        for (i, (name, cfg)) in req.networks.iter().enumerate() {
            let mac = if i == 0 {
                cfg.mac_address
                    .as_ref()
                    .filter(|m| !m.is_empty())
                    .or(req.mac_address.as_ref())
            } else {
                cfg.mac_address.as_ref()
            };
            let ep = st.plan_endpoint(i, name, cfg, mac)?;
            if let Some(sb) = st.sandboxes.get_mut(&req.id) {
                sb.endpoints.push(ep);
            }
        }
        let first = st
            .sandboxes
            .get(&req.id)
            .and_then(|s| s.endpoints.first().cloned());
        let mut has_ports = false;
        if let Some(ep) = first {
            if let Some(ip) = ep.ipv4.map(|n| n.addr()) {
                let bridge = st
                    .nets
                    .get(&ep.network_id)
                    .map(|n| n.rec.bridge.clone())
                    .unwrap_or_default();
                let ports = st.plan_ports(&req.id, req, ip, &bridge)?;
                has_ports = !ports.is_empty();
                if let Some(sb) = st.sandboxes.get_mut(&req.id) {
                    sb.ports = ports;
                }
            }
        }
        let eps = st
            .sandboxes
            .get(&req.id)
            .map(|s| s.endpoints.clone())
            .unwrap_or_default();
        Ok((eps, has_ports))
    }

    async fn build(&self, key: &std::path::Path, endpoints: &[Endpoint]) -> Result<()> {
        let plane = self.plane.clone();
        let k = key.to_path_buf();
        tokio::task::spawn_blocking(move || plane.create_netns(&k)).await??;
        for ep in endpoints {
            self.add_endpoint(key, ep).await?;
        }
        Ok(())
    }

    pub(crate) async fn add_endpoint(&self, key: &std::path::Path, ep: &Endpoint) -> Result<()> {
        let bridge = self
            .state
            .locked()
            .nets
            .get(&ep.network_id)
            .map(|n| n.rec.bridge.clone())
            .ok_or_else(|| Error::not_found(format!("network {} not found", ep.network_name)))?;
        let addrs: Vec<IpNet> = ep.ipv4.iter().chain(ep.ipv6.iter()).copied().collect();
        let mac = link::parse_mac(&ep.mac)?;
        // The first endpoint is the gateway one: only its network routes
        // what no other does, as dockerd routes.
        let routes = ep.ifname == "eth0";
        self.plane
            .add_veth(&VethSpec {
                host_name: &ep.host_ifname,
                bridge: &bridge,
                netns: key,
                ifname: &ep.ifname,
                mac,
                addrs: &addrs,
                gateway4: ep.gateway4.filter(|_| routes),
                gateway6: ep.gateway6.filter(|_| routes),
                mtu: None,
            })
            .await?;
        Ok(())
    }

    /// Takes the sandbox down: DNS, veths, namespace, addresses, ports and
    /// their rules. `rec` is the container's record of it, for a sandbox a
    /// previous daemon made and this one never adopted. Idempotent.
    pub async fn detach(self: &Arc<Self>, id: &str, rec: Option<&SandboxRecord>) {
        let sb = self.state.locked().release(id);
        // What this daemon holds wins over the record of it.
        let held = sb.as_ref().map(sandbox_record);
        let (key, veths, had_ports) = match held.as_ref().or(rec) {
            Some(r) => (
                r.key.clone(),
                r.endpoints.iter().map(|e| e.host_ifname.clone()).collect(),
                !r.ports.is_empty(),
            ),
            None => (self.netns_dir().join(id), Vec::new(), false),
        };
        if let Some(d) = sb.and_then(|mut sb| sb.dns.take()) {
            d.stop();
        }
        // Deleting the host end takes the pair down at once; the namespace
        // alone would take it only when the kernel gets round to it.
        for v in veths {
            if let Err(e) = self.plane.delete_link(&v).await {
                tracing::warn!("deleting {v}: {e}");
            }
        }
        if !key.as_os_str().is_empty() {
            let plane = self.plane.clone();
            let res = tokio::task::spawn_blocking(move || plane.remove_netns(&key)).await;
            if let Ok(Err(e)) = res {
                tracing::warn!("removing the network namespace of {id}: {e}");
            }
        }
        if had_ports {
            if let Err(e) = self.sync_firewall().await {
                tracing::warn!("rewriting the packet filter: {e}");
            }
        }
    }

    /// A running container's sandbox, as a previous daemon left it: its
    /// addresses and ports are taken again and its DNS served again. The
    /// caller writes the ruleset once all are back.
    pub fn restore(self: &Arc<Self>, id: &str, name: &str, rec: &SandboxRecord) {
        let mut st = self.state.locked();
        let mut eps = Vec::new();
        for ep in &rec.endpoints {
            let Some(net) = st.nets.get_mut(&ep.network_id) else {
                tracing::warn!("container {id}: network {} is gone", ep.network_name);
                continue;
            };
            for ip in ep.ipv4.iter().chain(ep.ipv6.iter()) {
                for pool in &mut net.pools {
                    if pool.contains(&ip.addr()) && !pool.mark(ip.addr()) {
                        tracing::warn!("container {id}: address {ip} was taken twice");
                    }
                }
            }
            eps.push(ep.clone());
        }
        let mut ports = Vec::new();
        if let (Some(ip), Some(first)) = (rec.primary_ipv4(), eps.first()) {
            let bridge = st
                .nets
                .get(&first.network_id)
                .map(|n| n.rec.bridge.clone())
                .unwrap_or_default();
            for p in &rec.ports {
                if let Err(e) = st.ports.take(id, p, false) {
                    tracing::warn!("container {id}: {e}");
                    continue;
                }
                ports.push(PortState {
                    rule: rule_for(p, ip, &bridge),
                    published: p.clone(),
                });
            }
        }
        let dns = eps.iter().any(|e| !e.default_bridge);
        st.sandboxes.insert(
            id.to_string(),
            Sandbox {
                id: id.to_string(),
                name: name.to_string(),
                key: rec.key.clone(),
                endpoints: eps,
                ports,
                dns: None,
                dns_servers: rec.dns.clone(),
            },
        );
        drop(st);
        if dns {
            self.serve_dns(id, &rec.key);
        }
    }

    /// Namespaces under the exec root that no running container owns: a
    /// daemon died between making one and recording it.
    pub async fn sweep(self: &Arc<Self>, live: &std::collections::HashSet<String>) {
        let Ok(entries) = std::fs::read_dir(self.netns_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if live.contains(&name) || self.state.locked().sandboxes.contains_key(&name) {
                continue;
            }
            let plane = self.plane.clone();
            let path = e.path();
            let _ = tokio::task::spawn_blocking(move || plane.remove_netns(&path)).await;
        }
    }

    pub(crate) fn serve_dns(self: &Arc<Self>, id: &str, key: &std::path::Path) {
        let names = Arc::new(super::dns_view::View::new(self, id));
        let own = self
            .state
            .locked()
            .sandboxes
            .get(id)
            .map(|s| s.dns_servers.clone())
            .unwrap_or_default();
        let upstream = super::files::upstream_servers(&self.config, &own);
        match self.plane.start_dns(key, names, upstream) {
            Ok(server) => {
                if let Some(sb) = self.state.locked().sandboxes.get_mut(id) {
                    sb.dns = server;
                }
            }
            Err(e) => tracing::warn!("container {id}: embedded DNS not started: {e}"),
        }
    }

    /// A running container joins one more network (`network connect`).
    pub async fn connect_live(
        self: &Arc<Self>,
        id: &str,
        name: &str,
        cfg: &EndpointSettings,
    ) -> Result<SandboxRecord> {
        let (key, ep) = {
            let mut st = self.state.locked();
            let sb = st
                .sandboxes
                .get(id)
                .ok_or_else(|| Error::system(format!("container {id} has no network sandbox")))?;
            let key = sb.key.clone();
            let index = (0..)
                .find(|i| !sb.endpoints.iter().any(|e| e.ifname == format!("eth{i}")))
                .unwrap_or(0);
            let ep = st.plan_endpoint(index, name, cfg, cfg.mac_address.as_ref())?;
            if let Some(sb) = st.sandboxes.get_mut(id) {
                sb.endpoints.push(ep.clone());
            }
            (key, ep)
        };
        if let Err(e) = self.add_endpoint(&key, &ep).await {
            self.drop_endpoint(id, &ep.network_id);
            return Err(e);
        }
        let needs_dns = !ep.default_bridge
            && self
                .state
                .locked()
                .sandboxes
                .get(id)
                .is_some_and(|s| s.dns.is_none());
        if needs_dns {
            self.serve_dns(id, &key);
        }
        self.sandbox_record(id)
            .ok_or_else(|| Error::system("sandbox vanished during connect"))
    }

    /// A running container leaves a network (`network disconnect`).
    pub async fn disconnect_live(
        self: &Arc<Self>,
        id: &str,
        network_id: &str,
    ) -> Result<SandboxRecord> {
        let ep = self.drop_endpoint(id, network_id);
        if let Some(ep) = ep {
            if let Err(e) = self.plane.delete_link(&ep.host_ifname).await {
                tracing::warn!("deleting {}: {e}", ep.host_ifname);
            }
        }
        self.sandbox_record(id)
            .ok_or_else(|| Error::system("sandbox vanished during disconnect"))
    }

    /// Takes one endpoint out of a sandbox and gives its addresses back.
    fn drop_endpoint(&self, id: &str, network_id: &str) -> Option<Endpoint> {
        let mut st = self.state.locked();
        let sb = st.sandboxes.get_mut(id)?;
        let pos = sb
            .endpoints
            .iter()
            .position(|e| e.network_id == network_id)?;
        let ep = sb.endpoints.remove(pos);
        st.release_addresses(&ep);
        Some(ep)
    }

    /// A running container was renamed: DNS answers to its new name.
    pub fn rename(&self, id: &str, name: &str) {
        if let Some(sb) = self.state.locked().sandboxes.get_mut(id) {
            sb.name = name.to_string();
        }
    }

    /// The default bridge's address (`host-gateway`).
    pub fn default_gateway(&self) -> Option<IpAddr> {
        let st = self.state.locked();
        st.nets
            .values()
            .find(|n| n.rec.is_default_bridge())
            .and_then(|n| n.pools.first())
            .map(|p| p.gateway())
    }

    /// The current record of container `id`'s sandbox.
    pub fn sandbox_record(&self, id: &str) -> Option<SandboxRecord> {
        self.state.locked().sandboxes.get(id).map(sandbox_record)
    }
}

fn sandbox_record(sb: &Sandbox) -> SandboxRecord {
    SandboxRecord {
        key: sb.key.clone(),
        endpoints: sb.endpoints.clone(),
        ports: sb.ports.iter().map(|p| p.published.clone()).collect(),
        dns: sb.dns_servers.clone(),
    }
}
