//! End-to-end networking through the docker CLI: the default bridge with
//! NAT, published ports without a proxy process, user networks with DNS by
//! name and isolation, the host/none/container: modes, the files docker
//! writes, and what a daemon crash and `rm` leave behind.
//!
//! Traffic goes only to loopback and to the bridges and namespaces the
//! test daemon made; DNS forwarding is tested with a resolver the test
//! runs on a loopback address of its own.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use berth_tests::net::{ports_of, ruleset};
use berth_tests::{eventually, ok, stdout, Daemon};

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.load_busybox();
    d
}

/// A busybox httpd serving `body` at `/` on port 80.
const HTTPD: &str =
    "mkdir -p /www && echo \"$BODY\" > /www/index.html && exec httpd -f -p 80 -h /www";

fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A free TCP port on 127.0.0.1 right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether any socket on the host listens on TCP `port` (/proc/net/tcp{,6}).
fn host_listens_on(port: u16) -> bool {
    let hex = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.get(1).is_some_and(|a| a.ends_with(&hex)) && cols.get(3) == Some(&"0A")
            })
    })
}

fn inspect(d: &Daemon, what: &str, format: &str) -> String {
    ok(&d.docker(&["inspect", "-f", format, what]))
        .trim()
        .to_string()
}

#[test]
fn published_port_forwards_from_the_host_without_a_proxy() {
    let d = daemon();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "BODY=hello-from-berth",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]));
    let addr = format!("127.0.0.1:{port}");
    assert!(
        eventually(Duration::from_secs(10), || http_get(&addr)
            .is_some_and(|r| r.contains("hello-from-berth"))),
        "no page through the published port\n{}",
        ruleset(&d.net.table())
    );
    // Nothing on the host listens on the port: the kernel forwards it.
    assert!(!host_listens_on(port));
    assert_eq!(
        ok(&d.docker(&["port", "web", "80"])).trim(),
        format!("127.0.0.1:{port}")
    );
    let ps = ok(&d.docker(&["ps", "--format", "{{.Ports}}"]));
    assert_eq!(ps.trim(), format!("127.0.0.1:{port}->80/tcp"));
    let ip = inspect(&d, "web", "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with(&format!("10.{}.0.", d.net.n)), "{ip}");
    // The same host port again is refused with docker's words.
    let out = d.docker(&["run", "-d", "-p", &publish, "busybox", "sleep", "30"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("port is already allocated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn publish_all_picks_ports_from_the_ephemeral_range() {
    let d = daemon();
    ok(&d.docker(&[
        "run", "-d", "--name", "pub", "--expose", "80", "--expose", "81/udp", "-P", "-e",
        "BODY=any", "busybox", "sh", "-c", HTTPD,
    ]));
    let tcp = ok(&d.docker(&["port", "pub", "80/tcp"]));
    let host_port: u16 = tcp.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(host_port >= 1024, "{tcp}");
    assert!(ok(&d.docker(&["port", "pub", "81/udp"])).contains("0.0.0.0:"));
    let addr = format!("127.0.0.1:{host_port}");
    assert!(eventually(Duration::from_secs(10), || http_get(&addr)
        .is_some_and(|r| r.contains("any"))));
}

#[test]
fn containers_reach_the_outside_through_nat_and_see_their_files() {
    let d = daemon();
    let gw = format!("10.{}.0.1", d.net.n);
    // The bridge's address is the host seen from the container.
    let listener = std::net::TcpListener::bind(format!("{gw}:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        s.write_all(b"pong\n").unwrap();
        peer.ip().to_string()
    });
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        "--add-host",
        "db:10.9.9.9",
        "--add-host",
        "gw:host-gateway",
        "--dns",
        "10.1.2.3",
        "--dns-search",
        "corp.test",
        "busybox",
        "sh",
        "-c",
        &format!("nc -w 3 {gw} {port} </dev/null; cat /etc/hosts /etc/resolv.conf; ip route"),
    ]));
    let peer = accept.join().unwrap();
    assert!(out.starts_with("pong\n"), "{out}");
    assert!(peer.starts_with(&format!("10.{}.0.", d.net.n)), "{peer}");
    assert!(out.contains("10.9.9.9\tdb\n"), "{out}");
    assert!(out.contains(&format!("{gw}\tgw\n")), "{out}");
    assert!(out.contains("\tbox\n"), "{out}");
    assert!(
        out.contains("nameserver 10.1.2.3\nsearch corp.test\n"),
        "{out}"
    );
    assert!(out.contains(&format!("default via {gw} dev eth0")), "{out}");
}

