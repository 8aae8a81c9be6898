//! `/networks`: list, inspect, create, remove and prune, with dockerd's
//! checks and messages. Connect and disconnect touch container records and
//! live in the container service.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bollard_stubs::models::{ConfigReference, IpamConfig, NetworkContainer, NetworkCreateRequest};
use ipnet::IpNet;
use serde::Serialize;

use super::record::{self, NetworkRecord, Subnet};
use super::{Net, NetworkService, State};
use crate::error::{Error, Result};
use crate::filters::Filters;
use crate::locks::IgnorePoison;

/// Bridge driver options berth honors; any other is refused by name.
const BRIDGE_OPTIONS: &[&str] = &[
    "com.docker.network.bridge.name",
    "com.docker.network.bridge.enable_icc",
    "com.docker.network.bridge.enable_ip_masquerade",
];

/// dockerd's `network.Inspect`, fields in Go's order (clients that print
/// the JSON as it came show them so).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    pub containers: HashMap<String, NetworkContainer>,
    pub options: HashMap<String, String>,
    pub labels: HashMap<String, String>,
}

/// Go's `network.IPAM`: Driver, Options, Config.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: Option<HashMap<String, String>>,
    pub config: Vec<IpamConfig>,
}

fn ipam_view(rec: &NetworkRecord) -> Ipam {
    let config: Vec<IpamConfig> = rec
        .subnets
        .iter()
        .map(|s| IpamConfig {
            subnet: Some(s.subnet.to_string()),
            ip_range: s.range.map(|r| r.to_string()),
            gateway: s.shown_gateway.then(|| s.gateway.to_string()),
            auxiliary_addresses: (!s.aux.is_empty()).then(|| {
                s.aux
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect()
            }),
        })
        .collect();
    Ipam {
        driver: rec.ipam_driver.clone(),
        options: (!rec.builtin || rec.is_bridge()).then(|| rec.ipam_options.clone()),
        config,
    }
}

fn view(st: &State, net: &Net, with_containers: bool) -> Network {
    let rec = &net.rec;
    let containers = with_containers.then(|| {
        st.endpoints_on(&rec.id)
            .map(|(sb, ep)| {
                (
                    sb.id.clone(),
                    NetworkContainer {
                        name: Some(sb.name.clone()),
                        endpoint_id: Some(ep.endpoint_id.clone()),
                        mac_address: Some(ep.mac.clone()),
                        ipv4_address: Some(ep.ipv4.map(|n| n.to_string()).unwrap_or_default()),
                        ipv6_address: Some(ep.ipv6.map(|n| n.to_string()).unwrap_or_default()),
                    },
                )
            })
            .collect::<HashMap<_, _>>()
    });
    Network {
        name: rec.name.clone(),
        id: rec.id.clone(),
        created: rec.created.clone(),
        scope: "local".into(),
        driver: rec.driver.clone(),
        enable_ipv4: rec.is_bridge(),
        enable_ipv6: rec.enable_ipv6,
        ipam: ipam_view(rec),
        internal: rec.internal,
        attachable: rec.attachable,
        ingress: false,
        config_from: ConfigReference {
            network: Some(String::new()),
        },
        config_only: false,
        containers: containers.unwrap_or_default(),
        options: rec.options.clone(),
        labels: rec.labels.clone(),
    }
}

fn check_filters(f: &Filters) -> Result<()> {
    f.validate(&["driver", "id", "label", "name", "scope", "type", "dangling"])?;
    for t in f.get("type") {
        if t != "custom" && t != "builtin" {
            return Err(Error::invalid(format!("invalid filter: 'type'='{t}'")));
        }
    }
    f.bool_or("dangling", false)?;
    Ok(())
}

fn matches(f: &Filters, rec: &NetworkRecord, in_use: bool) -> bool {
    let any = |key: &str, test: &dyn Fn(&str) -> bool| {
        let vals = f.get(key);
        vals.is_empty() || vals.iter().any(|v| test(v))
    };
    any("name", &|v| rec.name.contains(v))
        && any("id", &|v| rec.id.starts_with(v))
        && any("driver", &|v| rec.driver == v)
        && any("scope", &|v| v == "local")
        && any("type", &|v| (v == "builtin") == rec.builtin)
        && (!f.contains("dangling") || f.bool_or("dangling", false).ok() != Some(in_use))
        && f.labels_match(|k| rec.labels.get(k).cloned())
}

