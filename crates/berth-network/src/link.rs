//! Bridges and veth pairs, over rtnetlink.
//!
//! A container's interface is made in one request: the veth is created with
//! its host end already on the bridge and up, and its peer created directly
//! inside the container's namespace under its final name, MAC and MTU.
//! Only addresses and routes need a second connection whose socket lives in
//! that namespace; requests on it are pipelined, so a container costs a few
//! round trips and no polling. Anything that fails after the veth exists
//! deletes it again, which takes the peer with it.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::future::try_join_all;
use futures_util::TryStreamExt;
use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::{Handle, LinkBridge, LinkBridgePort, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::{netns, Error, Result};

/// A netlink connection in the daemon's (host) namespace. Cheap to clone;
/// the connection ends when the last clone is dropped.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

/// One container interface: see [`Netlink::add_veth`].
#[derive(Debug, Clone)]
pub struct VethSpec<'a> {
    /// Host end, e.g. from [`veth_name`].
    pub host_name: &'a str,
    pub bridge: &'a str,
    /// A namespace made by [`netns::create`].
    pub netns: &'a Path,
    /// Name inside the namespace: "eth0", "eth1", ...
    pub ifname: &'a str,
    pub mac: [u8; 6],
    /// Container addresses with their subnet's prefix, e.g. 10.213.0.2/24.
    pub addrs: &'a [IpNet],
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
    pub mtu: Option<u32>,
}

