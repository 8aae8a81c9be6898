use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

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

pub async fn version(State(engine): State<AppState>) -> Response {
    json(StatusCode::OK, &berth_engine::system::version(&engine))
}

pub async fn info(State(engine): State<AppState>) -> Response {
    let e = engine.clone();
    let info = tokio::task::spawn_blocking(move || berth_engine::system::info(&e))
        .await
        .unwrap_or_default();
    json(StatusCode::OK, &info)
}

/// `GET /system/df`.
pub async fn df(State(e): State<AppState>) -> super::ApiResult {
    Ok(json(StatusCode::OK, &e.system_df().await?))
}

/// `POST /networks/prune`: berth has no user-defined networks yet, so
/// there is never one to remove (the answer is true, not a stub).
pub async fn networks_prune() -> super::ApiResult {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "NetworksDeleted": null }),
    ))
}

/// `POST /build/prune`: berth keeps no build cache yet.
pub async fn build_prune() -> super::ApiResult {
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "CachesDeleted": null, "SpaceReclaimed": 0 }),
    ))
}
