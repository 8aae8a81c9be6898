//! Kernel tests (root): real tables, and a real namespace behind a bridge
//! reached through a published port. Every name carries the pid and a
//! counter; guards remove what a test made even when it fails.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

static SEQ: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    format!(
        "{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the table when the test ends, however it ends.
struct TableGuard(String);

impl TableGuard {
    fn new() -> TableGuard {
        TableGuard(format!("berth-fwt{}", unique()))
    }
}

impl Drop for TableGuard {
    fn drop(&mut self) {
        let _ = remove(&self.0);
    }
}

/// The rules of the table as nft lists them in JSON.
fn kernel_rules(table: &str) -> Vec<serde_json::Value> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "inet", table])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule").cloned())
        .collect()
}

fn rendered_rule_count(rs: &Ruleset) -> usize {
    let doc = serde_json::to_value(render::ruleset(rs).unwrap()).unwrap();
    doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["add"].get("rule").is_some())
        .count()
}

fn tcp(
    host_ip: Option<IpAddr>,
    host_port: u16,
    ctr: IpAddr,
    ctr_port: u16,
    bridge: &str,
) -> PortRule {
    PortRule {
        proto: Proto::Tcp,
        host_ip,
        host_port,
        container_ip: ctr,
        container_port: ctr_port,
        bridge: bridge.into(),
    }
}

fn ip4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Rules that touch nobody else's traffic while they exist: documentation
/// subnets, a loopback address no one binds, and ports just found free.
fn two_networks(table: &str, ports: usize) -> Ruleset {
    let mut quiet = BridgeRules::new("bfq0", vec!["203.0.113.0/24".parse().unwrap()]);
    quiet.icc = false;
    let hold: Vec<TcpListener> = (0..ports)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
        .collect();
    Ruleset {
        table: table.into(),
        networks: vec![
            BridgeRules::new("bfa0", vec!["198.51.100.0/24".parse().unwrap()]),
            quiet,
        ],
        ports: hold
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let host = if i % 2 == 0 {
                    None
                } else {
                    Some(ip4("127.213.0.1"))
                };
                let port = l.local_addr().unwrap().port();
                tcp(host, port, ip4("198.51.100.2"), 80 + i as u16, "bfa0")
            })
            .collect(),
    }
}

#[test]
fn apply_then_list_shows_dnat_and_masquerade() {
    let t = TableGuard::new();
    let rs = two_networks(&t.0, 2);
    apply(&rs).unwrap();
    let text = list(&t.0).unwrap();
    assert!(
        text.starts_with(&format!("table inet {} {{", t.0)),
        "{text}"
    );
    let (p0, p1) = (rs.ports[0].host_port, rs.ports[1].host_port);
    for want in [
        "fib daddr type local jump ports".to_string(),
        format!("meta nfproto ipv4 tcp dport {p0} dnat ip to 198.51.100.2:80"),
        format!("ip daddr 127.213.0.1 tcp dport {p1} dnat ip to 198.51.100.2:81"),
        "ip saddr 198.51.100.0/24 oifname != \"bfa0\" masquerade".to_string(),
        "oifname \"bfa0\" fib saddr type local masquerade".to_string(),
        "oifname \"bfa0\" ip saddr 198.51.100.0/24 ct status dnat masquerade".to_string(),
        "iifname \"bfq0\" oifname \"bfq0\" counter packets 0 bytes 0 drop".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn applying_twice_does_not_duplicate() {
    let t = TableGuard::new();
    let rs = two_networks(&t.0, 3);
    apply(&rs).unwrap();
    let first = kernel_rules(&t.0);
    assert_eq!(first.len(), rendered_rule_count(&rs));
    apply(&rs).unwrap();
    assert_eq!(kernel_rules(&t.0).len(), first.len());
}

#[test]
fn fewer_ports_leave_no_stale_rule() {
    let t = TableGuard::new();
    let mut rs = two_networks(&t.0, 4);
    apply(&rs).unwrap();
    let dropped = rs.ports.split_off(1);
    apply(&rs).unwrap();
    let ports: Vec<_> = kernel_rules(&t.0)
        .into_iter()
        .filter(|r| r["chain"] == "ports")
        .collect();
    assert_eq!(ports.len(), 1, "{ports:#?}");
    let text = list(&t.0).unwrap();
    assert!(
        text.contains(&format!("tcp dport {} ", rs.ports[0].host_port)),
        "{text}"
    );
    for p in dropped {
        assert!(
            !text.contains(&format!("tcp dport {} ", p.host_port)),
            "{text}"
        );
    }
}

#[test]
fn twenty_ports_on_two_networks() {
    let t = TableGuard::new();
    let rs = two_networks(&t.0, 20);
    apply(&rs).unwrap();
    let rules = kernel_rules(&t.0);
    assert_eq!(rules.len(), rendered_rule_count(&rs));
    assert_eq!(rules.iter().filter(|r| r["chain"] == "ports").count(), 20);
}

#[test]
fn remove_deletes_the_table_and_is_idempotent() {
    let t = TableGuard::new();
    apply(&two_networks(&t.0, 1)).unwrap();
    assert!(!list(&t.0).unwrap().is_empty());
    remove(&t.0).unwrap();
    assert_eq!(list(&t.0).unwrap(), "");
    remove(&t.0).unwrap();
}

#[test]
fn a_refused_apply_keeps_the_previous_table() {
    let t = TableGuard::new();
    apply(&two_networks(&t.0, 2)).unwrap();
    let before = list(&t.0).unwrap();
    // A v6 subnet written with a v4 match: nft refuses the whole batch.
    let mut doc = serde_json::to_value(render::ruleset(&two_networks(&t.0, 5)).unwrap()).unwrap();
    let cmds = doc["nftables"].as_array_mut().unwrap();
    let last = cmds.len() - 1;
    cmds[last]["add"]["rule"]["expr"] = serde_json::json!([
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "fd00::1"}},
        {"accept": null}
    ]);
    let doc: nftables::schema::Nftables = serde_json::from_value(doc).unwrap();
    let err = nft::Nft::system().apply(&doc).unwrap_err();
    assert!(matches!(err, crate::Error::Firewall(_)), "{err}");
    assert_eq!(list(&t.0).unwrap(), before);
}

