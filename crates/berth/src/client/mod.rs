//! The Docker Engine API client: one HTTP/1.1 connection per request over a
//! unix socket or plain TCP, API version negotiated with `HEAD /_ping`.

pub mod host;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{anyhow, Context as _, Result};
use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::OnceCell;
use tokio_util::io::{ReaderStream, StreamReader};

pub use berth_api::query::{path_segment, Query};
pub use host::Host;

use crate::error::DaemonError;

/// Highest API version this client speaks: the wire's.
pub use berth_api::version::API_VERSION as MAX_API_VERSION;

/// A request body: empty, in memory, or streamed (sent chunked).
pub type Body = UnsyncBoxBody<Bytes, io::Error>;

/// An empty request body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// An in-memory request body.
pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A request body streamed from a reader (sent with chunked encoding).
pub fn streamed<R: AsyncRead + Send + 'static>(reader: R) -> Body {
    let stream = ReaderStream::new(reader).map_ok(Frame::data);
    BodyExt::boxed_unsync(StreamBody::new(stream))
}

/// A request body streamed from the local stdin (sent with chunked encoding).
pub fn stdin_body() -> Body {
    let rx = crate::stream::stdin::spawn_reader();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, io::Error>(Frame::data(Bytes::from(chunk))), rx))
    });
    BodyExt::boxed_unsync(StreamBody::new(stream))
}

/// Reads a whole response body.
pub async fn read_body(resp: Response<Incoming>) -> Result<Bytes> {
    Ok(resp.into_body().collect().await?.to_bytes())
}

/// A response body as an `AsyncRead`.
pub fn body_reader(resp: Response<Incoming>) -> impl AsyncRead + Send + Unpin {
    StreamReader::new(
        resp.into_body()
            .into_data_stream()
            .map_err(io::Error::other),
    )
}

/// A connected client for one daemon. Clones share the negotiated version.
#[derive(Clone)]
pub struct Client {
    host: Host,
    display: String,
    version: OnceCell<String>,
}

impl Client {
    /// A client for `addr` (`unix://…` or `tcp://…`); nothing is dialled yet.
    pub fn new(addr: &str) -> Result<Client> {
        let host = host::parse(addr).map_err(|e| anyhow!(e))?;
        Ok(Client {
            host,
            display: addr.to_string(),
            version: OnceCell::new(),
        })
    }

    async fn dial(&self) -> Result<TokioIo<Conn>> {
        let conn = match &self.host {
            Host::Unix(path) => UnixStream::connect(path).await.map(Conn::Unix),
            Host::Tcp(addr) => TcpStream::connect(addr).await.map(Conn::Tcp),
        };
        conn.map(TokioIo::new).map_err(|e| self.connect_error(e))
    }

    fn connect_error(&self, e: io::Error) -> anyhow::Error {
        match e.kind() {
            io::ErrorKind::PermissionDenied => anyhow!(
                "permission denied while trying to connect to the berth daemon socket at {}: {e}",
                self.display
            ),
            io::ErrorKind::NotFound
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset => anyhow!(
                "Cannot connect to the berth daemon at {}. Is the berth daemon running?",
                self.display
            ),
            _ => anyhow!("error during connect: {e}"),
        }
    }

    async fn sender(&self) -> Result<SendRequest<Body>> {
        let io = self.dial().await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| anyhow!("error during connect: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    /// The negotiated API version, pinging the daemon on first use.
    pub async fn api_version(&self) -> Result<&str> {
        self.version
            .get_or_try_init(|| self.negotiate())
            .await
            .map(String::as_str)
    }

    async fn negotiate(&self) -> Result<String> {
        let mut resp = self.send_raw(Method::HEAD, "/_ping", empty(), &[]).await?;
        let answered = matches!(
            resp.status(),
            StatusCode::OK | StatusCode::INTERNAL_SERVER_ERROR
        );
        if !answered {
            resp = self.send_raw(Method::GET, "/_ping", empty(), &[]).await?;
        }
        let server = resp
            .headers()
            .get("Api-Version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(berth_api::version::negotiate(server.as_deref()))
    }

    async fn send_raw(
        &self,
        method: Method,
        uri: &str,
        body: Body,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let mut sender = self.sender().await?;
        let req = self.build(method, uri, body, headers)?;
        sender
            .send_request(req)
            .await
            .map_err(|e| anyhow!("error during connect: {e}"))
    }

    fn build(
        &self,
        method: Method,
        uri: &str,
        body: Body,
        headers: &[(&str, String)],
    ) -> Result<Request<Body>> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::HOST, self.host.header_value())
            .header(
                header::USER_AGENT,
                concat!("Berth-Client/", env!("CARGO_PKG_VERSION"), " (linux)"),
            );
        let mut has_length = false;
        for (k, v) in headers {
            has_length |= k.eq_ignore_ascii_case("content-length")
                || k.eq_ignore_ascii_case("transfer-encoding");
            builder = builder.header(*k, HeaderValue::from_str(v)?);
        }
        if !has_length && hyper::body::Body::is_end_stream(&body) && method == Method::POST {
            builder = builder.header(header::CONTENT_LENGTH, "0");
        }
        Ok(builder.body(body)?)
    }

    async fn versioned_uri(&self, path: &str, query: &Query) -> Result<String> {
        let version = self.api_version().await?;
        Ok(format!("/v{version}{path}{}", query.encode()))
    }

    /// Sends a request to `/v{version}{path}`; non-2xx/3xx answers become a
    /// [`DaemonError`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &Query,
        body: Body,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>> {
        let uri = self.versioned_uri(path, query).await?;
        let resp = self.send_raw(method, &uri, body, headers).await?;
        check_status(resp, &uri).await
    }

    /// `GET` and decode a JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, query: &Query) -> Result<T> {
        let bytes = self.get_bytes(path, query).await?;
        serde_json::from_slice(&bytes).context("error decoding the daemon's answer")
    }

