//! `volume inspect`: the daemon's JSON for each name, printed like the
//! other inspect commands.

use anyhow::Result;
use clap::Args;

use super::volume_path;
use crate::cli::usage::{check_args, Arity};
use crate::client::Query;
use crate::commands::inspect::run_inspect;
use crate::commands::Ctx;

/// `volume inspect` flags.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", default_value = "")]
    pub format: String,
    #[arg(value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `volume inspect`.
pub async fn inspect(ctx: &Ctx, args: InspectArgs) -> Result<()> {
    check_args(&ctx.path, Arity::Min(1), args.names.len())?;
    let client = &ctx.client;
    run_inspect(&args.format, &args.names, |name| async move {
        Ok(client
            .get_bytes(&volume_path(&name), &Query::new())
            .await?
            .to_vec())
    })
    .await
}