impl Netlink {
    /// Opens a connection in the calling process's namespace and spawns its
    /// task; must be called inside a tokio runtime.
    pub fn new() -> Result<Netlink> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| Error::netlink("open netlink socket", e))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Creates bridge `name` if missing, adds each of `addrs` (the gateway
    /// with its subnet's prefix) that is missing, sets the MTU if given, brings
    /// it up and turns on route_localnet so 127.0.0.1 can be DNATed to a
    /// container. Running it again changes nothing.
    pub async fn ensure_bridge(&self, name: &str, addrs: &[IpNet], mtu: Option<u32>) -> Result<()> {
        check_ifname(name)?;
        let link = match self.link(name).await? {
            Some(link) => link,
            None => {
                // A fixed MAC keeps the gateway's address stable; otherwise
                // the bridge takes the lowest of its ports' and ARP caches in
                // the containers go stale as ports come and go.
                let mut req = LinkBridge::new(name).address(random_mac().to_vec());
                if let Some(mtu) = mtu {
                    req = req.mtu(mtu);
                }
                match self.handle.link().add(req.build()).execute().await {
                    Ok(()) => {}
                    Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                    Err(e) => return Err(nl_error(format!("create bridge {name}"), e)),
                }
                self.link(name).await?.ok_or_else(|| {
                    Error::netlink(format!("create bridge {name}"), "it vanished at once")
                })?
            }
        };
        if kind(&link) != Some(&InfoKind::Bridge) {
            return Err(Error::Conflict(format!(
                "{name} exists and is not a bridge"
            )));
        }
        let index = link.header.index;

        let mut change = LinkUnspec::new_with_index(index);
        let mut changed = false;
        if let Some(mtu) = mtu.filter(|m| link_mtu(&link) != Some(*m)) {
            change = change.mtu(mtu);
            changed = true;
        }
        if !link.header.flags.contains(LinkFlags::Up) {
            change = change.up();
            changed = true;
        }
        if changed {
            self.handle
                .link()
                .set(change.build())
                .execute()
                .await
                .map_err(|e| nl_error(format!("set up bridge {name}"), e))?;
        }

        let have: Vec<(IpAddr, u8)> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .map_ok(|m| {
                let prefix = m.header.prefix_len;
                m.attributes.into_iter().find_map(|a| match a {
                    AddressAttribute::Address(ip) => Some((ip, prefix)),
                    _ => None,
                })
            })
            .try_filter_map(|a| async move { Ok(a) })
            .try_collect()
            .await
            .map_err(|e| nl_error(format!("list addresses of {name}"), e))?;
        let missing = addrs
            .iter()
            .filter(|a| !have.contains(&(a.addr(), a.prefix_len())));
        try_join_all(missing.map(|a| add_address(&self.handle, index, a, name))).await?;

        let sysctl = format!("/proc/sys/net/ipv4/conf/{name}/route_localnet");
        std::fs::write(&sysctl, "1").map_err(|e| Error::io(sysctl, e))
    }

    /// Deletes link `name` (a veth takes its peer with it); Ok when there is
    /// no such link.
    pub async fn delete_link(&self, name: &str) -> Result<()> {
        check_ifname(name)?;
        let req = LinkUnspec::new_with_name(name).build();
        match self.handle.link().del_with_message(req).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(nl_error(format!("delete link {name}"), e)),
        }
    }

    /// Names of the host's links that start with `prefix`.
    pub async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        self.handle
            .link()
            .get()
            .execute()
            .map_ok(|m| link_name(&m).map(str::to_string))
            .try_filter_map(|n| async move { Ok(n.filter(|n| n.starts_with(prefix))) })
            .try_collect()
            .await
            .map_err(|e| nl_error("list links", e))
    }

    /// Makes the veth pair of `spec`: the host end on the bridge, up, in
    /// hairpin mode (so a container reaches its own published ports through
    /// DNAT); the peer inside the namespace with its name, MAC, MTU,
    /// addresses and default routes, up. On any error nothing is left behind.
    pub async fn add_veth(&self, spec: &VethSpec<'_>) -> Result<()> {
        check_ifname(spec.host_name)?;
        check_ifname(spec.ifname)?;
        let bridge = self.link(spec.bridge).await?.ok_or_else(|| {
            Error::netlink(
                format!("attach {} to {}", spec.host_name, spec.bridge),
                "no such bridge",
            )
        })?;
        let ns = File::open(spec.netns).map_err(|e| Error::io(spec.netns, e))?;

        // The peer cannot be created up (the kernel opens it before the pair
        // is joined and refuses with ENOTCONN); it is set up from inside.
        let mut peer = LinkUnspec::new_with_name(spec.ifname)
            .address(spec.mac.to_vec())
            .setns_by_fd(ns.as_raw_fd());
        let mut host = LinkVeth::new(spec.host_name, spec.ifname)
            .controller(bridge.header.index)
            .up();
        if let Some(mtu) = spec.mtu {
            peer = peer.mtu(mtu);
            host = host.mtu(mtu);
        }
        let host = host.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        self.handle
            .link()
            .add(host.build())
            .execute()
            .await
            .map_err(|e| nl_error(format!("create veth {}", spec.host_name), e))?;
        drop(ns);

        let configured = tokio::try_join!(self.hairpin(spec.host_name), configure_peer(spec));
        if let Err(e) = configured {
            if let Err(undo) = self.delete_link(spec.host_name).await {
                tracing::warn!(veth = spec.host_name, error = %undo, "cannot delete veth after a failed setup");
            }
            return Err(e);
        }
        Ok(())
    }

    async fn hairpin(&self, host_name: &str) -> Result<()> {
        // Addressed by name: the new link's index is not known here.
        let req = LinkBridgePort::new(0).name(host_name).hairpin(true).build();
        self.handle
            .link()
            .set_port(req)
            .execute()
            .await
            .map_err(|e| nl_error(format!("set hairpin mode on {host_name}"), e))
    }

    async fn link(&self, name: &str) -> Result<Option<LinkMessage>> {
        link_by_name(&self.handle, name).await
    }
}

/// Addresses and default routes of the peer, over a connection whose socket
/// was made inside the namespace (a netlink socket talks to the namespace it
/// was created in, whichever thread uses it).
async fn configure_peer(spec: &VethSpec<'_>) -> Result<()> {
    let rt = tokio::runtime::Handle::current();
    // A short block of this task: one thread spawned and joined.
    let (conn, handle, _) = netns::run_in(spec.netns, move || {
        let _in_runtime = rt.enter();
        rtnetlink::new_connection()
    })?
    .map_err(|e| Error::netlink("open netlink socket in the container's namespace", e))?;

    let work = async {
        let index = link_by_name(&handle, spec.ifname)
            .await?
            .ok_or_else(|| Error::netlink(format!("find {}", spec.ifname), "not in the namespace"))?
            .header
            .index;
        let up = async {
            let req = LinkUnspec::new_with_index(index).up().build();
            handle
                .link()
                .set(req)
                .execute()
                .await
                .map_err(|e| nl_error(format!("set {} up", spec.ifname), e))
        };
        let addrs = try_join_all(
            spec.addrs
                .iter()
                .map(|a| add_address(&handle, index, a, spec.ifname)),
        );
        tokio::try_join!(up, addrs)?;
        // After the addresses and up: a gateway must be on a subnet of a
        // link that is up.
        let v4 = async {
            let Some(gw) = spec.gateway4 else {
                return Ok(());
            };
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build();
            handle
                .route()
                .add(route)
                .execute()
                .await
                .map_err(|e| nl_error(format!("add default route via {gw}"), e))
        };
        let v6 = async {
            let Some(gw) = spec.gateway6 else {
                return Ok(());
            };
            let route = RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(index)
                .build();
            handle
                .route()
                .add(route)
                .execute()
                .await
                .map_err(|e| nl_error(format!("add default route via {gw}"), e))
        };
        tokio::try_join!(v4, v6).map(|_| ())
    };
    // Driving the connection here rather than spawning it closes the socket
    // as soon as the work is done.
    tokio::select! {
        done = work => done,
        () = conn => Err(Error::netlink("netlink in the container's namespace", "connection closed")),
    }
}

