//! Pushing: existence checks, cross-repository mounts, blob uploads (one
//! streamed PATCH, then the closing PUT with the digest computed on the
//! way) and manifests. Always the registry itself, never a mirror.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{CONTENT_LENGTH, LOCATION};
use hyper::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::transport::{self, resolve, with_query};
use super::{refused, Call, Client};
use crate::error::{Error, Result};
use crate::manifest;

/// How much of the stream goes into one body frame.
const CHUNK: usize = 256 << 10;
const DIGEST_HEADER: &str = "docker-content-digest";

impl Client {
    /// The size of the blob if the repository has it.
    pub async fn blob_exists(&self, digest: &str) -> Result<Option<u64>> {
        let base = self.origin().await?;
        let path = format!("/v2/{}/blobs/{digest}", self.repository());
        let url = self.url(&base, &path);
        let resp = self.call(&base, Call::new(Method::HEAD, &path)).await?;
        match resp.status() {
            s if s.is_success() => {
                let size = resp
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| Error::Http(format!("{url}: no Content-Length")))?;
                Ok(Some(size))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(refused(&url, resp).await),
        }
    }

    /// Asks the registry to link a blob `from_repo` has into this
    /// repository; whether it did. A registry that will not mount opens an
    /// upload instead, which is cancelled.
    pub async fn mount_blob(&self, digest: &str, from_repo: &str) -> Result<bool> {
        let base = self.origin().await?;
        let path = format!(
            "/v2/{}/blobs/uploads/?{}",
            self.repository(),
            form_urlencoded::Serializer::new(String::new())
                .append_pair("mount", digest)
                .append_pair("from", from_repo)
                .finish()
        );
        let url = self.url(&base, &path);
        let mut call = Call::new(Method::POST, &path).header("content-length", "0");
        call.scopes = vec![format!("repository:{from_repo}:pull")];
        let resp = self.call(&base, call).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                let location = upload_location(&url, &resp)?;
                let cancel = self.call(&base, Call::new(Method::DELETE, &location)).await;
                if let Err(e) = cancel {
                    tracing::debug!("cancel upload {location}: {e}");
                }
                Ok(false)
            }
            _ => Err(refused(&url, resp).await),
        }
    }

    /// Uploads a blob read from `reader`: opens an upload, streams the
    /// bytes in one PATCH while hashing them, and closes it with their
    /// digest. `progress` hears the bytes sent so far. Returns the digest
    /// (`sha256:...`) and size.
    pub async fn upload_blob<R: AsyncRead + Unpin + Send>(
        &self,
        mut reader: R,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(String, u64)> {
        let base = self.origin().await?;
        let path = format!("/v2/{}/blobs/uploads/", self.repository());
        let url = self.url(&base, &path);
        let call = Call::new(Method::POST, &path).header("content-length", "0");
        let resp = self.call(&base, call).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(refused(&url, resp).await);
        }
        let location = upload_location(&url, &resp)?;

        // The body is fed from here while hyper sends it: a bounded
        // channel, so at most a few chunks are in memory.
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
        let frames = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item.map(Frame::data), rx))
        });
        let body = StreamBody::new(frames);
        let mut headers = vec![("content-type", "application/octet-stream".to_string())];
        if let Some(a) = self.same_host_authorization(&base, &location).await? {
            headers.push(("authorization", a));
        }
        let header_refs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let send =
            self.inner
                .net
                .send_stream(Method::PATCH, &location, &header_refs, body.boxed_unsync());
        let pump = async {
            let mut hasher = Sha256::new();
            let mut sent = 0u64;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match reader.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let context = format!("read blob to upload: {e}");
                        let _ = tx.send(Err(std::io::Error::other(context.clone()))).await;
                        return Err(Error::io(context, e));
                    }
                };
                hasher.update(&buf[..n]);
                if tx
                    .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    // The request ended; its result says why.
                    return Ok(None);
                }
                sent += n as u64;
                progress(sent);
            }
            drop(tx);
            Ok(Some((
                format!("sha256:{}", hex::encode(hasher.finalize())),
                sent,
            )))
        };
        // The answer may come before the body is all sent (a refusal): it
        // is not waited for then, as a registry that stopped reading would
        // leave the body's sender blocked for good.
        tokio::pin!(send, pump);
        let mut pumped = None;
        let resp = loop {
            tokio::select! {
                resp = &mut send => break resp,
                done = &mut pump, if pumped.is_none() => pumped = Some(done),
            }
        };
        if let Some(Err(e)) = pumped {
            return Err(e);
        }
        let resp = resp?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(refused(&location, resp).await);
        }
        let (digest, size) = pumped.and_then(|p| p.ok().flatten()).ok_or_else(|| {
            Error::Http(format!(
                "{location}: the registry answered before the whole blob was sent"
            ))
        })?;
        let location = upload_location(&location, &resp)?;

        let close = with_query(&location, "digest", &digest);
        let call = Call::new(Method::PUT, &close).header("content-length", "0");
        let resp = self.call(&base, call).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(refused(&close, resp).await);
        }
        if let Some(d) = header(&resp, DIGEST_HEADER) {
            if d != digest {
                return Err(Error::DigestMismatch {
                    expected: digest,
                    actual: d,
                });
            }
        }
        Ok((digest, size))
    }

    /// Puts a manifest under a tag or digest; returns its digest as the
    /// registry names it (else as computed).
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        body: Bytes,
    ) -> Result<String> {
        let base = self.origin().await?;
        let path = format!("/v2/{}/manifests/{reference}", self.repository());
        let url = self.url(&base, &path);
        let computed = manifest::digest_of(&body);
        let mut call = Call::new(Method::PUT, &path)
            .header("content-type", media_type)
            .header("content-length", body.len().to_string());
        call.body = body;
        let resp = self.call(&base, call).await?;
        if !resp.status().is_success() {
            return Err(refused(&url, resp).await);
        }
        Ok(header(&resp, DIGEST_HEADER).unwrap_or(computed))
    }

    /// The cached Authorization, if `url` is on the endpoint's host (an
    /// upload may live on another host that must not see it).
    async fn same_host_authorization(&self, base: &str, url: &str) -> Result<Option<String>> {
        if transport::authority_of(base)? != transport::authority_of(url)? {
            return Ok(None);
        }
        self.authorization(base, &[]).await
    }
}

fn header<B>(resp: &Response<B>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// An upload session's URL from an answer's `Location`, made absolute.
fn upload_location<B>(url: &str, resp: &Response<B>) -> Result<String> {
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Http(format!("{url}: upload answer without Location")))?;
    resolve(url, location)
}
