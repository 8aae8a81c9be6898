//! Host ports: which container holds which `(proto, host ip, port)`, the
//! choice of a free one for `-p 80` and `-P`, and a socket bound to each so
//! that no host process can take it while the DNAT rule sends its traffic
//! elsewhere (dockerd without its userland proxy does the same). Bound,
//! never listening: the rule rewrites packets before they could reach it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::OwnedFd;

use berth_network::firewall::Proto;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One published port of a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub proto: String,
    /// `None`: every address (shown as 0.0.0.0).
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

impl Published {
    pub fn proto(&self) -> Proto {
        parse_proto(&self.proto).unwrap_or(Proto::Tcp)
    }

    pub fn shown_ip(&self) -> String {
        self.host_ip
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            .to_string()
    }
}

pub fn parse_proto(s: &str) -> Option<Proto> {
    match s {
        "tcp" | "" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        "sctp" => Some(Proto::Sctp),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    proto: u8,
    ip: Option<IpAddr>,
    port: u16,
}

fn proto_num(p: &str) -> u8 {
    match p {
        "udp" => 17,
        "sctp" => 132,
        _ => 6,
    }
}

/// The host ports held by running containers.
#[derive(Default)]
pub struct PortTable {
    held: HashMap<Key, (String, Option<OwnedFd>)>,
}

impl PortTable {
    /// An unspecified host address overlaps every specific one.
    fn taken(&self, proto: u8, ip: Option<IpAddr>, port: u16) -> bool {
        self.held.keys().any(|k| {
            k.proto == proto && k.port == port && (k.ip.is_none() || ip.is_none() || k.ip == ip)
        })
    }

    /// Takes `port` for `owner`; `reserve` binds the socket too (false on
    /// restore, where a failure to bind must not drop a running container's rule).
    pub fn take(&mut self, owner: &str, p: &Published, reserve: bool) -> Result<()> {
        let n = proto_num(&p.proto);
        if self.taken(n, p.host_ip, p.host_port) {
            return Err(Error::system(format!(
                "Bind for {}:{} failed: port is already allocated",
                p.shown_ip(),
                p.host_port
            )));
        }
        let fd = match reserve_socket(&p.proto, p.host_ip, p.host_port) {
            Ok(fd) => Some(fd),
            Err(e) if reserve => {
                return Err(Error::system(format!(
                    "failed to bind host port for {}:{}:{}/{}: {e}",
                    p.shown_ip(),
                    p.host_port,
                    p.container_port,
                    p.proto
                )))
            }
            Err(e) => {
                tracing::warn!(
                    "port {}:{} could not be reserved: {e}",
                    p.shown_ip(),
                    p.host_port
                );
                None
            }
        };
        self.held.insert(
            Key {
                proto: n,
                ip: p.host_ip,
                port: p.host_port,
            },
            (owner.to_string(), fd),
        );
        Ok(())
    }

    /// Takes the first free port of `lo..=hi` (the whole ephemeral range
    /// for `-p 80`) for `owner`: free in this table and bindable on the
    /// host, bound in the same step so that no one takes it in between.
    pub fn take_free(&mut self, owner: &str, p: &mut Published, lo: u16, hi: u16) -> Result<u16> {
        let n = proto_num(&p.proto);
        for port in lo..=hi {
            if self.taken(n, p.host_ip, port) {
                continue;
            }
            if let Ok(fd) = reserve_socket(&p.proto, p.host_ip, port) {
                p.host_port = port;
                let key = Key {
                    proto: n,
                    ip: p.host_ip,
                    port,
                };
                self.held.insert(key, (owner.to_string(), Some(fd)));
                return Ok(port);
            }
        }
        Err(Error::system(format!(
            "Bind for {}:{lo}-{hi} failed: port is already allocated",
            p.shown_ip()
        )))
    }

    pub fn release_owner(&mut self, owner: &str) {
        self.held.retain(|_, (o, _)| o != owner);
    }
}

/// The kernel's ephemeral port range, where dockerd picks host ports.
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| {
            let mut it = t.split_whitespace().map(|v| v.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

fn reserve_socket(proto: &str, ip: Option<IpAddr>, port: u16) -> std::io::Result<OwnedFd> {
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let family = if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let (ty, protocol) = match proto {
        "udp" => (SockType::Datagram, None),
        "sctp" => (SockType::SeqPacket, Some(socket::SockProtocol::Sctp)),
        _ => (SockType::Stream, None),
    };
    let fd = socket::socket(family, ty, SockFlag::SOCK_CLOEXEC, protocol)?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
    match ip {
        IpAddr::V4(a) => {
            socket::bind(raw, &SockaddrIn::from(std::net::SocketAddrV4::new(a, port)))?
        }
        IpAddr::V6(a) => socket::bind(
            raw,
            &SockaddrIn6::from(std::net::SocketAddrV6::new(a, port, 0, 0)),
        )?,
    }
    Ok(fd)
}

/// `80`, `80/udp` -> (port, proto).
pub fn parse_container_port(key: &str) -> Result<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let proto = if proto.is_empty() { "tcp" } else { proto };
    if parse_proto(proto).is_none() {
        return Err(Error::invalid(format!("invalid proto: {proto}")));
    }
    // A range here was expanded by the client; dockerd takes its start.
    let first = port.split('-').next().unwrap_or(port);
    let port = first
        .parse::<u16>()
        .map_err(|_| Error::invalid(format!("invalid port specification: \"{key}\"")))?;
    Ok((port, proto.to_string()))
}

/// `""`, `8080`, `8000-8010` -> the range to pick from (None: any).
pub fn parse_host_port(s: &str) -> Result<Option<(u16, u16)>> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid(format!("invalid port specification: \"{s}\""));
    match s.split_once('-') {
        None => {
            let p = s.parse::<u16>().map_err(|_| bad())?;
            Ok(if p == 0 { None } else { Some((p, p)) })
        }
        Some((a, b)) => {
            let (a, b) = (
                a.parse::<u16>().map_err(|_| bad())?,
                b.parse::<u16>().map_err(|_| bad())?,
            );
            if b < a {
                return Err(bad());
            }
            Ok(Some((a, b)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ip: Option<&str>, port: u16) -> Published {
        Published {
            proto: "tcp".into(),
            host_ip: ip.map(|i| i.parse().unwrap()),
            host_port: port,
            container_port: 80,
        }
    }

    #[test]
    fn unspecified_overlaps_specific() {
        let mut t = PortTable::default();
        t.take("a", &p(Some("127.0.0.1"), 1), false).unwrap();
        let e = t.take("b", &p(None, 1), false).unwrap_err();
        assert_eq!(
            e.message,
            "Bind for 0.0.0.0:1 failed: port is already allocated"
        );
        t.take("b", &p(Some("127.0.0.2"), 1), false).unwrap();
        let mut udp = p(None, 1);
        udp.proto = "udp".into();
        t.take("c", &udp, false).unwrap();
        t.release_owner("a");
        t.release_owner("b");
        t.take("d", &p(None, 1), false).unwrap();
    }

    #[test]
    fn port_specs() {
        assert_eq!(parse_container_port("80").unwrap(), (80, "tcp".into()));
        assert_eq!(parse_container_port("53/udp").unwrap(), (53, "udp".into()));
        assert!(parse_container_port("80/icmp").is_err());
        assert_eq!(parse_host_port("").unwrap(), None);
        assert_eq!(parse_host_port("8080").unwrap(), Some((8080, 8080)));
        assert_eq!(parse_host_port("8000-8010").unwrap(), Some((8000, 8010)));
        assert!(parse_host_port("9-8").is_err());
        assert!(parse_host_port("x").is_err());
    }
}