#[test]
fn network_modes_host_none_and_container() {
    let d = daemon();
    let host = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]));
    assert!(host.contains(&format!("{}:", d.net.bridge)), "{host}");
    let none = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/proc/net/dev",
    ]));
    let ifaces: Vec<&str> = none
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"]);
    ok(&d.docker(&["run", "-d", "--name", "donor", "busybox", "sleep", "60"]));
    let ip = inspect(&d, "donor", "{{.NetworkSettings.IPAddress}}");
    let shared = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "container:donor",
        "busybox",
        "ip",
        "-4",
        "addr",
    ]));
    assert!(shared.contains(&format!("inet {ip}/24")), "{shared}");
}

#[test]
fn user_networks_resolve_names_and_are_isolated() {
    let d = daemon();
    let (s1, s2) = (d.net.subnet(1), d.net.subnet(2));
    ok(&d.docker(&["network", "create", "--subnet", &s1, "front"]));
    ok(&d.docker(&["network", "create", "--subnet", &s2, "back"]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "www",
        "-e",
        "BODY=by-name",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]));
    let get = |net: &str, host: &str| {
        d.docker(&[
            "run",
            "--rm",
            "--network",
            net,
            "busybox",
            "sh",
            "-c",
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} 80"),
        ])
    };
    assert!(eventually(Duration::from_secs(10), || stdout(&get(
        "front", "web"
    ))
    .contains("by-name")));
    assert!(stdout(&get("front", "www")).contains("by-name"));
    let short = ok(&d.docker(&["inspect", "-f", "{{.Id}}", "web"]))[..12].to_string();
    assert!(stdout(&get("front", &short)).contains("by-name"));
    let resolv = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "front",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]));
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    // Another network neither resolves the name nor reaches the address.
    let ip = inspect(&d, "web", "{{.NetworkSettings.Networks.front.IPAddress}}");
    assert!(ip.starts_with(&format!("10.{}.1.", d.net.n)), "{ip}");
    assert!(!stdout(&get("back", "web")).contains("by-name"));
    assert!(!stdout(&get("back", &ip)).contains("by-name"));
    // Network inspect lists the running container.
    let members = ok(&d.docker(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        "front",
    ]));
    assert_eq!(members.trim(), format!("web {ip}/24"));
    let listed = ok(&d.docker(&["ps", "-q", "--filter", "network=front"]));
    assert_eq!(listed.trim(), short);
    // A rename is what the embedded DNS answers to from then on.
    ok(&d.docker(&["rename", "web", "site"]));
    assert!(stdout(&get("front", "site")).contains("by-name"));
    ok(&d.docker(&["rename", "site", "web"]));
    // Connect puts a running container on a second network at once.
    ok(&d.docker(&["network", "connect", "back", "web"]));
    let ip2 = inspect(&d, "web", "{{.NetworkSettings.Networks.back.IPAddress}}");
    assert!(stdout(&get("back", "web")).contains("by-name"), "{ip2}");
    ok(&d.docker(&["network", "disconnect", "back", "web"]));
    assert!(!stdout(&get("back", &ip2)).contains("by-name"));
    // A network in use stays; once unused, prune removes it.
    let out = d.docker(&["network", "rm", "front"]);
    assert!(!out.status.success());
    ok(&d.docker(&["rm", "-f", "web"]));
    let pruned = ok(&d.docker(&["network", "prune", "-f"]));
    assert!(
        pruned.contains("front") && pruned.contains("back"),
        "{pruned}"
    );
    let left = ok(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert_eq!(
        left.split_whitespace().collect::<Vec<_>>(),
        ["bridge", "host", "none"]
    );
}

/// A resolver on `addr:53` that answers every A query with 203.0.113.7.
fn fake_resolver(addr: &str) -> std::thread::JoinHandle<()> {
    let sock = UdpSocket::bind(format!("{addr}:53")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let q = &buf[..n];
            if n < 12 {
                continue;
            }
            let mut r = q.to_vec();
            r[2] = 0x81; // response, recursion desired
            r[3] = 0x80; // recursion available, NOERROR
            r[6] = 0;
            r[7] = 1; // one answer
            r[8..12].fill(0);
            // The answer points back at the question's name.
            r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7]);
            let _ = sock.send_to(&r, from);
        }
    })
}

#[test]
fn embedded_dns_forwards_other_names_to_the_daemons_resolvers() {
    let resolver_ip = format!("127.0.{}.53", 100 + rand::random::<u8>() % 100);
    let _resolver = fake_resolver(&resolver_ip);
    let d = Daemon::start_with_args(&["--dns", &resolver_ip]);
    d.load_busybox();
    ok(&d.docker(&["network", "create", "--subnet", &d.net.subnet(3), "dnsnet"]));
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "dnsnet",
        "busybox",
        "nslookup",
        "anything.example",
    ]));
    assert!(out.contains("203.0.113.7"), "{out}");
}

