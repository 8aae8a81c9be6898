//! One HTTP exchange on a fresh connection, over TCP or TLS. No pooling:
//! registry traffic is a few large requests, where a handshake per request
//! costs little next to the body.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
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

/// Sends one request to an absolute http(s) URL.
pub(crate) async fn send(
    tls: &Tls,
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: ReqBody,
) -> Result<Response<Incoming>> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Error::Http(format!("invalid URL {url:?}: {e}")))?;
    let authority = authority_of(url)?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(Error::Http(format!("unsupported URL {url:?}"))),
    };
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let dial = format!("{}:{port}", host);
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = Request::builder()
        .method(method.clone())
        .uri(target)
        .header(HOST, &authority);
    for (k, v) in headers {
        let v = HeaderValue::from_str(v).map_err(|e| Error::Http(format!("header {k}: {e}")))?;
        req = req.header(*k, v);
    }
    let req = req
        .body(body)
        .map_err(|e| Error::Http(format!("{url}: {e}")))?;
    let failed = |e: &dyn std::fmt::Display| Error::Http(format!("{method} {url:?}: {e}"));
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&dial))
        .await
        .map_err(|_| failed(&format!("dial tcp {dial}: timed out")))?
        .map_err(|e| failed(&format!("dial tcp {dial}: {e}")))?;
    if !https {
        return exchange(tcp, req).await.map_err(|e| failed(&e));
    }
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| failed(&e))?;
    let connector = tokio_rustls::TlsConnector::from(tls.config(&authority));
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| failed(&"tls: handshake timed out"))?
        .map_err(|e| failed(&format!("tls: {e}")))?;
    exchange(stream, req).await.map_err(|e| failed(&e))
}

async fn exchange<S>(io: S, req: Request<ReqBody>) -> hyper::Result<Response<Incoming>>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await
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
