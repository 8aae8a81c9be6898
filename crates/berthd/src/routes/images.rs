//! Image routes. Image references contain `/` and `:`, so `/images/{*rest}`
//! is matched from the right (`/json`, `/history`, `/get`, `/tag`, `/push`).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use berth_api::filters;
use berth_api::framing;
use berth_api::query::{self, flag};
use berth_engine::distribution::{AuthConfig, Progress};
use berth_engine::filters::Filters;
use berth_engine::Error;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;

use super::{empty, json, receiver_stream, stream, ApiResult};
use crate::server::AppState;

type Q = Query<HashMap<String, String>>;

/// The request body as a blocking reader for the image store.
fn body_reader(body: Body) -> impl std::io::Read + Send + 'static {
    crate::body::stream_reader(body)
}

/// A blocking writer whose bytes become a streamed response body.
struct ChannelWriter(tokio::sync::mpsc::Sender<Bytes>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn list(State(e): State<AppState>, Query(q): Q) -> ApiResult {
    let filters = Filters::from(filters::decode(q.get("filters").map(String::as_str))?);
    Ok(json(
        StatusCode::OK,
        &e.images
            .list(flag(&q, "all"), flag(&q, "shared-size"), filters)
            .await?,
    ))
}

pub async fn load(
    State(e): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Body,
) -> ApiResult {
    let quiet = query::flag(&q, "quiet");
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let reader = body_reader(body);
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let layer_tx = tx.clone();
        let result = e
            .images
            .load(
                Box::new(reader),
                Box::new(move |line: &str| {
                    let _ = progress_tx
                        .blocking_send(framing::json_line(&json!({"stream": format!("{line}\n")})));
                }),
                // Without `quiet`, dockerd reports each layer as it loads;
                // berth unpacks a layer in one pass and reports it done.
                Box::new(move |id: &str, size: u64| {
                    if !quiet {
                        let _ = layer_tx.blocking_send(framing::json_line(&json!({
                            "status": "Loading layer",
                            "progressDetail": {"current": size, "total": size},
                            "id": id,
                        })));
                    }
                }),
            )
            .await;
        if let Err(err) = result {
            let _ = tx.send(framing::json_error(&err.message)).await;
        }
    });
    Ok(stream(Some("application/json"), receiver_stream(rx)))
}

fn names_from(raw: Option<&str>) -> Vec<String> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "names")
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub async fn save(State(e): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult {
    save_names(e, names_from(raw.as_deref())).await
}

async fn save_names(e: AppState, names: Vec<String>) -> ApiResult {
    e.images.check(&names).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        if let Err(err) = e.images.save(names, Box::new(ChannelWriter(tx))).await {
            tracing::warn!("save failed mid-stream: {err}");
        }
    });
    Ok(stream(Some("application/x-tar"), receiver_stream(rx)))
}

/// `POST /images/create`: `fromSrc` imports a rootfs tar; `fromImage` pulls.
pub async fn create(
    State(e): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    if let Some(src) = get("fromSrc") {
        if src != "-" {
            return Err(Error::invalid("importing from a URL is not supported; send the tar as the request body (fromSrc=-)").into());
        }
        let reference = get("repo").map(|repo| match get("tag") {
            Some(tag) => format!("{repo}:{tag}"),
            None => repo,
        });
        let changes: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "changes")
            .map(|(_, v)| v.clone())
            .collect();
        let message = get("message").unwrap_or_default();
        let platform = get("platform")
            .map(|p| berth_image::Platform::parse(&p))
            .transpose()
            .map_err(berth_engine::Error::from)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let reader = body_reader(body);
        tokio::spawn(async move {
            let line = match e
                .images
                .import(Box::new(reader), reference, changes, message, platform)
                .await
            {
                Ok(id) => framing::json_line(&json!({"status": id})),
                Err(err) => framing::json_error(&err.message),
            };
            let _ = tx.send(line).await;
        });
        return Ok(stream(Some("application/json"), receiver_stream(rx)));
    }
    if let Some(image) = get("fromImage") {
        let reference = berth_engine::distribution::pull_reference(&image, get("tag").as_deref())?;
        let platform = get("platform")
            .map(|p| berth_image::Platform::parse(&p))
            .transpose()
            .map_err(berth_engine::Error::from)?;
        let auth = registry_auth(&headers)?;
        return progress_stream(move |progress| async move {
            e.images.pull(reference, platform, auth, progress).await
        })
        .await;
    }
    Err(Error::invalid("fromSrc or fromImage is required").into())
}

/// `POST /auth`: the body is docker's AuthConfig.
pub async fn auth(State(e): State<AppState>, body: Bytes) -> ApiResult {
    let auth: AuthConfig = serde_json::from_slice(&body)
        .map_err(|err| Error::invalid(format!("invalid auth configuration: {err}")))?;
    Ok(json(StatusCode::OK, &e.images.login(auth).await?))
}

