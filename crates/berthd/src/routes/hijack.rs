//! Connection hijacking shared by attach and exec start: the `101 UPGRADED`
//! answer when the client asks for `Upgrade: tcp` (a streamed 200 body
//! otherwise), and the client's stdin with docker's detach keys.

use std::future::Future;

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream};

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
            Ok(upgraded) => session(Box::new(TokioIo::new(upgraded)), true).await,
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
