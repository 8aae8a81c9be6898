//! A container's side of networking: which networks it joins (recorded at
//! create, changed by connect and disconnect), its sandbox while it runs,
//! and the hostname, hosts and resolv.conf files it gets.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use berth_runtime::spec::NetNs;
use bollard_stubs::models::{EndpointSettings, HostConfig, NetworkingConfig};

use super::record::ContainerRecord;
use super::spec::Network;
use super::{Container, ContainerService};
use crate::error::{Error, Result};
use crate::network::files::{self, DnsSettings, HostsInput};
use crate::network::record::NetworkRecord;
use crate::network::{AttachRequest, SandboxRecord};

/// `default` is the default bridge, recorded under its name.
fn mode_network(mode: &str) -> &str {
    match mode {
        "" | "default" => crate::network::record::BRIDGE,
        m => m,
    }
}

/// dockerd's endpoint checks that do not need the network itself.
fn check_endpoint(net: &NetworkRecord, cfg: &EndpointSettings) -> Result<()> {
    let ipam = cfg.ipam_config.clone().unwrap_or_default();
    let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if net.builtin && (has(&ipam.ipv4_address) || has(&ipam.ipv6_address)) {
        return Err(Error::invalid(
            "invalid endpoint settings:\nuser-specified IP address is supported on user-defined networks only",
        ));
    }
    if net.builtin && cfg.aliases.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(Error::invalid(
            "invalid endpoint settings:\nnetwork-scoped aliases are only supported for user-defined networks",
        ));
    }
    if ipam.link_local_ips.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(Error::invalid(
            "EndpointSettings.IPAMConfig.LinkLocalIPs are not supported by berth",
        ));
    }
    if cfg.links.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(Error::invalid(
            "EndpointSettings.Links are not supported by berth (use HostConfig.Links)",
        ));
    }
    if cfg.driver_opts.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(Error::invalid(
            "EndpointSettings.DriverOpts are not supported by berth",
        ));
    }
    Ok(())
}

/// Only the user's half of an endpoint's settings is recorded; the rest
/// is the sandbox's while it runs.
fn requested(cfg: &EndpointSettings, network_id: &str) -> EndpointSettings {
    EndpointSettings {
        ipam_config: cfg.ipam_config.clone(),
        links: cfg.links.clone(),
        aliases: cfg.aliases.clone(),
        mac_address: cfg.mac_address.clone().filter(|m| !m.is_empty()),
        network_id: Some(network_id.to_string()),
        ..Default::default()
    }
}

impl ContainerService {
    /// The networks a new container joins: its `NetworkMode`'s, with the
    /// endpoint settings the request gave for it. Checks that the network
    /// exists (dockerd's 404) and that the settings suit it.
    pub(super) fn create_networks(
        &self,
        hc: &HostConfig,
        nc: &NetworkingConfig,
    ) -> Result<BTreeMap<String, EndpointSettings>> {
        let mode = hc.network_mode.as_deref().unwrap_or("default");
        let Some(net) = self.net.endpoint_network(mode)? else {
            // `host` and `none` are listed as dockerd lists them, with no
            // endpoint to make.
            if let Some(n) = ["host", "none"].into_iter().find(|n| *n == mode) {
                let rec = self.net.lookup(n)?;
                return Ok(BTreeMap::from([(
                    rec.name.clone(),
                    requested(&EndpointSettings::default(), &rec.id),
                )]));
            }
            return Ok(BTreeMap::new());
        };
        let name = mode_network(mode);
        let cfg = nc
            .endpoints_config
            .iter()
            .flatten()
            .find(|(k, _)| {
                k.as_str() == name
                    || k.as_str() == mode
                    || k.as_str() == net.name
                    || k.as_str() == net.id
            })
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        check_endpoint(&net, &cfg)?;
        Ok(BTreeMap::from([(
            net.name.clone(),
            requested(&cfg, &net.id),
        )]))
    }