/// A bridge with namespaces on it, as the engine will build them.
struct Topology {
    bridge: String,
    gateway: Ipv4Addr,
    members: Vec<Member>,
}

/// One namespace and the host end of its veth pair.
struct Member {
    ns: String,
    veth: String,
    addr: Ipv4Addr,
}

impl Topology {
    fn new(namespaces: u8) -> Topology {
        let id = unique();
        let x = free_subnet_octet();
        let mut topo = Topology {
            bridge: format!("bfb{id}"),
            gateway: Ipv4Addr::new(10, 213, x, 1),
            members: Vec::new(),
        };
        let br = topo.bridge.clone();
        ip(&["link", "add", &br, "type", "bridge"]);
        ip(&["addr", "add", &format!("{}/24", topo.gateway), "dev", &br]);
        ip(&["link", "set", &br, "up"]);
        // What the link setup does for real bridges: lets a DNAT of
        // 127.0.0.1 be routed out of this bridge.
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{br}/route_localnet"), "1").unwrap();
        for i in 0..namespaces {
            // Pushed before it exists, so a failure below still cleans it.
            topo.members.push(Member {
                ns: format!("bfw{id}n{i}"),
                veth: format!("bfh{id}n{i}"),
                addr: Ipv4Addr::new(10, 213, x, 2 + i),
            });
            let m = &topo.members[usize::from(i)];
            let (ns, veth, peer) = (&m.ns, &m.veth, format!("bfc{id}n{i}"));
            let (addr, gw) = (format!("{}/24", m.addr), topo.gateway.to_string());
            ip(&["netns", "add", ns]);
            ip(&["link", "add", veth, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &peer, "netns", ns]);
            ip(&["link", "set", veth, "master", &br, "up"]);
            // As the link setup must do without a userland proxy:
            // br_netfilter bridges a container's DNAT back to itself out
            // of the port it came in by, which only a hairpin port does.
            ip(&["link", "set", veth, "type", "bridge_slave", "hairpin", "on"]);
            ip(&["-n", ns, "addr", "add", &addr, "dev", &peer]);
            ip(&["-n", ns, "link", "set", &peer, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "route", "add", "default", "via", &gw]);
        }
        topo
    }

    fn subnet(&self) -> IpNet {
        IpNet::new(IpAddr::V4(self.gateway), 24).unwrap().trunc()
    }

    fn addr(&self, member: usize) -> IpAddr {
        IpAddr::V4(self.members[member].addr)
    }