#[test]
fn a_containers_own_dns_is_where_its_embedded_dns_forwards() {
    let resolver_ip = format!("127.0.{}.54", 100 + rand::random::<u8>() % 100);
    let _resolver = fake_resolver(&resolver_ip);
    let d = daemon();
    ok(&d.docker(&["network", "create", "--subnet", &d.net.subnet(8), "owndns"]));
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "owndns",
        "--dns",
        &resolver_ip,
        "--dns-search",
        "corp.test",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; nslookup other.example",
    ]));
    assert!(
        out.starts_with("nameserver 127.0.0.11\nsearch corp.test\n"),
        "{out}"
    );
    assert!(out.contains("203.0.113.7"), "{out}");
}

#[test]
fn a_daemon_crash_keeps_forwarding_and_rm_leaves_nothing() {
    let mut d = daemon();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "BODY=survivor",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]));
    let addr = format!("127.0.0.1:{port}");
    assert!(eventually(Duration::from_secs(10), || http_get(&addr)
        .is_some_and(|r| r.contains("survivor"))));
    let rules_before = ruleset(&d.net.table());
    let ip = inspect(&d, "web", "{{.NetworkSettings.IPAddress}}");
    d.restart();
    assert!(
        http_get(&addr).is_some_and(|r| r.contains("survivor")),
        "forwarding lost with the daemon"
    );
    assert_eq!(
        ruleset(&d.net.table()),
        rules_before,
        "a restart changed the rules"
    );
    // The address stays taken: the next container gets another one.
    ok(&d.docker(&["run", "-d", "--name", "other", "busybox", "sleep", "60"]));
    assert_ne!(inspect(&d, "other", "{{.NetworkSettings.IPAddress}}"), ip);
    ok(&d.docker(&["rm", "-f", "web", "other"]));
    assert!(
        ports_of(&d.net.bridge).is_empty(),
        "veths left: {:?}",
        ports_of(&d.net.bridge)
    );
    assert!(!ruleset(&d.net.table()).contains(&format!("dport {port}")));
    assert!(std::fs::read_dir(d.exec_root.join("netns"))
        .unwrap()
        .next()
        .is_none());
    // The address is free again.
    ok(&d.docker(&["run", "-d", "--name", "again", "busybox", "sleep", "60"]));
    assert_eq!(inspect(&d, "again", "{{.NetworkSettings.IPAddress}}"), ip);
}

#[test]
fn static_addresses_and_macs() {
    let d = daemon();
    ok(&d.docker(&["network", "create", "--subnet", &d.net.subnet(4), "fixed"]));
    let want = format!("10.{}.4.50", d.net.n);
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "fixed",
        "--ip",
        &want,
        "--mac-address",
        "02:42:de:ad:be:ef",
        "busybox",
        "ip",
        "addr",
        "show",
        "eth0",
    ]));
    assert!(out.contains(&format!("inet {want}/24")), "{out}");
    assert!(out.contains("02:42:de:ad:be:ef"), "{out}");
    let out = d.docker(&["run", "--rm", "--ip", "10.0.0.9", "busybox", "true"]);
    assert!(!out.status.success());
}

#[test]
fn embedded_dns_comes_back_after_a_daemon_crash() {
    let mut d = daemon();
    ok(&d.docker(&["network", "create", "--subnet", &d.net.subnet(5), "svc"]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "svc",
        "busybox",
        "sleep",
        "120",
    ]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "svc",
        "busybox",
        "sleep",
        "120",
    ]));
    let ip = inspect(&d, "db", "{{.NetworkSettings.Networks.svc.IPAddress}}");
    d.restart();
    let out = ok(&d.docker(&["exec", "app", "nslookup", "db"]));
    assert!(out.contains(&ip), "{out}");
}

#[test]
fn internal_networks_do_not_reach_the_host() {
    let d = daemon();
    ok(&d.docker(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        &d.net.subnet(6),
        "inner",
    ]));
    let gw = format!("10.{}.0.1", d.net.n);
    let listener = std::net::TcpListener::bind(format!("{gw}:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "inner",
        "busybox",
        "sh",
        "-c",
        &format!("ip route; nc -w 2 {gw} {port} </dev/null && echo reached"),
    ]);
    let text = stdout(&out);
    assert!(!text.contains("reached"), "{text}");
    assert!(!text.contains("default via"), "{text}");
}

#[test]
fn without_a_default_bridge_containers_get_loopback_only() {
    let d = Daemon::start_with_args(&["--bridge", "none"]);
    d.load_busybox();
    let out = ok(&d.docker(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]));
    assert!(!out.contains("eth0"), "{out}");
    let nets = ok(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert_eq!(
        nets.split_whitespace().collect::<Vec<_>>(),
        ["host", "none"]
    );
}

