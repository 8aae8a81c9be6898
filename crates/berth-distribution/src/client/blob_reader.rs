//! A blob as a byte stream that survives a cut connection: when the body
//! ends early or fails, the rest is asked for again with `Range:
//! bytes=<done>-` (from the same endpoint), a few times at most. The
//! bytes are not checked here; the caller hashes them as it stores them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Response, StatusCode};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::StreamReader;

use super::{refused, Call, Client};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

/// How often one blob download is resumed before giving up.
pub(crate) const MAX_RESUMES: usize = 3;

/// The raw bytes of one blob (see the module header). Its read errors
/// carry the client's [`Error`]; [`BlobReader::error`] gets it back.
pub struct BlobReader {
    inner: StreamReader<BoxStream<'static, io::Result<Bytes>>, Bytes>,
}

impl AsyncRead for BlobReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl BlobReader {
    /// The client error behind a read error of a `BlobReader`.
    pub fn error(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(inner)) = e.into_inner().map(|b| b.downcast::<Error>()) {
                return *inner;
            }
            return Error::Http("blob read failed".into());
        }
        Error::Http(format!("read blob: {e}"))
    }
}

/// Where the bytes come from: a registry endpoint (with its auth), or a
/// foreign layer's URL (without).
#[derive(Clone)]
enum Source {
    Registry { base: String, path: String },
    Url(String),
}

struct State {
    client: Client,
    source: Source,
    digest: String,
    size: u64,
    done: u64,
    resumes: usize,
    body: Option<Incoming>,
    finished: bool,
}

impl Client {
    /// Opens the blob `desc` names: from a mirror when one has it, else
    /// from the registry, else (a foreign layer the registry lacks) from
    /// the descriptor's URLs.
    pub async fn blob_reader(&self, desc: &Descriptor) -> Result<BlobReader> {
        let size = u64::try_from(desc.size).map_err(|_| Error::BadBlob {
            digest: desc.digest.clone(),
            reason: "negative size".into(),
        })?;
        let path = format!("/v2/{}/blobs/{}", self.repository(), desc.digest);
        for mirror in &self.inner.mirrors {
            let source = Source::Registry {
                base: mirror.clone(),
                path: path.clone(),
            };
            match self.open(&source, 0).await {
                Ok(resp) => return Ok(self.reader(source, desc, size, resp)),
                Err(e) => tracing::debug!("mirror {mirror}: {e}; trying the next endpoint"),
            }
        }
        let source = Source::Registry {
            base: self.origin().await?,
            path,
        };
        let last = match self.open(&source, 0).await {
            Ok(resp) => return Ok(self.reader(source, desc, size, resp)),
            Err(e) => e,
        };
        if matches!(last, Error::NotFound(_)) {
            for url in &desc.urls {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    continue;
                }
                let source = Source::Url(url.clone());
                match self.open(&source, 0).await {
                    Ok(resp) => return Ok(self.reader(source, desc, size, resp)),
                    Err(e) => tracing::debug!("foreign layer URL {url}: {e}"),
                }
            }
        }
        Err(last)
    }

    fn reader(
        &self,
        source: Source,
        desc: &Descriptor,
        size: u64,
        resp: Response<Incoming>,
    ) -> BlobReader {
        let state = State {
            client: self.clone(),
            source,
            digest: desc.digest.clone(),
            size,
            done: 0,
            resumes: 0,
            body: Some(resp.into_body()),
            finished: false,
        };
        // Fused: a reader may ask again after the end (to confirm it).
        let stream = futures_util::stream::unfold(state, next).fuse().boxed();
        BlobReader {
            inner: StreamReader::new(stream),
        }
    }

    /// GETs the blob from byte `start` on; a resumed request must be
    /// answered with the part asked for.
    async fn open(&self, source: &Source, start: u64) -> Result<Response<Incoming>> {
        let (base, target, auth) = match source {
            Source::Registry { base, path } => (base.as_str(), path.as_str(), true),
            Source::Url(url) => (url.as_str(), url.as_str(), false),
        };
        let mut call = Call::new(Method::GET, target);
        if start > 0 {
            call = call.header("range", format!("bytes={start}-"));
        }
        let url = self.url(base, target);
        let resp = if auth {
            self.call(base, call).await?
        } else {
            self.send(base, &url, &call, None).await?
        };
        match resp.status() {
            StatusCode::OK if start == 0 => Ok(resp),
            StatusCode::PARTIAL_CONTENT if start > 0 => {
                let from = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match from {
                    Some(f) if f != start => Err(Error::Http(format!(
                        "{url}: asked for bytes from {start}, got from {f}"
                    ))),
                    _ => Ok(resp),
                }
            }
            s if s.is_success() => Err(Error::Http(format!(
                "{url}: cannot resume at byte {start}: the registry answered {s}"
            ))),
            _ => Err(refused(&url, resp).await),
        }
    }
}

fn to_io(e: Error) -> io::Error {
    io::Error::other(e)
}

async fn next(mut st: State) -> Option<(io::Result<Bytes>, State)> {
    loop {
        if st.finished {
            return None;
        }
        let Some(body) = st.body.as_mut() else {
            match reopen(&mut st).await {
                Ok(body) => {
                    st.body = Some(body);
                    continue;
                }
                Err(e) => {
                    st.finished = true;
                    return Some((Err(to_io(e)), st));
                }
            }
        };
        let cut = match body.frame().await {
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if data.is_empty() {
                    continue;
                }
                st.done += data.len() as u64;
                if st.done > st.size {
                    st.finished = true;
                    let e = Error::BadBlob {
                        digest: st.digest.clone(),
                        reason: format!("more than the {} bytes announced", st.size),
                    };
                    return Some((Err(to_io(e)), st));
                }
                return Some((Ok(data), st));
            }
            Some(Err(e)) => e.to_string(),
            None if st.done == st.size => {
                st.finished = true;
                return None;
            }
            None => format!("body ended after {} of {} bytes", st.done, st.size),
        };
        st.body = None;
        if st.resumes >= MAX_RESUMES {
            st.finished = true;
            let e = Error::Http(format!(
                "blob {}: {cut} (gave up after {MAX_RESUMES} resumes)",
                st.digest
            ));
            return Some((Err(to_io(e)), st));
        }
        st.resumes += 1;
        tracing::debug!("blob {}: {cut}; resuming at byte {}", st.digest, st.done);
    }
}

/// Asks for the rest, retrying a failed connection within the resume
/// budget; a short pause first, growing with each resume.
async fn reopen(st: &mut State) -> Result<Incoming> {
    loop {
        tokio::time::sleep(Duration::from_millis(50 << st.resumes)).await;
        match st.client.open(&st.source, st.done).await {
            Ok(resp) => return Ok(resp.into_body()),
            Err(Error::Http(e)) if st.resumes < MAX_RESUMES => {
                tracing::debug!("blob {}: {e}; retrying", st.digest);
                st.resumes += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