    /// Runs `f` on a thread inside the member's namespace; sockets it makes
    /// stay there when the thread is gone.
    fn inside<T: Send + 'static>(
        &self,
        member: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let path = format!("/run/netns/{}", self.members[member].ns);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path).unwrap();
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    fn listen(&self, member: usize, port: u16) -> TcpListener {
        self.inside(member, move || {
            TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap()
        })
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace takes its veth pair along; the explicit
        // deletes cover a setup that failed halfway.
        let del = |args: &[&str]| Command::new("ip").args(args).output();
        for m in &self.members {
            let _ = del(&["netns", "del", &m.ns]);
            let _ = del(&["link", "del", &m.veth]);
        }
        let _ = del(&["link", "del", &self.bridge]);
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 10.213.x.0/24 no address or route of the host uses yet.
fn free_subnet_octet() -> u8 {
    let seen = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let used = seen(&["-4", "-o", "addr"]) + &seen(&["-4", "route"]);
    let start = std::process::id() % 200;
    (0..200)
        .map(|i| ((start + i) % 200 + 20) as u8)
        .find(|x| !used.contains(&format!("10.213.{x}.")))
        .expect("no free 10.213.x.0/24 left")
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The timeouts only keep a broken setup from hanging the test run.
fn fetch(to: SocketAddr) -> String {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("connect {to}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got)
        .unwrap_or_else(|e| panic!("read from {to}: {e}"));
    got
}

/// Answers `n` connections with the peer's address as the container sees it.
fn serve(listener: TcpListener, n: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, peer) = listener.accept().unwrap();
            let _ = write!(s, "hello {}", peer.ip());
        }
    })
}

#[test]
fn a_published_port_reaches_a_listener_in_a_namespace() {
    let topo = Topology::new(1);
    let t = TableGuard::new();
    let (loopback_port, any_port) = (free_port(), free_port());
    let (ctr, br) = (topo.addr(0), &topo.bridge);
    let rs = Ruleset {
        table: t.0.clone(),
        networks: vec![BridgeRules::new(br, vec![topo.subnet()])],
        ports: vec![
            tcp(Some(ip4("127.0.0.1")), loopback_port, ctr, 80, br),
            tcp(None, any_port, ctr, 80, br),
        ],
    };
    let server = serve(topo.listen(0, 80), 3);
    apply(&rs).unwrap();

    let gw = IpAddr::V4(topo.gateway);
    // From the host through loopback: masqueraded to the bridge address,
    // since the container cannot answer 127.0.0.1.
    assert_eq!(
        fetch(SocketAddr::new(ip4("127.0.0.1"), loopback_port)),
        format!("hello {gw}")
    );
    // 0.0.0.0 covers the host's other addresses too.
    assert_eq!(fetch(SocketAddr::new(gw, any_port)), format!("hello {gw}"));
    // Hairpin: the container reaches its own published port through the
    // host and sees the host as the peer.
    let own = SocketAddr::new(gw, any_port);
    assert_eq!(topo.inside(0, move || fetch(own)), format!("hello {gw}"));
    server.join().unwrap();

    remove(&t.0).unwrap();
    let gone = TcpStream::connect_timeout(
        &SocketAddr::new(ip4("127.0.0.1"), loopback_port),
        Duration::from_secs(10),
    );
    assert!(gone.is_err(), "the port still answers after remove");
}

/// The packets the table's counted drop rules have dropped.
fn dropped(table: &str) -> u64 {
    kernel_rules(table)
        .iter()
        .flat_map(|r| r["expr"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["counter"]["packets"].as_u64())
        .sum()
}

#[test]
fn icc_off_drops_traffic_between_containers_of_a_bridge() {
    let topo = Topology::new(2);
    let t = TableGuard::new();
    let mut net = BridgeRules::new(&topo.bridge, vec![topo.subnet()]);
    net.icc = false;
    let mut rs = Ruleset {
        table: t.0.clone(),
        networks: vec![net],
        ports: vec![],
    };
    apply(&rs).unwrap();
    let server = serve(topo.listen(1, 80), 1);
    let peer = SocketAddr::new(topo.addr(1), 80);
    // Whether this attempt fails is not the point (that would be a matter
    // of waiting): the drop counter says the rule caught it.
    let blocked = topo.inside(0, move || {
        TcpStream::connect_timeout(&peer, Duration::from_millis(300)).is_ok()
    });
    assert!(!blocked, "connected across icc=false");
    assert!(dropped(&t.0) > 0, "{}", list(&t.0).unwrap());

    rs.networks[0].icc = true;
    apply(&rs).unwrap();
    let from = topo.addr(0);
    assert_eq!(topo.inside(0, move || fetch(peer)), format!("hello {from}"));
    server.join().unwrap();
}
