//! Connection hijacking shared by attach and exec start: the `101 UPGRADED`
//! answer when the client asks for `Upgrade: tcp` (a streamed 200 body
//! otherwise), and the client's stdin with docker's detach keys.
//!
//! Clients such as Python's http.client (docker-py) read the 101 head
//! through a buffered reader and then switch to the raw socket: stream
//! bytes that reach them together with the head sit in that buffer and are
//! lost. So the stream starts only once the client has read the whole head
//! (see `head_read`). What remains is a reader descheduled inside the very
//! read that took the head: that read may still pick up the first stream
//! bytes. No server can see that; dockerd, which does not wait at all,
//! loses bytes to such clients far more often.

use std::future::Future;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream};
use tokio::net::UnixStream;

use berth_engine::Error;

/// Whether the client asked to take the connection over (`Upgrade: tcp`).
pub fn wants_upgrade(req: &Request<Body>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp"))
}

/// A bidirectional byte stream handed to a session: the upgraded
/// connection, or (without an upgrade) a pipe into the response body and
/// no input.
pub trait Conn: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Conn for T {}

/// Answers the request and runs `session` on the connection: `101` and the
/// upgraded socket when asked for, else a streamed `200` body. The flag
/// tells the session whether the connection carries the client's input.
pub fn respond<F, Fut>(
    mut req: Request<Body>,
    content_type: &'static str,
    session: F,
) -> Response<Body>
where
    F: FnOnce(Box<dyn Conn>, bool) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !wants_upgrade(&req) {
        let (conn, source): (DuplexStream, DuplexStream) = tokio::io::duplex(64 * 1024);
        tokio::spawn(session(Box::new(OutputOnly(conn)), false));
        let body = tokio_util::io::ReaderStream::new(source)
            .filter_map(|chunk: std::io::Result<Bytes>| std::future::ready(chunk.ok()));
        let mut resp = super::stream(None, body);
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        return resp;
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session(after_head(upgraded).await, true).await,
            Err(err) => tracing::debug!("upgrade failed: {err}"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

/// The upgraded connection, handed over once the client has read the 101
/// head. Bytes the client sent early (stdin right after its request) were
/// read by hyper already and come first.
async fn after_head(upgraded: hyper::upgrade::Upgraded) -> Box<dyn Conn> {
    match upgraded.downcast::<TokioIo<UnixStream>>() {
        Ok(parts) => {
            let stream = parts.io.into_inner();
            if let Err(err) = head_read::wait(&stream).await {
                tracing::debug!("cannot tell whether the client read the 101 head: {err}");
            }
            let early = std::io::Cursor::new(parts.read_buf);
            let (rd, wr) = stream.into_split();
            Box::new(tokio::io::join(early.chain(rd), wr))
        }
        Err(upgraded) => Box::new(TokioIo::new(upgraded)),
    }
}

/// Waits until the peer of a unix stream socket has read all we sent.
/// The kernel counts what it has not read yet (SIOCOUTQ) and wakes the
/// writer's waiters each time the peer frees a buffer of ours; a private
/// edge-triggered epoll set sees each of those wake-ups, where tokio's
/// readiness would stay "writable" throughout.
mod head_read {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;
    use tokio::net::UnixStream;

    /// A client that never reads the head must not hold its stream forever.
    const PATIENCE: Duration = Duration::from_secs(5);
    /// The kernel drops the last reference on our buffer after waking us,
    /// so a read-out socket can still count one byte: no real buffer is
    /// this small.
    const DRAINED: libc::c_int = 64;

    pub async fn wait(stream: &UnixStream) -> io::Result<()> {
        let fd = stream.as_raw_fd();
        if unread(fd)? < DRAINED {
            return Ok(());
        }
        let ep = AsyncFd::new(watch_output(fd)?)?;
        let waited = tokio::time::timeout(PATIENCE, async {
            while unread(fd)? >= DRAINED {
                let mut ready = ep.readable().await?;
                drain(ep.get_ref().as_raw_fd());
                ready.clear_ready();
            }
            Ok::<_, io::Error>(())
        })
        .await;
        match waited {
            Ok(r) => r,
            Err(_) => {
                tracing::debug!("client did not read the 101 head; streaming anyway");
                Ok(())
            }
        }
    }

    /// Bytes (with their buffers' overhead) the peer has not read yet.
    fn unread(fd: RawFd) -> io::Result<libc::c_int> {
        let mut n: libc::c_int = 0;
        // SAFETY: SIOCOUTQ writes one int into the valid pointer we pass.
        if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n)
    }

    /// An epoll set that reports every "writable" wake-up of `fd`.
    fn watch_output(fd: RawFd) -> io::Result<OwnedFd> {
        // SAFETY: plain syscall; the result is checked before use.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `ep` is a new descriptor that nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLOUT | libc::EPOLLET) as u32,
            u64: 0,
        };
        // SAFETY: both descriptors are open and `ev` is a valid event.
        if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ep)
    }

    /// Takes the pending events off the set, so that it can signal again.
    fn drain(ep: RawFd) {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        // SAFETY: `evs` has room for the 4 events we allow.
        unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), 4, 0) };
    }
}

/// The body side of a non-upgraded session: writes reach the client, reads
/// end at once (a plain HTTP request has no stdin after its body).
struct OutputOnly(DuplexStream);

impl AsyncRead for OutputOnly {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        _buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for OutputOnly {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// docker's detach keys for a request: the given ones, or ctrl-p ctrl-q.
pub fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>, Error> {
    match spec.filter(|s| !s.is_empty()) {
        None => Ok(berth_term::DEFAULT_KEYS.to_vec()),
        Some(s) => berth_term::parse_keys(s)
            .map_err(|_| Error::invalid(format!("Invalid detach keys ({s}) provided"))),
    }
}

/// How the client's input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEnd {
    /// End of file: a half-close, or the connection went away.
    Eof,
    /// The client typed the detach sequence.
    Detached,
}

/// Copies the client's input to `sink` until it ends or detaches.
pub async fn copy_input<R: AsyncRead + Unpin>(
    rd: &mut R,
    keys: Vec<u8>,
    mut sink: impl FnMut(&[u8]),
) -> InputEnd {
    let mut matcher = berth_term::DetachMatcher::new(keys);
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return InputEnd::Eof,
            Ok(n) => {
                let (forward, detached) = matcher.feed(&buf[..n]);
                if !forward.is_empty() {
                    sink(&forward);
                }
                if detached {
                    return InputEnd::Detached;
                }
            }
        }
    }
}
