//! Blobs and blob uploads.
//!
//! An upload is a staging file that PATCH appends to; the final PUT copies
//! it into the content store, which hashes it on the way and only keeps it
//! if it matches the digest the client named. Bodies are streamed to disk
//! chunk by chunk, never held whole in memory.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_store::Digest;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::error::{Code, Error, Result};
use super::names::{check_name, parse_digest};
use super::storage::{new_uuid, remove_opt, Storage};
use super::Params;

const DIGEST_HEADER: header::HeaderName = header::HeaderName::from_static("docker-content-digest");

/// Serves a blob, whole or (for a `Range: bytes=a-b` request) in part, so
/// that an interrupted pull can resume.
pub async fn get_blob(
    st: &Storage,
    name: &str,
    digest: &str,
    head: bool,
    range: Option<&str>,
) -> Result<Response> {
    let digest = parse_digest(digest)?;
    if !st.has_blob(name, &digest) {
        return Err(blob_unknown(&digest));
    }
    let size = st.content.size(&digest)?;
    let part = range.map(|r| byte_range(r, size)).transpose()?;
    let (start, len) = part.map_or((0, size), |(a, b)| (a, b - a + 1));
    let body = if head {
        Body::empty()
    } else {
        let mut file = tokio::fs::File::open(st.content.path(&digest))
            .await
            .map_err(Error::io(format!("open blob {digest}")))?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(Error::io(format!("seek blob {digest}")))?;
        Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)))
    };
    let mut resp = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::ACCEPT_RANGES, "bytes".to_string()),
            (DIGEST_HEADER, digest.to_string()),
        ],
        body,
    )
        .into_response();
    if let Some((a, b)) = part {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = format!("bytes {a}-{b}/{size}").parse() {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

/// The inclusive byte range a `bytes=a-b`, `bytes=a-` or `bytes=-n` header
/// asks for, within a blob of `size` bytes. Several ranges are not served.
fn byte_range(header: &str, size: u64) -> Result<(u64, u64)> {
    let bad = || {
        Error::spec(
            Code::RangeInvalid,
            format!("cannot serve range {header:?} of a {size}-byte blob"),
        )
    };
    let spec = header.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| bad())?;
        (size.saturating_sub(n), size.checked_sub(1).ok_or_else(bad)?)
    } else {
        let start: u64 = a.parse().map_err(|_| bad())?;
        let end = match b {
            "" => size.saturating_sub(1),
            b => b
                .parse::<u64>()
                .map_err(|_| bad())?
                .min(size.saturating_sub(1)),
        };
        (start, end)
    };
    if start > end || start >= size {
        return Err(bad());
    }
    Ok((start, end))
}

/// Removes the blob from the repository. Its content stays in the store,
/// where other repositories may still use it.
pub async fn delete_blob(st: &Storage, name: &str, digest: &str) -> Result<Response> {
    let digest = parse_digest(digest)?;
    if !remove_opt(&st.blob_link(name, &digest))? {
        return Err(blob_unknown(&digest));
    }
    Ok((StatusCode::ACCEPTED, [(DIGEST_HEADER, digest.to_string())]).into_response())
}

pub async fn start_upload(
    st: &Storage,
    name: &str,
    params: &Params,
    req: Request,
) -> Result<Response> {
    if let (Some(mount), Some(from)) = (params.get("mount"), params.get("from")) {
        let digest = parse_digest(mount)?;
        // A mount from a repository without the blob falls back to an
        // ordinary upload, as the spec allows.
        if check_name(from).is_ok() && st.has_blob(from, &digest) {
            st.link_blob(name, &digest)?;
            return Ok(blob_created(name, &digest));
        }
    }
    let uuid = new_uuid();
    let path = st.upload_path(name, &uuid);
    create_upload(&path).await?;
    if let Some(digest) = params.get("digest") {
        // Monolithic: the whole blob is this request's body.
        let digest = parse_digest(digest)?;
        append_body(&path, req.into_body()).await?;
        return finish(st, name, &path, digest).await;
    }
    Ok(upload_accepted(StatusCode::ACCEPTED, name, &uuid, 0))
}

pub async fn upload_status(st: &Storage, name: &str, uuid: &str) -> Result<Response> {
    let path = upload(st, name, uuid)?;
    let size = file_size(&path).await?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, name, uuid, size))
}

pub async fn patch_upload(st: &Storage, name: &str, uuid: &str, req: Request) -> Result<Response> {
    let path = upload(st, name, uuid)?;
    let size = file_size(&path).await?;
    if let Some(start) = content_range_start(req.headers())? {
        if start != size {
            return Err(Error::spec(
                Code::RangeInvalid,
                format!("chunk starts at {start} but the upload has {size} bytes"),
            ));
        }
    }
    let size = append_body(&path, req.into_body()).await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, uuid, size))
}

