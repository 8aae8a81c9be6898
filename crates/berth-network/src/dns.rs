//! The embedded DNS server of user-defined networks: every container on one
//! gets `nameserver 127.0.0.11` and, there, the names of the containers it
//! can reach; anything else is forwarded to the host's resolvers.
//!
//! Concurrency: the engine binds the sockets inside the container's network
//! namespace (on a thread that entered it) and hands them over; they are
//! served by daemon tasks, not threads. One task owns the UDP socket and one
//! the TCP listener; forwards and TCP connections are child tasks in sets
//! those two own, so aborting the two ends everything and closes the
//! sockets. Forwarding sockets are made by those tasks, hence in the
//! daemon's namespace.
//!
//! Threat model: every packet comes from a container and may be hostile.
//! What does not parse is dropped; a reply never exceeds what the client can
//! take; in-flight forwards and open TCP connections are capped per server
//! (the excess gets REFUSED, or the connection is closed), and idle TCP
//! connections are closed, so a container cannot make the daemon hold
//! sockets or tasks without bound.

mod answer;
mod forward;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{Error, Result};
use answer::Transport;

/// Where containers find the server, as in docker.
pub const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
const DNS_PORT: u16 = 53;
/// glibc reads at most three nameservers, docker forwards to at most three.
const MAX_UPSTREAMS: usize = 3;

/// What one container may see: names on the networks it is attached to.
pub trait Names: Send + Sync + 'static {
    /// Addresses of `name` (lowercase, no trailing dot), or None when no
    /// container on the querier's networks has that name, alias or short id
    /// (then the query is forwarded).
    fn lookup(&self, name: &str) -> Option<Vec<IpAddr>>;
    /// The name for a PTR query of `ip`, or None (then forwarded).
    fn reverse(&self, ip: IpAddr) -> Option<String>;
}

/// Binds 127.0.0.11:53, UDP and TCP, in the current thread's network
/// namespace (the engine calls it on a thread inside the container's).
/// The sockets are non-blocking and close-on-exec.
pub fn bind_resolver() -> Result<(std::net::UdpSocket, std::net::TcpListener)> {
    bind((RESOLVER_IP, DNS_PORT).into())
}

fn bind(addr: SocketAddr) -> Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let failed = |proto: &str, e: std::io::Error| Error::Dns(format!("bind {addr}/{proto}: {e}"));
    // std opens sockets with SOCK_CLOEXEC.
    let udp = std::net::UdpSocket::bind(addr).map_err(|e| failed("udp", e))?;
    udp.set_nonblocking(true).map_err(|e| failed("udp", e))?;
    let tcp = std::net::TcpListener::bind(addr).map_err(|e| failed("tcp", e))?;
    tcp.set_nonblocking(true).map_err(|e| failed("tcp", e))?;
    Ok((udp, tcp))
}

/// The host resolvers to forward to: the `nameserver` lines of a
/// resolv.conf text, port 53, at most three as glibc reads. Loopback ones
/// are kept: forwarding happens from the daemon's own namespace.
pub fn upstream_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next()? != "nameserver" {
                return None;
            }
            nameserver_addr(words.next()?)
        })
        .take(MAX_UPSTREAMS)
        .collect()
}

/// An address of a nameserver line; IPv6 link-local ones may carry a zone
/// (`fe80::1%eth0` or `%2`) that says which link to use.
fn nameserver_addr(word: &str) -> Option<SocketAddr> {
    if let Ok(ip) = word.parse::<IpAddr>() {
        return Some((ip, DNS_PORT).into());
    }
    let (ip, zone) = word.split_once('%')?;
    let ip: std::net::Ipv6Addr = ip.parse().ok()?;
    let scope = match zone.parse::<u32>() {
        Ok(index) => index,
        Err(_) => interface_index(zone)?,
    };
    Some(std::net::SocketAddrV6::new(ip, DNS_PORT, 0, scope).into())
}

fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call,
    // which only reads it.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// How much one server may take; tests shorten the waits.
#[derive(Clone, Copy, Debug)]
struct Limits {
    /// How long one upstream has to answer before the next one is tried.
    per_try: Duration,
    /// Forwards in flight at once (UDP and TCP together).
    forwards: usize,
    /// TCP connections open at once.
    connections: usize,
    /// How long a TCP client may take to send its next query.
    tcp_idle: Duration,
}

const LIMITS: Limits = Limits {
    per_try: Duration::from_secs(2),
    forwards: 100,
    connections: 32,
    tcp_idle: Duration::from_secs(10),
};

/// A running server; dropping it (or `stop`) ends its tasks and closes the
/// sockets.
pub struct DnsServer {
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Serves on the given sockets; must be called within a tokio runtime.
    pub fn start(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        names: Arc<dyn Names>,
        upstream: Vec<SocketAddr>,
    ) -> Result<DnsServer> {
        DnsServer::start_with(udp, tcp, names, upstream, LIMITS)
    }

