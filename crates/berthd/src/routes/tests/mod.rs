//! The routes over fake backends: what each route decodes, which backend
//! call it makes, and how it encodes the answer, with no daemon and no root.

mod containers;
mod events;
mod exec;
mod fakes;
mod images;
mod system;
mod volumes;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use berth_api::ApiVersion;
use tower::ServiceExt;

pub use fakes::Fake;

/// The answer to one request: status, content type, body.
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// docker's error body.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends one request through the router, as the server does after it has
/// taken the version prefix off.
pub async fn call(fake: &Arc<Fake>, method: &str, uri: &str, body: &str) -> Answer {
    send(fake, method, uri, &[], body).await
}

pub async fn call_with_headers(
    fake: &Arc<Fake>,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> Answer {
    send(fake, method, uri, headers, "").await
}

async fn send(
    fake: &Arc<Fake>,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    send_at(fake, ApiVersion::current(), method, uri, headers, body).await
}

/// A request as a client of API `version` sends it.
pub async fn send_at(
    fake: &Arc<Fake>,
    version: ApiVersion,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body.to_string())).expect("request");
    req.extensions_mut().insert(version);
    let resp = super::router(fake.state())
        .oneshot(req)
        .await
        .unwrap_or_else(|never| match never {});
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        content_type,
        body,
    }
}
