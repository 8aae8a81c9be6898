//! The server end to end on loopback sockets, with fake upstreams the
//! tests run themselves; one test in a network namespace of its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, Semaphore};

use super::forward::{read_frame, write_frame};
use super::*;

/// Only a guard against a hung test: a reply that should come comes at once.
const HUNG: Duration = Duration::from_secs(20);

const TEST_LIMITS: Limits = Limits {
    per_try: Duration::from_millis(300),
    forwards: 100,
    connections: 4,
    tcp_idle: Duration::from_secs(10),
};

#[derive(Default)]
struct TestNames {
    names: HashMap<String, Vec<IpAddr>>,
}

impl TestNames {
    fn with(mut self, name: &str, addrs: &[&str]) -> Self {
        let addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
        self.names.insert(name.to_string(), addrs);
        self
    }
}

impl Names for TestNames {
    fn lookup(&self, name: &str) -> Option<Vec<IpAddr>> {
        self.names.get(name).cloned()
    }

    fn reverse(&self, ip: IpAddr) -> Option<String> {
        self.names
            .iter()
            .find(|(_, addrs)| addrs.contains(&ip))
            .map(|(name, _)| name.clone())
    }
}

fn names() -> TestNames {
    TestNames::default()
        .with("web", &["10.213.0.2", "fd00:213::2"])
        .with("db", &["10.213.0.3"])
}

struct Running {
    server: DnsServer,
    udp: SocketAddr,
    tcp: SocketAddr,
}

fn serve(names: TestNames, upstream: Vec<SocketAddr>, limits: Limits) -> Running {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (udp_addr, tcp_addr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
    let server = DnsServer::start_with(udp, tcp, Arc::new(names), upstream, limits).unwrap();
    Running {
        server,
        udp: udp_addr,
        tcp: tcp_addr,
    }
}

fn query(id: u16, name: &str, rtype: RecordType) -> Message {
    let mut msg = Message::query();
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    msg
}

async fn client(server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    socket
}

async fn receive(socket: &UdpSocket) -> Message {
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(HUNG, socket.recv(&mut buf))
        .await
        .expect("no reply")
        .unwrap();
    Message::from_vec(&buf[..n]).unwrap()
}

async fn ask(socket: &UdpSocket, msg: &Message) -> Message {
    socket.send(&msg.to_vec().unwrap()).await.unwrap();
    let reply = receive(socket).await;
    assert_eq!(reply.metadata.id, msg.metadata.id);
    reply
}

async fn ask_tcp(server: SocketAddr, msg: &Message) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    write_frame(&mut stream, &msg.to_vec().unwrap())
        .await
        .unwrap();
    let reply = tokio::time::timeout(HUNG, read_frame(&mut stream))
        .await
        .expect("no reply")
        .unwrap()
        .expect("connection closed");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, msg.metadata.id);
    reply
}

fn addresses(reply: &Message) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = reply
        .answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            other => panic!("unexpected record {other:?}"),
        })
        .collect();
    out.sort();
    out
}

/// A resolver the test runs: replies with `answer(query)` (None: stays
/// silent), after a permit of `gate` when there is a gate, and reports
/// every query it gets.
struct Upstream {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Message>,
    gate: Arc<Semaphore>,
}

type Answer = fn(&Message) -> Option<Message>;

fn upstream_udp(answer: Answer, gated: bool) -> Upstream {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let addr = socket.local_addr().unwrap();
    let socket = UdpSocket::from_std(socket).unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(if gated {
        0
    } else {
        Semaphore::MAX_PERMITS
    }));
    let held = gate.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let msg = Message::from_vec(&buf[..n]).unwrap();
            let _ = tx.send(msg.clone());
            let Ok(permit) = held.acquire().await else {
                return;
            };
            permit.forget();
            if let Some(reply) = answer(&msg) {
                socket
                    .send_to(&reply.to_vec().unwrap(), peer)
                    .await
                    .unwrap();
            }
        }
    });
    Upstream { addr, seen, gate }
}

