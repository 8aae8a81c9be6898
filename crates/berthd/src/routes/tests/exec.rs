use std::sync::Arc;

use axum::http::StatusCode;
use berth_engine::container::Status;

use super::{call, Fake};

#[tokio::test]
async fn create_inspect_and_resize() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Running));
    let a = call(
        &fake,
        "POST",
        "/containers/web/exec",
        r#"{"Cmd":["ls","-l"],"AttachStdin":true}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(&a.body[..], b"{\"Id\":\"exec0\"}\n");
    let a = call(&fake, "GET", "/exec/exec0/json", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["OpenStdin"], true);
    let a = call(&fake, "POST", "/exec/exec0/resize?h=24&w=80", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        fake.calls(),
        ["create_exec web,ls -l", "resize_exec exec0,24,80"]
    );
}

#[tokio::test]
async fn bad_detach_keys_are_refused_before_the_backend() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Running));
    let a = call(
        &fake,
        "POST",
        "/containers/web/exec",
        r#"{"Cmd":["sh"],"DetachKeys":"ctrl-"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.message(), "Invalid detach keys (ctrl-) provided");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn detached_start_maps_the_backend_error() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Running));
    let a = call(&fake, "POST", "/exec/nope/start", r#"{"Detach":true}"#).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "No such exec instance: nope");
    call(&fake, "POST", "/containers/web/exec", r#"{"Cmd":["true"]}"#).await;
    let a = call(&fake, "POST", "/exec/exec0/start", r#"{"Detach":true}"#).await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(
        fake.calls().last().map(String::as_str),
        Some("start_exec exec0")
    );
}
