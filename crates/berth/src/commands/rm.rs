//! `rm` (`container rm`).

use anyhow::{anyhow, Result};
use clap::Args;

use super::{print_err, print_out, Ctx};
use crate::cli::usage::{check_args, Arity};
use crate::client::{path_segment, Query};
use crate::error::{self, is_not_found};

/// `rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Remove the specified link
    #[arg(short = 'l', long = "link")]
    pub link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER")]
    pub names: Vec<String>,
}

/// `rm`; with `-f`, missing containers are reported but do not fail.
pub async fn rm(ctx: &Ctx, args: RmArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = Query::new()
        .flag("force", args.force)
        .flag("link", args.link)
        .flag("v", args.volumes);
    let results = futures_util::future::join_all(args.names.iter().map(|name| {
        let query = query.clone();
        async move {
            let trimmed = name.trim_matches('/');
            if trimmed.is_empty() {
                return Err(anyhow!("container name cannot be empty"));
            }
            ctx.client
                .delete(&format!("/containers/{}", path_segment(trimmed)), &query)
                .await
                .map(|_| ())
        }
    }))
    .await;
    let mut errors = Vec::new();
    for (name, result) in args.names.iter().zip(results) {
        match result {
            Ok(()) => print_out(&format!("{name}\n")),
            Err(e) if args.force && is_not_found(&e) => {
                print_err(&format!("{}\n", error::message(&e)));
            }
            Err(e) => errors.push(error::message(&e)),
        }
    }
    error::join(errors)
}
