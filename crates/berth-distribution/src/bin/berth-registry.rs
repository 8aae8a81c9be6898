//! A registry server (the OCI distribution protocol) over plain HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use berth_distribution::server::Registry;
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Serve a container image registry")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// Directory holding the registry's blobs and repositories (one server
    /// per directory: starting clears unfinished blob writes).
    #[arg(long)]
    root: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let registry = Registry::open(&args.root)
        .with_context(|| format!("open registry at {}", args.root.display()))?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listen on {}", args.addr))?;
    tracing::info!("registry listening on {}", listener.local_addr()?);
    axum::serve(listener, registry.router())
        .with_graceful_shutdown(shutdown())
        .await
        .context("serve")
}

/// Resolves on SIGINT or SIGTERM: in-flight requests then finish, and
/// unfinished uploads stay on disk for the client to resume.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}
