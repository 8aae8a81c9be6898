//! Spawning a container's shim and the one task per live container that
//! holds the connection to it.

use std::fs;
use std::sync::Arc;

use berth_shim::exit_record::ExitRecord;
use berth_shim::protocol::{self, frame};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::logopts::LogDriver;
use super::record::ContainerRecord;
use super::seams::{LogFile, ShimConn, ShimLaunch};
use super::stdio::Output;
use super::{Container, ContainerService};
use crate::error::{Error, Result};
use crate::locks::IgnorePoison;

type StartReply = oneshot::Sender<std::result::Result<i64, String>>;

/// What the connection task answers when the shim replies.
pub(super) enum Pending {
    Nothing,
    /// The START sent right after connecting.
    Start(StartReply),
    /// The STATUS_REQ of a reconnect: the shim's status text.
    Status(oneshot::Sender<String>),
}

impl ContainerService {
    /// Spawns the shim, connects, subscribes, starts the process and
    /// delivers stdin that arrived before the start.
    pub(super) async fn spawn_shim_and_start(
        self: &Arc<Self>,
        c: &Arc<Container>,
        rec: &ContainerRecord,
    ) -> Result<i64> {
        let socket_dir = self.config.exec_root.join("shims");
        fs::create_dir_all(&socket_dir)?;
        let memory_limited = rec.host_config.memory.unwrap_or(0) > 0;
        let pid_file = c.paths.bundle.join("init.pid");
        // Next to the shim's own socket: sun_path is short.
        let console_socket = rec.tty().then(|| c.paths.socket.with_extension("tty"));
        // Without a log path the shim keeps no log (the none driver).
        let log = match LogDriver::of(&rec.host_config) {
            LogDriver::JsonFile(rotation) => Some(LogFile {
                path: c.paths.log(&c.id),
                max_size: rotation.max_size,
                max_files: rotation.max_files,
            }),
            _ => None,
        };
        // v1 counts OOM kills only under a memory limit; v2 always.
        let oom_file = (memory_limited || self.config.cgroup_version() == 2)
            .then(|| self.cgroup_of(rec).map(|cg| cg.oom_events_file()))
            .flatten();
        let launch = ShimLaunch {
            start_argv: self.runtime.run_detached_argv(
                &c.id,
                &c.paths.bundle,
                &pid_file,
                console_socket.as_deref(),
            ),
            delete_argv: self.runtime.delete_argv(&c.id),
            runtime_log: self.runtime.log_file(&c.paths.bundle),
            pid_file,
            socket: c.paths.socket.clone(),
            exit_file: c.paths.exit_file(),
            console_socket,
            log,
            oom_file,
            stdin: rec.config.open_stdin.unwrap_or(false),
        };
        self.shims.spawn(&launch).await?;
        berth_store::crash_point!("start.shim-spawned");
        tracing::debug!(id = %crate::ids::short(&c.id), "shim ready");
        let conn = self
            .shims
            .connect(&c.paths.socket)
            .await
            .map_err(|e| Error::system(format!("connect to shim: {e}")))?;
        berth_store::crash_point!("start.shim-connected");
        let (tx_started, rx_started) = oneshot::channel();
        let tx = self.connect(c, conn, Pending::Start(tx_started));
        let _ = tx.send(frame(protocol::START, b""));
        // The client's terminal size at create (`ConsoleSize`): the shim
        // handles frames in order, so the pty exists when this arrives.
        if let Some((rows, cols)) = rec
            .tty()
            .then(|| super::console_size(rec.host_config.console_size.as_deref()))
            .flatten()
        {
            let mut size = rows.to_be_bytes().to_vec();
            size.extend_from_slice(&cols.to_be_bytes());
            let _ = tx.send(frame(protocol::RESIZE, &size));
        }
        self.flush_pending_stdin(c);
        berth_store::crash_point!("start.requested");
        match rx_started.await {
            Ok(Ok(pid)) => Ok(pid),
            Ok(Err(msg)) => Err(Error::invalid(format!(
                "failed to create shim task: OCI runtime create failed: {}: unknown",
                runtime_message(&msg)
            ))),
            Err(_) => Err(Error::system("shim exited during start")),
        }
    }

    /// Starts the connection task and returns the sender of frames to the shim.
    fn connect(
        self: &Arc<Self>,
        c: &Arc<Container>,
        conn: ShimConn,
        pending: Pending,
    ) -> mpsc::UnboundedSender<Vec<u8>> {
        let io = super::shim_io::spawn(conn, format!("container {}", crate::ids::short(&c.id)));
        let tx = io.tx.clone();
        let _ = tx.send(frame(protocol::ATTACH, b""));
        *c.shim.locked() = Some(tx.clone());
        let svc = self.clone();
        let c = c.clone();
        let mut frames = io.frames;
        drop(io.tx);
        tokio::spawn(async move {
            let mut pending = pending;
            while let Some((kind, payload)) = frames.recv().await {
                on_frame(&svc, &c, kind, payload, &mut pending);
            }
            svc.on_shim_gone(&c).await;
        });
        tx
    }

