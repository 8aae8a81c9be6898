use std::collections::HashMap;

use axum::extract::{Query, State};
use berth_api::filters;
use berth_api::{framing, query};
use berth_engine::events::{self, matches, Event};
use berth_engine::filters::Filters;
use tokio::sync::broadcast::error::RecvError;

use super::{stream, ApiResult};
use crate::server::AppState;

/// `GET /events`: past events in [since, until], then live ones unless
/// `until` is given. Headers go out at once.
pub async fn events(
    State(e): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let since = query::unix_nanos(&q, "since")?;
    let until = query::unix_nanos(&q, "until")?;
    let filters = Filters::from(filters::decode(q.get("filters").map(String::as_str))?);
    filters.validate(&events::FILTERS)?;
    let (past, rx) = e.events.subscribe();
    let in_range = move |ev: &Event| {
        since.is_none_or(|s| ev.time_nano >= s) && until.is_none_or(|u| ev.time_nano <= u)
    };
    let replay: Vec<_> = if since.is_some() || until.is_some() {
        past.into_iter()
            .filter(|ev| in_range(ev) && matches(&filters, ev))
            .collect()
    } else {
        Vec::new()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64;
    let live = until.is_none_or(|u| u > now);
    let body = futures_util::stream::unfold(
        (replay.into_iter(), rx, filters, live),
        move |(mut replay, mut rx, filters, live)| async move {
            if let Some(ev) = replay.next() {
                return Some((framing::json_line(&ev), (replay, rx, filters, live)));
            }
            if !live {
                return None;
            }
            loop {
                let ev = match until {
                    Some(u) => {
                        let wait = std::time::Duration::from_nanos((u - now).max(0) as u64);
                        match tokio::time::timeout(wait, rx.recv()).await {
                            Ok(r) => r,
                            Err(_) => return None,
                        }
                    }
                    None => rx.recv().await,
                };
                match ev {
                    Ok(ev) if until.is_some_and(|u| ev.time_nano > u) => return None,
                    Ok(ev) if matches(&filters, &ev) => {
                        return Some((framing::json_line(&ev), (replay, rx, filters, live)))
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(stream(Some("application/json"), body))
}
