//! Address management: one pool per subnet of a network, and the choice of
//! a subnet for a network that names none.
//!
//! Pools live in memory only. What is allocated is recorded by the engine
//! with each container (its endpoint addresses), and a restarted daemon
//! marks those again before it hands out a new one, so no address is given
//! twice across a restart without a second store to keep in step.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net};

use crate::error::{Error, Result};

/// The addresses of one subnet that containers may get.
#[derive(Debug, Clone)]
pub struct Pool {
    subnet: IpNet,
    /// `--ip-range`: where dynamic addresses come from (the subnet if unset).
    range: IpNet,
    gateway: IpAddr,
    /// Never handed out: the gateway and `--aux-address` entries.
    reserved: BTreeSet<IpAddr>,
    allocated: BTreeSet<IpAddr>,
}

impl Pool {
    /// A pool for `subnet`; the gateway defaults to its first host address,
    /// as in dockerd.
    pub fn new(
        subnet: IpNet,
        range: Option<IpNet>,
        gateway: Option<IpAddr>,
        aux: &[IpAddr],
    ) -> Result<Pool> {
        let subnet = subnet.trunc();
        let range = match range {
            None => subnet,
            Some(r) => {
                let r = r.trunc();
                if !subnet.contains(&r) {
                    return Err(Error::Invalid(format!(
                        "Invalid Address: ip-range {r} is not within subnet {subnet}"
                    )));
                }
                r
            }
        };
        let gateway = match gateway {
            Some(g) => {
                if !subnet.contains(&g) {
                    return Err(Error::Invalid(format!(
                        "Invalid Address: gateway {g} is not within subnet {subnet}"
                    )));
                }
                g
            }
            None => nth(&subnet, 1).ok_or_else(|| {
                Error::Invalid(format!("subnet {subnet} has no room for a gateway"))
            })?,
        };
        let mut reserved: BTreeSet<IpAddr> = aux.iter().copied().collect();
        reserved.insert(gateway);
        Ok(Pool {
            subnet,
            range,
            gateway,
            reserved,
            allocated: BTreeSet::new(),
        })
    }

    pub fn subnet(&self) -> IpNet {
        self.subnet
    }

    pub fn gateway(&self) -> IpAddr {
        self.gateway
    }

    /// The gateway with the subnet's prefix, as the bridge carries it.
    pub fn gateway_net(&self) -> IpNet {
        IpNet::new(self.gateway, self.subnet.prefix_len()).unwrap_or(self.subnet)
    }

    /// Takes `want`, or the lowest free address of the range.
    pub fn request(&mut self, want: Option<IpAddr>) -> Result<IpAddr> {
        let ip = match want {
            Some(ip) => {
                if !self.subnet.contains(&ip) || self.is_edge(ip) {
                    return Err(Error::Invalid(format!(
                        "Invalid address {ip}: It does not belong to any of this network's subnets"
                    )));
                }
                if self.allocated.contains(&ip) || self.reserved.contains(&ip) {
                    return Err(Error::Conflict(format!("Address already in use: {ip}")));
                }
                ip
            }
            None => self.first_free().ok_or_else(|| {
                Error::Exhausted(format!(
                    "no available IPv{} addresses on this network's address pools",
                    if self.subnet.addr().is_ipv4() { 4 } else { 6 }
                ))
            })?,
        };
        self.allocated.insert(ip);
        Ok(ip)
    }

    /// Marks an address recorded before a restart; false when it is not
    /// this pool's or already taken.
    pub fn mark(&mut self, ip: IpAddr) -> bool {
        self.subnet.contains(&ip) && !self.reserved.contains(&ip) && self.allocated.insert(ip)
    }

    pub fn release(&mut self, ip: IpAddr) {
        self.allocated.remove(&ip);
    }

    pub fn allocated(&self) -> impl Iterator<Item = &IpAddr> {
        self.allocated.iter()
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.subnet.contains(ip)
    }

    /// The network and (v4) broadcast addresses are never hosts.
    fn is_edge(&self, ip: IpAddr) -> bool {
        ip == self.subnet.network()
            || (matches!(self.subnet, IpNet::V4(n) if n.prefix_len() < 31)
                && ip == self.subnet.broadcast())
    }

