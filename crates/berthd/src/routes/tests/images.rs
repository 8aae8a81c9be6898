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

#[tokio::test]
async fn pull_errors_before_the_first_message_are_http_errors() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "POST", "/images/create?fromImage=missing&tag=v1", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "manifest unknown");
    // After a message, the status is 200 and the error ends the stream.
    let a = call(&fake, "POST", "/images/create?fromImage=broken:latest", "").await;
    assert_eq!(a.status, StatusCode::OK);
    let text = String::from_utf8(a.body.to_vec()).unwrap();
    assert_eq!(
        text,
        "{\"status\":\"Pulling from library/broken\"}\n{\"error\":\"connection reset\",\"errorDetail\":{\"message\":\"connection reset\"}}\n"
    );
    assert_eq!(
        fake.calls(),
        [
            "pull docker.io/library/missing:v1,",
            "pull docker.io/library/broken:latest,"
        ]
    );
}

#[tokio::test]
async fn pull_reads_the_registry_auth_header_and_a_digest_tag() {
    let fake = Arc::new(Fake::default());
    // base64url of {"username":"u","password":"p"}
    let auth = "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==";
    let digest = format!("sha256:{}", "a".repeat(64));
    let a = super::call_with_headers(
        &fake,
        "POST",
        &format!("/images/create?fromImage=localhost%3A5000%2Fx&tag={digest}"),
        &[("X-Registry-Auth", auth)],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(fake.calls(), [format!("pull localhost:5000/x@{digest},u")]);
    let a = super::call_with_headers(
        &fake,
        "POST",
        "/images/create?fromImage=x:v1",
        &[("X-Registry-Auth", "%%%")],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.message(), "invalid X-Registry-Auth header: not base64");
    // No tag at all is dockerd's "every tag", which berth refuses by name.
    let a = call(&fake, "POST", "/images/create?fromImage=x&tag=v1", "").await;
    assert_eq!(a.status, StatusCode::OK);
    let a = call(&fake, "POST", "/images/create?fromImage=x", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("all tags"), "{}", a.message());
    let a = call(
        &fake,
        "POST",
        "/images/x/push?tag=v1&platform=linux/arm64",
        "",
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().contains("platform"), "{}", a.message());
}

#[tokio::test]
async fn push_streams_and_login_checks_the_body() {
    let fake = Arc::new(Fake::default().with_image("127.0.0.1:5000/x", "sha256:1"));
    let a = call(&fake, "POST", "/images/127.0.0.1:5000/x/push?tag=v1", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(a.body.to_vec()).unwrap(),
        "{\"status\":\"The push refers to repository [x]\"}\n"
    );
    let a = call(&fake, "POST", "/auth", "{not json").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.message().starts_with("invalid auth configuration"),
        "{}",
        a.message()
    );
    let a = call(
        &fake,
        "POST",
        "/auth",
        r#"{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["Status"], "Login Succeeded");
    let a = call(&fake, "GET", "/distribution/127.0.0.1:5000/x:v1/json", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(&fake, "GET", "/images/search?term=busybox", "").await;
    assert_eq!(a.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        fake.calls(),
        [
            "push 127.0.0.1:5000/x,v1",
            "login u,127.0.0.1:5000",
            "distribution_inspect 127.0.0.1:5000/x:v1"
        ]
    );
}
