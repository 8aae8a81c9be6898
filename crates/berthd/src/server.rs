//! The HTTP/1.1 server: unix listeners, the version-prefix rewrite before
//! routing, docker's common response headers, and graceful shutdown.

use std::path::PathBuf;

use crate::error::ApiError;
use anyhow::{Context, Result};
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, Uri};
use axum::response::IntoResponse;
use berth_api::version::API_VERSION;
use berth_api::ApiVersion;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tower::Service;

pub async fn run(config: berth_engine::Config, sockets: Vec<PathBuf>) -> Result<()> {
    let engine = berth_engine::Engine::open(config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("opening the engine")?;
    let app = crate::routes::router(engine.backends());
    let mut listeners = Vec::new();
    for path in &sockets {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _ = std::fs::remove_file(path);
        let l =
            UnixListener::bind(path).with_context(|| format!("listen on {}", path.display()))?;
        tracing::info!("API listening on {}", path.display());
        listeners.push(l);
    }
    for l in listeners {
        tokio::spawn(accept_loop(l, app.clone()));
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down; containers keep running under their shims");
    for path in &sockets {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

async fn accept_loop(listener: UnixListener, app: axum::Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(app, req).await) }
            });
            // Title-case header names, as Go (dockerd) sends them: some
            // clients compare them case-sensitively.
            let _ = hyper::server::conn::http1::Builder::new()
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
            tracing::trace!("connection closed");
        });
    }
}

async fn handle(mut app: axum::Router, req: Request<Incoming>) -> Response<Body> {
    tracing::debug!(method = %req.method(), uri = %req.uri(), "request");
    let mut req = req.map(Body::new);
    let mut resp = match rewrite(&mut req) {
        Ok(()) => match app.call(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        Err(e) => e.into_response(),
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    resp
}

/// Strips `/vX.Y` and records the version for the handlers.
fn rewrite(req: &mut Request<Body>) -> Result<(), ApiError> {
    let (version, path) = berth_api::version::strip_prefix(req.uri().path())?;
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let uri: Uri = path_and_query
        .parse()
        .map_err(|_| berth_api::Error::invalid("invalid request URI"))?;
    *req.uri_mut() = uri;
    req.extensions_mut().insert::<ApiVersion>(version);
    Ok(())
}

/// One backend per API area; the routes see nothing else of the engine.
pub type AppState = berth_engine::backend::Backends;