    fn first_free(&self) -> Option<IpAddr> {
        // Skips runs of taken addresses in one step each, so a full /16 is
        // not walked address by address.
        let mut candidate = nth(&self.range, 0)?;
        let last = self.range.broadcast();
        loop {
            if !self.is_edge(candidate)
                && !self.reserved.contains(&candidate)
                && !self.allocated.contains(&candidate)
            {
                return Some(candidate);
            }
            if candidate >= last {
                return None;
            }
            candidate = next(candidate)?;
        }
    }
}

/// The `n`-th address of `net` (0 is the network address).
fn nth(net: &IpNet, n: u128) -> Option<IpAddr> {
    match net {
        IpNet::V4(v4) => {
            let base = u32::from(v4.network()) as u128;
            let size = 1u128 << (32 - v4.prefix_len());
            (n < size).then(|| IpAddr::V4(Ipv4Addr::from((base + n) as u32)))
        }
        IpNet::V6(v6) => {
            let base = u128::from(v6.network());
            let bits = 128 - u32::from(v6.prefix_len());
            (bits == 128 || n < (1u128 << bits))
                .then(|| IpAddr::V6(Ipv6Addr::from(base.wrapping_add(n))))
        }
    }
}

fn next(ip: IpAddr) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(a) => u32::from(a).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(a) => u128::from(a).checked_add(1).map(|n| IpAddr::V6(n.into())),
    }
}

/// dockerd's default address pools for local networks: 172.17.0.0/16 to
/// 172.31.0.0/16, then 192.168.0.0/20 to 192.168.240.0/20.
pub fn default_pools() -> Vec<PoolSpec> {
    (17..=31u8)
        .map(|b| PoolSpec {
            base: Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid prefix"),
            size: 16,
        })
        .chain(std::iter::once(PoolSpec {
            base: Ipv4Net::new(Ipv4Addr::new(192, 168, 0, 0), 16).expect("valid prefix"),
            size: 20,
        }))
        .collect()
}

/// `--default-address-pool base=10.10.0.0/16,size=24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSpec {
    pub base: Ipv4Net,
    pub size: u8,
}

impl std::str::FromStr for PoolSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<PoolSpec> {
        let mut base = None;
        let mut size = None;
        for kv in s.split(',') {
            match kv.split_once('=') {
                Some(("base", v)) => {
                    base = Some(
                        v.parse::<Ipv4Net>()
                            .map_err(|e| Error::Invalid(format!("invalid base pool {v:?}: {e}")))?,
                    )
                }
                Some(("size", v)) => {
                    size = Some(
                        v.parse::<u8>()
                            .map_err(|e| Error::Invalid(format!("invalid pool size {v:?}: {e}")))?,
                    )
                }
                _ => {
                    return Err(Error::Invalid(format!(
                        "unexpected address pool field {kv:?}"
                    )))
                }
            }
        }
        let (Some(base), Some(size)) = (base, size) else {
            return Err(Error::Invalid(format!(
                "address pool {s:?} needs base and size"
            )));
        };
        if size < base.prefix_len() || size > 32 {
            return Err(Error::Invalid(format!(
                "invalid pools size {size} for base {base}"
            )));
        }
        Ok(PoolSpec {
            base: base.trunc(),
            size,
        })
    }
}

/// The first subnet of `pools` that overlaps neither `taken` (networks the
/// daemon has) nor `routes` (the host's, so a bridge never shadows a
/// network the host reaches another way).
pub fn pick_subnet(pools: &[PoolSpec], taken: &[IpNet], routes: &[IpNet]) -> Option<Ipv4Net> {
    pools.iter().find_map(|p| {
        p.base.subnets(p.size).ok()?.find(|s| {
            let s = IpNet::V4(*s);
            !taken.iter().chain(routes).any(|t| overlaps(&s, t))
        })
    })
}

pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The host's IPv4 routes with a destination network, default route
/// excluded (dockerd's CheckRouteOverlaps), from /proc/net/route.
pub fn host_routes() -> Vec<IpNet> {
    std::fs::read_to_string("/proc/net/route")
        .map(|t| parse_proc_routes(&t))
        .unwrap_or_default()
}

