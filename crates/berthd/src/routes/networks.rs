//! `/networks`: list, inspect, create, remove, connect, disconnect, prune.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use berth_api::filters;
use berth_api::models::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use berth_engine::filters::Filters;
use berth_engine::Error;
use serde_json::json;

use super::{empty, json, ApiResult};
use crate::server::AppState;

type Q = Query<HashMap<String, String>>;

fn filters_of(q: &HashMap<String, String>) -> Result<Filters, crate::error::ApiError> {
    Ok(Filters::from(filters::decode(
        q.get("filters").map(String::as_str),
    )?))
}

pub async fn list(State(e): State<AppState>, Query(q): Q) -> ApiResult {
    Ok(json(StatusCode::OK, &e.networks.list(&filters_of(&q)?)?))
}

pub async fn inspect(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let scope = q.get("scope").map(String::as_str);
    Ok(json(StatusCode::OK, &e.networks.inspect(&id, scope)?))
}

pub async fn create(State(e): State<AppState>, body: Body) -> ApiResult {
    let req: NetworkCreateRequest = crate::body::json(body)
        .await?
        .ok_or_else(|| Error::invalid("invalid JSON: empty body"))?;
    let id = e.networks.create(req).await?;
    Ok(json(StatusCode::CREATED, &json!({"Id": id, "Warning": ""})))
}

pub async fn remove(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.networks.remove(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn connect(State(e): State<AppState>, Path(id): Path<String>, body: Body) -> ApiResult {
    let v: serde_json::Value = crate::body::json(body).await?.unwrap_or_default();
    // The docker CLI sends a zero GwPriority; any other is a choice berth
    // cannot honor yet (it routes by the first network).
    if v["EndpointConfig"]["GwPriority"]
        .as_i64()
        .is_some_and(|p| p != 0)
    {
        return Err(Error::invalid("EndpointSettings.GwPriority is not supported by berth").into());
    }
    let req: NetworkConnectRequest =
        serde_json::from_value(v).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))?;
    let container = req.container.unwrap_or_default();
    if container.is_empty() {
        return Err(Error::invalid("no container specified").into());
    }
    e.networks
        .connect(&id, &container, req.endpoint_config.unwrap_or_default())
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn disconnect(
    State(e): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult {
    let req: NetworkDisconnectRequest = crate::body::json(body).await?.unwrap_or_default();
    let container = req.container.unwrap_or_default();
    if container.is_empty() {
        return Err(Error::invalid("no container specified").into());
    }
    e.networks
        .disconnect(&id, &container, req.force.unwrap_or(false))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn prune(State(e): State<AppState>, Query(q): Q) -> ApiResult {
    let deleted = e.networks.prune(&filters_of(&q)?).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "NetworksDeleted": if deleted.is_empty() { None } else { Some(deleted) } }),
    ))
}
