//! HTTP exchanges over TCP or TLS, keeping idle connections per origin
//! for the next request (a pull or push is a dozen small requests before
//! and between the large ones).
//!
//! A kept connection may have been closed by the server in the meantime;
//! a request whose body is at hand is then sent once more on a fresh one
//! (registries' requests are idempotent or, for an upload's POST, leave
//! at most an unused session behind). Streamed bodies get a fresh
//! connection of their own.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, HOST};
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::tls::Tls;
use crate::error::{Error, Result};

/// How long connecting (TCP, then TLS) may take, as dockerd's dialer
/// allows; bodies are not timed, as a layer may take long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per origin.
const MAX_IDLE: usize = 4;

/// A request body: whole bytes, or a stream fed while the request goes.
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, io::Error>;

pub(crate) fn full(bytes: Bytes) -> ReqBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> ReqBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

type Sender = SendRequest<ReqBody>;

pub(crate) struct Transport {
    tls: Tls,
    /// By `scheme://authority`: connections that were handed back; each
    /// is ready again once the body of its last answer has been read.
    idle: Mutex<HashMap<String, Vec<Sender>>>,
}

impl Transport {
    pub(crate) fn new(tls: Tls) -> Transport {
        Transport {
            tls,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// Sends a request whose body is `body`, on a kept connection when one
    /// is ready.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response<Incoming>> {
        let target = Target::parse(url)?;
        let make = || request(&target, &method, headers, full_or_empty(&body));
        if let Some(mut sender) = self.take(&target.origin) {
            if let Ok(resp) = sender.send_request(make()?).await {
                self.keep(&target.origin, sender);
                return Ok(resp);
            }
            tracing::debug!("kept connection to {} failed; sending again", target.origin);
        }
        let mut sender = self.connect(&target, &method, url).await?;
        let resp = sender
            .send_request(make()?)
            .await
            .map_err(|e| failed(&method, url, &e))?;
        self.keep(&target.origin, sender);
        Ok(resp)
    }

    /// Sends a request with a streamed body on a connection of its own.
    pub(crate) async fn send_stream(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: ReqBody,
    ) -> Result<Response<Incoming>> {
        let target = Target::parse(url)?;
        let req = request(&target, &method, headers, body)?;
        let mut sender = self.connect(&target, &method, url).await?;
        sender
            .send_request(req)
            .await
            .map_err(|e| failed(&method, url, &e))
    }

    /// A kept connection that is ready; closed ones are dropped, busy ones
    /// (an answer's body still being read) stay.
    fn take(&self, origin: &str) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(origin)?;
        list.retain(|s| !s.is_closed());
        let i = list.iter().position(|s| s.is_ready())?;
        Some(list.swap_remove(i))
    }

    fn keep(&self, origin: &str, sender: Sender) {
        if let Ok(mut idle) = self.idle.lock() {
            let list = idle.entry(origin.to_string()).or_default();
            list.retain(|s| !s.is_closed());
            if list.len() < MAX_IDLE {
                list.push(sender);
            }
        }
    }

    async fn connect(&self, target: &Target, method: &Method, url: &str) -> Result<Sender> {
        let dial = &target.dial;
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(dial))
            .await
            .map_err(|_| failed(method, url, &format!("dial tcp {dial}: timed out")))?
            .map_err(|e| failed(method, url, &format!("dial tcp {dial}: {e}")))?;
        if !target.https {
            return handshake(tcp).await.map_err(|e| failed(method, url, &e));
        }
        let name =
            ServerName::try_from(target.host.clone()).map_err(|e| failed(method, url, &e))?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.config(&target.authority));
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
            .await
            .map_err(|_| failed(method, url, &"tls: handshake timed out"))?
            .map_err(|e| failed(method, url, &format!("tls: {e}")))?;
        handshake(stream).await.map_err(|e| failed(method, url, &e))
    }
}

fn full_or_empty(body: &Bytes) -> ReqBody {
    if body.is_empty() {
        empty()
    } else {
        full(body.clone())
    }
}