impl NetworkService {
    /// `GET /networks`. `attached` says which networks containers name,
    /// running or not (for the `dangling` filter).
    pub fn list(&self, f: &Filters, attached: &dyn Fn(&str) -> bool) -> Result<Vec<Network>> {
        check_filters(f)?;
        let st = self.state.locked();
        let mut out: Vec<Network> = st
            .nets
            .values()
            .filter(|n| matches(f, &n.rec, n.rec.builtin || attached(&n.rec.id)))
            .map(|n| view(&st, n, false))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `GET /networks/{id}`.
    pub fn inspect(&self, key: &str, scope: Option<&str>) -> Result<Network> {
        let st = self.state.locked();
        let net = st.find(key)?;
        if scope.is_some_and(|s| !s.is_empty() && s != "local") {
            return Err(Error::not_found(format!("network {key} not found")));
        }
        Ok(view(&st, net, true))
    }

    /// `POST /networks/create`.
    pub async fn create(self: &Arc<Self>, req: NetworkCreateRequest) -> Result<String> {
        let name = req.name.clone();
        if name.is_empty() {
            return Err(Error::invalid("network name must not be empty"));
        }
        if [record::BRIDGE, record::HOST, record::NONE, "default"].contains(&name.as_str()) {
            return Err(Error::forbidden(format!(
                "operation is not permitted on predefined {name} network "
            )));
        }
        let rec = self.new_record(req)?;
        let addrs: Vec<IpNet> = {
            let mut st = self.state.locked();
            if st.nets.values().any(|n| n.rec.name == name) {
                return Err(Error::conflict(format!(
                    "network with name {name} already exists"
                )));
            }
            let taken: Vec<IpNet> = st
                .nets
                .values()
                .flat_map(|n| n.rec.subnets.iter().map(|s| s.subnet))
                .collect();
            if rec.subnets.iter().any(|s| {
                taken
                    .iter()
                    .any(|t| berth_network::ipam::overlaps(&s.subnet, t))
            }) {
                return Err(Error::forbidden(
                    "invalid pool request: Pool overlaps with other one on this address space",
                ));
            }
            let net = Net::new(rec.clone())?;
            let addrs = net.pools.iter().map(|p| p.gateway_net()).collect();
            record::save(&self.root, &rec)?;
            st.nets.insert(rec.id.clone(), net);
            addrs
        };
        let made = async {
            self.plane.ensure_bridge(&rec.bridge, &addrs).await?;
            self.sync_firewall().await
        }
        .await;
        if let Err(e) = made {
            self.state.locked().nets.remove(&rec.id);
            let _ = record::delete(&self.root, &rec.id);
            let _ = self.plane.delete_link(&rec.bridge).await;
            return Err(e);
        }
        self.event(&rec, "create", &[]);
        Ok(rec.id)
    }

    fn new_record(&self, req: NetworkCreateRequest) -> Result<NetworkRecord> {
        let driver = req
            .driver
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "bridge".into());
        if driver != "bridge" {
            return Err(Error::invalid(format!(
                "NetworkCreateRequest.Driver {driver:?} is not supported by berth (only bridge)"
            )));
        }
        if req
            .scope
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "local")
        {
            return Err(Error::invalid(
                "NetworkCreateRequest.Scope: only local networks are supported by berth",
            ));
        }
        if req.ingress == Some(true) {
            return Err(Error::invalid(
                "NetworkCreateRequest.Ingress is not supported by berth (swarm)",
            ));
        }
        if req.config_only == Some(true)
            || req
                .config_from
                .as_ref()
                .is_some_and(|c| c.network.as_deref().is_some_and(|n| !n.is_empty()))
        {
            return Err(Error::invalid(
                "NetworkCreateRequest.ConfigOnly/ConfigFrom are not supported by berth",
            ));
        }
        if req.enable_ipv4 == Some(false) {
            return Err(Error::invalid(
                "NetworkCreateRequest.EnableIPv4=false is not supported by berth",
            ));
        }
        let options = req.options.clone().unwrap_or_default();
        for key in options.keys() {
            if !BRIDGE_OPTIONS.contains(&key.as_str()) {
                return Err(Error::invalid(format!(
                    "network option {key:?} is not supported by berth"
                )));
            }
        }
        for key in [
            "com.docker.network.bridge.enable_icc",
            "com.docker.network.bridge.enable_ip_masquerade",
        ] {
            if let Some(v) = options.get(key) {
                if v.parse::<bool>().is_err() && v != "1" && v != "0" {
                    return Err(Error::invalid(format!(
                        "failed to parse {key} value: invalid syntax ({v:?})"
                    )));
                }
            }
        }
        let ipam = req.ipam.clone().unwrap_or_default();
        let ipam_driver = ipam
            .driver
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "default".into());
        if ipam_driver != "default" {
            return Err(Error::invalid(format!(
                "IPAM driver {ipam_driver:?} is not supported by berth"
            )));
        }
        if ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
            return Err(Error::invalid("IPAM.Options are not supported by berth"));
        }
        let enable_ipv6 = req.enable_ipv6.unwrap_or(false);
        let mut subnets = Vec::new();
        for c in ipam.config.iter().flatten() {
            subnets.push(subnet_from(c)?);
        }
        if enable_ipv6 && !subnets.iter().any(|s: &Subnet| s.subnet.addr().is_ipv6()) {
            return Err(Error::invalid(
                "EnableIPv6 needs an IPv6 subnet: berth has no default IPv6 pool",
            ));
        }
        if !enable_ipv6 && subnets.iter().any(|s| s.subnet.addr().is_ipv6()) {
            return Err(Error::invalid("an IPv6 subnet needs EnableIPv6 (--ipv6)"));
        }
        if !subnets.iter().any(|s| s.subnet.addr().is_ipv4()) {
            let taken: Vec<IpNet> = self
                .state
                .locked()
                .nets
                .values()
                .flat_map(|n| n.rec.subnets.iter().map(|s| s.subnet))
                .collect();
            let net = berth_network::ipam::pick_subnet(
                &self.config.pools,
                &taken,
                &berth_network::ipam::host_routes(),
            )
            .ok_or_else(|| {
                Error::forbidden("all predefined address pools have been fully subnetted")
            })?;
            let gw = net
                .hosts()
                .next()
                .ok_or_else(|| Error::system("subnet too small"))?;
            subnets.insert(
                0,
                Subnet {
                    subnet: IpNet::V4(net),
                    range: None,
                    gateway: IpAddr::V4(gw),
                    aux: HashMap::new(),
                    shown_gateway: true,
                },
            );
        }
        let id = crate::ids::new_id();
        let bridge = options
            .get("com.docker.network.bridge.name")
            .cloned()
            .unwrap_or_else(|| format!("br-{}", &id[..12]));
        if bridge.is_empty()
            || bridge.len() > 15
            || bridge.contains('/')
            || bridge.contains(char::is_whitespace)
        {
            return Err(Error::invalid(format!("invalid bridge name {bridge:?}")));
        }
        Ok(NetworkRecord {
            id,
            name: req.name,
            driver,
            created: crate::timefmt::now_rfc3339(),
            internal: req.internal.unwrap_or(false),
            attachable: req.attachable.unwrap_or(false),
            enable_ipv6,
            ipam_driver,
            ipam_options: HashMap::new(),
            subnets,
            options,
            labels: req.labels.unwrap_or_default(),
            bridge,
            builtin: false,
        })
    }

    /// `DELETE /networks/{id}`.
    pub async fn remove(self: &Arc<Self>, key: &str) -> Result<()> {
        let rec = {
            let mut st = self.state.locked();
            let id = st.find_id(key)?;
            let net = st.find(&id)?;
            if net.rec.builtin {
                return Err(Error::forbidden(format!(
                    "{} is a pre-defined network and cannot be removed",
                    net.rec.name
                )));
            }
            let users: Vec<String> = st
                .endpoints_on(&id)
                .map(|(sb, _)| sb.name.clone())
                .collect();
            if !users.is_empty() {
                return Err(Error::forbidden(format!(
                    "error while removing network: network {} has active endpoints ({})",
                    net.rec.name,
                    users.join(", ")
                )));
            }
            record::delete(&self.root, &id)?;
            st.nets.remove(&id).map(|n| n.rec)
        };
        if let Some(rec) = rec {
            if let Err(e) = self.plane.delete_link(&rec.bridge).await {
                tracing::warn!("deleting bridge {}: {e}", rec.bridge);
            }
            self.sync_firewall().await?;
            self.event(&rec, "destroy", &[]);
        }
        Ok(())
    }

    /// `POST /networks/prune`: user networks no running container uses.
    pub async fn prune(self: &Arc<Self>, f: &Filters) -> Result<Vec<String>> {
        f.validate(&["until", "label", "label!"])?;
        let until = f.until()?;
        let candidates: Vec<(String, String)> = {
            let st = self.state.locked();
            st.nets
                .values()
                .filter(|n| !n.rec.builtin)
                .filter(|n| st.endpoints_on(&n.rec.id).next().is_none())
                .filter(|n| f.labels_match(|k| n.rec.labels.get(k).cloned()))
                .filter(|n| until.is_none_or(|t| crate::timefmt::unix(&n.rec.created) < t))
                .map(|n| (n.rec.id.clone(), n.rec.name.clone()))
                .collect()
        };
        let mut deleted = Vec::new();
        for (id, name) in candidates {
            match self.remove(&id).await {
                Ok(()) => deleted.push(name),
                Err(e) => tracing::warn!("prune: network {name}: {e}"),
            }
        }
        Ok(deleted)
    }

    fn event(&self, rec: &NetworkRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs = HashMap::new();
        attrs.insert("name".to_string(), rec.name.clone());
        attrs.insert("type".to_string(), rec.driver.clone());
        for (k, v) in extra {
            attrs.insert((*k).to_string(), v.clone());
        }
        self.events.publish("network", action, &rec.id, attrs);
    }

    pub(crate) fn container_event(&self, network_id: &str, action: &str, container: &str) {
        let rec = self
            .state
            .locked()
            .nets
            .get(network_id)
            .map(|n| n.rec.clone());
        if let Some(rec) = rec {
            self.event(&rec, action, &[("container", container.to_string())]);
        }
    }
}

