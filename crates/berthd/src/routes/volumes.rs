//! `/volumes`: list, inspect, create, remove, prune.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use berth_api::query::flag;
use berth_api::{filters, ApiVersion};
use berth_engine::filters::Filters;
use berth_engine::volume::CreateVolume;

use super::{empty, json, ApiResult};
use crate::server::AppState;

type Q = Query<HashMap<String, String>>;

fn filters_of(q: &HashMap<String, String>) -> Result<Filters, crate::error::ApiError> {
    Ok(Filters::from(filters::decode(
        q.get("filters").map(String::as_str),
    )?))
}

pub async fn list(State(e): State<AppState>, Query(q): Q) -> ApiResult {
    Ok(json(
        StatusCode::OK,
        &e.volumes.list(filters_of(&q)?).await?,
    ))
}

pub async fn inspect(State(e): State<AppState>, Path(name): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.volumes.inspect(&name).await?))
}

pub async fn create(State(e): State<AppState>, body: Body) -> ApiResult {
    // dockerd takes an empty body as an empty request: an anonymous volume.
    let req: CreateVolume = crate::body::json(body).await?.unwrap_or_default();
    Ok(json(StatusCode::CREATED, &e.volumes.create(req).await?))
}

pub async fn remove(State(e): State<AppState>, Path(name): Path<String>, Query(q): Q) -> ApiResult {
    e.volumes.remove(&name, flag(&q, "force")).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn prune(
    State(e): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Query(q): Q,
) -> ApiResult {
    let mut f = filters_of(&q)?;
    // Before API 1.42 a prune removed named volumes too.
    if !version.at_least(1, 42) {
        f.insert("all", "true");
    }
    Ok(json(StatusCode::OK, &e.volumes.prune(f).await?))
}