    /// Makes the container's network before its process runs.
    pub(super) async fn prepare_network(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
    ) -> Result<Network> {
        let mode = rec.host_config.network_mode.as_deref().unwrap_or("default");
        if let Some(name) = mode.strip_prefix("container:") {
            return self.donor_network(name);
        }
        let hostname = rec.config.hostname.clone().unwrap_or_default();
        fs::write(c.paths.hostname(), format!("{hostname}\n"))?;
        let hc = &rec.host_config;
        let dns = DnsSettings {
            servers: hc.dns.clone().unwrap_or_default(),
            search: hc.dns_search.clone().unwrap_or_default(),
            options: hc.dns_options.clone().unwrap_or_default(),
        };
        let no_bridge = matches!(mode, "default" | "bridge" | "") && self.net.bridge_disabled();
        let disabled = rec.config.network_disabled.unwrap_or(false) || no_bridge;
        let (ns, hosts, resolv) = match mode {
            _ if no_bridge => (NetNs::New, String::new(), String::new()),
            "host" => {
                let mut hosts = fs::read_to_string("/etc/hosts")
                    .unwrap_or_else(|_| files::HOSTS_DEFAULTS.to_string());
                for (name, ip) in self.extra_hosts(rec, None)? {
                    hosts.push_str(&format!("{ip}\t{name}\n"));
                }
                let resolv = fs::read_to_string(&self.net.config.resolv_conf).unwrap_or_default();
                (NetNs::Host, hosts, resolv)
            }
            "none" => {
                let hosts = files::hosts(&HostsInput {
                    extra: self.extra_hosts(rec, None)?,
                    hostname: &hostname,
                    domainname: rec.config.domainname.as_deref().unwrap_or(""),
                    ..Default::default()
                });
                let resolv = files::resolv_conf(&self.net.config, &dns, false);
                (NetNs::New, hosts, resolv)
            }
            _ => self.attach_bridge(c, rec, &hostname, &dns).await?,
        };
        if !disabled {
            fs::write(c.paths.hosts(), hosts)?;
            fs::write(c.paths.resolv_conf(), resolv)?;
        }
        let file = |p: PathBuf| if disabled { PathBuf::new() } else { p };
        Ok(Network {
            ns,
            hostname,
            hostname_file: c.paths.hostname(),
            hosts: file(c.paths.hosts()),
            resolv_conf: file(c.paths.resolv_conf()),
        })
    }

    /// `container:X` shares X's namespace and X's files.
    fn donor_network(&self, name: &str) -> Result<Network> {
        let donor = self.get(name).map_err(|e| {
            Error::system(format!(
                "cannot join network of a non running container: {name}: {}",
                e.message
            ))
        })?;
        let drec = donor.snapshot();
        if !drec.state.status.is_live() || drec.state.pid <= 0 {
            return Err(Error::system(format!(
                "cannot join network of a non running container: {}",
                drec.id
            )));
        }
        let ns = match &drec.sandbox {
            Some(sb) => NetNs::Container(sb.key.clone()),
            None => NetNs::Container(PathBuf::from(format!("/proc/{}/ns/net", drec.state.pid))),
        };
        Ok(Network {
            ns,
            hostname: drec.config.hostname.clone().unwrap_or_default(),
            hostname_file: donor.paths.hostname(),
            hosts: donor.paths.hosts(),
            resolv_conf: donor.paths.resolv_conf(),
        })
    }

