//! Manifests, tags, referrers and the catalog.

use axum::extract::Request;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_store::Digest;
use serde_json::{json, Value};

use super::error::{Code, Error, Result};
use super::names::{parse_digest, parse_reference, Reference};
use super::storage::{list_dir, read_opt, remove_opt, write_atomic, Storage};
use super::{json_response, paginate, Params, MANIFEST_MAX};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DIGEST_HEADER: HeaderName = HeaderName::from_static("docker-content-digest");

pub async fn get_manifest(st: &Storage, name: &str, reference: &str) -> Result<Response> {
    let reference = parse_reference(reference)?;
    if !st.repo_exists(name) {
        return Err(Error::spec(
            Code::NameUnknown,
            format!("repository {name} unknown"),
        ));
    }
    let digest = resolve(st, name, &reference)?;
    let Some(media_type) = st.manifest_media_type(name, &digest)? else {
        return Err(manifest_unknown(&reference));
    };
    let data = st.content.read_all(&digest, MANIFEST_MAX as u64)?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, media_type),
            // Explicit, so that HEAD (whose body is dropped) still tells it.
            (header::CONTENT_LENGTH, data.len().to_string()),
            (DIGEST_HEADER, digest.to_string()),
        ],
        data,
    )
        .into_response())
}

pub async fn put_manifest(
    st: &Storage,
    name: &str,
    reference: &str,
    req: Request,
) -> Result<Response> {
    let reference = parse_reference(reference)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let data = axum::body::to_bytes(req.into_body(), MANIFEST_MAX)
        .await
        .map_err(|_| {
            Error::with_status(
                Code::SizeInvalid,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("manifests are limited to {MANIFEST_MAX} bytes"),
            )
        })?;
    let manifest: Value = serde_json::from_slice(&data)
        .map_err(|e| Error::spec(Code::ManifestInvalid, format!("manifest is not JSON: {e}")))?;
    if manifest.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(Error::spec(
            Code::ManifestInvalid,
            "only schema version 2 manifests are supported",
        ));
    }
    let media_type = content_type
        .or_else(|| str_field(&manifest, "mediaType").map(str::to_string))
        .ok_or_else(|| Error::spec(Code::ManifestInvalid, "manifest has no media type"))?;
    let digest = Digest::of_bytes(&data);
    if let Reference::Digest(d) = &reference {
        if *d != digest {
            return Err(Error::spec(
                Code::DigestInvalid,
                format!("manifest hashes to {digest}, not {d}"),
            ));
        }
    }
    check_references(st, name, &manifest)?;
    st.content.write_blob(&data, Some(&digest))?;
    st.link_blob(name, &digest)?;
    write_atomic(&st.manifest_link(name, &digest), media_type.as_bytes())?;
    let subject = subject(&manifest)?;
    if let Some(subject) = &subject {
        let descriptor = referrer_descriptor(&manifest, &media_type, &digest, data.len());
        write_atomic(
            &st.referrers_dir(name, subject).join(digest.hex()),
            descriptor.to_string().as_bytes(),
        )?;
    }
    if let Reference::Tag(tag) = &reference {
        write_atomic(&st.tags_dir(name).join(tag), digest.as_str().as_bytes())?;
    }
    let mut resp = (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{name}/manifests/{digest}")),
            (header::CONTENT_LENGTH, "0".to_string()),
            (DIGEST_HEADER, digest.to_string()),
        ],
    )
        .into_response();
    if let Some(subject) = subject {
        if let Ok(v) = subject.as_str().parse() {
            resp.headers_mut().insert("oci-subject", v);
        }
    }
    Ok(resp)
}

