use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Extension;
use berth_api::filters;
use berth_api::query::{self, flag, flag_or};
use berth_api::{framing, ApiVersion};
use berth_engine::container::{CreateRequest, ListOptions, LogOptions, WaitCondition};
use berth_engine::filters::Filters;
use berth_engine::Error;
use futures_util::StreamExt;
use serde_json::json;

use super::{empty, json, receiver_stream, stream, ApiResult};
use crate::server::AppState;

type Q = Query<HashMap<String, String>>;

pub async fn create(State(e): State<AppState>, Query(q): Q, body: Body) -> ApiResult {
    let data = crate::body::bytes(body, crate::body::MAX_JSON).await?;
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::invalid("Config cannot be empty in order to create a container").into());
    }
    let body = berth_api::create::decode(&data)?;
    if let Some(p) = query::string(&q, "platform") {
        let platform = berth_image::Platform::parse(p).map_err(berth_engine::Error::from)?;
        let image = body.config.image.as_deref().unwrap_or("");
        e.images.platform_check(image, &platform)?;
    }
    let (id, warnings) = e
        .containers
        .create(CreateRequest {
            name: q.get("name").cloned(),
            config: body.config,
            host_config: body.host_config.unwrap_or_default(),
            networking_config: body.networking_config.unwrap_or_default(),
        })
        .await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({"Id": id, "Warnings": warnings}),
    ))
}

pub async fn list(State(e): State<AppState>, Query(q): Q) -> ApiResult {
    let opts = ListOptions {
        all: flag(&q, "all"),
        limit: query::int(&q, "limit")?
            .filter(|l| *l > 0)
            .map(|l| l as usize),
        size: flag(&q, "size"),
        filters: Filters::from(filters::decode(q.get("filters").map(String::as_str))?),
    };
    Ok(json(StatusCode::OK, &e.containers.list(opts).await?))
}

pub async fn inspect(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let info = e.containers.inspect(&id, flag(&q, "size")).await?;
    Ok(json(StatusCode::OK, &info))
}

