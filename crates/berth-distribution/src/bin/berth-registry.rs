//! A registry server (the OCI distribution protocol) over HTTP or https,
//! optionally behind Basic auth.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use berth_distribution::server::{server_config, Htpasswd, Registry, TlsListener};
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
    /// Apache htpasswd file of bcrypt entries (`htpasswd -B`): every
    /// request then needs Basic credentials of a user in it.
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// PEM certificate chain: serve https instead of plain HTTP.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    let mut registry = Registry::open(&args.root)
        .with_context(|| format!("open registry at {}", args.root.display()))?;
    if let Some(path) = &args.htpasswd {
        registry = registry.with_htpasswd(Htpasswd::load(path)?);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    let router = registry.router();
    match tls {
        Some(config) => {
            tracing::info!("registry listening on https://{addr}");
            axum::serve(TlsListener::new(listener, config), router)
                .with_graceful_shutdown(shutdown())
                .await
        }
        None => {
            tracing::info!("registry listening on http://{addr}");
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown())
                .await
        }
    }
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