    fn start_with(
        udp: std::net::UdpSocket,
        tcp: std::net::TcpListener,
        names: Arc<dyn Names>,
        upstream: Vec<SocketAddr>,
        limits: Limits,
    ) -> Result<DnsServer> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Dns("the server needs a tokio runtime".into()))?;
        let _entered = runtime.enter();
        let failed = |proto: &str, e: std::io::Error| Error::Dns(format!("serve {proto}: {e}"));
        udp.set_nonblocking(true).map_err(|e| failed("udp", e))?;
        tcp.set_nonblocking(true).map_err(|e| failed("tcp", e))?;
        let udp = UdpSocket::from_std(udp).map_err(|e| failed("udp", e))?;
        let tcp = TcpListener::from_std(tcp).map_err(|e| failed("tcp", e))?;
        let shared = Arc::new(Shared {
            names,
            upstream,
            limits,
            forwards: Arc::new(Semaphore::new(limits.forwards)),
        });
        Ok(DnsServer {
            tasks: vec![
                runtime.spawn(serve_udp(udp, shared.clone())),
                runtime.spawn(serve_tcp(tcp, shared)),
            ],
        })
    }

    pub fn stop(self) {
        drop(self);
    }

    fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Stops and waits until the tasks are gone, hence the sockets closed.
    #[cfg(test)]
    async fn stopped(mut self) {
        self.abort();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.abort();
    }
}

struct Shared {
    names: Arc<dyn Names>,
    upstream: Vec<SocketAddr>,
    limits: Limits,
    forwards: Arc<Semaphore>,
}

/// What to do with one received packet.
enum Step {
    Ignore,
    Reply(Vec<u8>),
    Forward(Forward),
}

/// A query the engine does not know the answer to.
struct Forward {
    query: Message,
    packet: Vec<u8>,
    limit: usize,
    transport: Transport,
}

impl Shared {
    fn step(&self, packet: &[u8], transport: Transport) -> Step {
        let Some(query) = answer::parse_query(packet) else {
            tracing::debug!("dns: dropped a malformed {transport:?} packet");
            return Step::Ignore;
        };
        let limit = answer::reply_limit(&query, transport);
        match answer::local_answer(self.names.as_ref(), &query) {
            Some(reply) => answer::encode(reply, limit).map_or(Step::Ignore, Step::Reply),
            None => Step::Forward(Forward {
                query,
                packet: packet.to_vec(),
                limit,
                transport,
            }),
        }
    }

    /// A place among the in-flight forwards, or None when they are all
    /// taken (then the client is refused, as docker does, rather than
    /// queued behind a flood).
    fn forward_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.forwards.clone().try_acquire_owned().ok()
    }
}

impl Forward {
    /// The upstream's reply fitted for the client, or SERVFAIL.
    async fn run(self, upstream: &[SocketAddr], per_try: Duration) -> Option<Vec<u8>> {
        match forward::forward(upstream, &self.packet, self.transport, per_try).await {
            Some(reply) => answer::fit_relayed(reply, &self.query, self.limit),
            None => self.fail(ResponseCode::ServFail),
        }
    }

    fn fail(&self, code: ResponseCode) -> Option<Vec<u8>> {
        answer::encode(answer::error_reply(&self.query, code), self.limit)
    }
}

async fn serve_udp(socket: UdpSocket, shared: Arc<Shared>) {
    // Room for any datagram: a truncated read would parse as garbage.
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    let mut forwards: JoinSet<Option<(Vec<u8>, SocketAddr)>> = JoinSet::new();
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, peer) = match received {
                    Ok(received) => received,
                    Err(e) => {
                        // Per-datagram trouble (a stale ICMP error and the
                        // like); the socket itself stays usable.
                        tracing::debug!("dns: udp receive: {e}");
                        continue;
                    }
                };
                match shared.step(&buf[..n], Transport::Udp) {
                    Step::Ignore => {}
                    Step::Reply(reply) => send(&socket, &reply, peer).await,
                    Step::Forward(fwd) => match shared.forward_permit() {
                        Some(permit) => {
                            let shared = shared.clone();
                            forwards.spawn(async move {
                                let reply = fwd.run(&shared.upstream, shared.limits.per_try).await;
                                drop(permit);
                                Some((reply?, peer))
                            });
                        }
                        None => {
                            if let Some(reply) = fwd.fail(ResponseCode::Refused) {
                                send(&socket, &reply, peer).await;
                            }
                        }
                    },
                }
            }
            Some(done) = forwards.join_next(), if !forwards.is_empty() => {
                if let Ok(Some((reply, peer))) = done {
                    send(&socket, &reply, peer).await;
                }
            }
        }
    }
}

async fn send(socket: &UdpSocket, reply: &[u8], peer: SocketAddr) {
    if let Err(e) = socket.send_to(reply, peer).await {
        tracing::debug!("dns: reply to {peer}: {e}");
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if connections.len() < shared.limits.connections => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Ok((stream, peer)) => {
                    tracing::debug!("dns: too many tcp connections, closing the one from {peer}");
                    drop(stream);
                }
                Err(e) => {
                    // Out of descriptors, most likely: wait for some to
                    // close instead of spinning on the error.
                    tracing::warn!("dns: tcp accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Queries one after another on one connection until the client closes
/// it, goes idle, or sends something that does not parse.
async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let idle = shared.limits.tcp_idle;
    loop {
        let packet = match tokio::time::timeout(idle, forward::read_frame(&mut stream)).await {
            Ok(Ok(Some(packet))) => packet,
            _ => return,
        };
        let reply = match shared.step(&packet, Transport::Tcp) {
            Step::Ignore => return,
            Step::Reply(reply) => Some(reply),
            Step::Forward(fwd) => match shared.forward_permit() {
                Some(_permit) => fwd.run(&shared.upstream, shared.limits.per_try).await,
                None => fwd.fail(ResponseCode::Refused),
            },
        };
        let Some(reply) = reply else { return };
        match tokio::time::timeout(idle, forward::write_frame(&mut stream, &reply)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