pub async fn remove(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    if flag(&q, "link") {
        // dockerd would remove a link, never the container; berth refuses
        // links at create, so there is none to remove.
        e.containers.status(&id)?;
        return Err(Error::invalid(
            "link: berth has no container links to remove (links are refused at create)",
        )
        .into());
    }
    e.containers.remove(&id, flag(&q, "force")).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn start(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> ApiResult {
    // An empty JSON object is at most 7 bytes with whitespace; dockerd
    // refuses anything longer, and a body of unknown length.
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if length.is_some_and(|n| n > 7) || (length.is_none() && chunked) {
        return Err(Error::invalid(
            "starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24",
        )
        .into());
    }
    if query::string(&q, "checkpoint").is_some() {
        return Err(Error::invalid("checkpoint is only supported in experimental mode").into());
    }
    e.containers.start(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn stop(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let (t, signal) = (query::int(&q, "t")?, query::string(&q, "signal"));
    e.containers.stop(&id, t, signal).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn restart(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let (t, signal) = (query::int(&q, "t")?, query::string(&q, "signal"));
    e.containers.restart(&id, t, signal).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn kill(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    e.containers.kill(&id, query::string(&q, "signal")).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn pause(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.containers.pause(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn unpause(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    e.containers.unpause(&id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn rename(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let name = query::string(&q, "name").ok_or_else(|| Error::invalid("name is required"))?;
    e.containers.rename(&id, name)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn resize(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let h = query::int(&q, "h")?.unwrap_or(0);
    let w = query::int(&q, "w")?.unwrap_or(0);
    e.containers.resize(&id, h, w)?;
    Ok(empty(StatusCode::OK))
}

pub async fn top(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let top = e.containers.top(&id, query::string(&q, "ps_args")).await?;
    Ok(json(StatusCode::OK, &top))
}

/// Long-poll: the headers go out at once, the body when the condition holds.
pub async fn wait(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let condition = WaitCondition::parse(query::string(&q, "condition"))?;
    let done = e.containers.wait(&id, condition)?;
    let body = futures_util::stream::once(async move {
        let code = done.await;
        tracing::debug!(code, "wait answered");
        framing::json_line(&json!({"Error": null, "StatusCode": code}))
    });
    Ok(stream(Some("application/json"), body))
}

pub async fn logs(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    Query(q): Q,
) -> ApiResult {
    let opts = LogOptions {
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        follow: flag(&q, "follow"),
        tail: match query::string(&q, "tail") {
            None | Some("all") => None,
            // dockerd shows everything for a negative or unreadable count.
            Some(n) => n
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(|n| n as usize),
        },
        since: query::unix_nanos(&q, "since")?.filter(|s| *s > 0),
        until: query::unix_nanos(&q, "until")?.filter(|u| *u > 0),
        timestamps: flag_or(&q, "timestamps", false),
        details: flag(&q, "details"),
    };
    if !opts.stdout && !opts.stderr {
        return Err(Error::invalid("Bad parameters: you must choose at least one stream").into());
    }
    let (tty, rx) = e.containers.logs(&id, opts).await?;
    let body = receiver_stream(rx).map(move |c| framing::frame_output(tty, c.stream, &c.data));
    let ct = version
        .at_least(1, 42)
        .then(|| framing::stream_content_type(version, tty));
    Ok(stream(ct, body))
}

/// `stream=1` (the default): one object at once, then one per second
/// until the container stops. `stream=0` answers at once: the engine keeps
/// the previous sample for `precpu_stats` instead of sleeping for a second.
pub async fn stats(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let mut first = e.containers.stats(&id)?;
    if !query::flag_or(&q, "stream", true) {
        // `one-shot`: dockerd skips its second sample and leaves
        // `precpu_stats` empty; berth drops the one it kept.
        if flag(&q, "one-shot") {
            first.precpu_stats = Default::default();
        }
        return Ok(json(StatusCode::OK, &first));
    }
    let id = first.id.clone();
    let containers = e.containers.clone();
    let body = futures_util::stream::unfold((Some(first), false), move |(next, done)| {
        let containers = containers.clone();
        let id = id.clone();
        async move {
            if done {
                return None;
            }
            let stats = match next {
                Some(s) => s,
                None => {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    containers.stats(&id).ok()?
                }
            };
            // A stopped container gets one empty object, then the end.
            let done = !containers.status(&id).is_ok_and(|s| s.is_live());
            Some((framing::json_line(&stats), (None, done)))
        }
    });
    Ok(stream(Some("application/json"), body))
}

pub async fn prune(State(e): State<AppState>, Query(q): Q) -> ApiResult {
    let filters = Filters::from(filters::decode(q.get("filters").map(String::as_str))?);
    Ok(json(StatusCode::OK, &e.containers.prune(filters).await?))
}

/// `GET /containers/{id}/changes`: `[{"Path":…,"Kind":0|1|2}]`.
pub async fn changes(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let list: Vec<serde_json::Value> = e
        .containers
        .changes(&id)
        .await?
        .into_iter()
        .map(|c| json!({"Path": c.path, "Kind": c.kind.as_u8()}))
        .collect();
    Ok(json(StatusCode::OK, &list))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=`,
/// with an optional config body; `changes` may repeat.
pub async fn commit(
    State(e): State<AppState>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    body: Body,
) -> ApiResult {
    let mut q: HashMap<String, String> = HashMap::new();
    let mut changes = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if k == "changes" {
            if !v.is_empty() {
                changes.push(v.into_owned());
            }
        } else {
            q.insert(k.into_owned(), v.into_owned());
        }
    }
    let container = query::string(&q, "container")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid("No container name or ID supplied"))?
        .to_string();
    let config: Option<serde_json::Value> = crate::body::json(body).await?;
    let opts = berth_engine::container::CommitOptions {
        repo: query::string(&q, "repo").unwrap_or("").to_string(),
        tag: query::string(&q, "tag").unwrap_or("").to_string(),
        comment: query::string(&q, "comment").unwrap_or("").to_string(),
        author: query::string(&q, "author").unwrap_or("").to_string(),
        changes,
        pause: flag_or(&q, "pause", true),
        config,
    };
    let id = e.containers.commit(&container, opts).await?;
    Ok(json(StatusCode::CREATED, &json!({ "Id": id })))
}

/// `POST /containers/{id}/update` → `{"Warnings":null}`.
pub async fn update(State(e): State<AppState>, Path(id): Path<String>, body: Body) -> ApiResult {
    let body: Option<serde_json::Value> = crate::body::json(body).await?;
    let req = match body {
        Some(v) => berth_engine::container::UpdateRequest::from_json(v)?,
        None => Default::default(),
    };
    e.containers.update(&id, req).await?;
    Ok(json(StatusCode::OK, &json!({ "Warnings": null })))
}