/// `GET /distribution/{name}/json`.
pub async fn distribution(
    State(e): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let Some(name) = rest.strip_suffix("/json") else {
        return Err(Error::not_found("page not found").into());
    };
    let auth = registry_auth(&headers)?;
    Ok(json(
        StatusCode::OK,
        &e.images.distribution_inspect(name, auth).await?,
    ))
}

/// `GET /images/search`: berth knows no index to search.
pub async fn search() -> ApiResult {
    Err(Error::not_implemented(
        "search is not supported: berth has no registry index configured to search",
    )
    .into())
}

/// `X-Registry-Auth`: docker's base64url JSON auth config, or none.
fn registry_auth(headers: &HeaderMap) -> Result<Option<AuthConfig>, Error> {
    match headers.get("x-registry-auth") {
        None => Ok(None),
        Some(v) => AuthConfig::from_header(
            v.to_str()
                .map_err(|_| Error::invalid("invalid X-Registry-Auth header"))?,
        ),
    }
}

/// Runs `work`, which reports progress messages, as a JSON message
/// stream. Like dockerd, the status is decided by the first write: an
/// error before any message is an HTTP error; one after ends the stream
/// with an error message.
async fn progress_stream<F, Fut>(work: F) -> ApiResult
where
    F: FnOnce(Progress) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    // Only the work holds the sender: the channel ends when the work does.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let progress: Progress = std::sync::Arc::new(move |v: serde_json::Value| {
        let _ = tx.send(framing::json_line(&v));
    });
    let task = tokio::spawn(work(progress));
    let Some(first) = rx.recv().await else {
        // Nothing was said: the work is over, and its result is the answer.
        task.await.map_err(|e| Error::system(e.to_string()))??;
        return Ok(stream(
            Some("application/json"),
            futures_util::stream::empty(),
        ));
    };
    let rest =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) });
    let outcome = futures_util::stream::once(async move {
        match task.await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(framing::json_error(&err.message)),
            Err(err) => Some(framing::json_error(&err.to_string())),
        }
    })
    .filter_map(|line| async move { line });
    Ok(stream(
        Some("application/json"),
        futures_util::stream::once(async move { first })
            .chain(rest)
            .chain(outcome),
    ))
}

fn split_suffix<'a>(rest: &'a str, suffixes: &[&'a str]) -> Option<(&'a str, &'a str)> {
    suffixes
        .iter()
        .find_map(|s| rest.strip_suffix(&format!("/{s}")).map(|name| (name, *s)))
}

pub async fn by_name_get(State(e): State<AppState>, Path(rest): Path<String>) -> ApiResult {
    match split_suffix(&rest, &["json", "history", "get"]) {
        Some((name, "json")) => Ok(json(StatusCode::OK, &e.images.inspect(name).await?)),
        Some((name, "history")) => Ok(json(StatusCode::OK, &e.images.history(name).await?)),
        Some((name, "get")) => save_names(e, vec![name.to_string()]).await,
        _ => Err(Error::not_found("page not found").into()),
    }
}

pub async fn by_name_post(
    State(e): State<AppState>,
    Path(rest): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> ApiResult {
    match split_suffix(&rest, &["tag", "push"]) {
        Some((name, "tag")) => {
            let repo =
                query::string(&q, "repo").ok_or_else(|| Error::invalid("repo is required"))?;
            // No `tag` keeps a tag given inside `repo` (`repo:v1`).
            let tag = query::string(&q, "tag").unwrap_or("");
            e.images.tag(name, repo, tag).await?;
            Ok(empty(StatusCode::CREATED))
        }
        Some((name, "push")) => {
            if query::string(&q, "platform").is_some() {
                return Err(Error::invalid(
                    "platform: pushing one platform of an image is not supported yet",
                )
                .into());
            }
            let name = name.to_string();
            let tag = query::string(&q, "tag").map(str::to_string);
            let auth = registry_auth(&headers)?;
            progress_stream(move |progress| async move {
                e.images.push(&name, tag.as_deref(), auth, progress).await
            })
            .await
        }
        _ => Err(Error::not_found("page not found").into()),
    }
}

pub async fn remove(State(e): State<AppState>, Path(name): Path<String>, Query(q): Q) -> ApiResult {
    Ok(json(
        StatusCode::OK,
        &e.images.remove(&name, flag(&q, "force")).await?,
    ))
}

pub async fn prune(
    axum::extract::State(e): axum::extract::State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> ApiResult {
    let filters = Filters::from(filters::decode(q.get("filters").map(String::as_str))?);
    Ok(super::json(
        axum::http::StatusCode::OK,
        &e.images.prune(filters).await?,
    ))
}