async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>> {
    let mut found = handle.link().get().match_name(name).execute();
    match found.try_next().await {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl_error(format!("find link {name}"), e)),
    }
}

/// IPv6 addresses skip duplicate address detection so they work at once,
/// as docker's do.
async fn add_address(handle: &Handle, index: u32, addr: &IpNet, dev: &str) -> Result<()> {
    let mut req = handle.address().add(index, addr.addr(), addr.prefix_len());
    if addr.addr().is_ipv6() {
        let msg = req.message_mut();
        msg.header.flags |= AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    req.execute()
        .await
        .map_err(|e| nl_error(format!("add address {addr} to {dev}"), e))
}

fn kind(link: &LinkMessage) -> Option<&InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

fn link_mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(m) => Some(*m),
        _ => None,
    })
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// The errno of a request the kernel refused.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// The kernel's refusals read as the errno's text ("File exists"), not as the
/// library's wrapping of it.
fn nl_error(op: impl Into<String>, e: rtnetlink::Error) -> Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => Error::netlink(op, m.to_io()),
        e => Error::netlink(op, e),
    }
}

/// Interface names are also path components under /proc/sys and /sys.
fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace() || b == b':');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!("invalid interface name {name:?}")))
    }
}

/// Docker's MAC for an IPv4 address: 02:42 then the address's four bytes.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// "veth" and 7 random hex digits, as docker names the host end.
pub fn veth_name() -> String {
    format!("veth{:07x}", rand::random::<u32>() & 0x0fff_ffff)
}