fn failed(method: &Method, url: &str, e: &dyn std::fmt::Display) -> Error {
    Error::Http(format!("{method} {url:?}: {e}"))
}

/// An absolute URL taken apart for connecting.
struct Target {
    https: bool,
    /// `scheme://authority`, the key of kept connections.
    origin: String,
    authority: String,
    /// The host name or address, without brackets.
    host: String,
    dial: String,
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target> {
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Error::Http(format!("unsupported URL {url:?}"))),
        };
        let authority = authority_of(url)?;
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target {
            https,
            origin: format!("{}://{authority}", if https { "https" } else { "http" }),
            dial: format!("{host}:{port}"),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            authority,
            path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        })
    }
}

fn request(
    target: &Target,
    method: &Method,
    headers: &[(&str, &str)],
    body: ReqBody,
) -> Result<Request<ReqBody>> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(target.path_and_query.as_str())
        .header(HOST, &target.authority);
    for (k, v) in headers {
        let v = HeaderValue::from_str(v).map_err(|e| Error::Http(format!("header {k}: {e}")))?;
        req = req.header(*k, v);
    }
    req.body(body)
        .map_err(|e| Error::Http(format!("{}{}: {e}", target.origin, target.path_and_query)))
}

async fn handshake<S>(io: S) -> hyper::Result<Sender>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// `host[:port]` of an absolute URL.
pub(crate) fn authority_of(url: &str) -> Result<String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
    uri.authority()
        .map(|a| a.as_str().to_string())
        .ok_or_else(|| Error::Http(format!("invalid URL {url:?}: no host")))
}

/// `scheme://host[:port]` of an absolute URL.
pub(crate) fn origin_of(url: &str) -> Result<String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
    let scheme = uri.scheme_str().unwrap_or("http");
    Ok(format!("{scheme}://{}", authority_of(url)?))
}

/// A `Location` header against the URL that answered: absolute as is,
/// `/path` on the same origin, `path` relative to the current directory.
pub(crate) fn resolve(current: &str, location: &str) -> Result<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(location.to_string());
    }
    if location.contains("://") {
        return Err(Error::Http(format!("unsupported redirect to {location:?}")));
    }
    let origin = origin_of(current)?;
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = origin.split("://").next().unwrap_or("http");
        return Ok(format!("{scheme}://{rest}"));
    }
    if location.starts_with('/') {
        return Ok(format!("{origin}{location}"));
    }
    let path = current[origin.len()..]
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    Ok(format!("{origin}{dir}/{location}"))
}

/// `url` with `key=value` added to its query (after any it has).
pub(crate) fn with_query(url: &str, key: &str, value: &str) -> String {
    let pair: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish();
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(b, f)| (b, Some(f)));
    let sep = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    match fragment {
        Some(f) => format!("{base}{sep}{pair}#{f}"),
        None => format!("{base}{sep}{pair}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_answering_url() {
        let cur = "http://r:5000/v2/a/blobs/uploads/";
        assert_eq!(
            resolve(cur, "/v2/a/blobs/uploads/u1?_state=x").unwrap(),
            "http://r:5000/v2/a/blobs/uploads/u1?_state=x"
        );
        assert_eq!(
            resolve(cur, "https://s3/x?sig=1").unwrap(),
            "https://s3/x?sig=1"
        );
        assert_eq!(
            resolve(cur, "u2").unwrap(),
            "http://r:5000/v2/a/blobs/uploads/u2"
        );
        assert_eq!(
            resolve("https://r/v2/x?q=/a", "//cdn/y").unwrap(),
            "https://cdn/y"
        );
        assert!(resolve(cur, "ftp://x/y").is_err());
    }

    #[test]
    fn query_pairs_are_appended() {
        let d = "sha256:ab";
        assert_eq!(
            with_query("http://r/u/1", "digest", d),
            "http://r/u/1?digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://r/u/1?_state=x", "digest", d),
            "http://r/u/1?_state=x&digest=sha256%3Aab"
        );
        assert_eq!(
            with_query("http://r/u/1?", "digest", d),
            "http://r/u/1?digest=sha256%3Aab"
        );
    }
}
