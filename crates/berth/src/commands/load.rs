//! `load`: images from a tar archive on stdin or `-i`.

use anyhow::{anyhow, Result};
use clap::Args;
use hyper::Method;

use super::transfer::{open_file, show_messages};
use super::Ctx;
use crate::cli::usage::{check_args, Arity};
use crate::client::{stdin_body, streamed, Body, Query};
use crate::stream::terminal;

/// `load` flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input", default_value = "")]
    pub input: String,
    /// Suppress the load output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// `load`: `POST /images/load` with the tar streamed from `-i` or stdin.
pub async fn load(ctx: &Ctx, args: LoadArgs) -> Result<()> {
    check_args(&ctx.path, Arity::None, args.args.len())?;
    let body: Body = if args.input.is_empty() {
        if terminal::stdin_is_tty() {
            return Err(anyhow!("requested load from stdin, but stdin is empty"));
        }
        stdin_body()
    } else {
        streamed(open_file(&args.input).await?)
    };
    let quiet = args.quiet || !terminal::stdout_is_tty();
    let query = Query::new().set("quiet", if quiet { "1" } else { "0" });
    let resp = ctx
        .client
        .request(
            Method::POST,
            "/images/load",
            &query,
            body,
            &[("Content-Type", "application/x-tar".to_string())],
        )
        .await?;
    show_messages(resp).await
}