    /// `GET`, returning the response to stream its body.
    pub async fn get_stream(&self, path: &str, query: &Query) -> Result<Response<Incoming>> {
        self.request(Method::GET, path, query, empty(), &[]).await
    }

    /// `GET` and return the raw answer.
    pub async fn get_bytes(&self, path: &str, query: &Query) -> Result<Bytes> {
        let resp = self.request(Method::GET, path, query, empty(), &[]).await?;
        read_body(resp).await
    }

    /// `POST` without a body.
    pub async fn post(&self, path: &str, query: &Query) -> Result<Response<Incoming>> {
        self.request(Method::POST, path, query, empty(), &[]).await
    }

    /// `POST` a JSON body.
    pub async fn post_json<B: Serialize>(
        &self,
        path: &str,
        query: &Query,
        body: &B,
    ) -> Result<Response<Incoming>> {
        let mut data = serde_json::to_vec(body)?;
        data.push(b'\n');
        let len = data.len().to_string();
        self.request(
            Method::POST,
            path,
            query,
            full(data),
            &[
                ("Content-Type", "application/json".to_string()),
                ("Content-Length", len),
            ],
        )
        .await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str, query: &Query) -> Result<Response<Incoming>> {
        self.request(Method::DELETE, path, query, empty(), &[])
            .await
    }

    /// Opens a hijacked connection (`Upgrade: tcp`, expecting `101`) and
    /// returns the raw bidirectional stream.
    pub async fn hijack(&self, path: &str, query: &Query) -> Result<Hijacked> {
        self.hijack_with(path, query, "text/plain", Vec::new())
            .await
    }

    /// [`Client::hijack`] with a JSON body (`POST /exec/{id}/start`).
    pub async fn hijack_json<B: Serialize>(
        &self,
        path: &str,
        query: &Query,
        body: &B,
    ) -> Result<Hijacked> {
        let data = serde_json::to_vec(body)?;
        self.hijack_with(path, query, "application/json", data)
            .await
    }

    async fn hijack_with(
        &self,
        path: &str,
        query: &Query,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<Hijacked> {
        let uri = self.versioned_uri(path, query).await?;
        let mut sender = self.sender().await?;
        let len = data.len().to_string();
        let req = self.build(
            Method::POST,
            &uri,
            full(data),
            &[
                ("Connection", "Upgrade".to_string()),
                ("Upgrade", "tcp".to_string()),
                ("Content-Type", content_type.to_string()),
                ("Content-Length", len),
            ],
        )?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| anyhow!("error during connect: {e}"))?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            if resp.status().as_u16() >= 400 {
                return Err(check_status(resp, &uri).await.unwrap_err());
            }
            return Err(anyhow!(
                "unable to upgrade to tcp, received {}",
                resp.status().as_u16()
            ));
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .map_err(|e| anyhow!("error during hijack: {e}"))?;
        Ok(TokioIo::new(upgraded))
    }
}

/// A hijacked (upgraded) connection.
pub type Hijacked = TokioIo<hyper::upgrade::Upgraded>;

async fn check_status(resp: Response<Incoming>, uri: &str) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.as_u16() < 400 {
        return Ok(resp);
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let body = read_body(resp).await.unwrap_or_default();
    Err(anyhow::Error::new(daemon_error(
        status, is_json, &body, uri,
    )))
}

/// Builds the error for a failed answer the way docker's client does.
pub fn daemon_error(status: StatusCode, is_json: bool, body: &[u8], uri: &str) -> DaemonError {
    if body.iter().all(u8::is_ascii_whitespace) {
        return DaemonError {
            status: status.as_u16(),
            message: format!(
                "request returned {} for API route and version http://{}{uri}, check if the server supports the requested API version",
                status.canonical_reason().unwrap_or("Unknown"),
                "api.moby.localhost"
            ),
            plain: true,
        };
    }
    let message = if is_json {
        match serde_json::from_slice::<berth_api::ErrorBody>(body) {
            Ok(e) => e.message.trim().to_string(),
            Err(e) => {
                return DaemonError {
                    status: status.as_u16(),
                    message: format!("Error reading JSON: {e}"),
                    plain: true,
                }
            }
        }
    } else {
        String::from_utf8_lossy(body).trim().to_string()
    };
    DaemonError {
        status: status.as_u16(),
        message,
        plain: false,
    }
}

/// A unix or TCP stream.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_errors() {
        let e = daemon_error(
            StatusCode::NOT_FOUND,
            true,
            br#"{"message":"No such container: x"}"#,
            "/v1.47/containers/x/json",
        );
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such container: x"
        );
        let e = daemon_error(StatusCode::CONFLICT, false, b"conflict\n", "/x");
        assert_eq!(e.to_string(), "Error response from daemon: conflict");
        let e = daemon_error(StatusCode::NOT_FOUND, false, b"", "/v1.47/x");
        assert_eq!(
            e.to_string(),
            "request returned Not Found for API route and version http://api.moby.localhost/v1.47/x, check if the server supports the requested API version"
        );
    }
}
