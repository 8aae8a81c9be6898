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
