//! One connection to a shim, as two tasks: a writer that sends queued
//! frames, and a reader that parses what the shim sends into frames. The
//! container's connection and each exec's consume the frames in order; a
//! slow consumer makes the reader wait (the shim then queues, and drops
//! a client that stops reading altogether).

use berth_shim::protocol::take_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::seams::ShimConn;

/// Frames parsed ahead of their consumer.
const FRAMES_AHEAD: usize = 64;

pub(super) struct ShimIo {
    /// Frames to the shim; the writer ends when every sender is gone.
    pub tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Frames from the shim (kind, payload); `None` once the shim closed
    /// the connection or broke the protocol.
    pub frames: mpsc::Receiver<(u8, Vec<u8>)>,
}

pub(super) fn spawn(conn: ShimConn, what: String) -> ShimIo {
    let ShimConn { mut rd, mut wr } = conn;
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (frames_tx, frames) = mpsc::channel(FRAMES_AHEAD);
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
        // Nobody will send again: the shim reads the end of this client
        // (what dropping a unix socket's write half does too).
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            loop {
                match take_frame(&mut buf) {
                    Ok(Some(f)) => {
                        if frames_tx.send(f).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(len) => {
                        tracing::warn!("{what}: the shim sent an oversized frame ({len} bytes)");
                        return;
                    }
                }
            }
        }
    });
    ShimIo { tx, frames }
}
