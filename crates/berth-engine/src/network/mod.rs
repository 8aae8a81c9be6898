//! The network service: networks (the built-in `bridge`, `host`, `none`
//! and user-defined bridges), the sandbox of each running container (its
//! namespace, endpoints, published ports and DNS server), and the one
//! packet-filter table that follows from them.
//!
//! State that must survive a daemon crash is in records: networks in
//! `<root>/network`, a container's endpoints and ports in its own record.
//! Everything else (address pools, port reservations, the ruleset) is
//! rebuilt from those at start, so there is no second copy to go stale.

pub mod api;
pub mod dataplane;
mod dns_view;
pub mod files;
pub mod ports;
pub mod record;
mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use berth_network::firewall::{BridgeRules, Ruleset};
use berth_network::ipam::{Pool, PoolSpec};
use ipnet::IpNet;

use crate::error::{Error, ErrorKind, Result};
use crate::events::EventBus;
use crate::locks::IgnorePoison;
pub use dataplane::{Dataplane, Kernel};
pub use dns_view::names_of;
use record::NetworkRecord;
pub use sandbox::{AttachRequest, Attached, Endpoint, PortState, SandboxRecord};

/// The daemon's networking options (dockerd's flags of the same names).
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// `--bridge`: the default bridge's interface; `none` for no default bridge.
    pub bridge: String,
    /// `--bip`: the default bridge's address with its prefix.
    pub bip: Option<IpNet>,
    /// `--fixed-cidr`: where the default bridge's containers get addresses.
    pub fixed_cidr: Option<IpNet>,
    /// `--default-address-pool`: where networks without a subnet get one.
    pub pools: Vec<PoolSpec>,
    /// The resolv.conf containers' DNS settings derive from.
    pub resolv_conf: PathBuf,
    /// `--dns`: resolvers for every container that names none.
    pub dns: Vec<IpAddr>,
    /// `--iptables`: whether berthd writes packet-filter rules at all.
    pub firewall: bool,
    /// `--ip-masq`.
    pub ip_masq: bool,
    /// `--icc`.
    pub icc: bool,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            bridge: "berth0".into(),
            bip: None,
            fixed_cidr: None,
            pools: berth_network::ipam::default_pools(),
            resolv_conf: "/etc/resolv.conf".into(),
            dns: Vec::new(),
            firewall: true,
            ip_masq: true,
            icc: true,
        }
    }
}

/// The packet-filter table of a daemon: named by its default bridge, so
/// daemons with their own bridges never share one; without a default
/// bridge, by its exec root, which no two running daemons share either.
pub fn table_name(cfg: &NetConfig, exec_root: &std::path::Path) -> String {
    if cfg.bridge != "none" {
        return format!("berth-{}", cfg.bridge);
    }
    let digest = berth_store::Digest::of_bytes(exec_root.as_os_str().as_encoded_bytes());
    format!("berth-{}", &digest.hex()[..12])
}

impl From<berth_network::Error> for Error {
    fn from(e: berth_network::Error) -> Error {
        use berth_network::Error as E;
        let kind = match &e {
            E::Invalid(_) => ErrorKind::InvalidParameter,
            E::Conflict(_) => ErrorKind::Forbidden,
            _ => ErrorKind::System,
        };
        Error::new(kind, e.to_string())
    }
}

/// A network and its address pools.
pub(crate) struct Net {
    pub rec: NetworkRecord,
    pub pools: Vec<Pool>,
}