    /// A bridge network's sandbox, recorded with the container.
    async fn attach_bridge(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
        hostname: &str,
        dns: &DnsSettings,
    ) -> Result<(NetNs, String, String)> {
        let mode = rec.host_config.network_mode.as_deref().unwrap_or("default");
        let primary = self
            .net
            .endpoint_network(mode)?
            .map(|n| n.name)
            .unwrap_or_default();
        let mut networks: Vec<(String, EndpointSettings)> = Vec::new();
        if let Some(cfg) = rec.networks.get(&primary) {
            networks.push((primary.clone(), cfg.clone()));
        }
        for (name, cfg) in &rec.networks {
            if *name != primary {
                networks.push((name.clone(), cfg.clone()));
            }
        }
        let hc = &rec.host_config;
        let req = AttachRequest {
            id: rec.id.clone(),
            name: rec.name.clone(),
            networks,
            port_bindings: hc.port_bindings.clone().unwrap_or_default(),
            publish_all: hc.publish_all_ports.unwrap_or(false),
            exposed: rec
                .config
                .exposed_ports
                .as_ref()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
            mac_address: rec.config.mac_address.clone().filter(|m| !m.is_empty()),
            dns: hc.dns.clone().unwrap_or_default(),
        };
        let attached = self.net.attach(req).await?;
        let sandbox = attached.record.clone();
        if let Err(e) = c.update(|r| r.sandbox = Some(sandbox.clone())) {
            self.net.detach(&rec.id, Some(&sandbox)).await;
            return Err(e);
        }
        for ep in &sandbox.endpoints {
            self.net.container_event(&ep.network_id, "connect", &rec.id);
        }
        let own: Vec<IpAddr> = sandbox
            .endpoints
            .iter()
            .flat_map(|e| e.ipv4.iter().chain(e.ipv6.iter()).map(|n| n.addr()))
            .collect();
        let gateway = sandbox
            .endpoints
            .first()
            .and_then(|e| e.gateway4)
            .map(IpAddr::V4);
        let hosts = files::hosts(&HostsInput {
            extra: self.extra_hosts(rec, gateway)?,
            links: self.link_entries(rec),
            own,
            hostname,
            domainname: rec.config.domainname.as_deref().unwrap_or(""),
        });
        let resolv = files::resolv_conf(&self.net.config, dns, attached.embedded_dns);
        Ok((NetNs::Path(sandbox.key.clone()), hosts, resolv))
    }

    /// `--add-host name:ip`; `host-gateway` is the bridge's address.
    fn extra_hosts(
        &self,
        rec: &ContainerRecord,
        gateway: Option<IpAddr>,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for entry in rec.host_config.extra_hosts.iter().flatten() {
            let Some((name, ip)) = entry.split_once(':').or_else(|| entry.split_once('=')) else {
                continue;
            };
            let ip = if ip == "host-gateway" {
                match gateway.or_else(|| self.net.default_gateway()) {
                    Some(g) => g.to_string(),
                    None => {
                        return Err(Error::invalid(
                            "unable to derive the IP value for host-gateway",
                        ))
                    }
                }
            } else {
                ip.trim_start_matches('[').trim_end_matches(']').to_string()
            };
            out.push((name.to_string(), ip));
        }
        Ok(out)
    }

    /// Legacy `--link name:alias`: the linked container's address, when it
    /// runs (dockerd refuses a link to a stopped one at start).
    fn link_entries(&self, rec: &ContainerRecord) -> Vec<(IpAddr, String, String)> {
        let mut out = Vec::new();
        for link in rec.host_config.links.iter().flatten() {
            let (name, alias) = link.split_once(':').unwrap_or((link, link));
            let name = name.trim_start_matches('/');
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            let Ok(other) = self.get(name) else { continue };
            let orec = other.snapshot();
            if let Some(ip) = orec.sandbox.as_ref().and_then(SandboxRecord::primary_ipv4) {
                out.push((ip, alias.to_string(), orec.name.clone()));
            }
        }
        out
    }

    /// Takes down the sandbox of a container whose process is gone.
    pub(super) async fn release_network(self: &Arc<Self>, c: &Arc<Container>) {
        let rec = c.snapshot();
        let Some(sandbox) = rec.sandbox.clone() else {
            if self.net.sandbox_record(&c.id).is_some() {
                self.net.detach(&c.id, None).await;
            }
            return;
        };
        self.net.detach(&c.id, Some(&sandbox)).await;
        for ep in &sandbox.endpoints {
            self.net
                .container_event(&ep.network_id, "disconnect", &rec.id);
        }
        if let Err(e) = c.update(|r| r.sandbox = None) {
            tracing::warn!(id = %c.id, "recording the network's release: {e}");
        }
    }

    /// Checks that the links a create names exist (dockerd's 400s).
    pub(super) fn check_links(&self, hc: &HostConfig) -> Result<()> {
        for link in hc.links.iter().flatten() {
            let (name, _) = link.split_once(':').unwrap_or((link, link));
            let name = name.trim_start_matches('/');
            if self.get(name).is_err() {
                return Err(Error::invalid(format!(
                    "could not get container for {name}"
                )));
            }
        }
        Ok(())
    }

