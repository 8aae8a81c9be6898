//! `docker cp`, `docker export`: `HEAD|GET|PUT /containers/{id}/archive`
//! and `GET /containers/{id}/export`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use berth_api::query::{self, flag};
use berth_engine::container::TarStream;
use berth_engine::Error;
use berth_image::{CopyInOptions, PathStat};
use serde_json::json;

use super::{empty, receiver_stream, stream, ApiResult};
use crate::server::AppState;

type Q = Query<HashMap<String, String>>;

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_param(q: &HashMap<String, String>) -> Result<&str, Error> {
    query::string(q, "path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::invalid("path is required"))
}

fn stat_header(s: &PathStat) -> HeaderValue {
    let v = json!({
        "name": s.name,
        "size": s.size,
        "mode": s.mode,
        "mtime": s.mtime,
        "linkTarget": s.link_target,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn tar_response(rx: TarStream) -> Response {
    stream(Some("application/x-tar"), receiver_stream(rx))
}

pub async fn head(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let stat = e.containers.archive_stat(&id, path_param(&q)?).await?;
    let mut resp = empty(StatusCode::OK);
    resp.headers_mut().insert(STAT_HEADER, stat_header(&stat));
    Ok(resp)
}

pub async fn get(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let (stat, rx) = e.containers.archive_get(&id, path_param(&q)?).await?;
    let mut resp = tar_response(rx);
    resp.headers_mut().insert(STAT_HEADER, stat_header(&stat));
    Ok(resp)
}

pub async fn put(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Body,
) -> ApiResult {
    let path = path_param(&q)?.to_string();
    let opts = CopyInOptions {
        no_overwrite_dir_non_dir: flag(&q, "noOverwriteDirNonDir"),
        copy_uid_gid: flag(&q, "copyUIDGID"),
    };
    let reader = crate::body::stream_reader(body);
    e.containers
        .archive_put(&id, &path, Box::new(reader), opts)
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn export(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let rx = e.containers.export(&id).await?;
    Ok(stream(Some("application/octet-stream"), receiver_stream(rx)).into_response())
}