fn parse_proc_routes(text: &str) -> Vec<IpNet> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::from_be);
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = Ipv4Addr::from(hex(f.get(1)?)?);
            let mask = hex(f.get(7)?)?;
            let prefix = mask.count_ones() as u8;
            let net = Ipv4Net::new(dest, prefix).ok()?.trunc();
            (prefix > 0).then_some(IpNet::V4(net))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn gateway_is_first_and_hosts_follow() {
        let mut p = Pool::new("10.9.0.0/24".parse().unwrap(), None, None, &[]).unwrap();
        assert_eq!(p.gateway(), ip("10.9.0.1"));
        assert_eq!(p.gateway_net().to_string(), "10.9.0.1/24");
        assert_eq!(p.request(None).unwrap(), ip("10.9.0.2"));
        assert_eq!(p.request(None).unwrap(), ip("10.9.0.3"));
        p.release(ip("10.9.0.2"));
        assert_eq!(p.request(None).unwrap(), ip("10.9.0.2"));
    }

    #[test]
    fn static_addresses_are_checked() {
        let mut p = Pool::new("10.9.0.0/24".parse().unwrap(), None, None, &[]).unwrap();
        assert_eq!(p.request(Some(ip("10.9.0.7"))).unwrap(), ip("10.9.0.7"));
        assert!(matches!(
            p.request(Some(ip("10.9.0.7"))),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            p.request(Some(ip("10.9.0.1"))),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            p.request(Some(ip("10.9.1.7"))),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            p.request(Some(ip("10.9.0.255"))),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn a_small_subnet_runs_out() {
        let mut p = Pool::new("10.9.0.0/30".parse().unwrap(), None, None, &[]).unwrap();
        assert_eq!(p.request(None).unwrap(), ip("10.9.0.2"));
        assert!(matches!(p.request(None), Err(Error::Exhausted(_))));
    }

    #[test]
    fn ranges_gateways_and_aux_addresses() {
        let mut p = Pool::new(
            "10.9.0.0/16".parse().unwrap(),
            Some("10.9.5.0/24".parse().unwrap()),
            Some(ip("10.9.0.254")),
            &[ip("10.9.5.0"), ip("10.9.5.1")],
        )
        .unwrap();
        assert_eq!(p.request(None).unwrap(), ip("10.9.5.2"));
        // A static address may lie outside the range, inside the subnet.
        assert_eq!(p.request(Some(ip("10.9.7.7"))).unwrap(), ip("10.9.7.7"));
        assert!(Pool::new(
            "10.9.0.0/16".parse().unwrap(),
            Some("10.8.0.0/24".parse().unwrap()),
            None,
            &[]
        )
        .is_err());
        assert!(Pool::new(
            "10.9.0.0/16".parse().unwrap(),
            None,
            Some(ip("10.8.0.1")),
            &[]
        )
        .is_err());
    }

    #[test]
    fn restored_addresses_are_not_given_again() {
        let mut p = Pool::new("10.9.0.0/24".parse().unwrap(), None, None, &[]).unwrap();
        assert!(p.mark(ip("10.9.0.2")));
        assert!(!p.mark(ip("10.9.0.2")));
        assert!(!p.mark(ip("10.9.0.1")));
        assert_eq!(p.request(None).unwrap(), ip("10.9.0.3"));
    }

    #[test]
    fn v6_pools() {
        let mut p = Pool::new("fd00:1::/64".parse().unwrap(), None, None, &[]).unwrap();
        assert_eq!(p.gateway(), ip("fd00:1::1"));
        assert_eq!(p.request(None).unwrap(), ip("fd00:1::2"));
    }

    #[test]
    fn subnets_avoid_taken_ones_and_host_routes() {
        let pools = default_pools();
        let taken: Vec<IpNet> = vec!["172.17.0.0/16".parse().unwrap()];
        let routes: Vec<IpNet> = vec!["172.18.5.0/24".parse().unwrap()];
        assert_eq!(
            pick_subnet(&pools, &taken, &routes).unwrap().to_string(),
            "172.19.0.0/16"
        );
        let small: PoolSpec = "base=10.77.0.0/16,size=24".parse().unwrap();
        assert_eq!(
            pick_subnet(&[small], &["10.77.0.0/24".parse().unwrap()], &[])
                .unwrap()
                .to_string(),
            "10.77.1.0/24"
        );
        assert!("base=10.77.0.0/16".parse::<PoolSpec>().is_err());
        assert!("base=10.77.0.0/16,size=8".parse::<PoolSpec>().is_err());
    }

    #[test]
    fn proc_routes() {
        let t =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(
            parse_proc_routes(t),
            vec!["10.0.0.0/24".parse::<IpNet>().unwrap()]
        );
    }
}