fn subnet_from(c: &IpamConfig) -> Result<Subnet> {
    let raw = c.subnet.as_deref().unwrap_or("");
    let bad = |what: &str, v: &str| Error::invalid(format!("invalid {what}: {v}"));
    let subnet: IpNet = raw.parse().map_err(|_| bad("subnet", raw))?;
    if subnet.trunc() != subnet {
        // dockerd 28 refuses a subnet with host bits set the same way.
        return Err(Error::invalid(format!(
            "invalid subnet {subnet}: it should be {}",
            subnet.trunc()
        )));
    }
    let range = match c.ip_range.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(r) => Some(r.parse::<IpNet>().map_err(|_| bad("ip-range", r))?),
    };
    let shown_gateway = c.gateway.as_deref().is_some_and(|g| !g.is_empty());
    let gateway: Option<IpAddr> = match c.gateway.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(g) => Some(g.parse().map_err(|_| bad("gateway", g))?),
    };
    let mut aux = HashMap::new();
    for (k, v) in c.auxiliary_addresses.iter().flatten() {
        let ip: IpAddr = v.parse().map_err(|_| bad("auxiliary address", v))?;
        if !subnet.contains(&ip) {
            return Err(Error::invalid(format!(
                "invalid auxiliary address {k}={v}: it is not in subnet {subnet}"
            )));
        }
        aux.insert(k.clone(), ip);
    }
    let pool = berth_network::ipam::Pool::new(
        subnet,
        range,
        gateway,
        &aux.values().copied().collect::<Vec<_>>(),
    )?;
    Ok(Subnet {
        subnet,
        range,
        gateway: pool.gateway(),
        aux,
        shown_gateway,
    })
}
