//! Attaching to a container over a hijacked connection: output to the local
//! stdout/stderr (demultiplexed without a TTY), local stdin up to the
//! container, half-close at stdin EOF, detach keys and raw mode with a TTY.

use anyhow::Result;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;

use crate::client::{path_segment, Client, Hijacked, Query};
use berth_term as detach;

use crate::stream::{stdin, terminal};
use berth_api::framing;

/// Which streams to attach and how.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    /// `--detach-keys` (docker's default ctrl-p,ctrl-q when empty).
    pub detach_keys: String,
}

/// How the attached session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The daemon closed the stream (the container's output is done).
    Eof,
    /// The user typed the detach sequence.
    Detached,
}

/// `POST /containers/{id}/attach?stream=1&stdin=..&stdout=..&stderr=..`,
/// upgraded to a raw stream.
pub async fn open(client: &Client, id: &str, opts: &AttachOptions) -> Result<Hijacked> {
    let query = Query::new()
        .flag("stream", true)
        .flag("stdin", opts.stdin)
        .flag("stdout", opts.stdout)
        .flag("stderr", opts.stderr)
        .set_nonempty("detachKeys", &opts.detach_keys);
    client
        .hijack(&format!("/containers/{}/attach", path_segment(id)), &query)
        .await
}

/// Streams in both directions until the output ends or the user detaches.
/// With a TTY and a terminal on stdin, the terminal is in raw mode meanwhile.
pub fn spawn(conn: Hijacked, opts: AttachOptions) -> JoinHandle<Result<StreamEnd>> {
    tokio::spawn(async move {
        let raw = if opts.stdin && opts.tty && terminal::stdin_is_tty() {
            terminal::RawMode::enable().ok()
        } else {
            None
        };
        let (reader, writer) = tokio::io::split(conn);
        let output = tokio::spawn(copy_output(reader, opts.tty));
        let input = tokio::spawn(copy_input(writer, opts.clone()));
        let result = tokio::select! {
            out = output => match out {
                Ok(r) => r.map(|_| StreamEnd::Eof),
                Err(e) => Err(anyhow::anyhow!(e)),
            },
            inp = wait_detach(input) => Ok(inp),
        };
        drop(raw);
        result
    })
}

/// Resolves only when the input side detached; input EOF keeps waiting so the
/// output can finish.
async fn wait_detach(input: JoinHandle<bool>) -> StreamEnd {
    match input.await {
        Ok(true) => StreamEnd::Detached,
        _ => std::future::pending().await,
    }
}

async fn copy_output(reader: ReadHalf<Hijacked>, tty: bool) -> Result<()> {
    let mut stdout = std::io::stdout();
    if tty {
        framing::raw_copy(reader, &mut stdout).await?;
    } else {
        let mut stderr = std::io::stderr();
        framing::demux_copy(reader, &mut stdout, &mut stderr).await?;
    }
    Ok(())
}

/// Copies local stdin up; returns true if the detach sequence was typed.
async fn copy_input(mut writer: WriteHalf<Hijacked>, opts: AttachOptions) -> bool {
    if !opts.stdin {
        let _ = writer.shutdown().await;
        return false;
    }
    let keys = if opts.detach_keys.is_empty() {
        detach::DEFAULT_KEYS.to_vec()
    } else {
        detach::parse_keys(&opts.detach_keys).unwrap_or_else(|_| detach::DEFAULT_KEYS.to_vec())
    };
    // docker only watches for the detach sequence with a TTY
    let mut matcher = detach::DetachMatcher::new(if opts.tty { keys } else { Vec::new() });
    let mut rx = stdin::spawn_reader();
    while let Some(chunk) = rx.recv().await {
        let (data, detached) = matcher.feed(&chunk);
        if !data.is_empty() && writer.write_all(&data).await.is_err() {
            return false;
        }
        let _ = writer.flush().await;
        if detached {
            return true;
        }
    }
    let _ = writer.shutdown().await;
    false
}
