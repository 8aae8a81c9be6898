use std::collections::HashMap;

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_api::filters;
use berth_api::version::{API_VERSION, MIN_API_VERSION};
use berth_engine::disk_usage::DfSections;
use berth_engine::filters::Filters;
use berth_engine::prune;

use super::json;
use crate::server::AppState;

fn ping_response(body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

pub async fn ping() -> Response {
    ping_response("OK")
}

pub async fn ping_head() -> Response {
    ping_response("")
}

pub async fn version(State(e): State<AppState>) -> Response {
    let version = e.system.version(API_VERSION, MIN_API_VERSION);
    json(StatusCode::OK, &version)
}

pub async fn info(State(e): State<AppState>) -> super::ApiResult {
    Ok(json(StatusCode::OK, &e.system.info().await?))
}

/// `GET /system/df`; `type` may repeat.
pub async fn df(State(e): State<AppState>, RawQuery(raw): RawQuery) -> super::ApiResult {
    let types: Vec<String> = form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "type")
        .map(|(_, v)| v.into_owned())
        .collect();
    let want = DfSections::parse(&types)?;
    Ok(json(StatusCode::OK, &e.system.df(want).await?))
}

/// `POST /build/prune`: berth keeps no build cache yet; `all` has nothing
/// to widen.
pub async fn build_prune(Query(q): Query<HashMap<String, String>>) -> super::ApiResult {
    prune::build_prune_check(
        &Filters::from(filters::decode(q.get("filters").map(String::as_str))?),
        q.get("keep-storage").map(String::as_str),
    )?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "CachesDeleted": null, "SpaceReclaimed": 0 }),
    ))
}
