//! What one container's embedded DNS server answers from: the containers
//! on the user networks it shares with them, by name, alias and short id.

use std::net::IpAddr;
use std::sync::{Arc, Weak};

use berth_network::dns::Names;

use super::NetworkService;
use crate::locks::IgnorePoison;

pub struct View {
    svc: Weak<NetworkService>,
    id: String,
}

impl View {
    pub fn new(svc: &Arc<NetworkService>, id: &str) -> View {
        View {
            svc: Arc::downgrade(svc),
            id: id.to_string(),
        }
    }
}

/// The names a container answers to on one network.
pub fn names_of(id: &str, name: &str, aliases: &[String]) -> Vec<String> {
    let mut out = vec![name.to_string()];
    out.extend(aliases.iter().cloned());
    out.push(crate::ids::short(id).to_string());
    out
}

impl Names for View {
    fn lookup(&self, query: &str) -> Option<Vec<IpAddr>> {
        let svc = self.svc.upgrade()?;
        let st = svc.state.locked();
        let me = st.sandboxes.get(&self.id)?;
        let mut out = Vec::new();
        for mine in me.endpoints.iter().filter(|e| !e.default_bridge) {
            for (sb, ep) in st.endpoints_on(&mine.network_id) {
                let hit = names_of(&sb.id, &sb.name, &ep.aliases)
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(query));
                if hit {
                    out.extend(ep.ipv4.iter().chain(ep.ipv6.iter()).map(|n| n.addr()));
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }

    fn reverse(&self, ip: IpAddr) -> Option<String> {
        let svc = self.svc.upgrade()?;
        let st = svc.state.locked();
        let me = st.sandboxes.get(&self.id)?;
        for mine in me.endpoints.iter().filter(|e| !e.default_bridge) {
            for (sb, ep) in st.endpoints_on(&mine.network_id) {
                if ep.ipv4.iter().chain(ep.ipv6.iter()).any(|n| n.addr() == ip) {
                    return Some(format!("{}.{}", sb.name, ep.network_name));
                }
            }
        }
        None
    }
}