/// Deleting by digest removes the manifest and every tag pointing at it;
/// deleting by tag removes only the tag.
pub async fn delete_manifest(st: &Storage, name: &str, reference: &str) -> Result<Response> {
    let reference = parse_reference(reference)?;
    match &reference {
        Reference::Tag(tag) => {
            if !remove_opt(&st.tags_dir(name).join(tag))? {
                return Err(manifest_unknown(&reference));
            }
        }
        Reference::Digest(digest) => {
            if st.manifest_media_type(name, digest)?.is_none() {
                return Err(manifest_unknown(&reference));
            }
            for tag in st.tags(name)? {
                if st.tag(name, &tag)?.as_ref() == Some(digest) {
                    remove_opt(&st.tags_dir(name).join(&tag))?;
                }
            }
            let data = st.content.read_all(digest, MANIFEST_MAX as u64)?;
            if let Ok(manifest) = serde_json::from_slice::<Value>(&data) {
                if let Ok(Some(subject)) = subject(&manifest) {
                    remove_opt(&st.referrers_dir(name, &subject).join(digest.hex()))?;
                }
            }
            remove_opt(&st.manifest_link(name, digest))?;
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn tags(st: &Storage, name: &str, params: &Params) -> Result<Response> {
    if !st.repo_exists(name) {
        return Err(Error::spec(
            Code::NameUnknown,
            format!("repository {name} unknown"),
        ));
    }
    let (tags, link) = paginate(st.tags(name)?, params, &format!("/v2/{name}/tags/list"))?;
    let body = json!({"name": name, "tags": tags}).to_string();
    Ok(with_link(json_response(StatusCode::OK, body), link))
}

pub async fn catalog(st: &Storage, params: &Params) -> Result<Response> {
    let (repos, link) = paginate(st.catalog()?, params, "/v2/_catalog")?;
    let body = json!({ "repositories": repos }).to_string();
    Ok(with_link(json_response(StatusCode::OK, body), link))
}

/// The manifests whose subject is `digest`, as an OCI index (empty when
/// there are none, not a 404).
pub async fn referrers(
    st: &Storage,
    name: &str,
    digest: &str,
    params: &Params,
) -> Result<Response> {
    let subject = parse_digest(digest)?;
    let dir = st.referrers_dir(name, &subject);
    let mut entries = list_dir(&dir)?;
    entries.retain(|e| !e.starts_with('.'));
    entries.sort();
    let filter = params.get("artifactType");
    let mut manifests = Vec::new();
    for entry in entries {
        let Some(text) = read_opt(&dir.join(&entry))? else {
            continue;
        };
        let Ok(descriptor) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!("skipping unreadable referrer {entry} of {subject}");
            continue;
        };
        if let Some(want) = filter {
            if str_field(&descriptor, "artifactType") != Some(want.as_str()) {
                continue;
            }
        }
        manifests.push(descriptor);
    }
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if filter.is_some() {
        resp.headers_mut().insert(
            "oci-filters-applied",
            "artifactType".parse().expect("static"),
        );
    }
    Ok(resp)
}

fn resolve(st: &Storage, name: &str, reference: &Reference) -> Result<Digest> {
    match reference {
        Reference::Digest(d) => Ok(d.clone()),
        Reference::Tag(tag) => st
            .tag(name, tag)?
            .ok_or_else(|| manifest_unknown(reference)),
    }
}

/// Every blob an image manifest names must be in the repository, and every
/// manifest an index names. Layers that are not distributable (foreign
/// layers) live elsewhere and are not checked.
fn check_references(st: &Storage, name: &str, manifest: &Value) -> Result<()> {
    for child in array(manifest, "manifests") {
        let digest = descriptor_digest(child)?;
        if st.manifest_media_type(name, &digest)?.is_none() {
            return Err(Error::spec(
                Code::ManifestBlobUnknown,
                format!("manifest {digest} is not in {name}"),
            ));
        }
    }
    let config = manifest.get("config").into_iter();
    for blob in config.chain(array(manifest, "layers")) {
        let media_type = str_field(blob, "mediaType").unwrap_or_default();
        if media_type.contains("foreign") || media_type.contains("nondistributable") {
            continue;
        }
        let digest = descriptor_digest(blob)?;
        if !st.has_blob(name, &digest) {
            return Err(Error::spec(
                Code::ManifestBlobUnknown,
                format!("blob {digest} is not in {name}"),
            ));
        }
    }
    Ok(())
}

fn subject(manifest: &Value) -> Result<Option<Digest>> {
    manifest.get("subject").map(descriptor_digest).transpose()
}

/// What the referrers list shows for a manifest: its descriptor, with the
/// artifact type (or, for images, the config's media type) and annotations.
fn referrer_descriptor(manifest: &Value, media_type: &str, digest: &Digest, size: usize) -> Value {
    let mut d = json!({"mediaType": media_type, "digest": digest.as_str(), "size": size});
    let artifact_type = str_field(manifest, "artifactType").or_else(|| {
        manifest
            .get("config")
            .and_then(|c| str_field(c, "mediaType"))
    });
    if let Some(t) = artifact_type {
        d["artifactType"] = json!(t);
    }
    if let Some(a) = manifest.get("annotations") {
        d["annotations"] = a.clone();
    }
    d
}

fn descriptor_digest(descriptor: &Value) -> Result<Digest> {
    let s = str_field(descriptor, "digest")
        .ok_or_else(|| Error::spec(Code::ManifestInvalid, "descriptor without a digest"))?;
    parse_digest(s)
}

fn array<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn with_link(mut resp: Response, link: Option<String>) -> Response {
    if let Some(link) = link.and_then(|l| l.parse().ok()) {
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
}

fn manifest_unknown(reference: &Reference) -> Error {
    let r = match reference {
        Reference::Tag(t) => t.clone(),
        Reference::Digest(d) => d.to_string(),
    };
    Error::spec(Code::ManifestUnknown, format!("manifest {r} unknown"))
}