pub async fn finish_upload(
    st: &Storage,
    name: &str,
    uuid: &str,
    params: &Params,
    req: Request,
) -> Result<Response> {
    let path = upload(st, name, uuid)?;
    let digest = params
        .get("digest")
        .ok_or_else(|| Error::spec(Code::DigestInvalid, "the digest parameter is required"))?;
    let digest = parse_digest(digest)?;
    append_body(&path, req.into_body()).await?;
    finish(st, name, &path, digest).await
}

pub async fn cancel_upload(st: &Storage, name: &str, uuid: &str) -> Result<Response> {
    let path = upload(st, name, uuid)?;
    remove_opt(&path)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Moves a finished upload into the content store (verifying `digest`)
/// and links it into the repository. The upload is gone afterwards, even
/// when the digest does not match: the client must start over.
async fn finish(st: &Storage, name: &str, path: &Path, digest: Digest) -> Result<Response> {
    let content = st.content.clone();
    let src = path.to_path_buf();
    let expected = digest.clone();
    let committed = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut file =
            std::fs::File::open(&src).map_err(Error::io(format!("open {}", src.display())))?;
        let mut writer = content.writer()?;
        std::io::copy(&mut file, &mut writer).map_err(Error::io("copy upload"))?;
        writer.commit(Some(&expected))?;
        Ok(())
    })
    .await
    .map_err(|e| Error::io("finish upload")(std::io::Error::other(e)))?;
    remove_opt(path)?;
    match committed {
        Ok(()) => {}
        Err(Error::Store(berth_store::Error::DigestMismatch { expected, actual })) => {
            return Err(Error::spec(
                Code::DigestInvalid,
                format!("content hashes to {actual}, not {expected}"),
            ))
        }
        Err(e) => return Err(e),
    }
    st.link_blob(name, &digest)?;
    Ok(blob_created(name, &digest))
}

/// The upload's staging file, if the upload exists in this repository.
fn upload(st: &Storage, name: &str, uuid: &str) -> Result<PathBuf> {
    let path = st.upload_path(name, uuid);
    // The id names a file: only ids this server could have made.
    if uuid.len() != 32 || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) || !path.is_file() {
        return Err(Error::spec(
            Code::BlobUploadUnknown,
            format!("upload {uuid:?} unknown"),
        ));
    }
    Ok(path)
}

async fn create_upload(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(Error::io(format!("create {}", dir.display())))?;
    }
    tokio::fs::File::create(path)
        .await
        .map_err(Error::io(format!("create {}", path.display())))?;
    Ok(())
}

/// Appends a request body to the staging file; returns the new size.
async fn append_body(path: &Path, body: Body) -> Result<u64> {
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await
        .map_err(Error::io(format!("open {}", path.display())))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| Error::spec(Code::BlobUploadInvalid, format!("reading the body: {e}")))?;
        file.write_all(&chunk)
            .await
            .map_err(Error::io(format!("write {}", path.display())))?;
    }
    file.flush()
        .await
        .map_err(Error::io(format!("write {}", path.display())))?;
    file_size(path).await
}

async fn file_size(path: &Path) -> Result<u64> {
    Ok(tokio::fs::metadata(path)
        .await
        .map_err(Error::io(format!("stat {}", path.display())))?
        .len())
}

/// The first byte of a `Content-Range: <start>-<end>` header, if any.
fn content_range_start(headers: &HeaderMap) -> Result<Option<u64>> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let v = v.to_str().unwrap_or_default();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let start = v
        .split_once('-')
        .and_then(|(s, _)| s.trim().parse().ok())
        .ok_or_else(|| Error::spec(Code::RangeInvalid, format!("bad Content-Range {v:?}")))?;
    Ok(Some(start))
}

fn upload_accepted(status: StatusCode, name: &str, uuid: &str, size: u64) -> Response {
    // The spec's Range is inclusive; an empty upload still says 0-0.
    let end = size.saturating_sub(1);
    (
        status,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/uploads/{uuid}")),
            (header::RANGE, format!("0-{end}")),
            (header::CONTENT_LENGTH, "0".to_string()),
            (
                header::HeaderName::from_static("docker-upload-uuid"),
                uuid.to_string(),
            ),
        ],
    )
        .into_response()
}

fn blob_created(name: &str, digest: &Digest) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/{digest}")),
            (header::CONTENT_LENGTH, "0".to_string()),
            (DIGEST_HEADER, digest.to_string()),
        ],
    )
        .into_response()
}

fn blob_unknown(digest: &Digest) -> Error {
    Error::spec(Code::BlobUnknown, format!("blob {digest} unknown"))
}
