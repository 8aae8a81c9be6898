use std::sync::Arc;

use axum::http::StatusCode;
use berth_api::models::SystemInfo;

use super::{call, Fake};

#[tokio::test]
async fn ping_needs_no_backend() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "GET", "/_ping", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(&a.body[..], b"OK");
    let a = call(&fake, "HEAD", "/_ping", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.is_empty());
}

#[tokio::test]
async fn version_gets_the_wire_versions() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "GET", "/version", "").await;
    assert_eq!(a.json()["ApiVersion"], berth_api::version::API_VERSION);
    assert_eq!(
        a.json()["MinAPIVersion"],
        berth_api::version::MIN_API_VERSION
    );
}

#[tokio::test]
async fn info_is_the_backends_typed_answer() {
    let fake = Arc::new(Fake {
        info: SystemInfo {
            architecture: Some("aarch64".into()),
            containers: Some(2),
            ..Default::default()
        },
        ..Default::default()
    });
    let a = call(&fake, "GET", "/info", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["Architecture"], "aarch64");
    assert_eq!(a.json()["Containers"], 2);
}

#[tokio::test]
async fn df_sections_come_from_the_repeated_type() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "GET", "/system/df?type=image", "").await;
    assert_eq!(
        a.json(),
        serde_json::json!({"Images": true, "Containers": false})
    );
    let a = call(&fake, "GET", "/system/df?type=image&type=bogus", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.message(), "unknown object type: bogus");
}