impl Net {
    fn new(rec: NetworkRecord) -> Result<Net> {
        let pools = rec
            .subnets
            .iter()
            .map(|s| {
                let aux: Vec<IpAddr> = s.aux.values().copied().collect();
                Pool::new(s.subnet, s.range, Some(s.gateway), &aux)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Net { rec, pools })
    }

    fn pool_for(&mut self, v4: bool) -> Option<&mut Pool> {
        self.pools
            .iter_mut()
            .find(|p| p.subnet().addr().is_ipv4() == v4)
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// By id.
    pub nets: BTreeMap<String, Net>,
    /// By container id: the sandboxes of running containers.
    pub sandboxes: HashMap<String, sandbox::Sandbox>,
    pub ports: ports::PortTable,
}

impl State {
    /// By full id, name, or unique id prefix (dockerd's lookup order).
    pub fn find(&self, key: &str) -> Result<&Net> {
        let id = self.find_id(key)?;
        self.nets
            .get(&id)
            .ok_or_else(|| Error::not_found(format!("network {key} not found")))
    }

    pub fn find_id(&self, key: &str) -> Result<String> {
        if self.nets.contains_key(key) {
            return Ok(key.to_string());
        }
        if let Some(n) = self.nets.values().find(|n| n.rec.name == key) {
            return Ok(n.rec.id.clone());
        }
        let matches: Vec<&String> = self
            .nets
            .keys()
            .filter(|id| !key.is_empty() && id.starts_with(key))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::not_found(format!("network {key} not found"))),
            _ => Err(Error::invalid(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                matches.len()
            ))),
        }
    }

    /// Containers with a live endpoint on network `id`.
    pub fn endpoints_on<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = (&'a sandbox::Sandbox, &'a sandbox::Endpoint)> + 'a {
        self.sandboxes.values().flat_map(move |s| {
            s.endpoints
                .iter()
                .filter(move |e| e.network_id == id)
                .map(move |e| (s, e))
        })
    }

    fn ruleset(&self, cfg: &NetConfig, table: String) -> Ruleset {
        let networks = self
            .nets
            .values()
            .filter(|n| n.rec.is_bridge())
            .map(|n| BridgeRules {
                bridge: n.rec.bridge.clone(),
                subnets: n.rec.subnets.iter().map(|s| s.subnet).collect(),
                internal: n.rec.internal,
                masquerade: cfg.ip_masq
                    && n.rec
                        .bool_option("com.docker.network.bridge.enable_ip_masquerade", true),
                icc: n
                    .rec
                    .bool_option("com.docker.network.bridge.enable_icc", cfg.icc),
            })
            .collect();
        let ports = self
            .sandboxes
            .values()
            .flat_map(|s| s.ports.iter().map(|p| p.rule.clone()))
            .collect();
        Ruleset {
            table,
            networks,
            ports,
        }
    }
}

pub struct NetworkService {
    pub(crate) config: NetConfig,
    pub(crate) root: PathBuf,
    pub(crate) exec_root: PathBuf,
    pub(crate) plane: Arc<dyn Dataplane>,
    pub(crate) state: Mutex<State>,
    pub(crate) events: Arc<EventBus>,
    /// One ruleset write at a time, each from the state of its moment.
    firewall: tokio::sync::Mutex<()>,
}

impl NetworkService {
    /// Loads the networks, makes the built-in ones and every bridge.
    pub async fn open(
        config: NetConfig,
        root: PathBuf,
        exec_root: PathBuf,
        plane: Arc<dyn Dataplane>,
        events: Arc<EventBus>,
    ) -> Result<Arc<NetworkService>> {
        let svc = Arc::new(NetworkService {
            config,
            root,
            exec_root,
            plane,
            state: Mutex::new(State::default()),
            events,
            firewall: tokio::sync::Mutex::new(()),
        });
        let mut recs = record::load_all(&svc.root);
        svc.ensure_builtin(&mut recs)?;
        {
            let mut st = svc.state.locked();
            for rec in recs {
                match Net::new(rec.clone()) {
                    Ok(n) => {
                        st.nets.insert(rec.id.clone(), n);
                    }
                    Err(e) => tracing::warn!("network {}: {e}", rec.name),
                }
            }
        }
        std::fs::create_dir_all(svc.netns_dir())?;
        if svc.config.firewall {
            // dockerd turns forwarding on for its bridges the same way.
            if let Err(e) = std::fs::write("/proc/sys/net/ipv4/ip_forward", "1") {
                tracing::warn!("enabling ip_forward: {e}");
            }
        }
        let bridges: Vec<(String, Vec<IpNet>)> = svc
            .state
            .locked()
            .nets
            .values()
            .filter(|n| n.rec.is_bridge())
            .map(|n| {
                (
                    n.rec.bridge.clone(),
                    n.pools.iter().map(|p| p.gateway_net()).collect(),
                )
            })
            .collect();
        for (name, addrs) in bridges {
            svc.plane.ensure_bridge(&name, &addrs).await?;
        }
        Ok(svc)
    }

