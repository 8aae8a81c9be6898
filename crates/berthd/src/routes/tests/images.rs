use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use super::{call, Fake};

#[tokio::test]
async fn names_with_slashes_and_colons_reach_the_backend_whole() {
    let fake = Arc::new(Fake::default().with_image("example.com/a/b:v1", "sha256:1"));
    let a = call(&fake, "GET", "/images/example.com/a/b:v1/json", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["Id"], "sha256:1");
    let a = call(&fake, "GET", "/images/example.com/a/b:v1/nonsense", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "page not found");
    assert_eq!(fake.calls(), ["image_inspect example.com/a/b:v1"]);
}

#[tokio::test]
async fn tag_needs_a_repo() {
    let fake = Arc::new(Fake::default().with_image("busybox", "sha256:b"));
    let a = call(&fake, "POST", "/images/busybox/tag", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.message(), "repo is required");
    let a = call(&fake, "POST", "/images/busybox/tag?repo=mine&tag=v2", "").await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert!(a.body.is_empty());
    assert_eq!(fake.calls(), ["tag busybox,mine,v2"]);
}

#[tokio::test]
async fn push_of_a_missing_image_is_dockers_404() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "POST", "/images/busybox/push?tag=v1", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(
        a.message(),
        "An image does not exist locally with the tag: busybox"
    );
}

#[tokio::test]
async fn list_and_remove() {
    let fake = Arc::new(Fake::default().with_image("busybox", "sha256:b"));
    let a = call(&fake, "GET", "/images/json?all=1", "").await;
    assert_eq!(a.json()[0]["RepoTags"], json!(["busybox"]));
    let a = call(&fake, "DELETE", "/images/busybox?force=1", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!([{"Untagged": "busybox"}]));
    assert_eq!(
        fake.calls(),
        ["image_list true,false", "image_remove busybox,true"]
    );
}

#[tokio::test]
async fn save_checks_every_name_before_streaming() {
    let fake = Arc::new(Fake::default().with_image("busybox", "sha256:b"));
    let a = call(&fake, "GET", "/images/get?names=busybox&names=gone", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "No such image: gone");
}
