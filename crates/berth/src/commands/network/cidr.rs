//! The address checks `network create` makes before sending anything: Go's
//! `net.ParseCIDR`, `net.ParseIP` and `IPNet.Contains`, on std's types.

use std::net::IpAddr;

/// A network in CIDR form: its masked base address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    base: IpAddr,
    prefix: u8,
}

/// IPv4-mapped IPv6 addresses compare as IPv4, as Go's `To4` makes them.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (!0u128 << (width - prefix)) & (!0u128 >> (128 - width))
    }
}

/// Go's `net.ParseIP` (no zones, no brackets).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(canonical)
}

/// Go's `net.ParseCIDR`: the address as written and its network.
pub fn parse_cidr(s: &str) -> Result<(IpAddr, Cidr), String> {
    let err = || format!("invalid CIDR address: {s}");
    let (addr, len) = s.split_once('/').ok_or_else(err)?;
    let ip = addr.parse::<IpAddr>().map_err(|_| err())?;
    let width = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
        return Err(err());
    }
    let prefix: u8 = len.parse().map_err(|_| err())?;
    if prefix > width {
        return Err(err());
    }
    let ip = canonical(ip);
    let (value, w) = bits(ip);
    // an IPv4-mapped network keeps its prefix relative to the IPv4 bits
    let prefix = prefix.saturating_sub(width - w);
    let masked = value & mask(prefix, w);
    let base = match ip {
        IpAddr::V4(_) => IpAddr::V4((masked as u32).into()),
        IpAddr::V6(_) => IpAddr::V6(masked.into()),
    };
    Ok((ip, Cidr { base, prefix }))
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, w) = bits(self.base);
        let (value, vw) = bits(canonical(ip));
        w == vw && value & mask(self.prefix, w) == net
    }
}

/// docker's `subnetMatches`: whether `data` (an address, or an address in
/// CIDR form) lies in `subnet`.
pub fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let (_, net) = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        Some(parse_cidr(data)?.0)
    } else {
        parse_ip(data)
    };
    Ok(ip.is_some_and(|ip| net.contains(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_like_go() {
        let (ip, net) = parse_cidr("10.1.2.3/16").unwrap();
        assert_eq!(ip.to_string(), "10.1.2.3");
        assert!(net.contains("10.1.255.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        assert!(!net.contains("fd00::1".parse().unwrap()));
        let (_, all) = parse_cidr("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let (_, v6) = parse_cidr("fd00:1::/64").unwrap();
        assert!(v6.contains("fd00:1::42".parse().unwrap()));
        assert!(!v6.contains("fd00:2::42".parse().unwrap()));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "x/8",
            "10.0.0.0/",
            "10.0.0.0/-1",
        ] {
            assert_eq!(
                parse_cidr(bad).unwrap_err(),
                format!("invalid CIDR address: {bad}")
            );
        }
    }

    #[test]
    fn subnet_matching() {
        assert!(subnet_matches("10.0.0.0/24", "10.0.0.1").unwrap());
        assert!(subnet_matches("10.0.0.0/16", "10.0.1.0/24").unwrap());
        assert!(!subnet_matches("10.0.1.0/24", "10.0.0.0/16").unwrap());
        assert!(!subnet_matches("10.0.0.0/24", "not-an-ip").unwrap());
        assert_eq!(
            subnet_matches("nope", "10.0.0.1").unwrap_err(),
            "invalid subnet: invalid CIDR address: nope"
        );
        assert_eq!(
            subnet_matches("10.0.0.0/8", "10.0.0.1/99").unwrap_err(),
            "invalid CIDR address: 10.0.0.1/99"
        );
    }
}
