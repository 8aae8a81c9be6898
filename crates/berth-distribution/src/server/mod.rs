//! A registry server speaking the OCI distribution protocol (v1.1) over
//! HTTP or https (`tls`), optionally behind Basic auth (`auth`), storing blobs in a content store and repositories as link
//! files (see `storage`).
//!
//! Threat model: every client is untrusted. Repository names, tags, digests
//! and upload ids become path components, so each is checked against the
//! spec's grammar (or, for ids, our own 32-hex form) before it touches the
//! disk; none can hold `/..` or start with `.`/`_`. Content is trusted only
//! after the content store has hashed it, and manifests are read whole only
//! up to `MANIFEST_MAX`.
//!
//! Concurrency: requests run in parallel; every link is replaced by rename,
//! so readers see the old or the new state. Two clients appending to the
//! same upload at once is not supported (the spec has one writer per upload).

mod auth;
mod blobs;
mod error;
mod manifests;
mod names;
mod storage;
#[cfg(test)]
mod tests;
mod tls;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub use auth::Htpasswd;
pub use error::{Code, Error, Result};
use storage::Storage;
pub use tls::{server_config, TlsListener};

/// The header every answer carries; clients probe `/v2/` for it.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// Manifests larger than this are refused (the spec's suggested minimum
/// that registries accept).
pub const MANIFEST_MAX: usize = 4 << 20;

/// The registry's state, shared by all requests.
#[derive(Debug, Clone)]
pub struct Registry {
    storage: Arc<Storage>,
    htpasswd: Option<Arc<Htpasswd>>,
}

impl Registry {
    /// Opens (creating if needed) a registry stored under `root`.
    pub fn open(root: &Path) -> Result<Registry> {
        Ok(Registry {
            storage: Arc::new(Storage::open(root)?),
            htpasswd: None,
        })
    }

    /// Requires every request to carry Basic credentials of a user in the
    /// file.
    pub fn with_htpasswd(mut self, users: Htpasswd) -> Registry {
        self.htpasswd = Some(Arc::new(users));
        self
    }

    /// The HTTP service.
    pub fn router(self) -> Router {
        Router::new()
            .fallback(dispatch)
            // Blobs are streamed to disk; manifests have their own limit.
            .layer(DefaultBodyLimit::disable())
            .with_state(self)
    }
}

/// The query parameters of a request (the last of repeated ones).
type Params = HashMap<String, String>;

/// What a request addresses. Repository names have slashes, so the route is
/// read from the end of the path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Base,
    Catalog,
    Tags(&'a str),
    Uploads(&'a str),
    Upload(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Manifest(&'a str, &'a str),
    Referrers(&'a str, &'a str),
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    let (rest, slash) = match rest.strip_suffix('/') {
        Some(r) => (r, true),
        None => (rest, false),
    };
    if let Some(name) = rest.strip_suffix("/blobs/uploads") {
        return Some(Route::Uploads(name));
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return (!slash).then_some(Route::Tags(name));
    }
    let (prefix, last) = rest.rsplit_once('/')?;
    if slash {
        return None;
    }
    let (name, kind) = prefix.rsplit_once('/')?;
    match kind {
        "manifests" => Some(Route::Manifest(name, last)),
        "referrers" => Some(Route::Referrers(name, last)),
        "blobs" => Some(Route::Blob(name, last)),
        "uploads" => name
            .strip_suffix("/blobs")
            .map(|name| Route::Upload(name, last)),
        _ => None,
    }
}

async fn dispatch(State(reg): State<Registry>, req: Request) -> Response {
    let params: Params = Query::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let denied = match &reg.htpasswd {
        Some(users) => !users.allows(req.headers()).await,
        None => false,
    };
    let result = match route(&path) {
        _ if denied => Ok(auth::challenge()),
        None => Err(Error::with_status(
            Code::Unsupported,
            StatusCode::NOT_FOUND,
            format!("no such endpoint {path}"),
        )),
        Some(r) => handle(&reg, r, &method, &params, req).await,
    };
    let mut resp = result.unwrap_or_else(|e| e.into_response());
    resp.headers_mut()
        .insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
    if method == Method::HEAD {
        // The headers describe the GET answer; the body is dropped.
        *resp.body_mut() = Body::empty();
    }
    resp
}

async fn handle(
    reg: &Registry,
    route: Route<'_>,
    method: &Method,
    params: &Params,
    req: Request,
) -> Result<Response> {
    let st = &reg.storage;
    let is = |m: &Method| method == m;
    let read = is(&Method::GET) || is(&Method::HEAD);
    match route {
        Route::Base if read => Ok(json_response(StatusCode::OK, "{}".into())),
        Route::Catalog if read => manifests::catalog(st, params).await,
        Route::Tags(name) if read => manifests::tags(st, checked(name)?, params).await,
        Route::Uploads(name) if is(&Method::POST) => {
            blobs::start_upload(st, checked(name)?, params, req).await
        }
        Route::Upload(name, id) => {
            let name = checked(name)?;
            match method.clone() {
                Method::GET => blobs::upload_status(st, name, id).await,
                Method::PATCH => blobs::patch_upload(st, name, id, req).await,
                Method::PUT => blobs::finish_upload(st, name, id, params, req).await,
                Method::DELETE => blobs::cancel_upload(st, name, id).await,
                m => Err(unsupported(&m)),
            }
        }
        Route::Blob(name, digest) if read => {
            let range = req
                .headers()
                .get(header::RANGE)
                .map(|v| v.to_str().unwrap_or_default());
            blobs::get_blob(st, checked(name)?, digest, is(&Method::HEAD), range).await
        }
        Route::Blob(name, digest) if is(&Method::DELETE) => {
            blobs::delete_blob(st, checked(name)?, digest).await
        }
        Route::Manifest(name, reference) if read => {
            manifests::get_manifest(st, checked(name)?, reference).await
        }
        Route::Manifest(name, reference) if is(&Method::PUT) => {
            manifests::put_manifest(st, checked(name)?, reference, req).await
        }
        Route::Manifest(name, reference) if is(&Method::DELETE) => {
            manifests::delete_manifest(st, checked(name)?, reference).await
        }
        Route::Referrers(name, digest) if read => {
            manifests::referrers(st, checked(name)?, digest, params).await
        }
        _ => Err(unsupported(method)),
    }
}

fn checked(name: &str) -> Result<&str> {
    names::check_name(name)?;
    Ok(name)
}

fn unsupported(method: &Method) -> Error {
    Error::spec(
        Code::Unsupported,
        format!("method {method} is not supported here"),
    )
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Pagination by `n` and `last` over a sorted list, as for tags and the
/// catalog: the entries after `last`, at most `n`, and the `Link` to the
/// next page when entries remain.
fn paginate(
    all: Vec<String>,
    params: &Params,
    base: &str,
) -> Result<(Vec<String>, Option<String>)> {
    let mut items: Vec<String> = match params.get("last") {
        Some(last) => all.into_iter().filter(|t| t > last).collect(),
        None => all,
    };
    let Some(n) = params.get("n") else {
        return Ok((items, None));
    };
    let n: usize = n.parse().map_err(|_| {
        Error::with_status(
            Code::Unsupported,
            StatusCode::BAD_REQUEST,
            format!("invalid page size {n:?}"),
        )
    })?;
    if items.len() <= n {
        return Ok((items, None));
    }
    items.truncate(n);
    let link = items
        .last()
        .map(|last| format!("<{base}?n={n}&last={last}>; rel=\"next\""));
    Ok((items, link))
}
