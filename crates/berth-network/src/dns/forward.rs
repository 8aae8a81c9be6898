//! Asking the host's resolvers about names the engine does not know.
//!
//! The sockets are made by the daemon's tasks, so they live in the daemon's
//! network namespace: the host's resolvers (loopback ones included) are
//! reachable whatever the container's own network allows. Each try uses a
//! fresh socket and a fresh random id, so a reply is only taken from the
//! upstream it was sent to and for the query it answers.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::answer::Transport;

const HEADER_LEN: usize = 12;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_REFUSED: u8 = 5;

/// The first usable reply to `packet` from `upstreams`, tried in order,
/// each for at most `per_try`, carrying `packet`'s own id. A SERVFAIL or
/// REFUSED moves on to the next upstream, as docker does (either can be a
/// passing state of that one server). None when none answered.
pub(super) async fn forward(
    upstreams: &[SocketAddr],
    packet: &[u8],
    transport: Transport,
    per_try: Duration,
) -> Option<Vec<u8>> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    for &upstream in upstreams {
        let id: u16 = rand::random();
        let mut query = packet.to_vec();
        query[..2].copy_from_slice(&id.to_be_bytes());
        let exchange = async {
            match transport {
                Transport::Udp => exchange_udp(upstream, &query, id).await,
                Transport::Tcp => exchange_tcp(upstream, &query, id).await,
            }
        };
        let mut reply = match tokio::time::timeout(per_try, exchange).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => {
                tracing::debug!("dns: upstream {upstream}: {e}");
                continue;
            }
            Err(_) => {
                tracing::debug!("dns: upstream {upstream}: no reply in {per_try:?}");
                continue;
            }
        };
        let rcode = reply[3] & 0x0f;
        if rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED {
            tracing::debug!("dns: upstream {upstream}: rcode {rcode}, trying the next one");
            continue;
        }
        reply[..2].copy_from_slice(&packet[..2]);
        return Some(reply);
    }
    None
}

/// Whether `reply` is a response carrying `id`.
fn answers(reply: &[u8], id: u16) -> bool {
    reply.len() >= HEADER_LEN && reply[..2] == id.to_be_bytes() && reply[2] & 0x80 != 0
}

async fn exchange_udp(upstream: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    // Connected: the kernel drops datagrams from anyone else, and an ICMP
    // "port unreachable" ends this try at once instead of at the timeout.
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let n = socket.recv(&mut buf).await?;
        if answers(&buf[..n], id) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(upstream: SocketAddr, query: &[u8], id: u16) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    write_frame(&mut stream, query).await?;
    let reply = read_frame(&mut stream)
        .await?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "closed before replying"))?;
    if !answers(&reply, id) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "reply for another query",
        ));
    }
    Ok(reply)
}

/// One DNS message over TCP: a two-byte length, then the message. None at
/// a clean end of stream before the length.
pub(super) async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut msg).await?;
    Ok(Some(msg))
}

pub(super) async fn write_frame<W: AsyncWriteExt + Unpin>(w: &mut W, msg: &[u8]) -> io::Result<()> {
    let len = u16::try_from(msg.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message over 65535 bytes"))?;
    let mut frame = Vec::with_capacity(msg.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(msg);
    w.write_all(&frame).await
}