/// A random unicast, locally administered MAC.
fn random_mac() -> [u8; 6] {
    let mut mac: [u8; 6] = rand::random();
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

/// Parses "aa:bb:cc:dd:ee:ff" (either case).
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let invalid = || Error::Invalid(format!("invalid MAC address: {s}"));
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        let part = parts.next().ok_or_else(invalid)?;
        if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| invalid())?;
    }
    if parts.next().is_some() {
        return Err(invalid());
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::tests::NsDir;
    use serde_json::Value;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    static N: AtomicUsize = AtomicUsize::new(0);

    /// Names and a subnet no other test (or test process) uses; every link
    /// a test makes starts with `prefix` and is deleted on drop.
    struct Scope {
        prefix: String,
        subnet: u8,
        links: Vec<String>,
    }

    impl Scope {
        fn new() -> Scope {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let pid = std::process::id();
            Scope {
                prefix: format!("bn{:x}x{n:02}", pid % 0x10_0000),
                subnet: 100 + ((pid as usize * 7 + n) % 150) as u8,
                links: Vec::new(),
            }
        }

        fn link(&mut self, suffix: &str) -> String {
            let name = format!("{}{suffix}", self.prefix);
            assert!(name.len() < 16, "{name}");
            self.links.push(name.clone());
            name
        }

        fn net(&self, host: u8) -> IpNet {
            format!("10.213.{}.{host}/24", self.subnet)
                .parse()
                .expect("net")
        }

        fn net6(&self, host: u8) -> IpNet {
            format!("fd00:213:{}::{host}/64", self.subnet)
                .parse()
                .expect("net6")
        }
    }

    impl Drop for Scope {
        fn drop(&mut self) {
            let links = std::mem::take(&mut self.links);
            // Its own thread and runtime: drop may run inside the test's.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    let nl = Netlink::new().expect("netlink");
                    for l in links {
                        let _ = nl.delete_link(&l).await;
                    }
                });
            })
            .join();
        }
    }

    /// `ip -j ...`, in the namespace at `netns` when given.
    fn ip(netns: Option<&Path>, args: &[&str]) -> Value {
        let mut cmd = match netns {
            Some(p) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", p.display())).arg("ip");
                c
            }
            None => Command::new("ip"),
        };
        let out = cmd.arg("-j").args(args).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("ip json")
    }

    fn addrs_of(link: &Value) -> Vec<String> {
        link["addr_info"]
            .as_array()
            .expect("addr_info")
            .iter()
            .filter(|a| a["scope"] != "link")
            .map(|a| format!("{}/{}", a["local"].as_str().expect("local"), a["prefixlen"]))
            .collect()
    }

    fn flags(link: &Value) -> Vec<String> {
        serde_json::from_value(link["flags"].clone()).expect("flags")
    }

    fn links_inside(netns: &Path) -> Vec<String> {
        ip(Some(netns), &["link", "show"])
            .as_array()
            .expect("links")
            .iter()
            .map(|l| l["ifname"].as_str().expect("ifname").to_string())
            .collect()
    }

    fn read(path: String) -> String {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim()
            .to_string()
    }

    /// Connects from inside `netns` to a listener on `addr` in the host and
    /// returns the source address each side saw.
    fn connect_from(netns: &Path, addr: IpAddr) -> (SocketAddr, SocketAddr) {
        let listener = TcpListener::bind((addr, 0)).expect("listen on the bridge");
        let to = listener.local_addr().expect("local addr");
        let from = netns::run_in(netns, move || {
            let s = TcpStream::connect_timeout(&to, Duration::from_secs(10)).expect("connect");
            s.local_addr().expect("local addr")
        })
        .expect("run_in");
        let (_, seen) = listener.accept().expect("accept");
        (from, seen)
    }

    #[tokio::test]
    async fn ensure_bridge_twice_makes_one_bridge() {
        let mut s = Scope::new();
        let br = s.link("b");
        let nl = Netlink::new().expect("netlink");
        let addrs = [s.net(1), s.net6(1)];

        nl.ensure_bridge(&br, &addrs, Some(1400))
            .await
            .expect("first");
        nl.ensure_bridge(&br, &addrs, Some(1400))
            .await
            .expect("second");

        let link = &ip(None, &["addr", "show", "dev", &br])[0];
        let mut got = addrs_of(link);
        got.sort();
        let mut want: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        want.sort();
        assert_eq!(got, want);
        assert!(flags(link).contains(&"UP".to_string()), "{link}");
        assert_eq!(link["mtu"], 1400);
        assert_eq!(
            read(format!("/proc/sys/net/ipv4/conf/{br}/route_localnet")),
            "1"
        );
        assert!(std::path::Path::new(&format!("/sys/class/net/{br}/bridge")).exists());
        assert_eq!(
            nl.links_with_prefix(&s.prefix).await.expect("list"),
            vec![br.clone()]
        );

        nl.delete_link(&br).await.expect("delete");
        nl.delete_link(&br).await.expect("delete again");
        assert!(nl
            .links_with_prefix(&s.prefix)
            .await
            .expect("list")
            .is_empty());
    }

    #[tokio::test]
    async fn ensure_bridge_refuses_a_link_that_is_not_a_bridge() {
        let mut s = Scope::new();
        let (a, b) = (s.link("a"), s.link("z"));
        let nl = Netlink::new().expect("netlink");
        nl.handle
            .link()
            .add(LinkVeth::new(&a, &b).build())
            .execute()
            .await
            .expect("make a veth");
        let err = nl
            .ensure_bridge(&a, &[], None)
            .await
            .expect_err("not a bridge");
        assert!(matches!(err, Error::Conflict(_)), "{err}");
    }

    #[tokio::test]
    async fn add_veth_into_a_namespace() {
        let mut s = Scope::new();
        let mut d = NsDir::new();
        let (br, veth) = (s.link("b"), s.link("v"));
        let ns = d.path(&veth);
        let nl = Netlink::new().expect("netlink");
        let (gw, gw6) = (s.net(1), s.net6(1));
        nl.ensure_bridge(&br, &[gw, gw6], None)
            .await
            .expect("bridge");
        netns::create(&ns).expect("netns");

        let (me, me6) = (s.net(2), s.net6(2));
        let IpAddr::V4(me4) = me.addr() else {
            unreachable!()
        };
        let IpAddr::V4(gw4) = gw.addr() else {
            unreachable!()
        };
        let IpAddr::V6(gw6a) = gw6.addr() else {
            unreachable!()
        };
        let spec = VethSpec {
            host_name: &veth,
            bridge: &br,
            netns: &ns,
            ifname: "eth0",
            mac: mac_for(me4),
            addrs: &[me, me6],
            gateway4: Some(gw4),
            gateway6: Some(gw6a),
            mtu: Some(1400),
        };
        nl.add_veth(&spec).await.expect("add_veth");

        // Inside: eth0 with its MAC, MTU and addresses, up, default routes.
        let eth0 = &ip(Some(&ns), &["addr", "show", "dev", "eth0"])[0];
        assert_eq!(eth0["address"], format!("02:42:0a:d5:{:02x}:02", s.subnet));
        assert_eq!(eth0["mtu"], 1400);
        assert!(flags(eth0).contains(&"UP".to_string()), "{eth0}");
        assert_eq!(addrs_of(eth0), vec![me.to_string(), me6.to_string()]);
        let mut inside = links_inside(&ns);
        inside.sort();
        assert_eq!(inside, vec!["eth0", "lo"]);
        for (family, via) in [("-4", gw.addr()), ("-6", gw6.addr())] {
            let routes = ip(Some(&ns), &[family, "route", "show", "default"]);
            let r = &routes[0];
            assert_eq!(r["gateway"], via.to_string(), "{routes}");
            assert_eq!(r["dev"], "eth0", "{routes}");
        }

        // Host: the veth is a port of the bridge, up, hairpin on.
        let master = std::fs::read_link(format!("/sys/class/net/{veth}/master")).expect("master");
        assert_eq!(
            master.file_name().and_then(|n| n.to_str()),
            Some(br.as_str())
        );
        assert_eq!(
            read(format!("/sys/class/net/{veth}/brport/hairpin_mode")),
            "1"
        );
        assert!(flags(&ip(None, &["link", "show", "dev", &veth])[0]).contains(&"UP".to_string()));

        // Traffic both ways over the bridge, IPv6 included (no DAD wait).
        let (from, seen) = connect_from(&ns, gw.addr());
        assert_eq!((from.ip(), seen.ip()), (me.addr(), me.addr()));
        let (from, seen) = connect_from(&ns, gw6.addr());
        assert_eq!((from.ip(), seen.ip()), (me6.addr(), me6.addr()));

        // Teardown leaves no link of this test.
        nl.delete_link(&veth).await.expect("delete veth");
        netns::remove(&ns).expect("remove netns");
        nl.delete_link(&br).await.expect("delete bridge");
        assert!(nl
            .links_with_prefix(&s.prefix)
            .await
            .expect("list")
            .is_empty());
    }

    #[tokio::test]
    async fn add_veth_without_the_bridge_leaves_nothing() {
        let mut s = Scope::new();
        let mut d = NsDir::new();
        let (br, veth) = (s.link("b"), s.link("v"));
        let ns = d.path(&veth);
        netns::create(&ns).expect("netns");
        let nl = Netlink::new().expect("netlink");
        let spec = VethSpec {
            host_name: &veth,
            bridge: &br,
            netns: &ns,
            ifname: "eth0",
            mac: mac_for(Ipv4Addr::new(10, 213, s.subnet, 2)),
            addrs: &[s.net(2)],
            gateway4: None,
            gateway6: None,
            mtu: None,
        };
        let err = nl.add_veth(&spec).await.expect_err("no bridge");
        assert!(err.to_string().contains(&br), "{err}");
        assert!(nl
            .links_with_prefix(&s.prefix)
            .await
            .expect("list")
            .is_empty());
        assert_eq!(links_inside(&ns), vec!["lo"]);
    }

    #[tokio::test]
    async fn add_veth_undoes_itself_when_configuring_fails() {
        let mut s = Scope::new();
        let mut d = NsDir::new();
        let (br, veth) = (s.link("b"), s.link("v"));
        let ns = d.path(&veth);
        let nl = Netlink::new().expect("netlink");
        nl.ensure_bridge(&br, &[s.net(1)], None)
            .await
            .expect("bridge");
        netns::create(&ns).expect("netns");
        let spec = VethSpec {
            host_name: &veth,
            bridge: &br,
            netns: &ns,
            ifname: "eth0",
            mac: mac_for(Ipv4Addr::new(10, 213, s.subnet, 2)),
            addrs: &[s.net(2)],
            // Not on the container's subnet: the route is refused.
            gateway4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            gateway6: None,
            mtu: None,
        };
        let err = nl.add_veth(&spec).await.expect_err("unreachable gateway");
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
        assert_eq!(
            nl.links_with_prefix(&s.prefix).await.expect("list"),
            vec![br]
        );
        assert_eq!(links_inside(&ns), vec!["lo"]);
    }

    /// Not an assertion: prints what a container's network costs here, with
    /// the veth deleted first at stop or left to the namespace's teardown
    /// (asynchronous in the kernel).
    #[tokio::test]
    async fn time_per_container() {
        const ROUNDS: u32 = 20;
        let mut s = Scope::new();
        let mut d = NsDir::new();
        let br = s.link("b");
        let nl = Netlink::new().expect("netlink");
        nl.ensure_bridge(&br, &[s.net(1)], None)
            .await
            .expect("bridge");
        let IpAddr::V4(gw4) = s.net(1).addr() else {
            unreachable!()
        };
        let mut veths = Vec::new();
        for delete_first in [true, false] {
            let (mut create, mut add, mut delete, mut remove) = Default::default();
            for i in 0..ROUNDS {
                let veth = s.link(&format!("v{}", veths.len()));
                let ns: PathBuf = d.path(&veth);
                let me = Ipv4Addr::new(10, 213, s.subnet, 10 + i as u8);
                let spec = VethSpec {
                    host_name: &veth,
                    bridge: &br,
                    netns: &ns,
                    ifname: "eth0",
                    mac: mac_for(me),
                    addrs: &[IpNet::new(me.into(), 24).expect("net")],
                    gateway4: Some(gw4),
                    gateway6: None,
                    mtu: None,
                };
                let t = Instant::now();
                netns::create(&ns).expect("netns");
                let t1 = Instant::now();
                nl.add_veth(&spec).await.expect("add_veth");
                let t2 = Instant::now();
                if delete_first {
                    nl.delete_link(&veth).await.expect("delete");
                }
                let t3 = Instant::now();
                netns::remove(&ns).expect("remove");
                let t4 = Instant::now();
                create += t1 - t;
                add += t2 - t1;
                delete += t3 - t2;
                remove += t4 - t3;
                veths.push(veth);
            }
            let per = |d: Duration| d / ROUNDS;
            eprintln!(
                "per container (delete_link at stop: {delete_first}): netns::create {:?}, \
                 add_veth {:?}, delete_link {:?}, netns::remove {:?}, total {:?}",
                per(create),
                per(add),
                per(delete),
                per(remove),
                per(create + add + delete + remove)
            );
        }
        // Whatever the kernel has not torn down yet goes now.
        for v in &veths {
            nl.delete_link(v).await.expect("delete");
        }
        assert_eq!(
            nl.links_with_prefix(&s.prefix).await.expect("list"),
            vec![br]
        );
    }

    /// The engine runs these on spawned tasks: this fails to compile if
    /// they stop being Send.
    #[allow(dead_code)]
    fn futures_are_send<'a>(nl: &'a Netlink, spec: &'a VethSpec<'a>) -> impl Send + 'a {
        async move {
            nl.ensure_bridge(spec.bridge, spec.addrs, None).await?;
            nl.add_veth(spec).await?;
            nl.links_with_prefix("x").await?;
            nl.delete_link(spec.host_name).await
        }
    }

    #[test]
    fn macs_and_names() {
        assert_eq!(
            mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            [0x02, 0x42, 0xac, 0x11, 0, 2]
        );
        assert_eq!(
            parse_mac("02:42:AC:11:00:02").expect("mac"),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "02:42:ac:11:00:2",
            "+2:42:ac:11:00:02",
            "02-42-ac-11-00-02",
            "zz:42:ac:11:00:02",
        ] {
            assert!(matches!(parse_mac(bad), Err(Error::Invalid(_))), "{bad}");
        }
        let n = veth_name();
        assert_eq!(n.len(), 11);
        assert!(
            n.starts_with("veth") && n[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{n}"
        );
        let m = random_mac();
        assert_eq!(m[0] & 0x03, 0x02, "unicast, locally administered");
        for bad in ["", "a/b", "..", "0123456789abcdef", "a b", "a:b"] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
        assert!(check_ifname("br-0123456789a").is_ok());
    }
}