fn upstream_tcp(answer: Answer) -> Upstream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let Ok(Some(packet)) = read_frame(&mut stream).await else {
                continue;
            };
            let msg = Message::from_vec(&packet).unwrap();
            let _ = tx.send(msg.clone());
            if let Some(reply) = answer(&msg) {
                let _ = write_frame(&mut stream, &reply.to_vec().unwrap()).await;
            }
        }
    });
    Upstream {
        addr,
        seen,
        gate: Arc::new(Semaphore::new(0)),
    }
}

/// An upstream's view of the world: `elsewhere.example` is 192.0.2.7,
/// anything else does not exist.
fn outside(query: &Message) -> Option<Message> {
    let mut reply = query.clone();
    reply.metadata.message_type = hickory_proto::op::MessageType::Response;
    reply.metadata.recursion_available = true;
    let question = &query.queries[0];
    if question.name().to_ascii() == "elsewhere.example." {
        reply.answers.push(Record::from_rdata(
            question.name().clone(),
            30,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 7))),
        ));
    } else {
        reply.metadata.response_code = ResponseCode::NXDomain;
    }
    Some(reply)
}

fn failing(query: &Message) -> Option<Message> {
    let mut reply = outside(query)?;
    reply.answers.clear();
    reply.metadata.response_code = ResponseCode::ServFail;
    Some(reply)
}

fn silent(_: &Message) -> Option<Message> {
    None
}

/// A port nobody listens on: the kernel refuses at once.
fn dead_port() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap()
}

