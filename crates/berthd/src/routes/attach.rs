//! `POST /containers/{id}/attach`: hijack the connection (101 UPGRADED when
//! the client asks for `Upgrade: tcp`), then pump stdin up and output down.
//! A half-close from the client only ends stdin; the stream ends when the
//! process exits.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Extension;
use berth_api::query::flag;
use berth_api::{framing, ApiVersion};
use berth_engine::container::{Attach, AttachOptions, Output};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

use super::ApiResult;
use crate::server::AppState;

pub async fn attach(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    Query(q): Query<HashMap<String, String>>,
    mut req: Request<Body>,
) -> ApiResult {
    let opts = AttachOptions {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        stream: flag(&q, "stream"),
        logs: flag(&q, "logs"),
    };
    let attach = e.containers.attach(&id, opts).await?;
    let content_type = framing::stream_content_type(version, attach.tty);
    let wants_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("tcp"));
    if !wants_upgrade {
        // No hijack possible: send the output as a plain streamed body.
        let (mut sink, source) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            pump_output(&mut sink, attach, opts).await;
        });
        let body = tokio_util::io::ReaderStream::new(source)
            .filter_map(|chunk: std::io::Result<Bytes>| std::future::ready(chunk.ok()));
        let mut resp = super::stream(None, body);
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        return Ok(resp);
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => run(TokioIo::new(upgraded), attach, opts).await,
            Err(err) => tracing::debug!("attach upgrade failed: {err}"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    Ok(resp)
}

async fn run<S: AsyncRead + AsyncWrite + Send + 'static>(
    io: S,
    mut attach: Attach,
    opts: AttachOptions,
) {
    let (mut rd, mut wr) = tokio::io::split(io);
    let stdin_task = attach.stdin.take().map(|writer| {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        writer.eof();
                        return;
                    }
                    Ok(n) => writer.write(&buf[..n]),
                }
            }
        })
    });
    pump_output(&mut wr, attach, opts).await;
    let _ = wr.shutdown().await;
    tracing::trace!("attach stream closed");
    if let Some(t) = stdin_task {
        t.abort();
    }
}

/// Writes replayed then live output until the process exits.
async fn pump_output<W: AsyncWrite + Unpin>(wr: &mut W, attach: Attach, opts: AttachOptions) {
    let tty = attach.tty;
    for chunk in &attach.replay {
        if wr
            .write_all(&framing::frame_output(tty, chunk.stream, &chunk.data))
            .await
            .is_err()
        {
            return;
        }
    }
    let Some(mut rx) = attach.output else { return };
    loop {
        let frame = match rx.recv().await {
            Ok(Output::Stdout(b)) if opts.stdout => framing::frame_output(tty, framing::STDOUT, &b),
            Ok(Output::Stderr(b)) if opts.stderr => framing::frame_output(tty, framing::STDERR, &b),
            Ok(Output::Exit(_)) | Err(RecvError::Closed) => return,
            Ok(_) => continue,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(id = %attach.id, "attach client too slow, {n} output chunks dropped");
                continue;
            }
        };
        if wr.write_all(&frame).await.is_err() {
            return;
        }
    }
}
