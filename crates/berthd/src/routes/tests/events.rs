use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use berth_engine::events::{Actor, Event};

use super::{call, Fake};

fn event(kind: &str, id: &str, secs: i64) -> Event {
    Event {
        status: None,
        id: None,
        from: None,
        kind: kind.into(),
        action: "create".into(),
        actor: Actor {
            id: id.into(),
            attributes: BTreeMap::new(),
        },
        scope: "local".into(),
        time: secs,
        time_nano: secs * 1_000_000_000,
    }
}

fn ids(body: &[u8]) -> Vec<String> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).expect("one JSON object a line");
            v["Actor"]["ID"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[tokio::test]
async fn past_events_in_range_and_filtered_then_the_end() {
    let fake = Arc::new(Fake {
        events: vec![
            event("container", "c1", 10),
            event("image", "i1", 20),
            event("image", "i2", 30),
            event("image", "i3", 40),
        ],
        ..Default::default()
    });
    let filters = r#"{"type":{"image":true}}"#;
    let uri = format!(
        "/events?since=15&until=35&filters={}",
        form_urlencoded::byte_serialize(filters.as_bytes()).collect::<String>()
    );
    let a = call(&fake, "GET", &uri, "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.content_type.as_deref(), Some("application/json"));
    assert_eq!(ids(&a.body), ["i1", "i2"]);
}

#[tokio::test]
async fn unknown_filters_are_refused() {
    let fake = Arc::new(Fake::default());
    let uri = format!(
        "/events?filters={}",
        form_urlencoded::byte_serialize(br#"{"colour":{"red":true}}"#).collect::<String>()
    );
    let a = call(&fake, "GET", &uri, "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}
