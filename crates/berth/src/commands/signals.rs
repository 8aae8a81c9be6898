//! Signal forwarding to an attached container (`--sig-proxy`) and TTY size
//! tracking (`resize` on start and on SIGWINCH).

use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::client::{path_segment, Client, Query};
use crate::stream::terminal;

/// Signals the CLI catches and forwards, with the names the API takes.
const FORWARDED: &[(i32, &str)] = &[
    (libc::SIGHUP, "HUP"),
    (libc::SIGINT, "INT"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGALRM, "ALRM"),
    (libc::SIGWINCH, "WINCH"),
];

/// Forwards every caught signal as `POST /containers/{id}/kill?signal=NAME`.
pub fn spawn_proxy(client: Client, id: String) {
    for &(signo, name) in FORWARDED {
        let Ok(mut stream) = signal(SignalKind::from_raw(signo)) else {
            continue;
        };
        let client = client.clone();
        let id = id.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                let query = Query::new().set("signal", name);
                let _ = client
                    .post(&format!("/containers/{}/kill", path_segment(&id)), &query)
                    .await;
            }
        });
    }
}

/// Catches SIGINT and SIGTERM without acting on them: an attached `run
/// --sig-proxy=false` keeps waiting for the container, like docker.
pub fn spawn_ignore_termination() {
    for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
        if let Ok(mut stream) = signal(kind) {
            tokio::spawn(async move { while stream.recv().await.is_some() {} });
        }
    }
}

/// `POST <path>?h=..&w=..` with the local terminal size; `path` is
/// `/containers/{id}/resize` or `/exec/{id}/resize`.
pub async fn resize(client: &Client, path: &str) -> anyhow::Result<()> {
    let Some((h, w)) = terminal::tty_size() else {
        return Ok(());
    };
    if h == 0 && w == 0 {
        return Ok(());
    }
    let query = Query::new().set("h", h.to_string()).set("w", w.to_string());
    client.post(path, &query).await?;
    Ok(())
}

/// Sets the container's TTY size now (retrying briefly, as the process may not
/// be up yet) and again on every SIGWINCH.
pub fn spawn_tty_monitor(client: Client, id: String) {
    spawn_resize_monitor(client, format!("/containers/{}/resize", path_segment(&id)));
}

/// [`spawn_tty_monitor`] for an exec process.
pub fn spawn_exec_tty_monitor(client: Client, exec_id: String) {
    spawn_resize_monitor(client, format!("/exec/{}/resize", path_segment(&exec_id)));
}

fn spawn_resize_monitor(client: Client, path: String) {
    tokio::spawn(async move {
        for attempt in 0..5u64 {
            if resize(&client, &path).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
        }
        let Ok(mut winch) = signal(SignalKind::window_change()) else {
            return;
        };
        while winch.recv().await.is_some() {
            let _ = resize(&client, &path).await;
        }
    });
}
