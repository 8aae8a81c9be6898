use std::sync::Arc;

use axum::http::StatusCode;
use berth_engine::container::{LogChunk, Status};

use super::{call, Fake};

#[tokio::test]
async fn create_decodes_the_body_and_answers_201() {
    let fake = Arc::new(Fake::default());
    let a = call(
        &fake,
        "POST",
        "/containers/create?name=web&platform=linux/amd64",
        r#"{"Image":"busybox","Cmd":["true"]}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        &a.body[..],
        b"{\"Id\":\"c0ffee\",\"Warnings\":[\"a warning\"]}\n"
    );
    assert_eq!(
        fake.calls(),
        ["platform_check busybox,linux/amd64", "create web,busybox"]
    );
}

#[tokio::test]
async fn create_refuses_an_empty_body_before_the_backend() {
    let fake = Arc::new(Fake::default());
    let a = call(&fake, "POST", "/containers/create", "  ").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.message(),
        "Config cannot be empty in order to create a container"
    );
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn lifecycle_routes_pass_their_query_and_map_errors() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Running));
    let a = call(&fake, "POST", "/containers/web/stop?t=3&signal=SIGINT", "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = call(&fake, "POST", "/containers/web/kill", "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = call(&fake, "POST", "/containers/nope/start", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.message(), "No such container: nope");
    let a = call(&fake, "POST", "/containers/web/stop?t=soon", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fake.calls(),
        [
            "stop web,Some(3),Some(\"SIGINT\")",
            "kill web,None",
            "start nope"
        ]
    );
}

#[tokio::test]
async fn remove_with_link_checks_the_container_and_refuses() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Exited));
    let a = call(&fake, "DELETE", "/containers/web?link=1", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.message().starts_with("link:"), "{}", a.message());
    let a = call(&fake, "DELETE", "/containers/gone?link=1", "").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(&fake, "DELETE", "/containers/web?force=1", "").await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(fake.calls(), ["remove web,true"]);
}

#[tokio::test]
async fn wait_answers_the_exit_code() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Running));
    fake.exit_codes.lock().unwrap().insert("web".into(), 3);
    let a = call(&fake, "POST", "/containers/web/wait?condition=removed", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(&a.body[..], b"{\"Error\":null,\"StatusCode\":3}\n");
    assert_eq!(fake.calls(), ["wait web,Removed"]);
    let a = call(&fake, "POST", "/containers/web/wait?condition=sometime", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logs_are_multiplexed_without_a_tty() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Exited));
    fake.logs.lock().unwrap().insert(
        "web".into(),
        vec![LogChunk {
            stream: 2,
            data: bytes::Bytes::from_static(b"oops\n"),
        }],
    );
    let a = call(&fake, "GET", "/containers/web/logs?stderr=1", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(&a.body[..], b"\x02\x00\x00\x00\x00\x00\x00\x05oops\n");
    let a = call(&fake, "GET", "/containers/web/logs", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.message(),
        "Bad parameters: you must choose at least one stream"
    );
}

#[tokio::test]
async fn list_and_inspect_pass_size() {
    let fake = Arc::new(Fake::default().with_container("web", Status::Running));
    let a = call(&fake, "GET", "/containers/json?all=1&size=1", "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()[0]["Names"][0], "/web");
    let a = call(&fake, "GET", "/containers/web/json?size=1", "").await;
    assert_eq!(a.json()["Name"], "/web");
    assert_eq!(
        fake.calls(),
        ["list all=true,size=true", "inspect web,true"]
    );
}
