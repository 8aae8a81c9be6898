//! Attach: live output of a container and a writer for its stdin. Stdin that
//! arrives before the shim exists (docker run -i sends it before start) is
//! buffered and delivered, in order, once the shim is connected.

use std::sync::Arc;

use berth_shim::protocol::{self, frame};
use bytes::Bytes;
use tokio::sync::broadcast;

use super::logs::{LogChunk, LogOptions};
use super::{Container, ContainerService};
use crate::error::Result;
use crate::locks::IgnorePoison;

/// Stdin bytes accepted before start; beyond this they are dropped.
const MAX_PENDING_STDIN: usize = 1 << 20;

#[derive(Debug, Clone)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
    /// The process exited with this code; no more output follows.
    Exit(i64),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AttachOptions {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub stream: bool,
    pub logs: bool,
}

pub struct Attach {
    pub id: String,
    pub tty: bool,
    /// Past output (with `logs=1`), to be sent before the live output.
    pub replay: Vec<LogChunk>,
    /// Live output until the next exit (with `stream=1`); with stdin only,
    /// it carries just the exit.
    pub output: Option<broadcast::Receiver<Output>>,
    pub stdin: Option<StdinWriter>,
}

/// Writes to a container's stdin from an attached client.
pub struct StdinWriter {
    container: Arc<Container>,
    /// Close the container's stdin when this client's input ends.
    close_on_eof: bool,
}

impl StdinWriter {
    pub fn write(&self, data: &[u8]) {
        let mut pending = self.container.pending_stdin.locked();
        if pending.close {
            return;
        }
        if pending.data.len() + data.len() <= MAX_PENDING_STDIN {
            pending.data.extend_from_slice(data);
        }
        flush_locked(&self.container, &mut pending);
    }

    /// Whether the end of this client's input closes the container's stdin
    /// (docker: `StdinOnce` without a TTY).
    pub fn closes_on_eof(&self) -> bool {
        self.close_on_eof
    }

    /// The client's input ended (half-close or hang-up).
    pub fn eof(&self) {
        if !self.close_on_eof {
            return;
        }
        let mut pending = self.container.pending_stdin.locked();
        pending.close = true;
        flush_locked(&self.container, &mut pending);
    }
}

fn flush_locked(c: &Container, pending: &mut super::PendingStdin) {
    if !pending.data.is_empty() {
        let f = frame(protocol::STDIN, &pending.data);
        if !c.send_to_shim(f) {
            return;
        }
        pending.data.clear();
    }
    if pending.close {
        c.send_to_shim(frame(protocol::CLOSE_STDIN, b""));
    }
}

impl ContainerService {
    pub async fn attach(self: &Arc<Self>, name_or_id: &str, opts: AttachOptions) -> Result<Attach> {
        let c = self.get(name_or_id)?;
        let rec = c.snapshot();
        let open_stdin = rec.config.open_stdin.unwrap_or(false);
        let with_stdin = opts.stdin && open_stdin;
        // Subscribed before the logs are read, so that no output falls in
        // between; a stdin-only stream follows the container to its exit.
        let output = (opts.stream && (opts.stdout || opts.stderr || with_stdin))
            .then(|| c.output.subscribe());
        let replay = if opts.logs {
            let log_opts = LogOptions {
                stdout: opts.stdout,
                stderr: opts.stderr,
                ..LogOptions::default()
            };
            self.read_logs(&c, &log_opts).await?
        } else {
            Vec::new()
        };
        let stdin = with_stdin.then(|| {
            // A new client gets a fresh stdin unless the previous one closed it for good.
            if c.status() == super::Status::Created || c.status() == super::Status::Exited {
                let mut pending = c.pending_stdin.locked();
                pending.close = false;
            }
            StdinWriter {
                container: c.clone(),
                close_on_eof: rec.config.stdin_once.unwrap_or(false) && !rec.tty(),
            }
        });
        self.event(&rec, "attach", &[]);
        Ok(Attach {
            id: c.id.clone(),
            tty: rec.tty(),
            replay,
            output,
            stdin,
        })
    }

    /// Called right after START: hands buffered stdin to the shim.
    pub(super) fn flush_pending_stdin(&self, c: &Container) {
        let mut pending = c.pending_stdin.locked();
        flush_locked(c, &mut pending);
    }
}

impl ContainerService {
    /// Sets the terminal size of a running container (`docker run -t`).
    pub fn resize(&self, name_or_id: &str, height: i64, width: i64) -> Result<()> {
        let c = self.get(name_or_id)?;
        if !c.status().is_live() {
            return Err(crate::Error::conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let mut payload = Vec::with_capacity(4);
        payload.extend_from_slice(&(height.clamp(0, u16::MAX as i64) as u16).to_be_bytes());
        payload.extend_from_slice(&(width.clamp(0, u16::MAX as i64) as u16).to_be_bytes());
        c.send_to_shim(frame(protocol::RESIZE, &payload));
        Ok(())
    }
}