    pub(crate) fn netns_dir(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    /// The built-in networks: made once, then loaded like any other; the
    /// default bridge's subnet follows `--bip`/`--bridge` when they change.
    fn ensure_builtin(&self, recs: &mut Vec<NetworkRecord>) -> Result<()> {
        let now = crate::timefmt::now_rfc3339();
        let want_bridge = self.config.bridge != "none";
        for (name, driver) in [
            (record::BRIDGE, "bridge"),
            (record::HOST, "host"),
            (record::NONE, "null"),
        ] {
            let pos = recs.iter().position(|r| r.builtin && r.name == name);
            if name == record::BRIDGE && !want_bridge {
                if let Some(i) = pos {
                    let r = recs.remove(i);
                    record::delete(&self.root, &r.id)?;
                }
                continue;
            }
            let mut rec = match pos {
                Some(i) => recs.remove(i),
                None => NetworkRecord {
                    id: crate::ids::new_id(),
                    name: name.into(),
                    driver: driver.into(),
                    created: now.clone(),
                    internal: false,
                    attachable: false,
                    enable_ipv6: false,
                    ipam_driver: "default".into(),
                    ipam_options: HashMap::new(),
                    subnets: Vec::new(),
                    options: HashMap::new(),
                    labels: HashMap::new(),
                    bridge: String::new(),
                    builtin: true,
                },
            };
            let before = rec.clone();
            if name == record::BRIDGE {
                self.default_bridge_settings(&mut rec, recs)?;
            }
            if rec != before || pos.is_none() {
                record::save(&self.root, &rec)?;
            }
            recs.push(rec);
        }
        Ok(())
    }

    fn default_bridge_settings(
        &self,
        rec: &mut NetworkRecord,
        others: &[NetworkRecord],
    ) -> Result<()> {
        rec.bridge = self.config.bridge.clone();
        let subnet = match self.config.bip {
            Some(bip) => record::Subnet {
                subnet: bip.trunc(),
                range: self.config.fixed_cidr,
                gateway: bip.addr(),
                aux: HashMap::new(),
                shown_gateway: true,
            },
            None => match rec.subnets.first() {
                Some(s) => record::Subnet {
                    range: self.config.fixed_cidr,
                    ..s.clone()
                },
                None => {
                    let taken: Vec<IpNet> = others
                        .iter()
                        .flat_map(|r| r.subnets.iter().map(|s| s.subnet))
                        .collect();
                    let net = berth_network::ipam::pick_subnet(
                        &self.config.pools,
                        &taken,
                        &berth_network::ipam::host_routes(),
                    )
                    .ok_or_else(|| Error::system("no free address pool for the default bridge"))?;
                    let gw = net
                        .hosts()
                        .next()
                        .ok_or_else(|| Error::system("default bridge subnet too small"))?;
                    record::Subnet {
                        subnet: IpNet::V4(net),
                        range: self.config.fixed_cidr,
                        gateway: IpAddr::V4(gw),
                        aux: HashMap::new(),
                        shown_gateway: true,
                    }
                }
            },
        };
        rec.subnets = vec![subnet];
        rec.options = [
            ("com.docker.network.bridge.default_bridge", "true"),
            (
                "com.docker.network.bridge.enable_icc",
                if self.config.icc { "true" } else { "false" },
            ),
            (
                "com.docker.network.bridge.enable_ip_masquerade",
                if self.config.ip_masq { "true" } else { "false" },
            ),
            ("com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
            (
                "com.docker.network.bridge.name",
                self.config.bridge.as_str(),
            ),
            ("com.docker.network.driver.mtu", "1500"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Ok(())
    }

    /// Writes the packet-filter table from the current state.
    pub(crate) async fn sync_firewall(self: &Arc<Self>) -> Result<()> {
        if !self.config.firewall {
            return Ok(());
        }
        let _one = self.firewall.lock().await;
        let table = table_name(&self.config, &self.exec_root);
        let rs = self.state.locked().ruleset(&self.config, table);
        let plane = self.plane.clone();
        // Nothing to filter (no bridge at all): no table either.
        if rs.networks.is_empty() && rs.ports.is_empty() {
            tokio::task::spawn_blocking(move || plane.remove_firewall(&rs.table)).await??;
        } else {
            tokio::task::spawn_blocking(move || plane.apply_firewall(&rs)).await??;
        }
        Ok(())
    }

    /// `--bridge none`: containers of the default network mode get no
    /// network at all (dockerd marks them NetworkDisabled).
    pub fn bridge_disabled(&self) -> bool {
        self.config.bridge == "none"
    }

    /// The network a container's `NetworkMode` names, if it is one with
    /// endpoints (not `host`, `none` or `container:`).
    pub fn endpoint_network(&self, mode: &str) -> Result<Option<NetworkRecord>> {
        let name = match mode {
            "" | "default" => record::BRIDGE,
            m if m.starts_with("container:") => return Ok(None),
            m => m,
        };
        if name == record::BRIDGE && self.bridge_disabled() {
            return Ok(None);
        }
        let st = self.state.locked();
        let net = st.find(name)?;
        Ok(net.rec.is_bridge().then(|| net.rec.clone()))
    }

    /// Whether `name` is a network (by name, id or prefix).
    pub fn lookup(&self, name: &str) -> Result<NetworkRecord> {
        Ok(self.state.locked().find(name)?.rec.clone())
    }
}

#[cfg(test)]
mod tests;
