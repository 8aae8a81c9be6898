//! `POST /containers/{id}/attach`: hijack the connection, then pump stdin up
//! and output down. As in dockerd, the end of the client's input closes the
//! container's stdin only for a `StdinOnce` container without a TTY, and
//! the output keeps flowing; otherwise (and on the detach keys) it ends this
//! attach and leaves the container's stdin open for the next client.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::Request;
use axum::Extension;
use berth_api::query::flag;
use berth_api::{framing, ApiVersion};
use berth_engine::container::{Attach, AttachOptions, Output};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

use super::hijack::{self, Conn, InputEnd};
use super::ApiResult;
use crate::server::AppState;

pub async fn attach(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    Query(q): Query<HashMap<String, String>>,
    req: Request<Body>,
) -> ApiResult {
    let opts = AttachOptions {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        stream: flag(&q, "stream"),
        logs: flag(&q, "logs"),
    };
    let keys = hijack::detach_keys(q.get("detachKeys").map(String::as_str))?;
    let attach = e.containers.attach(&id, opts).await?;
    let content_type = framing::stream_content_type(version, attach.tty);
    Ok(hijack::respond(
        req,
        content_type,
        move |conn, has_input| run(conn, has_input, attach, opts, keys),
    ))
}

/// `GET /containers/{id}/attach/ws`: the same streams over a websocket,
/// raw (never multiplexed): output as binary messages from API 1.42 on
/// (text before, as dockerd does), input from any data message.
pub async fn attach_ws(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    Query(q): Query<HashMap<String, String>>,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> ApiResult {
    let opts = AttachOptions {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
        stream: flag(&q, "stream"),
        logs: flag(&q, "logs"),
    };
    let keys = hijack::detach_keys(q.get("detachKeys").map(String::as_str))?;
    let attach = e.containers.attach(&id, opts).await?;
    let binary = version.at_least(1, 42);
    Ok(ws.on_upgrade(move |socket| run_ws(socket, attach, opts, binary, keys)))
}

async fn run_ws(
    socket: axum::extract::ws::WebSocket,
    mut attach: Attach,
    opts: AttachOptions,
    binary: bool,
    keys: Vec<u8>,
) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};
    let (mut tx, mut rx) = socket.split();
    let stdin = attach.stdin.take();
    let input = async {
        let mut matcher = berth_term::DetachMatcher::new(keys);
        while let Some(Ok(msg)) = rx.next().await {
            let data = match msg {
                Message::Binary(b) => b,
                Message::Text(t) => bytes::Bytes::copy_from_slice(t.as_bytes()),
                Message::Close(_) => break,
                _ => continue,
            };
            let (forward, detached) = matcher.feed(&data);
            if let Some(w) = stdin.as_ref().filter(|_| !forward.is_empty()) {
                w.write(&forward);
            }
            if detached {
                // The detach keys end this attach; stdin stays open.
                return;
            }
        }
        if let Some(w) = stdin.as_ref().filter(|w| w.closes_on_eof()) {
            // The container's stdin is closed; its output goes on.
            w.eof();
            std::future::pending::<()>().await;
        }
    };
    let output = async {
        for chunk in &attach.replay {
            if send_ws(&mut tx, &chunk.data, binary).await.is_err() {
                return;
            }
        }
        let Some(mut out) = attach.output.take() else {
            return;
        };
        while let Some((_, data)) = next_output(&mut out, opts, &attach.id).await {
            if send_ws(&mut tx, &data, binary).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = output => {}
        _ = input => {}
    }
    let _ = tx.send(Message::Close(None)).await;
}

async fn send_ws<S>(tx: &mut S, data: &[u8], binary: bool) -> Result<(), axum::Error>
where
    S: futures_util::Sink<axum::extract::ws::Message, Error = axum::Error> + Unpin,
{
    use axum::extract::ws::Message;
    use futures_util::SinkExt;
    let msg = if binary {
        Message::Binary(bytes::Bytes::copy_from_slice(data))
    } else {
        Message::Text(String::from_utf8_lossy(data).into_owned().into())
    };
    tx.send(msg).await
}

async fn run(
    conn: Box<dyn Conn>,
    has_input: bool,
    mut attach: Attach,
    opts: AttachOptions,
    keys: Vec<u8>,
) {
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (end_tx, mut end_rx) = tokio::sync::oneshot::channel::<()>();
    let stdin_task = attach.stdin.take().filter(|_| has_input).map(|writer| {
        tokio::spawn(async move {
            let end = hijack::copy_input(&mut rd, keys, |data| writer.write(data)).await;
            if end == InputEnd::Eof && writer.closes_on_eof() {
                writer.eof();
                // The output goes on until the container exits.
                std::future::pending::<()>().await;
            }
            let _ = end_tx.send(());
        })
    });
    tokio::select! {
        _ = pump_output(&mut wr, attach, opts) => {}
        Ok(()) = &mut end_rx => tracing::debug!("attach ended by the client's input"),
    }
    let _ = wr.shutdown().await;
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
    while let Some((stream, data)) = next_output(&mut rx, opts, &attach.id).await {
        if wr
            .write_all(&framing::frame_output(tty, stream, &data))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The next chunk of live output the client asked for, with its stream
/// number; `None` once the container has exited.
async fn next_output(
    rx: &mut tokio::sync::broadcast::Receiver<Output>,
    opts: AttachOptions,
    id: &str,
) -> Option<(u8, bytes::Bytes)> {
    loop {
        match rx.recv().await {
            Ok(Output::Stdout(b)) if opts.stdout => return Some((framing::STDOUT, b)),
            Ok(Output::Stderr(b)) if opts.stderr => return Some((framing::STDERR, b)),
            Ok(Output::Exit(_)) | Err(RecvError::Closed) => return None,
            Ok(_) => {}
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(id, "attach client too slow, {n} output chunks dropped");
            }
        }
    }
}
