use std::sync::Arc;

use axum::http::StatusCode;
use berth_api::ApiVersion;

use super::{call, send_at, Fake};

#[tokio::test]
async fn create_answers_201_with_the_volume() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "POST", "/volumes/create", r#"{"Name":"v1"}"#).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.json()["Name"], "v1");
    assert_eq!(a.json()["Labels"], serde_json::Value::Null);
    // No body at all: an anonymous volume, as dockerd makes one.
    let a = call(&fake, "POST", "/volumes/create", "").await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = call(&fake, "POST", "/volumes/create", "{").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(fake.calls(), ["volume-create v1", "volume-create "]);
}

#[tokio::test]
async fn list_inspect_remove() {
    let fake = Arc::new(Fake::default());
    let a = call(
        &fake,
        "GET",
        "/volumes?filters=%7B%22name%22%3A%5B%22d%22%5D%7D",
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        serde_json::json!({"Volumes": [], "Warnings": null})
    );
    let a = call(&fake, "GET", "/volumes/nosuch", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "get nosuch: no such volume");
    let a = call(&fake, "DELETE", "/volumes/v1?force=1", "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = call(&fake, "DELETE", "/volumes/v2", "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        fake.calls(),
        [
            "volume-list d",
            "volume-inspect nosuch",
            "volume-remove v1,true",
            "volume-remove v2,false"
        ]
    );
}

#[tokio::test]
async fn prune_before_1_42_takes_named_volumes_too() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "POST", "/volumes/prune", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json(),
        serde_json::json!({"VolumesDeleted": [], "SpaceReclaimed": 0})
    );
    send_at(&fake, ApiVersion(1, 41), "POST", "/volumes/prune", &[], "").await;
    assert_eq!(fake.calls(), ["volume-prune all=", "volume-prune all=true"]);
}