    /// After a daemon restart: reattach to the container's shim and return
    /// its status (`None` if it did not answer in time; its answer is still
    /// acted on when it comes), or `Err` if no shim is there.
    pub(super) async fn reconnect(
        self: &Arc<Self>,
        c: &Arc<Container>,
    ) -> std::io::Result<Option<String>> {
        let conn = self.shims.connect(&c.paths.socket).await?;
        let (status_tx, status_rx) = oneshot::channel();
        let tx = self.connect(c, conn, Pending::Status(status_tx));
        let _ = tx.send(frame(protocol::STATUS_REQ, b""));
        drop(tx);
        // A shim busy starting the container answers once the runtime is done.
        match tokio::time::timeout(STATUS_WAIT, status_rx).await {
            Ok(Ok(status)) => Ok(Some(status)),
            _ => Ok(None),
        }
    }

    /// The shim's answer to STATUS_REQ. The shim knows whether the process
    /// runs; the record may not, if the daemon died while starting it.
    fn on_status(self: &Arc<Self>, c: &Arc<Container>, status: &str) {
        let live = c.status().is_live();
        if let Some(pid) = status.strip_prefix("running ") {
            if !live {
                // The start happened: the process runs. Adopt it.
                tracing::warn!(id = %crate::ids::short(&c.id), "adopting a container whose start was not recorded");
                self.on_started(c, pid.trim().parse().unwrap_or(0));
            }
        } else if status == "exiting" {
            if !live {
                // It ran and is ending: record the run, the EXIT frame follows.
                self.on_started(c, 0);
            }
        } else if status == "created" {
            // Spawned, never started: the start was never acknowledged.
            // Leaving the shim ends it (it exits once its clients are gone).
            tracing::warn!(id = %crate::ids::short(&c.id), "letting go of a shim whose start never came");
            *c.shim.locked() = None;
        }
    }
}

/// How long a reconnect waits for the shim's status before going on.
const STATUS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn on_frame(
    svc: &Arc<ContainerService>,
    c: &Arc<Container>,
    kind: u8,
    payload: Vec<u8>,
    pending: &mut Pending,
) {
    match kind {
        protocol::STDOUT | protocol::STDERR => {
            let data = Bytes::from(payload);
            let out = if kind == protocol::STDOUT {
                Output::Stdout(data)
            } else {
                Output::Stderr(data)
            };
            let _ = c.output.send(out);
            c.log_written.send_modify(|n| *n += 1);
        }
        protocol::STARTED => {
            let pid = String::from_utf8_lossy(&payload)
                .trim()
                .parse()
                .unwrap_or(0);
            if let Pending::Start(tx) = std::mem::replace(pending, Pending::Nothing) {
                svc.on_started(c, pid);
                let _ = tx.send(Ok(pid));
            }
        }
        protocol::START_FAILED => {
            if let Pending::Start(tx) = std::mem::replace(pending, Pending::Nothing) {
                let _ = tx.send(Err(String::from_utf8_lossy(&payload).into_owned()));
            }
        }
        protocol::STATUS => {
            let status = String::from_utf8_lossy(&payload).into_owned();
            svc.on_status(c, &status);
            if let Pending::Status(tx) = std::mem::replace(pending, Pending::Nothing) {
                let _ = tx.send(status);
            }
        }
        protocol::EXIT => {
            if let Some(exit) = ExitRecord::parse(&String::from_utf8_lossy(&payload)) {
                svc.on_exit(c, exit);
            }
        }
        _ => {}
    }
}

/// The message of a runtime's JSON log line (or the text itself), without
/// the runtime's own `prefix`.
pub(super) fn log_message(raw: &str, prefix: &str) -> String {
    let msg = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.get("msg").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| raw.trim().to_string());
    msg.strip_prefix(prefix).unwrap_or(&msg).to_string()
}

/// runc's start error as docker words it.
fn runtime_message(raw: &str) -> String {
    format!(
        "runc create failed: {}",
        log_message(raw, "runc run failed: ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_errors_read_like_docker() {
        let raw = r#"{"level":"error","msg":"runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH","time":"2026-01-01T00:00:00Z"}"#;
        assert_eq!(
            runtime_message(raw),
            "runc create failed: unable to start container process: exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(
            runtime_message("plain text\n"),
            "runc create failed: plain text"
        );
    }
}
