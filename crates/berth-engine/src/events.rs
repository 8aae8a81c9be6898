//! The event bus behind `GET /events`: a broadcast channel for live
//! subscribers plus a bounded history for `since`/`until` replays.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::filters::Filters;
use crate::locks::IgnorePoison;

const HISTORY: usize = 1024;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    /// Sorted, as Go marshals a map.
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// Docker's event message shape (`status`, `id`, `from` are the legacy
/// fields docker still sends for container and image events).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// The filters `GET /events` accepts; the swarm ones (`config`, `node`,
/// `secret`, `service`) and `plugin` name objects berth does not have.
pub const FILTERS: [&str; 9] = [
    "type",
    "event",
    "container",
    "image",
    "label",
    "network",
    "volume",
    "scope",
    "daemon",
];

/// Whether `e` passes the event filters, as dockerd decides it: `type`
/// and `scope` exact; `container`, `network`, `volume` and `daemon` a
/// prefix of the actor's id or name, whatever the event's type; `image`
/// the actor's id or image name, with or without its tag.
pub fn matches(f: &Filters, e: &Event) -> bool {
    let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str).unwrap_or("");
    let actor =
        |key: &str| f.matches_prefix(key, &e.actor.id) || f.matches_prefix(key, attr("name"));
    let image_name = attr(if e.kind == "image" { "name" } else { "image" });
    let image = [e.actor.id.as_str(), image_name]
        .into_iter()
        .flat_map(|s| [s.to_string(), strip_tag(s)])
        .any(|s| f.matches_exact("image", &s));
    f.matches_exact("type", &e.kind)
        && f.matches_exact("scope", &e.scope)
        && (f.get("event").is_empty()
            || f.get("event")
                .iter()
                .any(|v| *v == e.action || e.action.starts_with(&format!("{v}:"))))
        && ["container", "network", "volume", "daemon"]
            .iter()
            .all(|k| actor(k))
        && image
        && f.labels_match(|k| e.actor.attributes.get(k).cloned())
}

/// `busybox:latest` -> `busybox`; what does not parse stays as it is.
fn strip_tag(s: &str) -> String {
    berth_reference::Reference::parse(s)
        .map(|r| r.familiar_name())
        .unwrap_or_else(|_| s.to_string())
}

pub struct EventBus {
    tx: broadcast::Sender<Event>,
    history: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(256).0,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }
}

impl EventBus {
    pub fn publish(&self, kind: &str, action: &str, id: &str, attributes: HashMap<String, String>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let legacy = kind == "container" || kind == "image";
        let event = Event {
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
            from: (kind == "container")
                .then(|| attributes.get("image").cloned())
                .flatten(),
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attributes.into_iter().collect(),
            },
            scope: "local".into(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
        };
        {
            let mut h = self.history.locked();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Past events (oldest first) and a receiver for the ones after them.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.locked();
        let rx = self.tx.subscribe();
        (h.iter().cloned().collect(), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        let bus = EventBus::default();
        let attrs = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        bus.publish(kind, "create", id, attrs);
        bus.subscribe().0.remove(0)
    }

    fn f(raw: &str) -> Filters {
        Filters::parse(Some(raw)).unwrap()
    }

    #[test]
    fn actor_filters_match_id_or_name_prefix_of_any_type() {
        let c = event(
            "container",
            "abc123",
            &[("name", "web"), ("image", "busybox")],
        );
        let n = event("network", "n0123", &[("name", "bridge")]);
        assert!(matches(&f(r#"{"network":{"bri":true}}"#), &n));
        assert!(matches(&f(r#"{"network":{"n01":true}}"#), &n));
        assert!(!matches(&f(r#"{"network":{"host":true}}"#), &n));
        assert!(!matches(&f(r#"{"network":{"bridge":true}}"#), &c));
        assert!(!matches(&f(r#"{"volume":{"v":true}}"#), &c));
        assert!(!matches(&f(r#"{"daemon":{"d":true}}"#), &c));
        assert!(matches(&f(r#"{"container":{"we":true}}"#), &c));
        assert!(matches(&f(r#"{"container":{"bridge":true}}"#), &n));
    }

    #[test]
    fn scope_is_exact() {
        let c = event("container", "abc", &[]);
        assert!(matches(&f(r#"{"scope":{"local":true}}"#), &c));
        assert!(!matches(&f(r#"{"scope":{"swarm":true}}"#), &c));
    }

    #[test]
    fn image_matches_with_or_without_tag() {
        let c = event("container", "abc", &[("image", "busybox:latest")]);
        let i = event("image", "sha256:0123", &[("name", "busybox:latest")]);
        for e in [&c, &i] {
            assert!(matches(&f(r#"{"image":{"busybox":true}}"#), e));
            assert!(matches(&f(r#"{"image":{"busybox:latest":true}}"#), e));
            assert!(!matches(&f(r#"{"image":{"busy":true}}"#), e));
        }
        assert!(matches(&f(r#"{"image":{"sha256:0123":true}}"#), &i));
    }

    #[tokio::test]
    async fn history_and_live() {
        let bus = EventBus::default();
        let attrs = HashMap::from([("image".to_string(), "busybox".to_string())]);
        bus.publish("container", "create", "abc", attrs.clone());
        let (past, mut rx) = bus.subscribe();
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].from.as_deref(), Some("busybox"));
        bus.publish("network", "connect", "net1", HashMap::new());
        let live = rx.recv().await.unwrap();
        assert_eq!(live.action, "connect");
        assert!(live.status.is_none());
        let json = serde_json::to_value(&live).unwrap();
        assert_eq!(json["Type"], "network");
    }
}
