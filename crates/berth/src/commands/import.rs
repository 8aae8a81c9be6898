//! `import`: a filesystem image from a tarball (file, URL or stdin).

use anyhow::{anyhow, Result};
use clap::Args;
use hyper::Method;

use super::transfer::{open_file, show_messages};
use super::Ctx;
use crate::cli::usage::{check_args, Arity};
use crate::client::{stdin_body, streamed, Body, Query};
use crate::reference::Reference;

/// `import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message", default_value = "")]
    pub message: String,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", default_value = "")]
    pub platform: String,
    #[arg(value_name = "file|URL|-")]
    pub args: Vec<String>,
}

/// `import`: `POST /images/create?fromSrc=-` with the tar from a file or
/// stdin (`-`), or `fromSrc=<URL>` for the daemon to fetch.
pub async fn import(ctx: &Ctx, args: ImportArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.args.len())?;
    let source = &args.args[0];
    let repo = args.args.get(1).cloned().unwrap_or_default();
    let (from_src, body): (String, Body) = if source == "-" {
        ("-".to_string(), stdin_body())
    } else if source.starts_with("http://") || source.starts_with("https://") {
        (source.clone(), crate::client::empty())
    } else {
        ("-".to_string(), streamed(open_file(source).await?))
    };
    if !repo.is_empty() {
        Reference::parse(&repo).map_err(|e| anyhow!(e))?;
    }
    let mut query = Query::new()
        .set("fromSrc", from_src)
        .set_nonempty("repo", &repo)
        .set_nonempty("message", &args.message)
        .set_nonempty("platform", &args.platform.to_lowercase());
    for c in &args.change {
        query = query.set("changes", c.clone());
    }
    let resp = ctx
        .client
        .request(
            Method::POST,
            "/images/create",
            &query,
            body,
            &[("Content-Type", "text/plain".to_string())],
        )
        .await?;
    show_messages(resp).await
}