    /// `POST /networks/{id}/connect`.
    pub async fn network_connect(
        self: &Arc<Self>,
        network: &str,
        container: &str,
        cfg: EndpointSettings,
    ) -> Result<()> {
        let net = self.net.lookup(network)?;
        let c = self.get(container)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let mode = rec.host_config.network_mode.as_deref().unwrap_or("default");
        if !net.is_bridge() {
            return Err(Error::forbidden(format!(
                "container cannot be disconnected from host network or connected to {} network",
                net.name
            )));
        }
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Err(Error::forbidden(
                "container sharing network namespace with another container or host cannot be connected to any other network",
            ));
        }
        if rec.networks.contains_key(&net.name) {
            return Err(Error::forbidden(format!(
                "endpoint with name {} already exists in network {}",
                rec.name, net.name
            )));
        }
        check_endpoint(&net, &cfg)?;
        let wanted = requested(&cfg, &net.id);
        if rec.state.status.is_live() {
            let sandbox = self.net.connect_live(&rec.id, &net.name, &wanted).await?;
            c.update_durable(|r| {
                r.networks.insert(net.name.clone(), wanted.clone());
                // An exit's teardown may have released the sandbox meanwhile.
                if r.state.status.is_live() {
                    r.sandbox = Some(sandbox.clone());
                }
            })?;
        } else {
            c.update_durable(|r| {
                r.networks.insert(net.name.clone(), wanted.clone());
            })?;
        }
        self.net.container_event(&net.id, "connect", &rec.id);
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub async fn network_disconnect(
        self: &Arc<Self>,
        network: &str,
        container: &str,
        force: bool,
    ) -> Result<()> {
        let net = self.net.lookup(network)?;
        let c = match self.get(container) {
            Ok(c) => c,
            Err(e) if force => {
                // dockerd's force removes a stale endpoint of a container it
                // no longer knows; berth keeps none, so there is nothing to do.
                tracing::debug!("disconnect --force of an unknown container: {e}");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !net.is_bridge() {
            return Err(Error::forbidden(format!(
                "container cannot be disconnected from host network or connected to {} network",
                net.name
            )));
        }
        if !rec.networks.contains_key(&net.name) {
            return Err(Error::forbidden(format!(
                "container {} is not connected to network {}",
                rec.id, net.name
            )));
        }
        if rec.state.status.is_live() {
            let sandbox = self.net.disconnect_live(&rec.id, &net.id).await?;
            c.update_durable(|r| {
                r.networks.remove(&net.name);
                if r.state.status.is_live() {
                    r.sandbox = Some(sandbox.clone());
                }
            })?;
        } else {
            c.update_durable(|r| {
                r.networks.remove(&net.name);
            })?;
        }
        self.net.container_event(&net.id, "disconnect", &rec.id);
        Ok(())
    }

    /// Network ids that containers name, running or not (`dangling`).
    pub fn networks_in_use(&self) -> std::collections::HashSet<String> {
        self.all()
            .iter()
            .flat_map(|c| {
                c.snapshot()
                    .networks
                    .values()
                    .filter_map(|e| e.network_id.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// docker's `NetworkSettings` of a container: its endpoints with their
/// addresses while it runs, the requested settings only when it does not.
pub(super) fn network_settings(rec: &ContainerRecord) -> bollard_stubs::models::NetworkSettings {
    use bollard_stubs::models::NetworkSettings;
    let sandbox = rec.sandbox.as_ref();
    let mut networks = std::collections::HashMap::new();
    for (name, wanted) in &rec.networks {
        let mut view = EndpointSettings {
            ipam_config: wanted.ipam_config.clone(),
            links: wanted.links.clone(),
            aliases: wanted.aliases.clone(),
            mac_address: Some(wanted.mac_address.clone().unwrap_or_default()),
            driver_opts: None,
            network_id: Some(wanted.network_id.clone().unwrap_or_default()),
            endpoint_id: Some(String::new()),
            gateway: Some(String::new()),
            ip_address: Some(String::new()),
            ip_prefix_len: Some(0),
            ipv6_gateway: Some(String::new()),
            global_ipv6_address: Some(String::new()),
            global_ipv6_prefix_len: Some(0),
            dns_names: None,
        };
        let live = sandbox.and_then(|s| {
            s.endpoints
                .iter()
                .find(|e| Some(&e.network_id) == wanted.network_id.as_ref())
        });
        if let Some(ep) = live {
            view.network_id = Some(ep.network_id.clone());
            view.endpoint_id = Some(ep.endpoint_id.clone());
            view.mac_address = Some(ep.mac.clone());
            if let Some(v4) = ep.ipv4 {
                view.ip_address = Some(v4.addr().to_string());
                view.ip_prefix_len = Some(v4.prefix_len() as i64);
            }
            view.gateway = Some(ep.gateway4.map(|g| g.to_string()).unwrap_or_default());
            if let Some(v6) = ep.ipv6 {
                view.global_ipv6_address = Some(v6.addr().to_string());
                view.global_ipv6_prefix_len = Some(v6.prefix_len() as i64);
            }
            view.ipv6_gateway = Some(ep.gateway6.map(|g| g.to_string()).unwrap_or_default());
            if !ep.default_bridge {
                view.dns_names = Some(crate::network::names_of(&rec.id, &rec.name, &ep.aliases));
            }
        }
        networks.insert(name.clone(), view);
    }
    let exposed: Vec<String> = rec
        .config
        .exposed_ports
        .as_ref()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut out = NetworkSettings {
        bridge: Some(String::new()),
        sandbox_id: Some(sandbox.map(|_| rec.id.clone()).unwrap_or_default()),
        hairpin_mode: Some(false),
        link_local_ipv6_address: Some(String::new()),
        link_local_ipv6_prefix_len: Some(0),
        ports: Some(sandbox.map(|s| s.port_map(&exposed)).unwrap_or_default()),
        sandbox_key: Some(
            sandbox
                .map(|s| s.key.display().to_string())
                .unwrap_or_default(),
        ),
        secondary_ip_addresses: None,
        secondary_ipv6_addresses: None,
        endpoint_id: Some(String::new()),
        gateway: Some(String::new()),
        global_ipv6_address: Some(String::new()),
        global_ipv6_prefix_len: Some(0),
        ip_address: Some(String::new()),
        ip_prefix_len: Some(0),
        ipv6_gateway: Some(String::new()),
        mac_address: Some(String::new()),
        networks: Some(networks),
    };
    // The deprecated top-level fields describe the default bridge's endpoint.
    if let Some(ep) = sandbox.and_then(|s| s.endpoints.iter().find(|e| e.default_bridge)) {
        out.endpoint_id = Some(ep.endpoint_id.clone());
        out.mac_address = Some(ep.mac.clone());
        if let Some(v4) = ep.ipv4 {
            out.ip_address = Some(v4.addr().to_string());
            out.ip_prefix_len = Some(v4.prefix_len() as i64);
        }
        out.gateway = Some(ep.gateway4.map(|g| g.to_string()).unwrap_or_default());
    }
    out
}

/// `ps`'s `Ports`: one entry per host binding, and the exposed ports of a
/// running container without one.
pub(super) fn summary_ports(rec: &ContainerRecord) -> Vec<bollard_stubs::models::Port> {
    use bollard_stubs::models::{Port, PortTypeEnum};
    let Some(sb) = rec.sandbox.as_ref() else {
        return Vec::new();
    };
    let typ = |p: &str| match p {
        "udp" => PortTypeEnum::UDP,
        "sctp" => PortTypeEnum::SCTP,
        _ => PortTypeEnum::TCP,
    };
    let mut out: Vec<Port> = sb
        .ports
        .iter()
        .map(|p| Port {
            ip: Some(p.shown_ip()),
            private_port: p.container_port,
            public_port: Some(p.host_port),
            typ: Some(typ(&p.proto)),
        })
        .collect();
    for key in rec.config.exposed_ports.iter().flat_map(|m| m.keys()) {
        let Ok((port, proto)) = crate::network::ports::parse_container_port(key) else {
            continue;
        };
        if !sb
            .ports
            .iter()
            .any(|p| p.container_port == port && p.proto == proto)
        {
            out.push(Port {
                ip: None,
                private_port: port,
                public_port: None,
                typ: Some(typ(&proto)),
            });
        }
    }
    out
}

/// `ps`'s `NetworkSettings.Networks`.
pub(super) fn summary_networks(
    rec: &ContainerRecord,
) -> bollard_stubs::models::ContainerSummaryNetworkSettings {
    bollard_stubs::models::ContainerSummaryNetworkSettings {
        networks: network_settings(rec).networks,
    }
}
