//! `GET /events` (moby's system router's events half).

use tokio::sync::broadcast;

use super::Area;
use crate::events::Event;

pub trait EventsBackend: Send + Sync {
    /// Past events (oldest first) and a receiver for the ones after them.
    fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>);
}

impl EventsBackend for Area {
    fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        self.0.events.subscribe()
    }
}
