//! `volume rm`: each removed name printed; the failures joined at the end
//! with exit status 1, like docker's `errors.Join`.

use anyhow::Result;
use clap::Args;

use super::volume_path;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::{print_out, Ctx};
use crate::error::{self, join};

/// `volume rm` flags.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `volume rm`.
pub async fn rm(ctx: &Ctx, args: RmArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let query = if args.force {
        Query::new().set("force", "1")
    } else {
        Query::new()
    };
    let mut errors = Vec::new();
    for name in &args.names {
        match ctx.client.delete(&volume_path(name), &query).await {
            Ok(_) => print_out(&format!("{name}\n")),
            Err(e) => errors.push(error::message(&e)),
        }
    }
    join(errors)
}
