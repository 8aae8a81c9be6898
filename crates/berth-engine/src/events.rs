//! The event bus behind `GET /events`: a broadcast channel for live
//! subscribers plus a bounded history for `since`/`until` replays.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

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
            let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Past events (oldest first) and a receiver for the ones after them.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.tx.subscribe();
        (h.iter().cloned().collect(), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