#[tokio::test]
async fn answers_a_and_aaaa_of_the_family_asked() {
    let s = serve(names(), vec![], TEST_LIMITS);
    let c = client(s.udp).await;

    let reply = ask(&c, &query(1, "web.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.recursion_available);
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.2".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(reply.answers[0].ttl, 600);
    assert_eq!(reply.answers[0].name.to_ascii(), "web.");
    assert_eq!(reply.queries, query(1, "web.", RecordType::A).queries);

    let reply = ask(&c, &query(2, "web.", RecordType::AAAA)).await;
    assert_eq!(
        addresses(&reply),
        vec!["fd00:213::2".parse::<IpAddr>().unwrap()]
    );

    // A known name without an address of that family: NOERROR, no records,
    // and nothing forwarded (there is no upstream to forward to).
    let reply = ask(&c, &query(3, "db.", RecordType::AAAA)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());

    // MX of a known name: exists, but no mail exchanger.
    let reply = ask(&c, &query(4, "db.", RecordType::MX)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
}

#[tokio::test]
async fn names_match_whatever_their_case() {
    let s = serve(names(), vec![], TEST_LIMITS);
    let c = client(s.udp).await;
    let reply = ask(&c, &query(7, "WeB", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.2".parse::<IpAddr>().unwrap()]
    );
    // The record carries the name as asked, as docker's do.
    assert_eq!(reply.answers[0].name.to_ascii(), "WeB.");
}

#[tokio::test]
async fn answers_ptr_for_container_addresses() {
    let s = serve(names(), vec![], TEST_LIMITS);
    let c = client(s.udp).await;
    let reply = ask(&c, &query(1, "3.0.213.10.in-addr.arpa.", RecordType::PTR)).await;
    assert_eq!(reply.answers.len(), 1);
    match &reply.answers[0].data {
        RData::PTR(ptr) => assert_eq!(ptr.0.to_ascii(), "db."),
        other => panic!("not a PTR: {other:?}"),
    }
    assert_eq!(reply.answers[0].ttl, 600);

    let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.1.2.0.0.0.d.f.ip6.arpa.";
    let reply = ask(&c, &query(2, v6, RecordType::PTR)).await;
    match &reply.answers[0].data {
        RData::PTR(ptr) => assert_eq!(ptr.0.to_ascii(), "web."),
        other => panic!("not a PTR: {other:?}"),
    }
}

#[tokio::test]
async fn unknown_names_are_forwarded_and_relayed_with_the_client_id() {
    let mut up = upstream_udp(outside, false);
    let s = serve(names(), vec![up.addr], TEST_LIMITS);
    let c = client(s.udp).await;

    let reply = ask(&c, &query(0x4242, "nowhere.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    let seen = up.seen.recv().await.unwrap();
    assert_eq!(seen.queries[0].name().to_ascii(), "nowhere.example.");
    assert!(seen.metadata.recursion_desired);

    let reply = ask(&c, &query(0x4343, "elsewhere.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        addresses(&reply),
        vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(reply.answers[0].ttl, 30);

    // A known name asked for a type answered elsewhere goes out too.
    let _ = ask(&c, &query(9, "web.", RecordType::TXT)).await;
    let seen = up.seen.recv().await.unwrap();
    assert_eq!(seen.queries[0].name().to_ascii(), "elsewhere.example.");
    let seen = up.seen.recv().await.unwrap();
    assert_eq!(seen.queries[0].query_type(), RecordType::TXT);
}

#[tokio::test]
async fn the_next_upstream_is_tried_when_one_fails() {
    let dead = dead_port();
    let mut quiet = upstream_udp(silent, false);
    let mut broken = upstream_udp(failing, false);
    let mut good = upstream_udp(outside, false);
    let s = serve(
        names(),
        vec![dead, quiet.addr, broken.addr, good.addr],
        TEST_LIMITS,
    );
    let c = client(s.udp).await;
    let reply = ask(&c, &query(5, "elsewhere.example.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    for up in [&mut quiet, &mut broken, &mut good] {
        assert_eq!(
            up.seen.recv().await.unwrap().queries[0].name().to_ascii(),
            "elsewhere.example."
        );
    }
}

#[tokio::test]
async fn servfail_when_no_upstream_answers() {
    let quiet = upstream_udp(silent, false);
    let broken = upstream_udp(failing, false);
    let s = serve(
        names(),
        vec![dead_port(), quiet.addr, broken.addr],
        TEST_LIMITS,
    );
    let c = client(s.udp).await;
    let reply = ask(&c, &query(6, "nowhere.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(
        reply.queries,
        query(6, "nowhere.example.", RecordType::A).queries
    );

    let s = serve(names(), vec![], TEST_LIMITS);
    let c = client(s.udp).await;
    let reply = ask(&c, &query(7, "nowhere.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn garbage_is_dropped_and_the_server_goes_on() {
    let up = upstream_udp(outside, false);
    let s = serve(names(), vec![up.addr], TEST_LIMITS);
    let c = client(s.udp).await;
    let valid = query(8, "web.", RecordType::A).to_vec().unwrap();
    let mut as_response = Message::from_vec(&valid).unwrap();
    as_response.metadata.message_type = hickory_proto::op::MessageType::Response;
    let junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xff],
        vec![0u8; 11],
        b"GET / HTTP/1.0\r\n\r\n".to_vec(),
        valid[..valid.len() - 3].to_vec(),
        // A question count far beyond the packet.
        [&valid[..4], &[0xff, 0xff], &valid[6..]].concat(),
        // A response is never answered (two resolvers would ping-pong).
        as_response.to_vec().unwrap(),
        (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect(),
    ];
    for packet in &junk {
        c.send(packet).await.unwrap();
    }
    // Nothing came back for the junk: the first reply is the valid one's.
    let reply = ask(&c, &query(8, "web.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.2".parse::<IpAddr>().unwrap()]
    );

    // The same over TCP closes that connection only.
    let mut stream = TcpStream::connect(s.tcp).await.unwrap();
    write_frame(&mut stream, b"\x01\x02\x03").await.unwrap();
    let closed = tokio::time::timeout(HUNG, read_frame(&mut stream))
        .await
        .expect("connection left open");
    assert!(matches!(closed, Ok(None) | Err(_)));
    let reply = ask_tcp(s.tcp, &query(9, "db.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.3".parse::<IpAddr>().unwrap()]
    );
}

#[tokio::test]
async fn queries_over_tcp_are_answered_and_forwarded_over_tcp() {
    let mut up = upstream_tcp(outside);
    let s = serve(names(), vec![up.addr], TEST_LIMITS);
    let reply = ask_tcp(s.tcp, &query(10, "web.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.2".parse::<IpAddr>().unwrap()]
    );

    let reply = ask_tcp(s.tcp, &query(11, "elsewhere.example.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        up.seen.recv().await.unwrap().queries[0].name().to_ascii(),
        "elsewhere.example."
    );

    // Several queries on one connection.
    let mut stream = TcpStream::connect(s.tcp).await.unwrap();
    for id in 20..23 {
        write_frame(
            &mut stream,
            &query(id, "db.", RecordType::A).to_vec().unwrap(),
        )
        .await
        .unwrap();
        let reply = read_frame(&mut stream).await.unwrap().unwrap();
        assert_eq!(Message::from_vec(&reply).unwrap().metadata.id, id);
    }
}

#[tokio::test]
async fn long_answers_set_tc_on_udp_and_come_whole_over_tcp() {
    let many: Vec<String> = (1..=60).map(|i| format!("10.213.1.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let s = serve(TestNames::default().with("svc", &many), vec![], TEST_LIMITS);
    let c = client(s.udp).await;

    let q = query(30, "svc.", RecordType::A);
    let mut buf = vec![0u8; 65535];
    c.send(&q.to_vec().unwrap()).await.unwrap();
    let n = c.recv(&mut buf).await.unwrap();
    assert!(n <= 512, "{n} bytes over udp without EDNS");
    let reply = Message::from_vec(&buf[..n]).unwrap();
    assert!(reply.metadata.truncation);
    assert!(reply.answers.len() < 60);

    // A client that says it takes more gets it all over UDP.
    let mut q = query(31, "svc.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    q.set_edns(edns);
    let reply = ask(&c, &q).await;
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 60);
    assert_eq!(reply.edns.map(|e| e.max_payload()), Some(4096));

    let reply = ask_tcp(s.tcp, &query(32, "svc.", RecordType::A)).await;
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 60);
}

#[tokio::test]
async fn forwards_beyond_the_cap_are_refused() {
    let mut held = upstream_udp(outside, true);
    let limits = Limits {
        forwards: 1,
        per_try: HUNG,
        ..TEST_LIMITS
    };
    let s = serve(names(), vec![held.addr], limits);
    let c = client(s.udp).await;
    c.send(
        &query(40, "elsewhere.example.", RecordType::A)
            .to_vec()
            .unwrap(),
    )
    .await
    .unwrap();
    // The first is at the upstream and stays there until let go.
    held.seen.recv().await.unwrap();
    let reply = ask(&c, &query(41, "nowhere.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    // Local answers do not queue behind forwards.
    let reply = ask(&c, &query(42, "web.", RecordType::A)).await;
    assert_eq!(reply.answers.len(), 1);

    held.gate.add_permits(1);
    let reply = receive(&c).await;
    assert_eq!(reply.metadata.id, 40);
    assert_eq!(
        addresses(&reply),
        vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    // The place is free again.
    held.gate.add_permits(1);
    let reply = ask(&c, &query(43, "elsewhere.example.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn stopping_closes_the_sockets_even_with_a_forward_in_flight() {
    let mut held = upstream_udp(outside, true);
    let limits = Limits {
        per_try: HUNG,
        ..TEST_LIMITS
    };
    let s = serve(names(), vec![held.addr], limits);
    let c = client(s.udp).await;
    let _ = ask(&c, &query(50, "web.", RecordType::A)).await;
    c.send(
        &query(51, "elsewhere.example.", RecordType::A)
            .to_vec()
            .unwrap(),
    )
    .await
    .unwrap();
    held.seen.recv().await.unwrap();
    let idle = TcpStream::connect(s.tcp).await.unwrap();

    s.server.stopped().await;
    // Both ports are free: nothing else kept the sockets open.
    std::net::UdpSocket::bind(s.udp).expect("udp socket still open");
    let refused = TcpStream::connect(s.tcp).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    drop(idle);
}

#[tokio::test]
async fn the_tcp_connection_cap_closes_extra_connections() {
    let s = serve(names(), vec![], TEST_LIMITS);
    let mut open = Vec::new();
    for _ in 0..TEST_LIMITS.connections {
        let mut stream = TcpStream::connect(s.tcp).await.unwrap();
        // Answered, hence accepted and counted.
        write_frame(
            &mut stream,
            &query(60, "db.", RecordType::A).to_vec().unwrap(),
        )
        .await
        .unwrap();
        read_frame(&mut stream).await.unwrap().unwrap();
        open.push(stream);
    }
    let mut extra = TcpStream::connect(s.tcp).await.unwrap();
    let closed = tokio::time::timeout(HUNG, read_frame(&mut extra))
        .await
        .expect("extra connection left open");
    assert!(matches!(closed, Ok(None) | Err(_)));
    drop(open);
}

#[test]
fn starting_outside_a_runtime_is_an_error() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let started = DnsServer::start(udp, tcp, Arc::new(names()), vec![]);
    assert!(matches!(started, Err(Error::Dns(_))));
}

#[test]
fn upstreams_come_from_nameserver_lines() {
    let text = "# generated\n\
                search example.com\n\
                nameserver 192.0.2.53\n\
                ; nameserver 192.0.2.99\n\
                nameserver   127.0.0.53  # stub\n\
                nameserver 2001:db8::53\n\
                options ndots:2\n\
                nameserver 192.0.2.54\n";
    let got = upstream_from_resolv_conf(text);
    let want: Vec<SocketAddr> = vec![
        "192.0.2.53:53".parse().unwrap(),
        "127.0.0.53:53".parse().unwrap(),
        "[2001:db8::53]:53".parse().unwrap(),
    ];
    assert_eq!(got, want);

    let got = upstream_from_resolv_conf(
        "nameserver fe80::1%1\nnameserver fe80::2%lo\nnameserver bogus\nnameserver\n",
    );
    let want: Vec<SocketAddr> = vec![
        "[fe80::1%1]:53".parse().unwrap(),
        "[fe80::2%1]:53".parse().unwrap(),
    ];
    assert_eq!(got, want);
    assert!(upstream_from_resolv_conf("").is_empty());
}

/// A bound socket and clients made in a network namespace of their own;
/// the namespace lives as long as they do.
struct InNamespace {
    server: (std::net::UdpSocket, std::net::TcpListener),
    client_udp: std::net::UdpSocket,
    client_tcp: std::net::TcpStream,
}

fn in_new_namespace() -> InNamespace {
    std::thread::spawn(|| {
        // Only this thread moves; it ends below, and the sockets keep the
        // namespace alive until they close.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        let status = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(status.success());
        let server = bind_resolver().unwrap();
        let client_udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client_udp.connect((RESOLVER_IP, 53)).unwrap();
        // The kernel completes the handshake before anybody accepts.
        let client_tcp = std::net::TcpStream::connect((RESOLVER_IP, 53)).unwrap();
        InNamespace {
            server,
            client_udp,
            client_tcp,
        }
    })
    .join()
    .unwrap()
}

#[tokio::test]
async fn serves_127_0_0_11_inside_a_namespace_and_forwards_from_outside() {
    let mut up = upstream_udp(outside, false);
    let ns = in_new_namespace();
    let (udp, tcp) = ns.server;
    let _server = DnsServer::start(udp, tcp, Arc::new(names()), vec![up.addr]).unwrap();

    ns.client_udp.set_nonblocking(true).unwrap();
    let c = UdpSocket::from_std(ns.client_udp).unwrap();
    let reply = ask(&c, &query(70, "web.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.2".parse::<IpAddr>().unwrap()]
    );

    // The upstream listens on the host's loopback, which the namespace
    // cannot reach: the answer proves forwarding happens from outside.
    let reply = ask(&c, &query(71, "elsewhere.example.", RecordType::A)).await;
    assert_eq!(
        addresses(&reply),
        vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
    );
    up.seen.recv().await.unwrap();

    ns.client_tcp.set_nonblocking(true).unwrap();
    let mut stream = TcpStream::from_std(ns.client_tcp).unwrap();
    write_frame(
        &mut stream,
        &query(72, "db.", RecordType::A).to_vec().unwrap(),
    )
    .await
    .unwrap();
    let reply = tokio::time::timeout(HUNG, read_frame(&mut stream))
        .await
        .expect("no reply")
        .unwrap()
        .unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(
        addresses(&reply),
        vec!["10.213.0.3".parse::<IpAddr>().unwrap()]
    );
}
