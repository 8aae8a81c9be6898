//! Exec: `POST /containers/{id}/exec`, `POST /exec/{id}/start` (detached, or
//! hijacked like attach), `POST /exec/{id}/resize`, `GET /exec/{id}/json`.
//! A start that fails in the runtime still answers 101, then writes the
//! error into the stream, as dockerd does: the docker CLI prints it and
//! takes the exit code (126 or 127) from the exec's inspect.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{Request, StatusCode};
use axum::Extension;
use berth_api::models::{ExecConfig, ExecStartConfig};
use berth_api::{framing, query, ApiVersion};
use berth_engine::container::{console_size, ExecSession, ExecSpec, Output};
use serde_json::json;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::hijack::{self, InputEnd};
use super::{empty, json, ApiResult};
use crate::server::AppState;

type Q = Query<HashMap<String, String>>;

pub async fn create(State(e): State<AppState>, Path(id): Path<String>, body: Body) -> ApiResult {
    let config: ExecConfig = crate::body::json(body).await?.unwrap_or_default();
    let spec = ExecSpec::from_api(config);
    hijack::detach_keys(Some(&spec.detach_keys))?;
    let exec_id = e.exec.create_exec(&id, spec)?;
    Ok(json(StatusCode::CREATED, &json!({ "Id": exec_id })))
}

pub async fn inspect(State(e): State<AppState>, Path(id): Path<String>) -> ApiResult {
    Ok(json(StatusCode::OK, &e.exec.inspect_exec(&id)?))
}

pub async fn resize(State(e): State<AppState>, Path(id): Path<String>, Query(q): Q) -> ApiResult {
    let h = query::int(&q, "h")?.unwrap_or(0);
    let w = query::int(&q, "w")?.unwrap_or(0);
    e.exec.resize_exec(&id, h, w)?;
    Ok(empty(StatusCode::OK))
}

pub async fn start(
    State(e): State<AppState>,
    Path(id): Path<String>,
    Extension(version): Extension<ApiVersion>,
    mut req: Request<Body>,
) -> ApiResult {
    let body = std::mem::take(req.body_mut());
    let start: ExecStartConfig = crate::body::json(body).await?.unwrap_or_default();
    // dockerd frames by the start request's Tty, not the exec's: a client
    // that asks for a multiplexed stream gets one even from a pty process.
    let framed_tty = start.tty.unwrap_or(false);
    // No console size without a TTY, and none before API 1.42.
    let size = console_size(start.console_size.as_deref())
        .filter(|_| framed_tty && version.at_least(1, 42));
    let spec = e.exec.exec_spec(&id)?;
    if start.detach.unwrap_or(false) {
        drop(e.exec.start_exec(&id, size).await?);
        return Ok(empty(StatusCode::OK));
    }
    let tty = framed_tty;
    let keys = hijack::detach_keys(Some(&spec.detach_keys))?;
    let (stdout, stderr) = (spec.attach_stdout, spec.attach_stderr);
    // Without AttachStdin the client's half-close means nothing.
    let wants_input = spec.attach_stdin;
    let content_type = framing::stream_content_type(version, tty);
    let backend = e.exec.clone();
    Ok(hijack::respond(
        req,
        content_type,
        move |conn, has_input| async move {
            let (mut rd, mut wr) = tokio::io::split(conn);
            let session = match backend.start_exec(&id, size).await {
                Ok(s) => s,
                Err(err) => {
                    let text = format!("{}\r\n", err.message);
                    let _ = wr
                        .write_all(&framing::frame_output(
                            tty,
                            framing::STDOUT,
                            text.as_bytes(),
                        ))
                        .await;
                    let _ = wr.shutdown().await;
                    return;
                }
            };
            let input = has_input && wants_input;
            let streams = Streams {
                tty,
                stdout,
                stderr,
            };
            run(&mut rd, &mut wr, input, session, keys, streams).await;
            let _ = wr.shutdown().await;
        },
    ))
}

/// Which output the client gets, and how it is framed (raw with `tty`).
struct Streams {
    tty: bool,
    stdout: bool,
    stderr: bool,
}

async fn run<R, W>(
    rd: &mut R,
    wr: &mut W,
    has_input: bool,
    mut session: ExecSession,
    keys: Vec<u8>,
    Streams {
        tty: framed_tty,
        stdout,
        stderr,
    }: Streams,
) where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let tty = session.tty;
    let stdin = session.stdin;
    // dockerd: the end of the input closes the process's stdin unless the
    // process has a TTY (output goes on); with one, and on the detach keys,
    // it ends the stream and the process runs on.
    let input = async {
        if !has_input {
            return std::future::pending().await;
        }
        let end = hijack::copy_input(rd, keys, |data| stdin.write(data)).await;
        if end == InputEnd::Eof && !tty {
            stdin.close();
            return std::future::pending().await;
        }
        end
    };
    let output = async {
        while let Some(o) = session.output.recv().await {
            let frame = match o {
                Output::Stdout(b) if stdout => {
                    framing::frame_output(framed_tty, framing::STDOUT, &b)
                }
                Output::Stderr(b) if stderr => {
                    framing::frame_output(framed_tty, framing::STDERR, &b)
                }
                Output::Exit(_) => return,
                _ => continue,
            };
            if wr.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = output => {}
        end = input => tracing::debug!(exec = %session.id, ?end, "exec stream ended by the client"),
    }
}