#[test]
fn hairpin_links_and_network_counters() {
    let d = daemon();
    let port = free_port();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "BODY=hairpin",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ]));
    let gw = format!("10.{}.0.1", d.net.n);
    // Another container reaches the published port through the host.
    let via_host = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gw} {port}");
    assert!(eventually(Duration::from_secs(10), || stdout(
        &d.docker(&["run", "--rm", "busybox", "sh", "-c", &via_host])
    )
    .contains("hairpin")));
    // And the container reaches itself the same way.
    let own = ok(&d.docker(&["exec", "web", "sh", "-c", &via_host]));
    assert!(own.contains("hairpin"), "{own}");
    // A legacy link is a hosts entry for the linked container.
    let ip = inspect(&d, "web", "{{.NetworkSettings.IPAddress}}");
    let hosts = ok(&d.docker(&[
        "run",
        "--rm",
        "--link",
        "web:site",
        "busybox",
        "cat",
        "/etc/hosts",
    ]));
    assert!(hosts.contains(&format!("{ip}\tsite web\n")), "{hosts}");
    // Stats count the traffic of the container's interfaces.
    let (status, _, body) = d.http("GET", "/containers/web/stats?stream=0", None);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v["networks"]["eth0"]["rx_bytes"].as_u64().unwrap() > 0,
        "{}",
        v["networks"]
    );
    assert!(v["networks"].get("lo").is_none());
}

#[test]
fn ipv6_on_a_user_network() {
    let d = daemon();
    let v6 = format!("fd00:b{:02x}::/64", d.net.n);
    ok(&d.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &v6,
        "--subnet",
        &d.net.subnet(7),
        "dual",
    ]));
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        "six",
        "--network",
        "dual",
        "busybox",
        "sleep",
        "60",
    ]));
    let addr = inspect(
        &d,
        "six",
        "{{.NetworkSettings.Networks.dual.GlobalIPv6Address}}",
    );
    assert!(
        addr.starts_with(&format!("fd00:b{:02x}::", d.net.n)),
        "{addr}"
    );
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "busybox",
        "sh",
        "-c",
        "nslookup -type=AAAA six 127.0.0.11; ping -6 -c 1 -W 3 six",
    ]));
    assert!(out.contains(&addr), "{out}");
    assert!(out.contains("1 packets received"), "{out}");
    let fixed = format!("fd00:b{:02x}::50", d.net.n);
    let shown = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "dual",
        "--ip6",
        &fixed,
        "busybox",
        "ip",
        "-6",
        "addr",
        "show",
        "eth0",
    ]));
    assert!(shown.contains(&format!("inet6 {fixed}/64")), "{shown}");
}

/// A namespace standing for "the outside": a veth from the host with its
/// own /24 of the daemon's space, removed on drop.
struct Outside {
    ns: String,
    host_if: String,
}

impl Outside {
    fn new(n: u8) -> Outside {
        let ns = format!("btout{n}");
        let host_if = format!("bto{n}");
        let sh = |cmd: String| {
            let st = std::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .status()
                .unwrap();
            assert!(st.success(), "{cmd}");
        };
        let o = Outside {
            ns: ns.clone(),
            host_if: host_if.clone(),
        };
        sh(format!("ip netns add {ns}"));
        sh(format!(
            "ip link add {host_if} type veth peer name eth0 netns {ns}"
        ));
        sh(format!(
            "ip addr add 10.{n}.250.1/24 dev {host_if} && ip link set {host_if} up"
        ));
        sh(format!(
            "ip -n {ns} addr add 10.{n}.250.2/24 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up"
        ));
        o
    }

    /// Accepts one connection on port 9000 inside the namespace; the peer
    /// address it saw.
    fn accept_one(&self) -> std::thread::JoinHandle<String> {
        let path = format!("/run/netns/{}", self.ns);
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            // SAFETY: this thread joins the namespace and ends with the test.
            assert_eq!(
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) },
                0
            );
            let l = std::net::TcpListener::bind("0.0.0.0:9000").unwrap();
            tx.send(()).unwrap();
            let (_, peer) = l.accept().unwrap();
            peer.ip().to_string()
        });
        rx.recv().unwrap();
        h
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "delete", &self.host_if])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["netns", "delete", &self.ns])
            .status();
    }
}

#[test]
fn traffic_leaving_the_bridge_is_masqueraded() {
    let d = daemon();
    let out = Outside::new(d.net.n);
    let seen = out.accept_one();
    let target = format!("10.{}.250.2", d.net.n);
    ok(&d.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        &format!("nc -w 3 {target} 9000 </dev/null"),
    ]));
    // The outside sees the host's address on its link, not the container's.
    assert_eq!(seen.join().unwrap(), format!("10.{}.250.1", d.net.n));
}
